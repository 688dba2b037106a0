//! The log parser: finds every Lambda invocation record in whatever a user captured. It streams
//! (memory stays flat however large the input), reads files, directories (recursively), `-` for
//! stdin and gzip (recognised by its magic bytes, not its name), and recognises text REPORT lines
//! in any wrapping (see [`text`]), JSON `platform.report` events (see [`json`]) and Logs Insights
//! exports (see [`insights`]). A line that looks like a record but cannot be read is counted and
//! described, never fatal.
//!
//! Speed comes from never looking at a line that cannot hold a record: SIMD substring search
//! (memchr's memmem) jumps from needle to needle, and only the bytes around a hit are parsed.

pub mod context;
pub mod insights;
pub mod json;
pub mod text;

use crate::record::InvocationRecord;
use memchr::memmem;
use serde::Serialize;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use text::{Stop, TextReport};

/// One invocation record and what its surroundings say.
#[derive(Debug)]
pub struct Observation<'a> {
    /// The record itself.
    pub record: InvocationRecord<'a>,
    /// When it was logged, epoch milliseconds, if the input says.
    pub timestamp_ms: Option<i64>,
    /// The function it belongs to, if the input names it (log group, `[name]` prefix, `@log`).
    pub function: Option<&'a str>,
}

/// A line that looked like a record but could not be read.
#[derive(Debug, Clone, Serialize)]
pub struct Malformed {
    /// The input it came from.
    pub source: String,
    /// 1-based line number.
    pub line: u64,
    /// What was wrong.
    pub reason: String,
    /// The start of the line.
    pub excerpt: String,
}

/// What a scan read and found.
#[derive(Debug, Default, Clone, Serialize)]
pub struct ScanSummary {
    /// Inputs read (file paths, `-` for stdin).
    pub sources: Vec<String>,
    /// Bytes of input read (after decompression).
    pub bytes: u64,
    /// Records found.
    pub records: u64,
    /// Lines that looked like records but could not be read.
    pub malformed: u64,
    /// The first few of those, for the user to look at.
    pub malformed_examples: Vec<Malformed>,
}

/// How many malformed lines are described; the rest are only counted.
pub const MALFORMED_SHOWN: usize = 5;

/// Errors that stop a scan. Each says what was expected.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// A path that does not exist.
    #[error(
        "{0}: no such file or directory (expected a log file, a directory of logs, or - for stdin)"
    )]
    NotFound(PathBuf),
    /// A path that cannot be read.
    #[error("cannot read {path}: {cause}")]
    Unreadable {
        /// The path.
        path: String,
        /// Why.
        cause: io::Error,
    },
    /// A file that starts like gzip but does not decompress.
    #[error(
        "{path} starts like gzip but does not decompress: {cause} (is the file truncated or corrupt?)"
    )]
    CorruptGzip {
        /// The path.
        path: String,
        /// The decoder's complaint.
        cause: io::Error,
    },
    /// An Insights JSON export that is not valid JSON.
    #[error("{path} looks like a Logs Insights JSON export but cannot be read: {reason}")]
    BadExport {
        /// The path.
        path: String,
        /// Why.
        reason: String,
    },
}

/// The inputs a user named: files, directories (walked recursively, in name order) and `-`.
pub fn expand_paths(paths: &[PathBuf]) -> Result<Vec<PathBuf>, InputError> {
    let mut out = Vec::new();
    for p in paths {
        if p.as_os_str() == "-" {
            out.push(p.clone());
            continue;
        }
        let meta = std::fs::metadata(p).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                InputError::NotFound(p.clone())
            } else {
                InputError::Unreadable {
                    path: p.display().to_string(),
                    cause: e,
                }
            }
        })?;
        if meta.is_dir() {
            walk(p, &mut out)?;
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), InputError> {
    let unreadable = |e| InputError::Unreadable {
        path: dir.display().to_string(),
        cause: e,
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(unreadable)?
        .collect::<Result<_, _>>()
        .map_err(unreadable)?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let ft = e.file_type().map_err(unreadable)?;
        let path = e.path();
        if ft.is_dir() {
            walk(&path, out)?;
        } else if ft.is_file() || (ft.is_symlink() && path.is_file()) {
            out.push(path);
        }
    }
    Ok(())
}

/// Scans every input in turn, handing each record to `sink`.
pub fn scan_paths(
    paths: &[PathBuf],
    sink: &mut dyn FnMut(Observation<'_>),
) -> Result<ScanSummary, InputError> {
    let files = expand_paths(paths)?;
    let mut summary = ScanSummary::default();
    for f in &files {
        let name = f.display().to_string();
        if f.as_os_str() == "-" {
            scan_reader(&name, Box::new(io::stdin()), sink, &mut summary)?;
        } else {
            let file = File::open(f).map_err(|e| InputError::Unreadable {
                path: name.clone(),
                cause: e,
            })?;
            scan_reader(&name, Box::new(file), sink, &mut summary)?;
        }
    }
    Ok(summary)
}

/// Scans in-memory bytes (a log tail, a test fixture).
pub fn scan_bytes(name: &str, data: &[u8], sink: &mut dyn FnMut(Observation<'_>)) -> ScanSummary {
    let mut summary = ScanSummary::default();
    // Reading from a slice cannot fail except for corrupt gzip, which is then recorded as such.
    if let Err(e) = scan_reader(name, Box::new(data), sink, &mut summary) {
        summary.malformed += 1;
        summary.malformed_examples.push(Malformed {
            source: name.into(),
            line: 0,
            reason: e.to_string(),
            excerpt: String::new(),
        });
    }
    summary
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Scans one input stream, decompressing it first when it is gzip.
pub fn scan_reader<'r>(
    name: &str,
    reader: Box<dyn Read + Send + 'r>,
    sink: &mut dyn FnMut(Observation<'_>),
    summary: &mut ScanSummary,
) -> Result<(), InputError> {
    summary.sources.push(name.to_owned());
    let mut buffered = BufReader::with_capacity(64 * 1024, reader);
    let head = buffered.fill_buf().map_err(|e| InputError::Unreadable {
        path: name.into(),
        cause: e,
    })?;
    if head.starts_with(&GZIP_MAGIC) {
        // Decompress on a second thread so that parsing overlaps decompression.
        let gz = flate2::bufread::MultiGzDecoder::new(buffered);
        std::thread::scope(|scope| {
            let (reader, handle) = ThreadedReader::spawn(scope, gz);
            let res = Scanner::new(name, summary).run(reader, sink);
            let decode = handle
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("the decompression thread failed")));
            match (res, decode) {
                (_, Err(e)) => Err(InputError::CorruptGzip {
                    path: name.into(),
                    cause: e,
                }),
                (Err(InputError::Unreadable { cause, .. }), _) => Err(InputError::CorruptGzip {
                    path: name.into(),
                    cause,
                }),
                (r, Ok(())) => r,
            }
        })
    } else {
        Scanner::new(name, summary).run(buffered, sink)
    }
}

/// A reader fed by a producer thread through a bounded channel of large chunks.
struct ThreadedReader {
    rx: mpsc::Receiver<Vec<u8>>,
    back: mpsc::SyncSender<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
}

const PIPE_CHUNK: usize = 1 << 20;

impl ThreadedReader {
    fn spawn<'s, 'env, R: Read + Send + 'env>(
        scope: &'s std::thread::Scope<'s, 'env>,
        mut src: R,
    ) -> (
        ThreadedReader,
        std::thread::ScopedJoinHandle<'s, io::Result<()>>,
    ) {
        let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(4);
        let (back, recycled) = mpsc::sync_channel::<Vec<u8>>(8);
        let handle = scope.spawn(move || -> io::Result<()> {
            loop {
                let mut buf = recycled.try_recv().unwrap_or_default();
                buf.resize(PIPE_CHUNK, 0);
                let mut filled = 0;
                while filled < PIPE_CHUNK {
                    match src.read(&mut buf[filled..]) {
                        Ok(0) => break,
                        Ok(n) => filled += n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                buf.truncate(filled);
                if filled == 0 || tx.send(buf).is_err() {
                    return Ok(());
                }
                if filled < PIPE_CHUNK {
                    return Ok(());
                }
            }
        });
        (
            ThreadedReader {
                rx,
                back,
                cur: Vec::new(),
                pos: 0,
            },
            handle,
        )
    }
}

impl Read for ThreadedReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.cur.len() {
            match self.rx.recv() {
                Ok(next) => {
                    let old = std::mem::replace(&mut self.cur, next);
                    let _ = self.back.try_send(old);
                    self.pos = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = out.len().min(self.cur.len() - self.pos);
        out[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Bytes read per refill.
const CHUNK: usize = 1 << 20;
/// Already-scanned bytes kept before the unscanned ones, so that an event or timestamp that
/// started on an earlier line can still be read.
const LOOKBACK: usize = json::MAX_EVENT;
/// How far before a record its timestamp and function name are looked for.
const PREFIX_WINDOW: usize = 512;

struct Scanner<'s> {
    name: &'s str,
    summary: &'s mut ScanSummary,
    /// Newlines before `counted_upto` (a position in the current buffer or map); advanced
    /// lazily, only when a line number is needed or bytes are dropped.
    line_base: u64,
    counted_upto: usize,
    /// Whether line numbers are still needed (false once enough examples are kept).
    counting_lines: bool,
    text_finder: memmem::Finder<'static>,
    json_finder: memmem::Finder<'static>,
}

impl<'s> Scanner<'s> {
    fn new(name: &'s str, summary: &'s mut ScanSummary) -> Self {
        Scanner {
            name,
            counting_lines: summary.malformed_examples.len() < MALFORMED_SHOWN,
            summary,
            line_base: 0,
            counted_upto: 0,
            text_finder: memmem::Finder::new(text::NEEDLE),
            json_finder: memmem::Finder::new(json::NEEDLE),
        }
    }

    fn unreadable(&self, e: io::Error) -> InputError {
        InputError::Unreadable {
            path: self.name.into(),
            cause: e,
        }
    }

    fn run<R: Read>(
        mut self,
        mut reader: R,
        sink: &mut dyn FnMut(Observation<'_>),
    ) -> Result<(), InputError> {
        let mut buf: Vec<u8> = vec![0; CHUNK + LOOKBACK + CHUNK];
        let mut len = 0usize;
        // Everything before `from` has been scanned; `skip_until` ends the last record read.
        let mut from = 0usize;
        let mut skip_until = 0usize;
        let mut eof = false;
        let mut sniffed = false;
        loop {
            // Refill: at least one chunk, more while a single line is longer than what we hold.
            if !eof {
                if buf.len() < len + CHUNK {
                    buf.resize(len + CHUNK, 0);
                }
                let target = len + CHUNK;
                while len < target {
                    match reader.read(&mut buf[len..target]) {
                        Ok(0) => {
                            eof = true;
                            break;
                        }
                        Ok(n) => {
                            len += n;
                            self.summary.bytes += n as u64;
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(self.unreadable(e)),
                    }
                }
            }
            if !sniffed {
                sniffed = true;
                if let Some(shape) = insights::sniff(&buf[..len]) {
                    let head = buf[..len].to_vec();
                    // run_insights counts every byte it reads, the head included.
                    self.summary.bytes -= len as u64;
                    return self.run_insights(
                        shape,
                        BufReader::new(io::Cursor::new(head).chain(reader)),
                        sink,
                    );
                }
            }
            let end = if eof {
                len
            } else {
                match memchr::memrchr(b'\n', &buf[from..len]) {
                    Some(i) => from + i + 1,
                    None if len - from > 4 * CHUNK => len,
                    None => continue,
                }
            };
            let done = self.scan_region(&buf[..len], from, end, eof, &mut skip_until, sink);
            if eof {
                // At the end of input every record has been read (nothing waits for more).
                return Ok(());
            }
            // Keep a lookback window of scanned bytes; drop the rest.
            let drop = done.saturating_sub(LOOKBACK);
            if self.counting_lines && self.counted_upto < drop {
                self.line_base +=
                    memchr::memchr_iter(b'\n', &buf[self.counted_upto..drop]).count() as u64;
                self.counted_upto = drop;
            }
            self.counted_upto = self.counted_upto.saturating_sub(drop);
            buf.copy_within(drop..len, 0);
            len -= drop;
            from = done - drop;
            skip_until = skip_until.saturating_sub(drop);
        }
    }

    /// Scans `data[from..end]`, which ends at a line boundary (or at the end of input). Returns
    /// how far scanning got: `end`, or the start of a line whose record needs bytes past `end`.
    fn scan_region(
        &mut self,
        data: &[u8],
        from: usize,
        end: usize,
        eof: bool,
        skip_until: &mut usize,
        sink: &mut dyn FnMut(Observation<'_>),
    ) -> usize {
        let region = &data[from..end];
        let mut hits: Vec<(usize, bool)> = self
            .text_finder
            .find_iter(region)
            .map(|i| (from + i, false))
            .collect();
        let json_hits = self.json_finder.find_iter(region).map(|i| (from + i, true));
        let before = hits.len();
        hits.extend(json_hits);
        if before > 0 && hits.len() > before {
            hits.sort_unstable();
        }
        for (at, is_json) in hits {
            if at < *skip_until {
                continue;
            }
            let line_start = memchr::memrchr(b'\n', &data[..at]).map_or(0, |i| i + 1);
            let outcome = if is_json {
                self.json_hit(data, at, end, eof, sink)
            } else {
                self.text_hit(data, at, line_start, end, eof, sink)
            };
            match outcome {
                Some(record_end) => *skip_until = record_end,
                None => return line_start.max(from),
            }
        }
        end
    }

    /// Reads the text REPORT at `at`. Returns where it ended, or None when it needs the next
    /// line and the region does not have it yet.
    fn text_hit(
        &mut self,
        data: &[u8],
        at: usize,
        line_start: usize,
        end: usize,
        eof: bool,
        sink: &mut dyn FnMut(Observation<'_>),
    ) -> Option<usize> {
        let line_end = memchr::memchr(b'\n', &data[at..end]).map_or(end, |i| at + i);
        let mut report = TextReport::parse(&data[at + text::NEEDLE.len()..line_end]);
        let mut record_end = line_end;
        // A wrapped line (terminal wrap, string literals split over lines) continues below.
        let mut tries = 0;
        while !report.is_complete() && report.stop == Stop::EndOfLine && tries < 2 {
            tries += 1;
            let next_start = record_end + 1;
            if next_start >= end {
                if eof {
                    break;
                }
                return None;
            }
            let next_end =
                memchr::memchr(b'\n', &data[next_start..end]).map_or(end, |i| next_start + i);
            if !report.continue_with(&data[next_start..next_end]) {
                break;
            }
            record_end = next_end;
        }
        let implausible = report
            .is_complete()
            .then(|| report.record.implausible())
            .flatten();
        if let Some(why) = implausible {
            self.malformed(data, line_start, line_end, why);
        } else if report.is_complete() {
            // What precedes the record on its line, near enough to belong to it (a compact JSON
            // line holds many events, each with its own timestamp).
            let prefix = &data[line_start.max(at.saturating_sub(PREFIX_WINDOW))..at];
            let timestamp_ms = context::find_event_timestamp(prefix)
                .or_else(|| lookback_timestamp(data, line_start, prefix));
            self.summary.records += 1;
            sink(Observation {
                record: report.record,
                timestamp_ms,
                function: context::find_function(prefix),
            });
        } else {
            let reason = match report.bad_field {
                Some(f) => format!("the value of {f} is not a number"),
                None => format!("missing {}", report.missing().join(", ")),
            };
            self.malformed(data, line_start, line_end, reason);
        }
        // Later records may share the line (compact JSON); only continuation lines are used up.
        Some(if record_end > line_end {
            record_end
        } else {
            at + text::NEEDLE.len()
        })
    }

    fn json_hit(
        &mut self,
        data: &[u8],
        at: usize,
        end: usize,
        eof: bool,
        sink: &mut dyn FnMut(Observation<'_>),
    ) -> Option<usize> {
        let limit = if eof { data.len() } else { end };
        match json::extent(&data[..limit], at, 0) {
            json::Extent::Found {
                start,
                end: obj_end,
            } => {
                let line_start = memchr::memrchr(b'\n', &data[..start]).map_or(0, |i| i + 1);
                let parsed = json::parse_event(&data[start..obj_end]).and_then(|rep| {
                    match rep.record.implausible() {
                        Some(why) => Err(json::JsonError::Malformed(why)),
                        None => Ok(rep),
                    }
                });
                match parsed {
                    Ok(rep) => {
                        self.summary.records += 1;
                        sink(Observation {
                            record: rep.record,
                            timestamp_ms: rep.timestamp_ms,
                            function: context::find_function(
                                &data[line_start.max(start.saturating_sub(PREFIX_WINDOW))..start],
                            ),
                        });
                    }
                    Err(json::JsonError::NotAReport) => {}
                    Err(json::JsonError::Malformed(why)) => {
                        let line_end =
                            memchr::memchr(b'\n', &data[at..limit]).map_or(limit, |i| at + i);
                        let ls = memchr::memrchr(b'\n', &data[..at]).map_or(0, |i| i + 1);
                        self.malformed(data, ls, line_end, format!("platform.report event: {why}"));
                    }
                }
                Some(obj_end)
            }
            json::Extent::Incomplete if !eof => None,
            json::Extent::Incomplete => {
                let ls = memchr::memrchr(b'\n', &data[..at]).map_or(0, |i| i + 1);
                self.malformed(
                    data,
                    ls,
                    data.len(),
                    "platform.report event is cut off".into(),
                );
                Some(data.len())
            }
            // A mention of "platform.report" outside any JSON object is not a record.
            json::Extent::Missing => Some(at + json::NEEDLE.len()),
        }
    }

    fn malformed(&mut self, data: &[u8], line_start: usize, line_end: usize, reason: String) {
        self.summary.malformed += 1;
        if self.summary.malformed_examples.len() >= MALFORMED_SHOWN {
            return;
        }
        if self.counted_upto <= line_start {
            self.line_base +=
                memchr::memchr_iter(b'\n', &data[self.counted_upto..line_start]).count() as u64;
            self.counted_upto = line_start;
        }
        let line = self.line_base + 1;
        let line_end =
            memchr::memchr(b'\n', &data[line_start..line_end]).map_or(line_end, |i| line_start + i);
        let raw = &data[line_start..line_end.min(line_start + 160)];
        self.summary.malformed_examples.push(Malformed {
            source: self.name.into(),
            line,
            reason,
            excerpt: String::from_utf8_lossy(raw).trim().to_owned(),
        });
        self.counting_lines = self.summary.malformed_examples.len() < MALFORMED_SHOWN;
    }

    fn run_insights<R: BufRead>(
        self,
        shape: insights::Shape,
        mut reader: R,
        sink: &mut dyn FnMut(Observation<'_>),
    ) -> Result<(), InputError> {
        let name = self.name.to_owned();
        let summary = self.summary;
        let mut emit = |row: insights::Row, summary: &mut ScanSummary| {
            summary.records += 1;
            sink(Observation {
                record: row.record,
                timestamp_ms: row.timestamp_ms,
                function: row.function.as_deref(),
            });
        };
        let bad = |summary: &mut ScanSummary, line: u64, reason: String, excerpt: &str| {
            summary.malformed += 1;
            if summary.malformed_examples.len() < MALFORMED_SHOWN {
                summary.malformed_examples.push(Malformed {
                    source: name.clone(),
                    line,
                    reason,
                    excerpt: excerpt.chars().take(160).collect(),
                });
            }
        };
        if shape == insights::Shape::Json {
            // Insights returns at most 10,000 rows per page and 100,000 per query (LAMBDA_FACTS
            // §6), so an export is small enough to read whole.
            let mut all = Vec::new();
            reader
                .read_to_end(&mut all)
                .map_err(|e| InputError::Unreadable {
                    path: name.clone(),
                    cause: e,
                })?;
            // The head was counted when it was read; count the rest now.
            summary.bytes += all.len() as u64;
            let v: serde_json::Value =
                serde_json::from_slice(&all).map_err(|e| InputError::BadExport {
                    path: name.clone(),
                    reason: e.to_string(),
                })?;
            let rows = insights::json_rows(&v).map_err(|reason| InputError::BadExport {
                path: name.clone(),
                reason,
            })?;
            for (i, r) in rows.iter().enumerate() {
                match insights::row(r).and_then(plausible) {
                    Ok(Some(row)) => emit(row, summary),
                    Ok(None) => {}
                    Err(why) => bad(summary, i as u64 + 1, why, ""),
                }
            }
            return Ok(());
        }
        let mut header: Option<Vec<String>> = None;
        let mut pending = String::new();
        let mut line_no = 0u64;
        let mut record_line = 0u64;
        let mut raw = Vec::new();
        loop {
            raw.clear();
            let n = reader
                .read_until(b'\n', &mut raw)
                .map_err(|e| InputError::Unreadable {
                    path: name.clone(),
                    cause: e,
                })?;
            if n == 0 {
                break;
            }
            summary.bytes += n as u64;
            line_no += 1;
            let line = String::from_utf8_lossy(&raw);
            let line = line.trim_end_matches(['\n', '\r']);
            if pending.is_empty() {
                record_line = line_no;
            } else {
                pending.push('\n');
            }
            pending.push_str(line);
            let cells = match shape {
                insights::Shape::Csv => match insights::split_csv(&pending) {
                    Some(c) => c,
                    None if pending.len() < 1 << 20 => continue,
                    None => {
                        bad(
                            summary,
                            record_line,
                            "unterminated quoted field".into(),
                            &pending,
                        );
                        pending.clear();
                        continue;
                    }
                },
                _ => match insights::split_markdown(&pending) {
                    Some(c) => c,
                    None => {
                        pending.clear();
                        continue;
                    }
                },
            };
            let text = std::mem::take(&mut pending);
            if text.trim().is_empty() {
                continue;
            }
            let Some(h) = &header else {
                header = Some(cells.iter().map(|c| c.trim().to_owned()).collect());
                continue;
            };
            let fields: HashMap<String, String> = h.iter().cloned().zip(cells).collect();
            match insights::row(&fields).and_then(plausible) {
                Ok(Some(row)) => emit(row, summary),
                Ok(None) => {}
                Err(why) => bad(summary, record_line, why, &text),
            }
        }
        Ok(())
    }
}

/// An Insights row whose numbers no real invocation has is malformed, as in the other shapes.
fn plausible(row: Option<insights::Row>) -> Result<Option<insights::Row>, String> {
    match row.as_ref().and_then(|r| r.record.implausible()) {
        Some(why) => Err(why),
        None => Ok(row),
    }
}

/// For pretty-printed JSON events (`aws logs filter-log-events` output) the REPORT sits in a
/// `"message"` line and the event's `"timestamp"` on a line above it.
fn lookback_timestamp(data: &[u8], line_start: usize, prefix: &[u8]) -> Option<i64> {
    memmem::find(prefix, b"\"message\"")?;
    let from = line_start.saturating_sub(512);
    let window = &data[from..line_start];
    let at = memmem::rfind(window, b"\"timestamp\"")?;
    let rest = &window[at + 11..];
    let line_end = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
    context::find_timestamp(&rest[..line_end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Status;

    type Found = (InvocationRecord<'static>, Option<i64>, Option<String>);

    fn collect(data: &[u8]) -> (Vec<Found>, ScanSummary) {
        let mut out = Vec::new();
        let s = scan_bytes("test", data, &mut |o| {
            out.push((
                o.record.into_owned(),
                o.timestamp_ms,
                o.function.map(str::to_owned),
            ))
        });
        (out, s)
    }

    #[test]
    fn finds_records_among_other_lines_and_counts_malformed() {
        let log = b"START RequestId: a Version: $LATEST\nhello\nEND RequestId: a\n\
REPORT RequestId: a\tDuration: 1.50 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 60 MB\t\n\
XRAY TraceId: 1-2\tSegmentId: 3\tSampled: true\n\
REPORT RequestId: b \n\
some app line\n";
        let (recs, s) = collect(log);
        assert_eq!(recs.len(), 1);
        assert_eq!(s.records, 1);
        assert_eq!(s.malformed, 1);
        assert_eq!(s.malformed_examples[0].line, 6);
        assert!(
            s.malformed_examples[0].reason.contains("Duration"),
            "{:?}",
            s.malformed_examples
        );
    }

    #[test]
    fn aws_logs_tail_prefix_gives_timestamp() {
        let log = b"2024-05-01T10:00:00.000000+00:00 2024/05/01/[$LATEST]abc REPORT RequestId: x\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 512 MB\tMax Memory Used: 64 MB\tStatus: timeout\n";
        let (recs, _) = collect(log);
        assert_eq!(recs[0].0.status, Status::Timeout);
        assert_eq!(recs[0].1, Some(1_714_557_600_000));
        assert_eq!(recs[0].2, None);
    }

    #[test]
    fn pretty_filter_log_events_takes_timestamp_from_above() {
        let log = br#"{
    "events": [
        {
            "logStreamName": "2019/03/13/[$LATEST]abc",
            "timestamp": 1552519232321,
            "message": "REPORT RequestId: x\tDuration: 46.84 ms\tBilled Duration: 100 ms \tMemory Size: 192 MB\tMax Memory Used: 72 MB\t\n",
            "ingestionTime": 1552519247426
        }
    ]
}"#;
        let (recs, _) = collect(log);
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].1, Some(1_552_519_232_321));
    }

    #[test]
    fn records_across_refill_boundaries_are_all_found() {
        // Enough lines to need several refills, with records of both kinds straddling chunk ends.
        let text = "REPORT RequestId: t\tDuration: 1.25 ms\tBilled Duration: 2 ms\tMemory Size: 256 MB\tMax Memory Used: 70 MB\t\n";
        let json = "{\"time\":\"2024-01-01T00:00:00Z\",\n \"type\":\"platform.report\",\n \"record\":{\"requestId\":\"j\",\"metrics\":{\"durationMs\":1.5,\"billedDurationMs\":2,\"memorySizeMB\":256,\"maxMemoryUsedMB\":70}}}\n";
        let filler = "x".repeat(997) + "\n";
        let mut log = String::new();
        let mut expected = 0;
        for i in 0..9000 {
            log.push_str(&filler);
            if i % 3 == 0 {
                log.push_str(text);
                expected += 1;
            }
            if i % 7 == 0 {
                log.push_str(json);
                expected += 1;
            }
        }
        let (recs, s) = collect(log.as_bytes());
        assert_eq!(s.malformed, 0, "{:?}", s.malformed_examples);
        assert_eq!(recs.len(), expected);
        assert_eq!(s.bytes, log.len() as u64);
    }

    #[test]
    fn gzip_is_detected_by_content_and_corruption_reported() {
        use flate2::{Compression, write::GzEncoder};
        use std::io::Write;
        let text = b"REPORT RequestId: g\tDuration: 1.00 ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\tMax Memory Used: 50 MB\t\n";
        let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
        for _ in 0..1000 {
            enc.write_all(text).unwrap();
        }
        let gz = enc.finish().unwrap();
        let (recs, s) = collect(&gz);
        assert_eq!(recs.len(), 1000);
        assert_eq!(s.malformed, 0);
        let mut summary = ScanSummary::default();
        let cut = &gz[..gz.len() / 2];
        let err = scan_reader("cut.gz", Box::new(cut), &mut |_| {}, &mut summary).unwrap_err();
        assert!(matches!(err, InputError::CorruptGzip { .. }), "{err}");
    }

    #[test]
    fn insights_csv_rows() {
        let csv = b"@timestamp,@requestId,@duration,@billedDuration,@memorySize,@maxMemoryUsed,@initDuration,@log\n\
2024-06-01 12:00:00.000,r1,101.5,102,1024000000,85000000,,123:/aws/lambda/brand-api\n\
2024-06-01 12:00:01.000,r2,99.0,99,1024000000,86000000,250.1,123:/aws/lambda/brand-api\n";
        let (recs, s) = collect(csv);
        assert_eq!(s.records, 2);
        assert_eq!(recs[1].0.init_duration_ms, Some(250.1));
        assert_eq!(recs[0].0.memory_size_mb, Some(1024.0));
        assert_eq!(recs[0].2.as_deref(), Some("brand-api"));
    }

    #[test]
    fn impossible_numbers_are_malformed_in_every_shape() {
        // Text: a memory size of 0 (which once hung the log-scale chart) and one no function has.
        let log = b"REPORT RequestId: a\tDuration: 1.0 ms\tBilled Duration: 1 ms\tMemory Size: 0 MB\tMax Memory Used: 50 MB\t\n\
REPORT RequestId: b\tDuration: 1.0 ms\tBilled Duration: 1 ms\tMemory Size: 99999999999 MB\tMax Memory Used: 50 MB\t\n\
REPORT RequestId: c\tDuration: 1.0 ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\tMax Memory Used: 50 MB\t\n";
        let (recs, s) = collect(log);
        assert_eq!((recs.len(), s.malformed), (1, 2));
        assert_eq!(s.malformed_examples[0].line, 1);
        assert!(
            s.malformed_examples[0]
                .reason
                .contains("Memory Size is 0 MB"),
            "{:?}",
            s.malformed_examples
        );
        // JSON-format logs.
        let json = br#"{"time":"2024-06-01T12:00:00.000Z","type":"platform.report","record":{"requestId":"j","metrics":{"durationMs":1.0,"billedDurationMs":1,"memorySizeMB":0,"maxMemoryUsedMB":50},"status":"success"}}
"#;
        let (recs, s) = collect(json);
        assert_eq!((recs.len(), s.malformed), (0, 1));
        assert!(
            s.malformed_examples[0]
                .reason
                .contains("Memory Size is 0 MB")
        );
        // Insights: memory in bytes, 0.
        let csv = b"@timestamp,@requestId,@duration,@billedDuration,@memorySize,@maxMemoryUsed\n\
2024-06-01 12:00:00.000,r1,101.5,102,0,85000000\n\
2024-06-01 12:00:01.000,r2,99.0,99,1024000000,86000000\n";
        let (recs, s) = collect(csv);
        assert_eq!((recs.len(), s.malformed), (1, 1));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut seed = 0x2545F4914F6CDD1Du64;
        let pieces: [&[u8]; 8] = [
            b"REPORT RequestId: ",
            b"Duration: ",
            b"1.5 ms",
            b"\t",
            b"\"platform.report\"",
            b"{",
            b"}",
            b"\n",
        ];
        for _ in 0..300 {
            let mut data = Vec::new();
            for _ in 0..64 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                if seed.is_multiple_of(3) {
                    data.push((seed >> 8) as u8);
                } else {
                    data.extend_from_slice(pieces[(seed >> 16) as usize % pieces.len()]);
                }
            }
            let _ = collect(&data);
        }
    }
}
