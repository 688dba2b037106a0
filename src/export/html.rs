//! `--html FILE`: one self-contained HTML page per run — the chart as inline SVG, the per-size
//! table, the recommendation and why, what was read (or planned), errors and cold starts — with
//! no external URL, font or script, so it can be attached to a ticket or kept as a CI artifact.

use super::{
    Exporter, chart, count, is_recommended, markdown::verdict, mean_with_ci, ms, size, usd,
};
use crate::parse::context::date_of;
use crate::report::TuningReport;
use std::fmt::Write;

/// A standalone HTML document.
pub struct HtmlExporter;

/// Escapes text for HTML and XML (attributes and content alike); control characters XML 1.0
/// cannot hold become spaces.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => o.push(' '),
            c => o.push(c),
        }
    }
    o
}

/// Markdown's `**bold**` in a verdict, as HTML.
fn bold(s: &str) -> String {
    let mut out = String::new();
    for (i, part) in esc(s).split("**").enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<strong>{part}</strong>");
        } else {
            out.push_str(part);
        }
    }
    out.replace('`', "")
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}\
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em}table{border-collapse:collapse;margin:.5em 0;font-size:.85em}.wide{overflow-x:auto}\
th,td{border:1px solid #ccc;padding:.3em .45em;text-align:right}td{white-space:nowrap}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}\
tr.rec td{background:#e8f5e9;font-weight:600}tr.failed td{color:#b00}.verdict{font-size:1.15em;padding:.6em 1em;background:#f5f9ff;border-left:4px solid #1f77b4}\
.chart svg{max-width:100%;height:auto}.muted{color:#666;font-size:.9em}ul{padding-left:1.2em}";

fn section(out: &mut String, r: &TuningReport) -> anyhow::Result<()> {
    let name = r.function.as_deref().unwrap_or("Lambda function");
    writeln!(
        out,
        "<section><h1>{} <span class=muted>{} · {}</span></h1>",
        esc(name),
        esc(&r.region),
        r.architecture
    )?;
    writeln!(out, "<p class=verdict>{}</p>", bold(&verdict(r)))?;
    // The chart, inline. The namespace attribute is not needed in HTML and is the only URL.
    let svg = chart::svg(r)?;
    let svg = svg.replace(" xmlns=\"http://www.w3.org/2000/svg\"", "");
    writeln!(out, "<div class=chart>{svg}</div>")?;

    writeln!(
        out,
        "<h2>Memory sizes</h2><div class=wide><table><tr><th>memory</th><th>invocations</th><th>cold starts</th><th>errors / timeouts / OOM</th><th>duration mean (95% CI)</th><th>p50</th><th>p90</th><th>p99</th><th>max</th><th>billed mean</th><th>max memory used (p99)</th><th>cost per 1M</th></tr>"
    )?;
    for c in &r.configs {
        let d = &c.duration_ms;
        let class = if is_recommended(r, c) {
            " class=rec"
        } else if chart::failure_label(c).is_some() {
            " class=failed"
        } else {
            ""
        };
        writeln!(
            out,
            "<tr{class}><td>{}</td><td>{}</td><td>{}</td><td>{} / {} / {}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            size(c.memory_mb),
            count(c.invocations),
            count(c.cold_starts),
            c.errors,
            c.timeouts,
            c.out_of_memory,
            esc(&mean_with_ci(d)),
            ms(d.p50),
            ms(d.p90),
            ms(d.p99),
            ms(d.max),
            c.billed_duration_mean_ms.map_or_else(|| "–".into(), ms),
            c.max_memory_used_mb
                .as_ref()
                .map_or_else(|| "–".into(), |m| format!("{:.0} MB ({:.0})", m.max, m.p99)),
            esc(&usd(c.cost_per_million_usd)),
        )?;
    }
    writeln!(out, "</table></div>")?;

    let rec = &r.recommendation;
    writeln!(out, "<h2>Recommendation</h2><p>{}</p>", esc(&rec.reason))?;
    writeln!(
        out,
        "<p><strong>Timeout:</strong> {}</p>",
        esc(&rec.timeout.note)
    )?;
    writeln!(out, "<p>Assumes:</p><ul>")?;
    for a in rec.assumptions.iter().chain(&r.pricing.notes) {
        writeln!(out, "<li>{}</li>", esc(a))?;
    }
    writeln!(out, "</ul>")?;

    let errors: Vec<String> = r
        .configs
        .iter()
        .filter(|c| !c.error_types.is_empty() || c.timeouts > 0)
        .map(|c| {
            let mut kinds: Vec<String> = c
                .error_types
                .iter()
                .map(|(k, n)| format!("{} ×{n}", esc(k)))
                .collect();
            if c.timeouts > 0 {
                kinds.push(format!("timeout ×{}", c.timeouts));
            }
            format!("<li>{}: {}</li>", size(c.memory_mb), kinds.join(", "))
        })
        .collect();
    writeln!(out, "<h2>Errors</h2>")?;
    if errors.is_empty() {
        writeln!(out, "<p>None.</p>")?;
    } else {
        writeln!(out, "<ul>{}</ul>", errors.join(""))?;
    }

    writeln!(out, "<h2>Cold starts</h2>")?;
    let cold: Vec<String> = r
        .configs
        .iter()
        .filter_map(|c| {
            let i = c
                .init_duration_ms
                .as_ref()
                .or(c.restore_duration_ms.as_ref())?;
            Some(format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                size(c.memory_mb),
                count(i.count),
                ms(i.mean),
                ms(i.p99),
                ms(i.max)
            ))
        })
        .collect();
    if cold.is_empty() {
        writeln!(out, "<p>None seen.</p>")?;
    } else {
        writeln!(
            out,
            "<table><tr><th>memory</th><th>cold starts</th><th>init mean</th><th>p99</th><th>max</th></tr>{}</table>",
            cold.join("")
        )?;
    }

    writeln!(out, "<h2>Input</h2>")?;
    match &r.input {
        Some(i) => {
            let span = match (i.first_timestamp_ms, i.last_timestamp_ms) {
                (Some(a), Some(b)) => format!(", logged {} to {}", date_of(a), date_of(b)),
                _ => String::new(),
            };
            writeln!(
                out,
                "<p>{} records from {} ({} bytes read{}); {} lines looked like records but could not be read.</p>",
                count(i.records),
                esc(&i.sources.join(", ")),
                count(i.bytes),
                span,
                count(i.malformed)
            )?;
        }
        None => writeln!(out, "<p>Measured by powertune ({:?}).</p>", r.source)?,
    }
    writeln!(
        out,
        "<p class=muted>{}. Monthly volume: {}</p>",
        esc(&r.tool),
        esc(&r.monthly_invocations.detail)
    )?;
    if !r.warnings.is_empty() {
        writeln!(out, "<h2>Warnings</h2><ul>")?;
        for w in &r.warnings {
            writeln!(out, "<li>{}</li>", esc(w))?;
        }
        writeln!(out, "</ul>")?;
    }
    writeln!(out, "</section>")?;
    Ok(())
}

impl Exporter for HtmlExporter {
    fn serialize(&self, reports: &[TuningReport]) -> anyhow::Result<Vec<u8>> {
        let mut out = String::new();
        let title = match reports {
            [r] => format!(
                "powertune: {}",
                r.function.as_deref().unwrap_or("Lambda function")
            ),
            _ => "powertune report".to_owned(),
        };
        writeln!(
            out,
            "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8><meta name=viewport content=\"width=device-width,initial-scale=1\"><title>{}</title><style>{STYLE}</style></head><body>",
            esc(&title)
        )?;
        for r in reports {
            section(&mut out, r)?;
        }
        writeln!(out, "</body></html>")?;
        Ok(out.into_bytes())
    }
}
