//! tshark, an independent decoder, reads rkeepalived's adverts off the wire as VRRP with a
//! good checksum (VRRPv3's covers the IPv4 pseudo-header, RFC 5798 §5.2.8).

use crate::support;

use std::net::IpAddr;
use std::time::Duration;
use support::{Daemon, Lan, require_daemon, require_root, require_tool, wait_until};

fn check(test: &str, version: u8, vrid: u8) {
    if !require_root(test)
        || !require_daemon(test, Daemon::Rkeepalived)
        || !require_tool(test, "tshark")
        || !require_tool(test, "tcpdump")
    {
        return;
    }
    let lan = Lan::new(&["a", "c"]);
    let vip = lan.ip(100);
    let auth = if version == 2 {
        "  authentication {\n    auth_type PASS\n    auth_pass abc\n  }\n"
    } else {
        ""
    };
    let conf = format!(
        "vrrp_instance VI_1 {{\n  state MASTER\n  interface eth0\n  virtual_router_id {vrid}\n  priority 200\n  version {version}\n  advert_int 1\n{auth}  virtual_ipaddress {{\n    {vip}/24\n  }}\n}}\n"
    );
    let capture = lan.capture("c", "ip proto 112");
    let a = lan.node("a").spawn(Daemon::Rkeepalived, &conf);
    assert!(
        wait_until(Duration::from_secs(10), Duration::from_millis(20), || lan
            .node("a")
            .has_addr(IpAddr::V4(vip)))
        .is_some(),
        "{}",
        a.log()
    );
    assert!(
        wait_until(
            Duration::from_secs(6),
            Duration::from_millis(50),
            || capture.adverts().len() >= 3
        )
        .is_some()
    );
    let mut capture = capture;
    capture.stop();
    let text = capture.tshark_verbose();
    let adverts = text.matches("Virtual Router Redundancy Protocol").count();
    assert!(
        adverts >= 3,
        "tshark decoded {adverts} VRRP packets:\n{text}"
    );
    // Every VRRP layer has a good checksum and the fields we sent.
    let vrrp_good = text
        .split("Virtual Router Redundancy Protocol")
        .skip(1)
        .filter(|layer| {
            let layer = layer.split("Frame ").next().unwrap_or("");
            layer.contains("[Checksum Status: Good]")
        });
    assert_eq!(
        vrrp_good.count(),
        adverts,
        "a VRRP checksum was not good:\n{text}"
    );
    assert!(
        text.contains(&format!("VRRP protocol version: {version}")),
        "{text}"
    );
    assert!(text.contains(&format!("Virtual Rtr ID: {vrid}")), "{text}");
    assert!(text.contains("Priority: 200"), "{text}");
    assert!(text.contains(&format!("IP Address: {vip}")), "{text}");
    assert!(text.contains("Time to Live: 255"), "{text}");
    if version == 2 {
        assert!(text.contains("Simple Text Authentication"), "{text}");
    }
    assert!(!text.contains("Checksum Status: Bad"), "{text}");
}

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn tshark_decodes_vrrpv2_adverts_with_a_good_checksum() {
    check("tshark_v2", 2, 71);
}

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn tshark_decodes_vrrpv3_adverts_with_a_good_checksum() {
    check("tshark_v3", 3, 72);
}
