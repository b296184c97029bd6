//! `variants.toml`: the one list of allocator builds and their settings.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::error::{toml_error, Ctx, ScenarioError};

/// One allocator build and its settings: a binary, environment and extra server flags.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    pub name: String,
    pub binary: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub args: Vec<String>,
    /// A shared library loaded into the server with `LD_PRELOAD` (an absolute path, e.g.
    /// `/usr/lib/x86_64-linux-gnu/libjemalloc.so.2`): another allocator in the glibc build.
    /// The harness checks it is mapped in the server once it is up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preload: Option<String>,
    /// The Debian package that ships `preload`: what `scripts/deps.sh` installs when the
    /// library is missing, and what a skipped variant's reason names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// The one line that applies this variant's setting to a server of your own, as the
    /// report's recommendation prints it (`MALLOC_ARENA_MAX=2`); without it, one is derived
    /// from `env`, `args` and `preload` ([`Variant::apply_line`]). Not hashed: it changes no run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apply: Option<String>,
    /// Set by the harness on the variants it derives for a sweep; never written by hand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<SweepPoint>,
}

impl Variant {
    /// A variant known by its name alone (no binary, settings or preload): what a record
    /// rebuilt from a cut stream, or a test, knows of it.
    pub fn named(name: &str) -> Variant {
        Variant {
            name: name.into(),
            binary: String::new(),
            description: String::new(),
            env: BTreeMap::new(),
            args: Vec::new(),
            preload: None,
            package: None,
            apply: None,
            sweep: None,
        }
    }

    /// The `variants.toml` name this run belongs to (itself unless it is a sweep point).
    pub fn base_name(&self) -> &str {
        self.sweep.as_ref().map_or(&self.name, |p| &p.base)
    }

    /// Why this variant cannot run on this machine, with what fixes it; `None` when it can.
    /// Its preload library must exist: checked before a run, never while loading a scenario, so
    /// that one missing library skips one variant instead of stopping the comparison.
    pub fn unavailable(&self) -> Option<String> {
        let lib = self.preload.as_deref()?;
        if Path::new(lib).is_file() {
            return None;
        }
        let fix = match &self.package {
            Some(p) => format!("`make deps`, or `apt-get install {p}`"),
            None => "install it, or point the variant's `preload` at where it is".to_string(),
        };
        Some(format!("its preload {lib} is not installed: {fix}"))
    }

    /// The one line that applies this variant: its `apply`, or what its `preload`, `env` and
    /// `args` say, or, for a build that differs only by its allocator, which one to link.
    pub fn apply_line(&self) -> String {
        if let Some(a) = &self.apply {
            return a.clone();
        }
        let mut parts: Vec<String> = Vec::new();
        if let Some(lib) = &self.preload {
            parts.push(format!("LD_PRELOAD={lib}"));
        }
        parts.extend(self.env.iter().map(|(k, v)| format!("{k}={v}")));
        if !self.args.is_empty() {
            parts.push(format!("server flags: {}", self.args.join(" ")));
        }
        let linked = match self.binary.as_str() {
            "target-server-jemalloc" => Some("link jemalloc as the global allocator"),
            "target-server-mimalloc" => Some("link mimalloc as the global allocator"),
            _ => None,
        };
        match (linked, parts.is_empty()) {
            (Some(l), true) => l.to_string(),
            (Some(l), false) => format!("{l}, with {}", parts.join(" ")),
            (None, true) => "the defaults (nothing to change)".to_string(),
            (None, false) => parts.join(" "),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVariants {
    variant: Vec<Variant>,
}

/// Known server binaries; a variant must name one.
pub const SERVER_BINARIES: [&str; 3] = [
    "target-server-glibc",
    "target-server-jemalloc",
    "target-server-mimalloc",
];

/// Reads `variants.toml`: `[[variant]]` tables, names unique, binaries known. (That a preload
/// is no directory is checked by the scenario's preflight, which builds on this.)
pub fn parse_variants(file: &str, text: &str) -> Result<Vec<Variant>, ScenarioError> {
    let raw: RawVariants = toml::from_str(text).map_err(|e| toml_error(file, text, &e))?;
    let ctx = Ctx { file };
    let mut seen = std::collections::BTreeSet::new();
    for (i, v) in raw.variant.iter().enumerate() {
        let field = format!("variant[{i}]");
        if v.name.is_empty()
            || !v
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(ctx.err(
                &format!("{field}.name"),
                format!("expected letters, digits, '-' or '_', got {:?}", v.name),
            ));
        }
        if !seen.insert(v.name.clone()) {
            return Err(ctx.err(
                &format!("{field}.name"),
                format!("duplicate variant name {:?}", v.name),
            ));
        }
        if v.sweep.is_some() {
            return Err(ctx.err(
                &format!("{field}.sweep"),
                "unknown field: sweep points come from a scenario's [sweep]",
            ));
        }
        if !SERVER_BINARIES.contains(&v.binary.as_str()) {
            return Err(ctx.err(
                &format!("{field}.binary"),
                format!(
                    "expected one of {}, got {:?}",
                    SERVER_BINARIES.join(", "),
                    v.binary
                ),
            ));
        }
        if let Some(lib) = &v.preload {
            check_preload(&ctx, &format!("{field}.preload"), &v.binary, lib)?;
        }
        if let Some(p) = &v.package {
            check_package(&ctx, &format!("{field}.package"), p)?;
        }
        if v.package.is_some() && v.preload.is_none() {
            return Err(ctx.err(
                &format!("{field}.package"),
                "names the Debian package of the variant's preload: expected a `preload` beside it",
            ));
        }
    }
    if raw.variant.is_empty() {
        return Err(ctx.err("variant", "expected at least one [[variant]]"));
    }
    Ok(raw.variant)
}

/// Whether `name` is a Debian package name (Policy §5.6.1: lowercase letters, digits, `+`, `-`
/// and `.`, at least two characters, starting with a letter or digit), at most 128 bytes. No
/// `=version` or `:arch`: nothing here would use them. It reaches `sudo apt-get install` through
/// `scripts/deps.sh`, where a name starting with `-` would be an option.
pub fn is_debian_package(name: &str) -> bool {
    let b = name.as_bytes();
    (2..=128).contains(&b.len())
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"+-.".contains(c))
}

fn check_package(ctx: &Ctx, field: &str, name: &str) -> Result<(), ScenarioError> {
    if is_debian_package(name) {
        return Ok(());
    }
    Err(ctx.err(
        field,
        format!("expected a Debian package name (a-z, 0-9, '+', '-', '.'; 2 to 128 characters, starting with a letter or digit), got {name:?}"),
    ))
}

/// The binary a preload may go on: the glibc build, whose malloc an `LD_PRELOAD`ed allocator
/// replaces. The jemalloc and mimalloc builds link their own: two allocators in one process.
pub const PRELOAD_BINARY: &str = "target-server-glibc";

/// A variant's `preload`: an absolute path, on the glibc build only. What is at that path is
/// checked elsewhere: no directory (the scenario's preflight) when the scenario loads, the file before a run
/// ([`Variant::unavailable`]: a library missing here skips that variant and stops nothing else).
pub(super) fn check_preload(
    ctx: &Ctx,
    field: &str,
    binary: &str,
    lib: &str,
) -> Result<(), ScenarioError> {
    let path = Path::new(lib);
    if !path.is_absolute() {
        return Err(ctx.err(
            field,
            format!("expected the absolute path of a shared library, got {lib:?}"),
        ));
    }
    if binary != PRELOAD_BINARY {
        return Err(ctx.err(
            field,
            format!(
                "{binary} links its own allocator: a preload goes on {PRELOAD_BINARY} only (two allocators in one process), got {lib:?}"
            ),
        ));
    }
    Ok(())
}

/// An external target is run as it is: a variant can give it an environment and a preload,
/// but not a build of the toy server or the toy server's flags.
pub(super) fn check_target_variants(ctx: &Ctx, variants: &[Variant]) -> Result<(), ScenarioError> {
    for v in variants {
        if v.binary != PRELOAD_BINARY || !v.args.is_empty() {
            return Err(ctx.err(
                "variants",
                format!(
                    "{:?} runs {} {}: a [target] scenario takes only variants of {PRELOAD_BINARY} without args (env and preload), such as glibc, glibc-arena2 or tcmalloc",
                    v.name,
                    v.binary,
                    if v.args.is_empty() { String::new() } else { format!("with args {:?}", v.args) },
                ),
            ));
        }
    }
    Ok(())
}

pub(super) fn names_of(vs: &[Variant]) -> String {
    vs.iter()
        .map(|v| v.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The variants a scenario runs: all of `variants.toml`, or those its `variants` names.
pub(super) fn select(
    ctx: &Ctx,
    all: &[Variant],
    names: Option<&[String]>,
) -> Result<Vec<Variant>, ScenarioError> {
    let Some(names) = names else {
        return Ok(all.to_vec());
    };
    if names.is_empty() {
        return Err(ctx.err("variants", "expected at least one variant name, got []"));
    }
    names
        .iter()
        .map(|n| {
            all.iter().find(|v| &v.name == n).cloned().ok_or_else(|| {
                ctx.err(
                    "variants",
                    format!("unknown variant {n:?}: expected one of {}", names_of(all)),
                )
            })
        })
        .collect()
}

/// Where a derived variant sits in a sweep; recorded with every run of it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SweepPoint {
    /// The variant of `variants.toml` this run is a point of.
    pub base: String,
    pub name: String,
    pub field: String,
    pub value: serde_json::Value,
    pub label: String,
}
