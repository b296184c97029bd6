//! Where a run's wall time goes: every step of it (start-up, each phase, the stop, the price of
//! the fix) timed as laps of one clock, so that the parts add up to no more than the whole; and
//! the sum over a comparison's runs, printed after its results (docs/measurements.md, "Where
//! the time goes").

use std::time::Duration;

use serde::{Deserialize, Serialize};
// tokio's clock: the real one, or a paused one that a test advances.
use tokio::time::Instant;

use crate::load::LoadSummary;
use crate::table::{Cell, Column, Table};

/// Whether a step's time measures something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Its samples or its load feed a figure: B, P, A, t90, the nudge's and the release's
    /// readings, capacity, latency.
    Measured,
    /// Measures nothing but is the scenario's contract: the warmups that train the allocator
    /// (glibc's dynamic mmap threshold) before anything is read.
    Conditioning,
    /// Measures nothing: starting, readying and stopping processes, reading and writing.
    Overhead,
}

/// The steps whose samples or load feed a figure; their length is the scenario's.
const MEASURED: [&str; 7] = [
    "before",
    "during",
    "drain",
    "nudge",
    "release",
    "cost capacity",
    "cost latency",
];
/// The steps that condition the server for what is measured after them.
const CONDITIONING: [&str; 2] = ["warmup", "cost warmup"];

/// What a step named `step` is.
pub fn kind_of(step: &str) -> Kind {
    if MEASURED.contains(&step) {
        Kind::Measured
    } else if CONDITIONING.contains(&step) {
        Kind::Conditioning
    } else {
        Kind::Overhead
    }
}

/// One kind of step, its time summed over every time it ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub step: String,
    pub kind: Kind,
    pub seconds: f64,
}

/// The record's `timings`: the wall time of a run (or a comparison) and its parts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    /// Wall seconds from the start to the end; the steps add up to no more than this.
    pub total_s: f64,
    /// The steps of kind `measured`, and of kind `conditioning`, summed.
    pub measured_s: f64,
    pub conditioning_s: f64,
    /// The rest of `total_s`: the steps of kind `overhead` and any time between two laps
    /// that no step took (`total_s` = `measured_s` + `conditioning_s` + `overhead_s`).
    pub overhead_s: f64,
    /// Each kind of step, in the order first met.
    pub steps: Vec<Step>,
}

impl Timings {
    /// Adds `seconds` to `step`.
    pub fn add(&mut self, step: &str, seconds: f64) {
        match self.steps.iter_mut().find(|s| s.step == step) {
            Some(s) => s.seconds += seconds,
            None => self.steps.push(Step {
                step: step.to_string(),
                kind: kind_of(step),
                seconds,
            }),
        }
    }

    /// Adds each step of `other` to this one's.
    pub fn add_steps(&mut self, other: &Timings) {
        for s in &other.steps {
            self.add(&s.step, s.seconds);
        }
    }

    /// With `total_s` and the per-kind sums filled in.
    pub fn sealed(mut self, total_s: f64) -> Timings {
        self.measured_s = self.of_kind(Kind::Measured);
        self.conditioning_s = self.of_kind(Kind::Conditioning);
        self.overhead_s = (total_s - self.measured_s - self.conditioning_s).max(0.0);
        self.total_s = total_s;
        self
    }

    fn of_kind(&self, kind: Kind) -> f64 {
        self.steps
            .iter()
            .filter(|s| s.kind == kind)
            .map(|s| s.seconds)
            .sum()
    }

    /// Where the time went, for the terminal: a line (whose figures are in `file`), then the
    /// table.
    pub fn said(&self, file: &str) -> String {
        format!(
            "Where the time went ({:.0} s, {:.0}% of it measuring; in {file}):\n{}",
            self.total_s,
            100.0 * self.measured_s / self.total_s.max(f64::MIN_POSITIVE),
            crate::table::text::render(&self.table())
        )
    }

    /// The table printed after a comparison's results: each step, then the sums by kind.
    pub fn table(&self) -> Table {
        let mut t = Table::new([
            Column::left("step"),
            Column::left("kind"),
            Column::right("seconds"),
            Column::right("share"),
        ]);
        let share = |s: f64| match self.total_s > 0.0 {
            true => Cell::text(crate::table::percent(s / self.total_s)),
            false => Cell::missing(),
        };
        let mut row = |name: &str, kind: &str, s: f64| {
            t.row(vec![
                Cell::text(name),
                Cell::text(kind),
                Cell::fixed(Some(s), 1),
                share(s),
            ])
        };
        for s in &self.steps {
            row(&s.step, kind_name(s.kind), s.seconds);
        }
        let parts: f64 = self.steps.iter().map(|s| s.seconds).sum();
        row(
            "(not in a step)",
            "overhead",
            (self.total_s - parts).max(0.0),
        );
        row("measured", "", self.measured_s);
        row("conditioning", "", self.conditioning_s);
        row("overhead", "", self.overhead_s);
        row("total", "", self.total_s);
        t
    }
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Measured => "measured",
        Kind::Conditioning => "conditioning",
        Kind::Overhead => "overhead",
    }
}

/// Times a run's steps as laps: each lap is the time since the previous one, so no instant is
/// counted twice and none is lost between two steps.
#[derive(Debug, Clone)]
pub struct Stopwatch {
    started: Instant,
    last: Instant,
    timings: Timings,
}

impl Stopwatch {
    /// A stopwatch whose first lap starts at `at`.
    pub fn since(at: Instant) -> Stopwatch {
        Stopwatch {
            started: at,
            last: at,
            timings: Timings::default(),
        }
    }

    /// The time since the last lap, as `step`.
    pub fn lap(&mut self, step: &str) {
        self.lap_at(step, Instant::now());
    }

    /// The time from the last lap to `at` as `step` (nothing if `at` is before the last lap).
    pub fn lap_at(&mut self, step: &str, at: Instant) {
        let d = at.saturating_duration_since(self.last);
        self.timings.add(step, d.as_secs_f64());
        self.last = self.last.max(at);
    }

    /// A load that has just returned, in three laps: its workers' start until the load's,
    /// the load until its last answer (as `name`), and the workers' end after it. Only the
    /// middle one measures. A load that sent nothing laps nothing here.
    pub fn lap_load(&mut self, name: &str, s: &LoadSummary) {
        let (Some(started), Some(ended)) = (s.started, s.ended_s) else {
            return;
        };
        self.lap_at("load start", started);
        self.lap_at(name, started + Duration::from_secs_f64(ended.max(0.0)));
        self.lap("load end");
    }

    /// The timings so far: the laps, within the time since the start.
    pub fn timings(&self) -> Timings {
        let total = Instant::now().saturating_duration_since(self.started);
        self.timings.clone().sealed(total.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn laps_add_up_to_the_time_since_the_start_and_sum_by_kind() {
        let mut w = Stopwatch::since(Instant::now());
        tokio::time::advance(Duration::from_millis(300)).await;
        w.lap("server start");
        tokio::time::advance(Duration::from_secs(2)).await;
        w.lap("during");
        tokio::time::advance(Duration::from_secs(1)).await;
        w.lap("warmup");
        tokio::time::advance(Duration::from_secs(3)).await;
        w.lap("during");
        tokio::time::advance(Duration::from_millis(200)).await;
        let t = w.timings();
        let steps: Vec<(&str, Kind, f64)> = t
            .steps
            .iter()
            .map(|s| (s.step.as_str(), s.kind, s.seconds))
            .collect();
        assert_eq!(
            steps,
            [
                ("server start", Kind::Overhead, 0.3),
                ("during", Kind::Measured, 5.0),
                ("warmup", Kind::Conditioning, 1.0),
            ]
        );
        assert_eq!(
            (t.total_s, t.measured_s, t.conditioning_s, t.overhead_s),
            (6.5, 5.0, 1.0, 0.5)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_lap_at_an_instant_already_counted_counts_nothing_twice() {
        let start = Instant::now();
        let mut w = Stopwatch::since(start);
        tokio::time::advance(Duration::from_secs(2)).await;
        w.lap("drain");
        w.lap_at("load start", start + Duration::from_secs(1));
        let t = w.timings();
        assert_eq!(t.steps[0].seconds, 2.0);
        assert_eq!(t.steps[1].seconds, 0.0);
        assert_eq!(t.total_s, 2.0);
    }

    #[test]
    fn a_comparison_sums_each_step_over_its_runs() {
        let run = |d: f64| {
            let mut t = Timings::default();
            t.add("drain", d);
            t.add("server stop", 0.5);
            t.sealed(d + 1.0)
        };
        let mut t = Timings::default();
        t.add_steps(&run(10.0));
        t.add_steps(&run(12.0));
        let t = t.sealed(30.0);
        // Overhead: the two stops and the 7 s that no step took.
        assert_eq!((t.measured_s, t.overhead_s, t.total_s), (22.0, 8.0, 30.0));
        let text = crate::table::text::render(&t.table());
        assert!(text.contains("server stop"), "{text}");
    }
}
