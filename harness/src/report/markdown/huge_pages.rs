//! `## Transparent huge pages`: AnonHugePages in B's, P's and A's windows per variant, the THP
//! mode the runs had, and a line for each variant whose memory after the drain is mostly huge
//! pages; one sentence instead of the table when no variant had any.

use super::Page;
use std::fmt::Write as _;

use crate::report::catalogue::{Figure, View, A, THP_AFTER_DRAIN, THP_BEFORE, THP_PEAK};
use crate::report::summary::{Summary, VariantSummary};
use crate::table::{mib, Cell, Column, Table};

/// AnonHugePages at B, P and A, then A itself.
const FIGURES: [Figure; 4] = [
    THP_BEFORE,
    THP_PEAK,
    THP_AFTER_DRAIN,
    A.titled("A: RssAnon"),
];

/// Whether a variant has a huge-page figure (records with no smaps reading have none).
fn has_figures(v: &VariantSummary) -> bool {
    let f = v.figures_shown().0;
    FIGURES[..3].iter().any(|x| x.has(f))
}

/// Whether any of its huge-page figures is above zero.
fn has_huge_pages(v: &VariantSummary) -> bool {
    let f = v.figures_shown().0;
    [
        f.anon_huge_pages_before_bytes,
        f.anon_huge_pages_peak_bytes,
        f.anon_huge_pages_after_drain_bytes,
    ]
    .iter()
    .any(|x| x.is_some_and(|b| b > 0))
}

/// `mimalloc: 214.0 of 225.0 MiB after the drain is AnonHugePages (its median run, 3)`, when
/// it is more than half. Both from the median run: the medians of the two figures over the
/// runs may come from different runs, and a part must be of its own whole.
fn mostly_huge(v: &VariantSummary) -> Option<String> {
    let run = v
        .run_figures
        .iter()
        .find(|r| Some(r.run_index) == v.median_run_index)?;
    let f = &run.figures;
    let (thp, a) = (
        f.anon_huge_pages_after_drain_bytes?,
        f.rss_after_drain_bytes?,
    );
    (thp > 0 && 2 * thp > a).then(|| {
        format!(
            "`{}`: {} of {} MiB after the drain is AnonHugePages (its median run, {}).",
            v.name,
            mib(thp),
            mib(a),
            run.run_index
        )
    })
}

fn table(s: &Summary) -> Table {
    let mut t = Table::new(
        std::iter::once(Column::left("variant"))
            .chain(FIGURES.iter().map(|f| f.column(View::Results))),
    );
    for v in s.variants.iter().filter(|v| has_figures(v)) {
        let (f, measured) = v.figures_shown();
        let mut row = vec![Cell::text(&v.name)];
        row.extend(FIGURES.iter().map(|fig| fig.of(f).italic_if(measured)));
        t.row(row);
    }
    t
}

/// `enabled `madvise`, defrag `madvise``, from the first run's environment.
fn mode(s: &Summary) -> String {
    let e = &s.environment;
    let or_unknown = |v: &str| {
        if v.is_empty() {
            "unknown".to_string()
        } else {
            format!("`{v}`")
        }
    };
    format!(
        "enabled {}, defrag {}",
        or_unknown(&e.thp_enabled),
        or_unknown(&e.thp_defrag)
    )
}

/// The section, or nothing when no variant has a huge-page figure.
pub(super) fn huge_pages_table(s: &Summary, out: &mut Page) {
    if !s.variants.iter().any(has_figures) {
        return;
    }
    out.push_str("## Transparent huge pages\n\n");
    if !s.variants.iter().any(has_huge_pages) {
        let _ = writeln!(
            out,
            "No variant had anonymous memory in transparent huge pages (AnonHugePages 0 at B, P and A; THP mode {}).\n",
            mode(s)
        );
        return;
    }
    out.table(&table(s));
    let _ = writeln!(
        out,
        "\nAnonHugePages from `/proc/<pid>/smaps_rollup` (medians over the ok runs; in italics, a run that did not end ok, as far as it went): \
         **B** and **A** from the readings of the last second of `before` and `drain`, **P** the reading nearest the peak moment. \
         It is part of RssAnon: memory in 2 MiB pages. THP mode: {}.\n",
        mode(s)
    );
    let notes: Vec<String> = s.variants.iter().filter_map(mostly_huge).collect();
    for n in &notes {
        let _ = writeln!(out, "- {n}");
    }
    if !notes.is_empty() {
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figures::Figures;
    use crate::record::RunStatus;
    use crate::report::summary::{FigureSet, RunFigures};

    const M: u64 = 1 << 20;

    fn variant(name: &str, thp: [u64; 3], a: u64) -> VariantSummary {
        let mut v = VariantSummary::for_test(
            name,
            3,
            Some(Figures {
                rss_after_drain_bytes: Some(a * M),
                ..Default::default()
            }),
        );
        v.medians = FigureSet {
            anon_huge_pages_before_bytes: Some(thp[0] * M),
            anon_huge_pages_peak_bytes: Some(thp[1] * M),
            anon_huge_pages_after_drain_bytes: Some(thp[2] * M),
            ..v.medians
        };
        v.median_run_index = Some(2);
        v.run_figures = vec![RunFigures {
            run_index: 2,
            status: RunStatus::Ok,
            failure: None,
            incomplete: false,
            started_at: String::new(),
            figures: v.medians.clone(),
            load_errors: None,
            load_retries: None,
        }];
        v
    }

    fn summary(variants: Vec<VariantSummary>) -> Summary {
        let mut s = Summary::of(variants);
        s.environment.thp_enabled = "madvise".into();
        s
    }

    fn page(s: &Summary) -> String {
        let mut out = Page::markdown();
        huge_pages_table(s, &mut out);
        out.into_parts().0
    }

    #[test]
    fn a_variant_mostly_in_huge_pages_gets_its_line() {
        let s = summary(vec![
            variant("glibc", [0, 0, 0], 200),
            variant("mimalloc", [0, 289, 214], 225),
            variant("some", [0, 20, 10], 225),
        ]);
        let md = page(&s);
        assert!(
            md.contains("| mimalloc | 0.0 | 289.0 | 214.0 | 225.0 |"),
            "{md}"
        );
        assert!(
            md.contains("- `mimalloc`: 214.0 of 225.0 MiB after the drain is AnonHugePages (its median run, 2).\n"),
            "{md}"
        );
        assert!(!md.contains("`some`:"), "10 of 225 MiB is not mostly: {md}");
        assert!(
            md.contains("THP mode: enabled `madvise`, defrag unknown."),
            "{md}"
        );
    }

    #[test]
    fn no_huge_pages_is_one_sentence_and_no_readings_no_section() {
        let md = page(&summary(vec![variant("glibc", [0, 0, 0], 200)]));
        assert!(
            md.contains("No variant had anonymous memory in transparent huge pages"),
            "{md}"
        );
        assert!(!md.contains('|'), "{md}");
        let none = VariantSummary::for_test("old", 3, Some(Figures::default()));
        assert_eq!(page(&summary(vec![none])), "");
    }
}
