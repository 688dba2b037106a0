//! The default output: per function a heading, an aligned table of the memory sizes, and the
//! recommendation with its reasons, assumptions and warnings.

use super::{Exporter, count, is_recommended, mean_with_ci, ms, size, usd};
use crate::report::TuningReport;
use std::fmt::Write;

/// Aligned plain text.
pub struct TableExporter;

fn align(rows: &[Vec<String>], right: &[bool]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            let pad = widths[c] - cell.chars().count();
            if c > 0 {
                line.push_str("  ");
            }
            if right.get(c).copied().unwrap_or(false) {
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

impl Exporter for TableExporter {
    fn serialize(&self, reports: &[TuningReport]) -> anyhow::Result<Vec<u8>> {
        let mut out = String::new();
        for (i, r) in reports.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            let total: u64 = r.configs.iter().map(|c| c.invocations).sum();
            writeln!(
                out,
                "{} — {}, {} — {} invocations",
                r.function.as_deref().unwrap_or("(unnamed function)"),
                r.region,
                r.architecture,
                count(total)
            )?;
            out.push('\n');
            let mut rows = vec![vec![
                "memory".to_owned(),
                "invocations".into(),
                "cold".into(),
                "err/timeout/oom".into(),
                "duration mean (95% CI)".into(),
                "p50".into(),
                "p90".into(),
                "p99".into(),
                "max".into(),
                "billed mean".into(),
                "mem used max/p99".into(),
                "cost / 1M".into(),
            ]];
            for c in &r.configs {
                let d = &c.duration_ms;
                let rec = if is_recommended(r, c) { " *" } else { "" };
                rows.push(vec![
                    format!("{}{rec}", size(c.memory_mb)),
                    count(c.invocations),
                    count(c.cold_starts),
                    format!("{}/{}/{}", c.errors, c.timeouts, c.out_of_memory),
                    mean_with_ci(d),
                    ms(d.p50),
                    ms(d.p90),
                    ms(d.p99),
                    ms(d.max),
                    c.billed_duration_mean_ms.map_or_else(|| "–".into(), ms),
                    c.max_memory_used_mb
                        .as_ref()
                        .map_or_else(|| "–".into(), |m| format!("{:.0}/{:.0} MB", m.max, m.p99)),
                    usd(c.cost_per_million_usd),
                ]);
            }
            let right = [
                false, true, true, true, true, true, true, true, true, true, true, true,
            ];
            for line in align(&rows, &right).lines() {
                writeln!(out, "  {line}")?;
            }
            let cold: Vec<String> = r
                .configs
                .iter()
                .filter_map(|c| {
                    let i = c.init_duration_ms.as_ref()?;
                    Some(format!(
                        "{}: {}, init mean {} (p99 {})",
                        size(c.memory_mb),
                        if i.count == 1 {
                            "1 cold start".to_owned()
                        } else {
                            format!("{} cold starts", count(i.count))
                        },
                        ms(i.mean),
                        ms(i.p99)
                    ))
                })
                .collect();
            if !cold.is_empty() {
                writeln!(out, "\n  Init: {}", cold.join("; "))?;
            }
            let rec = &r.recommendation;
            writeln!(out)?;
            match rec.memory_mb {
                Some(m) => writeln!(out, "Recommendation: {m} MB")?,
                None => writeln!(out, "Recommendation: none")?,
            }
            writeln!(out, "  {}", rec.reason)?;
            writeln!(out, "Timeout: {}", rec.timeout.note)?;
            writeln!(out, "Assumes:")?;
            for a in &rec.assumptions {
                writeln!(out, "  - {a}")?;
            }
            for n in &r.pricing.notes {
                writeln!(out, "  - {n}")?;
            }
            if let Some(inp) = &r.input
                && inp.malformed > 0
            {
                writeln!(
                    out,
                    "Note: {} lines looked like REPORT records but could not be read (listed on stderr).",
                    inp.malformed
                )?;
            }
            if !r.warnings.is_empty() {
                writeln!(out, "Warnings:")?;
                for w in &r.warnings {
                    writeln!(out, "  - {w}")?;
                }
            }
        }
        Ok(out.into_bytes())
    }
}
