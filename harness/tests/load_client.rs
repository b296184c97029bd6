//! `allocstorm load` end to end: real worker processes (the built `allocstorm` binary) against
//! loopback servers written here, each misbehaving in one known way.

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use allocstorm::load::{run_load, LoadArgs, LoadError, LoadPlan, LoadSummary};
use bytes::Bytes;
use clap::Parser;
use common::BIN;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;

/// The size the test servers claim for their file.
const FILE_SIZE: u64 = 1 << 20;

/// How a test server answers `GET` with `Range: bytes=A-B`.
#[derive(Clone, Copy, Debug)]
enum Behaviour {
    /// `206`, `Content-Range: bytes A-B/SIZE`, B-A+1 bytes.
    Good,
    /// This status with a short body.
    Status(u16),
    /// `206` with the range shifted by one byte.
    WrongContentRange,
    /// `206`, right headers, a body one byte short (with a matching Content-Length).
    ShortBody,
    /// Accepts, reads, never answers.
    Stall,
    /// `206` promising the whole range, then 100 bytes and a closed connection.
    Truncated,
    /// `206` with the whole range (of a 1 GiB file) in frames of `chunk` bytes, made as hyper
    /// asks for them: with a `Content-Length` if `length`, else chunked.
    Streamed { chunk: usize, length: bool },
}

/// A loopback server on its own thread and runtime, so it does not share the test's.
struct TestServer {
    addr: SocketAddr,
    /// Connections accepted.
    accepted: Arc<AtomicUsize>,
    /// Connections the client closed (end of stream or reset), notified on each.
    closed: Arc<AtomicUsize>,
    closed_changed: Arc<Notify>,
}

impl TestServer {
    fn start(behaviour: Behaviour) -> TestServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let closed = Arc::new(AtomicUsize::new(0));
        let closed_changed = Arc::new(Notify::new());
        let (a, c, n) = (accepted.clone(), closed.clone(), closed_changed.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    a.fetch_add(1, Ordering::SeqCst);
                    let (c, n) = (c.clone(), n.clone());
                    tokio::spawn(async move {
                        serve(stream, behaviour).await;
                        c.fetch_add(1, Ordering::SeqCst);
                        n.notify_waiters();
                    });
                }
            });
        });
        TestServer {
            addr,
            accepted,
            closed,
            closed_changed,
        }
    }

    fn url(&self) -> String {
        format!("http://{}/file/hot", self.addr)
    }
}

async fn serve(mut stream: tokio::net::TcpStream, behaviour: Behaviour) {
    match behaviour {
        Behaviour::Stall => {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stream.read(&mut buf).await {
                if n == 0 {
                    break;
                }
            }
        }
        Behaviour::Truncated => {
            let mut buf = [0u8; 4096];
            let mut head = Vec::new();
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let reply = format!(
                "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-4095/{FILE_SIZE}\r\n\
                 Content-Length: 4096\r\n\r\n{}",
                "x".repeat(100)
            );
            let _ = stream.write_all(reply.as_bytes()).await;
        }
        Behaviour::Streamed { chunk, length } => {
            let service = hyper::service::service_fn(move |req| streamed(req, chunk, length));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        }
        _ => {
            let service = hyper::service::service_fn(move |req| answer(req, behaviour));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        }
    }
}

/// `A-B` of the request's `Range: bytes=A-B`.
fn requested_range(req: &Request<Incoming>) -> Option<(u64, u64)> {
    req.headers()
        .get(hyper::header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("bytes="))
        .and_then(|v| v.split_once('-'))
        .and_then(|(a, b)| Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?)))
}

/// A body of `left` bytes handed out `chunk.len()` at a time, each frame a slice of one shared
/// buffer, so the server holds one chunk however large the range.
struct Chunks {
    left: u64,
    chunk: Bytes,
    length: bool,
}

impl hyper::body::Body for Chunks {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Infallible>>> {
        if self.left == 0 {
            return std::task::Poll::Ready(None);
        }
        let n = self.left.min(self.chunk.len() as u64);
        self.left -= n;
        let data = self.chunk.slice(..n as usize);
        std::task::Poll::Ready(Some(Ok(hyper::body::Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.left == 0
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        if self.length {
            hyper::body::SizeHint::with_exact(self.left)
        } else {
            hyper::body::SizeHint::default()
        }
    }
}

async fn streamed(
    req: Request<Incoming>,
    chunk: usize,
    length: bool,
) -> Result<Response<Chunks>, Infallible> {
    let (a, b) = requested_range(&req).expect("the load client always sends a range");
    Ok(Response::builder()
        .status(StatusCode::PARTIAL_CONTENT)
        .header(
            hyper::header::CONTENT_RANGE,
            format!("bytes {a}-{b}/{}", 1u64 << 30),
        )
        .body(Chunks {
            left: b - a + 1,
            chunk: Bytes::from(vec![0x5A; chunk]),
            length,
        })
        .unwrap())
}

async fn answer(
    req: Request<Incoming>,
    behaviour: Behaviour,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let Some((a, b)) = requested_range(&req) else {
        return Ok(status(StatusCode::BAD_REQUEST));
    };
    let len = (b - a + 1) as usize;
    let partial = |cr: String, body_len: usize| {
        Response::builder()
            .status(StatusCode::PARTIAL_CONTENT)
            .header(hyper::header::CONTENT_RANGE, cr)
            .body(Full::new(Bytes::from(vec![0x5A; body_len])))
            .unwrap()
    };
    Ok(match behaviour {
        Behaviour::Good => partial(format!("bytes {a}-{b}/{FILE_SIZE}"), len),
        Behaviour::WrongContentRange => {
            partial(format!("bytes {}-{}/{FILE_SIZE}", a + 1, b + 1), len)
        }
        Behaviour::ShortBody => partial(format!("bytes {a}-{b}/{FILE_SIZE}"), len - 1),
        Behaviour::Status(code) => status(StatusCode::from_u16(code).unwrap()),
        Behaviour::Stall | Behaviour::Truncated | Behaviour::Streamed { .. } => {
            unreachable!("served by serve()")
        }
    })
}

fn status(code: StatusCode) -> Response<Full<Bytes>> {
    Response::builder()
        .status(code)
        .body(Full::new(Bytes::from_static(b"no\n")))
        .unwrap()
}

/// A plan from a real command line, as `allocstorm load` would parse it.
fn plan(args: &[&str]) -> LoadPlan {
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        load: LoadArgs,
    }
    let mut argv = vec!["load"];
    argv.extend_from_slice(args);
    Cli::try_parse_from(argv).unwrap().load.plan().unwrap()
}

async fn run(p: &LoadPlan) -> LoadSummary {
    run_load(p, Path::new(BIN), |_| {}).await.unwrap()
}

/// Invariants that hold for every finished run.
fn check_accounting(s: &LoadSummary) {
    assert_eq!(s.requests, s.ok + s.errors + s.abandoned, "{s:#?}");
    assert_eq!(s.retries, s.attempts - s.requests);
    assert_eq!(s.errors, s.errors_by_kind.values().sum::<u64>());
    let per_second_ok: u64 = s.per_second.iter().map(|r| r.ok).sum();
    assert_eq!(per_second_ok, s.ok);
    let per_second_attempts: u64 = s.per_second.iter().map(|r| r.attempts).sum();
    assert_eq!(per_second_attempts, s.attempts);
    let ts: Vec<u64> = s.per_second.iter().map(|r| r.t).collect();
    assert_eq!(ts, (0..ts.len() as u64).collect::<Vec<_>>());
    assert_eq!(s.latency_ms.count, s.ok);
    assert_eq!(s.error_latency_ms.count, s.errors);
}

#[tokio::test]
async fn good_206_answers_count_every_byte() {
    let server = TestServer::start(Behaviour::Good);
    let p = plan(&[
        "--target",
        &server.url(),
        "--range",
        "0-4095",
        "--processes",
        "2",
        "--connections",
        "4",
        "--duration",
        "1s",
    ]);
    let s = run(&p).await;
    check_accounting(&s);
    assert!(s.ok > 10, "{s:#?}");
    assert_eq!(s.errors, 0);
    assert_eq!(s.bytes, s.ok * 4096);
    assert_eq!(s.range_bytes, 4096);
    assert_eq!(s.attempts, s.requests);
    // Keep-alive: one connection each, never reopened.
    assert_eq!(s.connects, 4);
    assert_eq!(server.accepted.load(Ordering::SeqCst), 4);
    assert_eq!(s.offered_rate, None);
    assert!(s.throughput_rps > 0.0 && s.client_cpu_s > 0.0);
    // Closed loop: due and sent are the same instant.
    assert_eq!(s.latency_ms, s.latency_uncorrected_ms);
}

#[tokio::test]
async fn wrong_answers_are_errors_of_their_kind_and_not_retried() {
    for (behaviour, kind) in [
        (Behaviour::Status(200), "status_other"),
        (Behaviour::WrongContentRange, "bad_content_range"),
        (Behaviour::ShortBody, "short_body"),
    ] {
        let server = TestServer::start(behaviour);
        let p = plan(&[
            "--target",
            &server.url(),
            "--range",
            "0-4095",
            "--connections",
            "2",
            "--duration",
            "400ms",
            "--retries",
            "2",
        ]);
        let s = run(&p).await;
        check_accounting(&s);
        assert_eq!(s.ok, 0, "{behaviour:?}");
        assert!(s.errors > 0, "{behaviour:?}");
        assert_eq!(
            s.errors_by_kind.len(),
            1,
            "{behaviour:?}: {:?}",
            s.errors_by_kind
        );
        assert_eq!(s.errors_by_kind[kind], s.errors, "{behaviour:?}");
        assert_eq!(s.bytes, 0);
        // A wrong answer would be wrong again: no retries.
        assert_eq!(s.retries, 0, "{behaviour:?}");
    }
}

#[tokio::test]
async fn a_truncated_body_is_an_io_error() {
    let server = TestServer::start(Behaviour::Truncated);
    let p = plan(&[
        "--target",
        &server.url(),
        "--range",
        "0-4095",
        "--connections",
        "1",
        "--duration",
        "300ms",
    ]);
    let s = run(&p).await;
    check_accounting(&s);
    assert!(s.errors > 0);
    assert_eq!(s.errors_by_kind["io"], s.errors, "{:?}", s.errors_by_kind);
    // The connection is dropped after each failure and a new one opened.
    assert_eq!(s.connects, s.attempts);
}

#[tokio::test]
async fn status_503_is_retried_with_backoff() {
    let server = TestServer::start(Behaviour::Status(503));
    let p = plan(&[
        "--target",
        &server.url(),
        "--range",
        "0-4095",
        "--connections",
        "2",
        "--duration",
        "500ms",
        "--retries",
        "2",
        "--backoff",
        "5ms",
    ]);
    let s = run(&p).await;
    check_accounting(&s);
    assert!(s.errors > 0);
    assert_eq!(s.errors_by_kind["status_503"], s.errors);
    assert_eq!(s.attempt_errors_by_kind["status_503"], s.attempts);
    // Every failed request used all three attempts; one cut short by the stop used fewer.
    assert!(s.attempts >= s.errors * 3 + s.abandoned, "{s:#?}");
    assert!(s.attempts <= (s.errors + s.abandoned) * 3, "{s:#?}");
    // 503 bodies are drained, so the connections are kept.
    assert_eq!(s.connects, 2);
}

#[tokio::test]
async fn a_stalled_server_times_out_at_the_deadline_and_each_attempt_is_retried() {
    let server = TestServer::start(Behaviour::Stall);
    // 2 requests a second for 2 s: due at 0, 0.5, 1 and 1.5 s, each done (3 × 100 ms plus
    // 15-30 ms of backoff) well before the next and before the stop.
    let p = plan(&[
        "--target",
        &server.url(),
        "--rate",
        "2/s",
        "--connections",
        "4",
        "--duration",
        "2s",
        "--timeout",
        "100ms",
        "--retries",
        "2",
        "--backoff",
        "10ms",
    ]);
    let s = run(&p).await;
    check_accounting(&s);
    assert_eq!(s.requests, 4, "{s:#?}");
    assert_eq!(s.attempts, 12);
    assert_eq!(s.timeouts, 12);
    assert_eq!(s.retries, 8);
    assert_eq!((s.ok, s.errors, s.abandoned), (0, 4, 0));
    assert_eq!(s.errors_by_kind["timeout"], 4);
    // Each attempt hit its deadline, not much later: 3 × 100 ms plus 15-30 ms of backoff.
    assert!(s.error_latency_ms.p50 >= 315.0, "{:?}", s.error_latency_ms);
    assert!(s.error_latency_ms.max < 400.0, "{:?}", s.error_latency_ms);
    // A timed-out attempt drops its connection: every attempt opened a new one.
    assert_eq!(s.connects, 12);
    assert_eq!(server.accepted.load(Ordering::SeqCst), 12);
}

#[tokio::test]
async fn without_retries_a_timeout_ends_the_request_at_its_deadline() {
    let server = TestServer::start(Behaviour::Stall);
    let p = plan(&[
        "--target",
        &server.url(),
        "--connections",
        "2",
        "--duration",
        "1s",
        "--timeout",
        "200ms",
    ]);
    let started = Instant::now();
    let s = run(&p).await;
    let wall = started.elapsed();
    check_accounting(&s);
    assert!(s.errors >= 8, "{s:#?}");
    assert_eq!(s.timeouts, s.attempts);
    assert_eq!(s.errors_by_kind["timeout"], s.errors);
    assert!(s.error_latency_ms.p50 >= 200.0, "{:?}", s.error_latency_ms);
    assert!(s.error_latency_ms.max < 280.0, "{:?}", s.error_latency_ms);
    // Bounded: the last attempts got their 200 ms after the stop and no more.
    assert!(s.elapsed_s < 1.0 + 0.2 + 0.1, "{}", s.elapsed_s);
    assert!(wall < Duration::from_secs(5), "{wall:?}");
}

#[tokio::test]
async fn rate_mode_offers_the_configured_rate() {
    let server = TestServer::start(Behaviour::Good);
    let p = plan(&[
        "--target",
        &server.url(),
        "--range",
        "0-1023",
        "--rate",
        "200/s",
        "--processes",
        "2",
        "--connections",
        "4",
        "--duration",
        "2s",
    ]);
    let s = run(&p).await;
    check_accounting(&s);
    assert_eq!(s.offered_rate, Some(200.0));
    assert!((380..=420).contains(&s.requests), "{}", s.requests);
    assert_eq!(s.ok, s.requests);
    for w in &s.workers {
        assert_eq!(w.offered_rate, Some(100.0));
        assert!((190..=210).contains(&w.requests), "{w:?}");
    }
    for r in s.per_second.iter().filter(|r| r.t < 2) {
        assert!(
            (190..=210).contains(&r.requests),
            "second {}: {}",
            r.t,
            r.requests
        );
    }
    assert!(
        (s.throughput_rps - 200.0).abs() <= 10.0,
        "{}",
        s.throughput_rps
    );
}

/// The largest resident set of any child process this test process has waited for, in KiB.
/// nextest runs each test in a process of its own, so under it these are this test's workers.
fn children_max_rss_kib() -> i64 {
    // SAFETY: getrusage fills the zeroed struct we own.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(
        unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) },
        0
    );
    ru.ru_maxrss
}

#[tokio::test]
async fn large_bodies_are_streamed_in_many_frames_and_counted_to_the_byte() {
    const RANGE: u64 = 32 << 20;
    for length in [true, false] {
        // 32 MiB ranges as in incident 004, in 512 frames of 64 KiB (1 MiB ones the hyper
        // writer splits further), with and without a Content-Length.
        let server = TestServer::start(Behaviour::Streamed {
            chunk: 64 << 10,
            length,
        });
        let p = plan(&[
            "--target",
            &server.url(),
            "--range",
            "0-32MiB",
            "--processes",
            "2",
            "--connections",
            "4",
            "--rate",
            "4/s",
            "--duration",
            "1s",
            "--timeout",
            "20s",
        ]);
        assert_eq!(p.range_len(), RANGE + 1);
        let s = run(&p).await;
        check_accounting(&s);
        assert_eq!(s.requests, 4, "length {length}: {s:#?}");
        assert_eq!((s.ok, s.errors), (4, 0), "length {length}: {s:#?}");
        assert_eq!(s.bytes, 4 * (RANGE + 1), "length {length}");
        assert_eq!(s.connects, 4);
    }
    // Eight 32 MiB bodies went through two workers at a time; one holding a body would have
    // had a resident set over 32 MiB.
    let max_rss_kib = children_max_rss_kib();
    eprintln!("largest worker resident set: {max_rss_kib} KiB");
    assert!(max_rss_kib < 32 << 10, "{max_rss_kib} KiB");
}

#[tokio::test]
async fn a_rate_step_offers_and_sends_the_stepped_rate() {
    let server = TestServer::start(Behaviour::Good);
    let p = plan(&[
        "--target",
        &server.url(),
        "--range",
        "0-1023",
        "--processes",
        "2",
        "--connections",
        "8",
        "--rate",
        "50/s",
        "--step",
        "1s=200/s",
        "--step",
        "2s=50/s",
        "--duration",
        "3s",
    ]);
    let s = run(&p).await;
    check_accounting(&s);
    // The schedule: 50, then 200, then 50 due in each second, and nothing in the drain.
    let offered: Vec<u64> = s.per_second.iter().map(|r| r.offered.unwrap()).collect();
    assert_eq!(offered[..3], [50, 200, 50], "{offered:?}");
    assert!(offered[3..].iter().all(|&o| o == 0), "{offered:?}");
    // Every due send was sent or counted unsent.
    assert_eq!(s.requests + s.unsent, 300, "{s:#?}");
    assert_eq!(s.offered_rate, Some(50.0));
    // What was really sent follows the steps. Generous bounds for a busy machine, where late
    // sends spill into the next second; without the steps the second one would send about 50.
    let sent: Vec<u64> = s.per_second.iter().map(|r| r.requests).collect();
    assert!((30..=60).contains(&sent[0]), "{sent:?}");
    assert!((120..=260).contains(&sent[1]), "{sent:?}");
    assert!(sent[1] as f64 >= 2.5 * sent[0] as f64, "{sent:?}");
    assert!(
        sent[2] <= 110 && sent[1] as f64 >= 2.0 * sent[2] as f64,
        "{sent:?}"
    );
    assert!(s.ok >= 270, "{s:#?}");
    for w in &s.workers {
        assert_eq!(w.offered_rate, Some(25.0));
        assert!((130..=150).contains(&(w.requests + w.unsent)), "{w:?}");
    }
}

#[tokio::test]
async fn the_load_really_comes_from_several_processes() {
    let server = TestServer::start(Behaviour::Good);
    let p = plan(&[
        "--target",
        &server.url(),
        "--range",
        "0-1023",
        "--processes",
        "3",
        "--connections",
        "6",
        "--duration",
        "1s",
    ]);
    let s = run(&p).await;
    check_accounting(&s);
    assert_eq!(s.processes, 3);
    assert_eq!(s.workers.len(), 3);
    let mut pids: Vec<u32> = s.workers.iter().map(|w| w.pid).collect();
    pids.sort();
    pids.dedup();
    assert_eq!(pids.len(), 3, "{:?}", s.workers);
    assert!(!pids.contains(&std::process::id()) && !pids.contains(&0));
    for w in &s.workers {
        assert_eq!(w.connections, 2);
        assert!(w.ok > 0, "{w:?}");
        assert!(w.cpu_s > 0.0, "{w:?}");
    }
    assert_eq!(s.workers.iter().map(|w| w.ok).sum::<u64>(), s.ok);
    assert_eq!(server.accepted.load(Ordering::SeqCst), 6);
}

#[tokio::test]
async fn dropping_the_run_kills_the_workers() {
    let server = TestServer::start(Behaviour::Stall);
    let p = plan(&[
        "--target",
        &server.url(),
        "--processes",
        "2",
        "--connections",
        "2",
        "--duration",
        "30s",
        "--timeout",
        "30s",
    ]);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let mut tx = Some(tx);
    let exe = Path::new(BIN);
    let run = run_load(&p, exe, move |_| {
        if let Some(tx) = tx.take() {
            let _ = tx.send(());
        }
    });
    tokio::select! {
        r = run => panic!("the run ended by itself: {:?}", r.map(|s| s.requests)),
        _ = rx => {}
    }
    // The run future is dropped here. Its workers die, and the kernel closes their sockets.
    let all_closed = async {
        loop {
            let changed = server.closed_changed.notified();
            if server.accepted.load(Ordering::SeqCst) == 2
                && server.closed.load(Ordering::SeqCst) == 2
            {
                return;
            }
            changed.await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), all_closed)
        .await
        .expect("the workers' connections stayed open after the run was dropped");
}

/// The pids of this process's children started for the server at `port` (other tests in the
/// same process may have workers of their own).
fn workers_of(port: u16) -> Vec<i32> {
    let mut pids = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        if let Ok(list) = std::fs::read_to_string(task.path().join("children")) {
            pids.extend(
                list.split_whitespace()
                    .filter_map(|p| p.parse::<i32>().ok()),
            );
        }
    }
    let needle = format!("\"port\":{port},");
    pids.retain(|pid| {
        std::fs::read(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&needle))
    });
    pids
}

#[tokio::test]
async fn a_worker_that_dies_mid_run_is_an_error_not_a_hang() {
    let server = TestServer::start(Behaviour::Good);
    let p = plan(&[
        "--target",
        &server.url(),
        "--range",
        "0-1023",
        "--processes",
        "2",
        "--connections",
        "2",
        "--rate",
        "50/s",
        "--duration",
        "3s",
    ]);
    let mut killed = false;
    let run = run_load(&p, Path::new(BIN), |_| {
        if !killed {
            let victim = workers_of(server.addr.port())[0];
            // SAFETY: kill(2) on a pid of our own child.
            unsafe { libc::kill(victim, libc::SIGKILL) };
            killed = true;
        }
    });
    let r = tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .expect("run_load hung after a worker died");
    match r {
        Err(LoadError::WorkerDied { status, .. }) => assert!(status.contains("9"), "{status}"),
        other => panic!("expected WorkerDied, got {:?}", other.map(|s| s.requests)),
    }
}

#[tokio::test]
async fn a_worker_that_never_gets_ready_is_an_error() {
    let p = plan(&["--target", "http://127.0.0.1:9/", "--duration", "1s"]);
    let r = run_load(&p, Path::new("/bin/true"), |_| {}).await;
    let e = r.map(|s| s.requests).unwrap_err();
    assert!(matches!(e, LoadError::WorkerDied { worker: 0, .. }), "{e}");
}

#[test]
fn remote_targets_are_refused_without_allow_remote() {
    let started = Instant::now();
    // 192.0.2.0/24 is TEST-NET-1: nothing answers there, and nothing must be sent.
    let out = Command::new(BIN)
        .args([
            "load",
            "--target",
            "http://192.0.2.1:9/file/hot",
            "--duration",
            "5s",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("192.0.2.1") && stderr.contains("--allow-remote"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
    // Refused while planning, before any worker or connection.
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn bad_input_is_one_line_naming_flag_value_and_expectation() {
    let open = ["--rate", "50/s", "--duration", "3s"];
    for (before, flag, value) in [
        (&[][..], "--rate", "fast"),
        (&[], "--range", "10-2"),
        (&[], "--duration", "0s"),
        (&[], "--timeout", "soon"),
        // Steps: AT=RATE, AT after the previous step and before the end, RATE above zero.
        (&open, "--step", "4s"),
        (&open, "--step", "1s=0/s"),
        (&open, "--step", "1s=fast"),
        (&open, "--step", "later=5/s"),
        (&open, "--step", "0s=5/s"),
        (&open, "--step", "3s=5/s"),
        (&open, "--step", "5s=5/s"),
        (&["--rate", "50/s", "--step", "2s=9/s"], "--step", "1s=9/s"),
        (&["--rate", "50/s", "--step", "2s=9/s"], "--step", "2s=9/s"),
        // Closed loop has no rate to step.
        (&["--step", "1s=9/s"], "--rate", "max"),
    ] {
        let mut args = vec!["load", "--target", "http://127.0.0.1:9/"];
        args.extend_from_slice(before);
        args.extend([flag, value]);
        let out = Command::new(BIN).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{flag} {value}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains(&format!("{flag} \"{value}\": expected")),
            "{stderr}"
        );
    }
}

#[test]
fn json_output_is_one_summary_with_the_documented_keys() {
    let server = TestServer::start(Behaviour::Good);
    let out = Command::new(BIN)
        .args([
            "load",
            "--target",
            &server.url(),
            "--range",
            "0-1023",
            "--connections",
            "2",
            "--rate",
            "100/s",
            "--duration",
            "500ms",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    for key in allocstorm::load::SUMMARY_KEYS {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    for key in ["p50", "p90", "p99", "p999", "max"] {
        assert!(v["latency_ms"][key].is_number(), "latency_ms.{key}");
        assert!(v["latency_uncorrected_ms"][key].is_number());
    }
    assert_eq!(v["ok"], 50);
    assert_eq!(v["bytes"], 50 * 1024);
    assert_eq!(v["offered_rate"], 100.0);
    // The offered rate of each second: 50 due in the half second of load, none in the drain.
    assert_eq!(v["per_second"][0]["offered"], 50);
    let s: LoadSummary = serde_json::from_value(v).unwrap();
    assert_eq!(s.per_second.iter().map(|r| r.ok).sum::<u64>(), 50);
    assert!(s.per_second[1..].iter().all(|r| r.offered == Some(0)));
}

#[test]
fn human_output_is_a_short_table() {
    let server = TestServer::start(Behaviour::Good);
    let out = Command::new(BIN)
        .args([
            "load",
            "--target",
            &server.url(),
            "--range",
            "0-1023",
            "--connections",
            "1",
            "--duration",
            "300ms",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.lines().count() <= 15, "{stdout}");
    for word in ["throughput", "latency ms", "p99", "closed loop"] {
        assert!(stdout.contains(word), "{word} missing:\n{stdout}");
    }
}

#[test]
fn human_output_shows_the_rate_steps() {
    let server = TestServer::start(Behaviour::Good);
    let out = Command::new(BIN)
        .args([
            "load",
            "--target",
            &server.url(),
            "--range",
            "0-1023",
            "--connections",
            "2",
            "--rate",
            "20/s",
            "--step",
            "1s=60/s",
            "--duration",
            "2s",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.lines().count() <= 15, "{stdout}");
    assert!(stdout.contains("open loop at 20/s"), "{stdout}");
    assert!(stdout.contains("offered      0s 20, 1s 60"), "{stdout}");
}
