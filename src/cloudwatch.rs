//! Evidence straight from CloudWatch Logs, for `powertune check --from-cloudwatch`: the REPORT
//! events of a function's log group over a recent window, read with FilterLogEvents page by page
//! and fed to the same parser `analyze` uses (text REPORT lines and JSON `platform.report`
//! events alike), so memory stays flat however long the window. Calls share a limiter under
//! CloudWatch Logs' request rate.

use crate::backend::aws::{LOGS_RPS, Limiter, code, explain, runtime, sdk_config};
use crate::parse::{Observation, scan_bytes};
use anyhow::{Result, anyhow};
use std::time::Duration;

/// How to reach CloudWatch Logs.
#[derive(Debug, Clone, Default)]
pub struct LogsAccess {
    /// `--profile`.
    pub profile: Option<String>,
    /// `--region` (else the profile's or the environment's).
    pub region: Option<String>,
    /// `--endpoint-url` (else `AWS_ENDPOINT_URL`).
    pub endpoint_url: Option<String>,
}

/// What was read from one log group.
#[derive(Debug, Clone, Default)]
pub struct GroupRead {
    /// Events read.
    pub events: u64,
    /// Bytes of messages read.
    pub bytes: u64,
    /// Records found.
    pub records: u64,
    /// The group does not exist (nothing was ever logged, or the name is wrong).
    pub missing: bool,
}

/// Parses `--since`: a whole number of days, hours or minutes (`14d`, `36h`, `90m`).
pub fn parse_since(s: &str) -> Result<Duration> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 =
        num.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
            anyhow!("--since expects a window such as 14d, 36h or 90m, got {s:?}")
        })?;
    let secs = match unit {
        "d" => n * 86_400,
        "h" => n * 3_600,
        "m" => n * 60,
        _ => {
            return Err(anyhow!(
                "--since expects a window such as 14d, 36h or 90m, got {s:?}"
            ));
        }
    };
    Ok(Duration::from_secs(secs))
}

/// A connection to CloudWatch Logs.
pub struct Logs {
    rt: tokio::runtime::Runtime,
    client: aws_sdk_cloudwatchlogs::Client,
    limit: Limiter,
}

impl std::fmt::Debug for Logs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Logs").finish_non_exhaustive()
    }
}

impl Logs {
    /// Connects through aws-config's standard chain; a clear error without region or
    /// credentials.
    pub fn connect(access: &LogsAccess) -> Result<Logs> {
        let rt = runtime()?;
        let cfg = rt.block_on(sdk_config(
            access.profile.as_deref(),
            access.region.as_deref(),
            access.endpoint_url.as_deref(),
        ))?;
        Ok(Logs {
            client: aws_sdk_cloudwatchlogs::Client::new(&cfg),
            rt,
            limit: Limiter::new(LOGS_RPS),
        })
    }

    /// Log groups whose name contains `pattern` (for functions whose deployed name the
    /// template leaves to CloudFormation: `stack-LogicalId-RANDOM`).
    pub fn groups_like(&self, pattern: &str) -> Result<Vec<String>> {
        self.rt.block_on(async {
            let mut out = Vec::new();
            let mut token: Option<String> = None;
            loop {
                self.limit.acquire().await;
                let page = self
                    .client
                    .describe_log_groups()
                    .log_group_name_pattern(pattern)
                    .set_next_token(token.take())
                    .send()
                    .await
                    .map_err(|e| anyhow!("DescribeLogGroups {pattern:?}: {}", explain(&e)))?;
                out.extend(
                    page.log_groups()
                        .iter()
                        .filter_map(|g| g.log_group_name().map(str::to_owned)),
                );
                match page.next_token() {
                    Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                    _ => break,
                }
            }
            Ok(out)
        })
    }

    /// Reads the REPORT events of `group` since `since` ago, handing each record to `sink`
    /// with its event's timestamp.
    pub fn reports(
        &self,
        group: &str,
        since: Duration,
        sink: &mut dyn FnMut(Observation<'_>),
    ) -> Result<GroupRead> {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let start = now_ms - since.as_millis() as i64;
        self.rt.block_on(async {
            let mut read = GroupRead::default();
            let mut token: Option<String> = None;
            let mut throttled = 0u32;
            loop {
                self.limit.acquire().await;
                // Text REPORT lines or JSON platform.report events (CloudWatch filter syntax:
                // `?a ?b` matches either term).
                let page = self
                    .client
                    .filter_log_events()
                    .log_group_name(group)
                    .start_time(start)
                    .filter_pattern("?\"REPORT RequestId\" ?\"platform.report\"")
                    .set_next_token(token.take())
                    .send()
                    .await;
                let page = match page {
                    Ok(p) => p,
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|s| s.is_resource_not_found_exception()) =>
                    {
                        read.missing = true;
                        return Ok(read);
                    }
                    Err(e) if code(&e) == Some("ThrottlingException") && throttled < 20 => {
                        throttled += 1;
                        tokio::time::sleep(Duration::from_millis(500 * u64::from(throttled))).await;
                        continue;
                    }
                    Err(e) => return Err(anyhow!("FilterLogEvents on {group}: {}", explain(&e))),
                };
                for ev in page.events() {
                    let Some(m) = ev.message() else { continue };
                    read.events += 1;
                    read.bytes += m.len() as u64;
                    let ts = ev.timestamp();
                    let summary = scan_bytes(group, m.as_bytes(), &mut |mut o| {
                        o.timestamp_ms = o.timestamp_ms.or(ts);
                        sink(o);
                    });
                    read.records += summary.records;
                }
                match page.next_token() {
                    // Pages may be empty while a token is present: keep going until none.
                    Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                    _ => break,
                }
            }
            Ok(read)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_windows() {
        assert_eq!(
            parse_since("14d").unwrap(),
            Duration::from_secs(14 * 86_400)
        );
        assert_eq!(parse_since("36h").unwrap(), Duration::from_secs(36 * 3_600));
        assert_eq!(parse_since("90m").unwrap(), Duration::from_secs(90 * 60));
        for bad in ["", "0d", "14", "2w", "d", "-1d", "1.5h"] {
            assert!(parse_since(bad).is_err(), "{bad}");
        }
    }
}
