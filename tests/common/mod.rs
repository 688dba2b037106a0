//! Helpers shared by the CLI tests: running the binary and reading its JSON Lines.

#![allow(dead_code)]

use assert_cmd::Command;
use serde_json::Value;
use std::path::PathBuf;

/// The project root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fixture path.
pub fn fixture(rel: &str) -> PathBuf {
    root().join("fixtures").join(rel)
}

/// The powertune binary, with no AWS region in its environment.
pub fn powertune() -> Command {
    let mut c = Command::cargo_bin("powertune").expect("binary");
    c.env_remove("AWS_REGION").env_remove("AWS_DEFAULT_REGION");
    c
}

/// Runs `powertune parse` on paths; returns the records (must succeed).
pub fn parse(paths: &[PathBuf]) -> Vec<Value> {
    let out = powertune()
        .arg("parse")
        .arg("-q")
        .args(paths)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "parse failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}
