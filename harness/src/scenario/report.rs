//! `[report]`: what the report shows beyond memory.

use serde::{Deserialize, Serialize};

use super::error::{Ctx, ScenarioError};

/// What a scenario asks the report to show beyond memory: extra time series read from `/stats`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReportSpec {
    #[serde(default)]
    pub series: Vec<SeriesSpec>,
}

/// One `/stats` figure plotted under the RSS timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesSpec {
    /// Axis label, e.g. "get-on-empty/s".
    pub label: String,
    /// JSON pointer into the `/stats` document, e.g. "/pools/bytes/get_on_empty".
    pub stat: String,
    /// `gauge` plots the value; `rate` plots its increase per second (for counters).
    #[serde(default)]
    pub kind: SeriesKind,
    /// `count` or `bytes` (plotted in MiB).
    #[serde(default)]
    pub unit: SeriesUnit,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SeriesKind {
    #[default]
    Gauge,
    Rate,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SeriesUnit {
    #[default]
    Count,
    Bytes,
}

/// Each series has a label and a JSON pointer.
pub(super) fn check_series(ctx: &Ctx, series: &[SeriesSpec]) -> Result<(), ScenarioError> {
    for (i, se) in series.iter().enumerate() {
        if se.label.trim().is_empty() {
            return Err(ctx.err(
                &format!("report.series[{i}].label"),
                "expected a non-empty label",
            ));
        }
        if !se.stat.starts_with('/') {
            return Err(ctx.err(
                &format!("report.series[{i}].stat"),
                format!(
                    "expected a JSON pointer into /stats such as \"/pools/bytes/get_on_empty\", got {:?}",
                    se.stat
                ),
            ));
        }
    }
    Ok(())
}
