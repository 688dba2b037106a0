//! The shared pipeline after the invocation records: records are grouped by function and memory
//! size into streaming statistics ([`Collector`]), then priced, right-sized and assembled into one
//! [`TuningReport`] per function. `analyze` feeds it records parsed from logs; `run` will feed it
//! records from its backends. Nothing here knows where records came from.

use crate::cost::Pricing;
use crate::parse::{Observation, ScanSummary};
use crate::recommend::{self, right_size};
use crate::record::{InvocationRecord, Status};
use crate::report::*;
use crate::stats::{Mean, Summary};
use crate::units::{Mb, Ms, Usd};
use std::collections::BTreeMap;

/// Everything the pipeline needs besides the records. Built once from validated options.
#[derive(Debug, Clone)]
pub struct AnalysisOptions {
    /// Prices of the region and architecture.
    pub pricing: Pricing,
    /// Configured ephemeral storage (512 MB is free).
    pub ephemeral: Mb,
    /// Monthly invocations given by the user; None to take the rate the logs show.
    pub monthly_invocations: Option<f64>,
    /// Right-sizing headroom multiplier (≥ 1).
    pub headroom: f64,
    /// Right-sizing step, MB (≥ 1).
    pub step: u32,
    /// Where the records came from.
    pub source: Source,
    /// How the recommendation is made.
    pub decision: Decision,
    /// The size the function is configured with, when known (else inferred from the logs).
    pub current_memory: Option<Mb>,
    /// Price the steady state (warm invocations' billed duration) rather than everything billed,
    /// cold starts' init included. `run` measures a cold start per size by construction, which
    /// says nothing of production's cold-start rate; `analyze` prices what the logs billed.
    pub steady_state_cost: bool,
}

/// How the recommendation is chosen.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// From logs: the right-sizing rule on Max Memory Used (`analyze`).
    RightSize,
    /// Among measured sizes, by a strategy (`run`).
    Measured(recommend::Choice),
}

#[derive(Debug, Default)]
struct Group {
    function: Option<String>,
    memory: Option<u32>,
    invocations: u64,
    cold: u64,
    errors: u64,
    timeouts: u64,
    oom: u64,
    failures: u64,
    error_types: BTreeMap<String, u64>,
    duration: Summary,
    cold_duration: Summary,
    billed: Mean,
    warm_billed: Mean,
    init: Summary,
    restore: Summary,
    mem_used: Summary,
    first_ts: Option<i64>,
    last_ts: Option<i64>,
    with_ts: u64,
}

impl Group {
    fn add(&mut self, r: &InvocationRecord<'_>, ts: Option<i64>) {
        self.invocations += 1;
        if r.is_cold_start() {
            self.cold += 1;
        }
        match r.status {
            Status::Success => {}
            Status::Error => self.errors += 1,
            Status::Timeout => self.timeouts += 1,
            Status::Failure => self.failures += 1,
        }
        if r.is_out_of_memory() {
            self.oom += 1;
        }
        if let Some(t) = &r.error_type {
            match self.error_types.get_mut(t.as_ref()) {
                Some(c) => *c += 1,
                None => {
                    self.error_types.insert(t.to_string(), 1);
                }
            }
        }
        let push = |s: &mut Summary, v: Option<f64>| {
            if let Some(v) = v {
                s.push(v)
            }
        };
        // Cold starts are reported apart: warm statistics describe the steady state.
        if r.is_cold_start() {
            push(&mut self.cold_duration, r.duration_ms);
        } else {
            push(&mut self.duration, r.duration_ms);
        }
        if let Some(b) = r.billed_duration_ms {
            self.billed.push(b);
            if !r.is_cold_start() {
                self.warm_billed.push(b);
            }
        }
        push(&mut self.init, r.init_duration_ms);
        push(&mut self.restore, r.restore_duration_ms);
        push(&mut self.mem_used, r.max_memory_used_mb);
        if let Some(t) = ts {
            self.with_ts += 1;
            self.first_ts = Some(self.first_ts.map_or(t, |f| f.min(t)));
            self.last_ts = Some(self.last_ts.map_or(t, |l| l.max(t)));
        }
    }
}

/// Groups invocation records by (function, memory size) as they stream past.
#[derive(Debug, Default)]
pub struct Collector {
    groups: Vec<Group>,
    last: usize,
    label: Option<String>,
}

impl Collector {
    /// A collector; `label` names the function of every record (overriding what the input says).
    pub fn new(label: Option<String>) -> Self {
        Collector {
            groups: Vec::new(),
            last: 0,
            label,
        }
    }

    /// Records seen.
    pub fn records(&self) -> u64 {
        self.groups.iter().map(|g| g.invocations).sum()
    }

    /// Adds one observation.
    pub fn push(&mut self, obs: &Observation<'_>) {
        let function = self.label.as_deref().or(obs.function);
        let memory = obs.record.memory_size_mb.map(|m| m.round() as u32);
        let matches = |g: &Group| g.memory == memory && g.function.as_deref() == function;
        let idx = if self.groups.get(self.last).is_some_and(matches) {
            self.last
        } else if let Some(i) = self.groups.iter().position(matches) {
            i
        } else {
            self.groups.push(Group {
                function: function.map(str::to_owned),
                memory,
                ..Group::default()
            });
            self.groups.len() - 1
        };
        self.last = idx;
        self.groups[idx].add(&obs.record, obs.timestamp_ms);
    }

    /// One report per function (in name order; unnamed last).
    pub fn into_reports(
        self,
        opts: &AnalysisOptions,
        scan: Option<&ScanSummary>,
    ) -> Vec<TuningReport> {
        let mut by_fn: BTreeMap<(bool, Option<String>), Vec<Group>> = BTreeMap::new();
        for g in self.groups {
            by_fn
                .entry((g.function.is_none(), g.function.clone()))
                .or_default()
                .push(g);
        }
        by_fn
            .into_values()
            .map(|mut groups| {
                groups.sort_by_key(|g| (g.memory.is_none(), g.memory));
                build_report(groups, opts, scan)
            })
            .collect()
    }
}

fn config_report(g: &Group, opts: &AnalysisOptions) -> Option<ConfigReport> {
    // Warm invocations; a size measured only cold is described by its cold invocations.
    let duration = g
        .duration
        .describe()
        .or_else(|| g.cold_duration.describe())?;
    let billed = if opts.steady_state_cost && g.warm_billed.mean().is_some() {
        g.warm_billed
    } else {
        g.billed
    };
    let billed_mean = billed.mean();
    let price = |b: f64| {
        g.memory
            .map(|m| opts.pricing.invocation(Ms(b), Mb(m), opts.ephemeral).0)
    };
    let cost = billed_mean.and_then(price);
    let cost_ci = billed
        .ci95()
        .and_then(|[lo, hi]| Some([price(lo)? * 1_000_000.0, price(hi)? * 1_000_000.0]));
    let mem = g.mem_used.describe().map(|d| MemoryUse {
        min: d.min,
        p50: d.p50,
        p90: d.p90,
        p99: d.p99,
        max: d.max,
        mean: d.mean,
        max_utilisation: g.memory.map(|m| d.max / f64::from(m.max(1))),
    });
    Some(ConfigReport {
        memory_mb: g.memory,
        invocations: g.invocations,
        cold_starts: g.cold,
        errors: g.errors,
        timeouts: g.timeouts,
        out_of_memory: g.oom,
        failures: g.failures,
        error_types: g.error_types.clone(),
        duration_ms: duration,
        cold_duration_ms: g.cold_duration.describe(),
        billed_duration_mean_ms: billed_mean,
        init_duration_ms: g.init.describe(),
        restore_duration_ms: g.restore.describe(),
        max_memory_used_mb: mem,
        cost_per_invocation_usd: cost,
        cost_per_million_usd: cost.map(|c| c * 1_000_000.0),
        cost_per_million_ci95_usd: cost_ci,
    })
}

/// "1 invocation", "2 invocations".
fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{} {word}s", crate::export::count(n))
    }
}

fn human_span(ms: i64) -> String {
    let s = ms as f64 / 1000.0;
    if s < 3600.0 {
        format!("{:.0} minutes", s / 60.0)
    } else if s < 2.0 * 86_400.0 {
        format!("{:.1} hours", s / 3600.0)
    } else {
        format!("{:.1} days", s / 86_400.0)
    }
}

fn volume(groups: &[Group], opts: &AnalysisOptions) -> MonthlyVolume {
    if let Some(n) = opts.monthly_invocations {
        return MonthlyVolume {
            invocations: Some(n),
            basis: "flag".into(),
            detail: format!(
                "{} invocations a month (--monthly-invocations)",
                crate::export::count(n.round() as u64)
            ),
        };
    }
    let with_ts: u64 = groups.iter().map(|g| g.with_ts).sum();
    let first = groups.iter().filter_map(|g| g.first_ts).min();
    let last = groups.iter().filter_map(|g| g.last_ts).max();
    if let (Some(f), Some(l)) = (first, last) {
        let span = l - f;
        if with_ts >= 2 && span >= 60_000 {
            // n records over the span is n−1 intervals.
            let per_hour = (with_ts - 1) as f64 / (span as f64 / 3_600_000.0);
            let monthly = per_hour * crate::cost::HOURS_PER_MONTH;
            return MonthlyVolume {
                invocations: Some(monthly),
                basis: "observed".into(),
                detail: format!(
                    "{} invocations over {} of logs ≈ {} a month (730 h), if the logs hold every invocation; pass --monthly-invocations to override",
                    crate::export::count(with_ts),
                    human_span(span),
                    crate::export::count(monthly.round() as u64)
                ),
            };
        }
    }
    MonthlyVolume {
        invocations: None,
        basis: "unknown".into(),
        detail: "monthly volume unknown: the logs carry no timestamps over a minute or more; pass --monthly-invocations N for monthly costs".into(),
    }
}

fn build_report(
    groups: Vec<Group>,
    opts: &AnalysisOptions,
    scan: Option<&ScanSummary>,
) -> TuningReport {
    let function = groups.first().and_then(|g| g.function.clone());
    let configs: Vec<ConfigReport> = groups
        .iter()
        .filter_map(|g| config_report(g, opts))
        .collect();
    let monthly = volume(&groups, opts);
    let mut warnings = Vec::new();

    // The current size: the one seen last, else the busiest.
    let current = match opts.current_memory {
        Some(m) => groups.iter().find(|g| g.memory == Some(m.0)),
        None if groups.iter().any(|g| g.last_ts.is_some()) => {
            groups.iter().max_by_key(|g| (g.last_ts, g.invocations))
        }
        None => groups.iter().max_by_key(|g| g.invocations),
    };
    let max_used = groups
        .iter()
        .filter_map(|g| g.mem_used.max())
        .fold(None, |a: Option<f64>, b| Some(a.map_or(b, |a| a.max(b))));
    let oom_at = groups
        .iter()
        .filter(|g| g.oom > 0)
        .filter_map(|g| g.memory)
        .max();
    let cpu = recommend::cpu_bound_evidence(&configs);

    for g in &groups {
        if g.memory.is_none() {
            warnings.push(format!(
                "{} records carry no Memory Size (Lambda Managed Instances reports hold only durationMs): their cost cannot be computed",
                g.invocations
            ));
        } else if g.invocations < 10 {
            warnings.push(format!(
                "only {} at {} MB: its statistics are rough",
                plural(g.invocations, "invocation"),
                g.memory.unwrap_or(0)
            ));
        }
    }

    let rule = RightSizeRule {
        headroom: opts.headroom,
        step_mb: opts.step,
        max_memory_used_mb: max_used,
        out_of_memory_at_mb: oom_at,
    };
    let timeouts_seen: u64 = groups.iter().map(|g| g.timeouts).sum();
    // The timeout must fit the size the function will run at, not the one it runs at now.
    let target = max_used.map(|m| right_size(m, opts.headroom, opts.step, oom_at).memory_mb);
    let timeout = timeout_advice(&groups, current, target, timeouts_seen);
    let recommendation = match &opts.decision {
        Decision::Measured(choice) => recommend::choose(&configs, choice, rule, timeouts_seen),
        Decision::RightSize => right_size_recommendation(
            RightSizeInput {
                function: function.as_deref(),
                current,
                max_used,
                oom_at,
                cpu,
                rule,
                timeout,
                monthly: &monthly,
                configs: &configs,
                opts,
            },
            &mut warnings,
        ),
    };
    assemble(
        function,
        configs,
        monthly,
        recommendation,
        warnings,
        opts,
        scan,
        &groups,
    )
}

struct RightSizeInput<'a> {
    function: Option<&'a str>,
    current: Option<&'a Group>,
    max_used: Option<f64>,
    oom_at: Option<u32>,
    cpu: Option<(u32, f64, u32, f64)>,
    rule: RightSizeRule,
    timeout: TimeoutAdvice,
    monthly: &'a MonthlyVolume,
    configs: &'a [ConfigReport],
    opts: &'a AnalysisOptions,
}

/// `analyze`'s recommendation: the right-sizing rule on Max Memory Used, priced against the
/// current size.
fn right_size_recommendation(i: RightSizeInput<'_>, warnings: &mut Vec<String>) -> Recommendation {
    let RightSizeInput {
        function,
        current,
        max_used,
        oom_at,
        cpu,
        rule,
        timeout,
        monthly,
        configs,
        opts,
    } = i;
    let current_mb = current.and_then(|g| g.memory);
    let mut assumptions = vec![
        "duration stays the same at the recommended size (memory also sets CPU: one vCPU at 1,769 MB)".to_owned(),
        "first-tier duration price per invocation; the free tier is not applied (it is shared by the whole account)".to_owned(),
    ];
    assumptions.push(monthly.detail.clone());

    match (max_used, current) {
        (None, _) | (_, None) => Recommendation {
            memory_mb: None,
            current_memory_mb: current_mb,
            reason: "no recommendation: the records carry no Max Memory Used".into(),
            rule,
            cpu_bound: cpu.is_some(),
            per_million_usd: None,
            monthly_usd: None,
            assumptions,
            timeout,
        },
        (Some(max_used), Some(cur)) => {
            let rs = right_size(max_used, opts.headroom, opts.step, oom_at);
            let billed = cur.billed.mean();
            let price = |mb: u32| -> Option<Usd> {
                Some(opts.pricing.invocation(Ms(billed?), Mb(mb), opts.ephemeral))
            };
            let per_million = match (cur.memory.and_then(price), price(rs.memory_mb)) {
                (Some(a), Some(b)) => Some(Saving {
                    current: a.0 * 1e6,
                    recommended: b.0 * 1e6,
                    saving: (a.0 - b.0) * 1e6,
                }),
                _ => None,
            };
            let monthly_usd = match (monthly.invocations, billed, cur.memory) {
                (Some(n), Some(b), Some(m)) => {
                    let a = opts
                        .pricing
                        .monthly(n, Ms(b), Mb(m), opts.ephemeral)
                        .total
                        .0;
                    let r = opts
                        .pricing
                        .monthly(n, Ms(b), Mb(rs.memory_mb), opts.ephemeral)
                        .total
                        .0;
                    Some(Saving {
                        current: a,
                        recommended: r,
                        saving: a - r,
                    })
                }
                _ => None,
            };
            let reason = reason_text(&ReasonInput {
                function,
                current: cur.memory,
                rs,
                max_used,
                opts,
                oom_at,
                cpu,
                per_million,
                monthly: monthly_usd,
                configs,
            });
            if rs.capped {
                warnings.push(format!(
                    "{:.0} MB used × {} headroom exceeds Lambda's 10,240 MB maximum",
                    max_used, opts.headroom
                ));
            }
            Recommendation {
                memory_mb: Some(rs.memory_mb),
                current_memory_mb: cur.memory,
                reason,
                rule,
                cpu_bound: cpu.is_some(),
                per_million_usd: per_million,
                monthly_usd,
                assumptions,
                timeout,
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn assemble(
    function: Option<String>,
    configs: Vec<ConfigReport>,
    monthly: MonthlyVolume,
    recommendation: Recommendation,
    warnings: Vec<String>,
    opts: &AnalysisOptions,
    scan: Option<&ScanSummary>,
    groups: &[Group],
) -> TuningReport {
    let records = groups.iter().map(|g| g.invocations).sum();
    let input = scan.map(|s| InputRead {
        sources: s.sources.clone(),
        bytes: s.bytes,
        records,
        malformed: s.malformed,
        first_timestamp_ms: groups.iter().filter_map(|g| g.first_ts).min(),
        last_timestamp_ms: groups.iter().filter_map(|g| g.last_ts).max(),
    });
    TuningReport {
        schema_version: SCHEMA_VERSION,
        tool: format!("powertune {}", env!("CARGO_PKG_VERSION")),
        source: opts.source,
        function,
        region: opts.pricing.region.clone(),
        architecture: opts.pricing.architecture,
        pricing: PricingUsed {
            usd_per_gb_second: opts.pricing.usd_per_gb_s(),
            usd_per_million_requests: opts.pricing.usd_per_request * 1e6,
            ephemeral_storage_mb: opts.ephemeral.0,
            notes: opts.pricing.notes.clone(),
        },
        input,
        limits: None,
        monthly_invocations: monthly,
        configs,
        recommendation,
        warnings,
    }
}

/// The longest a group's invocations ran, as the timeout sees it: the p99.9 of warm durations,
/// or a cold start's duration (the handler's first run, init excluded) where that is longer;
/// with which of the two it is, for people.
fn longest_expected(g: &Group) -> Option<(f64, &'static str)> {
    let warm = g.duration.quantiles(&[0.999]).map(|q| q[0]);
    match (warm, g.cold_duration.max()) {
        (Some(w), Some(c)) if c > w => Some((c, "the longest cold-start duration")),
        (Some(w), _) => Some((w, "the p99.9 duration")),
        (None, Some(c)) => Some((c, "the longest cold-start duration")),
        (None, None) => None,
    }
}

/// The timeout for the size the function will run at (`target`, the right-sized memory; the
/// current size when there is none). Durations come from the largest size in the logs at or
/// below the target, since a larger size runs at least as fast; when the logs hold none, from
/// the smallest above it, scaled by the CPU share the target loses (Lambda's CPU is
/// proportional to memory up to one vCPU at 1,769 MB), because a CPU-bound function runs that
/// much longer there and a timeout fitted to the faster size would cut it off.
fn timeout_advice(
    groups: &[Group],
    current: Option<&Group>,
    target: Option<u32>,
    timeouts_seen: u64,
) -> TimeoutAdvice {
    let measured = |g: &&Group| g.memory.is_some() && longest_expected(g).is_some();
    let (basis, scale) = match target {
        Some(t) => {
            let below = groups
                .iter()
                .filter(measured)
                .filter(|g| g.memory.is_some_and(|m| m <= t))
                .max_by_key(|g| g.memory);
            let above = groups
                .iter()
                .filter(measured)
                .filter(|g| g.memory.is_some_and(|m| m > t))
                .min_by_key(|g| g.memory);
            match (below, above) {
                (Some(b), _) => (Some(b), 1.0),
                (None, Some(a)) => {
                    let share = |mb: u32| f64::from(mb).min(crate::cost::MB_PER_VCPU);
                    (Some(a), share(a.memory.unwrap_or(t)) / share(t))
                }
                (None, None) => (current, 1.0),
            }
        }
        None => (current, 1.0),
    };
    let seen = basis.and_then(longest_expected);
    let p999 = seen.map(|(p, _)| p * scale);
    let n = basis.map_or(0, |g| g.duration.count() + g.cold_duration.count());
    let longest = groups
        .iter()
        .filter(|g| g.timeouts > 0)
        .flat_map(|g| [g.duration.max(), g.cold_duration.max()])
        .flatten()
        .fold(None, |a: Option<f64>, b| Some(a.map_or(b, |a| a.max(b))));
    let recommended_s = p999.map(recommend::timeout_for);
    let at = basis
        .and_then(|g| g.memory)
        .map_or(String::new(), |m| format!(" at {m} MB"));
    let basis_text = match (seen, target) {
        (Some((s, what)), Some(t)) if scale > 1.0 => format!(
            "{}: {what}{at} ({}) × {scale:.1} for the CPU {t} MB lacks, in case the function is CPU-bound",
            Ms(s * scale),
            Ms(s)
        ),
        (Some((s, what)), _) => format!("{what}{at} ({})", Ms(s)),
        _ => String::new(),
    };
    let note = match (p999, recommended_s) {
        (Some(p), Some(s)) if timeouts_seen > 0 => format!(
            "{timeouts_seen} invocations timed out (longest Duration {}): they were cut off, so the real p99.9 is unknown; find out why they hang before raising the timeout. {s} s would be 1.5 × {basis_text}.",
            Ms(longest.unwrap_or(p)),
        ),
        (Some(_), Some(s)) if n < 1000 => format!(
            "{s} s: 1.5 × {basis_text}; from {} the p99.9 is close to the longest one seen",
            plural(n, "invocation")
        ),
        (Some(_), Some(s)) => format!("{s} s: 1.5 × {basis_text}"),
        _ => "no durations to base a timeout on".into(),
    };
    TimeoutAdvice {
        recommended_s,
        p999_duration_ms: p999,
        timeouts_seen,
        note,
    }
}

struct ReasonInput<'a> {
    function: Option<&'a str>,
    current: Option<u32>,
    rs: recommend::RightSize,
    max_used: f64,
    opts: &'a AnalysisOptions,
    oom_at: Option<u32>,
    cpu: Option<(u32, f64, u32, f64)>,
    per_million: Option<Saving>,
    monthly: Option<Saving>,
    configs: &'a [ConfigReport],
}

fn reason_text(r: &ReasonInput<'_>) -> String {
    let rec = r.rs.memory_mb;
    let need = r.max_used * r.opts.headroom;
    let basis = format!(
        "the largest Max Memory Used is {:.0} MB; × {} headroom = {:.0} MB, rounded up to a {} MB step",
        r.max_used, r.opts.headroom, need, r.opts.step
    );
    let mut s = match r.current {
        Some(cur) if rec == cur => format!("Keep {cur} MB: {basis}."),
        Some(cur) if rec < cur => format!("Lower memory from {cur} MB to {rec} MB: {basis}."),
        Some(cur) => format!("Raise memory from {cur} MB to {rec} MB: {basis}."),
        None => format!("Configure {rec} MB: {basis}."),
    };
    if let Some(oom) = r.oom_at {
        s.push_str(&format!(
            " Invocations ran out of memory at {oom} MB, so the size stays above it."
        ));
    }
    if r.rs.capped {
        s.push_str(" Even Lambda's maximum of 10,240 MB leaves less than the headroom asked for.");
    }
    match (r.monthly, r.per_million) {
        (Some(m), _) if m.saving > 0.0 => s.push_str(&format!(
            " Saves {} a month ({} → {}) if duration stays the same.",
            Usd(m.saving),
            Usd(m.current),
            Usd(m.recommended)
        )),
        (None, Some(p)) if p.saving > 0.0 => s.push_str(&format!(
            " Saves {} per million invocations ({} → {}) if duration stays the same.",
            Usd(p.saving),
            Usd(p.current),
            Usd(p.recommended)
        )),
        (Some(m), _) if m.saving < 0.0 => {
            s.push_str(&format!(" Costs {} more a month.", Usd(-m.saving)))
        }
        (None, Some(p)) if p.saving < 0.0 => s.push_str(&format!(
            " Costs {} more per million invocations.",
            Usd(-p.saving)
        )),
        _ => {}
    }
    if let Some((a, da, b, db)) = r.cpu {
        let sizes: Vec<String> = r
            .configs
            .iter()
            .filter_map(|c| c.memory_mb)
            .chain(std::iter::once(rec))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .map(|m| m.to_string())
            .collect();
        let consequence = match r.current {
            Some(cur) if rec < cur => {
                "so at a smaller size it will run longer and the saving is not assured"
            }
            Some(cur) if rec > cur => {
                "so at a larger size it will also run faster and the extra cost is likely smaller than shown"
            }
            _ => "so duration depends on the size chosen",
        };
        s.push_str(&format!(
            " These logs show the function is CPU-bound: it ran faster with more memory (mean {} at {a} MB, {} at {b} MB), {consequence}. Measure before changing: powertune run --function {} --memory {}.",
            Ms(da),
            Ms(db),
            r.function.unwrap_or("NAME"),
            sizes.join(",")
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::Architecture;
    use crate::parse::scan_bytes;

    fn opts() -> AnalysisOptions {
        AnalysisOptions {
            pricing: Pricing::lookup("us-east-1", Architecture::X86_64).unwrap(),
            ephemeral: Mb(512),
            monthly_invocations: None,
            headroom: 1.5,
            step: 64,
            source: Source::Logs,
            decision: crate::analysis::Decision::RightSize,
            current_memory: None,
            steady_state_cost: false,
        }
    }

    fn reports(log: &str, o: &AnalysisOptions) -> Vec<TuningReport> {
        let mut c = Collector::new(None);
        let s = scan_bytes("t", log.as_bytes(), &mut |obs| c.push(&obs));
        c.into_reports(o, Some(&s))
    }

    fn line(id: u32, d: f64, mem: u32, used: u32, extra: &str) -> String {
        format!(
            "REPORT RequestId: {id}\tDuration: {d:.2} ms\tBilled Duration: {} ms\tMemory Size: {mem} MB\tMax Memory Used: {used} MB\t{extra}\n",
            d.ceil()
        )
    }

    #[test]
    fn oversized_function_gets_a_smaller_size_and_the_saving() {
        let mut log = String::new();
        for i in 0..20 {
            log += &line(i, 100.0 + f64::from(i % 3), 1024, 150 + i % 5, "");
        }
        let o = AnalysisOptions {
            monthly_invocations: Some(1_000_000.0),
            ..opts()
        };
        let r = &reports(&log, &o)[0];
        assert_eq!(r.configs.len(), 1);
        let rec = &r.recommendation;
        // 154 × 1.5 = 231 → 256.
        assert_eq!(rec.memory_mb, Some(256));
        assert_eq!(rec.current_memory_mb, Some(1024));
        let m = rec.monthly_usd.unwrap();
        // Billed 100, 101, 102 ms for i % 3 = 0, 1, 2 (7, 7 and 6 of them); the saving is the
        // duration charge of (1024 − 256)/1024 = 0.75 GB over a million invocations.
        let mean_billed = (100.0 * 7.0 + 101.0 * 7.0 + 102.0 * 6.0) / 20.0 / 1000.0;
        let expect = 1e6 * mean_billed * (1.0 - 0.25) * 0.000_016_666_7;
        assert!((m.saving - expect).abs() < 1e-6, "{} vs {expect}", m.saving);
        assert!(
            rec.reason
                .starts_with("Lower memory from 1024 MB to 256 MB"),
            "{}",
            rec.reason
        );
        assert!(!rec.cpu_bound);
    }

    #[test]
    fn oom_floor_and_cpu_bound_evidence() {
        let mut log = String::new();
        for i in 0..10 {
            log += &line(i, 800.0 + f64::from(i), 512, 120, "");
            log += &line(100 + i, 400.0 + f64::from(i), 1024, 125, "");
        }
        log += &line(
            999,
            50.0,
            128,
            128,
            "Status: error\tError Type: Runtime.OutOfMemory",
        );
        let r = &reports(&log, &opts())[0];
        let rec = &r.recommendation;
        assert_eq!(rec.rule.out_of_memory_at_mb, Some(128));
        // 128 × 1.5 = 192, above the 128 MB OOM.
        assert_eq!(rec.memory_mb, Some(192));
        assert!(rec.cpu_bound);
        assert!(rec.reason.contains("CPU-bound"), "{}", rec.reason);
        assert!(rec.reason.contains("powertune run"), "{}", rec.reason);
        let c128 = r.configs.iter().find(|c| c.memory_mb == Some(128)).unwrap();
        assert_eq!(c128.out_of_memory, 1);
        assert_eq!(c128.error_types.get("Runtime.OutOfMemory"), Some(&1));
    }

    #[test]
    fn observed_rate_from_timestamps_and_functions_kept_apart() {
        let mut log = String::new();
        for i in 0..61u32 {
            // One invocation a minute for an hour, for two functions.
            let ts = format!("2024-05-01T10:{:02}:00.000Z", i.min(59));
            let ts = if i == 60 {
                "2024-05-01T11:00:00.000Z".to_string()
            } else {
                ts
            };
            log += &format!("{ts} /aws/lambda/a {}", line(i, 10.0, 128, 50, ""));
            log += &format!("{ts} /aws/lambda/b {}", line(i, 10.0, 256, 50, ""));
        }
        let rs = reports(&log, &opts());
        assert_eq!(rs.len(), 2);
        assert_eq!(rs[0].function.as_deref(), Some("a"));
        let v = &rs[0].monthly_invocations;
        assert_eq!(v.basis, "observed");
        // 60 per hour × 730 hours.
        assert!((v.invocations.unwrap() - 43_800.0).abs() < 1e-6);
        assert_eq!(rs[1].configs[0].memory_mb, Some(256));
    }

    #[test]
    fn the_timeout_fits_the_recommended_size_not_the_current_one() {
        // One size in the logs, 1024 MB, lowered to 256 MB: a CPU-bound function would take 4×
        // as long there, so the timeout allows for it.
        let mut log = String::new();
        for i in 0..20 {
            log += &line(i, 500.0, 1024, 150, "");
        }
        let t = &reports(&log, &opts())[0].recommendation.timeout;
        assert_eq!(
            reports(&log, &opts())[0].recommendation.memory_mb,
            Some(256)
        );
        assert_eq!(t.p999_duration_ms, Some(2000.0));
        assert_eq!(t.recommended_s, Some(3), "{}", t.note);
        assert!(t.note.contains("at 1024 MB (500 ms) × 4.0"), "{}", t.note);
        assert!(
            t.note.starts_with("3 s: 1.5 × 2000 ms: the p99.9 duration"),
            "{}",
            t.note
        );

        // Several sizes: the nearest one measured at or below the recommendation is the basis.
        let mut log = String::new();
        for i in 0..20 {
            log += &line(i, 1300.0, 256, 170, "");
            log += &line(100 + i, 330.0, 1024, 174, "");
        }
        let r = &reports(&log, &opts())[0].recommendation;
        assert_eq!(r.memory_mb, Some(320));
        assert_eq!(r.timeout.p999_duration_ms, Some(1300.0));
        assert_eq!(r.timeout.recommended_s, Some(2), "{}", r.timeout.note);
        assert!(r.timeout.note.contains("at 256 MB"), "{}", r.timeout.note);

        // Raising memory: the current size's durations are an upper bound, unscaled; a cold
        // start's longer first run counts.
        let mut log = line(0, 900.0, 128, 120, "Init Duration: 200.00 ms");
        for i in 1..20 {
            log += &line(i, 400.0, 128, 120, "");
        }
        let r = &reports(&log, &opts())[0].recommendation;
        assert_eq!(r.memory_mb, Some(192));
        assert_eq!(r.timeout.p999_duration_ms, Some(900.0));
        assert_eq!(r.timeout.recommended_s, Some(2));
        assert!(
            r.timeout
                .note
                .contains("the longest cold-start duration at 128 MB (900 ms)"),
            "{}",
            r.timeout.note
        );
    }

    /// `run`'s decision among measured sizes, on durations chosen so that each strategy picks
    /// a different size (costs per invocation, request fee included: 128 MB $1.66, 256 and
    /// 512 MB $1.87, 1024 MB $2.03, 2048 MB $3.53 per million).
    #[test]
    fn strategies_bounds_and_exclusions_choose_among_measured_sizes() {
        let mut log = String::new();
        let mut id = 0;
        // 128 MB is the cheapest, but used 120 of its 128 MB: over 90%, never recommended.
        for (mem, used, d) in [
            (128, 120, 700.0),
            (256, 100, 400.0),
            (512, 100, 200.0),
            (1024, 100, 110.0),
            (2048, 100, 100.0),
        ] {
            for _ in 0..5 {
                id += 1;
                log += &line(id, d, mem, used, "");
            }
        }
        // A cold start at 512 MB whose first run is the longest of that size.
        log += &line(999, 900.0, 512, 100, "Init Duration: 300.00 ms");
        let pick = |strategy, w, p99: Option<f64>| {
            let o = AnalysisOptions {
                decision: Decision::Measured(recommend::Choice {
                    strategy,
                    balanced_weight: w,
                    max_p99_ms: p99,
                    max_duration_ms: None,
                }),
                steady_state_cost: true,
                ..opts()
            };
            reports(&log, &o).remove(0).recommendation
        };
        use recommend::Strategy::*;
        // Cost: 256 and 512 MB cost the same; the faster wins the tie.
        let r = pick(Cost, 0.5, None);
        assert_eq!(r.memory_mb, Some(512), "{}", r.reason);
        assert!(r.reason.contains("128 MB used"), "{}", r.reason);
        assert_eq!(r.timeout.p999_duration_ms, Some(900.0));
        assert!(r.timeout.note.contains("cold-start"), "{}", r.timeout.note);
        assert_eq!(pick(Speed, 0.5, None).memory_mb, Some(2048));
        // Balanced, w = 0.5: 256 .76, 512 .51, 1024 .43, 2048 .63.
        assert_eq!(pick(Balanced, 0.5, None).memory_mb, Some(1024));
        assert_eq!(pick(Balanced, 0.0, None).memory_mb, Some(2048));
        // The cheapest size within a latency bound.
        assert_eq!(pick(Cost, 0.5, Some(150.0)).memory_mb, Some(1024));
        let none = pick(Cost, 0.5, Some(50.0));
        assert_eq!(none.memory_mb, None);
        assert!(
            none.reason.contains("No measured size qualifies"),
            "{}",
            none.reason
        );
    }

    #[test]
    fn cost_ties_within_the_confidence_intervals_go_to_the_fastest() {
        let measured = |noisy: bool| {
            let mut log = String::new();
            for i in 0..10 {
                // 128 MB: mean 1000 ms; 1024 MB: 126 ms, a hair dearer (0.126 vs 0.125 GB-s).
                let d = if noisy && i % 2 == 0 {
                    800.0
                } else if noisy {
                    1200.0
                } else {
                    1000.0
                };
                log += &line(i, d, 128, 60, "");
                log += &line(100 + i, 126.0, 1024, 60, "");
            }
            let o = AnalysisOptions {
                decision: Decision::Measured(recommend::Choice {
                    strategy: recommend::Strategy::Cost,
                    balanced_weight: 0.5,
                    max_p99_ms: None,
                    max_duration_ms: None,
                }),
                steady_state_cost: true,
                ..opts()
            };
            reports(&log, &o).remove(0)
        };
        // Exact durations: 128 MB is cheaper, however slightly, and wins.
        let r = measured(false);
        assert_eq!(
            r.recommendation.memory_mb,
            Some(128),
            "{}",
            r.recommendation.reason
        );
        // Noisy ones: 128 MB's cost interval takes in 1024 MB's; the 8× faster size wins.
        let r = measured(true);
        let [lo, hi] = r.configs[0].cost_per_million_ci95_usd.unwrap();
        let c1024 = r.configs[1].cost_per_million_usd.unwrap();
        assert!(lo < c1024 && c1024 < hi, "{lo} {c1024} {hi}");
        assert_eq!(
            r.recommendation.memory_mb,
            Some(1024),
            "{}",
            r.recommendation.reason
        );
        assert!(
            r.recommendation
                .reason
                .contains("128 MB, 1024 MB: their costs cannot be told apart"),
            "{}",
            r.recommendation.reason
        );
    }

    #[test]
    fn timeouts_are_flagged() {
        let mut log = String::new();
        for i in 0..5 {
            log += &line(i, 120.0, 512, 80, "");
        }
        log += &line(9, 3000.0, 512, 80, "Status: timeout");
        let r = &reports(&log, &opts())[0];
        assert_eq!(r.recommendation.timeout.timeouts_seen, 1);
        assert!(r.recommendation.timeout.note.contains("timed out"));
        assert_eq!(r.monthly_invocations.basis, "unknown");
        assert!(r.recommendation.monthly_usd.is_none());
        assert!(r.recommendation.per_million_usd.is_some());
    }
}
