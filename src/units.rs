//! Typed units for the three quantities powertune juggles: memory in Lambda's "MB" (which are MiB,
//! per the Lambda quotas page), time in milliseconds and money in US dollars. A bare `f64` could be
//! any of them; these newtypes cannot be mixed up, and they serialise as plain JSON numbers.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Memory in Lambda's MB (mebibytes: "MB" in the Lambda docs means 1,024 KB).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Mb(pub u32);

impl Mb {
    /// Gigabytes as AWS bills them: memory_mb / 1024.
    pub fn gb(self) -> f64 {
        f64::from(self.0) / 1024.0
    }
}

impl fmt::Display for Mb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} MB", self.0)
    }
}

/// A duration in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Ms(pub f64);

impl Ms {
    /// Seconds, as GB-seconds need them.
    pub fn seconds(self) -> f64 {
        self.0 / 1000.0
    }
}

impl fmt::Display for Ms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 >= 10_000.0 {
            write!(f, "{:.1} s", self.0 / 1000.0)
        } else if self.0 >= 100.0 {
            write!(f, "{:.0} ms", self.0)
        } else {
            write!(f, "{:.2} ms", self.0)
        }
    }
}

/// An amount of money in US dollars.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Usd(pub f64);

impl std::ops::Add for Usd {
    type Output = Usd;
    fn add(self, rhs: Usd) -> Usd {
        Usd(self.0 + rhs.0)
    }
}

impl std::ops::Sub for Usd {
    type Output = Usd;
    fn sub(self, rhs: Usd) -> Usd {
        Usd(self.0 - rhs.0)
    }
}

impl std::ops::Mul<f64> for Usd {
    type Output = Usd;
    fn mul(self, rhs: f64) -> Usd {
        Usd(self.0 * rhs)
    }
}

impl fmt::Display for Usd {
    /// Dollars with enough significant digits for per-invocation amounts ($0.0000021) and
    /// monthly bills ($1,234.56) alike.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        let sign = if v < 0.0 { "-" } else { "" };
        let a = v.abs();
        if a == 0.0 {
            write!(f, "$0.00")
        } else if a >= 100.0 {
            write!(f, "{sign}${}", group_thousands(a))
        } else if a >= 0.01 {
            write!(f, "{sign}${a:.2}")
        } else {
            // Four significant digits for small amounts.
            let digits = (-a.log10().floor()) as usize + 3;
            write!(f, "{sign}${a:.digits$}")
        }
    }
}

fn group_thousands(a: f64) -> String {
    let s = format!("{a:.2}");
    let (int, frac) = s.split_once('.').unwrap_or((&s, "00"));
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{out}.{frac}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usd_formats_small_and_large_amounts() {
        assert_eq!(Usd(0.0).to_string(), "$0.00");
        assert_eq!(Usd(7.5).to_string(), "$7.50");
        assert_eq!(Usd(1234.567).to_string(), "$1,234.57");
        assert_eq!(Usd(0.000002083).to_string(), "$0.000002083");
        assert_eq!(Usd(-0.25).to_string(), "-$0.25");
    }

    #[test]
    fn mb_is_mebibytes_for_gb_seconds() {
        assert_eq!(Mb(1536).gb(), 1.5);
        assert_eq!(Mb(128).gb(), 0.125);
    }
}
