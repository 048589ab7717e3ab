//! The bodies of the fuzz targets: each takes arbitrary bytes to one decoder that reads bytes
//! from outside the daemon and checks what must hold for every input (no panic, bounded
//! work, and where an encoder exists, that what decodes re-encodes to an equal value).
//!
//! Shared by the cargo-fuzz targets (`fuzz_targets/*.rs`, nightly) and by
//! `tests/fuzz_replay.rs`, which runs every saved input of `fuzz/corpus/` and
//! `fuzz/regressions/` on stable in CI.

#![allow(dead_code)]

use std::net::{IpAddr, Ipv6Addr};
use std::path::Path;

use rkeepalived::wire::{arp, ndisc, vrrp};

/// A VRRP advert as a raw IPv4 socket hands it over: IP header included.
pub fn vrrp_ipv4(data: &[u8]) {
    let Ok((hdr, payload)) = vrrp::split_ipv4(data) else {
        return;
    };
    vrrp_payload(payload, IpAddr::V4(hdr.src), IpAddr::V4(hdr.dst));
}

/// A VRRPv3 advert as a raw IPv6 socket hands it over (no IP header): the first 32 bytes of
/// the input are the source and destination addresses the socket reports.
pub fn vrrp_ipv6(data: &[u8]) {
    if data.len() < 32 {
        return;
    }
    let src = Ipv6Addr::from(<[u8; 16]>::try_from(&data[..16]).unwrap());
    let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&data[16..32]).unwrap());
    vrrp_payload(&data[32..], IpAddr::V6(src), IpAddr::V6(dst));
}

fn vrrp_payload(payload: &[u8], src: IpAddr, dst: IpAddr) {
    let Ok(packet) = vrrp::Packet::new_checked(payload) else {
        return;
    };
    let Ok(repr) = vrrp::Repr::parse(&packet, src, dst) else {
        return;
    };
    // What decodes re-encodes to an advert that decodes to the same value.
    if repr.addresses.iter().all(|a| a.is_ipv4() == src.is_ipv4()) {
        let mut buf = vec![0u8; repr.buffer_len()];
        let mut out = vrrp::Packet::new_unchecked(&mut buf[..]);
        repr.emit(&mut out, src, dst);
        let again = vrrp::Repr::parse(&vrrp::Packet::new_unchecked(&buf[..]), src, dst)
            .expect("a re-encoded advert decodes");
        assert_eq!(again, repr);
    }
}

/// An ARP frame or payload from the AF_PACKET socket.
pub fn arp(data: &[u8]) {
    let _ = arp::parse(data);
    let _ = arp::parse_frame(data);
    let _ = arp::parse_payload(data);
}

/// An ICMPv6 neighbour advertisement (first 32 bytes: source and destination addresses).
pub fn ndisc(data: &[u8]) {
    if data.len() < 32 {
        return;
    }
    let src = Ipv6Addr::from(<[u8; 16]>::try_from(&data[..16]).unwrap());
    let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&data[16..32]).unwrap());
    let Ok(packet) = ndisc::Packet::new_checked(&data[32..]) else {
        return;
    };
    let _ = ndisc::Repr::parse(&packet, src, dst);
}

/// Generic netlink attributes of an IPVS reply (a service, a destination, a sync daemon).
pub fn genl(data: &[u8]) {
    use rkeepalived::ipvs::genl::codec as genl;
    let _ = genl::parse_attrs(data);
    let _ = genl::decode_service(data);
    let _ = genl::decode_dest(data, libc_af(data));
    let _ = genl::decode_daemon(data);
}

fn libc_af(data: &[u8]) -> u16 {
    if data.first().is_some_and(|b| b & 1 == 1) {
        10 // AF_INET6
    } else {
        2 // AF_INET
    }
}

/// The body of an rtnetlink `RTM_NEWLINK`/`RTM_NEWADDR` notification.
pub fn rtnl(data: &[u8]) {
    let _ = rkeepalived::net::link_monitor::decode_link(data, true);
    let _ = rkeepalived::net::addr_monitor::decode_addr(data, true);
}

/// A configuration file: lexer (comments, quotes, `$VAR`, `~SEQ`, `@id`, braces) and parser.
/// `include` is disarmed (the input must not make the fuzzer read the host's files).
pub fn config(data: &[u8]) {
    let text = String::from_utf8_lossy(data).replace("include", "inclXde");
    let opts = rkeepalived::config::parser::LoadOptions {
        config_id: "fuzz".into(),
        ..Default::default()
    };
    let _ =
        rkeepalived::config::parser::load_str(Path::new("/nonexistent/fuzz.conf"), &text, &opts);
}

/// An HTTP response read by HTTP_GET / SSL_GET (and `--genhash`).
pub fn http(data: &[u8]) {
    let _ = rkeepalived::check::http::parse_response(data);
}

/// A DNS reply read by DNS_CHECK: the first two bytes are taken as the query id too, so that
/// inputs get past the id comparison.
pub fn dns(data: &[u8]) {
    let id = match data {
        [a, b, ..] => u16::from_be_bytes([*a, *b]),
        _ => 0,
    };
    let _ = rkeepalived::check::dns::check_response(id, data);
}

/// A target's body.
pub type Body = fn(&[u8]);

/// Every target by name, for the replay test.
pub const TARGETS: &[(&str, Body)] = &[
    ("vrrp_ipv4", vrrp_ipv4),
    ("vrrp_ipv6", vrrp_ipv6),
    ("arp", arp),
    ("ndisc", ndisc),
    ("genl", genl),
    ("rtnl", rtnl),
    ("config", config),
    ("http", http),
    ("dns", dns),
];
