//! `[network]`: the run over real links instead of loopback (the lab `netlab` makes). The server
//! sits in a network namespace of its own behind a `tbf`-shaped link, and the load comes from
//! `client_hosts` other namespaces, `processes_per_host` worker processes each, as remote
//! workers (`[remote]`).

use allocstorm_core::units;
use serde::{Deserialize, Serialize};

use super::error::{Ctx, ScenarioError};
use super::raw::RawNetwork;
use super::remote::RemoteSpec;

/// `net.ipv4.tcp_wmem` of the server's namespace unless the scenario says otherwise: what
/// autotuning gave the toy server's sockets, loaded behind a 1 Gbit/s link on this kernel
/// (6.x, defaults `4096 16384 4194304`): see docs/network.md#where-the-bytes-wait.
pub const TCP_WMEM_DEFAULT: &str = "4096 16384 4194304";

/// Most client hosts: each is a namespace with its own workers, and their addresses are
/// 198.18.0.2 up.
pub const MAX_CLIENT_HOSTS: u32 = 32;

/// The lab of a `[network]` scenario, checked.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NetworkSpec {
    /// The link rate as written (`1Gbit/s`), for people.
    pub link: String,
    /// The link rate: the `tbf` rate on the server's egress, bits per second.
    pub link_bits_per_s: u64,
    pub client_hosts: u32,
    pub processes_per_host: u32,
    /// The server namespace's `net.ipv4.tcp_wmem`: min, default, max send buffer (bytes).
    pub tcp_wmem: [u64; 3],
}

impl NetworkSpec {
    /// Every load worker of the lab.
    pub fn workers(&self) -> u32 {
        self.client_hosts * self.processes_per_host
    }

    /// `tcp_wmem` as the sysctl file reads and takes it.
    pub fn tcp_wmem_line(&self) -> String {
        let [a, b, c] = self.tcp_wmem;
        format!("{a}\t{b}\t{c}")
    }
}

pub(super) fn network_spec(
    ctx: &Ctx,
    r: Option<&RawNetwork>,
) -> Result<Option<NetworkSpec>, ScenarioError> {
    let Some(r) = r else { return Ok(None) };
    let link = r.link.clone().unwrap_or_else(|| "1Gbit/s".into());
    let link_bits_per_s =
        units::parse_bit_rate(&link).map_err(|e| ctx.err("network.link", e.to_string()))?;
    if !(1_000_000..=100_000_000_000).contains(&link_bits_per_s) {
        return Err(ctx.err(
            "network.link",
            format!("expected a link rate from 1Mbit/s to 100Gbit/s, got {link:?}"),
        ));
    }
    let client_hosts = r.client_hosts.unwrap_or(3);
    if !(1..=MAX_CLIENT_HOSTS).contains(&client_hosts) {
        return Err(ctx.err(
            "network.client_hosts",
            format!("expected 1 to {MAX_CLIENT_HOSTS} client hosts, got {client_hosts}"),
        ));
    }
    let processes_per_host = r.processes_per_host.unwrap_or(2);
    if !(1..=64).contains(&processes_per_host) {
        return Err(ctx.err(
            "network.processes_per_host",
            format!("expected 1 to 64 worker processes per host, got {processes_per_host}"),
        ));
    }
    let wmem = r.tcp_wmem.as_deref().unwrap_or(TCP_WMEM_DEFAULT);
    let tcp_wmem = tcp_wmem(wmem).map_err(|m| ctx.err("network.tcp_wmem", m))?;
    Ok(Some(NetworkSpec {
        link,
        link_bits_per_s,
        client_hosts,
        processes_per_host,
        tcp_wmem,
    }))
}

/// The server's address in the lab: the coordinator is there too, so `[remote] listen` is on it
/// (or on any address).
pub const LAB_SERVER_IP: std::net::Ipv4Addr = std::net::Ipv4Addr::new(198, 18, 0, 1);

/// `[network]` against the rest of the scenario: its workers are `[remote]` workers, as many as
/// the lab's hosts run, and they dial the server's address.
pub(super) fn check_with_remote(
    ctx: &Ctx,
    net: &NetworkSpec,
    remote: Option<&RemoteSpec>,
) -> Result<(), ScenarioError> {
    let Some(remote) = remote else {
        return Err(ctx.err(
            "network",
            "[network] needs [remote] (listen = \"198.18.0.1:7070\", workers = client_hosts x processes_per_host): the lab's load workers join as remote workers",
        ));
    };
    if remote.workers != net.workers() {
        return Err(ctx.err(
            "remote.workers",
            format!(
                "expected {} (network.client_hosts {} x network.processes_per_host {}), got {}",
                net.workers(),
                net.client_hosts,
                net.processes_per_host,
                remote.workers
            ),
        ));
    }
    let ip = remote.listen.ip();
    if !(ip.is_unspecified() || ip == std::net::IpAddr::V4(LAB_SERVER_IP)) {
        return Err(ctx.err(
            "remote.listen",
            format!(
                "expected {LAB_SERVER_IP}:PORT or 0.0.0.0:PORT with [network] (the coordinator is on the server's host), got \"{}\"",
                remote.listen
            ),
        ));
    }
    Ok(())
}

/// `"MIN DEFAULT MAX"`, each a size (`4096 16384 4MiB`), MIN <= DEFAULT <= MAX, as the kernel
/// takes it.
fn tcp_wmem(s: &str) -> Result<[u64; 3], String> {
    let expected = || {
        format!("expected three sizes \"MIN DEFAULT MAX\" such as \"{TCP_WMEM_DEFAULT}\", MIN <= DEFAULT <= MAX, from 4096 to 1GiB, got {s:?}")
    };
    let v: Vec<u64> = s
        .split_whitespace()
        .map(units::parse_size)
        .collect::<Result<_, _>>()
        .map_err(|_| expected())?;
    let [a, b, c] = <[u64; 3]>::try_from(v).map_err(|_| expected())?;
    if !(4096 <= a && a <= b && b <= c && c <= 1 << 30) {
        return Err(expected());
    }
    Ok([a, b, c])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(r: RawNetwork) -> Result<Option<NetworkSpec>, String> {
        network_spec(&Ctx { file: "s.toml" }, Some(&r)).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_are_three_hosts_of_two_behind_a_gigabit_link() {
        let s = spec(RawNetwork::default()).unwrap().unwrap();
        assert_eq!(s.link_bits_per_s, 1_000_000_000);
        assert_eq!(
            (s.client_hosts, s.processes_per_host, s.workers()),
            (3, 2, 6)
        );
        assert_eq!(s.tcp_wmem_line(), TCP_WMEM_DEFAULT.replace(' ', "\t"));
    }

    #[test]
    fn bad_values_name_the_field() {
        let cases = [
            (
                RawNetwork {
                    link: Some("1Gbps".into()),
                    ..Default::default()
                },
                "network.link",
            ),
            (
                RawNetwork {
                    client_hosts: Some(0),
                    ..Default::default()
                },
                "network.client_hosts",
            ),
            (
                RawNetwork {
                    processes_per_host: Some(0),
                    ..Default::default()
                },
                "network.processes_per_host",
            ),
            (
                RawNetwork {
                    tcp_wmem: Some("4096 1MiB 64KiB".into()),
                    ..Default::default()
                },
                "network.tcp_wmem",
            ),
            (
                RawNetwork {
                    tcp_wmem: Some("4096 16384".into()),
                    ..Default::default()
                },
                "network.tcp_wmem",
            ),
        ];
        for (raw, field) in cases {
            let e = spec(raw).unwrap_err();
            assert!(e.starts_with(&format!("s.toml: {field}: expected")), "{e}");
        }
    }

    #[test]
    fn tcp_wmem_takes_sizes_with_units() {
        assert_eq!(tcp_wmem("4096 16KiB 4MiB"), Ok([4096, 16384, 4 << 20]));
    }
}
