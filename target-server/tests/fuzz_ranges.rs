//! Property tests of the range parser (`src/range.rs`): for any header value or query spec
//! (mostly near-valid ones, see `fuzz_support::range_value`), any file size and any
//! `--max-range`, parsing never panics, a range it accepts lies within the file and the limit,
//! and every answer agrees with a second, independent reading of RFC 9110's three single-range
//! forms as this server serves them.
//!
//! `FUZZ_CASES` cases per property (2000 by default; `make fuzz` runs many more).

mod fuzz_support;

use proptest::prelude::*;
use target_server::range::{parse_header, parse_query, ByteRange, RangeError};

use fuzz_support::{cases, config, header_range_value, number, query_spec, range_value};

/// What a range must parse to, as the model below reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Range { start: u64, len: u64 },
    Malformed,
    MultiRange,
    Unsatisfiable,
    TooLong { len: u64 },
}

impl Want {
    fn of(r: &Result<ByteRange, RangeError>) -> Self {
        match r {
            Ok(r) => Want::Range {
                start: r.start,
                len: r.len,
            },
            Err(RangeError::Malformed(_)) => Want::Malformed,
            Err(RangeError::MultiRange(_)) => Want::MultiRange,
            Err(RangeError::Unsatisfiable(_)) => Want::Unsatisfiable,
            Err(RangeError::TooLong { len, .. }) => Want::TooLong { len: *len },
        }
    }
}

/// The model of the header form: `bytes=` after trimming, then exactly one spec.
fn model_header(value: &str, size: u64, max: u64) -> Want {
    match value.trim().strip_prefix("bytes=") {
        None => Want::Malformed,
        Some(spec) if spec.contains(',') => Want::MultiRange,
        Some(spec) => model_spec(spec, size, max),
    }
}

/// The model of the query form: the spec alone, blanks around it allowed.
fn model_query(spec: &str, size: u64, max: u64) -> Want {
    if spec.contains(',') {
        return Want::MultiRange;
    }
    model_spec(spec.trim(), size, max)
}

/// A non-empty run of ASCII digits that fits in 64 bits, computed digit by digit.
fn decimal(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    s.bytes().try_fold(0u64, |acc, c| {
        let d = c.checked_sub(b'0').filter(|d| *d <= 9)?;
        acc.checked_mul(10)?.checked_add(u64::from(d))
    })
}

/// `A-B`, `A-` or `-N` against the file, in 128-bit arithmetic so nothing can wrap.
fn model_spec(spec: &str, size: u64, max: u64) -> Want {
    let Some(dash) = spec.find('-') else {
        return Want::Malformed;
    };
    let (a, b) = (&spec[..dash], &spec[dash + 1..]);
    let size = u128::from(size);
    let (start, end_incl): (u128, u128) = match (a.is_empty(), b.is_empty()) {
        (true, true) => return Want::Malformed,
        (true, false) => {
            let Some(n) = decimal(b) else {
                return Want::Malformed;
            };
            if n == 0 || size == 0 {
                return Want::Unsatisfiable;
            }
            (size - u128::from(n).min(size), size - 1)
        }
        (false, true) => {
            let Some(a) = decimal(a) else {
                return Want::Malformed;
            };
            if u128::from(a) >= size {
                return Want::Unsatisfiable;
            }
            (u128::from(a), size - 1)
        }
        (false, false) => {
            let (Some(a), Some(b)) = (decimal(a), decimal(b)) else {
                return Want::Malformed;
            };
            if b < a {
                return Want::Malformed;
            }
            if u128::from(a) >= size {
                return Want::Unsatisfiable;
            }
            (u128::from(a), u128::from(b).min(size - 1))
        }
    };
    let len = end_incl - start + 1;
    let len = u64::try_from(len).expect("a range within a u64-sized file");
    if len > max {
        return Want::TooLong { len };
    }
    Want::Range {
        start: start as u64,
        len,
    }
}

/// The invariants of any answer: an accepted range is non-empty, inside the file and within
/// the limit; a refusal for length names a length over the limit.
fn check_invariants(
    r: &Result<ByteRange, RangeError>,
    size: u64,
    max: u64,
) -> Result<(), TestCaseError> {
    match r {
        Ok(range) => {
            prop_assert!(range.len >= 1, "empty range {range:?}");
            let end = range.start.checked_add(range.len);
            prop_assert!(
                end.is_some_and(|e| e <= size),
                "{range:?} runs past a {size}-byte file"
            );
            prop_assert!(range.len <= max, "{range:?} is longer than max {max}");
            prop_assert!(range.end_inclusive() < size);
        }
        Err(RangeError::TooLong { len, max: m, .. }) => {
            prop_assert_eq!(*m, max);
            prop_assert!(
                *len > max && *len <= size,
                "TooLong {len} (max {max}, size {size})"
            );
        }
        Err(_) => {}
    }
    Ok(())
}

/// File sizes: empty, tiny, ordinary, and at the top of `u64`.
fn size() -> impl Strategy<Value = u64> {
    prop_oneof![
        1 => 0u64..3,
        4 => 1u64..200_000,
        1 => any::<u64>(),
        1 => (u64::MAX - 3)..=u64::MAX,
    ]
}

/// `--max-range` values, zero and unlimited included.
fn max_range() -> impl Strategy<Value = u64> {
    prop_oneof![
        1 => 0u64..3,
        4 => 1u64..200_000,
        1 => any::<u64>(),
        1 => Just(u64::MAX),
    ]
}

/// Pure parsing is cheap: by default ten times the request fuzz's cases.
fn parser_cases() -> u32 {
    cases(2000)
}

proptest! {
    #![proptest_config(config(parser_cases()))]

    #[test]
    fn any_header_value_parses_without_panic_inside_the_file_and_as_the_model_says(
        (size, value) in size().prop_flat_map(|s| (Just(s), range_value(s))),
        max in max_range(),
    ) {
        let got = parse_header(&value, size, max);
        check_invariants(&got, size, max)?;
        prop_assert_eq!(Want::of(&got), model_header(&value, size, max), "{:?}", value);
    }

    #[test]
    fn header_values_as_a_request_carries_them_parse_as_the_model_says(
        (size, value) in size().prop_flat_map(|s| (Just(s), header_range_value(s))),
        max in max_range(),
    ) {
        let got = parse_header(&value, size, max);
        check_invariants(&got, size, max)?;
        prop_assert_eq!(Want::of(&got), model_header(&value, size, max), "{:?}", value);
    }

    #[test]
    fn any_query_spec_parses_without_panic_inside_the_file_and_as_the_model_says(
        (size, spec) in size().prop_flat_map(|s| {
            let raw = prop_oneof![
                4 => fuzz_support::spec(s),
                1 => range_value(s),
                1 => query_spec(s),
            ];
            (Just(s), raw)
        }),
        max in max_range(),
    ) {
        let got = parse_query(&spec, size, max);
        check_invariants(&got, size, max)?;
        prop_assert_eq!(Want::of(&got), model_query(&spec, size, max), "{:?}", spec);
    }

    #[test]
    fn a_valid_closed_range_parses_to_exactly_itself(
        (size, a, b) in (1u64..=u64::MAX).prop_flat_map(|size| {
            (0..size).prop_flat_map(move |a| (Just(size), Just(a), a..size))
        }),
        max in max_range(),
        zeros in 0usize..3,
        blank in prop::sample::select(vec!["", " ", "\t"]),
    ) {
        let len = b - a + 1;
        let want = if len <= max {
            Ok(ByteRange { start: a, len })
        } else {
            Err(RangeError::TooLong { spec: String::new(), len, max })
        };
        let pad = "0".repeat(zeros);
        let header = format!("{blank}bytes={pad}{a}-{pad}{b}{blank}");
        let query = format!("{pad}{a}-{pad}{b}");
        for (form, got) in [
            (&header, parse_header(&header, size, max)),
            (&query, parse_query(&query, size, max)),
        ] {
            match (&got, &want) {
                (Ok(g), Ok(w)) => prop_assert_eq!(g, w, "{:?}", form),
                (Err(RangeError::TooLong { len: g, .. }), Err(RangeError::TooLong { len: w, .. })) => {
                    prop_assert_eq!(g, w, "{:?}", form)
                }
                _ => prop_assert!(false, "{form:?} (size {size}, max {max}): got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn open_and_suffix_ranges_reach_the_last_byte(
        size in size(),
        n in prop_oneof![0u64..100, any::<u64>()],
        max in max_range(),
    ) {
        // (header, query, the range it must be if the file has it)
        let open = (n < size).then(|| (n, size - n));
        let suffix = (n > 0 && size > 0).then(|| (size - n.min(size), n.min(size)));
        for (header, query, want) in [
            (format!("bytes={n}-"), format!("{n}-"), open),
            (format!("bytes=-{n}"), format!("-{n}"), suffix),
        ] {
            let got = parse_header(&header, size, max);
            check_invariants(&got, size, max)?;
            prop_assert_eq!(Want::of(&got), Want::of(&parse_query(&query, size, max)));
            let want = match want {
                None => Want::Unsatisfiable,
                Some((_, len)) if len > max => Want::TooLong { len },
                Some((start, len)) => Want::Range { start, len },
            };
            prop_assert_eq!(Want::of(&got), want, "{:?} against {} bytes", header, size);
            if let Ok(r) = got {
                prop_assert_eq!(r.end_inclusive(), size - 1);
            }
        }
    }

    #[test]
    fn numbers_past_u64_are_malformed_not_wrapped(
        size in size(),
        max in max_range(),
        big in "[1-9][0-9]{20,40}",
        small in number(1000),
    ) {
        for value in [
            format!("bytes={big}-"),
            format!("bytes=-{big}"),
            format!("bytes=0-{big}"),
            format!("bytes={big}-{small}"),
        ] {
            prop_assert!(
                matches!(parse_header(&value, size, max), Err(RangeError::Malformed(_))),
                "{value:?}"
            );
        }
    }
}
