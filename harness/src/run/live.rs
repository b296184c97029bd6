//! A run's state while it runs, shared by its tasks on one thread: the clock, the event
//! stream, the record being built from it, the phase in progress and the progress line.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

// tokio's clock: the real one, or a paused one that a test advances.
use tokio::time::Instant;

use crate::figures::PhaseMark;
use crate::progress::Progress;
use crate::record::{Event, EventLog, RecordBuilder};
use crate::run::timings::Stopwatch;

pub struct Live {
    t0: Instant,
    log: Option<EventLog>,
    /// The first write to the stream that failed: measuring goes on, the run reports it.
    pub log_error: Option<String>,
    /// The record, built from the events as they are streamed.
    pub record: RecordBuilder,
    /// The phase in progress: name, start, planned length.
    pub phase: (String, Instant, Duration),
    /// Requests answered in the load's last second, for the progress line.
    pub last_rps: Option<f64>,
    pub progress: Progress,
    /// The server's address, once it is ready: the stats poller waits for it.
    pub addr: Option<SocketAddr>,
    /// The phase in progress, or `""` between two: the stats poller follows it.
    phase_now: tokio::sync::watch::Sender<String>,
    /// Where the run's time goes: each phase a lap, and what came between two phases.
    pub watch: Stopwatch,
}

pub type LiveRef = Rc<RefCell<Live>>;

impl Live {
    /// `log: None` streams nowhere (tests).
    pub fn new(log: Option<EventLog>, progress: Progress) -> LiveRef {
        Rc::new(RefCell::new(Live {
            t0: Instant::now(),
            log,
            log_error: None,
            record: RecordBuilder::default(),
            phase: ("startup".into(), Instant::now(), Duration::from_secs(10)),
            last_rps: None,
            progress,
            addr: None,
            phase_now: tokio::sync::watch::Sender::new("startup".into()),
            watch: Stopwatch::since(Instant::now()),
        }))
    }

    /// Follows the phase in progress (`""` between two phases).
    pub fn watch_phase(&self) -> tokio::sync::watch::Receiver<String> {
        self.phase_now.subscribe()
    }

    /// Seconds since the run began.
    pub fn now(&self) -> f64 {
        self.t0.elapsed().as_secs_f64()
    }

    /// `at` in seconds since the run began; `None` for an instant before it.
    pub fn t_of(&self, at: Instant) -> Option<f64> {
        at.checked_duration_since(self.t0).map(|d| d.as_secs_f64())
    }

    /// Streams `e` and applies it to the record.
    pub fn emit(&mut self, e: Event) {
        if let Some(log) = &mut self.log {
            if let Err(err) = log.write(&e) {
                // Keep measuring; report once at the end.
                self.log_error
                    .get_or_insert_with(|| format!("{}: {err}", log.path.display()));
            }
        }
        self.record.apply(&e);
    }

    pub fn begin(&mut self, name: &str, planned: Duration) {
        self.watch.lap("between phases");
        let t = self.now();
        self.emit(Event::Phase(PhaseMark {
            name: name.to_string(),
            start: t,
            end: t,
        }));
        self.phase = (name.to_string(), Instant::now(), planned);
        self.phase_now.send_replace(name.to_string());
        self.last_rps = None;
        self.progress.phase(name, planned);
    }

    /// Ends the phase in progress, if one is: after a run's last phase has ended, a second
    /// call (the clean-up after an interrupt or a failure) changes nothing.
    pub fn end(&mut self) {
        let t = self.now();
        if let Some(m) = self
            .record
            .phases
            .last()
            .filter(|m| m.end <= m.start)
            .cloned()
        {
            self.watch.lap(&m.name);
            self.emit(Event::Phase(PhaseMark { end: t, ..m }));
        }
        self.phase_now.send_replace(String::new());
    }
}
