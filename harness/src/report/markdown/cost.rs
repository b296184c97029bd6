//! `## The price of each fix` when the runs measured their cost (`[cost]`): per variant its
//! capacity, latency at the fixed rate, server CPU and minor faults per response, each with
//! its ratio to the reference per round, and how it was measured, so that a reader could
//! measure it again by hand. Without cost data, `## Cost`: throughput, latency and server CPU
//! of the memory run, as before `[cost]`. Both with the cost plot.

use super::Page;
use std::fmt::Write as _;

use super::{clients, min_max, secs, shown_flags};
use crate::report::catalogue::{
    variants_table, Figure, View, CAPACITY, COST_CPU_PER_1000, COST_P50, COST_P99, FAULTS, P50,
    P99, SERVER_CPU_DURING, SERVER_CPU_PER_1000, THROUGHPUT,
};
use crate::report::summary::{
    CostInfo, Spread, Summary, VariantCost, VariantSummary, FAULTS_FOR_A_RATIO,
};
use crate::report::words::joined;
use crate::table::{markdown, ratio as figure, Cell, Column, Table, Value};

/// The cost section and its plot.
pub(super) fn cost_table(s: &Summary, out: &mut Page) {
    match &s.cost {
        Some(c) => price_table(s, c, out),
        None => memory_run_table(s, out),
    }
}

/// Without `[cost]`: the memory run's load figures per variant.
fn memory_run_table(s: &Summary, out: &mut Page) {
    out.push_str("## Cost\n\n");
    let figures = [
        &THROUGHPUT,
        &P50,
        &P99,
        &SERVER_CPU_DURING,
        &SERVER_CPU_PER_1000,
    ];
    let name = |v: &VariantSummary| [Cell::text(&v.name)];
    let t = variants_table(
        &s.variants,
        [Column::left("variant")],
        name,
        &figures,
        View::Results,
    );
    out.table(&t);
    out.push_str("\n![After-drain RSS against throughput, p99 and server CPU](cost.png)\n\n");
    out.push_str("Vector version: [cost.svg](cost.svg).\n\n");
}

/// A median with its ratio column: `0.63 (0.60–0.66)`, `0.63` for one round.
fn ratio_cell(x: Option<&Spread>) -> Cell {
    match x {
        None => Cell::missing(),
        Some(x) if x.n < 2 => Cell::new(Value::Ratio(x.median)),
        Some(x) => Cell::text(format!("{} ({})", figure(x.median), min_max(x))),
    }
}

/// A median, with the mark of a footnote when `marked`.
fn median_cell(x: Option<&Spread>, mark: Option<&str>) -> Cell {
    match (x, mark) {
        (None, _) => Cell::missing(),
        (Some(x), None) => Cell::new(Value::Ratio(x.median)),
        (Some(x), Some(m)) => Cell::text(format!("{} {m}", figure(x.median))),
    }
}

/// The costs of the price table, each followed by its ratio to the reference's.
const PRICED: [&Figure; 5] = [&CAPACITY, &COST_P50, &COST_P99, &COST_CPU_PER_1000, &FAULTS];

/// What the cells of the price table point to, said under it.
#[derive(Default)]
struct Footnotes {
    /// ‡: capacities that were the client's.
    bound: Vec<String>,
    /// §: latencies of an overloaded server.
    overloaded: Vec<String>,
    stopped: Vec<String>,
}

/// The price table, and what its cells point to.
fn price_grid(s: &Summary, reference: &str, faults_ratio: bool) -> (Table, Footnotes) {
    let x = format!("× {reference}");
    let columns = PRICED
        .iter()
        .flat_map(|f| [Column::right(f.markdown_title()), Column::right(x.as_str())]);
    let mut t = Table::new(
        [Column::left("variant"), Column::right("runs")]
            .into_iter()
            .chain(columns),
    );
    let mut notes = Footnotes::default();
    for v in &s.variants {
        let row = match &v.cost {
            Some(vc) => price_row(v, vc, faults_ratio, &mut notes),
            None => {
                let mut row = vec![Cell::text(&v.name), Cell::count(Some(0))];
                row.resize(t.columns.len(), Cell::missing());
                row
            }
        };
        t.row(row);
    }
    (t, notes)
}

/// One variant's costs and their ratios; its footnotes go to `notes`.
fn price_row(
    v: &VariantSummary,
    vc: &VariantCost,
    faults_ratio: bool,
    notes: &mut Footnotes,
) -> Vec<Cell> {
    let f = &vc.figures;
    let r = &vc.ratio_to_reference;
    let measured = f.capacity_rps.as_ref().map_or(0, |x| x.n);
    let bound = f.capacity_rps.is_some() && vc.client_bound_runs > 0;
    if bound {
        notes.bound.push(format!(
            "`{}` in {} of {measured} runs ({})",
            v.name,
            vc.client_bound_runs,
            joined(&vc.client_bound, "; ")
        ));
    }
    let overloaded = f.latency_p99_ms.is_some() && !vc.rate_above_capacity.is_empty();
    if overloaded {
        let why = joined(&vc.rate_above_capacity, "; ");
        notes.overloaded.push(format!("`{}` ({why})", v.name));
    }
    for n in &vc.failures {
        notes
            .stopped
            .push(format!("`{}` run {}: {}", v.name, n.run_index, n.why));
    }
    let cpu = match (&f.server_cpu_s_per_1000, &f.server_system_s_per_1000) {
        (Some(t), Some(k)) => Cell::text(format!("{} ({})", figure(t.median), figure(k.median))),
        (t, _) => median_cell(t.as_ref(), None),
    };
    let runs = if vc.runs == measured {
        vc.runs.to_string()
    } else {
        format!("{} ({measured} measured)", vc.runs)
    };
    let ratio = |fig: &Figure| ratio_cell(fig.spread(r));
    vec![
        Cell::text(&v.name),
        Cell::text(runs),
        median_cell(CAPACITY.spread(f), bound.then_some("‡")),
        ratio(&CAPACITY),
        median_cell(COST_P50.spread(f), None),
        ratio(&COST_P50),
        median_cell(COST_P99.spread(f), overloaded.then_some("§")),
        ratio(&COST_P99),
        cpu,
        ratio(&COST_CPU_PER_1000),
        median_cell(FAULTS.spread(f), None),
        if faults_ratio {
            ratio(&FAULTS)
        } else {
            Cell::missing()
        },
    ]
}

/// The price table, how it was measured, and the plot.
fn price_table(s: &Summary, c: &CostInfo, out: &mut Page) {
    let reference = &c.reference;
    out.push_str("## The price of each fix\n\n");
    how_measured(s, c, out);
    let ref_faults = s.reference_faults();
    let faults_ratio = ref_faults.is_some_and(|f| f >= FAULTS_FOR_A_RATIO);
    let x = format!("× {reference}");
    let (t, notes) = price_grid(s, reference, faults_ratio);
    out.table(&t);
    out.push('\n');
    let _ = write!(
        out,
        "Medians over the ok runs; each **{x}** column is the ratio to {reference}'s figure taken per round (a variant's run *n* against {reference}'s run *n*), its median and, in brackets, its min–max over the rounds (a single figure: one round, no spread)."
    );
    if !faults_ratio {
        let _ = write!(
            out,
            " {reference} faults next to never per response ({}), so minor faults are shown as they are, without a ratio.",
            ref_faults.map_or_else(|| markdown::MISSING.into(), figure)
        );
    }
    out.push_str("\n\n");
    let Footnotes {
        bound,
        overloaded,
        stopped,
    } = notes;
    if !bound.is_empty() {
        let _ = writeln!(
            out,
            "‡ The capacity was the client's or the shared machine's, not the server's, in some runs — a lower bound of the server's: {}.\n",
            markdown::escape(&bound.join("; "))
        );
    }
    if !overloaded.is_empty() {
        let _ = writeln!(
            out,
            "§ Its capacity was below the fixed rate in some runs: overloaded at that rate, its latency is a queue's, not its work's: {}.\n",
            markdown::escape(&overloaded.join("; "))
        );
    }
    if !stopped.is_empty() {
        let _ = writeln!(
            out,
            "Cost measurements that stopped short (the memory figures of those runs stand): {}.\n",
            stopped.join("; ")
        );
    }
    let _ = writeln!(
        out,
        "![After-drain RssAnon against each cost as a ratio to {reference}'s, with the spread over rounds and runs](cost.png)\n"
    );
    out.push_str("Vector version: [cost.svg](cost.svg).\n\n");
}

/// How the cost was measured, in enough detail to measure it again by hand.
fn how_measured(s: &Summary, c: &CostInfo, out: &mut Page) {
    let mut p = String::from(
        "Measured after each memory run, once its server had exited: a second server of the same variant with the memory run's settings less the egress cap",
    );
    let flags = shown_flags(&c.server_args);
    if !flags.is_empty() {
        let _ = write!(p, " (`{}`, plus the variant's own)", flags.join(" "));
    }
    let _ = write!(
        p,
        ", after a {}s warmup at the scenario's warmup rate, was driven closed loop by {} for {}s, with the memory run's request and deadline and no retries: its **capacity** is the ok responses per second. Then, with the same processes and connections, open loop at a fixed rate for {}s",
        secs(c.warmup_s),
        clients(c.processes as usize, c.connections as usize),
        secs(c.capacity_s),
        secs(c.latency_s),
    );
    match (c.latency_rate, &c.latency_rate_basis) {
        (Some(r), Some(b)) => {
            let _ = write!(p, ", {r:.1} requests/s ({b})");
        }
        (Some(r), None) => {
            let _ = write!(p, ", {r:.1} requests/s");
        }
        _ => {}
    }
    p.push_str(
        ": p50 and p99 from the intended send time, the server's CPU (utime + stime of `/proc/<pid>/stat`, kernel share in brackets) and its minor page faults, per ok response.",
    );
    if c.latency_rates.len() > 1 {
        let rates: Vec<String> = c
            .latency_rates
            .iter()
            .map(|u| {
                format!(
                    "{:.1}/s in {} run{}",
                    u.rate_rps,
                    u.runs,
                    if u.runs == 1 { "" } else { "s" }
                )
            })
            .collect();
        let _ = write!(
            p,
            " **Not every run had the same fixed rate** ({}): latency ratios across them compare different loads.",
            rates.join(", ")
        );
    }
    let cores = |pick: fn(&crate::report::summary::CostSpreads) -> Option<&Spread>| {
        let spreads: Vec<&Spread> = s
            .variants
            .iter()
            .filter_map(|v| pick(&v.cost.as_ref()?.figures))
            .collect();
        (!spreads.is_empty()).then(|| {
            (
                spreads.iter().map(|x| x.min).fold(f64::INFINITY, f64::min),
                spreads
                    .iter()
                    .map(|x| x.max)
                    .fold(f64::NEG_INFINITY, f64::max),
            )
        })
    };
    if let Some(n) = c.nproc {
        let _ = write!(
            p,
            " The server and the client shared the machine's {n} core{}",
            if n == 1 { "" } else { "s" }
        );
        let server = cores(|f| f.capacity_server_cores.as_ref());
        let client = cores(|f| f.capacity_client_cores.as_ref());
        if let (Some(sv), Some(cl)) = (server, client) {
            let _ = write!(
                p,
                ": in the capacity phase the server used {:.2}–{:.2} cores and the client {:.2}–{:.2} (over every ok run)",
                sv.0, sv.1, cl.0, cl.1
            );
        }
        p.push('.');
    }
    out.push_str(&p);
    out.push_str("\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::summary::recommend::tests::{priced, priced_summary};
    use crate::report::summary::{CostSpreads, RunNote, VariantSummary};
    use crate::scenario::MemoryBudget;

    /// Priced variants with no budget; a fixed rate and capacity flags to say how it was measured.
    fn summary(variants: Vec<VariantSummary>) -> Summary {
        let mut s = priced_summary(variants, MemoryBudget::default());
        let c = s.cost.as_mut().unwrap();
        c.latency_rate = Some(329.7);
        c.server_args = ["--listen", "127.0.0.1:0", "--seed", "42", "--workers", "4"]
            .map(String::from)
            .to_vec();
        s
    }

    fn render(s: &Summary) -> String {
        let mut out = Page::markdown();
        cost_table(s, &mut out);
        out.into_parts().0
    }

    #[test]
    fn the_price_table_with_ratios_and_how_it_was_measured() {
        let mut a = priced("jemalloc", &[0.02, 0.02], &[0.6, 0.66], &[1.1, 1.3]);
        let c = a.cost.as_mut().unwrap();
        c.figures = CostSpreads {
            capacity_rps: Spread::of(&[400.0, 420.0]),
            latency_p50_ms: Spread::of(&[3.0, 3.0]),
            latency_p99_ms: Spread::of(&[14.0, 16.0]),
            server_cpu_s_per_1000: Spread::of(&[0.6, 0.6]),
            server_system_s_per_1000: Spread::of(&[0.4, 0.4]),
            minflt_per_response: Spread::of(&[0.34, 0.34]),
            capacity_server_cores: Spread::of(&[0.4, 0.5]),
            capacity_client_cores: Spread::of(&[0.3, 0.45]),
        };
        c.client_bound = vec![RunNote {
            run_index: 2,
            why: "the client used 1.9 of 2 cores".into(),
        }];
        c.client_bound_runs = 1;
        c.rate_above_capacity = vec![RunNote {
            run_index: 1,
            why: crate::report::summary::BelowRate::Rates {
                capacity_rps: 400.0,
                rate_rps: 450.0,
            },
        }];
        c.failures = vec![RunNote {
            run_index: 3,
            why: "server did not start".into(),
        }];
        let glibc = priced("glibc", &[0.8, 0.8], &[1.0, 1.0], &[1.0, 1.0]);
        let md = render(&summary(vec![glibc, a]));
        assert!(
            md.starts_with("## The price of each fix\n\nMeasured after each memory run"),
            "{md}"
        );
        assert!(
            md.contains("(`--workers 4`, plus the variant's own)"),
            "{md}"
        );
        assert!(
            md.contains("closed loop by 2 client processes over 16 connections for 5s"),
            "{md}"
        );
        assert!(
            md.contains("329.7 requests/s (0.5 x the capacity of glibc #1 (659/s))"),
            "{md}"
        );
        assert!(md.contains("shared the machine's 2 cores: in the capacity phase the server used 0.40–0.50 cores and the client 0.30–0.45"), "{md}");
        assert!(
            md.contains("| variant | runs | capacity (ok/s) | × glibc | p50 (ms) |"),
            "{md}"
        );
        assert!(
            md.contains("| jemalloc | 2 | 410 ‡ | 0.63 (0.60–0.66) | 3.00 | – | 15.0 § | 1.20 (1.10–1.30) | 0.60 (0.40) | 1.10 | 0.34 | – |"),
            "{md}"
        );
        // The reference's faults per response (0.5 in `priced`) are below a ratio's worth.
        assert!(
            md.contains("glibc faults next to never per response (0.50)"),
            "{md}"
        );
        assert!(md.contains("‡ The capacity was the client's or the shared machine's, not the server's, in some runs — a lower bound of the server's: `jemalloc` in 1 of 2 runs (run 2: the client used 1.9 of 2 cores)."), "{md}");
        assert!(
            md.contains("`jemalloc` run 3: server did not start"),
            "{md}"
        );
        assert!(md.contains("](cost.png)"), "{md}");
    }

    #[test]
    fn without_cost_data_the_memory_runs_table() {
        let mut s = summary(vec![VariantSummary::for_test("glibc", 1, None)]);
        s.cost = None;
        let md = render(&s);
        assert!(md.starts_with("## Cost\n\n| variant | req/s |"), "{md}");
    }
}
