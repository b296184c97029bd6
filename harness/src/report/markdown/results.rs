//! `## Results`: the figures table (medians over the ok runs), what its columns mean, and the
//! timeline and summary plots.

use super::Page;
use std::fmt::Write as _;

use super::status;
use crate::figures::MIN_GROWTH_FOR_RETENTION;
use crate::report::catalogue::{in_view, variants_table, Figure, View, CATALOGUE};
use crate::report::summary::{Summary, VariantSummary, OVERLOAD_UNSENT_SHARE};
use crate::table::{markdown, Cell, Column, Table};

/// The figures table, its legend and the RSS plots.
pub(super) fn figures_table(s: &Summary, out: &mut Page) {
    out.push_str("## Results\n\n");
    out.table(&table(&s.variants, CATALOGUE));
    let _ = writeln!(
        out,
        "\nMedians over the ok runs of RssAnon. **B**: median over the last second of `before`; **P**: highest \
         during the load; **A**: median over the last second of `drain`, the gate figure; **A min–max**: the lowest and highest A of the ok runs (with two or more); \
         **retention** \
         (A − B) / (P − B), blank when P − B < {} MiB; **t90**: seconds from the load's end (its last request's \
         answer, or the moment it was given up) until RssAnon is back within 10% of the growth during the drain \
         (`never` if it did not; records written before the load's end was kept count from the end of `during`); \
         **VSZ** after drain; **req/s** ok responses per second and **p50**, **p99** latency from the intended send time, \
         during the load, all of the **sent** requests; **intended**: requests the load's schedule made due (open loop), \
         **unsent**: those no connection got to before the load stopped (more than {}% unsent marks a run overloaded, in \
         the runs and the warnings); **CV of A**: run-to-run coefficient of \
         variation (sample standard deviation / mean) of A, the noise a regression must exceed.\n",
        MIN_GROWTH_FOR_RETENTION >> 20,
        OVERLOAD_UNSENT_SHARE * 100.0
    );
    if s.scenario.series.is_empty() {
        out.push_str("![RssAnon over time, one line per variant](rss-timeline.png)\n\n");
    } else {
        out.push_str("![RssAnon over time and, under it, the series the scenario declares, one line per variant](rss-timeline.png)\n\n");
    }
    out.push_str("![RssAnon before, at peak and after drain per variant](rss-summary.png)\n\n");
    out.push_str("Vector versions: [rss-timeline.svg](rss-timeline.svg), [rss-summary.svg](rss-summary.svg).\n\n");
}

/// The figures of the results view, one row per variant: medians over its ok runs.
fn table(variants: &[VariantSummary], catalogue: &[&Figure]) -> Table {
    let figures: Vec<&Figure> = in_view(catalogue, View::Results).collect();
    let lead = [
        Column::left("variant"),
        Column::left("status"),
        Column::right("runs"),
    ];
    let cells = |v: &VariantSummary| [Cell::text(&v.name), status(&v.status), runs(v)];
    variants_table(variants, lead, cells, &figures, View::Results)
}

/// `3`, or `3 (2 ok)` when not every run was ok.
fn runs(v: &VariantSummary) -> Cell {
    Cell::text(if v.runs_ok == v.runs {
        v.runs.to_string()
    } else {
        format!("{} ({} ok)", v.runs, v.runs_ok)
    })
}

/// The header line of the figures table, without its newline (tests and readers look for it).
pub fn table_header() -> String {
    let header = markdown::render(&table(&[], CATALOGUE));
    header.lines().next().unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figures::Figures;
    use crate::report::catalogue::Read;
    use crate::table::text;

    /// A figure no table shows yet: what adding a column costs is this entry.
    static AFTER_RELEASE: Figure = Figure::new(
        "rss_after_release_bytes",
        "after release",
        Read::Bytes(|f| f.rss_after_release_bytes),
    )
    .on_terminal("rel")
    .shown_in(&[View::Results, View::Terminal]);

    fn summary() -> Summary {
        let f = Figures {
            rss_after_drain_bytes: Some(30 << 20),
            rss_after_release_bytes: Some(12 << 20),
            ..Default::default()
        };
        Summary::of(vec![VariantSummary::for_test("glibc", 3, Some(f))])
    }

    #[test]
    fn a_catalogue_entry_is_a_column_of_the_results_and_of_the_terminal() {
        let catalogue: Vec<&Figure> = CATALOGUE.iter().copied().chain([&AFTER_RELEASE]).collect();
        let s = summary();
        let md = markdown::render(&table(&s.variants, &catalogue));
        let lines: Vec<&str> = md.lines().collect();
        assert!(
            lines[0].ends_with("| CV of A | after release (MiB) |"),
            "{md}"
        );
        assert!(lines[1].ends_with("|--:|--:|"), "{md}");
        assert!(lines[2].ends_with("| – | 12.0 |"), "{md}");
        let term = text::render(&crate::report::text::figures_table(&s, &catalogue));
        let lines: Vec<&str> = term.lines().collect();
        assert!(lines[0].ends_with("CV(A)  rel MiB"), "{term}");
        assert!(lines[1].ends_with("-     12.0"), "{term}");
    }

    #[test]
    fn the_header_is_the_tables_and_a_missing_a_is_not_bold() {
        let mut s = summary();
        s.variants = vec![VariantSummary::for_test("oom", 1, None)];
        let md = markdown::render(&table(&s.variants, CATALOGUE));
        assert_eq!(md.lines().next(), Some(table_header().as_str()));
        assert!(
            md.contains("| oom | **failed** | 1 (0 ok) | – | – | – |"),
            "{md}"
        );
    }
}
