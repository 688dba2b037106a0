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
    /// The events to send: one class, or a weighted set (`--payload @payloads.json`).
    pub payloads: Vec<PayloadClass>,
}

/// One event of the plan, and how much of the traffic it stands for.
#[derive(Debug, Clone, PartialEq)]
pub struct PayloadClass {
    /// A label for reports: the set's `name`, else `#1`, `#2`…
    pub name: String,
    /// The event, JSON.
    pub body: Vec<u8>,
    /// Its share of the traffic (any positive scale).
    pub weight: f64,
}

/// One invocation's record and the payload class it was sent.
#[derive(Debug, Clone)]
pub struct Measured {
    /// Index into [`Plan::payloads`].
    pub class: usize,
    /// What its REPORT line said.
    pub record: InvocationRecord<'static>,
}

/// Reads `--payload`'s JSON: a weighted set `[{"payload": …, "weight": …, "name"?: …}, …]`
/// (the shape aws-lambda-power-tuning takes: an array whose every element has `payload` and
/// `weight`), or else one event.
pub fn parse_payloads(json: &[u8]) -> Result<Vec<PayloadClass>> {
    let v: serde_json::Value = serde_json::from_slice(json).map_err(|e| {
        anyhow::anyhow!("--payload must be JSON (inline, or @FILE holding JSON): {e}")
    })?;
    let set = v.as_array().filter(|a| {
        !a.is_empty()
            && a.iter().all(|e| {
                e.as_object()
                    .is_some_and(|o| o.contains_key("payload") && o.contains_key("weight"))
            })
    });
    let Some(set) = set else {
        return Ok(vec![PayloadClass {
            name: "#1".into(),
            body: json.to_vec(),
            weight: 1.0,
        }]);
    };
    let mut out = Vec::new();
    for (i, e) in set.iter().enumerate() {
        let weight = e["weight"].as_f64().filter(|w| *w > 0.0 && w.is_finite());
        let Some(weight) = weight else {
            bail!(
                "--payload: element {} of the weighted set has weight {}; expected a positive number",
                i + 1,
                e["weight"]
            );
        };
        let name = match &e["name"] {
            serde_json::Value::String(n) if !n.trim().is_empty() => n.trim().to_owned(),
            serde_json::Value::Null => format!("#{}", i + 1),
            other => bail!(
                "--payload: element {} has name {other}; expected a string",
                i + 1
            ),
        };
        if out.iter().any(|c: &PayloadClass| c.name == name) {
            bail!("--payload: two elements are named {name:?}; names must differ");
        }
        out.push(PayloadClass {
            name,
            body: serde_json::to_vec(&e["payload"])?,
            weight,
        });
    }
    Ok(out)
}

impl Plan {
    /// Which payload class each of a size's invocations sends, in order: counts proportional
    /// to the weights (largest remainder, at least one each, so no class goes unmeasured), and
    /// spread evenly through the run rather than in blocks.
    pub fn schedule(&self) -> Vec<usize> {
        let n = self.invocations as usize;
        let k = self.payloads.len();
        if k <= 1 {
            return vec![0; n];
        }
        let total: f64 = self.payloads.iter().map(|c| c.weight).sum();
        let exact: Vec<f64> = self
            .payloads
            .iter()
            .map(|c| n as f64 * c.weight / total)
            .collect();
        let mut counts: Vec<usize> = exact.iter().map(|e| (e.floor() as usize).max(1)).collect();
        // Largest remainder: add where the count falls furthest short of the exact share,
        // take away (never below one) where it exceeds it most.
        while counts.iter().sum::<usize>() < n {
            let c = (0..k)
                .max_by(|&a, &b| {
                    (exact[a] - counts[a] as f64).total_cmp(&(exact[b] - counts[b] as f64))
                })
                .unwrap_or(0);
            counts[c] += 1;
        }
        while counts.iter().sum::<usize>() > n {
            let Some(c) = (0..k).filter(|&c| counts[c] > 1).max_by(|&a, &b| {
                (counts[a] as f64 - exact[a]).total_cmp(&(counts[b] as f64 - exact[b]))
            }) else {
                break;
            };
            counts[c] -= 1;
        }
        // Each class's j-th invocation sits at (j + ½) / count of the way through the run.
        let mut slots: Vec<(f64, usize)> = counts
            .iter()
            .enumerate()
            .flat_map(|(c, &m)| (0..m).map(move |j| ((j as f64 + 0.5) / m as f64, c)))
            .collect();
        slots.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        slots.into_iter().map(|(_, c)| c).take(n).collect()
    }
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
        records: &'a [Measured],
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

/// Writes an invocation's START line in Lambda's text format (before it runs, so that what the
/// function prints lands between START and END, as in CloudWatch Logs).
fn log_start(w: &mut dyn Write, id: &str) -> std::io::Result<()> {
    writeln!(w, "START RequestId: {id} Version: $LATEST")?;
    w.flush()
}

/// Writes an invocation's END and REPORT lines in Lambda's text format.
fn log_end(w: &mut dyn Write, id: &str, record: &InvocationRecord<'_>) -> std::io::Result<()> {
    writeln!(w, "END RequestId: {id}")?;
    writeln!(w, "{}", record.report_line())?;
    w.flush()
}

/// Runs the plan. Returns every record measured; stops early (keeping what it has) when `stop`
/// is set. The backend is not cleaned up here: its owner does that on every path.
pub fn tune(
    backend: &mut dyn Backend,
    plan: &Plan,
    mut log: Option<&mut dyn Write>,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Vec<Measured>> {
    if backend.prepares_all_first() {
        return tune_parallel(backend, plan, log, stop, progress);
    }
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        ^ (u64::from(std::process::id()) << 32)
        | 1;
    let schedule = plan.schedule();
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
                log_start(*w, &id)?;
            }
            let class = schedule[n as usize];
            let record = match backend.invoke(size, &id, &plan.payloads[class].body) {
                Ok(r) => r,
                Err(_) if stop.load(Ordering::Relaxed) => break,
                Err(e) => return Err(e),
            };
            if let Some(w) = log.as_mut() {
                log_end(*w, &id, &record)?;
            }
            progress(Progress::Invoked {
                size,
                done: n + 1,
                record: &record,
            });
            records.push(Measured { class, record });
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
) -> Result<Vec<Measured>> {
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
    let schedule = plan.schedule();
    let bodies: Vec<&[u8]> = schedule
        .iter()
        .map(|&c| plan.payloads[c].body.as_slice())
        .collect();
    let mut records = Vec::new();
    let mut done_at: std::collections::BTreeMap<u32, u32> = Default::default();
    let mut failure = None;
    backend.invoke_all(&sizes, &bodies, &mut |size, index, r| {
        let n = done_at.entry(size.0).or_default();
        *n += 1;
        let n = *n;
        match r {
            Ok(record) => {
                if let Some(w) = log.as_mut() {
                    let id = record.request_id.as_deref().unwrap_or("-");
                    let res = log_start(*w, id).and_then(|()| log_end(*w, id, &record));
                    if let Err(e) = res {
                        failure.get_or_insert(anyhow::Error::from(e).context("writing --log-file"));
                    }
                }
                progress(Progress::Invoked {
                    size,
                    done: n,
                    record: &record,
                });
                records.push(Measured {
                    class: schedule.get(index).copied().unwrap_or(0),
                    record,
                });
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

    fn plan(n: u32, weights: &[f64]) -> Plan {
        Plan {
            function: "f".into(),
            sizes: vec![Mb(128)],
            invocations: n,
            payloads: weights
                .iter()
                .enumerate()
                .map(|(i, &w)| PayloadClass {
                    name: format!("#{i}"),
                    body: b"{}".to_vec(),
                    weight: w,
                })
                .collect(),
        }
    }

    #[test]
    fn schedules_follow_the_weights_and_never_drop_a_class() {
        let count = |s: &[usize], c| s.iter().filter(|&&x| x == c).count();
        let s = plan(10, &[3.0, 1.0, 1.0]).schedule();
        assert_eq!(s.len(), 10);
        assert_eq!((count(&s, 0), count(&s, 1), count(&s, 2)), (6, 2, 2));
        // A tiny weight still gets its invocation.
        let s = plan(10, &[1000.0, 1.0]).schedule();
        assert_eq!((count(&s, 0), count(&s, 1)), (9, 1));
        // Spread out, not in blocks: the heavy class does not take the first six in a row.
        let s = plan(10, &[3.0, 1.0, 1.0]).schedule();
        assert_ne!(&s[..6], &[0; 6]);
        assert_eq!(plan(4, &[1.0]).schedule(), vec![0; 4]);
    }

    #[test]
    fn payload_sets_are_told_from_single_events() {
        let one = parse_payloads(br#"[{"payload": 1}]"#).unwrap();
        assert_eq!(one.len(), 1, "no weight: an ordinary array event");
        assert_eq!(one[0].body, br#"[{"payload": 1}]"#);
        let set = parse_payloads(
            br#"[{"payload": {"id": 1}, "weight": 3, "name": "read"}, {"payload": [], "weight": 1}]"#,
        )
        .unwrap();
        assert_eq!(set.len(), 2);
        assert_eq!((set[0].name.as_str(), set[0].weight), ("read", 3.0));
        assert_eq!(set[0].body, br#"{"id":1}"#);
        assert_eq!(set[1].name, "#2");
        for bad in [
            &br#"[{"payload": 1, "weight": 0}]"#[..],
            br#"[{"payload": 1, "weight": "x"}]"#,
            br#"[{"payload": 1, "weight": 1, "name": "a"}, {"payload": 2, "weight": 1, "name": "a"}]"#,
            b"not json",
        ] {
            assert!(parse_payloads(bad).is_err(), "{}", String::from_utf8_lossy(bad));
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
