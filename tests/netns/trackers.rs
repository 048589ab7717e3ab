//! Trackers, sync groups and notify output against the real kernel, in network namespaces:
//! `track_interface`, `vrrp_track_process`, `track_file`, `vrrp_sync_group` across two
//! links, the notify script arguments and FIFO lines (compared with keepalived 2.2.7's own
//! output for the same config), and `enable_script_security`.

use crate::support;

use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};
use support::{Daemon, Lan, Proc, require_daemon, require_root, wait_until};

const STEP: Duration = Duration::from_millis(10);
/// Long enough for any takeover here: Master_Down_Interval (≤ 4 s) plus margin.
const MOVE: Duration = Duration::from_secs(8);

fn ready(test: &str) -> bool {
    require_root(test) && require_daemon(test, Daemon::Rkeepalived)
}

/// VRRPv2 instance VI_1 on eth0, VIP `lan.ip(100)`, with `extra` inside the instance and
/// `top` before it.
fn conf(lan: &Lan, vrid: u8, priority: u8, top: &str, extra: &str) -> String {
    format!(
        "global_defs {{\n  router_id test\n}}\n{top}\n\
         vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id {vrid}\n  priority {priority}\n  advert_int 1\n\
         {extra}\n  virtual_ipaddress {{\n    {}/24 dev eth0\n  }}\n}}\n",
        lan.ip(100)
    )
}

fn holds(lan: &Lan, node: &str, vip: IpAddr) -> bool {
    lan.node(node).has_addr(vip)
}

/// Waits until `node` holds `vip` (and, if given, `other` does not).
fn expect_move(lan: &Lan, node: &str, other: Option<&str>, vip: IpAddr, logs: &[&Proc]) {
    let got = wait_until(MOVE, STEP, || {
        holds(lan, node, vip) && other.is_none_or(|o| !holds(lan, o, vip))
    });
    let all: Vec<String> = logs.iter().map(|p| p.log()).collect();
    assert!(
        got.is_some(),
        "{node} never took {vip} alone:\n{}",
        all.join("\n----\n")
    );
}

fn write_exec(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn track_interface_down_moves_the_vip_and_up_brings_it_back() {
    if !ready("track_interface") {
        return;
    }
    let mut lan = Lan::new(&["a", "b"]);
    lan.add_segment("eth1");
    let vip = IpAddr::V4(lan.ip(100));
    let track = "  track_interface {\n    eth1\n  }\n";
    let a = lan
        .node("a")
        .spawn(Daemon::Rkeepalived, &conf(&lan, 71, 150, "", track));
    let b = lan
        .node("b")
        .spawn(Daemon::Rkeepalived, &conf(&lan, 71, 100, "", ""));
    expect_move(&lan, "a", Some("b"), vip, &[&a, &b]);

    // The tracked link goes down: a is FAULT, drops the VIP, b takes over.
    lan.node("a").exec(&["ip", "link", "set", "eth1", "down"]);
    expect_move(&lan, "b", Some("a"), vip, &[&a, &b]);
    a.expect_log("Netlink reports eth1 down", Duration::from_secs(2));
    a.expect_log("(VI_1) Entering FAULT STATE", Duration::from_secs(2));

    // Up again: a leaves FAULT for BACKUP and preempts b.
    lan.node("a").exec(&["ip", "link", "set", "eth1", "up"]);
    expect_move(&lan, "a", Some("b"), vip, &[&a, &b]);
    assert!(a.log().contains("Netlink reports eth1 up"), "{}", a.log());
}

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn weighted_track_interface_lowers_priority_instead_of_fault() {
    if !ready("track_interface_weight") {
        return;
    }
    let mut lan = Lan::new(&["a", "b"]);
    lan.add_segment("eth1");
    let vip = IpAddr::V4(lan.ip(100));
    let track = "  track_interface {\n    eth1 weight -60\n  }\n";
    let a = lan
        .node("a")
        .spawn(Daemon::Rkeepalived, &conf(&lan, 72, 150, "", track));
    let b = lan
        .node("b")
        .spawn(Daemon::Rkeepalived, &conf(&lan, 72, 100, "", ""));
    expect_move(&lan, "a", Some("b"), vip, &[&a, &b]);
    lan.node("a").exec(&["ip", "link", "set", "eth1", "down"]);
    expect_move(&lan, "b", Some("a"), vip, &[&a, &b]);
    a.expect_log(
        "(VI_1) Changing effective priority from 150 to 90",
        Duration::from_secs(2),
    );
    assert!(!a.log().contains("FAULT"), "{}", a.log());
}

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn track_process_quorum_loss_moves_the_vip() {
    if !ready("track_process") {
        return;
    }
    let lan = Lan::new(&["a", "b"]);
    let vip = IpAddr::V4(lan.ip(100));
    // A process name no parallel test uses: a symlink to sleep (comm = the link's name).
    let dir = tempfile::tempdir().unwrap();
    let name = format!("rktp{}", std::process::id() % 100_000);
    let link = dir.path().join(&name);
    std::os::unix::fs::symlink("/bin/sleep", &link).unwrap();
    let sleeper = lan.node("a").spawn_cmd(&[link.to_str().unwrap(), "1000"]);
    let top = format!("vrrp_track_process tp {{\n  process {name}\n  weight 0\n  quorum 1\n}}\n");
    let a = lan.node("a").spawn(
        Daemon::Rkeepalived,
        &conf(&lan, 73, 150, &top, "  track_process {\n    tp\n  }\n"),
    );
    let b = lan
        .node("b")
        .spawn(Daemon::Rkeepalived, &conf(&lan, 73, 100, "", ""));
    expect_move(&lan, "a", Some("b"), vip, &[&a, &b]);
    sleeper.kill();
    expect_move(&lan, "b", Some("a"), vip, &[&a, &b]);
    a.expect_log("Quorum lost for tracked process tp", Duration::from_secs(2));
    assert!(
        a.log().contains("(VI_1) Entering FAULT STATE"),
        "{}",
        a.log()
    );
    // The process comes back: a recovers and preempts.
    let _again = lan.node("a").spawn_cmd(&[link.to_str().unwrap(), "1000"]);
    expect_move(&lan, "a", Some("b"), vip, &[&a, &b]);
    assert!(
        a.log().contains("Quorum gained for tracked process tp"),
        "{}",
        a.log()
    );
}

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn track_file_value_times_weight_moves_the_vip() {
    if !ready("track_file") {
        return;
    }
    let lan = Lan::new(&["a", "b"]);
    let vip = IpAddr::V4(lan.ip(100));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("prio");
    let top = format!(
        "track_file tf {{\n  file {}\n  weight -100\n  init_file 0 overwrite\n}}\n",
        file.display()
    );
    let a = lan.node("a").spawn(
        Daemon::Rkeepalived,
        &conf(&lan, 74, 150, &top, "  track_file {\n    tf\n  }\n"),
    );
    let b = lan
        .node("b")
        .spawn(Daemon::Rkeepalived, &conf(&lan, 74, 100, "", ""));
    expect_move(&lan, "a", Some("b"), vip, &[&a, &b]);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "0");
    // 1 × -100: priority 50, below b's 100; b preempts.
    std::fs::write(&file, "1\n").unwrap();
    expect_move(&lan, "b", Some("a"), vip, &[&a, &b]);
    a.expect_log(
        "(VI_1) Changing effective priority from 150 to 50",
        Duration::from_secs(2),
    );
    // Back to 0: 150 again, a preempts.
    std::fs::write(&file, "0").unwrap();
    expect_move(&lan, "a", Some("b"), vip, &[&a, &b]);
    // -3 × -100 = 300, clamped: 253 added, priority 254 (still master, no FAULT).
    std::fs::write(&file, "-3").unwrap();
    a.expect_log(
        "(VI_1) Changing effective priority from 150 to 254",
        Duration::from_secs(2),
    );
}

/// Two instances on two links in one sync group, VIPs `lan.ip(100)` on eth0 and
/// `net2.100` on eth1.
fn sync_conf(lan: &Lan, net2: [u8; 3], priority: u8, global: &str, group: &str) -> String {
    let vip2 = Ipv4Addr::new(net2[0], net2[1], net2[2], 100);
    format!(
        "global_defs {{\n  router_id test\n{global}}}\n\
         vrrp_sync_group G1 {{\n  group {{\n    VI_1\n    VI_2\n  }}\n{group}}}\n\
         vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 81\n  priority {priority}\n  advert_int 1\n\
           virtual_ipaddress {{\n    {}/24 dev eth0\n  }}\n}}\n\
         vrrp_instance VI_2 {{\n  state BACKUP\n  interface eth1\n  virtual_router_id 82\n  priority {priority}\n  advert_int 1\n\
           virtual_ipaddress {{\n    {vip2}/24 dev eth1\n  }}\n}}\n",
        lan.ip(100)
    )
}

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn sync_group_members_move_together_when_one_link_fails() {
    if !ready("sync_group") {
        return;
    }
    let mut lan = Lan::new(&["a", "b"]);
    let net2 = lan.add_segment("eth1");
    let vip1 = IpAddr::V4(lan.ip(100));
    let vip2 = IpAddr::V4(Ipv4Addr::new(net2[0], net2[1], net2[2], 100));
    let a = lan
        .node("a")
        .spawn(Daemon::Rkeepalived, &sync_conf(&lan, net2, 150, "", ""));
    let b = lan
        .node("b")
        .spawn(Daemon::Rkeepalived, &sync_conf(&lan, net2, 100, "", ""));
    expect_move(&lan, "a", Some("b"), vip1, &[&a, &b]);
    expect_move(&lan, "a", Some("b"), vip2, &[&a, &b]);

    // a's eth1 (VI_2's own interface) fails: VI_2 is FAULT, and VI_1 follows although its
    // own link is fine; b takes both VIPs.
    lan.node("a").exec(&["ip", "link", "set", "eth1", "down"]);
    expect_move(&lan, "b", Some("a"), vip1, &[&a, &b]);
    expect_move(&lan, "b", Some("a"), vip2, &[&a, &b]);
    let log = a.log();
    for want in [
        "(VI_2) Entering FAULT STATE",
        "VRRP_Group(G1) Syncing instances to FAULT state",
        "(VI_1) Entering FAULT STATE",
    ] {
        assert!(log.contains(want), "missing {want:?}:\n{log}");
    }
    assert!(
        b.log()
            .contains("VRRP_Group(G1) Syncing instances to MASTER state"),
        "{}",
        b.log()
    );

    // The link is back: both members leave FAULT together and a preempts on both.
    lan.node("a").exec(&["ip", "link", "set", "eth1", "up"]);
    expect_move(&lan, "a", Some("b"), vip1, &[&a, &b]);
    expect_move(&lan, "a", Some("b"), vip2, &[&a, &b]);
    assert!(
        a.log()
            .contains("VRRP_Group(G1) Syncing instances to BACKUP state"),
        "{}",
        a.log()
    );
}

/// Runs one node with a sync group, a `notify` script on the group and both instances, and a
/// `vrrp_notify_fifo` read by its `_script`; takes it through MASTER, FAULT (eth1 down),
/// BACKUP/MASTER (eth1 up) and STOP; returns (notify script lines, FIFO lines).
fn notify_run(daemon: Daemon) -> (Vec<String>, Vec<String>) {
    let mut lan = Lan::new(&["a"]);
    let net2 = lan.add_segment("eth1");
    let dir = tempfile::Builder::new().prefix("rktrk").tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let notify_log = dir.path().join("notify.log");
    let fifo_log = dir.path().join("fifo.log");
    let notify = dir.path().join("notify.sh");
    write_exec(
        &notify,
        &format!("#!/bin/sh\necho \"$*\" >> {}\n", notify_log.display()),
    );
    let reader = dir.path().join("reader.sh");
    write_exec(
        &reader,
        &format!(
            "#!/bin/sh\nwhile read -r line; do echo \"$line\" >> {}; done < \"$1\"\n",
            fifo_log.display()
        ),
    );
    let fifo = dir.path().join("vrrp.fifo");
    let global = format!(
        "  enable_script_security\n  script_user root\n  vrrp_notify_fifo {}\n  vrrp_notify_fifo_script {}\n",
        fifo.display(),
        reader.display()
    );
    let group = format!("  notify {}\n", notify.display());
    let mut conf = sync_conf(&lan, net2, 150, &global, &group);
    // The instances get the same generic notify script.
    conf = conf.replace(
        "  advert_int 1\n",
        &format!("  advert_int 1\n  notify {}\n", notify.display()),
    );
    let mut a = lan.node("a").spawn(daemon, &conf);
    let read = |p: &Path| -> Vec<String> {
        std::fs::read_to_string(p)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    };
    let has = |p: &Path, line: &str| read(p).iter().any(|l| l == line);
    let log_path = a.dir().join("output.log");
    let wait = |p: &Path, line: &str| {
        assert!(
            wait_until(MOVE, STEP, || has(p, line)).is_some(),
            "{}: no {line:?} in {:?}:\n{}",
            daemon.name(),
            read(p),
            std::fs::read_to_string(&log_path).unwrap_or_default()
        )
    };
    wait(&fifo_log, "GROUP \"G1\" MASTER 0");
    wait(&notify_log, "GROUP G1 MASTER 0");
    lan.node("a").exec(&["ip", "link", "set", "eth1", "down"]);
    wait(&fifo_log, "GROUP \"G1\" FAULT 0");
    wait(&notify_log, "GROUP G1 FAULT 0");
    lan.node("a").exec(&["ip", "link", "set", "eth1", "up"]);
    // BACKUP again, then MASTER (no peer) a Master_Down_Interval later.
    wait_until(MOVE, STEP, || {
        read(&fifo_log)
            .iter()
            .filter(|l| *l == "GROUP \"G1\" MASTER 0")
            .count()
            == 2
    });
    a.term();
    assert!(a.wait_exit(Duration::from_secs(5)).is_some(), "{}", a.log());
    wait(&notify_log, "GROUP G1 STOP 0");
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_millis(300) {
        std::thread::sleep(STEP);
    }
    (read(&notify_log), read(&fifo_log))
}

/// Lines sorted, for comparing two runs whose concurrent notify scripts may finish in any
/// order.
fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn notify_and_fifo_lines_match_keepalived() {
    if !ready("notify_fifo") || !require_daemon("notify_fifo", Daemon::Keepalived) {
        return;
    }
    let (rk_notify, rk_fifo) = notify_run(Daemon::Rkeepalived);
    let (ka_notify, ka_fifo) = notify_run(Daemon::Keepalived);
    // The FIFO is written in order by one process: same lines, same order, except that the
    // two members' lines of one group transition may come in either order.
    let key = |v: &[String]| -> Vec<String> {
        v.iter()
            .filter(|l| l.starts_with("GROUP"))
            .cloned()
            .collect()
    };
    assert_eq!(
        key(&rk_fifo),
        key(&ka_fifo),
        "rk {rk_fifo:#?}\nka {ka_fifo:#?}"
    );
    assert_eq!(
        sorted(rk_fifo.clone()),
        sorted(ka_fifo.clone()),
        "rk {rk_fifo:#?}\nka {ka_fifo:#?}"
    );
    assert_eq!(
        sorted(rk_notify.clone()),
        sorted(ka_notify.clone()),
        "rk {rk_notify:#?}\nka {ka_notify:#?}"
    );
    // Spot checks of the format itself.
    assert!(
        rk_fifo.contains(&"INSTANCE \"VI_2\" FAULT 150".to_string()),
        "{rk_fifo:?}"
    );
    assert!(
        rk_notify.contains(&"INSTANCE VI_1 MASTER 150".to_string()),
        "{rk_notify:?}"
    );
    // A group's line follows its members' lines for the same transition.
    let pos = |l: &str| rk_fifo.iter().position(|x| x == l).unwrap();
    assert!(pos("INSTANCE \"VI_1\" FAULT 150") < pos("GROUP \"G1\" FAULT 0"));
    assert!(pos("INSTANCE \"VI_2\" FAULT 150") < pos("GROUP \"G1\" FAULT 0"));
}

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn script_security_refuses_an_unsafe_script_like_keepalived() {
    if !ready("script_security") {
        return;
    }
    let dir = tempfile::Builder::new().prefix("rksec").tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let open = dir.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let marker = dir.path().join("ran");
    let script = open.join("chk.sh");
    write_exec(
        &script,
        &format!("#!/bin/sh\ntouch {}\nexit 0\n", marker.display()),
    );
    let top = format!(
        "global_defs {{\n  enable_script_security\n  script_user root\n}}\n\
         vrrp_script chk {{\n  script {}\n  interval 1\n}}\n",
        script.display()
    );
    let expected = format!(
        "Unsafe permissions found for script '{}' - disabling.",
        script.display()
    );
    let daemons: Vec<Daemon> = if support::find_program("keepalived").is_some() {
        vec![Daemon::Rkeepalived, Daemon::Keepalived]
    } else {
        vec![Daemon::Rkeepalived]
    };
    for daemon in daemons {
        let lan = Lan::new(&["a"]);
        let p = lan.node("a").spawn(
            daemon,
            &conf(&lan, 75, 150, &top, "  track_script {\n    chk\n  }\n"),
        );
        assert!(
            p.wait_log(&expected, Duration::from_secs(5)),
            "{}: {}",
            daemon.name(),
            p.log()
        );
        assert!(
            p.wait_log(
                "Disabling track script chk due to insecure",
                Duration::from_secs(2)
            ),
            "{}: {}",
            daemon.name(),
            p.log()
        );
        // The instance runs without the script, and the script never ran.
        expect_move(&lan, "a", None, IpAddr::V4(lan.ip(100)), &[&p]);
        assert!(!marker.exists(), "{}: the unsafe script ran", daemon.name());
    }
}

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn init_fail_script_starts_in_fault_like_keepalived() {
    if !ready("init_fail") {
        return;
    }
    let daemons: Vec<Daemon> = if support::find_program("keepalived").is_some() {
        vec![Daemon::Rkeepalived, Daemon::Keepalived]
    } else {
        vec![Daemon::Rkeepalived]
    };
    for daemon in daemons {
        let dir = tempfile::tempdir().unwrap();
        let flag = dir.path().join("ok");
        let top = format!(
            "vrrp_script chk {{\n  script \"/usr/bin/test -e {}\"\n  interval 1\n  weight 0\n  rise 1\n  init_fail\n}}\n",
            flag.display()
        );
        let lan = Lan::new(&["a"]);
        let vip = IpAddr::V4(lan.ip(100));
        let p = lan.node("a").spawn(
            daemon,
            &conf(&lan, 76, 150, &top, "  track_script {\n    chk\n  }\n"),
        );
        // Failing from the start: no VIP, no MASTER (keepalived logs only "(VI_1) removing
        // VIPs." here; rkeepalived's state machine also says "Entering FAULT STATE (init)").
        assert!(
            p.wait_log("VRRP_Script(chk) failed", Duration::from_secs(5)),
            "{}: {}",
            daemon.name(),
            p.log()
        );
        std::thread::sleep(Duration::from_millis(4000));
        assert!(!holds(&lan, "a", vip), "{}: {}", daemon.name(), p.log());
        assert!(
            !p.log().contains("Entering MASTER STATE"),
            "{}: {}",
            daemon.name(),
            p.log()
        );
        std::fs::write(&flag, "").unwrap();
        expect_move(&lan, "a", None, vip, &[&p]);
        for want in ["VRRP_Script(chk) succeeded", "(VI_1) Entering BACKUP STATE"] {
            assert!(p.log().contains(want), "{}: {}", daemon.name(), p.log());
        }
    }
}

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn vrrp_script_runs_as_its_user() {
    if !ready("script_user") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = dir.path().join("uid");
    let top = format!(
        "vrrp_script chk {{\n  script \"/bin/sh -c 'id -u > {}'\"\n  interval 1\n  user nobody\n}}\n",
        out.display()
    );
    let lan = Lan::new(&["a"]);
    let p = lan.node("a").spawn(
        Daemon::Rkeepalived,
        &conf(&lan, 77, 150, &top, "  track_script {\n    chk\n  }\n"),
    );
    let got = wait_until(Duration::from_secs(5), STEP, || {
        std::fs::read_to_string(&out).is_ok_and(|s| !s.trim().is_empty())
    });
    assert!(got.is_some(), "{}", p.log());
    let nobody = std::process::Command::new("id")
        .args(["-u", "nobody"])
        .output()
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(&out).unwrap().trim(),
        String::from_utf8_lossy(&nobody.stdout).trim()
    );
}

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn notify_scripts_still_running_at_shutdown_are_killed_like_keepalived() {
    if !ready("notify_killed") {
        return;
    }
    let daemons: Vec<Daemon> = if support::find_program("keepalived").is_some() {
        vec![Daemon::Rkeepalived, Daemon::Keepalived]
    } else {
        vec![Daemon::Rkeepalived]
    };
    for daemon in daemons {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("stop.log");
        let script = dir.path().join("slow.sh");
        write_exec(
            &script,
            &format!(
                "#!/bin/sh\necho \"start $*\" >> {l}\nsleep 4\necho \"end $*\" >> {l}\n",
                l = log.display()
            ),
        );
        let extra = format!("  notify_stop {s}\n  notify {s}\n", s = script.display());
        let lan = Lan::new(&["a"]);
        let mut p = lan
            .node("a")
            .spawn(daemon, &conf(&lan, 78, 100, "", &extra));
        let read = || std::fs::read_to_string(&log).unwrap_or_default();
        assert!(
            wait_until(Duration::from_secs(5), STEP, || read()
                .contains("start INSTANCE VI_1 BACKUP 100"))
            .is_some(),
            "{}: {}",
            daemon.name(),
            p.log()
        );
        let t0 = Instant::now();
        p.term();
        // keepalived may wait its 5 s child timeout before exiting: allow 10 s.
        assert!(
            p.wait_exit(Duration::from_secs(10)).is_some(),
            "{}",
            p.log()
        );
        let took = t0.elapsed();
        // keepalived exits 1 s after SIGTERM in a plain run, but sometimes only after its
        // 5 s child wait; rkeepalived waits at most 1 s for the scripts.
        if daemon == Daemon::Rkeepalived {
            assert!(took < Duration::from_millis(2500), "exit took {took:?}");
        }
        std::thread::sleep(Duration::from_millis(4500));
        let text = read();
        assert!(
            text.contains("start INSTANCE VI_1 STOP 100"),
            "{}: {text}",
            daemon.name()
        );
        assert!(
            !text.contains("end"),
            "{}: a notify script survived: {text}",
            daemon.name()
        );
    }
}

/// A reload adds a `track_file` and a `vrrp_track_process` to a running master (issue 13):
/// they count from their values at the reload (nothing moves), and then the file poller and the
/// `/proc` poller follow them: the file's value moves the VIP to `b` and back, the process's
/// death puts `a` in FAULT. A second reload raises the process block's `quorum` to 2 (logged
/// as a block change): the process back alone is not a quorum, `a` stays in FAULT.
#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn trackers_added_by_a_reload_are_followed() {
    if !ready("trackers_added_by_a_reload") {
        return;
    }
    let lan = Lan::new(&["a", "b"]);
    let vip = IpAddr::V4(lan.ip(100));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("prio");
    std::fs::write(&file, "0").unwrap();
    let name = format!("rkrl{}", std::process::id() % 100_000);
    let link = dir.path().join(&name);
    std::os::unix::fs::symlink("/bin/sleep", &link).unwrap();
    let sleeper = lan.node("a").spawn_cmd(&[link.to_str().unwrap(), "1000"]);
    let a = lan
        .node("a")
        .spawn(Daemon::Rkeepalived, &conf(&lan, 75, 150, "", ""));
    let b = lan
        .node("b")
        .spawn(Daemon::Rkeepalived, &conf(&lan, 75, 100, "", ""));
    expect_move(&lan, "a", Some("b"), vip, &[&a, &b]);
    let top = |quorum: u32| {
        format!(
            "track_file tf {{\n  file {}\n  weight -100\n}}\n\
             vrrp_track_process tp {{\n  process {name}\n  weight 0\n  quorum {quorum}\n}}\n",
            file.display()
        )
    };
    let tracked = "  track_file {\n    tf\n  }\n  track_process {\n    tp\n  }\n";
    std::fs::write(
        a.dir().join("keepalived.conf"),
        conf(&lan, 75, 150, &top(1), tracked),
    )
    .unwrap();
    a.signal(libc::SIGHUP);
    a.expect_log("(VI_1) Reload: track_file tf added", Duration::from_secs(2));
    a.expect_log(
        "(VI_1) Reload: track_process tp added",
        Duration::from_secs(2),
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        holds(&lan, "a", vip) && !holds(&lan, "b", vip),
        "{}",
        a.log()
    );
    // 1 x -100: priority 50, below b's 100; b preempts. Back to 0: a preempts.
    std::fs::write(&file, "1").unwrap();
    expect_move(&lan, "b", Some("a"), vip, &[&a, &b]);
    a.expect_log(
        "(VI_1) Changing effective priority from 150 to 50",
        Duration::from_secs(2),
    );
    std::fs::write(&file, "0").unwrap();
    expect_move(&lan, "a", Some("b"), vip, &[&a, &b]);
    // The tracked process dies: weight 0, a goes FAULT.
    sleeper.kill();
    expect_move(&lan, "b", Some("a"), vip, &[&a, &b]);
    a.expect_log("Quorum lost for tracked process tp", Duration::from_secs(2));
    // A reload asks for two; then one comes back: the new poller counts against the new
    // quorum, a stays in FAULT.
    std::fs::write(
        a.dir().join("keepalived.conf"),
        conf(&lan, 75, 150, &top(2), tracked),
    )
    .unwrap();
    a.signal(libc::SIGHUP);
    a.expect_log(
        "Reload: vrrp_track_process tp quorum changed",
        Duration::from_secs(2),
    );
    let _again = lan.node("a").spawn_cmd(&[link.to_str().unwrap(), "1000"]);
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        !holds(&lan, "a", vip) && holds(&lan, "b", vip),
        "{}",
        a.log()
    );
    assert!(
        !a.log().contains("Quorum gained for tracked process tp"),
        "{}",
        a.log()
    );
}

/// Runs one node (VI_1 tracking `eth1`) whose `vrrp_notify_fifo` (read by its `_script`, which
/// appends each line to `FIFO.log`) moves from `one.fifo` to `two.fifo` by a reload, then takes
/// `eth1` down; returns the lines each FIFO's reader got.
fn fifo_reload_run(daemon: Daemon) -> (Vec<String>, Vec<String>) {
    let mut lan = Lan::new(&["a"]);
    lan.add_segment("eth1");
    let dir = tempfile::Builder::new().prefix("rkfifo").tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let reader = dir.path().join("reader.sh");
    write_exec(
        &reader,
        "#!/bin/sh\nwhile read -r line; do echo \"$line\" >> \"$1.log\"; done < \"$1\"\n",
    );
    let (one, two) = (dir.path().join("one.fifo"), dir.path().join("two.fifo"));
    let conf = |fifo: &Path| {
        let global = format!(
            "  enable_script_security\n  script_user root\n  vrrp_notify_fifo {}\n  \
             vrrp_notify_fifo_script {}\n",
            fifo.display(),
            reader.display()
        );
        conf(&lan, 76, 150, "", "  track_interface {\n    eth1\n  }\n")
            .replace("  router_id test\n", &format!("  router_id test\n{global}"))
    };
    let a = lan.node("a").spawn(daemon, &conf(&one));
    let read = |fifo: &Path| -> Vec<String> {
        std::fs::read_to_string(format!("{}.log", fifo.display()))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    };
    let master = "INSTANCE \"VI_1\" MASTER 150".to_string();
    let got = wait_until(MOVE, STEP, || read(&one).contains(&master));
    assert!(
        got.is_some(),
        "{}: {:?}\n{}",
        daemon.name(),
        read(&one),
        a.log()
    );
    std::fs::write(a.dir().join("keepalived.conf"), conf(&two)).unwrap();
    a.signal(libc::SIGHUP);
    std::thread::sleep(Duration::from_secs(2));
    lan.node("a").exec(&["ip", "link", "set", "eth1", "down"]);
    let fault = "INSTANCE \"VI_1\" FAULT 150".to_string();
    wait_until(Duration::from_secs(3), STEP, || {
        read(&one).contains(&fault) || read(&two).contains(&fault)
    });
    std::thread::sleep(Duration::from_millis(300));
    (read(&one), read(&two))
}

/// `vrrp_notify_fifo` moved to another path by a reload (issue 13): rkeepalived stops the old
/// FIFO's script, removes the FIFO it created, opens the new one and starts its script; the
/// next state change is written there. keepalived 2.2.7 does the same on the same run
/// (measured: BACKUP and MASTER reach `one.fifo`'s reader, FAULT `two.fifo`'s).
#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn vrrp_notify_fifo_moved_by_a_reload() {
    if !ready("vrrp_notify_fifo_reload") {
        return;
    }
    let (one, two) = fifo_reload_run(Daemon::Rkeepalived);
    let master = "INSTANCE \"VI_1\" MASTER 150".to_string();
    let fault = "INSTANCE \"VI_1\" FAULT 150".to_string();
    let mut report = format!("rkeepalived: one.fifo {one:?}, two.fifo {two:?}");
    let mut same = true;
    if support::find_program("keepalived").is_some() {
        // Measured: the same lines (BACKUP, MASTER in one.fifo; FAULT in two.fifo).
        let (k1, k2) = fifo_reload_run(Daemon::Keepalived);
        report += &format!("; keepalived: one.fifo {k1:?}, two.fifo {k2:?}");
        same = (sorted(k1), sorted(k2)) == (sorted(one.clone()), sorted(two.clone()));
    }
    println!("{report}");
    assert!(one.contains(&master) && !one.contains(&fault), "{report}");
    assert!(two.contains(&fault), "{report}");
    assert!(same, "keepalived differs: {report}");
}

/// What one daemon did with `notify_fifo` and `vrrp_notify_fifo` and no `_script`s.
#[derive(Debug, PartialEq)]
struct PlainFifos {
    /// `notify_fifo`'s path did not exist: whether the daemon made a FIFO there, and its mode
    /// (octal).
    created: (bool, String),
    /// Lines read from the created FIFO, then from the pre-existing one (mode 0644).
    created_lines: Vec<String>,
    existing_lines: Vec<String>,
    /// Whether each path was still there after the daemon exited, and the pre-existing FIFO's
    /// mode then.
    created_left: bool,
    existing_left: (bool, String),
    /// Exit code on SIGTERM.
    exit: Option<i32>,
}

/// Reads what is in the FIFO now (non-blocking: nothing, or no writer, is an empty read).
fn drain_fifo(f: &mut std::fs::File, into: &mut String) {
    use std::io::Read;
    let mut buf = [0u8; 4096];
    for _ in 0..64 {
        match f.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => into.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
}

fn open_fifo_reader(p: &Path) -> std::fs::File {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(p)
        .unwrap()
}

/// One node, one instance (no peer: BACKUP, then MASTER), `notify_fifo` on a path that does
/// not exist and `vrrp_notify_fifo` on a FIFO the test made; the test reads both FIFOs, then
/// stops the daemon with SIGTERM.
fn plain_fifo_run(daemon: Daemon) -> PlainFifos {
    use std::os::unix::fs::FileTypeExt;
    let lan = Lan::new(&["a"]);
    let dir = tempfile::Builder::new().prefix("rkfifo").tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let created = dir.path().join("all.fifo");
    let existing = dir.path().join("vrrp.fifo");
    nix::unistd::mkfifo(&existing, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    std::fs::set_permissions(&existing, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut existing_reader = open_fifo_reader(&existing);
    let conf = conf(&lan, 73, 150, "", "").replace(
        "  router_id test\n",
        &format!(
            "  router_id test\n  notify_fifo {}\n  vrrp_notify_fifo {}\n",
            created.display(),
            existing.display()
        ),
    );
    let mut a = lan.node("a").spawn(daemon, &conf);
    let kind_mode = |p: &Path| {
        std::fs::symlink_metadata(p)
            .map(|m| {
                let mode = m.permissions().mode() & 0o7777;
                (m.file_type().is_fifo(), format!("{mode:04o}"))
            })
            .ok()
    };
    assert!(
        wait_until(MOVE, STEP, || kind_mode(&created).is_some()).is_some(),
        "{}: {} never created:\n{}",
        daemon.name(),
        created.display(),
        a.log()
    );
    let made = kind_mode(&created).unwrap();
    let mut created_reader = open_fifo_reader(&created);
    let (mut c_text, mut e_text) = (String::new(), String::new());
    let master = "INSTANCE \"VI_1\" MASTER 150\n";
    let got = wait_until(MOVE, STEP, || {
        drain_fifo(&mut created_reader, &mut c_text);
        drain_fifo(&mut existing_reader, &mut e_text);
        c_text.contains(master) && e_text.contains(master)
    });
    assert!(
        got.is_some(),
        "{}: no MASTER line: {c_text:?} {e_text:?}\n{}",
        daemon.name(),
        a.log()
    );
    a.term();
    let exit = a.wait_exit(Duration::from_secs(10));
    // What the daemon wrote before it closed its ends.
    let stop = "INSTANCE \"VI_1\" STOP 150\n";
    wait_until(Duration::from_secs(2), STEP, || {
        drain_fifo(&mut created_reader, &mut c_text);
        drain_fifo(&mut existing_reader, &mut e_text);
        c_text.contains(stop) && e_text.contains(stop)
    });
    let lines = |t: &str| t.lines().map(str::to_owned).collect::<Vec<_>>();
    PlainFifos {
        created: made,
        created_lines: lines(&c_text),
        existing_lines: lines(&e_text),
        created_left: created.exists(),
        existing_left: kind_mode(&existing).unwrap_or((false, String::new())),
        exit,
    }
}

/// `notify_fifo` / `vrrp_notify_fifo` without a `_script`, read by an outside reader: the
/// FIFO a daemon creates (its type and mode, that it is removed at exit), one it finds (kept,
/// mode untouched) and the lines each gets, against keepalived 2.2.7 in the same run.
#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn notify_fifo_without_a_script_like_keepalived() {
    if !ready("notify_fifo_plain") || !require_daemon("notify_fifo_plain", Daemon::Keepalived) {
        return;
    }
    let rk = plain_fifo_run(Daemon::Rkeepalived);
    let ka = plain_fifo_run(Daemon::Keepalived);
    eprintln!("rkeepalived {rk:#?}\nkeepalived {ka:#?}");
    assert_eq!(rk, ka);
    // Not two empty runs that agree: the lines are there.
    assert!(
        rk.created_lines
            .contains(&"INSTANCE \"VI_1\" MASTER 150".to_string()),
        "{rk:?}"
    );
    assert!(rk.created.0, "{rk:?}");
}

/// What one daemon did when `notify_fifo` names a regular file and `vrrp_notify_fifo` a
/// symlink to a FIFO.
#[derive(Debug, PartialEq)]
struct OddFifos {
    /// The instance still became MASTER (the VIP is on the node).
    master: bool,
    /// The regular file's content afterwards.
    file: String,
    /// Lines the symlink's FIFO got.
    via_symlink: Vec<String>,
    /// Whether the paths were still there after exit.
    left: (bool, bool),
    exit: Option<i32>,
}

fn odd_fifo_run(daemon: Daemon) -> (OddFifos, String) {
    let lan = Lan::new(&["a"]);
    let dir = tempfile::Builder::new().prefix("rkfifo").tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let file = dir.path().join("all.fifo");
    std::fs::write(&file, "keep\n").unwrap();
    let target = dir.path().join("target.fifo");
    nix::unistd::mkfifo(&target, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let link = dir.path().join("vrrp.fifo");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let mut reader = open_fifo_reader(&target);
    let conf = conf(&lan, 74, 150, "", "").replace(
        "  router_id test\n",
        &format!(
            "  router_id test\n  notify_fifo {}\n  vrrp_notify_fifo {}\n",
            file.display(),
            link.display()
        ),
    );
    let mut a = lan.node("a").spawn(daemon, &conf);
    let vip = IpAddr::V4(lan.ip(100));
    let master = wait_until(MOVE, STEP, || holds(&lan, "a", vip)).is_some();
    let mut text = String::new();
    wait_until(Duration::from_secs(1), STEP, || {
        drain_fifo(&mut reader, &mut text);
        text.contains("MASTER")
    });
    a.term();
    let exit = a.wait_exit(Duration::from_secs(10));
    wait_until(Duration::from_millis(500), STEP, || {
        drain_fifo(&mut reader, &mut text);
        text.contains("STOP")
    });
    let log = a.log();
    (
        OddFifos {
            master,
            file: std::fs::read_to_string(&file).unwrap_or_default(),
            via_symlink: text.lines().map(str::to_owned).collect(),
            left: (file.exists(), std::fs::symlink_metadata(&link).is_ok()),
            exit,
        },
        log.lines()
            .filter(|l| l.to_ascii_lowercase().contains("fifo"))
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

/// `notify_fifo` naming a regular file and `vrrp_notify_fifo` a symbolic link to a FIFO:
/// both daemons run on (MASTER, exit 0), neither follows the link, and both paths are left.
/// The regular file differs: keepalived 2.2.7 writes its lines over the file's start;
/// rkeepalived refuses it and leaves it alone (README, How it differs).
#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn notify_fifo_on_a_file_or_a_symlink_like_keepalived_but_the_file_is_kept() {
    if !ready("notify_fifo_odd") {
        return;
    }
    let (rk, rk_log) = odd_fifo_run(Daemon::Rkeepalived);
    eprintln!("rkeepalived {rk:#?}\n{rk_log}");
    let expected = OddFifos {
        master: true,
        file: "keep\n".into(),
        via_symlink: vec![],
        left: (true, true),
        exit: Some(0),
    };
    assert_eq!(rk, expected);
    assert!(
        rk_log.contains("all.fifo: exists and is not a FIFO"),
        "{rk_log}"
    );
    assert!(rk_log.contains("vrrp.fifo: is a symbolic link"), "{rk_log}");
    if !require_daemon("notify_fifo_odd", Daemon::Keepalived) {
        return;
    }
    let (ka, ka_log) = odd_fifo_run(Daemon::Keepalived);
    eprintln!("keepalived {ka:#?}\n{ka_log}");
    // The same but for the file, which keepalived wrote into.
    assert_eq!(
        OddFifos {
            file: rk.file.clone(),
            ..ka
        },
        rk
    );
    assert!(
        ka.file.starts_with("INSTANCE \"VI_1\" BACKUP 150\n"),
        "keepalived no longer writes into a regular file ({:?}): update README",
        ka.file
    );
}

/// What a log says now: `FAULT`, or the effective priority last logged.
fn priority_or_fault(log: &str) -> String {
    let mut state = String::new();
    let mut prio = String::new();
    for l in log.lines() {
        if let Some(i) = l.find(") Entering ") {
            state = l[i + 11..]
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_string();
        }
        if l.contains("Changing effective priority from")
            || l.contains("Setting effective priority to")
        {
            prio = l.rsplit(' ').next().unwrap_or("").to_string();
        }
    }
    if state == "FAULT" { state } else { prio }
}

/// A `track_file` (weight -1, priority 150) fed numbers keepalived 2.2.7 takes and numbers
/// it ignores (out of `INT32_MIN..=INT32_MAX + 1`, or overflowing: `Invalid number N read
/// from PATH - ignoring`, the last value stays), against keepalived in the same run: after
/// each write, both are in FAULT or at the same priority, and they log the same ignored
/// numbers.
#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn track_file_numbers_out_of_range_are_ignored_like_keepalived() {
    if !ready("track_file_range") || !require_daemon("track_file_range", Daemon::Keepalived) {
        return;
    }
    let lan = Lan::new(&["k", "r"]);
    let dir = tempfile::tempdir().unwrap();
    let mut procs = vec![];
    for (node, daemon, vrid) in [
        ("k", Daemon::Keepalived, 75u8),
        ("r", Daemon::Rkeepalived, 76),
    ] {
        let file = dir.path().join(format!("prio.{node}"));
        std::fs::write(&file, "0").unwrap();
        let top = format!(
            "track_file tf {{\n  file {}\n  weight -1\n}}\n",
            file.display()
        );
        let c = conf(&lan, vrid, 150, &top, "  track_file {\n    tf\n  }\n").replace(
            &format!("{}/24", lan.ip(100)),
            &format!("{}/24", lan.ip(vrid + 25)),
        );
        procs.push((lan.node(node).spawn(daemon, &c), file));
    }
    let values = [
        "3",
        "99999999999999999999",
        "4",
        "-99999999999999999999",
        "5",
        "2147483648",
        "6",
        "-2147483649",
        "7",
        "4294967297",
        "8",
        "abc",
        "9",
    ];
    for (p, _) in &procs {
        p.expect_log("Entering BACKUP STATE", MOVE);
    }
    let mut seen: Vec<Vec<String>> = vec![vec![], vec![]];
    for v in values {
        for (_, f) in &procs {
            std::fs::write(f, v).unwrap();
        }
        // keepalived sees the write at once (inotify), rkeepalived within 100 ms.
        std::thread::sleep(Duration::from_millis(1200));
        for (i, (p, _)) in procs.iter().enumerate() {
            seen[i].push(format!("{v}: {}", priority_or_fault(&p.log())));
        }
    }
    let invalid = |p: &Proc, f: &Path| -> Vec<String> {
        p.log()
            .lines()
            .filter_map(|l| l.split_once(": Invalid number "))
            .map(|(_, m)| m.replace(&f.display().to_string(), "PATH"))
            .collect()
    };
    let (k, kf) = &procs[0];
    let (r, rf) = &procs[1];
    eprintln!("keepalived {:#?}\nrkeepalived {:#?}", seen[0], seen[1]);
    assert_eq!(
        seen[1],
        seen[0],
        "rkeepalived (left), keepalived (right)\n{}",
        r.log()
    );
    assert_eq!(invalid(r, rf), invalid(k, kf), "{}", r.log());
    assert_eq!(
        invalid(r, rf),
        [
            "9223372036854775807 read from PATH - ignoring",
            "-9223372036854775808 read from PATH - ignoring",
            "-2147483649 read from PATH - ignoring",
            "4294967297 read from PATH - ignoring",
        ]
    );
    // The ignored numbers left the last value: 3 and 4 and 6 and 7.
    assert_eq!(seen[1][1], "99999999999999999999: 147");
}

/// What one daemon did when its master's VIP was removed by hand.
#[derive(Debug)]
struct VipRemoval {
    /// From the removal until the master held the VIP again (ms).
    back_ms: Option<u128>,
    /// The backup held the VIP meanwhile.
    backup_took_it: bool,
    /// The master sent a priority-0 advert after the removal.
    priority_zero: bool,
    /// The master's log lines after the removal, without time stamps.
    lines: Vec<String>,
}

/// Two nodes (a at 150, b at 100, VRRPv2 1 s); a is master; the VIP is removed from a with
/// `ip addr del`; watched for 3 s.
fn vip_removal_run(daemon: Daemon) -> VipRemoval {
    let lan = Lan::new(&["a", "b"]);
    let vip = IpAddr::V4(lan.ip(100));
    let a = lan.node("a").spawn(daemon, &conf(&lan, 77, 150, "", ""));
    let b = lan.node("b").spawn(daemon, &conf(&lan, 77, 100, "", ""));
    expect_move(&lan, "a", Some("b"), vip, &[&a, &b]);
    let cap = lan.capture("a", "ip proto 112");
    std::thread::sleep(Duration::from_millis(1500));
    let before = a.log().lines().count();
    let t0 = std::time::SystemTime::now();
    let start = Instant::now();
    lan.node("a")
        .exec(&["ip", "addr", "del", &format!("{vip}/24"), "dev", "eth0"]);
    let mut back_ms = None;
    let mut backup_took_it = false;
    while start.elapsed() < Duration::from_secs(3) {
        backup_took_it |= holds(&lan, "b", vip);
        if back_ms.is_none() && holds(&lan, "a", vip) {
            back_ms = Some(start.elapsed().as_millis());
        }
        std::thread::sleep(STEP);
    }
    let a_src = IpAddr::V4(lan.addr("a"));
    let priority_zero = cap
        .adverts()
        .iter()
        .any(|ad| ad.src == a_src && ad.priority == 0 && ad.time >= t0);
    let lines = a
        .log()
        .lines()
        .skip(before)
        .filter(|l| !l.contains("gratuitous ARP"))
        .filter_map(|l| l.split_once(": ").map(|(_, m)| m.to_string()))
        .collect();
    VipRemoval {
        back_ms,
        backup_took_it,
        priority_zero,
        lines,
    }
}

/// A VIP removed by hand (`ip addr del`) from the master: keepalived 2.2.7 notices it
/// (`Netlink reflector reports IP ... removed from eth0`), leaves MASTER with a priority-0
/// advert and takes it back after its Skew_Time, VIP and GARPs included (0.42 s measured);
/// rkeepalived did nothing and kept advertising as master without the VIP (a black hole
/// that no backup would ever fill). Both now: the same lines, the VIP back on the master, the
/// backup never holding it.
#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn a_vip_removed_by_hand_on_the_master_comes_back_like_keepalived() {
    if !ready("vip_removed") {
        return;
    }
    let mut daemons = vec![Daemon::Rkeepalived];
    if require_daemon("vip_removed", Daemon::Keepalived) {
        daemons.push(Daemon::Keepalived);
    }
    let runs: Vec<(Daemon, VipRemoval)> = daemons
        .into_iter()
        .map(|d| (d, vip_removal_run(d)))
        .collect();
    for (d, r) in &runs {
        eprintln!("{}: {r:#?}", d.name());
        assert!(
            r.back_ms.is_some(),
            "{}: the VIP never came back: {r:#?}",
            d.name()
        );
        assert!(!r.backup_took_it, "{}: {r:#?}", d.name());
        assert!(
            r.priority_zero,
            "{}: no priority-0 advert: {r:#?}",
            d.name()
        );
    }
    let (_, rk) = &runs[0];
    let vip = rk.lines.first().cloned().unwrap_or_default();
    assert!(
        vip.starts_with("Netlink reflector reports IP ") && vip.ends_with(" removed from eth0"),
        "{rk:#?}"
    );
    // The same lines (the address differs between the two runs' namespaces).
    if let Some((_, ka)) = runs.get(1) {
        let norm = |v: &[String]| -> Vec<String> {
            v.iter()
                .map(|l| {
                    if l.starts_with("Netlink reflector reports IP ") {
                        "Netlink reflector reports IP VIP removed from eth0".to_string()
                    } else {
                        l.clone()
                    }
                })
                .filter(|l| {
                    !l.starts_with("Sending gratuitous ARP") && !l.contains("Sending/queueing")
                })
                .collect()
        };
        assert_eq!(norm(&rk.lines), norm(&ka.lines));
    }
}

/// A reload that changes a master's VIP in place (its prefix: the engine removes the address
/// and adds it again) is the engine's own doing: the master stays master.
#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn a_reload_that_replaces_a_vip_is_not_taken_for_a_removal() {
    if !ready("vip_replaced_by_reload") {
        return;
    }
    let lan = Lan::new(&["a"]);
    let vip = IpAddr::V4(lan.ip(100));
    let text = conf(&lan, 78, 150, "", "");
    let a = lan.node("a").spawn(Daemon::Rkeepalived, &text);
    assert!(
        wait_until(MOVE, STEP, || holds(&lan, "a", vip)).is_some(),
        "{}",
        a.log()
    );
    let before = a.log().lines().count();
    let edited = text.replace(&format!("{vip}/24"), &format!("{vip}/32"));
    assert_ne!(edited, text);
    let path = a.dir().join("keepalived.conf");
    let next = a.dir().join("keepalived.conf.next");
    std::fs::write(&next, edited).unwrap();
    std::fs::rename(&next, &path).unwrap();
    a.signal(libc::SIGHUP);
    std::thread::sleep(Duration::from_secs(3));
    let after: Vec<String> = a.log().lines().skip(before).map(str::to_owned).collect();
    let out = lan
        .node("a")
        .exec(&["ip", "-o", "addr", "show", "dev", "eth0"]);
    let addrs = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(addrs.contains(&format!("{vip}/32")), "{addrs}\n{after:#?}");
    assert!(
        !after
            .iter()
            .any(|l| l.contains("Entering BACKUP STATE") || l.contains("removed from")),
        "{after:#?}"
    );
}
