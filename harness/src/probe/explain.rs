//! What an allocator's own figures say about the memory the kernel charges: one meaning of
//! each part for every allocator, from the figures its probe page gives. A part the allocator
//! cannot tell is `None`, never 0 (mimalloc 2.0 has no in-use figure; glibc does not count what
//! it gave back inside its heaps).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ArenaReading, PageReading};

/// The host's own count of live bytes, by a counting `#[global_allocator]` (the toy server):
/// the same bytes whichever allocator serves them.
pub const COUNTED_IN_USE: &str = "counted.in_use";

/// The parts of a process's (or a process tree's) memory as its allocator sees them, bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Explained {
    /// Live bytes the app holds: the app's own count where it has one ([`COUNTED_IN_USE`]),
    /// else the allocator's in use.
    #[serde(rename = "in_use_bytes")]
    pub in_use: Option<u64>,
    /// The allocator's own in-use figure (glibc `uordblks` + `hblkhd`; jemalloc and tcmalloc
    /// allocated).
    #[serde(rename = "allocator_in_use_bytes")]
    pub allocator_in_use: Option<u64>,
    /// Free memory the allocator keeps, resident: glibc `fordblks`; jemalloc dirty pages and
    /// the slack of active pages; tcmalloc's free page heap and caches.
    #[serde(rename = "free_held_bytes")]
    pub free_held: Option<u64>,
    /// Freed lazily (MADV_FREE): still counted in RSS until the kernel takes it (jemalloc
    /// muzzy).
    #[serde(rename = "lazily_freed_bytes")]
    pub lazily_freed: Option<u64>,
    /// Given back to the kernel but kept as address space (jemalloc retained, tcmalloc
    /// unmapped): in VSZ, not in RSS.
    #[serde(rename = "given_back_mapped_bytes")]
    pub given_back_mapped: Option<u64>,
    /// The allocator's own bookkeeping (jemalloc metadata).
    #[serde(rename = "metadata_bytes")]
    pub metadata: Option<u64>,
    /// Free chunks glibc keeps (`ordblks`): with `free_held`, how scattered the free memory is.
    pub free_chunks: Option<u64>,
    /// The trimmable top of glibc's main arena (`keepcost`): what `malloc_trim` could give back
    /// from the top alone.
    #[serde(rename = "keepcost_bytes")]
    pub keepcost: Option<u64>,
    /// Bytes mimalloc has committed: neither RSS (purged pages stay committed) nor in use.
    #[serde(rename = "committed_bytes")]
    pub committed: Option<u64>,
}

/// One glibc arena's parts, bytes: what it has from the kernel, split into in use and free.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ArenaParts {
    pub system_bytes: u64,
    /// system − free: the app's chunks, their headers, and chunks in the threads' tcaches
    /// (free to the app, in use to the arena).
    pub in_use_bytes: u64,
    /// Free chunks and the top chunk: memory the arena keeps, touched or not.
    pub free_held_bytes: u64,
    pub free_chunks: u64,
}

/// An arena's parts from its `malloc_info` figures.
pub fn arena_parts(a: &ArenaReading) -> ArenaParts {
    ArenaParts {
        system_bytes: a.system_bytes,
        in_use_bytes: a.system_bytes.saturating_sub(a.free_bytes),
        free_held_bytes: a.free_bytes,
        free_chunks: a.free_chunks,
    }
}

/// The parts at one tick, summed over the processes whose pages were read then.
pub fn explain(pages: &[PageReading]) -> Explained {
    pages
        .iter()
        .map(|p| of_page(&p.figures))
        .reduce(add)
        .unwrap_or_default()
}

/// One process's parts, from the figures of whichever allocator its page names.
pub fn of_page(f: &BTreeMap<String, u64>) -> Explained {
    let get = |k: &str| f.get(k).copied();
    let sum = |ks: &[&str]| ks.iter().map(|k| get(k)).sum::<Option<u64>>();
    let allocator = if f.contains_key("glibc.uordblks") {
        Explained {
            allocator_in_use: sum(&["glibc.uordblks", "glibc.hblkhd"]),
            free_held: get("glibc.fordblks"),
            free_chunks: get("glibc.ordblks"),
            keepcost: get("glibc.keepcost"),
            ..Explained::default()
        }
    } else if f.contains_key("jemalloc.allocated") {
        let slack = get("jemalloc.active")
            .zip(get("jemalloc.allocated"))
            .map(|(a, u)| a.saturating_sub(u));
        Explained {
            allocator_in_use: get("jemalloc.allocated"),
            free_held: slack.zip(get("jemalloc.dirty")).map(|(s, d)| s + d),
            lazily_freed: get("jemalloc.muzzy"),
            given_back_mapped: get("jemalloc.retained"),
            metadata: get("jemalloc.metadata"),
            ..Explained::default()
        }
    } else if f.contains_key("tcmalloc.allocated") {
        Explained {
            allocator_in_use: get("tcmalloc.allocated"),
            free_held: sum(&[
                "tcmalloc.pageheap_free",
                "tcmalloc.thread_cache",
                "tcmalloc.central_cache_free",
            ]),
            given_back_mapped: get("tcmalloc.pageheap_unmapped"),
            ..Explained::default()
        }
    } else {
        Explained {
            committed: get("mimalloc.committed"),
            ..Explained::default()
        }
    };
    Explained {
        in_use: get(COUNTED_IN_USE).or(allocator.allocator_in_use),
        ..allocator
    }
}

/// Two processes' parts: a part known in both adds up; known in one only, it is not known.
fn add(a: Explained, b: Explained) -> Explained {
    let s = |x: Option<u64>, y: Option<u64>| Some(x? + y?);
    Explained {
        in_use: s(a.in_use, b.in_use),
        allocator_in_use: s(a.allocator_in_use, b.allocator_in_use),
        free_held: s(a.free_held, b.free_held),
        lazily_freed: s(a.lazily_freed, b.lazily_freed),
        given_back_mapped: s(a.given_back_mapped, b.given_back_mapped),
        metadata: s(a.metadata, b.metadata),
        free_chunks: s(a.free_chunks, b.free_chunks),
        keepcost: s(a.keepcost, b.keepcost),
        committed: s(a.committed, b.committed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(pid: u32, figures: &[(&str, u64)]) -> PageReading {
        PageReading {
            pid,
            age_ms: 1.0,
            figures: figures.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            glibc_arenas: None,
        }
    }

    #[test]
    fn an_arenas_in_use_is_what_it_has_from_the_kernel_less_its_free() {
        let a = arena_parts(&ArenaReading {
            system_bytes: 300,
            free_bytes: 260,
            free_chunks: 7,
        });
        assert_eq!(
            (a.in_use_bytes, a.free_held_bytes, a.free_chunks),
            (40, 260, 7)
        );
    }

    #[test]
    fn glibc_in_use_counts_its_mmapped_chunks_and_free_is_fordblks() {
        let e = explain(&[page(
            1,
            &[
                ("glibc.uordblks", 10),
                ("glibc.hblkhd", 5),
                ("glibc.fordblks", 200),
                ("glibc.ordblks", 287),
                ("glibc.keepcost", 1),
            ],
        )]);
        assert_eq!(e.in_use, Some(15));
        assert_eq!(e.free_held, Some(200));
        assert_eq!(e.free_chunks, Some(287));
        assert_eq!(e.given_back_mapped, None, "glibc does not count it");
    }

    #[test]
    fn jemalloc_free_held_is_its_dirty_pages_and_page_slack() {
        let e = of_page(
            &page(
                1,
                &[
                    ("jemalloc.allocated", 100),
                    ("jemalloc.active", 120),
                    ("jemalloc.dirty", 30),
                    ("jemalloc.muzzy", 7),
                    ("jemalloc.retained", 500),
                    ("jemalloc.metadata", 9),
                ],
            )
            .figures,
        );
        assert_eq!(
            (
                e.in_use,
                e.free_held,
                e.lazily_freed,
                e.given_back_mapped,
                e.metadata
            ),
            (Some(100), Some(50), Some(7), Some(500), Some(9))
        );
    }

    #[test]
    fn the_apps_own_count_is_in_use_and_mimalloc_has_no_other() {
        let counted =
            of_page(&page(1, &[("mimalloc.committed", 300), (COUNTED_IN_USE, 20)]).figures);
        assert_eq!(counted.in_use, Some(20));
        assert_eq!(counted.allocator_in_use, None);
        assert_eq!(counted.free_held, None, "committed is not free held");
        let bare = of_page(&page(1, &[("mimalloc.committed", 300)]).figures);
        assert_eq!(bare.in_use, None, "missing, never 0");
    }

    #[test]
    fn a_tree_adds_up_and_a_part_one_process_lacks_is_unknown() {
        let a = page(
            1,
            &[("tcmalloc.allocated", 10), ("tcmalloc.pageheap_free", 1)],
        );
        let b = page(2, &[("tcmalloc.allocated", 20)]);
        let e = explain(&[a, b]);
        assert_eq!(e.in_use, Some(30));
        assert_eq!(e.free_held, None);
        assert_eq!(explain(&[]), Explained::default());
    }
}
