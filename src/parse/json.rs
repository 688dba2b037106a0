//! JSON-format Lambda logs: `platform.report` events (`{"time":…,"type":"platform.report",
//! "record":{"requestId":…,"status":…,"metrics":{"durationMs":…}}}`), whether one per line, pretty
//! printed over many lines, wrapped in a prefix, quoted inside another JSON string (an escaped
//! `message` of `aws logs filter-log-events`), or sloppy (AWS's own doc example has a trailing
//! comma). Numbers are read as floats: Telemetry API metrics can arrive as floats.

use crate::record::{InvocationRecord, Status};
use serde::Deserialize;
use std::borrow::Cow;

/// The text that marks a JSON platform.report event.
pub const NEEDLE: &[u8] = b"\"platform.report";

/// How far around a needle an event may reach.
pub const MAX_EVENT: usize = 64 * 1024;

/// Where the event around a needle lies, or why it cannot be found.
#[derive(Debug, PartialEq, Eq)]
pub enum Extent {
    /// The event is `data[start..end]`.
    Found { start: usize, end: usize },
    /// The event runs past the end of the data: more input is needed.
    Incomplete,
    /// No enclosing object within reach.
    Missing,
}

/// Finds the JSON object enclosing the needle at `at`.
pub fn extent(data: &[u8], at: usize, lower: usize) -> Extent {
    // Backwards to the unmatched '{'.
    let floor = at.saturating_sub(MAX_EVENT).max(lower);
    let mut depth = 0i32;
    let mut i = at;
    let start = loop {
        if i <= floor {
            return Extent::Missing;
        }
        i -= 1;
        match data[i] {
            b'}' => depth += 1,
            b'{' => {
                if depth == 0 {
                    break i;
                }
                depth -= 1;
            }
            _ => {}
        }
    };
    // Forwards to its matching '}', string-aware unless the object is itself escaped.
    let escaped = data.get(start + 1..start + 3) == Some(b"\\\"");
    let ceiling = (start + MAX_EVENT).min(data.len());
    let mut depth = 0i32;
    let mut in_str = false;
    let mut j = start;
    while j < ceiling {
        let b = data[j];
        if in_str {
            if b == b'\\' {
                j += 1;
            } else if b == b'"' {
                in_str = false;
            }
        } else {
            match b {
                b'"' if !escaped => in_str = true,
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        return Extent::Found { start, end: j + 1 };
                    }
                }
                _ => {}
            }
        }
        j += 1;
    }
    if ceiling == data.len() && j - start < MAX_EVENT {
        Extent::Incomplete
    } else {
        Extent::Missing
    }
}

#[derive(Deserialize)]
struct Event<'a> {
    #[serde(rename = "type")]
    kind: Cow<'a, str>,
    #[serde(default, borrow)]
    time: Option<Cow<'a, str>>,
    record: Option<Rec<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rec<'a> {
    #[serde(borrow)]
    request_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    status: Option<Cow<'a, str>>,
    #[serde(borrow)]
    error_type: Option<Cow<'a, str>>,
    metrics: Option<Metrics>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metrics {
    duration_ms: Option<f64>,
    billed_duration_ms: Option<f64>,
    #[serde(rename = "memorySizeMB")]
    memory_size_mb: Option<f64>,
    #[serde(rename = "maxMemoryUsedMB")]
    max_memory_used_mb: Option<f64>,
    init_duration_ms: Option<f64>,
    restore_duration_ms: Option<f64>,
    billed_restore_duration_ms: Option<f64>,
}

/// A parsed platform.report event.
#[derive(Debug)]
pub struct JsonReport {
    /// The invocation.
    pub record: InvocationRecord<'static>,
    /// The event's `time`, epoch milliseconds.
    pub timestamp_ms: Option<i64>,
}

/// Why an event could not be read.
#[derive(Debug)]
pub enum JsonError {
    /// Not an event of type platform.report (the needle sat elsewhere): not a record at all.
    NotAReport,
    /// A platform.report that cannot be read: a malformed record.
    Malformed(String),
}

/// Parses the event text `obj` (as found by [`extent`]).
pub fn parse_event(obj: &[u8]) -> Result<JsonReport, JsonError> {
    let decoded;
    let mut text: &[u8] = obj;
    if obj.get(1..3) == Some(b"\\\"") {
        // An event quoted inside a JSON string: undo one level of escaping.
        let mut quoted = Vec::with_capacity(obj.len() + 2);
        quoted.push(b'"');
        quoted.extend_from_slice(obj);
        quoted.push(b'"');
        decoded = serde_json::from_slice::<String>(&quoted)
            .map_err(|e| JsonError::Malformed(format!("escaped event: {e}")))?;
        text = decoded.as_bytes();
    }
    let lenient: Vec<u8>;
    let ev: Event<'_> = match serde_json::from_slice(text) {
        Ok(ev) => ev,
        Err(first) => {
            lenient = strip_trailing_commas(text);
            serde_json::from_slice(&lenient).map_err(|_| JsonError::Malformed(first.to_string()))?
        }
    };
    if ev.kind != "platform.report" {
        return Err(JsonError::NotAReport);
    }
    let rec = ev
        .record
        .ok_or_else(|| JsonError::Malformed("platform.report without a record".into()))?;
    let m = rec
        .metrics
        .ok_or_else(|| JsonError::Malformed("platform.report without metrics".into()))?;
    if m.duration_ms.is_none() {
        return Err(JsonError::Malformed(
            "platform.report without metrics.durationMs".into(),
        ));
    }
    let mut r = InvocationRecord::empty();
    r.request_id = rec.request_id.map(|c| Cow::Owned(c.into_owned()));
    r.status = rec
        .status
        .as_deref()
        .map(Status::from_field)
        .unwrap_or(Status::Success);
    r.error_type = rec.error_type.map(|c| Cow::Owned(c.into_owned()));
    r.duration_ms = m.duration_ms;
    r.billed_duration_ms = m.billed_duration_ms;
    r.memory_size_mb = m.memory_size_mb;
    r.max_memory_used_mb = m.max_memory_used_mb;
    r.init_duration_ms = m.init_duration_ms;
    r.restore_duration_ms = m.restore_duration_ms;
    r.billed_restore_duration_ms = m.billed_restore_duration_ms;
    Ok(JsonReport {
        record: r,
        timestamp_ms: ev
            .time
            .and_then(|t| super::context::find_timestamp(t.as_bytes())),
    })
}

/// Removes commas that directly precede `}` or `]` (outside strings).
fn strip_trailing_commas(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut in_str = false;
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        if in_str {
            out.push(b);
            if b == b'\\' && i + 1 < s.len() {
                out.push(s[i + 1]);
                i += 1;
            } else if b == b'"' {
                in_str = false;
            }
        } else if b == b'"' {
            in_str = true;
            out.push(b);
        } else if b == b',' {
            let mut j = i + 1;
            while j < s.len() && s[j].is_ascii_whitespace() {
                j += 1;
            }
            if !matches!(s.get(j), Some(b'}') | Some(b']')) {
                out.push(b);
            }
        } else {
            out.push(b);
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(data: &str) -> Result<JsonReport, JsonError> {
        let at = memchr::memmem::find(data.as_bytes(), NEEDLE).unwrap();
        match extent(data.as_bytes(), at, 0) {
            Extent::Found { start, end } => parse_event(&data.as_bytes()[start..end]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn one_line_event_with_prefix() {
        let r = find(
            r#"2024-01-01T00:00:00Z s {"time":"2022-10-21T14:05:05.766Z","type":"platform.report","record":{"requestId":"45","metrics":{"durationMs":2599.4,"billedDurationMs":2600,"memorySizeMB":128,"maxMemoryUsedMB":94,"initDurationMs":549.04},"status":"success"}}"#,
        )
        .unwrap();
        assert_eq!(r.record.duration_ms, Some(2599.4));
        assert_eq!(r.record.memory_size_mb, Some(128.0));
        assert_eq!(r.record.init_duration_ms, Some(549.04));
        assert_eq!(r.timestamp_ms, Some(1_666_361_105_766));
    }

    #[test]
    fn pretty_printed_with_trailing_commas() {
        let r = find(
            "{\n  \"time\": \"2024-10-18T19:38:39.661Z\",\n  \"type\": \"platform.report\",\n  \"record\": {\n    \"requestId\": \"b4\",\n    \"metrics\": {\n      \"durationMs\": 30000.0,\n      \"billedDurationMs\": 30000,\n      \"memorySizeMB\": 128,\n      \"maxMemoryUsedMB\": 74,\n    },\n    \"status\": \"timeout\",\n  },\n}\n",
        )
        .unwrap();
        assert_eq!(r.record.status, Status::Timeout);
        assert_eq!(r.record.max_memory_used_mb, Some(74.0));
    }

    #[test]
    fn escaped_inside_a_message_string() {
        let r = find(
            r#"{"timestamp": 1, "message": "{\"time\":\"2024-02-09T08:42:44.080Z\",\"type\":\"platform.report\",\"record\":{\"requestId\":\"d6\",\"status\":\"error\",\"errorType\":\"Runtime.OutOfMemory\",\"metrics\":{\"durationMs\":1.317,\"billedDurationMs\":2,\"memorySizeMB\":128,\"maxMemoryUsedMB\":128}}}\n"}"#,
        )
        .unwrap();
        assert_eq!(r.record.request_id.as_deref(), Some("d6"));
        assert!(r.record.is_out_of_memory());
    }

    #[test]
    fn every_number_may_be_a_float() {
        let r = find(
            r#"{"time":"2024-01-01T00:00:00Z","type":"platform.report","record":{"requestId":"f","status":"success","metrics":{"durationMs":12.5,"billedDurationMs":13.0,"memorySizeMB":256.0,"maxMemoryUsedMB":80.0,"initDurationMs":300.25}}}"#,
        )
        .unwrap();
        assert_eq!(r.record.billed_duration_ms, Some(13.0));
        assert_eq!(r.record.memory_size_mb, Some(256.0));
        assert_eq!(r.record.max_memory_used_mb, Some(80.0));
    }

    #[test]
    fn managed_instances_report_has_only_duration() {
        let r = find(
            r#"{"time":"2025-09-19T19:36:50.881Z","type":"platform.report","record":{"requestId":"13","status":"success","metrics":{"durationMs":1.148},"spans":[]}}"#,
        )
        .unwrap();
        assert_eq!(r.record.duration_ms, Some(1.148));
        assert_eq!(r.record.memory_size_mb, None);
    }

    #[test]
    fn other_types_and_broken_events() {
        assert!(matches!(
            find(r#"{"type":"platform.reportX","record":{}}"#),
            Err(JsonError::NotAReport)
        ));
        assert!(matches!(
            find(r#"{"type":"platform.report","record":{"metrics":{"durationMs":"x"}}}"#),
            Err(JsonError::Malformed(_))
        ));
        let d = br#"{"type":"platform.report","record":{"#;
        assert_eq!(extent(d, 1, 0), Extent::Incomplete);
        assert_eq!(
            extent(br#""type":"platform.report"}"#, 0, 0),
            Extent::Missing
        );
    }
}
