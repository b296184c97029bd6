//! `## Requests by entry`: a request mix's entries, per variant, from its median run.

use super::Page;
use crate::report::summary::Summary;
use crate::table::{Cell, Column, Table};

fn table(s: &Summary) -> Table {
    let mut t = Table::new([
        Column::left("variant"),
        Column::left("request"),
        Column::left("keys"),
        Column::right("weight"),
        Column::right("requests"),
        Column::right("ok"),
        Column::right("errors"),
        Column::right("p50 (ms)"),
        Column::right("p99 (ms)"),
    ]);
    for v in &s.variants {
        for e in &v.requests {
            let lat = |p: f64| Cell::fixed((e.latency_ms.count > 0).then_some(p), 1);
            t.row(vec![
                Cell::text(&v.name),
                Cell::text(format!("`{} {}`", e.shape.method, e.shape.path)),
                Cell::text(format!("{} of {}", e.shape.keys, e.shape.key_space)),
                Cell::count(Some(u64::from(e.shape.weight))),
                Cell::count(Some(e.counts.requests)),
                Cell::count(Some(e.counts.ok)),
                Cell::count(Some(e.counts.errors)),
                lat(e.latency_ms.p50),
                lat(e.latency_ms.p99),
            ]);
        }
    }
    t
}

/// The table, or nothing when no run had a request mix.
pub(super) fn requests_table(s: &Summary, out: &mut Page) {
    if s.variants.iter().all(|v| v.requests.is_empty()) {
        return;
    }
    out.push_str("## Requests by entry\n\n");
    out.table(&table(s));
    out.push_str(
        "\nThe `during` load's `[[load.request]]` entries in each variant's median run: the \
         requests drawn for each, answered (`ok`) and failed, and the latency of the answered ones \
         from the time they were due. The draws come from the scenario's seed, so every variant was \
         sent the same requests.\n\n",
    );
}
