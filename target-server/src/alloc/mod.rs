//! Which allocator this binary runs on, and what that allocator says about itself.
//!
//! Every binary links all three allocator libraries (one `cargo build` makes all binaries), but
//! only the one named by [`Allocator`] is the `#[global_allocator]` (wrapped in
//! [`counting::Counting`]), and only its figures are ever read: asking jemalloc for stats in the
//! glibc binary would initialise an allocator that serves nothing.

pub mod counting;
mod glibc;
mod jemalloc;
mod mimalloc;

pub use glibc::glibc_version;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The allocator a binary was built with; each thin binary passes its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Allocator {
    Glibc,
    Jemalloc,
    Mimalloc,
}

/// A `--mallopt NAME=VALUE` knob: glibc only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MalloptParam {
    MmapThreshold,
    ArenaMax,
    TrimThreshold,
    TopPad,
}

impl MalloptParam {
    pub const NAMES: &'static str = "mmap_threshold, arena_max, trim_threshold or top_pad";

    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "mmap_threshold" => Self::MmapThreshold,
            "arena_max" => Self::ArenaMax,
            "trim_threshold" => Self::TrimThreshold,
            "top_pad" => Self::TopPad,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::MmapThreshold => "mmap_threshold",
            Self::ArenaMax => "arena_max",
            Self::TrimThreshold => "trim_threshold",
            Self::TopPad => "top_pad",
        }
    }
}

/// The allocator's own view of memory, normalised so a report can put allocators side by side,
/// plus its raw figures under their own names.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AllocatorFigures {
    /// Bytes the application holds through this allocator (glibc `uordblks + hblkhd`, jemalloc
    /// `stats.allocated`). `null` for mimalloc: its release build (`MI_STAT=0`) counts huge
    /// allocations but not their frees, so it has no honest in-use figure.
    pub in_use_bytes: Option<u64>,
    /// Bytes the allocator holds from the OS and has not returned (glibc `arena + hblkhd`,
    /// jemalloc `stats.resident`, mimalloc committed bytes).
    pub held_bytes: u64,
    /// `held - in_use`: what the allocator keeps that nobody uses (`null` without in-use).
    pub free_held_bytes: Option<u64>,
    /// The allocator's own figures, by the allocator's own names.
    pub raw: BTreeMap<String, i64>,
}

/// What `POST /admin/release` did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReleaseOutcome {
    pub called: String,
    pub result: String,
}

/// Environment variables that change an allocator's behaviour; recorded with its settings.
const ENV_PREFIXES: [&str; 5] = [
    "MALLOC_",
    "GLIBC_TUNABLES",
    "_RJEM_MALLOC_CONF",
    "MALLOC_CONF",
    "MIMALLOC_",
];

impl Allocator {
    pub fn name(self) -> &'static str {
        match self {
            Self::Glibc => "glibc",
            Self::Jemalloc => "jemalloc",
            Self::Mimalloc => "mimalloc",
        }
    }

    /// Applies `mallopt` settings. Must run before any other thread exists, so every arena
    /// sees them. Errors on non-glibc allocators: a setting silently ignored is a lie in the
    /// report.
    pub fn apply_mallopt(self, params: &[(MalloptParam, u64)]) -> Result<(), String> {
        if params.is_empty() {
            return Ok(());
        }
        match self {
            Self::Glibc => glibc::apply_mallopt(params),
            _ => Err(format!(
                "--mallopt is a glibc setting; this binary runs on {} (use target-server-glibc)",
                self.name()
            )),
        }
    }

    /// Settings in effect, read back from the allocator where it can tell.
    pub fn settings(self, applied: &[(MalloptParam, u64)]) -> serde_json::Value {
        let mut v = match self {
            Self::Glibc => glibc::settings(applied),
            Self::Jemalloc => jemalloc::settings(),
            Self::Mimalloc => mimalloc::settings(),
        };
        let env: BTreeMap<String, String> = std::env::vars()
            .filter(|(k, _)| ENV_PREFIXES.iter().any(|p| k.starts_with(p)))
            .collect();
        v["env"] = serde_json::to_value(env).unwrap_or_default();
        v
    }

    pub fn figures(self) -> AllocatorFigures {
        match self {
            Self::Glibc => glibc::figures(),
            Self::Jemalloc => jemalloc::figures(),
            Self::Mimalloc => mimalloc::figures(),
        }
    }

    /// Asks the allocator to return free memory to the OS.
    pub fn release(self) -> ReleaseOutcome {
        match self {
            Self::Glibc => glibc::release(),
            Self::Jemalloc => jemalloc::release(),
            Self::Mimalloc => mimalloc::release(),
        }
    }
}

fn figures_from(in_use: Option<u64>, held: u64, raw: BTreeMap<String, i64>) -> AllocatorFigures {
    AllocatorFigures {
        in_use_bytes: in_use,
        held_bytes: held,
        free_held_bytes: in_use.map(|u| held.saturating_sub(u)),
        raw,
    }
}
