//! The catalogue of figures: each figure the report's tables, the terminal and the plots show,
//! declared once — its `summary.json` key, its titles, unit, precision, which way is better,
//! how it is read from a summary and which tables show it. The results table, the runs table
//! and the terminal table take their figure columns from [`CATALOGUE`] in its order, so a new
//! column there is one entry here plus the code that computes the figure.

use super::summary::{CostSpreads, FigureSet, RunFigures, Spread, VariantSummary};
use crate::figures::curve::After;
use crate::figures::Recovery;
use crate::table::{in_mib, mib, Cell, Column, Table, Value};

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
    /// The lowest and highest of the runs (bytes): A's range beside its median.
    Range(u64, u64),
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
    /// Bytes of one run's figures, or of a variant's medians over its ok runs.
    Bytes(fn(&FigureSet) -> Option<u64>),
    /// A number of one run's figures or of the medians.
    Number(fn(&FigureSet) -> Option<f64>),
    /// A count of one run's figures or of the medians.
    Count(fn(&FigureSet) -> Option<u64>),
    /// One run's figure or the medians' that is more than a number (t90 can be `never`).
    Set(fn(&FigureSet) -> Reading),
    /// The variant as a whole (the run-to-run spread): not a run's figure.
    Variant(fn(&VariantSummary) -> Reading),
    /// A cost figure (`[cost]`): its spread over the runs, and over the rounds its ratio to
    /// the reference's, both read by the same field of [`CostSpreads`].
    Cost(fn(&CostSpreads) -> Option<&Spread>),
}

/// The unit a figure's value is written in by the exports (`allocstorm export`): the base unit
/// a dashboard expects, never a display unit (bytes, not MiB; seconds, not ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaseUnit {
    Bytes,
    Seconds,
    /// A fraction, or a figure divided by the reference's.
    Ratio,
    /// Responses per second.
    PerSecond,
}

/// A figure the exports carry: its name there, the same in every format (`rss_after_drain`),
/// and the unit of its value. A `[cost]` figure carries its ratio to the reference too, named
/// `<name>_ratio`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exported {
    pub name: &'static str,
    pub unit: BaseUnit,
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
    /// `report.md`'s curve after the load: medians over the ok runs, in [`CURVE`]'s order.
    Curve,
    /// `report.md`'s soak: the slope of A over the cycles of the medians, in [`SOAK`]'s order.
    Soak,
}

/// One figure.
#[derive(Clone, Copy)]
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
    /// Whether and how `allocstorm export` carries it (docs/exports.md).
    pub export: Option<Exported>,
}

const ALL: &[View] = &[View::Results, View::Runs, View::Terminal];
const SUMMARY: &[View] = &[View::Results, View::Terminal];
const TABLES: &[View] = &[View::Results, View::Runs];

/// Declares each figure as a `pub static` and [`CATALOGUE`], the list of them in this order.
/// An entry is `NAME = Figure::new(key, title, how it is read)` followed by what differs from
/// [`Figure::new`]'s defaults.
macro_rules! figures {
    ($($(#[doc = $doc:literal])* $name:ident = $figure:expr;)*) => {
        $($(#[doc = $doc])* pub static $name: Figure = $figure;)*
        /// Every figure, in the order of the columns of the tables that show them.
        pub static CATALOGUE: &[&Figure] = &[$(&$name),*];
    };
}

figures! {
    /// Memory before the load: median RssAnon over the last second of `before`.
    B = Figure::new("rss_before_bytes", "B", Read::Bytes(|f| f.rss_before_bytes)).shown_in(ALL)
        .exported("rss_before", BaseUnit::Bytes);
    /// The highest RssAnon during the load.
    P = Figure::new("rss_peak_bytes", "P", Read::Bytes(|f| f.rss_peak_bytes)).shown_in(ALL)
        .exported("rss_peak", BaseUnit::Bytes);
    /// After the drain: median RssAnon over the last second of `drain`, the gate figure.
    A = Figure::new("rss_after_drain_bytes", "A", Read::Bytes(|f| f.rss_after_drain_bytes))
        .shown_in(ALL).headline().in_words_as("after-drain RSS")
        .exported("rss_after_drain", BaseUnit::Bytes);
    /// The lowest and highest A of the ok runs, beside the median (over two ok runs or more).
    A_RANGE = Figure::new("rss_after_drain_min_bytes", "A min–max",
        Read::Variant(a_range)).in_unit(Unit::Mib, 1).shown_in(&[View::Results]);
    /// (A − B) / (P − B).
    RETENTION = Figure::new("retention", "retention", Read::Number(|f| f.retention))
        .decimals(2).shown_in(ALL).exported("retention", BaseUnit::Ratio);
    /// Seconds from the load's end (its last request's) until RssAnon is back within 10% of the
    /// growth.
    T90 = Figure::new("t90_s", "t90", Read::Set(t90)).in_unit(Unit::Seconds, 1).shown_in(ALL)
        .exported("t90", BaseUnit::Seconds);
    /// RssAnon 1 s, 5 s and 60 s after the load's end (median of ±100 ms), and each as a
    /// share of the growth, (X − B) / (P − B): the curve A is one point of.
    RSS_1S = Figure::new("rss_after_load_1s_bytes", "1 s",
        Read::Bytes(|f| f.after_load.rss_after_load_1s_bytes))
        .shown_in(&[View::Curve]).in_words_as("RSS 1 s after the load")
        .exported("rss_after_load_1s", BaseUnit::Bytes);
    SHARE_1S = Figure::new("retention_after_load_1s", "share at 1 s",
        Read::Number(|f| f.after_load.retention_after_load_1s))
        .decimals(2).shown_in(&[View::Curve]).in_words_as("share of the growth held 1 s after the load")
        .exported("retention_after_load_1s", BaseUnit::Ratio);
    RSS_5S = Figure::new("rss_after_load_5s_bytes", "5 s",
        Read::Bytes(|f| f.after_load.rss_after_load_5s_bytes))
        .shown_in(&[View::Curve]).in_words_as("RSS 5 s after the load")
        .exported("rss_after_load_5s", BaseUnit::Bytes);
    SHARE_5S = Figure::new("retention_after_load_5s", "share at 5 s",
        Read::Number(|f| f.after_load.retention_after_load_5s))
        .decimals(2).shown_in(&[View::Curve]).in_words_as("share of the growth held 5 s after the load")
        .exported("retention_after_load_5s", BaseUnit::Ratio);
    RSS_60S = Figure::new("rss_after_load_60s_bytes", "60 s",
        Read::Bytes(|f| f.after_load.rss_after_load_60s_bytes))
        .shown_in(&[View::Curve]).in_words_as("RSS 60 s after the load")
        .exported("rss_after_load_60s", BaseUnit::Bytes);
    SHARE_60S = Figure::new("retention_after_load_60s", "share at 60 s",
        Read::Number(|f| f.after_load.retention_after_load_60s))
        .decimals(2).shown_in(&[View::Curve]).in_words_as("share of the growth held 60 s after the load")
        .exported("retention_after_load_60s", BaseUnit::Ratio);
    VSZ_AFTER_DRAIN = Figure::new("vsz_after_drain_bytes", "VSZ after drain",
        Read::Bytes(|f| f.vsz_after_drain_bytes)).on_terminal("VSZ A").shown_in(SUMMARY)
        .exported("vsz_after_drain", BaseUnit::Bytes);
    /// Ok responses per second during the load.
    THROUGHPUT = Figure::new("throughput_rps", "req/s", Read::Number(|f| f.throughput_rps))
        .higher_is_better().shown_in(ALL).exported("throughput", BaseUnit::PerSecond);
    P50 = Figure::new("latency_ms.p50", "p50", Read::Number(|f| f.latency_ms.p50))
        .in_unit(Unit::Millis, 1).shown_in(&[View::Results]);
    P99 = Figure::new("latency_ms.p99", "p99", Read::Number(|f| f.latency_ms.p99))
        .in_unit(Unit::Millis, 1).shown_in(ALL).exported("latency_p99", BaseUnit::Seconds);
    /// Requests the load's schedule made due (open loop), sent, and never sent: no connection
    /// got to them before the stop. p50, p99 and req/s are of the sent.
    INTENDED = Figure::new("requests_intended", "intended", Read::Count(|f| f.requests_intended))
        .higher_is_better().shown_in(TABLES);
    SENT = Figure::new("requests_sent", "sent", Read::Count(|f| f.requests_sent))
        .higher_is_better().shown_in(TABLES);
    UNSENT = Figure::new("requests_unsent", "unsent", Read::Count(|f| f.requests_unsent))
        .shown_in(TABLES);
    /// The run-to-run coefficient of variation of A: the noise a regression must exceed.
    CV_OF_A = Figure::new("rss_after_drain_cv", "CV of A",
        Read::Variant(|v| Reading::number(v.rss_after_drain_cv)))
        .in_unit(Unit::Percent, 1).on_terminal("CV(A)").shown_in(SUMMARY);
    /// Page faults of the server during the load (`/proc/<pid>/stat`, summed over its tree).
    MINFLT_DURING = Figure::new("minflt_during", "minor faults",
        Read::Count(|f| f.minflt_during)).shown_in(&[View::Runs]);
    MAJFLT_DURING = Figure::new("majflt_during", "major faults",
        Read::Count(|f| f.majflt_during)).shown_in(&[View::Runs]);

    VSZ_BEFORE = Figure::new("vsz_before_bytes", "VSZ B", Read::Bytes(|f| f.vsz_before_bytes));
    VSZ_PEAK = Figure::new("vsz_peak_bytes", "VSZ P", Read::Bytes(|f| f.vsz_peak_bytes));
    /// RssAnon once a trickle of traffic followed the quiet drain.
    AFTER_NUDGE = Figure::new("rss_after_nudge_bytes", "after the nudge",
        Read::Bytes(|f| f.rss_after_nudge_bytes));
    /// What a memory limit cannot take back: RssAnon less the `MADV_FREE` pages.
    LESS_LAZY_FREE = Figure::new("rss_anon_less_lazy_free_after_drain_bytes", "RssAnon − LazyFree",
        Read::Bytes(|f| f.rss_anon_less_lazy_free_after_drain_bytes));
    CGROUP_USAGE = Figure::new("cgroup_usage_after_drain_bytes", "cgroup usage",
        Read::Bytes(|f| f.cgroup_usage_after_drain_bytes));
    /// Usage less inactive file pages: what kubelet and `docker stats` report.
    WORKING_SET = Figure::new("cgroup_working_set_after_drain_bytes", "cgroup working set",
        Read::Bytes(|f| f.cgroup_working_set_after_drain_bytes));
    /// Transparent huge pages (AnonHugePages) in B's, P's and A's windows.
    THP_BEFORE = Figure::new("anon_huge_pages_before_bytes", "AnonHugePages B",
        Read::Bytes(|f| f.anon_huge_pages_before_bytes));
    THP_PEAK = Figure::new("anon_huge_pages_peak_bytes", "AnonHugePages P",
        Read::Bytes(|f| f.anon_huge_pages_peak_bytes));
    THP_AFTER_DRAIN = Figure::new("anon_huge_pages_after_drain_bytes", "AnonHugePages A",
        Read::Bytes(|f| f.anon_huge_pages_after_drain_bytes));
    ARENA_HEAPS_BEFORE = Figure::new("arena_heaps_before", "arena heaps B",
        Read::Count(|f| f.arena_heaps_before));
    ARENA_HEAPS_PEAK = Figure::new("arena_heaps_peak", "arena heaps P",
        Read::Count(|f| f.arena_heaps_peak));
    ARENA_HEAPS_AFTER_DRAIN = Figure::new("arena_heaps_after_drain", "arena heaps A",
        Read::Count(|f| f.arena_heaps_after_drain));
    SERVER_CPU_DURING = Figure::new("server_cpu_during_s", "server CPU (s) during load",
        Read::Number(|f| f.server_cpu_during_s)).decimals(2);
    SERVER_CPU_PER_1000 = Figure::new("server_cpu_s_per_1000_responses",
        "server CPU s / 1000 responses", Read::Number(|f| f.server_cpu_s_per_1000_responses))
        .decimals(3);

    /// Ok responses per second of the capacity server driven closed loop.
    CAPACITY = Figure::new("cost.capacity_rps", "capacity (ok/s)",
        Read::Cost(|c| c.capacity_rps.as_ref())).higher_is_better()
        .exported("capacity", BaseUnit::PerSecond);
    COST_P50 = Figure::new("cost.latency_p50_ms", "p50 (ms)",
        Read::Cost(|c| c.latency_p50_ms.as_ref()));
    COST_P99 = Figure::new("cost.latency_p99_ms", "p99 (ms)",
        Read::Cost(|c| c.latency_p99_ms.as_ref()));
    COST_CPU_PER_1000 = Figure::new("cost.server_cpu_s_per_1000",
        "server CPU s / 1,000 responses (kernel)", Read::Cost(|c| c.server_cpu_s_per_1000.as_ref()));
    FAULTS = Figure::new("cost.minflt_per_response", "minor faults / response",
        Read::Cost(|c| c.minflt_per_response.as_ref()));
}

/// The columns of the curve after the load, in the order of time: each point's RssAnon and its
/// share of the growth, the end of the drain being A and retention themselves.
pub static CURVE: &[&Figure] = &[
    &RSS_1S, &SHARE_1S, &RSS_5S, &SHARE_5S, &A, &RETENTION, &RSS_60S, &SHARE_60S,
];

/// A soak's figures, bytes per hour in `summary.json`, MiB per hour on the page: the slope can
/// be negative, which a size cannot. Not in [`CATALOGUE`]: a run without a soak has no `soak`
/// key, and the results tables do not show them.
const MIB_F: f64 = 1048576.0;
/// Cycles measured, the first among them.
pub static SOAK_CYCLES: Figure = Figure::new(
    "soak.cycles",
    "cycles",
    Read::Count(|f| f.soak.map(|s| s.cycles as u64)),
)
.shown_in(&[View::Soak]);
/// The slope of A after the first cycle ([`crate::figures::soak`]).
pub static SOAK_SLOPE: Figure = Figure::new(
    "soak.bytes_per_hour",
    "slope of A (MiB/h)",
    Read::Number(|f| f.soak.map(|s| s.bytes_per_hour / MIB_F)),
)
.decimals(1)
.shown_in(&[View::Soak])
.headline()
.in_words_as("growth per hour");
/// The bounds of its 95% interval.
pub static SOAK_LOW: Figure = Figure::new(
    "soak.low_bytes_per_hour",
    "95% low (MiB/h)",
    Read::Number(|f| f.soak.map(|s| s.low_bytes_per_hour / MIB_F)),
)
.decimals(1)
.shown_in(&[View::Soak]);
pub static SOAK_HIGH: Figure = Figure::new(
    "soak.high_bytes_per_hour",
    "95% high (MiB/h)",
    Read::Number(|f| f.soak.map(|s| s.high_bytes_per_hour / MIB_F)),
)
.decimals(1)
.shown_in(&[View::Soak]);
/// The columns of the soak table.
pub static SOAK: &[&Figure] = &[&SOAK_CYCLES, &SOAK_SLOPE, &SOAK_LOW, &SOAK_HIGH];

/// The figures of a point of the curve: its RssAnon and its share of the growth.
pub fn at(after: After) -> (&'static Figure, &'static Figure) {
    match after {
        After::OneSecond => (&RSS_1S, &SHARE_1S),
        After::FiveSeconds => (&RSS_5S, &SHARE_5S),
        After::Drain => (&A, &RETENTION),
        After::SixtySeconds => (&RSS_60S, &SHARE_60S),
    }
}

/// The figures `view` shows, in catalogue order.
pub fn in_view<'a>(figures: &'a [&'a Figure], view: View) -> impl Iterator<Item = &'a Figure> {
    figures
        .iter()
        .copied()
        .filter(move |f| f.views.contains(&view))
}

/// One row per variant: the `lead` columns and the cells `cells` makes of it, then the cells of
/// `figures`, their columns titled for `view`.
pub fn variants_table<const N: usize>(
    variants: &[VariantSummary],
    lead: [Column; N],
    cells: impl Fn(&VariantSummary) -> [Cell; N],
    figures: &[&Figure],
    view: View,
) -> Table {
    let mut t = Table::new(
        lead.into_iter()
            .chain(figures.iter().map(|f| f.column(view))),
    );
    for v in variants {
        let mut row = cells(v).to_vec();
        row.extend(figures.iter().map(|f| f.of_variant(v)));
        t.row(row);
    }
    t
}

/// A's range over the ok runs; none with fewer than two.
fn a_range(v: &VariantSummary) -> Reading {
    match (v.rss_after_drain_min_bytes, v.rss_after_drain_max_bytes) {
        (Some(lo), Some(hi)) if v.runs_ok >= 2 => Reading::Range(lo, hi),
        _ => Reading::Missing,
    }
}

fn t90(f: &FigureSet) -> Reading {
    match f.recovery() {
        Recovery::After(t) => Reading::Number(t),
        Recovery::Never => Reading::Never,
        Recovery::NoGrowth => Reading::Missing,
    }
}

impl Figure {
    /// A figure read by `read`: a size in MiB with one decimal, any other a plain number with
    /// none; lower is better; shown in no table, no headline. An entry of the catalogue
    /// changes these defaults with the methods below.
    pub const fn new(key: &'static str, title: &'static str, read: Read) -> Figure {
        let (unit, precision) = match read {
            Read::Bytes(_) => (Unit::Mib, 1),
            _ => (Unit::Plain, 0),
        };
        Figure {
            key,
            title,
            short: None,
            long: None,
            unit,
            precision,
            better: Better::Lower,
            read,
            views: &[],
            headline: false,
            export: None,
        }
    }

    /// Written in `unit` with `precision` decimals.
    pub const fn in_unit(self, unit: Unit, precision: usize) -> Figure {
        Figure {
            unit,
            precision,
            ..self
        }
    }

    /// A plain number with `precision` decimals.
    pub const fn decimals(self, precision: usize) -> Figure {
        self.in_unit(Unit::Plain, precision)
    }

    /// Shown in these tables.
    pub const fn shown_in(self, views: &'static [View]) -> Figure {
        Figure { views, ..self }
    }

    /// Named `short` on the terminal.
    pub const fn on_terminal(self, short: &'static str) -> Figure {
        Figure {
            short: Some(short),
            ..self
        }
    }

    pub const fn higher_is_better(self) -> Figure {
        Figure {
            better: Better::Higher,
            ..self
        }
    }

    /// Named `long` in a sentence.
    pub const fn in_words_as(self, long: &'static str) -> Figure {
        Figure {
            long: Some(long),
            ..self
        }
    }

    /// The figure its tables are about.
    pub const fn headline(self) -> Figure {
        Figure {
            headline: true,
            ..self
        }
    }

    /// Carried by the exports under `name`, its value in `unit`.
    pub const fn exported(self, name: &'static str, unit: BaseUnit) -> Figure {
        Figure {
            export: Some(Exported { name, unit }),
            ..self
        }
    }

    /// Under the name a table gives it (`RSS A` in the sweep, where VSZ has an A too).
    pub const fn titled(self, title: &'static str) -> Figure {
        Figure { title, ..self }
    }

    /// Its column title in `report.md`: `B (MiB)`, `t90 (s)`, `retention`.
    pub fn markdown_title(&self) -> String {
        match self.unit.symbol() {
            Some(u) => format!("{} ({u})", self.title),
            None => self.title.to_string(),
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
            View::Results | View::Runs | View::Curve | View::Soak => self.markdown_title(),
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
            Reading::Range(lo, hi) => Value::Text(format!("{}–{}", mib(lo), mib(hi))),
            Reading::Missing => Value::Missing,
        }
    }

    /// Its cell for a run's figures or a set of medians; missing for a figure that is not one
    /// of a run's.
    pub fn of(&self, f: &FigureSet) -> Cell {
        Cell::new(self.value(self.of_set(f).unwrap_or(Reading::Missing)))
    }

    /// Its reading of a run's figures or of a set of medians; `None` for a figure that is not
    /// one of a run's.
    pub fn of_set(&self, f: &FigureSet) -> Option<Reading> {
        Some(match self.read {
            Read::Bytes(read) => Reading::bytes(read(f)),
            Read::Number(read) => Reading::number(read(f)),
            Read::Count(read) => Reading::count(read(f)),
            Read::Set(read) => read(f),
            Read::Variant(_) | Read::Cost(_) => return None,
        })
    }

    /// Its cell for a variant: the medians over its ok runs, its spread, or its median cost.
    pub fn of_variant(&self, v: &VariantSummary) -> Cell {
        Cell::new(self.value(self.reading_of_variant(v))).strong_if(self.headline)
    }

    /// Its reading for a variant: the medians over its ok runs, its spread, or its median cost.
    pub fn reading_of_variant(&self, v: &VariantSummary) -> Reading {
        match self.read {
            Read::Variant(read) => read(v),
            Read::Cost(read) => Reading::number(
                v.cost
                    .as_ref()
                    .and_then(|c| read(&c.figures))
                    .map(|s| s.median),
            ),
            _ => self.of_set(&v.medians).unwrap_or(Reading::Missing),
        }
    }

    /// Its reading of a run's figures or of the medians as a plot places it: a size in MiB, a
    /// number or a count as it is; `None` when there is nothing to place.
    pub fn plotted(&self, f: &FigureSet) -> Option<f64> {
        match self.of_set(f)? {
            Reading::Bytes(b) => Some(in_mib(b)),
            Reading::Number(x) => Some(x),
            Reading::Count(n) => Some(n as f64),
            Reading::Never | Reading::Range(..) | Reading::Missing => None,
        }
    }

    /// Whether a run's figures or the medians have it.
    pub fn has(&self, f: &FigureSet) -> bool {
        self.of_set(f).is_some_and(|r| r != Reading::Missing)
    }

    /// Its cell for one run.
    pub fn of_run(&self, r: &RunFigures) -> Cell {
        self.of(&r.figures)
    }

    /// Its spread over the runs (`[cost]`), or `None` for a figure that has none.
    pub fn spread<'a>(&self, c: &'a CostSpreads) -> Option<&'a Spread> {
        match self.read {
            Read::Cost(read) => read(c),
            _ => None,
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
                _ => (&v, f.key),
            };
            let found = key
                .split('.')
                .try_fold(root, |node, part| node.as_object()?.get(part));
            assert!(found.is_some(), "{} is not in summary.json", f.key);
        }
    }

    /// The soak's keys are keys of a summary with a soak, each read as the figures read it.
    #[test]
    fn the_soak_keys_are_keys_of_the_summary() {
        let f = Figures {
            soak: Some(crate::figures::soak::Slope {
                cycles: 5,
                bytes_per_hour: MIB_F,
                low_bytes_per_hour: -MIB_F,
                high_bytes_per_hour: 3.0 * MIB_F,
            }),
            ..Default::default()
        };
        let with = VariantSummary::for_test("x", 1, Some(f));
        let v = serde_json::to_value(&with).unwrap();
        for fig in SOAK {
            let found = fig
                .key
                .split('.')
                .try_fold(&v, |node, part| node.as_object()?.get(part));
            assert!(found.is_some(), "{} is not in summary.json", fig.key);
        }
        assert_eq!(SOAK_SLOPE.reading_of_variant(&with), Reading::Number(1.0));
        assert_eq!(SOAK_LOW.reading_of_variant(&with), Reading::Number(-1.0));
        let without = VariantSummary::for_test("x", 1, Some(Figures::default()));
        assert_eq!(SOAK_SLOPE.reading_of_variant(&without), Reading::Missing);
    }

    /// The curve's columns are the points [`at`] names, each read as the figures read it.
    #[test]
    fn the_curve_is_the_points_of_after() {
        let f = FigureSet {
            figures: Figures {
                rss_after_drain_bytes: Some(3),
                retention: Some(0.3),
                after_load: crate::figures::curve::AfterLoad {
                    rss_after_load_1s_bytes: Some(1 << 20),
                    retention_after_load_5s: Some(0.5),
                    ..Default::default()
                },
                ..Default::default()
            },
            ..Default::default()
        };
        for after in After::ALL {
            let (bytes, share) = at(after);
            assert!(
                CURVE.iter().any(|c| c.key == bytes.key)
                    && CURVE.iter().any(|c| c.key == share.key)
            );
            assert_eq!(
                bytes.of_set(&f),
                Some(Reading::bytes(f.rss_after(after))),
                "{after:?}"
            );
            assert_eq!(
                share.of_set(&f),
                Some(Reading::number(f.share_after(after))),
                "{after:?}"
            );
        }
        assert_eq!(CURVE.len(), 2 * After::ALL.len());
    }

    /// A run's table can only show what a run has.
    #[test]
    fn the_runs_view_shows_figures_of_a_run() {
        for f in in_view(CATALOGUE, View::Runs) {
            assert!(f.of_set(&FigureSet::default()).is_some(), "{}", f.key);
        }
    }
}
