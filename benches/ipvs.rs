//! `cargo bench --bench ipvs`: time from start to a full IPVS table, and RSS, for keepalived
//! 2.2.7 and rkeepalived on the same generated configs, in one qemu TCG VM boot (the host
//! kernel has no IPVS; see `tests/support/vm.rs`).
//!
//! For S virtual servers × R real servers (NAT, `wrr`, no checkers; default scales
//! `10x5,100x10,1000x10,5000x10`, env `IPVS_SCALES` to choose) the guest (this binary, run with
//! `guest` as its first argument) flushes the table, starts the daemon (`-n -l -G -C`: only the
//! checker/IPVS side, logging to a file and not through syslog, which without a syslogd falls
//! back to the slow serial console), and polls the kernel over generic netlink until all S services hold
//! their R destinations; it then reads `VmRSS` of the daemon's processes, stops it with
//! SIGTERM and waits for the table to be empty. Every run gets a fresh network namespace (a
//! pristine IPVS instance; see [`fresh_netns`]). The kernel's own share is measured twice: the
//! same rows sent by rkeepalived's pipelined `apply` alone (no daemon, config already parsed),
//! and `ipvsadm -R` (one request and one ACK per row, from C).
//!
//! The guest gets 2 vCPUs (`RKVM_SMP`, default 2 here: the issue's reference figures were
//! taken so). Each daemon runs `IPVS_RUNS` times per scale (default 5), alternating with the
//! other, and the median run is shown, since the host's load varies while the VM runs. Also
//! printed: CPU time (user+system) of each daemon until the table was full; rkeepalived's
//! startup phases (from its `RKEEPALIVED_TIMING` marks, see `rkeepalived::timing`); and a
//! breakdown of rkeepalived's time, with the kernel's own share of the IPVS requests.

#[path = "../tests/support/mod.rs"]
mod support;

use rkeepalived::config::{LoadOptions, load_str};
use rkeepalived::ipvs::desired::desired_table;
use rkeepalived::ipvs::genl::IpvsSocket;
use rkeepalived::ipvs::model::{IPPROTO_TCP, ServiceKey};
use rkeepalived::ipvs::reconcile::reconcile;
use rkeepalived::timing;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::vm::{GuestFile, Vm};

const DEFAULT_SCALES: &str = "10x5,100x10,1000x10,5000x10";

/// Runs of each daemon per scale (`IPVS_RUNS`, default 5); the median is shown.
fn runs() -> usize {
    std::env::var("IPVS_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .filter(|&n| n >= 1)
        .unwrap_or(5)
}

fn scales() -> Vec<(usize, usize)> {
    std::env::var("IPVS_SCALES")
        .unwrap_or_else(|_| DEFAULT_SCALES.into())
        .split(',')
        .filter_map(|s| {
            let (a, b) = s.trim().split_once('x')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        })
        .collect()
}

/// S virtual servers `10.100.0.0+i:80` (NAT, wrr), each with R real servers
/// `10.200.0.1..R:80`.
fn config(s: usize, r: usize) -> String {
    let mut c = String::new();
    for i in 0..s {
        let vip = std::net::Ipv4Addr::from(u32::from_be_bytes([10, 100, 0, 0]) + i as u32);
        let _ = writeln!(
            c,
            "virtual_server {vip} 80 {{\n  lb_algo wrr\n  lb_kind NAT\n  protocol TCP"
        );
        for j in 0..r {
            let rip = std::net::Ipv4Addr::from(u32::from_be_bytes([10, 200, 0, 1]) + j as u32);
            let _ = writeln!(c, "  real_server {rip} 80 {{\n    weight 1\n  }}");
        }
        c.push_str("}\n");
    }
    c
}

/// The same table as `ipvsadm -R` input.
fn restore_rules(s: usize, r: usize) -> String {
    let mut c = String::new();
    for i in 0..s {
        let vip = std::net::Ipv4Addr::from(u32::from_be_bytes([10, 100, 0, 0]) + i as u32);
        let _ = writeln!(c, "-A -t {vip}:80 -s wrr");
        for j in 0..r {
            let rip = std::net::Ipv4Addr::from(u32::from_be_bytes([10, 200, 0, 1]) + j as u32);
            let _ = writeln!(c, "-a -t {vip}:80 -r {rip}:80 -m -w 1");
        }
    }
    c
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("guest") {
        guest(&args[2..]);
        return;
    }
    if args.iter().any(|a| a == "--list") {
        return; // `cargo test --benches` style listing: nothing to list.
    }
    host();
}

// ----- host side -------------------------------------------------------------------------------

fn host() {
    // The issue's reference figures were taken with 2 guest vCPUs (`RKVM_SMP`, read when the VM boots).
    if std::env::var_os("RKVM_SMP").is_none() {
        // SAFETY: single-threaded at this point (no thread has been started yet).
        unsafe { std::env::set_var("RKVM_SMP", "2") };
    }
    let Some(vm) = Vm::with_rkeepalived("bench ipvs") else {
        return;
    };
    let scales = scales();
    let exe = std::env::current_exe().expect("current_exe");
    let mut files = vec![GuestFile::from_host("/usr/bin/ipvsbench", &exe)];
    let mut names = Vec::new();
    for &(s, r) in &scales {
        let name = format!("{s}x{r}");
        files.push(GuestFile::new(&format!("/conf/{name}.conf"), config(s, r)));
        files.push(GuestFile::new(
            &format!("/conf/{name}.rules"),
            restore_rules(s, r),
        ));
        names.push(name);
    }
    let runs = runs();
    let script = format!(
        "set -e\n/usr/bin/ipvsbench guest {runs} {}\n",
        names.join(" ")
    );
    let out = vm.run_with(&script, &files, Duration::from_secs(1500));
    eprintln!("VM boot {:?}, total {:?}", out.boot_time, out.total_time);
    if out.exit_code != Some(0) {
        eprintln!("{}", out.console);
        panic!("the guest failed");
    }
    print!("{}", out.stdout);
}

// ----- guest side ------------------------------------------------------------------------------

struct Run {
    full: Duration,
    /// rkeepalived's startup marks ([`rkeepalived::timing`]): phase, time since spawn, and
    /// the daemon's system CPU time so far.
    phases: Vec<(String, Duration, Duration)>,
    /// Main process, and the checker child for keepalived (KiB).
    rss: (u64, u64),
    /// CPU time of the main process and its checker child until the table was full: (user,
    /// system); the system time includes the kernel's work on each IPVS request.
    cpu: (Duration, Duration),
    /// SIGTERM to an empty table (`None`: not empty after 120 s).
    stop: Option<Duration>,
}

fn guest(args: &[String]) {
    let runs: usize = args
        .first()
        .and_then(|n| n.parse().ok())
        .expect("guest RUNS SxR...");
    let names = &args[1..];
    let mut rows = Vec::new();
    for name in names {
        let (s, r) = name
            .split_once('x')
            .and_then(|(a, b)| Some((a.parse::<usize>().ok()?, b.parse::<usize>().ok()?)))
            .expect("scale SxR");
        let conf = format!("/conf/{name}.conf");
        let ka_argv = [
            "keepalived",
            "-n",
            "-l",
            "-G",
            "-C",
            "-p",
            "/tmp/ka.pid",
            "-c",
            "/tmp/kac.pid",
            "-r",
            "/tmp/kav.pid",
            "-f",
            &conf,
        ];
        let rk_argv = [
            "rkeepalived",
            "-n",
            "-l",
            "-G",
            "-C",
            "-p",
            "/tmp/rk.pid",
            "-f",
            &conf,
        ];
        // Alternate the daemons, so that a slow spell of the host hits both alike; keep each
        // one's median run.
        let (mut kas, mut rks) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            kas.push(run_daemon(&ka_argv, s, r, Some("/tmp/kac.pid"), &[]));
            rks.push(run_daemon(&rk_argv, s, r, None, &[(timing::ENV, "1")]));
        }
        let (ka, rk) = (median(kas), median(rks));
        // The kernel's share: the parsed config's rows through the pipelined apply alone.
        let text = std::fs::read_to_string(&conf).expect("config");
        let t = Instant::now();
        let loaded = load_str(Path::new(&conf), &text, &LoadOptions::default());
        let desired = desired_table(&loaded.config);
        let parse = t.elapsed();
        let t = Instant::now();
        let st = Command::new("rkeepalived")
            .args(["-t", "-f", &conf])
            .status()
            .expect("rkeepalived -t");
        let check = t.elapsed();
        assert!(st.success(), "rkeepalived -t");
        fresh_netns();
        let mut sock = IpvsSocket::open().expect("IPVS socket");
        sock.flush().expect("flush");
        let t = Instant::now();
        let c0 = self_cpu();
        let ops = reconcile(&desired, &sock.table().expect("dump"));
        let failed = sock.apply(&ops).expect("apply");
        let apply = t.elapsed();
        let c1 = self_cpu();
        let apply_cpu = (c1.0 - c0.0, c1.1 - c0.1);
        assert!(failed.is_empty(), "apply: {:?}", failed.first());
        sock.flush().expect("flush");
        fresh_netns();
        let mut sock = IpvsSocket::open().expect("IPVS socket");
        let rules = std::fs::File::open(format!("/conf/{name}.rules")).expect("rules");
        let t = Instant::now();
        let st = Command::new("ipvsadm")
            .arg("-R")
            .stdin(rules)
            .status()
            .expect("ipvsadm -R");
        let restore = t.elapsed();
        assert!(st.success(), "ipvsadm -R failed");
        assert_eq!(count_full(&mut sock, r), s, "ipvsadm -R table");
        sock.flush().expect("flush");
        rows.push((
            name.clone(),
            ka,
            rk,
            apply,
            restore,
            ops.len(),
            parse,
            check,
            apply_cpu,
        ));
    }

    println!();
    let vcpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "IPVS start to full table (qemu TCG, {vcpus} vCPU; no checkers; NAT wrr; median of {runs} \
         runs per daemon, alternated; times in ms, RSS in MiB)"
    );
    println!(
        "{:>8} | {:>9} {:>7} {:>9} {:>7} | {:>9} {:>7} {:>7} | {:>7} | {:>9} {:>9} {:>8} {:>8}",
        "SxR",
        "ka start",
        "ka RSS",
        "ka stop",
        "",
        "rk start",
        "rk RSS",
        "rk stop",
        "speedup",
        "rk apply",
        "ipvsadm-R",
        "rk parse",
        "rk -t"
    );
    for (name, ka, rk, apply, restore, ops, parse, check, _) in &rows {
        println!(
            "{:>8} | {:>9.0} {:>7} {:>9} {:>7} | {:>9.0} {:>7.1} {:>7} | {:>6.1}x | {:>9.0} {:>9.0} {:>8.0} {:>8.0}   ({ops} rows)",
            name,
            ms(ka.full),
            format!("{:.1}+{:.1}", mib(ka.rss.0), mib(ka.rss.1)),
            opt_ms(ka.stop),
            "",
            ms(rk.full),
            mib(rk.rss.0),
            opt_ms(rk.stop),
            ka.full.as_secs_f64() / rk.full.as_secs_f64(),
            ms(*apply),
            ms(*restore),
            ms(*parse),
            ms(*check),
        );
    }
    println!(
        "ka RSS = keepalived parent + checker child; rk apply = the same rows through \
         IpvsSocket::apply alone (pipelined, config already parsed); ipvsadm-R = one request \
         and ACK per row from ipvsadm; rk parse = config load and \
         desired table in the bench process; rk -t = `rkeepalived -t` (process start and parse); \
         stop = SIGTERM to an empty table (-: services were left after the daemon exited)."
    );
    println!();
    println!(
        "CPU time until the table was full (user+system ms; system includes the kernel's IPVS work)"
    );
    println!(
        "{:>8} | {:>13} | {:>13} | {:>18}",
        "SxR", "keepalived", "rkeepalived", "rk apply alone"
    );
    for (name, ka, rk, _, _, _, _, _, apply_cpu) in &rows {
        println!(
            "{name:>8} | {:>13} | {:>13} | {:>18}",
            format!("{:.0}+{:.0}", ms(ka.cpu.0), ms(ka.cpu.1)),
            format!("{:.0}+{:.0}", ms(rk.cpu.0), ms(rk.cpu.1)),
            format!("{:.0}+{:.0}", ms(apply_cpu.0), ms(apply_cpu.1)),
        );
    }
    println!();
    println!(
        "rkeepalived phases, ms since spawn (RKEEPALIVED_TIMING marks; seen = poller saw the full table)"
    );
    let names: Vec<String> = rows
        .first()
        .map(|r| r.2.phases.iter().map(|p| p.0.clone()).collect())
        .unwrap_or_default();
    let mut head = format!("{:>8} |", "SxR");
    for n in &names {
        let _ = write!(head, " {n:>12}");
    }
    println!("{head} {:>8}", "seen");
    for (name, _, rk, ..) in &rows {
        let mut line = format!("{name:>8} |");
        for n in &names {
            let v = rk.phases.iter().find(|p| &p.0 == n).map(|p| ms(p.1));
            let _ = write!(line, " {:>12}", v.map_or("-".into(), |v| format!("{v:.0}")));
        }
        println!("{line} {:>8.0}", ms(rk.full));
    }
    println!();
    println!("Where rkeepalived's time to a full table goes (ms):");
    for (name, _, rk, _, _, _, _, _, apply_cpu) in &rows {
        let at = |p: &str| {
            rk.phases
                .iter()
                .find(|(n, ..)| n == p)
                .map_or(0.0, |(_, d, _)| ms(*d))
        };
        let sys_at = |p: &str| {
            rk.phases
                .iter()
                .find(|(n, ..)| n == p)
                .map_or(0.0, |(.., s)| ms(*s))
        };
        let apply = at("ipvs-applied") - at("ipvs-diffed");
        println!(
            "{name:>8}: {:.0} total = {:.0} process start (spawn to main) + {:.0} config parse + \
             {:.0} desired table and diff + {:.0} IPVS requests (of which kernel time, the \
             daemon's system CPU meanwhile: {:.0}; the same rows applied alone by the bench: \
             {:.0}) + {:.0} other (logging, runtime, socket, poll interval)",
            ms(rk.full),
            at("main"),
            at("parsed") - at("logging"),
            (at("ipvs-desired") - at("parsed")) + (at("ipvs-diffed") - at("ipvs-dumped")),
            apply,
            sys_at("ipvs-applied") - sys_at("ipvs-diffed"),
            ms(apply_cpu.1),
            ms(rk.full)
                - at("main")
                - (at("parsed") - at("logging"))
                - (at("ipvs-desired") - at("parsed"))
                - (at("ipvs-diffed") - at("ipvs-dumped"))
                - apply,
        );
    }
}

/// The run with the median time to a full table.
fn median(mut runs: Vec<Run>) -> Run {
    runs.sort_by_key(|r| r.full);
    let mid = runs.len() / 2;
    runs.swap_remove(mid)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn opt_ms(d: Option<Duration>) -> String {
    d.map_or_else(|| "-".to_owned(), |d| format!("{:.0}", ms(d)))
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// How many services hold `r` destinations (services first, then each service's dests).
fn count_full(sock: &mut IpvsSocket, r: usize) -> usize {
    let services = sock.services().unwrap_or_default();
    services
        .iter()
        .filter(|svc| sock.dests(&svc.key).map(|d| d.len()).unwrap_or(0) == r)
        .count()
}

/// Moves this (single-threaded) process into a new network namespace, so that every run starts
/// with a pristine IPVS instance: the kernel keeps deleted destinations in a trash list for up
/// to two minutes (`IP_VS_DEST_TRASH_PERIOD`) and walks that list on every `NEW_DEST`
/// (`ip_vs_trash_get_dest`), so a run right after another run's teardown of 50 000 rows would
/// pay for the previous run. Waits a second first, for the previous namespace's cleanup, and sets `lo` up.
fn fresh_netns() {
    std::thread::sleep(Duration::from_secs(1));
    wait_idle();
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("unshare(CLONE_NEWNET)");
    // With `lo` down the kernel refuses NAT destinations ("address not unicast", EINVAL).
    let st = Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status()
        .expect("ip link set lo up");
    assert!(st.success(), "ip link set lo up");
}

/// User and system CPU time of process `pid` (all its threads), at clock-tick resolution.
fn proc_cpu(pid: u32) -> (Duration, Duration) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the `(comm)`: state is field 3, utime 14, stime 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    let t = |i: usize| Duration::from_millis(f.get(i).copied().unwrap_or(0) * 1000 / hz);
    (t(11), t(12))
}

/// This process's (user, system) CPU time.
fn self_cpu() -> (Duration, Duration) {
    // SAFETY: getrusage writes only into `ru`.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv =
        |t: libc::timeval| Duration::from_micros(t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64);
    (tv(ru.ru_utime), tv(ru.ru_stime))
}

/// Waits (at most 20 s) until the guest's CPUs are idle over a quarter of a second: the
/// kernel tears a namespace's IPVS table down in the background (estimators, destinations),
/// and that work must not land in the next daemon's measurement. The previous run leaves a
/// namespace behind either way (keepalived 2.2.7 may even leave services in it).
fn wait_idle() {
    fn sample() -> (u64, u64) {
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let f: Vec<u64> = stat
            .lines()
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .skip(1)
            .map(|v| v.parse().unwrap_or(0))
            .collect();
        // user nice system idle iowait irq softirq steal
        let idle = f.get(3).copied().unwrap_or(0) + f.get(4).copied().unwrap_or(0);
        (f.iter().take(8).sum(), idle)
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let (t0, i0) = sample();
        std::thread::sleep(Duration::from_millis(250));
        let (t1, i1) = sample();
        let total = t1.saturating_sub(t0).max(1);
        if (i1.saturating_sub(i0)) * 100 / total >= 95 {
            return;
        }
    }
    eprintln!("bench ipvs: the guest did not go idle within 20 s");
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Starts `argv` with a flushed table and returns the time until all `s` services hold `r`
/// destinations, its RSS then, and the time from SIGTERM until the table is empty.
fn run_daemon(
    argv: &[&str],
    s: usize,
    r: usize,
    child_pidfile: Option<&str>,
    env: &[(&str, &str)],
) -> Run {
    fresh_netns();
    let mut sock = IpvsSocket::open().expect("IPVS socket");
    sock.flush().expect("flush");
    if let Some(p) = child_pidfile {
        let _ = std::fs::remove_file(p);
    }
    let log = std::fs::File::create(format!("/tmp/{}.log", argv[0])).expect("log");
    let t0 = Instant::now();
    let t0_ns = timing::monotonic_ns();
    let mut child: Child = Command::new(argv[0])
        .args(&argv[1..])
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start daemon");
    let deadline = t0 + Duration::from_secs(200);
    // Both daemons program the services in config order (keepalived) or key order
    // (rkeepalived), which here are the same: the last service is the last one written. Poll
    // only its destinations (a small dump that hardly slows the daemon down), then confirm the
    // whole table once: every service, each with its R destinations.
    let last = ServiceKey::Addr {
        protocol: IPPROTO_TCP,
        addr: IpAddr::V4(std::net::Ipv4Addr::from(
            u32::from_be_bytes([10, 100, 0, 0]) + s as u32 - 1,
        )),
        port: 80,
    };
    let mut confirmed = 0usize;
    let full = loop {
        if sock.dests(&last).map(|d| d.len()).unwrap_or(0) < r {
            if let Ok(Some(st)) = child.try_wait() {
                panic!("{} exited early ({st})", argv[0]);
            }
            assert!(
                Instant::now() < deadline,
                "{}: table not full in time",
                argv[0]
            );
            std::thread::sleep(Duration::from_millis(2));
            continue;
        }
        let at = t0.elapsed();
        assert!(
            Instant::now() < deadline,
            "{}: table not full in time:\n{}",
            argv[0],
            std::fs::read_to_string(format!("/tmp/{}.log", argv[0])).unwrap_or_default()
        );
        if let Ok(Some(st)) = child.try_wait() {
            panic!(
                "{} exited early ({st}):\n{}",
                argv[0],
                std::fs::read_to_string(format!("/tmp/{}.log", argv[0])).unwrap_or_default()
            );
        }
        let services = sock.services().unwrap_or_default();
        if services.len() == s {
            while confirmed < s
                && sock
                    .dests(&services[confirmed].key)
                    .map(|d| d.len() == r)
                    .unwrap_or(false)
            {
                confirmed += 1;
            }
            if confirmed == s {
                break at;
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let child_pid = child_pidfile
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|t| t.trim().parse::<u32>().ok());
    let rss = (rss_kib(child.id()), child_pid.map_or(0, rss_kib));
    let (u0, s0) = proc_cpu(child.id());
    let (u1, s1) = child_pid.map_or((Duration::ZERO, Duration::ZERO), proc_cpu);
    let cpu = (u0 + u1, s0 + s1);
    let t1 = Instant::now();
    // SAFETY: kill(2) on the PID of the child we started and have not reaped.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    // Until the table is empty; or, once the daemon has exited, until it stops shrinking
    // (keepalived 2.2.7 kills its checker child 5 s after SIGTERM, which can leave services).
    let mut last_change = (usize::MAX, Instant::now());
    let stop = loop {
        let left = sock.services().map(|v| v.len()).unwrap_or(usize::MAX);
        if left == 0 {
            break Some(t1.elapsed());
        }
        if left != last_change.0 {
            last_change = (left, Instant::now());
        }
        let exited = matches!(child.try_wait(), Ok(Some(_)));
        if t1.elapsed() > Duration::from_secs(120)
            || (exited && last_change.1.elapsed() > Duration::from_secs(2))
        {
            eprintln!(
                "{}: {left} services left {:?} after SIGTERM",
                argv[0],
                t1.elapsed()
            );
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let _ = child.wait();
    let phases = std::fs::read_to_string(format!("/tmp/{}.log", argv[0]))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut w = l.strip_prefix(timing::PREFIX)?.split_whitespace();
            let phase = w.next()?.to_owned();
            let ns: u64 = w.next()?.parse().ok()?;
            let sys_us: u64 = w.nth(1).and_then(|v| v.parse().ok()).unwrap_or(0);
            Some((
                phase,
                Duration::from_nanos(ns.saturating_sub(t0_ns)),
                Duration::from_micros(sys_us),
            ))
        })
        .collect();
    eprintln!(
        "{} {s}x{r}: full after {full:?}, RSS {rss:?} KiB, stop {stop:?}",
        argv[0]
    );
    Run {
        full,
        phases,
        rss,
        cpu,
        stop,
    }
}
