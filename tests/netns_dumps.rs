//! keepalived's dump files on SIGUSR1 (`keepalived.data`, VRRP topology) and SIGUSR2
//! (`keepalived.stats`), which operators and exporters read: a master and a backup on one LAN,
//! each daemon signalled, the files read from its `TMPDIR` and compared with what keepalived
//! 2.2.7 writes for the same pair.

mod support;

use std::net::IpAddr;
use std::time::Duration;
use support::{Daemon, Lan, require_daemon, require_root};

fn conf(lan: &Lan, priority: u8) -> String {
    format!(
        "global_defs {{\n  router_id test\n}}\n\
         vrrp_instance VI_7 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 77\n  priority {priority}\n\
         \x20 advert_int 1\n  virtual_ipaddress {{\n    {}/24 dev eth0\n  }}\n}}\n",
        lan.ip(100)
    )
}

/// The stats text with every number replaced by `N` (the counters depend on timing).
fn shape(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_ascii_digit() { 'N' } else { c })
        .collect::<String>()
        .replace("NN", "N")
}

/// `label: value` of `text` (first occurrence, leading spaces ignored).
fn value<'a>(text: &'a str, label: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.trim_start().strip_prefix(label))
        .map(str::trim)
}

fn run_pair(daemon: Daemon) -> [(String, String); 2] {
    let lan = Lan::new(&["a", "b"]);
    let vip = IpAddr::V4(lan.ip(100));
    let a = lan.node("a").spawn(daemon, &conf(&lan, 150));
    let b = lan.node("b").spawn(daemon, &conf(&lan, 100));
    lan.expect_addr("a", vip, Duration::from_secs(10), &a);
    assert!(
        b.wait_log("Entering BACKUP STATE", Duration::from_secs(10)),
        "{}",
        b.log()
    );
    // A few adverts go by.
    std::thread::sleep(Duration::from_secs(3));
    [&a, &b].map(|p| {
        (
            p.signal_dump(libc::SIGUSR2, "keepalived.stats"),
            p.signal_dump(libc::SIGUSR1, "keepalived.data"),
        )
    })
}

#[test]
fn usr1_and_usr2_dumps_read_like_keepalived() {
    let test = "usr1_and_usr2_dumps";
    if !require_root(test)
        || !require_daemon(test, Daemon::Rkeepalived)
        || !require_daemon(test, Daemon::Keepalived)
    {
        return;
    }
    let [(rk_stats_a, rk_data_a), (rk_stats_b, rk_data_b)] = run_pair(Daemon::Rkeepalived);
    let [(ka_stats_a, ka_data_a), (ka_stats_b, _)] = run_pair(Daemon::Keepalived);

    // The stats file has keepalived's exact layout.
    assert_eq!(
        shape(&rk_stats_a),
        shape(&ka_stats_a),
        "{rk_stats_a}\n---\n{ka_stats_a}"
    );
    assert_eq!(shape(&rk_stats_b), shape(&ka_stats_b));
    // And the counters say what happened: a became master and sent; b received.
    assert_eq!(
        value(&rk_stats_a, "Became master:"),
        Some("1"),
        "{rk_stats_a}"
    );
    assert!(value(&rk_stats_a, "Sent:").unwrap().parse::<u32>().unwrap() >= 3);
    assert!(
        value(&rk_stats_b, "Received:")
            .unwrap()
            .parse::<u32>()
            .unwrap()
            >= 3
    );
    assert_eq!(value(&rk_stats_b, "Became master:"), Some("0"));

    // The data file's VRRP topology lines that exporters read carry keepalived's values.
    for label in [
        "VRRP Instance =",
        "State =",
        "Virtual Router ID =",
        "Priority =",
        "Effective priority =",
        "Advert interval =",
        "Accept =",
        "Preempt =",
        "Virtual IP (",
    ] {
        assert_eq!(
            value(&rk_data_a, label),
            value(&ka_data_a, label),
            "{label}\n{rk_data_a}\n---\n{ka_data_a}"
        );
    }
    assert_eq!(value(&rk_data_a, "State ="), Some("MASTER"));
    assert_eq!(value(&rk_data_b, "State ="), Some("BACKUP"));
}
