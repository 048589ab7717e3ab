//! The tracking keywords: `vrrp_track_process`, `track_file`, `vrrp_sync_group`,
//! `track_interface`/`track_process`/`track_file`/`dont_track_primary` in an instance, and the
//! notify FIFOs. Messages quoted here are keepalived 2.2.7's (checked with `keepalived -t`).

use rkeepalived::config::model::ParamMatch;
use rkeepalived::config::parser::{LoadOptions, Loaded, load_str};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn parse(text: &str) -> Loaded {
    load_str(Path::new("test.conf"), text, &LoadOptions::default())
}

fn messages(loaded: &Loaded) -> Vec<String> {
    loaded
        .diagnostics
        .0
        .iter()
        .map(ToString::to_string)
        .collect()
}

const FULL: &str = r#"
global_defs {
  enable_script_security
  vrrp_notify_fifo /run/vrrp.fifo
  vrrp_notify_fifo_script "/usr/local/bin/reader -x" root
  notify_fifo /run/all.fifo keepalived_script
}
vrrp_script chk {
  script /bin/true
  weight -10
}
vrrp_track_process haproxy {
  process /usr/sbin/haproxy -f /etc/haproxy.cfg
  param_match partial
  weight -20 reverse
  quorum 2
  quorum_max 4
  delay 1.5
  full_command
}
track_file tf1 {
  file "/run/prio"
  weight -5
  init_file 3 overwrite
}
vrrp_track_file tf2 {
  file /run/other
}
vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 1
  dont_track_primary
  track_interface {
    eth1
    eth2 weight -30 reverse
  }
  track_process {
    haproxy weight 7
  }
  track_file {
    tf1
    tf2 weight 2 reverse
  }
  virtual_ipaddress { 192.0.2.1 }
}
vrrp_instance VI_2 {
  interface eth1
  virtual_router_id 2
  virtual_ipaddress { 192.0.2.2 }
}
vrrp_sync_group G1 {
  group {
    VI_1 VI_2
  }
  track_interface { eth3 }
  track_script { chk weight 0 }
  track_file { tf1 }
  track_process { haproxy }
  notify_master "/bin/echo m"
  notify "/bin/echo any" root
  sync_group_tracking_weight
}
"#;

#[test]
fn every_tracking_keyword_is_parsed_without_warnings() {
    let l = parse(FULL);
    assert_eq!(messages(&l), Vec::<String>::new());
    let t = &l.config.tracking;
    let p = &t.processes["haproxy"];
    assert_eq!(p.process, ["/usr/sbin/haproxy", "-f", "/etc/haproxy.cfg"]);
    assert_eq!(p.param_match, Some(ParamMatch::Partial));
    assert_eq!((p.weight, p.weight_reverse), (-20, true));
    assert_eq!((p.quorum, p.quorum_max), (2, Some(4)));
    assert_eq!(p.fork_delay, Duration::from_millis(1500));
    assert_eq!(p.terminate_delay, Duration::from_millis(1500));
    assert!(p.full_command);
    let f = &t.files["tf1"];
    assert_eq!(f.file, PathBuf::from("/run/prio"));
    assert_eq!((f.weight, f.init_file), (-5, Some((3, true))));
    assert_eq!(t.files["tf2"].weight, 1, "track_file weight defaults to 1");

    let i = &l.config.vrrp_instances[0].tracking;
    assert!(i.dont_track_primary);
    assert_eq!(i.interfaces.len(), 2);
    assert_eq!(
        (i.interfaces[0].weight, i.interfaces[0].reverse),
        (0, false)
    );
    assert_eq!(
        (i.interfaces[1].weight, i.interfaces[1].reverse),
        (-30, true)
    );
    assert_eq!(i.processes[0].weight, Some(7));
    assert!(i.processes[0].reverse, "inherits the process's reverse");
    assert_eq!((i.files[0].weight, i.files[1].weight), (None, Some(2)));
    assert!(i.files[1].reverse);

    let g = &t.sync_groups[0];
    assert_eq!(g.members, ["VI_1", "VI_2"]);
    assert_eq!(g.tracking.interfaces[0].name, "eth3");
    assert_eq!(g.track_script[0].weight, Some(0));
    assert_eq!(g.notify.master.as_ref().unwrap().argv, ["/bin/echo", "m"]);
    assert_eq!(
        g.notify.any.as_ref().unwrap().user.as_ref().unwrap().user,
        "root"
    );
    assert!(g.tracking_weight);

    let v = t.vrrp_notify_fifo.as_ref().unwrap();
    assert_eq!(v.path, PathBuf::from("/run/vrrp.fifo"));
    assert_eq!(
        v.script.as_ref().unwrap().argv,
        ["/usr/local/bin/reader", "-x"]
    );
    let n = t.notify_fifo.as_ref().unwrap();
    assert_eq!(n.user.as_ref().unwrap().user, "keepalived_script");
    // Group notifies and FIFO scripts count as scripts (script security, -t exit code 5).
    assert_eq!(l.config.scripts().count(), 1 + 2 + 1);
}

#[test]
fn references_must_be_defined_above_like_keepalived() {
    let l = parse(
        "vrrp_sync_group G1 {\n  group {\n    VI_1\n    VI_2\n  }\n  track_file { tf1 }\n}\n\
         track_file tf1 {\n  file /tmp/x\n}\n\
         vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 1\n  track_process { nope }\n  virtual_ipaddress { 192.0.2.1 }\n}\n\
         vrrp_instance VI_2 {\n  interface eth0\n  virtual_router_id 2\n  virtual_ipaddress { 192.0.2.2 }\n}\n",
    );
    assert_eq!(
        messages(&l),
        vec![
            "test.conf:6:16: warning: (G1) track file tf1 not found, ignoring...",
            "test.conf:14:19: warning: (VI_1) track process nope not found, ignoring...",
        ]
    );
}

#[test]
fn sync_group_members_are_resolved_with_keepalived_messages() {
    let l = parse(
        "vrrp_sync_group G1 {\n  group {\n    VI_1\n    VI_9\n  }\n}\n\
         vrrp_sync_group G2 {\n  group {\n    VI_1\n    VI_2\n  }\n}\n\
         vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 1\n  virtual_ipaddress { 192.0.2.1 }\n}\n\
         vrrp_instance VI_2 {\n  interface eth0\n  virtual_router_id 2\n  virtual_ipaddress { 192.0.2.2 }\n}\n",
    );
    let msgs: Vec<String> = messages(&l)
        .into_iter()
        .map(|m| m.split_once("warning: ").unwrap().1.to_string())
        .collect();
    assert_eq!(
        msgs,
        vec![
            "Virtual router VI_9 specified in sync group G1 doesn't exist - ignoring",
            "Sync group G1 has only 1 virtual router(s) - this probably isn't what you want",
            "Virtual router VI_1 cannot exist in more than one sync group; ignoring G2",
            "Sync group G2 has only 1 virtual router(s) - this probably isn't what you want",
        ]
    );
    let g = &l.config.tracking.sync_groups;
    assert_eq!(
        (g[0].members.clone(), g[1].members.clone()),
        (vec!["VI_1".to_string()], vec!["VI_2".to_string()])
    );
}

#[test]
fn bad_values_are_reported() {
    let l = parse(
        "vrrp_track_process p {\n  weight 300\n}\n\
         vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 1\n  track_interface {\n    eth1 weight 254\n  }\n  virtual_ipaddress { 192.0.2.1 }\n}\n",
    );
    let m = messages(&l);
    assert_eq!(m.len(), 3, "{m:#?}");
    assert!(m[0].contains("error: (p) invalid weight '300'"), "{m:#?}");
    assert!(
        m[1].contains("vrrp_track_process p has no process specified - removing"),
        "{m:#?}"
    );
    assert!(
        m[2].contains(
            "(VI_1) weight 254 for eth1 must be between [-253..253] inclusive. Ignoring..."
        ),
        "{m:#?}"
    );
    assert!(l.config.tracking.processes.is_empty());
    assert!(l.config.vrrp_instances[0].tracking.interfaces.is_empty());
}
