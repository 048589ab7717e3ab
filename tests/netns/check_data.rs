//! SIGUSR1 checker data dump: rkeepalived runs in node "lb" (checker side only, `-C`; there is
//! no IPVS in the test kernel, the checkers run all the same) with two real servers in node
//! "srv", one listening and one not. After the failure is logged, SIGUSR1 makes the daemon
//! write `$TMPDIR/keepalived_check.data` (keepalived 2.2.7's name), which must show the failed
//! real server down with its failure reason and the other one up.

use crate::support;

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use support::{Daemon, Lan, require_daemon, require_root};

/// The lines of the "Health checkers" entry whose header ends with `-> rs`.
fn checker_block(dump: &str, rs: &str) -> Vec<String> {
    let mut lines = dump
        .lines()
        .skip_while(|l| !l.ends_with(&format!("-> {rs}")));
    let Some(head) = lines.next() else {
        return Vec::new();
    };
    std::iter::once(head)
        .chain(lines.take_while(|l| l.starts_with("   ")))
        .map(str::to_owned)
        .collect()
}

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn sigusr1_writes_the_checker_data_with_the_failure_reason() {
    if !require_root("check data") || !require_daemon("check data", Daemon::Rkeepalived) {
        return;
    }
    let lan = Lan::new(&["srv", "lb"]);
    let srv = lan.addr("srv");
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let path = format!("/run/netns/{}", lan.node("srv").ns);
    let listener = std::thread::spawn(move || {
        let fd = std::fs::File::open(&path).expect("open netns");
        nix::sched::setns(fd, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        let l = TcpListener::bind(SocketAddr::new(srv.into(), 8097)).expect("bind");
        l.set_nonblocking(true).unwrap();
        let _ = ready_tx.send(());
        while !s.load(Ordering::SeqCst) {
            if l.accept().is_err() {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    });
    ready_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("listener ready");

    let conf = format!(
        "virtual_server 10.9.9.9 80 {{\n delay_loop 1\n protocol TCP\n\
         real_server {srv} 8097 {{\n TCP_CHECK {{\n connect_timeout 1\n retry 0\n }}\n }}\n\
         real_server {srv} 8098 {{\n TCP_CHECK {{\n connect_timeout 1\n retry 0\n }}\n }}\n}}\n"
    );
    let proc = lan
        .node("lb")
        .spawn_with(Daemon::Rkeepalived, &conf, &["-C"]);
    let reason = format!("TCP connection to [{srv}]:tcp:8098 failed.");
    assert!(
        proc.wait_log(&reason, Duration::from_secs(10)),
        "no failure logged:\n{}",
        proc.log_tail(30)
    );

    assert!(!proc.dir().join("keepalived_check.data").exists());
    let dump = proc.signal_dump(libc::SIGUSR1, "keepalived_check.data");
    assert!(proc.running(), "SIGUSR1 must not stop the daemon");

    let failed = checker_block(&dump, &format!("[{srv}]:tcp:8098"));
    assert!(
        failed.contains(&"   Keepalive method = TCP_CHECK".to_string())
            && failed.contains(&"   Up = No".to_string())
            && failed.contains(&format!("   Last failure = {reason}")),
        "{failed:#?}\n{dump}"
    );
    let good = checker_block(&dump, &format!("[{srv}]:tcp:8097"));
    assert!(
        good.contains(&"   Up = Yes".to_string())
            && good.contains(&"   Has run = Yes".to_string())
            && good.contains(&"   Last result = OK".to_string()),
        "{good:#?}\n{dump}"
    );
    assert!(
        dump.contains(&format!(
            "   RIP = {srv}, RPORT = 8098, WEIGHT = 1\n   alive = 0\n   num failed checkers = 1\n"
        )),
        "{dump}"
    );

    proc.term();
    stop.store(true, Ordering::SeqCst);
    listener.join().unwrap();
}
