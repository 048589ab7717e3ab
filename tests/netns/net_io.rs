//! The IO edges of `net` against the real kernel, inside two network namespaces joined by a
//! veth pair that each test creates and deletes itself.
//!
//! ```text
//!   netns <tag>a                                netns <tag>b
//!   <tag>va 10.213.0.1/24 (+ .3/24)  <--veth-->  <tag>vb 10.213.0.2/24
//! ```
//!
//! Our code runs on a dedicated thread that `setns()`-es into a namespace (setns only moves the
//! calling thread) with its own current-thread tokio runtime. A socket stays in the namespace it
//! was created in, so one thread can create sockets in both namespaces and drive them together.
//!
//! Needs root and iproute2 with `ip netns`: the tests are `#[ignore]`d, and fail when they are
//! asked for and cannot run.

use std::fs::File;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use nix::sched::{CloneFlags, setns};
use rkeepalived::net::garp::{ARP_PAYLOAD_LEN, ETH_P_ARP, ETHER_BROADCAST};
use rkeepalived::net::socket::VRRP_GROUP_V4;
use rkeepalived::net::{AddrOps, GarpTx, IfAddr, Netlink, PacketSocket, VrrpSocket};
use socket2::{Domain, Protocol, Socket, Type};

const A_ADDR: Ipv4Addr = Ipv4Addr::new(10, 213, 0, 1);
const A_ALT: Ipv4Addr = Ipv4Addr::new(10, 213, 0, 3);
const B_ADDR: Ipv4Addr = Ipv4Addr::new(10, 213, 0, 2);
const RECV_WAIT: Duration = Duration::from_secs(2);
/// How long we listen to conclude that something was *not* delivered.
const SILENCE_WAIT: Duration = Duration::from_millis(300);

// ---------------------------------------------------------------------------------------------
// Fixture

/// Why these tests cannot run here, if they cannot.
fn preflight() -> Option<String> {
    if !nix::unistd::Uid::effective().is_root() {
        return Some("not running as root".into());
    }
    match Command::new("ip").args(["netns", "list"]).output() {
        Ok(out) if out.status.success() => None,
        Ok(out) => Some(format!(
            "`ip netns list` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Some(format!("cannot run `ip`: {e}")),
    }
}

macro_rules! require_netns {
    () => {
        if let Some(reason) = preflight() {
            crate::support::skip("net_io", &reason);
            return;
        }
    };
}

/// Runs `ip ARGS`, returning stdout; panics with stderr on failure.
fn ip(args: &[&str]) -> String {
    let out = Command::new("ip")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run ip {args:?}: {e}"));
    assert!(
        out.status.success(),
        "ip {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Two namespaces and a veth pair between them; Drop deletes both namespaces (and with them
/// the veth), also when the test panics.
struct Pair {
    ns_a: String,
    ns_b: String,
    if_a: String,
    if_b: String,
}

impl Pair {
    fn new() -> Pair {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        // Unique per process and per test; interface names stay within 15 bytes.
        let tag = format!(
            "rk{}n{}",
            std::process::id() % 10_000_000,
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let pair = Pair {
            ns_a: format!("{tag}a"),
            ns_b: format!("{tag}b"),
            if_a: format!("{tag}va"),
            if_b: format!("{tag}vb"),
        };
        assert!(pair.if_a.len() <= 15, "interface name too long");
        let (a, b, va, vb) = (&pair.ns_a, &pair.ns_b, &pair.if_a, &pair.if_b);
        ip(&["netns", "add", a]);
        ip(&["netns", "add", b]);
        ip(&[
            "-n", a, "link", "add", va, "type", "veth", "peer", "name", vb, "netns", b,
        ]);
        ip(&["-n", a, "addr", "add", &format!("{A_ADDR}/24"), "dev", va]);
        ip(&["-n", a, "addr", "add", &format!("{A_ALT}/24"), "dev", va]);
        ip(&["-n", b, "addr", "add", &format!("{B_ADDR}/24"), "dev", vb]);
        for (ns, dev) in [(a, va), (b, vb)] {
            ip(&["-n", ns, "link", "set", "lo", "up"]);
            ip(&["-n", ns, "link", "set", dev, "up"]);
        }
        pair
    }

    /// `ip -o addr show dev` of A's veth.
    fn addrs_a(&self) -> String {
        ip(&["-n", &self.ns_a, "-o", "addr", "show", "dev", &self.if_a])
    }

    /// The line of `ip -o addr show` for `addr` (with its prefix), if present.
    fn addr_line_a(&self, addr_with_prefix: &str) -> Option<String> {
        let needle = format!(" {addr_with_prefix} ");
        self.addrs_a()
            .lines()
            .find(|l| l.contains(&needle))
            .map(str::to_owned)
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        for ns in [&self.ns_a, &self.ns_b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// Moves the calling thread into netns `ns`.
fn enter(ns: &str) {
    let f = File::open(format!("/run/netns/{ns}")).expect("open netns file");
    setns(f, CloneFlags::CLONE_NEWNET).expect("setns");
}

/// Runs `f` on a fresh thread (so `setns` there cannot leak into other tests) and propagates
/// its panic.
fn on_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    match std::thread::spawn(f).join() {
        Ok(v) => v,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn mac_of(ns: &str, dev: &str) -> [u8; 6] {
    let out = ip(&["-n", ns, "-o", "link", "show", "dev", dev]);
    let text = out
        .split("link/ether ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no link/ether in {out}"));
    let mut mac = [0u8; 6];
    for (byte, hex) in mac.iter_mut().zip(text.split(':')) {
        *byte = u8::from_str_radix(hex, 16).expect("hex");
    }
    mac
}

// ---------------------------------------------------------------------------------------------
// net::netlink

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn netlink_link_lookup() {
    require_netns!();
    let pair = Pair::new();
    let (ns_a, if_a) = (pair.ns_a.clone(), pair.if_a.clone());
    let expected_mac = mac_of(&pair.ns_a, &pair.if_a);
    let (info, missing) = on_thread(move || {
        enter(&ns_a);
        let nl = Netlink::new().unwrap();
        (nl.link(&if_a).unwrap(), nl.link("rknosuchif0").unwrap_err())
    });
    let ifindex_line = ip(&["-n", &pair.ns_a, "-o", "link", "show", "dev", &pair.if_a]);
    let ifindex: u32 = ifindex_line
        .split(':')
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(info.ifindex, ifindex);
    assert_eq!(info.mac, expected_mac);
    assert!(info.up, "veth with both ends up must be IFF_UP|IFF_RUNNING");
    assert_eq!(missing.errno(), Some(libc::ENODEV), "{missing}");
    assert!(missing.to_string().contains("rknosuchif0"), "{missing}");
}

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn netlink_ipv4_vip_add_del() {
    require_netns!();
    let pair = Pair::new();
    let label = format!("{}:v", pair.if_a);
    let vip = IfAddr {
        label: Some(label.clone()),
        ..IfAddr::host(IpAddr::V4(Ipv4Addr::new(10, 213, 0, 100)))
    };
    let with_brd = IfAddr {
        addr: IpAddr::V4(Ipv4Addr::new(10, 213, 5, 1)),
        prefix_len: 24,
        brd: Some(IpAddr::V4(Ipv4Addr::new(10, 213, 5, 255))),
        scope: 254, // RT_SCOPE_HOST
        label: None,
        peer: None,
    };

    let (ns_a, if_a) = (pair.ns_a.clone(), pair.if_a.clone());
    let nl = on_thread(move || {
        enter(&ns_a);
        let nl = Netlink::new().unwrap();
        let ifindex = nl.link(&if_a).unwrap().ifindex;
        (nl, ifindex)
    });
    // The handle keeps working from any thread: its socket lives in namespace A.
    let (nl, ifindex) = nl;

    assert_eq!(pair.addr_line_a("10.213.0.100/32"), None);
    nl.add_addr(ifindex, &vip).unwrap();
    let line = pair
        .addr_line_a("10.213.0.100/32")
        .expect("VIP on the interface after add_addr");
    assert!(line.contains("scope global"), "{line}");
    assert!(line.contains(&label), "label missing: {line}");
    // Adding again is fine (EEXIST tolerated) and changes nothing.
    nl.add_addr(ifindex, &vip).unwrap();
    assert_eq!(pair.addr_line_a("10.213.0.100/32"), Some(line));

    let dump = nl.addresses(ifindex).unwrap();
    let v4: Vec<_> = dump.iter().filter(|(a, _)| a.is_ipv4()).cloned().collect();
    assert_eq!(
        v4,
        vec![
            (IpAddr::V4(A_ADDR), 24),
            (IpAddr::V4(Ipv4Addr::new(10, 213, 0, 100)), 32),
            (IpAddr::V4(A_ALT), 24),
        ],
        "kernel order: primaries, then the secondary {A_ALT}"
    );
    let vip4 = Ipv4Addr::new(10, 213, 0, 100);
    assert_eq!(nl.primary_ipv4(ifindex, &[vip4]).unwrap(), Some(A_ADDR));
    assert_eq!(nl.primary_ipv4(ifindex, &[A_ADDR]).unwrap(), Some(vip4));

    nl.add_addr(ifindex, &with_brd).unwrap();
    let line = pair.addr_line_a("10.213.5.1/24").expect("second address");
    assert!(line.contains("brd 10.213.5.255"), "{line}");
    assert!(line.contains("scope host"), "{line}");

    nl.del_addr(ifindex, &vip).unwrap();
    assert_eq!(pair.addr_line_a("10.213.0.100/32"), None);
    // Deleting what is not there is fine (EADDRNOTAVAIL tolerated).
    nl.del_addr(ifindex, &vip).unwrap();
    nl.del_addr(ifindex, &with_brd).unwrap();
    assert_eq!(pair.addr_line_a("10.213.5.1/24"), None);
    assert!(
        !nl.addresses(ifindex)
            .unwrap()
            .contains(&(IpAddr::V4(vip4), 32))
    );
    // The configured addresses were left alone.
    assert!(pair.addr_line_a("10.213.0.1/24").is_some());

    // A real error carries the errno and what was attempted.
    let err = nl.add_addr(999_999, &vip).unwrap_err();
    assert_eq!(err.errno(), Some(libc::ENODEV), "{err}");
    assert!(err.to_string().contains("10.213.0.100/32"), "{err}");
    assert!(err.to_string().contains("999999"), "{err}");
}

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn netlink_ipv6_vip_is_not_tentative() {
    require_netns!();
    let pair = Pair::new();
    // Control: an address added without nodad on this link is tentative while DAD runs, so
    // the assertion below can tell the difference.
    ip(&[
        "-n",
        &pair.ns_a,
        "addr",
        "add",
        "fd00:213::200/64",
        "dev",
        &pair.if_a,
    ]);
    let control = pair.addr_line_a("fd00:213::200/64").unwrap();
    assert!(control.contains("tentative"), "control: {control}");

    let vip6 = IfAddr {
        prefix_len: 64,
        ..IfAddr::host(IpAddr::V6("fd00:213::100".parse::<Ipv6Addr>().unwrap()))
    };
    let (ns_a, if_a) = (pair.ns_a.clone(), pair.if_a.clone());
    let (nl, ifindex) = on_thread(move || {
        enter(&ns_a);
        let nl = Netlink::new().unwrap();
        let ifindex = nl.link(&if_a).unwrap().ifindex;
        (nl, ifindex)
    });
    nl.add_addr(ifindex, &vip6).unwrap();
    let line = pair
        .addr_line_a("fd00:213::100/64")
        .expect("IPv6 VIP added");
    assert!(line.contains("nodad"), "{line}");
    assert!(!line.contains("tentative"), "{line}");
    assert!(nl.addresses(ifindex).unwrap().contains(&(vip6.addr, 64)));
    nl.add_addr(ifindex, &vip6).unwrap();
    nl.del_addr(ifindex, &vip6).unwrap();
    assert_eq!(pair.addr_line_a("fd00:213::100/64"), None);
    nl.del_addr(ifindex, &vip6).unwrap();
}

// ---------------------------------------------------------------------------------------------
// net::socket

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn vrrp_socket_multicast_and_unicast() {
    require_netns!();
    let pair = Pair::new();
    let (ns_a, ns_b) = (pair.ns_a.clone(), pair.ns_b.clone());
    let (if_a, if_b) = (pair.if_a.clone(), pair.if_b.clone());
    on_thread(move || {
        let rt = runtime();
        rt.block_on(async {
            use tokio::time::timeout;
            enter(&ns_a);
            // A fixes its source to its secondary address: the IP_PKTINFO path.
            let sa = VrrpSocket::open(&if_a, Some(A_ALT), Some(VRRP_GROUP_V4)).unwrap();
            enter(&ns_b);
            let sb = VrrpSocket::open(&if_b, None, Some(VRRP_GROUP_V4)).unwrap();
            // Unicast mode: bound to B's address, joins nothing.
            let sb_uni = VrrpSocket::open(&if_b, Some(B_ADDR), None).unwrap();
            let mut buf = [0u8; 1500];

            // A VRRPv3-shaped message; the socket layer treats it as opaque bytes.
            let advert: [u8; 12] = [
                0x31, 0x07, 0x64, 0x01, 0x00, 0x64, 0x12, 0x34, 10, 213, 0, 100,
            ];
            sa.send_to(&advert, VRRP_GROUP_V4).await.unwrap();
            let got = timeout(RECV_WAIT, sb.recv(&mut buf))
                .await
                .expect("B receives A's multicast")
                .unwrap();
            assert_eq!(got.src, A_ALT);
            assert_eq!(got.dst, VRRP_GROUP_V4);
            assert_eq!(got.ttl, 255);
            assert_eq!(&buf[..got.len], &advert);

            // Unicast to B: both of B's sockets see it, the bound one included.
            let unicast: [u8; 9] = [0x21, 0x2a, 0xfe, 0x01, 0x01, 0x01, 0, 0, 0x5a];
            sa.send_to(&unicast, B_ADDR).await.unwrap();
            for sock in [&sb, &sb_uni] {
                let got = timeout(RECV_WAIT, sock.recv(&mut buf))
                    .await
                    .expect("B receives A's unicast")
                    .unwrap();
                assert_eq!((got.src, got.dst, got.ttl), (A_ALT, B_ADDR, 255));
                assert_eq!(&buf[..got.len], &unicast);
            }

            // B sends to the group; A gets it (source chosen by the kernel: B's primary),
            // B's own socket does not (IP_MULTICAST_LOOP off), and the unicast-mode socket,
            // bound to B's address, never sees group traffic.
            let from_b: [u8; 8] = [0x31, 0x07, 0x0a, 0x01, 0x00, 0x64, 0xab, 0xcd];
            sb.send_to(&from_b, VRRP_GROUP_V4).await.unwrap();
            let got = timeout(RECV_WAIT, sa.recv(&mut buf))
                .await
                .expect("A receives B's multicast")
                .unwrap();
            assert_eq!((got.src, got.dst, got.ttl), (B_ADDR, VRRP_GROUP_V4, 255));
            assert_eq!(&buf[..got.len], &from_b);
            let mut buf2 = [0u8; 1500];
            let (own, uni) = tokio::join!(
                timeout(SILENCE_WAIT, sb.recv(&mut buf)),
                timeout(SILENCE_WAIT, sb_uni.recv(&mut buf2)),
            );
            assert!(own.is_err(), "B received its own multicast: {own:?}");
            assert!(
                uni.is_err(),
                "unicast-mode socket got group traffic: {uni:?}"
            );

            // The non-blocking AdvertTx path sends too.
            use rkeepalived::net::AdvertTx;
            sa.send_advert(&advert, B_ADDR).unwrap();
            let got = timeout(RECV_WAIT, sb_uni.recv(&mut buf))
                .await
                .expect("B receives send_advert")
                .unwrap();
            assert_eq!(&buf[..got.len], &advert);
        });
    });
}

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn vrrp_socket_open_errors_name_the_step() {
    require_netns!();
    let pair = Pair::new();
    let (ns_a, if_a) = (pair.ns_a.clone(), pair.if_a.clone());
    on_thread(move || {
        let rt = runtime();
        rt.block_on(async {
            enter(&ns_a);
            let err = VrrpSocket::open("rknosuchif0", None, Some(VRRP_GROUP_V4)).unwrap_err();
            assert_eq!(err.errno(), Some(libc::ENODEV), "{err}");
            assert!(err.to_string().contains("rknosuchif0"), "{err}");
            // Unicast mode binds to the source: a foreign address is refused.
            let err =
                VrrpSocket::open(&if_a, Some(Ipv4Addr::new(10, 213, 9, 9)), None).unwrap_err();
            assert_eq!(err.errno(), Some(libc::EADDRNOTAVAIL), "{err}");
            assert!(err.to_string().contains("bind 10.213.9.9"), "{err}");
        });
    });
}

// ---------------------------------------------------------------------------------------------
// net::garp

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn garp_is_broadcast_to_the_peer() {
    require_netns!();
    let pair = Pair::new();
    let (ns_a, ns_b) = (pair.ns_a.clone(), pair.ns_b.clone());
    let if_a = pair.if_a.clone();
    let mac_a = mac_of(&pair.ns_a, &pair.if_a);
    let vip = Ipv4Addr::new(10, 213, 0, 100);

    let (sent, frame) = on_thread(move || {
        // Listener in B: every ARP frame with its Ethernet header (SOCK_RAW).
        enter(&ns_b);
        let listener = Socket::new(
            Domain::PACKET,
            Type::RAW,
            Some(Protocol::from(i32::from(ETH_P_ARP.to_be()))),
        )
        .unwrap();
        listener
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();

        enter(&ns_a);
        let ifindex = Netlink::new().unwrap().link(&if_a).unwrap().ifindex;
        // Gratuitous ARP request (RFC 5227 announcement shape): sender = target = VIP.
        let mut arp = Vec::with_capacity(ARP_PAYLOAD_LEN);
        arp.extend_from_slice(&[0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01]);
        arp.extend_from_slice(&mac_a);
        arp.extend_from_slice(&vip.octets());
        arp.extend_from_slice(&[0; 6]);
        arp.extend_from_slice(&vip.octets());
        assert_eq!(arp.len(), ARP_PAYLOAD_LEN);
        PacketSocket::open()
            .unwrap()
            .send_garp(ifindex, &arp)
            .unwrap();

        // Bounded wait: at most 3 s and 50 frames.
        let deadline = Instant::now() + Duration::from_secs(3);
        let mut frame = [0u8; 1514];
        for _ in 0..50 {
            if Instant::now() > deadline {
                break;
            }
            match (&listener).read(&mut frame) {
                Ok(n) if n >= 14 + ARP_PAYLOAD_LEN && frame[28..32] == vip.octets() => {
                    return (arp, frame[..n].to_vec());
                }
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("capture in B: {e}"),
            }
        }
        panic!("no ARP frame for {vip} seen in B");
    });
    assert_eq!(&frame[0..6], &ETHER_BROADCAST, "Ethernet destination");
    assert_eq!(&frame[6..12], &mac_a, "Ethernet source = A's veth MAC");
    assert_eq!(&frame[12..14], &ETH_P_ARP.to_be_bytes(), "ethertype ARP");
    assert_eq!(
        &frame[14..14 + ARP_PAYLOAD_LEN],
        &sent[..],
        "ARP payload as sent"
    );
    assert_eq!(&frame[22..28], &mac_a, "ARP sender MAC");
    assert_eq!(&frame[28..32], &vip.octets(), "ARP sender IP = the VIP");
}
