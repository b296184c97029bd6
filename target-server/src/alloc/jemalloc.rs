//! jemalloc (tikv-jemallocator, symbols prefixed `_rjem_`): `opt.*`, `stats.*`, purge.

use std::collections::BTreeMap;

use tikv_jemalloc_ctl::{epoch, raw, stats};

use super::{figures_from, AllocatorFigures, ReleaseOutcome};

/// `MALLCTL_ARENAS_ALL`: the pseudo-arena index that addresses every arena.
const ARENAS_ALL_PURGE: &[u8] = b"arena.4096.purge\0";

fn read<T: Copy + Default>(name: &[u8]) -> Option<T> {
    // SAFETY: each name below is a jemalloc control of exactly type T.
    unsafe { raw::read::<T>(name).ok() }
}

pub(super) fn settings() -> serde_json::Value {
    let opt_str = |name: &[u8]| -> Option<String> {
        // SAFETY: string options are `const char *` owned by jemalloc for the process lifetime.
        let p = unsafe { raw::read::<*const libc::c_char>(name).ok()? };
        (!p.is_null()).then(|| {
            // SAFETY: non-null pointer to a NUL-terminated string, see above.
            unsafe { std::ffi::CStr::from_ptr(p) }
                .to_string_lossy()
                .into_owned()
        })
    };
    serde_json::json!({
        "allocator": "jemalloc",
        "version": opt_str(b"version\0"),
        "opt.background_thread": read::<bool>(b"opt.background_thread\0"),
        "background_thread": read::<bool>(b"background_thread\0"),
        "opt.dirty_decay_ms": read::<isize>(b"opt.dirty_decay_ms\0"),
        "opt.muzzy_decay_ms": read::<isize>(b"opt.muzzy_decay_ms\0"),
        "opt.narenas": read::<u32>(b"opt.narenas\0"),
        "opt.retain": read::<bool>(b"opt.retain\0"),
        "opt.thp": opt_str(b"opt.thp\0"),
        "opt.metadata_thp": opt_str(b"opt.metadata_thp\0"),
        "opt.percpu_arena": opt_str(b"opt.percpu_arena\0"),
        "arenas.narenas": read::<u32>(b"arenas.narenas\0"),
    })
}

pub(super) fn figures() -> AllocatorFigures {
    // stats.* are cached; advancing the epoch refreshes them.
    let _ = epoch::advance();
    let f = |r: Result<usize, _>| r.unwrap_or(0) as i64;
    let raw: BTreeMap<String, i64> = [
        ("allocated", f(stats::allocated::read())),
        ("active", f(stats::active::read())),
        ("metadata", f(stats::metadata::read())),
        ("resident", f(stats::resident::read())),
        ("mapped", f(stats::mapped::read())),
        ("retained", f(stats::retained::read())),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    figures_from(Some(raw["allocated"] as u64), raw["resident"] as u64, raw)
}

pub(super) fn release() -> ReleaseOutcome {
    // A void control: no old or new value.
    // SAFETY: the name is NUL-terminated; null pointers are how mallctl takes no arguments.
    let r = unsafe {
        tikv_jemalloc_sys::mallctl(
            ARENAS_ALL_PURGE.as_ptr().cast(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        )
    };
    ReleaseOutcome {
        called: "mallctl(\"arena.<MALLCTL_ARENAS_ALL>.purge\")".into(),
        result: if r == 0 {
            "purged all arenas".into()
        } else {
            format!("mallctl returned error {r}")
        },
    }
}
