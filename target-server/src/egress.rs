//! The server's NIC: one token bucket shared by every connection, and the response body that
//! sends through it.
//!
//! On loopback a 1 MiB buffer lives for microseconds and nothing accumulates. Production's
//! network queue is what kept thousands of buffers alive at once in incident 000, so bodies are
//! sent in chunks paced by a shared rate and each buffer stays allocated until its last chunk
//! is out.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::state::AppState;

/// A shared pacing clock (GCRA): each chunk reserves the next free slot on the wire.
#[derive(Debug)]
pub struct EgressLimiter {
    bytes_per_s: f64,
    /// How far behind "now" the schedule may fall: a small burst allowance so an idle link
    /// does not bank unlimited credit.
    burst: Duration,
    next_free: Mutex<Instant>,
}

impl EgressLimiter {
    pub fn new(bytes_per_s: f64, burst: Duration) -> Self {
        Self {
            bytes_per_s,
            burst,
            next_free: Mutex::new(Instant::now()),
        }
    }

    /// Reserves `n` bytes of wire time; returns when they may be sent.
    pub fn reserve(&self, n: usize) -> Instant {
        let now = Instant::now();
        let mut next = self.next_free.lock().unwrap_or_else(|e| e.into_inner());
        let earliest = now.checked_sub(self.burst).unwrap_or(now);
        let start = (*next).max(earliest);
        *next = start + Duration::from_secs_f64(n as f64 / self.bytes_per_s);
        start
    }
}

/// A response body that holds its whole buffer (and admission permit) until the last chunk is
/// sent, pacing chunks through the limiter and optionally holding the buffer first.
pub struct PacedBody {
    data: Bytes,
    pos: usize,
    chunk: usize,
    limiter: Option<Arc<EgressLimiter>>,
    wait: Option<Pin<Box<Sleep>>>,
    /// The wait in progress is for a reserved slot: the chunk goes out when it ends.
    reserved: bool,
    state: Arc<AppState>,
    _permit: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl PacedBody {
    pub fn new(
        data: Bytes,
        chunk: usize,
        limiter: Option<Arc<EgressLimiter>>,
        hold: Option<Duration>,
        state: Arc<AppState>,
        permit: Option<tokio::sync::OwnedSemaphorePermit>,
    ) -> Self {
        let wait = hold.map(|d| Box::pin(tokio::time::sleep(d)));
        // Unpaced bodies go out in one frame.
        let chunk = if limiter.is_some() {
            chunk.max(1)
        } else {
            data.len().max(1)
        };
        Self {
            data,
            pos: 0,
            chunk,
            limiter,
            wait,
            reserved: false,
            state,
            _permit: permit,
        }
    }

    fn done(&self) -> bool {
        self.pos >= self.data.len()
    }

    fn next_chunk(&mut self) -> Frame<Bytes> {
        let end = (self.pos + self.chunk).min(self.data.len());
        let frame = Frame::data(self.data.slice(self.pos..end));
        self.state
            .counters
            .bytes_sent
            .fetch_add((end - self.pos) as u64, Ordering::Relaxed);
        self.pos = end;
        if self.done() {
            self.state
                .counters
                .responses_completed
                .fetch_add(1, Ordering::Relaxed);
        }
        frame
    }
}

impl Body for PacedBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        loop {
            if let Some(w) = this.wait.as_mut() {
                if w.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                this.wait = None;
                if std::mem::take(&mut this.reserved) {
                    return Poll::Ready(Some(Ok(this.next_chunk())));
                }
            }
            if this.done() {
                return Poll::Ready(None);
            }
            let Some(limiter) = &this.limiter else {
                return Poll::Ready(Some(Ok(this.next_chunk())));
            };
            let at = limiter.reserve(this.chunk.min(this.data.len() - this.pos));
            if at <= Instant::now() {
                return Poll::Ready(Some(Ok(this.next_chunk())));
            }
            this.wait = Some(Box::pin(tokio::time::sleep_until(at)));
            this.reserved = true;
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact((self.data.len() - self.pos) as u64)
    }
}

impl Drop for PacedBody {
    fn drop(&mut self) {
        // The buffer was filled, but the client went away before it was all sent: in incident
        // 000 this was work done for clients whose own timeout had already fired.
        if !self.done() {
            self.state
                .counters
                .served_after_client_gone
                .fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn limiter_paces_chunks_in_order() {
        let l = EgressLimiter::new(1000.0, Duration::ZERO);
        let t0 = Instant::now();
        let a = l.reserve(500);
        let b = l.reserve(500);
        let c = l.reserve(1000);
        assert_eq!(a, t0);
        assert_eq!(b - t0, Duration::from_millis(500));
        assert_eq!(c - t0, Duration::from_millis(1000));
    }

    #[tokio::test(start_paused = true)]
    async fn idle_link_banks_only_the_burst() {
        let l = EgressLimiter::new(1000.0, Duration::from_millis(100));
        tokio::time::advance(Duration::from_secs(10)).await;
        let now = Instant::now();
        // Ten seconds idle give no more than 100 ms of credit.
        let a = l.reserve(100);
        let b = l.reserve(100);
        let c = l.reserve(100);
        assert_eq!(a, now - Duration::from_millis(100));
        assert_eq!(b, now);
        assert_eq!(c, now + Duration::from_millis(100));
    }

    #[tokio::test(start_paused = true)]
    async fn paced_body_sends_every_byte_at_the_rate() {
        use http_body_util::BodyExt;
        let state = Arc::new(AppState::for_tests());
        let data = Bytes::from(vec![7u8; 10_000]);
        let limiter = Arc::new(EgressLimiter::new(10_000.0, Duration::ZERO));
        let t0 = Instant::now();
        let body = PacedBody::new(data.clone(), 1000, Some(limiter), None, state.clone(), None);
        let got = body.collect().await.unwrap().to_bytes();
        assert_eq!(got, data);
        // 10 chunks of 1000 bytes at 10 kB/s: the last may start at 0.9 s.
        assert_eq!(Instant::now() - t0, Duration::from_millis(900));
        assert_eq!(state.counters.bytes_sent.load(Ordering::Relaxed), 10_000);
        assert_eq!(
            state
                .counters
                .served_after_client_gone
                .load(Ordering::Relaxed),
            0
        );
    }

    #[tokio::test(start_paused = true)]
    async fn dropped_body_counts_as_client_gone() {
        use http_body_util::BodyExt;
        let state = Arc::new(AppState::for_tests());
        let limiter = Arc::new(EgressLimiter::new(1000.0, Duration::ZERO));
        let mut body = PacedBody::new(
            Bytes::from(vec![1u8; 5000]),
            1000,
            Some(limiter),
            Some(Duration::from_millis(50)),
            state.clone(),
            None,
        );
        let first = body.frame().await.unwrap().unwrap();
        assert_eq!(first.into_data().unwrap().len(), 1000);
        drop(body);
        assert_eq!(
            state
                .counters
                .served_after_client_gone
                .load(Ordering::Relaxed),
            1
        );
    }
}
