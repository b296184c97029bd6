//! The table printed on the terminal after `compare` or `report`: one line per variant with
//! the figures a person checks first. Aligned plain text; the full report is `report.md`.

use super::catalogue::{in_view, variants_table, Figure, Unit, View, CATALOGUE, CURVE};
use super::summary::{Summary, VariantSummary};
use crate::table::{self, Cell, Column, Table};

/// The summary as an aligned text table (medians over ok runs; sizes in MiB), with why each
/// run that did not end ok stopped, and the warnings.
pub fn text_table(s: &Summary) -> String {
    let mut out = table::text::render(&figures_table(s, CATALOGUE));
    out.push_str(&curve(s));
    out.push_str(&why_not_ok(s));
    out.trim_end().to_string()
}

/// One line per variant: its status, its runs and the figures of the terminal's view.
pub(crate) fn figures_table(s: &Summary, catalogue: &[&Figure]) -> Table {
    let figures: Vec<&Figure> = in_view(catalogue, View::Terminal).collect();
    let lead = [
        Column::left("variant"),
        Column::left("status"),
        Column::right("runs"),
    ];
    let cells = |v: &VariantSummary| [Cell::text(&v.name), Cell::text(v.status.as_str()), runs(v)];
    variants_table(&s.variants, lead, cells, &figures, View::Terminal)
}

/// The curve after the load, under the figures: RssAnon at each of its points that some
/// variant has (1 s, 5 s, A at the end of the drain, 60 s), the catalogue's [`CURVE`] without
/// its shares, which `report.md` has. Nothing when no variant has a point besides A.
fn curve(s: &Summary) -> String {
    let points: Vec<&Figure> = CURVE
        .iter()
        .copied()
        .filter(|f| f.unit == Unit::Mib)
        .filter(|f| s.variants.iter().any(|v| f.has(&v.medians)))
        .collect();
    if !points.iter().any(|f| f.views.contains(&View::Curve)) {
        return String::new();
    }
    let cells = |v: &VariantSummary| [Cell::text(&v.name)];
    let t = variants_table(
        &s.variants,
        [Column::left("after the load")],
        cells,
        &points,
        View::Terminal,
    );
    format!("\n{}", table::text::render(&t))
}

/// `3`, or `2/3` when not every run was ok.
fn runs(v: &VariantSummary) -> Cell {
    Cell::text(if v.runs_ok == v.runs {
        v.runs.to_string()
    } else {
        format!("{}/{}", v.runs_ok, v.runs)
    })
}

/// Under the table: why each run that did not end ok stopped, and the warnings.
fn why_not_ok(s: &Summary) -> String {
    let mut out = String::new();
    // Why a run did not end ok, one line each: an `oom` run was killed at the memory limit (or
    // by the kernel), an outcome as much as a figure is. Rebuilt runs say so in the warnings.
    for v in &s.variants {
        for r in v
            .run_figures
            .iter()
            .filter(|r| !r.status.is_ok() && !r.incomplete)
        {
            let why = r.failure.as_deref().unwrap_or("no reason recorded");
            out.push_str(&format!(
                "{}: {} #{}: {}\n",
                r.status,
                v.name,
                r.run_index,
                why.replace('\n', " ")
            ));
        }
    }
    for w in &s.warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::summary::{FigureSet, RunFigures, ScenarioInfo};

    fn variant(name: &str, a: Option<u64>) -> VariantSummary {
        let medians = a.map(|a| crate::figures::Figures {
            rss_after_drain_bytes: Some(a),
            ..Default::default()
        });
        VariantSummary {
            rss_after_drain_cv: a.map(|_| 0.05),
            ..VariantSummary::for_test(name, 3, medians)
        }
    }

    fn summary(
        memory_limit_bytes: Option<u64>,
        variants: Vec<VariantSummary>,
        warnings: Vec<String>,
    ) -> Summary {
        Summary {
            schema_version: 1,
            scenario: ScenarioInfo {
                name: "x".into(),
                description: String::new(),
                path: String::new(),
                hash: String::new(),
                seed: 1,
                quick: false,
                phases_planned: None,
                server_args: vec![],
                load: None,
                load_tool: None,
                sweep: None,
                memory_limit_bytes,
                series: vec![],
                target: None,
                observed: vec![],
            },
            environment: Default::default(),
            shards: vec![],
            variants,
            cost: None,
            warnings: warnings.into_iter().map(Into::into).collect(),
        }
    }

    #[test]
    fn one_aligned_line_per_variant() {
        let s = summary(
            None,
            vec![
                variant("glibc", Some(300 << 20)),
                variant("glibc-mmap64k", None),
            ],
            vec!["glibc #1: incomplete: killed".into()],
        );
        let t = text_table(&s);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 4, "{t}");
        assert!(lines[1].starts_with("glibc          ok"), "{t}");
        assert!(
            lines[1].contains("300.0") && lines[1].contains("5.0%"),
            "{t}"
        );
        assert!(
            lines[2].contains("failed") && lines[2].contains("0/3"),
            "{t}"
        );
        assert_eq!(
            lines[0].find("A MiB").map(|i| i + 5),
            lines[1].find("300.0").map(|i| i + 5),
            "right-aligned:\n{t}"
        );
        assert!(lines[3].starts_with("warning: "));
    }

    #[test]
    fn the_curve_after_the_load_follows_with_the_points_some_variant_has() {
        let mut v = variant("jemalloc-bg", Some(30 << 20));
        let curve = &mut v.medians.figures.after_load;
        curve.rss_after_load_1s_bytes = Some(100 << 20);
        curve.rss_after_load_5s_bytes = Some(50 << 20);
        let t = text_table(&summary(None, vec![v, variant("glibc", None)], vec![]));
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!((lines.len(), lines[3]), (7, ""), "{t}");
        assert_eq!(
            lines[4].split_whitespace().collect::<Vec<_>>().join(" "),
            "after the load 1 s MiB 5 s MiB A MiB",
            "no 60 s: no variant has it\n{t}"
        );
        assert_eq!(
            lines[5].split_whitespace().collect::<Vec<_>>().join(" "),
            "jemalloc-bg 100.0 50.0 30.0",
            "{t}"
        );
        assert!(lines[6].starts_with("glibc "), "{t}");
    }

    #[test]
    fn no_curve_without_a_point_besides_a() {
        let t = text_table(&summary(
            None,
            vec![variant("glibc", Some(1 << 20))],
            vec![],
        ));
        assert!(!t.contains("after the load"), "{t}");
    }

    #[test]
    fn oom_runs_say_why() {
        let mut oom = variant("glibc@buffered", None);
        oom.status = crate::record::RunStatus::Oom;
        oom.runs = 1;
        oom.run_figures = vec![RunFigures {
            run_index: 1,
            status: crate::record::RunStatus::Oom,
            failure: Some("VmRSS 530 MiB crossed the memory limit of 512 MiB at 12.3s".into()),
            incomplete: false,
            started_at: String::new(),
            figures: FigureSet::default(),
            load_errors: None,
            load_retries: None,
        }];
        let s = summary(
            Some(512 << 20),
            vec![variant("glibc@streaming", Some(30 << 20)), oom],
            vec![],
        );
        let t = text_table(&s);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[2].starts_with("glibc@buffered   oom"), "{t}");
        assert_eq!(
            lines[3],
            "oom: glibc@buffered #1: VmRSS 530 MiB crossed the memory limit of 512 MiB at 12.3s",
            "{t}"
        );
    }
}
