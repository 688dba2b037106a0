//! CloudWatch Logs Insights exports: CSV, Markdown tables and JSON (the console's row objects or
//! `aws logs get-query-results` output) whose columns are Insights' discovered Lambda fields
//! (`@requestId`, `@duration`, `@billedDuration`, `@memorySize`, `@maxMemoryUsed`,
//! `@initDuration`, `@timestamp`, `@log`). Insights gives `@memorySize` and `@maxMemoryUsed` in
//! bytes as MB × 1,000,000 (LAMBDA_FACTS §6: 1024 MB → 1024000000), so they are divided back.
//! When a row carries the REPORT text itself in `@message`, that text is parsed instead: it also
//! holds the status and error type, which the @-fields lack.

use super::context::{find_function, find_timestamp};
use super::text::{NEEDLE as TEXT_NEEDLE, TextReport};
use crate::record::InvocationRecord;
use std::borrow::Cow;
use std::collections::HashMap;

/// Which export shape a file is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Comma-separated, a header row of field names.
    Csv,
    /// A Markdown table (`| @timestamp | @requestId | … |`).
    Markdown,
    /// JSON: an array of row objects, or get-query-results' `{"results": [[{field, value}]]}`.
    Json,
}

/// Recognises an Insights export from the start of a file.
pub fn sniff(head: &[u8]) -> Option<Shape> {
    let text = String::from_utf8_lossy(&head[..head.len().min(64 * 1024)]);
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    let has_fields = |s: &str| s.contains("@duration") || s.contains("@maxMemoryUsed");
    if trimmed.starts_with('[') || trimmed.starts_with('{') {
        return has_fields(trimmed).then_some(Shape::Json);
    }
    let first = trimmed.lines().next().unwrap_or("");
    if !has_fields(first) {
        return None;
    }
    Some(if first.trim_start().starts_with('|') {
        Shape::Markdown
    } else {
        Shape::Csv
    })
}

/// One row turned into a record, or the reason it could not be.
pub struct Row {
    /// The invocation.
    pub record: InvocationRecord<'static>,
    /// `@timestamp`, epoch ms.
    pub timestamp_ms: Option<i64>,
    /// The function named by `@log`.
    pub function: Option<String>,
}

/// Builds a record from one row's named fields. `Ok(None)` for rows that are not REPORTs (an
/// `@type` other than REPORT, or a row with no duration at all).
pub fn row(fields: &HashMap<String, String>) -> Result<Option<Row>, String> {
    let get = |k: &str| fields.get(k).map(|s| s.trim()).filter(|s| !s.is_empty());
    if let Some(t) = get("@type")
        && t != "REPORT"
    {
        return Ok(None);
    }
    let timestamp_ms = get("@timestamp").and_then(|t| find_timestamp(t.as_bytes()));
    let function = get("@log")
        .or(get("@logGroup"))
        .and_then(|l| find_function(l.as_bytes()))
        .map(str::to_owned);
    if let Some(msg) = get("@message")
        && let Some(at) = memchr::memmem::find(msg.as_bytes(), TEXT_NEEDLE)
    {
        let t = TextReport::parse(&msg.as_bytes()[at + TEXT_NEEDLE.len()..]);
        if t.is_complete() {
            return Ok(Some(Row {
                record: t.record.into_owned(),
                timestamp_ms,
                function,
            }));
        }
    }
    let num = |k: &str| -> Result<Option<f64>, String> {
        match get(k) {
            None => Ok(None),
            Some(v) => v
                .parse::<f64>()
                .map(Some)
                .map_err(|_| format!("{k} is not a number: {v:?}")),
        }
    };
    let Some(duration) = num("@duration")? else {
        return Ok(None);
    };
    let mb = |v: Option<f64>| v.map(|b| if b >= 100_000.0 { b / 1_000_000.0 } else { b });
    let mut r = InvocationRecord::empty();
    r.request_id = get("@requestId").map(|s| Cow::Owned(s.to_owned()));
    r.duration_ms = Some(duration);
    r.billed_duration_ms = num("@billedDuration")?;
    r.memory_size_mb = mb(num("@memorySize")?);
    r.max_memory_used_mb = mb(num("@maxMemoryUsed")?);
    r.init_duration_ms = num("@initDuration")?;
    Ok(Some(Row {
        record: r,
        timestamp_ms,
        function,
    }))
}

/// Splits one CSV record (RFC 4180 quoting) into fields. Returns None while a quoted field is
/// still open (the record continues on the next line).
pub fn split_csv(line: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    cur.push('"');
                    chars.next();
                } else {
                    quoted = false;
                }
            } else {
                cur.push(c);
            }
        } else if c == '"' && at_start {
            quoted = true;
            at_start = false;
        } else if c == ',' {
            out.push(std::mem::take(&mut cur));
            at_start = true;
        } else {
            cur.push(c);
            at_start = false;
        }
    }
    if quoted {
        return None;
    }
    out.push(cur);
    Some(out)
}

/// Splits a Markdown table row into trimmed cells; None for the `|---|` separator row.
pub fn split_markdown(line: &str) -> Option<Vec<String>> {
    let t = line.trim();
    let t = t.strip_prefix('|').unwrap_or(t);
    let t = t.strip_suffix('|').unwrap_or(t);
    let cells: Vec<String> = t.split('|').map(|c| c.trim().to_owned()).collect();
    if cells
        .iter()
        .all(|c| !c.is_empty() && c.chars().all(|ch| matches!(ch, '-' | ':' | ' ')))
    {
        return None;
    }
    Some(cells)
}

/// The rows of a JSON export: an array of `{"@field": "value"}` objects, or get-query-results'
/// `{"results": [[{"field": "@x", "value": "v"}, …], …]}`.
pub fn json_rows(v: &serde_json::Value) -> Result<Vec<HashMap<String, String>>, String> {
    use serde_json::Value;
    let to_string = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let rows = match v {
        Value::Array(rows) => rows,
        Value::Object(o) => match o.get("results") {
            Some(Value::Array(rows)) => rows,
            _ => return Err("expected an array of rows or an object with \"results\"".into()),
        },
        _ => return Err("expected an array of rows or an object with \"results\"".into()),
    };
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let mut m = HashMap::new();
        match r {
            Value::Object(o) => {
                for (k, v) in o {
                    m.insert(k.clone(), to_string(v));
                }
            }
            Value::Array(cells) => {
                for c in cells {
                    if let (Some(f), Some(v)) = (c.get("field"), c.get("value")) {
                        m.insert(to_string(f), to_string(v));
                    }
                }
            }
            _ => return Err("a row is neither an object nor a list of {field, value}".into()),
        }
        out.push(m);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_the_three_shapes_and_nothing_else() {
        assert_eq!(
            sniff(b"@timestamp,@requestId,@duration\n"),
            Some(Shape::Csv)
        );
        assert_eq!(
            sniff(b"| @timestamp | @duration | @maxMemoryUsed |\n|---|---|---|\n"),
            Some(Shape::Markdown)
        );
        assert_eq!(sniff(b"[{\"@duration\": \"1\"}]"), Some(Shape::Json));
        assert_eq!(sniff(b"REPORT RequestId: x\n@duration later"), None);
        assert_eq!(sniff(b"{\"events\": []}"), None);
    }

    #[test]
    fn bytes_become_mb_and_message_wins() {
        let mut f: HashMap<String, String> = HashMap::new();
        f.insert("@duration".into(), "101.5".into());
        f.insert("@billedDuration".into(), "102".into());
        f.insert("@memorySize".into(), "1024000000".into());
        f.insert("@maxMemoryUsed".into(), "85000000".into());
        f.insert("@log".into(), "123456789012:/aws/lambda/brand-api".into());
        let r = row(&f).unwrap().unwrap();
        assert_eq!(r.record.memory_size_mb, Some(1024.0));
        assert_eq!(r.record.max_memory_used_mb, Some(85.0));
        assert_eq!(r.function.as_deref(), Some("brand-api"));
        f.insert(
            "@message".into(),
            "REPORT RequestId: z\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 1024 MB\tMax Memory Used: 85 MB\tStatus: timeout".into(),
        );
        let r = row(&f).unwrap().unwrap();
        assert_eq!(r.record.status, crate::record::Status::Timeout);
        f.insert("@type".into(), "START".into());
        assert!(row(&f).unwrap().is_none());
    }

    #[test]
    fn csv_quotes_and_markdown_separator() {
        assert_eq!(
            split_csv(r#"a,"b,c","d ""q""",,"#).unwrap(),
            vec!["a", "b,c", "d \"q\"", "", ""]
        );
        assert!(split_csv("1,\"REPORT RequestId: x").is_none());
        assert!(split_markdown("|---|:--:|").is_none());
        assert_eq!(split_markdown("| a | b |").unwrap(), vec!["a", "b"]);
    }
}
