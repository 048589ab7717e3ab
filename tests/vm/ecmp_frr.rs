//! The ECMP lab of `ecmp` (docs/ecmp.md) with FRR instead of BIRD on the router (zebra, bgpd
//! with `maximum-paths 3`, bfdd) and on director d1 (zebra's `ip import-table 100` takes
//! rkeepalived's `announce_route` routes, bgpd `redistribute table 100` announces them); d2
//! and d3 keep BIRD. Debian package `frr`; its daemons run as root, one config file each, one
//! path space (`-N`) per namespace.
//!
//! Checked: the three directors' paths are merged into one multipath route by FRR, new
//! connections through them all succeed; d1 (FRR) whose real servers all fail has its path
//! withdrawn at the router and it returns with them; so after `kill -9` of its rkeepalived
//! daemon (the supervisor releases the route); d3's link going down is noticed by the
//! router's bfdd (5 x 200 ms) well before the BGP hold time. Times are printed.

use crate::ecmp::{SETUP, START_BIRD, director_bird, director_conf, figure};
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

/// d1's zebra: rkeepalived's table 100 imported (its routes become `table` routes).
const D1_ZEBRA: &str = "\
hostname d1
log file /tmp/frr-d1-zebra.log
ip import-table 100
";

/// d1's bfdd.
const D1_BFDD: &str = "\
hostname d1
log file /tmp/frr-d1-bfdd.log
bfd
 profile lab
  detect-multiplier 5
  receive-interval 200
  transmit-interval 200
 exit
exit
";

/// d1's bgpd: the imported table redistributed to the router, nothing else, with origin IGP
/// as BIRD's directors send it (a redistributed route is `incomplete`, and the router would
/// prefer the BIRD directors' paths to it instead of adding it to the multipath).
const D1_BGPD: &str = "\
frr defaults traditional
hostname d1
log file /tmp/frr-d1-bgpd.log
router bgp 65001
 bgp router-id 10.0.1.1
 no bgp ebgp-requires-policy
 timers bgp 2 6
 neighbor 10.0.1.254 remote-as 65000
 neighbor 10.0.1.254 timers connect 1
 neighbor 10.0.1.254 bfd
 neighbor 10.0.1.254 bfd profile lab
 address-family ipv4 unicast
  redistribute table 100 route-map rk
 exit-address-family
exit
route-map rk permit 10
 set origin igp
exit
";

/// FRR on the router and on d1 (each its own path space, `-N`: sockets under
/// `/run/frr/NS/`); d2 and d3 run BIRD.
const START_FRR: &str = r#"
frr() { # $1 namespace, $2 config directory
  mkdir -p /run/frr/$1 /var/tmp /var/lib/frr
  for d in zebra bfdd bgpd; do
    ip netns exec $1 /usr/lib/frr/$d -d -N $1 -u root -g root -f $2/$d.conf       || { echo "FRR $d in $1 failed to start"; exit 1; }
    sleep 1
  done
}
echo "frrvty:x:85:root" >> /etc/group # Debian's FRR wants its vty group, even as root
start_router() { frr r /etc/frr; }
start_director() {
  if [ $1 = 1 ]; then
    # The VIP as a local route, not an address: zebra would prefer the address's connected
    # route to the imported table-100 route and redistribute nothing.
    ip -n d1 addr del $VIP/32 dev lo
    ip -n d1 route add local $VIP/32 dev lo table local
    frr d1 /etc/frr/d1
  else
    bird_director $1
  fi
}
"#;

const PHASES: &str = r#"
echo "@@ TRAFFIC"
n=0; while [ $n -lt 30 ]; do get; n=$((n+1)); done | sort | uniq -c

echo "@@ RS_FAIL"
for n in 11 12 13; do ip -n d1 route add blackhole 10.0.1.$n/32; done
echo "withdrawn_cs $(wait_path 1 absent 3000)"
echo "paths $(seen_paths)"
for n in 11 12 13; do ip -n d1 route del blackhole 10.0.1.$n/32; done
echo "returned_cs $(wait_path 1 present 3000)"

echo "@@ KILL"
kill -9 $(cat /run/rk-d1-c.pid)
echo "withdrawn_cs $(wait_path 1 absent 3000)"
echo "paths $(seen_paths)"
echo "returned_cs $(wait_path 1 present 3000)"

echo "@@ LINK"
ip -n d3 link set eth0 down
echo "withdrawn_cs $(wait_path 3 absent 3000)"
echo "paths $(seen_paths)"

echo "@@ FRR"
ip -n d1 route show table all | grep 10.0.9.1
for d in zebra bfdd bgpd d1-zebra d1-bfdd d1-bgpd; do echo "-- $d"; tail -n 20 /tmp/frr-$d.log; done
"#;

#[test]
#[ignore = "needs root, qemu and a cloud kernel (scripts/test-all runs it)"]
fn vm_ecmp_frr_router_and_director_merge_and_withdraw_paths() {
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
        GuestFile::new("/etc/frr/d1/zebra.conf", D1_ZEBRA),
        GuestFile::new("/etc/frr/d1/bfdd.conf", D1_BFDD),
        GuestFile::new("/etc/frr/d1/bgpd.conf", D1_BGPD),
    ];
    for i in 1..=3 {
        files.push(GuestFile::new(
            &format!("/etc/bird/d{i}.conf"),
            director_bird(i),
        ));
    }
    // BIRD's start_director stays as bird_director.
    let bird = START_BIRD.replace("start_director()", "bird_director()");
    let script = format!("{bird}{START_FRR}{SETUP}{PHASES}");
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

    // kill -9 of d1's daemon: the supervisor releases the route, zebra sees it go, bgpd
    // withdraws it; the restarted daemon announces it again.
    let kill = get("KILL");
    let killed = figure(kill, "withdrawn_cs ").unwrap_or_else(|| panic!("{s}"));
    assert!(killed <= 500, "{s}");
    assert_eq!(figure(kill, "paths "), Some(2), "{s}");
    let rekilled = figure(kill, "returned_cs ").unwrap_or_else(|| panic!("{s}"));

    let link = get("LINK");
    let down = figure(link, "withdrawn_cs ").unwrap_or_else(|| panic!("{s}"));
    assert!(down <= 300, "{s}");
    assert_eq!(figure(link, "paths "), Some(2), "{s}");
    eprintln!(
        "ECMP FRR router and d1: converged {} ms; d1's path withdrawn after its real servers \
         failed {} ms (back {} ms after they returned), after kill -9 of its daemon {} ms (back \
         {} ms later); d3's after its link went down (FRR bfdd) {} ms",
        figure(start, "converged_cs ").unwrap_or(0) * 10,
        withdrawn * 10,
        returned * 10,
        killed * 10,
        rekilled * 10,
        down * 10
    );
}
