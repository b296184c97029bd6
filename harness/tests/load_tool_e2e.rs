//! End to end: a scenario's own load tool (`[load] command`) and readiness without HTTP.
//!
//! The tools are tiny shell scripts written into each test's directory:
//! - one that prints `rps 123.4`: its figure lands in the record and the report, p50 and p99
//!   (not given) stay missing;
//! - one that exits 1, and one that exits 0 before its phase ends: the run fails in one line
//!   (unless the scenario says `exits = "early-ok"`);
//! - one that ignores SIGINT: SIGKILLed after the grace, the run ok, the record says so;
//! - one still running (with a child of its own) when allocstorm is SIGKILLed: nothing left;
//! - `ready = "tcp"` and `ready = { command = [...] }` against a TCP echo server that speaks
//!   no HTTP and listens only after a while, and a check that never passes;
//! - the scenario errors of `[load] command` and of a readiness check, each one line.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use allocstorm::scenario::Scenario;
use common::{allocstorm, read_json, run, Running, BIN, POLL};
use serde_json::Value;

const VARIANTS: &str = r#"
[[variant]]
name = "glibc"
binary = "target-server-glibc"
"#;

/// The phases of every run here: no warmup, a second before and after `during`.
fn phases(during: &str) -> String {
    format!("[phases]\nwarmup = \"0s\"\nbefore = \"1s\"\nduring = \"{during}\"\ndrain = \"1s\"\n")
}

/// An executable shell script `name` in `dir`.
fn tool(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// A toy-server scenario whose `[load]` is `load`, during `during`, in `dir/s.toml`.
fn scenario(dir: &Path, load: &str, during: &str) -> PathBuf {
    let text = format!(
        "name = \"tool\"\n[server]\ncreate_file = \"1MiB\"\n[load]\n{load}\n{}",
        phases(during)
    );
    write(dir, &text)
}

fn write(dir: &Path, text: &str) -> PathBuf {
    std::fs::write(dir.join("variants.toml"), VARIANTS).unwrap();
    let p = dir.join("s.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// The record's only tool run.
fn tool_run(rec: &Value) -> &Value {
    let runs = rec["load_tools"].as_array().expect("load_tools");
    assert_eq!(runs.len(), 1, "{runs:?}");
    &runs[0]
}

fn alive(pid: i32) -> bool {
    // A zombie is as good as gone: it only waits to be reaped.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.rsplit_once(')')
                .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

/// The pids listed in `file`, once it has `n` of them (within 10 s).
fn pids_in(file: &Path, n: usize) -> Vec<i32> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let pids: Vec<i32> = std::fs::read_to_string(file)
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect();
        if pids.len() >= n {
            return pids;
        }
        assert!(
            Instant::now() < deadline,
            "{} never had {n} pids",
            file.display()
        );
        std::thread::sleep(POLL);
    }
}

/// Waits up to 5 s for every pid to be gone; the ones still alive (SIGKILLed, so that a
/// failing test leaves nothing either).
fn left_running(pids: &[i32]) -> Vec<i32> {
    let deadline = Instant::now() + Duration::from_secs(5);
    while pids.iter().any(|&p| alive(p)) && Instant::now() < deadline {
        std::thread::sleep(POLL);
    }
    let left: Vec<i32> = pids.iter().copied().filter(|&p| alive(p)).collect();
    for &p in &left {
        // SAFETY: kill only signals.
        unsafe { libc::kill(p, libc::SIGKILL) };
    }
    left
}

#[test]
fn a_tools_figure_lands_in_the_record_and_the_report_and_missing_ones_stay_missing() {
    let dir = tempdir();
    tool(
        dir.path(),
        "rps.sh",
        "echo \"target $1\"\nwhile :; do echo 'rps 123.4'; sleep 0.05; done",
    );
    let sc = scenario(
        dir.path(),
        "path = \"/file/hot\"\ncommand = [\"./rps.sh\", \"{url}\"]\n[load.figures]\nrequests_per_second = { regex = 'rps ([0-9.]+)' }",
        "1s",
    );
    let (code, rec) = run(&sc, "glibc");
    assert_eq!(
        (code, &rec["status"]),
        (Some(0), &Value::from("ok")),
        "{}",
        rec["failure"]
    );
    let t = tool_run(&rec);
    assert_eq!(t["phase"], "during");
    assert_eq!(t["stopped_by"], "sigint");
    assert_eq!(t["figures"]["requests_per_second"], 123.4);
    assert_eq!(t["figures"]["p99_ms"], Value::Null);
    let url = t["argv"][1].as_str().unwrap();
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/file/hot"),
        "{url}"
    );
    assert!(t["output_tail"]
        .as_str()
        .unwrap()
        .contains(&format!("target {url}")));
    assert!(t["cpu_user_s"].as_f64().unwrap() >= 0.0 && t["ran_s"].as_f64().unwrap() >= 1.0);
    // The built-in client sent nothing: no load of its own in the record.
    assert_eq!(rec["load"], Value::Null);

    let out = dir.path().join("out");
    let r = allocstorm(dir.path(), &["report".as_ref(), out.as_os_str()]);
    assert_eq!(r.code, 0, "{r:?}");
    let summary = read_json(&out.join("summary.json"));
    let v = &summary["variants"][0];
    assert_eq!(v["throughput_rps"], 123.4, "{v}");
    assert_eq!(v["latency_ms"]["p50"], Value::Null);
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("| glibc | 123 | – | – |"), "{md}");
    assert!(
        md.contains("The scenario's own load tool, `rps.sh`, drove `during`;"),
        "{md}"
    );
}

#[test]
fn a_tool_that_exits_1_fails_the_run_in_one_line_naming_it() {
    let dir = tempdir();
    tool(
        dir.path(),
        "bad.sh",
        "echo working\necho 'connection refused' >&2\nexit 1",
    );
    let sc = scenario(dir.path(), "command = [\"./bad.sh\"]", "1s");
    let (_, rec) = run(&sc, "glibc");
    assert_eq!(rec["status"], "failed");
    assert_eq!(
        rec["failure"],
        "load tool bad.sh exited with status 1 during `during`: connection refused"
    );
    let t = tool_run(&rec);
    assert_eq!(
        (&t["exit_code"], &t["stopped_by"]),
        (&Value::from(1), &Value::Null)
    );
}

#[test]
fn a_tool_that_ends_early_fails_the_run_unless_the_scenario_says_it_may() {
    let dir = tempdir();
    tool(dir.path(), "count.sh", "echo 'sent 100'");
    let sc = scenario(dir.path(), "command = [\"./count.sh\"]", "2s");
    let (_, rec) = run(&sc, "glibc");
    assert_eq!(rec["status"], "failed");
    let why = rec["failure"].as_str().unwrap();
    assert!(
        why.starts_with("load tool count.sh exited with status 0 after 0.")
            && why.contains("of `during`'s 2.0s")
            && why.ends_with("needs [load] exits = \"early-ok\""),
        "{why}"
    );

    let sc = scenario(
        dir.path(),
        "command = [\"./count.sh\"]\nexits = \"early-ok\"",
        "2s",
    );
    let (code, rec) = run(&sc, "glibc");
    assert_eq!(
        (code, &rec["status"]),
        (Some(0), &Value::from("ok")),
        "{}",
        rec["failure"]
    );
    assert_eq!(tool_run(&rec)["exit_code"], 0);
    // The phase went on to its end, idle.
    let during = rec["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "during")
        .unwrap();
    let len = during["end"].as_f64().unwrap() - during["start"].as_f64().unwrap();
    assert!(len >= 2.0, "during lasted {len}s");
}

#[test]
fn a_tool_that_ignores_sigint_is_killed_after_the_grace_and_the_run_is_ok() {
    let dir = tempdir();
    tool(
        dir.path(),
        "stubborn.sh",
        "trap '' INT\necho $$ > \"$1/pid\"\nwhile :; do sleep 0.05; done",
    );
    let sc = scenario(
        dir.path(),
        "command = [\"./stubborn.sh\", \"{out}\"]\nstop_grace = \"300ms\"",
        "1s",
    );
    let (code, rec) = run(&sc, "glibc");
    assert_eq!(
        (code, &rec["status"]),
        (Some(0), &Value::from("ok")),
        "{}",
        rec["failure"]
    );
    let t = tool_run(&rec);
    assert_eq!(t["stopped_by"], "sigkill");
    assert_eq!(t["exit_signal"], libc::SIGKILL);
    assert!(t["ran_s"].as_f64().unwrap() >= 1.3, "{}", t["ran_s"]);
    let out = PathBuf::from(t["out_dir"].as_str().unwrap());
    let pid = pids_in(&out.join("pid"), 1);
    assert_eq!(left_running(&pid), Vec::<i32>::new());
}

#[test]
fn killing_allocstorm_mid_phase_leaves_no_tool_process() {
    let dir = tempdir();
    // The tool and a child of its own, each writing its pid.
    tool(
        dir.path(),
        "busy.sh",
        "sleep 30 &\necho $! >> \"$1/pids\"\necho $$ >> \"$1/pids\"\nwhile :; do sleep 0.05; done",
    );
    let sc = scenario(dir.path(), "command = [\"./busy.sh\", \"{out}\"]", "2s");
    let out = dir.path().join("out");
    let mut cmd = Command::new(BIN);
    cmd.args(["run", "--quiet", "--scenario"])
        .arg(&sc)
        .args(["--variant", "glibc", "--out"])
        .arg(&out)
        .stdin(Stdio::null());
    let mut harness = Running::spawn(cmd);
    let pids = pids_in(&out.join("runs/glibc-1.tool/during/pids"), 2);
    assert!(
        pids.iter().all(|&p| alive(p)),
        "the tool ended before the kill"
    );
    harness.kill();
    assert_eq!(left_running(&pids), Vec::<i32>::new(), "left running");
}

/// A `[target]`: a TCP echo server in Python that listens only after 300 ms and speaks no
/// HTTP, ready by `ready`; the tool connects once, echoes, and reports.
fn echo_scenario(dir: &Path, ready: &str, ready_timeout: &str) -> PathBuf {
    let server = "import socket, sys, time\ntime.sleep(0.3)\ns = socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\ns.bind(('127.0.0.1', int(sys.argv[1])))\ns.listen(16)\nwhile True:\n    c, _ = s.accept()\n    c.sendall(c.recv(64))\n    c.close()\n";
    std::fs::write(dir.join("echo.py"), server).unwrap();
    let client = "import socket, sys\nc = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)\nc.sendall(b'ping')\nprint('echo', c.recv(64).decode())\n";
    std::fs::write(dir.join("client.py"), client).unwrap();
    tool(
        dir,
        "ping.sh",
        "python3 \"$(dirname \"$0\")/client.py\" \"$1\" \"$2\" || exit 1\nwhile :; do echo 'rps 7'; sleep 0.05; done",
    );
    let path = dir.join("echo.py").display().to_string();
    let text = format!(
        "name = \"echo\"\n[target]\ncommand = [\"python3\", \"{path}\", \"{{port}}\"]\nready = {ready}\nready_timeout = \"{ready_timeout}\"\n[load]\ncommand = [\"./ping.sh\", \"{{host}}\", \"{{port}}\"]\n[load.figures]\nrequests_per_second = {{ regex = 'rps ([0-9]+)' }}\n{}",
        phases("1s")
    );
    write(dir, &text)
}

#[test]
fn a_server_without_http_is_ready_by_a_tcp_connect_or_by_a_check_command() {
    let check = r#"{ command = ["python3", "-c", "import socket, sys; socket.create_connection(('{host}', {port}), timeout=1)"] }"#;
    for ready in ["\"tcp\"", check] {
        let dir = tempdir();
        let sc = echo_scenario(dir.path(), ready, "5s");
        let (code, rec) = run(&sc, "glibc");
        assert_eq!(
            (code, &rec["status"]),
            (Some(0), &Value::from("ok")),
            "{ready}: {}",
            rec["failure"]
        );
        let t = tool_run(&rec);
        assert!(
            t["output_tail"]
                .as_str()
                .unwrap()
                .starts_with("echo ping\n"),
            "{t}"
        );
        assert_eq!(t["figures"]["requests_per_second"], 7.0);
    }
}

#[test]
fn a_check_that_never_passes_fails_the_run_and_leaves_no_check_running() {
    let dir = tempdir();
    tool(
        dir.path(),
        "never.sh",
        "echo $$ >> \"$(dirname \"$0\")/checks\"\necho 'not yet'\nsleep 5",
    );
    let never = format!(
        "{{ command = [\"{}\", \"{{port}}\"] }}",
        dir.path().join("never.sh").display()
    );
    let sc = echo_scenario(dir.path(), &never, "1s");
    let (_, rec) = run(&sc, "glibc");
    assert_eq!(rec["status"], "failed");
    let why = rec["failure"].as_str().unwrap();
    assert!(
        why.starts_with("target not ready within 1s: `")
            && why.ends_with("did not finish within 1s"),
        "{why}"
    );
    let pids = pids_in(&dir.path().join("checks"), 1);
    assert_eq!(left_running(&pids), Vec::<i32>::new());
}

/// What `Scenario::load` says of `text` (with `dir`'s tools), which must not load.
fn load_error(dir: &Path, text: &str) -> String {
    let p = write(dir, text);
    match Scenario::load(&p) {
        Ok(_) => panic!("loaded:\n{text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_tool_and_check_settings_are_refused_in_one_line_naming_the_key() {
    let dir = tempdir();
    tool(dir.path(), "t.sh", "exit 0");
    let toy = |load: &str| {
        format!(
            "name = \"t\"\n[server]\ncreate_file = \"1MiB\"\n[load]\n{load}\n{}",
            phases("1s")
        )
    };
    let target = |ready: &str| {
        format!(
            "name = \"t\"\n[target]\ncommand = [\"/bin/sh\", \"{{port}}\"]\nready = {ready}\n{}",
            phases("1s")
        )
    };
    let cases: Vec<(String, Vec<&str>)> = vec![
        (toy("command = [\"./t.sh\", \"{dir}\"]"), vec!["load.command[1]", "unknown placeholder {dir}", "{url}"]),
        (toy("command = [\"no-such-load-tool\"]"), vec!["load.command[0]", "\"no-such-load-tool\" not found"]),
        (toy("command = []"), vec!["load.command", "got []"]),
        (toy("command = [\"./t.sh\"]\nphases = [\"drain\"]"), vec!["load.phases[0]", "\"drain\""]),
        (toy("command = [\"./t.sh\"]\nphases = [\"nudge\"]"), vec!["load.phases[0]", "no nudge phase"]),
        (toy("command = [\"./t.sh\"]\nexits = \"sometimes\""), vec!["load.exits", "\"early-ok\"", "\"sometimes\""]),
        (toy("command = [\"./t.sh\"]\n[load.figures]\nrequests_per_second = { regex = 'rps (' }"), vec!["load.figures.requests_per_second.regex", "\"rps (\""]),
        (toy("command = [\"./t.sh\"]\n[load.figures]\np50_ms = { regex = 'p50 [0-9]+' }"), vec!["load.figures.p50_ms.regex", "no capture group"]),
        (toy("command = [\"./t.sh\"]\n[load.figures]\np99_ms = { json = \"metrics/p99\", file = \"{out}/k6.json\" }"), vec!["load.figures.p99_ms.json", "'/'", "\"metrics/p99\""]),
        (toy("command = [\"./t.sh\"]\n[load.figures]\nrps = { regex = '([0-9]+)' }"), vec!["load.figures.rps", "requests_per_second, p50_ms, p99_ms"]),
        (toy("stop_grace = \"1s\""), vec!["load.stop_grace", "load.command"]),
        (toy("command = [\"./t.sh\"]\nrate = \"100/s\"\nsteps = [{ at = \"50%\", rate = \"400/s\" }]"), vec!["load.steps", "built-in client's"]),
        (target(r#"{ command = ["true", "{url}"] }"#), vec!["target.ready.command[1]", "unknown placeholder {url}"]),
        (target(r#"{ command = ["no-such-check"] }"#), vec!["target.ready.command[0]", "not found"]),
        (target(r#"{ cmd = ["true"] }"#), vec!["target.ready", "\"cmd\""]),
    ];
    for (text, wants) in cases {
        let e = load_error(dir.path(), &text);
        assert_eq!(e.lines().count(), 1, "{e}");
        assert!(
            e.starts_with(&dir.path().join("s.toml").display().to_string()),
            "{e}"
        );
        for w in wants {
            assert!(e.contains(w), "{e:?} lacks {w:?}");
        }
    }
    // Through the binary: that line alone, and exit code 2.
    let sc = write(dir.path(), &toy("command = [\"./t.sh\", \"{dir}\"]"));
    let out = allocstorm(
        dir.path(),
        &[
            "run".as_ref(),
            "--scenario".as_ref(),
            sc.as_os_str(),
            "--variant".as_ref(),
            "glibc".as_ref(),
        ],
    );
    assert_eq!(out.code, 2, "{out:?}");
    assert_eq!(out.stderr.lines().count(), 1, "{out:?}");
    assert!(
        out.stderr
            .contains("load.command[1]: unknown placeholder {dir}"),
        "{out:?}"
    );
}
