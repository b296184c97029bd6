//! mimalloc (v3 through the `mimalloc` crate): options, `mi_stats_get_json`, `mi_collect`.
//!
//! Its process-info "current rss" is committed bytes on Linux, not RSS, so it is never used as
//! RSS: the harness reads RSS from `/proc`.

use std::collections::BTreeMap;

use libmimalloc_sys as mi;

use super::{figures_from, AllocatorFigures, ReleaseOutcome};

/// Option ids from mimalloc v3's `mi_option_e`; the sys crate does not export all of them.
const OPTIONS: [(&str, mi::mi_option_t); 4] = [
    ("arena_eager_commit", 4),
    ("purge_decommits", 5),
    ("allow_large_os_pages", 6),
    ("purge_delay", 15),
];

pub(super) fn settings() -> serde_json::Value {
    let mut opts = serde_json::Map::new();
    for (name, id) in OPTIONS {
        // SAFETY: mi_option_get reads an option by id; ids are from mimalloc.h.
        let v = unsafe { mi::mi_option_get(id) };
        opts.insert(name.into(), (v as i64).into());
    }
    let stats = stats_json();
    serde_json::json!({
        "allocator": "mimalloc",
        "version": stats.as_ref().and_then(|s| s.get("mimalloc_version").cloned()),
        "options": opts,
    })
}

fn stats_json() -> Option<serde_json::Value> {
    // SAFETY: with a null buffer mimalloc allocates the string; we free it with mi_free.
    unsafe {
        let p = mi::mi_stats_get_json(0, std::ptr::null_mut());
        if p.is_null() {
            return None;
        }
        let s = std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned();
        mi::mi_free(p.cast());
        serde_json::from_str(&s).ok()
    }
}

pub(super) fn figures() -> AllocatorFigures {
    let mut raw = BTreeMap::new();
    if let Some(s) = stats_json() {
        // OS-level counters, kept in every build: {current, peak}.
        for key in ["reserved", "committed", "pages"] {
            for part in ["current", "peak"] {
                if let Some(v) = s
                    .get(key)
                    .and_then(|v| v.get(part))
                    .and_then(|v| v.as_i64())
                {
                    raw.insert(format!("{key}.{part}"), v);
                }
            }
        }
        // Running totals: plain numbers in v3.
        for key in ["reset", "purged"] {
            if let Some(v) = s
                .get(key)
                .and_then(|v| v.as_i64().or_else(|| v.get("total")?.as_i64()))
            {
                raw.insert(key.to_string(), v);
            }
        }
    }
    // mimalloc's malloc_* counters are not maintained in its release build (MI_STAT=0): huge
    // allocations are counted and their frees are not. Report no in-use figure rather than a
    // wrong one.
    let held = raw.get("committed.current").copied().unwrap_or(0).max(0) as u64;
    figures_from(None, held, raw)
}

pub(super) fn release() -> ReleaseOutcome {
    // SAFETY: mi_collect(true) collects the calling thread's heap and purges abandoned memory.
    unsafe { mi::mi_collect(true) };
    ReleaseOutcome {
        called: "mi_collect(true)".into(),
        result: "collected".into(),
    }
}
