//! Issue 10 point 11: the kernel state a configuration leaves is keepalived's.
//!
//! Each upstream sample with a `vrrp_instance` (../shared/keepalived-samples) runs alone (`-P`)
//! in one namespace that has the interfaces it names (`eth0`..`eth3`, `eth0.1`, veths on
//! throwaway bridges) and the addresses its routes need (`192.168.200.N/24` on `ethN`). The
//! same namespace runs keepalived 2.2.7, then rkeepalived, and `ip addr`, `ip route show table
//! all`, `ip rule` (both families), `nft list ruleset` and the interfaces' ARP sysctls are
//! compared, normalised (no MACs, no IPv6 link-local addresses, no counters, no lifetimes),
//! at three points: in BACKUP right after start-up (`Entering BACKUP STATE (init)`), as
//! MASTER once the instances took over, and after stop (SIGTERM).
//!
//! Measured with keepalived 2.2.7 and fixed in rkeepalived: a route without a gateway keeps the
//! default (universe) scope; rules carry `proto keepalived` and, written without a preference,
//! get 16384, 16383, ... per family in reading order; a sync group goes MASTER in keepalived's
//! order (the member handled last first, then the others in group order), so the same address
//! is primary; a VMAC instance writes the `vmac_map`/`vmac_set` nftables rules.
//!
//! Explicit allow-list, each justified where it applies:
//! * VMAC base interface sysctls: rkeepalived also sets `arp_announce=2` on the base (so the
//!   base's own ARP requests never carry a VIP with the real MAC) and restores the base's
//!   `arp_ignore`/`arp_filter` at stop, where keepalived leaves 1/1 behind; the VMAC row asserts
//!   both daemons' values.
//! * `vrrp.localcheck`: instances whose effective priority changed between start-up and their
//!   timeout become MASTER in another order (rkeepalived moves the Master_Down_Timer with the
//!   priority, keepalived keeps the start-up one), so the addresses are compared as sets per
//!   interface.
//! * AH (`SSL_GET`) keeps rkeepalived's clear refusal; `vrrp.lvs_syncd` makes keepalived exit
//!   where the kernel has no IPVS (point 6's row): the row records what each did.

use super::common::{ready_both, row};
use crate::support::{Daemon, Lan, Node, Proc};
use std::collections::BTreeMap;
use std::time::Duration;

const SAMPLES: &str = "../shared/keepalived-samples";

/// The test namespace: node `a` of a [`Lan`] with `eth1`..`eth3` and `eth0.1` added, and the
/// addresses the samples' routes need.
fn sample_host() -> Lan {
    let mut lan = Lan::new(&["a"]);
    for ifname in ["eth1", "eth2", "eth3", "eth0.1"] {
        lan.add_segment(ifname);
    }
    let a = lan.node("a");
    for (i, ifname) in ["eth0", "eth1", "eth2", "eth3"].iter().enumerate() {
        ip_ok(
            a,
            &[
                "addr",
                "add",
                &format!("192.168.200.{}/24", i + 1),
                "dev",
                ifname,
            ],
        );
    }
    ip_ok(a, &["addr", "add", "192.168.201.1/24", "dev", "eth0.1"]);
    lan
}

fn ip_ok(node: &Node, args: &[&str]) {
    let mut cmd = vec!["ip"];
    cmd.extend_from_slice(args);
    let out = node.exec(&cmd);
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn run(node: &Node, cmd: &[&str]) -> String {
    String::from_utf8_lossy(&node.exec(cmd).stdout).into_owned()
}

/// How a sample's dumps are compared.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Compare {
    /// Line for line.
    Exact,
    /// Addresses as a set per interface (primary/secondary and `src` of kernel routes
    /// ignored): the localcheck allow-list.
    AddressSets,
}

/// The normalised kernel state of `node`, section by section.
fn snapshot(node: &Node, cmp: Compare, vmac_bases: &[&str]) -> BTreeMap<&'static str, String> {
    let mut s = BTreeMap::new();
    // ip addr: interface lines and addresses; no MACs, no link-local, no lifetimes.
    let mut addr = String::new();
    let mut block: Vec<String> = Vec::new();
    let flush = |addr: &mut String, block: &mut Vec<String>| {
        if cmp == Compare::AddressSets && block.len() > 1 {
            let mut rest: Vec<String> = block.drain(1..).collect();
            rest.sort();
            block.extend(rest);
        }
        for l in block.drain(..) {
            addr.push_str(&l);
            addr.push('\n');
        }
    };
    for l in run(node, &["ip", "addr"]).lines() {
        if l.contains("link/") || l.contains("valid_lft") || l.contains("inet6 fe80") {
            continue;
        }
        if !l.starts_with(' ') {
            flush(&mut addr, &mut block);
            // `2: eth0@if7: <FLAGS> mtu ...`: the name and flags only (a VMAC made anew has
            // a new index).
            let head = l.split(" mtu ").next().unwrap_or(l);
            block.push(head.split_once(": ").map_or(head, |(_, h)| h).to_string());
        } else if cmp == Compare::AddressSets {
            block.push(l.replace(" secondary", ""));
        } else {
            block.push(l.to_string());
        }
    }
    flush(&mut addr, &mut block);
    s.insert("ip addr", addr);
    let routes: Vec<String> = run(node, &["ip", "route", "show", "table", "all"])
        .lines()
        .filter(|l| !l.contains("fe80::") && !l.starts_with("ff00::"))
        .map(|l| {
            let l = l.split(" expires ").next().unwrap_or(l).trim_end();
            if cmp == Compare::AddressSets {
                l.split(" src ").next().unwrap_or(l).to_string()
            } else {
                l.to_string()
            }
        })
        .collect();
    s.insert("ip route show table all", routes.join("\n"));
    s.insert("ip rule", run(node, &["ip", "rule"]));
    s.insert("ip -6 rule", run(node, &["ip", "-6", "rule"]));
    s.insert(
        "nft list ruleset",
        nft_tables(&run(node, &["nft", "list", "ruleset"])),
    );
    // ARP-related sysctls of every interface, less the allow-listed VMAC base keys.
    let sysctl: Vec<String> = run(node, &["sysctl", "-a"])
        .lines()
        .filter(|l| {
            l.starts_with("net.ipv4.conf.")
                && [
                    "arp_ignore",
                    "arp_filter",
                    "arp_announce",
                    "accept_local",
                    "promote_secondaries",
                    "rp_filter",
                ]
                .iter()
                .any(|k| l.contains(&format!(".{k} ")))
                && !vmac_bases.iter().any(|b| {
                    ["arp_ignore", "arp_filter", "arp_announce"]
                        .iter()
                        .any(|k| l.starts_with(&format!("net.ipv4.conf.{b}.{k} ")))
                })
        })
        .map(str::to_owned)
        .collect();
    s.insert("sysctl", sysctl.join("\n"));
    s
}

/// `nft list ruleset` with counters' values dropped and its tables in a fixed order (the
/// listing follows creation order, which a table rewrite changes).
fn nft_tables(ruleset: &str) -> String {
    let mut tables: Vec<String> = Vec::new();
    for l in ruleset.lines() {
        let l = match l.find("counter packets") {
            Some(i) => format!("{}counter{}", &l[..i], {
                let rest = &l[i..];
                // `counter packets N bytes M` -> `counter`
                let words: Vec<&str> = rest.split_whitespace().collect();
                if words.len() > 5 {
                    format!(" {}", words[5..].join(" "))
                } else {
                    String::new()
                }
            }),
            None => l.to_string(),
        };
        if l.starts_with("table ") || tables.is_empty() {
            tables.push(String::new());
        }
        let t = tables.last_mut().expect("a table");
        t.push_str(&l);
        t.push('\n');
    }
    tables.sort();
    tables.concat()
}

/// What one daemon left at each point.
struct Run {
    backup: BTreeMap<&'static str, String>,
    /// `None` for a sample whose instances stay BACKUP for longer than a test waits.
    master: Option<BTreeMap<&'static str, String>>,
    stopped: BTreeMap<&'static str, String>,
    log: String,
}

/// Runs `daemon` on `conf` in node `a` (`-P`), snapshots in BACKUP, as MASTER (when
/// `master`), after stop; the log as the error when the daemon exited on its own before.
fn run_daemon(
    lan: &Lan,
    daemon: Daemon,
    conf: &str,
    cmp: Compare,
    vmac_bases: &[&str],
    master: bool,
) -> Result<Run, String> {
    let a = lan.node("a");
    let extra: &[&str] = if daemon == Daemon::Rkeepalived {
        &["-P"]
    } else {
        &[]
    };
    let mut p: Proc = a.spawn_with(daemon, conf, extra);
    if !p.wait_log("Entering BACKUP STATE (init)", Duration::from_secs(20)) {
        let log = p.log();
        p.kill();
        return Err(log);
    }
    std::thread::sleep(Duration::from_millis(300));
    let backup = snapshot(a, cmp, vmac_bases);
    let master = if master {
        if !p.wait_log("Entering MASTER STATE", Duration::from_secs(20)) {
            let log = p.log();
            p.kill();
            return Err(log);
        }
        // Every instance of the samples times out within 4 s of start-up; sync groups follow.
        std::thread::sleep(Duration::from_secs(4));
        Some(snapshot(a, cmp, vmac_bases))
    } else {
        None
    };
    p.term();
    let code = p.wait_exit(Duration::from_secs(20));
    assert!(
        code.is_some(),
        "{} did not stop:\n{}",
        daemon.name(),
        p.log()
    );
    let stopped = snapshot(a, cmp, vmac_bases);
    Ok(Run {
        backup,
        master,
        stopped,
        log: p.log(),
    })
}

/// Asserts that two snapshots are equal, section by section, with both shown on failure.
fn assert_same(
    sample: &str,
    phase: &str,
    ka: &BTreeMap<&'static str, String>,
    rk: &BTreeMap<&'static str, String>,
) {
    for (section, k) in ka {
        let r = &rk[section];
        assert_eq!(
            r, k,
            "{sample}, {phase}, `{section}` differs\n--- rkeepalived:\n{r}\n--- keepalived:\n{k}"
        );
    }
}

fn sample_text(sample: &str) -> String {
    std::fs::read_to_string(format!("{SAMPLES}/{sample}"))
        .unwrap_or_else(|e| panic!("{SAMPLES}/{sample}: {e}"))
}

/// The row of one sample that both daemons run: the normalised state equal at each point.
fn sample_row(test: &str, sample: &str, cmp: Compare, vmac_bases: &[&str]) {
    sample_row_with(test, sample, cmp, vmac_bases, true)
}

fn sample_row_with(test: &str, sample: &str, cmp: Compare, vmac_bases: &[&str], master: bool) {
    if !ready_both(test) || !crate::support::require_tool(test, "nft") {
        return;
    }
    let conf = sample_text(sample);
    let lan = sample_host();
    let pre = snapshot(lan.node("a"), cmp, vmac_bases);
    let ka = run_daemon(&lan, Daemon::Keepalived, &conf, cmp, vmac_bases, master)
        .unwrap_or_else(|log| panic!("keepalived on {sample}:\n{log}"));
    assert_same(sample, "keepalived stop vs before start", &pre, &ka.stopped);
    let rk = run_daemon(&lan, Daemon::Rkeepalived, &conf, cmp, vmac_bases, master)
        .unwrap_or_else(|log| panic!("rkeepalived on {sample}:\n{log}"));
    assert_same(sample, "BACKUP after start-up", &ka.backup, &rk.backup);
    if let (Some(k), Some(r)) = (&ka.master, &rk.master) {
        assert_same(sample, "MASTER", k, r);
        // The state under test is real: as MASTER the sample's addresses are there.
        assert_ne!(
            k["ip addr"], pre["ip addr"],
            "{sample}: no VIP as MASTER?\n{}",
            ka.log
        );
    }
    assert_same(sample, "after stop", &ka.stopped, &rk.stopped);
    let _ = rk.log;
    row(
        &format!("kernel state of sample {sample} (BACKUP, MASTER, stopped)"),
        "ip addr/route/rule, nft, sysctls as listed",
        if cmp == Compare::Exact {
            "the same, line for line"
        } else {
            "the same addresses per interface (allow-list: MASTER order after priority changes)"
        },
    );
}

#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn kernel_state_sample_plain() {
    sample_row(
        "kernel_state_sample_plain",
        "keepalived.conf.sample",
        Compare::Exact,
        &[],
    );
}

#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn kernel_state_sample_vrrp() {
    sample_row(
        "kernel_state_sample_vrrp",
        "keepalived.conf.vrrp",
        Compare::Exact,
        &[],
    );
}

#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn kernel_state_sample_track_interface() {
    sample_row(
        "kernel_state_sample_track_interface",
        "keepalived.conf.track_interface",
        Compare::Exact,
        &[],
    );
}

#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn kernel_state_sample_routes() {
    sample_row(
        "kernel_state_sample_routes",
        "keepalived.conf.vrrp.routes",
        Compare::Exact,
        &[],
    );
}

#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn kernel_state_sample_rules() {
    sample_row(
        "kernel_state_sample_rules",
        "keepalived.conf.vrrp.rules",
        Compare::Exact,
        &[],
    );
}

#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn kernel_state_sample_static_ipaddress() {
    sample_row(
        "kernel_state_sample_static_ipaddress",
        "keepalived.conf.vrrp.static_ipaddress",
        Compare::Exact,
        &[],
    );
}

#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn kernel_state_sample_scripts_sync_group_order() {
    sample_row(
        "kernel_state_sample_scripts_sync_group_order",
        "keepalived.conf.vrrp.scripts",
        Compare::Exact,
        &[],
    );
}

#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn kernel_state_sample_sync_group_order() {
    sample_row(
        "kernel_state_sample_sync_group_order",
        "keepalived.conf.vrrp.sync",
        Compare::Exact,
        &[],
    );
}

#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn kernel_state_sample_localcheck() {
    sample_row(
        "kernel_state_sample_localcheck",
        "keepalived.conf.vrrp.localcheck",
        Compare::AddressSets,
        &[],
    );
}

/// `conditional_conf` (use_vmac, VRRPv3 with `advert_int 12`: BACKUP for the first 36 s, so
/// compared in BACKUP and after stop): the same state, the VMAC and `vmac_map` included, less
/// the base interface's ARP sysctls, asserted here for each daemon (the allow-list entry).
#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn kernel_state_sample_vmac() {
    let test = "kernel_state_sample_vmac";
    sample_row_with(
        test,
        "keepalived.conf.conditional_conf",
        Compare::Exact,
        &["eth0"],
        false,
    );
    if !ready_both(test) {
        return;
    }
    let conf = sample_text("keepalived.conf.conditional_conf");
    let base = |lan: &Lan, key: &str| {
        run(
            lan.node("a"),
            &["sysctl", "-n", &format!("net.ipv4.conf.eth0.{key}")],
        )
        .trim()
        .to_string()
    };
    let mut got = Vec::new();
    for daemon in [Daemon::Keepalived, Daemon::Rkeepalived] {
        let lan = sample_host();
        let a = lan.node("a");
        let extra: &[&str] = if daemon == Daemon::Rkeepalived {
            &["-P"]
        } else {
            &[]
        };
        let mut p = a.spawn_with(daemon, &conf, extra);
        p.expect_log("Entering BACKUP STATE (init)", Duration::from_secs(20));
        std::thread::sleep(Duration::from_millis(300));
        let running = ["arp_ignore", "arp_filter", "arp_announce"].map(|k| base(&lan, k));
        p.term();
        assert!(p.wait_exit(Duration::from_secs(20)).is_some());
        let stopped = ["arp_ignore", "arp_filter", "arp_announce"].map(|k| base(&lan, k));
        got.push((running, stopped));
    }
    let (ka, rk) = (&got[0], &got[1]);
    // keepalived: arp_ignore=1, arp_filter=1 on the base, left behind after stop.
    assert_eq!(ka.0, ["1", "1", "0"], "keepalived running");
    assert_eq!(ka.1, ["1", "1", "0"], "keepalived stopped");
    // rkeepalived: the same plus arp_announce=2 while running; everything restored at stop.
    assert_eq!(rk.0, ["1", "1", "2"], "rkeepalived running");
    assert_eq!(rk.1, ["0", "0", "0"], "rkeepalived stopped");
    row(
        "use_vmac base interface sysctls (arp_ignore/arp_filter/arp_announce)",
        "1/1/0 while running, 1/1/0 left after stop",
        "1/1/2 while running (announce the real address only), 0/0/0 restored at stop",
    );
}

/// `SSL_GET` has an AH instance: keepalived runs it (and takes the VIPs); rkeepalived refuses
/// it with a message and leaves the kernel as it was.
#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn kernel_state_sample_ah_refused() {
    let test = "kernel_state_sample_ah_refused";
    if !ready_both(test) {
        return;
    }
    let conf = sample_text("keepalived.conf.SSL_GET");
    let lan = sample_host();
    let a = lan.node("a");
    let pre = snapshot(a, Compare::Exact, &[]);
    let mut ka = a.spawn(Daemon::Keepalived, &conf);
    ka.expect_log("Entering MASTER STATE", Duration::from_secs(20));
    assert!(
        a.has_addr("192.168.200.16".parse().unwrap()),
        "{}",
        ka.log()
    );
    ka.term();
    assert!(ka.wait_exit(Duration::from_secs(20)).is_some());
    let mut rk = a.spawn_with(Daemon::Rkeepalived, &conf, &["-P"]);
    rk.expect_log("auth_type AH is not supported", Duration::from_secs(20));
    let _ = rk.wait_exit(Duration::from_secs(10));
    rk.kill();
    let after = snapshot(a, Compare::Exact, &[]);
    assert_same("SSL_GET", "rkeepalived (refused) vs before", &pre, &after);
    row(
        "AH instance (sample SSL_GET)",
        "runs it, MASTER with the VIPs",
        "refuses it at load with a message; kernel untouched",
    );
}

/// `vrrp.lvs_syncd` names `lvs_sync_daemon_interface`: keepalived 2.2.7 needs IPVS for it and
/// exits where the kernel has none; where IPVS exists the state is compared as the others.
#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn kernel_state_sample_lvs_syncd() {
    let test = "kernel_state_sample_lvs_syncd";
    if !ready_both(test) || !crate::support::require_tool(test, "nft") {
        return;
    }
    let conf = sample_text("keepalived.conf.vrrp.lvs_syncd");
    let lan = sample_host();
    match run_daemon(&lan, Daemon::Keepalived, &conf, Compare::Exact, &[], true) {
        Ok(ka) => {
            let rk = run_daemon(&lan, Daemon::Rkeepalived, &conf, Compare::Exact, &[], true)
                .unwrap_or_else(|log| panic!("rkeepalived:\n{log}"));
            assert_same("vrrp.lvs_syncd", "BACKUP", &ka.backup, &rk.backup);
            assert_same(
                "vrrp.lvs_syncd",
                "MASTER",
                ka.master.as_ref().expect("master"),
                rk.master.as_ref().expect("master"),
            );
            assert_same("vrrp.lvs_syncd", "after stop", &ka.stopped, &rk.stopped);
            row(
                "kernel state of sample vrrp.lvs_syncd (IPVS present)",
                "as listed",
                "the same",
            );
        }
        Err(log) => {
            assert!(
                log.contains("IPVS"),
                "keepalived stopped for another reason:\n{log}"
            );
            row(
                "sample vrrp.lvs_syncd without IPVS in the kernel",
                "exits (IPVS: Can't initialize ipvs)",
                "see point 6's row",
            );
        }
    }
}
