//! The scenario's hash: what baselines key on.

use sha2::{Digest, Sha256};

/// sha256 of what shapes a run: the scenario without its `[gate]` section (budgets judge runs,
/// they do not change them, so editing one must not orphan every baseline) and without
/// `[cost]` (measured on a second server after the memory run's has exited: it moves none of
/// B, P, A: docs/cost.md#it-does-not-move-the-memory-figures), and of the variants file the
/// variants the scenario names in `variants` (all of them when it names none), each without
/// its `apply`: a variant added for another scenario shapes none of this one's runs. Both are
/// hashed as parsed tables, so comments and layout do not count either.
pub(super) fn scenario_hash(text: &str, vtext: &str, templates: &[String]) -> String {
    let canonical = |t: &str| -> String {
        match toml::from_str::<toml::Table>(t) {
            Ok(mut table) => {
                table.remove("gate");
                table.remove("cost");
                toml::to_string(&table).unwrap_or_else(|_| t.to_string())
            }
            Err(_) => t.to_string(),
        }
    };
    // A variant's `apply` is the line a report prints, not a setting of the run.
    let named: Option<Vec<String>> = toml::from_str::<toml::Table>(text)
        .ok()
        .and_then(|t| t.get("variants")?.as_array().cloned())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        });
    let variants = match toml::from_str::<toml::Table>(vtext) {
        Ok(mut table) => {
            if let Some(toml::Value::Array(vs)) = table.get_mut("variant") {
                if let Some(named) = &named {
                    vs.retain(|v| {
                        let name = v.get("name").and_then(toml::Value::as_str);
                        name.is_some_and(|n| named.iter().any(|m| m == n))
                    });
                }
                for v in vs.iter_mut().filter_map(toml::Value::as_table_mut) {
                    v.remove("apply");
                }
            }
            toml::to_string(&table).unwrap_or_else(|_| vtext.to_string())
        }
        Err(_) => vtext.to_string(),
    };
    let mut h = Sha256::new();
    h.update(canonical(text).as_bytes());
    h.update(b"\0");
    h.update(variants.as_bytes());
    for t in templates {
        h.update(b"\0");
        h.update(t.as_bytes());
    }
    format!("{:x}", h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_ignores_gate_cost_apply_comments_and_layout_but_not_settings() {
        let base = "name = \"x\"\n[load]\nrate = \"400/s\"\n";
        let v = "[[variant]]\nname = \"glibc\"\nbinary = \"target-server-glibc\"\n";
        let h = scenario_hash(base, v, &[]);
        let with_gate =
            format!("# a comment\n{base}\n[gate.variants.glibc]\nmin_retention = 0.4\n");
        assert_eq!(scenario_hash(&with_gate, v, &[]), h);
        let with_cost = format!("{base}\n[cost]\ncapacity = \"3s\"\n");
        assert_eq!(scenario_hash(&with_cost, v, &[]), h);
        let with_apply = format!("{v}apply = \"link it\"\n");
        assert_eq!(scenario_hash(base, &with_apply, &[]), h);
        // A variant the scenario does not run changes nothing; one it runs does.
        let named = format!("variants = [\"glibc\"]\n{base}");
        let h_named = scenario_hash(&named, v, &[]);
        let more = format!("{v}[[variant]]\nname = \"other\"\nbinary = \"b\"\n");
        assert_eq!(scenario_hash(&named, &more, &[]), h_named);
        assert_ne!(
            scenario_hash(base, &more, &[]),
            h,
            "no list: every variant runs"
        );
        assert_ne!(scenario_hash(&base.replace("400", "300"), v, &[]), h);
        assert_ne!(
            scenario_hash(base, &v.replace("glibc\"\nbinary", "glibc2\"\nbinary"), &[]),
            h
        );
    }
}
