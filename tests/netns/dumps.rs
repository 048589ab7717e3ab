//! keepalived's dump files on SIGUSR1 (`keepalived.data`, VRRP topology) and SIGUSR2
//! (`keepalived.stats`), which operators and exporters read: a master and a backup on one LAN,
//! each daemon signalled, the files read from its `TMPDIR` and compared with what keepalived
//! 2.2.7 writes for the same pair.

use crate::support;

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

/// The stats text without rkeepalived's extra drop counters (the `  Other Packet Errors:`
/// block of each instance and the final `Unmatched VRRP Packets:` block), i.e. the lines
/// keepalived writes.
fn keepalived_lines(text: &str) -> String {
    let mut out = String::new();
    // While inside an extra block: the indentation of its lines.
    let mut skip_indent: Option<&str> = None;
    for line in text.lines() {
        if let Some(indent) = skip_indent {
            if line.starts_with(indent) {
                continue;
            }
            skip_indent = None;
        }
        match line {
            "  Other Packet Errors:" => skip_indent = Some("    "),
            "Unmatched VRRP Packets:" => skip_indent = Some("  "),
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

/// `label: value` of `text` (first occurrence, leading spaces ignored).
fn value<'a>(text: &'a str, label: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.trim_start().strip_prefix(label))
        .map(str::trim)
}

/// A master `a` (priority 150) and a backup `b` (100) running `conf`, settled and a few
/// adverts on.
fn settled_pair(
    daemon: Daemon,
    conf: impl Fn(&Lan, u8) -> String,
) -> (Lan, support::Proc, support::Proc) {
    let lan = Lan::new(&["a", "b"]);
    let vip = IpAddr::V4(lan.ip(100));
    let a = lan.node("a").spawn(daemon, &conf(&lan, 150));
    let b = lan.node("b").spawn(daemon, &conf(&lan, 100));
    lan.expect_addr("a", vip, Duration::from_secs(10), &a);
    b.expect_log("Entering BACKUP STATE", Duration::from_secs(10));
    // A few adverts go by.
    std::thread::sleep(Duration::from_secs(3));
    (lan, a, b)
}

fn run_pair(daemon: Daemon) -> [(String, String); 2] {
    let (_lan, a, b) = settled_pair(daemon, conf);
    [&a, &b].map(|p| {
        (
            p.signal_dump(libc::SIGUSR2, "keepalived.stats"),
            p.signal_dump(libc::SIGUSR1, "keepalived.data"),
        )
    })
}

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
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
    // (rkeepalived adds drop counters keepalived keeps only for SNMP, in blocks of their own.)
    assert_eq!(
        shape(&keepalived_lines(&rk_stats_a)),
        shape(&ka_stats_a),
        "{rk_stats_a}\n---\n{ka_stats_a}"
    );
    assert_eq!(shape(&keepalived_lines(&rk_stats_b)), shape(&ka_stats_b));
    assert!(rk_stats_a.contains("  Other Packet Errors:\n    Checksum: 0\n"));
    assert!(rk_stats_a.contains("Unmatched VRRP Packets:\n"));
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

/// A richer instance for the JSON dump: a label, an excluded VIP, a tracked interface and
/// simple-password authentication.
fn json_conf(lan: &Lan, priority: u8) -> String {
    format!(
        "global_defs {{\n  router_id test\n}}\n\
         vrrp_instance VI_8 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 88\n  priority {priority}\n\
         \x20 advert_int 1\n  authentication {{\n    auth_type PASS\n    auth_pass s3cret\n  }}\n\
         \x20 track_interface {{\n    eth0 weight 5\n    lo weight 5\n  }}\n\
         \x20 virtual_ipaddress {{\n    {}/24 dev eth0 label eth0:v\n  }}\n\
         \x20 virtual_ipaddress_excluded {{\n    {}/32 dev eth0\n  }}\n}}\n",
        lan.ip(100),
        lan.ip(101)
    )
}

/// keepalived's JSON signal (`--signum=JSON`) on a master and a backup, then its STATS_CLEAR
/// signal on the backup: the files parsed as JSON, per daemon.
fn run_pair_json(daemon: Daemon) -> [serde_json::Value; 3] {
    let sig = |func: &str| {
        let out = std::process::Command::new(daemon.binary().unwrap())
            .arg(format!("--signum={func}"))
            .output()
            .expect("--signum");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse::<i32>()
            .unwrap_or_else(|_| panic!("--signum={func}: {out:?}"))
    };
    let (json, clear) = (sig("JSON"), sig("STATS_CLEAR"));
    let (lan, a, b) = settled_pair(daemon, json_conf);
    // Each run has its own subnet: addresses are compared without it.
    let vip_text = lan.ip(100).to_string();
    let subnet = &vip_text[..vip_text.rfind('.').unwrap() + 1];
    let parse = |p: &support::Proc| {
        let text = p
            .signal_dump(json, "keepalived.json")
            .replace(subnet, "LAN.");
        serde_json::from_str::<serde_json::Value>(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
    };
    let (ja, jb) = (parse(&a), parse(&b));
    b.signal(clear);
    std::thread::sleep(Duration::from_millis(300));
    [ja, jb, parse(&b)]
}

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn json_dump_and_stats_clear_read_like_keepalived() {
    let test = "json_dump_and_stats_clear";
    if !require_root(test)
        || !require_daemon(test, Daemon::Rkeepalived)
        || !require_daemon(test, Daemon::Keepalived)
    {
        return;
    }
    let rk = run_pair_json(Daemon::Rkeepalived);
    let ka = run_pair_json(Daemon::Keepalived);
    let keys = |v: &serde_json::Value, part: &str| -> Vec<String> {
        let mut k: Vec<String> = v[0][part]
            .as_object()
            .unwrap_or_else(|| panic!("{part} in {v}"))
            .keys()
            .cloned()
            .collect();
        k.sort();
        k
    };
    for (node, (r, k)) in ["master", "backup"].iter().zip(rk.iter().zip(&ka)) {
        assert_eq!(r.as_array().map(Vec::len), Some(1), "{r}");
        assert_eq!(keys(r, "data"), keys(k, "data"), "{node}\n{r}\n{k}");
        // rkeepalived's stats: keepalived's keys, plus the drop counters keepalived keeps only
        // for SNMP (`chk_err`, `vers_err`) and its own `unicast_src_err`.
        let extra = ["chk_err", "unicast_src_err", "vers_err"];
        let rk_keys: Vec<String> = keys(r, "stats")
            .into_iter()
            .filter(|k| !extra.contains(&k.as_str()))
            .collect();
        assert_eq!(rk_keys, keys(k, "stats"), "{node}\n{r}\n{k}");
        for e in extra {
            assert_eq!(r[0]["stats"][e], 0, "{node} {e}\n{r}");
        }
        for key in [
            "iname",
            "vrid",
            "ifp_ifname",
            "vmac_ifname",
            "base_priority",
            "effective_priority",
            "master_priority",
            "state",
            "wantstate",
            "vipset",
            "vips",
            "evips",
            "track_ifp",
            "adver_int",
            "master_adver_int",
            "accept",
            "nopreempt",
            "preempt_delay",
            "version",
            "auth_type",
            "auth_data",
            "garp_delay",
            "garp_rep",
            "garp_refresh",
            "garp_refresh_rep",
            "garp_lower_prio_delay",
            "garp_lower_prio_rep",
            "strict_mode",
            "dont_track_primary",
        ] {
            assert_eq!(
                r[0]["data"][key], k[0]["data"][key],
                "{node} {key}\n{r}\n{k}"
            );
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let t = r[0]["data"]["last_transition"].as_f64().unwrap_or(0.0);
        assert!(
            now - t < 60.0 && now >= t,
            "{node} last_transition {t} vs {now}"
        );
    }
    // The counters say what happened, and STATS_CLEAR zeroes them (the backup then counts
    // only the adverts of the last fraction of a second).
    let count = |v: &serde_json::Value, key: &str| v[0]["stats"][key].as_u64().unwrap();
    assert_eq!(count(&rk[0], "become_master"), 1);
    assert!(count(&rk[0], "advert_sent") >= 3, "{}", rk[0]);
    assert!(count(&rk[1], "advert_rcvd") >= 3, "{}", rk[1]);
    for (who, v) in [("rkeepalived", &rk[2]), ("keepalived", &ka[2])] {
        assert!(count(v, "advert_rcvd") <= 1, "{who} after STATS_CLEAR: {v}");
    }
}
