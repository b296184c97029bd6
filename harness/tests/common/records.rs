//! Synthetic run records, for the tests of what reads them (`report`, `gate`): no server, no
//! load.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use allocstorm::provenance::Environment;
use allocstorm::record::{write_json_atomic, RunHeader, RunRecord};
use allocstorm::scenario::{PhaseSpec, Variant};

/// The machine every synthetic run was measured on. The gate's baseline key is made of its
/// kernel (upstream version 6.8.0), glibc, nproc, THP setting and allocator crates; the
/// crates include one that is not an allocator (tokio), which the key leaves out.
pub fn environment() -> Environment {
    Environment {
        hostname: "ci-runner-17".into(),
        kernel: "6.8.0-1015-azure".into(),
        glibc_version: "2.39".into(),
        nproc: 4,
        cpu_model: "Synthetic CPU".into(),
        mem_total_bytes: 16 << 30,
        thp_enabled: "madvise".into(),
        thp_defrag: "madvise".into(),
        overcommit_memory: "0".into(),
        rustc: "rustc 1.90.0".into(),
        allocstorm_version: "0.1.0".into(),
        git_revision: Some("0123456789abcdef0123456789abcdef01234567".into()),
        git_dirty: Some(false),
        crate_versions: [
            ("tikv-jemallocator".to_string(), "0.6.0".to_string()),
            ("mimalloc".to_string(), "0.1.48".to_string()),
            ("tokio".to_string(), "1.47.1".to_string()),
        ]
        .into(),
        ..Default::default()
    }
}

/// A variant of the shipped `scenarios/variants.toml` by name (its binary, env and args); any
/// other name is a plain target-server-glibc.
pub fn variant(name: &str) -> Variant {
    let (binary, env, args): (&str, BTreeMap<String, String>, Vec<String>) = match name {
        "glibc-mmap64k" => (
            "target-server-glibc",
            BTreeMap::new(),
            vec!["--mallopt".into(), "mmap_threshold=65664".into()],
        ),
        "glibc-arena2" => (
            "target-server-glibc",
            [("MALLOC_ARENA_MAX".to_string(), "2".to_string())].into(),
            vec![],
        ),
        "jemalloc" => ("target-server-jemalloc", BTreeMap::new(), vec![]),
        "jemalloc-bg" => (
            "target-server-jemalloc",
            [(
                "_RJEM_MALLOC_CONF".to_string(),
                "background_thread:true".to_string(),
            )]
            .into(),
            vec![],
        ),
        "mimalloc" => ("target-server-mimalloc", BTreeMap::new(), vec![]),
        _ => ("target-server-glibc", BTreeMap::new(), vec![]),
    };
    Variant {
        binary: binary.into(),
        env,
        args,
        ..Variant::named(name)
    }
}

/// Planned phases of these lengths: no nudge, no release, a warmup at 20/s.
pub fn phase_plan(
    warmup: Duration,
    before: Duration,
    during: Duration,
    drain: Duration,
) -> PhaseSpec {
    PhaseSpec {
        warmup,
        warmup_rate: 20.0,
        before,
        during,
        drain,
        nudge: Duration::ZERO,
        nudge_rate: 5.0,
        release: Duration::ZERO,
        cycles: 1,
        soak: None,
    }
}

/// The header of run `run_index` of `variant`: a full run of hot-range (seed 1, phases of
/// 2 s, 3 s, 20 s and 15 s, a sample every 100 ms) on [`environment`], the server named by
/// its path alone.
pub fn header(variant_name: &str, run_index: u32, started_at: &str) -> RunHeader {
    let v = variant(variant_name);
    let phases = phase_plan(
        Duration::from_secs(2),
        Duration::from_secs(3),
        Duration::from_secs(20),
        Duration::from_secs(15),
    );
    RunHeader {
        scenario: "hot-range".into(),
        scenario_path: "scenarios/hot-range.toml".into(),
        scenario_hash: "ab".repeat(32),
        server_command: vec![format!("/work/target/release/{}", v.binary)],
        seed: 1,
        started_at: started_at.into(),
        environment: environment(),
        ..RunHeader::unknown(v, run_index, phases, 0.1)
    }
}

/// Writes each record as `dir/runs/<variant>-<run index>.json`, as a run does.
pub fn write_records(dir: &Path, records: &[RunRecord]) {
    let dir = allocstorm::record::dir::ReportDir::new(dir);
    std::fs::create_dir_all(dir.runs()).unwrap();
    for r in records {
        let path = dir.record(&r.header.variant.name, r.header.run_index);
        write_json_atomic(&path, r).unwrap();
    }
}
