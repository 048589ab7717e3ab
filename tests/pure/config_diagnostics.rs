//! Golden tests for the config language and its diagnostics: every message is compared whole,
//! with its `file:line:col`.

use rkeepalived::config::model::{Authentication, InitialState};
use rkeepalived::config::{LoadOptions, Loaded, load_str};
use rkeepalived::units::{Centiseconds, Priority, Version};
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

fn parse_as(text: &str, config_id: &str) -> Loaded {
    load_str(
        Path::new("test.conf"),
        text,
        &LoadOptions {
            config_id: config_id.to_string(),
            ..Default::default()
        },
    )
}

fn parse(text: &str) -> Loaded {
    parse_as(text, "")
}

fn messages(loaded: &Loaded) -> Vec<String> {
    loaded
        .diagnostics
        .0
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// A minimal valid instance around `body` (lines 1-3 are fixed, `body` starts on line 4).
fn instance(body: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{\n    interface eth0\n    virtual_router_id 51\n{body}    virtual_ipaddress {{ 192.0.2.1 }}\n}}\n"
    )
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn misspelt_keyword_gets_a_suggestion() {
    let l = parse(&instance("    priorty 100\n"));
    assert_eq!(
        messages(&l),
        vec!["test.conf:4:5: warning: Unknown keyword 'priorty' (did you mean 'priority'?)"]
    );
    assert_eq!(l.config.vrrp_instances[0].priority, Priority::DEFAULT);
    // keepalived's -t fails on an unknown keyword; so does rkeepalived's.
    assert_eq!(l.config_test_exit_code(), 4);
}

#[test]
fn unknown_keyword_without_suggestion_skips_its_block() {
    let l = parse(&instance(
        "    frobnicate {\n        priority 1\n    }\n    priority 20\n",
    ));
    assert_eq!(
        messages(&l),
        vec!["test.conf:4:5: warning: Unknown keyword 'frobnicate'"]
    );
    // The block was skipped; the instance's own priority line after it still counts.
    assert_eq!(l.config.vrrp_instances[0].priority, Priority(20));
}

#[test]
fn bad_value_is_an_error_with_position_and_keeps_the_default() {
    let l = parse(&instance("    priority   300\n"));
    assert_eq!(
        messages(&l),
        vec![
            "test.conf:4:16: error: (VI_1) invalid priority '300': number outside range [1, 255] - using default 100"
        ]
    );
    assert_eq!(l.config.vrrp_instances[0].priority, Priority::DEFAULT);
    assert_eq!(l.config_test_exit_code(), 4);

    let l = parse(&instance("    advert_int abc\n"));
    assert_eq!(
        messages(&l),
        vec![
            "test.conf:4:16: error: (VI_1) invalid advert_int 'abc': invalid number - using default 1s"
        ]
    );
    assert_eq!(
        l.config.vrrp_instances[0].advert_int,
        Centiseconds::ONE_SECOND
    );
}

#[test]
fn unimplemented_keywords_warn_once_per_block() {
    let text = "virtual_server 10.0.0.1 80 {\n  protocol TCP\n  real_server 10.0.0.2 80 {\n    BFD_CHECK { name f }\n  }\n}\n"
        .to_string()
        + &instance("    use_vmac_addr\n    track_bfd {\n        bfd1\n    }\n");
    let l = parse(&text);
    assert_eq!(
        messages(&l),
        vec![
            "test.conf:4:5: warning: (VS 10.0.0.1 80) BFD_CHECK: not implemented yet; this checker is not run",
            "test.conf:10:5: warning: 'use_vmac_addr' is a keepalived keyword that rkeepalived does not implement yet; ignored",
            "test.conf:11:5: warning: 'track_bfd' is a keepalived keyword that rkeepalived does not implement yet; ignored",
        ]
    );
    assert_eq!(l.config.virtual_servers_seen, 1);
    assert_eq!(l.config.vrrp_instances.len(), 1);
}

#[test]
fn file_check_names_a_track_file_defined_above_with_keepalived_s_messages() {
    let text = "track_file tf1 {\n  file /tmp/tf1\n  weight 3 reverse\n}\n\
virtual_server 10.0.0.1 80 {\n  real_server 10.0.0.2 80 {\n\
    FILE_CHECK {\n      track_file tf1\n    }\n\
    FILE_CHECK {\n      track_file tf1\n      weight 0\n    }\n\
    FILE_CHECK {\n      track_file nosuch\n    }\n\
    FILE_CHECK {\n      track_file tf1\n      weight 3000000000\n      weight 2 sideways\n      connect_timeout 3\n    }\n\
  }\n}\n";
    let l = parse(text);
    assert_eq!(
        messages(&l),
        vec![
            "test.conf:15:18: error: (VS 10.0.0.1 80) FILE_CHECK: track_file nosuch not found",
            "test.conf:14:1: error: (VS 10.0.0.1 80) FILE_CHECK: FILE_CHECK has no track_file specified - ignoring",
            "test.conf:19:14: error: (VS 10.0.0.1 80) FILE_CHECK: weight for track file must be in [-2147483647..2147483647] inclusive. Ignoring...",
            "test.conf:20:16: error: (VS 10.0.0.1 80) FILE_CHECK: unknown track file weight option sideways - ignoring",
            "test.conf:21:7: warning: (VS 10.0.0.1 80) FILE_CHECK: Unknown keyword 'connect_timeout'",
            // keepalived 2.2.7: a service by address without `protocol` is UDP.
            "test.conf:5:1: warning: (VS 10.0.0.1 80) no protocol set - defaulting to UDP",
        ]
    );
    use rkeepalived::config::model::CheckerKind;
    let kinds: Vec<(i32, bool)> = l.config.ipvs.virtual_servers[0].real_servers[0]
        .health
        .checkers
        .iter()
        .map(|c| match &c.kind {
            CheckerKind::File(f) => {
                assert_eq!(
                    (f.track_file.as_str(), f.path.to_str()),
                    ("tf1", Some("/tmp/tf1"))
                );
                (f.weight, f.reverse)
            }
            other => panic!("{other:?}"),
        })
        .collect();
    // The block's weight when the FILE_CHECK has none; its own otherwise; invalid ones ignored.
    assert_eq!(kinds, [(3, true), (0, false), (3, true)]);
}

#[test]
fn one_line_blocks_brace_on_next_line_and_close_then_keyword() {
    let text = "vrrp_script chk { script /bin/true }\nvrrp_instance A\n{\n  interface eth0 } vrrp_instance B {\n  interface eth1\n  virtual_router_id 2\n  track_script { chk weight 5 }\n  virtual_ipaddress { 192.0.2.2/24 }\n}\n";
    let l = parse(text);
    // A has no virtual_router_id and is dropped; B follows the `}` on the same line.
    assert_eq!(
        messages(&l),
        vec![
            "test.conf:2:15: error: (A) the virtual router id must be set - instance ignored",
            "test.conf:1:26: warning: SECURITY VIOLATION - scripts are being executed but script_security not enabled.",
        ]
    );
    let b = &l.config.vrrp_instances[0];
    assert_eq!(l.config.vrrp_instances.len(), 1);
    assert_eq!(b.name, "B");
    assert_eq!(b.interface.as_deref(), Some("eth1"));
    assert_eq!(b.track_script[0].weight, Some(5));
    assert_eq!(b.virtual_ipaddress[0].prefix_len, 24);
    assert_eq!(l.config.vrrp_scripts["chk"].script.argv, vec!["/bin/true"]);
}

#[test]
fn comments_mid_line_and_quotes() {
    let text = "global_defs { # comment after a brace\n  router_id \"my # router\" ! comment\n  notification_email_from a\\#b@example.net\n}\n";
    let l = parse(text);
    assert!(messages(&l).is_empty(), "{:?}", messages(&l));
    assert_eq!(l.config.global.router_id.as_deref(), Some("my # router"));
    assert_eq!(
        l.config.global.notification_email_from.as_deref(),
        Some("a#b@example.net")
    );
    // Single quotes are ordinary characters for keepalived (except in script commands).
    let l = parse("global_defs {\n  router_id 'a'\n}\n");
    assert_eq!(l.config.global.router_id.as_deref(), Some("'a'"));
    // An unterminated double quote is an error at the quote.
    let l = parse("global_defs {\n  router_id \"abc\n}\n");
    assert_eq!(
        messages(&l),
        vec![
            "test.conf:2:13: error: Unmatched quote: 'router_id \"abc'",
            "test.conf:2:3: error: 'router_id' is missing a parameter",
        ]
    );
}

#[test]
fn notify_commands_split_like_keepalived() {
    let l = parse(&instance(
        "    notify_master \"/bin/notify.sh 'two words' \\\"q\\\"\" root wheel\n    notify /bin/all.sh\n",
    ));
    assert_eq!(messages(&l).len(), 1, "{:?}", messages(&l)); // SECURITY VIOLATION
    let notify = &l.config.vrrp_instances[0].notify;
    let master = notify.master.as_ref().unwrap();
    assert_eq!(master.argv, vec!["/bin/notify.sh", "two words", "q"]);
    let user = master.user.as_ref().unwrap();
    assert_eq!(
        (user.user.as_str(), user.group.as_deref()),
        ("root", Some("wheel"))
    );
    assert_eq!((master.span.line, master.span.col), (4, 19));
    assert_eq!(notify.any.as_ref().unwrap().argv, vec!["/bin/all.sh"]);
    assert!(notify.any.as_ref().unwrap().user.is_none());
}

#[test]
fn conditional_lines_follow_config_id() {
    let text = instance("@node1 priority 200\n@node2 priority 100\n@^node1 nopreempt\n");
    let one = parse_as(&text, "node1");
    assert_eq!(one.config.vrrp_instances[0].priority, Priority(200));
    assert!(!one.config.vrrp_instances[0].nopreempt);
    let two = parse_as(&text, "node2");
    assert_eq!(two.config.vrrp_instances[0].priority, Priority(100));
    assert!(two.config.vrrp_instances[0].nopreempt);
    // Spans of a conditional line point past the `@ID`.
    let l = parse_as(&instance("@node1 priorty 1\n"), "node1");
    assert_eq!(
        messages(&l),
        vec!["test.conf:4:8: warning: Unknown keyword 'priorty' (did you mean 'priority'?)"]
    );
}

#[test]
fn definitions_expand_and_undefined_stay_literal() {
    let text = "$IF=eth7\n$NET=198.51.100\nvrrp_instance VI_1 {\n  interface $IF\n  virtual_router_id 9\n  virtual_ipaddress {\n    ${NET}.1/24 dev ${IF}\n    $NET.2\n  }\n  $UNDEFINED 1\n}\n";
    let l = parse(text);
    let vi = &l.config.vrrp_instances[0];
    assert_eq!(vi.interface.as_deref(), Some("eth7"));
    assert_eq!(vi.virtual_ipaddress[0].addr, ip("198.51.100.1"));
    assert_eq!(vi.virtual_ipaddress[0].dev.as_deref(), Some("eth7"));
    // `$NET.2` is not a reference (keepalived needs a blank, ',', ')' or the end after the
    // name), so it stays literal and is not an address.
    assert_eq!(
        messages(&l),
        vec![
            "test.conf:8:5: error: (VI_1) invalid virtual_ipaddress '$NET.2': not an IP address - skipped",
            "test.conf:10:3: warning: Unknown keyword '$UNDEFINED'",
        ]
    );
}

#[test]
fn seq_replicates_lines() {
    let text = instance("    virtual_ipaddress {\n~SEQ(n, 1, 3) 203.0.113.$n\n    }\n");
    let l = parse(&text);
    let addrs: Vec<IpAddr> = l.config.vrrp_instances[0]
        .virtual_ipaddress
        .iter()
        .map(|v| v.addr)
        .collect();
    assert_eq!(
        addrs,
        vec![
            ip("203.0.113.1"),
            ip("203.0.113.2"),
            ip("203.0.113.3"),
            ip("192.0.2.1")
        ]
    );
}

#[test]
fn advert_int_is_rounded_for_the_version() {
    let cases = [
        // (lines, expected centiseconds, expected warning)
        (
            "    advert_int 0.5\n",
            100,
            Some(
                "test.conf:4:16: warning: (VI_1) VRRPv2 advertisement interval 0.500000s must be an integer. rounding",
            ),
        ),
        (
            "    advert_int 1.5\n",
            200,
            Some(
                "test.conf:4:16: warning: (VI_1) VRRPv2 advertisement interval 1.500000s must be an integer. rounding",
            ),
        ),
        ("    advert_int 3\n", 300, None),
        (
            "    version 3\n    advert_int 0.123\n",
            12,
            Some(
                "test.conf:5:16: warning: (VI_1) VRRPv3 advertisement interval 0.123000s must be in units of 10ms - rounding",
            ),
        ),
        ("    version 3\n    advert_int 0.05\n", 5, None),
        (
            "    version 3\n    advert_int 41\n",
            4095,
            Some(
                "test.conf:5:16: warning: (VI_1) VRRPv3 advertisement interval 41.00s is out of range. Must be less than 40.96s. Setting to 40.95s",
            ),
        ),
    ];
    for (body, cs, warning) in cases {
        let l = parse(&instance(body));
        assert_eq!(
            l.config.vrrp_instances[0].advert_int,
            Centiseconds(cs),
            "{body}"
        );
        assert_eq!(
            messages(&l),
            warning.into_iter().collect::<Vec<_>>(),
            "{body}"
        );
    }
    let l = parse(&instance("    advert_int 0.001\n"));
    assert_eq!(
        messages(&l),
        vec![
            "test.conf:4:16: error: (VI_1) invalid advert_int '0.001': number outside range [0.010000, 255.000000] - using default 1s"
        ]
    );
    // An IPv6 address makes the instance VRRPv3, which changes the rounding.
    let l = parse(
        "vrrp_instance V6 {\n interface eth0\n virtual_router_id 3\n advert_int 0.25\n virtual_ipaddress { fe80::1 }\n}\n",
    );
    let v6 = &l.config.vrrp_instances[0];
    assert_eq!(
        (v6.version, v6.advert_int),
        (Some(Version::V3), Centiseconds(25))
    );
    assert!(messages(&l).is_empty(), "{:?}", messages(&l));
}

#[test]
fn keepalived_instance_completion_rules() {
    // state MASTER without a priority is the address owner; nopreempt is then reset.
    let l = parse(&instance("    state MASTER\n    nopreempt\n"));
    let vi = &l.config.vrrp_instances[0];
    assert_eq!((vi.priority, vi.nopreempt), (Priority::OWNER, false));
    assert_eq!(
        messages(&l),
        vec![
            "test.conf:5:5: warning: (VI_1) nopreempt is incompatible with priority 255. resetting nopreempt"
        ]
    );
    let l = parse(&instance(
        "    state MASTER\n    priority 100\n    nopreempt\n",
    ));
    assert!(!l.config.vrrp_instances[0].nopreempt);
    assert_eq!(
        messages(&l),
        vec![
            "test.conf:6:5: warning: (VI_1) Warning - nopreempt will not work with initial state MASTER - clearing"
        ]
    );
    // nopreempt resets preempt_delay.
    let l = parse(&instance("    nopreempt\n    preempt_delay 5\n"));
    assert_eq!(l.config.vrrp_instances[0].preempt_delay, Duration::ZERO);
    assert_eq!(
        messages(&l),
        vec![
            "test.conf:4:5: warning: (VI_1) preempt_delay is incompatible with nopreempt mode - resetting"
        ]
    );
    // No VIP: a warning only.
    let l = parse("vrrp_instance E {\n  interface eth0\n  virtual_router_id 5\n}\n");
    assert_eq!(
        messages(&l),
        vec!["test.conf:1:15: warning: (E) No VIP specified; at least one is sensible"]
    );
    // No interface and no unicast peers: an error, the instance cannot run.
    let l =
        parse("vrrp_instance N {\n  virtual_router_id 5\n  virtual_ipaddress { 192.0.2.5 }\n}\n");
    assert_eq!(
        messages(&l),
        vec![
            "test.conf:1:15: error: (N) no interface set (an interface is needed unless unicast_peer is used) - instance ignored"
        ]
    );
    assert!(l.config.vrrp_instances.is_empty());
    // With unicast peers the interface may be left out.
    let l = parse(
        "vrrp_instance U {\n  virtual_router_id 5\n  unicast_src_ip 192.0.2.10\n  unicast_peer {\n    192.0.2.11 min_ttl 2\n  }\n  virtual_ipaddress { 192.0.2.5 }\n}\n",
    );
    assert_eq!(messages(&l), Vec::<String>::new());
    let peer = &l.config.vrrp_instances[0].unicast_peer[0];
    assert_eq!(
        (peer.addr, peer.min_ttl, peer.max_ttl),
        (ip("192.0.2.11"), 2, 255)
    );
}

#[test]
fn duplicate_vrid_on_one_interface_is_an_error() {
    let text = "vrrp_instance A {\n interface eth0\n virtual_router_id 7\n virtual_ipaddress { 192.0.2.1 }\n}\nvrrp_instance B {\n interface eth0\n virtual_router_id 7\n virtual_ipaddress { 192.0.2.2 }\n}\nvrrp_instance C {\n interface eth1\n virtual_router_id 7\n virtual_ipaddress { 192.0.2.3 }\n}\n";
    let l = parse(text);
    assert_eq!(
        messages(&l),
        vec![
            "test.conf:6:15: error: A and B both use VRID 7 with IPv4 on interface eth0 - B ignored"
        ]
    );
    let names: Vec<&str> = l
        .config
        .vrrp_instances
        .iter()
        .map(|i| i.name.as_str())
        .collect();
    assert_eq!(names, vec!["A", "C"]);
}

#[test]
fn track_script_must_name_an_earlier_vrrp_script() {
    let text = instance("    track_script {\n        later\n    }\n")
        + "vrrp_script later {\n    script /bin/true\n}\n";
    let l = parse(&text);
    assert_eq!(
        messages(&l),
        vec![
            "test.conf:5:9: warning: (VI_1) track script later not found, ignoring... (a vrrp_script must be defined before the vrrp_instance tracking it)",
            "test.conf:10:12: warning: SECURITY VIOLATION - scripts are being executed but script_security not enabled.",
        ]
    );
    assert!(l.config.vrrp_instances[0].track_script.is_empty());
}

#[test]
fn authentication_rules() {
    let l = parse(&instance(
        "    authentication {\n        auth_type PASS\n        auth_pass 123456789\n    }\n",
    ));
    assert_eq!(
        l.config.vrrp_instances[0].authentication,
        Some(Authentication::Pass(b"12345678".to_vec()))
    );
    assert_eq!(
        messages(&l),
        vec!["test.conf:6:19: warning: (VI_1) Truncating auth_pass to 8 characters"]
    );
    let l = parse(&instance(
        "    state MASTER\n    priority 50\n    authentication {\n        auth_type AH\n        auth_pass secret\n    }\n",
    ));
    let vi = &l.config.vrrp_instances[0];
    assert_eq!(
        vi.authentication,
        Some(Authentication::Ah(b"secret".to_vec()))
    );
    assert_eq!(vi.state, InitialState::Backup);
    assert_eq!(
        messages(&l),
        vec![
            "test.conf:7:19: warning: (VI_1) AH authentication is not supported by rkeepalived (no interoperable implementation yet); this instance will not be started",
            "test.conf:7:19: warning: (VI_1) Initial state master is incompatible with AH authentication - clearing",
        ]
    );
    let l = parse(&instance(
        "    version 3\n    authentication {\n        auth_type PASS\n        auth_pass x\n    }\n",
    ));
    assert_eq!(l.config.vrrp_instances[0].authentication, None);
}

#[test]
fn virtual_address_options() {
    let l = parse(&instance(
        "    virtual_ipaddress {\n        192.0.2.10/24 brd + dev eth1 scope link label eth1:a\n        192.0.2.11/33 scope 200 brd 192.0.2.255\n        2001:db8::1 peer 2001:db8::2\n    }\n",
    ));
    let vips = &l.config.vrrp_instances[0].virtual_ipaddress;
    assert_eq!(vips[0].brd, Some(ip("192.0.2.255")));
    assert_eq!(vips[0].dev.as_deref(), Some("eth1"));
    assert_eq!(vips[0].scope, Some(253));
    assert_eq!(vips[0].label.as_deref(), Some("eth1:a"));
    assert_eq!((vips[1].prefix_len, vips[1].scope), (32, Some(200)));
    assert_eq!(vips[1].brd, Some(ip("192.0.2.255")));
    assert_eq!(
        vips.len(),
        3,
        "the IPv6 address does not match the IPv4 instance"
    );
    assert_eq!(
        messages(&l),
        vec![
            "test.conf:6:9: error: (VI_1) invalid prefix length '33' in virtual_ipaddress '192.0.2.11/33': number outside range [0, 32] - using 32",
            "test.conf:7:9: error: (VI_1) virtual_ipaddress '2001:db8::1' is IPv6 but the instance is IPv4 - ignoring",
        ]
    );
}

#[test]
fn global_defs_values() {
    let text = "global_defs {\n  vrrp_version 3\n  vrrp_garp_master_delay 2.5\n  vrrp_garp_master_repeat 0\n  vrrp_garp_interval 0.25\n  vrrp_mcast_group4 224.0.0.20\n  enable_script_security off\n  script_user keepalived_script\n  smtp_server mail.example.net 587\n}\n";
    let l = parse(text);
    let g = &l.config.global;
    assert_eq!(g.vrrp_version, Version::V3);
    assert_eq!(
        g.vrrp_garp_master_delay,
        Duration::from_secs(5),
        "2.5 is invalid: whole seconds"
    );
    assert_eq!(g.vrrp_garp_master_repeat, 1);
    assert_eq!(g.vrrp_garp_interval, Duration::from_millis(250));
    assert_eq!(
        g.vrrp_mcast_group4,
        "224.0.0.20".parse::<std::net::Ipv4Addr>().unwrap()
    );
    assert!(!g.enable_script_security);
    assert_eq!(g.script_user.as_ref().unwrap().user, "keepalived_script");
    assert_eq!(
        g.smtp_server,
        Some(("mail.example.net".to_string(), Some(587)))
    );
    assert_eq!(
        messages(&l),
        vec![
            "test.conf:3:26: error: invalid vrrp_garp_master_delay '2.5': invalid number - ignored",
            "test.conf:4:27: warning: vrrp_garp_master_repeat must be greater than 0, setting to 1",
        ]
    );
}

#[test]
fn config_test_exit_codes() {
    let clean = parse(&instance(""));
    assert_eq!(clean.config_test_exit_code(), 0);
    let errors = parse(&instance("    priority 0\n"));
    assert_eq!(errors.config_test_exit_code(), 4);
    let script = "vrrp_script s {\n  script /bin/true\n}\n";
    let unsecured = parse(&(script.to_string() + &instance("")));
    assert_eq!(unsecured.config_test_exit_code(), 5);
    let security: Vec<String> = messages(&unsecured);
    assert_eq!(
        security,
        vec![
            "test.conf:2:10: warning: SECURITY VIOLATION - scripts are being executed but script_security not enabled."
        ]
    );
    let secured = parse(
        &("global_defs {\n  enable_script_security\n}\n".to_string() + script + &instance("")),
    );
    assert_eq!(secured.config_test_exit_code(), 0);
    assert!(messages(&secured).is_empty());
    // Errors win over the security warning.
    let both = parse(&(script.to_string() + &instance("    priority 0\n")));
    assert_eq!(both.config_test_exit_code(), 4);
}

#[test]
fn structural_errors() {
    let l = parse("}\nglobal_defs {\n  router_id x\n");
    assert_eq!(
        messages(&l),
        vec![
            "test.conf:1:1: error: Extra '}' found",
            "test.conf:2:1: error: missing '}': end of configuration inside block 'global_defs'",
        ]
    );
    assert_eq!(l.config.global.router_id.as_deref(), Some("x"));
    let l = parse(
        "vrrp_instance X\n  interface eth0\n  virtual_router_id 4\n  virtual_ipaddress { 192.0.2.4 }\n}\n",
    );
    assert_eq!(
        messages(&l),
        vec![
            "test.conf:1:1: error: Missing '{' at beginning of configuration block 'vrrp_instance'"
        ]
    );
    assert_eq!(l.config.vrrp_instances.len(), 1);
}

/// The same corner cases through `keepalived -t` (2.2.7) report lines 10, 13, 15 and 16:
/// "VRRP parsed invalid IP $NET.7", "Unknown keyword 'priorty'", "Unknown keyword '$UNDEF'",
/// "Unknown keyword ''quoted''".
#[test]
fn lexer_corner_cases_match_keepalived() {
    let text = "$NET=198.51.100\n$M=10.9.9.1 \\\n   10.9.9.2\n\nvrrp_instance A {\n  interface eth0\n  virtual_router_id 9\n  virtual_ipaddress {\n~SEQ(n, 1, 2) ${NET}.$n\n    $NET.7\n    $M\n  }\n@^zzz  priorty 5\n@zzz  bogus1\n  $UNDEF 1\n  'quoted' 2\n}\n";
    let l = parse(text);
    let lines: Vec<u32> = l.diagnostics.0.iter().map(|d| d.span.line).collect();
    assert_eq!(lines, vec![10, 13, 15, 16], "{:#?}", messages(&l));
    assert!(messages(&l)[3].ends_with("Unknown keyword ''quoted''"));
    let addrs: Vec<IpAddr> = l.config.vrrp_instances[0]
        .virtual_ipaddress
        .iter()
        .map(|v| v.addr)
        .collect();
    assert_eq!(
        addrs,
        vec![
            ip("198.51.100.1"),
            ip("198.51.100.2"),
            ip("10.9.9.1"),
            ip("10.9.9.2")
        ]
    );
}

#[test]
fn unicast_and_garp_policy_keywords() {
    let l = parse(
        "global_defs {\n  vrrp_check_unicast_src\n  vrrp_mcast_group6 ff02::112\n  vrrp_garp_lower_prio_repeat 2\n  vrrp_higher_prio_send_advert true\n}\n\
         vrrp_instance U {\n  interface eth0\n  virtual_router_id 5\n  mcast_src_ip fd00::1\n  unicast_ttl 64\n  check_unicast_src\n\
         \x20 unicast_peer {\n    fd00::2 min_ttl 60 max_ttl 70\n    fd00::3 max_ttl 300\n    fd00::4 min_ttl\n  }\n\
         \x20 garp_master_refresh 30\n  garp_master_refresh_repeat 2\n  garp_lower_prio_delay 3\n  garp_lower_prio_repeat 0\n  lower_prio_no_advert\n\
         \x20 higher_prio_send_advert off\n  virtual_ipaddress { fd00::100/64 }\n}\n",
    );
    assert_eq!(
        messages(&l),
        vec![
            "test.conf:15:21: error: (U) invalid max_ttl '300' for unicast_peer fd00::3: number outside range [0, 255] - ignored",
            "test.conf:16:13: error: (U) unicast_peer fd00::4 is missing a value for min_ttl - ignored",
        ]
    );
    let g = &l.config.global;
    assert!(g.vrrp_check_unicast_src && g.vrrp_higher_prio_send_advert);
    assert_eq!(
        g.vrrp_mcast_group6,
        "ff02::112".parse::<std::net::Ipv6Addr>().unwrap()
    );
    assert_eq!(g.vrrp_garp_lower_prio_repeat, Some(2));
    let i = &l.config.vrrp_instances[0];
    assert_eq!(i.unicast_src_ip, Some(ip("fd00::1")));
    assert_eq!(i.unicast_ttl, 64);
    assert!(i.check_unicast_src);
    let peers: Vec<(IpAddr, u8, u8)> = i
        .unicast_peer
        .iter()
        .map(|p| (p.addr, p.min_ttl, p.max_ttl))
        .collect();
    assert_eq!(
        peers,
        vec![
            (ip("fd00::2"), 60, 70),
            (ip("fd00::3"), 0, 255),
            (ip("fd00::4"), 0, 255)
        ]
    );
    assert_eq!(i.garp_master_refresh, Some(Duration::from_secs(30)));
    assert_eq!(i.garp_master_refresh_repeat, Some(2));
    assert_eq!(i.garp_lower_prio_delay, Some(Duration::from_secs(3)));
    assert_eq!(i.garp_lower_prio_repeat, Some(0));
    assert_eq!(i.lower_prio_no_advert, Some(true));
    assert_eq!(i.higher_prio_send_advert, Some(false));
    assert_eq!(i.version, Some(Version::V3));
}

#[test]
fn vrrp_min_garp_keeps_explicit_settings() {
    let l = parse("global_defs {\n  vrrp_garp_master_delay 2\n  vrrp_min_garp\n}\n");
    let g = &l.config.global;
    assert!(g.vrrp_min_garp);
    assert_eq!(g.vrrp_garp_master_repeat, 1);
    assert_eq!(g.vrrp_garp_master_refresh_repeat, 0);
    assert_eq!(g.vrrp_garp_master_delay, Duration::from_secs(2));
    let l = parse("global_defs {\n  vrrp_min_garp false\n}\n");
    assert_eq!(l.config.global.vrrp_garp_master_repeat, 5);
    // A unicast instance and a multicast one; the no-VIP instance loads with only a warning.
    let l = parse(
        "vrrp_instance N {\n  interface eth0\n  virtual_router_id 7\n  unicast_peer {\n    10.0.0.2\n  }\n}\n",
    );
    assert_eq!(
        messages(&l),
        vec!["test.conf:1:15: warning: (N) No VIP specified; at least one is sensible"]
    );
    assert_eq!(l.config.vrrp_instances.len(), 1);
    assert_eq!(l.config.vrrp_instances[0].unicast_ttl, 255);
}

#[test]
fn strict_mode_resets_or_refuses_like_keepalived() {
    let strict = |body: &str| {
        parse(&format!(
            "global_defs {{\n    vrrp_strict\n}}\n{}",
            instance(body)
        ))
    };
    let l = strict(
        "    state MASTER\n    priority 100\n    preempt_delay 5\n    garp_master_repeat 3\n    authentication {\n        auth_type PASS\n        auth_pass x\n    }\n",
    );
    let m = messages(&l).join("\n");
    for want in [
        "(VI_1) Strict mode does not support authentication. Ignoring.",
        "(VI_1) preempt_delay is incompatible with strict mode - resetting",
        "(VI_1) State MASTER must match being address owner",
        "(VI_1) Strict mode requires no repeat garps. resetting",
    ] {
        assert!(m.contains(want), "missing {want:?} in\n{m}");
    }
    assert_eq!(l.config_test_exit_code(), 4);
    let i = &l.config.vrrp_instances[0];
    assert!(i.authentication.is_none() && i.preempt_delay.is_zero());
    assert_eq!(i.state, InitialState::Backup);
    assert_eq!(
        (i.garp_master_repeat, i.garp_master_delay),
        (Some(1), Some(Duration::ZERO))
    );
    assert_eq!(
        (i.accept, i.lower_prio_no_advert),
        (Some(false), Some(true))
    );

    // Unicast peers: the instance cannot run in strict mode.
    let l = strict("    unicast_peer {\n        10.0.0.9\n    }\n");
    assert!(
        messages(&l)
            .join("\n")
            .contains("(VI_1) Unicast peers are not supported in strict mode")
    );
    assert!(l.config.vrrp_instances.is_empty());

    // Per instance: strict_mode without vrrp_strict; and no check without either.
    let l = parse(&instance(
        "    strict_mode\n    authentication {\n        auth_type PASS\n        auth_pass x\n    }\n",
    ));
    assert!(
        messages(&l)
            .join("\n")
            .contains("Strict mode does not support authentication")
    );
    let l = parse(&instance(
        "    authentication {\n        auth_type PASS\n        auth_pass x\n    }\n",
    ));
    assert!(!messages(&l).join("\n").contains("Strict mode"));
}
