//! What allocstorm's toy server (`target-server`) and its harness (`allocstorm`) share, with
//! no allocator in it:
//!
//! - [`units`]: sizes, durations and rates as a person writes them (`3MiB`, `20s`, `400/s`).
//! - [`server`]: the toy server's settings — one field list that is the server's command line,
//!   the scenario's `[server]` table, the keys a sweep may vary and the `/stats` settings.
//! - [`exit`]: the exit codes of the `allocstorm` commands.
//! - [`glibc_version`]: the C library this process runs on.

pub mod exit;
pub mod server;
pub mod units;

pub use exit::Exit;

/// The glibc version this process runs on (`gnu_get_libc_version`), e.g. `2.36`.
pub fn glibc_version() -> String {
    extern "C" {
        fn gnu_get_libc_version() -> *const libc::c_char;
    }
    // SAFETY: gnu_get_libc_version returns a static NUL-terminated string.
    unsafe {
        std::ffi::CStr::from_ptr(gnu_get_libc_version())
            .to_string_lossy()
            .into_owned()
    }
}
