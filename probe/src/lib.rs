//! allocstorm's probe: a thread inside the server that reads its allocator's own figures every
//! interval, without allocating, and publishes them in a shared page the harness reads from
//! outside, as it reads `/proc`.
//!
//! - `arenas`: glibc's per-arena figures, from `malloc_info` printed into the probe's buffer.
//! - `figure`: which allocator, and the one list of figure slots.
//! - `page`: the page's `#[repr(C)]` layout and the writer's side of its seqlock.
//! - `detect`: which allocator serves `malloc` here.
//! - `source`: reading each allocator's figures.
//! - `publisher`: `start` (detected) and `start_for` (named by the host) — page, first reading, the probe thread, fork handling.
//! - `preload`: the `LD_PRELOAD` entry, started from the environment.
//! - `reader`: `read` — the harness's side.

mod arenas;
mod detect;
mod figure;
mod page;
mod preload;
mod publisher;
mod reader;
mod source;

pub use arenas::{Arena, ARENA_SLOTS};
pub use figure::{Allocator, Figure};
pub use page::{page_path, pages_in, MAGIC, PAGE_BYTES, VERSION};
pub use preload::{ENV_DIR, ENV_INTERVAL_MS};
pub use publisher::{
    monotonic_ns, start, start_for, Host, Linked, Probe, StartError, MAX_INTERVAL, MIN_INTERVAL,
    THREAD_NAME,
};
pub use reader::{default_max_age, read, PageReader, ReadError, Snapshot, ATTEMPTS};
pub use source::{Mallctl, ProcessInfo};
