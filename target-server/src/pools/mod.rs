//! Application-level memory pools, each from one incident: memory the app keeps for itself
//! rather than returning to the allocator.
//!
//! - [`rpc`]: incident 001's RPC resource pool, 64 KiB objects that are never freed.
//! - [`bytes`]: incident 003's watermark byte pool, pre-filled and refilled in the background.
//!
//! Pool-owned bytes are the app's, not the allocator's slack: `/stats` counts them in
//! `app.pool_bytes` and so in `app.live_bytes`.

pub mod bytes;
pub mod rpc;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// The pools this server runs with; none by default.
#[derive(Debug, Default)]
pub struct Pools {
    pub rpc: Option<Arc<rpc::RpcPool>>,
    pub bytes: Option<Arc<bytes::BytePool>>,
}

/// `/stats` `pools`: each pool's figures, `null` for a pool that is off.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PoolFigures {
    #[serde(default)]
    pub rpc: Option<rpc::RpcPoolFigures>,
    #[serde(default)]
    pub bytes: Option<bytes::BytePoolFigures>,
}

impl Pools {
    pub fn figures(&self) -> PoolFigures {
        PoolFigures {
            rpc: self.rpc.as_ref().map(|p| p.figures()),
            bytes: self.bytes.as_ref().map(|p| p.figures()),
        }
    }
}

impl PoolFigures {
    /// Bytes held by all pools, idle and in use.
    pub fn bytes_total(&self) -> u64 {
        self.rpc.as_ref().map_or(0, |r| r.bytes_total)
            + self.bytes.as_ref().map_or(0, |b| b.bytes_total)
    }
}
