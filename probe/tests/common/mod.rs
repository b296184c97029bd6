//! What the integration tests share: waiting for a page to show a reading, with a deadline.

// Each test binary compiles this module and uses a part of it.
#![allow(dead_code)]

use std::path::Path;
use std::time::{Duration, Instant};

use allocstorm_probe::{read, Snapshot};

pub const DEADLINE: Duration = Duration::from_secs(20);

/// Polls the page until a reading satisfies `done`; fails at the deadline with the last one.
pub fn wait_for(path: &Path, done: impl Fn(&Snapshot) -> bool) -> Snapshot {
    let start = Instant::now();
    loop {
        let last = read(path);
        match &last {
            Ok(snap) if done(snap) => return snap.clone(),
            _ if start.elapsed() > DEADLINE => {
                panic!(
                    "{}: no such reading in {DEADLINE:?}: {last:?}",
                    path.display()
                )
            }
            _ => std::thread::sleep(Duration::from_millis(2)),
        }
    }
}

/// The first reading taken after now.
pub fn wait_for_reading_after_now(path: &Path) -> Snapshot {
    let now = allocstorm_probe::monotonic_ns().unwrap();
    wait_for(path, |s| s.time_ns > now)
}
