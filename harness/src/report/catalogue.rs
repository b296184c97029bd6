//! The catalogue of figures: each figure the report's tables, the terminal and the plots show,
//! declared once — its `summary.json` key, its titles, unit, precision, which way is better,
//! how it is read from a summary and which tables show it. The results table, the runs table
//! and the terminal table take their figure columns from [`CATALOGUE`] in its order, so a new
//! column there is one entry here plus the code that computes the figure.

use super::summary::{CostSpreads, FigureSet, RunFigures, Spread, VariantSummary};
use crate::figures::Recovery;
use crate::table::{Cell, Column, Value};

/// Which way a figure is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Lower,
    Higher,
}

impl Better {
    /// The side of a plot's axis where the better values lie: `left` or `right`.
    pub fn side(self) -> &'static str {
        match self {
            Better::Lower => "left",
            Better::Higher => "right",
        }
    }
}

/// The unit a figure is written in; its symbol goes into the column title.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Bytes, written in MiB with one decimal ([`crate::table::mib`]).
    Mib,
    Seconds,
    Millis,
    /// A fraction written as a percentage.
    Percent,
    /// A number whose title says what it counts (`req/s`, `retention`).
    Plain,
}

impl Unit {
    /// What the title says after the figure's name: `MiB`, `s`, `ms`, or nothing.
    pub fn symbol(self) -> Option<&'static str> {
        match self {
            Unit::Mib => Some("MiB"),
            Unit::Seconds => Some("s"),
            Unit::Millis => Some("ms"),
            Unit::Percent | Unit::Plain => None,
        }
    }
}

/// A figure as read from a summary, before it is written.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reading {
    Bytes(u64),
    Number(f64),
    Count(u64),
    /// t90 when memory grew and did not come back.
    Never,
    Missing,
}

impl Reading {
    pub fn bytes(v: Option<u64>) -> Reading {
        v.map_or(Reading::Missing, Reading::Bytes)
    }
    pub fn number(v: Option<f64>) -> Reading {
        v.map_or(Reading::Missing, Reading::Number)
    }
    pub fn count(v: Option<u64>) -> Reading {
        v.map_or(Reading::Missing, Reading::Count)
    }
}

/// Where a figure is read from.
#[derive(Clone, Copy)]
pub enum Read {
    /// One run's figures, or a variant's medians over its ok runs.
    Set(fn(&FigureSet) -> Reading),
    /// The variant as a whole (the run-to-run spread): not a run's figure.
    Variant(fn(&VariantSummary) -> Reading),
    /// A cost figure (`[cost]`): its spread over the runs, and over the rounds its ratio to
    /// the reference's, both read by the same field of [`CostSpreads`].
    Cost(fn(&CostSpreads) -> Option<&Spread>),
}

/// The tables whose figure columns come from the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// `report.md`'s results: medians over the ok runs.
    Results,
    /// `report.md`'s runs: each run's own figures.
    Runs,
    /// The table on the terminal after `compare` and `report`.
    Terminal,
}

/// One figure.
pub struct Figure {
    /// Its key in `summary.json`, as a path within a variant (`latency_ms.p99`).
    pub key: &'static str,
    /// Its name in `report.md`'s column titles: `B`, `VSZ after drain`.
    pub title: &'static str,
    /// Its name on the terminal, where it differs: `VSZ A`, `CV(A)`.
    pub short: Option<&'static str>,
    /// Its name in a sentence, where the title is a letter: `after-drain RSS`.
    pub long: Option<&'static str>,
    pub unit: Unit,
    /// Decimals of a number (a size is always MiB with one, a ratio has the digits it deserves).
    pub precision: usize,
    pub better: Better,
    pub read: Read,
    /// The tables that show it.
    pub views: &'static [View],
    /// The figure a table is about: bold in Markdown.
    pub headline: bool,
}

const ALL: &[View] = &[View::Results, View::Runs, View::Terminal];
const SUMMARY: &[View] = &[View::Results, View::Terminal];

/// A figure of one run or of the medians, shown in no table of its own.
const fn set(
    key: &'static str,
    title: &'static str,
    unit: Unit,
    precision: usize,
    read: fn(&FigureSet) -> Reading,
) -> Figure {
    Figure {
        key,
        title,
        short: None,
        long: None,
        unit,
        precision,
        better: Better::Lower,
        read: Read::Set(read),
        views: &[],
        headline: false,
    }
}

/// A cost figure (`[cost]`) and its ratio to the reference's.
const fn cost(
    key: &'static str,
    title: &'static str,
    better: Better,
    read: fn(&CostSpreads) -> Option<&Spread>,
) -> Figure {
    Figure {
        key,
        title,
        short: None,
        long: None,
        unit: Unit::Plain,
        precision: 0,
        better,
        read: Read::Cost(read),
        views: &[],
        headline: false,
    }
}

/// Memory before the load: median RssAnon over the last second of `before`.
pub static B: Figure = Figure {
    views: ALL,
    ..set("rss_before_bytes", "B", Unit::Mib, 1, |f| {
        Reading::bytes(f.rss_before_bytes)
    })
};
/// The highest RssAnon during the load.
pub static P: Figure = Figure {
    views: ALL,
    ..set("rss_peak_bytes", "P", Unit::Mib, 1, |f| {
        Reading::bytes(f.rss_peak_bytes)
    })
};
/// After the drain: median RssAnon over the last second of `drain`, the gate figure.
pub static A: Figure = Figure {
    views: ALL,
    headline: true,
    long: Some("after-drain RSS"),
    ..set("rss_after_drain_bytes", "A", Unit::Mib, 1, |f| {
        Reading::bytes(f.rss_after_drain_bytes)
    })
};
/// (A − B) / (P − B).
pub static RETENTION: Figure = Figure {
    views: ALL,
    ..set("retention", "retention", Unit::Plain, 2, |f| {
        Reading::number(f.retention)
    })
};
/// Seconds from the load stop until RssAnon is back within 10% of the growth.
pub static T90: Figure = Figure {
    views: ALL,
    ..set("t90_s", "t90", Unit::Seconds, 1, t90)
};
pub static VSZ_AFTER_DRAIN: Figure = Figure {
    short: Some("VSZ A"),
    views: SUMMARY,
    ..set(
        "vsz_after_drain_bytes",
        "VSZ after drain",
        Unit::Mib,
        1,
        |f| Reading::bytes(f.vsz_after_drain_bytes),
    )
};
/// Ok responses per second during the load.
pub static THROUGHPUT: Figure = Figure {
    views: ALL,
    better: Better::Higher,
    ..set("throughput_rps", "req/s", Unit::Plain, 0, |f| {
        Reading::number(f.throughput_rps)
    })
};
pub static P50: Figure = Figure {
    views: &[View::Results],
    ..set("latency_ms.p50", "p50", Unit::Millis, 1, |f| {
        Reading::number(f.latency_ms.p50)
    })
};
pub static P99: Figure = Figure {
    views: ALL,
    ..set("latency_ms.p99", "p99", Unit::Millis, 1, |f| {
        Reading::number(f.latency_ms.p99)
    })
};
/// The run-to-run coefficient of variation of A: the noise a regression must exceed.
pub static CV_OF_A: Figure = Figure {
    key: "rss_after_drain_cv",
    title: "CV of A",
    short: Some("CV(A)"),
    long: None,
    unit: Unit::Percent,
    precision: 1,
    better: Better::Lower,
    read: Read::Variant(|v| Reading::number(v.rss_after_drain_cv)),
    views: SUMMARY,
    headline: false,
};

pub static VSZ_BEFORE: Figure = set("vsz_before_bytes", "VSZ B", Unit::Mib, 1, |f| {
    Reading::bytes(f.vsz_before_bytes)
});
pub static VSZ_PEAK: Figure = set("vsz_peak_bytes", "VSZ P", Unit::Mib, 1, |f| {
    Reading::bytes(f.vsz_peak_bytes)
});
/// RssAnon once a trickle of traffic followed the quiet drain.
pub static AFTER_NUDGE: Figure = set(
    "rss_after_nudge_bytes",
    "after the nudge",
    Unit::Mib,
    1,
    |f| Reading::bytes(f.rss_after_nudge_bytes),
);
/// What a memory limit cannot take back: RssAnon less the `MADV_FREE` pages.
pub static LESS_LAZY_FREE: Figure = set(
    "rss_anon_less_lazy_free_after_drain_bytes",
    "RssAnon − LazyFree",
    Unit::Mib,
    1,
    |f| Reading::bytes(f.rss_anon_less_lazy_free_after_drain_bytes),
);
pub static CGROUP_USAGE: Figure = set(
    "cgroup_usage_after_drain_bytes",
    "cgroup usage",
    Unit::Mib,
    1,
    |f| Reading::bytes(f.cgroup_usage_after_drain_bytes),
);
/// Usage less inactive file pages: what kubelet and `docker stats` report.
pub static WORKING_SET: Figure = set(
    "cgroup_working_set_after_drain_bytes",
    "cgroup working set",
    Unit::Mib,
    1,
    |f| Reading::bytes(f.cgroup_working_set_after_drain_bytes),
);
pub static ARENA_HEAPS_BEFORE: Figure =
    set("arena_heaps_before", "arena heaps B", Unit::Plain, 0, |f| {
        Reading::count(f.arena_heaps_before)
    });
pub static ARENA_HEAPS_PEAK: Figure =
    set("arena_heaps_peak", "arena heaps P", Unit::Plain, 0, |f| {
        Reading::count(f.arena_heaps_peak)
    });
pub static ARENA_HEAPS_AFTER_DRAIN: Figure = set(
    "arena_heaps_after_drain",
    "arena heaps A",
    Unit::Plain,
    0,
    |f| Reading::count(f.arena_heaps_after_drain),
);
pub static SERVER_CPU_DURING: Figure = set(
    "server_cpu_during_s",
    "server CPU (s) during load",
    Unit::Plain,
    2,
    |f| Reading::number(f.server_cpu_during_s),
);
pub static SERVER_CPU_PER_1000: Figure = set(
    "server_cpu_s_per_1000_responses",
    "server CPU s / 1000 responses",
    Unit::Plain,
    3,
    |f| Reading::number(f.server_cpu_s_per_1000_responses),
);

/// Ok responses per second of the capacity server driven closed loop.
pub static CAPACITY: Figure = cost(
    "cost.capacity_rps",
    "capacity (ok/s)",
    Better::Higher,
    |c| c.capacity_rps.as_ref(),
);
pub static COST_P50: Figure = cost("cost.latency_p50_ms", "p50 (ms)", Better::Lower, |c| {
    c.latency_p50_ms.as_ref()
});
pub static COST_P99: Figure = cost("cost.latency_p99_ms", "p99 (ms)", Better::Lower, |c| {
    c.latency_p99_ms.as_ref()
});
pub static COST_CPU_PER_1000: Figure = cost(
    "cost.server_cpu_s_per_1000",
    "server CPU s / 1,000 responses (kernel)",
    Better::Lower,
    |c| c.server_cpu_s_per_1000.as_ref(),
);
pub static FAULTS: Figure = cost(
    "cost.minflt_per_response",
    "minor faults / response",
    Better::Lower,
    |c| c.minflt_per_response.as_ref(),
);

/// Every figure, in the order of the columns of the tables that show them.
pub static CATALOGUE: &[&Figure] = &[
    &B,
    &P,
    &A,
    &RETENTION,
    &T90,
    &VSZ_AFTER_DRAIN,
    &THROUGHPUT,
    &P50,
    &P99,
    &CV_OF_A,
    &VSZ_BEFORE,
    &VSZ_PEAK,
    &AFTER_NUDGE,
    &LESS_LAZY_FREE,
    &CGROUP_USAGE,
    &WORKING_SET,
    &ARENA_HEAPS_BEFORE,
    &ARENA_HEAPS_PEAK,
    &ARENA_HEAPS_AFTER_DRAIN,
    &SERVER_CPU_DURING,
    &SERVER_CPU_PER_1000,
    &CAPACITY,
    &COST_P50,
    &COST_P99,
    &COST_CPU_PER_1000,
    &FAULTS,
];

/// The figures `view` shows, in catalogue order.
pub fn in_view<'a>(figures: &'a [&'a Figure], view: View) -> impl Iterator<Item = &'a Figure> {
    figures
        .iter()
        .copied()
        .filter(move |f| f.views.contains(&view))
}

fn t90(f: &FigureSet) -> Reading {
    match f.recovery() {
        Recovery::After(t) => Reading::Number(t),
        Recovery::Never => Reading::Never,
        Recovery::NoGrowth => Reading::Missing,
    }
}

impl Figure {
    /// Its column title in `report.md`: `B (MiB)`, `t90 (s)`, `retention`.
    pub fn markdown_title(&self) -> String {
        self.markdown_title_as(self.title)
    }

    /// Its column title in `report.md` under the name a table gives it (`RSS A` in the sweep,
    /// where VSZ has an A too): `RSS A (MiB)`.
    pub fn markdown_title_as(&self, name: &str) -> String {
        match self.unit.symbol() {
            Some(u) => format!("{name} ({u})"),
            None => name.to_string(),
        }
    }

    /// Its name in a sentence: `after-drain RSS`, `retention`.
    pub fn in_words(&self) -> &'static str {
        self.long.unwrap_or(self.title)
    }

    /// Its column title on the terminal: `B MiB`, `t90 s`, `CV(A)`.
    pub fn text_title(&self) -> String {
        let name = self.short.unwrap_or(self.title);
        match self.unit.symbol() {
            Some(u) => format!("{name} {u}"),
            None => name.to_string(),
        }
    }

    /// Its column in `view`.
    pub fn column(&self, view: View) -> Column {
        Column::right(match view {
            View::Terminal => self.text_title(),
            View::Results | View::Runs => self.markdown_title(),
        })
    }

    /// A reading as the value a table writes.
    pub fn value(&self, r: Reading) -> Value {
        match r {
            Reading::Bytes(b) => Value::Mib(b),
            Reading::Count(n) => Value::Count(n),
            Reading::Number(x) if self.unit == Unit::Percent => Value::Percent(x),
            Reading::Number(x) => Value::Fixed(x, self.precision),
            Reading::Never => Value::Text("never".into()),
            Reading::Missing => Value::Missing,
        }
    }

    /// Its cell for a run's figures or a set of medians; missing for a figure that is not one
    /// of a run's.
    pub fn of(&self, f: &FigureSet) -> Cell {
        let r = match self.read {
            Read::Set(read) => read(f),
            Read::Variant(_) | Read::Cost(_) => Reading::Missing,
        };
        Cell::new(self.value(r))
    }

    /// Its cell for a variant: the medians over its ok runs, its spread, or its median cost.
    pub fn of_variant(&self, v: &VariantSummary) -> Cell {
        let r = match self.read {
            Read::Set(read) => read(&v.medians),
            Read::Variant(read) => read(v),
            Read::Cost(read) => Reading::number(
                v.cost
                    .as_ref()
                    .and_then(|c| read(&c.figures))
                    .map(|s| s.median),
            ),
        };
        Cell::new(self.value(r)).strong_if(self.headline)
    }

    /// Its cell for one run.
    pub fn of_run(&self, r: &RunFigures) -> Cell {
        self.of(&r.figures)
    }

    /// Its spread over the runs (`[cost]`), or `None` for a figure that has none.
    pub fn spread<'a>(&self, c: &'a CostSpreads) -> Option<&'a Spread> {
        match self.read {
            Read::Cost(read) => read(c),
            Read::Set(_) | Read::Variant(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figures::Figures;

    #[test]
    fn titles_follow_the_unit_in_each_syntax() {
        assert_eq!(B.markdown_title(), "B (MiB)");
        assert_eq!(B.text_title(), "B MiB");
        assert_eq!(VSZ_AFTER_DRAIN.markdown_title(), "VSZ after drain (MiB)");
        assert_eq!(VSZ_AFTER_DRAIN.text_title(), "VSZ A MiB");
        assert_eq!(CV_OF_A.markdown_title(), "CV of A");
        assert_eq!(CV_OF_A.text_title(), "CV(A)");
        assert_eq!(T90.text_title(), "t90 s");
        assert_eq!(P99.markdown_title(), "p99 (ms)");
        assert_eq!(A.in_words(), "after-drain RSS");
        assert_eq!(RETENTION.in_words(), "retention");
    }

    #[test]
    fn t90_says_never_only_after_growth() {
        const M: u64 = 1 << 20;
        let grew = Figures {
            rss_before_bytes: Some(M),
            rss_peak_bytes: Some(100 * M),
            ..Default::default()
        };
        let set = |figures: Figures| FigureSet {
            figures,
            ..Default::default()
        };
        let written = |f: &FigureSet| T90.of(f).value.written();
        assert_eq!(written(&set(grew.clone())).as_deref(), Some("never"));
        let recovered = Figures {
            t90_s: Some(1.25),
            ..grew
        };
        assert_eq!(written(&set(recovered)).as_deref(), Some("1.2"));
        assert_eq!(written(&FigureSet::default()), None);
    }

    /// Each key names a field of `summary.json` as it is serialized.
    #[test]
    fn every_key_is_a_key_of_the_summary() {
        let v = serde_json::to_value(VariantSummary::for_test("x", 1, None)).unwrap();
        let cost = serde_json::to_value(CostSpreads::default()).unwrap();
        for f in CATALOGUE {
            let (root, key) = match f.read {
                Read::Cost(_) => (&cost, f.key.strip_prefix("cost.").unwrap()),
                Read::Set(_) | Read::Variant(_) => (&v, f.key),
            };
            let found = key
                .split('.')
                .try_fold(root, |node, part| node.as_object()?.get(part));
            assert!(found.is_some(), "{} is not in summary.json", f.key);
        }
    }

    /// A run's table can only show what a run has.
    #[test]
    fn the_runs_view_shows_figures_of_a_run() {
        for f in in_view(CATALOGUE, View::Runs) {
            assert!(matches!(f.read, Read::Set(_)), "{}", f.key);
        }
    }
}
