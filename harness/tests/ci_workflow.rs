//! The example CI workflow, `docs/ci/github-actions.yml`, against GitHub's workflow schema
//! (SchemaStore's, as check-jsonschema ships it: `--builtin-schema vendor.github-workflows`),
//! and its shape: a matrix of shards, each uploading its own artifact, and a job that
//! downloads them all and merges them before the gate, writing every export (docs/exports.md)
//! for a later step to read.
//!
//! check-jsonschema lives in a venv under target/tools/ that `scripts/tools.sh` makes (`make
//! test` runs it first; this test runs it when the tool is missing). Where it cannot be
//! installed (no python3 with venv, no PyPI), the test says why and checks nothing else.

mod common;

use std::path::Path;
use std::process::Command;

use serde_json::Value;

const WORKFLOW: &str = "docs/ci/github-actions.yml";

/// `check-jsonschema --builtin-schema vendor.github-workflows FILE`: its exit code and output.
fn check(bin: &Path, file: &Path) -> (i32, String) {
    let o = Command::new(bin.join("check-jsonschema"))
        .args(["--builtin-schema", "vendor.github-workflows"])
        .arg(file)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

/// The workflow as JSON, read by the venv's YAML parser (ruamel.yaml, check-jsonschema's own).
fn workflow_json(bin: &Path, file: &Path) -> Value {
    let o = Command::new(bin.join("python"))
        .args([
            "-c",
            "import json, sys; from ruamel.yaml import YAML; \
             json.dump(YAML(typ='safe').load(open(sys.argv[1])), sys.stdout)",
        ])
        .arg(file)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn run_scripts(job: &Value) -> String {
    job["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["run"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

fn step_using<'a>(job: &'a Value, action: &str) -> &'a Value {
    job["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["uses"].as_str().is_some_and(|u| u.starts_with(action)))
        .unwrap_or_else(|| panic!("no step uses {action}: {job}"))
}

#[test]
fn the_example_workflow_is_valid_and_fans_the_comparison_out_over_shards() {
    let bin = match common::tools::venv_bin() {
        Ok(b) => b,
        Err(why) => {
            eprintln!("skipped: {WORKFLOW} not checked against the GitHub workflow schema: {why}");
            return;
        }
    };
    let file = common::root().join(WORKFLOW);
    let (code, out) = check(&bin, &file);
    assert_eq!(
        code, 0,
        "{WORKFLOW} against the GitHub workflow schema:\n{out}"
    );

    // The checker does reject what the schema forbids: a job without `runs-on` nor `uses`.
    let text = std::fs::read_to_string(&file).unwrap();
    let broken = text.replacen("    runs-on: ubuntu-24.04\n", "", 1);
    assert_ne!(broken, text);
    let tmp = tempfile::tempdir().unwrap();
    let broken_file = tmp.path().join("broken.yml");
    std::fs::write(&broken_file, broken).unwrap();
    let (code, out) = check(&bin, &broken_file);
    assert_ne!(code, 0, "a job without runs-on passed the schema:\n{out}");

    let w = workflow_json(&bin, &file);
    let jobs = &w["jobs"];

    // The shards: a matrix whose list is 1..N, N = strategy.job-total, each uploading its own.
    let compare = &jobs["compare"];
    let shards: Vec<u64> = compare["strategy"]["matrix"]["shard"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert!(shards.len() >= 2, "{shards:?}");
    assert_eq!(shards, (1..=shards.len() as u64).collect::<Vec<_>>());
    assert_eq!(
        compare["strategy"]["matrix"].as_object().unwrap().len(),
        1,
        "strategy.job-total is N only when shard is the matrix's one axis"
    );
    let script = run_scripts(compare);
    assert!(
        script.contains("--shard \"${{ matrix.shard }}/${{ strategy.job-total }}\""),
        "{script}"
    );
    let upload = step_using(compare, "actions/upload-artifact@");
    assert_eq!(upload["if"], "always()", "a failed shard still uploads");
    assert_eq!(
        upload["with"]["name"],
        "allocstorm-shard-${{ matrix.shard }}"
    );

    // The merge: after every shard, whatever they ended with; downloads all; report + gate.
    let gate = &jobs["gate"];
    assert_eq!(gate["needs"], "compare");
    assert!(
        gate["if"].as_str().unwrap().starts_with("always()"),
        "{}",
        gate["if"]
    );
    let download = step_using(gate, "actions/download-artifact@");
    assert_eq!(download["with"]["pattern"], "allocstorm-shard-*");
    let script = run_scripts(gate);
    let path = download["with"]["path"].as_str().unwrap();
    assert!(
        script.contains(&format!(
            "allocstorm report {path}/allocstorm-shard-*/ --out \"$REPORT\""
        )),
        "{script}"
    );
    assert!(
        script.contains("allocstorm gate --run \"$REPORT\""),
        "{script}"
    );

    // Every export format (docs/exports.md) is written by the merge and read by a later step;
    // the gate puts its verdict on the run's page itself.
    let steps = gate["steps"].as_array().unwrap();
    for f in allocstorm::export::Format::ALL {
        let flag = format!("--export {}=\"", f.name());
        let at = script
            .find(&flag)
            .unwrap_or_else(|| panic!("no {flag} in the gate job:\n{script}"));
        let path = script[at + flag.len()..].split('"').next().unwrap();
        let readers: Vec<&Value> = steps
            .iter()
            .filter(|s| !s["run"].as_str().unwrap_or("").contains(&flag))
            // A path is `$REPORT/…` in a script and `${{ env.REPORT }}/…` in an action's input.
            .filter(|s| {
                s.to_string()
                    .replace("${{ env.REPORT }}", "$REPORT")
                    .contains(path)
            })
            .collect();
        assert!(!readers.is_empty(), "no step reads {path} ({})", f.name());
    }
    for (tool, file) in [
        ("customSmallerIsBetter", "github-benchmark.json"),
        ("customBiggerIsBetter", "github-benchmark-bigger.json"),
    ] {
        let step = steps
            .iter()
            .find(|s| s["with"]["tool"] == tool)
            .unwrap_or_else(|| panic!("no github-action-benchmark step with tool {tool}"));
        assert!(step["uses"]
            .as_str()
            .unwrap()
            .starts_with("benchmark-action/github-action-benchmark@"));
        assert!(
            step["with"]["output-file-path"]
                .as_str()
                .unwrap()
                .ends_with(file),
            "{step}"
        );
    }
    assert!(
        !script.contains("GITHUB_STEP_SUMMARY"),
        "the gate writes it: {script}"
    );

    // The baseline job is still there for workflow_dispatch.
    assert_eq!(
        jobs["baseline"]["if"],
        "github.event_name == 'workflow_dispatch'"
    );
}
