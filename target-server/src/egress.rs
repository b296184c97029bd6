//! The server's NIC: one token bucket shared by every connection, and the response body that
//! sends through it.
//!
//! On loopback a 1 MiB buffer lives for microseconds and nothing accumulates. Production's
//! network queue is what kept thousands of buffers alive at once in incident 000, so bodies are
//! sent in chunks paced by a shared rate and each buffer stays allocated until its last chunk
//! is out. The pacing is the same whether the chunks are slices of one buffer read whole or
//! are read one by one as the body goes out (`stream`).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::pools::rpc::RpcLease;
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

/// Where a paced body's chunks come from: slices of a buffer already filled ([`Buffered`]), or
/// reads made as the body is sent (`stream::Streamed`).
pub trait ChunkSource: Send + Unpin + 'static {
    /// The next chunk; `None` once every byte has been produced.
    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<std::io::Result<Bytes>>>;
}

/// A body read whole before the answer started: slices of its buffers, in order. Each buffer
/// stays allocated (or out of the byte pool) until its last slice has been written, and no
/// longer; the ones not yet sent go when the body is dropped.
pub struct Buffered {
    /// The buffers not yet completely handed out, the first one partly.
    parts: VecDeque<Bytes>,
    /// Most bytes per chunk; a chunk never spans two buffers.
    frame: usize,
}

impl ChunkSource for Buffered {
    fn poll_chunk(&mut self, _: &mut Context<'_>) -> Poll<Option<std::io::Result<Bytes>>> {
        loop {
            let Some(part) = self.parts.front_mut() else {
                return Poll::Ready(None);
            };
            if part.is_empty() {
                self.parts.pop_front();
                continue;
            }
            let n = self.frame.min(part.len());
            let chunk = part.split_to(n);
            if part.is_empty() {
                // The buffer's last slice is `chunk`: it goes back when that has been written.
                self.parts.pop_front();
            }
            return Poll::Ready(Some(Ok(chunk)));
        }
    }
}

/// What a response keeps until its body is done, besides its bytes: the admission slot and the
/// RPC pool objects taken for it.
#[derive(Default)]
pub struct Held {
    pub permit: Option<tokio::sync::OwnedSemaphorePermit>,
    pub rpc: Option<RpcLease>,
}

/// A response body that sends its source's chunks through the limiter, optionally after a hold,
/// and keeps [`Held`] until it is done or dropped.
pub struct PacedBody<S> {
    source: S,
    /// Bytes not yet sent.
    remaining: u64,
    limiter: Option<Arc<EgressLimiter>>,
    wait: Option<Pin<Box<Sleep>>>,
    /// A chunk produced but not yet sent: waiting out the hold or its reserved slot.
    pending: Option<Bytes>,
    /// `pending` has its slot reserved: it goes out when `wait` ends.
    reserved: bool,
    state: Arc<AppState>,
    _held: Held,
}

impl PacedBody<Buffered> {
    /// A body of `data`, read whole into one buffer. Paced bodies go out in `chunk`-sized
    /// frames, unpaced ones in one frame.
    pub fn buffered(
        data: Bytes,
        chunk: usize,
        limiter: Option<Arc<EgressLimiter>>,
        hold: Option<Duration>,
        state: Arc<AppState>,
        held: Held,
    ) -> Self {
        Self::buffered_parts(vec![data], chunk, limiter, hold, state, held)
    }

    /// A body of `parts` one after another, read whole into several buffers (byte-pool
    /// buffers). Paced bodies go out in frames of at most `chunk` bytes that never span two
    /// buffers; unpaced ones in one frame per buffer.
    pub fn buffered_parts(
        parts: Vec<Bytes>,
        chunk: usize,
        limiter: Option<Arc<EgressLimiter>>,
        hold: Option<Duration>,
        state: Arc<AppState>,
        held: Held,
    ) -> Self {
        let frame = if limiter.is_some() {
            chunk.max(1)
        } else {
            usize::MAX
        };
        let len = parts.iter().map(|p| p.len() as u64).sum();
        let source = Buffered {
            parts: parts.into(),
            frame,
        };
        Self::new(source, len, limiter, hold, state, held)
    }
}

impl<S: ChunkSource> PacedBody<S> {
    /// A body of `len` bytes from `source`.
    pub fn new(
        source: S,
        len: u64,
        limiter: Option<Arc<EgressLimiter>>,
        hold: Option<Duration>,
        state: Arc<AppState>,
        held: Held,
    ) -> Self {
        Self {
            source,
            remaining: len,
            limiter,
            wait: hold.map(|d| Box::pin(tokio::time::sleep(d))),
            pending: None,
            reserved: false,
            state,
            _held: held,
        }
    }

    fn done(&self) -> bool {
        self.remaining == 0
    }

    fn send(&mut self, chunk: Bytes) -> Frame<Bytes> {
        let n = chunk.len() as u64;
        self.state
            .counters
            .bytes_sent
            .fetch_add(n, Ordering::Relaxed);
        self.remaining = self.remaining.saturating_sub(n);
        if self.done() {
            self.state
                .counters
                .responses_completed
                .fetch_add(1, Ordering::Relaxed);
        }
        Frame::data(chunk)
    }
}

impl<S: ChunkSource> Body for PacedBody<S> {
    type Data = Bytes;
    type Error = std::io::Error;

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
            }
            let chunk = match this.pending.take() {
                Some(c) => c,
                None if this.done() => return Poll::Ready(None),
                None => match this.source.poll_chunk(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Some(Ok(c))) => c,
                    Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                    Poll::Ready(None) => {
                        return Poll::Ready(Some(Err(std::io::Error::new(
                            std::io::ErrorKind::UnexpectedEof,
                            "body source ended early",
                        ))))
                    }
                },
            };
            if let (Some(limiter), false) = (&this.limiter, this.reserved) {
                let at = limiter.reserve(chunk.len());
                if at > Instant::now() {
                    this.wait = Some(Box::pin(tokio::time::sleep_until(at)));
                    this.reserved = true;
                    this.pending = Some(chunk);
                    continue;
                }
            }
            this.reserved = false;
            return Poll::Ready(Some(Ok(this.send(chunk))));
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

impl<S> Drop for PacedBody<S> {
    fn drop(&mut self) {
        // The buffer was filled, but the client went away before it was all sent: in incident
        // 000 this was work done for clients whose own timeout had already fired.
        if self.remaining > 0 {
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
        let body = PacedBody::buffered(
            data.clone(),
            1000,
            Some(limiter),
            None,
            state.clone(),
            Held::default(),
        );
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

    #[tokio::test]
    async fn unpaced_buffered_body_is_one_frame() {
        use http_body_util::BodyExt;
        let state = Arc::new(AppState::for_tests());
        let mut body = PacedBody::buffered(
            Bytes::from(vec![3u8; 300_000]),
            1000,
            None,
            None,
            state,
            Held::default(),
        );
        let frame = body.frame().await.unwrap().unwrap();
        assert_eq!(frame.into_data().unwrap().len(), 300_000);
        assert!(body.frame().await.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn rpc_objects_go_back_to_the_pool_with_the_body() {
        use crate::pools::rpc::RpcPool;
        use http_body_util::BodyExt;
        let state = Arc::new(AppState::for_tests());
        let pool = Arc::new(RpcPool::new(64, 2));
        let limiter = Arc::new(EgressLimiter::new(1000.0, Duration::ZERO));
        let mut body = PacedBody::buffered(
            Bytes::from(vec![1u8; 3000]),
            1000,
            Some(limiter),
            None,
            state,
            Held {
                permit: None,
                rpc: Some(pool.take()),
            },
        );
        body.frame().await.unwrap().unwrap();
        assert_eq!(
            pool.figures().objects_in_use,
            2,
            "held while the body is sent"
        );
        drop(body);
        let f = pool.figures();
        assert_eq!((f.objects_in_use, f.objects_idle), (0, 2));
    }

    #[tokio::test(start_paused = true)]
    async fn dropped_body_counts_as_client_gone() {
        use http_body_util::BodyExt;
        let state = Arc::new(AppState::for_tests());
        let limiter = Arc::new(EgressLimiter::new(1000.0, Duration::ZERO));
        let mut body = PacedBody::buffered(
            Bytes::from(vec![1u8; 5000]),
            1000,
            Some(limiter),
            Some(Duration::from_millis(50)),
            state.clone(),
            Held::default(),
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
    #[tokio::test(start_paused = true)]
    async fn pool_buffers_go_back_one_by_one_as_they_are_sent() {
        use crate::pools::bytes::BytePool;
        use http_body_util::BodyExt;
        let state = Arc::new(AppState::for_tests());
        // Low watermark 0: no refill thread, so the counts are exact.
        let pool = Arc::new(BytePool::new(8, 1000, 0.0, 0.5));
        let src: Vec<u8> = (0..3500u32).map(|i| (i % 253) as u8).collect();
        let parts: Vec<Bytes> = pool
            .gather(3500, |o, buf| {
                buf.copy_from_slice(&src[o as usize..o as usize + buf.len()]);
                Ok(())
            })
            .unwrap()
            .into_iter()
            .map(Bytes::from_owner)
            .collect();
        assert_eq!(pool.figures().outstanding, 4);
        let limiter = Arc::new(EgressLimiter::new(1_000_000.0, Duration::ZERO));
        let mut body = PacedBody::buffered_parts(
            parts,
            600,
            Some(limiter),
            None,
            state.clone(),
            Held::default(),
        );
        assert_eq!(body.size_hint().exact(), Some(3500));
        let mut got = Vec::new();
        let mut frames = Vec::new();
        // 600-byte chunks that never span two buffers: 600 + 400 per 1000-byte buffer.
        for (want_len, outstanding_after) in [(600, 4), (400, 3), (600, 3), (400, 2)] {
            let data = body.frame().await.unwrap().unwrap().into_data().unwrap();
            assert_eq!(data.len(), want_len);
            got.extend_from_slice(&data);
            frames.push(data.len());
            // A frame, once written, is dropped: its buffer goes back with its last one.
            drop(data);
            assert_eq!(
                pool.figures().outstanding,
                outstanding_after,
                "after frames {frames:?}"
            );
        }
        assert_eq!(got, &src[..2000]);
        // The client goes away: the two buffers not yet sent go back with the body.
        drop(body);
        let f = pool.figures();
        assert_eq!((f.outstanding, f.put_total, f.idle), (0, 4, 4));
        assert_eq!(
            state
                .counters
                .served_after_client_gone
                .load(Ordering::Relaxed),
            1
        );
    }

    #[tokio::test]
    async fn several_buffers_go_out_whole_and_in_order() {
        use http_body_util::BodyExt;
        let state = Arc::new(AppState::for_tests());
        let parts = vec![
            Bytes::from(vec![1u8; 1000]),
            Bytes::from(vec![2u8; 1000]),
            Bytes::from(vec![3u8; 10]),
        ];
        // Unpaced: one frame per buffer.
        let mut body =
            PacedBody::buffered_parts(parts, 64, None, None, state.clone(), Held::default());
        let mut lens = Vec::new();
        let mut got = Vec::new();
        while let Some(f) = body.frame().await {
            let data = f.unwrap().into_data().unwrap();
            lens.push(data.len());
            got.extend_from_slice(&data);
        }
        assert_eq!(lens, [1000, 1000, 10]);
        assert_eq!(got[..1000], [1u8; 1000]);
        assert_eq!(got[1000..2000], [2u8; 1000]);
        assert_eq!(got[2000..], [3u8; 10]);
        assert!(body.is_end_stream());
        assert_eq!(
            state.counters.responses_completed.load(Ordering::Relaxed),
            1
        );
    }
}
