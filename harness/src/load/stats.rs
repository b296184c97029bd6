//! What the load client counts, and the per-second recorder each worker writes into.
//!
//! A *request* is logical: it may take several *attempts* (retries). Both are counted, apart,
//! because a retry storm is exactly the gap between them. Events are filed under the second in
//! which they happened, measured from the shared start, so second `t` of every worker covers the
//! same wall-clock second and the parent can add them up.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::wire::{HistPairs, WorkerSecond};

/// Significant figures of every latency histogram: 0.1% resolution, as wrk2 and HdrHistogram
/// users expect, at a few hundred KiB per histogram.
pub const SIGFIG: u8 = 3;

/// An empty microsecond latency histogram that grows as needed.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new(SIGFIG).expect("3 significant figures is a valid histogram precision")
}

/// The recorded buckets of `h` as `[value_us, count]` pairs, each value the highest value
/// equivalent to its bucket so that recording it again lands in the same bucket.
pub fn to_pairs(h: &Histogram<u64>) -> HistPairs {
    h.iter_recorded()
        .map(|v| [v.value_iterated_to(), v.count_at_value()])
        .collect()
}

/// Adds `[value_us, count]` pairs into `h`.
pub fn add_pairs(h: &mut Histogram<u64>, pairs: &HistPairs) {
    for &[value, count] in pairs {
        // Auto-resizing histograms only refuse values beyond u64 range, which cannot occur.
        let _ = h.record_n(value, count);
    }
}

/// Why an attempt or a request failed. The names are the keys of `errors_by_kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorKind {
    /// The attempt's deadline passed; the request and its connection were dropped.
    Timeout,
    /// The TCP connection could not be opened.
    Connect,
    /// The connection failed while sending or receiving.
    Io,
    /// `503 Service Unavailable`: the server shed the request.
    Status503,
    /// Any other 5xx.
    Status5xx,
    /// Any other status but `206`.
    StatusOther,
    /// `206` with a `Content-Range` other than `bytes A-B/SIZE` for the requested range.
    BadContentRange,
    /// A complete response body shorter than the range.
    ShortBody,
    /// A response body longer than the range.
    LongBody,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 9] = [
        ErrorKind::Timeout,
        ErrorKind::Connect,
        ErrorKind::Io,
        ErrorKind::Status503,
        ErrorKind::Status5xx,
        ErrorKind::StatusOther,
        ErrorKind::BadContentRange,
        ErrorKind::ShortBody,
        ErrorKind::LongBody,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Timeout => "timeout",
            ErrorKind::Connect => "connect",
            ErrorKind::Io => "io",
            ErrorKind::Status503 => "status_503",
            ErrorKind::Status5xx => "status_5xx",
            ErrorKind::StatusOther => "status_other",
            ErrorKind::BadContentRange => "bad_content_range",
            ErrorKind::ShortBody => "short_body",
            ErrorKind::LongBody => "long_body",
        }
    }

    /// Whether a client like the one of incident 000 tries again: on anything that may be
    /// transient (deadline, connection trouble, server overload), not on a wrong answer, which
    /// would be wrong again.
    pub fn retryable(self) -> bool {
        matches!(
            self,
            ErrorKind::Timeout
                | ErrorKind::Connect
                | ErrorKind::Io
                | ErrorKind::Status503
                | ErrorKind::Status5xx
        )
    }
}

/// Event counts over some span (a second of one worker, a merged second, a whole run).
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Logical requests started (first attempt sent).
    pub requests: u64,
    /// Attempts started, first ones and retries.
    pub attempts: u64,
    /// Attempts that were retries.
    pub retries: u64,
    /// Requests answered correctly (`206`, right `Content-Range`, every byte).
    pub ok: u64,
    /// Requests that failed on their last attempt.
    pub errors: u64,
    /// `errors` by the kind of the last attempt's failure.
    pub errors_by_kind: BTreeMap<String, u64>,
    /// Every failed attempt by kind, retried or not: what the server saw go wrong.
    pub attempt_errors_by_kind: BTreeMap<String, u64>,
    /// Attempts that hit their deadline.
    pub timeouts: u64,
    /// Requests cut by the end of the run: a retry that would have started after the load
    /// stopped, or still in flight when the drain ended.
    pub abandoned: u64,
    /// Open loop: sends that were overdue when a connection got to them.
    pub no_free_connection: u64,
    /// TCP connections opened.
    pub connects: u64,
    /// Body bytes of the `ok` responses.
    pub bytes: u64,
}

fn add_map(into: &mut BTreeMap<String, u64>, from: &BTreeMap<String, u64>) {
    for (k, v) in from {
        *into.entry(k.clone()).or_default() += v;
    }
}

impl Counts {
    pub fn add(&mut self, o: &Counts) {
        self.requests += o.requests;
        self.attempts += o.attempts;
        self.retries += o.retries;
        self.ok += o.ok;
        self.errors += o.errors;
        add_map(&mut self.errors_by_kind, &o.errors_by_kind);
        add_map(&mut self.attempt_errors_by_kind, &o.attempt_errors_by_kind);
        self.timeouts += o.timeouts;
        self.abandoned += o.abandoned;
        self.no_free_connection += o.no_free_connection;
        self.connects += o.connects;
        self.bytes += o.bytes;
    }
}

/// Latency percentiles in milliseconds. All zero when `count` is zero.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
pub struct Percentiles {
    /// Samples behind the figures.
    pub count: u64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

impl Percentiles {
    /// Reads a microsecond histogram.
    pub fn of(h: &Histogram<u64>) -> Self {
        let ms = |us: u64| us as f64 / 1000.0;
        if h.is_empty() {
            return Percentiles::default();
        }
        Percentiles {
            count: h.len(),
            p50: ms(h.value_at_quantile(0.5)),
            p90: ms(h.value_at_quantile(0.9)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
        }
    }
}

/// Records a duration in microseconds. Not `saturating_record`, which clamps to the current size
/// instead of growing the histogram.
fn record(h: &mut Histogram<u64>, d: Duration) {
    // Zero does not fit a histogram whose lowest value is 1 µs; loopback is never that fast.
    let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1);
    // Auto-resizing histograms only refuse values beyond their u64 range.
    let _ = h.record(us);
}

/// One second of one worker while it is being filled.
struct Bucket {
    counts: Counts,
    /// Successful requests from their due time (coordinated-omission corrected).
    latency: Histogram<u64>,
    /// Successful requests from their first send (service time).
    uncorrected: Histogram<u64>,
    /// Failed requests from their first send: how long a client waited to learn of a failure.
    error_latency: Histogram<u64>,
}

/// A worker's per-second accumulator. Each event is filed under the second of `now` (since the
/// shared start); when an event or [`Recorder::advance`] moves past a second, that second is
/// complete and handed to the sink. Callers pass `now` read just before the call, with no await
/// in between, so events arrive in time order; a stale `now` is filed in the current second.
pub struct Recorder {
    start: Instant,
    current: u64,
    bucket: Bucket,
    sink: Box<dyn FnMut(WorkerSecond)>,
}

impl Recorder {
    pub fn new(start: Instant, sink: Box<dyn FnMut(WorkerSecond)>) -> Self {
        Recorder {
            start,
            current: 0,
            bucket: Bucket {
                counts: Counts::default(),
                latency: new_histogram(),
                uncorrected: new_histogram(),
                error_latency: new_histogram(),
            },
            sink,
        }
    }

    fn second_of(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.start).as_secs()
    }

    /// Hands every second before `now`'s to the sink (empty ones too: the parent merges second
    /// `t` once every worker has sent it).
    pub fn advance(&mut self, now: Instant) {
        let t = self.second_of(now);
        while self.current < t {
            self.emit();
            self.current += 1;
        }
    }

    /// Hands every second up to and including `now`'s to the sink: the end of the run.
    pub fn finish(&mut self, now: Instant) {
        self.advance(now);
        self.emit();
        self.current += 1;
    }

    fn emit(&mut self) {
        let b = &mut self.bucket;
        let second = WorkerSecond {
            t: self.current,
            counts: std::mem::take(&mut b.counts),
            latency_us: to_pairs(&b.latency),
            latency_uncorrected_us: to_pairs(&b.uncorrected),
            error_latency_us: to_pairs(&b.error_latency),
        };
        // Reused rather than reallocated: the client should not churn the allocator it shares a
        // machine with more than it must.
        b.latency.reset();
        b.uncorrected.reset();
        b.error_latency.reset();
        (self.sink)(second);
    }

    fn at(&mut self, now: Instant) -> &mut Bucket {
        self.advance(now);
        &mut self.bucket
    }

    pub fn request_started(&mut self, now: Instant) {
        self.at(now).counts.requests += 1;
    }

    pub fn attempt_started(&mut self, now: Instant, retry: bool) {
        let c = &mut self.at(now).counts;
        c.attempts += 1;
        c.retries += u64::from(retry);
    }

    pub fn connected(&mut self, now: Instant) {
        self.at(now).counts.connects += 1;
    }

    pub fn no_free_connection(&mut self, now: Instant) {
        self.at(now).counts.no_free_connection += 1;
    }

    pub fn attempt_failed(&mut self, now: Instant, kind: ErrorKind) {
        let c = &mut self.at(now).counts;
        *c.attempt_errors_by_kind
            .entry(kind.name().to_string())
            .or_default() += 1;
        c.timeouts += u64::from(kind == ErrorKind::Timeout);
    }

    /// A request answered correctly: `due` is when it should have been sent, `sent` when its
    /// first attempt was.
    pub fn ok(&mut self, now: Instant, bytes: u64, due: Instant, sent: Instant) {
        let b = self.at(now);
        b.counts.ok += 1;
        b.counts.bytes += bytes;
        record(&mut b.latency, now.saturating_duration_since(due));
        record(&mut b.uncorrected, now.saturating_duration_since(sent));
    }

    /// A request failed on its last attempt.
    pub fn failed(&mut self, now: Instant, kind: ErrorKind, sent: Instant) {
        let b = self.at(now);
        b.counts.errors += 1;
        *b.counts
            .errors_by_kind
            .entry(kind.name().to_string())
            .or_default() += 1;
        record(&mut b.error_latency, now.saturating_duration_since(sent));
    }

    pub fn abandoned(&mut self, now: Instant, n: u64) {
        self.at(now).counts.abandoned += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;

    fn recorder() -> (Recorder, Instant, Rc<RefCell<Vec<WorkerSecond>>>) {
        let out = Rc::new(RefCell::new(Vec::new()));
        let sink = out.clone();
        let start = Instant::now();
        let r = Recorder::new(start, Box::new(move |s| sink.borrow_mut().push(s)));
        (r, start, out)
    }

    #[test]
    fn events_are_filed_under_their_second() {
        let (mut r, start, out) = recorder();
        let at = |ms: u64| start + Duration::from_millis(ms);
        r.request_started(at(10));
        r.attempt_started(at(10), false);
        r.connected(at(11));
        r.ok(at(30), 100, at(0), at(10));
        assert!(out.borrow().is_empty(), "second 0 is not over yet");
        r.request_started(at(2500));
        r.attempt_started(at(2500), false);
        r.attempt_failed(at(2600), ErrorKind::Timeout);
        r.attempt_started(at(2700), true);
        r.attempt_failed(at(2800), ErrorKind::Status503);
        r.failed(at(2800), ErrorKind::Status503, at(2500));
        // Seconds 0 and 1 (empty) went out when second 2 began.
        assert_eq!(out.borrow().len(), 2);
        r.finish(at(2900));
        let out = out.borrow();
        assert_eq!(out.iter().map(|s| s.t).collect::<Vec<_>>(), [0, 1, 2]);
        let s0 = &out[0];
        assert_eq!(
            (s0.counts.requests, s0.counts.ok, s0.counts.bytes),
            (1, 1, 100)
        );
        assert_eq!(s0.counts.connects, 1);
        // 30 ms from the due time, 20 ms from the send.
        assert_eq!(s0.latency_us.len(), 1);
        assert!((29_900..=30_100).contains(&s0.latency_us[0][0]));
        assert!((19_900..=20_100).contains(&s0.latency_uncorrected_us[0][0]));
        assert_eq!(out[1].counts, Counts::default());
        let s2 = &out[2].counts;
        assert_eq!(
            (s2.attempts, s2.retries, s2.timeouts, s2.errors),
            (2, 1, 1, 1)
        );
        assert_eq!(s2.errors_by_kind["status_503"], 1);
        assert_eq!(s2.attempt_errors_by_kind["timeout"], 1);
        assert_eq!(s2.attempt_errors_by_kind["status_503"], 1);
        assert!(out[2].latency_us.is_empty());
        assert_eq!(out[2].error_latency_us.len(), 1);
    }

    #[test]
    fn a_stale_time_lands_in_the_current_second() {
        let (mut r, start, out) = recorder();
        r.advance(start + Duration::from_millis(1500));
        r.request_started(start + Duration::from_millis(900));
        r.finish(start + Duration::from_millis(1600));
        let out = out.borrow();
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].counts.requests, 1);
    }

    #[test]
    fn pairs_round_trip_through_a_histogram() {
        let mut h = new_histogram();
        for v in [1, 2, 3, 1000, 1001, 123_456, 3_000_000] {
            h.record(v).unwrap();
        }
        h.record_n(1000, 5).unwrap();
        let pairs = to_pairs(&h);
        let mut back = new_histogram();
        add_pairs(&mut back, &pairs);
        assert_eq!(back.len(), h.len());
        assert_eq!(to_pairs(&back), pairs);
        assert_eq!(Percentiles::of(&back), Percentiles::of(&h));
    }

    #[test]
    fn percentiles_in_milliseconds() {
        assert_eq!(Percentiles::of(&new_histogram()), Percentiles::default());
        let mut h = new_histogram();
        for v in 1..=1000u64 {
            h.record(v * 1000).unwrap();
        }
        let p = Percentiles::of(&h);
        assert_eq!(p.count, 1000);
        assert!((p.p50 - 500.0).abs() < 1.0, "{p:?}");
        assert!((p.p99 - 990.0).abs() < 1.0, "{p:?}");
        assert!((p.max - 1000.0).abs() < 1.0, "{p:?}");
    }

    #[test]
    fn kinds_have_distinct_names_and_retry_rules() {
        let names: std::collections::BTreeSet<_> =
            ErrorKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(names.len(), ErrorKind::ALL.len());
        assert!(ErrorKind::Timeout.retryable());
        assert!(ErrorKind::Status503.retryable());
        assert!(!ErrorKind::ShortBody.retryable());
        assert!(!ErrorKind::StatusOther.retryable());
    }
}
