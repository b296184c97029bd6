//! `--io pool`: a fixed pool of threads dealt reads round-robin (incident 002). After N requests
//! every thread has handled one; on glibc each thread's first job, not its birth, gives it an
//! arena.

mod common;

use std::time::Duration;

use common::{num, Alloc, Conn, KnownFile, Server};

for_each_allocator!(after_n_requests_every_pool_thread_has_handled_one);

fn after_n_requests_every_pool_thread_has_handled_one(alloc: Alloc) {
    const SIZE: usize = 200_003;
    const THREADS: u64 = 8;
    let hot = KnownFile::new(SIZE);
    let mut server = Server::start(
        alloc,
        &[
            "--file",
            hot.path(),
            "--io",
            "pool",
            "--io-threads",
            "8",
            "--workers",
            "2",
        ],
    );
    let s = server.stats();
    assert_eq!(s["server_settings"]["io"], "pool");
    assert_eq!(num(&s, "server_settings/io_threads"), THREADS);
    assert_eq!(num(&s, "io_pool/threads"), THREADS);
    assert_eq!(num(&s, "io_pool/threads_used"), 0);

    let mut conn = Conn::open(server.addr);
    // Two rounds of the pool, each request a different range.
    for i in 0..2 * THREADS as usize {
        let (first, last) = (i * 10_007, i * 10_007 + 1023 + i * 997);
        let range = format!("bytes={first}-{last}");
        let r = conn.send("GET", "/file/hot", &[("Range", &range)]);
        assert_eq!(r.status, 206, "{range}: {}", r.text());
        assert!(
            r.body == hot.bytes[first..=last],
            "{range}: not the file's bytes"
        );
        let used = num(&server.stats(), "io_pool/threads_used");
        assert_eq!(
            used,
            (i as u64 + 1).min(THREADS),
            "after {} requests",
            i + 1
        );
    }
    let r = conn.send("HEAD", "/file/hot", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(num(&server.stats(), "io_pool/threads_used"), THREADS);

    // Threads blocked on their queues do not hold up the exit.
    drop(conn);
    server.terminate();
    let status = server
        .wait_exit(Duration::from_secs(5))
        .expect("still running 5 s after SIGTERM");
    assert!(status.success(), "exit status {status}");
}

/// Regression test: `std::thread`s malloc at start-up (their stack-overflow handler calls
/// `pthread_getattr_np`), so a pool of them had every arena at start and VSZ never stepped
/// with the requests as in incident 002. Each pool thread's arena must come with its first job.
#[test]
fn pool_threads_get_their_arena_from_their_first_job() {
    const THREADS: usize = 4;
    let server = Server::start(
        Alloc::Glibc,
        &[
            "--create-file",
            "64KiB",
            "--io",
            "pool",
            "--io-threads",
            "4",
            "--workers",
            "1",
            "--meta-every",
            "0",
        ],
    );
    // The tokio worker gets its arena when it first runs, which may be after the server says
    // it is listening: let it serve a request first.
    let mut conn = Conn::open(server.addr);
    assert_eq!(conn.send("GET", "/healthz", &[]).status, 200);
    let at_start = arena_heaps(server.pid());
    // One worker thread has an arena (glibc allows 8 per core on 64-bit): room for four more.
    for i in 1..=THREADS {
        let r = conn.send("GET", "/file/hot", &[("Range", "bytes=0-1023")]);
        assert_eq!(r.status, 206);
        assert_eq!(
            arena_heaps(server.pid()),
            at_start + i,
            "arena heaps after {i} requests (at start: {at_start})"
        );
    }
    // Every thread has its arena now: a second round adds none.
    for _ in 0..THREADS {
        let r = conn.send("GET", "/file/hot", &[("Range", "bytes=0-1023")]);
        assert_eq!(r.status, 206);
    }
    assert_eq!(arena_heaps(server.pid()), at_start + THREADS);
}

/// glibc thread-arena heaps in `pid`: 64 MiB-aligned anonymous regions exactly 64 MiB long,
/// a committed `rw-p` part followed by reserved parts.
fn arena_heaps(pid: i32) -> usize {
    const HEAP: u64 = 64 << 20;
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).expect("read maps");
    // (start, end, readable-writable, anonymous)
    let regions: Vec<(u64, u64, bool, bool)> = maps
        .lines()
        .map(|l| {
            let mut f = l.split_whitespace();
            let (a, b) = f.next().unwrap().split_once('-').unwrap();
            let perms = f.next().unwrap();
            let path = f.nth(3).unwrap_or("");
            (
                u64::from_str_radix(a, 16).unwrap(),
                u64::from_str_radix(b, 16).unwrap(),
                perms.starts_with("rw"),
                path.is_empty(),
            )
        })
        .collect();
    let mut heaps = 0;
    for (i, &(start, end, rw, anon)) in regions.iter().enumerate() {
        if start % HEAP != 0 || !rw || !anon {
            continue;
        }
        let mut reach = end;
        for &(s, e, _, anon) in &regions[i + 1..] {
            if reach >= start + HEAP || s != reach || !anon {
                break;
            }
            reach = e;
        }
        if reach == start + HEAP {
            heaps += 1;
        }
    }
    heaps
}
