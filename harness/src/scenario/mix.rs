//! `[[load.request]]`: a request mix for the built-in client, checked entry by entry into a
//! [`Mix`]. Each refusal names the entry's key (`load.request[1].weight`) and its value.

use allocstorm_core::units;

use super::error::{Ctx, ScenarioError};
use super::raw::{RawLoad, RawRequest};
use crate::load::mix::{KeyDist, Method, Mix, MixEntry, KEY, MAX_BODY};

/// The mix of `[load]`, or `None` for the single `path` + `range` form.
pub(super) fn mix_spec(ctx: &Ctx, r: &RawLoad, seed: u64) -> Result<Option<Mix>, ScenarioError> {
    let Some(requests) = r.request.as_ref() else {
        if let Some(k) = r.keys {
            return Err(ctx.err(
                "load.keys",
                format!("a key space ({k}) is for [[load.request]] entries, and there are none"),
            ));
        }
        return Ok(None);
    };
    for (field, given) in [
        ("load.path", r.path.is_some()),
        ("load.range", r.range.is_some()),
    ] {
        if given {
            return Err(ctx.err(
                field,
                "give either load.path and load.range (one GET) or [[load.request]] entries \
                 (each with its own path and range), not both",
            ));
        }
    }
    if requests.is_empty() {
        return Err(ctx.err("load.request", "expected at least one entry"));
    }
    let keys = match r.keys {
        None => None,
        Some(k) if k > 0 => Some(k as u64),
        Some(k) => return Err(ctx.err("load.keys", format!("expected a positive number, got {k}"))),
    };
    let entries = requests
        .iter()
        .enumerate()
        .map(|(i, e)| entry(ctx, &format!("load.request[{i}]"), e, keys))
        .collect::<Result<Vec<_>, _>>()?;
    let total: u64 = entries.iter().map(|e| u64::from(e.weight)).sum();
    if total == 0 {
        return Err(ctx.err(
            "load.request",
            "the weights add up to 0: expected at least one entry with a weight above 0",
        ));
    }
    Ok(Some(Mix {
        keys: keys.unwrap_or(1),
        seed,
        entries,
    }))
}

fn entry(
    ctx: &Ctx,
    at: &str,
    e: &RawRequest,
    keys: Option<u64>,
) -> Result<MixEntry, ScenarioError> {
    let field = |k: &str| format!("{at}.{k}");
    let weight = match e.weight {
        Some(w) if (0..=i64::from(u32::MAX)).contains(&w) => w as u32,
        Some(w) => {
            return Err(ctx.err(
                &field("weight"),
                format!("expected a weight from 0 to {}, got {w}", u32::MAX),
            ))
        }
        None => return Err(ctx.err(&field("weight"), "missing: expected a weight such as 90")),
    };
    let method = match e.method.as_deref() {
        None => Method::Get,
        Some(m) => Method::parse(m).ok_or_else(|| {
            ctx.err(
                &field("method"),
                format!("expected {}, got {m:?}", Method::NAMES),
            )
        })?,
    };
    let path = e.path.clone().ok_or_else(|| {
        ctx.err(
            &field("path"),
            "missing: expected a path such as \"/files/{key}\"",
        )
    })?;
    check_path(ctx, &field("path"), &path, keys)?;
    let dist = match &e.keys {
        None => KeyDist::Uniform,
        Some(d) => KeyDist::parse(d).map_err(|m| ctx.err(&field("keys"), m))?,
    };
    let range = match &e.range {
        None => None,
        Some(v) => Some(file_range(ctx, &field("range"), v)?),
    };
    let body = body(ctx, &field("body"), e.body.as_ref(), method)?;
    Ok(MixEntry {
        weight,
        method,
        path,
        keys: dist,
        range,
        body,
    })
}

fn check_path(ctx: &Ctx, field: &str, path: &str, keys: Option<u64>) -> Result<(), ScenarioError> {
    if !path.starts_with('/') {
        return Err(ctx.err(
            field,
            format!("expected a path starting with '/', got {path:?}"),
        ));
    }
    let rest = path.replacen(KEY, "0", 1);
    if rest.contains(['{', '}']) {
        return Err(ctx.err(
            field,
            format!("expected at most one placeholder, {KEY}, got {path:?}"),
        ));
    }
    if path.contains(KEY) && keys.is_none() {
        return Err(ctx.err(
            field,
            format!("{path:?} draws a {KEY}, but load.keys (the key space) is not set"),
        ));
    }
    if rest.parse::<hyper::Uri>().is_err() {
        return Err(ctx.err(field, format!("expected a request path, got {path:?}")));
    }
    Ok(())
}

/// A request's range: over a stored file, so inside the largest file there can be.
fn file_range(ctx: &Ctx, field: &str, v: &str) -> Result<(u64, u64), ScenarioError> {
    let r = units::parse_size_range(v).map_err(|m| ctx.err(field, m.to_string()))?;
    if r.1 >= units::MAX_FILE_SIZE {
        return Err(ctx.err(
            field,
            format!("expected a range inside a file of at most 64GiB, got {v:?}"),
        ));
    }
    Ok(r)
}

fn body(
    ctx: &Ctx,
    field: &str,
    v: Option<&String>,
    method: Method,
) -> Result<Option<(u64, u64)>, ScenarioError> {
    let Some(v) = v else {
        return Ok(method.is_write().then_some((0, 0)));
    };
    if !method.is_write() {
        return Err(ctx.err(
            field,
            format!("a body ({v:?}) is for PUT and POST, not GET"),
        ));
    }
    let r = units::parse_size_range(v).map_err(|m| ctx.err(field, m.to_string()))?;
    if r.1 > MAX_BODY {
        return Err(ctx.err(
            field,
            format!(
                "expected bodies of at most {}, got {v:?}",
                units::format_size(MAX_BODY)
            ),
        ));
    }
    Ok(Some(r))
}
