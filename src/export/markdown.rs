//! Markdown for a pull-request comment: per function a table of the sizes and a one-line verdict
//! with the monthly saving.

use super::{Exporter, count, is_recommended, mean_with_ci, ms, size, usd};
use crate::report::TuningReport;
use crate::units::Usd;
use std::fmt::Write;

/// GitHub-flavoured Markdown.
pub struct MarkdownExporter;

/// The one-line verdict of a report.
pub fn verdict(r: &TuningReport) -> String {
    let rec = &r.recommendation;
    let name = r.function.as_deref().unwrap_or("the function");
    let Some(to) = rec.memory_mb else {
        return format!("**No recommendation** for {name}: {}", rec.reason);
    };
    let change = match rec.current_memory_mb {
        Some(cur) if cur == to => format!("**Keep {name} at {to} MB**"),
        Some(cur) if to < cur => format!("**Lower {name} from {cur} MB to {to} MB**"),
        Some(cur) => format!("**Raise {name} from {cur} MB to {to} MB**"),
        None => format!("**Set {name} to {to} MB**"),
    };
    let money = match (rec.monthly_usd, rec.per_million_usd) {
        (Some(m), _) if m.saving > 0.0 => format!(" — saves {} a month", Usd(m.saving)),
        (Some(m), _) if m.saving < 0.0 => format!(" — costs {} more a month", Usd(-m.saving)),
        (None, Some(p)) if p.saving > 0.0 => {
            format!(" — saves {} per million invocations", Usd(p.saving))
        }
        (None, Some(p)) if p.saving < 0.0 => {
            format!(" — costs {} more per million invocations", Usd(-p.saving))
        }
        _ => String::new(),
    };
    let caveat = if rec.cpu_bound {
        " (CPU-bound: duration will change; measure with `powertune run` first)"
    } else if money.is_empty() {
        ""
    } else {
        " (if duration stays the same)"
    };
    format!("{change}{money}{caveat}.")
}

impl Exporter for MarkdownExporter {
    fn serialize(&self, reports: &[TuningReport]) -> anyhow::Result<Vec<u8>> {
        let mut out = String::new();
        for (i, r) in reports.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            let name = r.function.as_deref().unwrap_or("function");
            writeln!(
                out,
                "### powertune: {name} ({}, {})\n",
                r.region, r.architecture
            )?;
            writeln!(out, "{}\n", verdict(r))?;
            writeln!(
                out,
                "| Memory | Invocations | Cold starts | Errors / timeouts / OOM | Duration mean (95% CI) | p50 | p99 | Max memory used | Cost per 1M |"
            )?;
            writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|")?;
            for c in &r.configs {
                let d = &c.duration_ms;
                let mark = if is_recommended(r, c) { " ✅" } else { "" };
                writeln!(
                    out,
                    "| {}{mark} | {} | {} | {} / {} / {} | {} | {} | {} | {} | {} |",
                    size(c.memory_mb),
                    count(c.invocations),
                    count(c.cold_starts),
                    c.errors,
                    c.timeouts,
                    c.out_of_memory,
                    mean_with_ci(d),
                    ms(d.p50),
                    ms(d.p99),
                    c.max_memory_used_mb
                        .as_ref()
                        .map_or_else(|| "–".into(), |m| format!("{:.0} MB", m.max)),
                    usd(c.cost_per_million_usd),
                )?;
            }
            if let Some(to) = r.recommendation.memory_mb
                && !r.configs.iter().any(|c| c.memory_mb == Some(to))
            {
                writeln!(
                    out,
                    "\nRecommended size {to} MB was not among the sizes measured."
                )?;
            }
            writeln!(
                out,
                "\n<details><summary>Why</summary>\n\n{}\n",
                r.recommendation.reason
            )?;
            writeln!(out, "Timeout: {}\n", r.recommendation.timeout.note)?;
            for a in &r.recommendation.assumptions {
                writeln!(out, "- Assumes {a}")?;
            }
            writeln!(out, "\n</details>")?;
        }
        Ok(out.into_bytes())
    }
}
