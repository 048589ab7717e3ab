//! Issue 14 point 6: mail alerts, side by side with keepalived 2.2.7 against an SMTP sink
//! that listens inside the node's namespace (127.0.0.1 there; never on the host).
//!
//! keepalived 2.2.7 (measured with this sink): one connection per mail, `HELO NAME`, `MAIL
//! FROM:<notification_email_from>`, one `RCPT TO` per address, and the message
//! `Date`/`From`/`Subject: [ROUTER_ID] VRRP Instance VI_1 - Entering MASTER state`/`X-Mailer:
//! Keepalived`/`To: a, b`, then `=> VRRP Instance is now owning VRRP VIPs <=` (BACKUP and
//! FAULT: `=> VRRP Instance is no longer owning VRRP VIPs <=`; a sync group: `[R] VRRP Group
//! G1 - Entering MASTER state`, `=> All VRRP group instances are now in MASTER state <=`).
//! At start-up the BACKUP mails are sent too; none at shutdown. Real server mails were read
//! from keepalived's source (check_*.c, smtp.c: `[R] Realserver [IP]:tcp:PORT of virtual
//! server [VIP]:tcp:PORT - DOWN`, `=> TCP CHECK failed on service <=`): its checkers need
//! IPVS, which this kernel lacks, so rkeepalived's are tested with `-C`.

use super::common::{ready_both, ready_rk, row};
use crate::support::{Daemon, Lan, Proc, in_ns, wait_until};
use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One mail as the sink received it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Received {
    subject: String,
    body: String,
    from: String,
    to: String,
    envelope_from: String,
    rcpt: Vec<String>,
}

/// A tiny SMTP server on 127.0.0.1:`port` inside namespace `ns`: 220, 250 to EHLO/HELO,
/// MAIL and RCPT, 354 to DATA, 250 after the dot, 221 to QUIT. Stops when `stop` is set.
struct Sink {
    mails: Arc<Mutex<Vec<Received>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sink {
    fn start(ns: &str, port: u16) -> Sink {
        let mails: Arc<Mutex<Vec<Received>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (m, s) = (mails.clone(), stop.clone());
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = in_ns(ns, move || {
            let l = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).expect("bind sink");
            l.set_nonblocking(true).unwrap();
            let _ = ready_tx.send(());
            while !s.load(Ordering::SeqCst) {
                match l.accept() {
                    Ok((conn, _)) => {
                        let m = m.clone();
                        std::thread::spawn(move || session(conn, &m));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("sink ready");
        Sink {
            mails,
            stop,
            thread: Some(thread),
        }
    }

    fn mails(&self) -> Vec<Received> {
        self.mails.lock().unwrap().clone()
    }

    /// Waits until a mail with `subject` arrived.
    fn wait_subject(&self, subject: &str, timeout: Duration) -> bool {
        wait_until(timeout, Duration::from_millis(20), || {
            self.mails().iter().any(|m| m.subject == subject)
        })
        .is_some()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn session(conn: std::net::TcpStream, mails: &Mutex<Vec<Received>>) {
    let _ = conn.set_nonblocking(false);
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let mut w = conn.try_clone().unwrap();
    let mut r = BufReader::new(conn);
    let _ = w.write_all(b"220 sink ESMTP\r\n");
    let (mut envelope_from, mut rcpt) = (String::new(), Vec::new());
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let up = line.to_ascii_uppercase();
        let reply: &[u8] = if up.starts_with("EHLO") || up.starts_with("HELO") {
            b"250 sink\r\n"
        } else if up.starts_with("MAIL FROM:") {
            envelope_from = line[10..].trim().to_string();
            b"250 ok\r\n"
        } else if up.starts_with("RCPT TO:") {
            rcpt.push(line[8..].trim().to_string());
            b"250 ok\r\n"
        } else if up.starts_with("DATA") {
            let _ = w.write_all(b"354 go\r\n");
            let mut data = Vec::new();
            loop {
                let mut l = String::new();
                if r.read_line(&mut l).unwrap_or(0) == 0 {
                    return;
                }
                if l == ".\r\n" {
                    break;
                }
                data.push(l.trim_end_matches("\r\n").to_string());
            }
            let blank = data.iter().position(|l| l.is_empty()).unwrap_or(data.len());
            let header = |name: &str| {
                data[..blank]
                    .iter()
                    .find_map(|l| l.strip_prefix(&format!("{name}: ")))
                    .unwrap_or_default()
                    .to_string()
            };
            let body = data[blank..].join("\n").trim().to_string();
            mails.lock().unwrap().push(Received {
                subject: header("Subject"),
                from: header("From"),
                to: header("To"),
                body,
                envelope_from: envelope_from.clone(),
                rcpt: rcpt.clone(),
            });
            b"250 queued\r\n"
        } else if up.starts_with("QUIT") {
            let _ = w.write_all(b"221 bye\r\n");
            return;
        } else {
            b"250 ok\r\n"
        };
        let _ = w.write_all(reply);
    }
}

fn global(port: u16, extra: &str) -> String {
    format!(
        "global_defs {{\n router_id RID1\n notification_email {{\n ops@example.com\n second@example.com\n }}\n\
         notification_email_from ka@example.com\n smtp_server 127.0.0.1 {port}\n\
         smtp_helo_name helo.example\n smtp_connect_timeout 3\n{extra}}}\n"
    )
}

fn vrrp_conf(lan: &Lan, port: u16) -> String {
    format!(
        "{}vrrp_sync_group G1 {{\n group {{\n VI_1\n }}\n}}\n\
         vrrp_instance VI_1 {{\n state BACKUP\n interface eth0\n virtual_router_id 51\n\
         priority 100\n advert_int 1\n virtual_ipaddress {{\n {}/24\n }}\n}}\n",
        global(port, " smtp_alert\n"),
        lan.ip(100)
    )
}

const MASTER: &str = "[RID1] VRRP Instance VI_1 - Entering MASTER state";
const FAULT: &str = "[RID1] VRRP Instance VI_1 - Entering FAULT state";
const G_MASTER: &str = "[RID1] VRRP Group G1 - Entering MASTER state";
const G_FAULT: &str = "[RID1] VRRP Group G1 - Entering FAULT state";

/// Start (BACKUP), MASTER after the advert timeout, FAULT with eth0 down, BACKUP and MASTER
/// again with eth0 up: the mails each daemon sends, sorted (the group and instance mails of
/// one transition travel on parallel connections).
fn run_transitions(daemon: Daemon) -> (Vec<Received>, String) {
    let lan = Lan::new(&["n"]);
    let node = lan.node("n");
    let sink = Sink::start(&node.ns, 2525);
    let proc: Proc = node.spawn(daemon, &vrrp_conf(&lan, 2525));
    let t = Duration::from_secs(15);
    assert!(
        sink.wait_subject(MASTER, t),
        "{daemon:?}: no MASTER mail:\n{}",
        proc.log()
    );
    assert!(
        sink.wait_subject(G_MASTER, t),
        "{daemon:?}: no group MASTER mail"
    );
    node.exec(&["ip", "link", "set", "eth0", "down"]);
    assert!(
        sink.wait_subject(FAULT, t),
        "{daemon:?}: no FAULT mail:\n{}",
        proc.log()
    );
    assert!(
        sink.wait_subject(G_FAULT, t),
        "{daemon:?}: no group FAULT mail"
    );
    node.exec(&["ip", "link", "set", "eth0", "up"]);
    let n = || sink.mails().iter().filter(|m| m.subject == MASTER).count();
    assert!(
        wait_until(t, Duration::from_millis(20), || n() == 2).is_some(),
        "{daemon:?}: no second MASTER mail:\n{}",
        proc.log()
    );
    assert!(
        wait_until(t, Duration::from_millis(20), || sink
            .mails()
            .iter()
            .filter(|m| m.subject == G_MASTER)
            .count()
            == 2)
        .is_some()
    );
    proc.term();
    std::thread::sleep(Duration::from_millis(1500));
    let mut mails = sink.mails();
    mails.sort();
    (mails, proc.log())
}

/// The same config and events: both daemons send the same mails (subject, body, From, To,
/// envelope), and neither mails at shutdown.
#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn vrrp_mails_match_keepalived() {
    let test = "vrrp_mails_match_keepalived";
    if !ready_both(test) {
        return;
    }
    let (ka, _) = run_transitions(Daemon::Keepalived);
    let (rk, rk_log) = run_transitions(Daemon::Rkeepalived);
    let subjects = |v: &[Received]| v.iter().map(|m| m.subject.clone()).collect::<Vec<_>>();
    assert_eq!(
        ka, rk,
        "keepalived's mails differ from rkeepalived's:\n{rk_log}"
    );
    // 3 states x 2 (instance and group) + the second BACKUP and MASTER pair.
    assert_eq!(ka.len(), 10, "{:#?}", subjects(&ka));
    let m = ka.iter().find(|m| m.subject == MASTER).unwrap();
    assert_eq!(m.body, "=> VRRP Instance is now owning VRRP VIPs <=");
    assert_eq!(m.from, "ka@example.com");
    assert_eq!(m.to, "ops@example.com, second@example.com");
    assert_eq!(m.envelope_from, "<ka@example.com>");
    assert_eq!(m.rcpt, ["<ops@example.com>", "<second@example.com>"]);
    row(
        "smtp_alert: VRRP instance and sync group mails",
        &format!("{} mails: {:?}", ka.len(), subjects(&ka)),
        "the same mails (subject, body, From, To, envelope)",
    );
}

/// An unreachable SMTP server is logged once per outage, and its recovery once.
/// keepalived 2.2.7 logs `smtp fd N returned write error` for every mail (measured).
#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn unreachable_smtp_server_is_logged_once_per_outage() {
    let test = "unreachable_smtp_server_is_logged_once_per_outage";
    if !ready_rk(test) {
        return;
    }
    let lan = Lan::new(&["n"]);
    let node = lan.node("n");
    let proc = node.spawn(Daemon::Rkeepalived, &vrrp_conf(&lan, 2526));
    // BACKUP and MASTER, instance and group: four mails lost.
    proc.expect_log("(VI_1) Entering MASTER STATE", Duration::from_secs(15));
    std::thread::sleep(Duration::from_secs(2));
    let failed = "not logged again until it recovers";
    assert_eq!(proc.log_count(failed), 1, "{}", proc.log());
    let sink = Sink::start(&node.ns, 2526);
    node.exec(&["ip", "link", "set", "eth0", "down"]);
    assert!(
        sink.wait_subject(FAULT, Duration::from_secs(15)),
        "{}",
        proc.log()
    );
    proc.expect_log("reachable again", Duration::from_secs(5));
    assert_eq!(proc.log_count(failed), 1, "{}", proc.log());
    assert_eq!(proc.log_count("reachable again"), 1, "{}", proc.log());
    proc.term();
    row(
        "smtp_alert: SMTP server unreachable",
        "`smtp fd N returned write error` per mail",
        "one line per outage, one when it recovers (with the count lost)",
    );
}

/// rkeepalived `-C`: a real server's TCP_CHECK going down and up mails keepalived's
/// subjects and bodies (read from keepalived's source: its checkers need IPVS).
#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn checker_mails_with_keepalived_subjects() {
    let test = "checker_mails_with_keepalived_subjects";
    if !ready_rk(test) {
        return;
    }
    let lan = Lan::new(&["lb", "srv"]);
    let srv = lan.addr("srv");
    let sink = Sink::start(&lan.node("lb").ns, 2525);
    let conf = format!(
        "{}virtual_server 10.9.9.9 80 {{\n delay_loop 1\n protocol TCP\n\
         real_server {srv} 8080 {{\n TCP_CHECK {{\n connect_timeout 1\n retry 0\n }}\n }}\n}}\n",
        global(2525, "")
    );
    let proc = lan
        .node("lb")
        .spawn_with(Daemon::Rkeepalived, &conf, &["-C"]);
    let down =
        format!("[RID1] Realserver [{srv}]:tcp:8080 of virtual server [10.9.9.9]:tcp:80 - DOWN");
    let up = down.replace("- DOWN", "- UP");
    assert!(
        sink.wait_subject(&down, Duration::from_secs(15)),
        "{}",
        proc.log()
    );
    // A listener on srv brings it up.
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let listener = in_ns(&lan.node("srv").ns, move || {
        let l = TcpListener::bind((srv, 8080)).expect("bind 8080");
        l.set_nonblocking(true).unwrap();
        while !s.load(Ordering::SeqCst) {
            let _ = l.accept();
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    assert!(
        sink.wait_subject(&up, Duration::from_secs(15)),
        "{}",
        proc.log()
    );
    stop.store(true, Ordering::SeqCst);
    listener.join().unwrap();
    let mails = sink.mails();
    let d = mails.iter().find(|m| m.subject == down).unwrap();
    assert_eq!(d.body, "=> TCP CHECK failed on service <=");
    let u = mails.iter().find(|m| m.subject == up).unwrap();
    assert_eq!(u.body, "=> TCP CHECK succeed on service <=");
    assert_eq!(u.to, "ops@example.com, second@example.com");
    proc.term();
    row(
        "smtp_alert: real server DOWN/UP (TCP_CHECK)",
        "`[R] Realserver [IP]:tcp:P of virtual server [VIP]:tcp:P - DOWN` (source; no IPVS here)",
        "the same subject and body",
    );
}

/// `router_id`, `notification_email` and `notification_email_from` changed by a reload: the
/// next mail (FAULT, eth0 down) carries the new subject, sender and recipients, and the
/// reload itself mails nothing (no state changed). keepalived 2.2.7 re-reads them on SIGHUP
/// too (measured with this test).
fn mail_after_reload(daemon: Daemon) -> (Vec<Received>, String) {
    let lan = Lan::new(&["n"]);
    let node = lan.node("n");
    let sink = Sink::start(&node.ns, 2527);
    let proc: Proc = node.spawn(daemon, &vrrp_conf(&lan, 2527));
    let t = Duration::from_secs(15);
    assert!(
        sink.wait_subject(MASTER, t),
        "{daemon:?}: no MASTER mail:\n{}",
        proc.log()
    );
    assert!(sink.wait_subject(G_MASTER, t), "{daemon:?}: no group mail");
    std::thread::sleep(Duration::from_millis(500));
    let before = sink.mails().len();
    let edited = vrrp_conf(&lan, 2527)
        .replace("router_id RID1", "router_id RID2")
        .replace(
            " ops@example.com\n second@example.com\n",
            " oncall@example.com\n",
        )
        .replace("ka@example.com", "lb@example.com");
    let conf = proc.dir().join("keepalived.conf");
    let next = proc.dir().join("keepalived.conf.next");
    std::fs::write(&next, edited).unwrap();
    std::fs::rename(&next, &conf).unwrap();
    proc.signal(libc::SIGHUP);
    std::thread::sleep(Duration::from_secs(3));
    let after_reload = sink.mails().len();
    node.exec(&["ip", "link", "set", "eth0", "down"]);
    let fault = "[RID2] VRRP Instance VI_1 - Entering FAULT state";
    let got = sink.wait_subject(fault, t);
    std::thread::sleep(Duration::from_millis(1000));
    proc.term();
    let mails = sink.mails();
    assert!(
        got,
        "{daemon:?}: no {fault:?} mail after the reload: {:#?}\n{}",
        mails.iter().map(|m| &m.subject).collect::<Vec<_>>(),
        proc.log()
    );
    assert_eq!(
        after_reload,
        before,
        "{daemon:?}: the reload mailed: {:#?}",
        &mails[before..after_reload]
    );
    let mut tail: Vec<Received> = mails[after_reload..].to_vec();
    tail.sort();
    (tail, proc.log())
}

#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn mail_settings_follow_a_reload() {
    let test = "mail_settings_follow_a_reload";
    if !ready_both(test) {
        return;
    }
    let (ka, _) = mail_after_reload(Daemon::Keepalived);
    let (rk, rk_log) = mail_after_reload(Daemon::Rkeepalived);
    assert_eq!(
        ka, rk,
        "keepalived's mails differ from rkeepalived's:\n{rk_log}"
    );
    let m = rk
        .iter()
        .find(|m| m.subject.contains("Instance VI_1 - Entering FAULT"))
        .unwrap();
    assert_eq!(m.from, "lb@example.com");
    assert_eq!(m.to, "oncall@example.com");
    assert_eq!(m.envelope_from, "<lb@example.com>");
    assert_eq!(m.rcpt, ["<oncall@example.com>"]);
    row(
        "smtp_alert: router_id, recipients and sender changed by SIGHUP",
        &format!(
            "the next mails use the new settings: {:?}",
            ka.iter().map(|m| &m.subject).collect::<Vec<_>>()
        ),
        "the same mails; the reload itself mails nothing",
    );
}
