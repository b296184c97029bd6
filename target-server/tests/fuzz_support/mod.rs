//! Shared by the fuzz tests (`fuzz_ranges.rs`, `fuzz_requests.rs`):
//!
//! - [`range_value`] and [`query_spec`]: proptest generators of `Range` header values and
//!   `?range=` specs, mostly near-valid (`bytes=` with random digits, dashes, commas, spaces,
//!   numbers past `u64`, signs, non-ASCII digits, other units, several ranges);
//! - [`cases`]: how many cases to run (`FUZZ_CASES`, or the test's CI default);
//! - [`mangle`]: the request fuzz's ways to break a request;
//! - [`response`]: reading a raw HTTP/1.1 response strictly.
//!
//! The server they run is `common::Server::start_watched`: its stderr goes to a file, so a
//! panic in a connection task still fails the test.
#![allow(dead_code)]

pub mod mangle;
pub mod response;

use proptest::prelude::*;
use proptest::test_runner::Config;

/// The number of cases: `FUZZ_CASES` if set (as `make fuzz` does), else `ci_default`.
pub fn cases(ci_default: u32) -> u32 {
    match std::env::var("FUZZ_CASES") {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("FUZZ_CASES={v:?} is not a number of cases")),
        Err(_) => ci_default,
    }
}

/// A proptest configuration for `cases` cases; `PROPTEST_RNG_SEED` and the other `PROPTEST_*`
/// variables still apply, but not `PROPTEST_CASES` (see [`cases`]). No regression files: a
/// failure prints its minimal case and the seed.
pub fn config(cases: u32) -> Config {
    Config {
        cases,
        max_shrink_iters: 2_000,
        failure_persistence: None,
        ..Config::default()
    }
}

/// A decimal-ish number: mostly around `0` and `size` (so ranges hit the file's edges), with
/// numbers at and past `u64::MAX`, leading zeros, signs, inner blanks, hex and non-ASCII digits.
pub fn number(size: u64) -> BoxedStrategy<String> {
    let near_end = size.saturating_sub(4)..=size.saturating_add(4);
    prop_oneof![
        6 => (0..size.saturating_add(64)).prop_map(|n| n.to_string()),
        3 => near_end.prop_map(|n| n.to_string()),
        2 => (0u64..4).prop_map(|n| n.to_string()),
        1 => any::<u64>().prop_map(|n| n.to_string()),
        1 => prop::sample::select(vec![
            u64::MAX.to_string(),
            (u64::MAX as u128 + 1).to_string(),
            u128::MAX.to_string(),
            "0".to_string(),
        ]),
        1 => "[0-9]{19,45}",
        1 => "0{1,25}[0-9]{1,4}",
        1 => "-[0-9]{1,6}",
        1 => "\\+[0-9]{1,6}",
        1 => "[0-9]{1,4}[ \t_.][0-9]{1,4}",
        1 => "[0-9a-fA-FxXeE._]{1,10}",
        1 => "[٠-٩０-９¹²³]{1,4}",
        1 => Just(String::new()),
    ]
    .boxed()
}

/// One range-spec, near-valid: `A-B` (often with `A <= B`), `A-`, `-N`, `A` alone, `A-B-C`,
/// blanks around the dash, or noise.
pub fn spec(size: u64) -> BoxedStrategy<String> {
    let n = || number(size);
    let blank = || prop::sample::select(vec!["", " ", "\t", "  "]);
    let edge = size.saturating_add(8);
    prop_oneof![
        4 => (0..edge, 0..edge).prop_map(|(a, b)| format!("{}-{}", a.min(b), a.max(b))),
        6 => (n(), n()).prop_map(|(a, b)| format!("{a}-{b}")),
        2 => n().prop_map(|a| format!("{a}-")),
        2 => n().prop_map(|b| format!("-{b}")),
        1 => (n(), blank(), blank(), n()).prop_map(|(a, s, t, b)| format!("{a}{s}-{t}{b}")),
        1 => n(),
        1 => (n(), n(), n()).prop_map(|(a, b, c)| format!("{a}-{b}-{c}")),
        1 => "[0-9 ,=\t-]{0,16}",
        1 => "\\PC{0,12}",
    ]
    .boxed()
}

/// A `Range` header value for a file of about `size` bytes: mostly `bytes=` and one to three
/// specs, sometimes another unit, separator or blanks; sometimes any string at all.
pub fn range_value(size: u64) -> BoxedStrategy<String> {
    let blank = || prop::sample::select(vec!["", "", "", " ", "\t", " \t "]);
    let unit = prop_oneof![
        8 => Just("bytes".to_string()),
        1 => prop::sample::select(vec!["Bytes", "BYTES", "byte", "items", "bytes ", "none", ""])
            .prop_map(String::from),
        1 => "\\PC{0,6}",
    ];
    let equals = prop_oneof![
        8 => Just("="),
        1 => prop::sample::select(vec!["", " =", "= ", "==", ":"]),
    ];
    let sep = prop::sample::select(vec![",", ", ", " ,", ",,"]);
    let specs = prop_oneof![
        8 => spec(size).prop_map(|s| vec![s]),
        2 => prop::collection::vec(spec(size), 2..=3),
    ];
    prop_oneof![
        10 => (blank(), unit, equals, specs, sep, blank()).prop_map(
            |(lead, unit, eq, specs, sep, trail)| format!("{lead}{unit}{eq}{}{trail}", specs.join(sep))
        ),
        1 => any::<String>(),
        1 => "\\PC{0,40}",
    ]
    .boxed()
}

/// A valid single range of a `size`-byte file: `bytes=A-B` with `A <= B < size`, `bytes=A-`
/// with `A < size`, or `bytes=-N` with `0 < N <= size` (for an empty file, as if it had 1 byte).
pub fn valid_range_value(size: u64) -> BoxedStrategy<String> {
    let size = size.max(1);
    prop_oneof![
        2 => (0..size, 0..size).prop_map(|(a, b)| format!("bytes={}-{}", a.min(b), a.max(b))),
        1 => (0..size).prop_map(|a| format!("bytes={a}-")),
        1 => (1..=size).prop_map(|n| format!("bytes=-{n}")),
    ]
    .boxed()
}

/// [`range_value`] as it can appear in a request's header block: no control characters other
/// than tab (non-ASCII stays: it is `obs-text`, which the server must refuse with `400`); a
/// quarter of them valid.
pub fn header_range_value(size: u64) -> BoxedStrategy<String> {
    prop_oneof![
        3 => range_value(size)
            .prop_map(|v| v.chars().filter(|c| *c == '\t' || !c.is_control()).collect()),
        1 => valid_range_value(size),
    ]
    .boxed()
}

/// A `?range=` spec as it can appear in a request target: valid ones, or [`spec`]s (one to
/// three, comma separated), percent-encoded where a raw character would not be valid in a
/// query.
pub fn query_spec(size: u64) -> BoxedStrategy<String> {
    prop_oneof![
        2 => valid_range_value(size).prop_map(|v| v["bytes=".len()..].to_string()),
        6 => spec(size),
        1 => prop::collection::vec(spec(size), 2..=3).prop_map(|s| s.join(",")),
    ]
    .prop_map(|s| percent_encode(&s))
    .boxed()
}

/// Percent-encodes everything but unreserved characters and `-,=!$'()*+;:@/`.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~,=!$'()*+;:@/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
