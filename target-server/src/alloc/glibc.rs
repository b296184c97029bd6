//! glibc ptmalloc: `mallopt`, `mallinfo2`, `malloc_trim`.

use std::collections::BTreeMap;

use super::{figures_from, AllocatorFigures, MalloptParam, ReleaseOutcome};

fn param_code(p: MalloptParam) -> libc::c_int {
    match p {
        MalloptParam::MmapThreshold => libc::M_MMAP_THRESHOLD,
        MalloptParam::ArenaMax => libc::M_ARENA_MAX,
        MalloptParam::TrimThreshold => libc::M_TRIM_THRESHOLD,
        MalloptParam::TopPad => libc::M_TOP_PAD,
    }
}

pub(super) fn apply_mallopt(params: &[(MalloptParam, u64)]) -> Result<(), String> {
    for &(p, value) in params {
        let v = libc::c_int::try_from(value).map_err(|_| {
            format!(
                "--mallopt {}={value}: value too large for mallopt",
                p.name()
            )
        })?;
        // SAFETY: mallopt takes plain integers and is called before other threads start.
        let ok = unsafe { libc::mallopt(param_code(p), v) };
        if ok != 1 {
            // mallopt returns 0 for values it rejects (e.g. a negative arena_max).
            return Err(format!(
                "--mallopt {}={value}: glibc refused the value",
                p.name()
            ));
        }
    }
    Ok(())
}

pub(super) fn settings(applied: &[(MalloptParam, u64)]) -> serde_json::Value {
    // glibc has no getter for mallopt values: record what was applied and whether the dynamic
    // mmap threshold is still live (any of these settings freezes it).
    let mallopt: BTreeMap<&str, u64> = applied.iter().map(|&(p, v)| (p.name(), v)).collect();
    let dynamic = !applied.iter().any(|(p, _)| {
        matches!(
            p,
            MalloptParam::MmapThreshold | MalloptParam::TrimThreshold | MalloptParam::TopPad
        )
    }) && ![
        "MALLOC_MMAP_THRESHOLD_",
        "MALLOC_TRIM_THRESHOLD_",
        "MALLOC_TOP_PAD_",
        "MALLOC_MMAP_MAX_",
    ]
    .iter()
    .any(|k| std::env::var_os(k).is_some());
    serde_json::json!({
        "allocator": "glibc",
        "glibc_version": glibc_version(),
        "mallopt": mallopt,
        "dynamic_mmap_threshold": dynamic,
    })
}

pub use allocstorm_core::glibc_version;

pub(super) fn figures() -> AllocatorFigures {
    // SAFETY: mallinfo2 only reads allocator state under its locks.
    let mi = unsafe { libc::mallinfo2() };
    let raw: BTreeMap<String, i64> = [
        ("arena", mi.arena),
        ("ordblks", mi.ordblks),
        ("hblks", mi.hblks),
        ("hblkhd", mi.hblkhd),
        ("uordblks", mi.uordblks),
        ("fordblks", mi.fordblks),
        ("keepcost", mi.keepcost),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v as i64))
    .collect();
    figures_from(
        Some((mi.uordblks + mi.hblkhd) as u64),
        (mi.arena + mi.hblkhd) as u64,
        raw,
    )
}

pub(super) fn release() -> ReleaseOutcome {
    // SAFETY: malloc_trim is thread-safe.
    let r = unsafe { libc::malloc_trim(0) };
    ReleaseOutcome {
        called: "malloc_trim(0)".into(),
        result: if r == 1 {
            "memory released".into()
        } else {
            "nothing to release".into()
        },
    }
}
