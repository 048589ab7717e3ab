//! `lvs_sync_daemon` (global_defs) and the older `lvs_sync_daemon_interface` (vrrp_instance):
//! the IPVS connection-sync daemon follows the named VRRP instance — backup daemon while the
//! instance is backup, master daemon while it is master, none after exit — read back with
//! `ipvsadm -L --daemon` in a qemu VM (the host kernel has no IPVS) and compared with
//! keepalived 2.2.7 running the same file.

use crate::support;

use std::time::Duration;
use support::vm::{self, Vm};

/// The VRRP side: one instance on a veth in the guest, alone, so it becomes master after
/// Master_Down_Interval (3 × 2 s + skew with advert_int 2: long enough to see the backup daemon).
fn conf(global: &str, instance: &str) -> String {
    format!(
        "global_defs {{\n  router_id vm\n{global}}}\n\
         vrrp_instance VI_1 {{\n  state BACKUP\n  interface sd0\n  virtual_router_id 42\n  priority 100\n\
         \x20 advert_int 2\n{instance}  virtual_ipaddress {{\n    10.7.0.100/24\n  }}\n}}\n"
    )
}

const SCRIPT: &str = r#"
ip link add sd0 type veth peer name sd1
ip addr add 10.7.0.1/24 dev sd0
ip link set sd0 up; ip link set sd1 up
run_one() { # $1 tag, $2 config, then the daemon command line
  tag=$1; conf=$2; shift 2
  "$@" -f "$conf" >/tmp/daemon.log 2>&1 &
  pid=$!
  sleep 3
  echo "@@ $tag backup"; ipvsadm -L --daemon
  i=0; while [ $i -lt 200 ] && ! ip -4 addr show sd0 | grep -q 10.7.0.100; do sleep 0.1; i=$((i+1)); done
  sleep 1
  echo "@@ $tag master"; ipvsadm -L --daemon
  kill -TERM $pid; wait $pid
  echo "@@ $tag after"; ipvsadm -L --daemon
  echo "@@ $tag log"; cat /tmp/daemon.log
}
for conf in /conf/*; do
  name=$(basename "$conf")
  run_one "$name ka" "$conf" keepalived -n -l -D -P -p /tmp/ka.pid -c /tmp/kac.pid -r /tmp/kav.pid
  run_one "$name rk" "$conf" rkeepalived -n -l -D -P -p /tmp/rk.pid
done
"#;

#[test]
#[ignore = "needs root, qemu and a cloud kernel (scripts/test-all runs it)"]
fn vm_sync_daemon_follows_the_vrrp_instance_as_keepalived() {
    let test = "vm_sync_daemon_follows_the_vrrp_instance";
    let Some(vm) = Vm::with_rkeepalived(test) else {
        return;
    };
    let configs = [
        (
            "full",
            conf(
                "  lvs_sync_daemon sd0 VI_1 id 7 maxlen 1400 port 8850 ttl 2 group 224.0.0.90\n",
                "",
            ),
        ),
        // The old in-instance keyword; the sync id defaults to the VRID.
        ("old", conf("", "  lvs_sync_daemon_interface sd0\n")),
    ];
    let files: Vec<vm::GuestFile> = configs
        .iter()
        .map(|(name, text)| vm::GuestFile::new(&format!("/conf/{name}"), text.clone()))
        .collect();
    let out = vm.run_with(SCRIPT, &files, Duration::from_secs(300));
    eprintln!("{}", out.stdout);
    assert_eq!(out.exit_code, Some(0), "{}", out.console);
    let s = vm::sections(&out.stdout);
    for (name, _) in &configs {
        let get = |k: &str| {
            s.get(&format!("{name} {k}"))
                .unwrap_or_else(|| panic!("no section {name} {k}:\n{}", out.stdout))
                .clone()
        };
        let daemons = |tag: &str, phase: &str| {
            get(&format!("{tag} {phase}"))
                .lines()
                .filter(|l| l.contains("sync daemon"))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        for phase in ["backup", "master", "after"] {
            assert_eq!(
                daemons("rk", phase),
                daemons("ka", phase),
                "{name} {phase}: rkeepalived vs keepalived\nrk log:\n{}\nka log:\n{}",
                get("rk log"),
                get("ka log")
            );
        }
        let backup = daemons("rk", "backup");
        assert!(
            backup.len() == 1 && backup[0].starts_with("backup sync daemon"),
            "{name}: {backup:?}"
        );
        let master = daemons("rk", "master");
        assert!(
            master.len() == 1 && master[0].starts_with("master sync daemon"),
            "{name}: {master:?}"
        );
        assert!(daemons("rk", "after").is_empty(), "{name}");
    }
}

/// One instance on sd0 (`VI_1`, VIP 10.7.0.100, advert_int 1: master after about 3.6 s alone),
/// and with `two` a second one before it (`VI_0`, VIP 10.7.0.99); `VI_1` tracks sd2, so that
/// taking sd2 down puts it in FAULT.
fn reload_conf(global: &str, two: bool) -> String {
    let inst = |name: &str, vrid: u8, vip: &str, extra: &str| {
        format!(
            "vrrp_instance {name} {{\n  state BACKUP\n  interface sd0\n  virtual_router_id {vrid}\n\
             \x20 priority 100\n  advert_int 1\n{extra}  virtual_ipaddress {{\n    {vip}/24\n  }}\n}}\n"
        )
    };
    let first = if two {
        inst("VI_0", 41, "10.7.0.99", "")
    } else {
        String::new()
    };
    format!(
        "global_defs {{\n  router_id vm\n{global}}}\n{first}{}",
        inst(
            "VI_1",
            42,
            "10.7.0.100",
            "  track_interface {\n    sd2\n  }\n"
        )
    )
}

const RELOAD_SCRIPT: &str = r#"
ip link add sd0 type veth peer name sd1
ip link add sd2 type veth peer name sd3
ip addr add 10.7.0.1/24 dev sd0
for l in sd0 sd1 sd2 sd3; do ip link set $l up; done
daemons() { echo "@@ $1"; ipvsadm -L --daemon; }
wait_vip() { i=0; while [ $i -lt 300 ] && ! ip -4 addr show sd0 | grep -q "$1"; do sleep 0.1; i=$((i+1)); done; }
start() { # $1 tag, $2 config, then the daemon command line
  tag=$1; cp "$2" /etc/k.conf; shift 2
  "$@" -f /etc/k.conf >/tmp/daemon.log 2>&1 &
  pid=$!
}
reload() { # $1 the new file, renamed into place, then SIGHUP
  cp "$1" /etc/k.conf.new; mv /etc/k.conf.new /etc/k.conf; kill -HUP $pid; sleep 4
}
stop() {
  kill -TERM $pid; wait $pid
  daemons "$tag after"
  echo "@@ $tag log"; cat /tmp/daemon.log
  # Whatever a daemon left must not stand in the next one's way.
  ipvsadm --stop-daemon master 2>/dev/null; ipvsadm --stop-daemon backup 2>/dev/null
}
KA="keepalived -n -l -D -P -p /tmp/ka.pid -c /tmp/kac.pid -r /tmp/kav.pid"
RK="rkeepalived -n -l -D -P -p /tmp/rk.pid"
for who in ka rk; do
  if [ $who = ka ]; then cmd=$KA; else cmd=$RK; fi
  start "id $who" /conf/id1 $cmd
  wait_vip 10.7.0.100; sleep 1
  daemons "id $who id1"
  reload /conf/id2; daemons "id $who id2"
  reload /conf/none; daemons "id $who none"
  stop
  start "two $who" /conf/two $cmd
  wait_vip 10.7.0.99; wait_vip 10.7.0.100; sleep 1
  daemons "two $who master"
  reload /conf/id1
  echo "@@ two $who addrs"; ip -4 -o addr show sd0
  ip link set sd2 down; sleep 3
  daemons "two $who fault"
  ip link set sd2 up
  stop
done
# active_active (rkeepalived only; the IPVS side runs it: no -P), and both switches of form.
start "aa rk" /conf/aa1 rkeepalived -n -l -D -p /tmp/rk.pid
wait_vip 10.7.0.100; sleep 1
daemons "aa rk aa1"
reload /conf/aa2; daemons "aa rk aa2"
reload /conf/id3; daemons "aa rk id3"
reload /conf/aa4; daemons "aa rk aa4"
reload /conf/none; daemons "aa rk none"
stop
true
"#;

/// SIGHUP with a changed `lvs_sync_daemon`: rkeepalived applies the file at once. Each daemon
/// starts with `lvs_sync_daemon sd0 VI_1 id 1`, becomes MASTER, then the file says `id 2`, then
/// it has no `lvs_sync_daemon` (a reload each); rkeepalived runs the master daemon with sync id
/// 2, then none. Second row: `VI_0` before `VI_1` (followed, id 1), both MASTER; a reload
/// removes `VI_0`, then `VI_1`'s tracked link goes down: the daemon follows `VI_1` to FAULT
/// (backup daemon), wherever the removal moved it. Third row (rkeepalived only): `active_active`
/// id 1, id 2, the form following `VI_1` with id 3, `active_active` id 4, none.
///
/// keepalived 2.2.7, measured on the same files (`ipvsadm -L --daemon`, printed beside
/// rkeepalived's): `id 2` while MASTER, the same row as rkeepalived (`master sync daemon
/// (mcast=sd0, syncid=2, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)`; it logs
/// `Reinitializing ipvs`); `lvs_sync_daemon` removed, it keeps that master daemon running, and
/// leaves it in the kernel after it exits (rkeepalived stops it at the reload: no row). Second
/// row: the same rows as rkeepalived (master syncid 1, `VI_0`'s VIP gone, backup syncid 1 in
/// FAULT, none after exit), keepalived logging `IP_VS_SO_SET_STARTDAEMON ... Daemon has already
/// run(17)` at the reload.
#[test]
#[ignore = "needs root, qemu and a cloud kernel (scripts/test-all runs it)"]
fn vm_sync_daemon_follows_a_reload() {
    let test = "vm_sync_daemon_follows_a_reload";
    let Some(vm) = Vm::with_rkeepalived(test) else {
        return;
    };
    let files: Vec<vm::GuestFile> = [
        (
            "id1",
            reload_conf("  lvs_sync_daemon sd0 VI_1 id 1\n", false),
        ),
        (
            "id2",
            reload_conf("  lvs_sync_daemon sd0 VI_1 id 2\n", false),
        ),
        (
            "id3",
            reload_conf("  lvs_sync_daemon sd0 VI_1 id 3\n", false),
        ),
        ("none", reload_conf("", false)),
        (
            "two",
            reload_conf("  lvs_sync_daemon sd0 VI_1 id 1\n", true),
        ),
        (
            "aa1",
            reload_conf("  lvs_sync_daemon sd0 active_active id 1\n", false),
        ),
        (
            "aa2",
            reload_conf("  lvs_sync_daemon sd0 active_active id 2\n", false),
        ),
        (
            "aa4",
            reload_conf("  lvs_sync_daemon sd0 active_active id 4\n", false),
        ),
    ]
    .iter()
    .map(|(name, text)| vm::GuestFile::new(&format!("/conf/{name}"), text.clone()))
    .collect();
    let out = vm.run_with(RELOAD_SCRIPT, &files, Duration::from_secs(600));
    eprintln!("{}", out.stdout);
    assert_eq!(out.exit_code, Some(0), "{}", out.console);
    let s = vm::sections(&out.stdout);
    let get = |k: &str| {
        s.get(k)
            .unwrap_or_else(|| panic!("no section {k}:\n{}", out.stdout))
            .clone()
    };
    let daemons = |k: &str| {
        get(k)
            .lines()
            .filter(|l| l.contains("sync daemon"))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    // keepalived's rows beside rkeepalived's.
    for (row, phases) in [
        ("id", &["id1", "id2", "none", "after"][..]),
        ("two", &["master", "fault", "after"][..]),
    ] {
        for phase in phases {
            eprintln!(
                "{row} {phase}:\n  keepalived 2.2.7: {:?}\n  rkeepalived:      {:?}",
                daemons(&format!("{row} ka {phase}")),
                daemons(&format!("{row} rk {phase}"))
            );
        }
    }
    // Exactly these daemons: each `(role, syncid)` once.
    let expect = |k: &str, want: &[(&str, u8)]| {
        let got = daemons(k);
        let log = get(&format!("{} log", k.rsplit_once(' ').map_or(k, |(t, _)| t)));
        assert_eq!(got.len(), want.len(), "{k}: {got:?}\nlog:\n{log}");
        for (role, id) in want {
            assert!(
                got.iter().any(
                    |l| l.starts_with(&format!("{role} sync daemon")) && syncid(l) == Some(*id)
                ),
                "{k}: no {role} daemon with syncid {id}: {got:?}\nlog:\n{log}"
            );
        }
    };
    expect("id rk id1", &[("master", 1)]);
    expect("id rk id2", &[("master", 2)]);
    expect("id rk none", &[]);
    expect("id rk after", &[]);
    expect("two rk master", &[("master", 1)]);
    let addrs = get("two rk addrs");
    assert!(
        addrs.contains("10.7.0.100") && !addrs.contains("10.7.0.99"),
        "VI_0 removed, VI_1 kept: {addrs}\n{}",
        get("two rk log")
    );
    expect("two rk fault", &[("backup", 1)]);
    expect("two rk after", &[]);
    expect("aa rk aa1", &[("master", 1), ("backup", 1)]);
    expect("aa rk aa2", &[("master", 2), ("backup", 2)]);
    expect("aa rk id3", &[("master", 3)]);
    expect("aa rk aa4", &[("master", 4), ("backup", 4)]);
    expect("aa rk none", &[]);
    expect("aa rk after", &[]);
}

/// The `syncid=N` of an `ipvsadm -L --daemon` row, e.g. `master sync daemon (mcast=sd0,
/// syncid=2)`.
fn syncid(row: &str) -> Option<u8> {
    let rest = &row[row.find("syncid=")? + "syncid=".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}
