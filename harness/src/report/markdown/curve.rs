//! `## The curve after the load`: RssAnon 1 s, 5 s and 60 s after the load's end beside A, and
//! each as a share of the growth, one row per variant (medians over its ok runs).

use super::Page;
use std::fmt::Write as _;

use crate::figures::curve::HALF_WINDOW_S;
use crate::figures::MIN_GROWTH_FOR_RETENTION;
use crate::report::catalogue::{variants_table, Figure, View, CURVE};
use crate::report::summary::{Summary, VariantSummary};
use crate::table::{Cell, Column, Table};

fn table(variants: &[VariantSummary]) -> Table {
    let cells = |v: &VariantSummary| [Cell::text(&v.name)];
    variants_table(
        variants,
        [Column::left("variant")],
        cells,
        CURVE,
        View::Curve,
    )
}

/// Whether any variant has a point of the curve besides A (none without a drain).
fn has_curve(s: &Summary) -> bool {
    let points: Vec<&&Figure> = CURVE
        .iter()
        .filter(|f| f.views.contains(&View::Curve))
        .collect();
    s.variants
        .iter()
        .any(|v| points.iter().any(|f| f.has(&v.medians)))
}

/// The table and what its columns mean, or nothing when no run has a point of the curve.
pub(super) fn curve_table(s: &Summary, out: &mut Page) {
    if !has_curve(s) {
        return;
    }
    out.push_str("## The curve after the load\n\n");
    out.table(&table(&s.variants));
    let _ = writeln!(
        out,
        "\nMedians over the ok runs of RssAnon 1 s, 5 s and 60 s after the load's end (its last \
         response, where t90 counts from; records without it count from the end of `during`), \
         each the median of the samples within ±{:.0} ms of its instant and within the drain; \
         **A** is the end of the drain, as in the results. Each **share** is (X − B) / (P − B), \
         the growth still held, as **retention** is at A; blank when P − B < {} MiB. A point the \
         drain did not reach is blank, never 0: 60 s needs a drain that long. `[gate] after` \
         chooses which of them the gate compares (docs/gate.md).\n",
        HALF_WINDOW_S * 1000.0,
        MIN_GROWTH_FOR_RETENTION >> 20,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figures::curve::AfterLoad;
    use crate::figures::Figures;

    #[test]
    fn one_row_per_variant_in_the_order_of_time() {
        let f = Figures {
            rss_after_drain_bytes: Some(30 << 20),
            retention: Some(0.25),
            after_load: AfterLoad {
                rss_after_load_1s_bytes: Some(100 << 20),
                retention_after_load_1s: Some(0.9),
                ..Default::default()
            },
            ..Default::default()
        };
        let s = Summary::of(vec![VariantSummary::for_test("jemalloc-bg", 3, Some(f))]);
        let mut md = Page::markdown();
        curve_table(&s, &mut md);
        let lines: Vec<&str> = md.lines().collect();
        assert_eq!(
            lines[2],
            "| variant | 1 s (MiB) | share at 1 s | 5 s (MiB) | share at 5 s | A (MiB) | retention | 60 s (MiB) | share at 60 s |"
        );
        assert_eq!(
            lines[4],
            "| jemalloc-bg | 100.0 | 0.90 | – | – | **30.0** | 0.25 | – | – |"
        );
        let mut none = Page::markdown();
        curve_table(
            &Summary::of(vec![VariantSummary::for_test("x", 1, None)]),
            &mut none,
        );
        assert_eq!(*none, "", "no point of the curve: no section");
    }
}
