//! `## Runs`: every run's own figures, the median run marked.

use super::status;
use super::Page;
use crate::report::catalogue::{in_view, Figure, View, CATALOGUE};
use crate::report::summary::{RunFigures, Summary, VariantSummary};
use crate::table::{Cell, Column, Table};

/// One row per run, in each variant's run order.
pub(super) fn runs_table(s: &Summary, out: &mut Page) {
    out.push_str("## Runs\n\n");
    out.table(&table(s, CATALOGUE));
    out.push_str(
        "\n**minor faults**, **major faults**: the page faults the server (summed over its processes) took during the load, \
         from `/proc/<pid>/stat`; a minor fault maps a page without I/O, each fresh page of anonymous memory is one \
         (blank for records made before they were counted).\n\n",
    );
}

fn table(s: &Summary, catalogue: &[&Figure]) -> Table {
    let figures: Vec<&Figure> = in_view(catalogue, View::Runs).collect();
    let columns = [
        Column::left("variant"),
        Column::right("run"),
        Column::left("status"),
        Column::left("started"),
    ]
    .into_iter()
    .chain(figures.iter().map(|f| f.column(View::Runs)))
    .chain([
        Column::right("errors"),
        Column::right("retries"),
        Column::left("note"),
    ]);
    let mut t = Table::new(columns);
    for v in &s.variants {
        for r in &v.run_figures {
            let mut row = vec![
                Cell::text(&v.name),
                Cell::count(Some(r.run_index.into())),
                status(&r.status),
                started(r),
            ];
            row.extend(figures.iter().map(|f| f.of_run(r)));
            row.extend([
                Cell::count(r.load_errors),
                Cell::count(r.load_retries),
                Cell::text(note(v, r)),
            ]);
            t.row(row);
        }
    }
    t
}

/// When the run started, or missing for a record without it.
fn started(r: &RunFigures) -> Cell {
    if r.started_at.is_empty() {
        Cell::missing()
    } else {
        Cell::text(&r.started_at)
    }
}

/// Why the run did not end ok, whether its load was overloaded, and whether it is the median
/// run.
fn note(v: &VariantSummary, r: &RunFigures) -> String {
    let overloaded = r
        .figures
        .overloaded()
        .map(|share| format!("overloaded: {:.0}% unsent", share * 100.0));
    let note = [r.failure.clone(), overloaded]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("; ");
    if Some(r.run_index) != v.median_run_index {
        note
    } else if note.is_empty() {
        "median run".into()
    } else {
        format!("median run; {note}")
    }
}
