//! The verdict for people: an aligned table on the terminal, and the same as Markdown for a
//! pull-request comment. Both read a [`GateReport`] and nothing else.

use super::evaluate::{BaselineUse, GateReport, Status, VariantGate};
use super::verdict::{Binding, BudgetCheck, BudgetKind, Decision, Figure, Reason, Verdict};
use crate::scenario::gate::Thresholds;

const MIB: f64 = 1024.0 * 1024.0;

fn mib(b: u64) -> String {
    format!("{:.1} MiB", b as f64 / MIB)
}

fn signed_mib(b: i64) -> String {
    format!(
        "{}{:.1} MiB",
        if b >= 0 { "+" } else { "-" },
        b.unsigned_abs() as f64 / MIB
    )
}

fn pct(x: f64) -> String {
    format!("{}{:.1}%", if x >= 0.0 { "+" } else { "" }, x * 100.0)
}

fn side(median: u64, n: usize) -> String {
    format!("{} (n={n})", mib(median))
}

fn change(v: &Verdict) -> String {
    match v.change_rel {
        Some(r) => format!("{} ({})", signed_mib(v.change_bytes), pct(r)),
        None => signed_mib(v.change_bytes),
    }
}

fn binding(v: &Verdict, t: &Thresholds) -> String {
    let part = match v.binding {
        Binding::Relative => format!("{:.0}%", t.rel_tolerance * 100.0),
        Binding::Floor => "floor".into(),
        Binding::Noise => "noise".into(),
    };
    if v.single_run {
        format!("2x {part}, single run")
    } else {
        part
    }
}

/// The limit a change must exceed to be called, and which part of it binds.
fn limit(v: &Verdict, t: &Thresholds) -> String {
    format!("{} ({})", mib(v.call_threshold_bytes()), binding(v, t))
}

fn decision_word(v: &Verdict) -> &'static str {
    match (v.decision, v.reason) {
        (Decision::Pass, Reason::NoWorse) if v.change_bytes < 0 => "pass (better)",
        (Decision::Pass, _) => "pass",
        (Decision::Inconclusive, _) => "inconclusive",
        (Decision::Regression, _) => "REGRESSION",
    }
}

fn budget_word(d: Decision) -> &'static str {
    match d {
        Decision::Pass => "pass",
        Decision::Inconclusive => "inconclusive",
        Decision::Regression => "REGRESSION",
    }
}

fn figure(f: Figure) -> String {
    match f {
        Figure::Retention(r) => format!("{r:.2}"),
        Figure::Bytes(b) => mib(b),
        Figure::Verdict(v) => v.as_str().to_string(),
    }
}

const COMPARISON_HEADER: [&str; 6] = [
    "variant",
    "baseline",
    "candidate",
    "change",
    "limit",
    "verdict",
];
const BUDGET_HEADER: [&str; 5] = ["variant", "budget", "limit", "measured", "verdict"];

fn comparison_rows(r: &GateReport) -> Vec<[String; 6]> {
    r.variants
        .iter()
        .map(|g| {
            let base = super::verdict::median_u64(&g.baseline_after_drain)
                .map(|m| side(m, g.baseline_after_drain.len()))
                .unwrap_or_else(|| "-".into());
            if g.error.is_some() {
                return [
                    g.name.clone(),
                    base,
                    "no ok run".into(),
                    "-".into(),
                    "-".into(),
                    "ERROR".into(),
                ];
            }
            if g.skipped.is_some() {
                return [
                    g.name.clone(),
                    base,
                    "skipped".into(),
                    "-".into(),
                    "-".into(),
                    "INCONCLUSIVE".into(),
                ];
            }
            match &g.comparison {
                Some(v) => [
                    g.name.clone(),
                    side(v.baseline.median, v.baseline.n),
                    side(v.candidate.median, v.candidate.n),
                    change(v),
                    limit(v, &g.thresholds),
                    decision_word(v).into(),
                ],
                None => [
                    g.name.clone(),
                    base,
                    super::verdict::median_u64(&g.candidate_after_drain)
                        .map(|m| side(m, g.candidate_after_drain.len()))
                        .unwrap_or_else(|| "-".into()),
                    "-".into(),
                    "-".into(),
                    g.no_comparison.clone().unwrap_or_default(),
                ],
            }
        })
        .collect()
}

fn budget_rows(r: &GateReport) -> Vec<[String; 5]> {
    let mut rows = Vec::new();
    for g in &r.variants {
        for b in &g.budgets {
            rows.push([
                g.name.clone(),
                b.kind.key().into(),
                figure(b.limit),
                b.measured.map(figure).unwrap_or_else(|| "-".into()),
                budget_word(b.decision).into(),
            ]);
        }
    }
    rows
}

fn budget_finding(g: &VariantGate, b: &BudgetCheck) -> Option<String> {
    let m = b.measured.map(figure).unwrap_or_default();
    let l = figure(b.limit);
    let line = match (b.decision, b.kind) {
        (Decision::Pass, _) => return None,
        (Decision::Regression, BudgetKind::MaxRetention) => {
            format!("median retention {m} is above max_retention {l}: memory sticks after the load")
        }
        (Decision::Regression, BudgetKind::MinRetention) => {
            format!("median retention {m} is below min_retention {l}: the scenario no longer reproduces its incident")
        }
        (Decision::Regression, BudgetKind::MaxAfterDrain) => {
            format!("median after-drain RSS {m} is above max_after_drain {l}")
        }
        (Decision::Regression, BudgetKind::CycleVerdict) => format!(
            "the cycles say {m} ({}), the budget asks {l}: {}",
            b.note.as_deref().unwrap_or_default(),
            if m == "growth" {
                "memory grows from cycle to cycle"
            } else {
                "memory no longer grows from cycle to cycle: the scenario no longer reproduces its ratchet"
            }
        ),
        (Decision::Inconclusive, k) => format!(
            "{} cannot be checked: {}",
            k.key(),
            b.note.as_deref().unwrap_or("not measured")
        ),
    };
    Some(format!("{}: {line}", g.name))
}

fn comparison_finding(g: &VariantGate, v: &Verdict, t: &Thresholds) -> Option<String> {
    let moved = format!(
        "{} → {}, {}",
        mib(v.baseline.median),
        mib(v.candidate.median),
        change(v)
    );
    let line = match v.reason {
        Reason::NoWorse | Reason::WithinLimit => return None,
        Reason::BeyondLimit => format!(
            "after-drain RSS worse than the baseline ({moved}), beyond the limit of {} ({})",
            mib(v.call_threshold_bytes()),
            binding(v, t)
        ),
        Reason::SpreadTooWide => format!(
            "the runs scatter too much to tell ({moved}): the noise band {} is wider than the tolerance {}; run more runs per variant (--runs) or widen rel_tolerance",
            mib(v.noise_bytes.unwrap_or(0)),
            mib(v.tolerance_bytes)
        ),
        Reason::SingleRunNearLimit => format!(
            "change between one and two limits ({moved}; limit {}) with a single run on one side, whose spread is not measured; run 3 or more runs per variant",
            mib(v.limit_bytes)
        ),
    };
    Some(format!("{}: {line}", g.name))
}

/// One line per check that did not pass, worst first.
pub fn findings(r: &GateReport) -> Vec<String> {
    let mut out: Vec<(u8, String)> = Vec::new();
    for g in &r.variants {
        if let Some(e) = &g.error {
            out.push((0, format!("{}: {e}", g.name)));
        }
        if let Some(why) = &g.skipped {
            out.push((2, format!("{}: not measured, skipped: {why}", g.name)));
        }
        if let Some(v) = &g.comparison {
            if let Some(l) = comparison_finding(g, v, &g.thresholds) {
                out.push((
                    if v.decision == Decision::Regression {
                        1
                    } else {
                        2
                    },
                    l,
                ));
            }
        }
        for b in &g.budgets {
            if let Some(l) = budget_finding(g, b) {
                out.push((
                    if b.decision == Decision::Regression {
                        1
                    } else {
                        2
                    },
                    l,
                ));
            }
        }
    }
    out.sort_by_key(|(rank, _)| *rank);
    out.into_iter().map(|(_, l)| l).collect()
}

/// Notes that change no verdict: a variant whose comparison passed although its runs scatter
/// more than its tolerance, and variants with thresholds of their own.
pub fn notes(r: &GateReport) -> Vec<String> {
    let mut out = Vec::new();
    for g in &r.variants {
        if let Some(v) = g
            .comparison
            .as_ref()
            .filter(|v| v.low_resolution() && v.decision == Decision::Pass)
        {
            out.push(format!(
                "{}: the runs scatter more than the tolerance (noise band {} > {}): only a change above {} could have been called; more runs per variant narrow it",
                g.name,
                mib(v.noise_bytes.unwrap_or(0)),
                mib(v.tolerance_bytes),
                mib(v.call_threshold_bytes())
            ));
        }
        if g.thresholds != r.thresholds {
            out.push(format!(
                "{}: own thresholds: {}",
                g.name,
                thresholds_line(&g.thresholds)
            ));
        }
    }
    out.extend(r.notes.iter().cloned());
    out
}

fn baseline_line(r: &GateReport) -> String {
    match &r.baseline {
        BaselineUse::NotGiven => "none (budgets only)".into(),
        BaselineUse::NotFound { looked_for } => {
            format!("none for this scenario and host (looked for {looked_for}; budgets only)")
        }
        BaselineUse::Used {
            path,
            created_at,
            git_revision,
            ..
        } => {
            let rev = git_revision
                .as_deref()
                .map(|g| format!(", git {}", g.get(..10).unwrap_or(g)))
                .unwrap_or_default();
            format!("{path} (made {created_at}{rev})")
        }
    }
}

fn thresholds_line(t: &Thresholds) -> String {
    format!(
        "rel_tolerance {:.0}%, abs_floor {}, noise_k {}",
        t.rel_tolerance * 100.0,
        mib(t.abs_floor_bytes),
        t.noise_k
    )
}

fn verdict_line(r: &GateReport) -> String {
    let s = r.status();
    let mut line = format!("{} (exit {})", s.word(), s.exit_code());
    if !r.mismatch().is_empty() {
        line.push_str(&format!(
            ", compared across different keys under --allow-env-mismatch: {}",
            r.mismatch().join("; ")
        ));
    }
    line
}

fn aligned<const N: usize>(header: [&str; N], rows: &[[String; N]], left: usize) -> String {
    let all: Vec<Vec<String>> = std::iter::once(header.iter().map(|h| h.to_string()).collect())
        .chain(rows.iter().map(|r| r.to_vec()))
        .collect();
    let widths: Vec<usize> = (0..N)
        .map(|c| all.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in &all {
        let cells: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(c, v)| {
                if c < left || c + 1 == N {
                    format!("{v:<w$}", w = widths[c])
                } else {
                    format!("{v:>w$}", w = widths[c])
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// The verdict as aligned text for the terminal.
pub fn text(r: &GateReport) -> String {
    let mut out = format!(
        "allocstorm gate: {}{}, runs in {}\nbaseline: {}\nscenario file: {}; {}\n",
        r.scenario,
        if r.quick { " (quick)" } else { "" },
        r.run_dir,
        baseline_line(r),
        r.scenario_file,
        thresholds_line(&r.thresholds)
    );
    if !r.mismatch().is_empty() {
        out.push_str(&format!(
            "warning: the baseline was measured under another key: {}\n",
            r.mismatch().join("; ")
        ));
    }
    out.push_str("\nafter-drain RSS (median of ok runs)\n");
    out.push_str(&aligned(COMPARISON_HEADER, &comparison_rows(r), 1));
    let budgets = budget_rows(r);
    if !budgets.is_empty() {
        out.push_str("\nbudgets ([gate.variants] of the scenario)\n");
        out.push_str(&aligned(BUDGET_HEADER, &budgets, 2));
    }
    for n in notes(r) {
        out.push_str(&format!("note: {n}\n"));
    }
    out.push_str(&format!("\nverdict: {}\n", verdict_line(r)));
    for f in findings(r) {
        out.push_str(&format!("- {f}\n"));
    }
    out
}

/// A link to a file of the report directory.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub label: &'static str,
    pub href: String,
}

fn md_row<const N: usize>(cells: &[String; N]) -> String {
    let escaped: Vec<String> = cells.iter().map(|c| c.replace('|', "\\|")).collect();
    format!("| {} |\n", escaped.join(" | "))
}

fn mib_list(v: &[u64]) -> String {
    if v.is_empty() {
        return "-".into();
    }
    v.iter()
        .map(|b| format!("{:.1}", *b as f64 / MIB))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The verdict as Markdown for a pull-request comment: the same tables, the reasons, links to
/// the plots, and (when `image` is a URL a browser can load) the timeline inline.
pub fn markdown(r: &GateReport, links: &[Link], image: Option<&str>) -> String {
    let s = r.status();
    let icon = match s {
        Status::Pass => "✅",
        Status::Regression => "❌",
        Status::Inconclusive => "⚠️",
        Status::Error => "🛑",
    };
    let mut out = format!("### {icon} allocstorm gate: {}\n\n", verdict_line(r));
    out.push_str(&format!(
        "Scenario `{}`{} · runs: `{}` · baseline: {}\n\n",
        r.scenario,
        if r.quick { " (quick)" } else { "" },
        r.run_dir,
        match &r.baseline {
            BaselineUse::Used { .. } => format!("`{}`", baseline_line(r)),
            _ => baseline_line(r),
        }
    ));
    if !r.mismatch().is_empty() {
        out.push_str(&format!(
            "> **Warning:** the baseline was measured under another key ({}); compared anyway under `--allow-env-mismatch`.\n\n",
            r.mismatch().join("; ")
        ));
    }
    let findings = findings(r);
    if !findings.is_empty() {
        for f in &findings {
            out.push_str(&format!("- {f}\n"));
        }
        out.push('\n');
    }
    out.push_str("**After-drain RSS** (median of ok runs)\n\n");
    out.push_str(&md_row(&COMPARISON_HEADER.map(String::from)));
    out.push_str("|---|--:|--:|--:|--:|---|\n");
    for row in comparison_rows(r) {
        out.push_str(&md_row(&row));
    }
    let budgets = budget_rows(r);
    if !budgets.is_empty() {
        out.push_str(&format!(
            "\n**Budgets** (`[gate.variants]` of `{}`)\n\n",
            r.scenario_file
        ));
        out.push_str(&md_row(&BUDGET_HEADER.map(String::from)));
        out.push_str("|---|---|--:|--:|---|\n");
        for row in budgets {
            out.push_str(&md_row(&row));
        }
    }
    let notes = notes(r);
    if !notes.is_empty() {
        out.push('\n');
        for n in &notes {
            out.push_str(&format!("- note: {n}\n"));
        }
    }
    if let Some(src) = image {
        out.push_str(&format!("\n![RSS over time, phases shaded]({src})\n"));
    }
    if !links.is_empty() {
        let l: Vec<String> = links
            .iter()
            .map(|l| format!("[{}]({})", l.label, l.href))
            .collect();
        out.push_str(&format!("\nPlots and report: {}\n", l.join(" · ")));
    }
    out.push_str("\n<details><summary>Runs and thresholds</summary>\n\n");
    out.push_str(&format!(
        "{}. A regression must exceed all three: the tolerance (`rel_tolerance` × the baseline median), the floor, and `noise_k` × the standard error of the difference of the medians, from the runs' spread (with a single run on a side, twice that). A change above the tolerance that the spread explains is inconclusive.\n\n",
        thresholds_line(&r.thresholds)
    ));
    out.push_str("| variant | baseline runs, MiB | candidate runs, MiB |\n|---|---|---|\n");
    for g in &r.variants {
        out.push_str(&md_row(&[
            g.name.clone(),
            mib_list(&g.baseline_after_drain),
            mib_list(&g.candidate_after_drain),
        ]));
    }
    out.push_str("\n</details>\n");
    out
}
