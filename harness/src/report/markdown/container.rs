//! `## Memory as a container sees it`: after the drain, A next to RssAnon − LazyFree and the
//! server's memory cgroup (usage, working set), and the cgroup the runs had, or why none.

use super::Page;
use crate::report::catalogue::{Figure, View, A, CGROUP_USAGE, LESS_LAZY_FREE, WORKING_SET};
use crate::report::summary::{Summary, VariantSummary};
use crate::table::{Cell, Column, Table};

/// Whether a variant has anything for this section (records of versions before it have not).
fn has_view(v: &VariantSummary) -> bool {
    let f = v.figures_shown().0;
    v.container.is_some() || [LESS_LAZY_FREE, WORKING_SET].iter().any(|x| x.has(f))
}

/// What the variant's servers ran in: `v1`, `v2`, or no cgroup and why.
fn cgroup_cell(v: &VariantSummary) -> Cell {
    let Some(c) = &v.container else {
        return Cell::missing();
    };
    match (&c.cgroup, &c.no_cgroup_because) {
        (Some(version), None) => Cell::text(format!("{} (own)", version.name())),
        (Some(version), Some(why)) => Cell::text(format!(
            "{} (own); some runs without: {why}",
            version.name()
        )),
        (None, Some(why)) => Cell::text(format!("none: {why}")),
        (None, None) => Cell::missing(),
    }
}

/// After the drain: A, then what a container's limit sees.
const FIGURES: [Figure; 4] = [
    A.titled("A: RssAnon"),
    LESS_LAZY_FREE,
    CGROUP_USAGE,
    WORKING_SET,
];

fn table(s: &Summary) -> Table {
    let columns = FIGURES.iter().map(|f| f.column(View::Results));
    let mut t = Table::new(
        std::iter::once(Column::left("variant"))
            .chain(columns)
            .chain([Column::left("memory cgroup")]),
    );
    for v in s.variants.iter().filter(|v| has_view(v)) {
        // Without an ok run: its run as far as it went, in italics.
        let (f, measured) = v.figures_shown();
        let mut row = vec![Cell::text(&v.name)];
        row.extend(FIGURES.iter().map(|fig| fig.of(f).italic_if(measured)));
        row.push(cgroup_cell(v));
        t.row(row);
    }
    t
}

/// The table, or nothing when no variant has a figure of it.
pub(super) fn container_table(s: &Summary, out: &mut Page) {
    if !s.variants.iter().any(has_view) {
        return;
    }
    out.push_str("## Memory as a container sees it\n\n");
    out.table(&table(s));
    out.push_str(
        "\nAfter the drain (medians over the ok runs; in italics, a run that did not end ok, as far as it went), \
         from the readings of the drain's last second, taken at the smaps interval. **RssAnon − LazyFree**: \
         anonymous memory less the pages the allocator gave back with `MADV_FREE`, which stay in RSS until the \
         kernel needs them and are then dropped without a write: the part a memory limit cannot take back. \
         **cgroup usage**: what the server's own memory cgroup is charged (anonymous memory, page cache and kernel \
         memory of its processes). **working set** = usage − inactive file pages (the page cache the kernel reclaims \
         first when the cgroup nears a limit): what kubelet and `docker stats` report (allocstorm's \
         docs/measurements.md, section Memory as a container sees it).\n\n",
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::Version;
    use crate::figures::Figures;
    use crate::report::summary::ContainerView;
    use crate::table::markdown;

    const MIB: u64 = 1 << 20;

    fn variant(container: Option<ContainerView>, figures: Figures) -> VariantSummary {
        VariantSummary {
            container,
            ..VariantSummary::for_test("glibc", 1, Some(figures))
        }
    }

    fn view(cgroup: Option<Version>, why: Option<&str>) -> Option<ContainerView> {
        Some(ContainerView {
            cgroup,
            no_cgroup_because: why.map(str::to_string),
        })
    }

    fn table(variants: Vec<VariantSummary>) -> String {
        let s = Summary::of(variants);
        let mut out = Page::markdown();
        container_table(&s, &mut out);
        out.into_parts().0
    }

    #[test]
    fn the_cgroup_cell_says_which_or_why_none() {
        let none = Figures::default();
        let written = |v| markdown::cell(&cgroup_cell(&v));
        assert_eq!(
            written(variant(view(Some(Version::V1), None), none.clone())),
            "v1 (own)"
        );
        assert_eq!(
            written(variant(view(None, Some("no cgroup | here")), none.clone())),
            "none: no cgroup \\| here"
        );
        assert_eq!(written(variant(None, none)), markdown::MISSING);
    }

    #[test]
    fn the_table_shows_the_figures_after_the_drain_and_nothing_for_old_records() {
        assert_eq!(table(vec![variant(None, Figures::default())]), "");
        let f = Figures {
            rss_after_drain_bytes: Some(100 * MIB),
            rss_anon_less_lazy_free_after_drain_bytes: Some(40 * MIB),
            cgroup_usage_after_drain_bytes: Some(110 * MIB),
            cgroup_working_set_after_drain_bytes: Some(105 * MIB),
            ..Default::default()
        };
        let out = table(vec![variant(view(Some(Version::V2), None), f)]);
        assert!(
            out.starts_with("## Memory as a container sees it\n"),
            "{out}"
        );
        assert!(
            out.contains("| glibc | 100.0 | 40.0 | 110.0 | 105.0 | v2 (own) |"),
            "{out}"
        );
    }
}
