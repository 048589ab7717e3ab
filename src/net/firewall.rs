//! Accept_Mode enforcement: nftables drop rules for the VIPs of a master that is not the
//! address owner and runs with `no_accept` (or strict mode's default).
//!
//! RFC 5798 §6.1: with Accept_Mode False, a non-owner master must not accept packets addressed
//! to the IPvX address(es) of the virtual router. keepalived 2.2.7 (built with nftables, as
//! Debian's is) enforces that with two tables named `keepalived` (global_defs `nftables [TABLE]`),
//! one per family, whose `in`/`out` chains hook input/output at priority −1
//! (`nftables_priority`) and drop traffic to and from the addresses in a set `vips`; IPv6
//! link-local VIPs go into `vips_link_local` keyed by address and interface, and neighbour
//! solicitations/advertisements always pass. [`Firewall`] lays the tables out the same way, so
//! `nft list ruleset` reads the same under either daemon.
//!
//! The same tables carry keepalived's VMAC rules (`use_vmac`): a map `vmac_map` from each
//! VMAC to its base interface, through which IGMP reports (IPv4) or MLDv2 reports (IPv6) leaving
//! a VMAC are sent out of the base interface instead, and for IPv6 a set `vmac_set` on which
//! router solicitations are dropped (measured with keepalived 2.2.7: these are there while the
//! VMACs exist, also without `no_accept`, and go at exit).
//!
//! The tables are written by the `nft` command (Debian package `nftables`) as one atomic batch
//! that replaces the whole table on every change; a missing `nft` is reported once and the VIPs
//! then accept traffic.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::{Command, Stdio};
use tracing::{error, warn};

/// An address to drop traffic for: the VIP, and for an IPv6 link-local VIP its interface.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Blocked {
    /// The VIP (`virtual_ipaddress` or `virtual_ipaddress_excluded`).
    pub addr: IpAddr,
    /// Interface name: scopes IPv6 link-local addresses (`iif`/`oif`); ignored otherwise.
    pub ifname: String,
}

impl Blocked {
    fn is_link_local_v6(&self) -> bool {
        matches!(self.addr, IpAddr::V6(a) if a.segments()[0] & 0xffc0 == 0xfe80)
    }
}

/// Settings from global_defs (`nftables`, `nftables_priority`, `nftables_counters`), built by
/// the caller from the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirewallConfig {
    /// Table name (keepalived's default `keepalived`).
    pub table: String,
    /// Hook priority of the chains (default −1, just before `filter`).
    pub priority: i32,
    /// A `counter` on every drop rule.
    pub counters: bool,
}

impl Default for FirewallConfig {
    /// keepalived's defaults, as `config::model::Nftables::default()`.
    fn default() -> Self {
        FirewallConfig {
            table: "keepalived".into(),
            priority: -1,
            counters: false,
        }
    }
}

/// Failure to program the tables.
#[derive(Debug, thiserror::Error)]
pub enum FirewallError {
    /// `nft` could not be started (not installed?).
    #[error("cannot run nft (install the nftables package): {0}")]
    Spawn(std::io::Error),
    /// `nft` refused the batch; its message.
    #[error("nft failed: {0}")]
    Nft(String),
}

/// Carries out an `nft -f` batch (`run_nft`; tests record instead).
pub type NftWriter = Box<dyn FnMut(&str) -> Result<(), FirewallError> + Send>;

/// The owner of the drop tables: the VIPs currently blocked (counted per holder, since two
/// instances may share a VIP), and which families' tables this process created.
pub struct Firewall {
    cfg: FirewallConfig,
    /// Carries out an `nft -f` batch ([`run_nft`]; tests record instead).
    writer: NftWriter,
    /// Blocked addresses with the number of instances holding each.
    blocked: std::collections::BTreeMap<Blocked, u32>,
    made_v4: bool,
    made_v6: bool,
    /// VMACs (name, base interface name) of IPv4 and of IPv6 instances.
    vmacs_v4: Vec<(String, String)>,
    vmacs_v6: Vec<(String, String)>,
    /// Whether the no_accept part (`vips` set, `in` chain) is in each family's table: from the
    /// first blocked address on, as long as the table exists.
    no_accept_v4: bool,
    no_accept_v6: bool,
    /// Set after the first failure so that the error is logged once.
    failed: bool,
    /// Where the tables made are recorded for a survivor to delete ([`super::ledger`]).
    ledger: Option<std::sync::Arc<super::ledger::Ledger>>,
}

impl Firewall {
    /// A firewall that has written nothing yet; it writes with the `nft` command.
    pub fn new(cfg: FirewallConfig) -> Firewall {
        Firewall::with_writer(cfg, Box::new(run_nft))
    }

    /// A firewall whose batches go to `writer` instead of `nft`.
    pub fn with_writer(cfg: FirewallConfig, writer: NftWriter) -> Firewall {
        Firewall {
            cfg,
            writer,
            blocked: Default::default(),
            made_v4: false,
            made_v6: false,
            vmacs_v4: Vec::new(),
            vmacs_v6: Vec::new(),
            no_accept_v4: false,
            no_accept_v6: false,
            failed: false,
            ledger: None,
        }
    }

    /// Records the tables this firewall creates and deletes in `ledger`.
    pub fn with_ledger(
        mut self,
        ledger: Option<std::sync::Arc<super::ledger::Ledger>>,
    ) -> Firewall {
        self.ledger = ledger;
        self
    }

    /// Drops traffic to/from `addrs` (an instance entering MASTER without Accept_Mode).
    pub fn block(&mut self, addrs: &[Blocked]) {
        for a in addrs {
            *self.blocked.entry(a.clone()).or_default() += 1;
        }
        self.sync(addrs);
    }

    /// Lets traffic to/from `addrs` through again (the instance left MASTER).
    pub fn unblock(&mut self, addrs: &[Blocked]) {
        for a in addrs {
            if let Some(n) = self.blocked.get_mut(a) {
                *n -= 1;
                if *n == 0 {
                    self.blocked.remove(a);
                }
            }
        }
        self.sync(addrs);
    }

    /// Adds VMAC `vmac` on `base` (an instance of family IPv6 when `ipv6`) to the VMAC map of
    /// that family's table. The interface must exist (nft resolves its name to an index).
    pub fn add_vmac(&mut self, vmac: &str, base: &str, ipv6: bool) {
        let list = if ipv6 {
            &mut self.vmacs_v6
        } else {
            &mut self.vmacs_v4
        };
        let pair = (vmac.to_owned(), base.to_owned());
        if list.contains(&pair) {
            return;
        }
        list.push(pair);
        let any: IpAddr = if ipv6 {
            Ipv6Addr::UNSPECIFIED.into()
        } else {
            Ipv4Addr::UNSPECIFIED.into()
        };
        self.sync_families(any.is_ipv4(), any.is_ipv6());
    }

    /// Deletes the tables this process created (at exit).
    pub fn release(&mut self) {
        let mut script = String::new();
        let mut families = Vec::new();
        for (made, family) in [(self.made_v4, "ip"), (self.made_v6, "ip6")] {
            if made {
                script.push_str(&format!("delete table {family} {}\n", self.cfg.table));
                families.push(family);
            }
        }
        self.made_v4 = false;
        self.made_v6 = false;
        self.no_accept_v4 = false;
        self.no_accept_v6 = false;
        if script.is_empty() {
            return;
        }
        match (self.writer)(&script) {
            Err(e) => warn!("cannot remove firewall tables: {e}"),
            Ok(()) => {
                if let Some(l) = &self.ledger {
                    for family in families {
                        l.removed_nft_table(family, &self.cfg.table);
                    }
                }
            }
        }
    }

    /// Rewrites the tables of the families `changed` touches.
    fn sync(&mut self, changed: &[Blocked]) {
        let v4 = changed.iter().any(|b| b.addr.is_ipv4());
        let v6 = changed.iter().any(|b| b.addr.is_ipv6());
        if v4 && self.blocked.keys().any(|b| b.addr.is_ipv4()) {
            self.no_accept_v4 = true;
        }
        if v6 && self.blocked.keys().any(|b| b.addr.is_ipv6()) {
            self.no_accept_v6 = true;
        }
        self.sync_families(v4, v6);
    }

    /// Moves the tables to the settings `cfg` (a reload's `nftables`, `nftables_priority`,
    /// `nftables_counters`): one `nft` batch deletes the tables this process made under the
    /// old name and writes them anew under `cfg` with the same content (blocked VIPs, VMAC
    /// maps), so that no packet to a blocked VIP passes in between. Returns whether anything
    /// was written; the running settings follow `cfg` either way, and a failure is logged
    /// (the old tables then stay, recorded as before).
    pub fn reconfigure(&mut self, cfg: FirewallConfig) -> bool {
        if cfg == self.cfg {
            return false;
        }
        let old = std::mem::replace(&mut self.cfg, cfg);
        let made: Vec<&str> = [(self.made_v4, "ip"), (self.made_v6, "ip6")]
            .into_iter()
            .filter_map(|(made, family)| made.then_some(family))
            .collect();
        if made.is_empty() {
            return false;
        }
        let mut script: String = made
            .iter()
            .map(|family| format!("delete table {family} {}\n", old.table))
            .collect();
        script.push_str(&self.tables(self.made_v4, self.made_v6));
        match (self.writer)(&script) {
            Ok(()) => {
                if let Some(l) = &self.ledger {
                    for family in &made {
                        l.removed_nft_table(family, &old.table);
                        l.added_nft_table(family, &self.cfg.table);
                    }
                }
                true
            }
            Err(e) => {
                error!("nftables settings changed: {e}; the tables stay as they were");
                self.cfg = old;
                false
            }
        }
    }

    /// The `nft` batch that writes the tables of the families `v4`/`v6` that have anything to
    /// hold (empty when none has).
    fn tables(&self, v4: bool, v6: bool) -> String {
        let mut script = String::new();
        if v4 && (self.no_accept_v4 || !self.vmacs_v4.is_empty()) {
            let vips = self.v4_set();
            script.push_str(&table_v4_vmac(
                &self.cfg,
                self.no_accept_v4.then_some(&vips[..]),
                &self.vmacs_v4,
            ));
        }
        if v6 && (self.no_accept_v6 || !self.vmacs_v6.is_empty()) {
            let (global, link_local) = self.v6_sets();
            script.push_str(&table_v6_vmac(
                &self.cfg,
                self.no_accept_v6.then_some((&global[..], &link_local[..])),
                &self.vmacs_v6,
            ));
        }
        script
    }

    /// Rewrites the tables of the families `v4`/`v6` that have anything to hold.
    fn sync_families(&mut self, v4: bool, v6: bool) {
        let script = self.tables(v4, v6);
        if script.is_empty() {
            return;
        }
        match (self.writer)(&script) {
            Ok(()) => {
                self.made_v4 |= v4;
                self.made_v6 |= v6;
                if let Some(l) = &self.ledger {
                    for (made, family) in [(v4, "ip"), (v6, "ip6")] {
                        if made {
                            l.added_nft_table(family, &self.cfg.table);
                        }
                    }
                }
            }
            Err(e) if !self.failed => {
                self.failed = true;
                error!("no_accept: {e}; VIPs accept traffic");
            }
            Err(_) => {}
        }
    }

    fn v4_set(&self) -> Vec<Ipv4Addr> {
        self.blocked
            .keys()
            .filter_map(|b| match b.addr {
                IpAddr::V4(a) => Some(a),
                IpAddr::V6(_) => None,
            })
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    }

    fn v6_sets(&self) -> (Vec<Ipv6Addr>, Vec<(Ipv6Addr, String)>) {
        let mut global = BTreeSet::new();
        let mut link_local = BTreeSet::new();
        for b in self.blocked.keys() {
            if let IpAddr::V6(a) = b.addr {
                if b.is_link_local_v6() {
                    link_local.insert((a, b.ifname.clone()));
                } else {
                    global.insert(a);
                }
            }
        }
        (
            global.into_iter().collect(),
            link_local.into_iter().collect(),
        )
    }
}

fn elements<T: std::fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    let list: Vec<String> = items.into_iter().map(|i| i.to_string()).collect();
    if list.is_empty() {
        String::new()
    } else {
        format!("\t\telements = {{ {} }}\n", list.join(", "))
    }
}

/// The `nft -f` batch that (re)creates `table ip TABLE` holding `vips` (an atomic replace: the
/// leading add makes the delete valid when the table does not exist yet).
pub fn table_v4(cfg: &FirewallConfig, vips: &[Ipv4Addr]) -> String {
    table_v4_vmac(cfg, Some(vips), &[])
}

/// `map vmac_map` (VMAC → base interface) with `vmacs`.
fn vmac_map(vmacs: &[(String, String)]) -> String {
    format!(
        "\tmap vmac_map {{\n\t\ttype iface_index : iface_index\n{}\t}}\n",
        elements(vmacs.iter().map(|(v, b)| format!("\"{v}\" : \"{b}\"")))
    )
}

/// [`table_v4`] with keepalived's VMAC part: `vips` is `None` when no instance blocks
/// (the table then has only the VMAC map and the `out` chain's IGMP rule, as keepalived's).
pub fn table_v4_vmac(
    cfg: &FirewallConfig,
    vips: Option<&[Ipv4Addr]>,
    vmacs: &[(String, String)],
) -> String {
    let t = &cfg.table;
    let p = cfg.priority;
    let c = if cfg.counters { "counter " } else { "" };
    let mut body = String::new();
    if !vmacs.is_empty() {
        body.push_str(&vmac_map(vmacs));
    }
    if let Some(vips) = vips {
        body.push_str(&format!(
            "\tset vips {{\n\t\ttype ipv4_addr\n{}\t}}\n",
            elements(vips)
        ));
    }
    body.push_str(&format!(
        "\tchain out {{\n\t\ttype filter hook output priority {p}; policy accept;\n"
    ));
    if !vmacs.is_empty() {
        body.push_str(
            "\t\tip protocol igmp meta oifkind \"macvlan\" dup to ip daddr device oif map @vmac_map drop\n",
        );
    }
    if vips.is_some() {
        body.push_str(&format!("\t\tip saddr @vips {c}drop\n"));
    }
    body.push_str("\t}\n");
    if vips.is_some() {
        body.push_str(&format!(
            "\tchain in {{\n\t\ttype filter hook input priority {p}; policy accept;\n\
             \t\tip daddr @vips {c}drop\n\t}}\n"
        ));
    }
    format!("add table ip {t}\ndelete table ip {t}\ntable ip {t} {{\n{body}}}\n")
}

/// The `nft -f` batch that (re)creates `table ip6 TABLE`: global VIPs in `vips`, link-local
/// ones in `vips_link_local` (address . interface), neighbour discovery always accepted.
pub fn table_v6(
    cfg: &FirewallConfig,
    vips: &[Ipv6Addr],
    link_local: &[(Ipv6Addr, String)],
) -> String {
    table_v6_vmac(cfg, Some((vips, link_local)), &[])
}

/// The IPv6 addresses a no_accept table drops: global VIPs, and link-local ones with their
/// interface.
pub type V6Blocked<'a> = (&'a [Ipv6Addr], &'a [(Ipv6Addr, String)]);

/// [`table_v6`] with keepalived's VMAC part (`vmac_map` for MLDv2 reports, `vmac_set` on
/// which router solicitations are dropped); `blocked` is `None` when no instance blocks.
pub fn table_v6_vmac(
    cfg: &FirewallConfig,
    blocked: Option<V6Blocked<'_>>,
    vmacs: &[(String, String)],
) -> String {
    let t = &cfg.table;
    let p = cfg.priority;
    let c = if cfg.counters { "counter " } else { "" };
    let mut body = String::new();
    if !vmacs.is_empty() {
        body.push_str(&vmac_map(vmacs));
        body.push_str(&format!(
            "\tset vmac_set {{\n\t\ttype iface_index\n{}\t}}\n",
            elements(vmacs.iter().map(|(v, _)| format!("\"{v}\"")))
        ));
    }
    let mut out_rules = String::new();
    if !vmacs.is_empty() {
        out_rules.push_str(
            "\t\ticmpv6 type mld2-listener-report meta oifkind \"macvlan\" dup to ip6 daddr device oif map @vmac_map drop\n\
             \t\ticmpv6 type nd-router-solicit meta oifkind \"macvlan\" oif @vmac_set drop\n",
        );
    }
    let mut tail = String::new();
    if let Some((vips, link_local)) = blocked {
        let (ll_set, ll_in, ll_out) = if link_local.is_empty() {
            (String::new(), String::new(), String::new())
        } else {
            (
                format!(
                    "\tset vips_link_local {{\n\t\ttype ipv6_addr . iface_index\n{}\t}}\n",
                    elements(link_local.iter().map(|(a, i)| format!("{a} . \"{i}\"")))
                ),
                format!("\t\tip6 daddr . iif @vips_link_local {c}drop\n"),
                format!("\t\tip6 saddr . oif @vips_link_local {c}drop\n"),
            )
        };
        body.push_str(&format!(
            "\tset vips {{\n\t\ttype ipv6_addr\n{elems}\t}}\n\
             \tset neighbor-discovery {{\n\t\ttype icmpv6_type\n\t\tflags constant\n\
             \t\telements = {{ nd-neighbor-solicit, nd-neighbor-advert }}\n\t}}\n\
             {ll_set}",
            elems = elements(vips)
        ));
        out_rules.push_str(&format!(
            "\t\ticmpv6 type @neighbor-discovery accept\n\
             \t\tip6 saddr fe80::/10 goto out_link_local\n\
             \t\tip6 saddr @vips {c}drop\n"
        ));
        tail = format!(
            "\tchain in {{\n\t\ttype filter hook input priority {p}; policy accept;\n\
             \t\ticmpv6 type @neighbor-discovery accept\n\
             \t\tip6 daddr fe80::/10 goto in_link_local\n\
             \t\tip6 daddr @vips {c}drop\n\t}}\n\
             \tchain in_link_local {{\n{ll_in}\t}}\n\
             \tchain out_link_local {{\n{ll_out}\t}}\n"
        );
    }
    body.push_str(&format!(
        "\tchain out {{\n\t\ttype filter hook output priority {p}; policy accept;\n{out_rules}\t}}\n{tail}"
    ));
    format!("add table ip6 {t}\ndelete table ip6 {t}\ntable ip6 {t} {{\n{body}}}\n")
}

/// Runs `nft -f -` with `script` on stdin.
pub(super) fn run_nft(script: &str) -> Result<(), FirewallError> {
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(FirewallError::Spawn)?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(script.as_bytes())
            .map_err(FirewallError::Spawn)?;
    }
    let out = child.wait_with_output().map_err(FirewallError::Spawn)?;
    if out.status.success() {
        Ok(())
    } else {
        Err(FirewallError::Nft(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_table_lists_the_vips_and_hooks_at_the_configured_priority() {
        let cfg = FirewallConfig {
            priority: -5,
            counters: true,
            ..Default::default()
        };
        let s = table_v4(
            &cfg,
            &["10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap()],
        );
        assert!(s.starts_with("add table ip keepalived\ndelete table ip keepalived\n"));
        assert!(s.contains("elements = { 10.0.0.1, 10.0.0.2 }"));
        assert!(s.contains("hook input priority -5;"));
        assert!(s.contains("ip daddr @vips counter drop"));
        assert!(s.contains("ip saddr @vips counter drop"));
        // An empty set has no elements line (nft rejects `elements = { }`).
        assert!(!table_v4(&cfg, &[]).contains("elements"));
    }

    #[test]
    fn v6_table_scopes_link_local_vips_by_interface() {
        let cfg = FirewallConfig::default();
        let s = table_v6(
            &cfg,
            &["fd00::1".parse().unwrap()],
            &[("fe80::1:100".parse().unwrap(), "eth0".into())],
        );
        assert!(s.contains("elements = { fd00::1 }"));
        assert!(s.contains("elements = { fe80::1:100 . \"eth0\" }"));
        assert!(s.contains("ip6 daddr . iif @vips_link_local drop"));
        assert!(s.contains("icmpv6 type @neighbor-discovery accept"));
        let plain = table_v6(&cfg, &["fd00::1".parse().unwrap()], &[]);
        assert!(!plain.contains("vips_link_local"));
    }

    #[test]
    fn vmac_map_without_no_accept_has_only_the_out_chain() {
        let cfg = FirewallConfig::default();
        let vm = [("vrrp.1".to_string(), "eth0".to_string())];
        let s = table_v4_vmac(&cfg, None, &vm);
        assert!(s.contains("elements = { \"vrrp.1\" : \"eth0\" }"), "{s}");
        assert!(s.contains("ip protocol igmp meta oifkind \"macvlan\" dup to ip daddr device oif map @vmac_map drop"));
        assert!(!s.contains("vips") && !s.contains("chain in"), "{s}");
        // With no_accept too: map first, IGMP rule before the VIP drop (keepalived's listing).
        let both = table_v4_vmac(&cfg, Some(&["10.0.0.1".parse().unwrap()]), &vm);
        assert!(both.find("vmac_map").unwrap() < both.find("set vips").unwrap());
        assert!(both.find("igmp").unwrap() < both.find("ip saddr @vips").unwrap());
        let v6 = table_v6_vmac(&cfg, None, &vm);
        assert!(
            v6.contains("set vmac_set") && v6.contains("nd-router-solicit"),
            "{v6}"
        );
        assert!(!v6.contains("neighbor-discovery"), "{v6}");
    }

    /// A firewall with default settings whose batches are recorded, and the record.
    fn recording() -> (Firewall, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let rec = log.clone();
        let fw = Firewall::with_writer(
            FirewallConfig::default(),
            Box::new(move |s: &str| {
                rec.lock().unwrap().push(s.to_string());
                Ok(())
            }),
        );
        (fw, log)
    }

    #[test]
    fn reconfigure_moves_the_tables_in_one_batch() {
        let (mut fw, log) = recording();
        let other = FirewallConfig {
            table: "other".into(),
            priority: -5,
            counters: true,
        };
        // Nothing made yet: nothing written, the next table has the new settings.
        assert!(!fw.reconfigure(other.clone()));
        fw.block(&[Blocked {
            addr: "10.0.0.1".parse().unwrap(),
            ifname: "eth0".into(),
        }]);
        assert!(!fw.reconfigure(other));
        assert!(fw.reconfigure(FirewallConfig::default()));
        fw.release();
        let log = log.lock().unwrap();
        assert_eq!(log.len(), 3, "{log:#?}");
        assert!(log[0].contains("table ip other {"), "{}", log[0]);
        assert!(log[0].contains("priority -5;") && log[0].contains("counter drop"));
        // Old table deleted and the new one written with the same VIPs, in one batch.
        assert!(
            log[1].starts_with("delete table ip other\nadd table ip keepalived\n"),
            "{}",
            log[1]
        );
        assert!(log[1].contains("elements = { 10.0.0.1 }") && log[1].contains("priority -1;"));
        assert!(!log[1].contains("ip6"), "{}", log[1]);
        assert_eq!(log[2], "delete table ip keepalived\n");
    }

    #[test]
    fn tables_follow_the_blocked_vips_and_are_deleted_at_release() {
        let (mut fw, log) = recording();
        let vip = |a: &str| Blocked {
            addr: a.parse().unwrap(),
            ifname: "eth0".into(),
        };
        // Two instances share 10.0.0.1; only the v4 table is written for v4 changes.
        fw.block(&[vip("10.0.0.1"), vip("10.0.0.2")]);
        fw.block(&[vip("10.0.0.1")]);
        fw.unblock(&[vip("10.0.0.1"), vip("10.0.0.2")]);
        fw.block(&[vip("fd00::1")]);
        fw.release();
        let log = log.lock().unwrap();
        assert_eq!(log.len(), 5, "{log:#?}");
        assert!(log[0].contains("elements = { 10.0.0.1, 10.0.0.2 }") && !log[0].contains("ip6"));
        // The second holder's unblock leaves 10.0.0.1 blocked.
        assert!(log[2].contains("elements = { 10.0.0.1 }"), "{}", log[2]);
        assert!(log[3].contains("table ip6 keepalived") && !log[3].contains("table ip keepalived"));
        assert_eq!(
            log[4],
            "delete table ip keepalived\ndelete table ip6 keepalived\n"
        );
    }
}
