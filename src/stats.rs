//! Streaming statistics of one metric (duration, billed duration, memory used, init duration):
//! count, mean and variance by Welford's method, min/max, quantiles from [`QuantileSketch`], and a
//! 95% confidence interval of the mean from Student's t distribution. Memory stays bounded
//! whatever the number of samples.

use crate::sketch::QuantileSketch;
use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};

/// Mean and its confidence interval of a metric whose distribution is not reported (billed
/// duration): Welford's running mean and variance, in constant memory.
#[derive(Debug, Clone, Copy, Default)]
pub struct Mean {
    n: u64,
    mean: f64,
    m2: f64,
}

impl Mean {
    /// Adds one sample.
    pub fn push(&mut self, x: f64) {
        self.n += 1;
        let d = x - self.mean;
        self.mean += d / self.n as f64;
        self.m2 += d * (x - self.mean);
    }

    /// Mean, None when empty.
    pub fn mean(&self) -> Option<f64> {
        (self.n > 0).then_some(self.mean)
    }

    /// 95% confidence interval of the mean (Student's t, low end clamped at 0); None for fewer
    /// than two samples.
    pub fn ci95(&self) -> Option<[f64; 2]> {
        ci95(self.n, self.mean, self.m2)
    }
}

/// Student's t 95% interval of a mean from Welford's state; the low end is clamped at 0 because
/// every metric here (durations, memory) is non-negative, and a wide interval of a skewed sample
/// (a few slow invocations among fast ones) must not claim the mean could be negative.
fn ci95(n: u64, mean: f64, m2: f64) -> Option<[f64; 2]> {
    (n > 1).then(|| {
        let sd = (m2 / (n - 1) as f64).sqrt();
        let t = StudentsT::new(0.0, 1.0, (n - 1) as f64)
            .map(|d| d.inverse_cdf(0.975))
            .unwrap_or(1.96);
        let half = t * sd / (n as f64).sqrt();
        [(mean - half).max(0.0), mean + half]
    })
}

/// Accumulates samples of one metric.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    n: u64,
    mean: f64,
    m2: f64,
    min: f64,
    max: f64,
    sum: f64,
    sketch: QuantileSketch,
}

/// The distribution of one metric, in the metric's unit (ms or MB, as the field name says).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Distribution {
    /// Samples.
    pub count: u64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation (n−1); 0 for one sample.
    pub stddev: f64,
    /// Smallest sample.
    pub min: f64,
    /// 10th percentile.
    pub p10: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest sample.
    pub max: f64,
    /// 95% confidence interval of the mean, [low, high] (Student's t, the low end clamped at 0
    /// since every metric is non-negative); null for one sample.
    pub ci95: Option<[f64; 2]>,
    /// Whether the percentiles are exact; false once a group exceeds 65,536 samples and the
    /// quantile sketch (≤0.5% relative error) takes over.
    pub exact: bool,
}

impl Summary {
    /// An empty summary.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one sample.
    pub fn push(&mut self, x: f64) {
        if self.n == 0 {
            self.min = x;
            self.max = x;
        } else {
            self.min = self.min.min(x);
            self.max = self.max.max(x);
        }
        self.n += 1;
        self.sum += x;
        let d = x - self.mean;
        self.mean += d / self.n as f64;
        self.m2 += d * (x - self.mean);
        self.sketch.insert(x);
    }

    /// Samples seen.
    pub fn count(&self) -> u64 {
        self.n
    }

    /// Sum of the samples.
    pub fn sum(&self) -> f64 {
        self.sum
    }

    /// Mean, None when empty.
    pub fn mean(&self) -> Option<f64> {
        (self.n > 0).then_some(self.mean)
    }

    /// Largest sample, None when empty.
    pub fn max(&self) -> Option<f64> {
        (self.n > 0).then_some(self.max)
    }

    /// Quantiles of the samples, None when empty.
    pub fn quantiles(&self, qs: &[f64]) -> Option<Vec<f64>> {
        self.sketch.quantiles(qs)
    }

    /// The full description, None when empty.
    pub fn describe(&self) -> Option<Distribution> {
        let q = self.sketch.quantiles(&[0.1, 0.5, 0.9, 0.99, 0.999])?;
        let stddev = if self.n > 1 {
            (self.m2 / (self.n - 1) as f64).sqrt()
        } else {
            0.0
        };
        let ci95 = ci95(self.n, self.mean, self.m2);
        // Sketch answers are clamped to the exact extremes.
        let clamp = |v: f64| v.clamp(self.min, self.max);
        Some(Distribution {
            count: self.n,
            mean: self.mean,
            stddev,
            min: self.min,
            p10: clamp(q[0]),
            p50: clamp(q[1]),
            p90: clamp(q[2]),
            p99: clamp(q[3]),
            p999: clamp(q[4]),
            max: self.max,
            ci95,
            exact: self.sketch.is_exact(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_sd_and_ci_match_hand_computation() {
        let mut s = Summary::new();
        for x in [10.0, 12.0, 14.0, 16.0, 18.0] {
            s.push(x);
        }
        let d = s.describe().unwrap();
        assert_eq!(d.mean, 14.0);
        // sd = sqrt(40/4) = 3.1623; t(0.975, 4) = 2.7764; half = 2.7764*3.1623/sqrt(5) = 3.9265
        assert!((d.stddev - 10f64.sqrt()).abs() < 1e-12);
        let [lo, hi] = d.ci95.unwrap();
        assert!((lo - (14.0 - 3.9265)).abs() < 1e-3, "{lo}");
        assert!((hi - (14.0 + 3.9265)).abs() < 1e-3, "{hi}");
        assert_eq!(d.p50, 14.0);
        assert_eq!(d.max, 18.0);
        assert!(d.exact);
    }

    #[test]
    fn the_interval_never_goes_below_zero() {
        let mut s = Summary::new();
        // Brand-api at 128 MB: mostly sub-millisecond, two invocations throttled by the CPU quota.
        for x in [0.4, 0.5, 0.45, 0.48, 0.5, 0.47, 0.49, 83.0, 90.0] {
            s.push(x);
        }
        let [lo, hi] = s.describe().unwrap().ci95.unwrap();
        assert_eq!(lo, 0.0);
        assert!(hi > 40.0, "{hi}");
    }

    #[test]
    fn mean_alone_has_the_same_interval() {
        let (mut m, mut s) = (Mean::default(), Summary::new());
        for x in [100.0, 101.0, 103.0, 99.0, 120.0] {
            m.push(x);
            s.push(x);
        }
        let d = s.describe().unwrap();
        assert_eq!(m.mean(), Some(d.mean));
        assert_eq!(m.ci95(), d.ci95);
        let mut one = Mean::default();
        one.push(3.0);
        assert_eq!(one.ci95(), None);
    }

    #[test]
    fn one_sample_has_no_interval() {
        let mut s = Summary::new();
        s.push(5.0);
        let d = s.describe().unwrap();
        assert_eq!(d.ci95, None);
        assert_eq!(d.stddev, 0.0);
        assert!(Summary::new().describe().is_none());
    }
}
