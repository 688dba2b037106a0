//! The one result type: [`TuningReport`], what powertune found about one function. `analyze`
//! fills it from captured logs; `run` (AWS or local) fills it from its own invocations. Every
//! exporter (table, JSON, CSV, Markdown) only turns it into bytes. Its JSON form is documented in
//! docs/report-schema.json; units are in every field name.

use crate::cost::Architecture;
use crate::stats::Distribution;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Version of the JSON shape; bumped on incompatible changes.
pub const SCHEMA_VERSION: u32 = 1;

/// Where the measurements came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Captured logs (`powertune analyze`).
    Logs,
    /// Invocations of a deployed function (`powertune run`).
    Aws,
    /// Invocations under local limits (`powertune run --local`).
    Local,
}

/// What powertune found about one function.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TuningReport {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// `powertune <version>`.
    pub tool: String,
    /// Where the measurements came from.
    pub source: Source,
    /// The function, when the input names it (log group, prefix, `--function`).
    pub function: Option<String>,
    /// Region whose prices were used.
    pub region: String,
    /// Architecture whose prices were used.
    pub architecture: Architecture,
    /// The prices used.
    pub pricing: PricingUsed,
    /// How memory and CPU limits were enforced for measured runs (`cgroup v1`, `cgroup v2`,
    /// `unenforced`); null for logs.
    pub limits: Option<String>,
    /// What was read (for `analyze`).
    pub input: Option<InputRead>,
    /// The monthly volume that monthly costs use.
    pub monthly_invocations: MonthlyVolume,
    /// One entry per memory size measured, smallest first.
    pub configs: Vec<ConfigReport>,
    /// What to set.
    pub recommendation: Recommendation,
    /// Things the user should know about the data.
    pub warnings: Vec<String>,
}

/// The prices a report used.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PricingUsed {
    /// First-tier duration price, USD per GB-second.
    pub usd_per_gb_second: f64,
    /// USD per million requests.
    pub usd_per_million_requests: f64,
    /// Ephemeral storage configured, MB (512 is free).
    pub ephemeral_storage_mb: u32,
    /// Assumptions behind the prices.
    pub notes: Vec<String>,
}

/// What `analyze` read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InputRead {
    /// Inputs (paths, `-`).
    pub sources: Vec<String>,
    /// Bytes read after decompression.
    pub bytes: u64,
    /// Records found for this function.
    pub records: u64,
    /// Lines that looked like records but could not be read (all inputs).
    pub malformed: u64,
    /// Earliest record timestamp, epoch ms.
    pub first_timestamp_ms: Option<i64>,
    /// Latest record timestamp, epoch ms.
    pub last_timestamp_ms: Option<i64>,
}

/// Monthly invocation volume and where it came from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MonthlyVolume {
    /// Invocations per month (730 hours); null when unknown.
    pub invocations: Option<f64>,
    /// `flag` (--monthly-invocations), `observed` (rate over the logs' time span) or `unknown`.
    pub basis: String,
    /// How it was arrived at, for people.
    pub detail: String,
}

/// Statistics of one memory size.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConfigReport {
    /// Configured memory, MB; null when the records do not say (Managed Instances reports).
    pub memory_mb: Option<u32>,
    /// Invocations seen.
    pub invocations: u64,
    /// Invocations that started a new environment (Init or Restore Duration present).
    pub cold_starts: u64,
    /// `Status: error` (includes out-of-memory).
    pub errors: u64,
    /// `Status: timeout`.
    pub timeouts: u64,
    /// Out-of-memory: `Runtime.OutOfMemory`, or failed with Max Memory Used at the size.
    pub out_of_memory: u64,
    /// JSON `failure` status (the handler returned an error).
    pub failures: u64,
    /// Count per error type.
    pub error_types: BTreeMap<String, u64>,
    /// Duration (ms) of warm invocations (of all, when every invocation was a cold start).
    pub duration_ms: Distribution,
    /// Duration (ms) of cold-start invocations, reported apart; null when none.
    pub cold_duration_ms: Option<Distribution>,
    /// Mean billed duration, ms; null when the records carry none.
    pub billed_duration_mean_ms: Option<f64>,
    /// Init Duration (ms) of cold starts; null when none.
    pub init_duration_ms: Option<Distribution>,
    /// Restore Duration (ms) of SnapStart restores; null when none.
    pub restore_duration_ms: Option<Distribution>,
    /// Max Memory Used, MB.
    pub max_memory_used_mb: Option<MemoryUse>,
    /// Mean cost of one invocation, USD (first-tier price, request fee included).
    pub cost_per_invocation_usd: Option<f64>,
    /// The same per million invocations, USD.
    pub cost_per_million_usd: Option<f64>,
    /// 95% confidence interval of `cost_per_million_usd`, [low, high] USD, from the spread of
    /// billed durations; null with fewer than two or no billed durations.
    pub cost_per_million_ci95_usd: Option<[f64; 2]>,
}

/// Max Memory Used over a size's invocations, MB.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MemoryUse {
    /// Smallest.
    pub min: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
    /// Mean.
    pub mean: f64,
    /// Largest as a fraction of the configured size (0..1).
    pub max_utilisation: Option<f64>,
}

/// What to set, and why.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Recommendation {
    /// The memory to configure, MB; null when the evidence cannot say.
    pub memory_mb: Option<u32>,
    /// The size the function has now (the latest seen), MB.
    pub current_memory_mb: Option<u32>,
    /// Why, in a sentence or two.
    pub reason: String,
    /// The right-sizing rule's inputs.
    pub rule: RightSizeRule,
    /// True when larger sizes ran measurably faster in the same logs, so duration would change
    /// with memory and the saving below is not to be trusted without `powertune run`.
    pub cpu_bound: bool,
    /// Cost per million invocations now, at the recommended size, and the difference (USD).
    pub per_million_usd: Option<Saving>,
    /// The same per month at the monthly volume; null when the volume is unknown.
    pub monthly_usd: Option<Saving>,
    /// What the figures assume.
    pub assumptions: Vec<String>,
    /// Timeout advice.
    pub timeout: TimeoutAdvice,
}

/// The inputs of the right-sizing rule.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RightSizeRule {
    /// Multiplier on the largest Max Memory Used.
    pub headroom: f64,
    /// Sizes are multiples of this, MB.
    pub step_mb: u32,
    /// The largest Max Memory Used seen, MB.
    pub max_memory_used_mb: Option<f64>,
    /// The largest size that ran out of memory; the recommendation stays above it.
    pub out_of_memory_at_mb: Option<u32>,
}

/// A cost now, at the recommendation, and what changes (positive = saved).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Saving {
    /// At the current size.
    pub current: f64,
    /// At the recommended size.
    pub recommended: f64,
    /// current − recommended.
    pub saving: f64,
}

/// A timeout that fits the observed durations.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TimeoutAdvice {
    /// Suggested timeout, whole seconds: 1.5 × p99.9 duration, 1–900 s.
    pub recommended_s: Option<u32>,
    /// The duration the timeout is fitted to, ms: the p99.9 (or a longer cold start) at the
    /// recommended size or the nearest size measured below it, scaled by the CPU share lost when
    /// only larger sizes were measured.
    pub p999_duration_ms: Option<f64>,
    /// Invocations that timed out.
    pub timeouts_seen: u64,
    /// For people.
    pub note: String,
}
