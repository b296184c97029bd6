//! Scenario files for the end-to-end tests: the small toy-server scenario they share
//! ([`ScenarioFile::toy`]), changed key by key, with its variants file and hot file beside it.

use std::path::{Path, PathBuf};

/// A scenario to write into a test's directory.
pub struct ScenarioFile {
    table: toml::Table,
    /// `None`: a copy of the shipped `scenarios/variants.toml`.
    variants: Option<String>,
    /// The byte `hot.bin` (2 MiB) is made of, if the scenario has one.
    hot: Option<u8>,
}

impl ScenarioFile {
    /// A scenario of nothing but its name (every other setting the harness's default), the
    /// shipped variants file beside it, and no hot file.
    pub fn named(name: &str) -> ScenarioFile {
        let mut table = toml::Table::new();
        table.insert("name".into(), name.into());
        ScenarioFile {
            table,
            variants: None,
            hot: None,
        }
    }

    /// The shipped `scenarios/<file>`, to change before it is written.
    pub fn shipped(file: &str) -> ScenarioFile {
        let path = super::root().join("scenarios").join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        ScenarioFile {
            table: toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
            variants: None,
            hot: None,
        }
    }

    /// The scenario the end-to-end tests run, small enough for a test: `hot.bin` (2 MiB of
    /// 0x5A) served by two workers, each buffer held 100 ms so the peak is well above the
    /// baseline; two load processes with 16 connections in a closed loop over 1 MiB ranges;
    /// 300 ms of warmup, then 1 s before, 2 s during and 1.5 s of drain; a sample every 50 ms,
    /// `/stats` every 500 ms; seed 7; the shipped variants.
    pub fn toy(name: &str) -> ScenarioFile {
        ScenarioFile::named(name)
            .set("seed", 7)
            .table(
                "server",
                r#"file = "hot.bin"
workers = 2
meta_every = 4
hold = "100ms""#,
            )
            .table(
                "load",
                r#"range = "0-1048575"
processes = 2
connections = 16
rate = "max"
timeout = "2s""#,
            )
            .table(
                "phases",
                r#"warmup = "300ms"
before = "1s"
during = "2s"
drain = "1.5s""#,
            )
            .table(
                "sampling",
                r#"interval = "50ms"
stats_interval = "500ms""#,
            )
            .hot_file(0x5A)
    }

    /// Sets `key`, a dotted path such as `load.connections` or
    /// `gate.variants.glibc.min_retention`; the tables on the way are made if missing.
    pub fn set(mut self, key: &str, value: impl Into<toml::Value>) -> ScenarioFile {
        let (tables, last) = match key.rsplit_once('.') {
            Some((t, l)) => (Some(t), l),
            None => (None, key),
        };
        let t = match tables {
            Some(t) => table_at(&mut self.table, t),
            None => &mut self.table,
        };
        t.insert(last.into(), value.into());
        self
    }

    /// Removes `key` (a dotted path), which must be set.
    pub fn unset(mut self, key: &str) -> ScenarioFile {
        let (t, last) = match key.rsplit_once('.') {
            Some((t, l)) => (table_at(&mut self.table, t), l),
            None => (&mut self.table, key),
        };
        assert!(t.remove(last).is_some(), "{key} is not set");
        self
    }

    /// Sets every key of `body` (TOML, as written under `[key]`) in the table `key`, made if
    /// missing.
    pub fn table(mut self, key: &str, body: &str) -> ScenarioFile {
        let add: toml::Table =
            toml::from_str(body).unwrap_or_else(|e| panic!("[{key}] of a test scenario: {e}"));
        table_at(&mut self.table, key).extend(add);
        self
    }

    /// Changes the scenario's table as `f` does.
    pub fn edit(mut self, f: impl FnOnce(&mut toml::Table)) -> ScenarioFile {
        f(&mut self.table);
        self
    }

    /// Its own variants file, `text`, instead of the shipped one.
    pub fn variants(mut self, text: impl Into<String>) -> ScenarioFile {
        self.variants = Some(text.into());
        self
    }

    /// `hot.bin` beside the scenario: 2 MiB of `byte`.
    pub fn hot_file(mut self, byte: u8) -> ScenarioFile {
        self.hot = Some(byte);
        self
    }

    /// The scenario's text.
    pub fn text(&self) -> String {
        toml::to_string(&self.table).unwrap()
    }

    /// Writes `dir/file`, `dir/variants.toml` and `dir/hot.bin` (if it has one); returns the
    /// scenario's path.
    pub fn write(&self, dir: &Path, file: &str) -> PathBuf {
        match &self.variants {
            Some(text) => std::fs::write(dir.join("variants.toml"), text).unwrap(),
            None => {
                std::fs::copy(
                    super::root().join("scenarios/variants.toml"),
                    dir.join("variants.toml"),
                )
                .unwrap();
            }
        }
        if let Some(byte) = self.hot {
            std::fs::write(dir.join("hot.bin"), vec![byte; 2 << 20]).unwrap();
        }
        let p = dir.join(file);
        std::fs::write(&p, self.text()).unwrap();
        p
    }
}

/// The table at dotted `path` under `t`, made if missing.
pub fn table_at<'a>(t: &'a mut toml::Table, path: &str) -> &'a mut toml::Table {
    path.split('.').fold(t, |t, k| {
        t.entry(k)
            .or_insert_with(|| toml::Value::Table(Default::default()))
            .as_table_mut()
            .unwrap_or_else(|| panic!("{k} of {path} is not a table"))
    })
}

/// Short `[quick]` phases for a smoke test: 0.5 s warmup, 1 s before, then `during` and
/// `drain`; every other quick phase the scenario's default.
pub fn short_quick(t: &mut toml::Table, during: &str, drain: &str) {
    let q = table_at(t, "quick");
    q.clear();
    for (k, v) in [
        ("warmup", "0.5s"),
        ("before", "1s"),
        ("during", during),
        ("drain", drain),
    ] {
        q.insert(k.into(), v.into());
    }
}
