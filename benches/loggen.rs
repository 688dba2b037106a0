//! Generates realistic Lambda logs for benchmarks: an `aws logs tail` capture (timestamp, stream,
//! message) of START, application, END and REPORT lines, with cold starts (Init Duration), an
//! XRAY line now and then, occasional timeouts and errors, over several memory sizes. Deterministic
//! for a seed, so runs compare like with like.

use std::io::{self, Write};

/// A small xorshift generator: no dependency, same sequence everywhere.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

const APP_LINES: &[&str] = &[
    "INFO\tGET /brands/{} 200 in {} ms",
    "INFO\tcache miss for key brand:{} (ttl {} s)",
    "DEBUG\tquery SELECT id, name, logo_url FROM brands WHERE id = {} took {} ms",
    "WARN\tretrying DynamoDB GetItem after ProvisionedThroughputExceededException (attempt {}, backoff {} ms)",
    "INFO\t{\"event\":\"request\",\"path\":\"/brands/{}\",\"status\":200,\"latency_ms\":{}}",
];

fn ts(ms: u64) -> String {
    // 2024-05-01T00:00:00Z + ms, formatted as aws logs tail does.
    let s = ms / 1000;
    let (h, m, sec) = ((s / 3600) % 24, (s / 60) % 60, s % 60);
    let day = 1 + s / 86_400 % 28;
    format!(
        "2024-05-{day:02}T{h:02}:{m:02}:{sec:02}.{:03}000+00:00",
        ms % 1000
    )
}

/// Writes about `target` bytes of logs; returns (bytes, REPORT lines) written.
pub fn generate<W: Write>(out: &mut W, target: u64, seed: u64) -> io::Result<(u64, u64)> {
    let mut rng = Rng::new(seed);
    let mut written = 0u64;
    let mut reports = 0u64;
    let mut t = 0u64;
    let sizes = [128u32, 512, 1024, 1769];
    let mut buf = String::with_capacity(4096);
    while written < target {
        buf.clear();
        t += 1 + rng.next() % 40;
        let mem = sizes[(rng.next() % sizes.len() as u64) as usize];
        let id = format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            rng.next() as u32,
            rng.next() as u16,
            rng.next() % 0x1000,
            rng.next() % 0x1000,
            rng.next() % 0x1_0000_0000_0000
        );
        let stream = format!(
            "2024/05/01/[$LATEST]{:032x}",
            (reports / 500) as u128 * 0x9e37_79b9_7f4a_7c15
        );
        let now = ts(t);
        buf.push_str(&format!(
            "{now} {stream} START RequestId: {id} Version: $LATEST\n"
        ));
        for _ in 0..1 + rng.next() % 3 {
            let tmpl = APP_LINES[(rng.next() % APP_LINES.len() as u64) as usize];
            let line = tmpl
                .replacen("{}", &(rng.next() % 1000).to_string(), 1)
                .replacen("{}", &(rng.next() % 300).to_string(), 1);
            buf.push_str(&format!("{now} {stream} {now}\t{id}\t{line}\n"));
        }
        buf.push_str(&format!("{now} {stream} END RequestId: {id}\n"));
        let base = 20.0 + 2000.0 * (128.0 / f64::from(mem)).min(1.0) * rng.unit();
        let dur = (base * 100.0).round() / 100.0;
        let cold = rng.next().is_multiple_of(50);
        let init = if cold {
            Some(150.0 + rng.unit() * 400.0)
        } else {
            None
        };
        let used = 60 + rng.next() % 60;
        let billed = (dur + init.unwrap_or(0.0)).ceil() as u64;
        buf.push_str(&format!(
            "{now} {stream} REPORT RequestId: {id}\tDuration: {dur:.2} ms\tBilled Duration: {billed} ms\tMemory Size: {mem} MB\tMax Memory Used: {used} MB\t"
        ));
        if let Some(i) = init {
            buf.push_str(&format!("Init Duration: {i:.2} ms\t"));
        }
        match rng.next() % 1000 {
            0 => buf.push_str("Status: timeout"),
            1 => buf.push_str("Status: error\tError Type: Runtime.ExitError"),
            _ => {}
        }
        buf.push('\n');
        if rng.next().is_multiple_of(10) {
            buf.push_str(&format!(
                "{now} {stream} XRAY TraceId: 1-6630f3a0-{:024x}\tSegmentId: {:016x}\tSampled: true\n",
                rng.next() as u128,
                rng.next()
            ));
        }
        out.write_all(buf.as_bytes())?;
        written += buf.len() as u64;
        reports += 1;
    }
    Ok((written, reports))
}
