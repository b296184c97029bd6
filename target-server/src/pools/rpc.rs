//! Incident 001's RPC resource pool: fixed-size objects that the application takes per request
//! and never gives back to the allocator.
//!
//! The chunk server held user I/O buffers (freed after each request) and 64 KiB objects from an
//! app-level pool (returned to the pool's free list, never freed). Both were allocated on the
//! serving thread, one after the other, so long-lived pool objects landed among short-lived
//! buffers and pinned the heap around them. Here each range request takes `--rpc-pool-objects`
//! objects right after its buffer is allocated, on the same thread (`Server::fill`), and holds
//! them until its body is done; the pool grows to peak concurrency × K objects and stays there.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};

/// Written into every new object so its pages are resident, as a used object's would be.
const OBJECT_FILL: u8 = 0x5A;

/// `/stats` `pools.rpc`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RpcPoolFigures {
    pub object_bytes: u64,
    /// Objects the pool has ever allocated; it never frees one.
    pub objects_total: u64,
    /// Objects on the free list.
    pub objects_idle: u64,
    /// Objects held by responses now.
    pub objects_in_use: u64,
    /// `objects_total × object_bytes`.
    pub bytes_total: u64,
}

#[derive(Debug)]
pub struct RpcPool {
    object_bytes: usize,
    per_request: usize,
    free: Mutex<Vec<Vec<u8>>>,
    total: AtomicU64,
}

impl RpcPool {
    /// An empty pool of `object_bytes` objects, `per_request` of them for each request.
    pub fn new(object_bytes: usize, per_request: usize) -> Self {
        Self {
            object_bytes,
            per_request,
            free: Mutex::new(Vec::new()),
            total: AtomicU64::new(0),
        }
    }

    /// One request's objects: from the free list while it has any, newly allocated (and
    /// touched) on the calling thread after that.
    pub fn take(self: &Arc<Self>) -> RpcLease {
        let mut objects = Vec::with_capacity(self.per_request);
        {
            let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
            let reuse = free.len().min(self.per_request);
            let from = free.len() - reuse;
            objects.extend(free.drain(from..));
        }
        while objects.len() < self.per_request {
            objects.push(vec![OBJECT_FILL; self.object_bytes]);
            self.total.fetch_add(1, Ordering::Relaxed);
        }
        RpcLease {
            pool: self.clone(),
            objects,
        }
    }

    pub fn figures(&self) -> RpcPoolFigures {
        let idle = self
            .free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len() as u64;
        let total = self.total.load(Ordering::Relaxed);
        RpcPoolFigures {
            object_bytes: self.object_bytes as u64,
            objects_total: total,
            objects_idle: idle,
            // A take counts a new object just before handing it out: never below zero.
            objects_in_use: total.saturating_sub(idle),
            bytes_total: total * self.object_bytes as u64,
        }
    }
}

/// A request's objects; dropping it puts them back on the pool's free list, not to the
/// allocator.
#[derive(Debug)]
pub struct RpcLease {
    pool: Arc<RpcPool>,
    objects: Vec<Vec<u8>>,
}

impl Drop for RpcLease {
    fn drop(&mut self) {
        self.pool
            .free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .append(&mut self.objects);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_to_peak_concurrency_and_keeps_every_object() {
        let pool = Arc::new(RpcPool::new(1000, 2));
        let leases: Vec<_> = (0..3).map(|_| pool.take()).collect();
        let f = pool.figures();
        assert_eq!(
            (f.objects_total, f.objects_in_use, f.objects_idle),
            (6, 6, 0)
        );
        assert_eq!(f.bytes_total, 6000);
        assert!(leases[0].objects.iter().all(|o| o.len() == 1000));
        drop(leases);
        let f = pool.figures();
        assert_eq!(
            (f.objects_total, f.objects_in_use, f.objects_idle),
            (6, 0, 6)
        );

        // Fewer at once than at the peak: all from the free list, nothing new.
        let again: Vec<_> = (0..2).map(|_| pool.take()).collect();
        let f = pool.figures();
        assert_eq!(
            (f.objects_total, f.objects_in_use, f.objects_idle),
            (6, 4, 2)
        );
        drop(again);
        assert_eq!(pool.figures().objects_idle, 6);
    }

    #[test]
    fn a_short_free_list_is_topped_up_with_new_objects() {
        let pool = Arc::new(RpcPool::new(10, 3));
        let a = pool.take();
        let b = pool.take();
        drop(a);
        let c = pool.take();
        assert_eq!(pool.figures().objects_total, 6);
        drop((b, c));
        let f = pool.figures();
        assert_eq!((f.objects_total, f.objects_idle), (6, 6));
        let d = pool.take();
        let e = pool.take();
        let g = pool.take();
        // 6 from the list, 3 new.
        assert_eq!(pool.figures().objects_total, 9);
        drop((d, e, g));
    }
}
