//! The NetworkPolicy of the manifests: only the workers' pods reach the coordinator's pod.

use super::yaml::{list, map, Node};
use super::Plan;

impl Plan {
    /// Ingress to the coordinator's pod from the workers' pods of this comparison alone, over
    /// TCP: the coordinator's port (`[remote] listen`), where a load's workers join, and the toy
    /// server's, where they send the load. The server's port is picked by its kernel at each
    /// start (`--listen IP:0`), so it cannot be named: the rule admits the workers on any TCP
    /// port and nothing else from anywhere. The probe is an `exec` and `kubectl cp` an exec too,
    /// neither of which is network ingress. Egress is left as the cluster has it.
    pub(super) fn network_policy(&self) -> Node {
        let workers = map([(
            "podSelector",
            map([("matchLabels", self.labels(Some("worker")))]),
        )]);
        map([
            ("apiVersion", "networking.k8s.io/v1".into()),
            ("kind", "NetworkPolicy".into()),
            (
                "metadata",
                self.metadata("coordinator", Some("coordinator")),
            ),
            (
                "spec",
                map([
                    (
                        "podSelector",
                        map([("matchLabels", self.labels(Some("coordinator")))]),
                    ),
                    ("policyTypes", list(["Ingress".into()])),
                    (
                        "ingress",
                        list([map([
                            ("from", list([workers])),
                            ("ports", list([map([("protocol", "TCP".into())])])),
                        ])]),
                    ),
                ]),
            ),
        ])
    }
}
