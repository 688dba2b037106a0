//! The rules of `powertune check`, each with a threshold the user can set, applied to one
//! declared function and the evidence about it:
//! - **oversized**: configured memory above the right-size (the foundation's rule: headroom ×
//!   largest Max Memory Used, rounded to the step, above any size that ran out of memory) by more
//!   than the tolerance, unless the monthly saving is under `--min-saving-usd`;
//! - **undersized**: an out-of-memory at the configured size or above, or Max Memory Used above
//!   `--max-used-ratio` (90%) of the configured size;
//! - **timeout**: configured timeout below p99.9 duration × `--timeout-min-factor` (1.2) or above
//!   p99.9 × `--timeout-max-factor` (10);
//! - **cost-regression**: cost per million invocations up by more than `--max-cost-increase`
//!   against a baseline report.

use super::iac::{Declared, Loc, Origin, Resolved};
use crate::cost::{Architecture, Pricing};
use crate::recommend::{right_size, timeout_for};
use crate::report::{ConfigReport, TuningReport};
use crate::units::{Mb, Ms, Usd};

/// Thresholds of the rules.
#[derive(Debug, Clone)]
pub struct Thresholds {
    /// Right-size headroom multiplier.
    pub headroom: f64,
    /// Right-size step, MB.
    pub step: u32,
    /// How far above the right-size a configuration may be, MB.
    pub tolerance_mb: u32,
    /// Savings below this (USD a month) do not fail the gate.
    pub min_saving_usd: f64,
    /// Max Memory Used above this fraction of the configured size is undersized.
    pub max_used_ratio: f64,
    /// Timeout below p99.9 × this is too tight.
    pub timeout_min_factor: f64,
    /// Timeout above p99.9 × this is too loose.
    pub timeout_max_factor: f64,
    /// Cost per million may rise by at most this fraction against the baseline.
    pub max_cost_increase: f64,
    /// Region whose prices apply.
    pub region: String,
    /// Architecture of functions that do not declare one.
    pub arch: Architecture,
    /// Monthly invocations when given (else the rate the evidence shows).
    pub monthly_invocations: Option<f64>,
}

/// A rule's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The rule holds.
    Pass,
    /// The rule fails: the build should fail.
    Fail,
    /// The rule could not be judged (a value or the evidence is missing).
    Unknown,
}

/// One rule applied to one function.
#[derive(Debug, Clone)]
pub struct Finding {
    /// The function's id in the file.
    pub function: String,
    /// `memory`, `timeout` or `cost-regression`.
    pub rule: &'static str,
    /// For failures: `oversized`, `undersized`, `timeout-too-tight`, … ; else the rule name.
    pub kind: String,
    /// The outcome.
    pub status: Status,
    /// For people.
    pub message: String,
    /// Where to change it.
    pub loc: Loc,
    /// The suggested line, e.g. `MemorySize: 256`.
    pub suggestion: Option<String>,
}

/// The evidence about one function: a report from logs or from a run, and how it was matched.
#[derive(Debug, Clone)]
pub struct Evidence<'a> {
    /// The report.
    pub report: &'a TuningReport,
    /// The baseline report for the cost rule, if any.
    pub baseline: Option<&'a TuningReport>,
}

fn config_at(r: &TuningReport, mb: u32) -> Option<&ConfigReport> {
    r.configs.iter().find(|c| c.memory_mb == Some(mb))
}

/// The configuration the evidence describes best for a declared size: that size if measured,
/// else the one the evidence calls current.
fn current(r: &TuningReport, declared: Option<u32>) -> Option<&ConfigReport> {
    declared
        .and_then(|m| config_at(r, m))
        .or_else(|| {
            r.recommendation
                .current_memory_mb
                .and_then(|m| config_at(r, m))
        })
        .or_else(|| r.configs.iter().max_by_key(|c| c.invocations))
}

/// Judges one function.
pub fn judge(d: &Declared, ev: &Evidence<'_>, t: &Thresholds) -> Vec<Finding> {
    let mut out = vec![memory(d, ev, t), timeout(d, ev, t)];
    if let Some(base) = ev.baseline {
        out.push(cost_regression(d, ev.report, base, t));
    }
    out
}

fn finding(
    d: &Declared,
    rule: &'static str,
    kind: &str,
    status: Status,
    message: String,
    loc: &Loc,
) -> Finding {
    Finding {
        function: d.id.clone(),
        rule,
        kind: kind.to_owned(),
        status,
        message,
        loc: loc.clone(),
        suggestion: None,
    }
}

/// What to write at the setting's line: the property, or a parameter's `Default`.
fn set_what(s: &super::iac::Setting) -> String {
    match &s.origin {
        Origin::Parameter(p) => format!("Default (of parameter {p})"),
        _ => s.key.to_owned(),
    }
}

fn where_from(d: &Declared, o: &Origin) -> String {
    match o {
        Origin::Function => String::new(),
        Origin::Shared => match d.kind {
            "serverless" => " (from provider)".into(),
            _ => " (from Globals.Function)".into(),
        },
        Origin::Parameter(p) => format!(" (from parameter {p})"),
        Origin::Default => " (not set: the default)".into(),
    }
}

fn memory(d: &Declared, ev: &Evidence<'_>, t: &Thresholds) -> Finding {
    let r = ev.report;
    let loc = &d.memory.loc;
    let m = match &d.memory.value {
        Resolved::Value(m) => *m,
        Resolved::Unknown(why) => {
            return finding(
                d,
                "memory",
                "memory",
                Status::Unknown,
                format!("{} cannot be judged: {why}", d.memory.key),
                loc,
            );
        }
    };
    let Some(max_used) = r.recommendation.rule.max_memory_used_mb else {
        return finding(
            d,
            "memory",
            "memory",
            Status::Unknown,
            "the evidence carries no Max Memory Used".into(),
            loc,
        );
    };
    let oom_at = r
        .configs
        .iter()
        .filter(|c| c.out_of_memory > 0)
        .filter_map(|c| c.memory_mb)
        .max();
    let rs = right_size(max_used, t.headroom, t.step, oom_at);
    let from = where_from(d, &d.memory.origin);
    let what = set_what(&d.memory);
    let suggest = |f: &mut Finding| f.suggestion = Some(format!("{what}: {}", rs.memory_mb));
    let basis = format!(
        "the evidence needs {} MB (largest Max Memory Used {:.0} MB × {} headroom, {} MB steps{})",
        rs.memory_mb,
        max_used,
        t.headroom,
        t.step,
        oom_at.map_or(String::new(), |o| format!(
            ", above the out-of-memory at {o} MB"
        ))
    );

    // Undersized: ran out of memory at this size or above, or used nearly all of it.
    let oom_here: u64 = r
        .configs
        .iter()
        .filter(|c| c.memory_mb.is_some_and(|cm| cm >= m))
        .map(|c| c.out_of_memory)
        .sum();
    let used_here = config_at(r, m)
        .and_then(|c| c.max_memory_used_mb.as_ref())
        .map_or(max_used, |u| u.max);
    if oom_here > 0 || used_here > t.max_used_ratio * f64::from(m) {
        let why = if oom_here > 0 {
            format!("{oom_here} invocations ran out of memory at {m} MB or more")
        } else {
            format!(
                "Max Memory Used reached {used_here:.0} MB, over {:.0}% of {m} MB",
                t.max_used_ratio * 100.0
            )
        };
        let target = rs.memory_mb.max(m + t.step);
        let mut f = finding(
            d,
            "memory",
            "undersized",
            Status::Fail,
            format!(
                "{}: {} is {m} MB{from}: {why}; {basis}. Set {what}: {target}.",
                d.id, d.memory.key
            ),
            loc,
        );
        f.suggestion = Some(format!("{what}: {target}"));
        return f;
    }

    // Oversized: more than the tolerance above the right-size, and worth the change.
    if m > rs.memory_mb + t.tolerance_mb {
        let pricing = Pricing::lookup(
            &t.region,
            if d.arm64 { Architecture::Arm64 } else { t.arch },
        )
        .ok();
        let billed = current(r, Some(m)).and_then(|c| c.billed_duration_mean_ms);
        let volume = t.monthly_invocations.or(r.monthly_invocations.invocations);
        let saving = match (pricing, billed, volume) {
            (Some(p), Some(b), Some(n)) => {
                let now = p.monthly(n, Ms(b), Mb(m), Mb(512)).total;
                let then = p.monthly(n, Ms(b), Mb(rs.memory_mb), Mb(512)).total;
                Some(now - then)
            }
            _ => None,
        };
        if let Some(s) = saving
            && s.0 < t.min_saving_usd
        {
            return finding(
                d,
                "memory",
                "memory",
                Status::Pass,
                format!(
                    "{}: {m} MB is above the {} MB the evidence needs, but would save only {} a month (under --min-saving-usd {})",
                    d.id,
                    rs.memory_mb,
                    Usd(s.0),
                    Usd(t.min_saving_usd)
                ),
                loc,
            );
        }
        let money = saving.map_or_else(
            || {
                " (monthly saving unknown: no invocation volume; pass --monthly-invocations)"
                    .to_owned()
            },
            |s| format!(", saving {} a month if duration stays the same", Usd(s.0)),
        );
        let cpu = if r.recommendation.cpu_bound {
            " The evidence shows the function is CPU-bound: measure with powertune run before lowering it."
        } else {
            ""
        };
        // Less memory is less CPU: a timeout fitted to the current size may cut the function
        // off at the smaller one (the report's advice is for the size it recommends).
        let advice = &r.recommendation.timeout;
        let timeout = match (&d.timeout.value, advice.recommended_s) {
            (Resolved::Value(now), Some(s))
                if *now < s && r.recommendation.memory_mb == Some(rs.memory_mb) =>
            {
                let why = advice.note.split_once(": ").map_or("", |(_, w)| w);
                let why = why.split_once("; from ").map_or(why, |(w, _)| w);
                format!(
                    " With it, raise {} from {now} s to {s} s ({why}).",
                    d.timeout.key
                )
            }
            _ => String::new(),
        };
        let mut f = finding(
            d,
            "memory",
            "oversized",
            Status::Fail,
            format!(
                "{}: {} is {m} MB{from}, but {basis}: {} MB more than needed (tolerance {} MB). Set {what}: {}{money}.{timeout}{cpu}",
                d.id,
                d.memory.key,
                m - rs.memory_mb,
                t.tolerance_mb,
                rs.memory_mb
            ),
            loc,
        );
        suggest(&mut f);
        return f;
    }
    finding(
        d,
        "memory",
        "memory",
        Status::Pass,
        format!("{}: {m} MB{from} fits: {basis}", d.id),
        loc,
    )
}

fn timeout(d: &Declared, ev: &Evidence<'_>, t: &Thresholds) -> Finding {
    let loc = &d.timeout.loc;
    let secs = match &d.timeout.value {
        Resolved::Value(s) => *s,
        Resolved::Unknown(why) => {
            return finding(
                d,
                "timeout",
                "timeout",
                Status::Unknown,
                format!("{} cannot be judged: {why}", d.timeout.key),
                loc,
            );
        }
    };
    let declared_mem = match d.memory.value {
        Resolved::Value(m) => Some(m),
        Resolved::Unknown(_) => None,
    };
    let Some(c) = current(ev.report, declared_mem) else {
        return finding(
            d,
            "timeout",
            "timeout",
            Status::Unknown,
            "no durations in the evidence".into(),
            loc,
        );
    };
    let p999 = c.duration_ms.p999;
    let timed_out: u64 = ev.report.configs.iter().map(|c| c.timeouts).sum();
    let ms = f64::from(secs) * 1000.0;
    let suggested = timeout_for(p999);
    let from = where_from(d, &d.timeout.origin);
    let (kind, why) = if timed_out > 0 || ms < p999 * t.timeout_min_factor {
        let seen = if timed_out > 0 {
            format!("{timed_out} invocations timed out; ")
        } else {
            String::new()
        };
        (
            "timeout-too-tight",
            format!(
                "{seen}{} is {secs} s{from}, below {} × the p99.9 duration ({})",
                d.timeout.key,
                t.timeout_min_factor,
                Ms(p999)
            ),
        )
    } else if ms > p999 * t.timeout_max_factor && secs > 1 {
        // (Lambda's smallest timeout is 1 s: a function that fast cannot be set tighter.)
        (
            "timeout-too-loose",
            format!(
                "{} is {secs} s{from}, above {} × the p99.9 duration ({}): a hung invocation would run (and bill) that long",
                d.timeout.key,
                t.timeout_max_factor,
                Ms(p999)
            ),
        )
    } else {
        return finding(
            d,
            "timeout",
            "timeout",
            Status::Pass,
            format!("{}: {secs} s fits the p99.9 duration ({})", d.id, Ms(p999)),
            loc,
        );
    };
    // A tight timeout is never "fixed" by a smaller value.
    let suggested = if kind == "timeout-too-tight" {
        suggested.max(secs + 1)
    } else {
        suggested
    };
    let mut f = finding(
        d,
        "timeout",
        kind,
        Status::Fail,
        format!(
            "{}: {why}. Set {}: {suggested}.",
            d.id,
            set_what(&d.timeout)
        ),
        loc,
    );
    f.suggestion = Some(format!("{}: {suggested}", set_what(&d.timeout)));
    f
}

fn cost_regression(
    d: &Declared,
    now: &TuningReport,
    base: &TuningReport,
    t: &Thresholds,
) -> Finding {
    let declared_mem = match d.memory.value {
        Resolved::Value(m) => Some(m),
        Resolved::Unknown(_) => None,
    };
    let a = current(base, declared_mem).and_then(|c| c.cost_per_million_usd);
    let b = current(now, declared_mem).and_then(|c| c.cost_per_million_usd);
    let (Some(a), Some(b)) = (a, b) else {
        return finding(
            d,
            "cost-regression",
            "cost-regression",
            Status::Unknown,
            "cost per million unknown in the baseline or the evidence".into(),
            &d.at,
        );
    };
    let rise = if a > 0.0 { (b - a) / a } else { 0.0 };
    let msg = format!(
        "{}: cost per million invocations {} → {} ({:+.1}%; allowed +{:.0}%)",
        d.id,
        Usd(a),
        Usd(b),
        rise * 100.0,
        t.max_cost_increase * 100.0
    );
    let status = if rise > t.max_cost_increase {
        Status::Fail
    } else {
        Status::Pass
    };
    let kind = if status == Status::Fail {
        "cost-regression"
    } else {
        "cost"
    };
    finding(d, "cost-regression", kind, status, msg, &d.memory.loc)
}
