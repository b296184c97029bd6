//! The gate on real runs: a quick comparison gated against a baseline made from another real
//! comparison of the same tree passes; the same runs with one variant's after-drain figures
//! doubled fail with exit 1.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_allocstorm");

fn allocstorm(cwd: &Path, args: &[&str]) -> (i32, String) {
    let o = Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap();
    let text = format!(
        "--- stdout\n{}--- stderr\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.code().expect("exited, not killed"), text)
}

/// A small scenario: 16 connections each holding a 1 MiB buffer for 100 ms, so after-drain
/// RSS is tens of MiB — far above the gate's 8 MiB floor, so doubling it is a real change.
fn write_scenario(dir: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::fs::copy(
        root.join("scenarios/variants.toml"),
        dir.join("variants.toml"),
    )
    .unwrap();
    std::fs::write(dir.join("hot.bin"), vec![0x42u8; 2 << 20]).unwrap();
    std::fs::write(
        dir.join("gate-e2e.toml"),
        r#"
name = "gate-e2e"
variants = ["jemalloc"]
[server]
file = "hot.bin"
workers = 2
meta_every = 4
hold = "100ms"
[load]
processes = 2
connections = 16
rate = "max"
timeout = "2s"
[phases]
warmup = "300ms"
before = "1s"
during = "2s"
drain = "1.5s"
[sampling]
stats_interval = "500ms"
[gate.variants.jemalloc]
# Run-to-run scatter of a small scenario on a shared 2-core machine: compare loosely, as the
# hot-range scenario does for its noisy variants. A doubling is still far outside.
rel_tolerance = 0.5
"#,
    )
    .unwrap();
}

#[test]
fn real_runs_pass_against_a_real_baseline_and_doubled_figures_fail() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_scenario(dir);
    let compare = |out: &str| {
        let (code, text) = allocstorm(
            dir,
            &[
                "compare",
                "--scenario",
                "gate-e2e.toml",
                "--runs",
                "3",
                "--quiet",
                "--out",
                out,
            ],
        );
        assert_eq!(code, 0, "compare {out}: {text}");
    };
    compare("base");
    let (code, text) = allocstorm(
        dir,
        &[
            "gate",
            "--run",
            "base",
            "--update-baseline",
            "baseline.json",
        ],
    );
    assert_eq!(code, 0, "{text}");

    compare("cand");
    let (code, text) = allocstorm(
        dir,
        &["gate", "--run", "cand", "--baseline", "baseline.json"],
    );
    assert_eq!(
        code, 0,
        "an unchanged tree passes against its own baseline: {text}"
    );

    // Double the candidate's after-drain figures, as a change that makes memory stick would.
    for entry in std::fs::read_dir(dir.join("cand/runs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let mut rec: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let a = rec["figures"]["rss_after_drain_bytes"].as_u64().unwrap();
        assert!(
            a > 16 << 20,
            "after-drain RSS {a} is too small for this test to mean much"
        );
        rec["figures"]["rss_after_drain_bytes"] = (2 * a).into();
        std::fs::write(&path, serde_json::to_vec(&rec).unwrap()).unwrap();
    }
    let (code, text) = allocstorm(
        dir,
        &[
            "gate",
            "--run",
            "cand",
            "--baseline",
            "baseline.json",
            "--markdown",
            "gate.md",
        ],
    );
    assert_eq!(code, 1, "doubled after-drain RSS is a regression: {text}");
    assert!(text.contains("jemalloc"), "{text}");
    let md = std::fs::read_to_string(dir.join("gate.md")).unwrap();
    assert!(
        md.contains("jemalloc") && md.to_lowercase().contains("regression"),
        "{md}"
    );
}
