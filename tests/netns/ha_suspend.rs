//! `ha_suspend` in network namespaces: the checker runner built from a config runs in node
//! "lb"; TCP listeners in node "srv" count the check connections. A virtual server with
//! `ha_suspend` whose address is not on "lb" gets no check connection, while one without
//! `ha_suspend` does; adding the address in the test (`ip addr add`) starts its checks and
//! removing it stops them again (keepalived `update_checker_activity`).

use crate::support;

use rkeepalived::check::build::runner_for;
use rkeepalived::config::{LoadOptions, load_str};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use support::{Lan, in_ns, require_root, wait_until};

/// A listener in `ns` that accepts and closes connections, counting them, until `stop`.
fn counter(
    ns: &str,
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
) -> (Arc<AtomicUsize>, std::thread::JoinHandle<()>) {
    let n = Arc::new(AtomicUsize::new(0));
    let c = n.clone();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let t = in_ns(ns, move || {
        let l = TcpListener::bind(addr).expect("bind");
        l.set_nonblocking(true).unwrap();
        let _ = ready_tx.send(());
        while !stop.load(Ordering::SeqCst) {
            match l.accept() {
                Ok(_) => {
                    c.fetch_add(1, Ordering::SeqCst);
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    });
    ready_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("listener ready");
    (n, t)
}

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn ha_suspend_checks_only_while_the_vs_address_is_local() {
    if !require_root("ha_suspend") {
        return;
    }
    let lan = Lan::new(&["srv", "lb"]);
    let srv = lan.addr("srv");
    let vip = lan.ip(200);
    let vip2 = lan.ip(201);
    let stop = Arc::new(AtomicBool::new(false));
    let (suspended, t1) = counter(
        &lan.node("srv").ns,
        SocketAddr::new(srv.into(), 8095),
        stop.clone(),
    );
    let (always, t2) = counter(
        &lan.node("srv").ns,
        SocketAddr::new(srv.into(), 8096),
        stop.clone(),
    );
    let conf = format!(
        "virtual_server {vip} 80 {{\n delay_loop 1\n ha_suspend\n protocol TCP\n\
         real_server {srv} 8095 {{\n TCP_CHECK {{\n connect_timeout 1\n }}\n }}\n}}\n\
         virtual_server {vip2} 80 {{\n delay_loop 1\n protocol TCP\n\
         real_server {srv} 8096 {{\n TCP_CHECK {{\n connect_timeout 1\n }}\n }}\n}}\n"
    );
    let loaded = load_str(Path::new("t.conf"), &conf, &LoadOptions::default());
    assert!(
        !loaded.diagnostics.has_errors(),
        "{:?}",
        loaded.diagnostics.0
    );
    let (runner, _, problems) = runner_for(&loaded.config);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(runner.distinct_checks(), 2);

    let events = Arc::new(AtomicUsize::new(0));
    let (ev, s) = (events.clone(), stop.clone());
    let t3 = support::run_runner_in_ns(&lan.node("lb").ns, runner, s, move |_| {
        ev.fetch_add(1, Ordering::SeqCst);
    });

    // Without the VIP on lb: the ha_suspend VS's real server sees nothing, the other one is
    // checked every round.
    assert!(
        wait_until(Duration::from_secs(5), Duration::from_millis(20), || {
            always.load(Ordering::SeqCst) >= 3
        })
        .is_some(),
        "the VS without ha_suspend is checked"
    );
    assert_eq!(
        suspended.load(Ordering::SeqCst),
        0,
        "no check connection while {vip} is absent"
    );

    let lb = lan.node("lb");
    let add = lb.exec(&["ip", "addr", "add", &format!("{vip}/32"), "dev", "lo"]);
    assert!(add.status.success(), "{add:?}");
    assert!(
        wait_until(Duration::from_secs(5), Duration::from_millis(20), || {
            suspended.load(Ordering::SeqCst) >= 2
        })
        .is_some(),
        "checks start once {vip} is local ({} connections)",
        suspended.load(Ordering::SeqCst)
    );

    let del = lb.exec(&["ip", "addr", "del", &format!("{vip}/32"), "dev", "lo"]);
    assert!(del.status.success(), "{del:?}");
    // An attempt already under way may still connect; after that, nothing for 3 rounds.
    std::thread::sleep(Duration::from_millis(1200));
    let after = suspended.load(Ordering::SeqCst);
    let always_before = always.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(3000));
    assert_eq!(
        suspended.load(Ordering::SeqCst),
        after,
        "checks suspended again once {vip} is removed"
    );
    assert!(always.load(Ordering::SeqCst) > always_before);
    assert_eq!(
        events.load(Ordering::SeqCst),
        0,
        "every real server stays up: no transition"
    );

    stop.store(true, Ordering::SeqCst);
    for t in [t1, t2, t3] {
        t.join().unwrap();
    }
}
