//! The allocator knobs: `--mallopt` (applied on glibc, refused elsewhere rather than silently
//! ignored) and `POST /admin/release`.

mod common;

use std::time::Duration;

use common::{num, run_to_exit, wait_until, Alloc, Conn, Server, MIB};

for_each_allocator!(
    mallopt_is_applied_on_glibc_and_refused_elsewhere,
    admin_release_names_the_allocators_own_call,
);

fn mallopt_is_applied_on_glibc_and_refused_elsewhere(alloc: Alloc) {
    let mallopt = ["--create-file", "1MiB", "--mallopt", "mmap_threshold=65664"];
    if alloc != Alloc::Glibc {
        let (status, stdout, stderr) = run_to_exit(alloc, &mallopt);
        assert!(!status.success(), "{} accepted --mallopt", alloc.name());
        assert!(
            stderr.contains("--mallopt") && stderr.contains("glibc"),
            "the refusal should name --mallopt and glibc: {stderr:?}"
        );
        assert!(
            !stdout.contains("listening on"),
            "refused, yet it listened: {stdout:?}"
        );
        return;
    }

    let hold = ["--hold", "500ms", "--workers", "2", "--meta-every", "0"];
    let fixed = Server::start(alloc, &[&mallopt[..], &hold].concat());
    let settings = fixed.stats()["allocator_settings"].clone();
    assert_eq!(settings["mallopt"]["mmap_threshold"], 65664);
    assert_eq!(settings["dynamic_mmap_threshold"], false);

    // In effect, not only recorded: glibc's dynamic threshold rises to 1 MiB once a 1 MiB
    // mmapped chunk is freed, so the default server serves the next 1 MiB buffer from its heap;
    // with the threshold fixed at 64 KiB it stays an mmap.
    let default = Server::start(alloc, &[&["--create-file", "1MiB"][..], &hold].concat());
    assert_eq!(
        default.stats()["allocator_settings"]["dynamic_mmap_threshold"],
        true
    );
    let mmapped_while_held = |server: &Server| -> u64 {
        assert_eq!(server.get_range("bytes=0-1048575").status, 206);
        let addr = server.addr;
        let client = std::thread::spawn(move || common::get_range(addr, "bytes=0-1048575"));
        let held = wait_until(Duration::from_secs(1), || {
            num(&server.stats(), "app/inflight_buffers") == 1
        });
        assert!(held, "the second buffer never showed as held");
        let hblkhd = num(&server.stats(), "allocator_figures/raw/hblkhd");
        assert_eq!(client.join().expect("client").status, 206);
        hblkhd
    };
    let with_mallopt = mmapped_while_held(&fixed);
    let without = mmapped_while_held(&default);
    assert!(
        with_mallopt >= MIB,
        "mmap_threshold=65664, yet the held 1 MiB buffer is not mmapped (hblkhd {with_mallopt})"
    );
    assert!(
        without < MIB,
        "dynamic threshold, yet the second 1 MiB buffer is mmapped (hblkhd {without})"
    );
}

fn admin_release_names_the_allocators_own_call(alloc: Alloc) {
    let server = Server::start(alloc, &["--create-file", "2MiB", "--workers", "2"]);
    // Something to give back: a freed 1 MiB buffer.
    assert_eq!(server.get_range("bytes=0-1048575").status, 206);

    let mut conn = Conn::open(server.addr);
    let r = conn.send("POST", "/admin/release", &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    let v = r.json();
    let (called, results): (&str, &[&str]) = match alloc {
        Alloc::Glibc => ("malloc_trim(0)", &["memory released", "nothing to release"]),
        Alloc::Jemalloc => (
            "mallctl(\"arena.<MALLCTL_ARENAS_ALL>.purge\")",
            &["purged all arenas"],
        ),
        Alloc::Mimalloc => ("mi_collect(true)", &["collected"]),
    };
    assert_eq!(v["called"], called);
    let result = v["result"].as_str().unwrap_or_default();
    assert!(results.contains(&result), "result {result:?}");

    let r = conn.send("GET", "/admin/release", &[]);
    assert_eq!(r.status, 405, "release is a POST: {}", r.text());
}
