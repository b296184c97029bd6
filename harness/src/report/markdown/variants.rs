//! The variants under the scenario paragraph: each one's binary, settings and preload.

use std::fmt::Write as _;

use crate::report::summary::{Summary, VariantSummary};

/// Each variant's settings (a sweep's points once, under their base).
pub(super) fn variants_list(s: &Summary, out: &mut String) {
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
        match &v.preload {
            Some(lib) => {
                let _ = write!(
                    line,
                    "; preloaded `{lib}` (LD_PRELOAD: its malloc served the load)"
                );
                // The build's own settings (/stats) are those of glibc, idle under the
                // preload: what is in effect is what the probe found serving malloc.
                if let Some(served) = served_by(v) {
                    let _ = write!(line, "; in effect: {served}");
                }
            }
            // The build's own settings where it has them (the toy server's /stats); for a
            // target, which has none, whoever the probe found serving malloc (Debian's Redis
            // runs on its linked jemalloc under the variant named glibc).
            None => match (&v.allocator_settings, served_by(v)) {
                (Some(set), _) => {
                    let _ = write!(line, "; in effect: `{}`", set);
                }
                (None, Some(served)) => {
                    let _ = write!(line, "; in effect: {served}");
                }
                (None, None) => {}
            },
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

/// Who served `malloc` in the variant's median run, as the probe's pages say: `tcmalloc`
/// from `/usr/lib/…/libtcmalloc_minimal.so.4`.
fn served_by(v: &VariantSummary) -> Option<String> {
    let e = v.explained.as_ref()?;
    if e.allocators.is_empty() {
        return None;
    }
    let who: Vec<String> = e.allocators.iter().map(|a| format!("`{a}`")).collect();
    let from: Vec<String> = e
        .malloc_libraries
        .iter()
        .map(|l| format!("`{l}`"))
        .collect();
    let mut s = format!("malloc served by {}", who.join(", "));
    if !from.is_empty() {
        s.push_str(&format!(" from {}", from.join(", ")));
    }
    s.push_str(" (the probe's page)");
    Some(s)
}
