//! The Lambda Runtime API (version 2018-06-01) on 127.0.0.1, as Lambda serves it to custom
//! runtimes: `GET /runtime/invocation/next` hands out the next event with the
//! `Lambda-Runtime-Aws-Request-Id`, `-Deadline-Ms`, `-Invoked-Function-Arn` and `-Trace-Id`
//! headers; `POST /runtime/invocation/{id}/response` and `/error` end it; `POST
//! /runtime/init/error` reports a failed init. Real runtime clients (aws-lambda-rust-runtime,
//! awslambdaric, a hand-written loop) run against it unchanged. Anything else a runtime sends —
//! malformed HTTP, an unknown request id — ends the invocation in flight with a clear error.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How an invocation handed to the runtime ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// `POST …/response`.
    Response(Vec<u8>),
    /// `POST …/error`: the error type (header or body) and the body.
    Error(String, Vec<u8>),
    /// The runtime broke the protocol while the invocation was in flight.
    Protocol(String),
}

/// An event handed out to the runtime.
#[derive(Debug, Clone)]
struct InFlight {
    id: String,
    started: Instant,
}

#[derive(Debug, Default)]
struct State {
    pending: Option<(String, Vec<u8>, u64)>,
    in_flight: Option<InFlight>,
    outcome: Option<(Outcome, Instant)>,
    next_seen: Option<Instant>,
    init_error: Option<String>,
    shutdown: bool,
    arn: String,
    /// Which environment the server now serves; bumped by [`RuntimeApi::reset`]. A `/next`
    /// still waiting from a killed environment's connection must not take the next one's event.
    generation: u64,
}

/// The shared state between the server's connection threads and the backend.
#[derive(Debug, Default)]
pub struct Shared {
    state: Mutex<State>,
    cv: Condvar,
}

/// A running Runtime API server.
#[derive(Debug)]
pub struct RuntimeApi {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, State> {
    // A poisoned lock only means a connection thread panicked; the state is still usable.
    s.state.lock().unwrap_or_else(|e| e.into_inner())
}

impl RuntimeApi {
    /// Starts the server on 127.0.0.1 (a free port) for the function `arn`.
    pub fn start(arn: &str) -> std::io::Result<RuntimeApi> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        lock(&shared).arn = arn.to_owned();
        let s = shared.clone();
        std::thread::Builder::new()
            .name("runtime-api".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    if lock(&s).shutdown {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let s = s.clone();
                    let _ = std::thread::Builder::new()
                        .name("runtime-api-conn".into())
                        .spawn(move || serve(conn, &s));
                }
            })?;
        Ok(RuntimeApi { addr, shared })
    }

    /// `host:port`, the value of AWS_LAMBDA_RUNTIME_API.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// Forgets everything about the previous environment (a new process is starting).
    pub fn reset(&self) {
        let mut st = lock(&self.shared);
        st.pending = None;
        st.in_flight = None;
        st.outcome = None;
        st.next_seen = None;
        st.init_error = None;
        // Wake the old environment's waiting `/next`s, so that they give up rather than race the
        // new runtime for its first event (and lose it to a dead socket).
        st.generation += 1;
        self.shared.cv.notify_all();
    }

    /// When the runtime first asked for an event (its init is done), if it has.
    pub fn next_seen(&self) -> Option<Instant> {
        lock(&self.shared).next_seen
    }

    /// The error type the runtime reported through `/runtime/init/error`, if any.
    pub fn init_error(&self) -> Option<String> {
        lock(&self.shared).init_error.clone()
    }

    /// Queues an event for the runtime's next `/next`.
    pub fn submit(&self, id: &str, payload: &[u8], deadline_ms: u64) {
        let mut st = lock(&self.shared);
        st.pending = Some((id.to_owned(), payload.to_vec(), deadline_ms));
        st.outcome = None;
        self.shared.cv.notify_all();
    }

    /// When the queued event was handed out, if it was.
    pub fn handed_out(&self) -> Option<Instant> {
        lock(&self.shared).in_flight.as_ref().map(|f| f.started)
    }

    /// Waits up to `wait` for the invocation's outcome: (outcome, when it came, when the event
    /// was handed out).
    pub fn wait_outcome(&self, wait: Duration) -> Option<(Outcome, Instant, Option<Instant>)> {
        let st = lock(&self.shared);
        let (mut st, _) = self
            .shared
            .cv
            .wait_timeout_while(st, wait, |s| s.outcome.is_none() && !s.shutdown)
            .unwrap_or_else(|e| e.into_inner());
        let (outcome, at) = st.outcome.take()?;
        let started = st.in_flight.take().map(|f| f.started);
        Some((outcome, at, started))
    }

    /// Waits up to `wait` for the runtime's first `/next`.
    pub fn wait_next(&self, wait: Duration) -> Option<Instant> {
        let st = lock(&self.shared);
        let (st, _) = self
            .shared
            .cv
            .wait_timeout_while(st, wait, |s| {
                s.next_seen.is_none() && s.init_error.is_none() && !s.shutdown
            })
            .unwrap_or_else(|e| e.into_inner());
        st.next_seen
    }

    /// Stops the server (connection threads blocked in `/next` return).
    pub fn shutdown(&self) {
        lock(&self.shared).shutdown = true;
        self.shared.cv.notify_all();
        // Wake the accept loop.
        let _ = TcpStream::connect(self.addr);
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.shutdown();
    }
}

struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    close: bool,
}

fn read_request(r: &mut BufReader<TcpStream>) -> Result<Option<Request>, String> {
    let mut line = String::new();
    match r.read_line(&mut line) {
        Ok(0) => return Ok(None),
        Ok(_) => {}
        // A runtime that exits with our response unread resets the connection: that is the
        // process going away (reported from its exit status), not a malformed request.
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
            ) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(format!("unreadable request: {e}")),
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(path), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(format!("malformed request line {:?}", line.trim_end()));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(format!("malformed request line {:?}", line.trim_end()));
    }
    let mut headers = Vec::new();
    let mut total = line.len();
    loop {
        let mut h = String::new();
        r.read_line(&mut h)
            .map_err(|e| format!("unreadable headers: {e}"))?;
        total += h.len();
        if total > 64 * 1024 {
            return Err("request headers over 64 KiB".into());
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h
            .split_once(':')
            .ok_or_else(|| format!("malformed header {h:?}"))?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
    }
    let get = |k: &str| {
        headers
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    };
    let len: usize = match get("content-length") {
        Some(v) => v.parse().map_err(|_| format!("bad Content-Length {v:?}"))?,
        None => 0,
    };
    // Lambda accepts responses up to 6 MB (LAMBDA_FACTS §3); allow some slack.
    if len > 8 * 1024 * 1024 {
        return Err(format!(
            "body of {len} bytes is over the 6 MB response limit"
        ));
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body)
        .map_err(|e| format!("body cut short: {e}"))?;
    let close =
        get("connection").is_some_and(|c| c.eq_ignore_ascii_case("close")) || version == "HTTP/1.0";
    Ok(Some(Request {
        method: method.to_owned(),
        path: path.to_owned(),
        headers,
        body,
        close,
    }))
}

fn respond(
    w: &mut TcpStream,
    status: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/json\r\n",
        body.len()
    );
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    w.write_all(out.as_bytes())?;
    w.write_all(body)?;
    w.flush()
}

fn fail_in_flight(s: &Shared, why: String) {
    let mut st = lock(s);
    if st.in_flight.is_some() && st.outcome.is_none() {
        st.outcome = Some((Outcome::Protocol(why), Instant::now()));
        s.cv.notify_all();
    }
}

const PREFIX: &str = "/2018-06-01/runtime/";

fn serve(conn: TcpStream, s: &Shared) {
    let Ok(mut w) = conn.try_clone() else { return };
    let mut r = BufReader::new(conn);
    loop {
        let req = match read_request(&mut r) {
            Ok(Some(req)) => req,
            Ok(None) => return,
            Err(why) => {
                fail_in_flight(s, format!("the runtime sent {why}"));
                let _ = respond(
                    &mut w,
                    "400 Bad Request",
                    &[],
                    br#"{"errorMessage":"malformed request","errorType":"InvalidRequest"}"#,
                );
                return;
            }
        };
        let path = req.path.strip_prefix(PREFIX).unwrap_or("");
        let result = match (req.method.as_str(), path) {
            ("GET", "invocation/next") => next(&mut w, s),
            ("POST", "init/error") => {
                let t = error_type(&req);
                let mut st = lock(s);
                st.init_error = Some(t);
                s.cv.notify_all();
                drop(st);
                respond(&mut w, "202 Accepted", &[], br#"{"status":"OK"}"#)
            }
            ("POST", p) if p.starts_with("invocation/") => {
                let rest = &p["invocation/".len()..];
                let (id, kind) = rest.rsplit_once('/').unwrap_or((rest, ""));
                let outcome = match kind {
                    "response" => Some(Outcome::Response(req.body.clone())),
                    "error" => Some(Outcome::Error(error_type(&req), req.body.clone())),
                    _ => None,
                };
                let mut st = lock(s);
                let matches =
                    st.in_flight.as_ref().is_some_and(|f| f.id == id) && st.outcome.is_none();
                match outcome {
                    Some(o) if matches => {
                        st.outcome = Some((o, Instant::now()));
                        s.cv.notify_all();
                        drop(st);
                        respond(&mut w, "202 Accepted", &[], br#"{"status":"OK"}"#)
                    }
                    Some(_) => {
                        drop(st);
                        fail_in_flight(
                            s,
                            format!("the runtime posted a result for an unknown request id {id:?}"),
                        );
                        respond(&mut w, "400 Bad Request", &[], br#"{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}"#)
                    }
                    None => {
                        drop(st);
                        respond(
                            &mut w,
                            "404 Not Found",
                            &[],
                            br#"{"errorMessage":"unknown path","errorType":"NotFound"}"#,
                        )
                    }
                }
            }
            _ => respond(
                &mut w,
                "404 Not Found",
                &[],
                br#"{"errorMessage":"unknown path","errorType":"NotFound"}"#,
            ),
        };
        if result.is_err() || req.close {
            return;
        }
    }
}

fn error_type(req: &Request) -> String {
    if let Some((_, v)) = req
        .headers
        .iter()
        .find(|(k, _)| k == "lambda-runtime-function-error-type")
    {
        return v.clone();
    }
    serde_json::from_slice::<serde_json::Value>(&req.body)
        .ok()
        .and_then(|v| {
            v.get("errorType")
                .and_then(|t| t.as_str())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "Unhandled".to_owned())
}

fn next(w: &mut TcpStream, s: &Shared) -> std::io::Result<()> {
    let mut st = lock(s);
    if st.next_seen.is_none() {
        st.next_seen = Some(Instant::now());
        s.cv.notify_all();
    }
    let generation = st.generation;
    let mut st =
        s.cv.wait_while(st, |st| {
            st.pending.is_none() && !st.shutdown && st.generation == generation
        })
        .unwrap_or_else(|e| e.into_inner());
    if st.generation != generation {
        // The environment this connection belonged to is gone: close it unanswered.
        return Err(std::io::Error::other("the environment was replaced"));
    }
    let Some((id, payload, deadline)) = st.pending.take() else {
        return Ok(());
    };
    let arn = st.arn.clone();
    // X-Ray ids from the request id's hex digits (padded: any id must do).
    let hex: String = id
        .chars()
        .filter(char::is_ascii_hexdigit)
        .chain(std::iter::repeat('0'))
        .take(24)
        .collect();
    st.in_flight = Some(InFlight {
        id: id.clone(),
        started: Instant::now(),
    });
    drop(st);
    respond(
        w,
        "200 OK",
        &[
            ("Lambda-Runtime-Aws-Request-Id", id.clone()),
            ("Lambda-Runtime-Deadline-Ms", deadline.to_string()),
            ("Lambda-Runtime-Invoked-Function-Arn", arn),
            (
                "Lambda-Runtime-Trace-Id",
                format!(
                    "Root=1-{:08x}-{};Parent={};Sampled=0",
                    deadline / 1000,
                    hex,
                    &hex[..16]
                ),
            ),
        ],
        &payload,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get_next(api: &RuntimeApi) -> TcpStream {
        let mut c = TcpStream::connect(api.address()).unwrap();
        c.write_all(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c
    }

    fn wait_for_next(api: &RuntimeApi) {
        assert!(api.wait_next(Duration::from_secs(5)).is_some(), "no /next");
    }

    /// A killed environment's `/next` is still waiting when the next environment starts: the
    /// event must go to the new runtime, never to the dead connection (it once did, now and
    /// then, and the invocation hung until the timeout).
    #[test]
    fn a_replaced_environments_next_never_takes_the_event() {
        let api = RuntimeApi::start("arn:aws:lambda:us-east-1:000000000000:function:f").unwrap();
        let mut old = get_next(&api);
        wait_for_next(&api);
        api.reset();
        let mut new = get_next(&api);
        wait_for_next(&api);
        api.submit("req-1", b"{}", 0);
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&got).contains("\r\n\r\n{}") {
            let n = new.read(&mut buf).expect("the new runtime gets its event");
            assert!(n > 0, "closed: {}", String::from_utf8_lossy(&got));
            got.extend_from_slice(&buf[..n]);
        }
        assert!(String::from_utf8_lossy(&got).contains("Lambda-Runtime-Aws-Request-Id: req-1"));
        // The old connection was closed without an answer.
        assert_eq!(old.read(&mut buf).unwrap_or(0), 0);
        assert!(api.handed_out().is_some());
    }
}
