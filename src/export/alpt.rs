//! `--format alpt`: the result shape of aws-lambda-power-tuning's state machine (`power`, `cost`,
//! `duration`, `stateMachine.{executionCost, lambdaCost, visualization}`, `stats[]`), so scripts
//! and habits built on it keep working. The visualization URL is lambda-power-tuning.show with
//! the data in the fragment, encoded as that project's `buildVisualizationURL` does: base64 of
//! little-endian Int16 memory sizes, Float32 average durations (ms) and Float32 average costs
//! (USD per invocation), joined by `;`, sizes ascending.

use super::Exporter;
use crate::report::TuningReport;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

/// The site that draws the fragment (aws-lambda-power-tuning's default `visualizationURL`).
pub const VISUALIZATION_URL: &str = "https://lambda-power-tuning.show/";

/// aws-lambda-power-tuning's output JSON.
pub struct AlptExporter;

/// (memory MB, mean duration ms, mean cost per invocation USD) of each measured size, ascending.
pub fn points(r: &TuningReport) -> Vec<(u32, f64, f64)> {
    let mut p: Vec<(u32, f64, f64)> = r
        .configs
        .iter()
        .filter_map(|c| Some((c.memory_mb?, c.duration_ms.mean, c.cost_per_invocation_usd?)))
        .collect();
    p.sort_by_key(|x| x.0);
    p
}

/// The visualization URL of a report's measured sizes.
pub fn visualization_url(r: &TuningReport) -> String {
    let pts = points(r);
    let mut sizes = Vec::new();
    let mut times = Vec::new();
    let mut costs = Vec::new();
    for (m, d, c) in &pts {
        // Int16 as in the original: sizes up to 10,240 fit.
        sizes.extend_from_slice(&(*m as i16).to_le_bytes());
        times.extend_from_slice(&(*d as f32).to_le_bytes());
        costs.extend_from_slice(&(*c as f32).to_le_bytes());
    }
    format!(
        "{VISUALIZATION_URL}#{};{};{}",
        STANDARD.encode(sizes),
        STANDARD.encode(times),
        STANDARD.encode(costs)
    )
}

fn one(r: &TuningReport) -> Value {
    let pts = points(r);
    let rec = &r.recommendation;
    let measured = rec.memory_mb.and_then(|m| pts.iter().find(|p| p.0 == m));
    // A recommended size that was not measured is priced at the current duration (the report's
    // stated assumption).
    let (cost, duration) = match (measured, rec.memory_mb) {
        (Some(p), _) => (Some(p.2), Some(p.1)),
        (None, Some(_)) => {
            let cur = r
                .configs
                .iter()
                .find(|c| c.memory_mb == rec.current_memory_mb);
            (
                rec.per_million_usd.map(|s| s.recommended / 1e6),
                cur.map(|c| c.duration_ms.mean),
            )
        }
        _ => (None, None),
    };
    let lambda_cost: f64 = r
        .configs
        .iter()
        .filter_map(|c| Some(c.cost_per_invocation_usd? * c.invocations as f64))
        .sum();
    json!({
        "power": rec.memory_mb,
        "cost": cost,
        "duration": duration,
        "stateMachine": {
            "executionCost": 0.0,
            "lambdaCost": lambda_cost,
            "visualization": visualization_url(r),
        },
        "stats": pts.iter().map(|(m, d, c)| json!({
            "value": m,
            "averagePrice": c,
            "averageDuration": d,
        })).collect::<Vec<_>>(),
    })
}

impl Exporter for AlptExporter {
    fn serialize(&self, reports: &[TuningReport]) -> anyhow::Result<Vec<u8>> {
        let v = match reports {
            [r] => one(r),
            many => Value::Array(many.iter().map(one).collect()),
        };
        let mut out = serde_json::to_vec_pretty(&v)?;
        out.push(b'\n');
        Ok(out)
    }
}
