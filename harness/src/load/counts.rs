//! What the load client counts: requests and attempts (a request may take several attempts,
//! retries; both are counted, apart, because a retry storm is exactly the gap between them),
//! error kinds, latency percentiles, and the histogram helpers. A leaf: the recorder
//! (`stats`), the wire format (`wire`) and the merge all build on it, never the other way.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// A histogram as `[value, count]` pairs: how it travels between processes.
pub type HistPairs = Vec<[u64; 2]>;

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

/// The counts of one `[[load.request]]` entry over some span: requests started, and how each
/// ended (`requests = ok + errors + abandoned` once the run is over).
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct EntryCounts {
    pub requests: u64,
    pub ok: u64,
    pub errors: u64,
    pub abandoned: u64,
    /// Body bytes of the `ok` responses, as `bytes` of the totals.
    pub bytes: u64,
    /// Writes: body bytes of the requests that were answered ok.
    pub sent_bytes: u64,
}

impl EntryCounts {
    pub fn add(&mut self, o: &EntryCounts) {
        self.requests += o.requests;
        self.ok += o.ok;
        self.errors += o.errors;
        self.abandoned += o.abandoned;
        self.bytes += o.bytes;
        self.sent_bytes += o.sent_bytes;
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
