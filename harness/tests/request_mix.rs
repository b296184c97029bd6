//! `[[load.request]]`, a request mix: bad mixes refused at load in one line naming the entry's
//! key (exit 2), the single `path` + `range` form's request unchanged on the wire, and a
//! two-entry mix run end to end against the toy server, whose writes it keeps.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;

use allocstorm::scenario::Scenario;
use common::allocstorm;
use common::load_server::{check_accounting, plan, run};
use common::scenario::ScenarioFile;
use serde_json::Value;

const BASE: &str = r#"
name = "t"
[server]
create_file = "1MiB"
[load]
processes = 2
connections = 4
keys = 100
[phases]
before = "1s"
during = "1s"
drain = "1s"
"#;

const GET: &str = "[[load.request]]\nweight = 9\npath = \"/files/{key}\"\n";
const PUT: &str = "[[load.request]]\nweight = 1\nmethod = \"PUT\"\npath = \"/files/{key}\"\nbody = \"1KiB-4KiB\"\n";

/// BASE with `extra` appended (entries, or a replacement of `keys = 100`).
fn scenario(extra: &str) -> String {
    format!("{BASE}{extra}")
}

fn write(dir: &Path, text: &str) -> std::path::PathBuf {
    std::fs::write(
        dir.join("variants.toml"),
        "[[variant]]\nname = \"glibc\"\nbinary = \"target-server-glibc\"\n",
    )
    .unwrap();
    let p = dir.join("s.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// Each bad mix and what its one line must say.
fn bad_mixes() -> Vec<(String, Vec<&'static str>)> {
    let entry = |body: &str| scenario(&format!("[[load.request]]\n{body}\n"));
    vec![
        (
            scenario("[[load.request]]\nweight = 0\npath = \"/a\"\n[[load.request]]\nweight = 0\npath = \"/b\"\n"),
            vec!["load.request:", "weights add up to 0"],
        ),
        (entry("weight = -1\npath = \"/a\""), vec!["load.request[0].weight", "got -1"]),
        (entry("path = \"/a\""), vec!["load.request[0].weight", "missing"]),
        (
            format!("{}[[load.request]]\nweight = 1\nmethod = \"DELETE\"\npath = \"/a\"\n", scenario(GET)),
            vec!["load.request[1].method", "GET, PUT or POST", "\"DELETE\""],
        ),
        (
            BASE.replace("keys = 100\n", "") + GET,
            vec!["load.request[0].path", "load.keys", "\"/files/{key}\""],
        ),
        (entry("weight = 1\npath = \"/{key}\"\nkeys = \"normal\""), vec!["load.request[0].keys", "\"normal\"", "uniform"]),
        (entry("weight = 1\npath = \"/{key}\"\nkeys = \"zipf:0\""), vec!["load.request[0].keys", "S > 0", "\"zipf:0\""]),
        (entry("weight = 1\npath = \"/{key}\"\nkeys = \"zipf:-2\""), vec!["load.request[0].keys", "S > 0"]),
        (entry("weight = 1\npath = \"/{key}\"\nkeys = \"hot:0\""), vec!["load.request[0].keys", "(0, 1]", "\"hot:0\""]),
        (entry("weight = 1\npath = \"/{key}\"\nkeys = \"hot:1.5\""), vec!["load.request[0].keys", "(0, 1]", "\"hot:1.5\""]),
        (entry("weight = 1\npath = \"/a\"\nbody = \"4KiB\""), vec!["load.request[0].body", "PUT and POST, not GET", "\"4KiB\""]),
        (entry("weight = 1\nmethod = \"PUT\"\npath = \"/a\"\nbody = \"1KiB-1GiB\""), vec!["load.request[0].body", "at most 256.0 MiB"]),
        (entry("weight = 1\npath = \"/a\"\nrange = \"9-1\""), vec!["load.request[0].range", "MIN <= MAX"]),
        // Issue 28: a range past any file there can be (and one whose length overflowed).
        (entry("weight = 1\npath = \"/a\"\nrange = \"0-64GiB\""), vec!["load.request[0].range", "at most 64GiB", "\"0-64GiB\""]),
        (entry("weight = 1\npath = \"/a\"\nrange = \"0-18446744073709551616\""), vec!["load.request[0].range", "MIN <= MAX"]),
        (entry("weight = 1\npath = \"a\""), vec!["load.request[0].path", "'/'"]),
        (entry("weight = 1\npath = \"/{key}/{id}\""), vec!["load.request[0].path", "one placeholder"]),
        (entry("weight = 1\npath = \"/a\"\ncolour = 3"), vec!["s.toml:", "unknown field `colour`"]),
        (BASE.replace("[load]\n", "[load]\npath = \"/file/hot\"\n") + GET, vec!["load.path", "not both"]),
        (BASE.replace("[load]\n", "[load]\nrange = \"0-9\"\n") + GET, vec!["load.range", "not both"]),
        (BASE.to_string(), vec!["load.keys", "there are none"]),
        (BASE.replace("keys = 100", "keys = 0") + GET, vec!["load.keys", "positive", "got 0"]),
    ]
}

#[test]
fn bad_mixes_are_refused_in_one_line_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    for (text, needles) in bad_mixes() {
        let path = write(dir.path(), &text);
        let e = match Scenario::load(&path) {
            Ok(_) => panic!("loaded:\n{text}"),
            Err(e) => e.to_string(),
        };
        assert!(!e.contains('\n'), "{e}");
        for n in &needles {
            assert!(e.contains(n), "{e:?} does not say {n:?}\n{text}");
        }
    }
    // Through the binary: that one line, and exit 2.
    let path = write(
        dir.path(),
        &scenario(&format!(
            "{GET}{}",
            PUT.replace("weight = 1", "weight = 1\nkeys = \"zipf:0\"")
        )),
    );
    let out = allocstorm(
        dir.path(),
        &[
            "run",
            "--quick",
            "--scenario",
            "s.toml",
            "--variant",
            "glibc",
        ],
    );
    assert_eq!(out.code, 2, "{}", out.text());
    let line = out.stderr.trim();
    assert!(
        !line.contains('\n') && line.contains("load.request[1].keys"),
        "{line}"
    );
    assert!(path.exists());
}

#[test]
fn a_good_mix_loads_with_its_seed() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        &format!("seed = 9\n{}", scenario(&format!("{GET}{PUT}"))),
    );
    let s = Scenario::load(&path).unwrap();
    let mix = s.load.mix.as_ref().unwrap();
    assert_eq!((mix.keys, mix.seed, mix.entries.len()), (100, 9, 2));
    assert_eq!(mix.entries[1].body, Some((1024, 4096)));
    assert_eq!(mix.entries[0].range, None);
    // Without entries, no mix: the single GET as before.
    let plain = write(dir.path(), &BASE.replace("keys = 100\n", ""));
    assert!(Scenario::load(&plain).unwrap().load.mix.is_none());
}

/// The single `path` + `range` form sends what it sent before the mix existed, byte for byte:
/// a GET with `host` and `range` and no body headers.
#[tokio::test]
async fn the_single_form_sends_the_same_request() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut c, _) = listener.accept().unwrap();
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = c.read(&mut buf).unwrap();
            assert!(n > 0, "closed before a whole request head");
            head.extend_from_slice(&buf[..n]);
        }
        c.write_all(b"HTTP/1.1 206 Partial Content\r\ncontent-range: bytes 0-9/100\r\ncontent-length: 10\r\n\r\n0123456789")
            .unwrap();
        head
    });
    let url = format!("http://{addr}/file/hot");
    let p = plan(&[
        "--target",
        &url,
        "--range",
        "0-9",
        "--connections",
        "1",
        "--rate",
        "1/s",
        "--duration",
        "1s",
    ]);
    let s = run(&p).await;
    check_accounting(&s);
    assert_eq!(s.ok, 1);
    assert!(s.per_request.is_empty());
    let head = String::from_utf8(server.join().unwrap()).unwrap();
    assert_eq!(
        head,
        format!("GET /file/hot HTTP/1.1\r\nhost: {addr}\r\nrange: bytes=0-9\r\n\r\n")
    );
}

fn entries(load: &Value) -> &Vec<Value> {
    load["per_request"].as_array().expect("per_request")
}

/// The toy scenario with a two-entry mix: 80% GETs of 64 KiB ranges (hot:0.9 over 1000 keys),
/// 20% PUTs of 8-64 KiB bodies (zipf:1.1), 300/s.
fn toy_mix() -> ScenarioFile {
    ScenarioFile::toy("mix")
        .unset("load.range")
        .set("load.keys", 1000)
        .set("load.rate", "300/s")
        .edit(|t| {
            let req: toml::Value = toml::from_str::<toml::Table>(
                r#"request = [
  { weight = 80, path = "/files/{key}", keys = "hot:0.9", range = "0-65535" },
  { weight = 20, method = "PUT", path = "/files/{key}", keys = "zipf:1.1", body = "8KiB-64KiB" },
]"#,
            )
            .unwrap()["request"]
                .clone();
            common::scenario::table_at(t, "load").insert("request".into(), req);
        })
}

/// A two-entry mix against the toy server: the entries' counts add up to the totals, and the
/// server keeps what the writes sent.
#[test]
fn a_two_entry_mix_runs_against_the_toy_server() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = toy_mix()
        .table("server", "max_stored = \"1MiB\"")
        // /stats in the drain too, so the last reading comes after every write.
        .table("sampling", "stats_in = [\"during\", \"drain\"]")
        .write(dir.path(), "mix.toml");
    let (code, record) = common::run(&scenario, "glibc");
    assert_eq!(code, Some(0), "{record:#}");
    let load = &record["load"];
    let e = entries(load);
    assert_eq!(e.len(), 2);
    assert_eq!(
        (e[0]["method"].as_str(), e[1]["method"].as_str()),
        (Some("GET"), Some("PUT"))
    );
    let sum = |k: &str| e.iter().map(|x| x[k].as_u64().unwrap()).sum::<u64>();
    for k in ["requests", "ok", "errors", "abandoned", "bytes"] {
        assert_eq!(sum(k), load[k].as_u64().unwrap(), "{k}: {e:#?}");
    }
    for x in e {
        let n = |k: &str| x[k].as_u64().unwrap();
        assert_eq!(
            n("requests"),
            n("ok") + n("errors") + n("abandoned"),
            "{x:#}"
        );
        assert_eq!(x["latency_ms"]["count"].as_u64(), Some(n("ok")));
    }
    assert_eq!(sum("ok"), load["latency_ms"]["count"].as_u64().unwrap());
    // Every GET answer is the whole 64 KiB range; the writes sent their bodies.
    assert_eq!(
        e[0]["bytes"].as_u64().unwrap(),
        e[0]["ok"].as_u64().unwrap() * 65536
    );
    let put_ok = e[1]["ok"].as_u64().unwrap();
    assert!(put_ok > 10, "{e:#?}");
    let sent = e[1]["sent_bytes"].as_u64().unwrap();
    assert!((put_ok * 8192..=put_ok * 65536).contains(&sent), "{sent}");
    // The server's own count, read in the drain: every write the client saw answered (in
    // every phase) was taken, and what it keeps stays within max_stored.
    let phases = record["phase_loads"].as_array().unwrap();
    let put_all = |k: &str| -> u64 {
        phases
            .iter()
            .map(|p| entries(&p["summary"])[1][k].as_u64().unwrap())
            .sum()
    };
    let stats = record["stats"].as_array().unwrap();
    let files = &stats.last().unwrap()["stats"]["files"];
    let writes = files["writes"].as_u64().unwrap();
    // A write given up by the client may still have reached the server: between the two.
    assert!(
        (put_all("ok")..=put_all("requests")).contains(&writes),
        "{files:#}: {} to {} PUTs, {:?}",
        put_all("ok"),
        put_all("requests"),
        stats
            .iter()
            .map(|s| (&s["t"], &s["stats"]["files"]["writes"]))
            .collect::<Vec<_>>()
    );
    let stored = files["stored_bytes"].as_u64().unwrap();
    assert!(stored > 0 && stored <= 1 << 20, "{files:#}");
    assert!(files["evicted"].as_u64().unwrap() > 0, "{files:#}");
    assert!(files["keys"].as_u64().unwrap() > 1, "{files:#}");
    let app = &stats.last().unwrap()["stats"]["app"];
    assert!(app["files_bytes"].as_u64().unwrap() >= stored);
    // The report names the mix and tabulates its entries.
    let out = dir.path().join("out");
    let rendered = allocstorm(dir.path(), &["report", out.to_str().unwrap()]);
    assert_eq!(rendered.code, 0, "{}", rendered.text());
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains("of a request mix: weight 80 `GET /files/{key}`"),
        "{md}"
    );
    assert!(md.contains("## Requests by entry"), "{md}");
    let row = format!(
        "| glibc | `PUT /files/{{key}}` | zipf:1.1 of 1000 | 20 | {} |",
        e[1]["requests"]
    );
    assert!(md.contains(&row), "{row}\n{md}");
}

/// The shipped `scenarios/hot-mix.toml`, on short phases: it loads, runs, and sends its mix
/// (90% GETs, hot:0.9 over 10,000 keys; 10% PUTs) with every request answered.
#[test]
fn the_shipped_hot_mix_scenario_runs() {
    let dir = tempfile::tempdir().unwrap();
    let path = ScenarioFile::shipped("hot-mix.toml")
        .edit(|t| common::scenario::short_quick(t, "2s", "1s"))
        .write(dir.path(), "hot-mix.toml");
    let s = Scenario::load(&path).unwrap();
    let mix = s.load.mix.as_ref().unwrap();
    assert_eq!((mix.keys, mix.entries.len()), (10_000, 2));
    let out = dir.path().join("out");
    let status = std::process::Command::new(common::BIN)
        .args([
            "run",
            "--quick",
            "--quiet",
            "--variant",
            "glibc",
            "--scenario",
        ])
        .arg(&path)
        .arg("--out")
        .arg(&out)
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let record = common::read_json(&out.join("runs/glibc-1.json"));
    let load = &record["load"];
    let e = entries(load);
    assert_eq!(e[0]["keys"], "hot:0.9");
    assert_eq!(e[1]["method"], "PUT");
    // 200/s for 2 s: 400 due, each sent or counted unsent; the entries add up to the totals.
    let n = |v: &Value| v.as_u64().unwrap();
    assert_eq!(n(&load["intended"]), 400, "{load:#}");
    assert_eq!(n(&load["requests"]) + n(&load["unsent"]), 400);
    let requests: u64 = e.iter().map(|x| n(&x["requests"])).sum();
    assert_eq!(requests, n(&load["requests"]));
    assert!(n(&e[1]["ok"]) > 0, "{e:#?}");
}

/// A mix from `[remote]` workers: the mix goes to them in their plan, and their per-entry
/// seconds come back and are merged as local workers' are.
#[test]
fn remote_workers_send_the_mix_and_its_counts_come_back() {
    let port = common::free_listen_port();
    let dir = tempfile::tempdir().unwrap();
    let scenario = toy_mix()
        .table(
            "remote",
            &format!("listen = \"127.0.0.1:{port}\"\nworkers = 2\njoin = \"20s\""),
        )
        .write(dir.path(), "remote.toml");
    let token = "mix-test-token";
    let spawn = |args: &[&str]| {
        let mut cmd = std::process::Command::new(common::BIN);
        cmd.args(args)
            .env("ALLOCSTORM_TOKEN", token)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        common::Running::spawn(cmd)
    };
    let out = dir.path().join("out");
    let (s, o) = (scenario.to_str().unwrap(), out.to_str().unwrap());
    let mut run = spawn(&[
        "run",
        "--quiet",
        "--variant",
        "glibc",
        "--scenario",
        s,
        "--out",
        o,
    ]);
    let connect = format!("127.0.0.1:{port}");
    let mut workers: Vec<_> = ["w0", "w1"]
        .iter()
        .map(|name| {
            spawn(&[
                "load-worker",
                "--connect",
                &connect,
                "--name",
                name,
                "--wait",
                "3s",
            ])
        })
        .collect();
    let (status, stderr) = run.wait_within(std::time::Duration::from_secs(60));
    assert_eq!(status.code(), Some(0), "{stderr}");
    for w in &mut workers {
        let (status, err) = w.wait_within(std::time::Duration::from_secs(10));
        assert_eq!(status.code(), Some(0), "{err}");
    }
    let record = common::read_json(&out.join("runs/glibc-1.json"));
    let load = &record["load"];
    assert_eq!(load["workers"].as_array().unwrap().len(), 2);
    let e = entries(load);
    let n = |v: &Value| v.as_u64().unwrap();
    for k in ["requests", "ok", "bytes"] {
        let sum: u64 = e.iter().map(|x| n(&x[k])).sum();
        assert_eq!(sum, n(&load[k]), "{k}: {e:#?}");
    }
    assert!(n(&e[0]["ok"]) > 0 && n(&e[1]["ok"]) > 0, "{e:#?}");
    let by_second: u64 = load["per_second"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| n(&s["per_request"][1]["ok"]))
        .sum();
    assert_eq!(by_second, n(&e[1]["ok"]));
}
