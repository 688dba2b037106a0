//! Criterion benchmarks of the log parser on generated logs (loggen.rs), each beside a named
//! baseline measured in the same run on the same bytes:
//! - `memmem_count` — counting `REPORT RequestId` occurrences with SIMD substring search, what
//!   `grep -c` does at best: the floor for any parser that must at least find the lines;
//! - `scan_records` — powertune's scanner producing full invocation records;
//! - `analyze_pipeline` — scanner plus grouping and streaming statistics, what `analyze` does;
//! - `gzip_decode_only` vs `scan_gzip` — decompression alone vs scanning gzip input.

#[path = "loggen.rs"]
mod loggen;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use powertune::analysis::Collector;
use powertune::parse::scan_bytes;
use std::hint::black_box;
use std::io::{Read, Write};

fn logs(mb: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity((mb << 20) as usize + 4096);
    loggen::generate(&mut v, mb << 20, 7).expect("generate");
    v
}

fn bench(c: &mut Criterion) {
    let data = logs(64);
    let mut g = c.benchmark_group("parse_64MiB");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.sample_size(20);
    g.bench_function("memmem_count (baseline)", |b| {
        let f = memchr::memmem::Finder::new(b"REPORT RequestId");
        b.iter(|| black_box(f.find_iter(black_box(&data)).count()))
    });
    g.bench_function("scan_records", |b| {
        b.iter(|| {
            let mut n = 0u64;
            let s = scan_bytes("bench", black_box(&data), &mut |o| {
                n += o.record.duration_ms.is_some() as u64;
            });
            black_box((n, s.records))
        })
    });
    g.bench_function("analyze_pipeline", |b| {
        b.iter(|| {
            let mut col = Collector::new(None);
            scan_bytes("bench", black_box(&data), &mut |o| col.push(&o));
            black_box(col.records())
        })
    });
    g.finish();

    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&data[..16 << 20]).expect("gzip");
    let gz = enc.finish().expect("gzip");
    let mut g = c.benchmark_group("gzip_16MiB");
    g.throughput(Throughput::Bytes(16 << 20));
    g.sample_size(10);
    g.bench_function("gzip_decode_only (baseline)", |b| {
        b.iter(|| {
            let mut d = flate2::read::MultiGzDecoder::new(black_box(&gz[..]));
            let mut sink = vec![0u8; 1 << 20];
            let mut total = 0;
            loop {
                let n = d.read(&mut sink).expect("decode");
                if n == 0 {
                    break;
                }
                total += n;
            }
            black_box(total)
        })
    });
    g.bench_function("scan_gzip", |b| {
        b.iter(|| black_box(scan_bytes("bench", black_box(&gz), &mut |_| {}).records))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    // Criterion's plots need system fonts, which a fresh machine lacks; the numbers are what
    // docs/performance.md records.
    config = Criterion::default().without_plots();
    targets = bench
}
criterion_main!(benches);
