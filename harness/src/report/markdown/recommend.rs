//! `## Recommendation`: at the top of the page when the runs measured their cost. The variants
//! that meet the memory budget, cheapest first, the cheapest named with the line that applies
//! it and what it costs; then the variants over the budget and why. Says so when the spread
//! does not separate two variants, when a capacity was the client's, and when one round gives
//! no spread at all. Renders [`crate::report::summary::Recommendation`].

use std::fmt::Write as _;

use super::min_max;
use crate::report::summary::{CostInfo, Priced, Spread, Summary};
use crate::report::words::{capitalized, joined};
use crate::table::{mib, ratio as figure};

/// The recommendation, when the summary has cost data.
pub(super) fn recommendation(s: &Summary, out: &mut String) {
    let Some(c) = &s.cost else { return };
    let r = &c.recommendation;
    let reference = &c.reference;
    out.push_str("## Recommendation\n\n");
    let total = s.variants.len();
    match budget_text(c) {
        Some(b) => {
            let _ = write!(
                out,
                "Memory budget (`[cost.budget]`): {b}, on the medians over the ok runs (on the worst run for a variant whose A spreads widely: its ok runs' A apart by more than half the median and 4 MiB). "
            );
            match r.within_budget.len() {
                0 => out.push_str("No variant meets it.\n\n"),
                n => {
                    let _ = writeln!(out, "{n} of {total} variants meet it.\n");
                }
            }
        }
        None => out.push_str(
            "The scenario states no memory budget (`[cost.budget]`): every variant is listed by price.\n\n",
        ),
    }
    let rate = rate_text(c);

    if let Some(p) = r
        .cheapest
        .as_ref()
        .and_then(|n| r.within_budget.iter().find(|p| &p.name == n))
    {
        let within = if r.budget_stated {
            "Cheapest within the budget"
        } else {
            "Cheapest"
        };
        let _ = write!(out, "**{within}: `{}`**", p.name);
        if &p.name == reference {
            out.push_str(" (the reference)");
        }
        if let Some(line) = &p.apply_line {
            let _ = write!(out, ", applied with `{line}`");
        }
        out.push_str(". ");
        let mut costs: Vec<String> = ratios(p, &format!("p99 latency{rate}"))
            .into_iter()
            .filter_map(|(what, x)| {
                let x = x.as_ref()?;
                Some(format!(
                    "{}× {reference}'s {what} ({})",
                    figure(x.median),
                    rounds(x)
                ))
            })
            .collect();
        if let Some(x) = &p.minflt_per_response {
            let theirs = s
                .reference_faults()
                .map(|f| format!(" ({reference}: {})", figure(f)))
                .unwrap_or_default();
            costs.push(format!(
                "{} minor page faults per response{theirs}",
                figure(x.median)
            ));
        }
        if costs.is_empty() {
            out.push_str("No cost figure against the reference.");
        } else {
            let _ = write!(out, "Its price: {}.", join_and(&costs));
        }
        if let Some(peak) = peak_text(s, p, reference) {
            let _ = write!(out, " {peak}.");
        }
        out.push_str("\n\n");
        honesty(s, p, reference, out);
    }

    if !r.within_budget.is_empty() {
        let _ = writeln!(
            out,
            "{}, by price (capacity as a ratio to {reference}'s, per round, highest first; the lower p99 on a tie):\n",
            if r.budget_stated {
                "Within the budget"
            } else {
                "Every variant"
            }
        );
        for (i, p) in r.within_budget.iter().enumerate() {
            let _ = writeln!(out, "{}. {}", i + 1, priced_line(p, reference, &rate));
        }
        out.push('\n');
    }

    if !r.over_budget.is_empty() {
        out.push_str("Over the budget:\n\n");
        for o in &r.over_budget {
            let mut line = format!("- `{}`", o.name);
            if &o.name == reference {
                line.push_str(" (the reference)");
            }
            let _ = write!(line, ": {}", joined(&o.why, "; "));
            if let Some(n) = &o.after_nudge {
                let _ = write!(
                    line,
                    ". It gave memory back once a trickle of requests called it again: {n}; the budget is read after the drain"
                );
            }
            if let (Some(x), false) = (&o.capacity_ratio, &o.name == reference) {
                let _ = write!(
                    line,
                    ". Capacity {}× {reference}'s ({})",
                    figure(x.median),
                    rounds(x)
                );
            }
            line.push('.');
            out.push_str(&line);
            out.push('\n');
        }
        out.push('\n');
    }
    out.push_str(
        "How each cost was measured, and every figure: [The price of each fix](#the-price-of-each-fix).\n\n",
    );
}

/// The budget's limits in words, or `None` when it states none.
fn budget_text(c: &CostInfo) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(r) = c.budget.max_retention {
        parts.push(format!("retention at most {r:.2} after the drain"));
    }
    if let Some(b) = c.budget.max_after_drain_bytes {
        parts.push(format!(
            "RssAnon after the drain at most {}",
            allocstorm_core::units::format_size(b)
        ));
    }
    (!parts.is_empty()).then(|| parts.join(" and "))
}

/// ` at 330 requests/s`, the fixed rate of the latency phase.
pub(super) fn rate_text(c: &CostInfo) -> String {
    c.latency_rate
        .map(|r| format!(" at {r:.0} requests/s"))
        .unwrap_or_default()
}

/// The price's ratios to the reference, each with what it is (`p99` as the caller names it).
fn ratios<'a>(p: &'a Priced, p99: &'a str) -> [(&'a str, &'a Option<Spread>); 3] {
    [
        ("capacity", &p.capacity_ratio),
        (p99, &p.p99_ratio),
        ("server CPU per 1,000 responses", &p.server_cpu_ratio),
    ]
}

/// `0.60–0.66 over 3 rounds`, or `one round: no spread`.
fn rounds(x: &Spread) -> String {
    if x.n < 2 {
        "one round: no spread".into()
    } else if figure(x.min) == figure(x.max) {
        format!("the same in all {} rounds", x.n)
    } else {
        format!("{} over {} rounds", min_max(x), x.n)
    }
}

/// `At the peak it needs 1.06× glibc's RssAnon (P 345.2 against 325.0 MiB), the highest P of
/// the 7 variants`; none without a P.
fn peak_text(s: &Summary, p: &Priced, reference: &str) -> Option<String> {
    let peak = |name: &str| {
        s.variants
            .iter()
            .find(|v| v.name == name)?
            .medians
            .rss_peak_bytes
    };
    let mine = peak(&p.name)?;
    let mut text = match (p.peak_ratio, peak(reference)) {
        (Some(x), Some(theirs)) if p.name != reference => format!(
            "At the peak it needs {}× {reference}'s RssAnon (P {} against {} MiB)",
            figure(x),
            mib(mine),
            mib(theirs)
        ),
        _ => format!("Its P is {} MiB", mib(mine)),
    };
    if p.highest_peak {
        let _ = write!(text, ", the highest P of the {} variants", s.variants.len());
    }
    Some(text)
}

/// `a, b and c`.
fn join_and(parts: &[String]) -> String {
    match parts {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// What a reader must know before taking the order as certain: spreads that overlap, a
/// capacity that was the client's, a reference whose was, a single round.
fn honesty(s: &Summary, p: &Priced, reference: &str, out: &mut String) {
    let Some(c) = &s.cost else { return };
    let r = &c.recommendation;
    let mut said = Vec::new();
    if !p.not_separated_from.is_empty() {
        let others: Vec<String> = p
            .not_separated_from
            .iter()
            .filter_map(|n| r.within_budget.iter().find(|q| &q.name == n))
            .map(|q| {
                format!(
                    "`{}` ({})",
                    q.name,
                    q.capacity_ratio.as_ref().map(min_max).unwrap_or_default()
                )
            })
            .collect();
        said.push(format!(
            "Its capacity ratio ({}) is not separated by the spread from that of {}: either could be the cheaper, and more rounds would tell.",
            p.capacity_ratio.as_ref().map(min_max).unwrap_or_default(),
            join_and(&others)
        ));
    }
    let priced: Vec<&Priced> = r
        .within_budget
        .iter()
        .filter(|q| q.capacity_ratio.is_some())
        .collect();
    if !priced.is_empty()
        && priced
            .iter()
            .all(|q| q.capacity_ratio.as_ref().unwrap().n < 2)
    {
        said.push(
            "One round per variant: the ratios have no spread, and the order is that of single measurements, which a second round could change."
                .into(),
        );
    }
    if !p.client_bound.is_empty() {
        said.push(format!(
            "Its capacity was the client's in {} run{} ({}): a lower bound of the client, not the server's.",
            p.client_bound.len(),
            if p.client_bound.len() == 1 { "" } else { "s" },
            p.client_bound.join("; ")
        ));
    }
    if !p.rate_above_capacity.is_empty() {
        said.push(format!(
            "Its capacity was below the fixed rate in {} run{} ({}): at that rate it was overloaded, and its latency is a queue's, not its work's.",
            p.rate_above_capacity.len(),
            if p.rate_above_capacity.len() == 1 { "" } else { "s" },
            joined(&p.rate_above_capacity, "; ")
        ));
    }
    let reference_bound = s
        .variants
        .iter()
        .find(|v| v.name == reference)
        .and_then(|v| v.cost.as_ref())
        .map_or(0, |c| c.client_bound_runs);
    if reference_bound > 0 && p.name != reference {
        said.push(format!(
            "{reference}'s capacity was the client's in {reference_bound} run{}: the ratios to it are of a lower bound.",
            if reference_bound == 1 { "" } else { "s" }
        ));
    }
    for n in &p.notes {
        said.push(format!("{}.", capitalized(&n.to_string())));
    }
    if let Some(n) = &p.after_nudge {
        said.push(format!("{}.", capitalized(&n.to_string())));
    }
    if !said.is_empty() {
        out.push_str(&said.join(" "));
        out.push_str("\n\n");
    }
}

/// One line of the list within the budget.
fn priced_line(p: &Priced, reference: &str, rate: &str) -> String {
    let mut line = format!("`{}`", p.name);
    if p.name == reference {
        line.push_str(" (the reference)");
    }
    if let Some(why) = &p.unpriced {
        let _ = write!(line, " — no price: {why}");
        return line;
    }
    let ratio = |x: &Spread| {
        if x.n < 2 {
            format!("{}× (one round)", figure(x.median))
        } else if figure(x.min) == figure(x.max) {
            format!("{}× (every round)", figure(x.median))
        } else {
            format!("{}× ({})", figure(x.median), min_max(x))
        }
    };
    let mut parts: Vec<String> = ratios(p, &format!("p99{rate}"))
        .into_iter()
        .filter_map(|(what, x)| Some(format!("{what} {}", ratio(x.as_ref()?))))
        .collect();
    if let Some(x) = &p.minflt_per_response {
        parts.push(format!("{} minor faults per response", figure(x.median)));
    }
    if let Some(x) = p.peak_ratio {
        parts.push(format!("P {}×", figure(x)));
    }
    let _ = write!(line, " — {}", parts.join(", "));
    if p.highest_peak {
        line.push_str("; the highest P");
    }
    if !p.not_separated_from.is_empty() {
        let others: Vec<String> = p
            .not_separated_from
            .iter()
            .map(|n| format!("`{n}`"))
            .collect();
        let _ = write!(
            line,
            "; not separated from {} by the spread",
            join_and(&others)
        );
    }
    if !p.client_bound.is_empty() {
        line.push_str("; capacity a lower bound (the client's in some run)");
    }
    if !p.rate_above_capacity.is_empty() {
        line.push_str("; overloaded at the fixed rate in some run (its latency is a queue's)");
    }
    if !p.notes.is_empty() {
        let _ = write!(line, "; {}", joined(&p.notes, "; "));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::summary::recommend::tests::{priced, priced_summary as summary};
    use crate::report::summary::RunNote;
    use crate::scenario::MemoryBudget;

    fn retention(r: f64) -> MemoryBudget {
        MemoryBudget {
            max_retention: Some(r),
            max_after_drain_bytes: None,
        }
    }

    fn render(s: &Summary) -> String {
        let mut out = String::new();
        recommendation(s, &mut out);
        out
    }

    /// Issue 25: the variant named had the highest P, and no page said so.
    #[test]
    fn the_cheapest_with_the_highest_peak_is_told_so() {
        let mut fast = priced("fast", &[0.02, 0.02], &[1.1, 1.2], &[1.0, 1.0]);
        fast.medians.figures.rss_peak_bytes = Some(210 << 20);
        let variants = vec![priced("glibc", &[0.8, 0.8], &[1.0, 1.0], &[1.0, 1.0]), fast];
        let md = render(&summary(variants, retention(0.1)));
        assert!(
            md.contains(" At the peak it needs 2.00× glibc's RssAnon (P 210.0 against 105.0 MiB), the highest P of the 2 variants.\n"),
            "{md}"
        );
        assert!(md.contains(", P 2.00×; the highest P\n"), "{md}");
    }

    #[test]
    fn the_cheapest_within_the_budget_with_its_line_and_price() {
        let s = summary(
            vec![
                priced(
                    "glibc",
                    &[0.85, 0.87, 0.8],
                    &[1.0, 1.0, 1.0],
                    &[1.0, 1.0, 1.0],
                ),
                priced(
                    "slow",
                    &[0.02, 0.02, 0.02],
                    &[0.3, 0.35, 0.4],
                    &[3.0, 3.0, 3.0],
                ),
                priced(
                    "fast",
                    &[0.02, 0.02, 0.02],
                    &[0.6, 0.63, 0.66],
                    &[1.1, 1.2, 1.3],
                ),
            ],
            retention(0.1),
        );
        let md = render(&s);
        assert!(md.starts_with("## Recommendation\n\nMemory budget (`[cost.budget]`): retention at most 0.10 after the drain, on the medians over the ok runs (on the worst run for a variant whose A spreads widely: its ok runs' A apart by more than half the median and 4 MiB). 2 of 3 variants meet it."), "{md}");
        assert!(
            md.contains("**Cheapest within the budget: `fast`**, applied with `apply fast`. Its price: 0.63× glibc's capacity (0.60–0.66 over 3 rounds), 1.20× glibc's p99 latency at 330 requests/s (1.10–1.30 over 3 rounds), 1.10× glibc's server CPU per 1,000 responses (one round: no spread) and 0.50 minor page faults per response (glibc: 0.50). At the peak it needs 1.00× glibc's RssAnon (P 105.0 against 105.0 MiB).\n"),
            "{md}"
        );
        let fast = md
            .find("1. `fast` — capacity 0.63× (0.60–0.66)")
            .expect(&md);
        let slow = md
            .find("2. `slow` — capacity 0.35× (0.30–0.40)")
            .expect(&md);
        assert!(fast < slow);
        assert!(
            md.contains(
                "- `glibc` (the reference): retention 0.85 > 0.10 (0.80–0.87 over 3 runs)."
            ),
            "{md}"
        );
        assert!(!md.contains("not separated"), "{md}");
        // The same ratio in every round.
        assert!(
            md.contains(
                "2. `slow` — capacity 0.35× (0.30–0.40), p99 at 330 requests/s 3.00× (every round)"
            ),
            "{md}"
        );
        assert!(!md.contains("no spread, and the order"), "{md}");
    }

    #[test]
    fn overlapping_spreads_are_not_ranked_as_if_certain() {
        let s = summary(
            vec![
                priced("a", &[0.02, 0.02], &[0.6, 0.7], &[1.0, 1.0]),
                priced("b", &[0.02, 0.02], &[0.65, 0.8], &[1.0, 1.0]),
            ],
            retention(0.1),
        );
        let md = render(&s);
        assert!(
            md.contains("Its capacity ratio (0.65–0.80) is not separated by the spread from that of `a` (0.60–0.70): either could be the cheaper"),
            "{md}"
        );
        assert!(md.contains("2. `a` — capacity 0.65× (0.60–0.70)"), "{md}");
        assert!(
            md.contains("; not separated from `b` by the spread"),
            "{md}"
        );
    }

    #[test]
    fn one_round_says_there_is_no_spread() {
        let s = summary(
            vec![
                priced("a", &[0.02], &[0.6], &[1.0]),
                priced("b", &[0.02], &[0.65], &[1.0]),
            ],
            retention(0.1),
        );
        let md = render(&s);
        assert!(
            md.contains("One round per variant: the ratios have no spread"),
            "{md}"
        );
        assert!(
            md.contains("0.65× glibc's capacity (one round: no spread)"),
            "{md}"
        );
        assert!(md.contains("1. `b` — capacity 0.65× (one round)"), "{md}");
    }

    #[test]
    fn a_client_bound_capacity_is_a_lower_bound() {
        let mut a = priced("a", &[0.02, 0.02], &[0.9, 1.0], &[1.0, 1.0]);
        a.cost.as_mut().unwrap().client_bound = vec![RunNote {
            run_index: 2,
            why: "the client used 1.90 of the 2 cores its 2 processes can use".into(),
        }];
        let s = summary(vec![a], retention(0.1));
        let md = render(&s);
        assert!(
            md.contains("Its capacity was the client's in 1 run (the client used 1.90 of the 2 cores its 2 processes can use): a lower bound of the client, not the server's."),
            "{md}"
        );
        assert!(
            md.contains("capacity a lower bound (the client's in some run)"),
            "{md}"
        );
        assert!(!md.contains("overloaded"), "{md}");
    }

    #[test]
    fn a_capacity_below_the_fixed_rate_makes_its_latency_a_queues() {
        let mut a = priced("a", &[0.02, 0.02], &[0.4, 0.5], &[50.0, 90.0]);
        a.cost.as_mut().unwrap().rate_above_capacity = vec![RunNote {
            run_index: 2,
            why: crate::report::summary::BelowRate::Rates {
                capacity_rps: 206.0,
                rate_rps: 330.0,
            },
        }];
        let md = render(&summary(vec![a], retention(0.1)));
        assert!(
            md.contains("Its capacity was below the fixed rate in 1 run (run 2: capacity 206/s below the fixed rate 330/s): at that rate it was overloaded, and its latency is a queue's, not its work's."),
            "{md}"
        );
        assert!(
            md.contains("; overloaded at the fixed rate in some run (its latency is a queue's)"),
            "{md}"
        );
    }

    #[test]
    fn over_the_budget_with_why_and_the_nudge() {
        let mut m = priced("mimalloc", &[0.3, 0.98], &[1.1, 1.2], &[1.0, 1.0]);
        m.medians.figures.rss_after_nudge_bytes = Some(19 << 20);
        let s = summary(vec![m], retention(0.1));
        let md = render(&s);
        assert!(md.contains("No variant meets it."), "{md}");
        assert!(!md.contains("Cheapest"), "{md}");
        assert!(
            md.contains("- `mimalloc`: retention 0.64 > 0.10 (0.30–0.98 over 2 runs). It gave memory back once a trickle of requests called it again: after the nudge 19.0 MiB, retention 0.14 (after the drain 69.0 MiB); the budget is read after the drain. Capacity 1.15× glibc's (1.10–1.20 over 2 rounds)."),
            "{md}"
        );
    }

    #[test]
    fn without_a_budget_every_variant_by_price() {
        let s = summary(
            vec![
                priced("glibc", &[0.8], &[1.0], &[1.0]),
                priced("a", &[0.02], &[1.3], &[1.0]),
            ],
            MemoryBudget::default(),
        );
        let md = render(&s);
        assert!(md.contains("The scenario states no memory budget (`[cost.budget]`): every variant is listed by price."), "{md}");
        assert!(md.contains("**Cheapest: `a`**"), "{md}");
        assert!(md.contains("Every variant, by price"), "{md}");
        assert!(
            md.contains("2. `glibc` (the reference) — capacity 1.00× (one round)"),
            "{md}"
        );
        assert!(!md.contains("Over the budget"), "{md}");
    }

    #[test]
    fn nothing_without_cost_data() {
        let mut s = summary(vec![], MemoryBudget::default());
        s.cost = None;
        assert_eq!(render(&s), "");
    }
}
