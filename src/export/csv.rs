//! CSV: one row per function and memory size, with the recommendation repeated on each row so a
//! spreadsheet filter keeps it.

use super::Exporter;
use crate::report::TuningReport;

/// Comma-separated values with a header row.
pub struct CsvExporter;

const HEADER: &[&str] = &[
    "function",
    "memory_mb",
    "invocations",
    "cold_starts",
    "errors",
    "timeouts",
    "out_of_memory",
    "duration_mean_ms",
    "duration_ci95_low_ms",
    "duration_ci95_high_ms",
    "duration_p50_ms",
    "duration_p90_ms",
    "duration_p99_ms",
    "duration_max_ms",
    "billed_duration_mean_ms",
    "init_duration_mean_ms",
    "max_memory_used_mb",
    "max_memory_used_p99_mb",
    "cost_per_invocation_usd",
    "cost_per_million_usd",
    "recommended_memory_mb",
];

fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn num(v: Option<f64>) -> String {
    v.map_or_else(String::new, |v| {
        let r = (v * 10_000.0).round() / 10_000.0;
        if r != 0.0 || v == 0.0 {
            format!("{r}")
        } else {
            format!("{v:e}")
        }
    })
}

impl Exporter for CsvExporter {
    fn serialize(&self, reports: &[TuningReport]) -> anyhow::Result<Vec<u8>> {
        let mut out = HEADER.join(",");
        out.push('\n');
        for r in reports {
            for c in &r.configs {
                let d = &c.duration_ms;
                let row = [
                    field(r.function.as_deref().unwrap_or("")),
                    c.memory_mb.map_or_else(String::new, |m| m.to_string()),
                    c.invocations.to_string(),
                    c.cold_starts.to_string(),
                    c.errors.to_string(),
                    c.timeouts.to_string(),
                    c.out_of_memory.to_string(),
                    num(Some(d.mean)),
                    num(d.ci95.map(|c| c[0])),
                    num(d.ci95.map(|c| c[1])),
                    num(Some(d.p50)),
                    num(Some(d.p90)),
                    num(Some(d.p99)),
                    num(Some(d.max)),
                    num(c.billed_duration_mean_ms),
                    num(c.init_duration_ms.as_ref().map(|i| i.mean)),
                    num(c.max_memory_used_mb.as_ref().map(|m| m.max)),
                    num(c.max_memory_used_mb.as_ref().map(|m| m.p99)),
                    c.cost_per_invocation_usd
                        .map_or_else(String::new, |v| format!("{v:.10}")),
                    c.cost_per_million_usd
                        .map_or_else(String::new, |v| format!("{v:.4}")),
                    r.recommendation
                        .memory_mb
                        .map_or_else(String::new, |m| m.to_string()),
                ];
                out.push_str(&row.join(","));
                out.push('\n');
            }
        }
        Ok(out.into_bytes())
    }
}
