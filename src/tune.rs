//! The tuning loop, the same for every backend: for each memory size of the plan, prepare it,
//! invoke it N times with the payload, hand each invocation record to the caller (and its START,
//! END and REPORT lines to the log, in Lambda's text format), release it. Statistics, cost and the
//! decision happen afterwards in the shared pipeline ([`crate::analysis`]); progress is reported
//! through a callback, never printed from here.

use crate::backend::Backend;
use crate::cost::{MAX_MEMORY, MIN_MEMORY};
use crate::record::InvocationRecord;
use crate::units::Mb;
use anyhow::{Result, bail};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// Sizes tuned when `--memory` is not given.
pub const DEFAULT_SIZES: &str = "128,256,512,1024,1536,2048,3008";

/// What to measure.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The function.
    pub function: String,
    /// Memory sizes, ascending, each 128–10,240 MB.
    pub sizes: Vec<Mb>,
    /// Invocations per size.
    pub invocations: u32,
    /// The event sent to every invocation.
    pub payload: Vec<u8>,
}

/// Parses `--memory`: a list (`128,512,1024`), a range with a step (`128..3008:64`), or both
/// (`128..1024:128,1769`). Every size must be within Lambda's 128–10,240 MB.
pub fn parse_sizes(spec: &str) -> Result<Vec<Mb>> {
    let mut out = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if let Some((lo, rest)) = part.split_once("..") {
            let (hi, step) = rest.split_once(':').unwrap_or((rest, "64"));
            let num = |s: &str, what: &str| -> Result<u32> {
                s.trim().parse().map_err(|_| {
                    anyhow::anyhow!("--memory {part:?}: {what} {s:?} is not a whole number of MB")
                })
            };
            let (lo, hi, step) = (num(lo, "start")?, num(hi, "end")?, num(step, "step")?);
            if step == 0 || hi < lo {
                bail!(
                    "--memory {part:?}: expected START..END:STEP with START ≤ END and STEP > 0, e.g. 128..3008:64"
                );
            }
            let mut m = lo;
            while m <= hi {
                out.push(m);
                m += step;
            }
        } else {
            out.push(part.parse().map_err(|_| {
                anyhow::anyhow!("--memory: {part:?} is not a memory size in MB (expected e.g. 128,512,1024 or 128..3008:64)")
            })?);
        }
    }
    if out.is_empty() {
        bail!("--memory: no sizes given (expected e.g. 128,512,1024 or 128..3008:64)");
    }
    for &m in &out {
        if !(MIN_MEMORY.0..=MAX_MEMORY.0).contains(&m) {
            bail!("--memory: {m} MB is outside Lambda's 128–10,240 MB range");
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out.into_iter().map(Mb).collect())
}

/// What the loop reports as it goes.
#[derive(Debug)]
pub enum Progress<'a> {
    /// A size is about to be measured.
    Size {
        /// The size.
        size: Mb,
        /// Its position, from 1.
        index: usize,
        /// Sizes in all.
        of: usize,
    },
    /// Every invocation of a size is done; `records` holds every record of the run so far.
    SizeDone {
        /// The size.
        size: Mb,
        /// The run's records so far.
        records: &'a [InvocationRecord<'static>],
    },
    /// An invocation could not be measured (the backend failed, not the function).
    Lost {
        /// The size.
        size: Mb,
        /// Why.
        error: &'a anyhow::Error,
    },
    /// One invocation finished.
    Invoked {
        /// The size.
        size: Mb,
        /// Invocations done at this size.
        done: u32,
        /// The record.
        record: &'a InvocationRecord<'static>,
    },
}

/// A random request id in Lambda's UUID v4 form.
pub fn request_id(state: &mut u64) -> String {
    let mut next = || {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    };
    let (a, b) = (next(), next());
    format!(
        "{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        8 + (b >> 62),
        (b >> 48) & 0xfff,
        b & 0xffff_ffff_ffff
    )
}

/// Runs the plan. Returns every record measured; stops early (keeping what it has) when `stop`
/// is set. The backend is not cleaned up here: its owner does that on every path.
pub fn tune(
    backend: &mut dyn Backend,
    plan: &Plan,
    mut log: Option<&mut dyn Write>,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Vec<InvocationRecord<'static>>> {
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        ^ (u64::from(std::process::id()) << 32)
        | 1;
    if backend.prepares_all_first() {
        return tune_parallel(backend, plan, log, stop, progress);
    }
    let mut records = Vec::new();
    for (i, &size) in plan.sizes.iter().enumerate() {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        progress(Progress::Size {
            size,
            index: i + 1,
            of: plan.sizes.len(),
        });
        backend.prepare(size)?;
        for n in 0..plan.invocations {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let id = request_id(&mut seed);
            if let Some(w) = log.as_mut() {
                writeln!(w, "START RequestId: {id} Version: $LATEST")?;
                w.flush()?;
            }
            let record = match backend.invoke(size, &id, &plan.payload) {
                Ok(r) => r,
                Err(_) if stop.load(Ordering::Relaxed) => break,
                Err(e) => return Err(e),
            };
            if let Some(w) = log.as_mut() {
                writeln!(w, "END RequestId: {id}")?;
                writeln!(w, "{}", record.report_line())?;
                w.flush()?;
            }
            progress(Progress::Invoked {
                size,
                done: n + 1,
                record: &record,
            });
            records.push(record);
        }
        progress(Progress::SizeDone {
            size,
            records: &records,
        });
        backend.release(size)?;
    }
    Ok(records)
}

/// The schedule of backends that run many invocations at once (AWS): every size is prepared
/// first, then all are invoked together within the backend's concurrency.
fn tune_parallel(
    backend: &mut dyn Backend,
    plan: &Plan,
    mut log: Option<&mut dyn Write>,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Vec<InvocationRecord<'static>>> {
    let mut sizes = Vec::new();
    for (i, &size) in plan.sizes.iter().enumerate() {
        if stop.load(Ordering::Relaxed) {
            return Ok(Vec::new());
        }
        progress(Progress::Size {
            size,
            index: i + 1,
            of: plan.sizes.len(),
        });
        backend.prepare(size)?;
        sizes.push(size);
    }
    backend.prepared()?;
    let mut records = Vec::new();
    let mut done_at: std::collections::BTreeMap<u32, u32> = Default::default();
    let mut failure = None;
    backend.invoke_all(&sizes, plan.invocations, &plan.payload, &mut |size, r| {
        let n = done_at.entry(size.0).or_default();
        *n += 1;
        let n = *n;
        match r {
            Ok(record) => {
                if let Some(w) = log.as_mut() {
                    let id = record.request_id.as_deref().unwrap_or("-");
                    let res = writeln!(w, "START RequestId: {id} Version: {size}")
                        .and_then(|()| writeln!(w, "END RequestId: {id}"))
                        .and_then(|()| writeln!(w, "{}", record.report_line()))
                        .and_then(|()| w.flush());
                    if let Err(e) = res {
                        failure.get_or_insert(anyhow::Error::from(e).context("writing --log-file"));
                    }
                }
                progress(Progress::Invoked {
                    size,
                    done: n,
                    record: &record,
                });
                records.push(record);
            }
            Err(e) => progress(Progress::Lost { size, error: &e }),
        }
        if n == plan.invocations {
            progress(Progress::SizeDone {
                size,
                records: &records,
            });
        }
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    for &size in &sizes {
        backend.release(size)?;
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_lists_ranges_and_bounds() {
        let v = |s: &str| {
            parse_sizes(s)
                .unwrap()
                .iter()
                .map(|m| m.0)
                .collect::<Vec<_>>()
        };
        assert_eq!(v("512,128,1024,512"), vec![128, 512, 1024]);
        assert_eq!(v("128..384:128"), vec![128, 256, 384]);
        assert_eq!(v("128..256, 1769"), vec![128, 192, 256, 1769]);
        for bad in ["64", "128,20000", "abc", "128..64", "128..512:0", ""] {
            assert!(parse_sizes(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn request_ids_look_like_lambdas() {
        let mut s = 42;
        let id = request_id(&mut s);
        assert_eq!(id.len(), 36);
        assert_eq!(id.as_bytes()[14], b'4');
        assert_ne!(id, request_id(&mut s));
    }
}
