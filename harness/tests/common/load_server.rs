//! The loopback HTTP servers `allocstorm load`'s tests drive, each misbehaving in one known way
//! ([`Behaviour`]), and how those tests plan and run a load and check its accounting.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use allocstorm::load::{run_load, LoadArgs, LoadPlan, LoadSummary};
use bytes::Bytes;
use clap::Parser;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;

use super::BIN;

/// The size the test servers claim for their file.
pub const FILE_SIZE: u64 = 1 << 20;

/// How a test server answers `GET` with `Range: bytes=A-B`.
#[derive(Clone, Copy, Debug)]
pub enum Behaviour {
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
pub struct TestServer {
    pub addr: SocketAddr,
    /// Connections accepted.
    pub accepted: Arc<AtomicUsize>,
    /// Connections the client closed (end of stream or reset), notified on each.
    pub closed: Arc<AtomicUsize>,
    pub closed_changed: Arc<Notify>,
}

impl TestServer {
    pub fn start(behaviour: Behaviour) -> TestServer {
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

    pub fn url(&self) -> String {
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
pub fn plan(args: &[&str]) -> LoadPlan {
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        load: LoadArgs,
    }
    let mut argv = vec!["load"];
    argv.extend_from_slice(args);
    Cli::try_parse_from(argv).unwrap().load.plan().unwrap()
}

pub async fn run(p: &LoadPlan) -> LoadSummary {
    run_load(p, Path::new(BIN), |_| {}).await.unwrap()
}

/// Invariants that hold for every finished run.
pub fn check_accounting(s: &LoadSummary) {
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
