//! The scenario's hash: what baselines key on.

use sha2::{Digest, Sha256};

/// sha256 of what shapes a run: the scenario without its `[gate]` section (budgets judge runs,
/// they do not change them, so editing one must not orphan every baseline) and the variants
/// file. Both are hashed as parsed tables, so comments and layout do not count either.
pub(super) fn scenario_hash(text: &str, vtext: &str, templates: &[String]) -> String {
    let canonical = |t: &str, drop_gate: bool| -> String {
        match toml::from_str::<toml::Table>(t) {
            Ok(mut table) => {
                if drop_gate {
                    table.remove("gate");
                }
                toml::to_string(&table).unwrap_or_else(|_| t.to_string())
            }
            Err(_) => t.to_string(),
        }
    };
    let mut h = Sha256::new();
    h.update(canonical(text, true).as_bytes());
    h.update(b"\0");
    h.update(canonical(vtext, false).as_bytes());
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
    fn hash_ignores_gate_comments_and_layout_but_not_settings() {
        let base = "name = \"x\"\n[load]\nrate = \"400/s\"\n";
        let v = "[[variant]]\nname = \"glibc\"\nbinary = \"target-server-glibc\"\n";
        let h = scenario_hash(base, v, &[]);
        let with_gate =
            format!("# a comment\n{base}\n[gate.variants.glibc]\nmin_retention = 0.4\n");
        assert_eq!(scenario_hash(&with_gate, v, &[]), h);
        assert_ne!(scenario_hash(&base.replace("400", "300"), v, &[]), h);
        assert_ne!(
            scenario_hash(base, &v.replace("glibc\"\nbinary", "glibc2\"\nbinary"), &[]),
            h
        );
    }
}
