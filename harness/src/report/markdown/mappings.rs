//! `## Mappings`: the mapping breakdown (what `pmap -X` shows) at the end of `before`, the peak
//! and the end of `drain`.

use super::Page;
use crate::report::summary::Summary;
use crate::table::{Cell, Column, Table};

/// The mapping breakdown of each variant's median run.
pub(super) fn mappings_table(s: &Summary, out: &mut Page) {
    if s.variants
        .iter()
        .all(|v| v.memory_breakdown.mappings.is_empty())
    {
        return;
    }
    out.push_str("## Mappings (what `pmap -X` shows)\n\n");
    out.table(&table(s));
    out.push_str(
        "\nFrom `/proc/<pid>/smaps` in each variant's median run, nearest the end of `before`, the peak moment \
         (the first sample of the load at P) and the end of `drain`; smaps is walked about once a second, so a breakdown \
         adds up to the RssAnon of its own moment (**RssAnon then**, the nearest sample), which at the peak may be below P. A glibc thread-arena heap is a 64 MiB-aligned anonymous `rw-p` mapping plus the `---p` \
         rest of its 64 MiB reservation: each new arena adds 64 MiB of VSZ, and only its resident part is RSS. \
         Other allocators' regions, and glibc's mmapped chunks, count as other anonymous memory.\n\n",
    );
}

fn table(s: &Summary) -> Table {
    let mut t = Table::new([
        Column::left("variant"),
        Column::left("when"),
        Column::right("t (s)"),
        Column::right("RssAnon then (MiB)"),
        Column::right("glibc arena heaps"),
        Column::right("arena resident (MiB)"),
        Column::right("arena committed (MiB)"),
        Column::right("arena reserved only (MiB)"),
        Column::right("main heap resident (MiB)"),
        Column::right("other anonymous resident (MiB)"),
    ]);
    for v in &s.variants {
        for m in &v.memory_breakdown.mappings {
            let b = &m.breakdown;
            t.row(vec![
                Cell::text(&v.name),
                Cell::text(&m.when),
                Cell::fixed(Some(m.t_s), 1),
                Cell::mib(m.rss_anon_bytes),
                Cell::count(Some(b.arena_heaps)),
                Cell::mib(Some(b.arena_heap_rss)),
                Cell::mib(Some(b.arena_heap_committed)),
                Cell::mib(Some(b.arena_heap_reserved)),
                Cell::mib(Some(b.main_heap_rss)),
                Cell::mib(Some(b.other_anon_rss)),
            ]);
        }
    }
    t
}
