//! Starting allocstorm's probe in the toy server when `ALLOCSTORM_PROBE_DIR` is set: for this
//! binary's own allocator, named rather than detected, with the counting allocator's counter.
//!
//! Detection looks at who serves `malloc`, which is glibc in all three binaries: jemalloc serves
//! Rust here through `_rjem_*`, mimalloc through `mi_*`. So each binary names its allocator and
//! hands over the call to read it.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use allocstorm_probe::{Host, Linked, Probe, ENV_DIR, ENV_INTERVAL_MS};

use crate::alloc::{counting, Allocator};

/// The probe's interval when `ALLOCSTORM_PROBE_INTERVAL_MS` is not set.
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(50);

/// Starts the probe if `ALLOCSTORM_PROBE_DIR` is set; `Ok(None)` without it (no page, no
/// thread). An `Err` is one line saying why there is no probe: the server runs on without it.
pub fn start_from_env(allocator: Allocator) -> Result<Option<Probe>, String> {
    let Some(dir) = std::env::var_os(ENV_DIR) else {
        return Ok(None);
    };
    let interval = interval(std::env::var_os(ENV_INTERVAL_MS))?;
    let dir = PathBuf::from(dir);
    allocstorm_probe::start_for(&dir, interval, host(allocator))
        .map(Some)
        .map_err(|e| format!("{ENV_DIR}={}: {e}", dir.display()))
}

/// `ALLOCSTORM_PROBE_INTERVAL_MS`: whole milliseconds, `DEFAULT_INTERVAL` when unset.
fn interval(raw: Option<OsString>) -> Result<Duration, String> {
    let Some(raw) = raw else {
        return Ok(DEFAULT_INTERVAL);
    };
    raw.to_str()
        .and_then(|s| s.trim().parse().ok())
        .map(Duration::from_millis)
        .ok_or_else(|| {
            format!(
                "{ENV_INTERVAL_MS}={}: not a whole number of milliseconds",
                raw.to_string_lossy()
            )
        })
}

/// What the page says of each binary's allocator, and how the probe reads it. The label is what
/// the page shows as `malloc_library`, after `linked: `.
fn host(allocator: Allocator) -> Host {
    let (linked, label) = match allocator {
        Allocator::Glibc => (Linked::Glibc, "std::alloc::System (glibc malloc)"),
        Allocator::Jemalloc => (
            Linked::Jemalloc(tikv_jemalloc_sys::mallctl),
            "tikv-jemallocator (_rjem_mallctl)",
        ),
        Allocator::Mimalloc => (
            Linked::Mimalloc(libmimalloc_sys::mi_process_info),
            "mimalloc crate (mi_process_info)",
        ),
    };
    Host {
        linked,
        label,
        counted_in_use: Some(&counting::IN_USE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_is_whole_milliseconds_or_the_default() {
        assert_eq!(interval(None), Ok(DEFAULT_INTERVAL));
        assert_eq!(interval(Some("20".into())), Ok(Duration::from_millis(20)));
        let err = interval(Some("20ms".into())).unwrap_err();
        assert_eq!(
            err,
            "ALLOCSTORM_PROBE_INTERVAL_MS=20ms: not a whole number of milliseconds"
        );
    }
}
