//! systemd's notification protocol (issue 14 point 1), against a `NOTIFY_SOCKET` listener the
//! test binds: `READY=1` once started, `RELOADING=1` + `MONOTONIC_USEC=` then `READY=1`
//! around a SIGHUP reload (taken or refused), `WATCHDOG=1` when `WATCHDOG_USEC` is set (with
//! `WATCHDOG_PID` naming the main process, the supervisor, as systemd sets it), a `STATUS=`
//! line with the instances' states, and `STOPPING=1` on SIGTERM. rkeepalived only: keepalived
//! 2.2.7 speaks the same protocol only when built with systemd support (Debian's is).

use super::common::{ready_rk, row};
use crate::support::{Daemon, Lan};
use std::os::unix::net::UnixDatagram;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The datagrams received so far, in order.
#[derive(Clone, Default)]
struct Listener(Arc<Mutex<Vec<String>>>);

impl Listener {
    fn start(sock: UnixDatagram) -> Listener {
        let l = Listener::default();
        let got = l.0.clone();
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 4096];
            // Ends when the test (and so the socket's directory) is gone: recv fails then.
            loop {
                match sock.recv(&mut buf) {
                    Ok(n) => got
                        .lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&buf[..n]).into_owned()),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                    Err(_) => return,
                }
            }
        });
        l
    }

    fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    /// Waits for a message at index `from` or later for which `pred` holds; its index.
    fn wait(&self, from: usize, timeout: Duration, pred: impl Fn(&str) -> bool) -> Option<usize> {
        let end = Instant::now() + timeout;
        loop {
            if let Some(i) = self.all().iter().skip(from).position(|m| pred(m)) {
                return Some(from + i);
            }
            if Instant::now() > end {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn expect(&self, from: usize, what: &str, pred: impl Fn(&str) -> bool) -> usize {
        self.wait(from, Duration::from_secs(15), pred)
            .unwrap_or_else(|| panic!("no {what} after message {from}: {:#?}", self.all()))
    }
}

fn has(m: &str, line: &str) -> bool {
    m.lines().any(|l| l == line)
}

/// The whole protocol over one daemon's life. The daemon is the supervisor's child, so this
/// also checks that `NOTIFY_SOCKET` reaches it and that the supervisor hands systemd's
/// watchdog (`WATCHDOG_PID` = the supervisor) to it.
#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn notify_protocol_ready_reload_watchdog_stopping() {
    if !ready_rk("notify_protocol_ready_reload_watchdog_stopping") {
        return;
    }
    let lan = Lan::new(&["a"]);
    let node = lan.node("a");
    let dir = tempfile::tempdir().expect("temp dir");
    let sock_path = dir.path().join("notify.sock");
    let listener = Listener::start(UnixDatagram::bind(&sock_path).expect("bind NOTIFY_SOCKET"));
    let conf_path = dir.path().join("keepalived.conf");
    let good = format!(
        "vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 61\n  \
         priority 100\n  advert_int 1\n  virtual_ipaddress {{\n    {}/24\n  }}\n}}\n",
        lan.ip(100)
    );
    std::fs::write(&conf_path, &good).expect("write config");
    let bin = Daemon::Rkeepalived.binary().expect("binary");
    // `exec` keeps the shell's pid: $$ is the supervisor's, as systemd's WATCHDOG_PID is.
    let cmd = format!(
        "NOTIFY_SOCKET={} WATCHDOG_USEC=1000000 WATCHDOG_PID=$$ exec {} -n -l -D -f {} -p {}",
        sock_path.display(),
        bin.display(),
        conf_path.display(),
        dir.path().join("rk.pid").display()
    );
    let mut daemon = node.spawn_cmd(&["sh", "-c", &cmd]);

    let ready = listener.expect(0, "READY=1", |m| has(m, "READY=1"));
    let first = &listener.all()[ready];
    assert!(
        first.contains("STATUS=VRRP: VI_1 "),
        "READY=1 without the status line: {first:?}"
    );
    // The status line follows the instance to MASTER (one node: it takes over in ~3 s).
    listener.expect(ready, "STATUS with VI_1 MASTER", |m| {
        has(m, "STATUS=VRRP: VI_1 MASTER")
    });
    // WATCHDOG_USEC=1 s: WATCHDOG=1 every 0.5 s.
    let w1 = listener.expect(ready, "WATCHDOG=1", |m| has(m, "WATCHDOG=1"));
    let w2 = listener.expect(w1 + 1, "a second WATCHDOG=1", |m| has(m, "WATCHDOG=1"));
    listener.expect(w2 + 1, "a third WATCHDOG=1", |m| has(m, "WATCHDOG=1"));

    // A reload of a file with an error: RELOADING=1 (with MONOTONIC_USEC), then READY=1, and
    // the status line says it was refused.
    std::fs::write(&conf_path, format!("{good}vrrp_instance {{\n")).expect("write config");
    let mark = listener.all().len();
    daemon.signal(libc::SIGHUP);
    let reloading = listener.expect(mark, "RELOADING=1", |m| has(m, "RELOADING=1"));
    let msg = &listener.all()[reloading];
    let usec: u64 = msg
        .lines()
        .find_map(|l| l.strip_prefix("MONOTONIC_USEC="))
        .unwrap_or_else(|| panic!("RELOADING=1 without MONOTONIC_USEC: {msg:?}"))
        .parse()
        .expect("MONOTONIC_USEC is a number");
    let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).expect("clock");
    let now_usec = now.tv_sec() as u64 * 1_000_000 + now.tv_nsec() as u64 / 1000;
    assert!(
        usec <= now_usec && now_usec - usec < 10_000_000,
        "MONOTONIC_USEC={usec} is not CLOCK_MONOTONIC now ({now_usec})"
    );
    let again = listener.expect(reloading + 1, "READY=1 after the reload", |m| {
        has(m, "READY=1")
    });
    listener.expect(again, "STATUS with the refused reload", |m| {
        m.contains("STATUS=VRRP: VI_1 MASTER; last reload: refused")
    });

    // A good file: taken.
    std::fs::write(&conf_path, &good).expect("write config");
    let mark = listener.all().len();
    daemon.signal(libc::SIGHUP);
    let reloading = listener.expect(mark, "RELOADING=1", |m| has(m, "RELOADING=1"));
    let again = listener.expect(reloading + 1, "READY=1", |m| has(m, "READY=1"));
    listener.expect(again, "STATUS with the taken reload", |m| {
        m.contains("last reload: taken")
    });

    let mark = listener.all().len();
    daemon.term();
    listener.expect(mark, "STOPPING=1", |m| has(m, "STOPPING=1"));
    let code = daemon.wait_exit(Duration::from_secs(10));
    assert_eq!(code, Some(0), "{}", daemon.log_tail(20));
    let n = listener.all().len();
    row(
        "systemd notify protocol",
        "not run (rkeepalived-only row)",
        &format!(
            "READY=1 with STATUS, WATCHDOG=1 every 0.5 s, RELOADING=1+MONOTONIC_USEC/READY=1 \
             (refused and taken), STOPPING=1 ({n} messages)"
        ),
    );
}

/// A service manager that does not read its notification socket (its queue full: 10
/// datagrams, `net.unix.max_dgram_qlen`) never holds the VRRP engine: with `WATCHDOG=1`
/// every 50 ms into a socket nobody reads, the node still becomes MASTER and advertises every
/// second. (Sent from the engine itself, the eleventh datagram blocked it before its first
/// advert.)
#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn a_notify_socket_nobody_reads_never_stops_the_adverts() {
    if !ready_rk("a_notify_socket_nobody_reads_never_stops_the_adverts") {
        return;
    }
    let lan = Lan::new(&["a", "b"]);
    let cap = lan.capture("b", "ip proto 112");
    let node = lan.node("a");
    let dir = tempfile::tempdir().expect("temp dir");
    let sock_path = dir.path().join("notify.sock");
    // Bound and never read.
    let _deaf = UnixDatagram::bind(&sock_path).expect("bind NOTIFY_SOCKET");
    let conf_path = dir.path().join("keepalived.conf");
    std::fs::write(
        &conf_path,
        format!(
            "vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 62\n  \
             priority 100\n  advert_int 1\n  virtual_ipaddress {{\n    {}/24\n  }}\n}}\n",
            lan.ip(100)
        ),
    )
    .expect("write config");
    let bin = Daemon::Rkeepalived.binary().expect("binary");
    let cmd = format!(
        "NOTIFY_SOCKET={} WATCHDOG_USEC=100000 exec {} -n -l -D -f {} -p {}",
        sock_path.display(),
        bin.display(),
        conf_path.display(),
        dir.path().join("rk.pid").display()
    );
    let daemon = node.spawn_cmd(&["sh", "-c", &cmd]);
    lan.expect_addr(
        "a",
        std::net::IpAddr::V4(lan.ip(100)),
        Duration::from_secs(15),
        &daemon,
    );
    let from = std::time::SystemTime::now();
    std::thread::sleep(Duration::from_secs(6));
    let times: Vec<_> = cap
        .adverts()
        .into_iter()
        .filter(|a| a.time >= from)
        .map(|a| a.time)
        .collect();
    let gap = times
        .windows(2)
        .map(|w| crate::support::ms_between(w[0], w[1]))
        .fold(0.0, f64::max);
    assert!(
        times.len() >= 5 && gap < 1400.0,
        "{} adverts in 6 s, longest gap {gap:.0} ms:\n{}",
        times.len(),
        daemon.log()
    );
    assert!(daemon.running(), "{}", daemon.log());
    row(
        "systemd: a notification socket nobody reads",
        "(keepalived's VRRP child sends no notifications)",
        &format!(
            "the adverts go on: {} in 6 s, longest gap {gap:.0} ms",
            times.len()
        ),
    );
}
