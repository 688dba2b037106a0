//! The command line: argument definitions (clap derive), validation into options that cannot hold
//! an invalid state, and the `parse` and `analyze` commands. Exit codes: 0 success, 2 usage or
//! input error (missing file, corrupt gzip, no records, bad option); `check` exits 1 when a rule
//! fails.

use crate::analysis::{AnalysisOptions, Collector};
use crate::cost::{Architecture, Pricing};
use crate::export::{Exporter, Format, exporter};
use crate::parse::{self, ScanSummary};
use crate::recommend::{DEFAULT_HEADROOM, DEFAULT_STEP};
use crate::report::Source;
use crate::units::Mb;
use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use std::io::{self, Write};
use std::path::PathBuf;

/// Right-size AWS Lambda memory from evidence: captured logs today, measured invocations next.
#[derive(Debug, Parser)]
#[command(name = "powertune", version, about, long_about = None, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

const EXAMPLES: &str = "\
Examples:
  powertune analyze fixtures/logs/brand-api.log
  aws logs tail /aws/lambda/brand-api --since 7d | powertune analyze -
  powertune analyze exports/ --format markdown --monthly-invocations 3000000
  powertune parse logs.gz | jq 'select(.status != \"success\")'";

#[derive(Debug, Subcommand)]
enum Command {
    /// Print every invocation record found in logs as JSON Lines.
    ///
    /// One object per record with exactly these fields, null where the log line has none:
    /// request_id, duration_ms, billed_duration_ms, memory_size_mb, max_memory_used_mb,
    /// init_duration_ms, restore_duration_ms, billed_restore_duration_ms, status
    /// ("success", "timeout", "error" or "failure") and error_type.
    Parse(ParseArgs),
    /// Right-size memory from captured logs.
    ///
    /// Reads REPORT records, groups them by function and memory size, and reports invocations,
    /// cold starts, errors, duration percentiles with a 95% confidence interval, memory used and
    /// cost; then recommends the smallest size that leaves --headroom above the largest Max
    /// Memory Used (never at or below a size that ran out of memory) and a timeout.
    Analyze(AnalyzeArgs),
    /// Fail the build when infrastructure code configures memory or a timeout the evidence does
    /// not justify.
    ///
    /// Reads SAM/CloudFormation templates (YAML or JSON), serverless.yml or powertune.toml, and
    /// judges each function against captured logs (--logs) or powertune reports (--report):
    /// oversized or undersized memory, a mis-set timeout, a cost regression against a baseline.
    /// Exit 0 when every rule passes, 1 when one fails, 2 when the gate could not judge. Prints
    /// GitHub Actions annotations when GITHUB_ACTIONS is set (or --format github) and appends a
    /// summary to $GITHUB_STEP_SUMMARY; --junit writes JUnit XML.
    Check(CheckArgs),
    /// Measure the function at several memory sizes and recommend one.
    ///
    /// On AWS (the default): for each size, sets $LATEST's memory, publishes a version and points
    /// a temporary alias `powertune-<MB>` at it, restores $LATEST as soon as the versions exist,
    /// invokes the aliases (in parallel within --concurrency) and reads Duration and Max Memory
    /// Used from the REPORT lines. Every change is journaled before it is made and undone at the
    /// end, on error and on Ctrl-C; after a crash or kill -9, `powertune cleanup --function NAME`
    /// finishes the job. --dry-run shows the plan and changes nothing. docs/run.md lists every
    /// change; docs/iam-policy.json the permissions.
    ///
    /// With --local DIR, runs the function's own code on this machine: DIR holds an executable
    /// `bootstrap` (what Lambda's provided runtimes start) that talks to the Lambda Runtime API
    /// powertune serves on 127.0.0.1, inside a cgroup with the size's memory limit and CPU share
    /// (one vCPU at 1,769 MB). No AWS account is needed.
    Run(RunArgs),
    /// Undo what an interrupted `run` left in the account (after a crash or kill -9).
    ///
    /// Reads the run's journal (under ~/.local/state/powertune, or $POWERTUNE_STATE_DIR) and
    /// restores $LATEST's memory and description, then deletes exactly the aliases and versions
    /// that run made. Safe to repeat; does nothing when no journal is left.
    Cleanup(CleanupArgs),
}

#[derive(Debug, Args)]
struct CleanupArgs {
    /// The function whose interrupted run to finish.
    #[arg(long)]
    function: String,

    /// The region of the run [default: the journal's].
    #[arg(long)]
    region: Option<String>,

    #[command(flatten)]
    aws: AwsArgs,
}

/// How to reach AWS.
#[derive(Debug, Args)]
struct AwsArgs {
    /// AWS profile (else AWS_PROFILE, else the default chain: env, SSO, instance role…).
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,

    /// Endpoint URL for Lambda and CloudWatch Logs (LocalStack, moto); also AWS_ENDPOINT_URL.
    #[arg(long, value_name = "URL")]
    endpoint_url: Option<String>,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("local_target").args(["local", "local_cmd"]).multiple(true))]
struct RunArgs {
    /// The function: name or ARN on AWS; AWS_LAMBDA_FUNCTION_NAME for a local run.
    #[arg(long)]
    function: String,

    /// Run locally: a directory with an executable `bootstrap` (LAMBDA_TASK_ROOT).
    #[arg(long, value_name = "DIR")]
    local: Option<PathBuf>,

    /// Run locally with this command (through sh -c) instead of DIR/bootstrap.
    #[arg(long, value_name = "CMD")]
    local_cmd: Option<String>,

    /// Memory sizes: a list (128,512,1024) or a range (128..3008:64), each 128–10240 MB.
    #[arg(long, default_value = crate::tune::DEFAULT_SIZES, value_name = "SIZES")]
    memory: String,

    /// Invocations per size; the first of each is a cold start, reported apart.
    #[arg(long, default_value_t = 10, value_name = "N")]
    invocations: u32,

    /// AWS: invocations in flight at once, across all sizes.
    #[arg(
        long,
        default_value_t = 5,
        value_name = "C",
        conflicts_with = "local_target"
    )]
    concurrency: usize,

    /// AWS: the code to tune: $LATEST, or a version or alias whose code is $LATEST's.
    #[arg(
        long,
        default_value = "$LATEST",
        value_name = "QUALIFIER",
        conflicts_with = "local_target"
    )]
    qualifier: String,

    /// AWS: how long to wait for CloudWatch Logs when the log tail holds no REPORT line.
    #[arg(
        long,
        default_value_t = 60.0,
        value_name = "SECONDS",
        conflicts_with = "local_target"
    )]
    logs_wait: f64,

    /// AWS: measure only cold starts: a fresh version per invocation (each costs a
    /// configuration update and a publish; --dry-run shows the calls and time).
    #[arg(long, conflicts_with = "local_target")]
    cold_starts: bool,

    /// AWS: print the plan (sizes, calls, cost and time estimates) and change nothing.
    #[arg(long, conflicts_with = "local_target")]
    dry_run: bool,

    /// AWS: set the recommended memory on $LATEST at the end.
    #[arg(long, conflicts_with = "apply_alias", conflicts_with = "local_target")]
    apply: bool,

    /// AWS: publish a version with the recommended memory and move this alias to it.
    #[arg(long, value_name = "ALIAS", conflicts_with = "local_target")]
    apply_alias: Option<String>,

    /// Write the JSON report to FILE, rewritten after each size completes.
    #[arg(long, value_name = "FILE")]
    export_json: Option<PathBuf>,

    #[command(flatten)]
    aws: AwsArgs,

    /// The event: inline JSON, or @FILE. A weighted set `[{"payload": …, "weight": 3,
    /// "name": "read"}, …]` (every element with `payload` and `weight`, as in
    /// aws-lambda-power-tuning) spreads each size's invocations over the events in proportion
    /// to their weights, at least one each; the report pools them and gives each its own
    /// statistics.
    #[arg(long, default_value = "{}", value_name = "JSON|@FILE")]
    payload: String,

    /// Local: invocation timeout, seconds (the environment is killed and restarted after one).
    #[arg(
        long,
        default_value_t = 30.0,
        value_name = "SECONDS",
        requires = "local_target"
    )]
    timeout: f64,

    /// Local: init timeout, seconds (Lambda's is 10).
    #[arg(
        long,
        default_value_t = 10.0,
        value_name = "SECONDS",
        requires = "local_target"
    )]
    init_timeout: f64,

    /// Local: _HANDLER for the runtime.
    #[arg(long, default_value = "handler.handler", requires = "local_target")]
    handler: String,

    /// Local: run without memory and CPU limits (no cgroup needed); results are marked
    /// unenforced.
    #[arg(long, requires = "local_target")]
    no_limits: bool,

    /// Write START/END/REPORT lines in Lambda's text format (and the runtime's output) to FILE,
    /// so that `powertune analyze FILE` reads the run back.
    #[arg(long, value_name = "FILE")]
    log_file: Option<PathBuf>,

    /// What to optimise: cost (the cheapest per warm invocation; sizes whose costs cannot be told
    /// apart within the 95% confidence intervals count as tied, and the fastest of them wins),
    /// speed (the lowest mean duration) or balanced (see --balanced-weight).
    #[arg(long, default_value = "cost", value_name = "STRATEGY")]
    strategy: String,

    /// For --strategy balanced: weight of cost against duration, 0–1 (1 = pure cost).
    #[arg(long, default_value_t = 0.5, value_name = "W")]
    balanced_weight: f64,

    /// Only sizes whose p99 duration is at most this (ms); the cheapest of them wins.
    #[arg(long, value_name = "MS")]
    max_p99_ms: Option<f64>,

    /// Only sizes whose mean duration is at most this (ms); the cheapest of them wins.
    #[arg(long, value_name = "MS")]
    max_duration_ms: Option<f64>,

    #[command(flatten)]
    prices: PricingArgs,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,

    #[command(flatten)]
    files: FileOutputs,
}

#[derive(Debug, Args)]
struct CheckArgs {
    /// Infrastructure code: template.yaml/.json (SAM, CloudFormation), serverless.yml,
    /// powertune.toml [default: whichever of these is in the current directory].
    #[arg(value_name = "FILE")]
    iac: Vec<PathBuf>,

    /// Captured logs as evidence (any input `analyze` reads); FUNCTION= names the function
    /// (logical id, function name or log group) when the logs do not. Repeatable.
    #[arg(long, value_name = "[FUNCTION=]PATH")]
    logs: Vec<String>,

    /// A powertune JSON report (`analyze --format json`, `run`) as evidence. Repeatable.
    #[arg(long, value_name = "FILE")]
    report: Vec<PathBuf>,

    /// Read the evidence from the deployed functions' logs in CloudWatch Logs (REPORT events
    /// over --since), through the standard AWS chain (--profile, --region, --endpoint-url).
    #[arg(long)]
    from_cloudwatch: bool,

    /// With --from-cloudwatch: how far back to read, e.g. 14d, 36h, 90m.
    #[arg(
        long,
        default_value = "14d",
        value_name = "WINDOW",
        requires = "from_cloudwatch"
    )]
    since: String,

    #[command(flatten)]
    aws: AwsArgs,

    /// Value of a template parameter, overriding its Default. Repeatable.
    #[arg(long, value_name = "KEY=VALUE")]
    parameter: Vec<String>,

    /// Right-size headroom: multiple of the largest Max Memory Used.
    #[arg(long, default_value_t = DEFAULT_HEADROOM)]
    headroom: f64,

    /// Right-size step, MB.
    #[arg(long, default_value_t = DEFAULT_STEP, value_name = "MB")]
    step: u32,

    /// Oversized only when configured memory exceeds the right-size by more than this many MB
    /// [default: one step].
    #[arg(long, value_name = "MB")]
    tolerance: Option<u32>,

    /// Oversized only when lowering would save at least this much a month (USD); applies when the
    /// monthly volume is known.
    #[arg(long, default_value_t = 1.0, value_name = "USD")]
    min_saving_usd: f64,

    /// Undersized when Max Memory Used exceeds this fraction of the configured size.
    #[arg(long, default_value_t = 0.9, value_name = "RATIO")]
    max_used_ratio: f64,

    /// Timeout too tight below this multiple of the p99.9 duration.
    #[arg(long, default_value_t = 1.2, value_name = "FACTOR")]
    timeout_min_factor: f64,

    /// Timeout too loose above this multiple of the p99.9 duration.
    #[arg(long, default_value_t = 10.0, value_name = "FACTOR")]
    timeout_max_factor: f64,

    /// A powertune JSON report to compare cost per million invocations against.
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,

    /// With --baseline: the largest allowed rise in cost per million invocations, in percent.
    #[arg(long, default_value = "10%", value_name = "PERCENT")]
    max_cost_increase: String,

    #[command(flatten)]
    prices: PricingArgs,

    /// Invocations per month, for the saving [default: the rate the logs' timestamps show].
    #[arg(long, value_name = "N")]
    monthly_invocations: Option<f64>,

    /// `human`, or `github` for workflow-command annotations [default: github when
    /// GITHUB_ACTIONS is set].
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,

    /// Also write JUnit XML to FILE.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct InputArgs {
    /// Log files, directories (read recursively) or - for stdin. Raw Lambda logs, `aws logs
    /// tail`, `sam logs`, console CSV, filter-log-events JSON, JSON-format logs and Logs Insights
    /// exports (CSV, JSON, Markdown) are recognised by content; gzip is decompressed.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,

    /// Do not list lines that looked like REPORT records but could not be read.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Debug, Args)]
struct ParseArgs {
    #[command(flatten)]
    input: InputArgs,
}

#[derive(Debug, Args)]
struct AnalyzeArgs {
    #[command(flatten)]
    input: InputArgs,

    /// Treat every record as this function's (otherwise functions are told apart by log group
    /// or `[name]` prefix where the input shows them).
    #[arg(long, value_name = "NAME")]
    function: Option<String>,

    #[command(flatten)]
    prices: PricingArgs,

    /// Invocations per month for monthly costs [default: the rate the logs' timestamps show].
    #[arg(long, value_name = "N")]
    monthly_invocations: Option<f64>,

    /// Recommend at least this multiple of the largest Max Memory Used (1.0–10).
    #[arg(long, default_value_t = DEFAULT_HEADROOM)]
    headroom: f64,

    /// Recommend multiples of this many MB (1–1024).
    #[arg(long, default_value_t = DEFAULT_STEP, value_name = "MB")]
    step: u32,

    /// Configured ephemeral storage (/tmp) in MB, 512–10240; above 512 MB it is charged.
    #[arg(long, default_value_t = 512, value_name = "MB")]
    ephemeral_storage: u32,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,

    #[command(flatten)]
    files: FileOutputs,
}

/// Where prices come from: region and architecture.
#[derive(Debug, Args)]
struct PricingArgs {
    /// AWS region whose prices apply [default: $AWS_REGION, $AWS_DEFAULT_REGION, else us-east-1].
    #[arg(long)]
    region: Option<String>,

    /// Architecture whose prices apply (for `check`: of functions that do not declare one):
    /// x86_64 or arm64.
    #[arg(long, default_value = "x86_64", value_name = "ARCH")]
    arch: String,
}

impl PricingArgs {
    /// The validated region, architecture and prices.
    fn resolve(&self) -> Result<(String, Architecture, Pricing)> {
        let arch: Architecture = self.arch.parse().map_err(anyhow::Error::msg)?;
        let region = self
            .region
            .clone()
            .or_else(|| std::env::var("AWS_REGION").ok().filter(|s| !s.is_empty()))
            .or_else(|| {
                std::env::var("AWS_DEFAULT_REGION")
                    .ok()
                    .filter(|s| !s.is_empty())
            })
            .unwrap_or_else(|| "us-east-1".to_owned());
        let pricing = Pricing::lookup(&region, arch).context("--region")?;
        Ok((region, arch, pricing))
    }
}

/// Checks the right-sizing rule's flags.
fn check_rule(headroom: f64, step: u32) -> Result<()> {
    if !(1.0..=10.0).contains(&headroom) {
        bail!(
            "--headroom must be between 1.0 and 10 (a multiple of the largest Max Memory Used), got {headroom}"
        );
    }
    if !(1..=1024).contains(&step) {
        bail!("--step must be between 1 and 1024 MB, got {step}");
    }
    Ok(())
}

/// Files written besides stdout.
#[derive(Debug, Args)]
struct FileOutputs {
    /// Write the cost/performance chart to FILE: .svg or .png (one chart per function; with
    /// several functions, each file name gets -FUNCTION before the extension).
    #[arg(long, value_name = "FILE")]
    chart: Option<PathBuf>,

    /// Write a self-contained HTML report to FILE: chart, table, recommendation, errors, cold
    /// starts; no external URL, font or script.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
}

/// Where a chart goes and in which format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChartKind {
    Svg,
    Png,
}

fn chart_kind(path: &std::path::Path) -> Result<ChartKind> {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("svg") => Ok(ChartKind::Svg),
        Some("png") => Ok(ChartKind::Png),
        _ => bail!(
            "--chart {}: the file name must end in .svg or .png",
            path.display()
        ),
    }
}

/// The file for one function's output when several functions share one --chart/--html path.
fn per_function_path(path: &std::path::Path, function: Option<&str>, many: bool) -> PathBuf {
    if !many {
        return path.to_owned();
    }
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("chart");
    let ext = path.extension().and_then(|s| s.to_str()).unwrap_or("");
    let name = format!("{stem}-{}.{ext}", function.unwrap_or("unnamed"));
    path.with_file_name(name)
}

/// Writes the files asked for (charts, HTML) for each report.
fn write_files(files: &FileOutputs, reports: &[crate::report::TuningReport]) -> Result<()> {
    let many = reports.len() > 1;
    if let Some(path) = &files.chart {
        let kind = chart_kind(path)?;
        for r in reports {
            let out = per_function_path(path, r.function.as_deref(), many);
            let bytes = match kind {
                ChartKind::Svg => crate::export::chart::svg(r)?.into_bytes(),
                ChartKind::Png => crate::export::chart::png(r)?,
            };
            std::fs::write(&out, bytes)
                .with_context(|| format!("writing the chart to {}", out.display()))?;
            eprintln!("powertune: chart written to {}", out.display());
        }
    }
    if let Some(path) = &files.html {
        let bytes = crate::export::html::HtmlExporter.serialize(reports)?;
        std::fs::write(path, bytes)
            .with_context(|| format!("writing the HTML report to {}", path.display()))?;
        eprintln!("powertune: HTML report written to {}", path.display());
    }
    Ok(())
}

fn check_options(a: &CheckArgs) -> Result<crate::check::CheckOptions> {
    let (region, arch, _) = a.prices.resolve()?;
    check_rule(a.headroom, a.step)?;
    if !(a.max_used_ratio > 0.0 && a.max_used_ratio <= 1.0) {
        bail!(
            "--max-used-ratio must be in (0, 1], got {}",
            a.max_used_ratio
        );
    }
    if !(a.timeout_min_factor >= 1.0 && a.timeout_max_factor > a.timeout_min_factor) {
        bail!("--timeout-min-factor must be at least 1 and below --timeout-max-factor");
    }
    if !a.min_saving_usd.is_finite() || a.min_saving_usd < 0.0 {
        bail!(
            "--min-saving-usd must be a non-negative amount, got {}",
            a.min_saving_usd
        );
    }
    let pct = a.max_cost_increase.trim().trim_end_matches('%');
    let max_cost_increase: f64 = pct
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .with_context(|| {
            format!(
                "--max-cost-increase expects a percentage such as 10%, got {:?}",
                a.max_cost_increase
            )
        })?
        / 100.0;
    let mut params = std::collections::BTreeMap::new();
    for p in &a.parameter {
        let (k, v) = p
            .split_once('=')
            .with_context(|| format!("--parameter expects KEY=VALUE, got {p:?}"))?;
        params.insert(k.trim().to_owned(), v.to_owned());
    }
    let logs = a
        .logs
        .iter()
        .map(|l| match l.split_once('=') {
            Some((f, p)) if !f.is_empty() && !f.contains('/') => {
                (Some(f.to_owned()), PathBuf::from(p))
            }
            _ => (None, PathBuf::from(l)),
        })
        .collect();
    let iac = if a.iac.is_empty() {
        let found: Vec<PathBuf> = [
            "template.yaml",
            "template.yml",
            "template.json",
            "serverless.yml",
            "serverless.yaml",
            "powertune.toml",
        ]
        .iter()
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .collect();
        if found.is_empty() {
            bail!(
                "no infrastructure code given and none found here (template.yaml, template.json, serverless.yml, powertune.toml): pass the files to check"
            );
        }
        found
    } else {
        for f in &a.iac {
            if !f.is_file() {
                bail!(
                    "{}: no such file (expected a SAM/CloudFormation template, serverless.yml or powertune.toml)",
                    f.display()
                );
            }
        }
        a.iac.clone()
    };
    Ok(crate::check::CheckOptions {
        iac,
        params,
        logs,
        reports: a.report.clone(),
        baseline: a.baseline.clone(),
        cloudwatch: if a.from_cloudwatch {
            Some((
                crate::cloudwatch::LogsAccess {
                    profile: a.aws.profile.clone(),
                    region: a.prices.region.clone(),
                    endpoint_url: a.aws.endpoint_url.clone(),
                },
                crate::cloudwatch::parse_since(&a.since)?,
            ))
        } else {
            None
        },
        thresholds: crate::check::gate::Thresholds {
            headroom: a.headroom,
            step: a.step,
            tolerance_mb: a.tolerance.unwrap_or(a.step),
            min_saving_usd: a.min_saving_usd,
            max_used_ratio: a.max_used_ratio,
            timeout_min_factor: a.timeout_min_factor,
            timeout_max_factor: a.timeout_max_factor,
            max_cost_increase,
            region,
            arch,
            monthly_invocations: a.monthly_invocations,
        },
    })
}

/// What every run needs, validated before anything is touched.
struct RunPlan {
    plan: crate::tune::Plan,
    choice: crate::recommend::Choice,
}

fn run_run(a: &RunArgs) -> Result<i32> {
    use crate::recommend::{Choice, Strategy};

    // Validate everything before touching anything.
    let sizes = crate::tune::parse_sizes(&a.memory)?;
    if a.invocations == 0 || a.invocations > 10_000 {
        bail!(
            "--invocations must be between 1 and 10000, got {}",
            a.invocations
        );
    }
    let strategy = match a.strategy.as_str() {
        "cost" => Strategy::Cost,
        "speed" => Strategy::Speed,
        "balanced" => Strategy::Balanced,
        other => bail!("--strategy expects cost, speed or balanced, got {other:?}"),
    };
    if !(0.0..=1.0).contains(&a.balanced_weight) {
        bail!(
            "--balanced-weight must be between 0 and 1, got {}",
            a.balanced_weight
        );
    }
    for (flag, v) in [
        ("--max-p99-ms", a.max_p99_ms),
        ("--max-duration-ms", a.max_duration_ms),
    ] {
        if let Some(v) = v
            && !(v > 0.0 && v.is_finite())
        {
            bail!("{flag} must be a positive number of milliseconds, got {v}");
        }
    }
    let payload = match a.payload.strip_prefix('@') {
        Some(path) => std::fs::read(path)
            .with_context(|| format!("--payload @{path}: cannot read the file"))?,
        None => a.payload.clone().into_bytes(),
    };
    let payloads = crate::tune::parse_payloads(&payload)?;
    if payloads.len() as u64 > u64::from(a.invocations) {
        bail!(
            "--invocations {} is fewer than the {} payload classes of --payload; each class needs at least one invocation per size",
            a.invocations,
            payloads.len()
        );
    }
    if let Some(p) = &a.files.chart {
        chart_kind(p)?;
    }
    let run = RunPlan {
        plan: crate::tune::Plan {
            function: a.function.clone(),
            sizes,
            invocations: a.invocations,
            payloads,
        },
        choice: Choice {
            strategy,
            balanced_weight: a.balanced_weight,
            max_p99_ms: a.max_p99_ms,
            max_duration_ms: a.max_duration_ms,
        },
    };
    if a.local.is_some() || a.local_cmd.is_some() {
        run_local(a, &run)
    } else {
        run_aws(a, &run)
    }
}

/// The reports of a run from its records so far: the same pipeline `analyze` uses. With a
/// weighted payload set, the first report pools every class (their invocation counts follow the
/// weights, so it stands for the traffic mix and carries the decision) and one report per class
/// follows with that class's own statistics.
fn run_reports(
    a: &RunArgs,
    run: &RunPlan,
    records: &[crate::tune::Measured],
    pricing: &Pricing,
    source: Source,
    limits: &str,
    warnings: &[String],
) -> Vec<crate::report::TuningReport> {
    let opts = AnalysisOptions {
        pricing: pricing.clone(),
        ephemeral: Mb(512),
        monthly_invocations: None,
        headroom: DEFAULT_HEADROOM,
        step: DEFAULT_STEP,
        source,
        decision: crate::analysis::Decision::Measured(run.choice.clone()),
        current_memory: None,
        steady_state_cost: true,
    };
    let classes = &run.plan.payloads;
    let report = |label: String, class: Option<usize>| {
        let mut collector = Collector::new(Some(label));
        for m in records
            .iter()
            .filter(|m| class.is_none_or(|c| m.class == c))
        {
            collector.push(&crate::parse::Observation {
                record: m.record.clone(),
                timestamp_ms: None,
                function: None,
            });
        }
        collector.into_reports(&opts, None)
    };
    let mut reports = report(a.function.clone(), None);
    if classes.len() > 1 {
        let schedule = run.plan.schedule();
        let mix: Vec<String> = classes
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let n = schedule.iter().filter(|&&x| x == i).count();
                format!("{} (weight {}, {n} per size)", c.name, c.weight)
            })
            .collect();
        for r in &mut reports {
            r.warnings.push(format!(
                "{} payload classes, invocations in proportion to their weights: {}; this report pools them, and each class follows with its own statistics",
                classes.len(),
                mix.join(", ")
            ));
        }
        for (i, c) in classes.iter().enumerate() {
            reports.extend(report(
                format!("{} [payload {}]", a.function, c.name),
                Some(i),
            ));
        }
    }
    for r in &mut reports {
        r.limits = Some(limits.to_owned());
        r.warnings.extend(warnings.iter().cloned());
    }
    reports
}

/// Runs the tuning loop with progress, appending Lambda-format lines to --log-file and
/// rewriting --export-json after each size; returns the records and the first --export-json
/// failure (reported after cleanup, never stopping the run).
#[allow(clippy::too_many_arguments)]
fn tune_exporting(
    a: &RunArgs,
    run: &RunPlan,
    backend: &mut dyn crate::backend::Backend,
    stop: &std::sync::atomic::AtomicBool,
    progress: &mut RunProgress,
    pricing: &Pricing,
    source: Source,
    limits: &str,
) -> (Result<Vec<crate::tune::Measured>>, Option<anyhow::Error>) {
    let mut log = match &a.log_file {
        Some(p) => match std::fs::OpenOptions::new().append(true).open(p) {
            Ok(f) => Some(f),
            Err(e) => {
                let e = anyhow::Error::from(e).context(format!("--log-file {}", p.display()));
                return (Err(e), None);
            }
        },
        None => None,
    };
    let mut export_err = None;
    let result = crate::tune::tune(
        backend,
        &run.plan,
        log.as_mut().map(|f| f as &mut dyn Write),
        stop,
        &mut |p| {
            progress.on(&p);
            if let (crate::tune::Progress::SizeDone { records, .. }, Some(path)) =
                (&p, &a.export_json)
            {
                let reports = run_reports(a, run, records, pricing, source, limits, &[]);
                if let Err(e) = exporter(Format::Json)
                    .serialize(&reports)
                    .and_then(|b| write_atomically(path, &b))
                {
                    export_err.get_or_insert(e);
                }
            }
        },
    );
    (result, export_err)
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a reader never sees half.
fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp~");
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .with_context(|| format!("writing {}", path.display()))
}

/// Prints the reports and writes the files; the exit code of the run.
fn finish_run(
    a: &RunArgs,
    reports: &[crate::report::TuningReport],
    interrupted: bool,
) -> Result<i32> {
    write_files(&a.files, reports)?;
    if let Some(p) = &a.export_json {
        write_atomically(p, &exporter(Format::Json).serialize(reports)?)?;
    }
    let bytes = exporter(a.format).serialize(reports)?;
    let mut out = io::stdout().lock();
    out.write_all(&bytes).context("writing to stdout")?;
    out.flush().context("writing to stdout")?;
    let measured = reports.iter().any(|r| r.recommendation.memory_mb.is_some());
    Ok(if interrupted {
        130
    } else if measured {
        0
    } else {
        1
    })
}

/// Progress on stderr: one bar per size on a terminal, plain lines otherwise.
struct RunProgress {
    bars: Option<(
        indicatif::MultiProgress,
        std::collections::BTreeMap<u32, indicatif::ProgressBar>,
    )>,
    failed: std::collections::BTreeMap<u32, u32>,
    done: std::collections::BTreeMap<u32, u32>,
    per_size: u32,
}

impl RunProgress {
    fn new(sizes: &[Mb], per_size: u32) -> RunProgress {
        use std::io::IsTerminal;
        let bars = io::stderr().is_terminal().then(|| {
            let mp = indicatif::MultiProgress::new();
            let style =
                indicatif::ProgressStyle::with_template("{prefix:>8} [{bar:30}] {pos}/{len} {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                    .progress_chars("=> ");
            let bars = sizes
                .iter()
                .map(|s| {
                    let b = mp.add(indicatif::ProgressBar::new(u64::from(per_size)));
                    b.set_style(style.clone());
                    b.set_prefix(format!("{s}"));
                    (s.0, b)
                })
                .collect();
            (mp, bars)
        });
        RunProgress {
            bars,
            ..RunProgress::plain(per_size)
        }
    }

    /// Plain lines only, even on a terminal.
    fn plain(per_size: u32) -> RunProgress {
        RunProgress {
            bars: None,
            failed: Default::default(),
            done: Default::default(),
            per_size,
        }
    }

    fn line(&self, s: &str) {
        match &self.bars {
            Some((mp, _)) => {
                let _ = mp.println(format!("powertune: {s}"));
            }
            None => eprintln!("powertune: {s}"),
        }
    }

    fn on(&mut self, p: &crate::tune::Progress<'_>) {
        use crate::tune::Progress;
        match p {
            Progress::Size { size, index, of } => match &self.bars {
                Some((_, bars)) => {
                    if let Some(b) = bars.get(&size.0) {
                        b.set_message("preparing");
                    }
                }
                None => eprintln!("powertune: [{index}/{of}] {size}…"),
            },
            Progress::Invoked { size, record, .. } => {
                let n = self.done.entry(size.0).or_default();
                *n += 1;
                let n = *n;
                if record.status != crate::record::Status::Success {
                    *self.failed.entry(size.0).or_default() += 1;
                    self.line(&format!(
                        "  {size}: invocation {n} {}: {}",
                        record.status.as_str(),
                        record.error_type.as_deref().unwrap_or("")
                    ));
                }
                if let Some((_, bars)) = &self.bars
                    && let Some(b) = bars.get(&size.0)
                {
                    b.set_message("invoking");
                    b.inc(1);
                }
            }
            Progress::Lost { size, error } => {
                *self.done.entry(size.0).or_default() += 1;
                self.line(&format!(
                    "  {size}: an invocation was not measured: {error:#}"
                ));
                if let Some((_, bars)) = &self.bars
                    && let Some(b) = bars.get(&size.0)
                {
                    b.inc(1);
                }
            }
            Progress::SizeDone { size, .. } => {
                let failed = self.failed.get(&size.0).copied().unwrap_or(0);
                match &self.bars {
                    Some((_, bars)) => {
                        if let Some(b) = bars.get(&size.0) {
                            b.finish_with_message(if failed > 0 {
                                format!("done, {failed} failed")
                            } else {
                                "done".to_owned()
                            });
                        }
                    }
                    None => eprintln!(
                        "powertune:   {size}: {} invocations done{}",
                        self.per_size,
                        if failed > 0 {
                            format!(", {failed} failed")
                        } else {
                            String::new()
                        }
                    ),
                }
            }
        }
    }
}

fn run_local(a: &RunArgs, run: &RunPlan) -> Result<i32> {
    use crate::backend::Backend;
    use crate::backend::local::{LocalBackend, LocalConfig};
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    use std::time::Duration;

    let (region, _, pricing) = a.prices.resolve()?;
    if !(a.timeout > 0.0 && a.timeout <= 900.0) {
        bail!(
            "--timeout must be between 0 and 900 seconds (Lambda's range), got {}",
            a.timeout
        );
    }
    if !(a.init_timeout > 0.0 && a.init_timeout <= 600.0) {
        bail!(
            "--init-timeout must be between 0 and 600 seconds, got {}",
            a.init_timeout
        );
    }
    // (clap refuses the AWS-only flags with --local; these come from a shared struct.)
    if a.aws.profile.is_some() || a.aws.endpoint_url.is_some() {
        bail!("--profile and --endpoint-url are for runs on AWS, not --local ones");
    }
    let task_root = match (&a.local, &a.local_cmd) {
        (Some(d), _) => d.clone(),
        _ => std::env::current_dir()?,
    };
    if !task_root.is_dir() {
        bail!(
            "--local {}: not a directory (expected the function's code, with an executable bootstrap)",
            task_root.display()
        );
    }

    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone()).context("installing the Ctrl-C handler")?;
    }
    if let Some(p) = &a.log_file {
        std::fs::write(p, b"")
            .with_context(|| format!("--log-file {}: cannot write", p.display()))?;
    }
    let mut backend = LocalBackend::new(LocalConfig {
        function: a.function.clone(),
        task_root,
        command: a.local_cmd.clone(),
        handler: a.handler.clone(),
        region: region.clone(),
        timeout: Duration::from_secs_f64(a.timeout),
        init_timeout: Duration::from_secs_f64(a.init_timeout),
        no_limits: a.no_limits,
        output: a.log_file.clone(),
        stop: stop.clone(),
    })?;
    eprintln!(
        "powertune: {} at {} sizes × {} invocations, locally ({})",
        a.function,
        run.plan.sizes.len(),
        a.invocations,
        backend.limits()
    );
    let limits = backend.limits();
    // Plain lines: the function's own output may share the terminal.
    let mut progress = RunProgress::plain(a.invocations);
    let (result, export_err) = tune_exporting(
        a,
        run,
        &mut backend,
        &stop,
        &mut progress,
        &pricing,
        Source::Local,
        &limits,
    );
    let warnings = backend.warnings();
    backend.cleanup()?;
    let interrupted = stop.load(std::sync::atomic::Ordering::Relaxed);
    let records = result?;
    if let Some(e) = export_err {
        return Err(e.context("--export-json"));
    }
    if interrupted {
        eprintln!(
            "powertune: interrupted; every process and cgroup this run made has been removed"
        );
    }
    if records.is_empty() {
        if interrupted {
            eprintln!("powertune: interrupted before any invocation finished; nothing to report");
            return Ok(130);
        }
        bail!("nothing was measured");
    }
    let reports = run_reports(
        a,
        run,
        &records,
        &pricing,
        Source::Local,
        &limits,
        &warnings,
    );
    finish_run(a, &reports, interrupted)
}

/// The control-plane calls a run makes: per published version GetFunction (no update in
/// progress), UpdateFunctionConfiguration, GetFunction (at least one while waiting),
/// PublishVersion and DeleteFunction, plus CreateAlias and DeleteAlias per size unless every
/// invocation gets its own version (`--cold-starts`); once: GetFunction before, and the three
/// calls that restore $LATEST.
fn control_plane_calls(sizes: usize, versions: usize, aliases: bool) -> usize {
    5 * versions + if aliases { 2 * sizes } else { 0 } + 4
}

fn print_dry_run(
    a: &RunArgs,
    run: &RunPlan,
    info: &crate::backend::aws::FunctionInfo,
) -> Result<()> {
    let pricing = Pricing::lookup(&info.region, info.arch)
        .with_context(|| format!("prices for {}", info.region))?;
    let n = run.plan.sizes.len();
    let total = n as u64 * u64::from(run.plan.invocations);
    let worst: f64 = run
        .plan
        .sizes
        .iter()
        .map(|&m| {
            f64::from(run.plan.invocations)
                * pricing
                    .invocation(
                        crate::units::Ms(f64::from(info.timeout_s) * 1000.0),
                        m,
                        Mb(512),
                    )
                    .0
        })
        .sum();
    let requests = total as f64 * pricing.usd_per_request;
    let versions = if a.cold_starts { total as usize } else { n };
    let calls = control_plane_calls(n, versions, !a.cold_starts);
    // Each version waits for its configuration update: about 3 s on AWS in our runs.
    let deploy_s = versions as f64 * 3.0 + 3.0;
    let invoke_s = (total as f64 / a.concurrency.max(1) as f64).ceil() * f64::from(info.timeout_s);
    let sizes: Vec<String> = run.plan.sizes.iter().map(|m| m.0.to_string()).collect();
    let mut o = io::stdout().lock();
    writeln!(o, "Dry run: nothing will be changed.")?;
    writeln!(
        o,
        "Function: {} ({}, {}), now {} MB, timeout {} s, {} logs in {}",
        info.name,
        info.region,
        info.arch,
        info.memory.0,
        info.timeout_s,
        info.log_format,
        info.log_group
    )?;
    writeln!(
        o,
        "Plan: {n} sizes ({} MB) × {} invocations = {total} invocations, at most {} in flight",
        sizes.join(", "),
        run.plan.invocations,
        a.concurrency
    )?;
    writeln!(
        o,
        "Changes, each journaled first and undone at the end (docs/run.md):"
    )?;
    writeln!(
        o,
        "  - $LATEST's memory and description, set for each size in turn and restored to {} MB once the versions exist (about {deploy_s:.0} s)",
        info.memory.0
    )?;
    if a.cold_starts {
        writeln!(
            o,
            "  - --cold-starts: {versions} versions published, one per invocation, so that each is a cold start; deleted at the end"
        )?;
    } else {
        writeln!(
            o,
            "  - {n} versions published and {n} aliases (powertune-<MB>) created, deleted at the end"
        )?;
    }
    writeln!(
        o,
        "Control-plane calls: about {calls} (UpdateFunctionConfiguration, GetFunction, PublishVersion, {}DeleteFunction), at most {} a second",
        if a.cold_starts {
            ""
        } else {
            "CreateAlias, DeleteAlias, "
        },
        crate::backend::aws::CONTROL_PLANE_RPS
    )?;
    writeln!(
        o,
        "Cost: requests {}; duration at most {} if every invocation ran to the {} s timeout (a typical run costs far less)",
        crate::units::Usd(requests),
        crate::units::Usd(worst),
        info.timeout_s
    )?;
    writeln!(
        o,
        "Time: about {deploy_s:.0} s to deploy and as long to clean up, plus the invocations (at most {invoke_s:.0} s if each ran to the timeout)"
    )?;
    Ok(())
}

fn run_aws(a: &RunArgs, run: &RunPlan) -> Result<i32> {
    use crate::backend::Backend;
    use crate::backend::aws::{AwsBackend, AwsConfig};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    if a.concurrency == 0 || a.concurrency > 1000 {
        bail!(
            "--concurrency must be between 1 and 1000 (Lambda's default account limit), got {}",
            a.concurrency
        );
    }
    if !(a.logs_wait >= 0.0 && a.logs_wait <= 900.0) {
        bail!(
            "--logs-wait must be between 0 and 900 seconds, got {}",
            a.logs_wait
        );
    }
    let stop = Arc::new(AtomicBool::new(false));
    let cfg = AwsConfig {
        function: a.function.clone(),
        qualifier: a.qualifier.clone(),
        profile: a.aws.profile.clone(),
        region: a.prices.region.clone(),
        endpoint_url: a.aws.endpoint_url.clone(),
        concurrency: a.concurrency,
        cold_starts: a.cold_starts.then_some(a.invocations),
        logs_wait: std::time::Duration::from_secs_f64(a.logs_wait),
        stop: stop.clone(),
    };
    if a.dry_run {
        let info = crate::backend::aws::inspect(&cfg)?;
        print_dry_run(a, run, &info)?;
        return Ok(0);
    }
    let mut backend = AwsBackend::connect(cfg)?;
    let info = backend.info().clone();
    let pricing = match Pricing::lookup(&info.region, info.arch) {
        Ok(p) => p,
        Err(e) => {
            backend.cleanup()?;
            return Err(anyhow::Error::from(e).context(format!("prices for {}", info.region)));
        }
    };
    let journal = backend.journal_path().unwrap_or_default();
    {
        let (stop, journal, name, region) = (
            stop.clone(),
            journal.clone(),
            info.name.clone(),
            info.region.clone(),
        );
        let endpoint = a
            .aws
            .endpoint_url
            .as_ref()
            .map(|e| format!(" --endpoint-url {e}"))
            .unwrap_or_default();
        let mut signals = signal_hook::iterator::Signals::new([
            signal_hook::consts::SIGINT,
            signal_hook::consts::SIGTERM,
        ])
        .context("installing the Ctrl-C handler")?;
        std::thread::spawn(move || {
            for (n, _) in signals.forever().enumerate() {
                if n == 0 {
                    stop.store(true, Ordering::SeqCst);
                    eprintln!(
                        "powertune: interrupted; undoing what this run changed (Ctrl-C again stops at once and leaves the rest to `powertune cleanup`)"
                    );
                } else {
                    let left = crate::backend::aws::left_in(&journal, &name);
                    if left.is_empty() {
                        eprintln!("powertune: stopped; nothing was left to undo");
                    } else {
                        eprintln!("powertune: stopped with this still to undo:");
                        for l in &left {
                            eprintln!("  - {l}");
                        }
                        eprintln!(
                            "powertune: finish it with: powertune cleanup --function {name} --region {region}{endpoint}"
                        );
                    }
                    std::process::exit(130);
                }
            }
        });
    }
    eprintln!(
        "powertune: {} ({}, {}, {} MB now) at {} sizes × {} invocations, {} in flight; journal {}",
        info.name,
        info.region,
        info.arch,
        info.memory.0,
        run.plan.sizes.len(),
        a.invocations,
        a.concurrency,
        journal.display()
    );
    if let Some(p) = &a.log_file {
        std::fs::write(p, b"")
            .with_context(|| format!("--log-file {}: cannot write", p.display()))?;
    }
    let mut progress = RunProgress::new(&run.plan.sizes, a.invocations);
    let (result, export_err) = tune_exporting(
        a,
        run,
        &mut backend,
        &stop,
        &mut progress,
        &pricing,
        Source::Aws,
        "aws",
    );
    if let Some((mp, _)) = &progress.bars {
        let _ = mp.clear();
    }
    let interrupted = stop.load(Ordering::SeqCst);
    let warnings = backend.warnings();
    // Undo everything before looking at the outcome.
    let cleaned = backend.cleanup();
    match &cleaned {
        Err(e) => eprintln!("powertune: error: {e:#}"),
        Ok(()) => eprintln!(
            "powertune: {} is as it was: $LATEST restored, the run's aliases and versions deleted",
            info.name
        ),
    }
    let records = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("powertune: error: the run failed: {e:#}");
            return Ok(1);
        }
    };
    if let Some(e) = export_err {
        eprintln!("powertune: error: --export-json: {e:#}");
    }
    if records.is_empty() {
        if interrupted {
            eprintln!("powertune: interrupted before any invocation finished; nothing to report");
            return Ok(130);
        }
        eprintln!(
            "powertune: error: no invocation could be measured at any size (see the messages above)"
        );
        return Ok(1);
    }
    let reports = run_reports(a, run, &records, &pricing, Source::Aws, "aws", &warnings);
    let code = finish_run(a, &reports, interrupted)?;
    if cleaned.is_err() {
        return Ok(1);
    }
    if code == 0
        && (a.apply || a.apply_alias.is_some())
        && let Some(mb) = reports.first().and_then(|r| r.recommendation.memory_mb)
    {
        if let Some(alias) = &a.apply_alias {
            let v = backend.apply_alias(Mb(mb), alias)?;
            eprintln!(
                "powertune: applied: {}:{alias} → version {v} with {mb} MB",
                info.name
            );
        } else {
            backend.apply(Mb(mb))?;
            eprintln!("powertune: applied: {} $LATEST now has {mb} MB", info.name);
        }
        backend.cleanup()?;
    }
    Ok(code)
}

fn run_cleanup(a: &CleanupArgs) -> Result<i32> {
    let c = crate::backend::aws::CleanupConfig {
        function: a.function.clone(),
        region: a.region.clone(),
        profile: a.aws.profile.clone(),
        endpoint_url: a.aws.endpoint_url.clone(),
    };
    let say = |s: &str| eprintln!("powertune: {s}");
    match crate::backend::aws::cleanup_command(&c, &say) {
        Ok(true) => {
            eprintln!(
                "powertune: {} is as it was before the interrupted run",
                a.function
            );
            Ok(0)
        }
        Ok(false) => {
            eprintln!(
                "powertune: no unfinished run on {} (no journal in {})",
                a.function,
                crate::backend::aws::journal::state_dir()?.display()
            );
            Ok(0)
        }
        Err(e) => {
            eprintln!("powertune: error: {e:#}");
            Ok(1)
        }
    }
}

fn run_check(a: &CheckArgs) -> Result<i32> {
    use crate::check::output;
    let github = match a.format.as_deref() {
        None => std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true"),
        Some("github") => true,
        Some("human") => false,
        Some(other) => bail!("--format expects human or github, got {other:?}"),
    };
    let opts = check_options(a)?;
    let outcome = crate::check::run(&opts)?;
    let mut text = String::new();
    if github {
        text.push_str(&output::github(&outcome.results));
    }
    text.push_str(&output::human(&outcome.results));
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .context("writing to stdout")?;
    out.flush().context("writing to stdout")?;
    if github && let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty())
    {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| {
                format!(
                    "opening $GITHUB_STEP_SUMMARY ({})",
                    PathBuf::from(&path).display()
                )
            })?;
        f.write_all(output::step_summary(&outcome.results).as_bytes())
            .context("writing $GITHUB_STEP_SUMMARY")?;
    }
    if let Some(j) = &a.junit {
        std::fs::write(j, output::junit(&outcome.results))
            .with_context(|| format!("writing JUnit XML to {}", j.display()))?;
    }
    if outcome.exit == 2 {
        eprintln!(
            "powertune: error: no rule could be judged (every value or piece of evidence needed was missing)"
        );
    }
    Ok(outcome.exit)
}

/// Validated analysis options: everything the pipeline needs, checked once.
fn analysis_options(a: &AnalyzeArgs) -> Result<AnalysisOptions> {
    let (_, _, pricing) = a.prices.resolve()?;
    check_rule(a.headroom, a.step)?;
    if !(512..=10_240).contains(&a.ephemeral_storage) {
        bail!(
            "--ephemeral-storage must be between 512 and 10240 MB (Lambda's /tmp range), got {}",
            a.ephemeral_storage
        );
    }
    if let Some(n) = a.monthly_invocations
        && (!n.is_finite() || n < 0.0)
    {
        bail!("--monthly-invocations must be a non-negative number, got {n}");
    }
    Ok(AnalysisOptions {
        pricing,
        ephemeral: Mb(a.ephemeral_storage),
        monthly_invocations: a.monthly_invocations,
        headroom: a.headroom,
        step: a.step,
        source: Source::Logs,
        decision: crate::analysis::Decision::RightSize,
        current_memory: None,
        steady_state_cost: false,
    })
}

/// Runs the command line; returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    let result = match cli.command {
        Command::Parse(a) => run_parse(&a).map(|()| 0),
        Command::Analyze(a) => run_analyze(&a).map(|()| 0),
        Command::Check(a) => run_check(&a),
        Command::Run(a) => run_run(&a),
        Command::Cleanup(a) => run_cleanup(&a),
    };
    match result {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => 0,
        Err(e) => {
            eprintln!("powertune: error: {e:#}");
            2
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<io::Error>())
        .any(|io| io.kind() == io::ErrorKind::BrokenPipe)
}

fn report_malformed(s: &ScanSummary, quiet: bool) {
    if s.malformed == 0 || quiet {
        return;
    }
    eprintln!(
        "powertune: {} line{} looked like REPORT records but could not be read:",
        s.malformed,
        if s.malformed == 1 { "" } else { "s" }
    );
    for m in &s.malformed_examples {
        eprintln!("  {}:{}: {}: {}", m.source, m.line, m.reason, m.excerpt);
    }
    let more = s.malformed - s.malformed_examples.len() as u64;
    if more > 0 {
        eprintln!("  … and {more} more");
    }
}

fn no_records(s: &ScanSummary) -> anyhow::Error {
    let what = match s.sources.as_slice() {
        [one] => one.clone(),
        many => format!("{} inputs", many.len()),
    };
    let mut msg = format!(
        "no Lambda invocation records found in {what} ({} bytes read). Looked for text REPORT lines \
         (\"REPORT RequestId: … Duration: … ms Billed Duration: … ms Memory Size: … MB Max Memory Used: … MB\"), \
         JSON-format platform.report events, and Logs Insights exports with @duration and @maxMemoryUsed columns",
        s.bytes
    );
    if s.malformed > 0 {
        msg.push_str(&format!(
            "; {} lines looked like REPORT records but could not be read (listed above)",
            s.malformed
        ));
    }
    anyhow::Error::msg(msg)
}

fn run_parse(a: &ParseArgs) -> Result<()> {
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut write_err: Option<io::Error> = None;
    let summary = parse::scan_paths(&a.input.paths, &mut |obs| {
        if write_err.is_some() {
            return;
        }
        let res = serde_json::to_writer(&mut out, &obs.record)
            .map_err(io::Error::from)
            .and_then(|_| out.write_all(b"\n"));
        if let Err(e) = res {
            write_err = Some(e);
        }
    })?;
    if let Some(e) = write_err {
        return Err(e).context("writing to stdout");
    }
    out.flush().context("writing to stdout")?;
    report_malformed(&summary, a.input.quiet);
    if summary.records == 0 {
        return Err(no_records(&summary));
    }
    Ok(())
}

fn run_analyze(a: &AnalyzeArgs) -> Result<()> {
    let opts = analysis_options(a)?;
    if let Some(p) = &a.files.chart {
        chart_kind(p)?;
    }
    let mut collector = Collector::new(a.function.clone());
    let summary = parse::scan_paths(&a.input.paths, &mut |obs| collector.push(&obs))?;
    report_malformed(&summary, a.input.quiet);
    if collector.records() == 0 {
        return Err(no_records(&summary));
    }
    let reports = collector.into_reports(&opts, Some(&summary));
    write_files(&a.files, &reports)?;
    let bytes = exporter(a.format).serialize(&reports)?;
    let mut out = io::stdout().lock();
    out.write_all(&bytes).context("writing to stdout")?;
    out.flush().context("writing to stdout")?;
    Ok(())
}
