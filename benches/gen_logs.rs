//! `cargo run --release --example gen-logs -- SIZE_MB [SEED] > big.log`: writes about SIZE_MB
//! MiB of realistic Lambda logs (see loggen.rs) for whole-command timings (docs/performance.md).

#[path = "loggen.rs"]
mod loggen;

use std::io::{BufWriter, Write};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(mb) = args.next().and_then(|a| a.parse::<u64>().ok()) else {
        eprintln!("usage: gen-logs SIZE_MB [SEED] > file.log");
        std::process::exit(2);
    };
    let seed = args.next().and_then(|a| a.parse().ok()).unwrap_or(42);
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 20, stdout.lock());
    match loggen::generate(&mut out, mb << 20, seed).and_then(|r| out.flush().map(|_| r)) {
        Ok((bytes, reports)) => eprintln!("wrote {bytes} bytes, {reports} REPORT lines"),
        Err(e) => {
            eprintln!("gen-logs: {e}");
            std::process::exit(1);
        }
    }
}
