//! `bmf`: Bencher Metric Format JSON (https://bencher.dev/docs/reference/bencher-metric-format),
//! one benchmark per scenario and variant, one measure per exported figure, its bounds the ok
//! runs' lowest and highest.

use serde_json::{json, Map, Value};

use super::measures::Benchmark;

/// `{"hot-range/glibc": {"rss-after-drain": {"value": …, "lower_value": …, "upper_value": …}}}`.
pub fn render(benchmarks: &[Benchmark<'_>]) -> Vec<u8> {
    let doc: Map<String, Value> = benchmarks
        .iter()
        .map(|b| {
            let measures: Map<String, Value> = b
                .measures
                .iter()
                .map(|m| {
                    let mut metric = json!({ "value": m.value });
                    if let Some((lo, hi)) = m.bounds {
                        metric["lower_value"] = json!(lo);
                        metric["upper_value"] = json!(hi);
                    }
                    (m.kebab(), metric)
                })
                .collect();
            (b.name(), Value::Object(measures))
        })
        .collect();
    let mut bytes = serde_json::to_vec_pretty(&Value::Object(doc)).expect("JSON of numbers");
    bytes.push(b'\n');
    bytes
}
