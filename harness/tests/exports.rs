//! `allocstorm export` of the committed report reports/example (7 variants × 3 runs, read
//! only), each format checked by its consumer's own checker: `bmf` against Bencher's schema and
//! the github-benchmark lists against the action's (docs/schemas/, with check-jsonschema),
//! `openmetrics` with `promtool check metrics`; the figures are summary.json's. And the gate's
//! verdict on `$GITHUB_STEP_SUMMARY`. The checkers come from `scripts/tools.sh`; a missing one
//! fails the test.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};

use common::{allocstorm, root};
use serde_json::Value;

const EXAMPLE: &str = "reports/example";

fn summary() -> Value {
    let text = std::fs::read_to_string(root().join(EXAMPLE).join("summary.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// `allocstorm export reports/example --format F` on stdout.
fn export(format: &str) -> String {
    let o = allocstorm(&root(), &["export", EXAMPLE, "--format", format]);
    assert_eq!(o.code, 0, "{}", o.text());
    assert_eq!(o.stderr, "", "nothing but the export");
    o.stdout
}

/// `check-jsonschema --schemafile docs/schemas/SCHEMA FILE`: its exit code and output.
fn check_schema(schema: &str, text: &str) -> (i32, String) {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("export.json");
    std::fs::write(&file, text).unwrap();
    let o = Command::new(common::tools::check_jsonschema())
        .arg("--schemafile")
        .arg(root().join("docs/schemas").join(schema))
        .arg(&file)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    (o.status.code().unwrap_or(-1), out)
}

/// `promtool check metrics` with `text` on its stdin: its exit code and output.
fn promtool(text: &str) -> (i32, String) {
    let mut child = Command::new(common::tools::promtool())
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    (o.status.code().unwrap_or(-1), out)
}

fn variants(s: &Value) -> Vec<&Value> {
    s["variants"].as_array().unwrap().iter().collect()
}

#[test]
fn bmf_passes_bencher_s_schema_with_summary_json_s_figures_and_spread() {
    let text = export("bmf");
    let (code, out) = check_schema("bmf.json", &text);
    assert_eq!(code, 0, "bmf against Bencher's schema:\n{out}\n{text}");
    // The schema does reject what it forbids: a value that is no number.
    let broken = text.replacen("\"value\": ", "\"value\": \"x\", \"was\": ", 1);
    assert_ne!(check_schema("bmf.json", &broken).0, 0, "{broken}");

    let bmf: Value = serde_json::from_str(&text).unwrap();
    let s = summary();
    let names: BTreeSet<String> = variants(&s)
        .iter()
        .map(|v| format!("hot-range/{}", v["name"].as_str().unwrap()))
        .collect();
    let exported: BTreeSet<String> = bmf.as_object().unwrap().keys().cloned().collect();
    assert_eq!(exported, names, "one benchmark per variant");
    for v in variants(&s) {
        let b = &bmf[format!("hot-range/{}", v["name"].as_str().unwrap())];
        let a = &b["rss-after-drain"];
        assert_eq!(a["value"].as_f64(), v["rss_after_drain_bytes"].as_f64());
        assert_eq!(
            a["lower_value"].as_f64(),
            v["rss_after_drain_min_bytes"].as_f64()
        );
        assert_eq!(
            a["upper_value"].as_f64(),
            v["rss_after_drain_max_bytes"].as_f64()
        );
        let cap = &v["cost"]["capacity_rps"];
        assert_eq!(b["capacity"]["value"], cap["median"]);
        assert_eq!(b["capacity"]["lower_value"], cap["min"]);
        assert_eq!(b["capacity"]["upper_value"], cap["max"]);
        assert_eq!(
            b["capacity-ratio"]["value"],
            v["cost"]["ratio_to_reference"]["capacity_rps"]["median"]
        );
        // Every measure of three ok runs has its bounds, around its median.
        for m in ["rss-before", "rss-peak", "retention", "latency-p99"] {
            assert!(b[m].is_object(), "{m} of {}", v["name"]);
        }
        for (m, x) in b.as_object().unwrap() {
            let [lo, val, hi] = ["lower_value", "value", "upper_value"]
                .map(|k| x[k].as_f64().unwrap_or_else(|| panic!("{m}.{k}: {x}")));
            assert!(lo <= val && val <= hi, "{m} of {}: {x}", v["name"]);
        }
    }
}

#[test]
fn github_benchmark_lists_split_by_direction_and_pass_the_action_s_schema() {
    let bmf: Value = serde_json::from_str(&export("bmf")).unwrap();
    let in_bmf: BTreeSet<String> = bmf
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(b, ms)| {
            ms.as_object()
                .unwrap()
                .keys()
                .map(move |m| format!("{b}/{m}"))
        })
        .collect();
    let mut seen = BTreeSet::new();
    for (format, higher) in [
        ("github-benchmark", false),
        ("github-benchmark-bigger", true),
    ] {
        let text = export(format);
        let (code, out) = check_schema("github-benchmark.json", &text);
        assert_eq!(code, 0, "{format}:\n{out}\n{text}");
        for e in serde_json::from_str::<Vec<Value>>(&text).unwrap() {
            let name = e["name"].as_str().unwrap().to_string();
            let measure = name.rsplit('/').next().unwrap();
            let bigger = ["throughput", "capacity", "capacity-ratio"].contains(&measure);
            assert_eq!(bigger, higher, "{name} is in {format}");
            assert!(!e["extra"].as_str().unwrap().is_empty(), "{e}");
            assert!(seen.insert(name.clone()), "{name} twice");
        }
    }
    assert_eq!(
        seen, in_bmf,
        "the two lists hold every measure of bmf, once"
    );
    let broken = "[{\"name\": \"x\", \"value\": 1}]";
    assert_ne!(
        check_schema("github-benchmark.json", broken).0,
        0,
        "no unit"
    );
}

#[test]
fn openmetrics_passes_promtool_with_a_gauge_per_scenario_variant_and_figure() {
    let text = export("openmetrics");
    let (code, out) = promtool(&text);
    assert_eq!(code, 0, "promtool check metrics:\n{out}\n{text}");
    // promtool does reject what the format forbids: a sample whose value is no number.
    let broken = text.replacen("} ", "} x", 1);
    assert_ne!(promtool(&broken).0, 0, "{broken}");

    assert!(text.ends_with("\n# EOF\n"), "{text}");
    let samples: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    let bmf: Value = serde_json::from_str(&export("bmf")).unwrap();
    let measures: usize = bmf
        .as_object()
        .unwrap()
        .values()
        .map(|m| m.as_object().unwrap().len())
        .sum();
    assert_eq!(samples.len(), measures, "one sample per measure of bmf");
    for family in [
        "allocstorm_figure_bytes",
        "allocstorm_figure_seconds",
        "allocstorm_figure_ratio",
    ] {
        assert!(
            text.contains(&format!("# TYPE {family} gauge\n")),
            "{family}"
        );
    }
    let s = summary();
    let glibc = variants(&s)
        .into_iter()
        .find(|v| v["name"] == "glibc")
        .unwrap();
    let a = format!(
        "allocstorm_figure_bytes{{scenario=\"hot-range\",variant=\"glibc\",figure=\"rss_after_drain\"}} {}",
        glibc["rss_after_drain_bytes"]
    );
    assert!(samples.contains(&a.as_str()), "{a} in\n{text}");
}

#[test]
fn bad_input_is_one_line_naming_it_and_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().display().to_string();
    let o = allocstorm(&root(), &["export", &dir, "--format", "bmf"]);
    assert_eq!(o.code, 2, "{}", o.text());
    assert_eq!(o.stderr.lines().count(), 1, "{}", o.text());
    assert!(
        o.stderr
            .contains(&format!("{dir}: neither runs/ nor summary.json")),
        "{}",
        o.text()
    );

    std::fs::write(tmp.path().join("summary.json"), "[]").unwrap();
    let o = allocstorm(&root(), &["export", &dir, "--format", "bmf"]);
    assert_eq!(o.code, 2, "{}", o.text());
    assert!(
        o.stderr.contains("summary.json: not an allocstorm summary"),
        "{}",
        o.text()
    );

    let o = allocstorm(&root(), &["export", EXAMPLE, "--format", "csv"]);
    assert_eq!(o.code, 2, "{}", o.text());
    let first = o.stderr.lines().next().unwrap_or_default();
    assert!(
        first.contains("\"csv\": not a format: expected one of bmf"),
        "{}",
        o.text()
    );
}

/// Runs the gate on reports/example with `GITHUB_STEP_SUMMARY` set: the verdict is appended
/// after what the step wrote before, as its `--markdown` says it (without the local links).
#[test]
fn the_gate_appends_its_verdict_to_the_step_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let summary = tmp.path().join("step-summary.md");
    std::fs::write(&summary, "earlier\n").unwrap();
    let md = tmp.path().join("gate.md");
    let o = Command::new(common::BIN)
        .args(["gate", "--run", EXAMPLE, "--markdown"])
        .arg(&md)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let written = std::fs::read_to_string(&summary).unwrap();
    let verdict = written.strip_prefix("earlier\n").expect("appended");
    assert!(
        verdict.starts_with("### ✅ allocstorm gate: PASS (exit 0)"),
        "{written}"
    );
    let markdown = std::fs::read_to_string(&md).unwrap();
    // The same lines but the links to local files (and the blank line they leave).
    let without_links = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| !l.is_empty() && !l.starts_with("Plots and report:"))
            .map(str::to_string)
            .collect()
    };
    assert!(markdown.contains("Plots and report:"), "{markdown}");
    assert!(!verdict.contains("Plots and report:"), "{verdict}");
    assert_eq!(without_links(verdict), without_links(&markdown));
}
