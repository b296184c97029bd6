//! `### glibc's arenas at A`: for each glibc-served variant, which arenas hold the memory after
//! the drain — the main arena against the thread arenas — from `malloc_info`, read by the probe
//! without trimming. Absent when no variant's record has them (records made before).

use std::fmt::Write;

use crate::report::summary::{ProcessArenas, Summary};
use crate::table::{markdown, Cell, Column, Table};

pub(super) fn arenas_table(s: &Summary, out: &mut String) {
    let rows: Vec<(&str, &ProcessArenas)> = s
        .variants
        .iter()
        .filter_map(|v| Some((v.name.as_str(), v.explained.as_ref()?)))
        .flat_map(|(name, e)| e.arenas_after_drain.iter().map(move |p| (name, p)))
        .collect();
    if rows.is_empty() {
        return;
    }
    out.push_str("### glibc's arenas at A\n\n");
    let pids = rows.len()
        > rows
            .iter()
            .map(|(n, _)| n)
            .collect::<std::collections::BTreeSet<_>>()
            .len();
    out.push_str(&markdown::render(&table(&rows, pids)));
    out.push('\n');
    out.push_str(LEGEND);
    out.push_str("\n\n");
    for (name, p) in rows {
        if p.arena_count > p.arenas.len() as u64 {
            let _ = writeln!(
                out,
                "- **{name}** (pid {}): {} arenas, the first {} shown.",
                p.pid,
                p.arena_count,
                p.arenas.len()
            );
        }
    }
}

const LEGEND: &str = "Per arena of glibc's `malloc_info` (read by the probe thread, which never trims), the \
median over A's window: **system**: what the arena has from the kernel (the main arena: the brk heap; a thread \
arena: its heaps' read-write part); **free held**: its free chunks and its top chunk, touched or not; **in use** \
= system − free held (the app's chunks, their headers, and chunks in the threads' tcaches); **free chunks**: \
how many pieces the free is in (the top chunk counts as one). Memory in chunks served by their own mmap belongs \
to no arena.";

/// One row per arena, the main arena first; the pid only when a variant has several processes.
fn table(rows: &[(&str, &ProcessArenas)], pids: bool) -> Table {
    let mut columns = vec![Column::left("variant")];
    if pids {
        columns.push(Column::right("pid"));
    }
    columns.extend([
        Column::left("arena"),
        Column::right("system (MiB)"),
        Column::right("in use (MiB)"),
        Column::right("free held (MiB)"),
        Column::right("free chunks"),
    ]);
    let mut t = Table::new(columns);
    for (name, p) in rows {
        for (i, a) in p.arenas.iter().enumerate() {
            let mut row = vec![Cell::text(*name)];
            if pids {
                row.push(Cell::count(Some(u64::from(p.pid))));
            }
            row.extend([
                Cell::text(if i == 0 {
                    "main".to_string()
                } else {
                    format!("thread {i}")
                }),
                Cell::mib(Some(a.system_bytes)),
                Cell::mib(Some(a.in_use_bytes)),
                Cell::mib(Some(a.free_held_bytes)),
                Cell::count(Some(a.free_chunks)),
            ]);
            t.row(row);
        }
    }
    t
}
