//! When things happened in a run: its phases and the time zero of its plots and of `t_s`.

use crate::figures::PhaseMark;
use crate::record::RunRecord;

pub fn phase<'a>(r: &'a RunRecord, name: &str) -> Option<&'a PhaseMark> {
    r.phases.iter().find(|m| m.name == name)
}

/// Time zero of a run's plots and of `t_s`: the start of the load (`during`); for a run killed
/// before the load, the end of `before`.
pub fn load_start(r: &RunRecord) -> Option<f64> {
    phase(r, "during")
        .map(|p| p.start)
        .or_else(|| phase(r, "before").map(|p| p.end))
}
