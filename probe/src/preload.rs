//! The `LD_PRELOAD` entry: a constructor that starts the probe when `ALLOCSTORM_PROBE_DIR` is
//! set, and does nothing at all otherwise. It never prints and never panics into the host: a
//! probe that cannot start shows as a missing page.
//!
//! The constructor is in the rlib too, so it also runs in an executable that links the crate:
//! there it stands aside. Such a host starts the probe itself (`start_for`, naming its allocator);
//! started first from here, detection would take glibc's `malloc` for the allocator and the one
//! start a process gets.

use std::ffi::{c_void, CStr, OsStr};
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
        if let (Some(dir), false) = (env(c"ALLOCSTORM_PROBE_DIR"), in_the_executable()) {
            let interval = env(c"ALLOCSTORM_PROBE_INTERVAL_MS")
                .and_then(parse_ms)
                .unwrap_or(DEFAULT_INTERVAL);
            let _ = crate::publisher::start(Path::new(OsStr::from_bytes(dir)), interval);
        }
    });
}

/// Whether this code is linked into the executable rather than loaded as a library: the same
/// object as the program's entry point.
fn in_the_executable() -> bool {
    // SAFETY: getauxval reads the auxiliary vector; 0 when the kernel gave no AT_ENTRY.
    let entry = unsafe { libc::getauxval(libc::AT_ENTRY) } as *mut c_void;
    let here = from_environment as *mut c_void;
    let exe = crate::detect::object_of(entry);
    exe.is_some() && exe == crate::detect::object_of(here)
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
    fn in_a_test_binary_the_constructor_knows_it_is_in_the_executable() {
        assert!(in_the_executable());
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
