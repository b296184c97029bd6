//! Smoke tests of the four incident scenarios (001-004): the shipped scenario files, with
//! shorter phases and fewer variants, run end to end through `allocstorm compare` against the
//! real server binaries. Each checks the mechanism its incident is about, not a tuned number.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::cgroup::TestCgroup;
use common::scenario::{short_quick, table_at as table, ScenarioFile};
use common::{read_json, BIN};
use serde_json::Value;

/// Copies `scenarios/<file>` into `dir` with `edit` applied to its table, and the variants
/// file beside it.
fn scenario(dir: &Path, file: &str, edit: impl FnOnce(&mut toml::Table)) -> PathBuf {
    ScenarioFile::shipped(file).edit(edit).write(dir, file)
}

/// Runs `allocstorm compare --quick --runs 1` and returns its exit code and summary.json.
fn compare(scenario: &Path, variants: &str, out: &Path) -> (Option<i32>, Value) {
    let st = Command::new(BIN)
        .args([
            "compare",
            "--quiet",
            "--quick",
            "--runs",
            "1",
            "--variants",
            variants,
        ])
        .arg("--scenario")
        .arg(scenario)
        .arg("--out")
        .arg(out)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    (st.code(), read_json(&out.join("summary.json")))
}

fn variant<'a>(summary: &'a Value, name: &str) -> &'a Value {
    summary["variants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in {summary}"))
}

fn record(out: &Path, name: &str) -> Value {
    read_json(&out.join(format!("runs/{name}-1.json")))
}

/// The last `/stats` reading of a run.
fn last_stats(rec: &Value) -> &Value {
    &rec["stats"].as_array().unwrap().last().unwrap()["stats"]
}

#[test]
fn pinned_pool_keeps_its_objects_and_frees_its_buffers() {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario(dir.path(), "pinned-pool.toml", |t| {
        short_quick(t, "2s", "1.5s");
        let load = table(t, "load");
        load.insert("processes".into(), 2.into());
        load.insert("connections".into(), 32.into());
        // The pool's state once the load is gone is the app's own count, in `/stats`: this
        // test asks for it in the drain (by default nothing is asked after the load).
        table(t, "sampling").insert(
            "stats_in".into(),
            toml::Value::Array(vec!["during".into(), "drain".into()]),
        );
    });
    let out = dir.path().join("out");
    let (code, summary) = compare(&s, "glibc", &out);
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!(variant(&summary, "glibc")["status"], "ok");
    let rec = record(&out, "glibc");
    let stats = last_stats(&rec);
    // After the drain the pool still holds its objects, all idle, and the app counts them.
    let rpc = &stats["pools"]["rpc"];
    let total = rpc["objects_total"].as_u64().unwrap();
    assert!(total >= 4, "pool grew under load: {rpc}");
    assert_eq!(rpc["objects_idle"].as_u64(), Some(total), "{rpc}");
    assert_eq!(stats["app"]["inflight_buffers"].as_u64(), Some(0));
    assert!(stats["app"]["pool_bytes"].as_u64().unwrap() >= total * (64 << 10));
    // Every sample of the run carries the mapping breakdown.
    assert!(!rec["mappings"].as_array().unwrap().is_empty());
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains("RPC pool (MiB)"),
        "declared series named in report.md"
    );
}

#[test]
fn thread_arenas_sweep_adds_glibc_arenas_with_threads() {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario(dir.path(), "thread-arenas.toml", |t| {
        short_quick(t, "1.5s", "1s");
        table(t, "sweep").insert(
            "values".into(),
            toml::Value::Array(vec![2.into(), 12.into()]),
        );
    });
    let out = dir.path().join("out");
    let (code, summary) = compare(&s, "glibc,glibc-arena2", &out);
    assert_eq!(code, Some(0), "{summary}");
    let heaps = |name: &str| {
        let rec = record(&out, name);
        rec["mappings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["arena_heaps"].as_u64().unwrap())
            .max()
            .unwrap()
    };
    // Every pool thread handled a request (round-robin), so each made its first malloc.
    let rec = record(&out, "glibc@threads=12");
    assert_eq!(
        last_stats(&rec)["io_pool"]["threads_used"].as_u64(),
        Some(12)
    );
    // glibc: ten more threads, ten more arena heaps (the cap on 2 cores is 16 arenas).
    let (few, many) = (heaps("glibc@threads=2"), heaps("glibc@threads=12"));
    assert!(
        many >= few + 8,
        "glibc arena heaps: {few} with 2 threads, {many} with 12"
    );
    // MALLOC_ARENA_MAX=2: at most one heap beside the main arena, whatever the threads.
    assert!(heaps("glibc-arena2@threads=12") <= 1);
    let vsz = |name: &str| variant(&summary, name)["vsz_peak_bytes"].as_u64().unwrap();
    assert!(vsz("glibc@threads=12") >= vsz("glibc@threads=2") + 8 * (64 << 20));
    assert!(
        out.join("sweep.svg").is_file(),
        "numeric sweep gets its plot"
    );
}

#[test]
fn pool_burst_allocates_on_empty_and_admission_bounds_it() {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario(dir.path(), "pool-burst.toml", |t| {
        short_quick(t, "4s", "1.5s");
    });
    let out = dir.path().join("out");
    let (code, summary) = compare(&s, "glibc", &out);
    assert_eq!(code, Some(0), "{summary}");
    let open = last_stats(&record(&out, "glibc@unbounded"))["pools"]["bytes"].clone();
    let limited = last_stats(&record(&out, "glibc@limit-48"))["pools"]["bytes"].clone();
    let on_empty = |p: &Value| p["get_on_empty"].as_u64().unwrap();
    assert!(on_empty(&open) > 0, "the burst emptied the pool: {open}");
    assert!(open["refills"].as_u64().unwrap() > 0, "{open}");
    // With at most 48 requests served at once, 48 buffers (+ a refill) cover them: fewer
    // on-empty allocations, and a lower peak.
    assert!(on_empty(&limited) < on_empty(&open), "{limited} vs {open}");
    let peak = |n: &str| variant(&summary, n)["rss_peak_bytes"].as_u64().unwrap();
    assert!(peak("glibc@limit-48") < peak("glibc@unbounded"));
    let svg = std::fs::read_to_string(out.join("rss-timeline.svg")).unwrap();
    assert!(svg.contains("get-on-empty/s"), "declared series plotted");
}

#[test]
fn buffered_bodies_hit_the_memory_limit_and_streaming_stays_flat() {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario(dir.path(), "buffered-vs-streaming.toml", |t| {
        short_quick(t, "4s", "1s");
    });
    let out = dir.path().join("out");
    let (code, summary) = compare(&s, "glibc", &out);
    // oom under the scenario's limit is a result, not a failure of the comparison.
    assert_eq!(code, Some(0), "{summary}");
    let buffered = variant(&summary, "glibc@buffered");
    assert_eq!(buffered["status"], "oom", "{buffered}");
    let rec = record(&out, "glibc@buffered");
    assert!(
        rec["failure"]
            .as_str()
            .unwrap()
            .contains("crossed the memory limit of 512.0 MiB"),
        "{}",
        rec["failure"]
    );
    let streaming = variant(&summary, "glibc@streaming");
    assert_eq!(streaming["status"], "ok");
    let peak = streaming["rss_peak_bytes"].as_u64().unwrap();
    assert!(peak < 128 << 20, "streaming peak {peak}");
    // The server that was killed is gone, and nothing of it is left behind.
    let pid = rec["server_pid"].as_u64().unwrap();
    assert!(!Path::new(&format!("/proc/{pid}")).exists());
}

/// A kernel OOM kill, as under a container's memory limit: the run is `oom` too. The run's
/// cgroup is made inside a cgroup-v1 memory cgroup of the test's, limited to 256 MiB
/// (`ALLOCSTORM_SERVER_CGROUP`), with buffered 32 MiB bodies and no limit of the harness's own.
/// The server alone is in it (the harness and its load workers stay outside), so the kernel's
/// victim can only be the server, and the harness reads the kill from the run cgroup's own
/// `oom_kill`: other tests' servers SIGKILLed meanwhile, or other OOM kills on the machine,
/// change nothing here, so this test runs beside the others.
#[test]
fn a_kernel_oom_kill_is_recorded_as_oom() {
    let cg = TestCgroup::create("oom", 256 << 20);
    let dir = tempfile::tempdir().unwrap();
    let s = scenario(dir.path(), "buffered-vs-streaming.toml", |t| {
        short_quick(t, "4s", "1s");
        t.remove("limits");
        let sweep = table(t, "sweep");
        sweep.insert("values".into(), toml::Value::Array(vec!["buffered".into()]));
        sweep.insert("labels".into(), toml::Value::Array(vec!["buffered".into()]));
    });
    let out = dir.path().join("out");
    let o = Command::new(BIN)
        .env("ALLOCSTORM_SERVER_CGROUP", &cg.0)
        .args([
            "run",
            "--quiet",
            "--quick",
            "--variant",
            "glibc@buffered",
            "--scenario",
        ])
        .arg(&s)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&o.stderr);
    let json = out.join("runs/glibc@buffered-1.json");
    assert!(
        json.is_file(),
        "no record (allocstorm {}): {said}",
        o.status
    );
    let rec = record(&out, "glibc@buffered");
    assert_eq!(o.status.code(), Some(0), "oom is a result: {said}");
    assert_eq!(rec["status"], "oom", "{}", rec["failure"]);
    // The run's own cgroup, inside the test's, counted the kill: the server was all there was
    // in it.
    let run_cg = rec["server_cgroup"]["path"].as_str().expect("a run cgroup");
    assert!(
        Path::new(run_cg).parent() == Some(cg.0.as_path()),
        "{run_cg} not in {}",
        cg.0.display()
    );
    assert_eq!(rec["server_cgroup"]["version"], "v1");
    let failure = rec["failure"].as_str().unwrap();
    assert!(failure.contains("kernel's OOM killer"), "{failure}");
    assert!(failure.contains("SIGKILL"), "{failure}");
    assert!(
        failure.contains(&format!(
            "oom_kill of the server's memory cgroup ({run_cg}/memory.oom_control) went from 0 to 1"
        )),
        "{failure}"
    );
    // The run removed its cgroup; the limit was the test's cgroup's, and it was reached.
    assert_eq!(cg.children(), Vec::<PathBuf>::new());
    let most: u64 = cg.read("memory.max_usage_in_bytes").trim().parse().unwrap();
    assert!(
        most > 240 << 20,
        "the test's cgroup held at most {most} bytes"
    );
    let pid = rec["server_pid"].as_u64().unwrap();
    assert!(!Path::new(&format!("/proc/{pid}")).exists());
}
