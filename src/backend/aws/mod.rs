//! The AWS backend: tunes a deployed function with the AWS SDK. For each memory size it sets
//! $LATEST's memory (with a Description marker), waits for the update as the FunctionUpdatedV2
//! waiter does, publishes a version and points a `powertune-<mb>` alias at it; once every version
//! exists it restores $LATEST, so what production calls is changed for as short a time as
//! possible. It invokes the aliases with `LogType=Tail` and reads the REPORT line from the tail
//! with the foundation's parser, falling back to CloudWatch Logs when the tail holds none (JSON
//! log format, the 4 KB cut). Every mutation is journaled before it is made ([`journal`]), and
//! [`AwsBackend::cleanup`], `Drop`, and `powertune cleanup` undo exactly what the journal says.

pub mod journal;

use crate::backend::Backend;
use crate::cost::Architecture;
use crate::record::{InvocationRecord, Status};
use crate::report::Source;
use crate::units::Mb;
use anyhow::{Context, Result, anyhow, bail};
use aws_sdk_lambda::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_lambda::operation::RequestId;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{LastUpdateStatus, LogType};
use journal::{Entry, Journal, Pending, VersionRef};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Lambda allows 15 control-plane requests per second per account and region, shared by every
/// caller and not increasable (LAMBDA_FACTS.md §5, from the Lambda quotas page); powertune stays
/// at 10 so that the user's other tools keep some room.
pub const CONTROL_PLANE_RPS: f64 = 10.0;
/// FilterLogEvents allows about 5 requests per second per account and region (LAMBDA_FACTS.md §6).
pub const LOGS_RPS: f64 = 4.0;
/// FunctionUpdatedV2 polls GetFunction once a second, 300 times (botocore waiters-2.json, via
/// LAMBDA_FACTS.md §3).
const UPDATE_POLLS: u32 = 300;
/// How often a call that hits ResourceConflictException (an update in progress) is retried, a
/// second apart.
const CONFLICT_RETRIES: u32 = 60;
/// How often an Invoke that gets 429 TooManyRequests is retried.
const THROTTLE_RETRIES: u32 = 8;

/// How to reach the function and how to run.
#[derive(Debug, Clone)]
pub struct AwsConfig {
    /// Function name or ARN.
    pub function: String,
    /// The code to tune: `$LATEST`, or a version or alias whose code is $LATEST's.
    pub qualifier: String,
    /// `--profile`.
    pub profile: Option<String>,
    /// `--region` (else the profile's or the environment's).
    pub region: Option<String>,
    /// `--endpoint-url` (else `AWS_ENDPOINT_URL`, read by aws-config).
    pub endpoint_url: Option<String>,
    /// Invocations in flight at once, across all sizes.
    pub concurrency: usize,
    /// `--cold-starts`: a fresh version per invocation, this many per size.
    pub cold_starts: Option<u32>,
    /// How long to wait for CloudWatch Logs to ingest a REPORT the tail did not hold.
    pub logs_wait: Duration,
    /// Set on Ctrl-C/SIGTERM.
    pub stop: Arc<AtomicBool>,
}

/// What the function is, read before anything changes.
#[derive(Debug, Clone)]
pub struct FunctionInfo {
    /// Its name.
    pub name: String,
    /// The region.
    pub region: String,
    /// Its architecture.
    pub arch: Architecture,
    /// Memory of $LATEST now.
    pub memory: Mb,
    /// Its description now.
    pub description: String,
    /// Its timeout, seconds.
    pub timeout_s: u32,
    /// Where its logs go.
    pub log_group: String,
    /// `Text` or `JSON`.
    pub log_format: String,
}

/// A token bucket shared by calls that count against one rate limit.
#[derive(Debug)]
pub struct Limiter {
    next: tokio::sync::Mutex<Instant>,
    interval: Duration,
}

impl Limiter {
    /// At most `per_second` calls a second.
    pub fn new(per_second: f64) -> Limiter {
        Limiter {
            next: tokio::sync::Mutex::new(Instant::now()),
            interval: Duration::from_secs_f64(1.0 / per_second),
        }
    }

    /// Waits for this call's turn.
    pub async fn acquire(&self) {
        let at = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let at = (*next).max(now);
            *next = at + self.interval;
            at
        };
        tokio::time::sleep_until(at.into()).await;
    }
}

/// Clients and limits, shared by the tasks of a run.
#[derive(Debug, Clone)]
struct Aws {
    lambda: aws_sdk_lambda::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
    control: Arc<Limiter>,
    logs_limit: Arc<Limiter>,
    function: String,
}

/// Error code of an SDK error, if the service sent one.
pub(crate) fn code<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> Option<&str> {
    match e {
        SdkError::ServiceError(s) => s.err().code(),
        _ => None,
    }
}

/// Seconds the service asked to wait (Retry-After), if it did.
fn retry_after<E>(e: &SdkError<E, aws_sdk_lambda::config::http::HttpResponse>) -> Option<f64> {
    let raw = e.raw_response()?;
    raw.headers().get("retry-after")?.trim().parse().ok()
}

/// How long to wait after a 429: the server's Retry-After, but never less than the backoff.
fn throttle_wait<E>(
    e: &SdkError<E, aws_sdk_lambda::config::http::HttpResponse>,
    attempt: u32,
    base: Duration,
) -> Duration {
    retry_after(e)
        .map(Duration::from_secs_f64)
        .unwrap_or_default()
        .max(backoff(attempt, base))
}

/// Exponential backoff with full jitter: up to `base × 2^attempt`, capped at 20 s.
fn backoff(attempt: u32, base: Duration) -> Duration {
    let cap = (base.as_secs_f64() * f64::from(1u32 << attempt.min(10))).min(20.0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    Duration::from_secs_f64(cap * (0.5 + 0.5 * f64::from(nanos % 1000) / 1000.0))
}

/// A readable message for an SDK error: its code and message, or the transport error.
pub(crate) fn explain<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    e: &SdkError<E, R>,
) -> String {
    match e {
        SdkError::ServiceError(s) => format!(
            "{}: {}",
            s.err().code().unwrap_or("error"),
            s.err().message().unwrap_or("(no message)")
        ),
        other => {
            let mut s = other.to_string();
            let mut src = std::error::Error::source(other);
            while let Some(e) = src {
                s.push_str(": ");
                s.push_str(&e.to_string());
                src = e.source();
            }
            s
        }
    }
}

/// A control-plane call that failed for good, with the service's error code when it sent one,
/// so that callers match on the code, never on message text.
#[derive(Debug, thiserror::Error)]
#[error("{call}: {detail}")]
pub struct CallFailed {
    /// The call, e.g. `DeleteAlias powertune-512`.
    pub call: String,
    /// The service's error code (`ResourceNotFoundException`…), if any.
    pub code: Option<String>,
    /// Code and message, or the transport error.
    pub detail: String,
}

/// Whether `e` is a failed call whose service error code is `want`.
fn is_code(e: &anyhow::Error, want: &str) -> bool {
    e.downcast_ref::<CallFailed>()
        .and_then(|c| c.code.as_deref())
        == Some(want)
}

/// Retries a control-plane call while Lambda says another operation is in progress (409
/// ResourceConflictException) or throttles it (429, honouring Retry-After), under the shared
/// limiter.
macro_rules! control {
    ($aws:expr, $what:expr, $call:expr) => {{
        let mut attempt = 0u32;
        loop {
            $aws.control.acquire().await;
            match $call.await {
                Ok(out) => break Ok(out),
                Err(e) => {
                    let c = code(&e).unwrap_or("");
                    if c == "ResourceConflictException" && attempt < CONFLICT_RETRIES {
                        attempt += 1;
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    } else if c == "TooManyRequestsException" && attempt < THROTTLE_RETRIES {
                        let wait = throttle_wait(&e, attempt, Duration::from_millis(500));
                        attempt += 1;
                        tokio::time::sleep(wait).await;
                    } else {
                        break Err(anyhow::Error::new(CallFailed {
                            call: $what.to_string(),
                            code: code(&e).map(str::to_owned),
                            detail: explain(&e),
                        }));
                    }
                }
            }
        }
    }};
}

impl Aws {
    /// Waits until $LATEST's LastUpdateStatus is Successful, as FunctionUpdatedV2 does.
    async fn wait_updated(&self) -> Result<()> {
        for _ in 0..UPDATE_POLLS {
            let out = control!(
                self,
                "GetFunction",
                self.lambda
                    .get_function()
                    .function_name(&self.function)
                    .send()
            )?;
            let cfg = out
                .configuration()
                .context("GetFunction returned no configuration")?;
            match cfg.last_update_status() {
                Some(LastUpdateStatus::Successful) | None => return Ok(()),
                Some(LastUpdateStatus::Failed) => bail!(
                    "the configuration update of {} failed: {}",
                    self.function,
                    cfg.last_update_status_reason().unwrap_or("no reason given")
                ),
                Some(_) => tokio::time::sleep(Duration::from_secs(1)).await,
            }
        }
        bail!(
            "{}: the configuration update did not finish within {UPDATE_POLLS} s",
            self.function
        )
    }

    /// Sets $LATEST's memory and description once no other update is in progress, and waits
    /// until this one is done.
    async fn update_latest(&self, memory: u32, description: &str) -> Result<()> {
        // An update still in progress (someone's deployment, or a run killed mid-update) would
        // refuse this one with 409: wait for it first.
        self.wait_updated().await?;
        control!(
            self,
            "UpdateFunctionConfiguration",
            self.lambda
                .update_function_configuration()
                .function_name(&self.function)
                .memory_size(memory as i32)
                .description(description)
                .send()
        )?;
        self.wait_updated().await
    }

    /// Invokes an alias once and reads its REPORT record.
    async fn invoke(
        &self,
        alias: &str,
        payload: &[u8],
        logs_wait: Duration,
        log_group: &str,
    ) -> Result<Option<InvocationRecord<'static>>> {
        let started_ms = now_ms();
        let mut attempt = 0u32;
        let out = loop {
            let r = self
                .lambda
                .invoke()
                .function_name(&self.function)
                .qualifier(alias)
                .log_type(LogType::Tail)
                .payload(Blob::new(payload))
                .send()
                .await;
            match r {
                Ok(out) => break out,
                Err(e)
                    if code(&e) == Some("TooManyRequestsException")
                        && attempt < THROTTLE_RETRIES =>
                {
                    let wait = throttle_wait(&e, attempt, Duration::from_millis(200));
                    attempt += 1;
                    tokio::time::sleep(wait).await;
                }
                Err(e) => bail!("Invoke {}:{alias}: {}", self.function, explain(&e)),
            }
        };
        let rid = out.request_id().map(str::to_owned);
        let tail = out
            .log_result()
            .and_then(|b| {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD.decode(b).ok()
            })
            .unwrap_or_default();
        let mut record = find_report(&tail, rid.as_deref());
        if record.is_none()
            && let Some(rid) = &rid
        {
            record = self
                .report_from_logs(log_group, rid, started_ms, logs_wait)
                .await?;
        }
        let Some(mut record) = record else {
            return Ok(None);
        };
        if let Some(kind) = out.function_error()
            && record.status == Status::Success
        {
            record.status = Status::Error;
            let error_type = out
                .payload()
                .and_then(|p| serde_json::from_slice::<serde_json::Value>(p.as_ref()).ok())
                .and_then(|v| v["errorType"].as_str().map(str::to_owned))
                .unwrap_or_else(|| kind.to_owned());
            record.error_type = Some(Cow::Owned(error_type));
        }
        Ok(Some(record))
    }

    /// Finds the REPORT of `rid` in CloudWatch Logs, retrying while it is ingested.
    async fn report_from_logs(
        &self,
        group: &str,
        rid: &str,
        since_ms: i64,
        wait: Duration,
    ) -> Result<Option<InvocationRecord<'static>>> {
        let deadline = Instant::now() + wait;
        let mut attempt = 0;
        loop {
            self.logs_limit.acquire().await;
            let mut pages = self
                .logs
                .filter_log_events()
                .log_group_name(group)
                .filter_pattern(format!("\"{rid}\""))
                .start_time(since_ms - 60_000)
                .into_paginator()
                .send();
            let mut text = Vec::new();
            while let Some(page) = pages.next().await {
                match page {
                    Ok(p) => {
                        for ev in p.events() {
                            if let Some(m) = ev.message() {
                                text.extend_from_slice(m.as_bytes());
                                text.push(b'\n');
                            }
                        }
                    }
                    Err(e) => {
                        let c = code(&e).unwrap_or("");
                        // A group that does not exist yet is one not written to yet.
                        if c != "ResourceNotFoundException" && c != "ThrottlingException" {
                            bail!("FilterLogEvents on {group}: {}", explain(&e));
                        }
                        break;
                    }
                }
            }
            if let Some(r) = find_report(&text, Some(rid)) {
                return Ok(Some(r));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            attempt += 1;
            tokio::time::sleep(Duration::from_millis((250 * attempt).min(2000))).await;
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The REPORT record of `rid` (or the only one, when Lambda sent no request id) in log text.
fn find_report(text: &[u8], rid: Option<&str>) -> Option<InvocationRecord<'static>> {
    let mut found = None;
    crate::parse::scan_bytes("tail", text, &mut |o| {
        if found.is_none() && rid.is_none_or(|id| o.record.request_id.as_deref() == Some(id)) {
            found = Some(o.record.into_owned());
        }
    });
    found
}

/// Builds the SDK configuration: the standard chain, with `--profile`, `--region` and
/// `--endpoint-url` on top; fails clearly without a region or credentials.
pub(crate) async fn sdk_config(
    profile: Option<&str>,
    region: Option<&str>,
    endpoint: Option<&str>,
) -> Result<aws_config::SdkConfig> {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(p) = profile {
        loader = loader.profile_name(p);
    }
    if let Some(r) = region {
        loader = loader.region(aws_config::Region::new(r.to_owned()));
    }
    if let Some(e) = endpoint {
        loader = loader.endpoint_url(e);
    }
    let cfg = loader.load().await;
    if cfg.region().is_none() {
        bail!(
            "no AWS region: pass --region, set AWS_REGION, or give the profile a region (aws configure)"
        );
    }
    use aws_sdk_lambda::config::ProvideCredentials;
    let provider = cfg
        .credentials_provider()
        .context("no AWS credentials provider is configured")?;
    provider.provide_credentials().await.map_err(|e| {
        anyhow!(
            "no AWS credentials: {e} (set AWS_PROFILE or --profile, run `aws sso login`, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
        )
    })?;
    Ok(cfg)
}

fn clients(cfg: &aws_config::SdkConfig, function: &str) -> Aws {
    Aws {
        lambda: aws_sdk_lambda::Client::new(cfg),
        logs: aws_sdk_cloudwatchlogs::Client::new(cfg),
        control: Arc::new(Limiter::new(CONTROL_PLANE_RPS)),
        logs_limit: Arc::new(Limiter::new(LOGS_RPS)),
        function: function.to_owned(),
    }
}

/// Reads the function's configuration (read-only), checking that `qualifier` names code that is
/// $LATEST's.
async fn describe(aws: &Aws, qualifier: &str, region: &str) -> Result<FunctionInfo> {
    let out = control!(
        aws,
        format!("GetFunction {}", aws.function),
        aws.lambda
            .get_function()
            .function_name(&aws.function)
            .send()
    )
    .map_err(|e| {
        if is_code(&e, "ResourceNotFoundException") {
            anyhow!(
                "function {} does not exist in {region} (or this identity cannot see it)",
                aws.function
            )
        } else {
            e
        }
    })?;
    let cfg = out
        .configuration()
        .context("GetFunction returned no configuration")?;
    if qualifier != "$LATEST" {
        let q = control!(
            aws,
            format!("GetFunctionConfiguration {}:{qualifier}", aws.function),
            aws.lambda
                .get_function_configuration()
                .function_name(&aws.function)
                .qualifier(qualifier)
                .send()
        )?;
        if q.code_sha256() != cfg.code_sha256() {
            bail!(
                "--qualifier {qualifier}: its code differs from $LATEST's, and powertune tunes by publishing versions of $LATEST; deploy that code to $LATEST first, or tune $LATEST"
            );
        }
    }
    let arch = match cfg.architectures().first().map(|a| a.as_str()) {
        Some("arm64") => Architecture::Arm64,
        _ => Architecture::X86_64,
    };
    let name = cfg.function_name().unwrap_or(&aws.function).to_owned();
    let logging = cfg.logging_config();
    Ok(FunctionInfo {
        log_group: logging
            .and_then(|l| l.log_group())
            .map_or_else(|| format!("/aws/lambda/{name}"), str::to_owned),
        log_format: logging
            .and_then(|l| l.log_format())
            .map_or_else(|| "Text".to_owned(), |f| f.as_str().to_owned()),
        name,
        region: region.to_owned(),
        arch,
        memory: Mb(cfg.memory_size().unwrap_or(128) as u32),
        description: cfg.description().unwrap_or("").to_owned(),
        timeout_s: cfg.timeout().unwrap_or(3) as u32,
    })
}

/// Connects and reads the function (read-only); returns clients addressed to the function's
/// own name (when given an ARN) and what it is now.
async fn open(cfg: &AwsConfig) -> Result<(Aws, FunctionInfo)> {
    let sdk = sdk_config(
        cfg.profile.as_deref(),
        cfg.region.as_deref(),
        cfg.endpoint_url.as_deref(),
    )
    .await?;
    let region = sdk.region().map(|r| r.to_string()).unwrap_or_default();
    let info = describe(&clients(&sdk, &cfg.function), &cfg.qualifier, &region).await?;
    Ok((clients(&sdk, &info.name), info))
}

/// Connects and reads the function without changing anything (for `--dry-run`).
pub fn inspect(cfg: &AwsConfig) -> Result<FunctionInfo> {
    runtime()?.block_on(open(cfg)).map(|(_, info)| info)
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Tunes a deployed function.
pub struct AwsBackend {
    rt: tokio::runtime::Runtime,
    aws: Aws,
    cfg: AwsConfig,
    info: FunctionInfo,
    journal: Option<Journal>,
    run_id: String,
    /// Size → what to invoke: its alias, or (with --cold-starts) one version per invocation.
    prepared: BTreeMap<u32, Vec<String>>,
    latest_changed: bool,
    /// Lines about each undo step (printed by the caller as they happen).
    pub say: Arc<dyn Fn(&str) + Send + Sync>,
}

impl std::fmt::Debug for AwsBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsBackend")
            .field("function", &self.info.name)
            .field("run_id", &self.run_id)
            .finish()
    }
}

impl AwsBackend {
    /// Connects, reads the function, and opens this run's journal (refusing when an earlier run
    /// on the same function left one).
    pub fn connect(cfg: AwsConfig) -> Result<AwsBackend> {
        let rt = runtime()?;
        let (aws, info) = rt.block_on(open(&cfg))?;
        let dir = journal::state_dir()?;
        let path = journal::path_for(&dir, &info.region, &info.name);
        if path.exists() {
            let pid = journal::read(&path).ok().and_then(|es| {
                es.iter().find_map(|e| match e {
                    Entry::Begin { pid, .. } => Some(*pid),
                    _ => None,
                })
            });
            let alive = pid.is_some_and(powertune_alive);
            if alive {
                bail!(
                    "another powertune run (pid {}) is tuning {} in {}; wait for it to finish",
                    pid.unwrap_or(0),
                    info.name,
                    info.region
                );
            }
            bail!(
                "an earlier powertune run on {} in {} did not finish cleaning up (journal {}); run `powertune cleanup --function {} --region {}` first",
                info.name,
                info.region,
                path.display(),
                info.name,
                info.region
            );
        }
        let run_id = format!(
            "{:08x}",
            now_ms() as u64 ^ (u64::from(std::process::id()) << 20)
        );
        let mut backend = AwsBackend {
            rt,
            aws,
            cfg,
            info,
            journal: None,
            run_id,
            prepared: BTreeMap::new(),
            latest_changed: false,
            say: Arc::new(|s| eprintln!("powertune: {s}")),
        };
        backend.open_journal(path)?;
        Ok(backend)
    }

    /// Starts a journal at `path` with the function as it is before any change.
    fn open_journal(&mut self, path: PathBuf) -> Result<()> {
        let journal = Journal::create(
            path,
            Entry::Begin {
                run_id: self.run_id.clone(),
                function: self.info.name.clone(),
                region: self.info.region.clone(),
                endpoint_url: self.cfg.endpoint_url.clone(),
                profile: self.cfg.profile.clone(),
                memory_mb: self.info.memory.0,
                description: self.info.description.clone(),
                pid: std::process::id(),
            },
        )?;
        self.journal = Some(journal);
        Ok(())
    }

    /// The function as it was before the run.
    pub fn info(&self) -> &FunctionInfo {
        &self.info
    }

    /// The journal file (for messages).
    pub fn journal_path(&self) -> Option<PathBuf> {
        self.journal.as_ref().map(|j| j.path().to_owned())
    }

    fn marker(&self, size: Mb) -> String {
        format!(
            "powertune {} at {} MB (temporary; `powertune cleanup` removes it)",
            self.run_id, size.0
        )
    }

    fn record(&mut self, e: Entry) -> Result<()> {
        self.journal
            .as_mut()
            .context("the run's journal is already closed")?
            .record(e)
    }

    /// Restores $LATEST now (once every version exists), journaled.
    fn restore_latest(&mut self) -> Result<()> {
        if !self.latest_changed {
            return Ok(());
        }
        let (mb, desc) = (self.info.memory.0, self.info.description.clone());
        let aws = self.aws.clone();
        self.rt.block_on(aws.update_latest(mb, &desc))?;
        self.record(Entry::LatestRestored)?;
        self.latest_changed = false;
        Ok(())
    }

    /// Sets $LATEST to `size` with `marker` as its description, waits for the update, and
    /// publishes a version of it; journaled before each step. Returns the version.
    fn publish_at(&mut self, size: Mb, marker: &str) -> Result<String> {
        self.record(Entry::UpdateLatest {
            memory_mb: size.0,
            description: marker.to_owned(),
        })?;
        self.latest_changed = true;
        let aws = self.aws.clone();
        self.rt.block_on(aws.update_latest(size.0, marker))?;
        self.record(Entry::Publish {
            memory_mb: size.0,
            marker: marker.to_owned(),
        })?;
        let out = self.rt.block_on(async {
            control!(
                aws,
                "PublishVersion",
                aws.lambda
                    .publish_version()
                    .function_name(&aws.function)
                    .description(marker)
                    .send()
            )
        })?;
        let version = out
            .version()
            .context("PublishVersion returned no version")?
            .to_owned();
        self.record(Entry::Published {
            memory_mb: size.0,
            version: version.clone(),
        })?;
        if out.memory_size() != Some(size.0 as i32) {
            bail!(
                "PublishVersion returned version {version} with {} MB, not {size}: $LATEST changed under powertune",
                out.memory_size().unwrap_or(0)
            );
        }
        Ok(version)
    }

    /// Sets the recommended memory on $LATEST for good (`--apply`).
    pub fn apply(&mut self, size: Mb) -> Result<()> {
        let aws = self.aws.clone();
        let desc = self.info.description.clone();
        self.rt.block_on(aws.update_latest(size.0, &desc))
    }

    /// Publishes a version with the recommended memory and moves `alias` to it, leaving $LATEST
    /// as it was (`--apply-alias`). Returns the version.
    pub fn apply_alias(&mut self, size: Mb, alias: &str) -> Result<String> {
        if self.journal.is_none() {
            // The run's own journal was closed by its cleanup; this change gets one of its own.
            let dir = journal::state_dir()?;
            self.open_journal(journal::path_for(&dir, &self.info.region, &self.info.name))?;
        }
        let marker = format!("powertune: {} MB", size.0);
        let version = self.publish_at(size, &marker)?;
        let aws = self.aws.clone();
        self.restore_latest()?;
        self.rt.block_on(async {
            control!(
                aws,
                format!("UpdateAlias {alias}"),
                aws.lambda
                    .update_alias()
                    .function_name(&aws.function)
                    .name(alias)
                    .function_version(&version)
                    .send()
            )
        })?;
        self.record(Entry::Kept {
            version: version.clone(),
        })?;
        Ok(version)
    }
}

impl Backend for AwsBackend {
    fn source(&self) -> Source {
        Source::Aws
    }

    fn concurrency(&self) -> usize {
        self.cfg.concurrency.max(1)
    }

    fn prepares_all_first(&self) -> bool {
        true
    }

    fn prepare(&mut self, size: Mb) -> Result<()> {
        if let Some(n) = self.cfg.cold_starts {
            // A fresh version per invocation: each one's first (and only) invocation is a cold
            // start. No alias is needed; the versions are invoked by number.
            let mut versions = Vec::new();
            for i in 1..=n {
                let marker = format!(
                    "powertune {} at {} MB, cold start {i} (temporary; `powertune cleanup` removes it)",
                    self.run_id, size.0
                );
                versions.push(self.publish_at(size, &marker)?);
            }
            self.prepared.insert(size.0, versions);
            return Ok(());
        }
        let marker = self.marker(size);
        let version = self.publish_at(size, &marker)?;
        let alias = format!("powertune-{}", size.0);
        self.record(Entry::CreateAlias {
            name: alias.clone(),
            version: version.clone(),
        })?;
        let aws = self.aws.clone();
        self.rt.block_on(async {
            control!(
                aws,
                format!("CreateAlias {alias}"),
                aws.lambda
                    .create_alias()
                    .function_name(&aws.function)
                    .name(&alias)
                    .function_version(&version)
                    .description(&marker)
                    .send()
            )
        })?;
        self.record(Entry::AliasCreated {
            name: alias.clone(),
        })?;
        self.prepared.insert(size.0, vec![alias]);
        Ok(())
    }

    fn prepared(&mut self) -> Result<()> {
        self.restore_latest()
    }

    fn invoke(
        &mut self,
        size: Mb,
        _request_id: &str,
        payload: &[u8],
    ) -> Result<InvocationRecord<'static>> {
        let alias = self
            .prepared
            .get_mut(&size.0)
            .and_then(|qs| {
                if qs.len() > 1 {
                    qs.pop()
                } else {
                    qs.first().cloned()
                }
            })
            .with_context(|| format!("{size} was not prepared"))?;
        let aws = self.aws.clone();
        let group = self.info.log_group.clone();
        self.rt
            .block_on(aws.invoke(&alias, payload, self.cfg.logs_wait, &group))?
            .with_context(|| {
                format!(
                    "no REPORT line for an invocation of {alias}, neither in its log tail nor in {group}"
                )
            })
    }

    fn invoke_all(
        &mut self,
        sizes: &[Mb],
        payloads: &[&[u8]],
        done: &mut dyn FnMut(Mb, usize, Result<InvocationRecord<'static>>),
    ) -> Result<()> {
        use tokio::sync::{Semaphore, mpsc};
        type Outcome = (Mb, usize, Result<InvocationRecord<'static>>);
        let sem = Arc::new(Semaphore::new(self.concurrency()));
        let (tx, mut rx) = mpsc::unbounded_channel::<Outcome>();
        let mut tasks = tokio::task::JoinSet::new();
        let payloads: Arc<Vec<Vec<u8>>> = Arc::new(payloads.iter().map(|p| p.to_vec()).collect());
        // What to invoke: a warm run sends every invocation of a size to its alias; a
        // cold-start run sends the i-th to the size's i-th fresh version.
        let mut targets: Vec<(Mb, String, Vec<usize>)> = Vec::new();
        for &size in sizes {
            let Some(qs) = self.prepared.get(&size.0) else {
                continue;
            };
            if self.cfg.cold_starts.is_some() {
                targets.extend(
                    qs.iter()
                        .enumerate()
                        .filter(|(i, _)| *i < payloads.len())
                        .map(|(i, q)| (size, q.clone(), vec![i])),
                );
            } else if let Some(alias) = qs.first() {
                targets.push((size, alias.clone(), (0..payloads.len()).collect()));
            }
        }
        let (wait, group) = (self.cfg.logs_wait, self.info.log_group.clone());
        let one = move |aws: Aws, alias: String, payload: Vec<u8>, group: String| async move {
            aws.invoke(&alias, &payload, wait, &group)
                .await
                .and_then(|r| {
                    r.with_context(|| {
                        format!(
                            "no REPORT line for an invocation of {alias}, neither in its log tail nor in {group} after {} s",
                            wait.as_secs()
                        )
                    })
                })
        };
        for (size, alias, indices) in targets {
            let (aws, sem, tx, payloads, stop, group) = (
                self.aws.clone(),
                sem.clone(),
                tx.clone(),
                payloads.clone(),
                self.cfg.stop.clone(),
                group.clone(),
            );
            let Some((&first, rest_of)) = indices.split_first() else {
                continue;
            };
            let rest_of = rest_of.to_vec();
            tasks.spawn_on(
                async move {
                    // The first invocation of a fresh version is its cold start, alone; the
                    // rest follow it, in parallel within --concurrency.
                    {
                        let _p = sem.acquire().await;
                        if stop.load(Ordering::Relaxed) {
                            return;
                        }
                        let r = one(
                            aws.clone(),
                            alias.clone(),
                            payloads[first].clone(),
                            group.clone(),
                        )
                        .await;
                        let _ = tx.send((size, first, r));
                    }
                    let mut rest = tokio::task::JoinSet::new();
                    for i in rest_of {
                        let (aws, sem, tx, payload, stop, alias, group) = (
                            aws.clone(),
                            sem.clone(),
                            tx.clone(),
                            payloads[i].clone(),
                            stop.clone(),
                            alias.clone(),
                            group.clone(),
                        );
                        rest.spawn(async move {
                            let _p = sem.acquire().await;
                            if stop.load(Ordering::Relaxed) {
                                return;
                            }
                            let r = one(aws, alias, payload, group).await;
                            let _ = tx.send((size, i, r));
                        });
                    }
                    while rest.join_next().await.is_some() {}
                },
                self.rt.handle(),
            );
        }
        drop(tx);
        let stop = self.cfg.stop.clone();
        self.rt.block_on(async {
            loop {
                tokio::select! {
                    got = rx.recv() => match got {
                        Some((size, i, r)) => done(size, i, r),
                        None => break,
                    },
                    () = tokio::time::sleep(Duration::from_millis(50)) => {
                        if stop.load(Ordering::Relaxed) {
                            tasks.abort_all();
                            break;
                        }
                    }
                }
            }
        });
        Ok(())
    }

    fn release(&mut self, _size: Mb) -> Result<()> {
        // Aliases and versions are removed together in cleanup, from the journal.
        Ok(())
    }

    fn cleanup(&mut self) -> Result<()> {
        let Some(journal) = self.journal.take() else {
            return Ok(());
        };
        let say = self.say.clone();
        let aws = self.aws.clone();
        let result = self.rt.block_on(undo(&aws, journal, &*say));
        self.latest_changed = false;
        result
    }

    fn limits(&self) -> String {
        "aws".to_owned()
    }

    fn warnings(&self) -> Vec<String> {
        Vec::new()
    }
}

impl Drop for AwsBackend {
    fn drop(&mut self) {
        if self.journal.is_some()
            && let Err(e) = self.cleanup()
        {
            eprintln!("powertune: cleanup failed: {e:#}");
        }
    }
}

/// Undoes what a journal says is left, recording each step, and removes the journal when nothing
/// is left. $LATEST first (it is what production calls), then aliases, then versions.
async fn undo(aws: &Aws, mut journal: Journal, say: &(dyn Fn(&str) + Send + Sync)) -> Result<()> {
    let pending = journal.pending();
    let f = aws.function.clone();
    let mut failures = Vec::new();
    if let Some((mb, desc)) = &pending.restore {
        // Only while $LATEST still carries this run's marker: if someone deployed since, their
        // configuration stands.
        let now = control!(
            aws,
            "GetFunction",
            aws.lambda.get_function().function_name(&f).send()
        );
        let current = now.ok().and_then(|o| {
            o.configuration()
                .and_then(|c| c.description().map(str::to_owned))
        });
        match current {
            Some(d) if pending.markers.contains(&d) => {
                say(&format!("restoring {f} $LATEST to {mb} MB"));
                match aws.update_latest(*mb, desc).await {
                    Ok(()) => journal.record(Entry::LatestRestored)?,
                    Err(e) => failures.push(format!("restore $LATEST: {e:#}")),
                }
            }
            Some(_) => {
                say(&format!(
                    "{f} $LATEST no longer carries powertune's marker (changed since); left as it is"
                ));
                journal.record(Entry::LatestRestored)?;
            }
            None => failures.push("restore $LATEST: cannot read its configuration".to_owned()),
        }
    }
    let ours: Vec<String> = pending
        .versions
        .iter()
        .filter_map(|v| match v {
            VersionRef::Number(n) => Some(n.clone()),
            VersionRef::Marker(_) => None,
        })
        .collect();
    for (name, version, confirmed) in &pending.aliases {
        if !confirmed {
            // Created or not? Delete it only if it is there and points at this run's version.
            let got = control!(
                aws,
                "GetAlias",
                aws.lambda.get_alias().function_name(&f).name(name).send()
            );
            match got {
                Ok(a) if a.function_version() == Some(version) && ours.contains(version) => {}
                Ok(_) => {
                    say(&format!("alias {name} is not this run's; left as it is"));
                    journal.record(Entry::AliasDeleted { name: name.clone() })?;
                    continue;
                }
                Err(e) if is_code(&e, "ResourceNotFoundException") => {
                    journal.record(Entry::AliasDeleted { name: name.clone() })?;
                    continue;
                }
                Err(e) => {
                    failures.push(format!("alias {name}: {e:#}"));
                    continue;
                }
            }
        }
        say(&format!("deleting alias {f}:{name}"));
        let r = control!(
            aws,
            format!("DeleteAlias {name}"),
            aws.lambda
                .delete_alias()
                .function_name(&f)
                .name(name)
                .send()
        );
        match r {
            Ok(_) => journal.record(Entry::AliasDeleted { name: name.clone() })?,
            Err(e) if is_code(&e, "ResourceNotFoundException") => {
                journal.record(Entry::AliasDeleted { name: name.clone() })?
            }
            Err(e) => failures.push(format!("{e:#}")),
        }
    }
    let mut versions = Vec::new();
    for v in &pending.versions {
        match v {
            VersionRef::Number(n) => versions.push(n.clone()),
            VersionRef::Marker(m) => {
                // The publish was sent but its answer never recorded: find it by its marker,
                // which holds this run's id.
                let mut pages = aws
                    .lambda
                    .list_versions_by_function()
                    .function_name(&f)
                    .into_paginator()
                    .send();
                let mut found = None;
                let mut failed = false;
                while let Some(p) = pages.next().await {
                    match p {
                        Ok(p) => {
                            for c in p.versions() {
                                if c.description() == Some(m.as_str()) {
                                    found = c.version().map(str::to_owned);
                                }
                            }
                        }
                        Err(e) => {
                            failures.push(format!("ListVersionsByFunction: {}", explain(&e)));
                            failed = true;
                            break;
                        }
                    }
                }
                if !failed {
                    journal.record(Entry::Found {
                        marker: m.clone(),
                        version: found.clone(),
                    })?;
                    versions.extend(found);
                }
            }
        }
    }
    for n in versions {
        say(&format!("deleting version {f}:{n}"));
        let r = control!(
            aws,
            format!("DeleteFunction {f}:{n}"),
            aws.lambda
                .delete_function()
                .function_name(&f)
                .qualifier(&n)
                .send()
        );
        match r {
            Ok(_) => journal.record(Entry::VersionDeleted { version: n })?,
            Err(e) if is_code(&e, "ResourceNotFoundException") => {
                journal.record(Entry::VersionDeleted { version: n })?
            }
            Err(e) => failures.push(format!("{e:#}")),
        }
    }
    if journal.pending().is_empty() && failures.is_empty() {
        journal.finish()?;
        Ok(())
    } else {
        let left = journal.pending().describe(&f);
        bail!(
            "could not undo everything ({}); still to do: {}; run `powertune cleanup --function {f}` to retry (journal {})",
            failures.join("; "),
            left.join("; "),
            journal.path().display()
        )
    }
}

/// Whether process `pid` is alive and is powertune (not another process that reused the pid
/// after the run that wrote a journal died).
fn powertune_alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    let exists = unsafe { libc::kill(pid as i32, 0) } == 0;
    exists
        && std::fs::read(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|c| String::from_utf8_lossy(&c).contains("powertune"))
}

/// What `powertune cleanup` needs.
#[derive(Debug, Clone)]
pub struct CleanupConfig {
    /// Function name.
    pub function: String,
    /// `--region`; else the journal's, if there is one journal for the function.
    pub region: Option<String>,
    /// `--profile`; else the journal's.
    pub profile: Option<String>,
    /// `--endpoint-url`; else the journal's.
    pub endpoint_url: Option<String>,
}

/// Finishes an interrupted run from its journal. Returns false when there was no journal for
/// the function (nothing to do).
pub fn cleanup_command(c: &CleanupConfig, say: &(dyn Fn(&str) + Send + Sync)) -> Result<bool> {
    let dir = journal::state_dir()?;
    let name_part = journal::path_for(std::path::Path::new(""), "x", &c.function)
        .to_string_lossy()
        .trim_start_matches("x--")
        .to_owned();
    let mut candidates: Vec<PathBuf> = match &c.region {
        Some(r) => vec![journal::path_for(&dir, r, &c.function)],
        None => std::fs::read_dir(&dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| {
                        p.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| n.ends_with(&format!("--{name_part}")))
                    })
                    .collect()
            })
            .unwrap_or_default(),
    };
    candidates.retain(|p| p.exists());
    if candidates.is_empty() {
        return Ok(false);
    }
    if candidates.len() > 1 {
        bail!(
            "journals for {} in several regions ({}); pass --region",
            c.function,
            candidates
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let path = candidates.remove(0);
    let journal = Journal::open(path.clone())?;
    let Some(Entry::Begin {
        region,
        endpoint_url,
        profile,
        pid,
        function,
        ..
    }) = journal.entries().first().cloned()
    else {
        bail!(
            "journal {} has no beginning; it cannot be trusted: inspect it and remove it by hand",
            path.display()
        );
    };
    if pid != std::process::id() && powertune_alive(pid) {
        bail!(
            "powertune (pid {pid}) is still running on {function}; stop it with Ctrl-C and it cleans up itself"
        );
    }
    let rt = runtime()?;
    rt.block_on(async {
        let sdk = sdk_config(
            c.profile.as_deref().or(profile.as_deref()),
            Some(c.region.as_deref().unwrap_or(&region)),
            c.endpoint_url.as_deref().or(endpoint_url.as_deref()),
        )
        .await?;
        let aws = clients(&sdk, &function);
        let left = journal.pending();
        if left.is_empty() {
            say("nothing was left to undo");
        }
        undo(&aws, journal, say).await
    })?;
    Ok(true)
}

/// What is still left to undo according to a journal on disk (for the second Ctrl-C).
pub fn left_in(path: &std::path::Path, function: &str) -> Vec<String> {
    journal::read(path)
        .map(|es| Pending::from_entries(&es).describe(function))
        .unwrap_or_default()
}
