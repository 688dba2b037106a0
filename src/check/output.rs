//! What `powertune check` prints and writes: a human summary, GitHub Actions workflow commands
//! (`::error file=…,line=…,title=…::message`) with a Markdown job summary, and JUnit XML for other
//! CI systems. Only formatting here; the verdicts come from [`super::gate`].

use super::gate::{Finding, Status};
use std::fmt::Write;

/// The outcome for one declared function.
#[derive(Debug, Clone)]
pub struct FunctionResult {
    /// Id in the file.
    pub function: String,
    /// File and line of its declaration.
    pub at: super::iac::Loc,
    /// Findings; empty when there was no evidence.
    pub findings: Vec<Finding>,
    /// Why there are no findings (no evidence), if so.
    pub no_evidence: Option<String>,
}

fn rel(p: &std::path::Path) -> String {
    let s = p.display().to_string();
    s.strip_prefix("./").map(str::to_owned).unwrap_or(s)
}

/// The human summary.
pub fn human(results: &[FunctionResult]) -> String {
    let mut out = String::new();
    for r in results {
        if let Some(why) = &r.no_evidence {
            let _ = writeln!(
                out,
                "no evidence  {}  {}:{}  {why}",
                r.function,
                rel(&r.at.file),
                r.at.line
            );
            continue;
        }
        for f in &r.findings {
            let tag = match f.status {
                Status::Pass => "ok     ",
                Status::Fail => "FAIL   ",
                Status::Unknown => "unknown",
            };
            let _ = writeln!(
                out,
                "{tag}  {}:{}  [{}] {}",
                rel(&f.loc.file),
                f.loc.line,
                f.kind,
                f.message
            );
        }
    }
    let fails = results
        .iter()
        .flat_map(|r| &r.findings)
        .filter(|f| f.status == Status::Fail)
        .count();
    let judged = results.iter().filter(|r| r.no_evidence.is_none()).count();
    let missing = results.len() - judged;
    let _ = writeln!(
        out,
        "\n{} in {} of {} functions judged{}.",
        match fails {
            0 => "No rule failed".to_owned(),
            1 => "1 rule failed".to_owned(),
            n => format!("{n} rules failed"),
        },
        judged,
        results.len(),
        if missing > 0 {
            format!(" ({missing} without evidence)")
        } else {
            String::new()
        }
    );
    out
}

/// Escapes a workflow command's message (GitHub: `%`, CR, LF).
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow command's property value (also `:` and `,`).
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// GitHub Actions annotations: an error per failed rule, a warning per rule that could not be
/// judged and per function without evidence.
pub fn github(results: &[FunctionResult]) -> String {
    let mut out = String::new();
    for r in results {
        if let Some(why) = &r.no_evidence {
            let _ = writeln!(
                out,
                "::warning file={},line={},title={}::{}",
                escape_property(&rel(&r.at.file)),
                r.at.line,
                escape_property(&format!("powertune: no evidence for {}", r.function)),
                escape_data(why)
            );
        }
        for f in &r.findings {
            let level = match f.status {
                Status::Fail => "error",
                Status::Unknown => "warning",
                Status::Pass => continue,
            };
            let _ = writeln!(
                out,
                "::{level} file={},line={},title={}::{}",
                escape_property(&rel(&f.loc.file)),
                f.loc.line,
                escape_property(&format!("powertune: {} {}", f.function, f.kind)),
                escape_data(&f.message)
            );
        }
    }
    out
}

/// The Markdown job summary (for `$GITHUB_STEP_SUMMARY`).
pub fn step_summary(results: &[FunctionResult]) -> String {
    let mut out = String::from(
        "### powertune check\n\n| function | rule | result | where | details |\n|---|---|---|---|---|\n",
    );
    let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
    for r in results {
        if let Some(why) = &r.no_evidence {
            let _ = writeln!(
                out,
                "| {} | – | ⚠️ no evidence | {}:{} | {} |",
                cell(&r.function),
                cell(&rel(&r.at.file)),
                r.at.line,
                cell(why)
            );
        }
        for f in &r.findings {
            let res = match f.status {
                Status::Pass => "✅ pass",
                Status::Fail => "❌ fail",
                Status::Unknown => "⚠️ unknown",
            };
            let _ = writeln!(
                out,
                "| {} | {} | {res} | {}:{} | {} |",
                cell(&f.function),
                f.kind,
                cell(&rel(&f.loc.file)),
                f.loc.line,
                cell(&f.message)
            );
        }
    }
    out
}

fn xml(s: &str) -> String {
    crate::export::html::esc(s)
}

/// JUnit XML: one test case per function and rule; failures for failed rules, skipped for rules
/// that could not be judged and functions without evidence.
pub fn junit(results: &[FunctionResult]) -> String {
    let mut cases = String::new();
    let (mut tests, mut failures, mut skipped) = (0, 0, 0);
    for r in results {
        if let Some(why) = &r.no_evidence {
            tests += 1;
            skipped += 1;
            let _ = writeln!(
                cases,
                "    <testcase classname=\"{}\" name=\"{}\" file=\"{}\" line=\"{}\"><skipped message=\"{}\"/></testcase>",
                xml(&rel(&r.at.file)),
                xml(&format!("{}: evidence", r.function)),
                xml(&rel(&r.at.file)),
                r.at.line,
                xml(why)
            );
        }
        for f in &r.findings {
            tests += 1;
            let _ = write!(
                cases,
                "    <testcase classname=\"{}\" name=\"{}\" file=\"{}\" line=\"{}\">",
                xml(&rel(&f.loc.file)),
                xml(&format!("{}: {}", f.function, f.rule)),
                xml(&rel(&f.loc.file)),
                f.loc.line
            );
            match f.status {
                Status::Pass => {}
                Status::Fail => {
                    failures += 1;
                    let detail = f
                        .suggestion
                        .as_ref()
                        .map_or_else(String::new, |s| format!("suggested: {s}"));
                    let _ = write!(
                        cases,
                        "<failure message=\"{}\" type=\"{}\">{}</failure>",
                        xml(&f.message),
                        xml(&f.kind),
                        xml(&detail)
                    );
                }
                Status::Unknown => {
                    skipped += 1;
                    let _ = write!(cases, "<skipped message=\"{}\"/>", xml(&f.message));
                }
            }
            cases.push_str("</testcase>\n");
        }
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"powertune check\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">\n  <testsuite name=\"powertune check\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">\n{cases}  </testsuite>\n</testsuites>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_command_escaping() {
        assert_eq!(escape_data("50% off\nnext"), "50%25 off%0Anext");
        assert_eq!(escape_property("a:b,c"), "a%3Ab%2Cc");
    }
}
