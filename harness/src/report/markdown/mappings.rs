//! `## Mappings`: the mapping breakdown (what `pmap -X` shows) at the end of `before`, the peak
//! and the end of `drain`.

use std::fmt::Write as _;

use crate::report::format::MARKDOWN;
use crate::report::summary::Summary;

/// The mapping breakdown of each variant's median run.
pub(super) fn mappings_table(s: &Summary, out: &mut String) {
    if s.variants
        .iter()
        .all(|v| v.memory_breakdown.mappings.is_empty())
    {
        return;
    }
    out.push_str("## Mappings (what `pmap -X` shows)\n\n");
    out.push_str("| variant | when | t (s) | glibc arena heaps | arena resident (MiB) | arena committed (MiB) | arena reserved only (MiB) | main heap resident (MiB) | other anonymous resident (MiB) |\n");
    out.push_str("|---|---|--:|--:|--:|--:|--:|--:|--:|\n");
    for v in &s.variants {
        for m in &v.memory_breakdown.mappings {
            let b = &m.breakdown;
            let _ = writeln!(
                out,
                "| {} | {} | {:.1} | {} | {} | {} | {} | {} | {} |",
                v.name,
                m.when,
                m.t_s,
                b.arena_heaps,
                MARKDOWN.mib(Some(b.arena_heap_rss)),
                MARKDOWN.mib(Some(b.arena_heap_committed)),
                MARKDOWN.mib(Some(b.arena_heap_reserved)),
                MARKDOWN.mib(Some(b.main_heap_rss)),
                MARKDOWN.mib(Some(b.other_anon_rss)),
            );
        }
    }
    out.push_str(
        "\nFrom `/proc/<pid>/smaps` in each variant's median run, nearest the end of `before`, the peak and the \
         end of `drain`. A glibc thread-arena heap is a 64 MiB-aligned anonymous `rw-p` mapping plus the `---p` \
         rest of its 64 MiB reservation: each new arena adds 64 MiB of VSZ, and only its resident part is RSS. \
         Other allocators' regions, and glibc's mmapped chunks, count as other anonymous memory.\n\n",
    );
}
