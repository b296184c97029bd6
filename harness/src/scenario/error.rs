//! Errors that name the file, the field, the value and what was expected, in one line.

use std::time::Duration;

use allocstorm_core::units;

/// A scenario that failed to load: one line, file and field first.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {field}{sep}{message}", sep = if field.is_empty() { "" } else { ": " })]
pub struct ScenarioError {
    pub file: String,
    pub field: String,
    pub message: String,
}

pub(super) struct Ctx<'a> {
    pub(super) file: &'a str,
}

impl Ctx<'_> {
    pub(super) fn err(&self, field: &str, message: impl Into<String>) -> ScenarioError {
        ScenarioError {
            file: self.file.to_string(),
            field: field.to_string(),
            message: message.into(),
        }
    }

    pub(super) fn unit<T>(
        &self,
        field: &str,
        value: Option<&String>,
        default: &str,
        parse: impl Fn(&str) -> Result<T, units::UnitError>,
    ) -> Result<T, ScenarioError> {
        let v = value.map(String::as_str).unwrap_or(default);
        parse(v).map_err(|e| self.err(field, e.to_string()))
    }
}

/// Turns a toml error (with its byte span) into one line with the line number.
pub(super) fn toml_error(file: &str, text: &str, e: &toml::de::Error) -> ScenarioError {
    let line = e
        .span()
        .map(|s| text[..s.start.min(text.len())].lines().count().max(1));
    let msg = e
        .message()
        .lines()
        .next()
        .unwrap_or("invalid TOML")
        .to_string();
    ScenarioError {
        file: match line {
            Some(l) => format!("{file}:{l}"),
            None => file.to_string(),
        },
        field: String::new(),
        message: msg,
    }
}

pub(super) fn positive<T: PartialOrd + Default + std::fmt::Display>(
    ctx: &Ctx,
    field: &str,
    v: T,
) -> Result<T, ScenarioError> {
    if v > T::default() {
        Ok(v)
    } else {
        Err(ctx.err(field, format!("expected a positive number, got {v}")))
    }
}

pub(super) fn nonzero(ctx: &Ctx, field: &str, d: Duration) -> Result<Duration, ScenarioError> {
    if d.is_zero() {
        Err(ctx.err(field, "expected a duration above 0, got 0"))
    } else {
        Ok(d)
    }
}
