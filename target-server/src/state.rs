//! What the server knows about itself: counters, the block index, in-flight buffers — the
//! app's side of "who holds the memory".

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::alloc::{Allocator, AllocatorFigures, MalloptParam};
use crate::meta::BlockIndex;

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
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AppFigures {
    /// Bytes held by long-lived block metadata.
    pub block_index_bytes: u64,
    pub block_records: u64,
    /// Bytes of request buffers alive right now (queued behind the egress limit or held).
    pub inflight_buffer_bytes: u64,
    pub inflight_buffers: u64,
    /// `block_index_bytes + inflight_buffer_bytes`: what the app holds.
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
            started: Instant::now(),
        }
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
                live_bytes: block_bytes + inflight_bytes,
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
