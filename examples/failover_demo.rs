//! Watch a VRRP failover happen, in throwaway network namespaces.
//!
//! ```text
//! cargo run --release --example failover_demo                       # rkeepalived on both nodes
//! cargo run --release --example failover_demo -- --daemon keepalived
//! ```
//!
//! Needs root (network namespaces), iproute2 and tcpdump. Nodes `a` (priority 150) and `b`
//! (priority 100) run the daemon from `conf/demo.conf`; client `c` captures ARP and VRRP.
//! Once `a` holds the virtual address it is killed with SIGKILL, and the demo prints when
//! `b` took the address over and when `c` saw `b`'s gratuitous ARP, next to the RFC's
//! Master_Down_Interval. Everything is removed afterwards, also after Ctrl-C.

#[path = "../tests/support/mod.rs"]
mod support;

use std::process::ExitCode;

use support::Daemon;
use support::failover::{self, Settings, Step};

const USAGE: &str = "usage: failover_demo [--daemon rkeepalived|keepalived]";

fn main() -> ExitCode {
    let mut daemon = Daemon::Rkeepalived;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--daemon" => match args.next().as_deref().and_then(Daemon::from_name) {
                Some(d) => daemon = d,
                None => {
                    eprintln!("--daemon takes rkeepalived or keepalived\n{USAGE}");
                    return ExitCode::from(2);
                }
            },
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("unknown argument {other:?}\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }

    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("failover_demo needs root to create network namespaces (try sudo -E)");
        return ExitCode::from(2);
    }
    let bin = match daemon.binary() {
        Ok(bin) => bin,
        Err(why) => {
            eprintln!("{why}");
            if daemon == Daemon::Rkeepalived {
                eprintln!("or run the same demo with keepalived: --daemon keepalived");
            }
            return ExitCode::from(2);
        }
    };
    if support::find_program("tcpdump").is_none() {
        eprintln!("failover_demo needs tcpdump (apt-get install tcpdump)");
        return ExitCode::from(2);
    }
    support::install_interrupt_handler();

    let s = Settings::default();
    println!(
        "failover demo: {} ({}), VRRPv{}, advert_int {} s",
        daemon.name(),
        bin.display(),
        s.version,
        s.advert_int.as_secs_f64()
    );
    let mut prefix = String::new();
    let mut vip = None;
    let result = failover::run(daemon, &s, &mut |step| match step {
        Step::Built { lan, vip: v } => {
            prefix = lan.prefix().to_owned();
            vip = Some(v);
            println!(
                "LAN {}.0/24 in namespaces {prefix}{{lan,a,b,c}}: a {} (priority {}), \
                 b {} (priority {}), client c {}; VIP {v}",
                lan.subnet().map(|b| b.to_string()).join("."),
                lan.addr("a"),
                s.master_priority,
                lan.addr("b"),
                s.backup_priority,
                lan.addr("c"),
            );
        }
        Step::Elected(t) => println!(
            "a is MASTER and holds the VIP, b is BACKUP ({:.2} s after start)",
            t.as_secs_f64()
        ),
        Step::Killed => {
            println!("SIGKILL to a's daemon and all its processes (a crash: no chance to resign)")
        }
    });
    // `run` has dropped every guard by now: processes are dead, namespaces deleted.
    let left: Vec<String> = support::list_namespaces()
        .into_iter()
        .filter(|n| !prefix.is_empty() && n.starts_with(&prefix))
        .collect();

    let code = match result {
        _ if support::interrupted() => {
            println!("interrupted");
            ExitCode::from(130)
        }
        Err(e) => {
            eprintln!("failover did not happen as expected: {e}");
            ExitCode::FAILURE
        }
        Ok(o) => {
            report(&s, &o, vip.expect("Built comes first"));
            ExitCode::SUCCESS
        }
    };
    if left.is_empty() {
        println!("cleaned up: daemons and tcpdump killed, namespaces removed");
    } else {
        eprintln!("namespaces left behind (remove with `ip netns del`): {left:?}");
    }
    code
}

fn report(s: &Settings, o: &failover::Outcome, vip: std::net::Ipv4Addr) {
    println!("\ntimeline (ms from the kill):");
    for (t, what) in failover::timeline(o, vip) {
        println!("  {t:>7.0}  {what}");
    }
    let mdi = o.mdi.as_secs_f64() * 1e3;
    let skew = mdi - 3.0 * s.advert_int.as_secs_f64() * 1e3;
    println!(
        "\nRFC {} Master_Down_Interval of b (priority {}): 3 x {} ms + skew {:.0} ms = {:.0} ms,",
        if s.version == 3 { "5798" } else { "3768" },
        s.backup_priority,
        s.advert_int.as_millis(),
        skew,
        mdi
    );
    match (o.last_advert_before_kill, o.advert_to_garp(), o.overhead()) {
        (Some(last), Some(took), Some(over)) => println!(
            "counted from the last advert b heard from a ({last:.0} ms before the kill), so the \
             takeover was due {:.0} ms after the kill;\nthe GARP came {took:.0} ms after that \
             advert: {over:+.0} ms against the RFC.",
            mdi - last
        ),
        _ => println!("(no advert or no GARP captured, so no comparison)"),
    }
    println!(
        "the VIP was polled every {} ms with `ip -o addr` (one call takes ~{:.1} ms), so its \
         time is an upper bound;\nthe capture timestamps are the exact figures.",
        s.poll.as_millis(),
        o.poll_cost.as_secs_f64() * 1e3,
    );
    if o.priority_zero_after_kill {
        println!("note: a priority-0 advert from a was captured after the kill (unexpected)");
    }
}
