//! The Lambda cost model: duration charged per GB-second (memory_mb / 1024 × billed seconds) at a
//! price that depends on region and architecture and falls in monthly volume tiers, plus a fee per
//! request and, above the free 512 MB, ephemeral storage per GB-second. Billed duration is taken
//! as logged: it already includes INIT time where AWS bills it (LAMBDA_FACTS §4), so nothing here
//! recomputes it. The free tier is not applied: it is shared by every function of an account.

use crate::units::{Mb, Ms, Usd};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Hours in the month that monthly figures use: the AWS Pricing Calculator's convention of 730
/// hours (365 × 24 / 12).
pub const HOURS_PER_MONTH: f64 = 730.0;

/// Request fee: $0.20 per million requests (aws.amazon.com/lambda/pricing, us-east-1;
/// LAMBDA_FACTS §4).
pub const USD_PER_REQUEST: f64 = 0.20 / 1_000_000.0;

/// Ephemeral storage above 512 MB: $0.0000000309 per GB-second (aws.amazon.com/lambda/pricing,
/// us-east-1; LAMBDA_FACTS §4).
pub const EPHEMERAL_USD_PER_GB_S: f64 = 0.000_000_030_9;

/// Ephemeral storage every function gets at no charge (LAMBDA_FACTS §5: /tmp 512–10,240 MB).
pub const FREE_EPHEMERAL: Mb = Mb(512);

/// Lambda's memory range (LAMBDA_FACTS §5: 128–10,240 MB in 1-MB steps).
pub const MIN_MEMORY: Mb = Mb(128);
/// See [`MIN_MEMORY`].
pub const MAX_MEMORY: Mb = Mb(10_240);
/// Lambda's memory per vCPU: CPU is proportional to memory, one vCPU at 1,769 MB
/// (LAMBDA_FACTS §5, from https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html).
pub const MB_PER_VCPU: f64 = 1769.0;

/// The instruction set a function runs on; arm64 (Graviton) is priced lower.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Architecture {
    /// Intel/AMD.
    #[serde(rename = "x86_64")]
    X86_64,
    /// Graviton.
    #[serde(rename = "arm64")]
    Arm64,
}

impl FromStr for Architecture {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "x86_64" | "x86-64" | "x86" | "amd64" => Ok(Architecture::X86_64),
            "arm64" | "aarch64" | "arm" | "graviton" => Ok(Architecture::Arm64),
            _ => Err(format!(
                "unknown architecture {s:?}: expected x86_64 or arm64"
            )),
        }
    }
}

impl fmt::Display for Architecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Architecture::X86_64 => "x86_64",
            Architecture::Arm64 => "arm64",
        })
    }
}

/// Why a price cannot be given.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CostError {
    /// Not an AWS region name.
    #[error("{0:?} is not an AWS region name (expected e.g. us-east-1, eu-west-2)")]
    BadRegion(String),
    /// China regions bill in CNY.
    #[error(
        "{0} is billed in CNY by a separate AWS partition; powertune's prices are in USD (pick the nearest USD region with --region to compare sizes)"
    )]
    Cny(String),
}

/// One monthly volume tier: GB-seconds up to `up_to_gb_s` (cumulative within the month) cost
/// `usd_per_gb_s` each.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Tier {
    /// Upper edge of the tier in GB-seconds per month; None for the last tier.
    pub up_to_gb_s: Option<f64>,
    /// Price per GB-second in this tier.
    pub usd_per_gb_s: f64,
}

/// Prices for one region and architecture.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pricing {
    /// AWS region.
    pub region: String,
    /// Architecture.
    pub architecture: Architecture,
    /// Duration price tiers, cheapest last.
    pub tiers: Vec<Tier>,
    /// Price per request.
    pub usd_per_request: f64,
    /// Price per GB-second of ephemeral storage above 512 MB.
    pub ephemeral_usd_per_gb_s: f64,
    /// What was assumed to arrive at these prices.
    pub notes: Vec<String>,
}

/// us-east-1 duration tiers, which most regions share (aws.amazon.com/lambda/pricing;
/// LAMBDA_FACTS §4). x86_64: first 6 billion GB-s/month $0.0000166667, next 9 billion
/// $0.0000150000, over 15 billion $0.0000133334. arm64 has other edges: first 7.5 billion
/// $0.0000133334, next 11.25 billion $0.0000120001, over 18.75 billion $0.0000106667.
const X86_TIERS: [Tier; 3] = [
    Tier {
        up_to_gb_s: Some(6.0e9),
        usd_per_gb_s: 0.000_016_666_7,
    },
    Tier {
        up_to_gb_s: Some(15.0e9),
        usd_per_gb_s: 0.000_015_000_0,
    },
    Tier {
        up_to_gb_s: None,
        usd_per_gb_s: 0.000_013_333_4,
    },
];
const ARM_TIERS: [Tier; 3] = [
    Tier {
        up_to_gb_s: Some(7.5e9),
        usd_per_gb_s: 0.000_013_333_4,
    },
    Tier {
        up_to_gb_s: Some(18.75e9),
        usd_per_gb_s: 0.000_012_000_1,
    },
    Tier {
        up_to_gb_s: None,
        usd_per_gb_s: 0.000_010_666_7,
    },
];

/// Regions priced above the standard rate: (region, x86_64 first tier, arm64 first tier).
/// Source: LAMBDA_FACTS §4, from aws-lambda-power-tuning's template.yml baseCosts and the public
/// pricing table; ap-northeast-3 from power-tuning's baseCosts (2.7e-9 $ per ms at 128 MB =
/// $0.0000216 per GB-s), its arm64 rate derived as 0.8 × x86_64, the ratio of every region listed.
const PREMIUM_REGIONS: &[(&str, f64, f64)] = &[
    ("af-south-1", 0.000_022_1, 0.000_017_68),
    ("ap-east-1", 0.000_022_92, 0.000_018_3),
    ("eu-south-1", 0.000_019_517_2, 0.000_015_613_8),
    ("me-south-1", 0.000_020_666_7, 0.000_016_533_4),
    ("me-central-1", 0.000_020_666_7, 0.000_016_533_4),
    ("ap-northeast-3", 0.000_021_6, 0.000_017_28),
];

fn looks_like_region(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        && parts[0].len() == 2
        && parts
            .last()
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

impl Pricing {
    /// Prices for `region` and `architecture`.
    pub fn lookup(region: &str, architecture: Architecture) -> Result<Pricing, CostError> {
        if !looks_like_region(region) {
            return Err(CostError::BadRegion(region.to_owned()));
        }
        if region.starts_with("cn-") {
            return Err(CostError::Cny(region.to_owned()));
        }
        let standard = match architecture {
            Architecture::X86_64 => X86_TIERS,
            Architecture::Arm64 => ARM_TIERS,
        };
        let mut notes = Vec::new();
        let premium = PREMIUM_REGIONS.iter().find(|(r, _, _)| *r == region);
        let tiers = match premium {
            None => {
                if region != "us-east-1" {
                    notes.push(format!(
                        "{region} is assumed to charge the standard (us-east-1) rates, as most regions do; the premium regions powertune knows are {}",
                        PREMIUM_REGIONS.iter().map(|r| r.0).collect::<Vec<_>>().join(", ")
                    ));
                }
                standard.to_vec()
            }
            Some((_, x86, arm)) => {
                let first = match architecture {
                    Architecture::X86_64 => *x86,
                    Architecture::Arm64 => *arm,
                };
                notes.push(format!(
                    "{region}: first-tier rate from the regional price list; lower tiers assumed to keep us-east-1's discounts"
                ));
                let scale = first / standard[0].usd_per_gb_s;
                standard
                    .iter()
                    .map(|t| Tier {
                        up_to_gb_s: t.up_to_gb_s,
                        usd_per_gb_s: t.usd_per_gb_s * scale,
                    })
                    .collect()
            }
        };
        if region != "us-east-1" {
            notes.push("request fee and ephemeral-storage rate are us-east-1's".into());
        }
        Ok(Pricing {
            region: region.to_owned(),
            architecture,
            tiers,
            usd_per_request: USD_PER_REQUEST,
            ephemeral_usd_per_gb_s: EPHEMERAL_USD_PER_GB_S,
            notes,
        })
    }

    /// First-tier price per GB-second: the marginal price for all but the largest accounts.
    pub fn usd_per_gb_s(&self) -> f64 {
        self.tiers[0].usd_per_gb_s
    }

    /// Cost of one invocation at first-tier prices: duration + request fee + ephemeral storage.
    pub fn invocation(&self, billed: Ms, memory: Mb, ephemeral: Mb) -> Usd {
        let gb_s = memory.gb() * billed.seconds();
        Usd(gb_s * self.usd_per_gb_s() + self.usd_per_request + self.ephemeral(billed, ephemeral))
    }

    fn ephemeral(&self, billed: Ms, ephemeral: Mb) -> f64 {
        let extra = ephemeral.0.saturating_sub(FREE_EPHEMERAL.0);
        Mb(extra).gb() * billed.seconds() * self.ephemeral_usd_per_gb_s
    }

    /// Duration charge for `gb_s` GB-seconds in one month, walking the volume tiers.
    pub fn tiered_duration(&self, gb_s: f64) -> Usd {
        let mut left = gb_s.max(0.0);
        let mut lower = 0.0;
        let mut usd = 0.0;
        for t in &self.tiers {
            let width = t.up_to_gb_s.map_or(f64::INFINITY, |u| u - lower);
            let here = left.min(width);
            usd += here * t.usd_per_gb_s;
            left -= here;
            if let Some(u) = t.up_to_gb_s {
                lower = u;
            }
            if left <= 0.0 {
                break;
            }
        }
        Usd(usd)
    }

    /// A month of `invocations` with mean billed duration `mean_billed` at `memory`.
    pub fn monthly(&self, invocations: f64, mean_billed: Ms, memory: Mb, ephemeral: Mb) -> Monthly {
        let gb_s = invocations * memory.gb() * mean_billed.seconds();
        let duration = self.tiered_duration(gb_s);
        let requests = Usd(invocations * self.usd_per_request);
        let storage = Usd(invocations * self.ephemeral(mean_billed, ephemeral));
        Monthly {
            gb_seconds: gb_s,
            duration,
            requests,
            storage,
            total: duration + requests + storage,
        }
    }
}

/// A monthly bill, split by what it pays for.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Monthly {
    /// GB-seconds of duration.
    pub gb_seconds: f64,
    /// Duration charge (tiered).
    pub duration: Usd,
    /// Request fees.
    pub requests: Usd,
    /// Ephemeral storage above 512 MB.
    pub storage: Usd,
    /// The sum.
    pub total: Usd,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) {
        assert!((a - b).abs() <= tol, "{a} vs {b}");
    }

    fn us(arch: Architecture) -> Pricing {
        Pricing::lookup("us-east-1", arch).unwrap()
    }

    #[test]
    fn one_invocation_by_hand() {
        // 1536 MB = 1.5 GB; 100 ms = 0.1 s; 0.15 GB-s × $0.0000166667 = $0.0000025 + $0.0000002.
        let p = us(Architecture::X86_64);
        close(
            p.invocation(Ms(100.0), Mb(1536), Mb(512)).0,
            0.000_002_700_005,
            1e-15,
        );
        // arm64: 0.15 × 0.0000133334 = 0.00000200001 + 0.0000002.
        let p = us(Architecture::Arm64);
        close(
            p.invocation(Ms(100.0), Mb(1536), Mb(512)).0,
            0.000_002_200_01,
            1e-15,
        );
    }

    #[test]
    fn request_fee_alone() {
        let p = us(Architecture::X86_64);
        let m = p.monthly(1_000_000.0, Ms(0.0), Mb(128), Mb(512));
        close(m.requests.0, 0.20, 1e-9);
        close(m.total.0, 0.20, 1e-9);
    }

    /// The worked example of the foundation issue. Its figures ($0.25 a day at 1,536 MB, $0.04 at
    /// 256 MB) hold for 100,000 invocations a day; 10,000 a day of 100 ms costs a tenth of that:
    /// 10,000 × 0.1 s × 1.5 GB = 1,500 GB-s × $0.0000166667 = $0.025.
    #[test]
    fn worked_example_per_day_and_month() {
        let p = us(Architecture::X86_64);
        let day = |n: f64, mb: u32| p.monthly(n, Ms(100.0), Mb(mb), Mb(512)).duration.0;
        close(day(10_000.0, 1536), 0.025, 1e-6);
        close(day(10_000.0, 256), 0.004_166_7, 1e-6);
        close(day(100_000.0, 1536), 0.25, 1e-5);
        close(day(100_000.0, 256), 0.041_667, 1e-5);
        // A 30-day month of the latter: ≈ $7.50 and ≈ $1.25.
        close(day(100_000.0 * 30.0, 1536), 7.50, 1e-3);
        close(day(100_000.0 * 30.0, 256), 1.25, 1e-3);
    }

    #[test]
    fn tiers_across_the_edges() {
        let x = us(Architecture::X86_64);
        // 7e9 GB-s: 6e9 at the first tier, 1e9 at the second.
        close(
            x.tiered_duration(7.0e9).0,
            6.0e9 * 0.000_016_666_7 + 1.0e9 * 0.000_015,
            1e-3,
        );
        // 20e9: 6e9 + 9e9 + 5e9.
        close(
            x.tiered_duration(20.0e9).0,
            6.0e9 * 0.000_016_666_7 + 9.0e9 * 0.000_015 + 5.0e9 * 0.000_013_333_4,
            1e-3,
        );
        let a = us(Architecture::Arm64);
        // arm64's first edge is 7.5e9, not 6e9: 7e9 GB-s is all first tier.
        close(a.tiered_duration(7.0e9).0, 7.0e9 * 0.000_013_333_4, 1e-3);
        close(
            a.tiered_duration(8.0e9).0,
            7.5e9 * 0.000_013_333_4 + 0.5e9 * 0.000_012_000_1,
            1e-3,
        );
        close(
            a.tiered_duration(20.0e9).0,
            7.5e9 * 0.000_013_333_4 + 11.25e9 * 0.000_012_000_1 + 1.25e9 * 0.000_010_666_7,
            1e-3,
        );
    }

    #[test]
    fn ephemeral_storage_above_512() {
        let p = us(Architecture::X86_64);
        // 10,240 MB of /tmp: 9,728 MB = 9.5 GB above the free 512, for 1 s.
        let with = p.invocation(Ms(1000.0), Mb(128), Mb(10_240)).0;
        let without = p.invocation(Ms(1000.0), Mb(128), Mb(512)).0;
        close(with - without, 9.5 * 0.000_000_030_9, 1e-15);
    }

    #[test]
    fn regions() {
        let p = Pricing::lookup("af-south-1", Architecture::X86_64).unwrap();
        close(p.usd_per_gb_s(), 0.000_022_1, 1e-12);
        assert!(
            Pricing::lookup("eu-west-1", Architecture::Arm64)
                .unwrap()
                .notes[0]
                .contains("standard")
        );
        assert!(matches!(
            Pricing::lookup("cn-north-1", Architecture::X86_64),
            Err(CostError::Cny(_))
        ));
        assert!(matches!(
            Pricing::lookup("moon", Architecture::X86_64),
            Err(CostError::BadRegion(_))
        ));
        assert_eq!("aarch64".parse::<Architecture>(), Ok(Architecture::Arm64));
        assert!("sparc".parse::<Architecture>().is_err());
    }
}
