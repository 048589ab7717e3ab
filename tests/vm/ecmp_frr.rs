//! The ECMP lab of `ecmp` (docs/ecmp.md) with FRR on the router instead of BIRD: zebra, bgpd
//! with `maximum-paths 3` and bfdd (Debian package `frr`, its daemons run as root in the
//! router's namespace, one config file per daemon); the directors keep BIRD and rkeepalived.
//!
//! Checked: the three directors' paths are merged into one multipath route by FRR, new
//! connections through them all succeed; a director whose real servers all fail has its path
//! withdrawn at the router and it returns with them; a director's link going down is noticed
//! by FRR's bfdd (5 x 200 ms) well before the BGP hold time. Times are printed.

use crate::ecmp::{SETUP, director_bird, director_conf, figure};
use crate::support;

use std::time::Duration;
use support::vm::{GuestFile, Vm, sections};

/// zebra: no kernel nexthop objects, so that `ip route` lists the paths as `nexthop via`.
const ZEBRA: &str = "\
hostname r
log file /tmp/frr-zebra.log
no zebra nexthop kernel enable
";

/// bfdd: the lab's BFD timers as a profile bgpd names.
const BFDD: &str = "\
hostname r
log file /tmp/frr-bfdd.log
bfd
 profile lab
  detect-multiplier 5
  receive-interval 200
  transmit-interval 200
 exit
exit
";

/// bgpd: one peer group for the three directors (AS 65001), ECMP over three paths, BFD.
const BGPD: &str = "\
frr defaults traditional
hostname r
log file /tmp/frr-bgpd.log
router bgp 65000
 bgp router-id 10.0.1.254
 no bgp ebgp-requires-policy
 timers bgp 2 6
 neighbor D peer-group
 neighbor D remote-as 65001
 neighbor D timers connect 1
 neighbor D bfd
 neighbor D bfd profile lab
 neighbor 10.0.1.1 peer-group D
 neighbor 10.0.1.2 peer-group D
 neighbor 10.0.1.3 peer-group D
 address-family ipv4 unicast
  maximum-paths 3
 exit-address-family
exit
";

const START_FRR_ROUTER: &str = r#"
start_router() {
  mkdir -p /run/frr /var/tmp /var/lib/frr
  echo "frrvty:x:85:root" >> /etc/group # Debian's FRR wants its vty group, even as root
  for d in zebra bfdd bgpd; do
    ip netns exec r /usr/lib/frr/$d -d -u root -g root -f /etc/frr/$d.conf \
      || { echo "FRR $d failed to start"; exit 1; }
    sleep 1
  done
}
"#;

const PHASES: &str = r#"
echo "@@ TRAFFIC"
n=0; while [ $n -lt 30 ]; do get; n=$((n+1)); done | sort | uniq -c

echo "@@ RS_FAIL"
for n in 11 12 13; do ip -n d1 route add blackhole 10.0.1.$n/32; done
echo "withdrawn_cs $(wait_path 1 absent 3000)"
echo "paths $(paths)"
for n in 11 12 13; do ip -n d1 route del blackhole 10.0.1.$n/32; done
echo "returned_cs $(wait_path 1 present 3000)"

echo "@@ LINK"
ip -n d3 link set eth0 down
echo "withdrawn_cs $(wait_path 3 absent 3000)"
echo "paths $(paths)"

echo "@@ FRR"
for d in zebra bfdd bgpd; do echo "-- $d"; tail -n 20 /tmp/frr-$d.log; done
"#;

#[test]
#[ignore = "needs root, qemu and a cloud kernel (scripts/test-all runs it)"]
fn vm_ecmp_frr_router_merges_and_withdraws_the_directors_paths() {
    let Some(vm) = Vm::with_rkeepalived("vm_ecmp_frr") else {
        return;
    };
    let exe = std::env::current_exe().expect("current_exe");
    let mut files = vec![
        GuestFile::from_host("/usr/bin/vmtest", &exe),
        GuestFile::new("/etc/rk.conf", director_conf(false)),
        GuestFile::new("/etc/frr/zebra.conf", ZEBRA),
        GuestFile::new("/etc/frr/bfdd.conf", BFDD),
        GuestFile::new("/etc/frr/bgpd.conf", BGPD),
    ];
    for i in 1..=3 {
        files.push(GuestFile::new(
            &format!("/etc/bird/d{i}.conf"),
            director_bird(i),
        ));
    }
    let script = format!("{START_FRR_ROUTER}{SETUP}{PHASES}");
    let out = vm.run_with(&script, &files, Duration::from_secs(300));
    let s = &out.stdout;
    eprintln!("{s}\nboot {:?}, total {:?}", out.boot_time, out.total_time);
    out.assert_ok();
    let sec = sections(s);
    let get = |name: &str| {
        sec.get(name)
            .unwrap_or_else(|| panic!("no section {name}:\n{s}"))
            .as_str()
    };

    let start = get("START");
    for i in 1..=3 {
        assert!(start.contains(&format!("nexthop via 10.0.1.{i} ")), "{s}");
    }
    assert!(start.contains("proto bgp"), "{s}");
    let traffic = get("TRAFFIC");
    assert!(!traffic.contains("FAIL"), "{s}");
    for rs in ["s1", "s2", "s3"] {
        assert!(traffic.contains(rs), "{rs} served nothing:\n{s}");
    }

    let fail = get("RS_FAIL");
    let withdrawn = figure(fail, "withdrawn_cs ").unwrap_or_else(|| panic!("{s}"));
    assert!(withdrawn <= 500, "{s}");
    assert_eq!(figure(fail, "paths "), Some(2), "{s}");
    let returned = figure(fail, "returned_cs ").unwrap_or_else(|| panic!("{s}"));

    let link = get("LINK");
    let down = figure(link, "withdrawn_cs ").unwrap_or_else(|| panic!("{s}"));
    assert!(down <= 300, "{s}");
    assert_eq!(figure(link, "paths "), Some(2), "{s}");
    eprintln!(
        "ECMP FRR router: converged {} ms; withdrawal after real servers failed {} ms (back {} \
         ms after they returned), after link down (FRR bfdd) {} ms",
        figure(start, "converged_cs ").unwrap_or(0) * 10,
        withdrawn * 10,
        returned * 10,
        down * 10
    );
}
