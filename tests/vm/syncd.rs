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
