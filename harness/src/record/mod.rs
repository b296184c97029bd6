//! The record of one run: raw samples, phase marks, figures, load results and provenance.
//! Plots, reports and the gate read this and nothing else.
//!
//! While a run goes, every measurement is appended to `runs/<variant>-<n>.jsonl` and flushed
//! at once, so a crash or Ctrl-C keeps what was measured; at the end the whole record is
//! written to `runs/<variant>-<n>.json` (write, then rename). The record is built from the
//! events as they are streamed, live and by `report` alike, and a soak's finished cycles are
//! thinned in it as each ends ([`compact`]): the stream keeps every reading, the record and
//! the harness's memory what the figures and plots need.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

mod compact;
pub mod dir;
#[cfg(test)]
pub(crate) mod fixtures;
pub mod shard;
mod status;
pub use dir::{load_runs, one_component, RecordsError, INCOMPLETE_PREFIX};
pub use status::RunStatus;

use crate::cgroup::{CgroupNote, CgroupSample};
use crate::cost::CostRecord;
use crate::figures::{Figures, PhaseMark};
use crate::load::{LoadSummary, SecondReport};
use crate::probe::{ProbePage, ProbeTick};
use crate::provenance::Environment;
use crate::sample::{MappingBreakdown, Sample, SmapsRollup, TreeSample};
use crate::scenario::{PhaseSpec, ReportSpec, Variant};
use crate::tool::ToolRun;

pub const SCHEMA_VERSION: u32 = 1;

/// A `/stats` reading, kept whole.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatsSample {
    pub t: f64,
    pub stats: serde_json::Value,
}

/// A load summary for one phase that sent requests.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PhaseLoad {
    pub phase: String,
    pub summary: LoadSummary,
    /// When the load started, in the run's clock (seconds since the run started, like the
    /// samples' `t`): the phase began earlier, while its workers got ready. Absent in records
    /// written before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_t: Option<f64>,
    /// When the load really ended, in the run's clock: its last request's end
    /// ([`LoadSummary::ended_s`]). t90 counts from here. Absent when nothing was sent, and in
    /// records written before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_t: Option<f64>,
}

/// What is known about a run before it starts; streamed first, so a run killed midway can be
/// rebuilt from its event stream with everything but the ending.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunHeader {
    pub scenario: String,
    pub scenario_path: String,
    pub scenario_hash: String,
    /// Absent in records written before descriptions were kept.
    #[serde(default)]
    pub scenario_description: String,
    pub variant: Variant,
    pub run_index: u32,
    pub seed: u64,
    pub quick: bool,
    pub started_at: String,
    pub server_command: Vec<String>,
    pub phases_planned: PhaseSpec,
    pub sample_interval_s: f64,
    pub environment: Environment,
    /// The scenario's `[limits] memory`, if any.
    #[serde(default)]
    pub memory_limit_bytes: Option<u64>,
    /// What the scenario asks the report to show beyond memory.
    #[serde(default)]
    pub report: ReportSpec,
    /// The scenario's `[target]`, when the server is the user's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<crate::scenario::TargetSpec>,
    /// The phases in which the harness polled the server's stats endpoint (`[sampling]
    /// stats_in`; empty for a server without one). Absent in records of versions that polled
    /// it in every phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats_polled_in: Option<Vec<String>>,
    /// The memory cgroup the server ran in, made for the run, or why it had none. Absent in
    /// records of versions that made none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_cgroup: Option<CgroupNote>,
    /// The scenario's `[cost]`, when the run measured its price (absent otherwise, and in
    /// records of versions without it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_spec: Option<crate::scenario::CostSpec>,
    /// The shard of the comparison this run belongs to (`compare --shard I/N`); absent
    /// unsharded, and in records of versions without shards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<shard::Shard>,
    /// How the allocator probe went into the server, or why it did not. Absent in records of
    /// versions without the probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<crate::probe::ProbeNote>,
}

/// The record of a run: its header, written once, then what was measured and how it ended.
///
/// The header is flattened: a record's JSON has the header's fields at the top level, as
/// records always had, so files written before the header was a field still load.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRecord {
    pub schema_version: u32,
    #[serde(flatten)]
    pub header: RunHeader,
    pub status: RunStatus,
    /// Why the run failed: the server's exit, a probe error, ...
    pub failure: Option<String>,
    /// How the server ended (`exited with code 0` after a clean SIGTERM).
    pub server_exit: Option<String>,
    pub server_pid: Option<u32>,
    /// The server's settings as it reports them in `/stats` (allocator and server).
    pub server_settings: Option<serde_json::Value>,
    /// With a variant's `preload`: where `/proc/<pid>/maps` showed the library mapped in the
    /// server once it was up (the run fails when it is not).
    #[serde(default)]
    pub preload_mapped: Option<String>,
    pub phases: Vec<PhaseMark>,
    pub figures: Figures,
    /// The main load, `during`.
    pub load: Option<LoadSummary>,
    /// Every phase that sent requests (warmup, during, nudge).
    pub phase_loads: Vec<PhaseLoad>,
    /// Every phase the scenario's own load tool drove (`[load] command`), in order; absent
    /// without one, and in records of versions without it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub load_tools: Vec<ToolRun>,
    /// The server's answer to `POST /admin/release`, when the `release` phase ran.
    #[serde(default)]
    pub release: Option<serde_json::Value>,
    pub samples: Vec<Sample>,
    pub smaps: Vec<SmapsRollup>,
    /// The mapping breakdown (arena heaps, main heap, other anonymous), once per smaps tick.
    #[serde(default)]
    pub mappings: Vec<MappingBreakdown>,
    pub stats: Vec<StatsSample>,
    /// For a target sampled as a process tree: each process's figures, once per smaps tick,
    /// at the same `t` as the summed sample they add up to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub procs: Vec<TreeSample>,
    /// The server's memory cgroup (usage, working set), once per smaps tick, at the `t` of a
    /// sample; empty without a cgroup.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cgroup: Vec<CgroupSample>,
    /// The price of the variant: capacity and latency on a second server without the egress
    /// cap, after this run's server exited (`[cost]`, [`crate::cost`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<CostRecord>,
    /// Each process's probe page, when first read: which allocator serves `malloc` there.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub probe_pages: Vec<ProbePage>,
    /// The allocator's own figures from the probe pages, at each sample tick where one moved.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub probe_readings: Vec<ProbeTick>,
    /// Where the run's wall time went, step by step (`allocstorm compare` sums them); absent
    /// in records of versions without it and in records rebuilt from the event stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timings: Option<crate::run::timings::Timings>,
}

impl RunRecord {
    /// Whether the user stopped the comparison during this run (in its memory phases, or in
    /// its cost measurement, after which its memory figures stand and its status stays `ok`).
    pub fn interrupted(&self) -> bool {
        self.status == RunStatus::Interrupted
            || self
                .cost
                .as_ref()
                .is_some_and(|c| c.failure.as_deref() == Some(crate::cost::INTERRUPTED))
    }
}

impl RunHeader {
    /// The header of a run known only by its variant's name, its number, its phases as they
    /// ran and its sampling: what a cut event stream without its `start` line still tells.
    pub fn unknown(
        variant: Variant,
        run_index: u32,
        phases_planned: PhaseSpec,
        sample_interval_s: f64,
    ) -> RunHeader {
        RunHeader {
            scenario: String::new(),
            scenario_path: String::new(),
            scenario_hash: String::new(),
            scenario_description: String::new(),
            variant,
            run_index,
            seed: 0,
            quick: false,
            started_at: String::new(),
            server_command: Vec::new(),
            phases_planned,
            sample_interval_s,
            environment: Default::default(),
            memory_limit_bytes: None,
            report: Default::default(),
            target: None,
            stats_polled_in: None,
            server_cgroup: None,
            cost_spec: None,
            shard: None,
            probe: None,
        }
    }
}

/// One line of the streamed `.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    Start(Box<RunHeader>),
    /// The server is up: its pid and address.
    Server {
        pid: u32,
        addr: String,
    },
    Phase(PhaseMark),
    /// The variant's preload, found mapped in the server: where.
    Preload {
        mapped: String,
    },
    Sample(Sample),
    Smaps(SmapsRollup),
    Mappings(MappingBreakdown),
    /// Each process of a tree-sampled target.
    Procs(TreeSample),
    /// The server's memory cgroup.
    Cgroup(CgroupSample),
    Stats(StatsSample),
    /// A process's probe page, read for the first time.
    ProbePage(ProbePage),
    /// Every probe page at a sample tick.
    Probe(ProbeTick),
    LoadSecond {
        phase: String,
        /// Boxed: with a request mix's `per_request` it is the largest event by far.
        report: Box<SecondReport>,
    },
    /// The answer of `POST /admin/release`: what the allocator was asked to do.
    Release {
        t: f64,
        outcome: serde_json::Value,
    },
    Load(Box<PhaseLoad>),
    /// A phase the scenario's own load tool drove, once it was reaped.
    LoadTool(Box<ToolRun>),
    /// The cost measurement, after the memory run's end.
    Cost(Box<CostRecord>),
    /// What the server said of itself when it was ready: allocator and settings in effect.
    Settings(serde_json::Value),
    End {
        status: RunStatus,
        failure: Option<String>,
        /// How the server ended (absent in streams of older versions).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        server_exit: Option<String>,
    },
}

/// A record assembled from its events: the one way a record is made, live (each event as it
/// is streamed) and by `report` from the stream of a run that was killed.
#[derive(Debug, Default)]
pub struct RecordBuilder {
    pub start: Option<RunHeader>,
    pid: Option<u32>,
    preload_mapped: Option<String>,
    settings: Option<serde_json::Value>,
    pub phases: Vec<PhaseMark>,
    pub samples: Vec<Sample>,
    smaps: Vec<SmapsRollup>,
    mappings: Vec<MappingBreakdown>,
    procs: Vec<TreeSample>,
    cgroup: Vec<CgroupSample>,
    pub stats: Vec<StatsSample>,
    probe_pages: Vec<ProbePage>,
    probe: Vec<ProbeTick>,
    pub loads: Vec<PhaseLoad>,
    tools: Vec<ToolRun>,
    release: Option<serde_json::Value>,
    cost: Option<CostRecord>,
    pub end: Option<(RunStatus, Option<String>, Option<String>)>,
}

impl RecordBuilder {
    pub fn apply(&mut self, event: &Event) {
        match event {
            Event::Start(h) => self.start = Some((**h).clone()),
            Event::Server { pid, .. } => self.pid = Some(*pid),
            Event::Preload { mapped } => self.preload_mapped = Some(mapped.clone()),
            Event::Settings(s) => self.settings = Some(s.clone()),
            // A phase is streamed when it begins (end = start) and again when it ends.
            Event::Phase(m) => {
                match self
                    .phases
                    .iter_mut()
                    .rev()
                    .find(|x| x.name == m.name && x.start == m.start)
                {
                    Some(x) => *x = m.clone(),
                    None => self.phases.push(m.clone()),
                }
                if m.name == "drain" && m.end > m.start {
                    self.thin_finished_cycle();
                }
            }
            Event::Sample(s) => self.samples.push(*s),
            Event::Smaps(s) => self.smaps.push(*s),
            Event::Mappings(m) => self.mappings.push(*m),
            Event::Procs(p) => self.procs.push(p.clone()),
            Event::Cgroup(c) => self.cgroup.push(*c),
            Event::Stats(s) => self.stats.push(s.clone()),
            Event::ProbePage(p) => self.probe_pages.push(p.clone()),
            Event::Probe(p) => self.probe.push(p.clone()),
            Event::LoadSecond { .. } => {}
            Event::Release { outcome, .. } => self.release = Some(outcome.clone()),
            Event::Load(l) => self.loads.push((**l).clone()),
            Event::LoadTool(t) => self.tools.push((**t).clone()),
            Event::Cost(c) => self.cost = Some((**c).clone()),
            Event::End {
                status,
                failure,
                server_exit,
            } => self.end = Some((*status, failure.clone(), server_exit.clone())),
        }
    }

    /// The record: `header` with what the events measured, the figures computed from the
    /// samples and phases, and the end (`status`, `failure`, `server_exit`) as given.
    pub fn build(
        self,
        header: RunHeader,
        status: RunStatus,
        failure: Option<String>,
        server_exit: Option<String>,
    ) -> RunRecord {
        let during = self.during_load().cloned();
        let load_end = load_end(&self.loads, &self.tools);
        // Streams of older versions have no settings event: the first /stats reading has them.
        let settings = self.settings.or_else(|| {
            self.stats
                .iter()
                .find(|s| s.stats.get("allocator").is_some())
                .map(|s| settings_of(&s.stats))
        });
        RunRecord {
            schema_version: SCHEMA_VERSION,
            header,
            status,
            failure,
            server_exit,
            server_pid: self.pid,
            server_settings: settings,
            preload_mapped: self.preload_mapped,
            figures: crate::figures::compute_with_load_end(&self.samples, &self.phases, load_end)
                .with_container(&self.samples, &self.smaps, &self.cgroup, &self.phases),
            phases: self.phases,
            load: during.map(|l| l.summary),
            phase_loads: self.loads,
            load_tools: self.tools,
            release: self.release,
            samples: self.samples,
            smaps: self.smaps,
            mappings: self.mappings,
            stats: self.stats,
            procs: self.procs,
            cgroup: self.cgroup,
            cost: self.cost,
            probe_pages: self.probe_pages,
            probe_readings: self.probe,
            timings: None,
        }
    }
}

impl RecordBuilder {
    /// In a soak, the cycle whose drain has just ended, when it is not the first, thinned to
    /// what its figures and plots need ([`compact`]): the harness's memory stays flat over a
    /// soak of hours. A run planned without a soak keeps every reading.
    fn thin_finished_cycle(&mut self) {
        if self
            .start
            .as_ref()
            .is_none_or(|h| h.phases_planned.soak.is_none())
        {
            return;
        }
        let Some(span) = compact::finished_cycle(&self.phases) else {
            return;
        };
        let series = self
            .start
            .as_ref()
            .map_or(&[][..], |h| &h.report.series[..]);
        let pointers: Vec<String> = series.iter().map(|s| s.stat.clone()).collect();
        span.samples(&mut self.samples);
        span.series(&mut self.smaps);
        span.series(&mut self.mappings);
        span.procs(&mut self.procs);
        span.series(&mut self.cgroup);
        span.stats(&mut self.stats, &pointers);
        span.series(&mut self.probe);
    }

    /// The main load, `during`'s.
    fn during_load(&self) -> Option<&PhaseLoad> {
        self.loads.iter().find(|l| l.phase == "during")
    }
}

/// When the `during` load ended, where t90 and the curve after the load count from: the
/// built-in client's last request's end, or the load tool's.
fn load_end(loads: &[PhaseLoad], tools: &[ToolRun]) -> Option<f64> {
    match loads.iter().find(|l| l.phase == "during") {
        Some(l) => l.ended_t,
        None => during_tool(tools).and_then(|t| t.ended_t),
    }
}

/// The tool's run of `during` (the first, with cycles): the run's load figures, when it drove it.
pub fn during_tool(tools: &[ToolRun]) -> Option<&ToolRun> {
    tools.iter().find(|t| t.phase == "during")
}

/// The part of a `/stats` document a record keeps as the server's settings.
pub fn settings_of(stats: &serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "allocator": stats.get("allocator"),
        "allocator_settings": stats.get("allocator_settings"),
        "server_settings": stats.get("server_settings"),
    })
}

/// Appends events to the run's `.jsonl`, flushing each so nothing measured is lost.
pub struct EventLog {
    out: BufWriter<File>,
    pub path: PathBuf,
}

impl EventLog {
    pub fn create(path: &Path) -> std::io::Result<Self> {
        let f = File::create(path)?;
        Ok(Self {
            out: BufWriter::new(f),
            path: path.to_path_buf(),
        })
    }

    pub fn write(&mut self, e: &Event) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.out, e)?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }
}

/// Writes `value` as pretty JSON to `path` atomically: a reader sees the old file or the new
/// one, never half of one.
pub fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    let tmp = path.with_extension("json.tmp");
    {
        let mut w = BufWriter::new(File::create(&tmp)?);
        serde_json::to_writer_pretty(&mut w, value)?;
        w.write_all(b"\n")?;
        w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

impl RunRecord {
    /// When the `during` load really ended, as t90 takes it: the built-in client's last
    /// request's end, or the load tool's; `None` when neither was kept.
    pub fn load_end(&self) -> Option<f64> {
        load_end(&self.phase_loads, &self.load_tools)
    }

    /// The record's figures with the curve after the load computed from its samples, so a
    /// record written before the curve was kept has it too (for a newer one it is the same).
    pub fn figures_with_curve(&self) -> Figures {
        let f = &self.figures;
        Figures {
            after_load: crate::figures::curve::after_load(
                &self.samples,
                &self.phases,
                self.load_end(),
                f.rss_before_bytes,
                f.rss_peak_bytes,
            ),
            ..f.clone()
        }
    }

    /// The phases whose figures the harness's own requests could have moved: `before` (B) and
    /// `drain` (A) when it polled the server's stats in them. Records of versions before
    /// `stats_polled_in` polled every phase of a server with a stats endpoint.
    pub fn observed_quiet_phases(&self) -> Vec<String> {
        match &self.header.stats_polled_in {
            Some(p) => crate::scenario::observed_quiet(p),
            None if self
                .header
                .target
                .as_ref()
                .is_some_and(|t| t.stats.is_none()) =>
            {
                Vec::new()
            }
            None => crate::scenario::QUIET_PHASES
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }
    }

    /// A record for a run that has not ended yet: the header, nothing measured.
    pub fn from_header(header: RunHeader) -> Self {
        RunRecord {
            schema_version: SCHEMA_VERSION,
            header,
            status: RunStatus::Ok,
            failure: None,
            server_exit: None,
            server_pid: None,
            server_settings: None,
            preload_mapped: None,
            phases: Vec::new(),
            figures: Figures::default(),
            load: None,
            phase_loads: Vec::new(),
            load_tools: Vec::new(),
            release: None,
            samples: Vec::new(),
            smaps: Vec::new(),
            mappings: Vec::new(),
            stats: Vec::new(),
            procs: Vec::new(),
            cgroup: Vec::new(),
            cost: None,
            probe_pages: Vec::new(),
            probe_readings: Vec::new(),
            timings: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// Committed records: one written before `preload_mapped` was kept, one of a target with
    /// a `[target]` in its header and per-process samples.
    const COMMITTED: [(&str, &str); 2] = [
        (
            "buffered-vs-streaming/glibc@buffered-1",
            include_str!(
                "../../../reports/incidents/buffered-vs-streaming/runs/glibc@buffered-1.json"
            ),
        ),
        (
            "nginx-range/glibc-1",
            include_str!("../../../reports/targets/nginx-range/runs/glibc-1.json"),
        ),
    ];

    #[test]
    fn committed_records_load_and_round_trip_with_the_header_at_the_top_level() {
        for (name, text) in COMMITTED {
            let file: Value = serde_json::from_str(text).unwrap();
            let file = file.as_object().unwrap();
            let rec: RunRecord = serde_json::from_str(text).unwrap();

            // The header was read from the file's top level: each of its fields as written.
            let header = serde_json::to_value(&rec.header).unwrap();
            for (k, v) in header.as_object().unwrap() {
                assert_eq!(file.get(k), Some(v), "{name}: header field {k}");
            }
            assert_eq!(rec.header.run_index, 1, "{name}");
            assert_eq!(rec.header.variant.base_name(), "glibc", "{name}");

            // Written back, the header is flat again: the file's keys, no `header`.
            let written = serde_json::to_value(&rec).unwrap();
            let written = written.as_object().unwrap();
            assert!(!written.contains_key("header"), "{name}");
            for k in file.keys() {
                assert!(written.contains_key(k), "{name}: {k} lost");
            }
            for k in written.keys().filter(|k| !file.contains_key(*k)) {
                assert_eq!(k, "preload_mapped", "{name}: {k} is new");
            }

            // And read again, the same header.
            let again: RunRecord = serde_json::from_value(Value::Object(written.clone())).unwrap();
            assert_eq!(
                serde_json::to_value(&again.header).unwrap(),
                header,
                "{name}"
            );
            assert_eq!(again.status, rec.status, "{name}");
            assert_eq!(again.samples.len(), rec.samples.len(), "{name}");
        }
    }

    /// The record's t90 counts from the `during` load's end when the load recorded one, from
    /// the end of `during` otherwise (an old record); an old record has neither the end nor
    /// `intended`, and reads.
    /// A record written before the load's end, its intended requests and the probe were kept
    /// (reports/incidents/thread-arenas as measured on 2026-12-04, before it was measured again).
    const BEFORE_LOAD_END: &str = include_str!("testdata/thread-arenas-2026-12-04.json");

    #[test]
    fn t90_counts_from_the_during_loads_end() {
        let old: RunRecord = serde_json::from_str(BEFORE_LOAD_END).unwrap();
        assert!(old.probe_readings.is_empty() && old.header.probe.is_none());
        let during = old
            .phase_loads
            .iter()
            .find(|l| l.phase == "during")
            .unwrap();
        assert_eq!((during.ended_t, during.summary.intended), (None, None));

        let build = |ended_t: Option<f64>| {
            let mut b = RecordBuilder::default();
            for (name, start, end) in [
                ("before", 0.0, 2.0),
                ("during", 2.0, 5.0),
                ("drain", 5.0, 9.0),
            ] {
                b.apply(&Event::Phase(PhaseMark {
                    name: name.into(),
                    start,
                    end,
                }));
            }
            for i in 0..=90 {
                let t = f64::from(i) / 10.0;
                let rss_anon = if (2.0..4.5).contains(&t) {
                    100 << 20
                } else {
                    1 << 20
                };
                b.apply(&Event::Sample(Sample {
                    t,
                    rss_anon,
                    ..Default::default()
                }));
            }
            b.apply(&Event::Load(Box::new(PhaseLoad {
                phase: "during".into(),
                summary: old.load.clone().unwrap(),
                started_t: Some(2.1),
                ended_t,
            })));
            let header = fixtures::header("glibc", 1);
            b.build(header, RunStatus::Ok, None, None)
                .figures
                .t90_s
                .unwrap()
        };
        // Memory back at 4.5 s: 0.5 s after a load that ended at 4.0, 0 after `during`'s end.
        assert!(
            (build(Some(4.0)) - 0.5).abs() < 1e-9,
            "{}",
            build(Some(4.0))
        );
        assert_eq!(build(None), 0.0);
    }

    #[test]
    fn a_record_without_a_scenario_description_still_loads() {
        let (_, text) = COMMITTED[0];
        let mut v: Value = serde_json::from_str(text).unwrap();
        v.as_object_mut().unwrap().remove("scenario_description");
        let rec: RunRecord = serde_json::from_value(v).unwrap();
        assert_eq!(rec.header.scenario_description, "");
        assert_eq!(rec.header.scenario, "buffered-vs-streaming");
    }
}
