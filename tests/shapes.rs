//! Every input shape `parse` and `analyze` read, from the project's own fixtures
//! (fixtures/logs/shapes, written by fixtures/generate.py): each holds the same four invocations
//! — A cold start, B warm, C timeout, D out of memory — so one table checks them all.

mod common;
use common::*;
use serde_json::{Value, json};

const FIELDS: [&str; 10] = [
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
];

fn expected(with_status: bool) -> Vec<Value> {
    let id = |c: char| format!("0f1e2d3c-0000-4000-8000-00000000000{c}");
    let st = |s: &'static str| if with_status { s } else { "success" };
    let et = |e: Option<&'static str>| if with_status { e } else { None };
    vec![
        json!({"request_id": id('a'), "duration_ms": 412.37, "billed_duration_ms": 1110, "memory_size_mb": 1024, "max_memory_used_mb": 148, "init_duration_ms": 697.12, "restore_duration_ms": null, "billed_restore_duration_ms": null, "status": "success", "error_type": null}),
        json!({"request_id": id('b'), "duration_ms": 48.91, "billed_duration_ms": 49, "memory_size_mb": 1024, "max_memory_used_mb": 151, "init_duration_ms": null, "restore_duration_ms": null, "billed_restore_duration_ms": null, "status": "success", "error_type": null}),
        json!({"request_id": id('c'), "duration_ms": 3000, "billed_duration_ms": 3000, "memory_size_mb": 1024, "max_memory_used_mb": 152, "init_duration_ms": null, "restore_duration_ms": null, "billed_restore_duration_ms": null, "status": st("timeout"), "error_type": null}),
        json!({"request_id": id('d'), "duration_ms": 95.5, "billed_duration_ms": 96, "memory_size_mb": 1024, "max_memory_used_mb": 1024, "init_duration_ms": null, "restore_duration_ms": null, "billed_restore_duration_ms": null, "status": st("error"), "error_type": et(Some("Runtime.OutOfMemory"))}),
    ]
}

fn check(file: &str, with_status: bool) {
    let got = parse(&[fixture(&format!("logs/shapes/{file}"))]);
    for r in &got {
        let keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
        let mut want: Vec<&str> = FIELDS.to_vec();
        want.sort();
        let mut keys = keys;
        keys.sort();
        assert_eq!(keys, want, "{file}: exactly the contract fields");
    }
    assert_eq!(&got[..4], &expected(with_status)[..], "{file}");
}

#[test]
fn raw_lambda_text_with_tabs_xray_snapstart_and_old_spacing() {
    check("raw-tabs.log", true);
    let got = parse(&[fixture("logs/shapes/raw-tabs.log")]);
    assert_eq!(got.len(), 6);
    assert_eq!(got[4]["restore_duration_ms"], json!(511.25));
    assert_eq!(got[4]["billed_restore_duration_ms"], json!(303));
    assert_eq!(
        got[5]["billed_duration_ms"],
        json!(100),
        "pre-2020 `100 ms \\t` spacing"
    );
    assert_eq!(got[5]["memory_size_mb"], json!(192));
}

#[test]
fn console_copies_with_spaces_backticks_pipes_and_a_wrapped_line() {
    check("console-spaces.log", true);
}

#[test]
fn aws_logs_tail() {
    check("aws-logs-tail.log", true);
}

#[test]
fn sam_logs() {
    check("sam-logs.log", true);
}

#[test]
fn cloudwatch_console_csv_export() {
    check("console-export.csv", true);
}

#[test]
fn filter_log_events_and_get_log_events_json() {
    check("filter-log-events.json", true);
    check("get-log-events.json", true);
}

#[test]
fn json_log_format_one_per_line_and_pretty() {
    check("json-format.log", true);
    check("json-format-pretty.json", true);
}

/// Insights' discovered fields carry no status: timeouts and OOMs read as successes there.
#[test]
fn logs_insights_exports() {
    for f in [
        "insights.csv",
        "insights.md",
        "insights.json",
        "insights-query-results.json",
    ] {
        check(f, false);
    }
}

#[test]
fn gzip_recognised_by_content_not_name() {
    check("rotated-capture.1", true);
}

#[test]
fn directories_recursively_and_stdin() {
    let all = parse(&[fixture("logs/shapes")]);
    // 13 files of four records each, and raw-tabs' two extra.
    assert_eq!(all.len(), 14 * 4 + 2);
    let out = powertune()
        .args(["parse", "-"])
        .pipe_stdin(fixture("logs/shapes/rotated-capture.1"))
        .unwrap()
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 4);
}

#[test]
fn timestamps_in_every_timestamped_shape_give_the_same_rate() {
    // Four invocations over 9.5 s is too short a span for a rate; the analysis must say so
    // rather than extrapolate, for every shape.
    for f in [
        "aws-logs-tail.log",
        "sam-logs.log",
        "console-export.csv",
        "filter-log-events.json",
        "json-format.log",
        "insights.csv",
    ] {
        let out = powertune()
            .args(["analyze", "--format", "json"])
            .arg(fixture(&format!("logs/shapes/{f}")))
            .output()
            .unwrap();
        assert!(out.status.success(), "{f}");
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            v["input"]["first_timestamp_ms"],
            json!(1_714_557_600_000i64),
            "{f}"
        );
        assert_eq!(
            v["input"]["last_timestamp_ms"],
            json!(1_714_557_609_500i64),
            "{f}"
        );
        assert_eq!(v["monthly_invocations"]["basis"], json!("unknown"), "{f}");
    }
}
