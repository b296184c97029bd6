//! What the page can hold: which allocator serves `malloc`, and the one list of figures.

/// The allocator that serves `malloc` in the probed process. The page stores it as its `u32`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Allocator {
    Unknown = 0,
    Glibc = 1,
    Jemalloc = 2,
    Tcmalloc = 3,
    Mimalloc = 4,
}

impl Allocator {
    pub const ALL: [Allocator; 5] = [
        Allocator::Unknown,
        Allocator::Glibc,
        Allocator::Jemalloc,
        Allocator::Tcmalloc,
        Allocator::Mimalloc,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Allocator::Unknown => "unknown",
            Allocator::Glibc => "glibc",
            Allocator::Jemalloc => "jemalloc",
            Allocator::Tcmalloc => "tcmalloc",
            Allocator::Mimalloc => "mimalloc",
        }
    }

    pub fn from_u32(raw: u32) -> Option<Allocator> {
        Allocator::ALL.into_iter().find(|a| *a as u32 == raw)
    }

    /// The figures this allocator's reader can fill (not the host-counted ones, which any
    /// allocator's host may fill: `Figure::allocator` is `None` for them).
    pub fn figures(self) -> impl Iterator<Item = Figure> {
        Figure::ALL
            .iter()
            .copied()
            .filter(move |f| f.allocator() == Some(self))
    }
}

/// Whose figure it is: an allocator's reader, or (`Counted`) the host's counting allocator.
macro_rules! owner {
    (Counted) => {
        None
    };
    ($alloc:ident) => {
        Some(Allocator::$alloc)
    };
}

/// Declares `Figure` once: its slot is its position, its name is what readers key on.
macro_rules! figures {
    ($( $(#[doc = $doc:literal])* $variant:ident = $name:literal, $alloc:ident; )*) => {
        /// One figure slot of the page. Appending a variant keeps the layout version; reordering
        /// or removing one needs a new `page::VERSION`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum Figure { $( $(#[doc = $doc])* $variant, )* }

        impl Figure {
            pub const ALL: &'static [Figure] = &[$(Figure::$variant),*];

            /// The stable name a reader keys on, `<allocator>.<figure>`.
            pub const fn name(self) -> &'static str {
                match self { $(Figure::$variant => $name,)* }
            }

            /// The allocator whose reader fills this slot; `None` for a figure the host counts
            /// itself (`counted.*`), which is filled whatever the allocator.
            pub const fn allocator(self) -> Option<Allocator> {
                match self { $(Figure::$variant => owner!($alloc),)* }
            }
        }
    };
}

figures! {
    /// `mallinfo2().arena`: bytes obtained from brk and arena heaps (not mmapped chunks).
    GlibcArena = "glibc.arena", Glibc;
    /// `mallinfo2().ordblks`: number of free chunks (with `fordblks`: how scattered the free is).
    GlibcFreeChunks = "glibc.ordblks", Glibc;
    /// `mallinfo2().hblks`: number of chunks served by their own mmap.
    GlibcMmapChunks = "glibc.hblks", Glibc;
    /// `mallinfo2().hblkhd`: bytes in chunks served by their own mmap.
    GlibcMmapBytes = "glibc.hblkhd", Glibc;
    /// `mallinfo2().uordblks`: bytes in use in the arenas (mmapped chunks are in `hblkhd`).
    GlibcInUse = "glibc.uordblks", Glibc;
    /// `mallinfo2().fordblks`: free bytes the arenas hold.
    GlibcFreeHeld = "glibc.fordblks", Glibc;
    /// `mallinfo2().keepcost`: the trimmable top of the main arena.
    GlibcKeepcost = "glibc.keepcost", Glibc;

    /// `stats.allocated`: bytes the application holds.
    JemallocAllocated = "jemalloc.allocated", Jemalloc;
    /// `stats.active`: bytes in active pages (allocated plus their page slack).
    JemallocActive = "jemalloc.active", Jemalloc;
    /// `stats.resident`: bytes in physically resident pages jemalloc maps (an upper bound).
    JemallocResident = "jemalloc.resident", Jemalloc;
    /// `stats.retained`: bytes unmapped-by-purge but kept as address space.
    JemallocRetained = "jemalloc.retained", Jemalloc;
    /// `stats.mapped`: bytes in active extents mapped by the allocator.
    JemallocMapped = "jemalloc.mapped", Jemalloc;
    /// `stats.metadata`: bytes of jemalloc's own metadata.
    JemallocMetadata = "jemalloc.metadata", Jemalloc;
    /// `stats.arenas.<all>.pdirty` × page size: free bytes not yet purged.
    JemallocDirty = "jemalloc.dirty", Jemalloc;
    /// `stats.arenas.<all>.pmuzzy` × page size: bytes purged lazily (MADV_FREE), still counted in
    /// RSS until the kernel takes them.
    JemallocMuzzy = "jemalloc.muzzy", Jemalloc;

    /// `generic.current_allocated_bytes`: bytes the application holds.
    TcmallocAllocated = "tcmalloc.allocated", Tcmalloc;
    /// `generic.heap_size`: bytes the page heap holds from the system.
    TcmallocHeapSize = "tcmalloc.heap_size", Tcmalloc;
    /// `tcmalloc.pageheap_free_bytes`: free, still mapped page-heap bytes.
    TcmallocPageheapFree = "tcmalloc.pageheap_free", Tcmalloc;
    /// `tcmalloc.pageheap_unmapped_bytes`: free page-heap bytes given back (released).
    TcmallocPageheapUnmapped = "tcmalloc.pageheap_unmapped", Tcmalloc;
    /// `tcmalloc.current_total_thread_cache_bytes`: bytes in the thread caches.
    TcmallocThreadCache = "tcmalloc.thread_cache", Tcmalloc;
    /// `tcmalloc.central_cache_free_bytes`: free bytes in the central cache.
    TcmallocCentralCacheFree = "tcmalloc.central_cache_free", Tcmalloc;

    /// `mi_process_info` current commit: bytes mimalloc has committed (not RSS: with
    /// MADV_FREE-style purging RSS can be lower, with THP higher).
    MimallocCommitted = "mimalloc.committed", Mimalloc;
    /// `mi_process_info` peak commit.
    MimallocCommittedPeak = "mimalloc.committed_peak", Mimalloc;

    /// Bytes the host's counting allocator says are live: the sizes the program asked for and
    /// has not freed (no allocator overhead), counted the same way whatever the allocator. Only
    /// what passes through that counter: in a Rust host, Rust's global allocator, not C code
    /// calling `malloc`. Missing when the host registered no counter (any preloaded probe).
    CountedInUse = "counted.in_use", Counted;
}

impl Figure {
    /// Its slot in the page and its bit in `known`.
    pub const fn slot(self) -> usize {
        self as usize
    }

    pub fn by_name(name: &str) -> Option<Figure> {
        Figure::ALL.iter().copied().find(|f| f.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_positions_and_names_are_unique() {
        for (i, f) in Figure::ALL.iter().enumerate() {
            assert_eq!(f.slot(), i);
            assert_eq!(Figure::by_name(f.name()), Some(*f));
            let owner = f.allocator().map_or("counted", Allocator::name);
            assert!(f.name().starts_with(&format!("{owner}.")), "{}", f.name());
        }
    }

    #[test]
    fn allocator_round_trips_through_u32() {
        for a in Allocator::ALL {
            assert_eq!(Allocator::from_u32(a as u32), Some(a));
        }
        assert_eq!(Allocator::from_u32(99), None);
    }
}
