//! The lab as data: its namespaces, addresses and link, and the `ip`/`tc` commands that make
//! it. Nothing here touches the machine, so every rule (all on 198.18.0.0/15, nothing in the
//! caller's namespace, the qdisc on the server's egress) is checked by unit tests.

use std::net::Ipv4Addr;

use crate::scenario::NetworkSpec;

/// The server's address. Every address of the lab is in 198.18.0.0/15, the range RFC 2544
/// sets aside for benchmarking: nothing real is ever reachable, or loaded, from the lab.
pub const SERVER_IP: Ipv4Addr = crate::scenario::LAB_SERVER_IP;
/// The prefix length of every address in the lab.
pub const PREFIX_LEN: u8 = 15;
/// What every namespace of a lab is named from: `allocstorm-<pid>-…`, the pid of the
/// coordinator, so a sweep can tell a live lab from one left by a killed process.
pub const NAME_PREFIX: &str = "allocstorm-";

/// The `tbf` qdisc that is the link: its rate, bucket and queue.
#[derive(Debug, Clone, PartialEq)]
pub struct Tbf {
    pub rate_bits_per_s: u64,
    /// Bytes sent at line rate before the bucket runs dry. At least a 64 KiB TSO/GSO segment
    /// and a bit, so tbf need not cut segments up (CPU this 2-core machine would spend on the
    /// link instead of the server); at 1 Gbit/s, 1 ms of the link.
    pub burst_bytes: u64,
    /// How long a packet may wait in the qdisc; beyond that it is dropped. A NIC's own queue
    /// under the default fq_codel keeps about 5 ms; 10 ms is of that order.
    pub latency_ms: u32,
}

impl Tbf {
    pub fn for_rate(rate_bits_per_s: u64) -> Tbf {
        Tbf {
            rate_bits_per_s,
            burst_bytes: (rate_bits_per_s / 8 / 1000).max(96 << 10),
            latency_ms: 10,
        }
    }
}

/// One host of the lab: a namespace, its address, and the bridge port it hangs on.
#[derive(Debug, Clone, PartialEq)]
pub struct Host {
    /// `server`, `host1`, `host2`, …: how errors and workers name it.
    pub name: String,
    pub netns: String,
    pub ip: Ipv4Addr,
    /// Its veth's end in the bridge's namespace (its own end is `eth0`).
    pub port: String,
}

/// The whole lab of one coordinator.
#[derive(Debug, Clone, PartialEq)]
pub struct Topology {
    /// `allocstorm-<pid>`: every namespace's name starts with it and a `-`.
    pub prefix: String,
    /// The namespace of the bridge every host's veth is a port of.
    pub bridge_netns: String,
    pub server: Host,
    pub clients: Vec<Host>,
    pub tbf: Tbf,
    /// The server namespace's `net.ipv4.tcp_wmem` line.
    pub tcp_wmem: String,
    pub processes_per_host: u32,
}

impl Topology {
    /// The lab of coordinator `pid` for `spec`.
    pub fn new(spec: &NetworkSpec, pid: u32) -> Topology {
        let prefix = format!("{NAME_PREFIX}{pid}");
        let host = |name: String, short: &str, last: u8| Host {
            netns: format!("{prefix}-{short}"),
            port: format!("v-{short}"),
            ip: Ipv4Addr::new(198, 18, 0, last),
            name,
        };
        Topology {
            bridge_netns: format!("{prefix}-br"),
            server: host("server".into(), "srv", 1),
            clients: (1..=spec.client_hosts)
                .map(|k| host(format!("host{k}"), &format!("c{k}"), 1 + k as u8))
                .collect(),
            tbf: Tbf::for_rate(spec.link_bits_per_s),
            tcp_wmem: spec.tcp_wmem_line(),
            processes_per_host: spec.processes_per_host,
            prefix,
        }
    }

    /// Every namespace, the bridge's first: the order they are made in.
    pub fn namespaces(&self) -> Vec<&str> {
        std::iter::once(self.bridge_netns.as_str())
            .chain(self.hosts().map(|h| h.netns.as_str()))
            .collect()
    }

    /// The server, then the clients.
    pub fn hosts(&self) -> impl Iterator<Item = &Host> {
        std::iter::once(&self.server).chain(&self.clients)
    }

    /// The commands that build the lab, in order, each an `ip` or `tc` argument list. Every
    /// one names a lab namespace (`-n NS` or `netns add NS`): nothing is made in the caller's
    /// namespace, so deleting the namespaces removes every veth, the bridge and the qdisc.
    pub fn commands(&self) -> Vec<Vec<String>> {
        let mut c: Vec<Vec<String>> = Vec::new();
        let mut cmd = |s: &[&str]| c.push(s.iter().map(|a| a.to_string()).collect());
        for ns in self.namespaces() {
            cmd(&["ip", "netns", "add", ns]);
            cmd(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        }
        let br = self.bridge_netns.as_str();
        cmd(&["ip", "-n", br, "link", "add", "br0", "type", "bridge"]);
        cmd(&["ip", "-n", br, "link", "set", "br0", "up"]);
        for h in self.hosts() {
            let addr = format!("{}/{PREFIX_LEN}", h.ip);
            let (port, ns) = (h.port.as_str(), h.netns.as_str());
            cmd(&[
                "ip", "-n", br, "link", "add", port, "type", "veth", "peer", "name", "eth0",
                "netns", ns,
            ]);
            cmd(&["ip", "-n", br, "link", "set", port, "master", "br0", "up"]);
            cmd(&["ip", "-n", ns, "addr", "add", &addr, "dev", "eth0"]);
            cmd(&["ip", "-n", ns, "link", "set", "eth0", "up"]);
        }
        // The link: what the server sends waits here, then in its sockets, then in its heap.
        let t = &self.tbf;
        cmd(&[
            "tc",
            "-n",
            &self.server.netns,
            "qdisc",
            "add",
            "dev",
            "eth0",
            "root",
            "tbf",
            "rate",
            &format!("{}bit", t.rate_bits_per_s),
            "burst",
            &t.burst_bytes.to_string(),
            "latency",
            &format!("{}ms", t.latency_ms),
        ]);
        c
    }

    /// The `--name` of worker `index` (0-based, host by host): the host it runs on.
    pub fn worker_host(&self, index: u32) -> &Host {
        &self.clients[(index / self.processes_per_host) as usize]
    }

    /// How many workers the lab starts.
    pub fn workers(&self) -> u32 {
        self.clients.len() as u32 * self.processes_per_host
    }
}

/// The pid of the coordinator a namespace named `allocstorm-<pid>-…` belongs to.
pub fn owner_pid(netns: &str) -> Option<u32> {
    let rest = netns.strip_prefix(NAME_PREFIX)?;
    let (pid, _) = rest.split_once('-')?;
    pid.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(hosts: u32) -> NetworkSpec {
        NetworkSpec {
            link: "1Gbit/s".into(),
            link_bits_per_s: 1_000_000_000,
            client_hosts: hosts,
            processes_per_host: 2,
            tcp_wmem: [4096, 16384, 4 << 20],
        }
    }

    #[test]
    fn every_address_is_in_the_benchmarking_range() {
        let t = Topology::new(&spec(7), 42);
        for h in t.hosts() {
            assert!(
                crate::load::remote::is_benchmark_ip(h.ip.into()),
                "{}",
                h.ip
            );
        }
        let ips: Vec<String> = t.hosts().map(|h| h.ip.to_string()).collect();
        assert_eq!(ips[0], "198.18.0.1");
        assert_eq!(ips[7], "198.18.0.8");
    }

    #[test]
    fn every_command_names_a_lab_namespace() {
        let t = Topology::new(&spec(3), 42);
        let ours = t.namespaces();
        for c in t.commands() {
            let ns = match (c[1].as_str(), c[2].as_str()) {
                ("-n", ns) => ns,
                ("netns", "add") => c[3].as_str(),
                _ => panic!("a command outside the lab's namespaces: {c:?}"),
            };
            assert!(ours.contains(&ns), "{c:?}");
            // A veth is made with both ends in lab namespaces, never in the caller's.
            if c.contains(&"veth".to_string()) {
                let peer_ns = &c[c.len() - 1];
                assert!(ours.contains(&peer_ns.as_str()), "{c:?}");
            }
        }
        assert_eq!(ours.len(), 5);
        assert!(ours.iter().all(|n| owner_pid(n) == Some(42)));
    }

    #[test]
    fn the_link_is_shaped_on_the_servers_egress_only() {
        let t = Topology::new(&spec(3), 42);
        let shaped: Vec<Vec<String>> = t.commands().into_iter().filter(|c| c[0] == "tc").collect();
        assert_eq!(shaped.len(), 1);
        let c = shaped[0].join(" ");
        assert!(
            c.starts_with("tc -n allocstorm-42-srv qdisc add dev eth0 root tbf rate 1000000000bit burst 125000 latency 10ms"),
            "{c}"
        );
    }

    #[test]
    fn workers_are_dealt_host_by_host() {
        let t = Topology::new(&spec(3), 42);
        let names: Vec<&str> = (0..t.workers())
            .map(|i| t.worker_host(i).name.as_str())
            .collect();
        assert_eq!(
            names,
            ["host1", "host1", "host2", "host2", "host3", "host3"]
        );
    }

    #[test]
    fn owner_pids_come_from_the_name() {
        assert_eq!(owner_pid("allocstorm-1234-c3"), Some(1234));
        assert_eq!(owner_pid("allocstorm-x-c3"), None);
        assert_eq!(owner_pid("other-1234-c3"), None);
    }
}
