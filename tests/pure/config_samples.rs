//! keepalived's own sample configurations (doc/samples, read-only copies in
//! `../shared/keepalived-samples`) load without errors, with the instances the files declare.
//! The expected values below were read from the sample files.

use rkeepalived::config::model::{Authentication, InitialState, VrrpInstance};
use rkeepalived::config::{LoadOptions, Loaded, Severity, load};
use rkeepalived::units::{Centiseconds, Priority, Version};
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

fn samples_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/keepalived-samples"
    ))
}

/// Errors in the samples themselves that keepalived 2.2.7 reports too (`keepalived -t`), as
/// (sample, message fragment): a sample bug, not a loader bug.
const KEEPALIVED_ALSO_REPORTS: &[(&str, &str)] = &[
    // keepalived 2.2.7: "VRRP parsed invalid IP 192.168.X./24. skipping IP..." ("Invalid rule
    // to address") and the rule is skipped, in static_rules (line 11) and virtual_rules (26).
    (
        "keepalived.conf.vrrp.rules",
        "invalid address '192.168.200./24'",
    ),
    (
        "keepalived.conf.vrrp.rules",
        "invalid address '192.168.100./24'",
    ),
];

fn load_sample_as(name: &str, config_id: &str) -> Loaded {
    let path = samples_dir().join(name);
    let loaded = load(
        &path,
        &LoadOptions {
            config_id: config_id.to_string(),
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let errors: Vec<String> = loaded
        .diagnostics
        .0
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(ToString::to_string)
        .filter(|e| {
            !KEEPALIVED_ALSO_REPORTS
                .iter()
                .any(|(file, frag)| *file == name && e.contains(frag))
        })
        .collect();
    assert!(errors.is_empty(), "{name}: {errors:#?}");
    loaded
}

fn load_sample(name: &str) -> Loaded {
    load_sample_as(name, "")
}

fn instance<'a>(loaded: &'a Loaded, name: &str) -> &'a VrrpInstance {
    loaded
        .config
        .vrrp_instances
        .iter()
        .find(|i| i.name == name)
        .unwrap_or_else(|| panic!("no instance {name}"))
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// (name, VRID, priority) of every instance, in file order.
fn summary(loaded: &Loaded) -> Vec<(String, u8, u8)> {
    loaded
        .config
        .vrrp_instances
        .iter()
        .map(|i| (i.name.clone(), i.virtual_router_id.get(), i.priority.0))
        .collect()
}

fn owned(v: &[(&str, u8, u8)]) -> Vec<(String, u8, u8)> {
    v.iter()
        .map(|(n, id, p)| (n.to_string(), *id, *p))
        .collect()
}

#[test]
fn every_sample_loads_without_errors() {
    let mut names: Vec<String> = std::fs::read_dir(samples_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("keepalived.conf."))
        .collect();
    names.sort();
    assert_eq!(names.len(), 25);
    for name in names {
        // keepalived.conf.conditional_conf says: run with `-i high` or `-i low`.
        let ids: &[&str] = if name.ends_with("conditional_conf") {
            &["high", "low"]
        } else {
            &[""]
        };
        for id in ids {
            let loaded = load_sample_as(&name, id);
            for d in &loaded.diagnostics.0 {
                assert!(d.span.line >= 1 && d.span.col >= 1, "{d}");
                assert!(d.span.file.path().ends_with(&name), "{d}");
            }
        }
    }
}

#[test]
fn vrrp_sample_has_four_instances() {
    let l = load_sample("keepalived.conf.vrrp");
    assert_eq!(
        summary(&l),
        owned(&[
            ("VI_1", 51, 100),
            ("VI_2", 50, 50),
            ("VI_3", 52, 100),
            ("VI_4", 53, 50)
        ])
    );
    let vi1 = instance(&l, "VI_1");
    assert_eq!(vi1.state, InitialState::Master);
    assert_eq!(vi1.interface.as_deref(), Some("eth0"));
    assert_eq!(vi1.advert_int, Centiseconds::ONE_SECOND);
    assert_eq!(vi1.garp_master_delay, Some(Duration::from_secs(10)));
    assert_eq!(
        vi1.authentication,
        Some(Authentication::Pass(b"1111".to_vec()))
    );
    let vips: Vec<(IpAddr, u8, Option<&str>)> = vi1
        .virtual_ipaddress
        .iter()
        .map(|v| (v.addr, v.prefix_len, v.label.as_deref()))
        .collect();
    assert_eq!(
        vips,
        vec![
            (ip("192.168.200.16"), 32, None),
            (ip("192.168.200.17"), 32, None),
            (ip("192.168.200.18"), 32, None),
            (ip("192.168.200.18"), 32, Some("eth0:1")),
        ]
    );
    let vi4 = instance(&l, "VI_4");
    assert_eq!(vi4.state, InitialState::Backup);
    assert_eq!(vi4.interface.as_deref(), Some("eth1"));
    assert_eq!(vi4.authentication, None);
    assert_eq!(l.config.global.router_id.as_deref(), Some("LVS_DEVEL"));
    // smtp_alert (one per instance) is implemented: no warning.
    assert_eq!(l.diagnostics.0.len(), 0, "{:?}", l.diagnostics.0);
    assert!(
        l.config
            .vrrp_instances
            .iter()
            .all(|i| i.smtp_alert == Some(true))
    );
    assert_eq!(l.config_test_exit_code(), 0);
}

#[test]
fn sample_with_mail_and_virtual_server() {
    let l = load_sample("keepalived.conf.sample");
    let g = &l.config.global;
    assert_eq!(g.notification_email, vec!["acassen".to_string()]);
    assert_eq!(
        g.notification_email_from.as_deref(),
        Some("Alexandre.Cassen@firewall.loc")
    );
    assert_eq!(g.smtp_server, Some(("192.168.200.1".to_string(), None)));
    assert_eq!(g.smtp_connect_timeout, Duration::from_secs(30));
    assert_eq!(summary(&l), owned(&[("VI_1", 50, 100)]));
    let vi1 = instance(&l, "VI_1");
    assert!(vi1.nopreempt);
    assert_eq!(vi1.state, InitialState::Backup);
    assert_eq!(vi1.virtual_ipaddress.len(), 3);
    assert_eq!(l.config.virtual_servers_seen, 1);
}

#[test]
fn localcheck_sample_scripts_and_tracking() {
    let l = load_sample("keepalived.conf.vrrp.localcheck");
    let scripts: Vec<&str> = l.config.vrrp_scripts.keys().map(String::as_str).collect();
    assert_eq!(
        scripts,
        vec![
            "chk_haproxy",
            "chk_http_port",
            "chk_https_port",
            "chk_smtp_port",
            "chk_sshd"
        ]
    );
    let sshd = &l.config.vrrp_scripts["chk_sshd"];
    assert_eq!(sshd.script.argv, vec!["killall", "-0", "sshd"]);
    assert_eq!(sshd.interval, Duration::from_secs(2));
    assert_eq!(
        sshd.timeout,
        Duration::from_secs(2),
        "timeout defaults to the interval"
    );
    assert_eq!((sshd.weight, sshd.fall, sshd.rise), (-4, 2, 2));
    let http = &l.config.vrrp_scripts["chk_http_port"];
    assert_eq!(http.script.argv, vec!["</dev/tcp/127.0.0.1/80"]);
    assert_eq!(http.weight, -2);

    assert_eq!(l.config.vrrp_instances.len(), 9);
    let ids: Vec<u8> = l
        .config
        .vrrp_instances
        .iter()
        .map(|i| i.virtual_router_id.get())
        .collect();
    assert_eq!(ids, (51..=59).collect::<Vec<u8>>());
    let vi1 = instance(&l, "VI_1");
    let tracked: Vec<(&str, Option<i32>)> = vi1
        .track_script
        .iter()
        .map(|t| (t.name.as_str(), t.weight))
        .collect();
    assert_eq!(
        tracked,
        vec![
            ("chk_sshd", None),
            ("chk_haproxy", Some(2)),
            ("chk_http_port", None),
            ("chk_https_port", None),
            ("chk_smtp_port", None),
        ]
    );
    assert_eq!(vi1.virtual_ipaddress[0].addr, ip("192.168.200.18"));
    assert_eq!(vi1.virtual_ipaddress[0].prefix_len, 25);
    // Scripts without enable_script_security: keepalived's -t would exit 5.
    assert_eq!(l.config_test_exit_code(), 5);
}

#[test]
fn scripts_sample_notify_commands() {
    let l = load_sample("keepalived.conf.vrrp.scripts");
    assert_eq!(
        summary(&l),
        owned(&[("VI_1", 51, 100), ("VI_2", 52, 150), ("VI_3", 53, 150)])
    );
    let notify = &instance(&l, "VI_1").notify;
    let argv = |c: &Option<rkeepalived::config::model::Command>| c.as_ref().unwrap().argv.clone();
    assert_eq!(
        argv(&notify.master),
        vec!["/usr/local/bin/vrrp.sh", "MASTER", "VI_1"]
    );
    assert_eq!(
        argv(&notify.backup),
        vec!["/usr/local/bin/vrrp.sh", "BACKUP", "VI_1"]
    );
    assert_eq!(
        argv(&notify.fault),
        vec!["/usr/local/bin/vrrp.sh", "FAULT", "VI_1"]
    );
    assert!(notify.stop.is_none() && notify.any.is_none());
}

#[test]
fn sync_and_lvs_syncd_samples() {
    let l = load_sample("keepalived.conf.vrrp.sync");
    let ids: Vec<u8> = l
        .config
        .vrrp_instances
        .iter()
        .map(|i| i.virtual_router_id.get())
        .collect();
    assert_eq!(ids, (51..=59).collect::<Vec<u8>>());
    let l = load_sample("keepalived.conf.vrrp.lvs_syncd");
    assert_eq!(
        summary(&l),
        owned(&[("VI_1", 51, 150), ("VI_2", 52, 100), ("VI_3", 53, 100)])
    );
    assert_eq!(
        instance(&l, "VI_1").authentication,
        Some(Authentication::Pass(b"grr02".to_vec()))
    );
    assert_eq!(l.config.virtual_servers_seen, 1);
}

#[test]
fn conditional_sample_follows_the_config_id() {
    let high = load_sample_as("keepalived.conf.conditional_conf", "high");
    let low = load_sample_as("keepalived.conf.conditional_conf", "low");
    for (l, prio, script) in [
        (&high, 170, "/etc/keepalived/scripts/check_high_VI_0.sh"),
        (&low, 85, "/etc/keepalived/scripts/check_low_VI_0.sh"),
    ] {
        let vi0 = instance(l, "VI_0");
        assert_eq!(vi0.priority, Priority(prio));
        assert_eq!(vi0.version, Some(Version::V3));
        // advert_int 12 with VRRPv3: 1200 centiseconds.
        assert_eq!(vi0.advert_int, Centiseconds(1200));
        assert_eq!(vi0.track_script.len(), 1);
        let check = &l.config.vrrp_scripts["check_VI_0"];
        assert_eq!(check.script.argv, vec![script]);
        assert_eq!(check.timeout, Duration::from_secs(10));
        assert_eq!((check.rise, check.fall), (3, 3));
    }
}

#[test]
fn ah_sample_clears_master_state() {
    let l = load_sample("keepalived.conf.SSL_GET");
    let vi1 = instance(&l, "VI_1");
    assert_eq!(
        vi1.authentication,
        Some(Authentication::Ah(b"1111".to_vec()))
    );
    // keepalived: "Initial state master is incompatible with AH authentication - clearing".
    assert_eq!(vi1.state, InitialState::Backup);
    assert_eq!(l.config.virtual_servers_seen, 2);
}

#[test]
fn vip_dev_in_routes_samples() {
    for name in [
        "keepalived.conf.vrrp.routes",
        "keepalived.conf.vrrp.rules",
        "keepalived.conf.track_interface",
    ] {
        let l = load_sample(name);
        assert_eq!(l.config.vrrp_instances.len(), 1, "{name}");
        let devs: Vec<Option<&str>> = l.config.vrrp_instances[0]
            .virtual_ipaddress
            .iter()
            .map(|v| v.dev.as_deref())
            .collect();
        assert_eq!(devs, vec![None, Some("eth1"), Some("eth2")], "{name}");
    }
}

#[test]
fn lvs_only_samples_have_no_instances() {
    for (name, servers) in [
        ("keepalived.conf.HTTP_GET.port", 1),
        ("keepalived.conf.IPv6", 1),
        ("keepalived.conf.PING_CHECK", 1),
        ("keepalived.conf.SMTP_CHECK", 1),
        ("keepalived.conf.UDP_CHECK", 1),
        ("keepalived.conf.fwmark", 1),
        ("keepalived.conf.inhibit", 1),
        ("keepalived.conf.misc_check", 1),
        ("keepalived.conf.misc_check_arg", 1),
        ("keepalived.conf.quorum", 1),
        ("keepalived.conf.status_code", 1),
        ("keepalived.conf.virtual_server_group", 1),
        ("keepalived.conf.virtualhost", 1),
    ] {
        let l = load_sample(name);
        assert!(l.config.vrrp_instances.is_empty(), "{name}");
        assert_eq!(l.config.virtual_servers_seen, servers, "{name}");
        // The virtual servers are parsed; only warnings (skipped checkers, keywords not
        // implemented yet) remain.
        assert_eq!(l.config.ipvs.virtual_servers.len(), servers, "{name}");
        assert!(
            !l.diagnostics.has_errors(),
            "{name}: {:#?}",
            l.diagnostics.0
        );
        // Check scripts (MISC_CHECK, notify_up/down, quorum_up/down) without
        // enable_script_security: keepalived's SECURITY VIOLATION status, as for VRRP scripts.
        let want = if l.config.has_check_scripts() { 5 } else { 0 };
        assert_eq!(l.config_test_exit_code(), want, "{name}");
    }
}
