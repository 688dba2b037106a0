//! `cargo run --release --example gunzip -- FILE.gz`: decompresses with the same decoder powertune
//! uses (flate2 on zlib-rs, multi-member) and discards the output. The baseline for "gzip input
//! runs at the speed of decompression" in docs/performance.md.

use std::io::Read;

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: gunzip FILE.gz");
        std::process::exit(2);
    };
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("gunzip: {path}: {e}");
            std::process::exit(2);
        }
    };
    let mut d =
        flate2::bufread::MultiGzDecoder::new(std::io::BufReader::with_capacity(64 * 1024, file));
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        match d.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => total += n as u64,
            Err(e) => {
                eprintln!("gunzip: {e}");
                std::process::exit(1);
            }
        }
    }
    println!("{total}");
}
