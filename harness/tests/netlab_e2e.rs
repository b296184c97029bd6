//! `[network]` end to end: the shipped `hot-range-net.toml`, shortened, over the lab of
//! namespaces and a 1 Gbit/s tbf link (docs/network.md). Root only: each test says why it is
//! skipped when it cannot run (not root, no `ip`/`tc`); `make test` runs as root in CI.
//!
//! - a short comparison of glibc, glibc-mmap64k and jemalloc-bg: incident 000's shape with the
//!   congestion from the kernel alone, the merged load the sum of the workers', every byte
//!   through the link, and nothing left behind;
//! - one client host's workers killed mid-run: the run is `failed` at once, nothing is left;
//! - the coordinator SIGKILLed mid-run: its reaper removes the lab, nothing is left.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::scenario::{short_quick, table_at as table, ScenarioFile};
use common::{events, read_json, Running, BIN};
use serde_json::Value;

/// Why this machine cannot run the lab, if it cannot.
fn cannot_run() -> Option<String> {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Some("needs root (network namespaces)".into());
    }
    for p in ["ip", "tc"] {
        let found = Command::new(p)
            .arg("-V")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
        if !found {
            return Some(format!("needs `{p}` (iproute2; make deps)"));
        }
    }
    None
}

macro_rules! root_only {
    () => {
        if let Some(why) = cannot_run() {
            eprintln!("skipped: {why}");
            return;
        }
    };
}

/// A token no other process has: what is left of a run is whatever still carries it.
fn token(test: &str) -> String {
    format!("netlab-e2e-{test}-{}", std::process::id())
}

/// `hot-range-net.toml` with short phases, its own listen port and metadata records of 32-60
/// KiB, written into `dir`.
///
/// Why the records are bigger than the shipped 96-640 B: in a 5 s run small records seldom
/// pin much. The toy server's hyper and tokio leave small free chunks low in each glibc arena,
/// and glibc serves a small record from a free chunk that fits before it touches the top, so
/// it lands among them, not above a buffer. How high the highest one lands is chance: with the
/// shipped records glibc kept 0.08 to 0.67 of its peak over 14 runs here (5 under 0.25), with
/// a record every request (meta_every 1) 0.13 to 0.73 over 6: not how many, where. No such
/// chunk holds a record of 32 KiB or more (8-16 KiB records still gave 0.28 to 0.82; hyper's
/// read buffers start at 8 KiB): it goes on the top, just above the buffer it was allocated
/// beside, or into a buffer's hole, which is incident 000's mechanism itself (0.40 to 0.88
/// over 20 runs of this test). 60 KiB stays under glibc-mmap64k's 64 KiB threshold, so that variant keeps
/// its records in its heap too. ~46 records of ~46 KiB: 2 MiB, 0.01 of a fix's peak.
fn scenario(dir: &Path, port: u16, during: &str, drain: &str) -> PathBuf {
    ScenarioFile::shipped("hot-range-net.toml")
        .edit(|t| {
            short_quick(t, during, drain);
            table(t, "quick").insert("nudge".into(), "0s".into());
            table(t, "remote").insert("listen".into(), format!("198.18.0.1:{port}").into());
            table(t, "server").insert("meta_size".into(), "32KiB-60KiB".into());
            t.remove("gate");
        })
        .write(dir, "hot-range-net.toml")
}

/// An `allocstorm` started with the test's token in its environment, stderr piped.
fn start(args: &[&str], scenario: &Path, out: &Path, token: &str) -> Running {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .arg("--scenario")
        .arg(scenario)
        .arg("--out")
        .arg(out)
        .env("ALLOCSTORM_TOKEN", token)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    Running::spawn(cmd)
}

/// The processes whose environment holds `token`: the coordinator's children and workers.
fn processes_with(token: &str) -> Vec<(u32, String)> {
    let needle = format!("ALLOCSTORM_TOKEN={token}");
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        if env.split(|b| *b == 0).any(|v| v == needle.as_bytes()) {
            let cmd = std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
                .unwrap_or_default()
                .replace('\0', " ");
            found.push((pid, cmd));
        }
    }
    found
}

/// The lab namespaces of coordinator `pid` that exist.
fn namespaces_of(pid: i32) -> Vec<String> {
    let prefix = format!("allocstorm-{pid}-");
    std::fs::read_dir("/run/netns")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.starts_with(&prefix))
                .collect()
        })
        .unwrap_or_default()
}

/// Nothing of coordinator `pid`'s lab is left: no namespace, no process with the token, and
/// the caller's namespace has no veth or qdisc of the lab's (there never should be one). The
/// workers' parent-death signal and the reaper take a moment: up to `within`.
fn assert_nothing_left(pid: i32, token: &str, within: Duration) {
    let since = Instant::now();
    loop {
        let ns = namespaces_of(pid);
        let procs = processes_with(token);
        if ns.is_empty() && procs.is_empty() {
            break;
        }
        assert!(
            since.elapsed() < within,
            "left behind {within:?} after the end: namespaces {ns:?}, processes {procs:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let links = Command::new("ip")
        .args(["-o", "link", "show"])
        .output()
        .unwrap();
    let links = String::from_utf8_lossy(&links.stdout);
    assert!(
        !links
            .lines()
            .any(|l| l.contains(": v-srv") || l.contains(": v-c")),
        "a lab veth in the caller's namespace:\n{links}"
    );
    let qdiscs = Command::new("tc").args(["qdisc", "show"]).output().unwrap();
    let qdiscs = String::from_utf8_lossy(&qdiscs.stdout);
    assert!(
        !qdiscs.contains("tbf"),
        "a tbf qdisc in the caller's namespace:\n{qdiscs}"
    );
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

/// The `during` load of a record: its merged counts equal the sum of its workers', there are
/// `workers` of them and each sent load. Returns its ok bytes.
fn check_merged_is_sum_of_workers(rec: &Value, workers: usize) -> u64 {
    let load = &rec["load"];
    let ws = load["workers"].as_array().expect("workers");
    assert_eq!(ws.len(), workers, "{}", load["workers"]);
    for key in ["requests", "ok", "errors", "bytes"] {
        let sum: u64 = ws.iter().map(|w| u(&w[key])).sum();
        assert_eq!(u(&load[key]), sum, "{key}: merged vs sum of workers");
    }
    let per_second: u64 = load["per_second"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| u(&s["ok"]))
        .sum();
    assert_eq!(u(&load["ok"]), per_second, "ok: merged vs its seconds");
    assert!(
        ws.iter().all(|w| u(&w["requests"]) > 0),
        "a worker sent nothing: {}",
        load["workers"]
    );
    rec["phase_loads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| u(&l["summary"]["bytes"]))
        .sum()
}

/// What the link sent, from the lab's last line: `… Sent N bytes …`.
fn link_sent_bytes(stderr: &str) -> u64 {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("netlab: the link"))
        .unwrap_or_else(|| panic!("no link counters in:\n{stderr}"));
    let after = line.split("Sent ").nth(1).unwrap();
    after.split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn a_comparison_over_the_lab_shows_incident_000_from_the_kernel_s_queues() {
    root_only!();
    let dir = tempfile::tempdir().unwrap();
    // The drain is the shipped scenario's 15 s, not --quick's 10 s: every buffer is freed
    // within ~3 s of the load's end (the queue through the link, the clients' 3 s timeouts),
    // and jemalloc-bg purges a page 10 s after it went dirty. After a 10 s drain its A was
    // still falling (14 then 11 MiB over the last second), and it kept 0.11 of its peak in one
    // of 4 runs on the busy machine; after 15 s, 0.054 at most over 20.
    let s = scenario(dir.path(), 7171, "5s", "15s");
    let out = dir.path().join("out");
    let token = token("compare");
    let mut c = start(
        &[
            "compare",
            "--quiet",
            "--quick",
            "--runs",
            "1",
            "--variants",
            "glibc,glibc-mmap64k,jemalloc-bg",
        ],
        &s,
        &out,
        &token,
    );
    let pid = c.pid();
    let (status, stderr) = c.wait_within(Duration::from_secs(150));
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert_nothing_left(pid, &token, Duration::from_secs(3));

    let summary = read_json(&out.join("summary.json"));
    let figure = |name: &str, key: &str| -> f64 {
        let v = summary["variants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("{name} not in {summary}"));
        v[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{name}: no {key}: {v}"))
    };
    let mut ok_bytes = 0;
    for v in ["glibc", "glibc-mmap64k", "jemalloc-bg"] {
        let rec = read_json(&out.join(format!("runs/{v}-1.json")));
        ok_bytes += check_merged_is_sum_of_workers(&rec, 6);
        // The link, not the server, was the bottleneck: the bodies it could not take waited in
        // the heap, 1 MiB each (211 to 280 MiB above the baseline in 4 runs of each variant).
        let growth = figure(v, "rss_peak_bytes") - figure(v, "rss_before_bytes");
        assert!(
            growth >= (100 << 20) as f64,
            "{v}: the peak was only {:.0} MiB above the baseline: no queue behind the link",
            growth / (1 << 20) as f64
        );
    }
    // Every byte the clients got went through the shaped link (plus headers and ACK-less
    // retransmits: more, never less).
    let sent = link_sent_bytes(&stderr);
    assert!(
        sent >= ok_bytes,
        "the link sent {sent} B, the clients got {ok_bytes} B"
    );
    // Incident 000 (docs/network.md#the-figures): glibc keeps most of its peak, the fixes give
    // it back.
    let (g, m, j) = (
        figure("glibc", "retention"),
        figure("glibc-mmap64k", "retention"),
        figure("jemalloc-bg", "retention"),
    );
    eprintln!("retention: glibc {g:.3}, glibc-mmap64k {m:.3}, jemalloc-bg {j:.3}");
    // One short run each, debug-built: the figures of runs on a busy machine are in
    // docs/network.md#tests. With the test's 32-60 KiB records (`scenario`) glibc's share
    // comes from the records placed among its buffers, not from where a few small ones fell.
    assert!(g >= 0.25, "glibc kept {g:.2} of its peak");
    assert!(m <= 0.10, "glibc-mmap64k kept {m:.2} of its peak");
    assert!(j <= 0.10, "jemalloc-bg kept {j:.2} of its peak");
    assert!(
        g >= 3.0 * m.max(j),
        "glibc kept {g:.2}, the fixes {m:.2} and {j:.2}: not apart"
    );
}

/// Waits until the run's stream shows its `during` phase begun; returns the jsonl's path.
fn wait_for_during(out: &Path, variant: &str, c: &mut Running) -> PathBuf {
    let jsonl = out.join(format!("runs/{variant}-1.jsonl"));
    let since = Instant::now();
    loop {
        let began = events(&jsonl)
            .iter()
            .any(|e| e["kind"] == "phase" && e["name"] == "during");
        if began {
            return jsonl;
        }
        assert!(c.is_running(), "allocstorm ended before the load");
        assert!(
            since.elapsed() < Duration::from_secs(60),
            "no `during` phase within 60s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A `run` of glibc over the lab (20 s of load, listening on `port`), started in `dir` with
/// the test's token, returned once its load has begun: the run, the token, its stream.
fn run_until_loaded(dir: &Path, port: u16, test: &str) -> (Running, String, PathBuf) {
    let s = scenario(dir, port, "20s", "2s");
    let out = dir.join("out");
    let token = token(test);
    let mut c = start(
        &["run", "--quiet", "--quick", "--variant", "glibc"],
        &s,
        &out,
        &token,
    );
    let jsonl = wait_for_during(&out, "glibc", &mut c);
    (c, token, jsonl)
}

#[test]
fn a_client_host_killed_mid_run_fails_the_run_at_once_and_leaves_nothing() {
    root_only!();
    let dir = tempfile::tempdir().unwrap();
    let (mut c, token, jsonl) = run_until_loaded(dir.path(), 7172, "host-killed");
    let pid = c.pid();
    std::thread::sleep(Duration::from_secs(1));
    // host2's workers: the processes in its namespace.
    let host2 = format!("allocstorm-{pid}-c2");
    let ns_ino = std::fs::metadata(format!("/run/netns/{host2}")).unwrap();
    let in_host2: Vec<i32> = processes_with(&token)
        .into_iter()
        .filter(|(p, _)| {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata(format!("/proc/{p}/ns/net"))
                .map(|m| m.ino())
                .ok()
                == Some(std::os::unix::fs::MetadataExt::ino(&ns_ino))
        })
        .map(|(p, _)| p as i32)
        .collect();
    assert_eq!(in_host2.len(), 2, "host2's workers");
    let killed = Instant::now();
    for p in &in_host2 {
        // SAFETY: killing a worker of the run under test.
        unsafe { libc::kill(*p, libc::SIGKILL) };
    }
    let failed_after = loop {
        let end = events(&jsonl).into_iter().find(|e| e["kind"] == "end");
        if let Some(end) = end {
            assert_eq!(end["status"], "failed", "{end}");
            break killed.elapsed();
        }
        assert!(
            killed.elapsed() < Duration::from_secs(10),
            "no end of the run 10s after a client host was killed"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let (status, stderr) = c.wait_within(Duration::from_secs(10));
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        failed_after < Duration::from_secs(1),
        "the run ended failed {failed_after:?} after host2's workers were killed"
    );
    assert_nothing_left(pid, &token, Duration::from_secs(3));
}

#[test]
fn a_coordinator_killed_mid_run_leaves_nothing_behind() {
    root_only!();
    let dir = tempfile::tempdir().unwrap();
    let (mut c, token, _) = run_until_loaded(dir.path(), 7173, "coordinator-killed");
    let pid = c.pid();
    assert_eq!(namespaces_of(pid).len(), 5, "the lab while it runs");
    c.kill();
    assert_nothing_left(pid, &token, Duration::from_secs(5));
}

/// The lab alone (no run): made with the link, the server's `tcp_wmem` and every host
/// reachable on the bridge; removed, with nothing left, when it drops.
#[test]
fn the_lab_is_made_as_the_topology_says_and_removed_when_dropped() {
    root_only!();
    let spec = allocstorm::scenario::NetworkSpec {
        link: "100Mbit/s".into(),
        link_bits_per_s: 100_000_000,
        client_hosts: 2,
        processes_per_host: 1,
        tcp_wmem: [4096, 16384, 262144],
    };
    let pid = std::process::id() as i32;
    let lab = allocstorm::netlab::Lab::build(&spec, Path::new(BIN)).unwrap();
    let t = lab.topology().clone();
    let mut ns = namespaces_of(pid);
    ns.sort();
    let mut want: Vec<String> = t.namespaces().iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(ns, want);
    let exec = |ns: &str, cmd: &[&str]| -> String {
        let o = Command::new("ip")
            .args(["netns", "exec", ns])
            .args(cmd)
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let qdisc = exec(&t.server.netns, &["tc", "qdisc", "show", "dev", "eth0"]);
    assert!(
        qdisc.contains("tbf") && qdisc.contains("rate 100Mbit"),
        "{qdisc}"
    );
    let wmem = exec(&t.server.netns, &["cat", "/proc/sys/net/ipv4/tcp_wmem"]);
    assert_eq!(
        wmem.split_whitespace().collect::<Vec<_>>(),
        ["4096", "16384", "262144"]
    );
    for c in &t.clients {
        let addr = exec(&c.netns, &["ip", "-o", "-4", "addr", "show", "dev", "eth0"]);
        assert!(addr.contains(&format!("{}/15", c.ip)), "{addr}");
        let route = exec(&c.netns, &["ip", "route", "get", "198.18.0.1"]);
        assert!(
            route.contains("dev eth0"),
            "the server is not on the link: {route}"
        );
    }
    // Entered, this thread is the server host: 198.18.0.1 is its own address. Dropped, it is
    // back home, where the lab's addresses are nobody's.
    let mut lab = lab;
    lab.enter_server().unwrap();
    let bound = std::net::TcpListener::bind("198.18.0.1:0");
    assert!(bound.is_ok(), "not in the server's namespace: {bound:?}");
    drop(bound);
    drop(lab);
    assert!(std::net::TcpListener::bind("198.18.0.1:0").is_err());
    assert!(namespaces_of(pid).is_empty(), "{:?}", namespaces_of(pid));
}

/// The workers, with a stand-in for `allocstorm` that writes down where it runs: each in its
/// host's namespace, with the token in its environment and not on its command line, dealt
/// host by host; all gone when the lab drops.
#[test]
fn workers_start_in_their_hosts_namespaces_and_die_with_the_lab() {
    root_only!();
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("fake-allocstorm");
    std::fs::write(
        &fake,
        "#!/bin/sh\n\
         i=$5\n\
         { readlink /proc/self/ns/net; echo \"$ALLOCSTORM_TOKEN\"; echo \"$*\"; } > \"$0.$i.tmp\"\n\
         mv \"$0.$i.tmp\" \"$0.$i\"\n\
         exec sleep 60\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let spec = allocstorm::scenario::NetworkSpec {
        link: "1Gbit/s".into(),
        link_bits_per_s: 1_000_000_000,
        client_hosts: 3,
        processes_per_host: 2,
        tcp_wmem: [4096, 16384, 4 << 20],
    };
    let mut lab = allocstorm::netlab::Lab::build(&spec, Path::new(BIN)).unwrap();
    let token = token("workers");
    lab.start_workers(&allocstorm::netlab::WorkerLaunch {
        exe: fake.clone(),
        connect: "198.18.0.1:7070".parse().unwrap(),
        token: token.clone(),
    })
    .unwrap();
    let t = lab.topology().clone();
    let pids: Vec<u32> = ["host1", "host2", "host3"]
        .iter()
        .flat_map(|h| lab.worker_pids(h))
        .collect();
    assert_eq!(pids.len(), 6);
    for i in 0..6u32 {
        let note = PathBuf::from(format!("{}.{i}", fake.display()));
        let since = Instant::now();
        while !note.exists() {
            assert!(
                since.elapsed() < Duration::from_secs(10),
                "worker {i} did not start"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let text = std::fs::read_to_string(&note).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let host = t.worker_host(i);
        use std::os::unix::fs::MetadataExt;
        let ino = std::fs::metadata(format!("/run/netns/{}", host.netns))
            .unwrap()
            .ino();
        assert_eq!(
            lines[0],
            format!("net:[{ino}]"),
            "worker {i} is not in {}",
            host.netns
        );
        assert_eq!(lines[1], token);
        assert_eq!(
            lines[2],
            format!(
                "load-worker --connect 198.18.0.1:7070 --index {i} --name {} --wait 600s",
                host.name
            )
        );
        assert!(!lines[2].contains(&token));
    }
    drop(lab);
    for pid in pids {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // Gone, or a zombie of nobody's waiting: not running.
        assert!(
            stat.is_empty() || stat.contains(") Z "),
            "worker {pid} outlived the lab: {stat}"
        );
    }
}

/// Not a test on its own: with `NETLAB_HOLD` set, makes a lab, says `up`, and waits to be
/// killed (the process the next test SIGKILLs).
#[test]
fn hold_a_lab_until_killed() {
    if std::env::var_os("NETLAB_HOLD").is_none() || cannot_run().is_some() {
        return;
    }
    let spec = allocstorm::scenario::NetworkSpec {
        link: "1Gbit/s".into(),
        link_bits_per_s: 1_000_000_000,
        client_hosts: 3,
        processes_per_host: 2,
        tcp_wmem: [4096, 16384, 4 << 20],
    };
    let _lab = allocstorm::netlab::Lab::build(&spec, Path::new(BIN)).unwrap();
    println!("up");
    std::thread::sleep(Duration::from_secs(60));
}

/// The lab's owner SIGKILLed: its reaper removes the lab all the same.
#[test]
fn a_lab_whose_owner_is_sigkilled_is_removed_by_its_reaper() {
    root_only!();
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "hold_a_lab_until_killed",
        "--nocapture",
        "--test-threads",
        "1",
    ])
    .env("NETLAB_HOLD", "1")
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    let mut holder = Running::spawn(cmd);
    let pid = holder.pid();
    let since = Instant::now();
    while namespaces_of(pid).len() < 5 {
        assert!(
            holder.is_running(),
            "the holder ended before its lab was up"
        );
        assert!(
            since.elapsed() < Duration::from_secs(20),
            "no lab within 20s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    holder.kill();
    let since = Instant::now();
    while !namespaces_of(pid).is_empty() {
        assert!(
            since.elapsed() < Duration::from_secs(5),
            "left 5s after a SIGKILL: {:?}",
            namespaces_of(pid)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
