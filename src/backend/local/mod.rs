//! The local backend: runs the function's own code — an executable `bootstrap`, as Lambda's
//! custom runtimes start it, or any command — against a Runtime API served on 127.0.0.1, with
//! the environment Lambda sets, inside a cgroup that enforces the size's memory and CPU. It
//! measures as Lambda does: Init Duration from process start to the first `/next`, Duration from
//! handing out the event to receiving the response, Max Memory Used from the cgroup's peak,
//! Billed Duration rounded up to the millisecond with init included. Timeouts kill and restart
//! the environment; out-of-memory kills are read from the cgroup. Every process and cgroup it
//! made is gone when it is dropped.

pub mod cgroup;
pub mod runtime_api;

use super::Backend;
use crate::record::{InvocationRecord, Status};
use crate::report::Source;
use crate::units::Mb;
use anyhow::{Context, Result};
use cgroup::{Cgroup, Flavor};
use runtime_api::{Outcome, RuntimeApi};
use std::borrow::Cow;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What the local backend runs, and how.
#[derive(Debug, Clone)]
pub struct LocalConfig {
    /// The function's name (AWS_LAMBDA_FUNCTION_NAME).
    pub function: String,
    /// The code directory (LAMBDA_TASK_ROOT); its `bootstrap` runs unless `command` is given.
    pub task_root: PathBuf,
    /// A command to run instead of `bootstrap` (through `sh -c`).
    pub command: Option<String>,
    /// _HANDLER.
    pub handler: String,
    /// AWS_REGION.
    pub region: String,
    /// Invocation timeout.
    pub timeout: Duration,
    /// Init timeout (Lambda's is 10 s, LAMBDA_FACTS §5).
    pub init_timeout: Duration,
    /// Run without cgroups (results are marked unenforced).
    pub no_limits: bool,
    /// Where the runtime's own output goes (the log file), if anywhere.
    pub output: Option<PathBuf>,
    /// Set when the user asked to stop (Ctrl-C): waits end early.
    pub stop: Arc<AtomicBool>,
}

struct Environment {
    size: u32,
    child: Child,
    cgroup: Option<Cgroup>,
    /// Init Duration, until the first invocation has reported it.
    pending_init_ms: Option<f64>,
    /// The peak of a process without cgroup: VmHWM of the runtime.
    pid: u32,
}

/// Runs the function locally under Lambda's limits.
pub struct LocalBackend {
    cfg: LocalConfig,
    flavor: Option<Flavor>,
    api: RuntimeApi,
    env: Option<Environment>,
    host_cores: f64,
    warnings: Vec<String>,
    seq: u32,
}

impl LocalBackend {
    /// Starts the Runtime API and finds a cgroup interface (or fails saying how to get one, unless
    /// `no_limits`).
    pub fn new(cfg: LocalConfig) -> Result<LocalBackend> {
        if cfg.command.is_none() {
            let bootstrap = cfg.task_root.join("bootstrap");
            let meta = std::fs::metadata(&bootstrap).with_context(|| {
                format!(
                    "{} has no bootstrap (expected an executable `bootstrap`, as Lambda's provided runtimes start; or pass --local-cmd)",
                    cfg.task_root.display()
                )
            })?;
            use std::os::unix::fs::PermissionsExt;
            if meta.permissions().mode() & 0o111 == 0 {
                anyhow::bail!("{} is not executable (chmod +x it)", bootstrap.display());
            }
        }
        let flavor = if cfg.no_limits {
            None
        } else {
            Some(
                cgroup::detect(std::path::Path::new("/sys/fs/cgroup"))
                    .map_err(anyhow::Error::msg)?,
            )
        };
        let arn = format!(
            "arn:aws:lambda:{}:000000000000:function:{}",
            cfg.region, cfg.function
        );
        let api = RuntimeApi::start(&arn).context("starting the Runtime API on 127.0.0.1")?;
        let host_cores = std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64);
        let mut warnings = Vec::new();
        if cfg.no_limits {
            warnings.push(
                "--no-limits: memory and CPU were not limited; every result is unenforced".into(),
            );
        }
        Ok(LocalBackend {
            cfg,
            flavor,
            api,
            env: None,
            host_cores,
            warnings,
            seq: 0,
        })
    }

    fn stop_env(&mut self) {
        if let Some(mut env) = self.env.take() {
            match &env.cgroup {
                Some(cg) => cg.destroy(),
                None => {
                    // The runtime leads its own process group: end it and its children.
                    // SAFETY: kill(2) on a process group this backend created.
                    unsafe {
                        libc::kill(-(env.child.id() as i32), libc::SIGKILL);
                    }
                }
            }
            let _ = env.child.kill();
            let _ = env.child.wait();
        }
        self.api.reset();
    }

    fn start_env(&mut self, size: u32) -> Result<()> {
        self.stop_env();
        self.seq += 1;
        let vcpus = cgroup::lambda_vcpus(size);
        let cg = match &self.flavor {
            Some(f) => {
                let name = format!("{}-{}-{}", std::process::id(), size, self.seq);
                Some(
                    Cgroup::create(f, &name, size, vcpus.min(self.host_cores)).with_context(
                        || format!("creating a cgroup for {size} MB ({})", f.name()),
                    )?,
                )
            }
            None => None,
        };
        // The shell joins the cgroup, then becomes the runtime: it starts inside its limits.
        let join: String = cg
            .as_ref()
            .map(|c| {
                c.procs_files()
                    .iter()
                    .map(|p| format!("echo $$ > '{}' && ", p.display()))
                    .collect()
            })
            .unwrap_or_default();
        let run = match &self.cfg.command {
            Some(c) => c.clone(),
            None => "exec ./bootstrap".to_owned(),
        };
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c").arg(format!("{join}{run}"));
        cmd.current_dir(&self.cfg.task_root);
        cmd.env_clear();
        for k in [
            "PATH",
            "HOME",
            "LANG",
            "TMPDIR",
            "LD_LIBRARY_PATH",
            "PYTHONPATH",
        ] {
            if let Ok(v) = std::env::var(k) {
                cmd.env(k, v);
            }
        }
        let root = self
            .cfg
            .task_root
            .canonicalize()
            .unwrap_or_else(|_| self.cfg.task_root.clone());
        cmd.env("AWS_LAMBDA_RUNTIME_API", self.api.address())
            .env("AWS_LAMBDA_FUNCTION_NAME", &self.cfg.function)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", size.to_string())
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{}", self.cfg.function),
            )
            .env(
                "AWS_LAMBDA_LOG_STREAM_NAME",
                format!("local/[$LATEST]{}-{}", std::process::id(), self.seq),
            )
            .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
            .env("AWS_REGION", &self.cfg.region)
            .env("AWS_DEFAULT_REGION", &self.cfg.region)
            .env("_HANDLER", &self.cfg.handler)
            .env("LAMBDA_TASK_ROOT", &root)
            .env("LAMBDA_RUNTIME_DIR", &root)
            .env("TZ", ":UTC");
        let (out, err) = match &self.cfg.output {
            Some(p) => {
                let f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)?;
                (Stdio::from(f.try_clone()?), Stdio::from(f))
            }
            None => (Stdio::null(), Stdio::null()),
        };
        cmd.stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        self.api.reset();
        let started = Instant::now();
        let child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                if let Some(c) = &cg {
                    c.destroy();
                }
                return Err(e).context("starting the runtime");
            }
        };
        let pid = child.id();
        self.env = Some(Environment {
            size,
            child,
            cgroup: cg,
            pending_init_ms: None,
            pid,
        });
        // Init: until the first /next, the process exits, or the init timeout.
        let deadline = started + self.cfg.init_timeout;
        loop {
            if let Some(at) = self.api.wait_next(Duration::from_millis(10)) {
                if let Some(env) = &mut self.env {
                    env.pending_init_ms = Some(at.duration_since(started).as_secs_f64() * 1000.0);
                }
                return Ok(());
            }
            if self.stopped() {
                anyhow::bail!("interrupted");
            }
            let exited = self
                .env
                .as_mut()
                .and_then(|e| e.child.try_wait().ok().flatten());
            if let Some(status) = exited {
                let kind = self
                    .api
                    .init_error()
                    .unwrap_or_else(|| "Runtime.ExitError".into());
                return Err(InitFailure {
                    error_type: kind,
                    message: format!("the runtime exited during init ({})", describe(status)),
                    elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
                }
                .into());
            }
            if Instant::now() >= deadline {
                return Err(InitFailure {
                    error_type: "Runtime.InitTimeout".into(),
                    message: format!(
                        "the runtime did not ask for an event within the {} s init timeout",
                        self.cfg.init_timeout.as_secs_f64()
                    ),
                    elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
                }
                .into());
            }
        }
    }

    fn stopped(&self) -> bool {
        self.cfg.stop.load(Ordering::Relaxed)
    }

    fn peak_mb(&self) -> f64 {
        let Some(env) = &self.env else { return 0.0 };
        let bytes = match &env.cgroup {
            Some(c) => c.peak_bytes(),
            None => vm_hwm(env.pid),
        };
        bytes.map_or(0.0, |b| (b as f64 / (1024.0 * 1024.0)).ceil())
    }
}

fn vm_hwm(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: u64 = s
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

fn describe(status: std::process::ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit code {c}"),
        (None, Some(s)) => format!("signal {s}"),
        _ => "unknown status".into(),
    }
}

/// An environment that could not start: reported as the invocation's error.
#[derive(Debug, thiserror::Error)]
#[error("{error_type}: {message}")]
struct InitFailure {
    error_type: String,
    message: String,
    elapsed_ms: f64,
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

impl Backend for LocalBackend {
    fn source(&self) -> Source {
        Source::Local
    }

    fn prepare(&mut self, size: Mb) -> Result<()> {
        let vcpus = cgroup::lambda_vcpus(size.0);
        if vcpus > self.host_cores + 1e-9 && self.flavor.is_some() {
            self.warnings.push(format!(
                "{} MB gets {vcpus:.2} vCPU on Lambda but this host has {} cores: it was given {}",
                size.0, self.host_cores, self.host_cores
            ));
        }
        Ok(())
    }

    fn invoke(
        &mut self,
        size: Mb,
        request_id: &str,
        payload: &[u8],
    ) -> Result<InvocationRecord<'static>> {
        let mut rec = InvocationRecord::empty();
        rec.request_id = Some(Cow::Owned(request_id.to_owned()));
        rec.memory_size_mb = Some(f64::from(size.0));
        let alive = self
            .env
            .as_mut()
            .is_some_and(|e| e.size == size.0 && e.child.try_wait().ok().flatten().is_none());
        if !alive && let Err(e) = self.start_env(size.0) {
            if self.stopped() {
                return Err(e);
            }
            let failure = e.downcast::<InitFailure>()?;
            let peak = self.peak_mb();
            let oom = self
                .env
                .as_ref()
                .and_then(|e| e.cgroup.as_ref())
                .is_some_and(|c| c.oom_kills() > 0);
            self.stop_env();
            // A failed init is retried inside the invocation ("suppressed init"): its time is
            // the invocation's Duration and there is no Init Duration.
            rec.duration_ms = Some(round2(failure.elapsed_ms));
            rec.billed_duration_ms = Some(failure.elapsed_ms.ceil());
            rec.max_memory_used_mb = Some(peak);
            rec.status = if failure.error_type == "Runtime.InitTimeout" {
                Status::Timeout
            } else {
                Status::Error
            };
            rec.error_type = Some(Cow::Owned(if oom {
                "Runtime.OutOfMemory".into()
            } else {
                failure.error_type
            }));
            return Ok(rec);
        }
        let deadline_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
            + self.cfg.timeout.as_millis() as u64;
        self.api.submit(request_id, payload, deadline_ms);
        let submitted = Instant::now();
        let init_ms = self.env.as_mut().and_then(|e| e.pending_init_ms.take());
        rec.init_duration_ms = init_ms.map(round2);
        let (outcome, ended, handed) = loop {
            if let Some((o, at, handed)) = self.api.wait_outcome(Duration::from_millis(10)) {
                break (Some(o), at, handed);
            }
            if self.stopped() {
                self.stop_env();
                anyhow::bail!("interrupted");
            }
            let started = self.api.handed_out().unwrap_or(submitted);
            if started.elapsed() >= self.cfg.timeout {
                break (None, Instant::now(), Some(started));
            }
            let exited = self
                .env
                .as_mut()
                .and_then(|e| e.child.try_wait().ok().flatten());
            if let Some(status) = exited {
                let oom = self
                    .env
                    .as_ref()
                    .and_then(|e| e.cgroup.as_ref())
                    .is_some_and(|c| c.oom_kills() > 0);
                let kind = if oom {
                    "Runtime.OutOfMemory".to_owned()
                } else {
                    format!("Runtime.ExitError ({})", describe(status))
                };
                let handed = self.api.handed_out();
                break (Some(Outcome::Protocol(kind)), Instant::now(), handed);
            }
        };
        let started = handed.unwrap_or(submitted);
        let duration = ended.saturating_duration_since(started).as_secs_f64() * 1000.0;
        rec.max_memory_used_mb = Some(self.peak_mb());
        let mut restart = false;
        match outcome {
            Some(Outcome::Response(_)) => {}
            Some(Outcome::Error(kind, _)) => {
                rec.status = Status::Error;
                rec.error_type = Some(Cow::Owned(kind));
            }
            Some(Outcome::Protocol(why)) => {
                rec.status = Status::Error;
                let kind = if why.starts_with("Runtime.") {
                    why.split(' ')
                        .next()
                        .unwrap_or("Runtime.ExitError")
                        .to_owned()
                } else {
                    "Runtime.InvalidRequest".to_owned()
                };
                if kind == "Runtime.OutOfMemory" {
                    rec.max_memory_used_mb = Some(f64::from(size.0));
                }
                rec.error_type = Some(Cow::Owned(kind));
                if !why.starts_with("Runtime.") {
                    self.warnings
                        .push(format!("{} MB, request {request_id}: {why}", size.0));
                }
                restart = true;
            }
            None => {
                rec.status = Status::Timeout;
                restart = true;
            }
        }
        let duration = if rec.status == Status::Timeout {
            self.cfg.timeout.as_secs_f64() * 1000.0
        } else {
            duration
        };
        rec.duration_ms = Some(round2(duration));
        rec.billed_duration_ms =
            Some((round2(duration) + rec.init_duration_ms.unwrap_or(0.0)).ceil());
        if restart {
            self.stop_env();
        }
        Ok(rec)
    }

    fn release(&mut self, _size: Mb) -> Result<()> {
        self.stop_env();
        Ok(())
    }

    fn cleanup(&mut self) -> Result<()> {
        self.stop_env();
        self.api.shutdown();
        if let Some(f) = &self.flavor {
            cgroup::remove_parents(f);
        }
        Ok(())
    }

    fn limits(&self) -> String {
        self.flavor
            .as_ref()
            .map_or("unenforced".into(), |f| f.name().to_owned())
    }

    fn warnings(&self) -> Vec<String> {
        self.warnings.clone()
    }
}

impl Drop for LocalBackend {
    fn drop(&mut self) {
        let _ = self.cleanup();
    }
}
