//! `### Soak`: the slope of A after the first cycle, per hour, with its 95% interval, one row
//! per variant (over the cycles of its medians, or of an interrupted run's), for soaks.

use std::fmt::Write as _;

use super::Page;
use crate::figures::soak::MIN_CYCLES;
use crate::report::catalogue::{View, SOAK, SOAK_SLOPE};
use crate::report::summary::{Summary, VariantSummary};
use crate::table::{Cell, Column, Table};

/// One row per variant: its medians' slope, or, for a variant without an ok run (a soak
/// interrupted), the slope of the cycles its run measured, marked so.
fn table(variants: &[VariantSummary]) -> Table {
    let mut t = Table::new(
        [Column::left("variant")]
            .into_iter()
            .chain(SOAK.iter().map(|f| f.column(View::Soak))),
    );
    for v in variants {
        let (f, as_far_as_it_went) = v.figures_shown();
        let name = match as_far_as_it_went {
            true => format!("{} ({}, as far as it went)", v.name, v.status.as_str()),
            false => v.name.clone(),
        };
        let mut row = vec![Cell::text(name)];
        row.extend(SOAK.iter().map(|x| x.of(f).strong_if(x.headline)));
        t.row(row);
    }
    t
}

/// The table and how its figures were taken, or nothing when no variant has a slope.
pub(super) fn soak_section(s: &Summary, out: &mut Page) {
    let shown = |v: &VariantSummary| SOAK_SLOPE.has(v.figures_shown().0);
    if !s.variants.iter().any(shown) {
        return;
    }
    out.push_str("### Soak\n\n");
    out.table(&table(&s.variants));
    let _ = writeln!(
        out,
        "\nThe slope of A (RssAnon over the last second of each drain, the medians of the ok runs \
         cycle by cycle; a run that did not finish, its own complete cycles) against the time each drain ended, cycles 2 to n: ordinary least \
         squares, in MiB per hour. The first cycle is left out: it builds the working set the \
         allocator then reuses, a step, not a slope. **95% low** and **high** bound the slope's \
         95% interval (Student's t, n − 3 degrees of freedom); a slope needs {MIN_CYCLES} \
         cycles. A per cycle is in the table above. `[gate] max_growth_per_hour` fails a \
         variant whose low bound is above it (docs/gate.md).\n"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figures::soak::Slope;
    use crate::figures::Figures;

    #[test]
    fn one_row_per_variant_with_its_slope_and_interval() {
        const MIB: f64 = 1048576.0;
        let f = Figures {
            soak: Some(Slope {
                cycles: 6,
                bytes_per_hour: 120.0 * MIB,
                low_bytes_per_hour: 100.25 * MIB,
                high_bytes_per_hour: 139.75 * MIB,
            }),
            ..Default::default()
        };
        let s = Summary::of(vec![
            VariantSummary::for_test("leaky", 1, Some(f)),
            VariantSummary::for_test("flat", 1, Some(Figures::default())),
        ]);
        let mut md = Page::markdown();
        soak_section(&s, &mut md);
        let lines: Vec<&str> = md.lines().collect();
        assert_eq!(
            lines[2],
            "| variant | cycles | slope of A (MiB/h) | 95% low (MiB/h) | 95% high (MiB/h) |"
        );
        assert_eq!(lines[4], "| leaky | 6 | **120.0** | 100.2 | 139.8 |");
        assert_eq!(lines[5], "| flat | – | – | – | – |");
        let mut none = Page::markdown();
        soak_section(
            &Summary::of(vec![VariantSummary::for_test("x", 1, None)]),
            &mut none,
        );
        assert_eq!(*none, "", "no slope: no section");
    }
}
