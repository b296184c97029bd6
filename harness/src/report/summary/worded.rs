//! Serde for what the summary holds as data and `summary.json` shows in words: written as its
//! words (its `Display`, made in `report::words`, where `report.md` takes them too), read back
//! as those words (the type's `Read` variant: nothing reads a reason back but a person).

use std::fmt::Display;

/// `Serialize` as the value's words, `Deserialize` (and `From<String>`) into its `Read`.
macro_rules! worded {
    ($($t:ident),+) => {$(
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                <String as serde::Deserialize>::deserialize(d).map($t::Read)
            }
        }
        impl From<String> for $t {
            fn from(words: String) -> Self {
                $t::Read(words)
            }
        }
    )+};
}
pub(super) use worded;

/// Run notes as their words (`run 2: …`), one string each, and read back from them.
pub(super) mod run_notes {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::super::cost::RunNote;
    use super::Display;

    pub fn serialize<W, S>(notes: &[RunNote<W>], s: S) -> Result<S::Ok, S::Error>
    where
        RunNote<W>: Display,
        S: Serializer,
    {
        s.collect_seq(notes.iter().map(|n| n.to_string()))
    }

    /// `run 2: words` into run 2 and its words; a string of another form keeps run 0.
    pub fn deserialize<'de, W, D>(d: D) -> Result<Vec<RunNote<W>>, D::Error>
    where
        W: From<String>,
        D: Deserializer<'de>,
    {
        let read = |s: String| {
            let parsed = s.strip_prefix("run ").and_then(|r| r.split_once(": "));
            match parsed.and_then(|(i, w)| Some((i.parse().ok()?, w))) {
                Some((run_index, w)) => RunNote {
                    run_index,
                    why: W::from(w.to_string()),
                },
                None => RunNote {
                    run_index: 0,
                    why: W::from(s),
                },
            }
        };
        Ok(Vec::<String>::deserialize(d)?
            .into_iter()
            .map(read)
            .collect())
    }
}
