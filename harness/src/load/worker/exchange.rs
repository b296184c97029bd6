//! One attempt of a request on a keep-alive HTTP/1 connection (opened if needed), under its
//! deadline: a timeout drops the whole exchange with its connection.

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::CONTENT_RANGE;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio::time::{timeout_at, Instant};

use super::check::{check_head, check_status, count_body, drain, read_body};
use super::Ctx;
use crate::load::counts::ErrorKind;
use crate::load::mix::Draw;

/// An error response body up to this size is read to the end so the connection can be reused,
/// as a real client would; a longer one costs the connection instead.
const ERROR_BODY_LIMIT: u64 = 64 * 1024;

/// A keep-alive HTTP/1 connection. Dropping it aborts its driver task, which closes the socket
/// even mid-response: that is what makes a timeout really abort a request.
pub(super) struct Conn {
    sender: SendRequest<Full<Bytes>>,
    driver: JoinHandle<()>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// The read buffer of each connection (64 KiB measured best against 32 KiB and 128 KiB on
/// 1 MiB bodies, 2026-12-04).
const READ_BUF: usize = 64 << 10;

async fn connect(ctx: &Ctx) -> Result<Conn, ErrorKind> {
    let stream = TcpStream::connect(ctx.addr)
        .await
        .map_err(|_| ErrorKind::Connect)?;
    // Requests are one small write each; do not let Nagle hold them back.
    let _ = stream.set_nodelay(true);
    // One read buffer of a fixed 64 KiB per connection, reused for every response. hyper's
    // default grows its buffer up to ~400 KiB while a 1 MiB body streams through and, still
    // referenced by the response, allocates it afresh about once a response. Measured with
    // `perf stat` over `allocstorm load` (2 x 8 connections, 1 MiB ranges, 5 s, 2026-12-04):
    // 32.4 page faults and 0.45 ms of CPU per response before, 3.2 and 0.29 ms with this.
    let (sender, connection) = http1::Builder::new()
        .read_buf_exact_size(Some(READ_BUF))
        .handshake(TokioIo::new(stream))
        .await
        .map_err(|_| ErrorKind::Connect)?;
    let driver = tokio::task::spawn_local(async move {
        let _ = connection.await;
    });
    ctx.rec.borrow_mut().connected(Instant::now());
    Ok(Conn { sender, driver })
}

/// One attempt under its deadline. On timeout the whole exchange (connect, request, body) is
/// dropped with its connection.
pub(super) async fn attempt(
    ctx: &Ctx,
    conn: &mut Option<Conn>,
    draw: &Draw,
) -> Result<u64, ErrorKind> {
    let deadline = Instant::now() + ctx.timeout;
    match timeout_at(deadline, exchange(ctx, conn, draw)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err((kind, keep))) => {
            if !keep {
                *conn = None;
            }
            Err(kind)
        }
        Err(_) => {
            *conn = None;
            Err(ErrorKind::Timeout)
        }
    }
}

/// Sends the request on `slot`'s connection (opening one if needed) and reads the response.
/// The error side says whether the connection is still fit to reuse.
async fn exchange(
    ctx: &Ctx,
    slot: &mut Option<Conn>,
    draw: &Draw,
) -> Result<u64, (ErrorKind, bool)> {
    // A kept-alive connection that the server closed while idle is replaced before use, so the
    // server's idle timeout is not counted against it as a failed attempt.
    if let Some(c) = slot.as_mut() {
        if c.sender.ready().await.is_err() {
            *slot = None;
        }
    }
    let c = match slot {
        Some(c) => c,
        None => slot.insert(connect(ctx).await.map_err(|k| (k, false))?),
    };
    // Every path was checked with a key when the worker started, and a key is digits: this
    // cannot fail, but if it did nothing was sent and the connection is still good.
    let req = ctx
        .requests
        .build(draw)
        .map_err(|_| (ErrorKind::StatusOther, true))?;
    let resp = c
        .sender
        .send_request(req)
        .await
        .map_err(|_| (ErrorKind::Io, false))?;
    let (parts, body) = resp.into_parts();
    let status = parts.status.as_u16();
    let Some((_, expect)) = &ctx.requests.kinds[draw.entry].range else {
        // No range asked: any 2xx is an answer, with whatever body it has.
        if let Err(kind) = check_status(status) {
            let keep = drain(body, ERROR_BODY_LIMIT).await;
            return Err((kind, keep));
        }
        return count_body(body).await.map_err(|k| (k, false));
    };
    let content_range = parts
        .headers
        .get(CONTENT_RANGE)
        .and_then(|v| v.to_str().ok());
    if let Err(kind) = check_head(status, content_range, expect) {
        let keep = drain(body, ERROR_BODY_LIMIT).await;
        return Err((kind, keep));
    }
    read_body(body, expect.bytes())
        .await
        .map_err(|k| (k, false))
}
