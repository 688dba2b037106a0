//! One invocation record: what a Lambda REPORT line (text or JSON `platform.report`) says about a
//! single invocation. Every source of measurements (captured logs, the AWS backend, the local
//! backend) produces these, and everything downstream (statistics, cost, recommendation) consumes
//! only these.

use serde::{Serialize, Serializer};
use std::borrow::Cow;

/// How an invocation ended, as the REPORT line's `Status` (text) or `status` (JSON) says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// No status field (text logs) or `"success"`.
    Success,
    /// `Status: timeout`.
    Timeout,
    /// `Status: error` (runtime crash, out of memory, ...).
    Error,
    /// JSON `"failure"`: the function returned an error.
    Failure,
}

impl Status {
    /// Parses the value of a `Status:` field; unknown values are kept as errors.
    pub fn from_field(s: &str) -> Status {
        match s.to_ascii_lowercase().as_str() {
            "success" => Status::Success,
            "timeout" => Status::Timeout,
            "failure" => Status::Failure,
            _ => Status::Error,
        }
    }

    /// The lowercase name used in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Success => "success",
            Status::Timeout => "timeout",
            Status::Error => "error",
            Status::Failure => "failure",
        }
    }
}

/// One invocation, with every field a REPORT line can carry. Absent fields are `None`.
///
/// Field names are the stable contract of `powertune parse` (JSON Lines, one object per record).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InvocationRecord<'a> {
    /// The invocation's request id (`RequestId:` / `requestId`).
    pub request_id: Option<Cow<'a, str>>,
    /// `Duration`, milliseconds.
    #[serde(serialize_with = "number")]
    pub duration_ms: Option<f64>,
    /// `Billed Duration`, milliseconds (includes billed INIT time where AWS bills it).
    #[serde(serialize_with = "number")]
    pub billed_duration_ms: Option<f64>,
    /// `Memory Size`, MB (MiB): the configured memory.
    #[serde(serialize_with = "number")]
    pub memory_size_mb: Option<f64>,
    /// `Max Memory Used`, MB (MiB).
    #[serde(serialize_with = "number")]
    pub max_memory_used_mb: Option<f64>,
    /// `Init Duration`, milliseconds: present on cold starts.
    #[serde(serialize_with = "number")]
    pub init_duration_ms: Option<f64>,
    /// `Restore Duration` (SnapStart), milliseconds.
    #[serde(serialize_with = "number")]
    pub restore_duration_ms: Option<f64>,
    /// `Billed Restore Duration` (SnapStart), milliseconds.
    #[serde(serialize_with = "number")]
    pub billed_restore_duration_ms: Option<f64>,
    /// How the invocation ended.
    pub status: Status,
    /// `Error Type` / `errorType`, e.g. `Runtime.OutOfMemory`.
    pub error_type: Option<Cow<'a, str>>,
}

impl<'a> InvocationRecord<'a> {
    /// An empty record with status success, for parsers to fill in.
    pub fn empty() -> Self {
        InvocationRecord {
            request_id: None,
            duration_ms: None,
            billed_duration_ms: None,
            memory_size_mb: None,
            max_memory_used_mb: None,
            init_duration_ms: None,
            restore_duration_ms: None,
            billed_restore_duration_ms: None,
            status: Status::Success,
            error_type: None,
        }
    }

    /// Why the record cannot be a real one, if it cannot: a number that is not finite or is
    /// negative, or a memory figure outside what Lambda can configure (up to 32,768 MB,
    /// LAMBDA_FACTS §5: the model's maximum; 10,240 MB for standard functions). Such a record is
    /// counted as malformed, never averaged in: one `Memory Size: 0 MB` would wreck a log-scale
    /// chart and every per-MB figure.
    pub fn implausible(&self) -> Option<String> {
        const MAX_MB: f64 = 32_768.0;
        let fields = [
            ("Duration", self.duration_ms),
            ("Billed Duration", self.billed_duration_ms),
            ("Memory Size", self.memory_size_mb),
            ("Max Memory Used", self.max_memory_used_mb),
            ("Init Duration", self.init_duration_ms),
            ("Restore Duration", self.restore_duration_ms),
            ("Billed Restore Duration", self.billed_restore_duration_ms),
        ];
        for (name, v) in fields {
            if let Some(v) = v
                && !(v.is_finite() && v >= 0.0)
            {
                return Some(format!("{name} is {v}; expected a finite number ≥ 0"));
            }
        }
        if let Some(m) = self.memory_size_mb
            && !(1.0..=MAX_MB).contains(&m)
        {
            return Some(format!(
                "Memory Size is {m} MB; Lambda configures 128–10,240 MB (at most 32,768)"
            ));
        }
        if let Some(m) = self.max_memory_used_mb
            && m > MAX_MB
        {
            return Some(format!(
                "Max Memory Used is {m} MB, more than any Lambda function has (32,768 MB)"
            ));
        }
        None
    }

    /// The same record, owning its strings, so it can outlive the buffer it was parsed from.
    pub fn into_owned(self) -> InvocationRecord<'static> {
        InvocationRecord {
            request_id: self.request_id.map(|c| Cow::Owned(c.into_owned())),
            error_type: self.error_type.map(|c| Cow::Owned(c.into_owned())),
            duration_ms: self.duration_ms,
            billed_duration_ms: self.billed_duration_ms,
            memory_size_mb: self.memory_size_mb,
            max_memory_used_mb: self.max_memory_used_mb,
            init_duration_ms: self.init_duration_ms,
            restore_duration_ms: self.restore_duration_ms,
            billed_restore_duration_ms: self.billed_restore_duration_ms,
            status: self.status,
        }
    }

    /// A cold start: the environment was initialised (Init Duration) or restored from a
    /// SnapStart snapshot (Restore Duration) for this invocation.
    pub fn is_cold_start(&self) -> bool {
        self.init_duration_ms.is_some() || self.restore_duration_ms.is_some()
    }

    /// Ran out of memory: Lambda says `Runtime.OutOfMemory`, or the invocation failed with Max
    /// Memory Used at the configured size (older logs carry no error type for OOM kills).
    pub fn is_out_of_memory(&self) -> bool {
        if let Some(t) = &self.error_type
            && t.contains("OutOfMemory")
        {
            return true;
        }
        self.status != Status::Success
            && matches!((self.max_memory_used_mb, self.memory_size_mb), (Some(u), Some(m)) if u >= m)
    }
}

impl InvocationRecord<'_> {
    /// The REPORT line Lambda would write for this invocation, in its exact text format (tabs,
    /// two decimals for durations, whole MB; Init/Restore Duration on cold starts; Status and
    /// Error Type without a trailing tab), so that `powertune analyze` can read it back.
    pub fn report_line(&self) -> String {
        let mut s = format!(
            "REPORT RequestId: {}\tDuration: {:.2} ms\tBilled Duration: {:.0} ms\tMemory Size: {:.0} MB\tMax Memory Used: {:.0} MB\t",
            self.request_id.as_deref().unwrap_or("-"),
            self.duration_ms.unwrap_or(0.0),
            self.billed_duration_ms.unwrap_or(0.0),
            self.memory_size_mb.unwrap_or(0.0),
            self.max_memory_used_mb.unwrap_or(0.0),
        );
        if let Some(i) = self.init_duration_ms {
            s.push_str(&format!("Init Duration: {i:.2} ms\t"));
        }
        if let Some(r) = self.restore_duration_ms {
            s.push_str(&format!("Restore Duration: {r:.2} ms\t"));
        }
        if let Some(b) = self.billed_restore_duration_ms {
            s.push_str(&format!("Billed Restore Duration: {b:.0} ms\t"));
        }
        if self.status != Status::Success {
            s.push_str(&format!("Status: {}", self.status.as_str()));
            if let Some(t) = &self.error_type {
                s.push_str(&format!("\tError Type: {t}"));
            }
        }
        s
    }
}

/// Writes integral values as JSON integers (`128`, not `128.0`) and others as floats, so the
/// JSON Lines read the way the log lines did.
fn number<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        None => s.serialize_none(),
        Some(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => s.serialize_i64(*x as i64),
        Some(x) => s.serialize_f64(*x),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_with_the_contract_fields_in_order() {
        let mut r = InvocationRecord::empty();
        r.request_id = Some("abc".into());
        r.duration_ms = Some(10.38);
        r.billed_duration_ms = Some(11.0);
        let s = serde_json::to_string(&r).unwrap();
        assert_eq!(
            s,
            r#"{"request_id":"abc","duration_ms":10.38,"billed_duration_ms":11,"memory_size_mb":null,"max_memory_used_mb":null,"init_duration_ms":null,"restore_duration_ms":null,"billed_restore_duration_ms":null,"status":"success","error_type":null}"#
        );
    }

    #[test]
    fn report_line_round_trips_through_the_parser() {
        let mut r = InvocationRecord::empty();
        r.request_id = Some("abc-1".into());
        r.duration_ms = Some(12.345);
        r.billed_duration_ms = Some(413.0);
        r.memory_size_mb = Some(512.0);
        r.max_memory_used_mb = Some(77.0);
        r.init_duration_ms = Some(400.5);
        r.status = Status::Error;
        r.error_type = Some("Runtime.OutOfMemory".into());
        let line = r.report_line();
        assert_eq!(
            line,
            "REPORT RequestId: abc-1\tDuration: 12.35 ms\tBilled Duration: 413 ms\tMemory Size: 512 MB\tMax Memory Used: 77 MB\tInit Duration: 400.50 ms\tStatus: error\tError Type: Runtime.OutOfMemory"
        );
        let at = line.find("RequestId:").unwrap() + "RequestId:".len();
        let back = crate::parse::text::TextReport::parse(&line.as_bytes()[at..]).record;
        assert_eq!(back.duration_ms, Some(12.35));
        assert_eq!(back.status, Status::Error);
        assert_eq!(back.error_type.as_deref(), Some("Runtime.OutOfMemory"));
    }

    #[test]
    fn oom_from_error_type_or_full_memory_with_failure() {
        let mut r = InvocationRecord::empty();
        r.error_type = Some("Runtime.OutOfMemory".into());
        assert!(r.is_out_of_memory());
        let mut r = InvocationRecord::empty();
        r.memory_size_mb = Some(128.0);
        r.max_memory_used_mb = Some(128.0);
        assert!(
            !r.is_out_of_memory(),
            "full memory but success is not an OOM"
        );
        r.status = Status::Error;
        assert!(r.is_out_of_memory());
    }
}
