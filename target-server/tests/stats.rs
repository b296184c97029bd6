//! `/stats`: each binary reports the figures of the allocator it runs on, and those figures
//! follow what the server allocates: held request buffers and long-lived block metadata.

mod common;

use std::time::Duration;

use common::{get_range, num, wait_until, Alloc, Server, MIB};
use target_server::state::Stats;

for_each_allocator!(
    stats_names_the_allocator_and_carries_its_own_figures,
    allocator_figures_follow_held_buffers,
    meta_every_1_keeps_one_block_record_per_request,
    meta_churn_deletes_block_records,
);

fn stats_names_the_allocator_and_carries_its_own_figures(alloc: Alloc) {
    let server = Server::start(
        alloc,
        &["--create-file", "1MiB", "--seed", "3", "--workers", "2"],
    );
    let v = server.stats();
    let s: Stats = serde_json::from_value(v.clone())
        .unwrap_or_else(|e| panic!("/stats does not fit the harness's Stats type: {e}\n{v:#}"));
    assert_eq!(s.allocator, alloc.name());
    let settings = &s.allocator_settings;
    assert_eq!(settings["allocator"], alloc.name());
    assert_eq!(
        settings["env"],
        serde_json::json!({}),
        "allocator env recorded"
    );

    let f = &s.allocator_figures;
    let raw = |k: &str| -> u64 {
        let v = *f
            .raw
            .get(k)
            .unwrap_or_else(|| panic!("allocator_figures.raw has no {k:?}: {:?}", f.raw));
        u64::try_from(v).unwrap_or_else(|_| panic!("raw {k} is negative: {v}"))
    };
    match alloc {
        Alloc::Glibc => {
            for k in ["arena", "ordblks", "hblks", "fordblks", "keepcost"] {
                raw(k);
            }
            assert_eq!(f.in_use_bytes, Some(raw("uordblks") + raw("hblkhd")));
            assert_eq!(f.held_bytes, raw("arena") + raw("hblkhd"));
            assert!(settings["glibc_version"]
                .as_str()
                .is_some_and(|v| v.starts_with("2.")));
            assert_eq!(settings["mallopt"], serde_json::json!({}));
            assert_eq!(settings["dynamic_mmap_threshold"], true);
        }
        Alloc::Jemalloc => {
            for k in ["active", "metadata", "mapped", "retained"] {
                raw(k);
            }
            assert_eq!(f.in_use_bytes, Some(raw("allocated")));
            assert_eq!(f.held_bytes, raw("resident"));
            assert!(settings["version"]
                .as_str()
                .is_some_and(|v| v.starts_with("5.")));
            assert!(settings["opt.narenas"].as_u64().is_some_and(|n| n > 0));
        }
        Alloc::Mimalloc => {
            for k in ["reserved.current", "committed.peak", "pages.current"] {
                raw(k);
            }
            assert_eq!(f.held_bytes, raw("committed.current"));
            // Release-mode mimalloc keeps no honest in-use count: none is reported.
            assert_eq!(f.in_use_bytes, None);
            assert!(
                !f.raw.keys().any(|k| k.starts_with("malloc_")),
                "{:?}",
                f.raw
            );
            assert!(settings["version"].as_u64().is_some_and(|v| v >= 30000));
            assert!(settings["options"]["purge_delay"].is_i64());
        }
    }
    assert!(f.held_bytes > 0);
    assert_eq!(
        f.free_held_bytes,
        f.in_use_bytes.map(|u| f.held_bytes.saturating_sub(u))
    );

    let ss = &s.server_settings;
    assert_eq!(ss["hot_file_bytes"], MIB);
    assert_eq!(ss["seed"], 3);
    assert_eq!(ss["workers"], 2);
    assert_eq!(ss["meta_every"], 16);
    assert_eq!(ss["max_range_bytes"], 8 * MIB);
    // The incident modes are off by default.
    assert_eq!(ss["io"], "worker");
    assert_eq!(ss["io_threads"], 128);
    assert_eq!(ss["body"], "buffered");
    assert_eq!(ss["rpc_pool_objects"], 0);
    assert_eq!(ss["rpc_object_bytes"], 64 << 10);
    assert_eq!(ss["byte_pool_buffers"], 0);
    assert_eq!(ss["byte_pool_buffer_bytes"], MIB);
    assert_eq!(ss["byte_pool_low"], 0.3);
    assert_eq!(ss["byte_pool_high"], 0.6);
    assert!(s.io_pool.is_none() && v["io_pool"].is_null(), "{v:#}");
    assert!(s.pools.rpc.is_none() && s.pools.bytes.is_none(), "{v:#}");
    assert_eq!(s.app.pool_bytes, 0);
    assert!(ss["hot_file"].is_null(), "a created hot file has no name");
    // The main thread and two workers at least.
    assert!(s.threads >= 3, "threads: {}", s.threads);
    assert!(s.uptime_s > 0.0);
}

/// The figure that must grow while request buffers are held: what the allocator says the
/// application uses (glibc `uordblks + hblkhd`, jemalloc `allocated`), or for mimalloc, whose
/// release build keeps no live-bytes counter (see `mimalloc_reports_no_in_use_figure_rather_than_a_wrong_one` below),
/// its committed bytes.
fn live_figure(alloc: Alloc, stats: &serde_json::Value) -> u64 {
    let raw = |k: &str| num(stats, &format!("allocator_figures/raw/{k}"));
    match alloc {
        Alloc::Glibc => raw("uordblks") + raw("hblkhd"),
        Alloc::Jemalloc => raw("allocated"),
        Alloc::Mimalloc => raw("committed.current"),
    }
}

fn allocator_figures_follow_held_buffers(alloc: Alloc) {
    let server = Server::start(
        alloc,
        &[
            "--create-file",
            "3MiB",
            "--hold",
            "2s",
            "--meta-every",
            "0",
            "--workers",
            "2",
        ],
    );
    let idle = server.stats();
    assert_eq!(num(&idle, "app/inflight_buffers"), 0);

    let addr = server.addr;
    let clients: Vec<_> = (0..4u64)
        .map(|i| {
            let range = format!("bytes={}-{}", i * 1000, i * 1000 + MIB - 1);
            std::thread::spawn(move || get_range(addr, &range))
        })
        .collect();
    let all_held = wait_until(Duration::from_millis(1500), || {
        num(&server.stats(), "app/inflight_buffers") == 4
    });
    assert!(all_held, "four held buffers never showed in /stats");
    // A fresh document: /stats reads its figures one by one, not as one atomic snapshot.
    let busy = server.stats();
    assert_eq!(num(&busy, "app/inflight_buffer_bytes"), 4 * MIB);
    assert_eq!(num(&busy, "app/live_bytes"), 4 * MIB);
    let (before, during) = (live_figure(alloc, &idle), live_figure(alloc, &busy));
    // Four 1 MiB buffers; a little slack for small frees in between.
    assert!(
        during >= before + 4 * MIB - MIB / 4,
        "{}: the allocator's figure went from {before} to {during} with 4 MiB of buffers held",
        alloc.name()
    );

    for c in clients {
        let r = c.join().expect("client thread");
        assert_eq!(r.status, 206, "{}", r.text());
        assert_eq!(r.body.len() as u64, MIB);
    }
    let freed = wait_until(Duration::from_secs(2), || {
        num(&server.stats(), "app/inflight_buffers") == 0
    });
    assert!(freed, "buffers still counted after the responses");
    let after = server.stats();
    assert_eq!(num(&after, "app/inflight_buffer_bytes"), 0);
    if alloc != Alloc::Mimalloc {
        let in_use = num(&after, "allocator_figures/in_use_bytes");
        assert!(
            in_use + 3 * MIB <= during,
            "{}: in_use_bytes {in_use} after the buffers were freed, {during} while held",
            alloc.name()
        );
    }
}

fn meta_every_1_keeps_one_block_record_per_request(alloc: Alloc) {
    let server = Server::start(
        alloc,
        &[
            "--create-file",
            "1MiB",
            "--meta-every",
            "1",
            "--workers",
            "2",
        ],
    );
    let idle = server.stats();
    assert_eq!(num(&idle, "app/block_records"), 0);
    assert_eq!(num(&idle, "app/block_index_bytes"), 0);

    const N: u64 = 5;
    for _ in 0..N {
        assert_eq!(server.get_range("bytes=0-4095").status, 206);
    }
    // A refused range reads nothing and so adds no record.
    assert_eq!(server.get_range("bytes=9-1").status, 400);
    assert!(wait_until(Duration::from_secs(2), || {
        num(&server.stats(), "app/inflight_buffers") == 0
    }));
    let s = server.stats();
    assert_eq!(num(&s, "app/block_records"), N);
    assert_eq!(num(&s, "counters/meta_added"), N);
    let bytes = num(&s, "app/block_index_bytes");
    // Each record is drawn from the default --meta-size 96-640.
    assert!(
        bytes > 0 && bytes <= N * 640,
        "block_index_bytes {bytes} for {N} records"
    );
    assert_eq!(num(&s, "app/live_bytes"), bytes);
}

fn meta_churn_deletes_block_records(alloc: Alloc) {
    let server = Server::start(
        alloc,
        &[
            "--create-file",
            "1MiB",
            "--meta-every",
            "1",
            "--meta-churn",
            "1k/s",
            "--workers",
            "2",
        ],
    );
    const N: u64 = 4;
    for _ in 0..N {
        assert_eq!(server.get_range("bytes=0-99").status, 206);
    }
    let emptied = wait_until(Duration::from_secs(3), || {
        num(&server.stats(), "counters/meta_deleted") == N
    });
    assert!(emptied, "churn did not delete the {N} records");
    // Read again: a delete counted in one document may not be in its byte figure yet.
    let s = server.stats();
    assert_eq!(num(&s, "counters/meta_added"), N);
    assert_eq!(num(&s, "app/block_records"), 0);
    assert_eq!(num(&s, "app/block_index_bytes"), 0);
}

/// Regression test: a release-mode mimalloc (`MI_STAT=0`, what libmimalloc-sys builds) counts
/// `malloc_huge` on allocation and never on free, so an in-use figure built from it only grew.
/// The server must report none rather than that one, however many buffers come and go.
#[test]
fn mimalloc_reports_no_in_use_figure_rather_than_a_wrong_one() {
    let server = Server::start(
        Alloc::Mimalloc,
        &["--create-file", "3MiB", "--workers", "1"],
    );
    for _ in 0..4 {
        assert_eq!(server.get_range("bytes=0-1048575").status, 206);
    }
    assert!(wait_until(Duration::from_secs(2), || {
        num(&server.stats(), "app/inflight_buffers") == 0
    }));
    let s = server.stats();
    assert!(s["allocator_figures"]["in_use_bytes"].is_null(), "{s}");
    assert!(s["allocator_figures"]["free_held_bytes"].is_null(), "{s}");
    assert!(num(&s, "allocator_figures/held_bytes") > 0);
}
