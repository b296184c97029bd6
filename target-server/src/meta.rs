//! Long-lived block metadata: the allocations that pin the top of a glibc heap.
//!
//! In incident 000 the data server kept logical/physical block records until a block was
//! deleted, allocating them on the serving thread while a big read buffer was still alive. The
//! buffer is freed moments later; the small record above it is not, and ptmalloc cannot trim
//! below a live chunk. This module keeps records the same way.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Where a block lives on disk; a few per record, as in a real chunk map.
#[derive(Debug, Clone, Copy)]
#[allow(dead_code)] // the fields are the payload: they are kept, not read
struct Extent {
    disk: u16,
    offset: u64,
    len: u32,
}

/// One block's metadata record.
#[derive(Debug)]
#[allow(dead_code)]
struct BlockMeta {
    name: String,
    extents: Vec<Extent>,
    /// Checksums and attributes: sized so the whole record matches the drawn size.
    attrs: Box<[u8]>,
    bytes: u64,
}

/// The global block index. Records stay until deleted by churn.
#[derive(Debug)]
pub struct BlockIndex {
    records: Mutex<BTreeMap<u64, BlockMeta>>,
    bytes: AtomicU64,
    count: AtomicU64,
    next_id: AtomicU64,
    seed: u64,
    size: (u64, u64),
}

impl BlockIndex {
    pub fn new(seed: u64, size: (u64, u64)) -> Self {
        Self {
            records: Mutex::new(BTreeMap::new()),
            bytes: AtomicU64::new(0),
            count: AtomicU64::new(0),
            next_id: AtomicU64::new(0),
            seed,
            size,
        }
    }

    /// Allocates one record on the calling thread and keeps it. Its size is drawn from the
    /// configured range, reproducibly from the seed and the record's number.
    pub fn add(&self) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut rng = SmallRng::seed_from_u64(self.seed ^ id.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let target = rng.random_range(self.size.0..=self.size.1);
        let name = format!("vol{:02}/blk{:012x}", rng.random_range(0..64u32), id);
        let extents: Vec<Extent> = (0..rng.random_range(1..=4))
            .map(|_| Extent {
                disk: rng.random_range(0..24),
                offset: rng.random::<u64>() & !0xfff,
                len: 1 << 20,
            })
            .collect();
        let fixed = (std::mem::size_of::<BlockMeta>()
            + name.capacity()
            + extents.capacity() * std::mem::size_of::<Extent>()) as u64;
        let attrs = vec![0xA5u8; target.saturating_sub(fixed) as usize].into_boxed_slice();
        let bytes = fixed + attrs.len() as u64;
        let rec = BlockMeta {
            name,
            extents,
            attrs,
            bytes,
        };
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, rec);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Deletes the record at or after a random id (a block deleted by a user).
    pub fn delete_one(&self, rng: &mut SmallRng) -> bool {
        let end = self.next_id.load(Ordering::Relaxed);
        if end == 0 {
            return false;
        }
        let from = rng.random_range(0..end);
        let removed = {
            let mut map = self.records.lock().unwrap_or_else(|e| e.into_inner());
            let key = map
                .range(from..)
                .next()
                .or_else(|| map.iter().next())
                .map(|(k, _)| *k);
            key.and_then(|k| map.remove(&k))
        };
        match removed {
            Some(rec) => {
                self.bytes.fetch_sub(rec.bytes, Ordering::Relaxed);
                self.count.fetch_sub(1, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    pub fn len(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_sized_from_the_range_and_counted() {
        let idx = BlockIndex::new(7, (96, 640));
        for _ in 0..1000 {
            idx.add();
        }
        assert_eq!(idx.len(), 1000);
        let avg = idx.bytes() / 1000;
        assert!((96..=640).contains(&avg), "average record {avg} bytes");
        let mut rng = SmallRng::seed_from_u64(1);
        for _ in 0..1000 {
            assert!(idx.delete_one(&mut rng));
        }
        assert!(idx.is_empty());
        assert_eq!(idx.bytes(), 0);
        assert!(!idx.delete_one(&mut rng));
    }

    #[test]
    fn same_seed_same_sizes() {
        let a = BlockIndex::new(3, (96, 640));
        let b = BlockIndex::new(3, (96, 640));
        for _ in 0..100 {
            a.add();
            b.add();
        }
        assert_eq!(a.bytes(), b.bytes());
    }
}
