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
    /// With --local DIR, runs the function's own code on this machine: DIR holds an executable
    /// `bootstrap` (what Lambda's provided runtimes start) that talks to the Lambda Runtime API
    /// powertune serves on 127.0.0.1, inside a cgroup with the size's memory limit and CPU share
    /// (one vCPU at 1,769 MB). No AWS account is needed. (Tuning a deployed function on AWS is not
    /// in this build yet.)
    Run(RunArgs),
}

#[derive(Debug, Args)]
struct RunArgs {
    /// The function's name (AWS_LAMBDA_FUNCTION_NAME for the local runtime).
    #[arg(long)]
    function: String,

    /// Run locally: a directory with an executable `bootstrap` (LAMBDA_TASK_ROOT).
    #[arg(long, value_name = "DIR", required_unless_present = "local_cmd")]
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

    /// The event: inline JSON, or @FILE.
    #[arg(long, default_value = "{}", value_name = "JSON|@FILE")]
    payload: String,

    /// Invocation timeout, seconds (the environment is killed and restarted after one).
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    timeout: f64,

    /// Init timeout, seconds (Lambda's is 10).
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    init_timeout: f64,

    /// _HANDLER for the runtime.
    #[arg(long, default_value = "handler.handler")]
    handler: String,

    /// Run without memory and CPU limits (no cgroup needed); results are marked unenforced.
    #[arg(long)]
    no_limits: bool,

    /// Write START/END/REPORT lines in Lambda's text format (and the runtime's output) to FILE,
    /// so that `powertune analyze FILE` reads the run back.
    #[arg(long, value_name = "FILE")]
    log_file: Option<PathBuf>,

    /// What to optimise: cost, speed or balanced.
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

fn run_run(a: &RunArgs) -> Result<i32> {
    use crate::backend::Backend;
    use crate::backend::local::{LocalBackend, LocalConfig};
    use crate::recommend::{Choice, Strategy};
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    use std::time::Duration;

    // Validate everything before touching anything.
    let (region, _, pricing) = a.prices.resolve()?;
    let sizes = crate::tune::parse_sizes(&a.memory)?;
    if a.invocations == 0 || a.invocations > 10_000 {
        bail!(
            "--invocations must be between 1 and 10000, got {}",
            a.invocations
        );
    }
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
    let payload = match a.payload.strip_prefix('@') {
        Some(path) => std::fs::read(path)
            .with_context(|| format!("--payload @{path}: cannot read the file"))?,
        None => a.payload.clone().into_bytes(),
    };
    serde_json::from_slice::<serde_json::Value>(&payload)
        .context("--payload must be JSON (inline, or @FILE holding JSON)")?;
    if let Some(p) = &a.files.chart {
        chart_kind(p)?;
    }
    let task_root = match (&a.local, &a.local_cmd) {
        (Some(d), _) => d.clone(),
        (None, Some(_)) => std::env::current_dir()?,
        (None, None) => bail!(
            "--local DIR or --local-cmd CMD is required (tuning a deployed function on AWS is not in this build)"
        ),
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
    let plan = crate::tune::Plan {
        function: a.function.clone(),
        sizes,
        invocations: a.invocations,
        payload,
    };
    eprintln!(
        "powertune: {} at {} sizes × {} invocations, locally ({})",
        a.function,
        plan.sizes.len(),
        a.invocations,
        backend.limits()
    );
    let mut log = match &a.log_file {
        Some(p) => Some(std::fs::OpenOptions::new().append(true).open(p)?),
        None => None,
    };
    let mut at_size: (u32, u32, u32) = (0, 0, 0);
    let result = crate::tune::tune(
        &mut backend,
        &plan,
        log.as_mut().map(|f| f as &mut dyn Write),
        &stop,
        &mut |p| match p {
            crate::tune::Progress::Size { size, index, of } => {
                at_size = (size.0, 0, 0);
                eprintln!("powertune: [{index}/{of}] {size}…");
            }
            crate::tune::Progress::Invoked { record, .. } => {
                at_size.1 += 1;
                if record.status != crate::record::Status::Success {
                    at_size.2 += 1;
                    eprintln!(
                        "powertune:   {} MB: invocation {} {}: {}",
                        at_size.0,
                        at_size.1,
                        record.status.as_str(),
                        record.error_type.as_deref().unwrap_or("")
                    );
                }
            }
        },
    );
    let warnings = backend.warnings();
    let limits = backend.limits();
    backend.cleanup()?;
    let interrupted = stop.load(std::sync::atomic::Ordering::Relaxed);
    let records = result?;
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
    let opts = AnalysisOptions {
        pricing,
        ephemeral: Mb(512),
        monthly_invocations: None,
        headroom: DEFAULT_HEADROOM,
        step: DEFAULT_STEP,
        source: crate::report::Source::Local,
        decision: crate::analysis::Decision::Measured(Choice {
            strategy,
            balanced_weight: a.balanced_weight,
            max_p99_ms: a.max_p99_ms,
            max_duration_ms: a.max_duration_ms,
        }),
        current_memory: None,
        steady_state_cost: true,
    };
    let mut collector = Collector::new(Some(a.function.clone()));
    for r in records {
        collector.push(&crate::parse::Observation {
            record: r,
            timestamp_ms: None,
            function: None,
        });
    }
    let mut reports = collector.into_reports(&opts, None);
    for r in &mut reports {
        r.limits = Some(limits.clone());
        r.warnings.extend(warnings.iter().cloned());
    }
    write_files(&a.files, &reports)?;
    let bytes = exporter(a.format).serialize(&reports)?;
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
