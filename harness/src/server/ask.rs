//! The harness's own small requests to the server under test: `/healthz`, `/stats`,
//! `/admin/release`. One short-lived connection each, so probing never competes with the load's
//! connections or keeps one open across phases.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;

#[derive(Debug, thiserror::Error)]
pub enum AskError {
    #[error("{path}: timed out after {0:?}", .timeout)]
    Timeout { path: String, timeout: Duration },
    #[error("{path}: {message}")]
    Failed { path: String, message: String },
}

/// Sends one request and returns (status, body).
pub async fn request(
    addr: SocketAddr,
    method: Method,
    path: &str,
    timeout: Duration,
) -> Result<(u16, Bytes), AskError> {
    let fail = |m: String| AskError::Failed {
        path: path.to_string(),
        message: m,
    };
    let fut = async {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| fail(e.to_string()))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| fail(e.to_string()))?;
        let conn = async move {
            let _ = conn.await;
        };
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, addr.to_string())
            .body(Empty::<Bytes>::new())
            .map_err(|e| fail(e.to_string()))?;
        let exchange = async {
            let resp = sender
                .send_request(req)
                .await
                .map_err(|e| fail(e.to_string()))?;
            let status = resp.status().as_u16();
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| fail(e.to_string()))?
                .to_bytes();
            Ok::<_, AskError>((status, body))
        };
        // Drive the connection and the exchange together on this task.
        tokio::select! {
            r = exchange => r,
            _ = conn => Err(fail("connection closed".into())),
        }
    };
    tokio::time::timeout(timeout, fut)
        .await
        .map_err(|_| AskError::Timeout {
            path: path.to_string(),
            timeout,
        })?
}

/// Fetches and decodes `/stats`.
pub async fn stats(addr: SocketAddr) -> Result<serde_json::Value, AskError> {
    stats_at(addr, "/stats").await
}

/// Fetches and decodes a JSON stats endpoint at `path`.
pub async fn stats_at(addr: SocketAddr, path: &str) -> Result<serde_json::Value, AskError> {
    let (status, body) = request(addr, Method::GET, path, Duration::from_secs(2)).await?;
    if status != 200 {
        return Err(AskError::Failed {
            path: path.into(),
            message: format!("status {status}"),
        });
    }
    serde_json::from_slice(&body).map_err(|e| AskError::Failed {
        path: path.into(),
        message: e.to_string(),
    })
}
