//! What a good response is: status 206, a `Content-Range` of exactly the requested range, and
//! a body of the range's length, counted frame by frame and never held.

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Incoming};

use crate::load::counts::ErrorKind;

/// The range a good response carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expect {
    pub start: u64,
    /// Inclusive.
    pub end: u64,
}

impl Expect {
    pub fn bytes(&self) -> u64 {
        self.end - self.start + 1
    }
}

/// Checks a response's status and `Content-Range` against the requested range.
pub fn check_head(status: u16, content_range: Option<&str>, e: &Expect) -> Result<(), ErrorKind> {
    match status {
        206 => {}
        503 => return Err(ErrorKind::Status503),
        500..=599 => return Err(ErrorKind::Status5xx),
        _ => return Err(ErrorKind::StatusOther),
    }
    match content_range {
        Some(v) if content_range_matches(v, e) => Ok(()),
        _ => Err(ErrorKind::BadContentRange),
    }
}

/// `bytes A-B/SIZE` (RFC 9110 §14.4) with exactly the requested A and B, and a SIZE past B
/// (or `*`, unknown).
fn content_range_matches(v: &str, e: &Expect) -> bool {
    let num = |s: &str| -> Option<u64> {
        let s = s.trim();
        if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    let Some(rest) = v.trim().strip_prefix("bytes ") else {
        return false;
    };
    let Some((range, size)) = rest.split_once('/') else {
        return false;
    };
    let Some((a, b)) = range.split_once('-') else {
        return false;
    };
    num(a) == Some(e.start)
        && num(b) == Some(e.end)
        && (size.trim() == "*" || num(size).is_some_and(|s| s > e.end))
}

/// A request without a range (a mix entry's): any 2xx is good.
pub fn check_status(status: u16) -> Result<(), ErrorKind> {
    match status {
        200..=299 => Ok(()),
        503 => Err(ErrorKind::Status503),
        500..=599 => Err(ErrorKind::Status5xx),
        _ => Err(ErrorKind::StatusOther),
    }
}

/// Counts a body of no expected length (an answer to a request without a range), frame by
/// frame and never held, as [`read_body`] does.
pub(super) async fn count_body(mut body: Incoming) -> Result<u64, ErrorKind> {
    let mut n = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| ErrorKind::Io)?;
        n += frame.data_ref().map_or(0, |d| d.len() as u64);
    }
    Ok(n)
}

/// Counts a good response's body as its frames arrive, stopping as soon as it is longer than
/// the range. Each frame is dropped once counted: however large the range, a connection holds
/// one frame at a time (and hyper's bounded read buffer), never the whole body, so a load of
/// 32 MiB ranges on dozens of connections does not cost the client a GiB of its own.
pub(super) async fn read_body<B>(mut body: B, expected: u64) -> Result<u64, ErrorKind>
where
    B: Body<Data = Bytes> + Unpin,
{
    let mut n = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| ErrorKind::Io)?;
        if let Some(data) = frame.data_ref() {
            n += data.len() as u64;
            if n > expected {
                return Err(ErrorKind::LongBody);
            }
        }
    }
    if n < expected {
        Err(ErrorKind::ShortBody)
    } else {
        Ok(n)
    }
}

/// Reads an error response's body to its end if it is at most `limit` bytes; whether the
/// connection can carry the next request.
pub(super) async fn drain(mut body: Incoming, limit: u64) -> bool {
    let mut n = 0u64;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(f) => {
                n += f.data_ref().map_or(0, |d| d.len() as u64);
                if n > limit {
                    return false;
                }
            }
            Err(_) => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    const E: Expect = Expect {
        start: 0,
        end: 1023,
    };

    #[test]
    fn status_checks() {
        let cr = Some("bytes 0-1023/3145728");
        assert_eq!(check_head(206, cr, &E), Ok(()));
        assert_eq!(check_head(200, cr, &E), Err(ErrorKind::StatusOther));
        assert_eq!(check_head(416, cr, &E), Err(ErrorKind::StatusOther));
        assert_eq!(check_head(503, None, &E), Err(ErrorKind::Status503));
        assert_eq!(check_head(500, None, &E), Err(ErrorKind::Status5xx));
        assert_eq!(check_head(599, None, &E), Err(ErrorKind::Status5xx));
    }

    #[test]
    fn content_range_checks() {
        let bad = Err(ErrorKind::BadContentRange);
        assert_eq!(check_head(206, Some("bytes 0-1023/*"), &E), Ok(()));
        assert_eq!(check_head(206, Some("bytes 0-1023/1024"), &E), Ok(()));
        assert_eq!(check_head(206, None, &E), bad);
        assert_eq!(check_head(206, Some("bytes 0-1023/1023"), &E), bad);
        assert_eq!(check_head(206, Some("bytes 1-1024/4096"), &E), bad);
        assert_eq!(check_head(206, Some("bytes 0-1022/4096"), &E), bad);
        assert_eq!(check_head(206, Some("bytes=0-1023/4096"), &E), bad);
        assert_eq!(check_head(206, Some("bytes +0-1023/4096"), &E), bad);
        assert_eq!(check_head(206, Some("bytes 0-1023"), &E), bad);
        assert_eq!(check_head(206, Some("items 0-1023/4096"), &E), bad);
        assert_eq!(E.bytes(), 1024);
    }

    /// A body of `frames` frames of `size` bytes, each made only when polled, which notes how
    /// many of its frames were still alive (not dropped by the reader) whenever it was polled.
    struct Frames {
        frames: usize,
        size: usize,
        made: usize,
        live: Arc<AtomicUsize>,
        most_live_at_poll: usize,
    }

    struct Tracked(Vec<u8>, Arc<AtomicUsize>);

    impl AsRef<[u8]> for Tracked {
        fn as_ref(&self) -> &[u8] {
            &self.0
        }
    }

    impl Drop for Tracked {
        fn drop(&mut self) {
            self.1.fetch_sub(1, Ordering::SeqCst);
        }
    }

    impl Frames {
        fn new(frames: usize, size: usize) -> Self {
            Frames {
                frames,
                size,
                made: 0,
                live: Arc::new(AtomicUsize::new(0)),
                most_live_at_poll: 0,
            }
        }
    }

    impl Body for Frames {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
            let live = self.live.load(Ordering::SeqCst);
            self.most_live_at_poll = self.most_live_at_poll.max(live);
            if self.made == self.frames {
                return std::task::Poll::Ready(None);
            }
            self.made += 1;
            self.live.fetch_add(1, Ordering::SeqCst);
            let data = Bytes::from_owner(Tracked(vec![0x5A; self.size], self.live.clone()));
            std::task::Poll::Ready(Some(Ok(hyper::body::Frame::data(data))))
        }
    }

    #[tokio::test]
    async fn a_large_body_is_counted_frame_by_frame_and_never_held() {
        // 32 MiB in 512 frames of 64 KiB, as a range of incident 004 arrives.
        let mut body = Frames::new(512, 64 << 10);
        let n = read_body(&mut body, 32 << 20).await;
        assert_eq!(n, Ok(32 << 20));
        assert_eq!(body.made, 512);
        // Every frame was dropped before the next was asked for: nothing was collected.
        assert_eq!(body.most_live_at_poll, 0);
        assert_eq!(body.live.load(Ordering::SeqCst), 0);

        // Too long: stops at the first frame past the range, without reading the rest.
        let mut body = Frames::new(512, 64 << 10);
        assert_eq!(
            read_body(&mut body, (1 << 20) + 1).await,
            Err(ErrorKind::LongBody)
        );
        assert_eq!(body.made, 17);
        let mut body = Frames::new(3, 1000);
        assert_eq!(read_body(&mut body, 3001).await, Err(ErrorKind::ShortBody));
    }
}
