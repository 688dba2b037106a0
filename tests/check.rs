//! `powertune check` end to end on the project's fixtures: SAM, serverless.yml and a template whose
//! memory comes from a parameter default, each with captured logs for its functions; the corrected
//! files pass; malformed and function-less templates exit 2; GitHub annotations, the job summary
//! and JUnit XML follow their formats.

mod common;
use common::*;

const MONTHLY: [&str; 2] = ["--monthly-invocations", "5000000"];

fn sam_evidence() -> Vec<String> {
    vec![
        "--logs".into(),
        format!("BrandApi={}", fixture("logs/brand-api.log").display()),
        "--logs".into(),
        fixture("check/logs/orders.csv").display().to_string(),
        "--logs".into(),
        fixture("check/logs/report-builder.csv")
            .display()
            .to_string(),
    ]
}

fn check(iac: &str, extra: &[String]) -> std::process::Output {
    powertune()
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .current_dir(root())
        .arg("check")
        .arg(iac)
        .args(extra)
        .args(MONTHLY)
        .output()
        .unwrap()
}

fn lines_with<'a>(out: &'a str, needle: &str) -> Vec<&'a str> {
    out.lines().filter(|l| l.contains(needle)).collect()
}

#[test]
fn sam_template_flags_the_oversized_and_the_out_of_memory_function() {
    let out = check("fixtures/check/sam/template.yaml", &sam_evidence());
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let fails = lines_with(&text, "FAIL");
    assert_eq!(fails.len(), 2, "{text}");
    assert!(
        fails[0].contains("fixtures/check/sam/template.yaml:23")
            && fails[0].contains("[oversized] BrandApi")
            && fails[0].contains("Set MemorySize: 256"),
        "{text}"
    );
    // A quarter of the memory is a quarter of the CPU: the 2 s timeout fitted to 1024 MB's
    // durations (p99.9 519 ms) would cut a CPU-bound function off at 256 MB.
    assert!(fails[0].contains("raise Timeout from 2 s to 4 s"), "{text}");
    assert!(
        fails[1].contains("fixtures/check/sam/template.yaml:30")
            && fails[1].contains("[undersized] ReportBuilder")
            && fails[1].contains("Set MemorySize: 384"),
        "{text}"
    );
    assert!(
        !text
            .lines()
            .any(|l| l.contains("FAIL") && l.contains("Orders")),
        "{text}"
    );
    assert!(text.contains("2 rules failed in 3 of 3 functions judged"));

    let fixed = check("fixtures/check/sam/template.fixed.yaml", &sam_evidence());
    assert_eq!(
        fixed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&fixed.stdout)
    );
}

#[test]
fn serverless_yml_points_at_the_provider_default_and_the_function() {
    let ev: Vec<String> = [
        format!("brandApi={}", fixture("logs/brand-api.log").display()),
        format!("orders={}", fixture("check/logs/orders.csv").display()),
        format!(
            "reportBuilder={}",
            fixture("check/logs/report-builder.csv").display()
        ),
    ]
    .into_iter()
    .flat_map(|l| ["--logs".to_owned(), l])
    .collect();
    let out = check("fixtures/check/serverless/serverless.yml", &ev);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let fails = lines_with(&text, "FAIL");
    assert_eq!(fails.len(), 2, "{text}");
    assert!(
        fails[0].contains("serverless.yml:8")
            && fails[0].contains("brandApi")
            && fails[0].contains("(from provider)")
            && fails[0].contains("Set memorySize: 256"),
        "{text}"
    );
    assert!(
        fails[1].contains("serverless.yml:20")
            && fails[1].contains("reportBuilder")
            && fails[1].contains("Set memorySize: 384"),
        "{text}"
    );

    // Corrected: brandApi gets its own 256 MB, reportBuilder 384 MB.
    let dir = tempfile::tempdir().unwrap();
    let fixed = std::fs::read_to_string(fixture("check/serverless/serverless.yml"))
        .unwrap()
        .replace(
            "  brandApi:\n    handler: brands.handler\n",
            "  brandApi:\n    handler: brands.handler\n    memorySize: 256\n",
        )
        .replace(
            "memorySize: 256\n    timeout: 5",
            "memorySize: 384\n    timeout: 5",
        );
    let path = dir.path().join("serverless.yml");
    std::fs::write(&path, fixed).unwrap();
    let out = check(path.to_str().unwrap(), &ev);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn memory_from_a_parameter_default_points_at_the_default() {
    let ev = vec![
        "--logs".to_owned(),
        fixture("logs/brand-api.log").display().to_string(),
    ];
    let out = check("fixtures/check/sam/template.params.yaml", &ev);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let fail = lines_with(&text, "FAIL");
    assert_eq!(fail.len(), 1, "{text}");
    assert!(
        fail[0].contains("template.params.yaml:7"),
        "the parameter's Default line: {text}"
    );
    assert!(
        fail[0].contains("(from parameter BrandApiMemory)")
            && fail[0].contains("Set Default (of parameter BrandApiMemory): 256"),
        "{text}"
    );
    // --parameter overrides the Default.
    let mut ev2 = ev.clone();
    ev2.extend(["--parameter".to_owned(), "BrandApiMemory=256".to_owned()]);
    assert_eq!(
        check("fixtures/check/sam/template.params.yaml", &ev2)
            .status
            .code(),
        Some(0)
    );
}

#[test]
fn malformed_yaml_and_templates_without_functions_exit_2() {
    let ev = vec![
        "--logs".to_owned(),
        fixture("logs/brand-api.log").display().to_string(),
    ];
    let out = check("fixtures/check/bad/malformed.yaml", &ev);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("fixtures/check/bad/malformed.yaml:6:14:"),
        "parse error with its location: {err}"
    );
    let out = check("fixtures/check/bad/no-functions.yaml", &ev);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no Lambda functions found"));
}

#[test]
fn no_verdict_is_never_exit_0() {
    // Evidence that names none of the declared functions.
    let ev = vec![
        "--logs".to_owned(),
        format!("Elsewhere={}", fixture("logs/brand-api.log").display()),
    ];
    let out = check("fixtures/check/sam/template.yaml", &ev);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("no evidence for any of the 3 declared functions")
    );
    // No evidence at all, and evidence that cannot be read.
    let out = check("fixtures/check/sam/template.yaml", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no evidence given"));
    let out = check(
        "fixtures/check/sam/template.yaml",
        &["--logs".into(), "nope.log".into()],
    );
    assert_eq!(out.status.code(), Some(2));
    // A function without evidence is reported, not passed silently.
    let ev = vec![
        "--logs".to_owned(),
        format!("BrandApi={}", fixture("logs/brand-api.log").display()),
    ];
    let out = check("fixtures/check/sam/template.fixed.yaml", &ev);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(lines_with(&text, "no evidence").len(), 2, "{text}");
    assert!(text.contains("(2 without evidence)"), "{text}");
}

/// `::error file=F,line=N,title=T::MESSAGE`: properties escape `%`, CR, LF, `:` and `,`; the
/// message escapes `%`, CR and LF (GitHub's workflow-command rules).
fn is_workflow_command(line: &str) -> bool {
    let Some(rest) = line.strip_prefix("::") else {
        return false;
    };
    let Some((head, message)) = rest.split_once("::") else {
        return false;
    };
    let Some((level, props)) = head.split_once(' ') else {
        return false;
    };
    if !["error", "warning", "notice"].contains(&level)
        || message.is_empty()
        || message.contains(['\n', '\r'])
    {
        return false;
    }
    let mut keys = Vec::new();
    for p in props.split(',') {
        let Some((k, v)) = p.split_once('=') else {
            return false;
        };
        if v.contains(':') || v.is_empty() {
            return false;
        }
        if k == "line" && v.parse::<u32>().is_err() {
            return false;
        }
        keys.push(k);
    }
    keys == ["file", "line", "title"]
}

#[test]
fn github_annotations_and_job_summary() {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.md");
    std::fs::write(&summary, "earlier step\n").unwrap();
    let out = powertune()
        .current_dir(root())
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .arg("check")
        .arg("fixtures/check/sam/template.yaml")
        .args(sam_evidence())
        .args(MONTHLY)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let commands: Vec<&str> = text.lines().filter(|l| l.starts_with("::")).collect();
    assert_eq!(commands.len(), 2, "{text}");
    for c in &commands {
        assert!(is_workflow_command(c), "not a workflow command: {c}");
        assert!(
            c.starts_with("::error file=fixtures/check/sam/template.yaml,line="),
            "{c}"
        );
    }
    assert!(
        commands[0].contains(",line=23,title=powertune%3A BrandApi oversized::"),
        "{}",
        commands[0]
    );
    assert!(
        commands[1].contains(",line=30,title=powertune%3A ReportBuilder undersized::"),
        "{}",
        commands[1]
    );
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(
        md.starts_with("earlier step\n### powertune check"),
        "appended, not overwritten: {md}"
    );
    assert!(md.contains("| function | rule | result | where | details |"));
    assert_eq!(md.matches("❌ fail").count(), 2);
    // The escaping itself.
    assert!(is_workflow_command(
        "::error file=a.yaml,line=3,title=x%3A y%2C z::50%25 done%0Anext"
    ));
    assert!(!is_workflow_command(
        "::error file=a.yaml,line=3,title=x: y::m"
    ));
}

#[test]
fn junit_xml_counts_cases_and_failures() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    let mut args = sam_evidence();
    args.extend(["--junit".to_owned(), junit.display().to_string()]);
    assert_eq!(
        check("fixtures/check/sam/template.yaml", &args)
            .status
            .code(),
        Some(1)
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let suite = root
        .children()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    let cases: Vec<_> = suite
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 6, "memory and timeout for three functions");
    let failures: Vec<_> = cases
        .iter()
        .filter_map(|c| c.children().find(|n| n.has_tag_name("failure")))
        .collect();
    assert_eq!(failures.len(), 2);
    for (el, n) in [(root, cases.len()), (suite, cases.len())] {
        assert_eq!(el.attribute("tests"), Some(n.to_string().as_str()));
        assert_eq!(el.attribute("failures"), Some("2"));
        assert_eq!(el.attribute("errors"), Some("0"));
    }
    for c in &cases {
        assert!(c.attribute("classname").is_some() && c.attribute("name").is_some());
        assert!(c.attribute("line").unwrap().parse::<u32>().is_ok());
    }
    assert_eq!(failures[0].attribute("type"), Some("oversized"));
    assert!(
        failures[0]
            .attribute("message")
            .unwrap()
            .contains("BrandApi")
    );
    assert_eq!(failures[0].text(), Some("suggested: MemorySize: 256"));
    assert_eq!(failures[1].attribute("type"), Some("undersized"));
}

#[test]
fn cost_regression_against_a_baseline() {
    let dir = tempfile::tempdir().unwrap();
    // The baseline: the same logs priced on arm64 (20% cheaper), so today's x86 costs look up.
    let base = powertune()
        .args([
            "analyze",
            "--function",
            "BrandApi",
            "--arch",
            "arm64",
            "--format",
            "json",
        ])
        .arg(fixture("logs/brand-api.log"))
        .output()
        .unwrap();
    let path = dir.path().join("baseline.json");
    std::fs::write(&path, base.stdout).unwrap();
    let ev = vec![
        "--logs".to_owned(),
        format!("BrandApi={}", fixture("logs/brand-api.log").display()),
        "--baseline".to_owned(),
        path.display().to_string(),
    ];
    let out = check(
        "fixtures/check/sam/template.params.yaml",
        &[
            ev.clone(),
            vec!["--parameter".into(), "BrandApiMemory=256".into()],
        ]
        .concat(),
    );
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("[cost-regression] BrandApi: cost per million invocations"),
        "{text}"
    );
    let out = check(
        "fixtures/check/sam/template.params.yaml",
        &[
            ev,
            vec![
                "--parameter".into(),
                "BrandApiMemory=256".into(),
                "--max-cost-increase".into(),
                "30%".into(),
            ],
        ]
        .concat(),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
