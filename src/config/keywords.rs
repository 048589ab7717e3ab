//! The keywords keepalived 2.2.7 knows, per block, and the "did you mean" lookup.
//!
//! The lists were taken from the `install_keyword*()` calls of keepalived's parsers
//! (`keepalived/core/global_parser.c`, `keepalived/vrrp/vrrp_parser.c`, `check_parser.c`,
//! `bfd_parser.c`, `track_file.c`) and then checked against the installed Debian 2.2.7 binary:
//! each keyword placed in its block was confirmed not to produce `Unknown keyword` under
//! `keepalived -t`. A few keywords that depend on build options absent from Debian's binary
//! (`vrrp_ipsets`) are kept because other builds know them.
//!
//! The parser implements a subset; everything else listed here loads with a warning that
//! rkeepalived does not implement it yet, while words in no list are `Unknown keyword`.

/// Where a keyword appears.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// Top level of the file.
    Root,
    /// `global_defs { }`.
    GlobalDefs,
    /// `vrrp_instance NAME { }`.
    VrrpInstance,
    /// `authentication { }` inside a `vrrp_instance`.
    Authentication,
    /// `vrrp_script NAME { }`.
    VrrpScript,
    /// `virtual_server … { }` (keepalived/check/check_parser.c).
    VirtualServer,
    /// `real_server IP PORT { }` inside a `virtual_server`.
    RealServer,
    /// `vrrp_sync_group NAME { }`.
    VrrpSyncGroup,
    /// `vrrp_track_process NAME { }`.
    VrrpTrackProcess,
    /// `track_file NAME { }` / `vrrp_track_file NAME { }`.
    TrackFile,
}

impl Context {
    /// Every block.
    pub const ALL: [Context; 10] = [
        Context::Root,
        Context::GlobalDefs,
        Context::VrrpInstance,
        Context::Authentication,
        Context::VrrpScript,
        Context::VirtualServer,
        Context::RealServer,
        Context::VrrpSyncGroup,
        Context::VrrpTrackProcess,
        Context::TrackFile,
    ];

    /// Every keyword keepalived 2.2.7 accepts in this block.
    pub fn keywords(self) -> &'static [&'static str] {
        match self {
            Context::Root => ROOT,
            Context::GlobalDefs => GLOBAL_DEFS,
            Context::VrrpInstance => VRRP_INSTANCE,
            Context::Authentication => AUTHENTICATION,
            Context::VrrpScript => VRRP_SCRIPT,
            Context::VirtualServer => VIRTUAL_SERVER,
            Context::RealServer => REAL_SERVER,
            Context::VrrpSyncGroup => VRRP_SYNC_GROUP,
            Context::VrrpTrackProcess => VRRP_TRACK_PROCESS,
            Context::TrackFile => TRACK_FILE,
        }
    }

    /// `true` if keepalived 2.2.7 knows `word` in this block.
    pub fn knows(self, word: &str) -> bool {
        self.keywords().contains(&word)
    }

    /// The keywords rkeepalived adds to this block ([`RKEEPALIVED_ONLY`]), which keepalived
    /// 2.2.7 rejects as unknown.
    pub fn rkeepalived_only(self) -> impl Iterator<Item = &'static str> {
        RKEEPALIVED_ONLY
            .iter()
            .filter(move |(c, _, _)| *c == self)
            .map(|(_, k, _)| *k)
    }
}

/// Keywords of rkeepalived's own, by block, for what keepalived leaves to scripts: a config
/// that uses them does not load in keepalived. `(block, keyword, syntax and meaning)`.
pub const RKEEPALIVED_ONLY: &[(Context, &str, &str)] = &[(
    Context::VirtualServer,
    "announce_route",
    "announce_route table N [proto P] [metric M]: while the quorum is up, each address of the \
     virtual server is a blackhole host route in kernel table N (proto P, default 18 \
     keepalived), for a routing daemon to announce (BGP ECMP, docs/ecmp.md); withdrawn when the \
     quorum is lost, at stop, and by the supervisor when the daemon dies",
)];

/// Top-level keywords (`init_global_keywords`, `init_vrrp_keywords`, `init_check_keywords`,
/// `init_bfd_keywords`, `add_track_file_keywords`). `include` is handled by the lexer.
pub const ROOT: &[&str] = &[
    "global_defs",
    "vrrp_instance",
    "vrrp_script",
    "vrrp_sync_group",
    "vrrp_track_process",
    "track_file",
    "vrrp_track_file",
    "bfd_instance",
    "garp_group",
    "track_group",
    "static_ipaddress",
    "static_routes",
    "static_rules",
    "linkbeat_interfaces",
    "interface_up_down_delays",
    "virtual_server_group",
    "virtual_server",
    "SSL",
    "net_namespace",
    "net_namespace_ipvs",
    "namespace_with_ipsets",
    "instance",
    "use_pid_dir",
    "linkbeat_use_polling",
    "child_wait_time",
];

/// `global_defs` keywords (`init_global_keywords`, keepalived/core/global_parser.c).
pub const GLOBAL_DEFS: &[&str] = &[
    "router_id",
    "notification_email",
    "notification_email_from",
    "smtp_server",
    "smtp_helo_name",
    "smtp_connect_timeout",
    "smtp_alert",
    "smtp_alert_vrrp",
    "smtp_alert_checker",
    "no_email_faults",
    "no_checker_emails",
    "checker_log_all_failures",
    "enable_script_security",
    "script_user",
    "vrrp_version",
    "vrrp_strict",
    "vrrp_skip_check_adv_addr",
    "vrrp_check_unicast_src",
    "vrrp_mcast_group4",
    "vrrp_mcast_group6",
    "vrrp_garp_master_delay",
    "vrrp_garp_master_repeat",
    "vrrp_garp_master_refresh",
    "vrrp_garp_master_refresh_repeat",
    "vrrp_garp_lower_prio_delay",
    "vrrp_garp_lower_prio_repeat",
    "vrrp_garp_interval",
    "vrrp_gna_interval",
    "vrrp_min_garp",
    "vrrp_garp_extra_if",
    "vrrp_vmac_garp_intvl",
    "vrrp_lower_prio_no_advert",
    "vrrp_higher_prio_send_advert",
    "vrrp_down_timer_adverts",
    "vrrp_startup_delay",
    "vrrp_iptables",
    "vrrp_ipsets",
    "nftables",
    "nftables_priority",
    "nftables_ifindex",
    "nftables_counters",
    "nftables_ipvs",
    "nftables_ipvs_priority",
    "nftables_ipvs_start_fwmark",
    "vrrp_priority",
    "vrrp_no_swap",
    "vrrp_rt_priority",
    "vrrp_cpu_affinity",
    "vrrp_rlimit_rttime",
    "vrrp_rlimit_rtime",
    "checker_priority",
    "checker_no_swap",
    "checker_rt_priority",
    "checker_cpu_affinity",
    "checker_rlimit_rttime",
    "checker_rlimit_rtime",
    "bfd_priority",
    "bfd_no_swap",
    "bfd_rt_priority",
    "bfd_cpu_affinity",
    "bfd_rlimit_rttime",
    "bfd_rlimit_rtime",
    "max_auto_priority",
    "min_auto_priority_delay",
    "process_names",
    "process_name",
    "vrrp_process_name",
    "checker_process_name",
    "lvs_process_name",
    "bfd_process_name",
    "startup_script",
    "startup_script_timeout",
    "shutdown_script",
    "shutdown_script_timeout",
    "dynamic_interfaces",
    "default_interface",
    "disable_local_igmp",
    "lvs_timeouts",
    "lvs_flush",
    "lvs_flush_on_stop",
    "lvs_flush_onstop",
    "lvs_sync_daemon",
    "notify_fifo",
    "notify_fifo_script",
    "vrrp_notify_fifo",
    "vrrp_notify_fifo_script",
    "vrrp_notify_priority_changes",
    "lvs_notify_fifo",
    "lvs_notify_fifo_script",
    "fifo_write_vrrp_states_on_reload",
    "snmp_socket",
    "enable_traps",
    "enable_snmp_vrrp",
    "enable_snmp_keepalived",
    "enable_snmp_rfc",
    "enable_snmp_rfcv2",
    "enable_snmp_rfcv3",
    "enable_snmp_checker",
    "enable_dbus",
    "dbus_service_name",
    "vrrp_netlink_cmd_rcv_bufs",
    "vrrp_netlink_cmd_rcv_bufs_force",
    "vrrp_netlink_monitor_rcv_bufs",
    "vrrp_netlink_monitor_rcv_bufs_force",
    "process_monitor_rcv_bufs",
    "process_monitor_rcv_bufs_force",
    "lvs_netlink_cmd_rcv_bufs",
    "lvs_netlink_cmd_rcv_bufs_force",
    "lvs_netlink_monitor_rcv_bufs",
    "lvs_netlink_monitor_rcv_bufs_force",
    "rs_init_notifies",
    "vrrp_rx_bufs_policy",
    "vrrp_rx_bufs_multiplier",
    "log_unknown_vrids",
    "vmac_prefix",
    "vmac_addr_prefix",
    "umask",
    "random_seed",
    "reload_check_config",
    "reload_time_file",
    "reload_repeat",
    "reload_file",
    "config_save_dir",
    "include_check",
    "tmp_config_directory",
    "data_use_instance",
];

/// `vrrp_instance` keywords (`init_vrrp_keywords`, keepalived/vrrp/vrrp_parser.c).
pub const VRRP_INSTANCE: &[&str] = &[
    "state",
    "interface",
    "virtual_router_id",
    "priority",
    "advert_int",
    "version",
    "nopreempt",
    "preempt",
    "preempt_delay",
    "authentication",
    "virtual_ipaddress",
    "virtual_ipaddress_excluded",
    "unicast_src_ip",
    "unicast_peer",
    "unicast_ttl",
    "unicast_fault_no_peer",
    "check_unicast_src",
    "old_unicast_checksum",
    "mcast_src_ip",
    "mcast_dst_ip",
    "track_src_ip",
    "track_interface",
    "track_script",
    "track_file",
    "track_process",
    "track_bfd",
    "dont_track_primary",
    "notify",
    "notify_master",
    "notify_backup",
    "notify_fault",
    "notify_stop",
    "notify_deleted",
    "notify_master_rx_lower_pri",
    "notify_priority_changes",
    "smtp_alert",
    "garp_master_delay",
    "garp_master_repeat",
    "garp_master_refresh",
    "garp_master_refresh_repeat",
    "garp_lower_prio_delay",
    "garp_lower_prio_repeat",
    "garp_extra_if",
    "vmac_garp_intvl",
    "use_vmac",
    "use_vmac_addr",
    "vmac_xmit_base",
    "use_ipvlan",
    "native_ipv6",
    "accept",
    "no_accept",
    "skip_check_adv_addr",
    "strict_mode",
    "virtual_routes",
    "virtual_rules",
    "promote_secondaries",
    "lower_prio_no_advert",
    "higher_prio_send_advert",
    "down_timer_adverts",
    "kernel_rx_buf_size",
    "linkbeat_use_polling",
    "lvs_sync_daemon_interface",
    "vrf",
    "debug",
];

/// `authentication` keywords inside a `vrrp_instance`.
pub const AUTHENTICATION: &[&str] = &["auth_type", "auth_pass"];

/// `vrrp_script` keywords.
pub const VRRP_SCRIPT: &[&str] = &[
    "script",
    "interval",
    "timeout",
    "weight",
    "rise",
    "fall",
    "user",
    "init_fail",
];

/// `virtual_server` keywords (`init_check_keywords`, keepalived/check/check_parser.c).
pub const VIRTUAL_SERVER: &[&str] = &[
    "delay_loop",
    "lb_algo",
    "lvs_sched",
    "lb_kind",
    "lvs_method",
    "persistence_engine",
    "persistence_timeout",
    "persistence_granularity",
    "protocol",
    "ha_suspend",
    "smtp_alert",
    "virtualhost",
    "retry",
    "delay_before_retry",
    "warmup",
    "connect_timeout",
    "inhibit_on_failure",
    "alpha",
    "omega",
    "quorum",
    "quorum_up",
    "quorum_down",
    "hysteresis",
    "weight",
    "sorry_server",
    "sorry_server_inhibit",
    "sorry_server_lvs_method",
    "real_server",
    "ip_family",
    "ops",
    "hashed",
    "flag-1",
    "flag-2",
    "flag-3",
    "sh-port",
    "sh-fallback",
    "mh-port",
    "mh-fallback",
    "snmp_name",
];

/// `real_server` keywords, checker blocks included (`check_parser.c`, `check_*.c`).
pub const REAL_SERVER: &[&str] = &[
    "weight",
    "lvs_method",
    "notify_up",
    "notify_down",
    "uthreshold",
    "lthreshold",
    "inhibit_on_failure",
    "alpha",
    "retry",
    "delay_before_retry",
    "warmup",
    "connect_timeout",
    "delay_loop",
    "smtp_alert",
    "virtualhost",
    "snmp_name",
    "TCP_CHECK",
    "HTTP_GET",
    "SSL_GET",
    "MISC_CHECK",
    "SMTP_CHECK",
    "DNS_CHECK",
    "UDP_CHECK",
    "PING_CHECK",
    "FILE_CHECK",
    "BFD_CHECK",
];

/// The checker blocks of a `real_server` (all skipped for now).
pub const CHECKERS: &[&str] = &[
    "TCP_CHECK",
    "HTTP_GET",
    "SSL_GET",
    "MISC_CHECK",
    "SMTP_CHECK",
    "DNS_CHECK",
    "UDP_CHECK",
    "PING_CHECK",
    "FILE_CHECK",
    "BFD_CHECK",
];
/// `vrrp_sync_group` keywords (keepalived vrrp_parser.c).
pub const VRRP_SYNC_GROUP: &[&str] = &[
    "group",
    "track_interface",
    "track_script",
    "track_file",
    "track_process",
    "track_bfd",
    "notify_master",
    "notify_backup",
    "notify_fault",
    "notify_stop",
    "notify_deleted",
    "notify",
    "notify_priority_changes",
    "smtp_alert",
    "global_tracking",
    "sync_group_tracking_weight",
];

/// `vrrp_track_process` keywords (keepalived vrrp_parser.c).
pub const VRRP_TRACK_PROCESS: &[&str] = &[
    "process",
    "param_match",
    "weight",
    "quorum",
    "quorum_max",
    "fork_delay",
    "terminate_delay",
    "delay",
    "full_command",
];

/// `track_file` keywords (keepalived track_file.c).
pub const TRACK_FILE: &[&str] = &["file", "weight", "init_file"];

/// The keyword of `context` closest to `word`, if one is close enough to be a likely typo
/// (Levenshtein distance 1 for words up to 4 characters, else up to 2).
pub fn suggest(context: Context, word: &str) -> Option<&'static str> {
    let len = word.chars().count();
    // No keyword is longer than 40 characters: a word more than 2 longer cannot be within
    // distance 2, and skipping it keeps a hostile multi-megabyte word from costing
    // (length x keywords) steps.
    if len > 42 {
        return None;
    }
    let limit = if len <= 4 { 1 } else { 2 };
    context
        .keywords()
        .iter()
        .copied()
        .chain(context.rkeepalived_only())
        .map(|k| (levenshtein(word, k), k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Edit distance (insertions, deletions, substitutions), over chars.
fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = substitute.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Words keepalived 2.2.7 knows inside checker blocks that rkeepalived's parser may still
/// report as unknown: `host` (SMTP_CHECK's per-host sub-block, keepalived check_smtp.c).
const CHECKER_SUB_BLOCKS: &[&str] = &["host"];

/// `true` if keepalived 2.2.7 knows `word` in some block: an `Unknown keyword` rkeepalived
/// reports for it is a gap of rkeepalived's parser, not an error keepalived's `-t` reports.
pub fn known_to_keepalived(word: &str) -> bool {
    [
        ROOT,
        GLOBAL_DEFS,
        VRRP_INSTANCE,
        AUTHENTICATION,
        VRRP_SCRIPT,
        VIRTUAL_SERVER,
        REAL_SERVER,
        CHECKERS,
        VRRP_SYNC_GROUP,
        VRRP_TRACK_PROCESS,
        TRACK_FILE,
        CHECKER_SUB_BLOCKS,
    ]
    .iter()
    .any(|list| list.contains(&word))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance() {
        assert_eq!(levenshtein("priorty", "priority"), 1);
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
    }

    #[test]
    fn suggestions_stay_in_context() {
        assert_eq!(suggest(Context::VrrpInstance, "priorty"), Some("priority"));
        assert_eq!(
            suggest(Context::VrrpInstance, "virtual_ipadress"),
            Some("virtual_ipaddress")
        );
        assert_eq!(suggest(Context::GlobalDefs, "router_di"), Some("router_id"));
        // `priority` is not a global_defs keyword, so no suggestion there.
        assert_eq!(suggest(Context::GlobalDefs, "priorty"), None);
        assert_eq!(suggest(Context::VrrpInstance, "completely_else"), None);
    }

    #[test]
    fn tables_have_no_duplicates() {
        for ctx in [
            Context::Root,
            Context::GlobalDefs,
            Context::VrrpInstance,
            Context::Authentication,
            Context::VrrpScript,
            Context::VirtualServer,
            Context::RealServer,
            Context::VrrpSyncGroup,
            Context::VrrpTrackProcess,
            Context::TrackFile,
        ] {
            let mut words = ctx.keywords().to_vec();
            words.sort_unstable();
            let before = words.len();
            words.dedup();
            assert_eq!(before, words.len(), "{ctx:?}");
        }
    }

    /// `suggest` skips words longer than any keyword by more than its distance limit; that
    /// holds only while no keyword is longer than 40 characters.
    #[test]
    fn no_keyword_is_longer_than_suggest_assumes() {
        for context in Context::ALL {
            for k in context.keywords() {
                assert!(k.chars().count() <= 40, "{k}");
            }
        }
        assert_eq!(suggest(Context::GlobalDefs, &"b".repeat(3_000_000)), None);
    }
}
