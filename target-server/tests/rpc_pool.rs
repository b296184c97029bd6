//! `--rpc-pool-objects`: incident 001's RPC resource pool. Each range request holds K objects
//! until its body is done; they go back to the pool, never to the allocator, so the pool grows
//! to peak concurrency × K and stays, and the app's `live_bytes` says so.

mod common;

use std::time::Duration;

use common::{get_range, num, wait_until, Alloc, KnownFile, Server};

for_each_allocator!(rpc_pool_grows_to_peak_concurrency_and_keeps_every_object);

const OBJECT: u64 = 64 << 10;
const K: u64 = 2;

/// `n` requests of 4 KiB at once, each held by the server: (first byte, response) per client.
fn held_requests(
    server: &Server,
    n: usize,
) -> Vec<std::thread::JoinHandle<(usize, common::Response)>> {
    (0..n)
        .map(|i| {
            let addr = server.addr;
            std::thread::spawn(move || {
                let first = i * 1000;
                (
                    first,
                    get_range(addr, &format!("bytes={first}-{}", first + 4095)),
                )
            })
        })
        .collect()
}

fn rpc_pool_grows_to_peak_concurrency_and_keeps_every_object(alloc: Alloc) {
    let hot = KnownFile::new(100_000);
    let server = Server::start(
        alloc,
        &[
            "--file",
            hot.path(),
            "--rpc-pool-objects",
            "2",
            "--hold",
            "2s",
            "--meta-every",
            "0",
            "--workers",
            "2",
        ],
    );
    let s = server.stats();
    assert_eq!(num(&s, "server_settings/rpc_pool_objects"), K);
    assert_eq!(num(&s, "server_settings/rpc_object_bytes"), OBJECT);
    assert_eq!(num(&s, "pools/rpc/object_bytes"), OBJECT);
    assert_eq!(num(&s, "pools/rpc/objects_total"), 0);
    assert_eq!(num(&s, "app/pool_bytes"), 0);

    const PEAK: u64 = 4;
    let clients = held_requests(&server, PEAK as usize);
    let all_held = wait_until(Duration::from_millis(1500), || {
        num(&server.stats(), "pools/rpc/objects_in_use") == PEAK * K
    });
    assert!(all_held, "{PEAK} held requests never held {K} objects each");
    let busy = server.stats();
    assert_eq!(num(&busy, "pools/rpc/objects_total"), PEAK * K);
    assert_eq!(num(&busy, "pools/rpc/objects_idle"), 0);
    assert_eq!(num(&busy, "pools/rpc/bytes_total"), PEAK * K * OBJECT);
    assert_eq!(num(&busy, "app/pool_bytes"), PEAK * K * OBJECT);
    assert_eq!(
        num(&busy, "app/live_bytes"),
        num(&busy, "app/inflight_buffer_bytes") + PEAK * K * OBJECT,
        "live_bytes = block index (none) + in-flight buffers + pools"
    );
    for c in clients {
        let (first, r) = c.join().expect("client");
        assert_eq!(r.status, 206, "{}", r.text());
        assert!(r.body == hot.bytes[first..first + 4096]);
    }

    // The objects outlive their requests: back on the free list, still the app's.
    let returned = wait_until(Duration::from_secs(2), || {
        let s = server.stats();
        num(&s, "pools/rpc/objects_idle") == PEAK * K && num(&s, "app/inflight_buffers") == 0
    });
    assert!(returned, "the objects never came back to the pool");
    let after = server.stats();
    assert_eq!(num(&after, "pools/rpc/objects_total"), PEAK * K);
    assert_eq!(num(&after, "pools/rpc/objects_in_use"), 0);
    assert_eq!(num(&after, "app/pool_bytes"), PEAK * K * OBJECT);
    assert_eq!(num(&after, "app/live_bytes"), PEAK * K * OBJECT);

    // Below the peak, every object comes from the free list: the pool does not grow.
    let clients = held_requests(&server, 3);
    for c in clients {
        assert_eq!(c.join().expect("client").1.status, 206);
    }
    let s = server.stats();
    assert_eq!(num(&s, "pools/rpc/objects_total"), PEAK * K);
}
