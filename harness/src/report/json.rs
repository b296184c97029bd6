//! `summary.json`: the [`Summary`](super::Summary) as other tools read it.

use std::path::Path;

use super::{write_atomic, Exporter, ReportError, ReportInput};

pub struct SummaryJson;

impl Exporter for SummaryJson {
    fn export(&self, input: &ReportInput<'_>, dir: &Path) -> Result<(), ReportError> {
        let path = dir.join("summary.json");
        let mut bytes =
            serde_json::to_vec_pretty(input.summary).map_err(|e| ReportError::Write {
                path: path.display().to_string(),
                source: std::io::Error::other(e),
            })?;
        bytes.push(b'\n');
        write_atomic(&path, &bytes)
    }
}
