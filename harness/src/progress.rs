//! What a person watching a run sees: a line per phase with time left, live RssAnon and req/s.
//! On a terminal the line updates in place; otherwise (CI logs) a plain line per phase and one
//! every few seconds.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use allocstorm_core::units::format_size;

pub struct Progress {
    label: String,
    tty: bool,
    enabled: bool,
    last_plain: Option<Instant>,
}

impl Progress {
    pub fn new(label: String, enabled: bool) -> Self {
        Self {
            label,
            tty: std::io::stderr().is_terminal(),
            enabled,
            last_plain: None,
        }
    }

    /// A phase begins.
    pub fn phase(&mut self, name: &str, planned: Duration) {
        if !self.enabled {
            return;
        }
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(err, "\r\x1b[2K");
        }
        let _ = writeln!(
            err,
            "[{}] {name} ({:.1}s)",
            self.label,
            planned.as_secs_f64()
        );
        self.last_plain = Some(Instant::now());
    }

    /// The live state, about once a second.
    pub fn tick(&mut self, phase: &str, left: Duration, rss_anon: u64, rps: Option<f64>) {
        if !self.enabled {
            return;
        }
        let rps = rps.map(|r| format!("  {r:.0} req/s")).unwrap_or_default();
        let line = format!(
            "[{}] {phase:<7} {:>5.1}s left  RssAnon {:>10}{rps}",
            self.label,
            left.as_secs_f64(),
            format_size(rss_anon)
        );
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(err, "\r\x1b[2K{line}");
            let _ = err.flush();
        } else if self
            .last_plain
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(5))
        {
            let _ = writeln!(err, "{line}");
            self.last_plain = Some(Instant::now());
        }
    }

    /// A final line (and the end of the in-place line).
    pub fn done(&mut self, msg: &str) {
        if !self.enabled {
            return;
        }
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(err, "\r\x1b[2K");
        }
        let _ = writeln!(err, "[{}] {msg}", self.label);
    }
}
