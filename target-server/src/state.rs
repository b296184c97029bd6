//! What the server knows about itself: counters, the block index, in-flight buffers, pools —
//! the app's side of "who holds the memory".

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::alloc::{Allocator, AllocatorFigures, MalloptParam};
use crate::files::{Files, FilesFigures};
use crate::iopool::{IoPool, IoPoolFigures};
use crate::meta::BlockIndex;
use crate::pools::{PoolFigures, Pools};

#[derive(Debug, Default)]
pub struct Counters {
    pub requests: AtomicU64,
    pub responses_ok: AtomicU64,
    pub responses_completed: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub rejected_503: AtomicU64,
    pub client_errors_4xx: AtomicU64,
    pub served_after_client_gone: AtomicU64,
    pub meta_added: AtomicU64,
    pub meta_deleted: AtomicU64,
    /// Bytes leaked on purpose (`--leak`).
    pub leaked_bytes: AtomicU64,
}

/// Live request buffers: incremented when a buffer is allocated, decremented when it is freed.
#[derive(Debug, Default)]
pub struct InflightBuffers {
    pub count: AtomicU64,
    pub bytes: AtomicU64,
}

#[derive(Debug)]
pub struct AppState {
    pub allocator: Allocator,
    pub mallopt: Vec<(MalloptParam, u64)>,
    pub settings: serde_json::Value,
    pub counters: Counters,
    pub inflight: Arc<InflightBuffers>,
    pub blocks: BlockIndex,
    pub pools: Pools,
    /// The fixed I/O pool, with `--io pool`: here for its figures.
    pub io_pool: Option<Arc<IoPool>>,
    /// The objects of `/files/{key}`.
    pub files: Files,
    pub started: Instant,
}

/// The `/stats` document. The harness reads it with this same type.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stats {
    pub allocator: String,
    pub uptime_s: f64,
    pub threads: u64,
    /// Allocator settings in effect (read back where the allocator can tell) and the env.
    pub allocator_settings: serde_json::Value,
    /// The server's own settings.
    pub server_settings: serde_json::Value,
    pub allocator_figures: AllocatorFigures,
    pub app: AppFigures,
    pub counters: CounterFigures,
    /// The app's memory pools; each `null` when off. Absent from documents of servers older
    /// than the pools.
    #[serde(default)]
    pub pools: PoolFigures,
    /// The fixed I/O pool, with `--io pool`; `null` otherwise.
    #[serde(default)]
    pub io_pool: Option<IoPoolFigures>,
    /// `/files/{key}`'s objects. Absent from documents of servers older than the route.
    #[serde(default)]
    pub files: FilesFigures,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AppFigures {
    /// Bytes held by long-lived block metadata.
    pub block_index_bytes: u64,
    pub block_records: u64,
    /// Bytes of fresh request buffers (and streaming chunks) alive right now: queued behind
    /// the egress limit, held, or being written. Byte-pool buffers are the pool's, counted in
    /// `pool_bytes` instead.
    pub inflight_buffer_bytes: u64,
    pub inflight_buffers: u64,
    /// Bytes owned by the app's pools, idle or in use (`pools.*.bytes_total`).
    #[serde(default)]
    pub pool_bytes: u64,
    /// Bytes leaked on purpose (`--leak`): held for ever.
    #[serde(default)]
    pub leaked_bytes: u64,
    /// `/files/{key}`'s per-key metadata and kept write bodies (`files.*`).
    #[serde(default)]
    pub files_bytes: u64,
    /// `block_index_bytes + inflight_buffer_bytes + pool_bytes + leaked_bytes + files_bytes`:
    /// what the app holds.
    pub live_bytes: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CounterFigures {
    pub requests: u64,
    pub responses_ok: u64,
    pub responses_completed: u64,
    pub bytes_sent: u64,
    pub rejected_503: u64,
    pub client_errors_4xx: u64,
    pub served_after_client_gone: u64,
    pub meta_added: u64,
    pub meta_deleted: u64,
}

impl AppState {
    pub fn new(
        allocator: Allocator,
        mallopt: Vec<(MalloptParam, u64)>,
        settings: serde_json::Value,
        seed: u64,
        meta_size: (u64, u64),
    ) -> Self {
        Self {
            allocator,
            mallopt,
            settings,
            counters: Counters::default(),
            inflight: Arc::new(InflightBuffers::default()),
            blocks: BlockIndex::new(seed, meta_size),
            pools: Pools::default(),
            io_pool: None,
            files: Files::new(u64::MAX),
            started: Instant::now(),
        }
    }

    /// With `/files/{key}` keeping at most `max_stored` bytes of written bodies.
    pub fn with_max_stored(mut self, max_stored: u64) -> Self {
        self.files = Files::new(max_stored);
        self
    }

    /// With the app's pools and the fixed I/O pool, when configured.
    pub fn with_pools(mut self, pools: Pools, io_pool: Option<Arc<IoPool>>) -> Self {
        self.pools = pools;
        self.io_pool = io_pool;
        self
    }

    #[cfg(test)]
    pub fn for_tests() -> Self {
        Self::new(
            Allocator::Glibc,
            vec![],
            serde_json::Value::Null,
            1,
            (96, 640),
        )
    }

    pub fn stats(&self) -> Stats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let inflight_bytes = get(&self.inflight.bytes);
        let block_bytes = self.blocks.bytes();
        let pools = self.pools.figures();
        let pool_bytes = pools.bytes_total();
        let leaked = get(&c.leaked_bytes);
        let files = self.files.figures();
        let files_bytes = files.bytes();
        Stats {
            allocator: self.allocator.name().to_string(),
            uptime_s: self.started.elapsed().as_secs_f64(),
            threads: own_thread_count(),
            allocator_settings: self.allocator.settings(&self.mallopt),
            server_settings: self.settings.clone(),
            allocator_figures: self.allocator.figures(),
            app: AppFigures {
                block_index_bytes: block_bytes,
                block_records: self.blocks.len(),
                inflight_buffer_bytes: inflight_bytes,
                inflight_buffers: get(&self.inflight.count),
                pool_bytes,
                leaked_bytes: leaked,
                files_bytes,
                live_bytes: block_bytes + inflight_bytes + pool_bytes + leaked + files_bytes,
            },
            counters: CounterFigures {
                requests: get(&c.requests),
                responses_ok: get(&c.responses_ok),
                responses_completed: get(&c.responses_completed),
                bytes_sent: get(&c.bytes_sent),
                rejected_503: get(&c.rejected_503),
                client_errors_4xx: get(&c.client_errors_4xx),
                served_after_client_gone: get(&c.served_after_client_gone),
                meta_added: get(&c.meta_added),
                meta_deleted: get(&c.meta_deleted),
            },
            pools,
            io_pool: self.io_pool.as_ref().map(|p| p.figures()),
            files,
        }
    }
}

fn own_thread_count() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// A request buffer that reports its life to [`InflightBuffers`]; the owner behind the
/// response's `Bytes`, so it is freed exactly when the last chunk has been sent or dropped.
pub struct TrackedBuf {
    buf: Vec<u8>,
    gauge: Arc<InflightBuffers>,
}

impl TrackedBuf {
    pub fn new(buf: Vec<u8>, gauge: Arc<InflightBuffers>) -> Self {
        gauge.count.fetch_add(1, Ordering::Relaxed);
        gauge
            .bytes
            .fetch_add(buf.capacity() as u64, Ordering::Relaxed);
        Self { buf, gauge }
    }

    /// As the owner of a `Bytes`, which frees the buffer with its last slice.
    pub fn into_bytes(self) -> Bytes {
        Bytes::from_owner(self)
    }
}

impl AsRef<[u8]> for TrackedBuf {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for TrackedBuf {
    fn drop(&mut self) {
        self.gauge.count.fetch_sub(1, Ordering::Relaxed);
        self.gauge
            .bytes
            .fetch_sub(self.buf.capacity() as u64, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The harness reads `/stats` documents recorded by servers older than the pools.
    #[test]
    fn a_stats_document_without_the_pool_fields_still_reads() {
        let mut v = serde_json::to_value(AppState::for_tests().stats()).unwrap();
        let doc = v.as_object_mut().unwrap();
        doc.remove("pools");
        doc.remove("io_pool");
        doc["app"].as_object_mut().unwrap().remove("pool_bytes");
        let s: Stats = serde_json::from_value(v).unwrap();
        assert!(s.pools.rpc.is_none() && s.pools.bytes.is_none() && s.io_pool.is_none());
        assert_eq!(s.app.pool_bytes, 0);
    }

    #[test]
    fn live_bytes_count_the_pools() {
        use crate::pools::{bytes::BytePool, rpc::RpcPool};
        let rpc = Arc::new(RpcPool::new(1000, 3));
        let state = AppState::for_tests().with_pools(
            Pools {
                rpc: Some(rpc.clone()),
                bytes: Some(Arc::new(BytePool::new(10, 100, 0.3, 0.6))),
            },
            None,
        );
        let lease = rpc.take();
        let app = state.stats().app;
        // 3 RPC objects of 1000 bytes and 6 pre-filled buffers of 100.
        assert_eq!(app.pool_bytes, 3000 + 600);
        assert_eq!(app.live_bytes, app.pool_bytes);
        drop(lease);
        assert_eq!(state.stats().app.pool_bytes, 3600, "returned, not freed");
    }
}
