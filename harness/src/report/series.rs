//! The extra time series a scenario declares under `[report] series`: one `/stats` figure each,
//! read from every reading of a run through a JSON pointer. The scenario says what it measures
//! (the byte pool's get-on-empty, the RPC pool's bytes, ...), so the report needs no case per
//! scenario. Pure: a record in, points out.

use crate::record::RunRecord;
use crate::scenario::{SeriesKind, SeriesSpec, SeriesUnit};

/// The series declared by the records, in the order the first declaring record lists them; a
/// series is known by its label and pointer, so records of one scenario give each one once.
pub fn declared(records: &[RunRecord]) -> Vec<SeriesSpec> {
    let mut out: Vec<SeriesSpec> = Vec::new();
    for s in records.iter().flat_map(|r| &r.header.report.series) {
        if !out.iter().any(|o| o.label == s.label && o.stat == s.stat) {
            out.push(s.clone());
        }
    }
    out
}

/// The series of one run as `(t, value)`: `t` in seconds since the run started, the value in
/// the series' unit (bytes or a count; per second for a rate). A reading without the figure
/// (the answer to `/admin/release`, a server that does not report it) is skipped. A rate is the
/// increase between two consecutive readings that have the figure, divided by their time gap,
/// placed at the later one.
pub fn points(r: &RunRecord, spec: &SeriesSpec) -> Vec<(f64, f64)> {
    let readings: Vec<(f64, f64)> = r
        .stats
        .iter()
        .filter_map(|s| Some((s.t, s.stats.pointer(&spec.stat)?.as_f64()?)))
        .collect();
    match spec.kind {
        SeriesKind::Gauge => readings,
        SeriesKind::Rate => readings
            .windows(2)
            .filter(|w| w[1].0 > w[0].0)
            .map(|w| (w[1].0, (w[1].1 - w[0].1) / (w[1].0 - w[0].0)))
            .collect(),
    }
}

/// The highest value of a run's series; `None` when it has no point.
pub fn peak(r: &RunRecord, spec: &SeriesSpec) -> Option<f64> {
    points(r, spec)
        .into_iter()
        .map(|p| p.1)
        .filter(|v| v.is_finite())
        .reduce(f64::max)
}

/// The unit a reader sees: counts as they are, bytes in MiB; `/s` for a rate.
pub fn display_unit(spec: &SeriesSpec) -> &'static str {
    match (spec.unit, spec.kind) {
        (SeriesUnit::Count, SeriesKind::Gauge) => "",
        (SeriesUnit::Count, SeriesKind::Rate) => "/s",
        (SeriesUnit::Bytes, SeriesKind::Gauge) => "MiB",
        (SeriesUnit::Bytes, SeriesKind::Rate) => "MiB/s",
    }
}

/// The label with its unit for an axis or a column, unless the label already says it
/// (`byte pool (MiB)`); counts carry theirs in the label (`get-on-empty/s`).
pub fn labelled(spec: &SeriesSpec) -> String {
    match spec.unit {
        SeriesUnit::Bytes if !spec.label.contains("MiB") => {
            format!("{} ({})", spec.label, display_unit(spec))
        }
        _ => spec.label.clone(),
    }
}

/// A value in the series' unit, scaled to what [`display_unit`] names.
pub fn display_value(spec: &SeriesSpec, v: f64) -> f64 {
    match spec.unit {
        SeriesUnit::Count => v,
        SeriesUnit::Bytes => v / (1024.0 * 1024.0),
    }
}

/// What the series is, in words: for a caption or a sentence.
pub fn describe(spec: &SeriesSpec) -> String {
    let unit = match display_unit(spec) {
        "" | "/s" => String::new(),
        u => format!(", in {u}"),
    };
    match spec.kind {
        SeriesKind::Gauge => format!("`{}` of `/stats`{unit}", spec.stat),
        SeriesKind::Rate => format!(
            "the increase per second of `{}` of `/stats` between readings{unit}",
            spec.stat
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::StatsSample;
    use serde_json::json;

    fn spec(kind: SeriesKind, unit: SeriesUnit) -> SeriesSpec {
        SeriesSpec {
            label: "get-on-empty/s".into(),
            stat: "/pools/bytes/get_on_empty".into(),
            kind,
            unit,
        }
    }

    fn with_stats(values: &[(f64, serde_json::Value)]) -> RunRecord {
        let mut header = crate::report::summary::test_header("glibc", 0);
        header.sample_interval_s = 0.05;
        let mut r = RunRecord::from_header(header);
        r.stats = values
            .iter()
            .map(|(t, v)| StatsSample {
                t: *t,
                stats: v.clone(),
            })
            .collect();
        r
    }

    fn counter(v: u64) -> serde_json::Value {
        json!({"pools": {"bytes": {"get_on_empty": v}}})
    }

    #[test]
    fn rate_of_a_counter_skips_readings_without_it() {
        let r = with_stats(&[
            (1.0, counter(0)),
            (2.0, counter(10)),
            (2.5, json!({"released": true})),
            (3.0, counter(30)),
            (4.0, counter(30)),
        ]);
        let s = spec(SeriesKind::Rate, SeriesUnit::Count);
        assert_eq!(points(&r, &s), [(2.0, 10.0), (3.0, 20.0), (4.0, 0.0)]);
        assert_eq!(peak(&r, &s), Some(20.0));
        let g = spec(SeriesKind::Gauge, SeriesUnit::Count);
        assert_eq!(peak(&r, &g), Some(30.0));
    }

    #[test]
    fn no_readings_no_peak() {
        let r = with_stats(&[(1.0, json!({"app": {"live_bytes": 5}}))]);
        assert_eq!(peak(&r, &spec(SeriesKind::Gauge, SeriesUnit::Bytes)), None);
        assert_eq!(peak(&r, &spec(SeriesKind::Rate, SeriesUnit::Count)), None);
    }

    #[test]
    fn units_as_a_reader_sees_them() {
        let b = spec(SeriesKind::Gauge, SeriesUnit::Bytes);
        assert_eq!(display_unit(&b), "MiB");
        assert_eq!(display_value(&b, 3.0 * 1024.0 * 1024.0), 3.0);
        assert_eq!(
            display_unit(&spec(SeriesKind::Rate, SeriesUnit::Count)),
            "/s"
        );
        assert_eq!(labelled(&b), "get-on-empty/s (MiB)");
        let said = SeriesSpec {
            label: "byte pool (MiB)".into(),
            ..b
        };
        assert_eq!(labelled(&said), "byte pool (MiB)");
        assert_eq!(
            labelled(&spec(SeriesKind::Rate, SeriesUnit::Count)),
            "get-on-empty/s"
        );
    }
}
