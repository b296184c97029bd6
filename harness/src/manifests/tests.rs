use std::path::{Path, PathBuf};
use std::time::Duration;

use super::yaml::Node;
use super::*;

fn scenarios() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

fn args(scenario: &Path) -> ManifestsArgs {
    ManifestsArgs {
        scenario: scenario.to_path_buf(),
        variants: "glibc,glibc-mmap64k".into(),
        runs: 2,
        quick: true,
        image: "registry.example/allocstorm:bookworm".into(),
        name: None,
        secret: None,
        pvc: None,
        keep: Duration::from_secs(3600),
    }
}

fn plan(a: &ManifestsArgs) -> Plan {
    Plan::new(a, "allocstorm manifests".into()).unwrap()
}

fn remote_plan() -> Plan {
    plan(&args(&scenarios().join("hot-range-remote.toml")))
}

fn kind<'a>(objects: &'a [Node], kind: &str, name: &str) -> &'a Node {
    objects
        .iter()
        .find(|o| {
            o.get(&["kind"]).and_then(Node::as_str) == Some(kind)
                && o.get(&["metadata", "name"]).and_then(Node::as_str) == Some(name)
        })
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

fn strs(n: Option<&Node>) -> Vec<&str> {
    n.map(Node::as_list)
        .unwrap_or(&[])
        .iter()
        .filter_map(Node::as_str)
        .collect()
}

/// The env var `name` of a container: its value, or the secret or field it comes from.
fn env<'a>(container: &'a Node, name: &str) -> &'a Node {
    container
        .get(&["env"])
        .map(Node::as_list)
        .unwrap_or(&[])
        .iter()
        .find(|e| e.get(&["name"]).and_then(Node::as_str) == Some(name))
        .unwrap_or_else(|| panic!("no env {name}"))
}

/// The worker count, the port and the token follow the scenario's `[remote]`.
#[test]
fn workers_port_and_token_follow_the_scenario() {
    let p = remote_plan();
    assert_eq!(p.name, "allocstorm-hot-range-remote");
    assert_eq!((p.workers, p.listen.port()), (3, 7070));
    let objects = p.objects();
    let kinds: Vec<&str> = objects
        .iter()
        .filter_map(|o| o.get(&["kind"]).and_then(Node::as_str))
        .collect();
    assert_eq!(
        kinds,
        [
            "Secret",
            "ConfigMap",
            "Service",
            "NetworkPolicy",
            "Job",
            "Job"
        ]
    );

    let workers = kind(&objects, "Job", "allocstorm-hot-range-remote-workers");
    let spec = workers.get(&["spec"]).unwrap();
    assert_eq!(
        spec.get(&["completionMode"]).and_then(Node::as_str),
        Some("Indexed")
    );
    assert_eq!(spec.get(&["completions"]).and_then(Node::as_int), Some(3));
    assert_eq!(spec.get(&["parallelism"]).and_then(Node::as_int), Some(3));
    let worker = spec.get(&["template", "spec", "containers", "0"]).unwrap();
    assert_eq!(
        strs(worker.get(&["command"])),
        ["allocstorm", "load-worker"]
    );
    // hot-range's quick phases outside the load: 1 + 1.5 + 10 + 2 s, and two minutes.
    assert_eq!(
        strs(worker.get(&["args"])),
        [
            "--connect=allocstorm-hot-range-remote-coordinator:7070",
            "--index=$(JOB_COMPLETION_INDEX)",
            "--name=$(POD_NAME)@$(NODE_NAME)",
            "--wait=134s",
        ]
    );
    assert_eq!(
        env(worker, "JOB_COMPLETION_INDEX")
            .get(&["valueFrom", "fieldRef", "fieldPath"])
            .and_then(Node::as_str),
        Some("metadata.annotations['batch.kubernetes.io/job-completion-index']")
    );

    let service = kind(
        &objects,
        "Service",
        "allocstorm-hot-range-remote-coordinator",
    );
    assert_eq!(
        service.get(&["spec", "clusterIP"]).and_then(Node::as_str),
        Some("None")
    );
    assert_eq!(
        service
            .get(&["spec", "ports", "0", "port"])
            .and_then(Node::as_int),
        Some(7070)
    );
    let coordinator = kind(&objects, "Job", "allocstorm-hot-range-remote-coordinator");
    let pod = coordinator.get(&["spec", "template"]).unwrap();
    // The Service selects the coordinator's pod, and not the workers'.
    let selector = service.get(&["spec", "selector"]).unwrap();
    let Node::Map(wanted) = selector else {
        panic!("selector {selector:?}")
    };
    for (k, v) in wanted {
        assert_eq!(pod.get(&["metadata", "labels", k]), Some(v), "{k}");
    }
    assert_ne!(
        spec.get(&[
            "template",
            "metadata",
            "labels",
            "app.kubernetes.io/component"
        ]),
        selector.get(&["app.kubernetes.io/component"])
    );
    let harness = pod.get(&["spec", "containers", "0"]).unwrap();
    assert_eq!(
        harness
            .get(&["ports", "0", "containerPort"])
            .and_then(Node::as_int),
        Some(7070)
    );
    assert_eq!(
        strs(harness.get(&["args"])),
        [
            "allocstorm",
            "compare",
            "--scenario=/allocstorm/scenario/hot-range-remote.toml",
            "--variants=glibc,glibc-mmap64k",
            "--runs=2",
            "--quick",
            "--out=$(REPORT_DIR)",
        ]
    );
    assert_eq!(
        env(harness, "REPORT_DIR")
            .get(&["value"])
            .and_then(Node::as_str),
        Some("/allocstorm/reports/allocstorm-hot-range-remote")
    );
    assert_eq!(
        env(harness, "ALLOCSTORM_CONTAINER")
            .get(&["value"])
            .and_then(Node::as_str),
        Some("kubernetes")
    );
    // One server, one harness, one container: no shareProcessNamespace needed.
    assert_eq!(pod.get(&["spec", "containers"]).unwrap().as_list().len(), 1);
    assert_eq!(pod.get(&["spec", "shareProcessNamespace"]), None);

    // Both sides read the token from the one Secret in the output.
    let secret = kind(&objects, "Secret", "allocstorm-hot-range-remote-token");
    let Token::Generated(token) = &p.token else {
        panic!("{:?}", p.token)
    };
    assert_eq!(token.len(), 32);
    assert!(token.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(
        secret.get(&["stringData", "token"]).and_then(Node::as_str),
        Some(token.as_str())
    );
    for c in [harness, worker] {
        let from = env(c, "ALLOCSTORM_TOKEN")
            .get(&["valueFrom", "secretKeyRef"])
            .unwrap();
        assert_eq!(
            from.get(&["name"]).and_then(Node::as_str),
            Some("allocstorm-hot-range-remote-token")
        );
        assert_eq!(from.get(&["key"]).and_then(Node::as_str), Some("token"));
    }
    assert_ne!(remote_plan().token, p.token, "a new token each time");
}

/// Issue 28: the coordinator listened on 0.0.0.0 with no NetworkPolicy; now only this
/// comparison's worker pods reach its pod, over TCP (the coordinator's port and the toy
/// server's, which its kernel picks), and its selectors are the pods' own labels.
#[test]
fn a_network_policy_lets_only_the_workers_reach_the_coordinator() {
    let p = remote_plan();
    let objects = p.objects();
    let np = kind(
        &objects,
        "NetworkPolicy",
        "allocstorm-hot-range-remote-coordinator",
    );
    let spec = np.get(&["spec"]).unwrap();
    let coordinator = kind(&objects, "Job", "allocstorm-hot-range-remote-coordinator");
    let workers = kind(&objects, "Job", "allocstorm-hot-range-remote-workers");
    let pod_labels = |job: &Node| {
        job.get(&["spec", "template", "metadata", "labels"])
            .cloned()
    };
    assert_eq!(
        spec.get(&["podSelector", "matchLabels"]).cloned(),
        pod_labels(coordinator)
    );
    assert_eq!(strs(spec.get(&["policyTypes"])), ["Ingress"]);
    let rules = spec.get(&["ingress"]).map(Node::as_list).unwrap();
    assert_eq!(rules.len(), 1, "one rule");
    let from = rules[0].get(&["from"]).map(Node::as_list).unwrap();
    assert_eq!(from.len(), 1, "one peer");
    assert_eq!(
        from[0].get(&["podSelector", "matchLabels"]).cloned(),
        pod_labels(workers)
    );
    assert!(
        from[0].get(&["namespaceSelector"]).is_none(),
        "this namespace only"
    );
    assert!(from[0].get(&["ipBlock"]).is_none(), "no addresses");
    assert_eq!(
        rules[0]
            .get(&["ports", "0", "protocol"])
            .and_then(Node::as_str),
        Some("TCP")
    );
    // The workers' labels are not the coordinator's: the rule does not admit itself.
    assert_ne!(pod_labels(workers), pod_labels(coordinator));
}

/// The scenario travels byte for byte, with its variants file, so the run's hash is the file's.
#[test]
fn the_configmap_holds_the_scenario_and_its_variants_file_as_they_are() {
    let p = remote_plan();
    let objects = p.objects();
    let cm = kind(
        &objects,
        "ConfigMap",
        "allocstorm-hot-range-remote-scenario",
    );
    let file = |name: &str| std::fs::read_to_string(scenarios().join(name)).unwrap();
    assert_eq!(
        cm.get(&["data", "hot-range-remote.toml"])
            .and_then(Node::as_str),
        Some(file("hot-range-remote.toml").as_str())
    );
    assert_eq!(
        cm.get(&["data", "variants.toml"]).and_then(Node::as_str),
        Some(file("variants.toml").as_str())
    );
}

#[test]
fn an_existing_secret_and_a_claim_replace_the_generated_ones() {
    let mut a = args(&scenarios().join("hot-range-remote.toml"));
    a.secret = Some("my-token".into());
    a.pvc = Some("reports".into());
    a.name = Some("night-1".into());
    let p = plan(&a);
    let objects = p.objects();
    assert!(objects
        .iter()
        .all(|o| o.get(&["kind"]).and_then(Node::as_str) != Some("Secret")));
    let coordinator = kind(&objects, "Job", "night-1-coordinator");
    let pod = coordinator.get(&["spec", "template", "spec"]).unwrap();
    assert_eq!(
        pod.get(&["volumes", "1", "persistentVolumeClaim", "claimName"])
            .and_then(Node::as_str),
        Some("reports")
    );
    assert_eq!(
        env(pod.get(&["containers", "0"]).unwrap(), "ALLOCSTORM_TOKEN")
            .get(&["valueFrom", "secretKeyRef", "name"])
            .and_then(Node::as_str),
        Some("my-token")
    );
    let yaml = p.render();
    assert!(!yaml.contains("do not commit"), "{yaml}");
}

#[test]
fn the_rendered_yaml_says_how_to_use_it_and_holds_every_object() {
    let p = remote_plan();
    let yaml = p.render();
    assert!(
        yaml.starts_with("# Generated by `allocstorm manifests`"),
        "{yaml}"
    );
    assert!(yaml.contains(&p.scenario.hash), "{yaml}");
    assert!(yaml.contains("do not commit"), "{yaml}");
    assert!(yaml.contains("kubectl cp"), "{yaml}");
    assert_eq!(yaml.matches("\n---\n").count(), 6, "{yaml}");
    assert!(yaml.contains("\n  completionMode: Indexed\n"), "{yaml}");
}

/// Each scenario error is one line naming what to change.
#[test]
fn scenarios_a_cluster_cannot_run_are_refused_with_what_to_change() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        scenarios().join("variants.toml"),
        dir.path().join("variants.toml"),
    )
    .unwrap();
    let remote = std::fs::read_to_string(scenarios().join("hot-range-remote.toml")).unwrap();
    let cases: [(&str, String, &str); 4] = [
        (
            "plain.toml",
            std::fs::read_to_string(scenarios().join("hot-range.toml")).unwrap(),
            "no [remote] section",
        ),
        (
            "fixed.toml",
            remote.replace("0.0.0.0:7070", "198.18.0.1:7070"),
            "remote.listen: expected 0.0.0.0:PORT",
        ),
        (
            "file.toml",
            remote.replace("create_file = \"3MiB\"", "file = \"/etc/hostname\""),
            "server.file: /etc/hostname is not in the pod",
        ),
        (
            "elsewhere.toml",
            remote.replace(
                "seed = 42",
                "seed = 42\nvariants_file = \"../variants.toml\"",
            ),
            "variants_file: expected a file beside the scenario",
        ),
    ];
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    for (file, text, want) in cases {
        let path = match file {
            "elsewhere.toml" => dir.path().join("sub").join(file),
            _ => dir.path().join(file),
        };
        std::fs::write(&path, text).unwrap();
        let err = Plan::new(&args(&path), String::new()).unwrap_err();
        assert!(err.contains(want), "{file}: {err}");
        assert!(!err.contains('\n'), "{err}");
    }

    let path = dir.path().join("ok.toml");
    std::fs::write(&path, &remote).unwrap();
    for (edit, want) in [
        (
            (|a: &mut ManifestsArgs| a.name = Some("Bad_Name".into())) as fn(&mut ManifestsArgs),
            "--name \"Bad_Name\": expected",
        ),
        (
            |a| a.variants = "glibc,nope".into(),
            "unknown variant \"nope\"",
        ),
        (|a| a.image = String::new(), "--image \"\": expected"),
        (|a| a.secret = Some("-x".into()), "--secret \"-x\""),
    ] {
        let mut a = args(&path);
        edit(&mut a);
        let err = Plan::new(&a, String::new()).unwrap_err();
        assert!(err.contains(want), "{err}");
    }
}

#[test]
fn default_names_are_dns_labels() {
    assert_eq!(default_name("hot-range"), "allocstorm-hot-range");
    assert_eq!(default_name("My_Scenario.v2"), "allocstorm-my-scenario-v2");
    let long = default_name(&"x-".repeat(40));
    assert!(long.len() <= MAX_NAME && !long.ends_with('-'), "{long}");
    for n in [default_name("A b"), long] {
        check_name("--name", &n, MAX_NAME).unwrap();
    }
}
