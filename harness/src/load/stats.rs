//! What the load client counts, and the per-second recorder each worker writes into.
//!
//! A *request* is logical: it may take several *attempts* (retries). Both are counted, apart,
//! because a retry storm is exactly the gap between them. Events are filed under the second in
//! which they happened, measured from the shared start, so second `t` of every worker covers the
//! same wall-clock second and the parent can add them up.

//! The counts themselves are [`super::counts`]'s.

use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::time::Instant;

use super::counts::{new_histogram, to_pairs, Counts, EntryCounts, ErrorKind};
use super::wire::{EntrySecond, WorkerSecond};

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
    /// A request mix: each entry's counts and latency (from the due time); empty otherwise.
    entries: Vec<(EntryCounts, Histogram<u64>)>,
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
    /// When the last request ended (answered, failed or given up): the load's real end.
    last_end: Option<Instant>,
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
                entries: Vec::new(),
            },
            sink,
            last_end: None,
        }
    }

    /// Counts each of a mix's `n` entries apart as well (the `entry_*` calls).
    pub fn with_entries(mut self, n: usize) -> Self {
        self.bucket.entries = (0..n)
            .map(|_| (EntryCounts::default(), new_histogram()))
            .collect();
        self
    }

    /// When the last request so far ended: its answer arrived, its last attempt failed or the
    /// run gave it up. Every request that was sent ends one of these ways, so a worker that sent
    /// anything has one. The load's memory is the server's until then, not until the stop.
    pub fn last_end(&self) -> Option<Instant> {
        self.last_end
    }

    fn ended(&mut self, now: Instant) {
        self.last_end = Some(self.last_end.map_or(now, |e| e.max(now)));
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
            per_request: b
                .entries
                .iter_mut()
                .map(|(c, h)| {
                    let e = EntrySecond {
                        counts: std::mem::take(c),
                        latency_us: to_pairs(h),
                    };
                    h.reset();
                    e
                })
                .collect(),
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
        self.ended(now);
        let b = self.at(now);
        b.counts.ok += 1;
        b.counts.bytes += bytes;
        record(&mut b.latency, now.saturating_duration_since(due));
        record(&mut b.uncorrected, now.saturating_duration_since(sent));
    }

    /// A request failed on its last attempt.
    pub fn failed(&mut self, now: Instant, kind: ErrorKind, sent: Instant) {
        self.ended(now);
        let b = self.at(now);
        b.counts.errors += 1;
        *b.counts
            .errors_by_kind
            .entry(kind.name().to_string())
            .or_default() += 1;
        record(&mut b.error_latency, now.saturating_duration_since(sent));
    }

    /// Entry `e`'s counts in `now`'s second; `None` without a mix.
    fn entry(&mut self, now: Instant, e: usize) -> Option<&mut (EntryCounts, Histogram<u64>)> {
        self.at(now).entries.get_mut(e)
    }

    /// A request of mix entry `e` started (besides [`Recorder::request_started`]).
    pub fn entry_started(&mut self, now: Instant, e: usize) {
        if let Some((c, _)) = self.entry(now, e) {
            c.requests += 1;
        }
    }

    /// A request of mix entry `e` was answered correctly (besides [`Recorder::ok`]).
    pub fn entry_ok(&mut self, now: Instant, e: usize, bytes: u64, sent_bytes: u64, due: Instant) {
        if let Some((c, h)) = self.entry(now, e) {
            c.ok += 1;
            c.bytes += bytes;
            c.sent_bytes += sent_bytes;
            record(h, now.saturating_duration_since(due));
        }
    }

    /// A request of mix entry `e` failed (besides [`Recorder::failed`]).
    pub fn entry_failed(&mut self, now: Instant, e: usize) {
        if let Some((c, _)) = self.entry(now, e) {
            c.errors += 1;
        }
    }

    /// `n` requests of mix entry `e` were given up (besides [`Recorder::abandoned`]).
    pub fn entry_abandoned(&mut self, now: Instant, e: usize, n: u64) {
        if let Some((c, _)) = self.entry(now, e) {
            c.abandoned += n;
        }
    }

    pub fn abandoned(&mut self, now: Instant, n: u64) {
        if n > 0 {
            self.ended(now);
        }
        self.at(now).counts.abandoned += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::counts::{add_pairs, Percentiles};
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

    /// The load's end is its last request's end, whichever way it ended; a request merely
    /// started, a failed attempt that is retried or an empty abandon does not end anything.
    #[test]
    fn the_last_end_is_the_last_request_to_end() {
        let (mut r, start, _out) = recorder();
        let at = |ms: u64| start + Duration::from_millis(ms);
        assert_eq!(r.last_end(), None);
        r.request_started(at(10));
        r.attempt_failed(at(20), ErrorKind::Timeout);
        r.abandoned(at(30), 0);
        assert_eq!(r.last_end(), None, "nothing has ended yet");
        r.ok(at(900), 10, at(0), at(10));
        r.failed(at(1200), ErrorKind::Status503, at(100));
        // A response read with a stale clock does not move the end back.
        r.ok(at(1100), 10, at(0), at(10));
        assert_eq!(r.last_end(), Some(at(1200)));
        r.abandoned(at(4100), 2);
        assert_eq!(r.last_end(), Some(at(4100)), "given up at the hard stop");
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
