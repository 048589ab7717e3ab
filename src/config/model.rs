//! The typed configuration model, with keepalived 2.2.7's defaults.
//!
//! Durations are `std::time::Duration`; VRRP advert intervals are [`Centiseconds`]. Every field
//! names the keepalived keyword it comes from.

use crate::config::diag::Span;
use crate::units::{Centiseconds, Priority, Usecs, Version, Vrid};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

/// A whole keepalived.conf after includes, conditionals and definitions are resolved.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// `global_defs { }`.
    pub global: GlobalDefs,
    /// `vrrp_script NAME { }` blocks by name.
    pub vrrp_scripts: BTreeMap<String, VrrpScript>,
    /// `vrrp_instance NAME { }` blocks in file order.
    pub vrrp_instances: Vec<VrrpInstance>,
    /// `static_ipaddress { }`: set at start, whatever the VRRP state.
    pub static_ipaddress: Vec<VirtualAddress>,
    /// `static_routes { }`.
    pub static_routes: Vec<crate::config::routes::VirtualRoute>,
    /// `static_rules { }`.
    pub static_rules: Vec<crate::config::routes::VirtualRule>,
    /// `vrrp_track_process`, `track_file` and `vrrp_sync_group` blocks, and the notify FIFOs
    /// (see [`Tracking`]).
    #[serde(default)]
    pub tracking: Tracking,
    /// Number of `virtual_server` blocks seen (the IPVS side is not implemented yet; counted so
    /// `-t` and the log can say so).
    pub virtual_servers_seen: usize,
    /// `virtual_server` and `virtual_server_group` blocks.
    pub ipvs: IpvsConfig,
    /// `net_namespace NAME` (a top-level keyword, keepalived/core/global_parser.c): the
    /// daemon runs in network namespace `/run/netns/NAME`; the command line's `-s NAME`
    /// overrides it.
    #[serde(default)]
    pub net_namespace: Option<String>,
}

/// `global_defs` (keepalived/core/global_parser.c).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GlobalDefs {
    /// `router_id`; `None` means the host name, as keepalived.
    pub router_id: Option<String>,
    /// `vrrp_version 2|3` (default 2).
    pub vrrp_version: Version,
    /// `vrrp_strict`: strict RFC compliance for every instance.
    pub vrrp_strict: bool,
    /// `enable_script_security`.
    pub enable_script_security: bool,
    /// `script_user USER [GROUP]`.
    pub script_user: Option<ScriptUser>,
    /// `vrrp_garp_master_delay` (default 5 s): delay before the second GARP burst.
    pub vrrp_garp_master_delay: Duration,
    /// `vrrp_garp_master_repeat` (default 5): GARPs per burst.
    pub vrrp_garp_master_repeat: u32,
    /// `vrrp_garp_master_refresh` (default 0 = off).
    pub vrrp_garp_master_refresh: Duration,
    /// `vrrp_garp_master_refresh_repeat` (default 1).
    pub vrrp_garp_master_refresh_repeat: u32,
    /// `vrrp_garp_interval` (default 0): gap between GARPs of a burst.
    pub vrrp_garp_interval: Duration,
    /// `vrrp_gna_interval` (default 0): gap between unsolicited NAs of a burst.
    pub vrrp_gna_interval: Duration,
    /// `vrrp_mcast_group4` (default 224.0.0.18).
    pub vrrp_mcast_group4: std::net::Ipv4Addr,
    /// `vrrp_mcast_group6` (default ff02::12, RFC 5798 §5.1.2.2).
    pub vrrp_mcast_group6: std::net::Ipv6Addr,
    /// `vrrp_check_unicast_src`: drop unicast adverts whose source is not a `unicast_peer`.
    pub vrrp_check_unicast_src: bool,
    /// `vrrp_skip_check_adv_addr`: the default of every instance's `skip_check_adv_addr`.
    pub vrrp_skip_check_adv_addr: bool,
    /// `vrrp_garp_lower_prio_delay` (default: `vrrp_garp_master_delay`, resolved by the loader).
    pub vrrp_garp_lower_prio_delay: Option<Duration>,
    /// `vrrp_garp_lower_prio_repeat` (default: `vrrp_garp_master_repeat`, resolved by the loader).
    pub vrrp_garp_lower_prio_repeat: Option<u32>,
    /// `vrrp_min_garp`: one GARP per transition, no second burst, no refresh (applied to the
    /// other GARP settings by the loader, as keepalived does, only where they are still defaults).
    pub vrrp_min_garp: bool,
    /// `vrrp_lower_prio_no_advert` (default false): default of `lower_prio_no_advert`.
    pub vrrp_lower_prio_no_advert: bool,
    /// `vrrp_higher_prio_send_advert` (default false): default of `higher_prio_send_advert`.
    pub vrrp_higher_prio_send_advert: bool,
    /// `notification_email { addr... }`.
    pub notification_email: Vec<String>,
    /// `notification_email_from`.
    pub notification_email_from: Option<String>,
    /// `smtp_server IP|name [port]`.
    pub smtp_server: Option<(String, Option<u16>)>,
    /// `smtp_helo_name`.
    pub smtp_helo_name: Option<String>,
    /// `smtp_connect_timeout` (default 30 s).
    pub smtp_connect_timeout: Duration,
    /// `smtp_alert [BOOL]`: the default of every instance, group and real server (see
    /// [`crate::mail`] for keepalived's precedence).
    #[serde(default)]
    pub smtp_alert: Option<bool>,
    /// `smtp_alert_vrrp [BOOL]`: the default of instances and groups (before `smtp_alert`).
    #[serde(default)]
    pub smtp_alert_vrrp: Option<bool>,
    /// `smtp_alert_checker [BOOL]`: the default of real servers (before `smtp_alert`).
    #[serde(default)]
    pub smtp_alert_checker: Option<bool>,
    /// `no_email_faults`: no mail for an instance or group entering FAULT.
    #[serde(default)]
    pub no_email_faults: bool,
    /// `no_checker_emails`: a checker mails only when its real server changes state.
    #[serde(default)]
    pub no_checker_emails: bool,
    /// `nftables [TABLE]`, `nftables_priority N`, `nftables_counters`: the tables that drop
    /// traffic to the VIPs of a `no_accept` master (default table `keepalived`, priority −1).
    pub nftables: Nftables,
    /// `lvs_sync_daemon IF VRRP_INSTANCE [id N] [maxlen N] [port N] [ttl N] [group IP]`, or the
    /// deprecated `lvs_sync_daemon_interface IF` inside a vrrp_instance, or the rkeepalived-only
    /// `lvs_sync_daemon IF active_active [...]` (no instance: both daemons all the time).
    pub lvs_sync_daemon: Option<LvsSyncDaemon>,
}

/// The IPVS connection-synchronisation daemon, run as master while `instance` is MASTER and
/// as backup otherwise (keepalived `lvs_sync_daemon`; kernel `IPVS_CMD_NEW_DAEMON`).
/// Unset options keep the kernel's defaults (maxlen from the MTU, group 224.0.0.81,
/// port 8848, ttl 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LvsSyncDaemon {
    /// Multicast interface (`IPVS_DAEMON_ATTR_MCAST_IFN`).
    pub interface: String,
    /// The vrrp_instance whose state the daemon follows (`active_active` when
    /// [`LvsSyncDaemon::active_active`] is set).
    pub instance: String,
    /// rkeepalived-only: the word `active_active` in the instance's place, and no vrrp_instance
    /// of that name. Every director of an active-active group (BGP ECMP, `docs/ecmp.md`) both
    /// sends its connections and receives the others': the checker side runs the master and
    /// the backup daemon with the same sync id from start to stop, no VRRP instance involved.
    #[serde(default)]
    pub active_active: bool,
    /// `id N` (0-255, default 0): `IPVS_DAEMON_ATTR_SYNC_ID`.
    pub sync_id: u8,
    /// `maxlen N`: largest sync message, bytes.
    pub maxlen: Option<u16>,
    /// `port N`: UDP port of the sync messages.
    pub port: Option<u16>,
    /// `ttl N` (1-255): multicast TTL.
    pub ttl: Option<u8>,
    /// `group IP`: multicast group (IPv4 or IPv6).
    pub group: Option<IpAddr>,
    /// Where it was configured.
    pub span: Span,
}

impl LvsSyncDaemon {
    /// The same settings without their position: a moved line compares equal.
    pub fn positionless(&self) -> LvsSyncDaemon {
        LvsSyncDaemon {
            span: Span::default(),
            ..self.clone()
        }
    }
}

/// The nftables tables keepalived uses to drop traffic to a `no_accept` master's VIPs
/// (global_defs; see `net::firewall`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nftables {
    /// `nftables [TABLE]`: table name (default `keepalived`).
    pub table: String,
    /// `nftables_priority N`: hook priority of the chains (default −1, just before `filter`).
    pub priority: i32,
    /// `nftables_counters`: a `counter` on every drop rule.
    pub counters: bool,
}

impl Default for Nftables {
    fn default() -> Self {
        Nftables {
            table: "keepalived".into(),
            priority: -1,
            counters: false,
        }
    }
}

impl Default for GlobalDefs {
    fn default() -> Self {
        GlobalDefs {
            router_id: None,
            vrrp_version: Version::V2,
            vrrp_strict: false,
            enable_script_security: false,
            script_user: None,
            vrrp_garp_master_delay: Duration::from_secs(5),
            vrrp_garp_master_repeat: 5,
            vrrp_garp_master_refresh: Duration::ZERO,
            vrrp_garp_master_refresh_repeat: 1,
            vrrp_garp_interval: Duration::ZERO,
            vrrp_gna_interval: Duration::ZERO,
            vrrp_mcast_group4: std::net::Ipv4Addr::new(224, 0, 0, 18),
            vrrp_mcast_group6: std::net::Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12),
            vrrp_check_unicast_src: false,
            vrrp_skip_check_adv_addr: false,
            vrrp_garp_lower_prio_delay: None,
            vrrp_garp_lower_prio_repeat: None,
            vrrp_min_garp: false,
            vrrp_lower_prio_no_advert: false,
            vrrp_higher_prio_send_advert: false,
            notification_email: Vec::new(),
            notification_email_from: None,
            smtp_server: None,
            smtp_helo_name: None,
            smtp_connect_timeout: Duration::from_secs(30),
            smtp_alert: None,
            smtp_alert_vrrp: None,
            smtp_alert_checker: None,
            no_email_faults: false,
            no_checker_emails: false,
            nftables: Default::default(),
            lvs_sync_daemon: None,
        }
    }
}

/// `script_user USER [GROUP]`, or the `user USER [GROUP]` of a script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptUser {
    pub user: String,
    pub group: Option<String>,
}

/// A command line as written in the config (`script "…"`, `notify_master "…"`), split into argv
/// with keepalived's rules (unquoted spaces separate words, quotes group).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    /// The words of the command; `argv[0]` is the program.
    pub argv: Vec<String>,
    /// Optional `user [group]` after the command (notify scripts; a `vrrp_script`'s user is
    /// [`VrrpScript::user`]).
    pub user: Option<ScriptUser>,
    /// Where it was written.
    pub span: Span,
}

/// `vrrp_script NAME { }` (keepalived/vrrp/vrrp_parser.c; defaults from vrrp_data.c).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VrrpScript {
    pub name: String,
    /// `script "CMD args"` (required).
    pub script: Command,
    /// `interval` (default 1 s; keepalived reads whole seconds).
    pub interval: Duration,
    /// `timeout` (unset means: equal to `interval`; stored resolved; whole seconds).
    pub timeout: Duration,
    /// `weight -253..253` (default 0: a failure puts the instance in FAULT).
    pub weight: i32,
    /// `weight N reverse`.
    pub weight_reverse: bool,
    /// `rise` (default 1).
    pub rise: u32,
    /// `fall` (default 1).
    pub fall: u32,
    /// `user USER [GROUP]`.
    pub user: Option<ScriptUser>,
    /// `init_fail`: start in the failed state.
    pub init_fail: bool,
    pub span: Span,
}

/// `state MASTER|BACKUP`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum InitialState {
    Master,
    Backup,
}

/// `authentication { auth_type PASS|AH; auth_pass SECRET }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Authentication {
    /// `auth_type PASS`: the password, at most 8 bytes (longer is truncated, as keepalived).
    Pass(Vec<u8>),
    /// `auth_type AH` (parsed; not supported by the engine yet).
    Ah(Vec<u8>),
}

/// One line of `virtual_ipaddress { }`:
/// `IP[/LEN] [brd IP] [dev IF] [scope S] [label L]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VirtualAddress {
    pub addr: IpAddr,
    /// Prefix length (default 32 for IPv4, 128 for IPv6).
    pub prefix_len: u8,
    /// `brd IP`.
    pub brd: Option<IpAddr>,
    /// `dev IF` (default: the instance's `interface`).
    pub dev: Option<String>,
    /// `scope global|host|link|site|NUM` as the rtnetlink scope number (global = 0).
    pub scope: Option<u8>,
    /// `label L` (e.g. `eth0:1`).
    pub label: Option<String>,
    /// `peer IP`: a point-to-point peer (IFA_ADDRESS), `IP` being the local end.
    pub peer: Option<IpAddr>,
    /// `no_track`: the address going away does not affect the instance (rkeepalived does
    /// not track VIPs yet, so this is what every VIP does).
    pub no_track: bool,
    pub span: Span,
}

/// One line of `unicast_peer { IP [min_ttl N] [max_ttl N] }` (keepalived `alloc_unicast_peer`).
/// The TTL range is checked on receive only with `check_unicast_src`, as keepalived does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnicastPeer {
    pub addr: IpAddr,
    /// `min_ttl` (default 0).
    pub min_ttl: u8,
    /// `max_ttl` (default 255).
    pub max_ttl: u8,
}

impl UnicastPeer {
    /// A peer that accepts any TTL.
    pub fn new(addr: IpAddr) -> UnicastPeer {
        UnicastPeer {
            addr,
            min_ttl: 0,
            max_ttl: 255,
        }
    }
}

/// One `track_script { NAME [weight N [reverse]] }` line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackScript {
    pub name: String,
    /// Overrides the script's own weight when present.
    pub weight: Option<i32>,
    pub reverse: bool,
    pub span: Span,
}

/// The notify commands of an instance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notify {
    /// `notify_master`.
    pub master: Option<Command>,
    /// `notify_backup`.
    pub backup: Option<Command>,
    /// `notify_fault`.
    pub fault: Option<Command>,
    /// `notify_stop`.
    pub stop: Option<Command>,
    /// `notify`: called after the state-specific one with
    /// `INSTANCE <name> <MASTER|BACKUP|FAULT|STOP> <priority>` appended.
    pub any: Option<Command>,
}

/// `vrrp_instance NAME { }` (keepalived/vrrp/vrrp_parser.c).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VrrpInstance {
    pub name: String,
    /// `state MASTER|BACKUP` (default BACKUP).
    pub state: InitialState,
    /// `interface IF`.
    pub interface: Option<String>,
    /// `virtual_router_id` (required, 1-255).
    pub virtual_router_id: Vrid,
    /// `priority` (default 100; 255 when `state MASTER` is given without a priority, as
    /// keepalived does).
    pub priority: Priority,
    /// `advert_int` (default 1 s), already rounded for the version as keepalived does.
    pub advert_int: Centiseconds,
    /// `version 2|3`; `None` means `global_defs vrrp_version`.
    pub version: Option<Version>,
    /// `nopreempt`.
    pub nopreempt: bool,
    /// `preempt_delay` (default 0).
    pub preempt_delay: Duration,
    /// `authentication { }`.
    pub authentication: Option<Authentication>,
    /// `virtual_ipaddress { }`.
    pub virtual_ipaddress: Vec<VirtualAddress>,
    /// `unicast_src_ip` / `mcast_src_ip` (keepalived uses one handler for both): the source
    /// address of our adverts.
    pub unicast_src_ip: Option<IpAddr>,
    /// `unicast_peer { }` (empty = multicast).
    pub unicast_peer: Vec<UnicastPeer>,
    /// `unicast_ttl` (1-255, default 255): IP TTL / hop limit of unicast adverts.
    pub unicast_ttl: u8,
    /// `check_unicast_src`: drop unicast adverts whose source is not a peer (also on with
    /// `global_defs vrrp_check_unicast_src`).
    pub check_unicast_src: bool,
    /// `skip_check_adv_addr [on|off]` (unset: `global_defs vrrp_skip_check_adv_addr`): a
    /// backup skips the advert address-list check while the adverts come from the master it
    /// already follows (keepalived `vrrp_state_backup`); a master always checks.
    pub skip_check_adv_addr: Option<bool>,
    /// `garp_master_refresh` (default: `vrrp_garp_master_refresh`; zero = off).
    pub garp_master_refresh: Option<Duration>,
    /// `garp_master_refresh_repeat` (default: `vrrp_garp_master_refresh_repeat`).
    pub garp_master_refresh_repeat: Option<u32>,
    /// `garp_lower_prio_delay` (default: `vrrp_garp_lower_prio_delay`).
    pub garp_lower_prio_delay: Option<Duration>,
    /// `garp_lower_prio_repeat` (default: `vrrp_garp_lower_prio_repeat`; 0 = no GARPs).
    pub garp_lower_prio_repeat: Option<u32>,
    /// `lower_prio_no_advert [bool]` (default: `vrrp_lower_prio_no_advert`).
    pub lower_prio_no_advert: Option<bool>,
    /// `higher_prio_send_advert [bool]` (default: `vrrp_higher_prio_send_advert`).
    pub higher_prio_send_advert: Option<bool>,
    /// `track_script { }`.
    pub track_script: Vec<TrackScript>,
    /// notify, notify_master, notify_backup, notify_fault, notify_stop.
    pub notify: Notify,
    /// `garp_master_delay` (default: `vrrp_garp_master_delay`).
    pub garp_master_delay: Option<Duration>,
    /// `garp_master_repeat` (default: `vrrp_garp_master_repeat`).
    pub garp_master_repeat: Option<u32>,
    /// `strict_mode [BOOL]` (default: `global_defs vrrp_strict`).
    pub strict_mode: bool,
    /// `accept` / `no_accept` (`None`: not given; strict mode resolves it).
    pub accept: Option<bool>,
    /// `use_vmac [NAME]`: `Some(None)` for the default name `vrrp.VRID`.
    pub use_vmac: Option<Option<String>>,
    /// `vmac_xmit_base`: adverts leave from the base interface, not the VMAC.
    pub vmac_xmit_base: bool,
    /// `virtual_ipaddress_excluded { }`: moved with the instance, not listed in adverts.
    pub virtual_ipaddress_excluded: Vec<VirtualAddress>,
    /// `virtual_routes { }`: present only while master.
    pub virtual_routes: Vec<crate::config::routes::VirtualRoute>,
    /// `virtual_rules { }`: present only while master.
    pub virtual_rules: Vec<crate::config::routes::VirtualRule>,
    /// `track_interface`, `track_process`, `track_file`, `dont_track_primary`.
    #[serde(default)]
    pub tracking: InstanceTracking,
    /// `smtp_alert [BOOL]` (unset: `smtp_alert_vrrp`, else `smtp_alert`, else off).
    #[serde(default)]
    pub smtp_alert: Option<bool>,
    pub span: Span,
}

impl Config {
    /// Every script command the config would run: each `vrrp_script`'s `script`, then each
    /// instance's notify commands. keepalived's `enable_script_security` check (and the `-t`
    /// exit code 5) is about exactly these.
    pub fn scripts(&self) -> impl Iterator<Item = &Command> {
        let checks = self.vrrp_scripts.values().map(|s| &s.script);
        let notifies = self.vrrp_instances.iter().flat_map(|i| {
            let n = &i.notify;
            [&n.master, &n.backup, &n.fault, &n.stop, &n.any]
                .into_iter()
                .flatten()
        });
        let groups = self.tracking.sync_groups.iter().flat_map(|g| {
            let n = &g.notify;
            [&n.master, &n.backup, &n.fault, &n.stop, &n.any]
                .into_iter()
                .flatten()
        });
        let fifos = [&self.tracking.notify_fifo, &self.tracking.vrrp_notify_fifo]
            .into_iter()
            .flatten()
            .filter_map(|f| f.script.as_ref());
        checks.chain(notifies).chain(groups).chain(fifos)
    }
}

impl Config {
    /// `true` when a `virtual_server` runs a command: `quorum_up`/`quorum_down`,
    /// `notify_up`/`notify_down` or a `MISC_CHECK` (keepalived's "check scripts").
    pub fn has_check_scripts(&self) -> bool {
        self.ipvs.virtual_servers.iter().any(|vs| {
            vs.health.quorum_up.is_some()
                || vs.health.quorum_down.is_some()
                || vs.real_servers.iter().any(|rs| {
                    rs.health.notify_up.is_some()
                        || rs.health.notify_down.is_some()
                        || rs
                            .health
                            .checkers
                            .iter()
                            .any(|c| matches!(c.kind, CheckerKind::Misc(_)))
                })
        })
    }
}

impl VrrpInstance {
    /// The VRRP version this instance speaks: its own `version`, else `global_defs`'
    /// `vrrp_version` (the loader already set `version` to 3 for IPv6 instances).
    pub fn effective_version(&self, global: &GlobalDefs) -> Version {
        self.version.unwrap_or(global.vrrp_version)
    }
}

// ----- IPVS (keepalived/check/check_parser.c) ------------------------------------------------

/// `lb_kind` / `lvs_method`: how IPVS forwards to a real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LbKind {
    /// `NAT` (masquerading; keepalived's default).
    Nat,
    /// `DR` (direct routing).
    Dr,
    /// `TUN [type ipip|gue|gre] [port N] [nocsum|csum|remcsum]` (tunnelling; the options need
    /// Linux >= 5.2 for GUE, 5.3 for GRE and the checksum options).
    Tun(TunnelOpts),
}

/// The service flags a virtual server sets (the kernel's `IP_VS_SVC_F_*`; `ipvs::desired`
/// converts). Persistence is not here: it follows from `persistence_timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SvcFlags {
    /// `ops`: one-packet scheduling (UDP only).
    pub one_packet: bool,
    /// `flag-1`, `sh-fallback`, `mh-fallback` (scheduler flag 1).
    pub sched1: bool,
    /// `flag-2`, `sh-port`, `mh-port` (scheduler flag 2).
    pub sched2: bool,
    /// `flag-3` (scheduler flag 3).
    pub sched3: bool,
}

/// The encapsulation of a `TUN` real server (`IPVS_DEST_ATTR_TUN_TYPE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum TunnelType {
    /// IP-in-IP (the default; the only type before Linux 5.2).
    #[default]
    Ipip,
    /// Generic UDP Encapsulation (needs a `port`).
    Gue,
    /// GRE (Linux >= 5.3).
    Gre,
}

/// The checksum option of a GUE/GRE tunnel (`IPVS_DEST_ATTR_TUN_FLAGS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum TunnelCsum {
    /// `nocsum` (the default).
    #[default]
    NoCsum,
    /// `csum`.
    Csum,
    /// `remcsum` (GUE only).
    RemCsum,
}

/// The options after `lvs_method TUN` (keepalived.conf(5)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TunnelOpts {
    pub kind: TunnelType,
    /// `port N`: the GUE destination UDP port (0 for the other types).
    pub port: u16,
    pub csum: TunnelCsum,
}

/// `lvs_timeouts [tcp SECS] [tcpfin SECS] [udp SECS]` (`global_defs`); `None` leaves the
/// kernel's value unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LvsTimeouts {
    pub tcp: Option<u32>,
    pub tcp_fin: Option<u32>,
    pub udp: Option<u32>,
}

/// `protocol TCP|UDP|SCTP` of a virtual server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum VsProtocol {
    Tcp,
    Udp,
    Sctp,
}

/// What a `virtual_server` line names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum VsTarget {
    /// `virtual_server IP PORT`.
    Addr { addr: IpAddr, port: u16 },
    /// `virtual_server fwmark N` (family from `ip_family`, else from the real servers, else
    /// IPv4, as keepalived).
    Fwmark { mark: u32, ipv6: bool },
    /// `virtual_server group NAME` (a `virtual_server_group`).
    Group(String),
}

/// `real_server IP PORT { }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RealServer {
    pub addr: IpAddr,
    /// The port (a real server of a fwmark service may omit it: 0).
    pub port: u16,
    /// `weight` (default 1).
    pub weight: u32,
    /// `uthreshold` (default 0 = none).
    pub uthreshold: u32,
    /// `lthreshold` (default 0).
    pub lthreshold: u32,
    /// `lvs_method` (default: the virtual server's `lb_kind`).
    pub lvs_method: Option<LbKind>,
    /// Checker blocks seen but not run (`FILE_CHECK`, `BFD_CHECK`: skipped with a warning).
    pub checkers_skipped: usize,
    /// Checkers, timing, `inhibit_on_failure`, `notify_up`/`notify_down`.
    pub health: RsHealthCfg,
    pub span: Span,
}

/// `virtual_server IP PORT | fwmark N | group NAME { }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VirtualServer {
    pub target: VsTarget,
    /// `lb_algo` / `lvs_sched` (default `wlc`).
    pub lb_algo: String,
    /// `lb_kind` / `lvs_method` (default NAT).
    pub lb_kind: LbKind,
    /// `protocol` (default TCP; ignored for fwmark services).
    pub protocol: VsProtocol,
    /// `persistence_timeout [N]` in seconds (bare keyword: 360).
    pub persistence_timeout: Option<u32>,
    /// `persistence_granularity`: the IPVS netmask value (IPv4 mask as a host-order u32 of
    /// its big-endian value, e.g. 0xffffff00; IPv6 a prefix length).
    pub persistence_granularity: Option<u32>,
    /// `persistence_engine NAME`.
    pub persistence_engine: Option<String>,
    /// Scheduler and service flags (`ops`, `flag-1..3`, `sh-port`, `sh-fallback`, `mh-port`,
    /// `mh-fallback`).
    pub flags: SvcFlags,
    /// `sorry_server IP [PORT]`.
    pub sorry_server: Option<(IpAddr, u16)>,
    /// `delay_loop` (default 60 s).
    pub delay_loop: Duration,
    /// `ip_family inet|inet6` (`Some(true)` for inet6).
    pub ip_family_v6: Option<bool>,
    pub real_servers: Vec<RealServer>,
    /// Quorum, hysteresis, inhibit_on_failure, checker timing defaults.
    pub health: VsHealthCfg,
    pub span: Span,
}

/// One line of a `virtual_server_group`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum VsgEntry {
    /// `IP[-LAST] PORT`: `count` consecutive addresses from `first` (1 without a range).
    Range {
        first: IpAddr,
        count: u32,
        port: u16,
    },
    /// `fwmark N [inet|inet6]`.
    Fwmark { mark: u32, ipv6: Option<bool> },
}

/// `virtual_server_group NAME { }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VirtualServerGroup {
    pub name: String,
    pub entries: Vec<VsgEntry>,
    pub span: Span,
}

/// The IPVS side of a config (kept apart from [`Config`]'s VRRP fields).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IpvsConfig {
    /// `virtual_server` blocks in file order.
    pub virtual_servers: Vec<VirtualServer>,
    /// `virtual_server_group` blocks by name.
    pub groups: BTreeMap<String, VirtualServerGroup>,
    /// The top-level `SSL { }` block.
    pub ssl: Option<SslCfg>,
    /// `global_defs` `lvs_timeouts`.
    pub lvs_timeouts: Option<LvsTimeouts>,
    /// `global_defs` `lvs_flush`: flush the whole IPVS table at start.
    pub lvs_flush: bool,
}

// ----- Health checkers (keepalived/check/check_api.c, check_*.c) -----------------------------

/// Checker timing keywords at one level (`virtual_server`, `real_server` or the checker
/// block); `None` inherits from the level above, then keepalived's per-checker defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CheckTiming {
    pub delay_loop: Option<Usecs>,
    pub connect_timeout: Option<Usecs>,
    /// `retry` (`nb_get_retry` in HTTP_GET/SSL_GET).
    pub retry: Option<u32>,
    pub delay_before_retry: Option<Usecs>,
    pub warmup: Option<Usecs>,
    pub alpha: Option<bool>,
}

impl CheckTiming {
    /// No keyword given at this level.
    pub const NONE: CheckTiming = CheckTiming {
        delay_loop: None,
        connect_timeout: None,
        retry: None,
        delay_before_retry: None,
        warmup: None,
        alpha: None,
    };

    /// `self` with every unset field taken from `outer`.
    pub fn or(&self, outer: &CheckTiming) -> CheckTiming {
        CheckTiming {
            delay_loop: self.delay_loop.or(outer.delay_loop),
            connect_timeout: self.connect_timeout.or(outer.connect_timeout),
            retry: self.retry.or(outer.retry),
            delay_before_retry: self.delay_before_retry.or(outer.delay_before_retry),
            warmup: self.warmup.or(outer.warmup),
            alpha: self.alpha.or(outer.alpha),
        }
    }
}

/// One `url { }` of an `HTTP_GET` / `SSL_GET`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UrlCfg {
    pub path: String,
    /// `digest` (hex MD5, lowercased).
    pub digest: Option<String>,
    /// `status_code` ranges; empty = 200-299.
    pub status_codes: Vec<(u16, u16)>,
    pub virtualhost: Option<String>,
    /// `regex` / `regex_no_match` with `regex_options`, `regex_min_offset`, `regex_max_offset`.
    pub regex: Option<UrlRegex>,
}

/// keepalived's body regex of a `url { }` block (PCRE2 there, Rust `regex` syntax here: the
/// common subset is the same; look-around and backreferences are refused at load).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UrlRegex {
    /// The pattern, with `regex_options` already folded in as inline flags (`(?i)` ...).
    pub pattern: String,
    /// `regex_no_match`: the check passes when the pattern does not match.
    pub no_match: bool,
    /// `regex_min_offset`: bytes of the body skipped before searching (default 0).
    pub min_offset: usize,
    /// `regex_max_offset`: a match must start before this body offset (default: anywhere).
    pub max_offset: Option<usize>,
}

/// `http_protocol 1.0|1.0C|1.1` of an `HTTP_GET`/`SSL_GET` (keepalived's default is 1.0);
/// serialized as written in the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum HttpProtocol {
    /// HTTP/1.0.
    #[default]
    #[serde(rename = "1.0")]
    Http10,
    /// 1.0 with `Connection: close`.
    #[serde(rename = "1.0C")]
    Http10C,
    /// 1.1 with `Connection: close`.
    #[serde(rename = "1.1")]
    Http11,
}

/// What a checker block checks. The settings of every kind but `TCP_CHECK` and `PING_CHECK`
/// are boxed: a table keeps one per real server and checker, and most are `TCP_CHECK`s
/// (16 bytes each instead of the largest kind's 96).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CheckerKind {
    Tcp,
    /// `HTTP_GET` (`ssl` false) or `SSL_GET`.
    Http(Box<HttpCfg>),
    Misc(Box<MiscCfg>),
    Dns(Box<DnsCfg>),
    Udp(Box<UdpCfg>),
    Ping,
    Smtp(Box<SmtpCfg>),
    /// `FILE_CHECK { track_file NAME; weight N [reverse] }` (keepalived check_file.c): follows
    /// the number in the top-level `track_file NAME` block's file.
    /// The block is resolved when parsed (keepalived: the `track_file` must be defined above).
    File(Box<FileCfg>),
}

/// `HTTP_GET` / `SSL_GET` (keepalived check_http.c).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpCfg {
    /// `SSL_GET`.
    pub ssl: bool,
    pub urls: Vec<UrlCfg>,
    /// `http_protocol 1.0|1.0C|1.1` (default 1.0).
    pub http_protocol: HttpProtocol,
    pub virtualhost: Option<String>,
    pub enable_sni: bool,
}

/// `MISC_CHECK` (keepalived check_misc.c).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MiscCfg {
    /// `misc_path`, split into words.
    pub argv: Vec<String>,
    /// `misc_timeout`.
    pub timeout: Option<Duration>,
    /// `misc_dynamic`.
    pub dynamic: bool,
    /// `user USER [GROUP]`.
    pub user: Option<ScriptUser>,
}

/// `DNS_CHECK` (keepalived check_dns.c).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsCfg {
    /// `type` as its number (default SOA, 6).
    pub qtype: u16,
    /// `name` (default ".").
    pub name: String,
}

/// `UDP_CHECK` (keepalived check_udp.c).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UdpCfg {
    pub payload: Vec<u8>,
    pub require_reply: Option<Vec<u8>>,
    pub min_reply_length: usize,
    pub max_reply_length: usize,
}

/// `SMTP_CHECK` (keepalived check_smtp.c).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmtpCfg {
    pub helo_name: Option<String>,
}

/// `FILE_CHECK`, its `track_file` block resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileCfg {
    /// The `track_file` block's name.
    pub track_file: String,
    /// Its `file PATH`.
    pub path: std::path::PathBuf,
    /// `weight N` of the FILE_CHECK, else the `track_file` block's.
    pub weight: i32,
    /// `reverse` (same origin as `weight`).
    pub reverse: bool,
    /// The block's `init_file [VALUE] [overwrite]`.
    pub init_file: Option<(i64, bool)>,
}

/// A checker's local socket options (keepalived check_api.c: `bindto`, `bind_port`,
/// `bind_if`, `fwmark`), as configured and as the checkers apply them
/// (`check::endpoint::Target`). Rarely given, so kept boxed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CheckerBind {
    /// `bindto`: the local source address.
    pub bindto: Option<IpAddr>,
    /// `bind_port`: the local source port.
    pub bind_port: Option<u16>,
    /// `bind_if`: the device the socket is bound to (`SO_BINDTODEVICE`).
    pub bind_if: Option<String>,
    /// `fwmark`: the mark on the checker's packets (`SO_MARK`).
    pub fwmark: Option<u32>,
}

/// One checker block of a `real_server`, with keepalived's common options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckerCfg {
    pub kind: CheckerKind,
    pub connect_ip: Option<IpAddr>,
    pub connect_port: Option<u16>,
    /// `bindto`, `bind_port`, `bind_if`, `fwmark`; `None` when none is given (most
    /// checkers: boxed, a table keeps one `CheckerCfg` per real server and checker).
    pub bind: Option<Box<CheckerBind>>,
    /// Shared by the checkers with the same timing keywords (the parser interns it: a table
    /// of 10,000 checkers with `connect_timeout 3` keeps one copy, not 48 bytes each).
    pub timing: std::sync::Arc<CheckTiming>,
    /// `log_all_failures`.
    pub log_all_failures: bool,
    pub span: Span,
}

impl CheckerCfg {
    /// A checker of `kind` configured at `span`, with no common options set yet.
    pub fn new(kind: CheckerKind, span: Span) -> CheckerCfg {
        CheckerCfg {
            kind,
            connect_ip: None,
            connect_port: None,
            bind: None,
            timing: std::sync::Arc::default(),
            log_all_failures: false,
            span,
        }
    }

    /// The local socket options, created on first use (by the parser).
    pub fn bind_mut(&mut self) -> &mut CheckerBind {
        self.bind.get_or_insert_default()
    }
}

/// Health-check related keywords of a `virtual_server` (defaults: quorum 1, hysteresis 0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VsHealthCfg {
    /// `connect_timeout`, `retry`, `delay_before_retry`, `warmup`, `alpha` at VS level
    /// (`delay_loop` is [`VirtualServer::delay_loop`]).
    pub timing: CheckTiming,
    /// `inhibit_on_failure`: a failed real server gets weight 0 instead of being removed.
    pub inhibit_on_failure: bool,
    /// `quorum` (default 1): minimum total weight of live real servers.
    pub quorum: u32,
    /// `hysteresis` (default 0).
    pub hysteresis: u32,
    /// `quorum_up` / `quorum_down` (boxed: most virtual servers have none, and a table keeps
    /// one `VsHealthCfg` per virtual server).
    pub quorum_up: Option<Box<Command>>,
    pub quorum_down: Option<Box<Command>>,
    /// `omega`: run quorum_down / notify_down on shutdown.
    pub omega: bool,
    /// `ha_suspend`.
    pub ha_suspend: bool,
    /// `virtualhost` default for HTTP checks.
    pub virtualhost: Option<String>,
    /// `sorry_server_inhibit`: the sorry server stays with weight 0 instead of being removed.
    pub sorry_server_inhibit: bool,
    /// `smtp_alert [BOOL]` of the virtual server (keepalived keeps it for quorum mails).
    #[serde(default)]
    pub smtp_alert: Option<bool>,
    /// `announce_route table N [proto P] [metric M]` (rkeepalived-only): while the quorum is
    /// up, the virtual server's addresses are host routes in that table, for a routing daemon
    /// to announce (see [`AnnounceRoute`]).
    #[serde(default)]
    pub announce_route: Option<AnnounceRoute>,
}

/// rkeepalived-only `announce_route table N [proto P] [metric M]` of a `virtual_server`
/// (issue 15, docs/ecmp.md): each address of the virtual server (every address of its group;
/// fwmark entries have none) becomes a `blackhole ADDR/32` (`/128`) route in kernel routing
/// table `table`, marked `proto P`, while the virtual server's quorum is up. A routing daemon
/// (BIRD's kernel protocol with `learn`, FRR's `redistribute table`) exports it; a lost quorum,
/// the daemon's stop or its death (the supervisor releases the record, [`crate::net::ledger`])
/// withdraws it. keepalived has no such keyword: there, `quorum_up`/`quorum_down` scripts run
/// `ip route add|del`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnnounceRoute {
    /// `table N`: the kernel routing table (1 to 2^32-1, not 0; `ip route show table N`).
    pub table: u32,
    /// `proto P`: the route's `rtm_protocol` (0-255 or a name of `/etc/iproute2/rt_protos`
    /// known here: `boot`, `static`, `keepalived`); default 18, keepalived's.
    pub proto: u8,
    /// `metric M`: `RTA_PRIORITY`; none by default.
    pub metric: Option<u32>,
}

impl Default for VsHealthCfg {
    fn default() -> Self {
        VsHealthCfg {
            timing: CheckTiming::default(),
            inhibit_on_failure: false,
            quorum: 1,
            hysteresis: 0,
            quorum_up: None,
            quorum_down: None,
            omega: false,
            ha_suspend: false,
            virtualhost: None,
            sorry_server_inhibit: false,
            smtp_alert: None,
            announce_route: None,
        }
    }
}

/// Health-check related keywords of a `real_server`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RsHealthCfg {
    pub checkers: Vec<CheckerCfg>,
    /// Timing keywords given in the `real_server` block itself; `None` when there are none
    /// (most real servers: boxed, as a table keeps one `RsHealthCfg` per real server). Read
    /// it with [`RsHealthCfg::timing`].
    pub timing: Option<Box<CheckTiming>>,
    pub inhibit_on_failure: Option<bool>,
    /// `notify_up` / `notify_down` (boxed: most real servers have none, and a table keeps one
    /// `RsHealthCfg` per real server).
    pub notify_up: Option<Box<Command>>,
    pub notify_down: Option<Box<Command>>,
    pub virtualhost: Option<String>,
    /// `smtp_alert [BOOL]` (unset: `smtp_alert_checker`, else `smtp_alert`, else on, as
    /// keepalived keeps for backward compatibility).
    #[serde(default)]
    pub smtp_alert: Option<bool>,
}

impl RsHealthCfg {
    /// The timing keywords of the `real_server` block ([`CheckTiming::NONE`] if none).
    pub fn timing(&self) -> &CheckTiming {
        self.timing.as_deref().unwrap_or(&CheckTiming::NONE)
    }
}

/// The top-level `SSL { password; ca; certificate; key }` block (client TLS for SSL_GET).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SslCfg {
    pub password: Option<String>,
    pub ca: Option<std::path::PathBuf>,
    pub certificate: Option<std::path::PathBuf>,
    pub key: Option<std::path::PathBuf>,
}

/// Everything about trackers, sync groups and notify FIFOs that lives outside
/// `vrrp_instance` and `vrrp_script` (keepalived vrrp_parser.c, track_file.c, global_parser.c).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tracking {
    /// `vrrp_track_process NAME { }` blocks by name.
    pub processes: BTreeMap<String, TrackProcess>,
    /// `track_file NAME { }` (or `vrrp_track_file`) blocks by name.
    pub files: BTreeMap<String, TrackFile>,
    /// `vrrp_sync_group NAME { }` blocks in file order.
    pub sync_groups: Vec<SyncGroup>,
    /// `global_defs { notify_fifo PATH [user [group]] }` and `notify_fifo_script`.
    pub notify_fifo: Option<NotifyFifo>,
    /// `global_defs { vrrp_notify_fifo PATH [user [group]] }` and `vrrp_notify_fifo_script`.
    pub vrrp_notify_fifo: Option<NotifyFifo>,
}

/// A notify FIFO: the path, who owns it, and the script keepalived starts to read it (the
/// FIFO path is appended to the script's argv).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyFifo {
    pub path: std::path::PathBuf,
    pub user: Option<ScriptUser>,
    /// `*_fifo_script CMD [user [group]]`.
    pub script: Option<Command>,
    pub span: Span,
}

/// One `track_interface { IF [weight N [reverse]] }` line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackInterface {
    pub name: String,
    /// 0 (the default) means: link down = FAULT.
    pub weight: i32,
    pub reverse: bool,
    pub span: Span,
}

/// `param_match` of a `vrrp_track_process`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ParamMatch {
    /// Parameters given, no `param_match`: the parameters must be exactly these. With no
    /// parameters and no `param_match`, parameters are not looked at.
    Exact,
    /// `param_match partial`: the first N parameters must be these (more may follow).
    Partial,
    /// `param_match initial`: as partial, but the last one need only be a prefix.
    Initial,
}

/// `vrrp_track_process NAME { }` (keepalived track_process.c; defaults from man 5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackProcess {
    pub name: String,
    /// `process PATH|NAME [params...]`: `process[0]` is matched, the rest are parameters.
    pub process: Vec<String>,
    /// `param_match`; `None` with no parameters means parameters are not checked, and
    /// `Some(Exact)` with none means the process must have no parameters.
    pub param_match: Option<ParamMatch>,
    /// `weight -254..254 [reverse]` (default 1).
    pub weight: i32,
    pub weight_reverse: bool,
    /// `quorum` (default 1).
    pub quorum: u32,
    /// `quorum_max` (default unlimited).
    pub quorum_max: Option<u32>,
    /// `fork_delay` / `delay`: a gained quorum counts only after this long.
    pub fork_delay: Duration,
    /// `terminate_delay` / `delay`: a lost quorum counts only after this long.
    pub terminate_delay: Duration,
    /// `full_command`: match the command line, not the process name.
    pub full_command: bool,
    pub span: Span,
}

/// `track_file NAME { }` (keepalived track_file.c).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackFile {
    pub name: String,
    /// `file PATH` (required).
    pub file: std::path::PathBuf,
    /// `weight N [reverse]` (default 1).
    pub weight: i32,
    pub weight_reverse: bool,
    /// `init_file [VALUE] [overwrite]`: `Some((value, overwrite))`.
    pub init_file: Option<(i64, bool)>,
    pub span: Span,
}

/// The tracking keywords of a `vrrp_instance`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceTracking {
    /// `track_interface { }`.
    pub interfaces: Vec<TrackInterface>,
    /// `track_process { NAME [weight N [reverse]] }` (same shape as a track_script line).
    pub processes: Vec<TrackScript>,
    /// `track_file { NAME [weight N [reverse]] }`.
    pub files: Vec<TrackScript>,
    /// `dont_track_primary`: the instance's own interface going down is not a FAULT.
    pub dont_track_primary: bool,
}

/// `vrrp_sync_group NAME { }` (keepalived vrrp_sync.c).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncGroup {
    pub name: String,
    /// `group { VI_1 VI_2 }`: member instance names, resolved when the config is complete.
    pub members: Vec<String>,
    /// Group notify scripts; `notify` gets `GROUP NAME STATE 0` appended.
    pub notify: Notify,
    /// `track_interface`, `track_process`, `track_file` of the group: they apply to every
    /// member.
    pub tracking: InstanceTracking,
    /// `track_script { }` of the group.
    pub track_script: Vec<TrackScript>,
    /// `sync_group_tracking_weight`: keep the members' own weighted trackers.
    pub tracking_weight: bool,
    /// `smtp_alert [BOOL]` (unset: `smtp_alert_vrrp`, else `smtp_alert`, else off).
    #[serde(default)]
    pub smtp_alert: Option<bool>,
    pub span: Span,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The daemon keeps one `RealServer` and one `CheckerCfg` per real server for its whole
    /// life (1000 virtual servers x 10 real servers: every byte here is 10 kB): what most
    /// real servers leave unset (real-server-level timing, a checker's bind options, notify
    /// commands) stays boxed, and equal checker timings are one shared copy. A virtual server's
    /// quorum commands are boxed too.
    #[test]
    fn a_real_server_is_small() {
        let size = std::mem::size_of::<RealServer>();
        assert!(size <= 136, "a RealServer takes {size} bytes");
        let size = std::mem::size_of::<CheckerCfg>();
        assert!(size <= 72, "a CheckerCfg takes {size} bytes");
        let size = std::mem::size_of::<VirtualServer>();
        assert!(size <= 304, "a VirtualServer takes {size} bytes");
    }
}
