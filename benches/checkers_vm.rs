//! `cargo bench --bench checkers_vm`: the checker issue's benchmark, rkeepalived side by side
//! with keepalived (the distribution's, 2.2.7 here), in one qemu TCG VM boot
//! (`tests/support/vm.rs`).
//!
//! For S×R real servers (10×5, 100×10, 1000×10; env `CHECKER_VM_SCALES="10x5,1000x10"` to
//! choose; `CHECKER_VM_DAEMONS=rkeepalived` runs only one daemon) the guest script, for keepalived (`-n -l -C`) and then rkeepalived (`-n -l -C`, the
//! release binary), on the same generated configuration:
//!
//! * starts this bench binary in the guest as a many-port TCP server (`--serve`): one listener
//!   per real server on 10.9.0.1 (lo), ports `BASE_PORT + i`; the ports with `i % 5 == 0`
//!   (20 %) stay closed; a port closes when its number is appended to `/tmp/close`;
//! * starts the daemon on S virtual servers 10.8.x.y:80 (NAT) × R real servers, each with
//!   `TCP_CHECK { connect_timeout 1 }` and `delay_loop 1`, `retry 1`, `delay_before_retry 1`
//!   at virtual_server level;
//! * runs this binary as `--measure`: waits until the IPVS table holds S + 0.8·S·R rows, then
//!   measures the daemon's CPU (utime+stime of the daemon and all its descendants, i.e.
//!   keepalived's checker child too), RSS (sum of VmRSS) and PSS (sum of `smaps_rollup`'s
//!   Pss: the pages the processes share counted once) over a steady 5 s window, then
//!   closes 5 up real servers' ports 200 ms apart and records, for each, the time from the
//!   server's close to the row leaving the table (polled through the IPVS generic netlink
//!   dump of that service, which is what `ipvsadm -Ln` reads; timestamps are taken in the
//!   guest, `CLOCK_REALTIME`);
//! * stops the daemon and flushes the table.
//!
//! The host prints one table row per scale and daemon, with keepalived's detection bound
//! `delay_loop + (retry + 1) × connect_timeout + retry × delay_before_retry` = 4 s here.
//!
//! Caveat: the guest has 2 vCPUs (TCG; `RKVM_SMP=N` to change), shared by the daemon, the
//! port server and the poller (which sleeps 10 ms between rounds so as not to steal the
//! daemon's CPU; the achieved poll interval is printed).

#[path = "../tests/support/mod.rs"]
mod support;

use rkeepalived::ipvs::genl::IpvsSocket;
use rkeepalived::ipvs::model::ServiceKey;
use std::collections::HashMap;
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

/// First real-server port; real server `i` (over all virtual servers) listens on `BASE_PORT + i`.
const BASE_PORT: u16 = 20000;
/// The real servers' address (on the guest's lo).
const RS_IP: &str = "10.9.0.1";
/// The control file the port server polls: one port number per line to close.
const CLOSE_FILE: &str = "/tmp/close";
/// Where the port server logs `PORT NS` when it has closed a port.
const CLOSED_LOG: &str = "/tmp/closed.log";
/// Where the port server signals that every listener is bound.
const READY_FILE: &str = "/tmp/serve.ready";
/// Real servers whose ports close during the detection measurement.
const VICTIMS: usize = 5;
/// Guest vCPUs unless `RKVM_SMP` says otherwise (the issue's reference used 2).
const GUEST_VCPUS: u32 = 2;
/// Checker timing of the generated configuration (seconds).
const DELAY_LOOP: u64 = 1;
const CONNECT_TIMEOUT: u64 = 1;
const RETRY: u64 = 1;
const DELAY_BEFORE_RETRY: u64 = 1;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("--serve") => serve(&args[2..]),
        Some("--measure") => measure(&args[2..]),
        // `cargo bench` passes `--bench`; anything else (e.g. `cargo test --benches`) skips.
        Some("--bench") => host(),
        _ => eprintln!("checkers_vm: run with `cargo bench --bench checkers_vm`"),
    }
}

// ---------------------------------------------------------------------------------------------
// Host side: the guest script, the VM run, the table.

fn scales() -> Vec<(usize, usize)> {
    let spec = std::env::var("CHECKER_VM_SCALES").unwrap_or_else(|_| "10x5,100x10,1000x10".into());
    spec.split(',')
        .filter_map(|s| {
            let (a, b) = s.trim().split_once('x')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        })
        .collect()
}

/// The daemons to run, in order: env `CHECKER_VM_DAEMONS` (comma-separated, e.g.
/// `rkeepalived`), default both.
fn daemons() -> Vec<&'static str> {
    let spec = std::env::var("CHECKER_VM_DAEMONS").unwrap_or_default();
    let all = ["keepalived", "rkeepalived"];
    let chosen: Vec<&str> = all
        .into_iter()
        .filter(|d| spec.split(',').any(|s| s.trim() == *d))
        .collect();
    if chosen.is_empty() {
        all.to_vec()
    } else {
        chosen
    }
}

/// The virtual server address of virtual server `s`: 10.8.(s / 250).(s % 250 + 1).
fn vip(s: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 8, (s / 250) as u8, (s % 250 + 1) as u8)
}

fn port(s: usize, r: usize, rs_per_vs: usize) -> u16 {
    BASE_PORT + (s * rs_per_vs + r) as u16
}

/// keepalived.conf with `vs` virtual servers × `rs` real servers.
fn config(vs: usize, rs: usize) -> String {
    let mut c = String::from("global_defs {\n  router_id chkbench\n}\n");
    for s in 0..vs {
        c.push_str(&format!(
            "virtual_server {} 80 {{\n  delay_loop {DELAY_LOOP}\n  retry {RETRY}\n  \
             delay_before_retry {DELAY_BEFORE_RETRY}\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n",
            vip(s)
        ));
        for r in 0..rs {
            c.push_str(&format!(
                "  real_server {RS_IP} {} {{\n    weight 1\n    TCP_CHECK {{\n      \
                 connect_timeout {CONNECT_TIMEOUT}\n    }}\n  }}\n",
                port(s, r, rs)
            ));
        }
        c.push_str("}\n");
    }
    c
}

fn script(scales: &[(usize, usize)]) -> String {
    let mut s = String::from(
        r#"ip addr add 10.9.0.1/32 dev lo
# A syslog sink: without one, glibc's syslog() (keepalived) falls back to the serial console.
syslogd -O /dev/null
echo "ulimit -n $(ulimit -n), $(nproc) vCPU, clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
stop() { # $1 = pid: SIGTERM, then SIGKILL after 120 s
  kill -TERM $1 2>/dev/null
  i=0; while kill -0 $1 2>/dev/null && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done
  kill -KILL $1 2>/dev/null; wait $1 2>/dev/null
}
bench() { # $1 = daemon, $2 = S, $3 = R
  rm -f /tmp/close /tmp/closed.log /tmp/serve.ready; touch /tmp/close
  /usr/bin/chkvm --serve $(($2 * $3)) & srv=$!
  i=0; while [ ! -e /tmp/serve.ready ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done
  conf=/etc/chk-$2x$3.conf; log=/tmp/$1-$2x$3.log
  if [ $1 = keepalived ]; then
    keepalived -n -l -C -p /tmp/ka.pid -c /tmp/kac.pid -r /tmp/kar.pid -f $conf >$log 2>&1 & d=$!
  else
    rkeepalived -n -l -C -p /tmp/rk.pid -f $conf >$log 2>&1 & d=$!
  fi
  /usr/bin/chkvm --measure $1 $2 $3 $d
  stop $d
  stop $srv
  ipvsadm -C
  echo "@@LOG $1 $2x$3: $(wc -l <$log) lines, $(grep -c -i 'too many open files' $log) EMFILE, $(grep -c -i 'failed' $log) 'failed'"
  tail -n 3 $log
}
"#,
    );
    for &(vs, rs) in scales {
        for d in daemons() {
            s.push_str(&format!("bench {d} {vs} {rs}\n"));
        }
    }
    s
}

/// One `@@R key=value …` line of the guest.
fn parse_result(line: &str) -> HashMap<String, String> {
    line.split_whitespace()
        .skip(1)
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn host() {
    let Some(vm) = support::vm::Vm::with_rkeepalived("checkers_vm") else {
        return;
    };
    // The issue's reference figures were taken with 2 vCPUs; RKVM_SMP overrides.
    let vm = vm.with_default_vcpus(GUEST_VCPUS);
    eprintln!("guest vCPUs: {}", vm.vcpus());
    match support::Daemon::Rkeepalived.binary() {
        Ok(p) => eprintln!("rkeepalived binary: {}", p.display()),
        Err(e) => eprintln!("rkeepalived binary: {e}"),
    }
    let scales = scales();
    let exe = std::env::current_exe().expect("current_exe");
    let mut files = vec![support::vm::GuestFile::from_host("/usr/bin/chkvm", &exe)];
    for &(vs, rs) in &scales {
        files.push(support::vm::GuestFile::new(
            &format!("/etc/chk-{vs}x{rs}.conf"),
            config(vs, rs),
        ));
    }
    let timeout = Duration::from_secs(
        std::env::var("CHECKER_VM_TIMEOUT")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(2400),
    );
    let out = vm.run_with(&script(&scales), &files, timeout);
    let mut rows = Vec::new();
    for line in out.stdout.lines() {
        if line.starts_with("@@R ") {
            rows.push(parse_result(line));
        } else {
            println!("guest| {line}");
        }
    }
    println!(
        "\nVM boot {:.1} s, total {:.1} s, script exit {:?}",
        out.boot_time.map_or(f64::NAN, |d| d.as_secs_f64()),
        out.total_time.as_secs_f64(),
        out.exit_code
    );
    let bound = DELAY_LOOP + (RETRY + 1) * CONNECT_TIMEOUT + RETRY * DELAY_BEFORE_RETRY;
    println!(
        "\nTCP_CHECK delay_loop {DELAY_LOOP} retry {RETRY} delay_before_retry {DELAY_BEFORE_RETRY} \
         connect_timeout {CONNECT_TIMEOUT}; keepalived's bound = delay_loop + (retry+1)*connect_timeout \
         + retry*delay_before_retry = {bound} s"
    );
    println!(
        "{:>8} {:>12} {:>10} {:>9} {:>9} {:>8} {:>9} {:>9} {:>6} {:>9} {:>9}  detections (ms)",
        "scale",
        "daemon",
        "table (s)",
        "med (ms)",
        "max (ms)",
        "CPU %",
        "RSS MiB",
        "PSS MiB",
        "procs",
        "poll ms",
        "poll max"
    );
    for r in &rows {
        let g = |k: &str| r.get(k).cloned().unwrap_or_else(|| "-".into());
        let det: Vec<f64> = g("det_ms")
            .split(',')
            .filter_map(|v| v.parse().ok())
            .collect();
        let (med, max) = if det.is_empty() {
            ("-".to_owned(), "-".to_owned())
        } else {
            let mut d = det.clone();
            d.sort_by(f64::total_cmp);
            (
                format!("{:.0}", d[d.len() / 2]),
                format!("{:.0}", d[d.len() - 1]),
            )
        };
        let mib = |k: &str| {
            g(k).parse::<f64>()
                .map_or("-".into(), |k| format!("{:.1}", k / 1024.0))
        };
        let (rss, pss) = (mib("rss_kib"), mib("pss_kib"));
        println!(
            "{:>8} {:>12} {:>10} {:>9} {:>9} {:>8} {:>9} {:>9} {:>6} {:>9} {:>9}  {}",
            g("scale"),
            g("daemon"),
            g("table_s"),
            med,
            max,
            g("cpu_pct"),
            rss,
            pss,
            g("procs"),
            g("poll_ms"),
            g("poll_max_ms"),
            g("det_ms"),
        );
    }
    if rows.is_empty() || out.exit_code != Some(0) {
        eprintln!("console tail:\n{}", tail(&out.console, 60));
    }
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

// ---------------------------------------------------------------------------------------------
// Guest side: the port server.

/// `--serve N`: listeners on RS_IP:BASE_PORT+i for i in 0..N except i % 5 == 0; closes the
/// ports listed in CLOSE_FILE, logging `PORT NS` to CLOSED_LOG.
fn serve(args: &[String]) {
    support::guest::PortServer {
        ip: RS_IP.parse().expect("RS_IP"),
        base_port: BASE_PORT,
        count: args[0].parse().expect("--serve N"),
        closed_every: Some(5),
        ready_file: READY_FILE,
        close_file: CLOSE_FILE,
        closed_log: CLOSED_LOG,
    }
    .serve();
}

// ---------------------------------------------------------------------------------------------
// Guest side: the measurement.

/// `Pss` of `pid` in KiB (`/proc/PID/smaps_rollup`): each resident page divided by the number
/// of processes mapping it, so a tree's sum counts the binary and libc pages its processes
/// share once.
fn proc_pss(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    kib_field(&text, "Pss:")
}

/// The KiB figure of the first `key` line (`Rss:`, `Pss:`...) of a `smaps` or `smaps_rollup`
/// text.
fn kib_field(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// Where `pid`'s memory is, in KiB: `smaps_rollup`'s Rss, Pss and Anonymous, and the resident
/// pages of its executable's mappings (text `r-xp`, read-only data `r--p`) from `smaps`.
fn memory_breakdown(pid: u32) -> String {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap_or_default();
    let (mut text, mut rodata, mut perms) = (0, 0, None::<String>);
    for line in smaps.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() >= 5 && f[0].contains('-') && f[1].len() == 4 {
            perms = (f.len() >= 6 && std::path::Path::new(f[5]) == exe).then(|| f[1].to_owned());
        } else if let Some(p) = &perms {
            let kib = kib_field(line, "Rss:").unwrap_or(0);
            match p.as_str() {
                "r-xp" => text += kib,
                "r--p" => rodata += kib,
                _ => {}
            }
        }
    }
    let field = |key| kib_field(&rollup, key).unwrap_or(0);
    format!(
        "pid {pid}: Rss {} Pss {} Anonymous {} KiB; executable text {text} rodata {rodata} KiB",
        field("Rss:"),
        field("Pss:"),
        field("Anonymous:")
    )
}

/// `(utime + stime in ticks, VmRSS in KiB)` of `pid`.
fn proc_usage(pid: u32) -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let f: Vec<&str> = stat[stat.rfind(')')? + 2..].split_whitespace().collect();
    let cpu = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    Some((cpu, rss))
}

/// `root` and all its descendants.
fn process_tree(root: u32) -> Vec<u32> {
    let mut parent = HashMap::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let ppid = stat
            .rfind(')')
            .and_then(|i| stat[i + 2..].split_whitespace().nth(1)?.parse::<u32>().ok());
        if let Some(pp) = ppid {
            parent.insert(pid, pp);
        }
    }
    let mut tree = vec![root];
    let mut grew = true;
    while grew {
        grew = false;
        for (&pid, pp) in &parent {
            if tree.contains(pp) && !tree.contains(&pid) {
                tree.push(pid);
                grew = true;
            }
        }
    }
    tree
}

fn vs_key(s: usize) -> ServiceKey {
    ServiceKey::Addr {
        protocol: libc::IPPROTO_TCP as u16,
        addr: IpAddr::V4(vip(s)),
        port: 80,
    }
}

/// `--measure DAEMON S R PID`: prints one `@@R …` line.
fn measure(args: &[String]) {
    let daemon = &args[0];
    let vs: usize = args[1].parse().expect("S");
    let rs: usize = args[2].parse().expect("R");
    let pid: u32 = args[3].parse().expect("PID");
    let scale = format!("{vs}x{rs}");
    let mut result = format!("@@R scale={scale} daemon={daemon}");
    let started = Instant::now();
    let mut ipvs = IpvsSocket::open().expect("IPVS socket");

    // 1. The table completes: every virtual server, the 80 % up real servers.
    let want = vs + vs * rs * 4 / 5;
    let mut rows = 0;
    while started.elapsed() < Duration::from_secs(600) {
        rows = support::guest::table_rows(&mut ipvs);
        if rows == want {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let table_s = started.elapsed().as_secs_f64();
    println!(
        "{daemon} {scale}: table {rows}/{want} rows after {table_s:.1} s (polling, each dump of the \
         whole table included)"
    );
    result.push_str(&format!(" table_s={table_s:.1} rows={rows}"));
    if rows != want {
        result.push_str(" table=INCOMPLETE");
    }
    std::thread::sleep(Duration::from_secs(2));

    // 2. Steady state: CPU and RSS over 5 s.
    let tree = process_tree(pid);
    let before: Vec<_> = tree.iter().map(|&p| proc_usage(p)).collect();
    let t = Instant::now();
    std::thread::sleep(Duration::from_secs(5));
    let after: Vec<_> = tree.iter().map(|&p| proc_usage(p)).collect();
    let window = t.elapsed().as_secs_f64();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let ticks: u64 = before
        .iter()
        .zip(&after)
        .filter_map(|(b, a)| Some(a.as_ref()?.0.saturating_sub(b.as_ref()?.0)))
        .sum();
    let rss: u64 = after.iter().flatten().map(|u| u.1).sum();
    let pss: u64 = tree.iter().filter_map(|&p| proc_pss(p)).sum();
    for &p in &tree {
        println!("{daemon} {vs}x{rs} {}", memory_breakdown(p));
    }
    let cpu_pct = ticks as f64 / hz / window * 100.0;
    result.push_str(&format!(
        " cpu_pct={cpu_pct:.1} rss_kib={rss} pss_kib={pss} procs={}",
        tree.len()
    ));
    let rows_after = support::guest::table_rows(&mut ipvs);
    if rows_after != want {
        result.push_str(&format!(" rows_after_window={rows_after}"));
    }

    // 3. Five up real servers close, 200 ms apart; time from close to the row leaving.
    let victims: Vec<(usize, u16)> = (0..VICTIMS)
        .map(|k| {
            let s = k * vs / VICTIMS;
            let r = (0..rs)
                .map(|j| (1 + k + j) % rs)
                .find(|r| !(s * rs + r).is_multiple_of(5))
                .unwrap_or(0);
            (s, port(s, r, rs))
        })
        .collect();
    let present = |ipvs: &mut IpvsSocket, s: usize, p: u16| {
        ipvs.dests(&vs_key(s))
            .map(|d| d.iter().any(|d| d.key.port == p))
            .unwrap_or(false)
    };
    let mut was_present = Vec::new();
    for &(s, p) in &victims {
        was_present.push(present(&mut ipvs, s, p));
        if !was_present.last().unwrap() {
            println!("victim {}:{p} is not in the table before the close", vip(s));
        }
    }
    let mut ctl = std::fs::OpenOptions::new()
        .append(true)
        .open(CLOSE_FILE)
        .expect("open close file");
    let mut closed_at: Vec<Option<u128>> = vec![None; VICTIMS];
    let mut gone_at: Vec<Option<u128>> = vec![None; VICTIMS];
    let t0 = Instant::now();
    let (mut polls, mut last_poll, mut max_gap) = (0u64, Instant::now(), Duration::ZERO);
    while gone_at.iter().any(Option::is_none) && t0.elapsed() < Duration::from_secs(120) {
        for k in 0..VICTIMS {
            if closed_at[k].is_none() && t0.elapsed() >= Duration::from_millis(200 * k as u64) {
                writeln!(ctl, "{}", victims[k].1).expect("append to the close file");
                closed_at[k] = Some(support::guest::realtime_ns());
            }
        }
        let active: Vec<usize> = (0..VICTIMS)
            .filter(|&k| closed_at[k].is_some() && gone_at[k].is_none())
            .collect();
        if !active.is_empty() {
            for k in active {
                let (s, p) = victims[k];
                if !present(&mut ipvs, s, p) {
                    gone_at[k] = Some(support::guest::realtime_ns());
                }
            }
            polls += 1;
            max_gap = max_gap.max(last_poll.elapsed());
            last_poll = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let poll_ms = t0.elapsed().as_secs_f64() * 1000.0 / polls.max(1) as f64;
    // The server's own close times (it polls the control file every 5 ms).
    let mut server_close = HashMap::new();
    if let Ok(log) = std::fs::read_to_string(CLOSED_LOG) {
        for l in log.lines() {
            if let Some((p, ns)) = l.split_once(' ')
                && let (Ok(p), Ok(ns)) = (p.parse::<u16>(), ns.parse::<u128>())
            {
                server_close.insert(p, ns);
            }
        }
    }
    let mut det = Vec::new();
    let mut lag = Vec::new();
    for k in 0..VICTIMS {
        let p = victims[k].1;
        let close = server_close.get(&p).copied().or(closed_at[k]);
        if let (Some(c), Some(w)) = (server_close.get(&p), closed_at[k]) {
            lag.push(format!("{:.0}", (*c as f64 - w as f64) / 1e6));
        }
        det.push(match (close, gone_at[k]) {
            _ if !was_present[k] => "ABSENT".to_owned(),
            (Some(c), Some(g)) => format!("{:.0}", (g as f64 - c as f64) / 1e6),
            _ => "TIMEOUT".to_owned(),
        });
    }
    result.push_str(&format!(
        " det_ms={} poll_ms={poll_ms:.0} poll_max_ms={} close_lag_ms={}",
        det.join(","),
        max_gap.as_millis(),
        lag.join(",")
    ));
    let tail: Vec<_> = tree.iter().map(|&p| proc_usage(p)).collect();
    let ticks_total: u64 = tail.iter().flatten().map(|u| u.0).sum();
    result.push_str(&format!(
        " cpu_total_s={:.1} elapsed_s={:.1}",
        ticks_total as f64 / hz,
        started.elapsed().as_secs_f64()
    ));
    println!("{result}");
}
