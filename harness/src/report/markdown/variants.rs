//! The variants under the scenario paragraph: each one's binary, settings and preload.

use std::fmt::Write as _;

use crate::report::summary::Summary;

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
