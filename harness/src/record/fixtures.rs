//! Records built by hand for unit tests: a variant, phases and the header of a run, made here
//! once so that a new header field is one edit, not one per test module.

use std::time::Duration;

use super::RunHeader;
use crate::scenario::{PhaseSpec, Variant};

/// A variant of the glibc build with nothing set.
pub fn variant(name: &str) -> Variant {
    Variant {
        binary: "target-server-glibc".into(),
        ..Variant::named(name)
    }
}

/// Phases of no length, one cycle.
pub fn no_phases() -> PhaseSpec {
    PhaseSpec {
        warmup: Duration::ZERO,
        warmup_rate: 0.0,
        before: Duration::ZERO,
        during: Duration::ZERO,
        drain: Duration::ZERO,
        nudge: Duration::ZERO,
        nudge_rate: 0.0,
        release: Duration::ZERO,
        cycles: 1,
        soak: None,
    }
}

/// Run `run_index` of `variant` in scenario `s` (seed 1, a sample every 100 ms), not started.
pub fn header(variant_name: &str, run_index: u32) -> RunHeader {
    RunHeader {
        scenario: "s".into(),
        seed: 1,
        ..RunHeader::unknown(variant(variant_name), run_index, no_phases(), 0.1)
    }
}
