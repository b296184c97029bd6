//! The scenario in a paragraph: what was run, on which server, how hard, for how long, and the
//! swept setting.

use std::fmt::Write as _;

use super::{clients, secs, shown, shown_flags};
use crate::load::per_request::RequestShape;
use crate::report::summary::Summary;

/// What was run, how hard and for how long, in a paragraph.
pub(super) fn scenario_paragraph(s: &Summary, out: &mut String) {
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
}

/// The server: the toy server's flags, or the scenario's own target.
fn server_sentence(s: &Summary, p: &mut String) {
    let sc = &s.scenario;
    let flags = shown_flags(&sc.server_args);
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
    if let Some(t) = &sc.load_tool {
        let _ = write!(
            p,
            " The scenario's own load tool, `{}`, drove {}; req/s, p50 and p99 are the figures it gave (`[load.figures]`), blank where it gave none.",
            t.name,
            t.phases.iter().map(|x| format!("`{x}`")).collect::<Vec<_>>().join(", "),
        );
    }
    if let Some(l) = &sc.load {
        let how = match l.offered_rate {
            Some(r) => format!("offered {r:.0} requests/s (open loop)"),
            None => "sent requests back to back (closed loop)".into(),
        };
        let what = if l.requests.is_empty() {
            format!(
                "`Range: bytes={}` ({}) on `{}`",
                l.range,
                allocstorm_core::units::format_size(l.range_bytes),
                l.path
            )
        } else {
            mix_words(&l.requests)
        };
        let _ = write!(
            p,
            " During the load, {} {how} of {what}, \
             with a {}s deadline per attempt and up to {} retr{} (backoff from {}s).",
            clients(l.processes, l.connections),
            secs(l.timeout_s),
            l.max_retries,
            if l.max_retries == 1 { "y" } else { "ies" },
            secs(l.backoff_s),
        );
    }
}

/// A request mix in words: `a mix of weight 90 GET /files/{key} (keys hot:0.9 of 10000,
/// Range: bytes=0-262143) and weight 10 PUT …`.
fn mix_words(requests: &[RequestShape]) -> String {
    let size = allocstorm_core::units::format_size;
    let entries: Vec<String> = requests
        .iter()
        .map(|r| {
            let mut about = Vec::new();
            if r.path.contains(crate::load::mix::KEY) {
                about.push(format!("keys {} of {}", r.keys, r.key_space));
            }
            if let Some((a, b)) = r.range {
                about.push(format!("`Range: bytes={a}-{b}`"));
            }
            if let Some((a, b)) = r.body {
                about.push(format!("bodies of {}-{}", size(a), size(b)));
            }
            let about = if about.is_empty() {
                String::new()
            } else {
                format!(" ({})", about.join(", "))
            };
            format!("weight {} `{} {}`{about}", r.weight, r.method, r.path)
        })
        .collect();
    format!("a request mix: {}", entries.join("; "))
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
        if let Some(soak) = ph.soak {
            parts.push(format!(
                "during + drain repeated for {}s (a soak)",
                secs(soak.as_secs_f64())
            ));
        }
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
