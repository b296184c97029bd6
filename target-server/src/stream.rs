//! Streaming bodies (`--body streaming`), incident 004's fix: the range is read one `--chunk` at
//! a time as the body is sent, so a connection holds about one chunk instead of the whole range.
//!
//! The first chunk is read before the answer starts, like a buffered body's whole range (a read
//! that fails there is still a `500`); each later chunk is read into a fresh buffer when the
//! connection asks for the next frame, through the same limiter as buffered bodies. A read that
//! fails mid-body ends the body with an error, and hyper closes the connection.
//!
//! Chunk reads run where `--io` says, like whole-range reads. With the default `--io worker` that
//! is inline on the tokio worker polling the body: the hot file is in the page cache, so a
//! chunk's `pread` is a memory copy of tens of microseconds, and a thread hop per chunk would
//! cost more than it saves and add threads (and glibc arenas) the comparison with buffered
//! bodies should not have.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;

use crate::egress::ChunkSource;
use crate::hotfile::HotFile;
use crate::iopool::IoRunner;
use crate::range::ByteRange;
use crate::state::{InflightBuffers, TrackedBuf};

/// A chunk read in progress: the runner's result around the read's.
type ChunkRead = Pin<Box<dyn Future<Output = io::Result<io::Result<Bytes>>> + Send>>;

/// The chunks of one range, read as they are asked for.
pub struct Streamed {
    hot: Arc<HotFile>,
    io: IoRunner,
    gauge: Arc<InflightBuffers>,
    chunk: u64,
    /// The chunk read before the answer started, until it is handed out.
    first: Option<Bytes>,
    /// File offset of the next byte not yet read, and the end of the range.
    next: u64,
    end: u64,
    reading: Option<ChunkRead>,
}

impl Streamed {
    /// The rest of `range` after `first`, its first bytes, already read.
    pub fn new(
        hot: Arc<HotFile>,
        io: IoRunner,
        gauge: Arc<InflightBuffers>,
        range: ByteRange,
        first: Bytes,
        chunk: usize,
    ) -> Self {
        Self {
            hot,
            io,
            gauge,
            chunk: chunk.max(1) as u64,
            next: range.start + first.len() as u64,
            end: range.start + range.len,
            first: Some(first),
            reading: None,
        }
    }
}

/// A fresh buffer for `range`, counted in the in-flight gauge while it lives.
pub fn read_fresh(
    hot: &HotFile,
    range: ByteRange,
    gauge: &Arc<InflightBuffers>,
) -> io::Result<Bytes> {
    let buf = hot.read_range(range)?;
    Ok(TrackedBuf::new(buf, gauge.clone()).into_bytes())
}

impl ChunkSource for Streamed {
    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<Bytes>>> {
        if let Some(first) = self.first.take() {
            return Poll::Ready(Some(Ok(first)));
        }
        if self.reading.is_none() {
            if self.next >= self.end {
                return Poll::Ready(None);
            }
            let range = ByteRange {
                start: self.next,
                len: self.chunk.min(self.end - self.next),
            };
            self.next += range.len;
            let (hot, gauge) = (self.hot.clone(), self.gauge.clone());
            self.reading = Some(Box::pin(
                self.io.run(move || read_fresh(&hot, range, &gauge)),
            ));
        }
        let read = self.reading.as_mut().expect("a read in progress");
        match read.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(r) => {
                self.reading = None;
                Poll::Ready(Some(r.and_then(|chunk| chunk)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::egress::{EgressLimiter, Held, PacedBody};
    use crate::state::AppState;
    use http_body_util::BodyExt;
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    fn source(hot: &Arc<HotFile>, state: &AppState, range: ByteRange, chunk: usize) -> Streamed {
        let first_len = (chunk as u64).min(range.len);
        let first = read_fresh(
            hot,
            ByteRange {
                start: range.start,
                len: first_len,
            },
            &state.inflight,
        )
        .unwrap();
        Streamed::new(
            hot.clone(),
            IoRunner::Worker,
            state.inflight.clone(),
            range,
            first,
            chunk,
        )
    }

    #[tokio::test]
    async fn streams_exactly_the_range_in_chunks() {
        let hot = Arc::new(HotFile::create(100_000, 4).unwrap());
        let all = hot
            .read_range(ByteRange {
                start: 0,
                len: 100_000,
            })
            .unwrap();
        let state = Arc::new(AppState::for_tests());
        let range = ByteRange {
            start: 1234,
            len: 50_001,
        };
        let body = PacedBody::new(
            source(&hot, &state, range, 7000),
            range.len,
            None,
            None,
            state.clone(),
            Held::default(),
        );
        let mut body = std::pin::pin!(body);
        let mut got = Vec::new();
        let mut frames = 0;
        while let Some(f) = body.frame().await {
            let data = f.unwrap().into_data().unwrap();
            assert!(data.len() <= 7000);
            // A connection holds about one chunk: the one being sent.
            assert!(state.inflight.bytes.load(Ordering::Relaxed) <= 7000);
            got.extend_from_slice(&data);
            frames += 1;
        }
        assert_eq!(frames, 8, "50001 bytes in 7000-byte chunks");
        assert_eq!(got, &all[1234..1234 + 50_001]);
        assert_eq!(state.inflight.bytes.load(Ordering::Relaxed), 0);
        assert_eq!(
            state.counters.responses_completed.load(Ordering::Relaxed),
            1
        );
    }

    #[tokio::test(start_paused = true)]
    async fn paced_streaming_holds_one_chunk_at_a_time() {
        let hot = Arc::new(HotFile::create(64_000, 4).unwrap());
        let state = Arc::new(AppState::for_tests());
        let limiter = Arc::new(EgressLimiter::new(16_000.0, Duration::ZERO));
        let range = ByteRange {
            start: 0,
            len: 64_000,
        };
        let t0 = tokio::time::Instant::now();
        let body = PacedBody::new(
            source(&hot, &state, range, 8000),
            range.len,
            Some(limiter),
            None,
            state.clone(),
            Held::default(),
        );
        let got = body.collect().await.unwrap().to_bytes();
        assert_eq!(got.len(), 64_000);
        // 8 chunks of 8000 bytes at 16 kB/s: the last may start at 3.5 s.
        assert_eq!(t0.elapsed(), Duration::from_millis(3500));
        assert_eq!(state.inflight.count.load(Ordering::Relaxed), 0);
    }
}
