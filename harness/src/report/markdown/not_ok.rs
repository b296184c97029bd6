//! `## Runs that did not end ok`: each such run with why, and the memory limit they had.

use std::fmt::Write as _;

use crate::report::summary::Summary;

/// Every run that did not end ok, with why: an `oom` run's failure says when and at what RSS
/// it crossed the limit. An outcome to read, not a reason to distrust the other rows.
pub(super) fn not_ok_runs(s: &Summary, out: &mut String) {
    let runs: Vec<_> = s
        .variants
        .iter()
        .flat_map(|v| v.run_figures.iter().map(move |r| (v, r)))
        .filter(|(_, r)| !r.status.is_ok())
        .collect();
    if runs.is_empty() {
        return;
    }
    out.push_str("## Runs that did not end ok\n\n");
    for (v, r) in &runs {
        let _ = writeln!(
            out,
            "- `{}` run {}: **{}** — {}",
            v.name,
            r.run_index,
            r.status,
            r.failure
                .as_deref()
                .unwrap_or("no reason recorded")
                .replace(['\n', '\r'], " ")
        );
    }
    let limits: Vec<u64> = {
        let mut l: Vec<u64> = runs
            .iter()
            .filter_map(|(v, _)| v.memory_limit_bytes)
            .chain(s.scenario.memory_limit_bytes)
            .collect();
        l.sort_unstable();
        l.dedup();
        l
    };
    out.push('\n');
    match limits.as_slice() {
        [] => {}
        [limit] => {
            let _ = writeln!(
                out,
                "The memory limit was {} ({} bytes) of VmRSS: the harness kills a server that crosses it and \
                 records the run as `oom`; a kernel OOM kill is recorded as `oom` too. Their figures up to the \
                 kill are in the runs table; the medians above are over the ok runs only.\n",
                allocstorm_core::units::format_size(*limit),
                limit
            );
        }
        many => {
            let l: Vec<String> = many
                .iter()
                .map(|b| allocstorm_core::units::format_size(*b))
                .collect();
            let _ = writeln!(
                out,
                "The runs had different memory limits: {}.\n",
                l.join(", ")
            );
        }
    }
}
