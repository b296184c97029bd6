//! Shared by the integration tests: start one of the three real server binaries on loopback
//! ([`server`]) and talk HTTP/1.1 to it over a plain socket ([`http`]).
//!
//! Each test file uses its own subset of these helpers.
#![allow(dead_code, unused_imports)]

pub mod http;
pub mod server;

use std::time::{Duration, Instant};

pub use http::{get, get_range, Conn, Response};
pub use server::{run_to_exit, Server};

pub const MIB: u64 = 1 << 20;

/// The allocator a binary was built with: one binary each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alloc {
    Glibc,
    Jemalloc,
    Mimalloc,
}

impl Alloc {
    pub fn name(self) -> &'static str {
        match self {
            Self::Glibc => "glibc",
            Self::Jemalloc => "jemalloc",
            Self::Mimalloc => "mimalloc",
        }
    }

    pub fn binary(self) -> &'static str {
        match self {
            Self::Glibc => env!("CARGO_BIN_EXE_target-server-glibc"),
            Self::Jemalloc => env!("CARGO_BIN_EXE_target-server-jemalloc"),
            Self::Mimalloc => env!("CARGO_BIN_EXE_target-server-mimalloc"),
        }
    }
}

/// Instantiates each listed `fn name(alloc: Alloc)` of the calling test file once per binary,
/// as `glibc::name`, `jemalloc::name` and `mimalloc::name`.
#[macro_export]
macro_rules! for_each_allocator {
    ($($test:ident),* $(,)?) => {
        mod glibc {
            $( #[test] fn $test() { super::$test($crate::common::Alloc::Glibc) } )*
        }
        mod jemalloc {
            $( #[test] fn $test() { super::$test($crate::common::Alloc::Jemalloc) } )*
        }
        mod mimalloc {
            $( #[test] fn $test() { super::$test($crate::common::Alloc::Mimalloc) } )*
        }
    };
}

/// Polls `cond` every 10 ms until it holds or `within` has passed; returns whether it held.
pub fn wait_until(within: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A hot file whose bytes the test knows: a seeded xorshift stream, so any misplaced range
/// shows up as a mismatch.
pub struct KnownFile {
    pub file: tempfile::NamedTempFile,
    pub bytes: Vec<u8>,
}

impl KnownFile {
    pub fn new(size: usize) -> Self {
        use std::io::Write;
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let bytes: Vec<u8> = (0..size)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        let mut file = tempfile::NamedTempFile::new().expect("create a temporary hot file");
        file.write_all(&bytes).expect("write the hot file");
        file.flush().expect("flush the hot file");
        Self { file, bytes }
    }

    pub fn path(&self) -> &str {
        self.file.path().to_str().expect("temp path is UTF-8")
    }

    pub fn size(&self) -> u64 {
        self.bytes.len() as u64
    }
}

/// A JSON number at a `/`-separated path (keys may contain dots, as mimalloc's do).
pub fn num(v: &serde_json::Value, path: &str) -> u64 {
    let mut cur = v;
    for key in path.split('/') {
        cur = cur
            .get(key)
            .unwrap_or_else(|| panic!("no {path:?} in /stats: {v:#}"));
    }
    cur.as_u64()
        .unwrap_or_else(|| panic!("{path:?} is not a non-negative integer: {cur}"))
}
