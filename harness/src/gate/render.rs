//! The verdict for people: an aligned table on the terminal, and the same as Markdown for a
//! pull-request comment. Both read a [`GateReport`] and nothing else.

use super::baseline::Baseline;
use super::evaluate::{BaselineUse, GateReport, NoComparison, Status, VariantGate};
use super::verdict::{Binding, BudgetCheck, BudgetKind, Decision, Figure, Reason, Verdict};
use super::words::{against_baseline, budget_figure, budget_name, gated};
use crate::figures::curve::After;
use crate::figures::cycles;
use crate::report::catalogue::{self, Reading};
use crate::report::words::capitalized;
use crate::scenario::gate::Thresholds;
use crate::table::{self, markdown, mib_unit, text, Cell, Column, Table, Value};

/// A cell with no figure. gate.md has always written the terminal's `-` here, where report.md
/// writes `–`: kept, so a PR comment reads as it did.
fn none() -> Cell {
    Cell::text(text::MISSING)
}

fn side(median: u64, n: usize) -> String {
    format!("{} (n={n})", mib_unit(median))
}

fn change(v: &Verdict) -> String {
    let moved = table::signed_mib_unit(v.change_bytes);
    match v.change_rel {
        Some(r) => format!("{moved} ({})", table::signed_percent(r)),
        None => moved,
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
    format!("{} ({})", mib_unit(v.call_threshold_bytes()), binding(v, t))
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

fn status_word(s: Status) -> &'static str {
    match s {
        Status::Pass => "PASS",
        Status::Regression => "REGRESSION",
        Status::Error => "ERROR",
        Status::Inconclusive => "INCONCLUSIVE",
    }
}

fn no_comparison_word(n: NoComparison) -> &'static str {
    match n {
        NoComparison::NoBaseline => "no baseline",
        NoComparison::NotInBaseline => "not in the baseline",
    }
}

/// A budget's limit or measured figure, as a cell and in a sentence alike: a retention as the
/// catalogue writes it, a size with its unit.
fn figure_value(f: Figure) -> Value {
    match f {
        Figure::Retention(r) => catalogue::RETENTION.value(Reading::Number(r)),
        Figure::Bytes(b) => Value::Text(mib_unit(b)),
        Figure::Verdict(v) => Value::Text(v.as_str().into()),
        Figure::BytesPerHour(b) => Value::Text(per_hour(b)),
        Figure::Slope(s) => Value::Text(format!(
            "{} (95%: {:.1} to {:.1})",
            per_hour(s.bytes_per_hour),
            s.low_bytes_per_hour / 1048576.0 + 0.0,
            s.high_bytes_per_hour / 1048576.0 + 0.0
        )),
    }
}

/// Bytes per hour as MiB per hour: `12.3 MiB/h`.
fn per_hour(b: f64) -> String {
    format!("{:.1} MiB/h", b / 1048576.0 + 0.0)
}

fn figure(f: Figure) -> String {
    figure_value(f).written().unwrap_or_default()
}

/// The gated figure (after-drain RSS), baseline against candidate, one row per variant.
fn comparison_table(r: &GateReport) -> Table {
    let mut t = Table::new([
        Column::left("variant"),
        Column::right("baseline"),
        Column::right("candidate"),
        Column::right("change"),
        Column::right("limit"),
        Column::left("verdict"),
    ]);
    for g in &r.variants {
        t.row(comparison_row(g));
    }
    t
}

/// The median of a side's runs with their number, or no figure.
fn median_cell(runs: &[u64]) -> Cell {
    super::verdict::median_u64(runs).map_or_else(none, |m| Cell::text(side(m, runs.len())))
}

fn comparison_row(g: &VariantGate) -> Vec<Cell> {
    let name = Cell::text(&g.name);
    let base = median_cell(&g.baseline_after_drain);
    if g.error.is_some() {
        return vec![
            name,
            base,
            "no ok run".into(),
            none(),
            none(),
            "ERROR".into(),
        ];
    }
    if g.skipped.is_some() {
        return vec![
            name,
            base,
            "skipped".into(),
            none(),
            none(),
            "INCONCLUSIVE".into(),
        ];
    }
    match &g.comparison {
        Some(v) => vec![
            name,
            Cell::text(side(v.baseline.median, v.baseline.n)),
            Cell::text(side(v.candidate.median, v.candidate.n)),
            Cell::text(change(v)),
            Cell::text(limit(v, &g.thresholds)),
            decision_word(v).into(),
        ],
        None => vec![
            name,
            base,
            median_cell(&g.candidate_after_drain),
            none(),
            none(),
            g.no_comparison.map_or("", no_comparison_word).into(),
        ],
    }
}

/// Every budget of every variant, or `None` when the scenario sets none.
fn budget_table(r: &GateReport) -> Option<Table> {
    let mut t = Table::new([
        Column::left("variant"),
        Column::left("budget"),
        Column::right("limit"),
        Column::right("measured"),
        Column::left("verdict"),
    ]);
    for g in &r.variants {
        for b in &g.budgets {
            t.row(vec![
                Cell::text(&g.name),
                Cell::text(budget_name(b.kind, r.after)),
                Cell::new(figure_value(b.limit)),
                b.measured.map_or_else(none, |m| Cell::new(figure_value(m))),
                budget_word(b.decision).into(),
            ]);
        }
    }
    (!t.rows.is_empty()).then_some(t)
}

/// A figure's median beyond its budget: `median retention 0.82 is below min_retention 0.99: …`.
fn beyond_budget(k: BudgetKind, m: &str, l: &str, after: After) -> String {
    let (side, why) = match k {
        BudgetKind::MaxRetention => ("above", ": memory sticks after the load"),
        BudgetKind::MinRetention => ("below", ": the scenario no longer reproduces its incident"),
        BudgetKind::MaxAfterDrain | BudgetKind::CycleVerdict => ("above", ""),
        BudgetKind::MaxGrowthPerHour => (
            "above",
            ": its whole 95% interval is, A grows from cycle to cycle beyond noise",
        ),
    };
    let name = budget_figure(k, after).map_or("", catalogue::Figure::in_words);
    format!(
        "median {name} {m} is {side} {} {l}{why}",
        budget_name(k, after)
    )
}

fn budget_finding(g: &VariantGate, b: &BudgetCheck, after: After) -> Option<String> {
    let m = b.measured.map(figure).unwrap_or_default();
    let l = figure(b.limit);
    let note = b.note.map(|n| n.to_string());
    let line = match (b.decision, b.kind) {
        (Decision::Pass, _) => return None,
        (Decision::Regression, BudgetKind::CycleVerdict) => format!(
            "the cycles say {m} ({}), the budget asks {l}: {}",
            note.unwrap_or_default(),
            if matches!(b.measured, Some(Figure::Verdict(cycles::Verdict::Growth))) {
                "memory grows from cycle to cycle"
            } else {
                "memory no longer grows from cycle to cycle: the scenario no longer reproduces its ratchet"
            }
        ),
        (Decision::Regression, k) => beyond_budget(k, &m, &l, after),
        (Decision::Inconclusive, k) => format!(
            "{} cannot be checked: {}",
            budget_name(k, after),
            note.as_deref().unwrap_or("not measured")
        ),
    };
    Some(format!("{}: {line}", g.name))
}

fn comparison_finding(
    g: &VariantGate,
    v: &Verdict,
    t: &Thresholds,
    after: After,
) -> Option<String> {
    let moved = format!(
        "{} → {}, {}",
        mib_unit(v.baseline.median),
        mib_unit(v.candidate.median),
        change(v)
    );
    let line = match v.reason {
        Reason::NoWorse | Reason::WithinLimit => return None,
        Reason::BeyondLimit => format!(
            "{} worse than the baseline ({moved}), beyond the limit of {} ({})",
            gated(after).in_words(),
            mib_unit(v.call_threshold_bytes()),
            binding(v, t)
        ),
        Reason::SpreadTooWide => format!(
            "the runs scatter too much to tell ({moved}): the noise band {} is wider than the tolerance {}; run more runs per variant (--runs) or widen rel_tolerance",
            mib_unit(v.noise_bytes.unwrap_or(0)),
            mib_unit(v.tolerance_bytes)
        ),
        Reason::SingleRunNearLimit => format!(
            "change between one and two limits ({moved}; limit {}) with a single run on one side, whose spread is not measured; run 3 or more runs per variant",
            mib_unit(v.limit_bytes)
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
            if let Some(l) = comparison_finding(g, v, &g.thresholds, r.after) {
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
            if let Some(l) = budget_finding(g, b, r.after) {
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
                mib_unit(v.noise_bytes.unwrap_or(0)),
                mib_unit(v.tolerance_bytes),
                mib_unit(v.call_threshold_bytes())
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
    out.extend(r.notes.iter().map(ToString::to_string));
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
        mib_unit(t.abs_floor_bytes),
        t.noise_k
    )
}

fn verdict_line(r: &GateReport) -> String {
    let s = r.status();
    let mut line = format!("{} (exit {})", status_word(s), s.exit_code());
    if !r.mismatch().is_empty() {
        line.push_str(&format!(
            ", compared across different keys under --allow-env-mismatch: {}",
            against_baseline(r.mismatch(), "; ")
        ));
    }
    line
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
            against_baseline(r.mismatch(), "; ")
        ));
    }
    out.push_str(&format!(
        "\n{} (median of ok runs)\n",
        gated(r.after).in_words()
    ));
    out.push_str(&text::render(&comparison_table(r)));
    if let Some(budgets) = budget_table(r) {
        out.push_str("\nbudgets ([gate.variants] of the scenario)\n");
        out.push_str(&text::render(&budgets));
    }
    for n in notes(r) {
        out.push_str(&format!("note: {n}\n"));
    }
    out.push_str(&format!("\nverdict: {}\n", verdict_line(r)));
    out.push_str(&bullets(&findings(r), ""));
    out
}

/// A link to a file of the report directory.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub label: &'static str,
    pub href: String,
}

/// Every run's gated figure, both sides, in its unit: what the medians above were taken of.
fn runs_table(r: &GateReport) -> Table {
    let mut t = Table::new([
        Column::left("variant"),
        Column::left(runs_title("baseline", r.after)),
        Column::left(runs_title("candidate", r.after)),
    ]);
    for g in &r.variants {
        t.row(vec![
            Cell::text(&g.name),
            mib_list(&g.baseline_after_drain, r.after),
            mib_list(&g.candidate_after_drain, r.after),
        ]);
    }
    t
}

/// `baseline runs, MiB`: a side's runs, in the gated figure's unit.
fn runs_title(side: &str, after: After) -> String {
    match gated(after).unit.symbol() {
        Some(unit) => format!("{side} runs, {unit}"),
        None => format!("{side} runs"),
    }
}

fn mib_list(v: &[u64], after: After) -> Cell {
    if v.is_empty() {
        return none();
    }
    let sizes: Vec<String> = v
        .iter()
        .filter_map(|&b| gated(after).value(Reading::Bytes(b)).written())
        .collect();
    Cell::text(sizes.join(", "))
}

/// The verdict as Markdown for a pull-request comment: the same tables, the reasons, links to
/// the plots, and (when `image` is a URL a browser can load) the timeline inline.
pub fn markdown(r: &GateReport, links: &[Link], image: Option<&str>) -> String {
    let mut out = md_heading(r);
    let findings = bullets(&findings(r), "");
    if !findings.is_empty() {
        out.push_str(&findings);
        out.push('\n');
    }
    out.push_str(&format!(
        "**{}** (median of ok runs)\n\n",
        capitalized(gated(r.after).in_words())
    ));
    out.push_str(&markdown::render(&comparison_table(r)));
    if let Some(budgets) = budget_table(r) {
        out.push_str(&format!(
            "\n**Budgets** (`[gate.variants]` of `{}`)\n\n",
            r.scenario_file
        ));
        out.push_str(&markdown::render(&budgets));
    }
    let notes = bullets(&notes(r), "note: ");
    if !notes.is_empty() {
        out.push('\n');
        out.push_str(&notes);
    }
    out.push_str(&md_plots(links, image));
    out.push_str(&md_details(r));
    out
}

/// The verdict line with its icon, what was gated against what, and a key mismatch.
fn md_heading(r: &GateReport) -> String {
    let icon = match r.status() {
        Status::Pass => "✅",
        Status::Regression => "❌",
        Status::Inconclusive => "⚠️",
        Status::Error => "🛑",
    };
    let baseline = match &r.baseline {
        BaselineUse::Used { .. } => format!("`{}`", baseline_line(r)),
        _ => baseline_line(r),
    };
    let mut out = format!(
        "### {icon} allocstorm gate: {}\n\nScenario `{}`{} · runs: `{}` · baseline: {baseline}\n\n",
        verdict_line(r),
        r.scenario,
        if r.quick { " (quick)" } else { "" },
        r.run_dir,
    );
    if !r.mismatch().is_empty() {
        out.push_str(&format!(
            "> **Warning:** the baseline was measured under another key ({}); compared anyway under `--allow-env-mismatch`.\n\n",
            against_baseline(r.mismatch(), "; ")
        ));
    }
    out
}

/// A list, one `- ` line per item, each after `prefix`.
fn bullets(items: &[String], prefix: &str) -> String {
    items.iter().map(|i| format!("- {prefix}{i}\n")).collect()
}

/// The timeline inline (when a browser can load it) and links to the plots and the report.
fn md_plots(links: &[Link], image: Option<&str>) -> String {
    let mut out = String::new();
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
    out
}

/// The folded part: the thresholds, how they combine, and every run's figure.
fn md_details(r: &GateReport) -> String {
    format!(
        "\n<details><summary>Runs and thresholds</summary>\n\n{}. A regression must exceed all three: the tolerance (`rel_tolerance` × the baseline median), the floor, and `noise_k` × the standard error of the difference of the medians, from the runs' spread (with a single run on a side, twice that). A change above the tolerance that the spread explains is inconclusive.\n\n{}\n</details>\n",
        thresholds_line(&r.thresholds),
        markdown::render(&runs_table(r))
    )
}

/// What `--update-baseline` wrote, on the terminal: the file, and each variant's runs and
/// median of the gated figure; a note when a variant has a single run.
pub fn baseline_written(path: &str, dir: &str, b: &Baseline) -> String {
    let mut text = format!(
        "baseline: wrote {path} from {dir} ({}{}, key {})\n",
        b.key.scenario,
        if b.key.quick { ", quick" } else { "" },
        b.key.host_key()
    );
    let mut single = Vec::new();
    for v in &b.variants {
        let a = v.gated(b.after);
        if a.len() < 2 {
            single.push(v.name.as_str());
        }
        text.push_str(&format!(
            "  {:<16} {} ok run{}, median {} {}\n",
            v.name,
            a.len(),
            if a.len() == 1 { "" } else { "s" },
            gated(b.after).in_words(),
            mib_unit(super::verdict::median_u64(&a).unwrap_or(0))
        ));
    }
    if !single.is_empty() {
        text.push_str(&format!(
            "note: {} ha{} a single run: the gate cannot measure noise from it; a baseline of 3 or more runs per variant (allocstorm compare --runs 3) lets it\n",
            single.join(", "),
            if single.len() == 1 { "s" } else { "ve" }
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::gate::Limits;

    const MIB: u64 = 1 << 20;

    fn variant(name: &str, base: &[u64], cand: &[u64]) -> VariantGate {
        let t = Thresholds::default();
        VariantGate {
            name: name.into(),
            runs: cand.len(),
            runs_counted: cand.len(),
            candidate_after_drain: cand.to_vec(),
            baseline_after_drain: base.to_vec(),
            error: None,
            skipped: None,
            comparison: super::super::verdict(base, cand, &t),
            no_comparison: None,
            thresholds: t,
            budgets: Vec::new(),
        }
    }

    fn report() -> GateReport {
        let mut worse = variant("glibc", &[200 * MIB; 3], &[300 * MIB; 3]);
        let limits = Limits {
            max_after_drain_bytes: Some(256 * MIB),
            ..Limits::default()
        };
        worse.budgets = super::super::verdict::check_budgets(&limits, &[300 * MIB; 3], &[]);
        let mut gone = variant("jemalloc", &[10 * MIB], &[]);
        // The table says "no ok run"; the runs the error lists are worded in `words`.
        gone.error = Some(super::super::evaluate::NoOkRun {
            runs: Vec::new(),
            after: After::Drain,
        });
        let mut new = variant("mimalloc", &[], &[MIB + MIB / 2]);
        new.no_comparison = Some(NoComparison::NotInBaseline);
        GateReport {
            scenario: "hot-range".into(),
            quick: true,
            run_dir: "reports/x".into(),
            scenario_file: "scenarios/hot-range.toml".into(),
            baseline: BaselineUse::NotGiven,
            thresholds: Thresholds::default(),
            after: After::Drain,
            variants: vec![worse, gone, new],
            notes: Vec::new(),
        }
    }

    /// The two tables as the terminal shows them, pinned to the byte.
    #[test]
    fn the_terminal_tables() {
        let text = text(&report());
        let tables = &text[text.find("variant").unwrap()..text.find("\nverdict").unwrap()];
        assert_eq!(
            tables,
            "\
variant          baseline        candidate               change           limit  verdict
glibc     200.0 MiB (n=3)  300.0 MiB (n=3)  +100.0 MiB (+50.0%)  20.0 MiB (10%)  REGRESSION
jemalloc   10.0 MiB (n=1)        no ok run                    -               -  ERROR
mimalloc                -    1.5 MiB (n=1)                    -               -  not in the baseline

budgets ([gate.variants] of the scenario)
variant  budget               limit   measured  verdict
glibc    max_after_drain  256.0 MiB  300.0 MiB  REGRESSION
"
        );
    }

    /// Under `[gate] after = "1s"`, `max_after_drain` bounds RssAnon 1 s after the load: the
    /// table and the finding name it so, not after the drain it does not bound.
    #[test]
    fn a_budget_on_a_point_of_the_curve_is_named_for_it() {
        let r = GateReport {
            after: After::OneSecond,
            ..report()
        };
        let text = text(&r);
        assert!(
            text.contains("glibc    max_after_load_1s  256.0 MiB  300.0 MiB  REGRESSION\n"),
            "{text}"
        );
        assert!(!text.contains("max_after_drain"), "{text}");
        let b = &r.variants[0].budgets[0];
        assert_eq!(
            budget_finding(&r.variants[0], b, r.after).unwrap(),
            "glibc: median RSS 1 s after the load 300.0 MiB is above max_after_load_1s 256.0 MiB"
        );
        assert_eq!(
            budget_finding(&r.variants[0], b, After::Drain).unwrap(),
            "glibc: median after-drain RSS 300.0 MiB is above max_after_drain 256.0 MiB"
        );
    }

    /// A soak's slope over its budget says the interval; one across the budget says so.
    #[test]
    fn growth_per_hour_findings() {
        use crate::figures::soak::Slope;
        let g = variant("mimalloc", &[], &[MIB]);
        let limits = Limits {
            max_growth_per_hour_bytes: Some(5 * MIB),
            ..Limits::default()
        };
        let m = MIB as f64;
        let finding = |mid: f64, half: f64| {
            let s = Slope {
                cycles: 6,
                bytes_per_hour: mid * m,
                low_bytes_per_hour: (mid - half) * m,
                high_bytes_per_hour: (mid + half) * m,
            };
            let b = super::super::verdict::check_growth(&limits, &[s]).unwrap();
            budget_finding(&g, &b, After::Drain)
        };
        assert_eq!(
            finding(20.0, 8.0).unwrap(),
            "mimalloc: median growth per hour 20.0 MiB/h (95%: 12.0 to 28.0) is above \
             max_growth_per_hour 5.0 MiB/h: its whole 95% interval is, A grows from cycle to \
             cycle beyond noise"
        );
        assert_eq!(
            finding(4.0, 3.0).unwrap(),
            "mimalloc: max_growth_per_hour cannot be checked: of 1 runs' 95% intervals, 0 above \
             the budget, 1 across it, 0 below"
        );
        assert_eq!(finding(1.0, 3.0), None, "a pass says nothing");
    }

    /// gate.md keeps the terminal's `-` for a missing figure and escapes nothing it need not.
    #[test]
    fn the_markdown_tables() {
        let md = markdown(&report(), &[], None);
        assert!(md.contains(
            "| variant | baseline | candidate | change | limit | verdict |\n|---|--:|--:|--:|--:|---|\n"
        ));
        assert!(md.contains("| mimalloc | - | 1.5 MiB (n=1) | - | - | not in the baseline |\n"));
        assert!(md.contains("| jemalloc | 10.0 | - |\n"));
    }
}
