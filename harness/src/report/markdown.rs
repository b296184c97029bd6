//! `report.md`: the scenario in a paragraph, the figures table, the runs that did not end ok,
//! the sweep, the series the scenario declares, what the allocator held next to what the app
//! held, the cost, every run, the plots and the environment — ready to paste into a design
//! review. Reads the summary only: every number here is also in `summary.json`.

use std::fmt::Write as _;
use std::path::Path;

use super::format::MARKDOWN;
use super::series;
use super::summary::{FigureSet, HeldVsLive, Summary, SweepAt, VariantSummary};
use super::{write_atomic, Exporter, ReportError, ReportInput};
use crate::figures::MIN_GROWTH_FOR_RETENTION;

pub struct ReportMarkdown;

impl Exporter for ReportMarkdown {
    fn export(&self, input: &ReportInput<'_>, dir: &Path) -> Result<(), ReportError> {
        write_atomic(&dir.join("report.md"), markdown(input.summary).as_bytes())
    }
}

/// The header of the figures table (tests and readers look for it).
pub const TABLE_HEADER: &str = "| variant | status | runs | B (MiB) | P (MiB) | A (MiB) | retention | t90 (s) | VSZ after drain (MiB) | req/s | p50 (ms) | p99 (ms) | CV of A |";

const DASH: &str = MARKDOWN.missing;

fn mib(v: Option<u64>) -> String {
    MARKDOWN.mib(v)
}

fn num(v: Option<f64>, decimals: usize) -> String {
    MARKDOWN.num(v, decimals)
}

fn count(v: Option<u64>) -> String {
    v.map(|n| n.to_string()).unwrap_or_else(|| DASH.into())
}

/// A series value: whole numbers without decimals, one decimal below 100, none above.
fn short(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 || v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// A JSON value as a person writes it: `8`, `buffered`.
fn shown(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The point of a sweep: its value, and its label when that says more (`0 (unbounded)`).
fn point(p: &SweepAt) -> String {
    let value = shown(&p.value);
    if p.label == value || p.label == format!("{}={value}", p.name) {
        value
    } else {
        format!("{value} ({})", p.label)
    }
}

fn secs(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

/// A table cell: pipes and newlines would break the row.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

fn t90(f: &FigureSet) -> String {
    MARKDOWN.t90(f)
}

fn status(v: &VariantSummary) -> String {
    if v.status == "ok" {
        "ok".into()
    } else {
        format!("**{}**", v.status)
    }
}

/// What was run, how hard and for how long, in a paragraph; then the variants.
fn scenario_paragraph(s: &Summary, out: &mut String) {
    let sc = &s.scenario;
    let mut p = format!("Scenario **{}**", sc.name);
    let mut meta = Vec::new();
    if !sc.path.is_empty() {
        meta.push(format!("`{}`", sc.path));
    }
    if !sc.hash.is_empty() {
        meta.push(format!(
            "sha256 `{}`",
            sc.hash.get(..12).unwrap_or(&sc.hash)
        ));
    }
    meta.push(format!("seed {}", sc.seed));
    if sc.quick {
        meta.push("quick phases".into());
    }
    let _ = write!(p, " ({}).", meta.join(", "));
    if !sc.description.is_empty() {
        let _ = write!(p, " {}.", sc.description.trim_end_matches('.'));
    }
    server_sentence(s, &mut p);
    load_sentence(s, &mut p);
    phases_sentence(s, &mut p);
    sweep_sentence(s, &mut p);
    if let Some(limit) = sc.memory_limit_bytes {
        let _ = write!(
            p,
            " Memory limit: {}; a server whose VmRSS crossed it was killed (SIGKILL) and its run \
             recorded as `oom`.",
            allocstorm_core::units::format_size(limit)
        );
    }
    out.push_str(&p);
    out.push_str("\n\n");
    variants_list(s, out);
}

/// The server: the toy server's flags, or the scenario's own target.
fn server_sentence(s: &Summary, p: &mut String) {
    let sc = &s.scenario;
    // The listen address is always loopback:0 and the seed is above: neither says anything.
    let mut flags = Vec::new();
    let mut args = sc.server_args.iter();
    while let Some(a) = args.next() {
        if a == "--listen" || a == "--seed" {
            args.next();
        } else {
            flags.push(a.as_str());
        }
    }
    if let Some(t) = &sc.target {
        let how = match (t.sample.as_str(), t.max_processes) {
            ("tree", Some(n)) => format!(
                "its process tree, summed ({n} processes at most; each process's figures are in the run records)"
            ),
            ("tree", None) => "its process tree, summed".into(),
            _ => "the started process".into(),
        };
        let _ = write!(
            p,
            " The server was the scenario's own target, `{}`, not the toy server; memory is that of {how}.",
            t.command.join(" ")
        );
    } else if !flags.is_empty() {
        let _ = write!(
            p,
            " The server ran with `{}`, plus each variant's own settings below (the server's defaults otherwise; the settings in effect are in each run's record).",
            flags.join(" ")
        );
    }
}

/// The load of `during`.
fn load_sentence(s: &Summary, p: &mut String) {
    let sc = &s.scenario;
    if let Some(l) = &sc.load {
        let how = match l.offered_rate {
            Some(r) => format!("offered {r:.0} requests/s (open loop)"),
            None => "sent requests back to back (closed loop)".into(),
        };
        let _ = write!(
            p,
            " During the load, {} client process{} over {} connection{} {how} of `Range: bytes={}` ({}) on `{}`, \
             with a {}s deadline per attempt and up to {} retr{} (backoff from {}s).",
            l.processes,
            if l.processes == 1 { "" } else { "es" },
            l.connections,
            if l.connections == 1 { "" } else { "s" },
            l.range,
            allocstorm_core::units::format_size(l.range_bytes),
            l.path,
            secs(l.timeout_s),
            l.max_retries,
            if l.max_retries == 1 { "y" } else { "ies" },
            secs(l.backoff_s),
        );
    }
}

/// The phases as planned.
fn phases_sentence(s: &Summary, p: &mut String) {
    let sc = &s.scenario;
    if let Some(ph) = &sc.phases_planned {
        let mut parts = vec![
            format!("warmup {}s", secs(ph.warmup.as_secs_f64())),
            format!("before {}s", secs(ph.before.as_secs_f64())),
            format!("during {}s", secs(ph.during.as_secs_f64())),
            format!("drain {}s", secs(ph.drain.as_secs_f64())),
        ];
        if !ph.nudge.is_zero() {
            parts.push(format!(
                "nudge {}s at {}/s",
                secs(ph.nudge.as_secs_f64()),
                ph.nudge_rate
            ));
        }
        if !ph.release.is_zero() {
            parts.push(format!("release {}s", secs(ph.release.as_secs_f64())));
        }
        let _ = write!(p, " Phases: {}.", parts.join(", "));
    }
}

/// The swept setting, if any.
fn sweep_sentence(s: &Summary, p: &mut String) {
    let sc = &s.scenario;
    if let Some(sw) = &sc.sweep {
        let values: Vec<String> = sw.values.iter().map(shown).collect();
        let example = s.variants.iter().find(|v| v.sweep.is_some());
        let _ = write!(
            p,
            " Swept: `{}` = {}; every variant ran once per value{}.",
            sw.field,
            values.join(", "),
            match example {
                Some(v) => format!(" (`{}` is `{}` at that point)", v.name, v.base_variant),
                None => String::new(),
            }
        );
    }
}

/// Each variant's settings (a sweep's points once, under their base).
fn variants_list(s: &Summary, out: &mut String) {
    out.push_str("Variants:\n\n");
    for (i, v) in s.variants.iter().enumerate() {
        // A sweep's points share their base variant's settings: listed once, with the points.
        if v.sweep.is_some()
            && s.variants[..i]
                .iter()
                .any(|o| o.sweep.is_some() && o.base_variant == v.base_variant)
        {
            continue;
        }
        let name = if v.sweep.is_some() {
            &v.base_variant
        } else {
            &v.name
        };
        // A target runs as it is: the variant's binary names the toy server's build only.
        let mut line = match &s.scenario.target {
            Some(_) => format!("- `{name}`: the target"),
            None => format!("- `{name}`: {}", v.binary),
        };
        if !v.description.is_empty() {
            let _ = write!(line, " — {}", v.description);
        }
        if !v.env.is_empty() {
            let env: Vec<String> = v.env.iter().map(|(k, val)| format!("{k}={val}")).collect();
            let _ = write!(line, "; env `{}`", env.join(" "));
        }
        if !v.args.is_empty() {
            let _ = write!(line, "; args `{}`", v.args.join(" "));
        }
        if let Some(lib) = &v.preload {
            // The build's own allocator figures (/stats) are glibc's, idle under the preload.
            let _ = write!(
                line,
                "; preloaded `{lib}` (LD_PRELOAD: its malloc served the load)"
            );
        }
        if let Some(set) = &v.allocator_settings {
            let _ = write!(line, "; in effect: `{}`", set);
        }
        if v.sweep.is_some() {
            let points: Vec<String> = s
                .variants
                .iter()
                .filter(|o| o.sweep.is_some() && o.base_variant == v.base_variant)
                .map(|o| format!("`{}`", o.name))
                .collect();
            let _ = write!(line, "; run as {}", points.join(", "));
        }
        out.push_str(&line);
        out.push('\n');
    }
    out.push('\n');
}

fn figures_table(s: &Summary, out: &mut String) {
    out.push_str("## Results\n\n");
    out.push_str(TABLE_HEADER);
    out.push('\n');
    out.push_str("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
    for v in &s.variants {
        let m = &v.medians;
        let runs = if v.runs_ok == v.runs {
            v.runs.to_string()
        } else {
            format!("{} ({} ok)", v.runs, v.runs_ok)
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | **{}** | {} | {} | {} | {} | {} | {} | {} |",
            v.name,
            status(v),
            runs,
            mib(m.rss_before_bytes),
            mib(m.rss_peak_bytes),
            mib(m.rss_after_drain_bytes),
            num(m.retention, 2),
            t90(m),
            mib(m.vsz_after_drain_bytes),
            num(m.throughput_rps, 0),
            num(m.latency_ms.p50, 1),
            num(m.latency_ms.p99, 1),
            v.rss_after_drain_cv
                .map(|c| format!("{:.1}%", c * 100.0))
                .unwrap_or_else(|| DASH.into()),
        );
    }
    let _ = writeln!(
        out,
        "\nMedians over the ok runs of RssAnon. **B**: median over the last second of `before`; **P**: highest \
         during the load; **A**: median over the last second of `drain`, the gate figure; **retention** \
         (A − B) / (P − B), blank when P − B < {} MiB; **t90**: seconds from the load stop until RssAnon is back \
         within 10% of the growth (`never` if it did not); **VSZ** after drain; **req/s** ok responses per second \
         and latency from the intended send time, during the load; **CV of A**: run-to-run coefficient of \
         variation (sample standard deviation / mean) of A, the noise a regression must exceed.\n",
        MIN_GROWTH_FOR_RETENTION >> 20
    );
    if s.scenario.series.is_empty() {
        out.push_str("![RssAnon over time, one line per variant](rss-timeline.png)\n\n");
    } else {
        out.push_str("![RssAnon over time and, under it, the series the scenario declares, one line per variant](rss-timeline.png)\n\n");
    }
    out.push_str("![RssAnon before, at peak and after drain per variant](rss-summary.png)\n\n");
    out.push_str("Vector versions: [rss-timeline.svg](rss-timeline.svg), [rss-summary.svg](rss-summary.svg).\n\n");
}

/// Who holds the growth over the baseline at this instant, from the allocator's and the app's
/// own figures: the question of incident 001.
fn holder(h: &HeldVsLive, before: Option<u64>) -> String {
    let (Some(rss), Some(b)) = (h.rss_anon_bytes, before) else {
        return DASH.into();
    };
    let growth = rss.saturating_sub(b);
    if growth < MIN_GROWTH_FOR_RETENTION {
        return "near the baseline".into();
    }
    let half = growth / 2;
    match (h.allocator_free_held_bytes, h.app_live_bytes) {
        (Some(free), _) if free >= half => "the allocator: freed, not returned".into(),
        (_, Some(live)) if live >= half && h.app_pool_bytes.is_some_and(|p| p >= live / 2) => {
            "the app: live data, mostly its pools".into()
        }
        (_, Some(live)) if live >= half => "the app: live data".into(),
        (None, None) => DASH.into(),
        _ => "neither figure explains it".into(),
    }
}

/// The instants of the held-vs-live table.
fn breakdown_rows(v: &VariantSummary) -> [(&'static str, Option<&HeldVsLive>); 2] {
    [
        ("peak", v.memory_breakdown.peak.as_ref()),
        ("after drain", v.memory_breakdown.after_drain.as_ref()),
    ]
}

fn breakdown_table(s: &Summary, out: &mut String) {
    let no_readings = s
        .variants
        .iter()
        .all(|v| breakdown_rows(v).iter().all(|r| r.1.is_none()));
    if no_readings && s.scenario.target.is_some() {
        // A server of the user's own says nothing of its allocator unless it has `stats`.
        out.push_str(
            "## What the allocator held vs what the app held

",
        );
        out.push_str(
            "The target has no stats endpoint (`[target] stats`): only what the kernel charges it \
             is known. The mappings below tell the allocator's heap from other memory.\n\n",
        );
        return;
    }
    // The pools column only when the app has pools.
    let pools = s
        .variants
        .iter()
        .flat_map(|v| breakdown_rows(v).into_iter().filter_map(|r| r.1))
        .any(|h| h.app_pool_bytes.is_some_and(|p| p > 0));
    out.push_str("## What the allocator held vs what the app held\n\n");
    out.push_str("| variant | when | t (s) | RssAnon (MiB) | allocator held (MiB) | in use (MiB) | free held (MiB) | app live (MiB) |");
    if pools {
        out.push_str(" of which pools (MiB) |");
    }
    out.push_str(" the growth over B is held by |\n");
    out.push_str("|---|---|--:|--:|--:|--:|--:|--:|");
    if pools {
        out.push_str("--:|");
    }
    out.push_str("---|\n");
    let mut any = false;
    for v in &s.variants {
        for (when, h) in breakdown_rows(v) {
            let Some(h) = h else { continue };
            any = true;
            let _ = write!(
                out,
                "| {} | {when} | {:.1} | {} | {} | {} | {} | {} |",
                v.name,
                h.t_s,
                mib(h.rss_anon_bytes),
                mib(h.allocator_held_bytes),
                mib(h.allocator_in_use_bytes),
                mib(h.allocator_free_held_bytes),
                mib(h.app_live_bytes),
            );
            if pools {
                let _ = write!(out, " {} |", mib(h.app_pool_bytes));
            }
            let _ = writeln!(out, " {} |", holder(h, figures_of(v).0.rss_before_bytes));
        }
    }
    if !any {
        out.push_str("| – | no `/stats` readings in the records | | | | | | |");
        out.push_str(if pools { " | |\n" } else { " |\n" });
    }
    out.push_str(
        "\nFrom the server's `/stats` in each variant's median run (without an ok run: its failed or oom run, until \
         it ended): at the peak (the reading of the load nearest the highest \
         RssAnon) and after the drain (the last reading within `drain`), next to the nearest RssAnon sample; t is \
         seconds since the load started. **held**: what the allocator holds from the OS; **in use**: what the \
         app holds through it; **free held** = held − in use, freed memory the allocator keeps; **app live**: \
         the app's own count (block index and in-flight buffers, and its pools when it has them). RSS well above \
         live bytes with a large free held is the allocator retaining memory; live bytes close to RSS is the app \
         holding it.",
    );
    if pools {
        out.push_str(
            " **of which pools**: the part of app live kept in the app's own pools (`app.pool_bytes`) for reuse \
             instead of being freed.",
        );
    }
    out.push_str("\n\n");
}

fn mappings_table(s: &Summary, out: &mut String) {
    if s.variants
        .iter()
        .all(|v| v.memory_breakdown.mappings.is_empty())
    {
        return;
    }
    out.push_str("## Mappings (what `pmap -X` shows)\n\n");
    out.push_str("| variant | when | t (s) | glibc arena heaps | arena resident (MiB) | arena committed (MiB) | arena reserved only (MiB) | main heap resident (MiB) | other anonymous resident (MiB) |\n");
    out.push_str("|---|---|--:|--:|--:|--:|--:|--:|--:|\n");
    for v in &s.variants {
        for m in &v.memory_breakdown.mappings {
            let b = &m.breakdown;
            let _ = writeln!(
                out,
                "| {} | {} | {:.1} | {} | {} | {} | {} | {} | {} |",
                v.name,
                m.when,
                m.t_s,
                b.arena_heaps,
                mib(Some(b.arena_heap_rss)),
                mib(Some(b.arena_heap_committed)),
                mib(Some(b.arena_heap_reserved)),
                mib(Some(b.main_heap_rss)),
                mib(Some(b.other_anon_rss)),
            );
        }
    }
    out.push_str(
        "\nFrom `/proc/<pid>/smaps` in each variant's median run, nearest the end of `before`, the peak and the \
         end of `drain`. A glibc thread-arena heap is a 64 MiB-aligned anonymous `rw-p` mapping plus the `---p` \
         rest of its 64 MiB reservation: each new arena adds 64 MiB of VSZ, and only its resident part is RSS. \
         Other allocators' regions, and glibc's mmapped chunks, count as other anonymous memory.\n\n",
    );
}

/// Every run that did not end ok, with why: an `oom` run's failure says when and at what RSS
/// it crossed the limit. An outcome to read, not a reason to distrust the other rows.
fn not_ok_runs(s: &Summary, out: &mut String) {
    let runs: Vec<_> = s
        .variants
        .iter()
        .flat_map(|v| v.run_figures.iter().map(move |r| (v, r)))
        .filter(|(_, r)| r.status != "ok")
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

/// The medians over a variant's ok runs or, for a variant without one, the figures of its run
/// that shows its status (an `oom` run as far as it went), and whether it is the latter.
fn figures_of(v: &VariantSummary) -> (&FigureSet, bool) {
    match v.run_figures.iter().find(|r| r.status == v.status) {
        Some(r) if v.runs_ok == 0 => (&r.figures, true),
        _ => (&v.medians, false),
    }
}

/// The sweep, base variant × point: the figures it is for (VSZ and arena heaps, incident 002)
/// next to RSS, and the plot when the values are numbers.
fn sweep_table(s: &Summary, out: &mut String) {
    let Some(sw) = &s.scenario.sweep else { return };
    let _ = writeln!(out, "## Sweep: `{}`\n", sw.field);
    let _ = writeln!(
        out,
        "| variant | {} | status | VSZ B (MiB) | VSZ P (MiB) | VSZ A (MiB) | RSS P (MiB) | RSS A (MiB) | arena heaps B | arena heaps P | arena heaps A |",
        sw.field
    );
    let numeric = sw.numeric_values().is_some();
    let _ = writeln!(
        out,
        "|---|{}|---|--:|--:|--:|--:|--:|--:|--:|--:|",
        if numeric { "--:" } else { "---" }
    );
    let mut as_measured = false;
    for v in &s.variants {
        let Some(p) = &v.sweep else { continue };
        // A point without an ok run (an oom point) shows its run as far as it went, in italics.
        let (m, measured) = figures_of(v);
        as_measured |= measured;
        let mark = if measured { "*" } else { "" };
        let it = |c: String| {
            if c == DASH {
                c
            } else {
                format!("{mark}{c}{mark}")
            }
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            v.base_variant,
            cell(&point(p)),
            status(v),
            it(mib(m.vsz_before_bytes)),
            it(mib(m.vsz_peak_bytes)),
            it(mib(m.vsz_after_drain_bytes)),
            it(mib(m.rss_peak_bytes)),
            it(mib(m.rss_after_drain_bytes)),
            it(count(m.arena_heaps_before)),
            it(count(m.arena_heaps_peak)),
            it(count(m.arena_heaps_after_drain)),
        );
    }
    let _ = writeln!(
        out,
        "\nEvery variant ran once per value of `{}` (the points are named `variant@{}=value` elsewhere); medians \
         over each point's ok runs. **VSZ** is VmSize: B over the last second of `before`, P its highest during \
         the load, A over the last second of `drain`. **arena heaps**: glibc thread-arena heaps in `smaps`, the \
         last count within `before`, the highest during the load, the last within `drain`; each reserves 64 MiB \
         of address space, so VSZ steps up 64 MiB per new arena while RSS need not move.{}\n",
        sw.field,
        sw.name,
        if as_measured {
            " *Italics*: a point without an ok run, as its run measured until it ended."
        } else {
            ""
        }
    );
    if sw.numeric_values().is_some() {
        let _ = writeln!(
            out,
            "![VSZ, RSS and glibc arena heaps against {}](sweep.png)\n\nVector version: [sweep.svg](sweep.svg).\n",
            sw.field
        );
    }
}

/// A variant's peak of a declared series: the median over its ok runs, or for a variant with
/// none the highest of its runs as measured (said so).
fn series_peak(v: &VariantSummary, label: &str) -> Option<(f64, bool)> {
    let of = |f: &FigureSet| {
        f.series_peaks
            .iter()
            .find(|p| p.label == label)
            .and_then(|p| p.peak)
    };
    if v.runs_ok > 0 {
        return of(&v.medians).map(|p| (p, true));
    }
    v.run_figures
        .iter()
        .filter_map(|r| of(&r.figures))
        .reduce(f64::max)
        .map(|p| (p, false))
}

/// The series the scenario declares: what each is, and each variant's peak. The curves are in
/// the timeline, under RssAnon.
fn series_table(s: &Summary, out: &mut String) {
    let specs = &s.scenario.series;
    if specs.is_empty() {
        return;
    }
    out.push_str("## Declared series\n\n");
    for spec in specs {
        let _ = writeln!(
            out,
            "- **{}**: {}; drawn under RssAnon in the timeline.",
            cell(&spec.label),
            series::describe(spec)
        );
    }
    out.push_str("\n| variant | status |");
    for spec in specs {
        let _ = write!(out, " peak {} |", cell(&series::labelled(spec)));
    }
    out.push_str("\n|---|---|");
    out.push_str(&"--:|".repeat(specs.len()));
    out.push('\n');
    for v in &s.variants {
        let _ = write!(out, "| {} | {} |", v.name, status(v));
        for spec in specs {
            let c = match series_peak(v, &spec.label) {
                Some((p, true)) => short(series::display_value(spec, p)),
                Some((p, false)) => format!(
                    "{} ({} run)",
                    short(series::display_value(spec, p)),
                    v.status
                ),
                None => DASH.into(),
            };
            let _ = write!(out, " {c} |");
        }
        out.push('\n');
    }
    out.push_str(
        "\nPeak: the highest value over the run (a rate: the highest increase per second between two \
         consecutive `/stats` readings), median over the ok runs; for a variant without an ok run, the highest \
         of its runs until they ended.\n\n",
    );
}

fn cost_table(s: &Summary, out: &mut String) {
    out.push_str("## Cost\n\n");
    out.push_str("| variant | req/s | p50 (ms) | p99 (ms) | server CPU (s) during load | server CPU s / 1000 responses |\n");
    out.push_str("|---|--:|--:|--:|--:|--:|\n");
    for v in &s.variants {
        let m = &v.medians;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            v.name,
            num(m.throughput_rps, 0),
            num(m.latency_ms.p50, 1),
            num(m.latency_ms.p99, 1),
            num(m.server_cpu_during_s, 2),
            num(m.server_cpu_s_per_1000_responses, 3),
        );
    }
    out.push_str("\n![After-drain RSS against throughput, p99 and server CPU](cost.png)\n\n");
    out.push_str("Vector version: [cost.svg](cost.svg).\n\n");
}

fn runs_table(s: &Summary, out: &mut String) {
    out.push_str("## Runs\n\n");
    out.push_str("| variant | run | status | started | B (MiB) | P (MiB) | A (MiB) | retention | t90 (s) | req/s | p99 (ms) | errors | retries | note |\n");
    out.push_str("|---|--:|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n");
    for v in &s.variants {
        for r in &v.run_figures {
            let f = &r.figures;
            let mut note = r.failure.clone().unwrap_or_default();
            if Some(r.run_index) == v.median_run_index {
                note = if note.is_empty() {
                    "median run".into()
                } else {
                    format!("median run; {note}")
                };
            }
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                v.name,
                r.run_index,
                if r.status == "ok" {
                    "ok".to_string()
                } else {
                    format!("**{}**", r.status)
                },
                if r.started_at.is_empty() {
                    DASH
                } else {
                    &r.started_at
                },
                mib(f.rss_before_bytes),
                mib(f.rss_peak_bytes),
                mib(f.rss_after_drain_bytes),
                num(f.retention, 2),
                t90(f),
                num(f.throughput_rps, 0),
                num(f.latency_ms.p99, 1),
                r.load_errors
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| DASH.into()),
                r.load_retries
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| DASH.into()),
                cell(&note),
            );
        }
    }
    out.push('\n');
}

fn environment(s: &Summary, out: &mut String) {
    let e = &s.environment;
    out.push_str("## Environment\n\n");
    let or_dash = |v: &str| {
        if v.is_empty() {
            DASH.to_string()
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
        (None, _) => DASH.into(),
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

/// The whole `report.md`.
pub fn markdown(s: &Summary) -> String {
    let mut out = format!("# allocstorm report: {}\n\n", s.scenario.name);
    scenario_paragraph(s, &mut out);
    if !s.warnings.is_empty() {
        out.push_str("> **Read with care:**\n");
        for w in &s.warnings {
            let _ = writeln!(out, "> - {}", w.replace('\n', " "));
        }
        out.push('\n');
    }
    figures_table(s, &mut out);
    not_ok_runs(s, &mut out);
    sweep_table(s, &mut out);
    series_table(s, &mut out);
    breakdown_table(s, &mut out);
    mappings_table(s, &mut out);
    cost_table(s, &mut out);
    runs_table(s, &mut out);
    environment(s, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figures::Figures;

    const M: u64 = 1 << 20;

    fn at(rss: u64, free: u64, live: u64) -> HeldVsLive {
        HeldVsLive {
            t_s: 30.0,
            rss_anon_bytes: Some(rss * M),
            allocator_in_use_bytes: Some(live * M),
            allocator_held_bytes: Some((live + free) * M),
            allocator_free_held_bytes: Some(free * M),
            app_live_bytes: Some(live * M),
            app_pool_bytes: None,
        }
    }

    #[test]
    fn who_holds_the_growth() {
        let b = Some(10 * M);
        assert_eq!(
            holder(&at(300, 280, 5), b),
            "the allocator: freed, not returned"
        );
        assert_eq!(holder(&at(300, 10, 270), b), "the app: live data");
        assert_eq!(holder(&at(300, 20, 20), b), "neither figure explains it");
        assert_eq!(holder(&at(12, 1, 1), b), "near the baseline");
        assert_eq!(holder(&at(300, 280, 5), None), DASH);
        let pooled = HeldVsLive {
            app_pool_bytes: Some(200 * M),
            ..at(300, 10, 270)
        };
        assert_eq!(holder(&pooled, b), "the app: live data, mostly its pools");
    }

    #[test]
    fn t90_says_never_only_after_growth() {
        let grew = Figures {
            rss_before_bytes: Some(M),
            rss_peak_bytes: Some(100 * M),
            ..Default::default()
        };
        let set = |figures: Figures| FigureSet {
            figures,
            ..Default::default()
        };
        assert_eq!(t90(&set(grew.clone())), "never");
        assert_eq!(
            t90(&set(Figures {
                t90_s: Some(1.25),
                ..grew
            })),
            "1.2"
        );
        assert_eq!(t90(&FigureSet::default()), DASH);
    }

    #[test]
    fn cells_keep_the_table_intact() {
        assert_eq!(cell("a | b\nc"), "a \\| b c");
    }
}
