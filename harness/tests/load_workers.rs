//! `allocstorm load`'s worker processes end to end: the load comes from several, they die with
//! the run, and a worker that dies or never gets ready is an error, not a hang.

mod common;

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use allocstorm::load::{run_load, LoadError};
use common::load_server::{check_accounting, plan, run, Behaviour, TestServer};
use common::BIN;

#[tokio::test]
async fn the_load_really_comes_from_several_processes() {
    let server = TestServer::start(Behaviour::Good);
    let p = plan(&[
        "--target",
        &server.url(),
        "--range",
        "0-1023",
        "--processes",
        "3",
        "--connections",
        "6",
        "--duration",
        "1s",
    ]);
    let s = run(&p).await;
    check_accounting(&s);
    assert_eq!(s.processes, 3);
    assert_eq!(s.workers.len(), 3);
    let mut pids: Vec<u32> = s.workers.iter().map(|w| w.pid).collect();
    pids.sort();
    pids.dedup();
    assert_eq!(pids.len(), 3, "{:?}", s.workers);
    assert!(!pids.contains(&std::process::id()) && !pids.contains(&0));
    for w in &s.workers {
        assert_eq!(w.connections, 2);
        assert!(w.ok > 0, "{w:?}");
        assert!(w.cpu_s > 0.0, "{w:?}");
    }
    assert_eq!(s.workers.iter().map(|w| w.ok).sum::<u64>(), s.ok);
    assert_eq!(server.accepted.load(Ordering::SeqCst), 6);
}

#[tokio::test]
async fn dropping_the_run_kills_the_workers() {
    let server = TestServer::start(Behaviour::Stall);
    let p = plan(&[
        "--target",
        &server.url(),
        "--processes",
        "2",
        "--connections",
        "2",
        "--duration",
        "30s",
        "--timeout",
        "30s",
    ]);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let mut tx = Some(tx);
    let exe = Path::new(BIN);
    let run = run_load(&p, exe, move |_| {
        if let Some(tx) = tx.take() {
            let _ = tx.send(());
        }
    });
    tokio::select! {
        r = run => panic!("the run ended by itself: {:?}", r.map(|s| s.requests)),
        _ = rx => {}
    }
    // The run future is dropped here. Its workers die, and the kernel closes their sockets.
    let all_closed = async {
        loop {
            let changed = server.closed_changed.notified();
            if server.accepted.load(Ordering::SeqCst) == 2
                && server.closed.load(Ordering::SeqCst) == 2
            {
                return;
            }
            changed.await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), all_closed)
        .await
        .expect("the workers' connections stayed open after the run was dropped");
}

/// The pids of this process's children started for the server at `port` (other tests in the
/// same process may have workers of their own).
fn workers_of(port: u16) -> Vec<i32> {
    let mut pids = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        if let Ok(list) = std::fs::read_to_string(task.path().join("children")) {
            pids.extend(
                list.split_whitespace()
                    .filter_map(|p| p.parse::<i32>().ok()),
            );
        }
    }
    let needle = format!("\"port\":{port},");
    pids.retain(|pid| {
        std::fs::read(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&needle))
    });
    pids
}

#[tokio::test]
async fn a_worker_that_dies_mid_run_is_an_error_not_a_hang() {
    let server = TestServer::start(Behaviour::Good);
    let p = plan(&[
        "--target",
        &server.url(),
        "--range",
        "0-1023",
        "--processes",
        "2",
        "--connections",
        "2",
        "--rate",
        "50/s",
        "--duration",
        "3s",
    ]);
    let mut killed = false;
    let run = run_load(&p, Path::new(BIN), |_| {
        if !killed {
            let victim = workers_of(server.addr.port())[0];
            // SAFETY: kill(2) on a pid of our own child.
            unsafe { libc::kill(victim, libc::SIGKILL) };
            killed = true;
        }
    });
    let r = tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .expect("run_load hung after a worker died");
    match r {
        Err(LoadError::WorkerDied { status, .. }) => assert!(status.contains("9"), "{status}"),
        other => panic!("expected WorkerDied, got {:?}", other.map(|s| s.requests)),
    }
}

#[tokio::test]
async fn a_worker_that_never_gets_ready_is_an_error() {
    let p = plan(&["--target", "http://127.0.0.1:9/", "--duration", "1s"]);
    let r = run_load(&p, Path::new("/bin/true"), |_| {}).await;
    let e = r.map(|s| s.requests).unwrap_err();
    assert!(matches!(e, LoadError::WorkerDied { worker: 0, .. }), "{e}");
}
