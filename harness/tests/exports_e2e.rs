//! End to end: `compare --export` writes every format after the report, each the same bytes
//! `allocstorm export DIR` makes of the directory afterwards and `report DIR --export` makes
//! again, checked by its consumer's checker (Bencher's schema, promtool).

mod common;

use std::process::{Command, Stdio};

use common::allocstorm;
use common::scenario::ScenarioFile;
use serde_json::Value;

/// The formats and the files `--export` writes them to.
const EXPORTS: [(&str, &str); 4] = [
    ("bmf", "bmf.json"),
    ("github-benchmark", "smaller.json"),
    ("github-benchmark-bigger", "bigger.json"),
    ("openmetrics", "metrics.txt"),
];

#[test]
fn compare_export_writes_every_format_as_export_makes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    ScenarioFile::toy("export-e2e")
        .set("variants", vec!["glibc"])
        .write(dir, "export-e2e.toml");
    let mut args = vec![
        "compare",
        "--scenario",
        "export-e2e.toml",
        "--runs",
        "2",
        "--quiet",
        "--out",
        "out",
    ];
    let flags: Vec<String> = EXPORTS
        .iter()
        .map(|(f, file)| format!("{f}=exports/{file}"))
        .collect();
    std::fs::create_dir(dir.join("exports")).unwrap();
    for f in &flags {
        args.extend(["--export", f]);
    }
    let o = allocstorm(dir, &args);
    assert_eq!(o.code, 0, "{}", o.text());

    for (format, file) in EXPORTS {
        let written = std::fs::read_to_string(dir.join("exports").join(file)).unwrap();
        let again = allocstorm(dir, &["export", "out", "--format", format]);
        assert_eq!(again.code, 0, "{}", again.text());
        assert_eq!(
            written, again.stdout,
            "{format}: compare --export against export"
        );
    }

    // Two ok runs: A has its bounds, the lowest and highest of the runs' own.
    let bmf: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("exports/bmf.json")).unwrap())
            .unwrap();
    let a = &bmf["export-e2e/glibc"]["rss-after-drain"];
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("out/summary.json")).unwrap())
            .unwrap();
    let v = &summary["variants"][0];
    assert_eq!(v["runs_ok"], 2, "{}", o.text());
    assert_eq!(
        a["lower_value"].as_f64(),
        v["rss_after_drain_min_bytes"].as_f64()
    );
    assert_eq!(
        a["upper_value"].as_f64(),
        v["rss_after_drain_max_bytes"].as_f64()
    );

    let check = Command::new(common::tools::check_jsonschema())
        .arg("--schemafile")
        .arg(common::root().join("docs/schemas/bmf.json"))
        .arg(dir.join("exports/bmf.json"))
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    let metrics = std::fs::File::open(dir.join("exports/metrics.txt")).unwrap();
    let prom = Command::new(common::tools::promtool())
        .args(["check", "metrics"])
        .stdin(metrics)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(
        prom.status.success(),
        "{}",
        String::from_utf8_lossy(&prom.stderr)
    );

    // `report DIR --export` renders again and writes the same; a directory as PATH gets the
    // format's own file name.
    let o = allocstorm(dir, &["report", "out", "--export", "bmf=out"]);
    assert_eq!(o.code, 0, "{}", o.text());
    assert_eq!(
        std::fs::read_to_string(dir.join("out/bmf.json")).unwrap(),
        std::fs::read_to_string(dir.join("exports/bmf.json")).unwrap()
    );
}
