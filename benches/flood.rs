//! CPU of a VRRP master under a flood of bad adverts, rkeepalived and keepalived side by side
//! in the same run (issue 10).
//!
//! ```text
//! cargo bench --bench flood                     # 10 s per flood, 50,000 adverts/s
//! FLOOD_SECS=20 FLOOD_RATE=20000 cargo bench --bench flood
//! ```
//!
//! For each daemon: fresh namespaces (master `a` priority 150, backup `b` priority 100, sender
//! `c`, see `tests/support/mod.rs`), VRRPv2 VRID 51 with `auth_pass 1111`. Once `a` holds the
//! VIP and `b` is backup, `c` sends, from a raw socket, `FLOOD_RATE` adverts per second for
//! `FLOOD_SECS` seconds of each kind:
//!
//! * `bad checksum`: a well-formed advert for VRID 51 at priority 200 with its checksum off;
//! * `TTL 64`: the same advert with a valid checksum and IP TTL 64 (RFC 5798 §7.1 drops it).
//!
//! and measures, per window:
//!
//! * the master's CPU: utime + stime of every process of the daemon (keepalived's VRRP child
//!   included) from `/proc/PID/stat`, over the window, in % of one core;
//! * whether both `a` and `b` held the VIP at once at any sample (every 100 ms): split brain;
//! * how much the master's log grew (bytes), and the rate `c` achieved.
//!
//! An idle window (no flood) gives the baseline. Every packet stays inside the namespaces;
//! the sender stops by itself at the end of each window. Needs root and network namespaces.

#[path = "../tests/support/mod.rs"]
mod support;

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};
use support::{Daemon, Lan, Proc};

fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn conf(priority: u8, vip: Ipv4Addr) -> String {
    format!(
        "global_defs {{\n  router_id flood\n}}\n\
         vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n\
         \x20 priority {priority}\n  advert_int 1\n\
         \x20 authentication {{\n    auth_type PASS\n    auth_pass 1111\n  }}\n\
         \x20 virtual_ipaddress {{\n    {vip}/24 dev eth0\n  }}\n}}\n"
    )
}

/// A VRRPv2 advert for VRID 51, priority 200, one address `vip`, PASS `1111`, built by the
/// project's codec (`wire::vrrp::Repr::emit`); checksum off by one when `bad_checksum`.
fn advert(vip: Ipv4Addr, bad_checksum: bool) -> Vec<u8> {
    use rkeepalived::units::{Centiseconds, Priority, Version, Vrid};
    use rkeepalived::wire::vrrp::{Auth, Packet, Repr};
    let repr = Repr {
        version: Version::V2,
        vrid: Vrid::new(51).expect("non-zero VRID"),
        priority: Priority(200),
        max_advert_int: Centiseconds(100),
        addresses: vec![IpAddr::V4(vip)],
        auth: Auth::Pass(*b"1111\0\0\0\0"),
    };
    let mut buf = vec![0u8; repr.buffer_len()];
    let any = IpAddr::V4(Ipv4Addr::UNSPECIFIED); // VRRPv2 has no pseudo-header
    let mut packet = Packet::new_unchecked(&mut buf[..]);
    repr.emit(&mut packet, any, any);
    if bad_checksum {
        let c = packet.checksum() ^ 1;
        packet.set_checksum(c);
    }
    buf
}

/// Sends `packet` to 224.0.0.18 from `src` with IP TTL `ttl`, `rate` per second for `secs`,
/// from inside namespace `ns`; returns the number sent. Paced in 1 ms steps.
fn flood(ns: &str, src: Ipv4Addr, packet: Vec<u8>, ttl: u8, rate: u32, secs: u64) -> u64 {
    support::in_ns(ns, move || {
        // SAFETY: plain socket calls on a descriptor this closure owns and closes.
        unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_RAW, 112);
            assert!(fd >= 0, "raw socket: {}", std::io::Error::last_os_error());
            let ttl = libc::c_int::from(ttl);
            libc::setsockopt(
                fd,
                libc::IPPROTO_IP,
                libc::IP_MULTICAST_TTL,
                (&ttl as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as u32,
            );
            let ifaddr = libc::in_addr {
                s_addr: u32::from_ne_bytes(src.octets()),
            };
            libc::setsockopt(
                fd,
                libc::IPPROTO_IP,
                libc::IP_MULTICAST_IF,
                (&ifaddr as *const libc::in_addr).cast(),
                std::mem::size_of::<libc::in_addr>() as u32,
            );
            let dst = libc::sockaddr_in {
                sin_family: libc::AF_INET as u16,
                sin_port: 0,
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes([224, 0, 0, 18]),
                },
                sin_zero: [0; 8],
            };
            let start = Instant::now();
            let end = Duration::from_secs(secs);
            let mut sent = 0u64;
            while start.elapsed() < end {
                let due = (start.elapsed().as_secs_f64() * f64::from(rate)) as u64;
                while sent < due {
                    libc::sendto(
                        fd,
                        packet.as_ptr().cast(),
                        packet.len(),
                        0,
                        (&dst as *const libc::sockaddr_in).cast(),
                        std::mem::size_of::<libc::sockaddr_in>() as u32,
                    );
                    sent += 1;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            libc::close(fd);
            sent
        }
    })
    .join()
    .expect("sender thread")
}

/// utime + stime, in seconds, of every process whose process group is `pgid`.
fn cpu_secs(pgid: u32) -> f64 {
    let tck = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let mut ticks = 0u64;
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        if f.len() > 12 && f[2].parse::<u32>() == Ok(pgid) {
            ticks += f[11].parse::<u64>().unwrap_or(0) + f[12].parse::<u64>().unwrap_or(0);
        }
    }
    ticks as f64 / tck
}

struct Window {
    what: &'static str,
    cpu_pct: f64,
    both_held: bool,
    log_bytes: usize,
    rate: f64,
}

/// Runs the flood (or idles when `packet` is `None`) and samples the VIP holders meanwhile.
fn window(
    lan: &Lan,
    a: &Proc,
    what: &'static str,
    packet: Option<(Vec<u8>, u8)>,
    rate: u32,
    secs: u64,
) -> Window {
    let vip = IpAddr::V4(lan.ip(100));
    let log0 = a.log().len();
    let cpu0 = cpu_secs(a.pid);
    let t0 = Instant::now();
    let sender = packet.map(|(p, ttl)| {
        let ns = lan.node("c").ns.clone();
        let src = lan.node("c").addr;
        std::thread::spawn(move || flood(&ns, src, p, ttl, rate, secs))
    });
    let mut both = false;
    while t0.elapsed() < Duration::from_secs(secs) {
        if lan.node("a").has_addr(vip) && lan.node("b").has_addr(vip) {
            both = true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let sent = sender.map_or(0, |s| s.join().expect("sender"));
    let elapsed = t0.elapsed().as_secs_f64();
    let cpu = cpu_secs(a.pid) - cpu0;
    Window {
        what,
        cpu_pct: 100.0 * cpu / elapsed,
        both_held: both,
        log_bytes: a.log().len().saturating_sub(log0),
        rate: sent as f64 / elapsed,
    }
}

fn run(daemon: Daemon, rate: u32, secs: u64) -> Result<Vec<Window>, String> {
    daemon.binary()?;
    let lan = Lan::new(&["a", "b", "c"]);
    let vip = lan.ip(100);
    let a = lan.node("a").spawn(daemon, &conf(150, vip));
    let b = lan.node("b").spawn(daemon, &conf(100, vip));
    lan.expect_addr("a", IpAddr::V4(vip), Duration::from_secs(15), &a);
    b.expect_log("Entering BACKUP STATE", Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(2));
    let mut out = vec![window(&lan, &a, "idle", None, rate, secs.min(5))];
    for (what, bad_checksum, ttl) in [("bad checksum", true, 255), ("TTL 64", false, 64)] {
        out.push(window(
            &lan,
            &a,
            what,
            Some((advert(vip, bad_checksum), ttl)),
            rate,
            secs,
        ));
        // Let a split brain settle (b hears a again and steps down) before the next flood.
        support::wait_until(Duration::from_secs(10), Duration::from_millis(100), || {
            !lan.node("b").has_addr(IpAddr::V4(vip))
        });
    }
    Ok(out)
}

fn main() {
    if !support::require_root("flood bench") {
        return;
    }
    let rate: u32 = env_number("FLOOD_RATE", 50_000);
    let secs: u64 = env_number("FLOOD_SECS", 10);
    println!("VRRP master under {rate} bad adverts/s, {secs} s per flood (CPU: % of one core)");
    println!(
        "{:<12} {:<13} {:>9} {:>11} {:>12} {:>10}",
        "daemon", "flood", "sent/s", "master CPU", "log growth", "both VIP"
    );
    for daemon in Daemon::ALL {
        match run(daemon, rate, secs) {
            Err(why) => println!("{:<12} skipped: {why}", daemon.name()),
            Ok(rows) => {
                for w in rows {
                    println!(
                        "{:<12} {:<13} {:>9.0} {:>10.1}% {:>11}B {:>10}",
                        daemon.name(),
                        w.what,
                        w.rate,
                        w.cpu_pct,
                        w.log_bytes,
                        if w.both_held { "YES" } else { "no" }
                    );
                }
            }
        }
    }
}
