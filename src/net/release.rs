//! Taking back what a dead daemon left in the kernel, from its state record ([`super::ledger`]):
//! run by the supervisor when the daemon died by a signal or a panic, and by the next daemon when
//! the whole process tree was killed.

use super::ledger::Applied;
use super::netlink::{AddrOps, Netlink};

/// Takes back everything in `applied`: routes and rules first, then addresses, links and
/// nftables tables (the order of a graceful stop). Each failure is logged and the rest still
/// released; returns how many items could not be removed.
///
/// With a recorded network namespace, the calling process (single-threaded: the supervisor,
/// or the daemon at its start) enters it first.
pub fn release(applied: &Applied) -> usize {
    let mut failed = 0;
    if let Some(ns) = &applied.netns {
        let entered = std::fs::File::open(std::path::Path::new("/run/netns").join(ns))
            .map_err(|e| e.to_string())
            .and_then(|f| {
                nix::sched::setns(&f, nix::sched::CloneFlags::CLONE_NEWNET)
                    .map_err(|e| e.to_string())
            });
        if let Err(e) = entered {
            tracing::error!("cannot enter network namespace {ns} to release what was left: {e}");
            return applied.addrs.len() + applied.routes.len() + applied.rules.len();
        }
    }
    let netlink = match Netlink::new() {
        Ok(n) => n,
        Err(e) => {
            tracing::error!("cannot release what the daemon left: {e}");
            return applied.addrs.len() + applied.routes.len() + applied.rules.len();
        }
    };
    let mut log = |what: String, r: Result<(), super::NetError>| {
        if let Err(e) = r {
            failed += 1;
            tracing::warn!("cannot remove {what}: {e}");
        }
    };
    for r in &applied.routes {
        log(
            format!("route {}/{}", r.dst, r.dst_len),
            netlink.del_route(r),
        );
    }
    for r in &applied.rules {
        log(format!("rule {r:?}"), netlink.del_rule(r));
    }
    for (ifindex, a) in &applied.addrs {
        log(
            format!("address {}/{} on ifindex {ifindex}", a.addr, a.prefix_len),
            netlink.del_addr(*ifindex, a),
        );
    }
    for ifindex in &applied.links {
        log(
            format!("VMAC link {ifindex}"),
            netlink.delete_link(*ifindex),
        );
    }
    if !applied.nft_tables.is_empty() {
        let script: String = applied
            .nft_tables
            .iter()
            .map(|(family, table)| format!("delete table {family} {table}\n"))
            .collect();
        if let Err(e) = super::firewall::run_nft(&script) {
            failed += 1;
            tracing::warn!("cannot remove nftables tables: {e}");
        }
    }
    failed
}
