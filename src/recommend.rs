//! Right-sizing from logs. The rule: the smallest multiple of `step` that is at least `headroom`
//! × the largest Max Memory Used and at least 128 MB, and above every size that ran out of memory,
//! capped at Lambda's 10,240 MB. Also: whether the logs show the function to be CPU-bound (larger
//! sizes ran faster), and a timeout that fits the durations seen.

use crate::cost::{MAX_MEMORY, MIN_MEMORY};
use crate::report::ConfigReport;

/// Default multiplier on the largest Max Memory Used.
pub const DEFAULT_HEADROOM: f64 = 1.5;
/// Default granularity of recommended sizes, MB.
pub const DEFAULT_STEP: u32 = 64;
/// Suggested timeout = this × p99.9 duration. `powertune check` calls a timeout mis-set below
/// 1.2 × p99.9 or above 10 × p99.9; 1.5 sits safely inside.
pub const TIMEOUT_MARGIN: f64 = 1.5;

/// The outcome of the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RightSize {
    /// The size, MB.
    pub memory_mb: u32,
    /// The out-of-memory floor raised it.
    pub raised_by_oom: bool,
    /// Lambda's maximum capped it: even 10,240 MB may not be enough.
    pub capped: bool,
}

/// Applies the right-sizing rule.
pub fn right_size(max_used_mb: f64, headroom: f64, step: u32, oom_at: Option<u32>) -> RightSize {
    let step = step.max(1);
    let target = (max_used_mb * headroom).max(f64::from(MIN_MEMORY.0));
    let round_up = |x: f64| -> u32 {
        let k = (x / f64::from(step)).ceil();
        (k * f64::from(step)).min(u32::MAX as f64) as u32
    };
    let mut mb = round_up(target).max(MIN_MEMORY.0);
    let mut raised_by_oom = false;
    if let Some(oom) = oom_at
        && mb <= oom
    {
        mb = (oom / step + 1) * step;
        raised_by_oom = true;
    }
    let capped = mb > MAX_MEMORY.0;
    RightSize {
        memory_mb: mb.min(MAX_MEMORY.0),
        raised_by_oom,
        capped,
    }
}

/// Evidence that duration falls as memory rises: (smaller size, its mean, larger size, its mean).
/// Requires ≥3 invocations at each size, at most 10% of them failed, ≥10% faster, and disjoint
/// 95% confidence intervals.
pub fn cpu_bound_evidence(configs: &[ConfigReport]) -> Option<(u32, f64, u32, f64)> {
    // Sizes where invocations failed (out of memory, timeouts) ran abnormally: leave them out.
    let known: Vec<_> = configs
        .iter()
        .filter(|c| c.invocations >= 3)
        .filter(|c| (c.errors + c.timeouts + c.failures) * 10 <= c.invocations)
        .filter_map(|c| Some((c.memory_mb?, &c.duration_ms)))
        .collect();
    let mut best: Option<(u32, f64, u32, f64)> = None;
    for (i, (ma, da)) in known.iter().enumerate() {
        for (mb, db) in &known[i + 1..] {
            let (Some([a_lo, _]), Some([_, b_hi])) = (da.ci95, db.ci95) else {
                continue;
            };
            if mb > ma && db.mean < da.mean * 0.9 && b_hi < a_lo {
                let gain = da.mean / db.mean.max(1e-9);
                if best.is_none_or(|(_, a, _, b)| gain > a / b.max(1e-9)) {
                    best = Some((*ma, da.mean, *mb, db.mean));
                }
            }
        }
    }
    best
}

/// Suggested timeout in whole seconds for a p99.9 duration (1–900 s, Lambda's range).
pub fn timeout_for(p999_ms: f64) -> u32 {
    ((p999_ms * TIMEOUT_MARGIN / 1000.0).ceil() as u32).clamp(1, 900)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_rounds_up_to_the_step_with_a_128_floor() {
        assert_eq!(right_size(56.0, 1.5, 64, None).memory_mb, 128); // 84 → 128
        assert_eq!(right_size(155.0, 1.5, 64, None).memory_mb, 256); // 232.5 → 256
        assert_eq!(right_size(170.0, 1.5, 64, None).memory_mb, 256); // 255 → 256
        assert_eq!(right_size(171.0, 1.5, 64, None).memory_mb, 320); // 256.5 → 320
        assert_eq!(right_size(100.0, 2.0, 100, None).memory_mb, 200);
        assert_eq!(right_size(10.0, 1.5, 100, None).memory_mb, 200); // 128 → 200
    }

    #[test]
    fn never_at_or_below_a_size_that_ran_out_of_memory() {
        // OOM at 512 with 512 used: 768 from headroom anyway.
        assert_eq!(right_size(512.0, 1.5, 64, Some(512)).memory_mb, 768);
        // Headroom 1.0 would say 512, the floor says more.
        let r = right_size(512.0, 1.0, 64, Some(512));
        assert_eq!(r.memory_mb, 576);
        assert!(r.raised_by_oom);
        // An OOM at a size above what headroom suggests still wins.
        let r = right_size(100.0, 1.5, 64, Some(1024));
        assert_eq!(r.memory_mb, 1088);
        assert!(r.raised_by_oom);
    }

    #[test]
    fn capped_at_lambdas_maximum() {
        let r = right_size(9000.0, 1.5, 64, None);
        assert_eq!(r.memory_mb, 10_240);
        assert!(r.capped);
    }

    #[test]
    fn timeout_margin_and_range() {
        assert_eq!(timeout_for(1200.0), 2);
        assert_eq!(timeout_for(1.0), 1);
        assert_eq!(timeout_for(800_000.0), 900);
    }
}

/// What `run` optimises for among the sizes it measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// The cheapest per invocation (ties: the faster).
    Cost,
    /// The fastest mean duration (ties: the cheaper).
    Speed,
    /// Minimises w·cost/max(cost) + (1−w)·duration/max(duration), as aws-lambda-power-tuning does.
    Balanced,
}

/// A strategy with its parameters and bounds.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    /// The strategy.
    pub strategy: Strategy,
    /// Weight of cost for [`Strategy::Balanced`], 0..=1 (1 = pure cost).
    pub balanced_weight: f64,
    /// Only sizes whose p99 duration is at most this (ms).
    pub max_p99_ms: Option<f64>,
    /// Only sizes whose mean duration is at most this (ms).
    pub max_duration_ms: Option<f64>,
}

/// Why a measured size cannot be recommended, if it cannot.
pub fn disqualified(c: &ConfigReport, choice: &Choice) -> Option<String> {
    let m = c.memory_mb?;
    if c.out_of_memory > 0 {
        return Some(format!("{m} MB ran out of memory"));
    }
    let failed = c.errors + c.timeouts + c.failures;
    if failed > 0 {
        return Some(format!(
            "{m} MB failed {failed} of {} invocations",
            c.invocations
        ));
    }
    if let Some(u) = &c.max_memory_used_mb
        && u.max > 0.9 * f64::from(m)
    {
        return Some(format!("{m} MB used {:.0} MB, over 90% of it", u.max));
    }
    if let Some(b) = choice.max_p99_ms
        && c.duration_ms.p99 > b
    {
        return Some(format!(
            "{m} MB has p99 {:.0} ms > {b:.0} ms",
            c.duration_ms.p99
        ));
    }
    if let Some(b) = choice.max_duration_ms
        && c.duration_ms.mean > b
    {
        return Some(format!(
            "{m} MB has mean {:.0} ms > {b:.0} ms",
            c.duration_ms.mean
        ));
    }
    c.cost_per_invocation_usd
        .is_none()
        .then(|| format!("{m} MB has no cost"))
}

/// Chooses among measured sizes (`run`): never a size that failed or used over 90% of its memory.
pub fn choose(
    configs: &[ConfigReport],
    choice: &Choice,
    rule: crate::report::RightSizeRule,
    timeouts_seen: u64,
) -> crate::report::Recommendation {
    use crate::report::{Recommendation, TimeoutAdvice};
    let ok: Vec<&ConfigReport> = configs
        .iter()
        .filter(|c| disqualified(c, choice).is_none())
        .collect();
    let excluded: Vec<String> = configs
        .iter()
        .filter_map(|c| disqualified(c, choice))
        .collect();
    let cost = |c: &ConfigReport| c.cost_per_invocation_usd.unwrap_or(f64::INFINITY);
    let dur = |c: &ConfigReport| c.duration_ms.mean;
    let max_cost = ok.iter().map(|c| cost(c)).fold(0.0, f64::max).max(1e-300);
    let max_dur = ok.iter().map(|c| dur(c)).fold(0.0, f64::max).max(1e-300);
    let w = choice.balanced_weight;
    let score = |c: &ConfigReport| match choice.strategy {
        Strategy::Cost => (cost(c), dur(c)),
        Strategy::Speed => (dur(c), cost(c)),
        Strategy::Balanced => (w * cost(c) / max_cost + (1.0 - w) * dur(c) / max_dur, 0.0),
    };
    let mut best = ok.iter().min_by(|a, b| {
        score(a)
            .partial_cmp(&score(b))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    // Cost: sizes whose cost the measurements cannot tell apart from the cheapest's (their 95%
    // confidence intervals overlap) are tied with it, and the fastest of them wins; a size 8×
    // faster for the same money is not given up over noise.
    let mut tied: Vec<&ConfigReport> = Vec::new();
    if let (Strategy::Cost, Some(cheapest)) = (choice.strategy, best) {
        let interval =
            |c: &ConfigReport| match (c.cost_per_million_ci95_usd, c.cost_per_million_usd) {
                (Some(i), _) => Some(i),
                (None, Some(p)) => Some([p, p]),
                _ => None,
            };
        if let Some([lo0, hi0]) = interval(cheapest) {
            tied = ok
                .iter()
                .copied()
                .filter(|c| interval(c).is_some_and(|[lo, hi]| lo <= hi0 && lo0 <= hi))
                .collect();
            best = tied
                .iter()
                .min_by(|a, b| {
                    (dur(a), cost(a))
                        .partial_cmp(&(dur(b), cost(b)))
                        .unwrap_or(std::cmp::Ordering::Equal)
                })
                .or(best);
        }
    }
    let goal = match choice.strategy {
        Strategy::Cost => "the cheapest".to_owned(),
        Strategy::Speed => "the fastest".to_owned(),
        Strategy::Balanced => format!("the best balance (cost weight {w})"),
    };
    let bound = match (choice.max_p99_ms, choice.max_duration_ms) {
        (Some(p), _) => format!(" with p99 ≤ {p:.0} ms"),
        (None, Some(d)) => format!(" with mean ≤ {d:.0} ms"),
        _ => String::new(),
    };
    let excluded_note = if excluded.is_empty() {
        String::new()
    } else {
        format!(" Not eligible: {}.", excluded.join("; "))
    };
    let (memory_mb, reason, timeout) = match best {
        Some(b) => {
            let m = b.memory_mb.unwrap_or(0);
            let fastest = ok.iter().min_by(|a, b| {
                dur(a)
                    .partial_cmp(&dur(b))
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
            let cheapest = ok.iter().min_by(|a, b| {
                cost(a)
                    .partial_cmp(&cost(b))
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
            let mut r = if tied.len() > 1 {
                let sizes: Vec<String> = tied
                    .iter()
                    .map(|c| format!("{} MB", c.memory_mb.unwrap_or(0)))
                    .collect();
                format!(
                    "{m} MB is the fastest of the sizes that cost the least{bound} ({}: their costs cannot be told apart within the measurements' 95% confidence intervals): mean {:.1} ms, {} per million invocations.",
                    sizes.join(", "),
                    b.duration_ms.mean,
                    crate::units::Usd(cost(b) * 1e6)
                )
            } else {
                format!(
                    "{m} MB is {goal} of the {} sizes measured{bound}: mean {:.1} ms, {} per million invocations.",
                    ok.len(),
                    b.duration_ms.mean,
                    crate::units::Usd(cost(b) * 1e6)
                )
            };
            if let Some(f) = fastest.filter(|f| f.memory_mb != b.memory_mb) {
                r.push_str(&format!(
                    " The fastest, {} MB, takes {:.1} ms at {} per million.",
                    f.memory_mb.unwrap_or(0),
                    f.duration_ms.mean,
                    crate::units::Usd(cost(f) * 1e6)
                ));
            }
            if let Some(c) = cheapest.filter(|c| c.memory_mb != b.memory_mb) {
                r.push_str(&format!(
                    " The cheapest, {} MB, costs {} per million at {:.1} ms.",
                    c.memory_mb.unwrap_or(0),
                    crate::units::Usd(cost(c) * 1e6),
                    c.duration_ms.mean
                ));
            }
            r.push_str(&excluded_note);
            // A cold start's first run (init excluded) may be the longest the timeout must allow.
            let cold = b.cold_duration_ms.as_ref().map_or(0.0, |c| c.max);
            let (p999, what) = if cold > b.duration_ms.p999 {
                (cold, "the longest cold-start duration")
            } else {
                (b.duration_ms.p999, "the p99.9 duration")
            };
            let s = timeout_for(p999);
            let note = format!("{s} s: 1.5 × {what} at {m} MB ({})", crate::units::Ms(p999));
            (
                Some(m),
                r,
                TimeoutAdvice {
                    recommended_s: Some(s),
                    p999_duration_ms: Some(p999),
                    timeouts_seen,
                    note,
                },
            )
        }
        None => (
            None,
            format!("No measured size qualifies{bound}.{excluded_note}"),
            TimeoutAdvice {
                recommended_s: None,
                p999_duration_ms: None,
                timeouts_seen,
                note: "no eligible size".into(),
            },
        ),
    };
    Recommendation {
        memory_mb,
        current_memory_mb: None,
        reason,
        rule,
        cpu_bound: cpu_bound_evidence(configs).is_some(),
        per_million_usd: None,
        monthly_usd: None,
        assumptions: vec![
            "durations measured now stand for production's; cold starts are reported apart"
                .to_owned(),
            "first-tier duration price per invocation; the free tier is not applied".to_owned(),
        ],
        timeout,
    }
}
