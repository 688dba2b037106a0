//! End-to-end tests of `analyze` and `parse`: the table, the JSON report against
//! docs/report-schema.json, the other formats, options, and every bad input's exit code.

mod common;
use common::*;
use predicates::prelude::*;
use serde_json::Value;

fn schema() -> jsonschema::Validator {
    let s: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("docs/report-schema.json")).unwrap(),
    )
    .unwrap();
    jsonschema::validator_for(&s).expect("schema compiles")
}

fn analyze_json(args: &[&str]) -> Value {
    let out = powertune()
        .arg("analyze")
        .args(args)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn analyze_prints_the_table_and_recommendation_on_the_shipped_example() {
    powertune()
        .arg("analyze")
        .arg(fixture("logs/brand-api.log"))
        .assert()
        .success()
        .stdout(predicate::str::contains("duration mean (95% CI)"))
        .stdout(predicate::str::contains("1024 MB"))
        .stdout(predicate::str::contains("Recommendation: 256 MB"))
        .stdout(predicate::str::contains(
            "Lower memory from 1024 MB to 256 MB",
        ))
        .stdout(predicate::str::contains("Timeout:"));
}

#[test]
fn json_report_validates_against_the_schema() {
    let v = schema();
    for args in [
        vec![fixture("logs/brand-api.log").display().to_string()],
        vec![fixture("logs/shapes/raw-tabs.log").display().to_string()],
        vec![
            fixture("logs/shapes/insights.csv").display().to_string(),
            "--arch".into(),
            "arm64".into(),
        ],
        // Several functions: an array of reports.
        vec![
            fixture("logs/shapes").display().to_string(),
            fixture("logs/brand-api.log").display().to_string(),
        ],
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let report = analyze_json(&args);
        let errors: Vec<String> = v
            .iter_errors(&report)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{args:?}: {errors:#?}");
    }
    // The schema is not vacuous: a report without configs fails it.
    let mut broken = analyze_json(&[&fixture("logs/brand-api.log").display().to_string()]);
    broken.as_object_mut().unwrap().remove("configs");
    assert!(!v.is_valid(&broken));
}

#[test]
fn json_report_carries_the_required_fields() {
    let r = analyze_json(&[
        &fixture("logs/brand-api.log").display().to_string(),
        "--function",
        "brand-api",
    ]);
    assert_eq!(r["function"], "brand-api");
    let c = &r["configs"][0];
    assert_eq!(c["memory_mb"], 1024);
    assert_eq!(c["invocations"], 731);
    for k in ["mean", "p50", "p90", "p99", "max"] {
        assert!(c["duration_ms"][k].is_number(), "{k}");
    }
    assert!(c["max_memory_used_mb"]["max"].is_number());
    assert!(c["cost_per_million_usd"].as_f64().unwrap() > 0.0);
    assert_eq!(r["recommendation"]["memory_mb"], 256);
    assert!(
        r["recommendation"]["reason"]
            .as_str()
            .unwrap()
            .contains("headroom")
    );
    assert_eq!(r["monthly_invocations"]["basis"], "observed");
}

#[test]
fn monthly_invocations_region_and_arch_change_the_money() {
    let f = fixture("logs/brand-api.log").display().to_string();
    let x86 = analyze_json(&[&f, "--monthly-invocations", "1000000"]);
    let arm = analyze_json(&[&f, "--monthly-invocations", "1000000", "--arch", "arm64"]);
    let cape = analyze_json(&[
        &f,
        "--monthly-invocations",
        "1000000",
        "--region",
        "af-south-1",
    ]);
    assert_eq!(x86["monthly_invocations"]["basis"], "flag");
    let m = |v: &Value| {
        v["recommendation"]["monthly_usd"]["current"]
            .as_f64()
            .unwrap()
    };
    assert!(
        m(&arm) < m(&x86) && m(&x86) < m(&cape),
        "{} {} {}",
        m(&arm),
        m(&x86),
        m(&cape)
    );
    // 1M invocations: $0.20 of requests plus 1 GB × mean billed seconds × $0.0000166667.
    let billed = x86["configs"][0]["billed_duration_mean_ms"]
        .as_f64()
        .unwrap();
    let want = 0.20 + 1e6 * billed / 1000.0 * 0.000_016_666_7;
    assert!((m(&x86) - want).abs() < 1e-9, "{} vs {want}", m(&x86));
}

#[test]
fn headroom_and_step_change_the_recommendation() {
    let f = fixture("logs/brand-api.log").display().to_string();
    // Largest Max Memory Used is 148 MB: × 2 = 296 → 320 at 64 MB steps, 300 at 100 MB steps…
    let r = analyze_json(&[&f, "--headroom", "2"]);
    assert_eq!(r["recommendation"]["memory_mb"], 320);
    let r = analyze_json(&[&f, "--headroom", "2", "--step", "100"]);
    assert_eq!(r["recommendation"]["memory_mb"], 300);
}

#[test]
fn out_of_memory_size_is_a_floor() {
    // Shapes' D ran out of memory at 1024 MB: the recommendation must be above 1024.
    let r = analyze_json(&[
        &fixture("logs/shapes/raw-tabs.log").display().to_string(),
        "--function",
        "x",
    ]);
    let rec = r["recommendation"]["memory_mb"].as_u64().unwrap();
    assert!(rec > 1024, "{rec}");
    assert_eq!(r["recommendation"]["rule"]["out_of_memory_at_mb"], 1024);
}

#[test]
fn csv_and_markdown_formats() {
    let f = fixture("logs/brand-api.log");
    powertune()
        .args(["analyze", "--format", "csv"])
        .arg(&f)
        .assert()
        .success()
        .stdout(predicate::str::starts_with(
            "function,memory_mb,invocations",
        ))
        .stdout(predicate::str::contains(",1024,731,27,0,0,0,"));
    powertune()
        .args(["analyze", "--format", "markdown", "--function", "brand-api"])
        .arg(&f)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "**Lower brand-api from 1024 MB to 256 MB** — saves $",
        ))
        .stdout(predicate::str::contains("| 1024 MB | 731 |"));
}

#[test]
fn malformed_lines_are_counted_and_shown_with_file_and_line() {
    powertune()
        .args(["parse"])
        .arg(fixture("logs/bad/malformed.log"))
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "0f1e2d3c-0000-4000-8000-00000000000b",
        ))
        .stderr(predicate::str::contains(
            "2 lines looked like REPORT records",
        ))
        .stderr(predicate::str::contains(
            "malformed.log:2: missing Duration",
        ))
        .stderr(predicate::str::contains(
            "malformed.log:3: the value of Duration is not a number",
        ));
}

#[test]
fn bad_inputs_exit_2_with_a_message() {
    powertune()
        .args(["analyze", "no/such/file.log"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "no/such/file.log: no such file or directory",
        ));
    powertune()
        .arg("analyze")
        .arg(fixture("logs/bad/truncated.log.gz"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "starts like gzip but does not decompress",
        ));
    for cmd in ["analyze", "parse"] {
        powertune()
            .arg(cmd)
            .arg(fixture("logs/bad/no-records.log"))
            .assert()
            .code(2)
            .stderr(predicate::str::contains(
                "no Lambda invocation records found in",
            ))
            .stderr(predicate::str::contains("no-records.log (65 bytes read)"))
            .stderr(predicate::str::contains("Looked for text REPORT lines"));
    }
    powertune()
        .args(["analyze"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("PATH"));
}

#[test]
fn bad_options_exit_2_and_say_what_was_expected() {
    let f = fixture("logs/brand-api.log").display().to_string();
    for (args, msg) in [
        (
            vec!["--headroom", "0.5"],
            "--headroom must be between 1.0 and 10",
        ),
        (vec!["--step", "0"], "--step must be between 1 and 1024"),
        (vec!["--region", "cn-north-1"], "billed in CNY"),
        (vec!["--region", "moon"], "not an AWS region name"),
        (vec!["--arch", "sparc"], "expected x86_64 or arm64"),
        (vec!["--monthly-invocations=-5"], "non-negative"),
        (vec!["--ephemeral-storage", "100"], "between 512 and 10240"),
        (vec!["--format", "xml"], "possible values"),
    ] {
        powertune()
            .arg("analyze")
            .arg(&f)
            .args(&args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(msg));
    }
}

#[test]
fn run_options_of_the_other_backend_or_bad_payloads_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let zero = dir.path().join("zero.json");
    std::fs::write(&zero, r#"[{"payload": {}, "weight": 0}]"#).unwrap();
    let three = dir.path().join("three.json");
    std::fs::write(
        &three,
        r#"[{"payload": 1, "weight": 1}, {"payload": 2, "weight": 1}, {"payload": 3, "weight": 1}]"#,
    )
    .unwrap();
    let local = ["--local", "fixtures/functions/brand-api"];
    let zero_arg = format!("@{}", zero.display());
    let three_arg = format!("@{}", three.display());
    for (args, msg) in [
        (
            [&local[..], &["--concurrency", "3"]].concat(),
            "cannot be used with",
        ),
        ([&local[..], &["--dry-run"]].concat(), "cannot be used with"),
        (
            [&local[..], &["--cold-starts"]].concat(),
            "cannot be used with",
        ),
        (
            [&local[..], &["--profile", "p"]].concat(),
            "for runs on AWS",
        ),
        (vec!["--timeout", "5"], "--local"),
        (vec!["--no-limits"], "--local"),
        (vec!["--payload", "{not json"], "--payload must be JSON"),
        (
            vec!["--payload", zero_arg.as_str()],
            "expected a positive number",
        ),
        (
            vec!["--payload", three_arg.as_str(), "--invocations", "2"],
            "fewer than the 3 payload classes",
        ),
        (
            vec!["--memory", "64"],
            "outside Lambda's 128–10,240 MB range",
        ),
    ] {
        powertune()
            .args(["run", "--function", "brand-api"])
            .args(&args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(msg));
    }
}

#[test]
fn help_teaches() {
    powertune()
        .args(["analyze", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("--headroom"))
        .stdout(predicate::str::contains("Logs Insights"));
    powertune()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("Examples:"));
}
