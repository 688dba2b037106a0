//! `powertune run` on AWS, against the moto emulator over real HTTP (SigV4, the real SDK):
//! tests/moto_server.py patches moto so Invoke returns log tails and behaves as each function's
//! script says. Uses $POWERTUNE_MOTO_URL when `.ci/run` started moto, else starts it here.
//! Every test checks that the function ends as it began: configuration, versions, aliases.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The moto endpoint, started once per test binary if `.ci/run` did not.
fn moto() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(u) = std::env::var("POWERTUNE_MOTO_URL") {
            return u;
        }
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let (tx, rx) = std::sync::mpsc::channel();
        // A thread that lives as long as the test binary: moto dies with it (PDEATHSIG).
        std::thread::spawn(move || {
            use std::os::unix::process::CommandExt;
            let mut cmd = Command::new("python3");
            cmd.arg(root().join("tests/moto_server.py"))
                .arg(port.to_string())
                .stdout(Stdio::piped())
                .stderr(Stdio::null());
            unsafe {
                cmd.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
            let mut child = cmd
                .spawn()
                .expect("python3 with moto[server] is needed: pip install 'moto[server]==5.2.5'");
            let mut first = String::new();
            BufReader::new(child.stdout.take().unwrap())
                .read_line(&mut first)
                .unwrap();
            tx.send(first).unwrap();
            // This thread must outlive the tests: PDEATHSIG follows the spawning thread.
            let _ = child.wait();
        });
        let first = rx.recv_timeout(Duration::from_secs(60)).unwrap();
        assert!(
            first.contains("moto listening"),
            "moto did not start (is moto[server] installed?): {first:?}"
        );
        format!("http://127.0.0.1:{port}")
    })
}

fn fixture(args: &[&str]) -> String {
    let out = Command::new("python3")
        .arg(root().join("tests/moto_fixture.py"))
        .arg(moto())
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "moto_fixture {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A function with its own name, behaving as `script` says.
fn function(name: &str, script: &str) -> String {
    let name = format!("{name}-{}", std::process::id());
    fixture(&["create", &name, script]);
    name
}

fn state(name: &str) -> Value {
    serde_json::from_str(&fixture(&["state", name])).unwrap()
}

struct Env {
    state_dir: tempfile::TempDir,
}

fn env() -> Env {
    Env {
        state_dir: tempfile::tempdir().unwrap(),
    }
}

impl Env {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_powertune"));
        c.args(args)
            .args(["--endpoint-url", moto()])
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_ENDPOINT_URL")
            .env("AWS_CONFIG_FILE", "/nonexistent")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
            .env("POWERTUNE_STATE_DIR", self.state_dir.path());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    fn journals(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.state_dir.path())
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default()
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn config(report: &Value, mb: u64) -> &Value {
    report["configs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["memory_mb"] == mb)
        .unwrap_or_else(|| panic!("no {mb} MB in {report}"))
}

/// Asserts the function is as it was and no journal is left.
fn assert_restored(e: &Env, name: &str, before: &Value) {
    assert_eq!(&state(name), before, "{name} changed");
    assert!(e.journals().is_empty(), "journal left: {:?}", e.journals());
}

#[test]
fn run_recommends_and_leaves_the_function_as_it_was() {
    let e = env();
    let f = function("plain", r#"{"cpu_ms": 100, "mem_mb": 80}"#);
    let before = state(&f);
    let out = e.run(&[
        "run",
        "--function",
        &f,
        "--memory",
        "128,512,1024",
        "--invocations",
        "5",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Recommendation: "), "{stdout}");
    assert!(
        stdout.contains("128 MB") && stdout.contains("1024 MB"),
        "{stdout}"
    );
    assert_restored(&e, &f, &before);
}

#[test]
fn failed_sizes_are_reported_and_the_others_compared() {
    let e = env();
    let f = function(
        "failing",
        r#"{"cpu_ms": 50, "mem_mb": 100, "oom_below": 256, "error_at": [512]}"#,
    );
    let before = state(&f);
    let out = e.run(&[
        "run",
        "--function",
        &f,
        "--memory",
        "128,512,1024,2048",
        "--invocations",
        "4",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let oom = config(&r, 128);
    assert_eq!(oom["out_of_memory"], 4, "{oom}");
    let err = config(&r, 512);
    assert_eq!(err["errors"], 4, "{err}");
    assert_eq!(err["error_types"]["ValueError"], 4, "{err}");
    for mb in [1024, 2048] {
        assert_eq!(config(&r, mb)["errors"], 0);
        assert_eq!(config(&r, mb)["invocations"], 4);
    }
    let rec = r["recommendation"]["memory_mb"].as_u64().unwrap();
    assert!(rec == 1024 || rec == 2048, "recommended {rec}");
    assert_restored(&e, &f, &before);
}

#[test]
fn dry_run_changes_nothing() {
    let e = env();
    let f = function("dry", r#"{"cpu_ms": 10}"#);
    let before = state(&f);
    let out = e.run(&[
        "run",
        "--function",
        &f,
        "--memory",
        "128..512:128",
        "--dry-run",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for want in [
        "Dry run: nothing will be changed",
        "4 sizes (128, 256, 384, 512 MB) × 10 invocations = 40 invocations",
        "Control-plane calls: about 32",
        "Cost: requests $0.000008000;",
    ] {
        assert!(stdout.contains(want), "{want:?} missing from:\n{stdout}");
    }
    assert_eq!(state(&f), before);
    assert!(e.journals().is_empty());
}

#[test]
fn json_logs_and_cut_tails_are_read_from_cloudwatch_logs() {
    for (label, script) in [
        (
            "jsonlogs",
            r#"{"cpu_ms": 40, "mem_mb": 70, "log_format": "JSON", "logs_delay_ms": 1500}"#,
        ),
        (
            "cuttail",
            r#"{"cpu_ms": 40, "mem_mb": 70, "cut_tail": true}"#,
        ),
    ] {
        let e = env();
        let f = function(label, script);
        let before = state(&f);
        let out = e.run(&[
            "run",
            "--function",
            &f,
            "--memory",
            "256,1024",
            "--invocations",
            "3",
            "--format",
            "json",
        ]);
        assert_eq!(out.status.code(), Some(0), "{label}: {}", stderr(&out));
        let r: Value = serde_json::from_slice(&out.stdout).unwrap();
        for mb in [256, 1024] {
            let c = config(&r, mb);
            assert_eq!(c["invocations"], 3, "{label} {mb}: {c}");
            assert!(
                c["max_memory_used_mb"]["max"].as_f64().unwrap() >= 70.0,
                "{c}"
            );
        }
        // Duration follows memory: these numbers came from the REPORT records.
        let d = |mb| config(&r, mb)["duration_ms"]["mean"].as_f64().unwrap();
        assert!(d(256) > 2.0 * d(1024), "{label}: {} vs {}", d(256), d(1024));
        assert_restored(&e, &f, &before);
    }
}

#[test]
fn throttling_and_updates_in_progress_are_waited_out() {
    let e = env();
    let f = function(
        "throttled",
        r#"{"cpu_ms": 20, "mem_mb": 60, "throttle_every": 3, "in_progress": 2, "conflicts": 3}"#,
    );
    let before = state(&f);
    let out = e.run(&[
        "run",
        "--function",
        &f,
        "--memory",
        "256,512",
        "--invocations",
        "6",
        "--concurrency",
        "3",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    for mb in [256, 512] {
        assert_eq!(config(&r, mb)["invocations"], 6);
        assert_eq!(config(&r, mb)["errors"], 0);
    }
    // The faults really happened: every 3rd of the 12 invokes got a 429, each update was seen
    // InProgress before it finished, and the first three updates or publishes got a 409.
    let faults: Value = serde_json::from_str(&fixture(&["faults", &f])).unwrap();
    assert_eq!(faults["conflict"], 3, "{faults}");
    assert!(faults["throttle"].as_u64().unwrap() >= 4, "{faults}");
    assert!(faults["in_progress"].as_u64().unwrap() >= 6, "{faults}");
    assert_restored(&e, &f, &before);
}

/// Starts a run, waits until `script_wait` holds for its journal, then sends each of `signals`,
/// 300 ms apart.
fn interrupt(e: &Env, f: &str, script_wait: impl Fn(&[String]) -> bool, signals: &[i32]) -> Output {
    let child = e
        .cmd(&[
            "run",
            "--function",
            f,
            "--memory",
            "128,256,512,1024",
            "--invocations",
            "20",
            "--concurrency",
            "2",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        let lines: Vec<String> = e
            .journals()
            .first()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .map(|s| s.lines().map(str::to_owned).collect())
            .unwrap_or_default();
        if script_wait(&lines) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the run never got there; journal: {lines:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    for (i, &signal) in signals.iter().enumerate() {
        if i > 0 {
            std::thread::sleep(Duration::from_millis(300));
        }
        unsafe {
            libc::kill(child.id() as i32, signal);
        }
    }
    child.wait_with_output().unwrap()
}

fn has(lines: &[String], op: &str) -> usize {
    lines
        .iter()
        .filter(|l| l.contains(&format!("\"op\":\"{op}\"")))
        .count()
}

#[test]
fn ctrl_c_during_deployment_undoes_everything() {
    let e = env();
    // Each update stays InProgress for 2 polls (2 s): plenty of time to interrupt mid-deployment.
    let f = function("sigint-deploy", r#"{"cpu_ms": 10, "in_progress": 2}"#);
    let before = state(&f);
    let out = interrupt(&e, &f, |l| has(l, "alias_created") >= 1, &[libc::SIGINT]);
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(stderr(&out).contains("deleting alias"), "{}", stderr(&out));
    assert_restored(&e, &f, &before);
}

#[test]
fn ctrl_c_during_invocations_undoes_everything() {
    let e = env();
    let f = function("sigint-invoke", r#"{"cpu_ms": 10, "sleep_ms": 300}"#);
    let before = state(&f);
    let out = interrupt(
        &e,
        &f,
        |l| {
            if has(l, "latest_restored") == 0 {
                return false;
            }
            std::thread::sleep(Duration::from_millis(800));
            true
        },
        &[libc::SIGINT],
    );
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert_restored(&e, &f, &before);
}

#[test]
fn sigterm_is_handled_like_ctrl_c() {
    let e = env();
    let f = function("sigterm", r#"{"cpu_ms": 10, "in_progress": 1}"#);
    let before = state(&f);
    let out = interrupt(&e, &f, |l| has(l, "published") >= 2, &[libc::SIGTERM]);
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert_restored(&e, &f, &before);
}

#[test]
fn kill_9_then_cleanup_restores_the_function() {
    let e = env();
    let f = function("kill9", r#"{"cpu_ms": 10, "in_progress": 1}"#);
    let before = state(&f);
    // Killed between a publish and its alias: $LATEST changed, versions and an alias exist.
    let out = interrupt(&e, &f, |l| has(l, "alias_created") >= 2, &[libc::SIGKILL]);
    assert_eq!(out.status.code(), None, "killed by a signal");
    let during = state(&f);
    assert_ne!(during, before, "the kill left nothing to clean up");
    assert_eq!(e.journals().len(), 1);
    let out = e.run(&["cleanup", "--function", &f]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("restoring"), "{}", stderr(&out));
    assert_restored(&e, &f, &before);
    // A second cleanup finds nothing to do.
    let out = e.run(&["cleanup", "--function", &f]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("no unfinished run"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_second_run_refuses_while_a_journal_is_left() {
    let e = env();
    let f = function("leftover", r#"{"cpu_ms": 10, "in_progress": 1}"#);
    let before = state(&f);
    interrupt(&e, &f, |l| has(l, "published") >= 1, &[libc::SIGKILL]);
    let out = e.run(&[
        "run",
        "--function",
        &f,
        "--memory",
        "256",
        "--invocations",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("powertune cleanup --function"),
        "{}",
        stderr(&out)
    );
    assert_eq!(e.run(&["cleanup", "--function", &f]).status.code(), Some(0));
    assert_restored(&e, &f, &before);
}

#[test]
fn missing_function_and_missing_credentials_are_usage_errors() {
    let e = env();
    let out = e.run(&["run", "--function", "no-such-function", "--memory", "256"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
    let out = e
        .cmd(&["run", "--function", "x", "--memory", "256"])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no AWS credentials"),
        "{}",
        stderr(&out)
    );
    let out = e
        .cmd(&["run", "--function", "x", "--memory", "256"])
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no AWS region"), "{}", stderr(&out));
}

#[test]
fn export_json_holds_every_completed_size_and_apply_sets_memory() {
    let e = env();
    let f = function("apply", r#"{"cpu_ms": 30, "mem_mb": 90}"#);
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("run.json");
    let out = e.run(&[
        "run",
        "--function",
        &f,
        "--memory",
        "256,512",
        "--invocations",
        "3",
        "--export-json",
        export.to_str().unwrap(),
        "--apply",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r: Value = serde_json::from_slice(&std::fs::read(&export).unwrap()).unwrap();
    assert_eq!(r["configs"].as_array().unwrap().len(), 2);
    let rec = r["recommendation"]["memory_mb"].as_u64().unwrap();
    let after = state(&f);
    assert_eq!(after["memory"], rec, "--apply set {after}");
    assert_eq!(after["description"], "production config");
    assert_eq!(after["versions"].as_array().unwrap().len(), 2, "{after}");
    assert!(e.journals().is_empty());
}

#[test]
fn cold_starts_mode_gives_every_invocation_a_fresh_version() {
    let e = env();
    let f = function("cold", r#"{"cpu_ms": 20, "mem_mb": 60, "init_ms": 400}"#);
    let before = state(&f);
    let out = e.run(&[
        "run",
        "--function",
        &f,
        "--memory",
        "256,1024",
        "--invocations",
        "3",
        "--cold-starts",
        "--dry-run",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let plan = String::from_utf8_lossy(&out.stdout);
    assert!(
        plan.contains("6 versions published, one per invocation"),
        "{plan}"
    );
    assert!(plan.contains("Control-plane calls: about 34"), "{plan}");
    let out = e.run(&[
        "run",
        "--function",
        &f,
        "--memory",
        "256,1024",
        "--invocations",
        "3",
        "--cold-starts",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    for mb in [256, 1024] {
        let c = config(&r, mb);
        assert_eq!(c["invocations"], 3, "{c}");
        assert_eq!(c["cold_starts"], 3, "every invocation is a cold start: {c}");
        let init = c["init_duration_ms"]["mean"].as_f64().unwrap();
        assert!((350.0..450.0).contains(&init), "init {init}");
    }
    assert_restored(&e, &f, &before);
}

#[test]
fn apply_alias_moves_the_users_alias_and_keeps_only_that_version() {
    let e = env();
    let f = function("applyalias", r#"{"cpu_ms": 30, "mem_mb": 90}"#);
    let before = state(&f);
    let out = e.run(&[
        "run",
        "--function",
        &f,
        "--memory",
        "256,512",
        "--invocations",
        "3",
        "--format",
        "json",
        "--apply-alias",
        "live",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rec = r["recommendation"]["memory_mb"].as_u64().unwrap();
    let after = state(&f);
    // $LATEST as it was; one new version with the recommended memory, and `live` on it.
    assert_eq!(after["memory"], before["memory"], "{after}");
    assert_eq!(after["description"], before["description"], "{after}");
    let versions = after["versions"].as_array().unwrap();
    assert_eq!(
        versions.len(),
        before["versions"].as_array().unwrap().len() + 1
    );
    let new = versions.last().unwrap();
    assert_eq!(new[1], rec, "{after}");
    let live = after["aliases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a[0] == "live")
        .unwrap();
    assert_eq!(live[1], new[0], "{after}");
    assert!(e.journals().is_empty());
}

#[test]
fn weighted_payload_classes_keep_their_own_statistics() {
    let e = env();
    let f = function("payloads", r#"{"cpu_ms": 20, "mem_mb": 60}"#);
    let before = state(&f);
    let dir = tempfile::tempdir().unwrap();
    let set = dir.path().join("payloads.json");
    std::fs::write(
        &set,
        r#"[{"name": "light", "weight": 3, "payload": {"cpu_ms": 10}},
            {"name": "heavy", "weight": 1, "payload": {"cpu_ms": 400}}]"#,
    )
    .unwrap();
    let out = e.run(&[
        "run",
        "--function",
        &f,
        "--memory",
        "512,1024",
        "--invocations",
        "8",
        "--concurrency",
        "4",
        "--payload",
        &format!("@{}", set.display()),
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let reports = v
        .as_array()
        .expect("one report per class after the pooled one");
    assert_eq!(reports.len(), 3);
    assert_eq!(reports[0]["function"], f.as_str());
    let named = |n: &str| {
        reports
            .iter()
            .find(|r| r["function"] == format!("{f} [payload {n}]"))
            .unwrap_or_else(|| panic!("no {n} report in {v}"))
    };
    for mb in [512, 1024] {
        assert_eq!(config(&reports[0], mb)["invocations"], 8);
        assert_eq!(config(named("light"), mb)["invocations"], 6);
        assert_eq!(config(named("heavy"), mb)["invocations"], 2);
        // The heavy class is measured as heavy: its own statistics, never averaged away.
        let heavy = &config(named("heavy"), mb)["duration_ms"]["max"];
        let light = &config(named("light"), mb)["duration_ms"]["max"];
        assert!(
            heavy.as_f64().unwrap() > 10.0 * light.as_f64().unwrap(),
            "{heavy} vs {light}"
        );
    }
    assert_restored(&e, &f, &before);
}

#[test]
fn check_reads_evidence_from_cloudwatch_logs() {
    let e = env();
    // Uses 60-63 MB of its 1024 MB: oversized by the right-sizing rule (1.5 × 63 → 128 MB).
    let f = function("gate", r#"{"cpu_ms": 50, "mem_mb": 60}"#);
    fixture(&["invoke", &f, "12"]);
    let dir = tempfile::tempdir().unwrap();
    let toml = dir.path().join("powertune.toml");
    let write = |mb: u32, timeout: u32| {
        std::fs::write(
            &toml,
            format!("[functions.{f}]\nmemory_mb = {mb}\ntimeout_s = {timeout}\n"),
        )
        .unwrap()
    };
    write(1024, 3);
    let args = [
        "check",
        toml.to_str().unwrap(),
        "--from-cloudwatch",
        "--since",
        "1d",
        "--monthly-invocations",
        "50000000",
        "--format",
        "human",
    ];
    let out = e.run(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", stderr(&out));
    assert!(
        stdout.contains("[oversized]") && stdout.contains("128"),
        "{stdout}"
    );
    assert!(
        stderr(&out).contains(&format!("12 REPORT records from /aws/lambda/{f}")),
        "{}",
        stderr(&out)
    );
    write(128, 1);
    let out = e.run(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        stderr(&out)
    );
    // A function that never logged: no evidence, so no verdict (exit 2), and it says why.
    std::fs::write(&toml, "[functions.never-deployed]\nmemory_mb = 512\n").unwrap();
    let out = e.run(&args);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
}

#[test]
fn a_second_ctrl_c_stops_at_once_and_says_how_to_finish() {
    let e = env();
    // Every update stays InProgress for 3 polls (3 s), so the undo is still going on when the
    // second Ctrl-C arrives.
    let f = function("sigint-twice", r#"{"cpu_ms": 10, "in_progress": 3}"#);
    let before = state(&f);
    let out = interrupt(
        &e,
        &f,
        |l| has(l, "alias_created") >= 1,
        &[libc::SIGINT, libc::SIGINT],
    );
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("stopped with this still to undo"), "{err}");
    assert!(
        err.contains(&format!("powertune cleanup --function {f}")),
        "{err}"
    );
    assert_eq!(e.journals().len(), 1, "the journal stays for cleanup");
    let out = e.run(&["cleanup", "--function", &f]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_restored(&e, &f, &before);
}
