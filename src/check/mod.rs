//! `powertune check`: a CI gate. Reads the memory and timeout that infrastructure code declares
//! for each function ([`iac`]), the evidence of how each function behaves (captured logs through
//! the same pipeline as `analyze`, powertune JSON reports, or the deployed functions' logs in
//! CloudWatch Logs through [`crate::cloudwatch`]), and judges each function by the rules of
//! [`gate`]. Exit 0 when every rule passes, 1 when one fails, 2 when the gate could not
//! judge (unreadable code, no evidence for any function) — never 0 without a verdict.

pub mod gate;
pub mod iac;
pub mod output;
pub mod yaml;

use crate::analysis::{AnalysisOptions, Collector};
use crate::cost::Pricing;
use crate::parse;
use crate::report::{Source, TuningReport};
use crate::units::Mb;
use anyhow::{Context, Result, bail};
use gate::{Evidence, Status, Thresholds};
use iac::Declared;
use output::FunctionResult;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Everything `check` needs, validated.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// Infrastructure code files.
    pub iac: Vec<PathBuf>,
    /// `--parameter K=V` overrides.
    pub params: BTreeMap<String, String>,
    /// Log inputs, each optionally labelled with the function it belongs to.
    pub logs: Vec<(Option<String>, PathBuf)>,
    /// powertune JSON reports used as evidence.
    pub reports: Vec<PathBuf>,
    /// A powertune JSON report to compare costs against.
    pub baseline: Option<PathBuf>,
    /// `--from-cloudwatch`: read each declared function's log group over this window.
    pub cloudwatch: Option<(crate::cloudwatch::LogsAccess, std::time::Duration)>,
    /// Rule thresholds.
    pub thresholds: Thresholds,
}

/// The verdicts, and the exit code they call for.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Per declared function.
    pub results: Vec<FunctionResult>,
    /// 0 all rules pass, 1 one failed, 2 nothing could be judged.
    pub exit: i32,
}

/// Reads powertune JSON reports (one object or an array).
pub fn read_reports(path: &PathBuf) -> Result<Vec<TuningReport>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let v: serde_json::Value = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not JSON (expected a powertune --format json report)",
            path.display()
        )
    })?;
    let items = match v {
        serde_json::Value::Array(a) => a,
        one => vec![one],
    };
    items
        .into_iter()
        .map(|i| {
            serde_json::from_value(i).with_context(|| {
                format!(
                    "{} is not a powertune report (see docs/report-schema.json)",
                    path.display()
                )
            })
        })
        .collect()
}

fn analysis_options(o: &CheckOptions) -> Result<AnalysisOptions> {
    Ok(AnalysisOptions {
        pricing: Pricing::lookup(&o.thresholds.region, o.thresholds.arch)?,
        ephemeral: Mb(512),
        monthly_invocations: o.thresholds.monthly_invocations,
        headroom: o.thresholds.headroom,
        step: o.thresholds.step,
        source: Source::Logs,
        decision: crate::analysis::Decision::RightSize,
        current_memory: None,
        steady_state_cost: false,
    })
}

fn evidence_from_logs(o: &CheckOptions) -> Result<Vec<TuningReport>> {
    let analysis = analysis_options(o)?;
    let mut out = Vec::new();
    for (label, path) in &o.logs {
        let mut c = Collector::new(label.clone());
        let summary = parse::scan_paths(std::slice::from_ref(path), &mut |obs| c.push(&obs))?;
        if c.records() == 0 {
            bail!(
                "no Lambda invocation records found in {} ({} bytes read): --logs expects captured logs that `powertune analyze` reads",
                path.display(),
                summary.bytes
            );
        }
        out.extend(c.into_reports(&analysis, Some(&summary)));
    }
    Ok(out)
}

/// Reads each declared function's log group from CloudWatch Logs: the one the code names, else
/// `/aws/lambda/<deployed name>`, else the groups whose name holds the logical id (a name
/// CloudFormation generated) and match it. Prints on stderr what was read from where.
fn evidence_from_cloudwatch(
    o: &CheckOptions,
    declared: &[Declared],
    access: &crate::cloudwatch::LogsAccess,
    since: std::time::Duration,
) -> Result<Vec<TuningReport>> {
    let analysis = analysis_options(o)?;
    let logs = crate::cloudwatch::Logs::connect(access)?;
    let mut out = Vec::new();
    for d in declared {
        let groups = match (&d.log_group, &d.function_name) {
            (Some(g), _) => vec![g.clone()],
            (None, Some(n)) => vec![format!("/aws/lambda/{n}")],
            (None, None) => logs
                .groups_like(&d.id)?
                .into_iter()
                .filter(|g| matches(d, g))
                .collect(),
        };
        if groups.is_empty() {
            eprintln!(
                "powertune: {}: no log group in CloudWatch Logs matches its logical id; name the function (FunctionName) or pass --logs",
                d.id
            );
        }
        for g in groups {
            let mut c = Collector::new(Some(g.clone()));
            let read = logs.reports(&g, since, &mut |obs| c.push(&obs))?;
            if read.missing {
                eprintln!("powertune: {}: log group {g} does not exist", d.id);
                continue;
            }
            eprintln!(
                "powertune: {}: {} REPORT records from {g} ({} events)",
                d.id, read.records, read.events
            );
            if c.records() > 0 {
                let summary = parse::ScanSummary {
                    sources: vec![format!("cloudwatch:{g}")],
                    bytes: read.bytes,
                    records: read.records,
                    ..Default::default()
                };
                out.extend(c.into_reports(&analysis, Some(&summary)));
            }
        }
    }
    Ok(out)
}

/// Whether evidence named `name` is about the declared function `d`: its logical id or key, its
/// deployed name, its log group, or a generated name containing the logical id
/// (`stack-LogicalId-RANDOM` for SAM/CloudFormation).
pub fn matches(d: &Declared, name: &str) -> bool {
    let name = name.trim_start_matches("/aws/lambda/");
    name == d.id
        || d.function_name.as_deref() == Some(name)
        || d.log_group
            .as_deref()
            .map(|g| g.trim_start_matches("/aws/lambda/"))
            == Some(name)
        || (matches!(d.kind, "SAM" | "CloudFormation") && name.contains(&format!("-{}-", d.id)))
}

fn find<'r>(d: &Declared, reports: &'r [TuningReport], only_one: bool) -> Option<&'r TuningReport> {
    reports
        .iter()
        .find(|r| r.function.as_deref().is_some_and(|n| matches(d, n)))
        .or_else(|| {
            only_one
                .then(|| reports.iter().find(|r| r.function.is_none()))
                .flatten()
        })
}

/// Runs the gate.
pub fn run(o: &CheckOptions) -> Result<Outcome> {
    let mut declared = Vec::new();
    for f in &o.iac {
        declared.extend(iac::read(f, &o.params)?);
    }
    let mut evidence = evidence_from_logs(o)?;
    if let Some((access, since)) = &o.cloudwatch {
        evidence.extend(evidence_from_cloudwatch(o, &declared, access, *since)?);
    }
    for r in &o.reports {
        evidence.extend(read_reports(r)?);
    }
    let baseline = match &o.baseline {
        Some(b) => read_reports(b)?,
        None => Vec::new(),
    };
    if evidence.is_empty() && o.cloudwatch.is_some() {
        bail!(
            "no evidence: CloudWatch Logs holds no REPORT records of any declared function over the window (see the lines above); widen --since, or pass --logs or --report"
        );
    }
    if evidence.is_empty() {
        bail!(
            "no evidence given: pass --logs [FUNCTION=]PATH (captured logs), --report FILE (a powertune JSON report) or --from-cloudwatch (the deployed functions' logs)"
        );
    }
    let only_one = declared.len() == 1;
    let mut results = Vec::new();
    for d in &declared {
        match find(d, &evidence, only_one) {
            Some(report) => {
                let ev = Evidence {
                    report,
                    baseline: find(d, &baseline, only_one),
                };
                results.push(FunctionResult {
                    function: d.id.clone(),
                    at: d.at.clone(),
                    findings: gate::judge(d, &ev, &o.thresholds),
                    no_evidence: None,
                });
            }
            None => results.push(FunctionResult {
                function: d.id.clone(),
                at: d.at.clone(),
                findings: Vec::new(),
                no_evidence: Some(format!(
                    "no logs or report name {}{}",
                    d.id,
                    d.function_name
                        .as_ref()
                        .map_or(String::new(), |n| format!(" or {n}"))
                )),
            }),
        }
    }
    let judged = results.iter().filter(|r| r.no_evidence.is_none()).count();
    if judged == 0 {
        let names: Vec<String> = evidence
            .iter()
            .map(|r| r.function.clone().unwrap_or_else(|| "(unnamed)".into()))
            .collect();
        let ids: Vec<&str> = declared.iter().map(|d| d.id.as_str()).collect();
        bail!(
            "no evidence for any of the {} declared functions ({}); the evidence names {}. Label logs with --logs FUNCTION=PATH",
            declared.len(),
            ids.join(", "),
            names.join(", ")
        );
    }
    let all: Vec<Status> = results
        .iter()
        .flat_map(|r| r.findings.iter().map(|f| f.status))
        .collect();
    let exit = if all.contains(&Status::Fail) {
        1
    } else if all.contains(&Status::Pass) {
        0
    } else {
        2
    };
    Ok(Outcome { results, exit })
}
