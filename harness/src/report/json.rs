//! `summary.json`: the [`Summary`](super::Summary) as other tools read it.

use super::{Exporter, Output, ReportError, ReportInput};

pub struct SummaryJson;

impl Exporter for SummaryJson {
    fn export(&self, input: &ReportInput<'_>) -> Result<Vec<Output>, ReportError> {
        const NAME: &str = "summary.json";
        let mut bytes =
            serde_json::to_vec_pretty(input.summary).map_err(|e| ReportError::Write {
                path: NAME.into(),
                source: std::io::Error::other(e),
            })?;
        bytes.push(b'\n');
        Ok(vec![Output::new(NAME, bytes)])
    }
}
