//! The observer is part of the experiment. A `/stats` request runs allocator calls on one of
//! the server's threads, and allocators that purge only when called (mimalloc; jemalloc
//! without its background thread) purge because they were watched. By default the harness asks
//! the server nothing in `before` and `drain`, where B and A are taken: these tests run the
//! real binaries and check that the default gives the figures of an unobserved server, and
//! that a drain polled once a second does move mimalloc (so the tests can tell).

mod common;

use std::path::{Path, PathBuf};

use common::run;
use common::scenario::ScenarioFile;
use serde_json::Value;

const MIB: f64 = 1048576.0;

/// The shared toy scenario (16 connections holding 1 MiB buffers for 100 ms, 2 s of load)
/// with a 3 s drain; `stats_in` and `stats_interval` as given, the default where `None`.
fn scenario(
    dir: &Path,
    stats_in: Option<&[&str]>,
    stats_interval: Option<&str>,
    probe: bool,
) -> PathBuf {
    let mut s = ScenarioFile::toy("observer").set("phases.drain", "3s");
    if !probe {
        s = s.set("sampling.probe", false);
    }
    if let Some(phases) = stats_in {
        let list: Vec<toml::Value> = phases.iter().map(|p| (*p).into()).collect();
        s = s.set("sampling.stats_in", toml::Value::Array(list));
    }
    if let Some(i) = stats_interval {
        s = s.set("sampling.stats_interval", i);
    }
    s.write(dir, "observer.toml")
}

/// One `allocstorm run` of `variant`: its record, checked ok with a growth to retain.
fn measure(variant: &str, stats_in: Option<&[&str]>, stats_interval: Option<&str>) -> Value {
    measure_probed(variant, stats_in, stats_interval, true)
}

fn measure_probed(
    variant: &str,
    stats_in: Option<&[&str]>,
    stats_interval: Option<&str>,
    probe: bool,
) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let (code, rec) = run(
        &scenario(dir.path(), stats_in, stats_interval, probe),
        variant,
    );
    assert_eq!(code, Some(0), "{variant}: {}", rec["failure"]);
    let f = &rec["figures"];
    let (b, p) = (mib(f, "rss_before_bytes"), mib(f, "rss_peak_bytes"));
    assert!(p - b >= 8.0, "{variant}: growth of {:.1} MiB only", p - b);
    rec
}

fn mib(figures: &Value, key: &str) -> f64 {
    figures[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key}: {figures}")) as f64
        / MIB
}

/// The start and end of `phase`.
fn phase_mark(rec: &Value, phase: &str) -> (f64, f64) {
    let mark = rec["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == phase)
        .unwrap_or_else(|| panic!("no phase {phase}"));
    (
        mark["start"].as_f64().unwrap(),
        mark["end"].as_f64().unwrap(),
    )
}

/// How far RssAnon moved (max − min, MiB) over the drain's samples from `settle` seconds after
/// its start: an idle server's memory, which only the server itself (or its probe) can move.
fn drain_movement(rec: &Value, settle: f64) -> f64 {
    let (start, end) = phase_mark(rec, "drain");
    let rss: Vec<u64> = rec["samples"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| (start + settle..=end).contains(&s["t"].as_f64().unwrap()))
        .map(|s| s["rss_anon"].as_u64().unwrap())
        .collect();
    assert!(rss.len() >= 10, "{} drain samples", rss.len());
    (rss.iter().max().unwrap() - rss.iter().min().unwrap()) as f64 / MIB
}

/// `/stats` readings taken strictly inside `phase` (at its first instant a reading may belong
/// to the phase before).
fn readings_in(rec: &Value, phase: &str) -> usize {
    let (start, end) = phase_mark(rec, phase);
    rec["stats"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| {
            let t = s["t"].as_f64().unwrap();
            t > start && t < end
        })
        .count()
}

/// The default observation against none at all (`stats_in = []`): the server is asked nothing
/// in `before` and `drain`, its `/stats` is read under load only, and the figures in `keys`
/// agree with the unobserved server's within the run-to-run noise (`below_mib` on the side
/// watching could push them to — an allocator that purges when called gives back — and
/// `above_mib` on the other).
///
/// A is compared only where one run's A is not a draw of chance. The run-to-run range of A in
/// this scenario (debug build, 2026-12-07, with other builds running): tcmalloc 21.3-24.3 MiB
/// over 52 runs (it keeps every freed byte); glibc 6.5-18.4 over 16 runs, and one pair more
/// than 16 MiB apart (which arena heaps stay pinned is chance, as docs/network.md found for
/// incident 000's records); jemalloc 30.1-38.1 over 6 (how much decay has purged); mimalloc
/// 8.6-26.3 (an idle mimalloc sometimes gives back by itself, observed or not). A bound wide
/// enough to hold those would hold a perturbation of the same size, and a tighter one fails by
/// chance: for those three the pair compares B, and what the default *does* in the drain is
/// asserted (no request in `before` or `drain`); tcmalloc's A carries the comparison.
fn default_agrees_with_unobserved(variant: &str, keys: &[&str], below_mib: f64, above_mib: f64) {
    let observed = measure(variant, None, None);
    let unobserved = measure(variant, Some(&[]), None);
    for quiet in ["before", "drain"] {
        assert_eq!(
            readings_in(&observed, quiet),
            0,
            "{variant}: polled in {quiet}"
        );
    }
    assert!(
        readings_in(&observed, "during") > 0,
        "{variant}: never polled under load"
    );
    assert_eq!(
        observed["stats_polled_in"],
        serde_json::json!(["during", "release"])
    );
    assert_eq!(unobserved["stats_polled_in"], serde_json::json!([]));
    // No request after the load either: the allocator's figures through the drain and after
    // it are the probe's, read from its page, at every sample of the drain.
    let drain = phase_mark(&observed, "drain");
    let stats_after_load = observed["stats"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["t"].as_f64().unwrap() >= drain.0)
        .count();
    assert_eq!(stats_after_load, 0, "{variant}: /stats read after the load");
    let probed_in_drain = observed["probe_readings"]
        .as_array()
        .unwrap_or_else(|| panic!("{variant}: no probe readings"))
        .iter()
        .filter(|r| (drain.0..=drain.1).contains(&r["t"].as_f64().unwrap()))
        .count();
    assert!(
        probed_in_drain >= 20,
        "{variant}: {probed_in_drain} probe readings in a 3 s drain"
    );

    let (o, u) = (&observed["figures"], &unobserved["figures"]);
    for key in BOTH {
        eprintln!(
            "{variant}: {key} {:.1} MiB observed by default, {:.1} MiB unobserved",
            mib(o, key),
            mib(u, key)
        );
    }
    for key in keys {
        let (x, y) = (mib(o, key), mib(u, key));
        assert!(
            x >= y - below_mib && x <= y + above_mib,
            "{variant}: {key} {x:.1} MiB observed by default, {y:.1} MiB unobserved (noise -{below_mib}/+{above_mib} MiB)"
        );
    }
}

const BOTH: &[&str] = &["rss_before_bytes", "rss_after_drain_bytes"];

/// tcmalloc's A ranged 21.3-24.3 MiB over 52 runs of this scenario (2026-12-07, other builds
/// running): that range with a margin.
const TCMALLOC_NOISE_MIB: f64 = 4.0;

#[test]
fn glibc_default_observation_gives_the_unobserved_after_drain_figure() {
    default_agrees_with_unobserved("glibc", &["rss_before_bytes"], 4.0, 4.0);
}

#[test]
fn jemalloc_default_observation_gives_the_unobserved_after_drain_figure() {
    default_agrees_with_unobserved("jemalloc", &["rss_before_bytes"], 4.0, 4.0);
}

/// tcmalloc keeps every freed byte (A ≈ P): its A is the one in this scenario that does not
/// depend on chance, so the pair compares it closely.
#[test]
fn tcmalloc_default_observation_gives_the_unobserved_after_drain_figure() {
    default_agrees_with_unobserved("tcmalloc", BOTH, TCMALLOC_NOISE_MIB, TCMALLOC_NOISE_MIB);
}

#[test]
fn mimalloc_default_observation_asks_nothing_while_b_and_a_are_taken() {
    default_agrees_with_unobserved("mimalloc", &["rss_before_bytes"], 5.0, 5.0);
}

/// What the harness did before: `/stats` once a second through the drain. mimalloc purges on
/// those requests: every polled run gave back nearly all of its growth (retention about 0.05).
///
/// The idle server's figure is not compared here. An idle mimalloc sometimes gives back by
/// itself (in 12 unobserved runs on 2026-12-05 it did twice; idle retention 0.54 once in a
/// CI-like run, and this test's idle-against-polled gap failed twice on 2026-12-07 on a loaded
/// machine), so a single idle run cannot be the other side of a deterministic assertion. What
/// is deterministic is asserted: the drain was polled, and polling gave back.
#[test]
fn a_drain_polled_once_a_second_moves_mimalloc() {
    let polled = measure("mimalloc", Some(&["warmup", "during", "drain"]), Some("1s"));
    assert!(readings_in(&polled, "drain") >= 2, "the drain was polled");
    let retention = polled["figures"]["retention"].as_f64().unwrap();
    assert!(
        retention <= 0.25,
        "polled mimalloc gives back: retention {retention} polled"
    );
}

/// The probe against no probe at all: the probe thread reads the allocator every 50 ms (20 Hz,
/// the sampling interval) through the drain, and the figures in `keys` agree with those of a
/// server without it, within the run-to-run noise measured for
/// `default_agrees_with_unobserved` (same scenario): B for every allocator, A where it is not
/// chance (tcmalloc).
///
/// The pair sees only what exceeds that noise; what it cannot see is pinned deterministically:
/// with `idle_still`, the probed server's RssAnon does not move in the drain once the load's
/// last requests are done (0.5 s in), while the probe reads it 20 times a second — an idle
/// glibc, jemalloc (no background thread) or tcmalloc server moved 0.00 MiB there in every run
/// on 2026-12-07 (10 and more each), probed or not. A probe that returns memory (a trim, a
/// purge) is caught deterministically by the probe crate's `no_malloc` test, which counts the
/// probe thread's `malloc_trim`, `madvise` and `munmap` calls; one that allocates and keeps is
/// caught here (64 KiB kept per reading, by hand on 2026-12-07: tcmalloc's A 26.4 MiB probed
/// against 22.2 without, outside ±4; glibc's and jemalloc's idle drains moved 3.06 and 3.21 MiB,
/// 64-68 KiB at every reading).
fn the_probe_changes_nothing(variant: &str, keys: &[&str], tolerance_mib: f64, idle_still: bool) {
    let probed = measure_probed(variant, Some(&[]), None, true);
    let bare = measure_probed(variant, Some(&[]), None, false);
    assert_eq!(probed["probe"]["mode"], "linked", "{}", probed["probe"]);
    assert_eq!(probed["probe"]["interval_ms"], 50);
    assert_eq!(bare["probe"]["mode"], "off");
    assert!(
        bare.get("probe_readings").is_none(),
        "no probe, no readings"
    );
    let drain = phase_mark(&probed, "drain");
    let read = probed["probe_readings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| (drain.0..=drain.1).contains(&r["t"].as_f64().unwrap()))
        .count();
    assert!(
        read >= 40,
        "{variant}: {read} probe readings in a 3 s drain at 20 Hz"
    );
    let (p, b) = (&probed["figures"], &bare["figures"]);
    // The pair's figures, for a person reading the test's output (`--no-capture`).
    for key in ["rss_before_bytes", "rss_after_drain_bytes"] {
        eprintln!(
            "{variant}: {key} {:.1} MiB probed, {:.1} MiB without the probe",
            mib(p, key),
            mib(b, key)
        );
    }
    let (moved, moved_bare) = (drain_movement(&probed, 0.5), drain_movement(&bare, 0.5));
    eprintln!(
        "{variant}: RssAnon moved {moved:.2} MiB in the drain probed, {moved_bare:.2} MiB without the probe"
    );
    if idle_still {
        assert!(
            moved <= 0.5,
            "{variant}: RssAnon moved {moved:.2} MiB in an idle drain under the probe"
        );
    }
    for key in keys {
        let (x, y) = (mib(p, key), mib(b, key));
        assert!(
            (x - y).abs() <= tolerance_mib,
            "{variant}: {key} {x:.1} MiB probed, {y:.1} MiB without the probe (noise ±{tolerance_mib} MiB)"
        );
    }
}

#[test]
fn glibc_the_probe_changes_nothing() {
    the_probe_changes_nothing("glibc", &["rss_before_bytes"], 4.0, true);
}

#[test]
fn jemalloc_the_probe_changes_nothing() {
    the_probe_changes_nothing("jemalloc", &["rss_before_bytes"], 4.0, true);
}

#[test]
fn mimalloc_the_probe_changes_nothing() {
    the_probe_changes_nothing("mimalloc", &["rss_before_bytes"], 5.0, false);
}

#[test]
fn tcmalloc_the_probe_changes_nothing() {
    the_probe_changes_nothing("tcmalloc", BOTH, TCMALLOC_NOISE_MIB, true);
}
