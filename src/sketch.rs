//! Quantiles in bounded memory. Up to [`EXACT_CAP`] samples are kept as they are and quantiles
//! are exact (linear interpolation between order statistics, "type 7", as numpy and spreadsheets
//! compute them). Past that the samples move into a DDSketch-style log-bucketed histogram whose
//! answers are within [`RELATIVE_ACCURACY`] (0.5%) of the exact order statistic at rank
//! ⌊q·(n−1)⌋: memory stays at a few kilobytes however many invocations a log holds.

/// Samples kept exactly before switching to the sketch.
pub const EXACT_CAP: usize = 65_536;

/// The sketch's guaranteed relative error once it holds more than [`EXACT_CAP`] samples.
pub const RELATIVE_ACCURACY: f64 = 0.005;

/// Values below this are counted as zero (durations are reported to 0.01 ms at best).
const MIN_POSITIVE: f64 = 1e-6;

/// A quantile estimator: exact while small, relative-error-bounded when large.
#[derive(Debug, Clone, Default)]
pub struct QuantileSketch {
    exact: Vec<f64>,
    buckets: Option<Buckets>,
}

#[derive(Debug, Clone)]
struct Buckets {
    ln_gamma: f64,
    gamma: f64,
    offset: i32,
    counts: Vec<u64>,
    zeros: u64,
    total: u64,
    /// The last value and its bucket: memory figures repeat, and a logarithm is not free.
    last: (f64, i32),
}

impl Buckets {
    fn new() -> Self {
        let gamma = (1.0 + RELATIVE_ACCURACY) / (1.0 - RELATIVE_ACCURACY);
        Buckets {
            ln_gamma: gamma.ln(),
            gamma,
            offset: 0,
            counts: Vec::new(),
            zeros: 0,
            total: 0,
            last: (f64::NAN, 0),
        }
    }

    fn insert(&mut self, v: f64) {
        self.total += 1;
        if v.is_nan() || v < MIN_POSITIVE {
            self.zeros += 1;
            return;
        }
        let idx = if v == self.last.0 {
            self.last.1
        } else {
            let idx = (v.ln() / self.ln_gamma).ceil() as i32;
            self.last = (v, idx);
            idx
        };
        if self.counts.is_empty() {
            self.offset = idx;
            self.counts.push(0);
        }
        if idx < self.offset {
            let grow = (self.offset - idx) as usize;
            let mut c = vec![0; grow];
            c.extend_from_slice(&self.counts);
            self.counts = c;
            self.offset = idx;
        }
        let pos = (idx - self.offset) as usize;
        if pos >= self.counts.len() {
            self.counts.resize(pos + 1, 0);
        }
        self.counts[pos] += 1;
    }

    fn quantile(&self, q: f64) -> f64 {
        let rank = (q * (self.total - 1) as f64).floor() as u64;
        if rank < self.zeros {
            return 0.0;
        }
        let mut seen = self.zeros;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen > rank {
                let idx = self.offset + i as i32;
                return 2.0 * self.gamma.powi(idx) / (self.gamma + 1.0);
            }
        }
        let idx = self.offset + self.counts.len() as i32 - 1;
        2.0 * self.gamma.powi(idx) / (self.gamma + 1.0)
    }
}

impl QuantileSketch {
    /// An empty sketch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one sample.
    pub fn insert(&mut self, v: f64) {
        if let Some(b) = &mut self.buckets {
            b.insert(v);
            return;
        }
        self.exact.push(v);
        if self.exact.len() > EXACT_CAP {
            let mut b = Buckets::new();
            for &x in &self.exact {
                b.insert(x);
            }
            self.exact = Vec::new();
            self.buckets = Some(b);
        }
    }

    /// Samples seen.
    pub fn count(&self) -> u64 {
        match &self.buckets {
            Some(b) => b.total,
            None => self.exact.len() as u64,
        }
    }

    /// Whether quantiles are exact (false once the sketch took over).
    pub fn is_exact(&self) -> bool {
        self.buckets.is_none()
    }

    /// The q-quantiles (each q in 0..=1) of the samples; None when there are none.
    pub fn quantiles(&self, qs: &[f64]) -> Option<Vec<f64>> {
        if self.count() == 0 {
            return None;
        }
        if let Some(b) = &self.buckets {
            return Some(qs.iter().map(|&q| b.quantile(q.clamp(0.0, 1.0))).collect());
        }
        let mut v = self.exact.clone();
        v.sort_unstable_by(f64::total_cmp);
        Some(qs.iter().map(|&q| type7(&v, q.clamp(0.0, 1.0))).collect())
    }
}

/// Quantile by linear interpolation between order statistics (Hyndman & Fan type 7).
fn type7(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_while_small() {
        let mut s = QuantileSketch::new();
        for v in [1.0, 2.0, 3.0, 4.0, 10.0] {
            s.insert(v);
        }
        assert!(s.is_exact());
        let q = s.quantiles(&[0.0, 0.5, 0.9, 1.0]).unwrap();
        for (got, want) in q.iter().zip([1.0, 3.0, 7.6, 10.0]) {
            assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        }
        assert!(QuantileSketch::new().quantiles(&[0.5]).is_none());
    }

    /// The documented bound: past EXACT_CAP samples every answer is within RELATIVE_ACCURACY of
    /// the exact order statistic at rank floor(q(n-1)), on a heavy-tailed distribution.
    #[test]
    fn sketch_error_is_within_the_documented_bound() {
        let mut s = QuantileSketch::new();
        let mut all = Vec::new();
        let mut seed = 0x9E3779B97F4A7C15u64;
        for _ in 0..1_000_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let u = (seed >> 11) as f64 / (1u64 << 53) as f64;
            // Log-normal-ish durations from 0.5 ms to minutes, plus some zeros.
            let v = if u < 0.001 {
                0.0
            } else {
                (u * 12.0).exp() * 0.5
            };
            s.insert(v);
            all.push(v);
        }
        assert!(!s.is_exact());
        all.sort_unstable_by(f64::total_cmp);
        let qs = [0.0, 0.01, 0.1, 0.5, 0.9, 0.99, 0.999, 1.0];
        let got = s.quantiles(&qs).unwrap();
        for (q, g) in qs.iter().zip(got) {
            let exact = all[(q * (all.len() - 1) as f64).floor() as usize];
            let err = if exact == 0.0 {
                g
            } else {
                (g - exact).abs() / exact
            };
            assert!(
                err <= RELATIVE_ACCURACY + 1e-12,
                "q={q}: got {g}, exact {exact}, err {err}"
            );
        }
    }
}
