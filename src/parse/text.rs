//! Fields of a text REPORT line, as Lambda writes it and as people copy it: tab-separated, or with
//! tabs turned into one or more spaces, with the pre-2020 `100 ms \t` spacing, with JSON or source
//! escapes left in (`\t`, `\\t`, `\n`), fields in any order (2019 custom runtimes put Init Duration
//! first), SnapStart's Restore fields, `Status`/`Error Type`, and an XRAY line glued on. Parsing
//! stops at anything that is not a `Key: value` field (a closing quote, backtick, pipe or comma),
//! so whatever wraps the line is ignored.

use crate::record::{InvocationRecord, Status};
use std::borrow::Cow;

/// The text that introduces a text REPORT record.
pub const NEEDLE: &[u8] = b"REPORT RequestId:";

/// The outcome of reading fields from one physical line.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Stop {
    /// The line ran out while fields were still being read: a wrapped line may continue it.
    EndOfLine,
    /// Something that is not a field ended the record (quote, pipe, XRAY, junk).
    Terminator,
}

/// A text REPORT record being assembled, possibly across wrapped lines.
#[derive(Debug)]
pub struct TextReport<'a> {
    /// What has been read so far.
    pub record: InvocationRecord<'a>,
    /// Why reading stopped on the last line fed.
    pub stop: Stop,
    /// A field whose value could not be read (e.g. `Duration: abc`).
    pub bad_field: Option<&'static str>,
}

impl<'a> TextReport<'a> {
    /// Parses the text right after `REPORT RequestId:` up to the end of its physical line.
    pub fn parse(after_needle: &'a [u8]) -> TextReport<'a> {
        let mut r = TextReport {
            record: InvocationRecord::empty(),
            stop: Stop::EndOfLine,
            bad_field: None,
        };
        let mut i = skip_sep(after_needle, 0);
        let start = i;
        while i < after_needle.len() && !is_sep_or_term(after_needle[i]) {
            i += 1;
        }
        if i > start {
            r.record.request_id = ascii_str(&after_needle[start..i]).map(Cow::Borrowed);
        }
        let rest = &after_needle[i..];
        match canonical(rest) {
            // Lambda's own tab-separated layout: four fields read by literal comparison.
            Some((d, b, m, u, used)) => {
                let rec = &mut r.record;
                rec.duration_ms = Some(d);
                rec.billed_duration_ms = Some(b);
                rec.memory_size_mb = Some(m);
                rec.max_memory_used_mb = Some(u);
                r.fields(&rest[used..]);
            }
            None => r.fields(rest),
        }
        r
    }

    /// Reads further fields from a continuation line (a wrapped REPORT line). Returns false, and
    /// reads nothing, when the line does not start with a known field.
    pub fn continue_with(&mut self, line: &'a [u8]) -> bool {
        let mut i = 0;
        while i < line.len() && matches!(line[i], b' ' | b'\t' | b'"' | b'\'' | b'+' | b'`') {
            i += 1;
        }
        let rest = &line[i..];
        let known = KEYS.iter().any(|(k, _)| {
            rest.len() > k.len() && rest.starts_with(k.as_bytes()) && rest[k.len()] == b':'
        });
        if !known {
            return false;
        }
        self.fields(rest);
        true
    }

    /// True when the four fields every text REPORT line carries are present.
    pub fn is_complete(&self) -> bool {
        let r = &self.record;
        r.request_id.is_some()
            && r.duration_ms.is_some()
            && r.billed_duration_ms.is_some()
            && r.memory_size_mb.is_some()
            && r.max_memory_used_mb.is_some()
    }

    /// Names of the mandatory fields not (yet) seen.
    pub fn missing(&self) -> Vec<&'static str> {
        let r = &self.record;
        let mut m = Vec::new();
        if r.request_id.is_none() {
            m.push("RequestId");
        }
        if r.duration_ms.is_none() {
            m.push("Duration");
        }
        if r.billed_duration_ms.is_none() {
            m.push("Billed Duration");
        }
        if r.memory_size_mb.is_none() {
            m.push("Memory Size");
        }
        if r.max_memory_used_mb.is_none() {
            m.push("Max Memory Used");
        }
        m
    }

    fn fields(&mut self, s: &'a [u8]) {
        let mut i = 0;
        loop {
            i = skip_sep(s, i);
            if i >= s.len() {
                self.stop = Stop::EndOfLine;
                return;
            }
            if is_term(s[i]) {
                // A string literal closing at the end of the line (`"REPORT … ms\t"` followed by
                // more literals below) may continue; anything else after the quote ends it.
                let rest_is_closing = s[i..]
                    .iter()
                    .all(|b| matches!(b, b'"' | b'\'' | b'`' | b' ' | b'\t' | b'\r' | b'+' | b','));
                self.stop = if rest_is_closing && matches!(s[i], b'"' | b'\'') {
                    Stop::EndOfLine
                } else {
                    Stop::Terminator
                };
                return;
            }
            // Key: letters and single spaces up to ':'.
            let key_start = i;
            let mut j = i;
            while j < s.len() && j - key_start < 32 && (s[j].is_ascii_alphabetic() || s[j] == b' ')
            {
                j += 1;
            }
            if j >= s.len() || s[j] != b':' {
                self.stop = Stop::Terminator;
                return;
            }
            let key = &s[key_start..j];
            i = j + 1;
            let field = match key {
                b"Duration" => Some(Field::Duration),
                b"Billed Duration" => Some(Field::Billed),
                b"Memory Size" => Some(Field::Memory),
                b"Max Memory Used" => Some(Field::MaxMemory),
                b"Init Duration" => Some(Field::Init),
                b"Restore Duration" => Some(Field::Restore),
                b"Billed Restore Duration" => Some(Field::BilledRestore),
                b"Status" => Some(Field::Status),
                b"Error Type" => Some(Field::ErrorType),
                b"XRAY TraceId" => Some(Field::Xray),
                _ => None,
            };
            match field {
                Some(Field::Xray) | None if key.starts_with(b"XRAY") || key == b"RequestId" => {
                    self.stop = Stop::Terminator;
                    return;
                }
                Some(Field::Status) | Some(Field::ErrorType) => {
                    i = skip_spaces(s, i);
                    let st = i;
                    while i < s.len() && !is_sep_or_term(s[i]) {
                        i += 1;
                    }
                    let v = ascii_str(&s[st..i]).unwrap_or("");
                    if field == Some(Field::Status) {
                        self.record.status = Status::from_field(v);
                    } else if !v.is_empty() {
                        self.record.error_type = Some(Cow::Borrowed(v));
                    }
                }
                Some(f) => {
                    i = skip_spaces(s, i);
                    match parse_decimal(s, &mut i) {
                        Some(v) => self.set(f, v),
                        None => {
                            self.bad_field = Some(f.name());
                            self.stop = Stop::Terminator;
                            return;
                        }
                    }
                    i = skip_unit(s, i);
                }
                None => {
                    // An unknown `Key: value [unit]` field (a future addition): skip it.
                    i = skip_spaces(s, i);
                    while i < s.len() && !is_sep_or_term(s[i]) {
                        i += 1;
                    }
                    i = skip_unit(s, i);
                }
            }
        }
    }

    fn set(&mut self, f: Field, v: f64) {
        let r = &mut self.record;
        let slot = match f {
            Field::Duration => &mut r.duration_ms,
            Field::Billed => &mut r.billed_duration_ms,
            Field::Memory => &mut r.memory_size_mb,
            Field::MaxMemory => &mut r.max_memory_used_mb,
            Field::Init => &mut r.init_duration_ms,
            Field::Restore => &mut r.restore_duration_ms,
            Field::BilledRestore => &mut r.billed_restore_duration_ms,
            Field::Status | Field::ErrorType | Field::Xray => return,
        };
        *slot = Some(v);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Duration,
    Billed,
    Memory,
    MaxMemory,
    Init,
    Restore,
    BilledRestore,
    Status,
    ErrorType,
    Xray,
}

impl Field {
    fn name(self) -> &'static str {
        KEYS.iter()
            .find(|(_, f)| *f == self)
            .map(|(k, _)| *k)
            .unwrap_or("field")
    }
}

const KEYS: &[(&str, Field)] = &[
    ("Duration", Field::Duration),
    ("Billed Duration", Field::Billed),
    ("Memory Size", Field::Memory),
    ("Max Memory Used", Field::MaxMemory),
    ("Init Duration", Field::Init),
    ("Restore Duration", Field::Restore),
    ("Billed Restore Duration", Field::BilledRestore),
    ("Status", Field::Status),
    ("Error Type", Field::ErrorType),
    ("XRAY TraceId", Field::Xray),
];

/// Reads `\tDuration: X ms\tBilled Duration: X ms\tMemory Size: X MB\tMax Memory Used: X MB`
/// exactly as Lambda writes it; None for any other layout (which the general reader handles).
/// Returns the four values and the bytes used.
fn canonical(s: &[u8]) -> Option<(f64, f64, f64, f64, usize)> {
    fn lit(s: &[u8], i: usize, l: &[u8]) -> Option<usize> {
        s.get(i..i + l.len())
            .filter(|x| *x == l)
            .map(|_| i + l.len())
    }
    let mut i = lit(s, 0, b"\tDuration: ")?;
    let d = parse_decimal(s, &mut i)?;
    i = lit(s, i, b" ms\tBilled Duration: ")?;
    let b = parse_decimal(s, &mut i)?;
    i = lit(s, i, b" ms\tMemory Size: ")?;
    let m = parse_decimal(s, &mut i)?;
    i = lit(s, i, b" MB\tMax Memory Used: ")?;
    let u = parse_decimal(s, &mut i)?;
    i = lit(s, i, b" MB")?;
    Some((d, b, m, u, i))
}

/// The bytes as text when they are ASCII (request ids, error types always are); anything else
/// goes through the full UTF-8 check.
fn ascii_str(b: &[u8]) -> Option<&str> {
    if b.is_ascii() {
        // SAFETY: ASCII is valid UTF-8.
        Some(unsafe { std::str::from_utf8_unchecked(b) })
    } else {
        std::str::from_utf8(b).ok()
    }
}

/// Characters that end a record: quotes and backticks of source code and markdown, pipes of
/// markdown tables, commas of CSV.
fn is_term(b: u8) -> bool {
    matches!(b, b'"' | b'\'' | b'`' | b'|' | b',' | b')' | b']')
}

fn is_sep_or_term(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b'\\') || is_term(b)
}

fn skip_spaces(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && (s[i] == b' ' || s[i] == b'\t') {
        i += 1;
    }
    i
}

/// Skips whitespace and escaped whitespace (`\t`, `\\t`, `\n`, `\r`, any number of backslashes).
fn skip_sep(s: &[u8], mut i: usize) -> usize {
    loop {
        while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\r') {
            i += 1;
        }
        if i < s.len() && s[i] == b'\\' {
            let mut j = i;
            while j < s.len() && s[j] == b'\\' {
                j += 1;
            }
            if j < s.len() && matches!(s[j], b't' | b'n' | b'r') {
                i = j + 1;
                continue;
            }
        }
        return i;
    }
}

/// Skips a unit word (`ms`, `MB`) after a number.
fn skip_unit(s: &[u8], i: usize) -> usize {
    let j = skip_spaces(s, i);
    let mut k = j;
    while k < s.len() && s[k].is_ascii_alphabetic() && k - j < 3 {
        k += 1;
    }
    if k > j && (k >= s.len() || !s[k].is_ascii_alphabetic()) && k - j <= 2 {
        k
    } else {
        i
    }
}

const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Parses `123`, `123.45` or `.5` at `s[*i..]`, advancing `*i`. Correctly rounded: the digits form
/// an integer below 2^53 that is divided by an exact power of ten.
pub fn parse_decimal(s: &[u8], i: &mut usize) -> Option<f64> {
    let start = *i;
    let mut mant: u64 = 0;
    let mut digits = 0u32;
    let mut frac = 0usize;
    let mut seen_dot = false;
    let mut j = start;
    while j < s.len() {
        let b = s[j];
        if b.is_ascii_digit() {
            if digits < 18 {
                mant = mant * 10 + u64::from(b - b'0');
                digits += 1;
                if seen_dot {
                    frac += 1;
                }
            } else if !seen_dot {
                return slow_decimal(s, i);
            }
        } else if b == b'.' && !seen_dot {
            seen_dot = true;
        } else {
            break;
        }
        j += 1;
    }
    if digits == 0 {
        return None;
    }
    *i = j;
    Some(mant as f64 / POW10[frac])
}

fn slow_decimal(s: &[u8], i: &mut usize) -> Option<f64> {
    let start = *i;
    let mut j = start;
    while j < s.len() && (s[j].is_ascii_digit() || s[j] == b'.') {
        j += 1;
    }
    let v = std::str::from_utf8(&s[start..j]).ok()?.parse().ok()?;
    *i = j;
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> TextReport<'_> {
        let at = line.find("REPORT RequestId:").expect("needle") + NEEDLE.len();
        TextReport::parse(&line.as_bytes()[at..])
    }

    #[test]
    fn tabs_with_init_and_trailing_tab() {
        let r = parse(
            "REPORT RequestId: 3f5e-11\tDuration: 2.46 ms\tBilled Duration: 417 ms\tMemory Size: 1024 MB\tMax Memory Used: 95 MB\tInit Duration: 413.61 ms\t",
        );
        assert!(r.is_complete());
        let x = &r.record;
        assert_eq!(x.request_id.as_deref(), Some("3f5e-11"));
        assert_eq!(x.duration_ms, Some(2.46));
        assert_eq!(x.billed_duration_ms, Some(417.0));
        assert_eq!(x.memory_size_mb, Some(1024.0));
        assert_eq!(x.max_memory_used_mb, Some(95.0));
        assert_eq!(x.init_duration_ms, Some(413.61));
        assert_eq!(x.status, Status::Success);
    }

    #[test]
    fn single_spaces_and_status_with_error_type() {
        let r = parse(
            "REPORT RequestId: a Duration: 3000.00 ms Billed Duration: 3000 ms Memory Size: 128 MB Max Memory Used: 128 MB Status: error Error Type: Runtime.OutOfMemory",
        );
        assert!(r.is_complete());
        assert_eq!(r.record.status, Status::Error);
        assert_eq!(r.record.error_type.as_deref(), Some("Runtime.OutOfMemory"));
        assert!(r.record.is_out_of_memory());
    }

    #[test]
    fn old_space_before_tab_and_escaped_tabs() {
        let r = parse(
            r#"  "message": "REPORT RequestId: 6234\tDuration: 46.84 ms\tBilled Duration: 100 ms \tMemory Size: 192 MB\tMax Memory Used: 72 MB\t\n""#,
        );
        assert!(r.is_complete(), "{:?}", r.missing());
        assert_eq!(r.record.billed_duration_ms, Some(100.0));
        assert_eq!(r.record.memory_size_mb, Some(192.0));
        assert_eq!(r.stop, Stop::EndOfLine);
    }

    #[test]
    fn double_escaped_tabs() {
        let r = parse(
            r#""REPORT RequestId: 7c95\\tDuration: 3003.16 ms\\tBilled Duration: 3000 ms\\tMemory Size: 128 MB\\tMax Memory Used: 48 MB\\tInit Duration: 127.02 ms\\t\\n""#,
        );
        assert!(r.is_complete());
        assert_eq!(r.record.init_duration_ms, Some(127.02));
    }

    #[test]
    fn init_first_and_xray_tab_joined() {
        let r = parse(
            "REPORT RequestId: f8ac1208... Init Duration: 48.26 ms   Duration: 237.17 ms   Billed Duration: 300 ms   Memory Size: 128 MB   Max Memory Used: 26 MB",
        );
        assert!(r.is_complete());
        assert_eq!(r.record.request_id.as_deref(), Some("f8ac1208..."));
        assert_eq!(r.record.init_duration_ms, Some(48.26));
        let r = parse(
            "REPORT RequestId: c7\tDuration: 128.83 ms\tBilled Duration: 200 ms\tMemory Size: 128 MB\tMax Memory Used: 74 MB\tInit Duration: 166.62 ms\tXRAY TraceId: 1-5d9d\tSegmentId: 3d75\tSampled: true",
        );
        assert!(r.is_complete());
        assert_eq!(r.stop, Stop::Terminator);
    }

    #[test]
    fn snapstart_restore_fields() {
        let r = parse(
            "x REPORT RequestId: b7\tDuration: 306.34 ms\tBilled Duration: 610 ms\tMemory Size: 3009 MB\tMax Memory Used: 155 MB\tRestore Duration: 511.25 ms\tBilled Restore Duration: 303 ms\t",
        );
        assert_eq!(r.record.restore_duration_ms, Some(511.25));
        assert_eq!(r.record.billed_restore_duration_ms, Some(303.0));
        assert!(r.record.is_cold_start());
    }

    #[test]
    fn markdown_backticks_and_table_pipes_end_the_record() {
        let r = parse(
            "`REPORT RequestId: bd\tDuration: 2.85 ms\tBilled Duration: 3 ms\tMemory Size: 1024 MB\tMax Memory Used: 64 MB\tStatus: timeout`",
        );
        assert!(r.is_complete());
        assert_eq!(r.record.status, Status::Timeout);
        let r = parse(
            "| 1 | REPORT RequestId: bd Duration: 2.85 ms Billed Duration: 3 ms Memory Size: 1024 MB Max Memory Used: 64 MB | x |",
        );
        assert!(r.is_complete());
    }

    #[test]
    fn wrapped_line_continues() {
        let mut r = parse(r#"    "REPORT RequestId: 814b\tDuration: 1711.87 ms\t""#);
        assert!(!r.is_complete());
        assert!(r.continue_with(
            br#"    "Billed Duration: 1800 ms\tMemory Size: 128 MB\tMax Memory Used: 98 MB\t\n""#
        ));
        assert!(r.is_complete());
        assert_eq!(r.record.max_memory_used_mb, Some(98.0));
        let mut r = parse(r#"        "REPORT RequestId: 8edab1f8 ""#);
        assert!(r.continue_with(br#"        "Duration: 0.62 ms  Billed Duration: 100 ms Memory Size: 128 MB Max Memory Used: 51 MB""#));
        assert!(r.is_complete());
        let mut r = parse("REPORT RequestId: 2137 ");
        assert!(!r.continue_with(b"# from something else"));
        assert_eq!(
            r.missing(),
            vec![
                "Duration",
                "Billed Duration",
                "Memory Size",
                "Max Memory Used"
            ]
        );
    }

    #[test]
    fn garbage_never_panics() {
        for s in [
            "REPORT RequestId:",
            "REPORT RequestId: \\",
            "REPORT RequestId: x Duration: ",
            "REPORT RequestId: x Duration: ms",
            "REPORT RequestId: x Duration: 1.2.3 ms Billed Duration: 99999999999999999999999 ms",
            "REPORT RequestId: x \\\\\\",
        ] {
            let _ = parse(s);
        }
    }

    #[test]
    fn decimals_are_exact() {
        let mut i = 0;
        assert_eq!(parse_decimal(b"10.38 ms", &mut i), Some(10.38));
        assert_eq!(i, 5);
        let mut i = 0;
        assert_eq!(parse_decimal(b"600477", &mut i), Some(600477.0));
        let mut i = 0;
        assert_eq!(parse_decimal(b"x", &mut i), None);
    }
}
