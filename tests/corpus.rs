//! `powertune parse` on every file of ../shared/corpus — real REPORT lines from public sources in
//! every captured shape — finds each record its index.jsonl lists, with the values its line holds
//! (the index's values were checked against the lines; they are the regex's, so only non-null
//! ones are compared). Skipped, with a note, where the corpus is not beside the checkout.

mod common;
use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn corpus() -> Option<PathBuf> {
    let dir = root().join("..").join("shared").join("corpus");
    dir.join("index.jsonl").is_file().then_some(dir)
}

/// The index entry's values under parse's field names.
fn expected(entry: &Value) -> BTreeMap<&'static str, Value> {
    let p = &entry["parsed"];
    let mut m = BTreeMap::new();
    if entry["kind"] == "json-platform.report" {
        m.insert("request_id", p["requestId"].clone());
        m.insert("status", p["status"].clone());
        let metrics = &p["metrics"];
        for (ours, theirs) in [
            ("duration_ms", "durationMs"),
            ("billed_duration_ms", "billedDurationMs"),
            ("memory_size_mb", "memorySizeMB"),
            ("max_memory_used_mb", "maxMemoryUsedMB"),
            ("init_duration_ms", "initDurationMs"),
            ("restore_duration_ms", "restoreDurationMs"),
            ("billed_restore_duration_ms", "billedRestoreDurationMs"),
        ] {
            m.insert(ours, metrics.get(theirs).cloned().unwrap_or(Value::Null));
        }
    } else {
        for k in [
            "request_id",
            "duration_ms",
            "billed_duration_ms",
            "memory_size_mb",
            "max_memory_used_mb",
            "init_duration_ms",
            "restore_duration_ms",
            "billed_restore_duration_ms",
            "status",
            "error_type",
        ] {
            m.insert(k, p[k].clone());
        }
        if m["status"].is_null() {
            m.insert("status", Value::from("success"));
        }
    }
    m.retain(|_, v| !v.is_null());
    m
}

fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

#[test]
fn every_indexed_corpus_record_is_found_with_its_values() {
    let Some(dir) = corpus() else {
        eprintln!("note: ../shared/corpus not found; corpus test skipped");
        return;
    };
    let index: Vec<Value> = std::fs::read_to_string(dir.join("index.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(index.len() >= 60, "index has {} records", index.len());
    let mut by_file: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for e in &index {
        by_file
            .entry(e["file"].as_str().unwrap().to_owned())
            .or_default()
            .push(e);
    }
    for (file, entries) in &by_file {
        let found = parse(&[dir.join(file)]);
        let mut used = vec![false; found.len()];
        for e in entries {
            let want = expected(e);
            let hit = found
                .iter()
                .enumerate()
                .position(|(i, r)| !used[i] && want.iter().all(|(k, v)| same(&r[*k], v)));
            match hit {
                Some(i) => used[i] = true,
                None => panic!(
                    "{file}:{}: no record with {:?}\nfound: {}",
                    e["line"],
                    want,
                    found
                        .iter()
                        .map(|r| r.to_string())
                        .collect::<Vec<_>>()
                        .join("\n")
                ),
            }
        }
        // Extra records only where the index leaves real-shaped records out: the Python test
        // file's two hand-written lines (split over two string literals) and three JSON
        // platform.report dicts.
        let extra = found.len() - entries.len();
        let allowed = if file == "fixture_datadog_forwarder_test_enhanced_lambda_metrics.py.log" {
            5
        } else {
            0
        };
        assert_eq!(
            extra,
            allowed,
            "{file}: {} records found, {} indexed",
            found.len(),
            entries.len()
        );
    }
}

#[test]
fn every_corpus_file_parses_without_panicking_and_reports_truncated_lines() {
    let Some(dir) = corpus() else {
        eprintln!("note: ../shared/corpus not found; corpus test skipped");
        return;
    };
    let out = powertune().arg("parse").arg(&dir).output().unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    // The two REPORT lines AWS's docs cut after the request id are reported with file:line.
    assert!(
        err.contains("docs_awsdocs_aws-lambda-developer-guide_history.log:6: missing Duration"),
        "{err}"
    );
    assert!(
        err.contains("docs_awsdocs_aws-lambda-developer-guide_history.log:8: missing Duration"),
        "{err}"
    );
}
