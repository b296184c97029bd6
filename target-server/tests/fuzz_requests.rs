//! Request-level fuzz against a real server: proptest-generated requests written raw over TCP.
//!
//! Each case is either
//!
//! - a **pipeline** of one to three well-formed requests (methods from a set and random tokens;
//!   targets from the routes, random paths, `?range=` specs, absolute-form; `Range` headers from
//!   `fuzz_support::range_value`, non-ASCII included; random headers; bodies by
//!   `Content-Length`, chunked or after `Expect: 100-continue`; `Connection: close`), written
//!   in one go: every response must be a valid HTTP/1.1 response with exactly the status the
//!   routes and the range parser call for, and the file's exact bytes for a `200`/`206`; the
//!   server may close early only after a request that carried a body, and must close after
//!   `Connection: close`;
//! - or one **mangled** request: a well-formed one truncated, with CRLFs dropped or bare,
//!   bytes inserted or overwritten, an 8 KiB to 1 MiB header line, up to 300 headers, a 100 KiB
//!   target, another version or method, conflicting framing headers, leading blank lines, raw
//!   garbage or the HTTP/2 preface, then the write side shut: the server answers with valid
//!   HTTP/1.1 responses of an expected status, or closes, within the read timeout; a head over
//!   64 KiB is refused.
//!
//! Nothing may take longer than [`READ_TIMEOUT`] (the server runs with `--header-timeout 1s`).
//! Afterwards the server must still be up, have printed no panic (a panic in a connection task
//! would only close that connection), hold no buffer, and answer `/healthz` and a range exactly.
//!
//! `FUZZ_CASES` cases per binary (200 by default; `make fuzz` runs many more). Each binary runs
//! another body mode: glibc buffered, jemalloc streaming (4 KiB chunks, `--io blocking`),
//! mimalloc the byte pool (4 KiB buffers, `--io pool`).

mod common;
mod fuzz_support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{TestCaseError, TestRunner};
use target_server::range::{parse_header, parse_query, RangeError};

use common::{num, wait_until, Alloc, KnownFile, Server};
use fuzz_support::mangle::{mangle, mutation, Mutation};
use fuzz_support::response::{read_response, ReadError};
use fuzz_support::{cases, config, header_range_value, query_spec};

for_each_allocator!(raw_requests_get_a_valid_status_or_a_close_and_the_server_survives);

/// The hot file: odd-sized, and longer than `--max-range`, so `416` for length comes up too.
const SIZE: usize = 20_011;
const MAX_RANGE: u64 = 16 << 10;
/// The server's limit on a request head; a longer one gets `431` (or `400`, `414`).
const MAX_HEAD: usize = 64 << 10;
/// Per read and write: a server that has not answered or closed by then has hung.
const READ_TIMEOUT: Duration = Duration::from_secs(2);
/// Statuses a mangled request may get: the routes' and the range parser's, and hyper's own
/// `400`, `414`, `431` for what does not parse.
const MANGLED_OK: [u16; 8] = [200, 206, 400, 404, 405, 414, 416, 431];

fn raw_requests_get_a_valid_status_or_a_close_and_the_server_survives(alloc: Alloc) {
    let hot = KnownFile::new(SIZE);
    let mut args = vec![
        "--file",
        hot.path(),
        "--max-range",
        "16KiB",
        "--header-timeout",
        "1s",
        "--workers",
        "2",
    ];
    args.extend_from_slice(match alloc {
        Alloc::Glibc => &[][..],
        Alloc::Jemalloc => &["--body", "streaming", "--chunk", "4KiB", "--io", "blocking"],
        Alloc::Mimalloc => &[
            "--byte-pool",
            "8",
            "--byte-pool-buffer",
            "4KiB",
            "--io",
            "pool",
            "--io-threads",
            "4",
        ],
    });
    let mut server = Server::start_watched(alloc, &args);
    let addr = server.addr;

    let cases = cases(200);
    let tally = Mutex::new(BTreeMap::<String, u64>::new());
    let t0 = Instant::now();
    let mut runner = TestRunner::new(config(cases));
    let result = runner.run(&case(), |case| {
        let outcome = match &case {
            Case::Pipeline(reqs) => run_pipeline(addr, reqs, &hot.bytes),
            Case::Mangled(req, muts) => run_mangled(addr, &mangle(req.bytes(), muts)),
        };
        match outcome {
            Ok(seen) => {
                let mut t = tally.lock().unwrap();
                for s in seen {
                    *t.entry(s).or_default() += 1;
                }
                Ok(())
            }
            Err(e) => Err(TestCaseError::fail(e)),
        }
    });
    let took = t0.elapsed();
    if let Err(e) = result {
        panic!("{}: {e}\nserver stderr: {}", alloc.name(), server.stderr());
    }
    eprintln!(
        "{}: {cases} cases in {took:.1?}; answers: {:?}",
        alloc.name(),
        tally.lock().unwrap()
    );

    // Still alive, nothing panicked, every buffer given back, and still exact.
    server.assert_alive_and_no_panic();
    let r = common::get(addr, "/healthz", &[]);
    assert_eq!((r.status, r.text().as_str()), (200, "ok\n"));
    let r = common::get_range(addr, "bytes=1000-1999");
    assert_eq!(r.status, 206, "{}", r.text());
    assert_eq!(r.header("content-range"), Some("bytes 1000-1999/20011"));
    assert!(
        r.body == hot.bytes[1000..2000],
        "wrong bytes after the fuzz"
    );
    let idle = wait_until(Duration::from_secs(3), || {
        let s = common::get(addr, "/stats", &[]).json();
        num(&s, "app/inflight_buffers") == 0
    });
    assert!(idle, "buffers still in flight after the fuzz");
    server.assert_alive_and_no_panic();
}

// ---------------------------------------------------------------------------------------------
// Requests

#[derive(Debug, Clone)]
enum Framing {
    None,
    Length(Vec<u8>),
    Chunked(Vec<Vec<u8>>),
    Continue(Vec<u8>),
}

/// A well-formed request.
#[derive(Debug, Clone)]
struct Req {
    method: String,
    target: String,
    host: bool,
    /// `Range` headers (header name spelling, value), in order.
    ranges: Vec<(&'static str, String)>,
    extra: Vec<(String, String)>,
    framing: Framing,
    connection: Option<&'static str>,
}

impl Req {
    fn bytes(&self) -> Vec<u8> {
        let mut h = format!("{} {} HTTP/1.1\r\n", self.method, self.target);
        if self.host {
            h.push_str("Host: 127.0.0.1\r\n");
        }
        for (name, v) in &self.ranges {
            h.push_str(&format!("{name}: {v}\r\n"));
        }
        for (k, v) in &self.extra {
            h.push_str(&format!("{k}: {v}\r\n"));
        }
        if let Some(c) = self.connection {
            h.push_str(&format!("Connection: {c}\r\n"));
        }
        let mut body = Vec::new();
        match &self.framing {
            Framing::None => {}
            Framing::Length(b) => {
                h.push_str(&format!("Content-Length: {}\r\n", b.len()));
                body.extend_from_slice(b);
            }
            Framing::Continue(b) => {
                h.push_str(&format!(
                    "Expect: 100-continue\r\nContent-Length: {}\r\n",
                    b.len()
                ));
                body.extend_from_slice(b);
            }
            Framing::Chunked(chunks) => {
                h.push_str("Transfer-Encoding: chunked\r\n");
                for c in chunks {
                    body.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
                    body.extend_from_slice(c);
                    body.extend_from_slice(b"\r\n");
                }
                body.extend_from_slice(b"0\r\n\r\n");
            }
        }
        h.push_str("\r\n");
        let mut out = h.into_bytes();
        out.extend_from_slice(&body);
        out
    }

    fn closes(&self) -> bool {
        self.connection
            .is_some_and(|c| c.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")))
    }

    fn has_body(&self) -> bool {
        !matches!(self.framing, Framing::None)
    }

    /// The path and query hyper sees (absolute-form loses its scheme and authority).
    fn path_and_query(&self) -> (&str, Option<&str>) {
        let t = match self.target.strip_prefix("http://") {
            Some(rest) => &rest[rest.find('/').unwrap_or(rest.len())..],
            None => &self.target,
        };
        match t.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (t, None),
        }
    }

    /// What the server must answer: the status, and for a served range its first byte and
    /// length.
    fn expected(&self) -> (u16, Option<(u64, u64)>) {
        let (path, query) = self.path_and_query();
        match (self.method.as_str(), path) {
            ("GET" | "HEAD", "/file/hot") => self.expected_range(query),
            ("GET", "/healthz" | "/stats") | ("POST", "/admin/release") => (200, None),
            (_, "/file/hot" | "/healthz" | "/stats" | "/admin/release") => (405, None),
            _ => (404, None),
        }
    }

    fn expected_range(&self, query: Option<&str>) -> (u16, Option<(u64, u64)>) {
        let size = SIZE as u64;
        let query_range = query.and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("range=")));
        let parsed = match (self.ranges.first(), query_range) {
            // A header value that is not visible ASCII is malformed, whatever it says.
            (Some((_, v)), _) if !v.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b)) => {
                return (400, None)
            }
            (Some((_, v)), _) => parse_header(v, size, MAX_RANGE),
            (None, Some(q)) => parse_query(q, size, MAX_RANGE),
            (None, None) => {
                // The whole file, if it is within --max-range.
                return if size > MAX_RANGE {
                    (416, None)
                } else {
                    (200, Some((0, size)))
                };
            }
        };
        match parsed {
            Ok(r) => (206, Some((r.start, r.len))),
            Err(RangeError::Malformed(_) | RangeError::MultiRange(_)) => (400, None),
            Err(RangeError::Unsatisfiable(_) | RangeError::TooLong { .. }) => (416, None),
        }
    }
}

fn method() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => Just("GET".to_string()),
        2 => Just("HEAD".to_string()),
        2 => prop::sample::select(vec![
            "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "get", "Get", "head",
        ])
        .prop_map(String::from),
        // Any other token is an extension method (CONNECT would need authority-form).
        1 => "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,16}".prop_filter("CONNECT", |m| m != "CONNECT"),
    ]
}

fn target() -> impl Strategy<Value = String> {
    let size = SIZE as u64;
    let path = prop_oneof![
        6 => Just("/file/hot".to_string()),
        3 => prop::sample::select(vec![
            "/healthz", "/stats", "/admin/release", "/", "/file", "/file/hot/", "/FILE/HOT",
            "/healthz/", "//file/hot", "/file/hot/..", "/file%2Fhot", "/stats.json",
        ])
        .prop_map(String::from),
        1 => "/[A-Za-z0-9._~!$&'()*+,;=:@/-]{0,40}",
        1 => "(/%[0-9A-F]{2}){1,4}",
    ];
    let query = prop_oneof![
        4 => Just(None),
        3 => query_spec(size).prop_map(|q| Some(format!("range={q}"))),
        1 => query_spec(size).prop_map(|q| Some(format!("x=1&range={q}"))),
        1 => (query_spec(size), query_spec(size))
            .prop_map(|(a, b)| Some(format!("range={a}&range={b}"))),
        1 => "[A-Za-z0-9=&._-]{0,24}".prop_map(Some),
    ];
    (prop::bool::weighted(0.1), path, query).prop_map(|(absolute, path, query)| {
        let prefix = if absolute {
            "http://127.0.0.1:8080"
        } else {
            ""
        };
        match query {
            Some(q) => format!("{prefix}{path}?{q}"),
            None => format!("{prefix}{path}"),
        }
    })
}

/// Header names that change framing or the connection are chosen on purpose, not at random.
const SPECIAL: [&str; 11] = [
    "content-length",
    "transfer-encoding",
    "connection",
    "expect",
    "upgrade",
    "host",
    "range",
    "te",
    "trailer",
    "keep-alive",
    "proxy-connection",
];

fn req() -> impl Strategy<Value = Req> {
    let size = SIZE as u64;
    let range_header = (
        prop::sample::select(vec!["Range", "Range", "range", "RANGE"]),
        header_range_value(size),
    );
    let ranges = prop_oneof![
        3 => Just(vec![]),
        5 => prop::collection::vec(range_header.clone(), 1..=1),
        1 => prop::collection::vec(range_header, 2..=2),
    ];
    let extra = prop::collection::vec(
        (
            "[A-Za-z][A-Za-z0-9-]{0,15}".prop_filter("special", |n| {
                !SPECIAL.contains(&n.to_ascii_lowercase().as_str())
            }),
            "[ -~]{0,32}",
        ),
        0..4,
    );
    let framing = prop_oneof![
        6 => Just(Framing::None),
        1 => prop::collection::vec(any::<u8>(), 0..64).prop_map(Framing::Length),
        1 => prop::collection::vec(prop::collection::vec(any::<u8>(), 1..32), 0..3)
            .prop_map(Framing::Chunked),
        1 => prop::collection::vec(any::<u8>(), 0..32).prop_map(Framing::Continue),
    ];
    let connection = prop::sample::select(vec![
        None,
        None,
        None,
        None,
        Some("close"),
        Some("Close"),
        Some("keep-alive"),
    ]);
    (
        method(),
        target(),
        prop::bool::weighted(0.9),
        ranges,
        extra,
        framing,
        connection,
    )
        .prop_map(
            |(method, target, host, ranges, extra, framing, connection)| Req {
                method,
                target,
                host,
                ranges,
                extra,
                framing,
                connection,
            },
        )
}

// ---------------------------------------------------------------------------------------------
// Cases

#[derive(Debug, Clone)]
enum Case {
    Pipeline(Vec<Req>),
    Mangled(Req, Vec<Mutation>),
}

fn case() -> impl Strategy<Value = Case> {
    prop_oneof![
        prop::collection::vec(req(), 1..=3).prop_map(Case::Pipeline),
        (req(), prop::collection::vec(mutation(), 1..=3)).prop_map(|(r, m)| Case::Mangled(r, m)),
    ]
}

fn connect(addr: SocketAddr) -> Result<TcpStream, String> {
    let s = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    s.set_write_timeout(Some(READ_TIMEOUT)).unwrap();
    let _ = s.set_nodelay(true);
    Ok(s)
}

/// Writes the whole pipeline at once, then checks each answer against [`Req::expected`].
/// Returns what was seen, for the tally.
fn run_pipeline(addr: SocketAddr, reqs: &[Req], file: &[u8]) -> Result<Vec<String>, String> {
    let mut stream = connect(addr)?;
    let bytes: Vec<u8> = reqs.iter().flat_map(Req::bytes).collect();
    let mut seen = Vec::new();
    // The server may close (and reset) after a request with a body it did not read.
    let may_close = |i: usize| reqs[..i].iter().any(|r| r.has_body() || r.closes());
    if let Err(e) = stream.write_all(&bytes) {
        if !may_close(reqs.len()) {
            return Err(format!("writing the pipeline: {e}"));
        }
    }
    let mut reader = BufReader::new(stream);
    for (i, req) in reqs.iter().enumerate() {
        let head = req.method == "HEAD";
        let resp = match read_response(&mut reader, head, false) {
            Ok(r) => r,
            Err(ReadError::Closed) if may_close(i) => {
                seen.push("closed after an unread body".into());
                return Ok(seen);
            }
            Err(e) => return Err(format!("request {i} of {reqs:#?}: {e:?}")),
        };
        let (want, range) = req.expected();
        let what = || {
            format!(
                "request {i} {:?} of {reqs:#?}",
                String::from_utf8_lossy(&req.bytes())
            )
        };
        if resp.status != want {
            return Err(format!(
                "{}: status {}, want {want}; {:?}",
                what(),
                resp.status,
                resp.text()
            ));
        }
        seen.push(format!("{want}"));
        match (want, range) {
            (200 | 206, Some((start, len))) => {
                let (s, l) = (start as usize, len as usize);
                let cl = resp.header("content-length");
                if cl != Some(len.to_string().as_str()) {
                    return Err(format!("{}: Content-Length {cl:?}, want {len}", what()));
                }
                if want == 206 {
                    let cr = format!("bytes {start}-{}/{SIZE}", start + len - 1);
                    if resp.header("content-range") != Some(cr.as_str()) {
                        return Err(format!(
                            "{}: Content-Range {:?}, want {cr}",
                            what(),
                            resp.header("content-range")
                        ));
                    }
                }
                if !head && resp.body != file[s..s + l] {
                    return Err(format!(
                        "{}: the body is not the file's bytes {s}..{}",
                        what(),
                        s + l
                    ));
                }
            }
            (416, _) if req.path_and_query().0 == "/file/hot" => {
                let cr = format!("bytes */{SIZE}");
                if resp.header("content-range") != Some(cr.as_str()) {
                    return Err(format!("{}: 416 without Content-Range {cr}", what()));
                }
            }
            _ => {}
        }
        if req.closes() {
            // The server must close now, sending nothing more.
            let mut rest = Vec::new();
            return match reader.read_to_end(&mut rest) {
                Ok(_) if rest.is_empty() => Ok(seen),
                Ok(_) => Err(format!(
                    "{}: {} bytes after Connection: close",
                    what(),
                    rest.len()
                )),
                Err(e) if e.kind() == ErrorKind::ConnectionReset => Ok(seen),
                Err(e) => Err(format!(
                    "{}: not closed after Connection: close: {e}",
                    what()
                )),
            };
        }
    }
    Ok(seen)
}

/// Writes the mangled bytes, shuts the write side, and reads until the server closes: every
/// byte it sent must be a valid HTTP/1.1 (or, to an HTTP/1.0 request, 1.0) response of an
/// expected status.
fn run_mangled(addr: SocketAddr, bytes: &[u8]) -> Result<Vec<String>, String> {
    let mut stream = connect(addr)?;
    let t0 = Instant::now();
    // The server may refuse and reset before it has read everything (a 1 MiB header line).
    let _ = stream.write_all(bytes);
    let _ = stream.shutdown(Shutdown::Write);
    let mut got = Vec::new();
    let mut buf = [0u8; 16 << 10];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err(format!(
                    "no close {:?} after sending {:?} (got {:?})",
                    t0.elapsed(),
                    preview(bytes),
                    preview(&got)
                ))
            }
            Err(e) => return Err(format!("reading: {e}")),
        }
        if t0.elapsed() > 2 * READ_TIMEOUT {
            return Err(format!("still sending after {:?}", t0.elapsed()));
        }
    }
    if got.is_empty() {
        return Ok(vec!["closed".into()]);
    }
    // A head over the 64 KiB limit must be refused, whatever it asks for.
    if head_len(bytes).unwrap_or(bytes.len()) > MAX_HEAD {
        let line = got.split(|&b| b == b'\n').next().unwrap_or_default();
        let refused = [b"400 ", b"414 ", b"431 "]
            .iter()
            .any(|s| line.get(9..13) == Some(&s[..]));
        if !refused {
            return Err(format!(
                "a {}-byte head was not refused: {:?}",
                head_len(bytes).unwrap_or(bytes.len()),
                String::from_utf8_lossy(line)
            ));
        }
    }
    let mut seen = Vec::new();
    let mut reader = BufReader::new(&got[..]);
    loop {
        if reader.fill_buf().map_err(|e| e.to_string())?.is_empty() {
            return Ok(seen);
        }
        // A HEAD answer has no body: take one only if what follows is not the next response.
        let resp = match read_response(&mut reader, false, true) {
            Ok(r) => r,
            // The client's half-close may cut a body short (hyper does not support half-closed
            // connections): fine, the head was valid.
            Err(ReadError::ShortBody(status)) => {
                seen.push(format!("{status} cut short"));
                return check_status(status, bytes).map(|_| seen);
            }
            Err(e) => {
                return Err(format!(
                    "invalid answer to {:?}: {e:?}; all: {:?}",
                    preview(bytes),
                    preview(&got)
                ))
            }
        };
        check_status(resp.status, bytes)?;
        seen.push(format!("{} mangled", resp.status));
    }
}

/// Where the first head in `b` ends (after its blank line), if it does.
fn head_len(b: &[u8]) -> Option<usize> {
    let find = |pat: &[u8]| {
        b.windows(pat.len())
            .position(|w| w == pat)
            .map(|i| i + pat.len())
    };
    [find(b"\n\r\n"), find(b"\n\n")].into_iter().flatten().min()
}

fn check_status(status: u16, sent: &[u8]) -> Result<(), String> {
    if MANGLED_OK.contains(&status) {
        Ok(())
    } else {
        Err(format!("status {status} for {:?}", preview(sent)))
    }
}

fn preview(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(&b[..b.len().min(400)]).into_owned();
    if b.len() > 400 {
        format!("{s}... ({} bytes)", b.len())
    } else {
        s
    }
}
