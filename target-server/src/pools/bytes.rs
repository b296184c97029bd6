//! Incident 003's byte pool: a bounded pool of equal buffers with a low and a high watermark.
//!
//! The time-series database's pool was a bounded channel pre-filled at start. `get` took a
//! buffer, or allocated one when the pool was empty (counting "get on empty"); when fewer than
//! low × capacity were idle, one background refill (guarded by a CAS) allocated until high ×
//! capacity were idle; `put` returned a buffer if there was room and dropped it otherwise.
//! Under a read burst the on-empty allocations and the refills pile up together, and memory
//! grows with the burst. This is that pool, with the same counters.
//!
//! A query gathered many chunk buffers at once, so a range is read the same way
//! ([`BytePool::gather`]): one buffer per `buffer_bytes` of the range, all taken in a tight loop,
//! then each filled with its slice. The response puts each back as soon as it has been sent.
//!
//! Watermarks are kept as buffer counts: `low = ⌈low_fraction × capacity⌉` and likewise
//! `high`, so "idle < low × capacity" is exactly "idle < low". The pool is pre-filled to the
//! high watermark, the level a refill aims for, so it starts in the state it returns to after
//! a refill; `/stats` reports it as `prefilled`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::{Deserialize, Serialize};

/// Written into every new buffer so its pages are resident, as a pool buffer's are once used.
const BUFFER_FILL: u8 = 0xA5;

/// `/stats` `pools.bytes`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BytePoolFigures {
    /// Most idle buffers the pool keeps.
    pub capacity: u64,
    pub buffer_bytes: u64,
    /// Buffers: a `get` that leaves fewer idle starts a refill.
    pub low_watermark: u64,
    /// Buffers: a refill allocates until this many are idle; also the pre-fill.
    pub high_watermark: u64,
    /// Buffers allocated at start.
    pub prefilled: u64,
    /// Buffers in the pool now.
    pub idle: u64,
    /// Buffers taken by `get` and not yet `put` back.
    pub outstanding: u64,
    pub get_total: u64,
    /// `get`s that found the pool empty and allocated a buffer.
    pub get_on_empty: u64,
    pub put_total: u64,
    /// Buffers freed because the pool was full: by a `put`, or by a refill that lost the race
    /// to `put`s.
    pub put_dropped: u64,
    /// Background refills started.
    pub refills: u64,
    /// Buffers allocated by refills.
    pub refill_allocated: u64,
    /// Buffers allocated for any reason: pre-fill, get on empty, refill.
    pub allocated_total: u64,
    /// `(idle + outstanding) × buffer_bytes`: the bytes the pool's buffers hold.
    pub bytes_total: u64,
}

#[derive(Debug, Default)]
struct Counters {
    outstanding: AtomicU64,
    get_total: AtomicU64,
    get_on_empty: AtomicU64,
    put_total: AtomicU64,
    put_dropped: AtomicU64,
    refills: AtomicU64,
    refill_allocated: AtomicU64,
    allocated_total: AtomicU64,
}

#[derive(Debug)]
pub struct BytePool {
    capacity: usize,
    buffer_bytes: usize,
    low: usize,
    high: usize,
    prefilled: usize,
    idle: Mutex<Vec<Vec<u8>>>,
    refilling: AtomicBool,
    counters: Counters,
}

/// `⌈fraction × capacity⌉`, without the float noise that makes 0.3 × 10 round up to 4.
fn watermark(fraction: f64, capacity: usize) -> usize {
    ((fraction * capacity as f64) - 1e-9).ceil().max(0.0) as usize
}

impl BytePool {
    /// A pool of `capacity` buffers of `buffer_bytes`, pre-filled to the high watermark on the
    /// calling thread. Expects `0 <= low < high <= 1` (checked by the command line).
    pub fn new(capacity: usize, buffer_bytes: usize, low: f64, high: f64) -> Self {
        let high = watermark(high, capacity);
        let pool = Self {
            capacity,
            buffer_bytes,
            low: watermark(low, capacity),
            high,
            prefilled: high,
            idle: Mutex::new(Vec::with_capacity(capacity)),
            refilling: AtomicBool::new(false),
            counters: Counters::default(),
        };
        {
            let mut idle = pool.lock();
            for _ in 0..high {
                idle.push(pool.allocate());
            }
        }
        pool
    }

    pub fn buffer_bytes(&self) -> usize {
        self.buffer_bytes
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Vec<u8>>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn allocate(&self) -> Vec<u8> {
        self.counters
            .allocated_total
            .fetch_add(1, Ordering::Relaxed);
        vec![BUFFER_FILL; self.buffer_bytes]
    }

    /// A buffer from the pool, or a new one if it is empty; then, if fewer than the low
    /// watermark are idle and no refill is running, starts one on its own thread.
    pub fn get(self: &Arc<Self>) -> PooledBuf {
        let c = &self.counters;
        c.get_total.fetch_add(1, Ordering::Relaxed);
        let (taken, idle_after) = {
            let mut idle = self.lock();
            let b = idle.pop();
            (b, idle.len())
        };
        let buf = taken.unwrap_or_else(|| {
            c.get_on_empty.fetch_add(1, Ordering::Relaxed);
            self.allocate()
        });
        c.outstanding.fetch_add(1, Ordering::Relaxed);
        if idle_after < self.low
            && self
                .refilling
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            c.refills.fetch_add(1, Ordering::Relaxed);
            let me = self.clone();
            let spawned = std::thread::Builder::new()
                .name("byte-pool-refill".into())
                .spawn(move || me.refill());
            if spawned.is_err() {
                // No thread, no refill: the next get may try again.
                self.refilling.store(false, Ordering::Release);
            }
        }
        let len = buf.len();
        PooledBuf {
            buf,
            len,
            pool: self.clone(),
        }
    }

    /// The buffers for `len` bytes, taken the way a query gathers its chunk buffers: all
    /// `⌈len / buffer_bytes⌉` [`get`](Self::get)s one after another in a tight loop on the
    /// calling thread, then `fill(offset, slice)` for each buffer's part of the `len` bytes in
    /// order (`offset` from the first byte; every buffer full but maybe the last). A failed
    /// `fill` returns its error, and every buffer taken goes back to the pool.
    pub fn gather(
        self: &Arc<Self>,
        len: u64,
        mut fill: impl FnMut(u64, &mut [u8]) -> std::io::Result<()>,
    ) -> std::io::Result<Vec<PooledBuf>> {
        let size = self.buffer_bytes.max(1) as u64;
        let n = len.div_ceil(size);
        let mut bufs: Vec<PooledBuf> = (0..n).map(|_| self.get()).collect();
        let mut offset = 0;
        for buf in &mut bufs {
            let part = size.min(len - offset);
            buf.truncate(part as usize);
            fill(offset, buf)?;
            offset += part;
        }
        Ok(bufs)
    }

    /// The background refill: allocates until the high watermark is idle, then clears the
    /// flag that kept a second refill from starting.
    fn refill(&self) {
        while self.lock().len() < self.high {
            let buf = self.allocate();
            self.counters
                .refill_allocated
                .fetch_add(1, Ordering::Relaxed);
            let mut idle = self.lock();
            if idle.len() < self.capacity {
                idle.push(buf);
            } else {
                drop(idle);
                self.counters.put_dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.refilling.store(false, Ordering::Release);
    }

    /// Back into the pool if it has room; freed otherwise.
    fn put(&self, buf: Vec<u8>) {
        let c = &self.counters;
        c.put_total.fetch_add(1, Ordering::Relaxed);
        c.outstanding.fetch_sub(1, Ordering::Relaxed);
        let rejected = {
            let mut idle = self.lock();
            if idle.len() < self.capacity {
                idle.push(buf);
                None
            } else {
                Some(buf)
            }
        };
        if let Some(buf) = rejected {
            c.put_dropped.fetch_add(1, Ordering::Relaxed);
            // Freed here, outside the lock.
            drop(buf);
        }
    }

    /// Whether a background refill is running.
    pub fn refilling(&self) -> bool {
        self.refilling.load(Ordering::Acquire)
    }

    pub fn figures(&self) -> BytePoolFigures {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let idle = self.lock().len() as u64;
        let outstanding = get(&c.outstanding);
        BytePoolFigures {
            capacity: self.capacity as u64,
            buffer_bytes: self.buffer_bytes as u64,
            low_watermark: self.low as u64,
            high_watermark: self.high as u64,
            prefilled: self.prefilled as u64,
            idle,
            outstanding,
            get_total: get(&c.get_total),
            get_on_empty: get(&c.get_on_empty),
            put_total: get(&c.put_total),
            put_dropped: get(&c.put_dropped),
            refills: get(&c.refills),
            refill_allocated: get(&c.refill_allocated),
            allocated_total: get(&c.allocated_total),
            bytes_total: (idle + outstanding) * self.buffer_bytes as u64,
        }
    }
}

/// A buffer out of the pool; dropping it puts it back. Derefs to its first `len` bytes, the
/// part a request uses.
#[derive(Debug)]
pub struct PooledBuf {
    buf: Vec<u8>,
    len: usize,
    pool: Arc<BytePool>,
}

impl PooledBuf {
    /// Uses only the first `len` bytes (at most the buffer's size) from now on.
    pub fn truncate(&mut self, len: usize) {
        self.len = len.min(self.buf.len());
    }
}

impl std::ops::Deref for PooledBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl std::ops::DerefMut for PooledBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.buf[..self.len]
    }
}

impl AsRef<[u8]> for PooledBuf {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl Drop for PooledBuf {
    fn drop(&mut self) {
        self.pool.put(std::mem::take(&mut self.buf));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn wait_refill_done(pool: &BytePool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while pool.refilling() {
            assert!(Instant::now() < deadline, "the refill never finished");
            std::thread::yield_now();
        }
    }

    #[test]
    fn watermarks_are_buffer_counts_rounded_up() {
        assert_eq!(watermark(0.3, 10), 3);
        assert_eq!(watermark(0.6, 10), 6);
        assert_eq!(watermark(0.3, 8), 3);
        assert_eq!(watermark(0.6, 8), 5);
        assert_eq!(watermark(0.0, 8), 0);
        assert_eq!(watermark(1.0, 8), 8);
    }

    #[test]
    fn prefilled_to_the_high_watermark() {
        let pool = BytePool::new(10, 100, 0.3, 0.6);
        let f = pool.figures();
        assert_eq!((f.prefilled, f.idle, f.allocated_total), (6, 6, 6));
        assert_eq!((f.low_watermark, f.high_watermark), (3, 6));
        assert_eq!(f.bytes_total, 600);
    }

    #[test]
    fn get_below_low_starts_one_refill_up_to_high() {
        let pool = Arc::new(BytePool::new(10, 100, 0.3, 0.6));
        // 6 idle: the fourth get leaves 2 < 3 and starts the refill.
        let held: Vec<_> = (0..4).map(|_| pool.get()).collect();
        wait_refill_done(&pool);
        let f = pool.figures();
        assert_eq!(f.refills, 1);
        assert_eq!(f.idle, 6, "refilled to the high watermark");
        assert_eq!(f.refill_allocated, 4);
        assert_eq!(f.outstanding, 4);
        assert_eq!(f.get_on_empty, 0);
        assert_eq!(f.bytes_total, 1000);
        assert!(held.iter().all(|b| b.len() == 100));
        drop(held);
        let f = pool.figures();
        assert_eq!((f.idle, f.put_total, f.put_dropped), (10, 4, 0));
    }

    #[test]
    fn empty_pool_allocates_and_a_full_pool_drops_puts() {
        // Low watermark 0: never refills, so the counts are exact.
        let pool = Arc::new(BytePool::new(4, 64, 0.0, 0.5));
        let mut held: Vec<_> = (0..7).map(|_| pool.get()).collect();
        let f = pool.figures();
        assert_eq!((f.get_total, f.get_on_empty, f.refills), (7, 5, 0));
        assert_eq!(f.outstanding, 7);
        assert_eq!(f.allocated_total, 7);
        held[0].truncate(10);
        assert_eq!(held[0].len(), 10);
        held.clear();
        let f = pool.figures();
        assert_eq!((f.idle, f.outstanding), (4, 0));
        assert_eq!((f.put_total, f.put_dropped), (7, 3));
        assert_eq!(f.allocated_total, f.idle + f.outstanding + f.put_dropped);
        assert_eq!(f.bytes_total, 4 * 64);
    }
    #[test]
    fn gather_takes_one_buffer_per_slice_and_fills_each_with_its_part() {
        // Low watermark 0: never refills, so the counts are exact.
        let pool = Arc::new(BytePool::new(8, 1000, 0.0, 0.5));
        let src: Vec<u8> = (0..2500u32).map(|i| (i % 251) as u8).collect();
        let mut calls = Vec::new();
        let bufs = pool
            .gather(2500, |offset, buf| {
                calls.push((offset, buf.len()));
                let o = offset as usize;
                buf.copy_from_slice(&src[o..o + buf.len()]);
                Ok(())
            })
            .unwrap();
        assert_eq!(calls, [(0, 1000), (1000, 1000), (2000, 500)]);
        assert_eq!(
            bufs.iter().map(|b| b.len()).collect::<Vec<_>>(),
            [1000, 1000, 500]
        );
        assert_eq!(
            bufs.iter()
                .flat_map(|b| b.iter().copied())
                .collect::<Vec<_>>(),
            src
        );
        let f = pool.figures();
        assert_eq!(
            (f.get_total, f.get_on_empty, f.outstanding, f.idle),
            (3, 0, 3, 1)
        );
        // Each buffer goes back on its own.
        let mut bufs = bufs.into_iter();
        drop(bufs.next());
        assert_eq!((pool.figures().outstanding, pool.figures().idle), (2, 2));
        drop(bufs);
        let f = pool.figures();
        assert_eq!((f.outstanding, f.idle, f.put_total), (0, 4, 3));
    }

    #[test]
    fn a_gather_larger_than_the_pool_allocates_the_rest_on_empty() {
        let pool = Arc::new(BytePool::new(4, 64, 0.0, 0.5));
        // 2 pre-filled buffers, 7 gets: the last 5 find the pool empty.
        let bufs = pool.gather(7 * 64 - 10, |_, _| Ok(())).unwrap();
        assert_eq!(bufs.len(), 7);
        assert_eq!(bufs[6].len(), 54);
        let f = pool.figures();
        assert_eq!((f.get_total, f.get_on_empty, f.outstanding), (7, 5, 7));
        assert_eq!(f.allocated_total, 7);
        drop(bufs);
        let f = pool.figures();
        assert_eq!(
            (f.idle, f.outstanding, f.put_total, f.put_dropped),
            (4, 0, 7, 3)
        );
    }

    #[test]
    fn gather_takes_all_its_buffers_before_filling_any() {
        let pool = Arc::new(BytePool::new(8, 10, 0.0, 0.5));
        let mut seen = Vec::new();
        let bufs = pool
            .gather(35, |_, _| {
                let f = pool.figures();
                seen.push((f.get_total, f.outstanding));
                Ok(())
            })
            .unwrap();
        assert_eq!(seen, [(4, 4); 4], "every fill runs after the fourth get");
        drop(bufs);
    }

    #[test]
    fn a_failed_fill_puts_every_buffer_back() {
        let pool = Arc::new(BytePool::new(8, 100, 0.0, 0.5));
        let r = pool.gather(450, |offset, _| {
            if offset == 200 {
                Err(std::io::Error::other("short file"))
            } else {
                Ok(())
            }
        });
        assert_eq!(r.unwrap_err().to_string(), "short file");
        let f = pool.figures();
        assert_eq!((f.get_total, f.put_total, f.outstanding), (5, 5, 0));
        assert_eq!(f.idle, 5, "4 pre-filled + 1 allocated on empty, all back");
    }

    #[test]
    fn gathering_nothing_takes_nothing() {
        let pool = Arc::new(BytePool::new(4, 64, 0.3, 0.6));
        let bufs = pool.gather(0, |_, _| unreachable!()).unwrap();
        assert!(bufs.is_empty());
        assert_eq!(pool.figures().get_total, 0);
    }
}
