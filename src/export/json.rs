//! JSON: the report exactly as docs/report-schema.json describes it. One function gives one
//! object; several give an array of them.

use super::Exporter;
use crate::report::TuningReport;

/// Pretty-printed JSON.
pub struct JsonExporter;

impl Exporter for JsonExporter {
    fn serialize(&self, reports: &[TuningReport]) -> anyhow::Result<Vec<u8>> {
        let mut out = match reports {
            [one] => serde_json::to_vec_pretty(one)?,
            many => serde_json::to_vec_pretty(many)?,
        };
        out.push(b'\n');
        Ok(out)
    }
}
