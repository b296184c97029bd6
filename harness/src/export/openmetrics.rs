//! `openmetrics`: OpenMetrics text (https://openmetrics.io), which Prometheus reads too: one
//! gauge family per unit (`allocstorm_figure_bytes`, `_seconds`, `_ratio`,
//! `_responses_per_second`), a sample per scenario, variant and figure, its value the median
//! over the ok runs.

use std::fmt::Write;

use super::measures::Benchmark;
use crate::report::catalogue::BaseUnit;

/// The families, in the order they are written.
const FAMILIES: [BaseUnit; 4] = [
    BaseUnit::Bytes,
    BaseUnit::Seconds,
    BaseUnit::Ratio,
    BaseUnit::PerSecond,
];

/// The unit of a family: its `# UNIT` and the suffix of its name.
fn unit(u: BaseUnit) -> &'static str {
    match u {
        BaseUnit::Bytes => "bytes",
        BaseUnit::Seconds => "seconds",
        BaseUnit::Ratio => "ratio",
        BaseUnit::PerSecond => "responses_per_second",
    }
}

pub fn render(benchmarks: &[Benchmark<'_>]) -> Vec<u8> {
    let mut out = String::new();
    for family in FAMILIES {
        let samples: Vec<String> = benchmarks
            .iter()
            .flat_map(|b| {
                b.measures
                    .iter()
                    .filter(move |m| m.unit == family)
                    .map(move |m| {
                        format!(
                            "{{scenario=\"{}\",variant=\"{}\",figure=\"{}\"}} {}",
                            escape(b.scenario),
                            escape(b.variant),
                            escape(&m.name),
                            m.value
                        )
                    })
            })
            .collect();
        if samples.is_empty() {
            continue;
        }
        let u = unit(family);
        let name = format!("allocstorm_figure_{u}");
        let _ = writeln!(out, "# TYPE {name} gauge");
        let _ = writeln!(out, "# UNIT {name} {u}");
        let _ = writeln!(
            out,
            "# HELP {name} allocstorm figures in {u}: the median over the ok runs of each variant (docs/exports.md)."
        );
        for s in samples {
            let _ = writeln!(out, "{name}{s}");
        }
    }
    out.push_str("# EOF\n");
    out.into_bytes()
}

/// A label value as the text format quotes it: backslash, double quote and newline escaped.
fn escape(s: &str) -> String {
    s.replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', r"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), r#"a\"b\\c\nd"#);
        assert_eq!(escape("glibc-arena2"), "glibc-arena2");
    }
}
