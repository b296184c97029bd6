//! Bad scenario and variant files: each gives one clear line naming the file and the field,
//! and exit code 2, before anything starts.
//!
//! The table of bad files is checked in-process, on `Scenario::load`'s error; a few of them, one
//! of each kind, go through the binary to show that the same line is all it prints, with exit
//! code 2.

mod common;

use std::path::{Path, PathBuf};

use allocstorm::scenario::Scenario;
use allocstorm_core::server::BodyMode;
use common::{allocstorm, root, BIN};

const GOOD_VARIANTS: &str = r#"
[[variant]]
name = "glibc"
binary = "target-server-glibc"
"#;

const BASE: &str = r#"
name = "t"
[server]
create_file = "1MiB"
[load]
processes = 2
connections = 4
[phases]
before = "1s"
during = "1s"
drain = "1s"
"#;

/// Replaces `key = ...` in `section` of BASE or appends it.
fn with(section: &str, line: &str) -> String {
    let mut out = String::new();
    let mut added = false;
    let mut current = String::new();
    for l in BASE.lines() {
        if l.starts_with('[') {
            if current == section && !added {
                out.push_str(line);
                out.push('\n');
                added = true;
            }
            current = l.trim_matches(|c| c == '[' || c == ']').to_string();
        }
        let key = line.split('=').next().unwrap().trim();
        if current == section && l.split('=').next().unwrap().trim() == key {
            continue;
        }
        out.push_str(l);
        out.push('\n');
    }
    if !added {
        if current != section {
            out.push_str(&format!("[{section}]\n"));
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// BASE with `[target]` (holding `target`) in place of `[server]`.
fn tbase(target: &str) -> String {
    BASE.replace(
        "[server]\ncreate_file = \"1MiB\"\n",
        &format!("[target]\n{target}\n"),
    )
}

/// `dir/s.toml` and `dir/variants.toml` of these texts; the scenario's path.
fn write(dir: &Path, scenario: &str, variants: &str) -> PathBuf {
    std::fs::write(dir.join("variants.toml"), variants).unwrap();
    let path = dir.join("s.toml");
    std::fs::write(&path, scenario).unwrap();
    path
}

/// `Scenario::load`'s error for these files, as it displays.
fn load_error(scenario: &Path) -> String {
    match Scenario::load(scenario) {
        Ok(_) => panic!("{} loaded", scenario.display()),
        Err(e) => e.to_string(),
    }
}

/// The bad files, each (scenario text, variants text, what its one line must mention).
fn bad_files() -> Vec<(String, String, Vec<&'static str>)> {
    // A preload: relative, a directory, or on a binary with its own allocator (a missing one
    // is no error in the file: a_missing_preload_loads_and_says_why_its_variant_cannot_run).
    let preload = |binary: &str, lib: &str| {
        format!("[[variant]]\nname = \"glibc\"\nbinary = \"{binary}\"\npreload = \"{lib}\"\n")
    };
    let preload_relative = preload("target-server-glibc", "libjemalloc.so.2");
    let preload_dir = preload("target-server-glibc", "/usr/lib");
    let preload_twice = preload("target-server-jemalloc", BIN);
    // A variant with this `package` (leaked: the table borrows its texts, and a test ends soon).
    let package = |p: &str| -> &'static str {
        let lib = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2";
        let quoted = toml::Value::from(p);
        format!(
            "{}package = {quoted}\n",
            preload("target-server-glibc", lib)
        )
        .leak()
    };
    let absolute = "expected the absolute path of a shared library";
    // (scenario text, variants text, what the line must mention)
    let cases: Vec<(String, &str, Vec<&'static str>)> = vec![
        (BASE.to_string(), &preload_relative, vec!["variants.toml: variant[0].preload: ", absolute, "got \"libjemalloc.so.2\""]),
        (BASE.to_string(), &preload_dir, vec!["variant[0].preload", "expected a shared library file", "\"/usr/lib\""]),
        (BASE.to_string(), &preload_twice, vec!["variant[0].preload", "target-server-jemalloc links its own allocator", "target-server-glibc only", "two allocators in one process"]),
        (with("load", r#"rate = "fast""#), GOOD_VARIANTS, vec!["load.rate", "fast", "expected"]),
        (with("load", r#"timeout = "3 fortnights""#), GOOD_VARIANTS, vec!["load.timeout", "expected a duration"]),
        (with("load", "timeout = \"0s\""), GOOD_VARIANTS, vec!["load.timeout", "above 0"]),
        (with("load", "processes = 0"), GOOD_VARIANTS, vec!["load.processes", "positive"]),
        (with("load", "connections = 1"), GOOD_VARIANTS, vec!["load.connections", "at least one connection per process"]),
        (with("load", r#"range = "9-1""#), GOOD_VARIANTS, vec!["load.range", "MIN <= MAX"]),
        (with("load", r#"path = "file/hot""#), GOOD_VARIANTS, vec!["load.path", "'/'"]),
        (with("load", "colour = 3"), GOOD_VARIANTS, vec!["s.toml:", "unknown field `colour`"]),
        (with("server", r#"create_file = "3 parsecs""#), GOOD_VARIANTS, vec!["server.create_file", "expected a size"]),
        (with("server", r#"io = "async""#), GOOD_VARIANTS, vec!["server.io", "worker", "blocking"]),
        (with("server", r#"egress_limit = "120MiB""#), GOOD_VARIANTS, vec!["server.egress_limit", "byte rate"]),
        (with("server", r#"file = "missing.bin""#), GOOD_VARIANTS, vec!["server.file"]),
        (with("server", "workers = 0"), GOOD_VARIANTS, vec!["server.workers"]),
        (with("phases", r#"drain = "200ms""#), GOOD_VARIANTS, vec!["phases.drain", "at least 1s"]),
        (with("phases", r#"during = "soon""#), GOOD_VARIANTS, vec!["phases.during"]),
        (with("phases", "cycles = 0"), GOOD_VARIANTS, vec!["phases.cycles", "expected 1 to 20 cycles", "got 0"]),
        (with("phases", r#"before = "100h""#), GOOD_VARIANTS, vec!["phases", "at most 6h"]),
        (with("phases", r#"soak = "forever""#), GOOD_VARIANTS, vec!["phases.soak", "forever"]),
        (with("phases", r#"soak = "200h""#), GOOD_VARIANTS, vec!["phases.soak", "at most 168h and 10080 cycles", "360000 cycles"]),
        (with("phases", r#"soak = "1s""#), GOOD_VARIANTS, vec!["phases.soak", "3 cycles after the first", "got 1s"]),
        (with("phases", "soak = \"1h\"\ncycles = 3"), GOOD_VARIANTS, vec!["phases.cycles", "either cycles or soak"]),
        (with("quick", r#"before = "10ms""#), GOOD_VARIANTS, vec!["quick.before", "at least 1s"]),
        (with("sampling", r#"interval = "0ms""#), GOOD_VARIANTS, vec!["sampling.interval"]),
        (with("sampling", r#"stats_in = ["during", "dran"]"#), GOOD_VARIANTS, vec!["sampling.stats_in[1]", "expected a phase name", "\"dran\""]),
        (with("sampling", r#"stats_in = ["drain", "drain"]"#), GOOD_VARIANTS, vec!["sampling.stats_in[1]", "listed twice"]),
        (format!("variants = [\"tcmalloc\"]\n{BASE}"), GOOD_VARIANTS, vec!["variants", "unknown variant \"tcmalloc\"", "glibc"]),
        (format!("{BASE}\n[gate.variants.nope]\nmax_retention = 0.5\n"), GOOD_VARIANTS, vec!["gate.variants.nope", "unknown variant"]),
        (format!("{BASE}\n[gate.variants.glibc]\nmax_after_drain = \"lots\"\n"), GOOD_VARIANTS, vec!["gate.variants.glibc.max_after_drain"]),
        ("name = \"t\"\n[load\n".to_string(), GOOD_VARIANTS, vec!["s.toml:2"]),
        // Hostile packages (issue 28): `package` reaches `sudo apt-get install` (scripts/deps.sh).
        (BASE.to_string(), package("-oDPkg::Pre-Invoke::=touch /tmp/pwned ./evil.deb *"), vec!["variants.toml: variant[0].package: ", "expected a Debian package name", "\"-oDPkg::Pre-Invoke::=touch /tmp/pwned ./evil.deb *\""]),
        (BASE.to_string(), package("libjemalloc2 ./evil.deb"), vec!["variant[0].package", "\"libjemalloc2 ./evil.deb\""]),
        (BASE.to_string(), package("*"), vec!["variant[0].package", "\"*\""]),
        (BASE.to_string(), package("--allow-unauthenticated"), vec!["variant[0].package", "starting with a letter or digit"]),
        (BASE.to_string(), package("libjemalloc2=5.3.0-1"), vec!["variant[0].package", "\"libjemalloc2=5.3.0-1\""]),
        (BASE.to_string(), package("libjemalloc2:amd64"), vec!["variant[0].package", "\"libjemalloc2:amd64\""]),
        (BASE.to_string(), package("LibJemalloc2"), vec!["variant[0].package", "a-z"]),
        (BASE.to_string(), package("l"), vec!["variant[0].package", "2 to 128"]),
        (BASE.to_string(), package("lib\njemalloc2"), vec!["variant[0].package"]),
        // Sizes (issue 28): 2^64 was read as u64::MAX, and nothing bounded a file or a range.
        (with("load", r#"range = "0-18446744073709551616""#), GOOD_VARIANTS, vec!["load.range", "MIN <= MAX"]),
        (with("load", r#"range = "18446744073709551615-18446744073709551615""#), GOOD_VARIANTS, vec!["load.range"]),
        (with("load", r#"range = "0-4GiB""#), GOOD_VARIANTS, vec!["load.range", "inside the file of server.create_file (1048576 bytes: 0-1048575)", "got 0-4294967296"]),
        (with("load", r#"range = "1048576-1048576""#), GOOD_VARIANTS, vec!["load.range", "got 1048576-1048576"]),
        (with("server", r#"create_file = "3TiB""#), GOOD_VARIANTS, vec!["server.create_file", "at most 64GiB", "\"3TiB\""]),
        (with("server", r#"create_file = "18446744073709551616""#), GOOD_VARIANTS, vec!["server.create_file", "expected a size"]),
        (tbase("command = [\"/bin/sh\", \"{port}\"]\ncreate_file = \"1PB\""), GOOD_VARIANTS, vec!["target.create_file"]),
        (tbase("command = [\"/bin/sh\", \"{port}\"]\ncreate_file = \"65GiB\""), GOOD_VARIANTS, vec!["target.create_file", "at most 64GiB"]),
        (tbase("command = [\"/bin/sh\", \"{port}\"]\ncreate_file = \"64KiB\""), GOOD_VARIANTS, vec!["load.range", "target.create_file (65536 bytes"]),
        // Hostile names (issue 28): the name becomes the report directory's.
        (BASE.replace("name = \"t\"", "name = \"x/../../../escaped\""), GOOD_VARIANTS, vec!["s.toml: name: ", "[A-Za-z0-9._-]", "\"x/../../../escaped\""]),
        (BASE.replace("name = \"t\"", "name = \"..\""), GOOD_VARIANTS, vec!["name", "not starting with '.'", "\"..\""]),
        (BASE.replace("name = \"t\"", "name = \"/etc\""), GOOD_VARIANTS, vec!["name", "\"/etc\""]),
        (BASE.replace("name = \"t\"", "name = \"\""), GOOD_VARIANTS, vec!["name", "got \"\""]),
        (BASE.replace("name = \"t\"", &format!("name = \"{}\"", "n".repeat(65))), GOOD_VARIANTS, vec!["name", "1 to 64"]),
        (BASE.replace("name = \"t\"", "name = \"a b\""), GOOD_VARIANTS, vec!["name", "\"a b\""]),
        (BASE.to_string(), "[[variant]]\nname = \"glibc\"\nbinary = \"target-server-tcmalloc\"\n", vec!["variants.toml", "variant[0].binary", "target-server-glibc"]),
        (BASE.to_string(), "[[variant]]\nname = \"glibc\"\nbinary = \"target-server-glibc\"\n[[variant]]\nname = \"glibc\"\nbinary = \"target-server-glibc\"\n", vec!["variant[1].name", "duplicate"]),
        (BASE.to_string(), "[[variant]]\nname = \"glibc\"\nbinary = \"target-server-glibc\"\nenv = 3\n", vec!["variants.toml:"]),
        (with("server", r#"body = "chunked""#), GOOD_VARIANTS, vec!["server.body", "buffered", "streaming"]),
        (with("server", "io_threads = 0"), GOOD_VARIANTS, vec!["server.io_threads", "1 to 4096"]),
        (with("server", "byte_pool = 64\nbyte_pool_low = 0.7\nbyte_pool_high = 0.6"), GOOD_VARIANTS, vec!["server.byte_pool_high", "byte_pool_low < byte_pool_high"]),
        (with("server", r#"rpc_object_size = "0""#), GOOD_VARIANTS, vec!["server.rpc_object_size", "positive"]),
        (format!("{BASE}[sweep]\nfield = \"colour\"\nvalues = [1, 2]\n"), GOOD_VARIANTS, vec!["sweep.field", "[server] key", "io_threads"]),
        (format!("{BASE}[sweep]\nfield = \"io_threads\"\nvalues = [2, \"many\"]\n"), GOOD_VARIANTS, vec!["sweep.values[1]", "server.io_threads"]),
        (format!("{BASE}[sweep]\nfield = \"io_threads\"\nvalues = [2, 0]\n"), GOOD_VARIANTS, vec!["sweep.values[1]", "server.io_threads", "1 to 4096"]),
        (format!("{BASE}[sweep]\nfield = \"io_threads\"\nvalues = [2, 2]\n"), GOOD_VARIANTS, vec!["sweep.values[1]", "duplicate sweep point"]),
        (format!("{BASE}[sweep]\nfield = \"max_inflight\"\nvalues = [0, 8]\nlabels = [\"open\"]\n"), GOOD_VARIANTS, vec!["sweep.labels", "one label per value"]),
        (format!("{BASE}[sweep]\nfield = \"io_threads\"\nvalues = []\n"), GOOD_VARIANTS, vec!["sweep.values", "1 to 32 values"]),
        (with("load", "rate = \"100/s\"\nsteps = [{ at = \"0.5s\", rate = \"400/s\" }, { at = \"0.2s\", rate = \"100/s\" }]"), GOOD_VARIANTS, vec!["load.steps[1].at", "increasing order"]),
        (with("load", "rate = \"100/s\"\nsteps = [{ at = \"150%\", rate = \"400/s\" }]"), GOOD_VARIANTS, vec!["load.steps[0].at", "percentage"]),
        (with("load", "rate = \"100/s\"\nsteps = [{ at = \"50%\", rate = \"lots\" }]"), GOOD_VARIANTS, vec!["load.steps[0].rate"]),
        (with("load", "steps = [{ at = \"50%\", rate = \"400/s\" }]"), GOOD_VARIANTS, vec!["load.steps[0]", "open-loop"]),
        (format!("{BASE}[limits]\nmemory = \"1MiB\"\n"), GOOD_VARIANTS, vec!["limits.memory", "at least 16MiB"]),
        (format!("{BASE}[limits]\nmemory = \"plenty\"\n"), GOOD_VARIANTS, vec!["limits.memory", "expected a size"]),
        (format!("{BASE}[report]\nseries = [{{ label = \"x\", stat = \"pools\" }}]\n"), GOOD_VARIANTS, vec!["report.series[0].stat", "JSON pointer"]),
        (format!("{BASE}[report]\nseries = [{{ label = \"x\", stat = \"/a\", kind = \"sum\" }}]\n"), GOOD_VARIANTS, vec!["s.toml:", "`sum`", "gauge"]),
        (BASE.to_string(), "[[variant]]\nname = \"glibc\"\nbinary = \"target-server-glibc\"\nsweep = { base = \"x\", name = \"n\", field = \"f\", value = 1, label = \"l\" }\n", vec!["variant[0].sweep"]),
        // [cost]: the price of each fix.
        (format!("{BASE}[cost]\nreference = \"jemalloc\"\n"), GOOD_VARIANTS, vec!["cost.reference", "expected a variant of the variants file (glibc)", "\"jemalloc\""]),
        (format!("{BASE}[cost]\nlatency_at = 2\n"), GOOD_VARIANTS, vec!["s.toml:"]),
        (format!("{BASE}[cost]\nlatency_at = 2.0\n"), GOOD_VARIANTS, vec!["cost.latency_at", "at most 1", "got 2"]),
        (format!("{BASE}[cost]\ncapacity = \"forever\"\n"), GOOD_VARIANTS, vec!["cost.capacity", "expected a duration"]),
        (format!("{BASE}[cost]\nthroughput = 3\n"), GOOD_VARIANTS, vec!["s.toml:", "unknown field `throughput`"]),
        (format!("{BASE}[cost.budget]\nmax_retention = 1.5\n"), GOOD_VARIANTS, vec!["cost.budget.max_retention", "from 0 to 1"]),
        (format!("{BASE}[sweep]\nfield = \"io_threads\"\nvalues = [2, 8]\n[cost]\n"), GOOD_VARIANTS, vec!["cost", "no [cost] with [sweep]"]),
        (format!("{}[cost]\n", tbase("command = [\"/bin/sh\", \"{port}\"]")), GOOD_VARIANTS, vec!["cost", "no [cost] with [target]", "egress cap"]),
        // [remote]: load workers on other hosts.
        (format!("{BASE}[remote]\nlisten = \"somewhere\"\nworkers = 2\n"), GOOD_VARIANTS, vec!["remote.listen", "expected IP:PORT of this host", "\"somewhere\""]),
        (format!("{BASE}[remote]\nlisten = \"127.0.0.1:0\"\nworkers = 2\n"), GOOD_VARIANTS, vec!["remote.listen", "a fixed port"]),
        (format!("{BASE}[remote]\nlisten = \"127.0.0.1:7070\"\nworkers = 0\n"), GOOD_VARIANTS, vec!["remote.workers", "expected 1 to 1024 workers, got 0"]),
        (format!("{BASE}[remote]\nlisten = \"127.0.0.1:7070\"\nworkers = 2\njoin = \"0s\"\n"), GOOD_VARIANTS, vec!["remote.join"]),
        (format!("{BASE}[remote]\nlisten = \"127.0.0.1:7070\"\n"), GOOD_VARIANTS, vec!["s.toml:", "missing field `workers`"]),
        (format!("{BASE}[remote]\nlisten = \"127.0.0.1:7070\"\nworkers = 2\n[cost]\n"), GOOD_VARIANTS, vec!["remote", "cannot be combined with [cost]", "enabled = false"]),
        // [target]: a server of the user's own.
        (tbase(""), GOOD_VARIANTS, vec!["s.toml:", "missing field `command`"]),
        (format!("{BASE}[target]\ncommand = [\"/bin/sh\", \"{{port}}\"]\n"), GOOD_VARIANTS, vec!["target", "either the toy server ([server]) or a target of your own ([target]), not both"]),
        (tbase("command = []"), GOOD_VARIANTS, vec!["target.command", "got []"]),
        (tbase("command = [\"/nonexistent/nginx\", \"{port}\"]"), GOOD_VARIANTS, vec!["target.command[0]", "\"/nonexistent/nginx\" not found", "make servers"]),
        (tbase("command = [\"no-such-server-anywhere\", \"{port}\"]"), GOOD_VARIANTS, vec!["target.command[0]", "name on PATH"]),
        (tbase("command = [\"/bin/sh\", \"-c\", \"sleep 1\"]"), GOOD_VARIANTS, vec!["target.command", "{port} appears in neither"]),
        (tbase("command = [\"/bin/sh\", \"{port}\"]\nready = \"udp\""), GOOD_VARIANTS, vec!["target.ready", "\"stdout:TEXT\"", "\"tcp\"", "\"udp\""]),
        (tbase("command = [\"/bin/sh\", \"{port}\"]\nready = \"http:healthz\""), GOOD_VARIANTS, vec!["target.ready", "http:/PATH"]),
        (tbase("command = [\"/bin/sh\", \"{port}\"]\nsample = \"all\""), GOOD_VARIANTS, vec!["target.sample", "\"process\" or \"tree\"", "\"all\""]),
        (tbase("command = [\"/bin/sh\", \"{port}\"]\nfiles = [\"missing.conf\"]"), GOOD_VARIANTS, vec!["target.files[0]", "template file", "missing.conf"]),
        (tbase("command = [\"/bin/sh\", \"{port}\"]\nstats = \"stats\""), GOOD_VARIANTS, vec!["target.stats", "\"/stats\""]),
        (tbase("command = [\"/bin/sh\", \"{port}\"]\nstats_command = []"), GOOD_VARIANTS, vec!["target.stats_command", "got []", "redis-cli"]),
        (tbase("command = [\"/bin/sh\", \"{port}\"]\nstats_command = [\"{port}\", \"info\"]"), GOOD_VARIANTS, vec!["target.stats_command[0]", "without placeholders", "\"{port}\""]),
        (tbase("command = [\"/bin/sh\", \"{port}\"]\nstats_command = [\"/nonexistent/redis-cli\", \"info\"]"), GOOD_VARIANTS, vec!["target.stats_command[0]", "\"/nonexistent/redis-cli\" not found", "make servers"]),
        (tbase("command = [\"/bin/sh\", \"{port}\"]\nstats_command = \"redis-cli info memory\""), GOOD_VARIANTS, vec!["s.toml:", "\"redis-cli info memory\"", "expected a sequence"]),
        (tbase("command = [\"/bin/sh\", \"{port}\"]\ncreate_file = \"0\""), GOOD_VARIANTS, vec!["target.create_file", "above 0"]),
        (tbase("command = [\"/bin/sh\", \"{port}\"]\nready_timeout = \"soon\""), GOOD_VARIANTS, vec!["target.ready_timeout"]),
        (tbase("command = [\"/bin/sh\", \"{port}\"]\nport = 8080"), GOOD_VARIANTS, vec!["s.toml:", "unknown field `port`"]),
        (format!("{}[sweep]\nfield = \"io_threads\"\nvalues = [2, 8]\n", tbase("command = [\"/bin/sh\", \"{port}\"]")), GOOD_VARIANTS, vec!["sweep", "a [target] scenario has none"]),
        (tbase("command = [\"/bin/sh\", \"{port}\"]"), "[[variant]]\nname = \"glibc\"\nbinary = \"target-server-jemalloc\"\n", vec!["variants", "\"glibc\" runs target-server-jemalloc", "only variants of target-server-glibc"]),
        (tbase("command = [\"/bin/sh\", \"{port}\"]"), "[[variant]]\nname = \"glibc\"\nbinary = \"target-server-glibc\"\nargs = [\"--mallopt\", \"arena_max=2\"]\n", vec!["variants", "with args", "without args"]),
        (tbase("command = [\"/bin/sh\", \"{port}\"]").replace("drain = \"1s\"", "drain = \"1s\"\nrelease = \"1s\""), GOOD_VARIANTS, vec!["phases.release", "a [target] has none"]),
        (format!("{}[report]\nseries = [{{ label = \"x\", stat = \"/a\" }}]\n", tbase("command = [\"/bin/sh\", \"{port}\"]")), GOOD_VARIANTS, vec!["report.series", "target.stats"]),
    ];
    cases
        .into_iter()
        .map(|(s, v, needles)| (s, v.to_string(), needles))
        .collect()
}

#[test]
fn bad_scenarios_fail_with_one_clear_line() {
    let cases = bad_files();
    assert!(cases.len() >= 20);
    for (scenario, variants, needles) in &cases {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), scenario, variants);
        let line = load_error(&path);
        assert!(
            !line.is_empty() && !line.contains('\n'),
            "one line for {needles:?}, got: {line}"
        );
        let named = [path, dir.path().join("variants.toml")]
            .iter()
            .any(|f| line.starts_with(&f.display().to_string()));
        assert!(named, "names the file first: {line}");
        for n in needles {
            assert!(line.contains(n), "{n:?} not in {line:?}");
        }
    }
}

/// `allocstorm run` of `scenario`, which does not load: exit 2, before anything starts, and
/// stderr exactly the one line of the load error, naming the file.
fn assert_the_binary_refuses(dir: &Path, scenario: &Path) {
    let line = load_error(scenario);
    let out = dir.join("out");
    let o = allocstorm(
        dir,
        &[
            "run".as_ref(),
            "--quiet".as_ref(),
            "--variant".as_ref(),
            "glibc".as_ref(),
            "--scenario".as_ref(),
            scenario.as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
        ],
    );
    assert_eq!(o.code, 2, "{o:?}");
    assert_eq!(o.stderr, format!("allocstorm: {line}\n"), "{o:?}");
    assert!(
        o.stderr.contains(&scenario.display().to_string()),
        "names the file: {o:?}"
    );
    assert!(o.stdout.is_empty(), "{o:?}");
    assert!(!out.exists(), "nothing started: {o:?}");
}

#[test]
fn the_binary_prints_the_one_line_and_exits_2() {
    // One of each kind: the file cannot be parsed, has a key that does not exist, a value that
    // is not of its unit, names a file that is not there; and the scenario file itself missing.
    for scenario in [
        "name = \"t\"\n[load\n".to_string(),
        with("load", "colour = 3"),
        with("load", r#"timeout = "3 fortnights""#),
        with("server", r#"file = "missing.bin""#),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), &scenario, GOOD_VARIANTS);
        assert_the_binary_refuses(dir.path(), &path);
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("variants.toml"), GOOD_VARIANTS).unwrap();
    let missing = dir.path().join("missing.toml");
    assert!(load_error(&missing).contains("cannot read"));
    assert_the_binary_refuses(dir.path(), &missing);
}

/// A scenario whose `name` climbs out of `reports/` (issue 28: it wrote the report there) is
/// refused in one line, exit 2, and nothing is written anywhere: the default `--out` is the
/// name's.
#[test]
fn a_name_that_leaves_reports_is_refused_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path().join("a/b/c");
    std::fs::create_dir_all(&cwd).unwrap();
    let scenario = BASE.replace("name = \"t\"", "name = \"x/../../../escaped\"");
    let path = write(&cwd, &scenario, GOOD_VARIANTS);
    let o = allocstorm(
        &cwd,
        &[
            "run",
            "--quiet",
            "--variant",
            "glibc",
            "--scenario",
            "s.toml",
        ],
    );
    assert_eq!(o.code, 2, "{o:?}");
    assert!(
        o.stderr.contains("name: expected") && !o.stderr.trim_end().contains('\n'),
        "{o:?}"
    );
    let mut left: Vec<String> = Vec::new();
    for d in [
        dir.path(),
        &dir.path().join("a"),
        &dir.path().join("a/b"),
        &cwd,
    ] {
        for e in std::fs::read_dir(d).unwrap() {
            left.push(e.unwrap().path().display().to_string());
        }
    }
    left.sort();
    let want: Vec<String> = ["a", "a/b", "a/b/c", "a/b/c/s.toml", "a/b/c/variants.toml"]
        .iter()
        .map(|p| dir.path().join(p).display().to_string())
        .collect();
    assert_eq!(left, want, "nothing but the two files ({})", path.display());
}

/// A preload missing on this machine is no error in the file: the scenario loads, and the
/// variant says why it cannot run. That `run` of it refuses with that reason in one line and
/// exit 2 is `skipped_e2e`'s `deps_names_what_to_install_and_run_refuses_the_variant_alone`.
#[test]
fn a_missing_preload_loads_and_says_why_its_variant_cannot_run() {
    let dir = tempfile::tempdir().unwrap();
    let variants = "[[variant]]\nname = \"glibc\"\nbinary = \"target-server-glibc\"\npreload = \"/nonexistent/libjemalloc.so.2\"\n";
    let s = Scenario::load(&write(dir.path(), BASE, variants)).unwrap_or_else(|e| panic!("{e}"));
    let why = s.variant("glibc").unwrap().unavailable().unwrap();
    assert!(
        why.contains("its preload /nonexistent/libjemalloc.so.2 is not installed"),
        "{why}"
    );
}

#[test]
fn unknown_variant_names_the_choices() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("s.toml"), BASE).unwrap();
    std::fs::write(dir.path().join("variants.toml"), GOOD_VARIANTS).unwrap();
    let out = allocstorm(
        dir.path(),
        &["run", "--variant", "tcmalloc", "--scenario", "s.toml"],
    );
    assert_eq!(out.code, 2, "{out:?}");
    let err = &out.stderr;
    assert!(
        err.contains("--variant \"tcmalloc\"") && err.contains("expected one of glibc"),
        "{err}"
    );
}

#[test]
fn shipped_target_scenarios_load() {
    let root = root();
    use allocstorm::scenario::SampleScope::{Process, Tree};
    for (file, program, sample) in [
        ("nginx-range.toml", "/usr/sbin/nginx", Tree),
        ("apache-range.toml", "/usr/sbin/apache2", Tree),
        ("aiohttp-range.toml", "/usr/bin/python3", Tree),
        // caddy runs under env, which sets its HOME and execs it in the same process.
        ("caddy-control.toml", "/usr/bin/env", Process),
    ] {
        let s = allocstorm::scenario::Scenario::load(&root.join("scenarios").join(file))
            .unwrap_or_else(|e| panic!("{e} (make servers installs the servers)"));
        let t = s.target.as_ref().expect("a [target] scenario");
        assert_eq!(t.command[0], program);
        assert_eq!(t.sample, sample);
        assert!(t.files[0].is_file());
        let names: Vec<&str> = s.variants.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(
            names,
            ["glibc", "jemalloc-preload", "tcmalloc", "mimalloc-preload"]
        );
    }
}

/// `scenarios/redis.toml`: Redis with its own load tool, and INFO memory as the cross-check.
#[test]
fn shipped_redis_scenario_loads() {
    let s = allocstorm::scenario::Scenario::load(&root().join("scenarios/redis.toml"))
        .unwrap_or_else(|e| panic!("{e} (make servers installs redis-server and redis-tools)"));
    let t = s.target.as_ref().expect("a [target] scenario");
    assert_eq!(t.command[0], "/usr/bin/redis-server");
    let stats = t
        .stats_command
        .as_ref()
        .expect("INFO memory as the cross-check");
    assert_eq!(stats[0], "/usr/bin/redis-cli");
    let tool = s
        .load
        .tool
        .as_ref()
        .expect("redis-benchmark as the load tool");
    assert_eq!(tool.command[0], "/bin/sh");
    let names: Vec<&str> = s.variants.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(
        names,
        ["glibc", "glibc-preload", "tcmalloc", "mimalloc-preload"]
    );
}

#[test]
fn shipped_scenarios_load() {
    let root = root();
    let s = allocstorm::scenario::Scenario::load(&root.join("scenarios/hot-range.toml")).unwrap();
    let names: Vec<&str> = s.variants.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "glibc",
            "glibc-mmap64k",
            "glibc-arena2",
            "jemalloc",
            "jemalloc-bg",
            "mimalloc",
            "tcmalloc"
        ]
    );
    assert_eq!(
        s.variant("tcmalloc").unwrap().preload.as_deref(),
        Some("/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4")
    );
    assert_eq!(
        s.variant("glibc-mmap64k").unwrap().args,
        ["--mallopt", "mmap_threshold=65664"]
    );
    assert_eq!(
        s.variant("glibc-arena2").unwrap().env["MALLOC_ARENA_MAX"],
        "2"
    );
    assert_eq!(
        s.variant("jemalloc-bg").unwrap().env["_RJEM_MALLOC_CONF"],
        "background_thread:true"
    );
    // --quick keeps the shape: the same phases, each no longer.
    let (q, f) = (s.phases(true), s.phases(false));
    assert!(q.during < f.during && q.during.as_secs_f64() >= 1.0);
    assert_eq!(q.nudge.is_zero(), f.nudge.is_zero());
}

#[test]
fn incident_scenarios_load_with_their_shape() {
    use allocstorm::scenario::Scenario;
    let root = root().join("scenarios");
    let load = |f: &str| Scenario::load(&root.join(f)).unwrap_or_else(|e| panic!("{e}"));

    let pinned = load("pinned-pool.toml");
    assert_eq!(pinned.server.config.rpc_pool_objects, 4);
    assert_eq!(pinned.server.config.rpc_object_size, 64 << 10);
    assert!(pinned
        .server_args()
        .windows(2)
        .any(|w| w == ["--rpc-pool-objects", "4"]));

    // 002: one case per thread count; every variant runs at every point.
    let arenas = load("thread-arenas.toml");
    let threads: Vec<usize> = arenas
        .cases
        .iter()
        .map(|c| c.server.config.io_threads)
        .collect();
    assert_eq!(threads, [2, 8, 32, 128]);
    let glibc = arenas.variant("glibc").unwrap();
    let point = arenas.case_variant(glibc, &arenas.cases[1]);
    assert_eq!(point.name, "glibc@threads=8");
    assert_eq!(point.base_name(), "glibc");
    assert!(arenas
        .server_args_for(&arenas.cases[1].server)
        .windows(2)
        .any(|w| w == ["--io-threads", "8"]));

    // 003: the burst steps scale with the phase; the sweep adds admission control.
    let burst = load("pool-burst.toml");
    let full = burst.load.step_args(burst.phases(false).during);
    assert_eq!(full[0], "6000ms=200/s");
    let quick = burst.load.step_args(burst.phases(true).during);
    assert_eq!(quick[2], "4000ms=800/s");
    let limits: Vec<usize> = burst
        .cases
        .iter()
        .map(|c| c.server.config.max_inflight)
        .collect();
    assert_eq!(limits, [0, 48]);
    assert_eq!(burst.cases[1].label.as_deref(), Some("limit-48"));

    // 004: a memory limit, and buffered against streaming.
    let bvs = load("buffered-vs-streaming.toml");
    assert_eq!(bvs.memory_limit, Some(512 << 20));
    let bodies: Vec<BodyMode> = bvs.cases.iter().map(|c| c.server.config.body).collect();
    assert_eq!(bodies, [BodyMode::Buffered, BodyMode::Streaming]);
    assert!(bvs
        .server_args_for(&bvs.cases[1].server)
        .windows(2)
        .any(|w| w == ["--body", "streaming"]));
}

#[test]
fn a_missing_preload_is_not_a_scenario_error_but_makes_its_variant_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let variants = format!(
        "{GOOD_VARIANTS}\n[[variant]]\nname = \"tcmalloc\"\nbinary = \"target-server-glibc\"\npreload = \"/nonexistent/libtcmalloc_minimal.so.4\"\npackage = \"libtcmalloc-minimal4\"\n"
    );
    std::fs::write(dir.path().join("variants.toml"), variants).unwrap();
    let all = dir.path().join("all.toml");
    std::fs::write(&all, BASE).unwrap();
    // Loads: a library missing on this machine skips one variant of a comparison, it does not
    // make the file wrong.
    let s = allocstorm::scenario::Scenario::load(&all).unwrap();
    assert_eq!(s.variant("glibc").unwrap().unavailable(), None);
    let why = s.variant("tcmalloc").unwrap().unavailable().unwrap();
    assert!(
        why.contains("/nonexistent/libtcmalloc_minimal.so.4")
            && why.contains("apt-get install libtcmalloc-minimal4"),
        "{why}"
    );
}

#[test]
fn a_package_without_a_preload_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let variants = format!("{GOOD_VARIANTS}package = \"libtcmalloc-minimal4\"\n");
    std::fs::write(dir.path().join("variants.toml"), variants).unwrap();
    let all = dir.path().join("all.toml");
    std::fs::write(&all, BASE).unwrap();
    let e = allocstorm::scenario::Scenario::load(&all)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("variant[0].package") && e.contains("expected a `preload` beside it"),
        "{e}"
    );
}

/// A soak is planned in cycles: as many as cover it (the most a typo could ask for), and a
/// `--quick` soak not set in `[quick]` keeps their number, of the quick phases.
#[test]
fn a_soak_plans_its_cycles_and_a_quick_soak_keeps_their_number() {
    let dir = tempfile::tempdir().unwrap();
    let text = BASE.replace(
        "during = \"1s\"\ndrain = \"1s\"",
        "during = \"8s\"\ndrain = \"4s\"\nsoak = \"1h\"",
    );
    assert_ne!(text, BASE);
    let s =
        Scenario::load(&write(dir.path(), &text, GOOD_VARIANTS)).unwrap_or_else(|e| panic!("{e}"));
    let full = s.phases(false);
    assert_eq!(full.soak, Some(std::time::Duration::from_secs(3600)));
    assert_eq!(full.max_cycles(), 300);
    // Quick: a quarter of each phase with its floor, 3 s + 2 s, 300 times.
    let quick = s.phases(true);
    assert_eq!(quick.soak, Some(std::time::Duration::from_secs(1500)));
    assert_eq!(quick.max_cycles(), 300);
}
