//! Snapshot tests of every exporter on a fixed report (insta): a change to the output shows up
//! as a diff to review, as hyperfine does in src/export/tests.rs.

use super::{Format, exporter};
use crate::analysis::{AnalysisOptions, Collector};
use crate::cost::{Architecture, Pricing};
use crate::parse::scan_bytes;
use crate::report::{Source, TuningReport};
use crate::units::Mb;

/// Two functions: one oversized at 1024 MB, one CPU-bound measured at two sizes with an OOM.
fn reports() -> Vec<TuningReport> {
    let mut log = String::new();
    for i in 0..12u32 {
        log += &format!(
            "2024-05-01T10:{i:02}:00.000Z /aws/lambda/brand-api REPORT RequestId: b{i}\tDuration: {}.25 ms\tBilled Duration: {} ms\tMemory Size: 1024 MB\tMax Memory Used: {} MB\t{}\n",
            40 + i,
            41 + i,
            140 + i,
            if i == 0 {
                "Init Duration: 450.10 ms\t"
            } else {
                ""
            }
        );
        log += &format!(
            "2024-05-01T10:{i:02}:30.000Z /aws/lambda/thumbnailer REPORT RequestId: t{i}\tDuration: {}.50 ms\tBilled Duration: {} ms\tMemory Size: {} MB\tMax Memory Used: 300 MB\t\n",
            if i % 2 == 0 { 1200 + i } else { 640 + i },
            if i % 2 == 0 { 1201 + i } else { 641 + i },
            if i % 2 == 0 { 512 } else { 1024 },
        );
    }
    log += "2024-05-01T10:30:00.000Z /aws/lambda/thumbnailer REPORT RequestId: t99\tDuration: 900.00 ms\tBilled Duration: 900 ms\tMemory Size: 256 MB\tMax Memory Used: 256 MB\tStatus: error\tError Type: Runtime.OutOfMemory\n";
    let opts = AnalysisOptions {
        pricing: Pricing::lookup("us-east-1", Architecture::X86_64).unwrap(),
        ephemeral: Mb(512),
        monthly_invocations: Some(5_000_000.0),
        headroom: 1.5,
        step: 64,
        source: Source::Logs,
        decision: crate::analysis::Decision::RightSize,
        current_memory: None,
        steady_state_cost: false,
    };
    let mut c = Collector::new(None);
    let s = scan_bytes("snapshot.log", log.as_bytes(), &mut |o| c.push(&o));
    c.into_reports(&opts, Some(&s))
}

fn render(f: Format) -> String {
    String::from_utf8(exporter(f).serialize(&reports()).unwrap()).unwrap()
}

#[test]
fn table() {
    insta::assert_snapshot!(render(Format::Table));
}

#[test]
fn markdown() {
    insta::assert_snapshot!(render(Format::Markdown));
}

#[test]
fn csv() {
    insta::assert_snapshot!(render(Format::Csv));
}

#[test]
fn json() {
    insta::assert_snapshot!(render(Format::Json));
}
