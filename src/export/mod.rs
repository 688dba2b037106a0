//! Exporters: each turns reports into bytes and does nothing else (no statistics, no decisions).
//! `table` is for people at a terminal, `json` for programs (docs/report-schema.json), `csv` for
//! spreadsheets, `markdown` for pull-request comments, `alpt` for users of aws-lambda-power-tuning;
//! `chart` (SVG/PNG) and `html` write files.

mod alpt;
pub mod chart;
mod csv;
pub mod html;
mod json;
pub mod markdown;
mod table;

use crate::report::TuningReport;
use clap::ValueEnum;

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned text for a terminal.
    Table,
    /// The report as JSON (one object for one function, an array for several).
    Json,
    /// One row per function and memory size.
    Csv,
    /// A table and a one-line verdict, for a pull-request comment.
    Markdown,
    /// aws-lambda-power-tuning's result JSON, with its lambda-power-tuning.show link.
    Alpt,
}

/// Turns reports into bytes.
pub trait Exporter {
    /// Serialises `reports` (one per function).
    fn serialize(&self, reports: &[TuningReport]) -> anyhow::Result<Vec<u8>>;
}

/// The exporter of a format.
pub fn exporter(format: Format) -> Box<dyn Exporter> {
    match format {
        Format::Table => Box::new(table::TableExporter),
        Format::Json => Box::new(json::JsonExporter),
        Format::Csv => Box::new(csv::CsvExporter),
        Format::Markdown => Box::new(markdown::MarkdownExporter),
        Format::Alpt => Box::new(alpt::AlptExporter),
    }
}

/// Formats a number of milliseconds compactly for tables.
pub fn ms(v: f64) -> String {
    crate::units::Ms(v).to_string()
}

/// Formats an optional amount of dollars, "–" when unknown.
pub fn usd(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_owned(), |v| crate::units::Usd(v).to_string())
}

/// A size, or "unknown".
pub fn size(m: Option<u32>) -> String {
    m.map_or_else(|| "unknown".to_owned(), |m| format!("{m} MB"))
}

/// "mean (low–high)" of a duration distribution, the interval left out for one sample.
pub fn mean_with_ci(d: &crate::stats::Distribution) -> String {
    let ci = d
        .ci95
        .map_or_else(String::new, |[lo, hi]| format!(" ({}–{})", ms(lo), ms(hi)));
    format!("{}{ci}", ms(d.mean))
}

/// Whether a configuration is the recommended one.
pub fn is_recommended(r: &TuningReport, c: &crate::report::ConfigReport) -> bool {
    c.memory_mb.is_some() && c.memory_mb == r.recommendation.memory_mb
}

/// Thousands separators for counts.
pub fn count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests;
