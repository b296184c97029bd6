//! `## Environment`: the shards the runs were measured in, if sharded, and where the first run
//! was measured.

use std::fmt::Write as _;

use crate::report::summary::Summary;
use crate::table::markdown::MISSING;

/// The host, kernel, libraries, settings and versions of the first run.
pub(super) fn environment(s: &Summary, out: &mut String) {
    let e = &s.environment;
    out.push_str("## Environment\n\n");
    shards(s, out);
    let or_dash = |v: &str| {
        if v.is_empty() {
            MISSING.to_string()
        } else {
            format!("`{}`", v)
        }
    };
    let _ = writeln!(out, "- host: {}", or_dash(&e.hostname));
    let _ = writeln!(out, "- kernel: {}", or_dash(&e.kernel));
    let _ = writeln!(out, "- glibc: {}", or_dash(&e.glibc_version));
    let _ = writeln!(
        out,
        "- CPU: {} ({} available to the harness)",
        or_dash(&e.cpu_model),
        e.nproc
    );
    if e.mem_total_bytes > 0 {
        let _ = writeln!(
            out,
            "- memory: {}",
            allocstorm_core::units::format_size(e.mem_total_bytes)
        );
    }
    let _ = writeln!(
        out,
        "- transparent huge pages: enabled {}, defrag {}",
        or_dash(&e.thp_enabled),
        or_dash(&e.thp_defrag)
    );
    let _ = writeln!(
        out,
        "- vm.overcommit_memory: {}",
        or_dash(&e.overcommit_memory)
    );
    let _ = writeln!(out, "- rustc: {}", or_dash(&e.rustc));
    let _ = writeln!(out, "- allocstorm: {}", or_dash(&e.allocstorm_version));
    let git = match (&e.git_revision, e.git_dirty) {
        (Some(r), Some(true)) => format!("`{r}` (with uncommitted changes)"),
        (Some(r), _) => format!("`{r}`"),
        (None, _) => MISSING.into(),
    };
    let _ = writeln!(out, "- git revision: {git}");
    if !e.crate_versions.is_empty() {
        let v: Vec<String> = e
            .crate_versions
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        let _ = writeln!(out, "- crates: {}", v.join(", "));
    }
}

/// With `compare --shard I/N`: one line per shard, its machine and its runs; then the first
/// run's environment, which every shard shares in the key the gate checks.
fn shards(s: &Summary, out: &mut String) {
    let Some(first) = s.shards.first() else {
        return;
    };
    let _ = writeln!(
        out,
        "Measured in {} of {} shard{}, one machine each: variants are compared within a shard, the medians are over every shard's runs.\n",
        s.shards.len(),
        first.count,
        if first.count == 1 { "" } else { "s" }
    );
    for sh in &s.shards {
        let _ = writeln!(
            out,
            "- shard {}/{}: host `{}` (`{}`), {} run{} (#{}–#{})",
            sh.index,
            sh.count,
            sh.hostname,
            sh.cpu_model,
            sh.runs,
            if sh.runs == 1 { "" } else { "s" },
            sh.first_run,
            sh.last_run
        );
    }
    out.push_str("\nThe first run's environment:\n\n");
}
