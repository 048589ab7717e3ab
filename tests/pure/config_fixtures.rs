//! The fixtures under tests/data/config (written for these tests) and `include` handling in
//! temporary directories.

use rkeepalived::config::model::{Authentication, InitialState, ScriptUser};
use rkeepalived::config::{LoadOptions, Loaded, load};
use rkeepalived::units::{Centiseconds, Priority, Version};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/config")
        .join(name)
}

fn load_default(path: &Path) -> Loaded {
    load(path, &LoadOptions::default()).unwrap_or_else(|e| panic!("{e}"))
}

fn messages(loaded: &Loaded) -> Vec<String> {
    loaded
        .diagnostics
        .0
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn features_fixture() {
    let l = load_default(&data("features.conf"));
    assert!(messages(&l).is_empty(), "{:#?}", messages(&l));
    assert_eq!(l.config_test_exit_code(), 0);

    let g = &l.config.global;
    assert_eq!(g.router_id.as_deref(), Some("lb one"));
    assert!(g.enable_script_security);
    assert_eq!(
        g.script_user,
        Some(ScriptUser {
            user: "nobody".into(),
            group: Some("nogroup".into())
        })
    );
    assert_eq!(g.vrrp_version, Version::V3);
    assert_eq!(g.vrrp_garp_master_delay, Duration::from_secs(2));
    assert_eq!(g.vrrp_garp_master_repeat, 3);
    assert_eq!(g.vrrp_garp_interval, Duration::from_millis(2));
    assert_eq!(g.vrrp_gna_interval, Duration::from_millis(3));
    assert_eq!(g.vrrp_mcast_group4.to_string(), "224.0.0.19");
    assert_eq!(
        g.notification_email,
        vec!["ops@example.net", "noc@example.net"]
    );
    assert_eq!(
        g.notification_email_from.as_deref(),
        Some("lb1@example.net")
    );
    assert_eq!(g.smtp_server, Some(("192.0.2.250".into(), Some(2525))));
    assert_eq!(g.smtp_helo_name.as_deref(), Some("lb1.example.net"));
    assert_eq!(g.smtp_connect_timeout, Duration::from_secs(10));

    let proxy = &l.config.vrrp_scripts["chk_proxy"];
    assert_eq!(proxy.script.argv, vec!["/usr/bin/pgrep", "-x", "ha proxy"]);
    assert_eq!(
        (proxy.interval, proxy.timeout),
        (Duration::from_secs(2), Duration::from_secs(2))
    );
    assert_eq!((proxy.weight, proxy.weight_reverse), (-20, true));
    assert_eq!((proxy.rise, proxy.fall), (3, 2));
    assert_eq!(proxy.user.as_ref().map(|u| u.user.as_str()), Some("nobody"));
    assert_eq!((proxy.span.line, proxy.span.col), (27, 13));
    let fast = &l.config.vrrp_scripts["chk_fast"];
    assert_eq!(fast.script.argv, vec!["/bin/true"]);
    assert_eq!(
        (fast.interval, fast.timeout, fast.weight),
        (Duration::from_secs(1), Duration::from_secs(1), 0)
    );

    let names: Vec<&str> = l
        .config
        .vrrp_instances
        .iter()
        .map(|i| i.name.as_str())
        .collect();
    assert_eq!(names, vec!["VI_EXT", "VI_V6"]);
    let ext = &l.config.vrrp_instances[0];
    assert_eq!(ext.state, InitialState::Backup);
    assert_eq!(ext.interface.as_deref(), Some("eth0"));
    assert_eq!(ext.virtual_router_id.get(), 42);
    assert_eq!(ext.priority, Priority(150));
    assert_eq!(ext.version, None, "version comes from global_defs");
    assert_eq!(ext.effective_version(g), Version::V3);
    assert_eq!(ext.advert_int, Centiseconds(50));
    assert!(ext.nopreempt);
    assert_eq!(ext.authentication, None::<Authentication>);
    let vip = &ext.virtual_ipaddress[0];
    assert_eq!((vip.addr, vip.prefix_len), (ip("192.0.2.100"), 24));
    assert_eq!(vip.brd, Some(ip("192.0.2.255")));
    assert_eq!(vip.dev.as_deref(), Some("eth0"));
    assert_eq!(vip.scope, Some(253));
    assert_eq!(vip.label.as_deref(), Some("eth0:vip"));
    assert_eq!((vip.span.line, vip.span.col), (47, 9));
    assert_eq!(ext.virtual_ipaddress[1].addr, ip("192.0.2.101"));
    assert_eq!(ext.unicast_src_ip, Some(ip("192.0.2.11")));
    let peers: Vec<IpAddr> = ext.unicast_peer.iter().map(|p| p.addr).collect();
    assert_eq!(peers, vec![ip("192.0.2.12"), ip("192.0.2.13")]);
    let tracks: Vec<(&str, Option<i32>, bool)> = ext
        .track_script
        .iter()
        .map(|t| (t.name.as_str(), t.weight, t.reverse))
        .collect();
    assert_eq!(
        tracks,
        vec![("chk_proxy", Some(10), false), ("chk_fast", None, false)]
    );
    let master = ext.notify.master.as_ref().unwrap();
    assert_eq!(master.argv, vec!["/etc/keepalived/master.sh", "VI EXT"]);
    assert_eq!(
        master.user,
        Some(ScriptUser {
            user: "root".into(),
            group: Some("wheel".into())
        })
    );
    assert_eq!(
        ext.notify.any.as_ref().unwrap().argv,
        vec!["/etc/keepalived/notify.sh"]
    );
    assert_eq!(ext.garp_master_delay, Some(Duration::from_secs(1)));
    assert_eq!(ext.garp_master_repeat, Some(2));

    let v6 = &l.config.vrrp_instances[1];
    assert_eq!(v6.virtual_router_id.get(), 43);
    assert_eq!(v6.version, Some(Version::V3));
    assert_eq!(v6.preempt_delay, Duration::from_millis(2500));
    assert_eq!(v6.virtual_ipaddress[0].addr, ip("2001:db8::100"));
    assert_eq!(v6.virtual_ipaddress[0].prefix_len, 64);
    assert_eq!((v6.span.line, v6.span.col), (62, 17));
}

#[test]
fn include_fixture_globs_relative_to_the_including_file() {
    let main = data("include_main.conf");
    let l = load_default(&main);
    let dir = data("");
    let shown = |path: &str| dir.join(path).display().to_string();
    assert_eq!(
        messages(&l),
        vec![
            format!(
                "{}:5:5: warning: Unknown keyword 'priorty' (did you mean 'priority'?)",
                shown("conf.d/10-vips.conf")
            ),
            format!(
                "{}:3:1: warning: Config files missing 'conf.d/{{10-vips,20-script}}.conf.none'.",
                shown("include_main.conf")
            ),
            format!(
                "{}:2:12: warning: SECURITY VIOLATION - scripts are being executed but script_security not enabled.",
                shown("conf.d/20-script.conf")
            ),
        ]
    );
    let inc = &l.config.vrrp_instances[0];
    assert_eq!(inc.name, "VI_INC");
    assert_eq!(inc.interface.as_deref(), Some("eth1"));
    assert_eq!(
        inc.span.file.path().as_path(),
        dir.join("conf.d/10-vips.conf")
    );
    assert!(l.config.vrrp_scripts.contains_key("chk_inc"));
}

#[test]
fn include_with_braces_and_nesting_in_temp_dirs() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let main = write(
        root,
        "etc/keepalived.conf",
        "global_defs {\n  include defs/{router,version}.conf\n}\ninclude instances/*.conf\n",
    );
    write(root, "etc/defs/router.conf", "router_id from_include\n");
    write(root, "etc/defs/version.conf", "vrrp_version 3\n");
    // An included file's own includes are relative to its directory.
    write(
        root,
        "etc/instances/a.conf",
        "vrrp_instance A {\n  include ../common/body.conf\n  virtual_router_id 1\n}\n",
    );
    write(
        root,
        "etc/common/body.conf",
        "interface eth0\nvirtual_ipaddress { 192.0.2.1 }\nadvert_int 0.123\n",
    );
    let l = load_default(&main);
    assert_eq!(l.config.global.router_id.as_deref(), Some("from_include"));
    assert_eq!(l.config.global.vrrp_version, Version::V3);
    let a = &l.config.vrrp_instances[0];
    assert_eq!(a.interface.as_deref(), Some("eth0"));
    assert_eq!(a.advert_int, Centiseconds(12));
    // The rounding warning points into the file that holds advert_int.
    assert_eq!(
        messages(&l),
        vec![format!(
            "{}:3:12: warning: (A) VRRPv3 advertisement interval 0.123000s must be in units of 10ms - rounding",
            root.join("etc/instances/../common/body.conf").display()
        )]
    );
}

#[test]
fn include_loops_hit_the_depth_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let main = write(tmp.path(), "loop.conf", "include loop.conf\n");
    let l = load_default(&main);
    let errors: Vec<String> = messages(&l)
        .into_iter()
        .filter(|m| m.contains("error:"))
        .collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].ends_with(
            "error: include depth limit (32) reached; 'loop.conf' not included (do included files include each other?)"
        ),
        "{}",
        errors[0]
    );
}

#[test]
fn strict_include_variants() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("empty")).unwrap();
    let main = write(
        tmp.path(),
        "main.conf",
        "include empty/*.conf\nincludew empty/*.conf\ninclude missing.conf\nincluder missing.conf\n",
    );
    let l = load_default(&main);
    let shown = main.display().to_string();
    assert_eq!(
        messages(&l),
        vec![
            format!("{shown}:2:1: error: No config files matched 'empty/*.conf'."),
            format!("{shown}:3:1: warning: Config files missing 'missing.conf'."),
            format!("{shown}:4:1: warning: Config files missing 'missing.conf'."),
        ]
    );
    // A directory or an executable file is skipped, as keepalived does.
    let exec = write(
        tmp.path(),
        "run.conf",
        "global_defs {\n router_id exec\n}\n",
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&exec, std::fs::Permissions::from_mode(0o755)).unwrap();
    let main = write(tmp.path(), "main2.conf", "include run.conf\n");
    let l = load_default(&main);
    assert_eq!(l.config.global.router_id, None);
    assert_eq!(l.diagnostics.0.len(), 1);
    assert!(messages(&l)[0].contains("is not a regular non-executable file - skipping"));
}

#[test]
fn unreadable_main_file_is_an_error() {
    let err = load(
        Path::new("/nonexistent/keepalived.conf"),
        &LoadOptions::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("/nonexistent/keepalived.conf: cannot read configuration file")
    );
}

#[test]
fn nftables_keywords_set_the_firewall_table() {
    let tmp = tempfile::tempdir().unwrap();
    let defaults = write(tmp.path(), "a.conf", "global_defs {\n  router_id x\n}\n");
    let l = load_default(&defaults);
    assert_eq!(l.config.global.nftables.table, "keepalived");
    assert_eq!(l.config.global.nftables.priority, -1);
    assert!(!l.config.global.nftables.counters);
    let set = write(
        tmp.path(),
        "b.conf",
        "global_defs {\n  nftables lb_fw\n  nftables_priority -150\n  nftables_counters\n}\n",
    );
    let l = load_default(&set);
    assert!(messages(&l).is_empty(), "{:?}", messages(&l));
    assert_eq!(l.config.global.nftables.table, "lb_fw");
    assert_eq!(l.config.global.nftables.priority, -150);
    assert!(l.config.global.nftables.counters);
}

#[test]
fn lvs_sync_daemon_options_and_unknown_instance() {
    let tmp = tempfile::tempdir().unwrap();
    let inst = "vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 5\n  virtual_ipaddress {\n    10.0.0.1\n  }\n}\n";
    let good = write(
        tmp.path(),
        "a.conf",
        &format!(
            "global_defs {{\n  lvs_sync_daemon eth1 VI_1 id 9 maxlen 1200 port 9000 ttl 3 group ff02::99\n}}\n{inst}"
        ),
    );
    let l = load_default(&good);
    assert!(messages(&l).is_empty(), "{:?}", messages(&l));
    let s = l.config.global.lvs_sync_daemon.as_ref().unwrap();
    assert_eq!(
        (s.interface.as_str(), s.instance.as_str()),
        ("eth1", "VI_1")
    );
    assert_eq!(
        (s.sync_id, s.maxlen, s.port, s.ttl, s.group),
        (9, Some(1200), Some(9000), Some(3), Some(ip("ff02::99")))
    );
    let bad = write(
        tmp.path(),
        "b.conf",
        &format!("global_defs {{\n  lvs_sync_daemon eth1 VI_9 id 300\n}}\n{inst}"),
    );
    let l = load_default(&bad);
    let p = bad.display();
    assert_eq!(
        messages(&l),
        vec![
            format!(
                "{p}:2:32: error: invalid lvs_sync_daemon '300': number outside range [0, 255] - ignored"
            ),
            format!(
                "{p}:2:3: error: lvs_sync_daemon vrrp instance VI_9 not found - sync daemon not started"
            ),
        ]
    );
    assert!(l.config.global.lvs_sync_daemon.is_none());
}

#[test]
fn http_url_regex_keywords() {
    let tmp = tempfile::tempdir().unwrap();
    let vs = |url: &str| {
        format!(
            "virtual_server 10.0.0.1 80 {{\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n  real_server 10.0.1.1 80 {{\n    HTTP_GET {{\n      url {{\n{url}      }}\n    }}\n  }}\n}}\n"
        )
    };
    let good = write(
        tmp.path(),
        "a.conf",
        &vs(
            "        path /\n        regex \"up|ok\"\n        regex_no_match\n        regex_options caseless dotall never_backslash_c\n        regex_min_offset 4\n        regex_max_offset 100\n        regex_stack 32768 65536\n",
        ),
    );
    let l = load_default(&good);
    let p = good.display();
    assert_eq!(
        messages(&l),
        vec![format!(
            "{p}:11:39: warning: (VS 10.0.0.1 80) HTTP_GET: regex option 'never_backslash_c' is not supported by rkeepalived; ignored"
        )]
    );
    let rx = format!("{:?}", l.config.ipvs.virtual_servers[0]);
    assert!(
        rx.contains("UrlRegex { pattern: \"(?is)up|ok\", no_match: true, min_offset: 4, max_offset: Some(100) }"),
        "{rx}"
    );
    let bad = write(
        tmp.path(),
        "b.conf",
        &vs("        path /\n        regex \"(unclosed\"\n"),
    );
    let l = load_default(&bad);
    let m = messages(&l);
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(
        m[0],
        format!(
            "{}:9:15: error: (VS 10.0.0.1 80) HTTP_GET: Invalid regex: '(unclosed': unclosed group - url ignored",
            bad.display()
        )
    );
}
