//! `cargo bench --bench memory`: the memory of one VRRP instance, keepalived 2.2.7 and
//! rkeepalived side by side (issue 11, "Memory").
//!
//! Each run builds fresh namespaces (nodes `a` and `b`), starts the daemon on `a` with one
//! VRRPv2 instance (priority 150, one VIP, advert_int 1 s; no virtual servers), waits until
//! `a` holds the VIP and then `MEMORY_SETTLE` (5) seconds more, and reads
//! `/proc/PID/smaps_rollup` of every process of the daemon's process group: keepalived's
//! parent and VRRP child (`-P`), rkeepalived's supervisor and daemon.
//!
//! Three figures, each summed over the processes:
//! * **RSS**: resident pages mapped by each process; a page of the binary or of libc that
//!   two processes both map counts twice. This is what `ps` and `top` show.
//! * **PSS**: each resident page divided by the number of processes that map it: the share
//!   of the machine's memory the daemon costs (the kernel's proportional set size).
//! * **USS**: pages mapped by one process only (private clean + private dirty): what
//!   stopping the daemon frees.
//!
//! `MEMORY_RUNS` (3) runs per daemon, alternated; the table shows medians in MiB. First, the
//! sizes of the rkeepalived binary's `.text.hot` (link/hot-text.ld, placed by build.rs) and
//! `.text`.
//! Needs root. A daemon whose binary is missing is reported and skipped.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Duration;
use support::{Daemon, Lan};

fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One process's figures in KiB.
#[derive(Debug, Default, Clone, Copy)]
struct Mem {
    rss: u64,
    pss: u64,
    uss: u64,
    anon: u64,
}

impl std::ops::Add for Mem {
    type Output = Mem;
    fn add(self, o: Mem) -> Mem {
        Mem {
            rss: self.rss + o.rss,
            pss: self.pss + o.pss,
            uss: self.uss + o.uss,
            anon: self.anon + o.anon,
        }
    }
}

/// `smaps_rollup` of `pid` (the kernel's sums over every mapping), in KiB.
fn mem_of(pid: u32) -> Option<Mem> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let mut m = Mem::default();
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let (Some(key), Some(v)) = (it.next(), it.next().and_then(|v| v.parse::<u64>().ok()))
        else {
            continue;
        };
        match key {
            "Rss:" => m.rss = v,
            "Pss:" => m.pss = v,
            "Private_Clean:" | "Private_Dirty:" => m.uss += v,
            "Anonymous:" => m.anon = v,
            _ => {}
        }
    }
    Some(m)
}

/// The processes whose process group is `pgid` (the daemon's tree: [`support::Proc`] makes
/// each spawned process a group leader), with their names.
fn group(pgid: u32) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // pid (comm) state ppid pgrp ...: comm may hold spaces, so split after the last ')'.
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let comm = head.split_once('(').map_or("", |(_, c)| c).to_owned();
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.get(2).and_then(|g| g.parse::<u32>().ok()) == Some(pgid) {
            out.push((pid, comm));
        }
    }
    out.sort();
    out
}

fn conf(lan: &Lan) -> String {
    format!(
        "global_defs {{\n  router_id a\n}}\n\
         vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n  \
         priority 150\n  advert_int 1\n  virtual_ipaddress {{\n    {}/24\n  }}\n}}\n",
        lan.ip(100)
    )
}

/// One run: the per-process figures, or why the run failed.
fn run(daemon: Daemon, settle: Duration) -> Result<Vec<(String, Mem)>, String> {
    let lan = Lan::new(&["a", "b"]);
    let a = lan.node("a");
    let p = a.spawn(daemon, &conf(&lan));
    let vip = std::net::IpAddr::V4(lan.ip(100));
    if support::wait_until(Duration::from_secs(15), Duration::from_millis(20), || {
        a.has_addr(vip)
    })
    .is_none()
    {
        return Err(format!("no VIP after 15 s:\n{}", p.log_tail(20)));
    }
    std::thread::sleep(settle);
    let procs = group(p.pid);
    if procs.is_empty() {
        return Err("no process in the daemon's group".to_owned());
    }
    let mut out = Vec::new();
    for (pid, comm) in procs {
        let role = if pid == p.pid { "parent" } else { "child" };
        if let Some(m) = mem_of(pid) {
            out.push((format!("{comm} ({role})"), m));
        }
    }
    p.term();
    Ok(out)
}

/// The sizes in bytes of `.text.hot` and `.text` in the ELF file at `path` (its section
/// headers, read with the `object` crate). build.rs links the functions of link/hot-text.ld
/// into `.text.hot`: when the code has moved on from that file, the section shrinks and the
/// daemon's resident text grows.
fn hot_text(path: &std::path::Path) -> Option<(u64, u64)> {
    use object::{Object as _, ObjectSection as _};
    let data = std::fs::read(path).ok()?;
    let file = object::File::parse(&*data).ok()?;
    let size = |name: &str| file.section_by_name(name).map_or(0, |s| s.size());
    Some((size(".text.hot"), size(".text")))
}

fn median(mut v: Vec<u64>) -> u64 {
    v.sort_unstable();
    v[v.len() / 2]
}

fn mib(kib: u64) -> String {
    format!("{:.2}", kib as f64 / 1024.0)
}

fn main() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        println!("memory bench skipped: needs root (network namespaces)");
        return;
    }
    support::install_interrupt_handler();
    let runs: usize = env_number("MEMORY_RUNS", 3).max(1);
    let settle = Duration::from_secs(env_number("MEMORY_SETTLE", 5));
    println!(
        "memory bench: one VRRPv2 instance, master, no virtual servers; {runs} runs per daemon, \
         figures {} s after the VIP appeared",
        settle.as_secs()
    );
    if let Ok(bin) = Daemon::Rkeepalived.binary() {
        match hot_text(&bin) {
            Some((hot, text)) => println!(
                "rkeepalived binary {}: .text.hot {} KiB, .text {} KiB (link/hot-text.ld; \
                 regenerate it with scripts/hot-text when .text.hot shrinks)",
                bin.display(),
                hot / 1024,
                text / 1024
            ),
            None => println!("rkeepalived binary {}: not an ELF file", bin.display()),
        }
    }
    let mut totals: Vec<(Daemon, Vec<Mem>)> = Daemon::ALL.iter().map(|d| (*d, vec![])).collect();
    for i in 0..runs {
        for (daemon, sums) in totals.iter_mut() {
            if let Err(why) = daemon.binary() {
                if i == 0 {
                    println!("{}: skipped: {why}", daemon.name());
                }
                continue;
            }
            match run(*daemon, settle) {
                Ok(procs) => {
                    for (name, m) in &procs {
                        println!(
                            "  run {i} {:<11} {name:<26} RSS {:>6} KiB  PSS {:>6} KiB  USS {:>6} \
                             KiB  anon {:>6} KiB",
                            daemon.name(),
                            m.rss,
                            m.pss,
                            m.uss,
                            m.anon
                        );
                    }
                    sums.push(procs.iter().fold(Mem::default(), |a, (_, m)| a + *m));
                }
                Err(why) => println!("  run {i} {}: failed: {why}", daemon.name()),
            }
            if support::interrupted() {
                return;
            }
        }
    }
    println!();
    println!(
        "| daemon | runs | RSS MiB (sum) | PSS MiB (sum) | USS MiB (sum) | anonymous MiB (sum) |"
    );
    println!("|---|---|---|---|---|---|");
    for (daemon, sums) in totals {
        if sums.is_empty() {
            continue;
        }
        let col = |f: fn(&Mem) -> u64| mib(median(sums.iter().map(f).collect()));
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            daemon.name(),
            sums.len(),
            col(|m| m.rss),
            col(|m| m.pss),
            col(|m| m.uss),
            col(|m| m.anon)
        );
    }
}
