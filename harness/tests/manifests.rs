//! `allocstorm manifests` as a cluster would take it: the generated YAML validated offline
//! against the Kubernetes API's schemas (kubernetes-validate from PyPI, in a venv that
//! scripts/kubernetes-validate.sh makes on first use; no cluster), manifests broken on purpose
//! rejected by the same check, and the coordinator's shell (exit code, report marker, a pod's
//! SIGTERM passed on as Ctrl-C) run for real.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{allocstorm, root, Running};

/// The oldest and the newest Kubernetes the manifests are checked against: Indexed Jobs are
/// GA from 1.24, and 1.25 is the oldest schema kubernetes-validate 1.37 ships.
const VERSIONS: [&str; 2] = ["1.25.0", "1.37.0"];

/// `scripts/kubernetes-validate.sh --strict -k VERSION FILE`: its exit code and its output;
/// `None` (after saying why) when PyPI cannot be reached to install it.
fn validate(version: &str, file: &Path) -> Option<(i32, String)> {
    let o = Command::new("bash")
        .arg(root().join("scripts/kubernetes-validate.sh"))
        .args(["--strict", "-k", version])
        .arg(file)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    match o.status.code() {
        Some(77) => {
            eprintln!("skipped: PyPI cannot be reached to install kubernetes-validate:\n{text}");
            None
        }
        Some(code) => Some((code, text)),
        None => panic!("kubernetes-validate.sh killed: {text}"),
    }
}

fn generate(extra: &[&str]) -> String {
    let mut args = vec![
        "manifests",
        "--scenario",
        "scenarios/hot-range-remote.toml",
        "--variants",
        "glibc,glibc-mmap64k",
        "--runs",
        "1",
        "--quick",
    ];
    args.extend_from_slice(extra);
    let out = allocstorm(&root(), &args);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.is_empty(), "{out:?}");
    out.stdout
}

#[test]
fn generated_manifests_pass_the_kubernetes_schemas_and_broken_ones_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.yaml");
    std::fs::write(&good, generate(&[])).unwrap();
    let claim = dir.path().join("claim.yaml");
    std::fs::write(
        &claim,
        generate(&[
            "--secret",
            "bench-token",
            "--pvc",
            "bench-reports",
            "--name",
            "night",
        ]),
    )
    .unwrap();

    for version in VERSIONS {
        for (file, resources) in [
            (
                &good,
                &[
                    "secret",
                    "configmap",
                    "service",
                    "networkpolicy",
                    "job",
                    "job",
                ][..],
            ),
            (
                &claim,
                &["configmap", "service", "networkpolicy", "job", "job"][..],
            ),
        ] {
            let Some((code, text)) = validate(version, file) else {
                return;
            };
            assert_eq!(code, 0, "{version} {}:\n{text}", file.display());
            let passed: Vec<&str> = text
                .lines()
                .filter(|l| l.starts_with("INFO") && l.contains(" passed for resource "))
                .map(|l| {
                    let r = l.split(" passed for resource ").nth(1).unwrap();
                    r.split('/').next().unwrap()
                })
                .collect();
            assert_eq!(passed, resources, "{version}:\n{text}");
        }
    }

    // The same check rejects what a cluster would: a misspelt field (strict), a wrong type,
    // a missing required field.
    let yaml = std::fs::read_to_string(&good).unwrap();
    for (what, from, to, error) in [
        (
            "a misspelt field",
            "  completionMode: Indexed\n",
            "  completionModes: Indexed\n",
            "'completionModes' was unexpected",
        ),
        (
            "a count as a string",
            "  parallelism: 3\n",
            "  parallelism: \"3\"\n",
            "parallelism",
        ),
        (
            "a port without its number",
            "    - name: remote\n      protocol: TCP\n      port: 7070\n",
            "    - name: remote\n      protocol: TCP\n",
            "'port' is a required property",
        ),
    ] {
        assert_eq!(yaml.matches(from).count(), 1, "{what}: {from:?} in\n{yaml}");
        let broken = dir.path().join("broken.yaml");
        std::fs::write(&broken, yaml.replace(from, to)).unwrap();
        let Some((code, text)) = validate(VERSIONS[1], &broken) else {
            return;
        };
        assert_eq!(code, 1, "{what}:\n{text}");
        assert!(
            text.lines()
                .any(|l| l.starts_with("ERROR") && l.contains(error)),
            "{what}: no ERROR line with {error:?}:\n{text}"
        );
    }
}

#[test]
fn a_scenario_without_remote_is_refused_in_one_line() {
    let out = allocstorm(
        &root(),
        &["manifests", "--scenario", "scenarios/hot-range.toml"],
    );
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    assert_eq!(out.stderr.lines().count(), 1, "{out:?}");
    assert!(
        out.stderr
            .starts_with("allocstorm: scenarios/hot-range.toml: no [remote] section"),
        "{out:?}"
    );
}

/// The coordinator container's shell, with `sh -c` as the pod runs it: the child's exit code
/// becomes the container's and is written beside the report (the readiness probe's sign); a
/// SIGTERM (a pod's deletion) reaches the child as SIGINT, the harness's Ctrl-C, which keeps
/// what was measured; during the keep a SIGTERM ends it at once with the child's code.
#[test]
fn the_coordinator_shell_passes_on_the_exit_code_and_a_pods_sigterm() {
    let script = allocstorm::manifests::COORDINATOR_SCRIPT;
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report");
    let shell = |keep: &str, child: &[&str]| {
        let mut c = Command::new("sh");
        c.args(["-c", script, "coordinator"])
            .args(child)
            .env("REPORT_DIR", &report)
            .env("KEEP_SECONDS", keep)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    };
    let marker = || std::fs::read_to_string(report.join("exit-code")).unwrap();

    let o = shell("0", &["sh", "-c", "exit 3"]).output().unwrap();
    assert_eq!(o.status.code(), Some(3), "{o:?}");
    assert_eq!(marker(), "3\n");
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(said.contains("compare exited 3"), "{said}");

    // A child that ends with 130 on SIGINT, as allocstorm does (python, because a shell's
    // background child ignores SIGINT and cannot trap it; allocstorm's handler replaces that).
    std::fs::remove_file(report.join("exit-code")).unwrap();
    let on_int = "import signal, sys, time\n\
                  signal.signal(signal.SIGINT, lambda *_: sys.exit(130))\n\
                  open(sys.argv[1], 'w').close()\n\
                  time.sleep(30)\n";
    let started = dir.path().join("started");
    let mut sh = Running::spawn(shell(
        "600",
        &["python3", "-c", on_int, started.to_str().unwrap()],
    ));
    let since = std::time::Instant::now();
    while !started.exists() {
        assert!(
            since.elapsed() < Duration::from_secs(20),
            "child never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    sh.signal(libc::SIGTERM);
    // The child ended with 130 and the shell is in its keep: the marker says 130.
    while !report.join("exit-code").exists() {
        assert!(since.elapsed() < Duration::from_secs(20), "no exit-code");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(marker(), "130\n");
    assert!(sh.is_running(), "it keeps the pod for `kubectl cp`");
    sh.signal(libc::SIGTERM);
    let (status, _) = sh.wait_within(Duration::from_secs(10));
    assert_eq!(status.code(), Some(130));
}
