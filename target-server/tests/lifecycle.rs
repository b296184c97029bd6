//! The process around the server: SIGTERM drains in-flight work and exits 0 within the grace;
//! the `--create-file` file leaves nothing on disk, even when the server is killed with
//! SIGKILL; a hot file that cannot be opened, or settings that make no sense, are refused at
//! start.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

use common::{get_range, num, run_to_exit, wait_until, Alloc, Conn, KnownFile, Server};

for_each_allocator!(
    sigterm_drains_inflight_requests_and_exits_0,
    an_unreadable_hot_file_is_refused_at_start,
    mode_settings_that_make_no_sense_are_refused_in_one_line,
);

/// The created hot file has no name, so a server that never gets to clean up (SIGKILL: the
/// harness's memory limit, a killed harness's parent-death signal) leaves no
/// `allocstorm-hot-*` directory of its size in the temporary directory.
#[test]
fn a_server_killed_with_sigkill_leaves_no_allocstorm_hot_file_behind() {
    let tmp = tempfile::tempdir().expect("a TMPDIR for the server");
    let left = || -> Vec<String> {
        std::fs::read_dir(tmp.path())
            .expect("read the server's TMPDIR")
            .map(|e| e.expect("a directory entry").path().display().to_string())
            .collect()
    };
    let mut server = Server::start_with_env(
        Alloc::Glibc,
        &[("TMPDIR", tmp.path().as_os_str())],
        &["--create-file", "1MiB", "--seed", "9"],
    );
    let r = server.get_range("bytes=0-65535");
    assert_eq!(r.status, 206, "{}", r.text());
    assert_eq!(r.body.len(), 65536);
    assert_eq!(left(), Vec::<String>::new(), "named while serving");

    let status = server.kill();
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{status}");
    assert_eq!(
        left(),
        Vec::<String>::new(),
        "left behind by the killed server"
    );
}

fn sigterm_drains_inflight_requests_and_exits_0(alloc: Alloc) {
    let hot = KnownFile::new(1 << 20);
    let bytes = &hot.bytes;
    let mut server = Server::start(
        alloc,
        &[
            "--file",
            hot.path(),
            "--hold",
            "1s",
            "--grace",
            "5s",
            "--workers",
            "2",
        ],
    );

    // An idle keep-alive connection must not keep the server up past the grace...
    let mut idle = Conn::open(server.addr);
    assert_eq!(idle.send("GET", "/healthz", &[]).text(), "ok\n");
    // ...and a request in flight must be finished, not cut.
    let addr = server.addr;
    let inflight = std::thread::spawn(move || get_range(addr, "bytes=1000-4999"));
    let started = wait_until(Duration::from_millis(900), || {
        num(&server.stats(), "app/inflight_buffers") == 1
    });
    assert!(started, "the request never showed as in flight");

    let t0 = Instant::now();
    server.terminate();
    let r = inflight.join().expect("in-flight client");
    assert_eq!(r.status, 206, "{}", r.text());
    assert!(
        r.body == bytes[1000..5000],
        "the drained response has the wrong bytes"
    );
    // The held request ends within 1 s of SIGTERM; an idle connection that held the server up
    // would make it wait out the whole 5 s grace.
    let status = server
        .wait_exit(Duration::from_secs(8))
        .expect("still running 8 s after SIGTERM with a 5 s grace");
    let took = t0.elapsed();
    assert!(status.success(), "exit status {status}");
    assert!(
        took < Duration::from_secs(3),
        "exit took {took:?}: something in flight or idle held it up"
    );
}

fn an_unreadable_hot_file_is_refused_at_start(alloc: Alloc) {
    let missing = "/nonexistent/allocstorm/hot.bin";
    let (status, stdout, stderr) = run_to_exit(alloc, &["--file", missing]);
    assert_eq!(status.code(), Some(2), "stderr: {stderr}");
    assert!(
        stderr.contains(missing),
        "the error should name the file: {stderr:?}"
    );
    assert!(stdout.is_empty(), "stdout: {stdout:?}");

    let (status, _, stderr) = run_to_exit(alloc, &["--file", "/tmp"]);
    assert_eq!(
        status.code(),
        Some(2),
        "a directory is not a hot file: {stderr}"
    );
}

fn mode_settings_that_make_no_sense_are_refused_in_one_line(alloc: Alloc) {
    // (extra arguments, what the one line must name)
    let cases: [(&[&str], &str); 7] = [
        (
            &["--byte-pool-low", "0.7", "--byte-pool-high", "0.6"],
            "--byte-pool-low 0.7",
        ),
        (&["--byte-pool-low", "-0.1"], "--byte-pool-low -0.1"),
        (&["--byte-pool-high", "1.5"], "--byte-pool-high 1.5"),
        (&["--io-threads", "0"], "--io-threads 0"),
        (
            &["--io", "pool", "--io-threads", "4097"],
            "--io-threads 4097",
        ),
        (&["--rpc-object-size", "0"], "--rpc-object-size"),
        (
            &["--byte-pool", "4", "--body", "streaming"],
            "--body streaming",
        ),
    ];
    for (extra, names) in cases {
        let mut args = vec!["--create-file", "4KiB"];
        args.extend_from_slice(extra);
        let (status, stdout, stderr) = run_to_exit(alloc, &args);
        assert_eq!(status.code(), Some(2), "{extra:?}: {stderr}");
        assert!(stdout.is_empty(), "{extra:?}: stdout {stdout:?}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{extra:?}: one line, got {stderr:?}");
        assert!(
            lines[0].starts_with(&format!("target-server-{}: error: ", alloc.name()))
                && lines[0].contains(names),
            "{extra:?}: {stderr:?} should name {names:?}"
        );
    }
}
