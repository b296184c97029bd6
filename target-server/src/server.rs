//! The HTTP side: routes, admission control, the per-request fill, and the accept loop with
//! graceful shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{combinators::UnsyncBoxBody, BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::config::{BodyMode, ServerConfig};
use crate::egress::{EgressLimiter, Held, PacedBody};
use crate::files;
use crate::hotfile::HotFile;
use crate::iopool::IoRunner;
use crate::pools::rpc::RpcLease;
use crate::range::{self, ByteRange, RangeError};
use crate::state::AppState;
use crate::stream::{self, Streamed};

/// The prefix of `/files/{key}`: many keys sharing the hot file's bytes, and writes.
const FILES: &str = "/files/";

/// What a fill produced before the answer starts.
struct Filled {
    /// The whole range (buffered) or its first chunk (streaming), in one fresh buffer, or with
    /// the byte pool in as many pool buffers as it spans.
    data: Vec<Bytes>,
    /// The RPC pool objects this request holds until its body is done.
    rpc: Option<RpcLease>,
}

/// A response body: a read that fails mid-body (streaming) ends it with an error.
type Body = UnsyncBoxBody<Bytes, std::io::Error>;

/// Everything a request handler needs; shared by all connections.
pub struct Server {
    pub state: Arc<AppState>,
    pub hot: Arc<HotFile>,
    pub io: IoRunner,
    pub body: BodyMode,
    pub meta_every: u64,
    /// Bytes leaked per range answered (`--leak`).
    pub leak: u64,
    /// CPU spent per range answered (`--burn`).
    pub burn: Option<Duration>,
    pub max_range: u64,
    pub chunk: usize,
    pub hold: Option<Duration>,
    pub limiter: Option<Arc<EgressLimiter>>,
    pub admission: Option<Arc<Semaphore>>,
    pub queue_timeout: Duration,
    pub header_timeout: Duration,
    request_seq: AtomicU64,
}

impl Server {
    /// The server of `config`'s workload settings (the `[server]` of a scenario).
    pub fn new(state: Arc<AppState>, hot: HotFile, io: IoRunner, config: &ServerConfig) -> Self {
        let chunk = config.chunk as usize;
        // Burst allowance of one chunk: an idle link may send one chunk at once, no more.
        let limiter = config.egress_limit.map(|rate| {
            let burst = Duration::from_secs_f64(chunk as f64 / rate);
            Arc::new(EgressLimiter::new(rate, burst))
        });
        let max_inflight = config.max_inflight;
        Self {
            state,
            hot: Arc::new(hot),
            io,
            body: config.body,
            meta_every: config.meta_every,
            leak: config.leak,
            burn: config.burn,
            max_range: config.max_range,
            chunk,
            hold: config.hold,
            limiter,
            admission: (max_inflight > 0).then(|| Arc::new(Semaphore::new(max_inflight))),
            queue_timeout: config.queue_timeout,
            header_timeout: config.header_timeout,
            request_seq: AtomicU64::new(0),
        }
    }

    async fn handle(self: Arc<Self>, req: Request<Incoming>, peers: Peers) -> Response<Body> {
        self.state.counters.requests.fetch_add(1, Ordering::Relaxed);
        let resp = match (req.method(), req.uri().path()) {
            (&Method::GET | &Method::HEAD, "/file/hot") => self.clone().serve_range(&req).await,
            (&Method::GET | &Method::HEAD, p) if p.starts_with(FILES) => {
                match files::parse_key(&p[FILES.len()..]) {
                    Some(key) => {
                        self.state.files.touch(key);
                        self.clone().serve_range(&req).await
                    }
                    None => text(StatusCode::NOT_FOUND, "no such key\n"),
                }
            }
            (&Method::PUT | &Method::POST, p) if p.starts_with(FILES) => {
                match files::parse_key(&p[FILES.len()..]) {
                    Some(key) => self.store(key, req).await,
                    None => text(StatusCode::NOT_FOUND, "no such key\n"),
                }
            }
            (&Method::GET, "/healthz") => text(StatusCode::OK, "ok\n"),
            (&Method::GET, "/stats") => json(StatusCode::OK, &self.state.stats()),
            (&Method::POST, "/admin/release") => {
                if peers.same_host() {
                    json(StatusCode::OK, &self.state.allocator.release())
                } else {
                    text(
                        StatusCode::FORBIDDEN,
                        "/admin/release answers peers on this host only (loopback, or the address it was reached at)\n",
                    )
                }
            }
            (_, "/file/hot" | "/healthz" | "/stats" | "/admin/release") => {
                text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n")
            }
            _ => text(StatusCode::NOT_FOUND, "not found\n"),
        };
        if resp.status().is_client_error() {
            self.state
                .counters
                .client_errors_4xx
                .fetch_add(1, Ordering::Relaxed);
        }
        resp
    }

    /// A write to `/files/{key}`: the whole body read into one fresh buffer (of its declared
    /// length when it has one), then kept as the key's body. Longer than `--max-range`: 413.
    async fn store(&self, key: u64, req: Request<Incoming>) -> Response<Body> {
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
            .unwrap_or(0);
        if declared > self.max_range {
            return text(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body longer than --max-range\n",
            );
        }
        let mut data = Vec::with_capacity(declared as usize);
        let mut body = req.into_body();
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else {
                return text(StatusCode::BAD_REQUEST, "body cut short\n");
            };
            if let Some(d) = frame.data_ref() {
                if (data.len() + d.len()) as u64 > self.max_range {
                    return text(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "body longer than --max-range\n",
                    );
                }
                data.extend_from_slice(d);
            }
        }
        let etag = self.state.files.store(key, data);
        let mut r = Response::new(full(Bytes::new()));
        *r.status_mut() = StatusCode::NO_CONTENT;
        r.headers_mut().insert(header::ETAG, hv(&etag));
        r
    }

    fn requested_range(&self, req: &Request<Incoming>) -> Result<ByteRange, RangeError> {
        let size = self.hot.size;
        if let Some(h) = req.headers().get(header::RANGE) {
            let v = h
                .to_str()
                .map_err(|_| RangeError::Malformed(String::from_utf8_lossy(h.as_bytes()).into()))?;
            return range::parse_header(v, size, self.max_range);
        }
        match query_range(req) {
            Some(spec) => range::parse_query(spec, size, self.max_range),
            // No range: the whole file, as a 200 — within the same limit as any range, since
            // it too is read whole before the answer starts.
            None if size > self.max_range => Err(RangeError::TooLong {
                spec: "the whole file".into(),
                len: size,
                max: self.max_range,
            }),
            None => Ok(ByteRange {
                start: 0,
                len: size,
            }),
        }
    }

    async fn serve_range(self: Arc<Self>, req: &Request<Incoming>) -> Response<Body> {
        let ranged = req.headers().contains_key(header::RANGE) || query_range(req).is_some();
        let range = match self.requested_range(req) {
            Ok(r) => r,
            Err(e @ (RangeError::Malformed(_) | RangeError::MultiRange(_))) => {
                return text(StatusCode::BAD_REQUEST, &format!("{e}\n"));
            }
            Err(e @ (RangeError::Unsatisfiable(_) | RangeError::TooLong { .. })) => {
                let mut r = text(StatusCode::RANGE_NOT_SATISFIABLE, &format!("{e}\n"));
                r.headers_mut().insert(
                    header::CONTENT_RANGE,
                    hv(&format!("bytes */{}", self.hot.size)),
                );
                return r;
            }
        };

        let permit = match &self.admission {
            None => None,
            Some(sem) => {
                match tokio::time::timeout(self.queue_timeout, sem.clone().acquire_owned()).await {
                    Ok(Ok(p)) => Some(p),
                    _ => {
                        self.state
                            .counters
                            .rejected_503
                            .fetch_add(1, Ordering::Relaxed);
                        let mut r = text(
                            StatusCode::SERVICE_UNAVAILABLE,
                            "overloaded: queue timeout\n",
                        );
                        let secs = self.queue_timeout.as_secs().max(1);
                        r.headers_mut()
                            .insert(header::RETRY_AFTER, hv(&secs.to_string()));
                        return r;
                    }
                }
            }
        };

        let seq = self.request_seq.fetch_add(1, Ordering::Relaxed);
        let add_meta = self.meta_every > 0 && seq % self.meta_every == self.meta_every - 1;
        let me = self.clone();
        let filled = self
            .io
            .run(move || me.fill(range, add_meta))
            .await
            .and_then(|r| r);
        let Filled { data, rpc } = match filled {
            Ok(f) => f,
            Err(e) => {
                return text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &format!("read failed: {e}\n"),
                )
            }
        };
        self.state
            .counters
            .responses_ok
            .fetch_add(1, Ordering::Relaxed);
        if let Some(d) = self.burn {
            burn_cpu(d);
        }
        if self.leak > 0 {
            // Written, so every page is resident; leaked, so it never comes back.
            let leaked: &'static mut [u8] = vec![0xA5; self.leak as usize].leak();
            std::hint::black_box(leaked);
            self.state
                .counters
                .leaked_bytes
                .fetch_add(self.leak, Ordering::Relaxed);
        }

        let body: Body = if req.method() == Method::HEAD {
            full(Bytes::new())
        } else {
            let held = Held { permit, rpc };
            let (limiter, state) = (self.limiter.clone(), self.state.clone());
            match self.body {
                BodyMode::Buffered => {
                    PacedBody::buffered_parts(data, self.chunk, limiter, self.hold, state, held)
                        .boxed_unsync()
                }
                BodyMode::Streaming => {
                    // One fresh buffer: the fill never uses the byte pool for streaming bodies.
                    let first = data.into_iter().next().unwrap_or_default();
                    let source = Streamed::new(
                        self.hot.clone(),
                        self.io.clone(),
                        self.state.inflight.clone(),
                        range,
                        first,
                        self.chunk,
                    );
                    PacedBody::new(source, range.len, limiter, self.hold, state, held)
                        .boxed_unsync()
                }
            }
        };
        let mut resp = Response::new(body);
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        h.insert(header::CONTENT_LENGTH, hv(&range.len.to_string()));
        if ranged {
            *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
            resp.headers_mut().insert(
                header::CONTENT_RANGE,
                hv(&format!(
                    "bytes {}-{}/{}",
                    range.start,
                    range.end_inclusive(),
                    self.hot.size
                )),
            );
        }
        resp
    }

    /// The allocation pattern of incidents 000 and 001, all on one thread: a buffer for the
    /// range, then — while it is still alive — the request's RPC pool objects and maybe a
    /// long-lived metadata record above it. A streaming body reads only its first chunk here.
    ///
    /// With the byte pool (incident 003) the range is gathered instead the way the database's
    /// query gathered its chunks: as many pool buffers as it spans, all taken one after another
    /// in a tight loop, then each filled by `pread` of its slice.
    fn fill(&self, range: ByteRange, add_meta: bool) -> std::io::Result<Filled> {
        let read = match self.body {
            BodyMode::Buffered => range,
            BodyMode::Streaming => ByteRange {
                start: range.start,
                len: range.len.min(self.chunk as u64),
            },
        };
        let data = match (&self.state.pools.bytes, self.body) {
            (Some(pool), BodyMode::Buffered) => pool
                .gather(read.len, |offset, buf| {
                    self.hot.read_into(read.start + offset, buf)
                })?
                .into_iter()
                .map(Bytes::from_owner)
                .collect(),
            _ => vec![stream::read_fresh(&self.hot, read, &self.state.inflight)?],
        };
        let rpc = self.state.pools.rpc.as_ref().map(|pool| pool.take());
        if add_meta {
            self.state.blocks.add();
            self.state
                .counters
                .meta_added
                .fetch_add(1, Ordering::Relaxed);
        }
        Ok(Filled { data, rpc })
    }

    /// Accepts connections until `shutdown` resolves, then lets in-flight requests finish for
    /// up to `grace`.
    pub async fn run(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
        grace: Duration,
    ) {
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let mut http = hyper::server::conn::http1::Builder::new();
        // A request head (request line and headers) of more than 64 KiB gets `431`. The buffer
        // limit alone does not ensure that: one read may fill the buffer's whole capacity,
        // which can be twice the limit, and a head that arrived whole in it was accepted (a
        // 100 KiB header line was served; found by tests/fuzz_requests.rs).
        http.timer(TokioTimer::new())
            .header_read_timeout(self.header_timeout)
            .max_header_size(64 << 10)
            .max_buf_size(64 << 10);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let (stream, peer) = match accepted {
                        Ok(a) => a,
                        Err(e) => {
                            // EMFILE and friends: back off instead of spinning.
                            eprintln!("accept failed: {e}");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    let _ = stream.set_nodelay(true);
                    let peers = Peers { peer, local: stream.local_addr().ok() };
                    let me = self.clone();
                    let svc = hyper::service::service_fn(move |req| {
                        let me = me.clone();
                        async move { Ok::<_, Infallible>(me.handle(req, peers).await) }
                    });
                    let conn = http.serve_connection(TokioIo::new(stream), svc);
                    let conn = graceful.watch(conn);
                    tokio::spawn(async move {
                        let _ = conn.await;
                    });
                }
                _ = &mut shutdown => break,
            }
        }
        drop(listener);
        let _ = tokio::time::timeout(grace, graceful.shutdown()).await;
    }
}

/// Deletes metadata records at `per_s`, the block deletions of a live system.
pub async fn churn(state: Arc<AppState>, per_s: f64, seed: u64) {
    use rand::SeedableRng;
    if per_s <= 0.0 {
        return;
    }
    let mut rng = rand::rngs::SmallRng::seed_from_u64(seed ^ 0xC0FFEE);
    // At most a thousand wake-ups a second; faster rates delete several records a tick.
    let per_tick = (per_s / 1000.0).ceil().max(1.0) as u64;
    let mut tick = tokio::time::interval(Duration::from_secs_f64(per_tick as f64 / per_s));
    loop {
        tick.tick().await;
        for _ in 0..per_tick {
            if state.blocks.delete_one(&mut rng) {
                state.counters.meta_deleted.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// The `range=` parameter of the query, if any: the one place that decides whether a query
/// asks for a range.
/// The two ends of a connection: who may ask for `/admin/release` is decided from them.
#[derive(Debug, Clone, Copy)]
struct Peers {
    peer: SocketAddr,
    /// The address the connection reached (`None` if the socket could not say).
    local: Option<SocketAddr>,
}

impl Peers {
    /// A peer on this host, in this network namespace: on loopback, or at the very address it
    /// connected to. Connecting to one of its own addresses, a host's kernel gives that address
    /// as the source, so a server bound to a specific address (the harness's `[remote]`) is
    /// still reachable by the harness beside it; another host cannot complete a handshake from
    /// an address that is ours (the answer would stay here), nor can a container or namespace
    /// of this host, which has addresses of its own.
    fn same_host(&self) -> bool {
        self.peer.ip().is_loopback() || self.local.is_some_and(|l| l.ip() == self.peer.ip())
    }
}

fn query_range(req: &Request<Incoming>) -> Option<&str> {
    req.uri()
        .query()?
        .split('&')
        .find_map(|kv| kv.strip_prefix("range="))
}

fn hv(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

/// A complete body, already in memory.
fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

fn text(status: StatusCode, msg: &str) -> Response<Body> {
    let mut r = Response::new(full(msg.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn json<T: serde::Serialize>(status: StatusCode, v: &T) -> Response<Body> {
    let body = serde_json::to_vec_pretty(v)
        .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}").into_bytes());
    let mut r = Response::new(full(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// Spends `d` of this thread's CPU time (`--burn`, a test mode): a server made slower per
/// response by a known amount, so that a capacity measurement has something to find. Counted
/// on the thread's own CPU clock, so preemption does not shorten it.
fn burn_cpu(d: Duration) {
    let now = || {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes the timespec it is given; the clock id is a constant.
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
    };
    let until = now() + d;
    let mut x = 0u64;
    while now() < until {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
}

#[cfg(test)]
mod tests {
    use super::Peers;

    /// Issue 28: bound to a specific address (`[remote]`), the harness beside the server asks
    /// from that address and was refused with 403; a peer elsewhere still is.
    #[test]
    fn admin_peers_are_loopback_or_the_address_reached() {
        let at = |peer: &str, local: Option<&str>| Peers {
            peer: peer.parse().unwrap(),
            local: local.map(|l| l.parse().unwrap()),
        };
        let cases = [
            (at("127.0.0.1:5000", Some("127.0.0.1:8080")), true),
            (at("[::1]:5000", Some("[::1]:8080")), true),
            (at("192.0.2.2:5000", Some("192.0.2.2:8080")), true),
            (at("192.0.2.3:5000", Some("192.0.2.2:8080")), false),
            (at("10.0.0.9:5000", Some("192.0.2.2:8080")), false),
            (at("192.0.2.2:5000", None), false),
        ];
        for (p, want) in cases {
            assert_eq!(p.same_host(), want, "{p:?}");
        }
    }
}
