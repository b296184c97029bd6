//! A load tool's figures, read from its output (the first capture group of the last line that
//! matches a regex) or from a JSON file it writes (a JSON pointer); and its output's tail.

use serde::{Deserialize, Serialize};

use crate::scenario::tool::render;
use crate::scenario::{FigureKey, FigureSource};

/// How much of the tool's output the record keeps: its end, where tools print their summary.
pub const TAIL: usize = 4096;

/// The figures the report shows, as the tool gave them; `None`: not asked for, or not found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolFigures {
    pub requests_per_second: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

impl ToolFigures {
    fn set(&mut self, key: FigureKey, v: f64) {
        match key {
            FigureKey::RequestsPerSecond => self.requests_per_second = Some(v),
            FigureKey::P50Ms => self.p50_ms = Some(v),
            FigureKey::P99Ms => self.p99_ms = Some(v),
        }
    }
}

/// Each figure from `output` (or its file, placeholders from `values`); the first figure that
/// could not be read, in words naming it and its pattern.
pub fn read(
    figures: &[(FigureKey, FigureSource)],
    output: &[u8],
    values: &[(&'static str, String)],
) -> (ToolFigures, Option<String>) {
    let mut out = ToolFigures::default();
    let mut first_error = None;
    for (key, source) in figures {
        let got = match source {
            FigureSource::Regex(re) => from_output(re, output),
            FigureSource::Json { pointer, file } => from_json(pointer, &render(file, values)),
        }
        .and_then(|text| number(*key, &text));
        match got {
            Ok(v) => out.set(*key, v),
            Err(why) => {
                first_error.get_or_insert(format!("figure {}: {why}", key.name()));
            }
        }
    }
    (out, first_error)
}

/// The lines of a tool's output, `\r` ending one too (progress lines redrawn in place).
fn lines(output: &[u8]) -> impl DoubleEndedIterator<Item = &str> {
    std::str::from_utf8(output)
        .unwrap_or_else(|e| std::str::from_utf8(&output[..e.valid_up_to()]).unwrap_or(""))
        .split(['\n', '\r'])
}

/// The first capture group of the last line that matches `re`.
fn from_output(re: &str, output: &[u8]) -> Result<String, String> {
    let re = regex::Regex::new(re).map_err(|e| e.to_string())?;
    lines(output)
        .rev()
        .find_map(|l| re.captures(l))
        .and_then(|c| c.get(1).map(|m| m.as_str().to_string()))
        .ok_or_else(|| format!("no line of its output matches '{re}'"))
}

/// The value at `pointer` in the JSON file `file`, as text.
fn from_json(pointer: &str, file: &str) -> Result<String, String> {
    let text = std::fs::read(file).map_err(|e| format!("{file}: {e}"))?;
    let doc: serde_json::Value =
        serde_json::from_slice(&text).map_err(|e| format!("{file}: not JSON: {e}"))?;
    match doc.pointer(pointer) {
        Some(serde_json::Value::String(s)) => Ok(s.clone()),
        Some(v @ serde_json::Value::Number(_)) => Ok(v.to_string()),
        Some(v) => Err(format!("{file}: {pointer} is {v}, not a number")),
        None => Err(format!("{file}: nothing at {pointer}")),
    }
}

/// A captured number; a latency may end in `us`, `µs`, `ms` or `s` (wrk prints all four) and
/// is given in ms.
fn number(key: FigureKey, text: &str) -> Result<f64, String> {
    let t = text.trim();
    let (num, scale) = match key.is_latency() {
        true => [("us", 1e-3), ("µs", 1e-3), ("ms", 1.0), ("s", 1e3)]
            .into_iter()
            .find_map(|(u, k)| t.strip_suffix(u).map(|n| (n.trim(), k)))
            .unwrap_or((t, 1.0)),
        false => (t, 1.0),
    };
    num.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .map(|v| v * scale)
        .ok_or_else(|| format!("captured {text:?}, not a number"))
}

/// The last [`TAIL`] bytes of `output`, cut at a character's start.
pub fn tail(output: &[u8]) -> String {
    let mut from = output.len().saturating_sub(TAIL);
    while from < output.len() && (output[from] & 0xC0) == 0x80 {
        from += 1;
    }
    String::from_utf8_lossy(&output[from..]).into_owned()
}

/// The last line of `output` with something on it.
pub fn last_line(output: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(&output[output.len().saturating_sub(TAIL)..]).into_owned();
    text.split(['\n', '\r'])
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regex(key: FigureKey, re: &str) -> (FigureKey, FigureSource) {
        (key, FigureSource::Regex(re.into()))
    }

    #[test]
    fn the_last_matching_line_gives_the_figure() {
        let out = b"SET: 100.0\rSET: 200.5\r\n\"SET\",\"321.5\"\nsummary\n";
        let (f, err) = read(
            &[
                regex(FigureKey::RequestsPerSecond, r"SET: ([0-9.]+)"),
                regex(FigureKey::P50Ms, r#""SET","([0-9.]+)""#),
            ],
            out,
            &[],
        );
        assert_eq!(err, None);
        assert_eq!(f.requests_per_second, Some(200.5));
        assert_eq!(f.p50_ms, Some(321.5));
        assert_eq!(f.p99_ms, None);
    }

    #[test]
    fn latencies_carry_their_unit_and_are_given_in_ms() {
        let out = b"    50%  635.00us\n    99%    1.20s\n";
        let (f, err) = read(
            &[
                regex(FigureKey::P50Ms, r"50%\s+(\S+)"),
                regex(FigureKey::P99Ms, r"99%\s+(\S+)"),
            ],
            out,
            &[],
        );
        assert_eq!(err, None);
        assert!((f.p50_ms.unwrap() - 0.635).abs() < 1e-9);
        assert!((f.p99_ms.unwrap() - 1200.0).abs() < 1e-9);
    }

    #[test]
    fn a_figure_not_found_names_its_key_and_pattern_and_stays_missing() {
        let (f, err) = read(
            &[regex(FigureKey::RequestsPerSecond, r"rps ([0-9.]+)")],
            b"nothing here\n",
            &[],
        );
        assert_eq!(f, ToolFigures::default());
        assert_eq!(
            err.unwrap(),
            "figure requests_per_second: no line of its output matches 'rps ([0-9.]+)'"
        );
        let (_, err) = read(
            &[regex(FigureKey::RequestsPerSecond, r"rps (\S+)")],
            b"rps 1.2k\n",
            &[],
        );
        assert_eq!(
            err.unwrap(),
            "figure requests_per_second: captured \"1.2k\", not a number"
        );
    }

    #[test]
    fn a_json_pointer_reads_a_file_the_tool_wrote() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("k6.json"),
            r#"{"m":{"p(99)":12.5,"s":"7"}}"#,
        )
        .unwrap();
        let file = "{out}/k6.json".to_string();
        let values = [("{out}", dir.path().display().to_string())];
        let json = |key, p: &str| {
            (
                key,
                FigureSource::Json {
                    pointer: p.into(),
                    file: file.clone(),
                },
            )
        };
        let (f, err) = read(
            &[
                json(FigureKey::P99Ms, "/m/p(99)"),
                json(FigureKey::P50Ms, "/m/s"),
            ],
            b"",
            &values,
        );
        assert_eq!((err, f.p99_ms, f.p50_ms), (None, Some(12.5), Some(7.0)));
        let (_, err) = read(&[json(FigureKey::P99Ms, "/m/x")], b"", &values);
        assert!(err.unwrap().ends_with("k6.json: nothing at /m/x"));
    }

    #[test]
    fn the_tail_keeps_the_end_whole_characters_only() {
        let mut out = vec![b'a'; TAIL];
        out[TAIL - 1] = b'\n';
        out.extend("é end\n".as_bytes());
        let t = tail(&out);
        assert!(t.ends_with("é end\n") && t.len() <= TAIL, "{}", t.len());
        assert_eq!(last_line(&out).as_deref(), Some("é end"));
        assert_eq!(last_line(b"\n \n"), None);
    }
}
