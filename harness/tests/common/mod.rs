//! What several end-to-end test files share.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_allocstorm");

/// `allocstorm run --quiet` of one variant of `scenario`, written to `out/` beside it: its exit
/// code and its record.
pub fn run(scenario: &Path, variant: &str) -> (Option<i32>, Value) {
    let out = scenario.parent().unwrap().join("out");
    let status = Command::new(BIN)
        .args(["run", "--quiet", "--scenario"])
        .arg(scenario)
        .args(["--variant", variant, "--out"])
        .arg(&out)
        .status()
        .unwrap();
    let record = out.join(format!("runs/{variant}-1.json"));
    let rec = serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
    (status.code(), rec)
}
