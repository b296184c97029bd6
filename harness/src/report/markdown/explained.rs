//! `## Every byte of RssAnon, by the allocator's own figures`: the probe's parts of RssAnon at
//! B's, P's and A's own moments, per variant, and what could not be known.

use super::Page;
use std::fmt::Write;

use crate::figures::MIN_GROWTH_FOR_RETENTION;
use crate::report::summary::{ExplainedAt, ExplainedRun, Summary, VariantSummary};
use crate::table::{mib_unit, Cell, Column, Table};

/// Whether any variant's records carry the probe (records of older versions do not: their
/// report keeps the `/stats` table alone).
pub(super) fn has_probe(s: &Summary) -> bool {
    s.variants.iter().any(|v| v.explained.is_some())
}

pub(super) fn explained_table(s: &Summary, out: &mut Page) {
    if !has_probe(s) {
        return;
    }
    out.push_str("## Every byte of RssAnon, by the allocator's own figures\n\n");
    let t = table(s);
    if !t.rows.is_empty() {
        out.table(&t);
        out.push('\n');
        out.push_str(LEGEND);
        out.push_str("\n\n");
    }
    for v in &s.variants {
        if let Some(line) = v.explained.as_ref().and_then(|e| about(&v.name, e)) {
            let _ = writeln!(out, "- {line}");
        }
    }
    out.push('\n');
    // rss-explained is drawn from the median runs' readings: where any variant's B, P or A
    // has a reading, there is a panel to show.
    if s.variants
        .iter()
        .any(|v| v.explained.as_ref().is_some_and(read))
    {
        out.push_str(
            "![RssAnon over time split into in use, free held and the rest, a panel per variant](rss-explained.png)\n\n\
             Vector version: [rss-explained.svg](rss-explained.svg).\n\n",
        );
    }
}

/// Whether the probe read anything at B, P or A.
fn read(e: &ExplainedRun) -> bool {
    e.before.is_some() || e.peak.is_some() || e.after_drain.is_some()
}

const LEGEND: &str = "Read by the probe, a thread inside the server that publishes its allocator's own figures \
in shared memory; no request is made, so reading them changes nothing. From each variant's median run: B and A \
are the medians over the last second of `before` and `drain` (the same second as the headline figures), P the \
reading nearest the first sample at the peak; t is seconds since the load started. **in use**: live bytes the app \
holds (the toy server's own count of its allocations, the same bytes under every allocator; for other servers \
the allocator's in-use figure); **free held**: freed memory the allocator keeps (glibc `fordblks`; jemalloc dirty \
pages and the slack of active pages; tcmalloc's free page heap and caches; an allocator counts what it holds, \
pages never touched included, such as the top of a glibc heap, so free held can exceed what is resident); \
**lazily freed**: \
given back with MADV_FREE, counted in RSS until the kernel takes it (jemalloc muzzy); **given back, mapped**: \
returned to the kernel but kept as address space, in VSZ only (jemalloc retained, tcmalloc unmapped); \
**not in use** = RssAnon − in use; **RssAnon / in use**: 1.0 is memory that holds nothing but the app's data. \
Missing (–): the allocator does not tell (mimalloc's public statistics have no free figure, only what it has \
committed, which is not RSS; glibc does not count what it gave back inside its heaps).";

/// A column of parts: its title and how to read it.
type Part = (&'static str, fn(&ExplainedAt) -> Option<u64>);

/// The table's rows: each variant at B, P and A, columns no allocator fills left out.
fn table(s: &Summary) -> Table {
    let rows: Vec<(&VariantSummary, &str, &ExplainedAt)> = s
        .variants
        .iter()
        .filter_map(|v| Some((v, v.explained.as_ref()?)))
        .flat_map(|(v, e)| {
            [("B", &e.before), ("P", &e.peak), ("A", &e.after_drain)]
                .into_iter()
                .filter_map(move |(w, at)| Some((v, w, at.as_ref()?)))
        })
        .collect();
    let parts: [Part; 6] = [
        ("in use", |a| a.parts.in_use),
        ("free held", |a| a.parts.free_held),
        ("lazily freed", |a| a.parts.lazily_freed),
        ("given back, mapped", |a| a.parts.given_back_mapped),
        ("metadata", |a| a.parts.metadata),
        ("not in use", |a| a.rss_anon_not_in_use_bytes),
    ];
    let shown: Vec<_> = parts
        .iter()
        .filter(|(_, f)| rows.iter().any(|(_, _, a)| f(a).is_some()))
        .collect();
    let mut columns = vec![
        Column::left("variant"),
        Column::left("at"),
        Column::right("t (s)"),
        Column::right("RssAnon (MiB)"),
    ];
    columns.extend(
        shown
            .iter()
            .map(|(t, _)| Column::right(format!("{t} (MiB)"))),
    );
    columns.push(Column::right("RssAnon / in use"));
    columns.push(Column::left("the growth over B is"));
    let mut t = Table::new(columns);
    for (v, w, a) in rows {
        let mut row = vec![
            Cell::text(&v.name),
            Cell::text(w),
            // B's window ends where the load starts: `-0.0` is the marks' jitter, not a time.
            Cell::fixed(Some((a.t_s * 10.0).round() / 10.0 + 0.0), 1),
            Cell::mib(a.rss_anon_bytes),
        ];
        row.extend(shown.iter().map(|(_, f)| Cell::mib(f(a))));
        row.push(Cell::fixed(a.fragmentation, 2));
        let before = v.explained.as_ref().and_then(|e| e.before.as_ref());
        row.push(held_by(a, before).map_or_else(Cell::missing, Cell::text));
        t.row(row);
    }
    t
}

/// Who holds the growth over B at this moment: the app's data, the allocator's free memory,
/// or neither figure.
fn held_by(a: &ExplainedAt, b: Option<&ExplainedAt>) -> Option<&'static str> {
    let b = b?;
    let growth = a.rss_anon_bytes?.saturating_sub(b.rss_anon_bytes?);
    if growth < MIN_GROWTH_FOR_RETENTION {
        return Some("near the baseline");
    }
    let half = growth / 2;
    let more = |x: Option<u64>, y: Option<u64>| x.zip(y).map(|(x, y)| x.saturating_sub(y));
    let app = more(a.parts.in_use, b.parts.in_use);
    let free = more(
        a.parts
            .free_held
            .map(|f| f + a.parts.lazily_freed.unwrap_or(0)),
        b.parts
            .free_held
            .map(|f| f + b.parts.lazily_freed.unwrap_or(0)),
    );
    Some(match (app, free) {
        (Some(u), _) if u >= half => "the app's data (in use)",
        (_, Some(f)) if f >= half => "the allocator's: freed, kept",
        (Some(_), None) => "not in use; the allocator does not say where",
        (None, _) => return None,
        _ => "neither figure explains it",
    })
}

/// One line per variant for what the table cannot show: which allocator served `malloc`,
/// glibc's free chunks, or why there are no figures.
fn about(name: &str, e: &ExplainedRun) -> Option<String> {
    if let Some(why) = &e.why_none {
        return Some(format!("**{name}**: {why}."));
    }
    let mut line = format!(
        "**{name}**: `malloc` served by {} ({})",
        e.allocators.join(", "),
        e.malloc_libraries
            .iter()
            .map(|l| format!("`{l}`"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if let Some(a) = &e.after_drain {
        if let (Some(free), Some(chunks)) = (a.parts.free_held, a.parts.free_chunks) {
            let _ = write!(
                line,
                "; after the drain {} free in {chunks} chunks",
                mib_unit(free)
            );
            if let Some(k) = a.parts.keepcost {
                let _ = write!(
                    line,
                    ", of which {} at the top of the main heap (what `malloc_trim` could return from the top)",
                    mib_unit(k)
                );
            }
        }
        if let Some(c) = a.parts.committed {
            let _ = write!(line, "; {} committed (not RSS)", mib_unit(c));
        }
    }
    line.push('.');
    Some(line)
}
