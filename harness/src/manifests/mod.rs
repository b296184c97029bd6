//! `allocstorm manifests`: the Kubernetes objects that run a `[remote]` scenario's comparison
//! on a cluster, printed as YAML (docs/cluster.md).
//!
//! Generated from the scenario rather than shipped as a template, so that what must agree
//! with it does: the worker count (`[remote] workers` = the Job's completions and
//! parallelism), the port (`[remote] listen`'s = the Service's and the container's), the
//! phases (how long a worker waits for the next load), and the scenario itself, which travels
//! in a ConfigMap, byte for byte, so the run's scenario hash is the file's on your disk.
//!
//! - a Secret `<name>-token` with the token both sides read as `ALLOCSTORM_TOKEN` (or
//!   `--secret`: one of yours);
//! - a ConfigMap `<name>-scenario`: the scenario file and its variants file;
//! - a Job `<name>-coordinator`: one pod, one container, `allocstorm compare`, which starts the
//!   toy server itself, as its child, and samples its `/proc` (so no `shareProcessNamespace`:
//!   the server is in the harness's own container); the report goes to a volume and stays
//!   there `--keep` after the comparison, for `kubectl cp` (or `--pvc`);
//! - a headless Service `<name>-coordinator` that resolves to that pod, for the workers;
//! - a NetworkPolicy `<name>-coordinator`: only the workers' pods reach that pod ([`policy`]);
//! - an Indexed Job `<name>-workers`: `workers` pods, each `allocstorm load-worker
//!   --index=$(JOB_COMPLETION_INDEX)`, kept off the coordinator's node where the cluster has
//!   room (their CPU would be the server's).
//!
//! [`yaml`] writes them out.

mod policy;
pub mod yaml;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use allocstorm_core::{units, Exit};

use crate::scenario::{PhaseSpec, Scenario};
use yaml::{list, map, Node};

/// The image of `docker/` (scripts/docker.sh builds it under this tag).
pub const DEFAULT_IMAGE: &str = "allocstorm:bookworm";
/// Where the image's harness runs (its WORKDIR), and where the volumes go.
const SCENARIO_DIR: &str = "/allocstorm/scenario";
const REPORTS_DIR: &str = "/allocstorm/reports";
/// The Secret's key that holds the token.
const TOKEN_KEY: &str = "token";
/// Longest `--name`: room for `-coordinator` and for the pods' suffixes within 63.
const MAX_NAME: usize = 40;

#[derive(Debug, clap::Args)]
pub struct ManifestsArgs {
    /// Scenario file (TOML) with a `[remote]` section whose `listen` is 0.0.0.0:PORT.
    #[arg(long)]
    pub scenario: PathBuf,
    /// Variants the coordinator compares: `all`, or names separated by commas.
    #[arg(long, default_value = "all")]
    pub variants: String,
    /// Runs per variant.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub runs: u32,
    /// Shorter phases with the same shape.
    #[arg(long)]
    pub quick: bool,
    /// The image of docker/, pushed where the cluster pulls from.
    #[arg(long, default_value = DEFAULT_IMAGE)]
    pub image: String,
    /// Prefix of every object's name [default: allocstorm-<scenario name>].
    #[arg(long)]
    pub name: Option<String>,
    /// Use this existing Secret (key `token`) instead of generating one into the output.
    #[arg(long)]
    pub secret: Option<String>,
    /// Write the report to this PersistentVolumeClaim instead of the pod's own emptyDir.
    #[arg(long)]
    pub pvc: Option<String>,
    /// How long the coordinator pod stays after the comparison, for `kubectl cp`.
    #[arg(long, default_value = "1h", value_parser = keep)]
    pub keep: Duration,
}

fn keep(s: &str) -> Result<Duration, String> {
    let d = units::parse_duration(s).map_err(|e| e.to_string())?;
    if d > Duration::from_secs(7 * 24 * 3600) {
        return Err(format!("expected at most 7 days, got {s:?}"));
    }
    Ok(d)
}

/// Where the token comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    /// A Secret in the output, with this token.
    Generated(String),
    /// A Secret of the user's, by name.
    Existing(String),
}

/// Where the report goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Reports {
    /// The coordinator pod's own emptyDir: gone with the pod, so it stays `keep` for `kubectl cp`.
    EmptyDir,
    /// A PersistentVolumeClaim of the user's, by name.
    Claim(String),
}

/// Everything the manifests are made of, checked.
#[derive(Debug, Clone)]
pub struct Plan {
    pub name: String,
    pub image: String,
    /// The scenario as loaded (its `[remote]` is there).
    pub scenario: Scenario,
    pub listen: SocketAddr,
    pub workers: u32,
    /// The scenario file's name and text, and its variants file's.
    pub scenario_file: String,
    pub scenario_text: String,
    pub variants_file: String,
    pub variants_text: String,
    /// `--variants` as `compare` gets it.
    pub variants: String,
    pub runs: u32,
    pub quick: bool,
    pub token: Token,
    pub reports: Reports,
    pub keep: Duration,
    /// The command line that made them, for the header.
    pub command_line: String,
}

impl Plan {
    /// Reads the scenario and checks everything a cluster would otherwise find out later.
    pub fn new(args: &ManifestsArgs, command_line: String) -> Result<Plan, String> {
        let scenario = Scenario::load(&args.scenario).map_err(|e| e.to_string())?;
        let file = args.scenario.display().to_string();
        crate::compare::select_variants(&scenario, Some(&args.variants))?;
        let Some(remote) = &scenario.remote else {
            return Err(format!(
                "{file}: no [remote] section: the cluster's load comes from load workers; add [remote] with listen = \"0.0.0.0:7070\" and workers = N (docs/cluster.md)"
            ));
        };
        if !remote.listen.ip().is_unspecified() {
            return Err(format!(
                "{file}: remote.listen: expected 0.0.0.0:PORT (or [::]:PORT) in a pod, whose address is not known before it starts, got \"{}\"",
                remote.listen
            ));
        }
        if scenario.target.is_some() {
            return Err(format!(
                "{file}: [target]: a server of your own is not in the image; the manifests run the toy server"
            ));
        }
        if let Some(f) = &scenario.server.file {
            return Err(format!(
                "{file}: server.file: {} is not in the pod; use create_file = SIZE instead",
                f.display()
            ));
        }
        let scenario_text = std::fs::read_to_string(&args.scenario)
            .map_err(|e| format!("{file}: cannot read: {e}"))?;
        let table: toml::Table = scenario_text.parse().map_err(|e| format!("{file}: {e}"))?;
        let variants_file = match table.get("variants_file").and_then(|v| v.as_str()) {
            None => "variants.toml".to_string(),
            Some(v) if config_key(v) => v.to_string(),
            Some(v) => {
                return Err(format!(
                    "{file}: variants_file: expected a file beside the scenario (it goes into the same ConfigMap), got {v:?}"
                ))
            }
        };
        let scenario_file = args
            .scenario
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .filter(|n| config_key(n) && *n != variants_file)
            .ok_or_else(|| {
                format!("{file}: expected a file name of letters, digits, '-', '_' and '.', other than the variants file's")
            })?;
        let vpath = args
            .scenario
            .parent()
            .unwrap_or(Path::new("."))
            .join(&variants_file);
        let variants_text = std::fs::read_to_string(&vpath)
            .map_err(|e| format!("{}: cannot read: {e}", vpath.display()))?;

        let name = match &args.name {
            Some(n) => n.clone(),
            None => default_name(&scenario.name),
        };
        check_name("--name", &name, MAX_NAME)?;
        if args.image.trim().is_empty() || args.image.contains(char::is_whitespace) {
            return Err(format!(
                "--image {:?}: expected an image reference, e.g. registry.example/allocstorm:bookworm",
                args.image
            ));
        }
        let token = match &args.secret {
            Some(s) => {
                check_name("--secret", s, 253)?;
                Token::Existing(s.clone())
            }
            None => Token::Generated(format!("{:032x}", rand::random::<u128>())),
        };
        let reports = match &args.pvc {
            Some(c) => {
                check_name("--pvc", c, 253)?;
                Reports::Claim(c.clone())
            }
            None => Reports::EmptyDir,
        };
        Ok(Plan {
            name,
            image: args.image.clone(),
            listen: remote.listen,
            workers: remote.workers,
            scenario_file,
            scenario_text,
            variants_file,
            variants_text,
            variants: args.variants.clone(),
            runs: args.runs,
            quick: args.quick,
            token,
            reports,
            keep: args.keep,
            command_line,
            scenario,
        })
    }

    fn labels(&self, component: Option<&str>) -> Node {
        let mut pairs = vec![
            ("app.kubernetes.io/name", Node::from("allocstorm")),
            ("app.kubernetes.io/instance", Node::from(&self.name)),
        ];
        if let Some(c) = component {
            pairs.push(("app.kubernetes.io/component", c.into()));
        }
        map(pairs)
    }

    fn metadata(&self, suffix: &str, component: Option<&str>) -> Node {
        map([
            ("name", format!("{}-{suffix}", self.name).into()),
            ("labels", self.labels(component)),
        ])
    }

    fn secret_name(&self) -> String {
        match &self.token {
            Token::Generated(_) => format!("{}-token", self.name),
            Token::Existing(s) => s.clone(),
        }
    }

    /// The Service's name: the host the workers connect to.
    pub fn coordinator_host(&self) -> String {
        format!("{}-coordinator", self.name)
    }

    /// Where the coordinator writes the report, in its container.
    pub fn report_dir(&self) -> String {
        format!("{REPORTS_DIR}/{}", self.name)
    }

    /// How long a worker looks for the coordinator (`--wait`): the longest a coordinator can
    /// be without a load open, i.e. from one load's end to the next one's start (the rest of
    /// one run's phases, the next server's start and its phases before the load), and two
    /// minutes besides for a pod's start. A worker that waited that long in vain exits: 0 once
    /// it served a load (the comparison is over), 2 before (the Job starts it again).
    pub fn worker_wait(&self) -> Duration {
        worker_wait(self.scenario.phases(self.quick))
    }

    /// The objects, in the order `kubectl apply` should create them.
    pub fn objects(&self) -> Vec<Node> {
        let mut out = Vec::new();
        if let Token::Generated(t) = &self.token {
            out.push(map([
                ("apiVersion", "v1".into()),
                ("kind", "Secret".into()),
                ("metadata", self.metadata("token", None)),
                ("type", "Opaque".into()),
                ("stringData", map([(TOKEN_KEY, t.into())])),
            ]));
        }
        out.push(map([
            ("apiVersion", "v1".into()),
            ("kind", "ConfigMap".into()),
            ("metadata", self.metadata("scenario", None)),
            (
                "data",
                map([
                    (self.scenario_file.as_str(), (&self.scenario_text).into()),
                    (self.variants_file.as_str(), (&self.variants_text).into()),
                ]),
            ),
        ]));
        out.push(self.service());
        out.push(self.network_policy());
        out.push(self.coordinator());
        out.push(self.workers());
        out
    }

    fn token_env(&self) -> Node {
        map([
            ("name", "ALLOCSTORM_TOKEN".into()),
            (
                "valueFrom",
                map([(
                    "secretKeyRef",
                    map([
                        ("name", self.secret_name().into()),
                        ("key", TOKEN_KEY.into()),
                    ]),
                )]),
            ),
        ])
    }

    fn service(&self) -> Node {
        let port = self.listen.port();
        map([
            ("apiVersion", "v1".into()),
            ("kind", "Service".into()),
            (
                "metadata",
                self.metadata("coordinator", Some("coordinator")),
            ),
            (
                "spec",
                map([
                    // Headless: the name resolves to the pod's own address, which is also the
                    // address the workers then send their load to (the toy server's port).
                    ("clusterIP", "None".into()),
                    // Resolvable while the comparison runs: the pod is Ready only after it.
                    ("publishNotReadyAddresses", true.into()),
                    ("selector", self.labels(Some("coordinator"))),
                    (
                        "ports",
                        list([map([
                            ("name", "remote".into()),
                            ("protocol", "TCP".into()),
                            ("port", port.into()),
                            ("targetPort", port.into()),
                        ])]),
                    ),
                ]),
            ),
        ])
    }

    fn coordinator(&self) -> Node {
        let mut args: Vec<Node> = vec![
            "allocstorm".into(),
            "compare".into(),
            format!("--scenario={SCENARIO_DIR}/{}", self.scenario_file).into(),
            format!("--variants={}", self.variants).into(),
            format!("--runs={}", self.runs).into(),
        ];
        if self.quick {
            args.push("--quick".into());
        }
        args.push("--out=$(REPORT_DIR)".into());
        let reports_volume = match &self.reports {
            Reports::EmptyDir => ("emptyDir", map::<&str>([])),
            Reports::Claim(c) => ("persistentVolumeClaim", map([("claimName", c.into())])),
        };
        let container = map([
            ("name", "allocstorm".into()),
            ("image", (&self.image).into()),
            ("imagePullPolicy", "IfNotPresent".into()),
            (
                "command",
                list([
                    "sh".into(),
                    "-c".into(),
                    COORDINATOR_SCRIPT.into(),
                    "coordinator".into(),
                ]),
            ),
            ("args", list(args)),
            (
                "env",
                list([
                    self.token_env(),
                    map([
                        ("name", "REPORT_DIR".into()),
                        ("value", self.report_dir().into()),
                    ]),
                    map([
                        ("name", "KEEP_SECONDS".into()),
                        ("value", self.keep.as_secs().to_string().into()),
                    ]),
                    // What every record's provenance names as its container (the image says
                    // `docker`; in a pod with its own cgroup namespace nothing else tells).
                    map([
                        ("name", "ALLOCSTORM_CONTAINER".into()),
                        ("value", "kubernetes".into()),
                    ]),
                ]),
            ),
            (
                "ports",
                list([map([
                    ("name", "remote".into()),
                    ("containerPort", self.listen.port().into()),
                    ("protocol", "TCP".into()),
                ])]),
            ),
            // Ready = the report is written: `kubectl wait --for=condition=Ready` waits for it.
            (
                "readinessProbe",
                map([
                    (
                        "exec",
                        map([(
                            "command",
                            list([
                                "test".into(),
                                "-e".into(),
                                format!("{}/exit-code", self.report_dir()).into(),
                            ]),
                        )]),
                    ),
                    ("periodSeconds", 10u32.into()),
                ]),
            ),
            (
                "volumeMounts",
                list([
                    map([
                        ("name", "scenario".into()),
                        ("mountPath", SCENARIO_DIR.into()),
                        ("readOnly", true.into()),
                    ]),
                    map([
                        ("name", "reports".into()),
                        ("mountPath", REPORTS_DIR.into()),
                    ]),
                ]),
            ),
        ]);
        map([
            ("apiVersion", "batch/v1".into()),
            ("kind", "Job".into()),
            (
                "metadata",
                self.metadata("coordinator", Some("coordinator")),
            ),
            (
                "spec",
                map([
                    // A comparison that failed is not run again by itself: its report says why.
                    ("backoffLimit", 0u32.into()),
                    (
                        "template",
                        map([
                            (
                                "metadata",
                                map([("labels", self.labels(Some("coordinator")))]),
                            ),
                            (
                                "spec",
                                map([
                                    ("restartPolicy", "Never".into()),
                                    ("enableServiceLinks", false.into()),
                                    ("containers", list([container])),
                                    (
                                        "volumes",
                                        list([
                                            map([
                                                ("name", "scenario".into()),
                                                (
                                                    "configMap",
                                                    map([(
                                                        "name",
                                                        format!("{}-scenario", self.name).into(),
                                                    )]),
                                                ),
                                            ]),
                                            map([("name", "reports".into()), reports_volume]),
                                        ]),
                                    ),
                                ]),
                            ),
                        ]),
                    ),
                ]),
            ),
        ])
    }

    fn workers(&self) -> Node {
        let field = |name: &str, path: &str| {
            map([
                ("name", name.into()),
                (
                    "valueFrom",
                    map([("fieldRef", map([("fieldPath", path.into())]))]),
                ),
            ])
        };
        let container = map([
            ("name", "load-worker".into()),
            ("image", (&self.image).into()),
            ("imagePullPolicy", "IfNotPresent".into()),
            ("command", list(["allocstorm".into(), "load-worker".into()])),
            (
                "args",
                list([
                    format!(
                        "--connect={}:{}",
                        self.coordinator_host(),
                        self.listen.port()
                    )
                    .into(),
                    "--index=$(JOB_COMPLETION_INDEX)".into(),
                    "--name=$(POD_NAME)@$(NODE_NAME)".into(),
                    format!("--wait={}s", self.worker_wait().as_secs()).into(),
                ]),
            ),
            (
                "env",
                list([
                    self.token_env(),
                    // The Job controller sets it too; declared so that the argument above
                    // does not depend on that.
                    field(
                        "JOB_COMPLETION_INDEX",
                        "metadata.annotations['batch.kubernetes.io/job-completion-index']",
                    ),
                    field("POD_NAME", "metadata.name"),
                    field("NODE_NAME", "spec.nodeName"),
                ]),
            ),
        ]);
        let away_from_coordinator = map([(
            "podAntiAffinity",
            map([(
                "preferredDuringSchedulingIgnoredDuringExecution",
                list([map([
                    ("weight", 100u32.into()),
                    (
                        "podAffinityTerm",
                        map([
                            ("topologyKey", "kubernetes.io/hostname".into()),
                            (
                                "labelSelector",
                                map([("matchLabels", self.labels(Some("coordinator")))]),
                            ),
                        ]),
                    ),
                ])]),
            )]),
        )]);
        map([
            ("apiVersion", "batch/v1".into()),
            ("kind", "Job".into()),
            ("metadata", self.metadata("workers", Some("worker"))),
            (
                "spec",
                map([
                    ("completionMode", "Indexed".into()),
                    ("completions", self.workers.into()),
                    ("parallelism", self.workers.into()),
                    // A worker that found no coordinator in time (exit 2) starts again, its
                    // index with it; one whose load failed makes the run fail on the other
                    // side, where it is recorded.
                    ("backoffLimit", (2 * self.workers).into()),
                    (
                        "template",
                        map([
                            ("metadata", map([("labels", self.labels(Some("worker")))])),
                            (
                                "spec",
                                map([
                                    ("restartPolicy", "Never".into()),
                                    ("enableServiceLinks", false.into()),
                                    ("affinity", away_from_coordinator),
                                    ("containers", list([container])),
                                ]),
                            ),
                        ]),
                    ),
                ]),
            ),
        ])
    }

    /// The whole output: a header that says how to use it, then the objects.
    pub fn render(&self) -> String {
        let pod = format!(
            "$(kubectl get pod -l app.kubernetes.io/instance={},app.kubernetes.io/component=coordinator -o name | cut -d/ -f2)",
            self.name
        );
        let mut out = format!(
            "# Generated by `{}` (allocstorm {})\n\
             # from scenario {:?} (sha256 {}): {} load workers, port {}. See docs/cluster.md.\n",
            self.command_line,
            env!("CARGO_PKG_VERSION"),
            self.scenario.name,
            self.scenario.hash,
            self.workers,
            self.listen.port()
        );
        if matches!(self.token, Token::Generated(_)) {
            out.push_str("# It holds a generated token (the Secret): do not commit it.\n");
        }
        out.push_str(&format!(
            "#\n\
             #   kubectl apply -f THIS_FILE\n\
             #   kubectl logs -f job/{name}-coordinator            # the comparison's progress\n\
             #   kubectl wait --for=condition=Ready pod -l app.kubernetes.io/instance={name},app.kubernetes.io/component=coordinator --timeout=2h\n\
             #   kubectl cp {pod}:{dir} reports/{name}\n\
             #   kubectl delete -f THIS_FILE\n",
            name = self.name,
            dir = self.report_dir(),
        ));
        if matches!(self.reports, Reports::EmptyDir) {
            out.push_str(&format!(
                "#\n# The report is in the coordinator pod's emptyDir for {} after the comparison (--keep).\n",
                humanize(self.keep)
            ));
        }
        for o in self.objects() {
            out.push_str("---\n");
            out.push_str(&yaml::to_yaml(&o));
        }
        out
    }
}

/// The coordinator's shell: `compare` as its child (so that a pod's deletion reaches it as
/// Ctrl-C, and it keeps what it measured), then the exit code into the report directory (the
/// readiness probe's sign), then the pod stays `KEEP_SECONDS` for `kubectl cp`, and ends with
/// compare's code (the Job's outcome).
pub const COORDINATOR_SCRIPT: &str = r#"pid=
trap 'test -n "$pid" && kill -INT "$pid" 2>/dev/null' INT TERM
mkdir -p "$REPORT_DIR"
"$@" &
pid=$!
wait "$pid"
code=$?
while kill -0 "$pid" 2>/dev/null; do wait "$pid"; code=$?; done
keep=
trap 'test -n "$keep" && kill "$keep" 2>/dev/null; exit "$code"' INT TERM
echo "$code" > "$REPORT_DIR/exit-code"
echo "allocstorm: compare exited $code; the report is in $REPORT_DIR for ${KEEP_SECONDS}s: kubectl cp $(hostname):$REPORT_DIR DIR"
if [ "$KEEP_SECONDS" -gt 0 ]; then sleep "$KEEP_SECONDS" & keep=$!; wait "$keep"; fi
exit "$code"
"#;

/// See [`Plan::worker_wait`].
pub fn worker_wait(p: &PhaseSpec) -> Duration {
    p.warmup + p.before + p.drain + p.nudge + p.release + Duration::from_secs(120)
}

fn humanize(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => "no time".to_string(),
        s if s % 3600 == 0 => format!("{} h", s / 3600),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// `allocstorm-<scenario>` as a DNS label: lower case, `-` for anything else, cut to fit.
pub fn default_name(scenario: &str) -> String {
    let mut n = String::from("allocstorm-");
    for c in scenario.chars() {
        let c = c.to_ascii_lowercase();
        n.push(if c.is_ascii_alphanumeric() { c } else { '-' });
    }
    n.truncate(MAX_NAME);
    let trimmed = n.trim_end_matches('-');
    trimmed.to_string()
}

/// A DNS-1123 label (and so a valid Service name): what every object name here must be.
fn check_name(flag: &str, n: &str, max: usize) -> Result<(), String> {
    let ok = !n.is_empty()
        && n.len() <= max
        && n.starts_with(|c: char| c.is_ascii_lowercase())
        && n.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && n.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{flag} {n:?}: expected at most {max} lower-case letters, digits and '-', starting with a letter and ending with a letter or digit"
        ))
    }
}

/// A ConfigMap key: letters, digits, `-`, `_`, `.`.
fn config_key(k: &str) -> bool {
    !k.is_empty()
        && k != "."
        && k != ".."
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// `allocstorm manifests`: print the YAML, or one line on what is wrong (exit 2).
pub fn main(args: ManifestsArgs) -> ExitCode {
    let command_line = std::iter::once("allocstorm".to_string())
        .chain(std::env::args().skip(1))
        .collect::<Vec<_>>()
        .join(" ");
    match Plan::new(&args, command_line) {
        Ok(plan) => {
            if let Err(e) = crate::stdout::print(&plan.render()) {
                eprintln!("allocstorm: cannot write to stdout: {e}");
                return Exit::Error.into();
            }
            ExitCode::from(Exit::Ok)
        }
        Err(e) => {
            eprintln!("allocstorm: {e}");
            Exit::Error.into()
        }
    }
}

#[cfg(test)]
mod tests;
