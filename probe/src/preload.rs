//! The `LD_PRELOAD` entry: a constructor that starts the probe when `ALLOCSTORM_PROBE_DIR` is
//! set, and does nothing at all otherwise. It never prints and never panics into the host: a
//! probe that cannot start shows as a missing page.

use std::ffi::{CStr, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::panic::catch_unwind;
use std::path::Path;
use std::time::Duration;

/// Directory the page goes in; the harness makes one private to each run.
pub const ENV_DIR: &str = "ALLOCSTORM_PROBE_DIR";
/// Interval in whole milliseconds; `DEFAULT_INTERVAL` when absent or not a number.
pub const ENV_INTERVAL_MS: &str = "ALLOCSTORM_PROBE_INTERVAL_MS";
const DEFAULT_INTERVAL: Duration = Duration::from_millis(50);

#[used]
#[link_section = ".init_array"]
static CONSTRUCTOR: extern "C" fn() = from_environment;

extern "C" fn from_environment() {
    let _ = catch_unwind(|| {
        if linked_into_the_program() {
            return;
        }
        if let Some(dir) = env(c"ALLOCSTORM_PROBE_DIR") {
            let interval = env(c"ALLOCSTORM_PROBE_INTERVAL_MS")
                .and_then(parse_ms)
                .unwrap_or(DEFAULT_INTERVAL);
            let _ = crate::publisher::start(Path::new(OsStr::from_bytes(dir)), interval);
        }
    });
}

/// Whether this copy of the probe is part of the executable (the crate linked as an rlib, as
/// in the toy server, which starts the probe itself for its own allocator, and in the harness,
/// whose processes must never publish a page) rather than a preloaded library. The constructor
/// acts only in the preloaded library.
fn linked_into_the_program() -> bool {
    // SAFETY: getauxval reads the aux vector; dladdr fills `info` and allocates nothing.
    unsafe {
        let phdr = libc::getauxval(libc::AT_PHDR) as *const libc::c_void;
        let base = |addr: *const libc::c_void| {
            let mut info: libc::Dl_info = std::mem::zeroed();
            (libc::dladdr(addr, &mut info) != 0).then_some(info.dli_fbase)
        };
        let here = base(from_environment as *const libc::c_void);
        here.is_some() && here == base(phdr)
    }
}

/// `getenv`, not `std::env`: no allocation and no lock when the variable is absent.
fn env(name: &CStr) -> Option<&'static [u8]> {
    // SAFETY: NUL-terminated name; the value lives in the environment block, which nothing
    // changes while constructors run.
    let value = unsafe { libc::getenv(name.as_ptr()) };
    (!value.is_null()).then(|| unsafe { CStr::from_ptr(value) }.to_bytes())
}

fn parse_ms(raw: &[u8]) -> Option<Duration> {
    std::str::from_utf8(raw)
        .ok()?
        .trim()
        .parse()
        .ok()
        .map(Duration::from_millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_is_whole_milliseconds() {
        assert_eq!(parse_ms(b"20"), Some(Duration::from_millis(20)));
        assert_eq!(parse_ms(b" 5 "), Some(Duration::from_millis(5)));
        assert_eq!(parse_ms(b"20ms"), None);
    }

    #[test]
    fn a_test_binary_links_the_probe_into_the_program() {
        // This test binary is an executable with the crate linked in: the constructor must not
        // start a probe here, whatever the environment says.
        assert!(linked_into_the_program());
    }

    #[test]
    fn the_env_names_are_the_ones_read() {
        assert_eq!(ENV_DIR.as_bytes(), c"ALLOCSTORM_PROBE_DIR".to_bytes());
        assert_eq!(
            ENV_INTERVAL_MS.as_bytes(),
            c"ALLOCSTORM_PROBE_INTERVAL_MS".to_bytes()
        );
    }
}
