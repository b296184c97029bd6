//! glibc's per-arena figures, read without trimming and without allocating: `malloc_info(0, fp)`
//! printed into a buffer the probe owns, then scanned byte by byte.
//!
//! What glibc 2.36's `__malloc_info` (malloc/malloc.c) prints per `<heap nr="N">` (N = 0 is the
//! main arena, then the thread arenas, newest first), each under that arena's lock:
//! - `<total type="fast" count size>`: the chunks in the fastbins;
//! - `<total type="rest" count size>`: the top chunk (counted as one chunk) and every chunk in
//!   the unsorted, small and large bins. The bins' sizes are summed with `chunksize_nomask`,
//!   that is with each chunk's flag bits: a binned free chunk's are exactly PREV_INUSE (glibc
//!   writes `size | PREV_INUSE` when it bins a chunk), so the size is one byte too many per
//!   binned chunk, `count - 1` in all (the top's size is masked). Taken off here: the arenas
//!   then add up to `mallinfo2`'s `fordblks` exactly (measured: 127 bytes too many before, over
//!   127 binned chunks, a toy-server glibc run's drain, 2026-12-07);
//! - `<system type="current" size>`: the arena's `system_mem`, bytes it has from the kernel
//!   (main: the brk heap; a thread arena: its heaps' read-write part).
//!
//! Chunks in a thread's tcache are not free to the arena (they count as in use), and chunks
//! served by their own `mmap` belong to no arena (`hblkhd`).

use std::ffi::c_void;

/// Arenas the page has room for; `Arenas::count` still says how many exist.
pub const ARENA_SLOTS: usize = 16;
/// The buffer `malloc_info` prints into. Its worst case is about 10 KB per arena (a line per
/// non-empty bin, 137 bins); only the pages it writes become resident.
const OUTPUT_BYTES: usize = 256 * 1024;
/// stdio's buffer for the stream, given with `setvbuf` so stdio never mallocs its own.
const STDIO_BYTES: usize = 4096;
const END: &[u8] = b"</malloc>\n";

/// One arena, bytes and chunks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Arena {
    /// `system type="current"`: what the arena has from the kernel.
    pub system: u64,
    /// Fast + rest sizes (rest less its flag bits): free chunks and the top chunk.
    pub free: u64,
    /// Fast + rest counts (the top chunk is one).
    pub free_chunks: u64,
}

/// Every arena of one reading. `count` 0: unknown (glibc always has its main arena).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Arenas {
    pub count: u64,
    pub slots: [Arena; ARENA_SLOTS],
}

impl Arenas {
    /// The arenas read, main first; `None` when unknown.
    pub fn known(&self) -> Option<&[Arena]> {
        let n = (self.count as usize).min(ARENA_SLOTS);
        (self.count > 0).then(|| &self.slots[..n])
    }
}

/// The stream `malloc_info` prints into, opened in `start` (on the caller's thread: `fmemopen`
/// allocates its FILE there), on buffers of its own mapping. Lives as long as the process.
pub struct InfoStream {
    fp: *mut libc::FILE,
    output: *const u8,
}

// SAFETY: used by one thread at a time: the first reading on the caller's thread, then only the
// probe thread.
unsafe impl Send for InfoStream {}
unsafe impl Sync for InfoStream {}

impl InfoStream {
    /// `None` if the mapping or the stream cannot be had: the arenas stay unknown.
    pub fn open() -> Option<InfoStream> {
        InfoStream::with_capacity(OUTPUT_BYTES)
    }

    /// As `open`, with room for `output` bytes of XML (tests give a small one).
    pub fn with_capacity(output: usize) -> Option<InfoStream> {
        // SAFETY: a fresh private anonymous mapping; the stream gets its two parts, and it is
        // never unmapped (the stream lives as long as the process).
        unsafe {
            let len = STDIO_BYTES + output;
            let base = libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            if base == libc::MAP_FAILED {
                return None;
            }
            let out = (base as *mut u8).add(STDIO_BYTES);
            let fp = libc::fmemopen(out as *mut c_void, output, c"w".as_ptr());
            if fp.is_null() {
                libc::munmap(base, len);
                return None;
            }
            libc::setvbuf(fp, base as *mut libc::c_char, libc::_IOFBF, STDIO_BYTES);
            Some(InfoStream { fp, output: out })
        }
    }

    /// One reading into `out`; unknown (`count` 0) when glibc fails or the output was cut.
    pub fn read(&self, out: &mut Arenas) {
        *out = Arenas::default();
        // SAFETY: our stream, used by one thread at a time; the bytes read are the ones
        // written since the rewind, inside our buffer.
        unsafe {
            libc::rewind(self.fp);
            let rc = libc::malloc_info(0, self.fp);
            let flushed = libc::fflush(self.fp) == 0 && libc::ferror(self.fp) == 0;
            let len = libc::ftell(self.fp);
            if rc != 0 || !flushed || len <= 0 {
                return;
            }
            let xml = std::slice::from_raw_parts(self.output, len as usize);
            parse(xml, out);
        }
    }
}

/// Fills `out` from `malloc_info`'s XML; leaves it unknown unless the whole output is there
/// and every arena that has a slot gave its three figures.
pub fn parse(xml: &[u8], out: &mut Arenas) {
    *out = Arenas::default();
    if !xml.ends_with(END) {
        return;
    }
    let mut rest = xml;
    let mut count = 0u64;
    while let Some(start) = find(rest, b"<heap nr=\"") {
        let heap = &rest[start..];
        let Some(end) = find(heap, b"</heap>") else {
            return;
        };
        if let Some(slot) = out.slots.get_mut(count as usize) {
            match arena(&heap[..end]) {
                Some(a) => *slot = a,
                None => {
                    *out = Arenas::default();
                    return;
                }
            }
        }
        count += 1;
        rest = &heap[end..];
    }
    out.count = count;
}

/// One `<heap>` element's figures.
fn arena(heap: &[u8]) -> Option<Arena> {
    let (fast_count, fast_size) = total(heap, b"<total type=\"fast\" count=\"")?;
    let (rest_count, rest_size) = total(heap, b"<total type=\"rest\" count=\"")?;
    let system = number_after(heap, b"<system type=\"current\" size=\"")?;
    // The flag bit each binned chunk adds to `rest`'s size (the top is not binned).
    let flags = rest_count.checked_sub(1)?;
    Some(Arena {
        system,
        free: fast_size.checked_add(rest_size.checked_sub(flags)?)?,
        free_chunks: fast_count.checked_add(rest_count)?,
    })
}

/// `<total type=".." count="C" size="S"/>`: (C, S).
fn total(heap: &[u8], tag: &[u8]) -> Option<(u64, u64)> {
    let at = find(heap, tag)? + tag.len();
    let (count, used) = number(&heap[at..])?;
    let size = number_after(&heap[at + used..], b"size=\"")?;
    Some((count, size))
}

fn number_after(hay: &[u8], tag: &[u8]) -> Option<u64> {
    let at = find(hay, tag)? + tag.len();
    number(&hay[at..]).map(|(n, _)| n)
}

/// Decimal digits up to the closing quote: (value, bytes read).
fn number(s: &[u8]) -> Option<(u64, usize)> {
    let digits = s.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || s.get(digits) != Some(&b'"') {
        return None;
    }
    let mut n = 0u64;
    for d in &s[..digits] {
        n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some((n, digits))
}

/// The first `needle` in `hay`: candidates by their first byte (`<` or `s`, rare in the XML),
/// then compared whole.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, _) = needle.split_first()?;
    let last = hay.len().checked_sub(needle.len())?;
    (0..=last).find(|&i| hay[i] == first && hay[i..].starts_with(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape glibc 2.36 prints, two arenas (bins cut short).
    const TWO: &[u8] = b"<malloc version=\"1\">\n<heap nr=\"0\">\n<sizes>\n  <size from=\"33\" to=\"48\" total=\"96\" count=\"2\"/>\n</sizes>\n<total type=\"fast\" count=\"2\" size=\"96\"/>\n<total type=\"rest\" count=\"3\" size=\"70000\"/>\n<system type=\"current\" size=\"135168\"/>\n<system type=\"max\" size=\"135168\"/>\n<aspace type=\"total\" size=\"135168\"/>\n<aspace type=\"mprotect\" size=\"135168\"/>\n</heap>\n<heap nr=\"1\">\n<sizes>\n</sizes>\n<total type=\"fast\" count=\"0\" size=\"0\"/>\n<total type=\"rest\" count=\"1\" size=\"4000\"/>\n<system type=\"current\" size=\"8192\"/>\n<system type=\"max\" size=\"8192\"/>\n<aspace type=\"total\" size=\"8192\"/>\n<aspace type=\"mprotect\" size=\"8192\"/>\n<aspace type=\"subheaps\" size=\"1\"/>\n</heap>\n<total type=\"fast\" count=\"2\" size=\"96\"/>\n<total type=\"rest\" count=\"4\" size=\"74000\"/>\n<total type=\"mmap\" count=\"0\" size=\"0\"/>\n<system type=\"current\" size=\"143360\"/>\n<system type=\"max\" size=\"143360\"/>\n<aspace type=\"total\" size=\"143360\"/>\n<aspace type=\"mprotect\" size=\"143360\"/>\n</malloc>\n";

    #[test]
    fn each_heap_gives_system_free_and_chunks_main_first() {
        let mut a = Arenas::default();
        parse(TWO, &mut a);
        let main = Arena {
            system: 135168,
            free: 70094,
            free_chunks: 5,
        };
        let thread = Arena {
            system: 8192,
            free: 4000,
            free_chunks: 1,
        };
        assert_eq!(a.known(), Some(&[main, thread][..]));
    }

    #[test]
    fn a_cut_output_is_unknown_not_fewer_arenas() {
        let mut a = Arenas::default();
        for cut in [TWO.len() - 1, TWO.len() / 2, 10, 0] {
            parse(&TWO[..cut], &mut a);
            assert_eq!(a.known(), None, "cut at {cut}");
        }
    }

    #[test]
    fn a_heap_missing_a_figure_makes_all_unknown() {
        let broken = String::from_utf8(TWO.to_vec()).unwrap().replacen(
            "<system type=\"current\" size=\"8192\"/>",
            "",
            1,
        );
        let mut a = Arenas::default();
        parse(broken.as_bytes(), &mut a);
        assert_eq!(a.count, 0);
    }

    #[test]
    fn more_arenas_than_slots_are_counted_and_the_first_kept() {
        let heap = b"<heap nr=\"0\">\n<total type=\"fast\" count=\"0\" size=\"0\"/>\n<total type=\"rest\" count=\"1\" size=\"10\"/>\n<system type=\"current\" size=\"20\"/>\n</heap>\n";
        let mut xml = b"<malloc version=\"1\">\n".to_vec();
        for _ in 0..ARENA_SLOTS + 3 {
            xml.extend_from_slice(heap);
        }
        xml.extend_from_slice(END);
        let mut a = Arenas::default();
        parse(&xml, &mut a);
        assert_eq!(a.count, ARENA_SLOTS as u64 + 3);
        assert_eq!(a.known().unwrap().len(), ARENA_SLOTS);
    }

    #[test]
    fn this_processs_glibc_reads_and_a_small_buffer_reads_unknown() {
        let mut a = Arenas::default();
        InfoStream::open().unwrap().read(&mut a);
        let main = a.known().expect("glibc's malloc_info fits 256 KiB")[0];
        assert!(main.system > 0 && main.free <= main.system, "{main:?}");
        let small = InfoStream::with_capacity(64).unwrap();
        small.read(&mut a);
        assert_eq!(a.known(), None);
        small.read(&mut a);
        assert_eq!(a.known(), None, "and again after the rewind");
    }
}
