//! `cargo bench --bench reload_vm`: issue 13's reload benchmark with 1000x10 virtual servers,
//! which needs IPVS and so runs in the qemu TCG guest (`tests/support/vm.rs`): keepalived
//! 2.2.7 and the release rkeepalived, one after the other, on the same generated file, in one
//! VM boot. `benches/reload.rs` measures the same phases natively without virtual servers.
//!
//! ```text
//! cargo bench --bench reload_vm                    # 1, 50, 200 instances, 3 reloads per case
//! RELOAD_VM_SIZES=200 RELOAD_VM_RUNS=5 RELOAD_VM_SCALE=100x10 cargo bench --bench reload_vm
//! ```
//!
//! Env: `RELOAD_VM_SIZES` (instance counts, default `1,50,200`), `RELOAD_VM_RUNS` (steps per
//! phase, default 3: TCG is slow), `RELOAD_VM_SCALE` (virtual x real servers, default
//! `1000x10`), `RELOAD_VM_DELAY_LOOP` (the checkers' delay_loop in s, default 10),
//! `RELOAD_VM_QUIET` (length of the quiet phase in s, default 15, at least RUNS x 1.5 s),
//! `RELOAD_VM_DAEMONS` (e.g. `rkeepalived`; default both), `RELOAD_VM_TIMEOUT` (s, default
//! 3600), `RKVM_SMP` (guest vCPUs, default 2), `RELOAD_VM_PROBE` (print each daemon's log
//! tail).
//!
//! The guest: a veth pair `ve0` (10.0.0.1/24, where the daemon runs) and `ve1` (in the guest's
//! network namespace `cap`, where this binary captures the adverts on an `AF_PACKET` socket
//! with kernel receive timestamps: the image has no tcpdump); the real servers are this binary
//! as a many-port TCP server (`--serve`) on 10.9.0.1 (lo), ports 20000 + i, every port open.
//! Per size N and daemon, this binary (`--run`) writes the file: N VRRPv2 instances (VRID
//! 1..N, `state BACKUP`, priority 150, advert_int 1, one `/32` VIP each on ve0; alone on the
//! link, so each becomes master) plus S virtual servers 10.8.x.y:80 (NAT, rr) x R real servers
//! with `TCP_CHECK { connect_timeout 1 }` and the delay_loop above; starts the daemon
//! (keepalived `-n -l -D` with both children, rkeepalived `-n -l -D`) with `NOTIFY_SOCKET` set
//! to a datagram socket of its own, waits until every VIP is on ve0 and the IPVS table holds
//! S + S·R rows, waits 3 s, then runs the phases of `benches/reload.rs`, steps 1.5 s apart:
//! quiet (here at least `RELOAD_VM_QUIET` s, for enough gaps to count), unchanged-file SIGHUPs, 1-instance edits (VI_1's priority toggled 150 <-> 140, the
//! file written beside and renamed into place). Per reload: SIGHUP -> `READY=1` and SIGHUP ->
//! the log lines of an applied reload:
//!
//! * keepalived: `Reload complete` (its VRRP child) and `Activating BFD healthchecker` (the
//!   last line its checker child logs when it has compared the tables and started the
//!   checkers again; with `-D`), whichever comes last;
//! * rkeepalived: `IPVS: reloaded` (the controller has compared the new table with the kernel's
//!   and sent the difference), and for the edit also `(VI_1) Reload: priority changed`
//!   (`READY=1` is sent when the reload task has handed the file to both sides, before they
//!   have applied it).
//!
//! Per phase: the longest advert gap of an instance the phase does not edit and how many gaps
//! exceeded 1.4 s (one interval + Skew_Time + jitter), and the guest's CPU busy share during
//! the phase (TCG: a busy guest delays every process, the daemon's timers included).

#[path = "../tests/support/mod.rs"]
mod support;

use rkeepalived::ipvs::genl::IpvsSocket;
use std::io::{Read as _, Seek as _};
use std::os::unix::net::UnixDatagram;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};
use support::Daemon;
use support::reload::{
    CASES, KEEPALIVED_DONE, Outcome, Phase, RKEEPALIVED_EDIT, RKEEPALIVED_IPVS, STEP, Timing,
};

/// First real-server port; real server `i` (over all virtual servers) listens on `BASE_PORT + i`.
const BASE_PORT: u16 = 20000;
/// The real servers' address (on the guest's lo).
const RS_IP: &str = "10.9.0.1";
/// The daemon's interface and its address (the adverts' source).
const IFACE: &str = "ve0";
const SRC_IP: &str = "10.0.0.1";
/// The capture's end of the veth pair, in the guest namespace [`CAP_NS`].
const CAP_IFACE: &str = "ve1";
const CAP_NS: &str = "cap";
/// Where this binary is in the guest.
const GUEST_EXE: &str = "/usr/bin/rlvm";
/// The port server's files (`support::guest::PortServer`).
const READY_FILE: &str = "/tmp/serve.ready";
const CLOSE_FILE: &str = "/tmp/close";
const CLOSED_LOG: &str = "/tmp/closed.log";
/// Guest vCPUs unless `RKVM_SMP` says otherwise (as `benches/checkers_vm.rs`).
const GUEST_VCPUS: u32 = 2;
/// The last line keepalived 2.2.7's checker child logs when it has started its checkers again
/// after a reload (with `-D`; measured: it logs no `Reload complete`, its VRRP child does).
const KEEPALIVED_CHECKERS_DONE: &str = "Activating BFD healthchecker";
/// Longest wait for `READY=1` or the log lines after a SIGHUP (TCG, 10000 checkers).
const REPLY: Duration = Duration::from_secs(60);
/// Longest wait for the VIPs and the full IPVS table after the start.
const START: Duration = Duration::from_secs(900);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("--serve") => serve(&args[2..]),
        Some("--capture") => support::guest::capture_adverts(&args[2], &args[3]),
        Some("--run") => run(&args[2..]),
        // `cargo bench` passes `--bench`; anything else (e.g. `cargo test --benches`) skips.
        Some("--bench") => host(),
        _ => eprintln!("reload_vm: run with `cargo bench --bench reload_vm`"),
    }
}

fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v.parse().unwrap_or_else(|_| {
            eprintln!("ignoring {name}={v:?} (not a number)");
            default
        }),
        Err(_) => default,
    }
}

// ---------------------------------------------------------------------------------------------
// Host side: the guest script, the VM run, the table.

fn sizes() -> Vec<usize> {
    std::env::var("RELOAD_VM_SIZES")
        .unwrap_or_else(|_| "1,50,200".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .filter(|n| (1..=255).contains(n))
        .collect()
}

fn scale() -> (usize, usize) {
    std::env::var("RELOAD_VM_SCALE")
        .ok()
        .and_then(|s| {
            let (a, b) = s.trim().split_once('x')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        })
        .unwrap_or((1000, 10))
}

/// The daemons to run, in order: env `RELOAD_VM_DAEMONS` (comma-separated), default both.
fn daemons() -> Vec<Daemon> {
    let spec = std::env::var("RELOAD_VM_DAEMONS").unwrap_or_default();
    let all = [Daemon::Keepalived, Daemon::Rkeepalived];
    let chosen: Vec<Daemon> = all
        .into_iter()
        .filter(|d| spec.split(',').any(|s| s.trim() == d.name()))
        .collect();
    if chosen.is_empty() {
        all.to_vec()
    } else {
        chosen
    }
}

fn script(sizes: &[usize], runs: usize, (vs, rs): (usize, usize), delay_loop: u64) -> String {
    let probe = u8::from(std::env::var_os("RELOAD_VM_PROBE").is_some());
    let quiet_s: u64 = env_number("RELOAD_VM_QUIET", 15);
    let mut s = format!(
        r#"ip addr add {RS_IP}/32 dev lo
# A syslog sink: without one, glibc's syslog() (keepalived) falls back to the serial console.
syslogd -O /dev/null
ip netns add {CAP_NS}
ip link add {IFACE} type veth peer name {CAP_IFACE}
ip link set {CAP_IFACE} netns {CAP_NS}
ip -n {CAP_NS} link set {CAP_IFACE} up
ip addr add {SRC_IP}/24 dev {IFACE}
ip link set {IFACE} up
echo "$(nproc) vCPU, clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource), $(grep MemTotal /proc/meminfo)"
rm -f {READY_FILE} {CLOSED_LOG}; touch {CLOSE_FILE}
{GUEST_EXE} --serve {ports} & srv=$!
i=0; while [ ! -e {READY_FILE} ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done
echo "port server: $(ls {READY_FILE} 2>/dev/null) after $i x 0.1 s"
"#,
        ports = vs * rs
    );
    for &n in sizes {
        for d in daemons() {
            s.push_str(&format!(
                "{GUEST_EXE} --run {} {n} {runs} {vs} {rs} {delay_loop} {probe} {quiet_s}\n\
                 ipvsadm -C; ip addr flush dev {IFACE}; ip addr add {SRC_IP}/24 dev {IFACE}\n",
                d.name()
            ));
        }
    }
    s.push_str("kill $srv\n");
    s
}

/// `a,b,-` -> `[Some(a), Some(b), None]`.
fn parse_times(v: &str) -> Vec<Option<f64>> {
    v.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().ok())
        .collect()
}

/// Per size, daemon and phase: the guest's CPU busy share (%, as printed) and SIGHUP -> the
/// VRRP side's line of each reload (ms).
type Extra = Vec<(usize, Daemon, String, String, Vec<Option<f64>>)>;

/// `@@R daemon=D n=N case=C ready=… logged=… gap=… late=… busy=… vrrp=…` into `results` and
/// `extra`.
fn parse_result(
    line: &str,
    results: &mut Vec<(usize, Daemon, Result<Outcome, String>)>,
    extra: &mut Extra,
) {
    let kv: std::collections::HashMap<&str, &str> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|kv| kv.split_once('='))
        .collect();
    let (Some(d), Some(n), Some(case)) = (
        kv.get("daemon").and_then(|d| Daemon::from_name(d)),
        kv.get("n").and_then(|n| n.parse::<usize>().ok()),
        kv.get("case").map(|c| c.replace('_', " ")),
    ) else {
        return;
    };
    if !results.iter().any(|(m, dd, _)| *m == n && *dd == d) {
        results.push((n, d, Ok(Outcome::default())));
    }
    let Some((_, _, Ok(o))) = results.iter_mut().find(|(m, dd, _)| *m == n && *dd == d) else {
        return;
    };
    let ready = parse_times(kv.get("ready").copied().unwrap_or(""));
    let logged = parse_times(kv.get("logged").copied().unwrap_or(""));
    let p: &mut Phase = o.phase_mut(&case);
    p.timings = ready
        .iter()
        .enumerate()
        .map(|(i, r)| Timing {
            ready: *r,
            logged: (case != "quiet").then(|| logged.get(i).copied().flatten()),
        })
        .collect();
    p.gap_ms = kv.get("gap").and_then(|g| g.parse().ok());
    p.late = kv.get("late").and_then(|l| l.parse().ok()).unwrap_or(0);
    extra.push((
        n,
        d,
        case,
        kv.get("busy").copied().unwrap_or("-").to_owned(),
        parse_times(kv.get("vrrp").copied().unwrap_or("")),
    ));
}

fn host() {
    let Some(vm) = support::vm::Vm::with_rkeepalived("reload_vm") else {
        return;
    };
    let vm = vm.with_default_vcpus(GUEST_VCPUS);
    let sizes = sizes();
    let runs: usize = env_number("RELOAD_VM_RUNS", 3);
    let (vs, rs) = scale();
    let delay_loop: u64 = env_number("RELOAD_VM_DELAY_LOOP", 10);
    println!(
        "reload_vm bench: {sizes:?} instances + {vs}x{rs} virtual servers (TCP_CHECK, delay_loop \
         {delay_loop} s), {runs} reloads per case {} s apart, {} guest vCPUs (qemu TCG); times \
         median / max in ms",
        STEP.as_secs_f64(),
        vm.vcpus()
    );
    match Daemon::Rkeepalived.binary() {
        Ok(p) => println!("rkeepalived binary: {}", p.display()),
        Err(e) => println!("rkeepalived binary: {e}"),
    }
    let exe = std::env::current_exe().expect("current_exe");
    let files = [support::vm::GuestFile::from_host(GUEST_EXE, &exe)];
    let timeout = Duration::from_secs(env_number("RELOAD_VM_TIMEOUT", 3600));
    // The host's load: qemu's vCPU threads compete with whatever else runs there.
    let loadavg = || std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load_before = loadavg();
    let out = vm.run_with(&script(&sizes, runs, (vs, rs), delay_loop), &files, timeout);
    println!(
        "host load average before: {}, after: {}",
        load_before.trim(),
        loadavg().trim()
    );
    let mut results = Vec::new();
    let mut busy = Vec::new();
    for line in out.stdout.lines() {
        if line.starts_with("@@R ") {
            parse_result(line, &mut results, &mut busy);
        } else if let Some(rest) = line.strip_prefix("@@E ") {
            let mut f = rest.splitn(3, ' ');
            let d = f
                .next()
                .and_then(|d| Daemon::from_name(d.trim_start_matches("daemon=")));
            let n = f
                .next()
                .and_then(|n| n.trim_start_matches("n=").parse().ok());
            if let (Some(d), Some(n)) = (d, n) {
                results.retain(|(m, dd, _)| !(*m == n && *dd == d));
                results.push((n, d, Err(f.next().unwrap_or("").to_owned())));
            }
            println!("guest| {line}");
        } else {
            println!("guest| {line}");
        }
    }
    println!(
        "\nVM boot {:.1} s, total {:.1} s, script exit {:?}\n",
        out.boot_time.map_or(f64::NAN, |d| d.as_secs_f64()),
        out.total_time.as_secs_f64(),
        out.exit_code
    );
    support::reload::print_table(&sizes, &results);
    println!(
        "\nthe VRRP side: SIGHUP -> keepalived's `{KEEPALIVED_DONE}` (its VRRP child) and \
         rkeepalived's `{RKEEPALIVED_EDIT}` (median / max ms; rkeepalived has no VRRP line for an \
         unchanged file: nothing to apply); guest CPU busy during the phase (% of all vCPUs)"
    );
    println!(
        "{:>5} | {:<10} | {:<24} | {:<24} | {:<10}",
        "inst", "case", "keepalived VRRP", "rkeepalived VRRP", "busy k / rk"
    );
    for &n in &sizes {
        for case in CASES {
            let get = |d: Daemon| {
                busy.iter()
                    .find(|(m, dd, c, _, _)| *m == n && *dd == d && c == case)
            };
            let vrrp = |d: Daemon| {
                get(d).map_or("-".to_owned(), |x| {
                    support::reload::cell(x.4.iter().copied())
                })
            };
            let b = |d: Daemon| get(d).map_or("-".to_owned(), |x| x.3.clone());
            println!(
                "{n:>5} | {case:<10} | {:<24} | {:<24} | {} / {}",
                vrrp(Daemon::Keepalived),
                vrrp(Daemon::Rkeepalived),
                b(Daemon::Keepalived),
                b(Daemon::Rkeepalived)
            );
        }
    }
    if results.is_empty() || out.exit_code != Some(0) {
        let lines: Vec<&str> = out.console.lines().collect();
        eprintln!(
            "console tail:\n{}",
            lines[lines.len().saturating_sub(60)..].join("\n")
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Guest side.

/// `--serve N`: every port RS_IP:BASE_PORT+i, i in 0..N, listens.
fn serve(args: &[String]) {
    support::guest::PortServer {
        ip: RS_IP.parse().expect("RS_IP"),
        base_port: BASE_PORT,
        count: args[0].parse().expect("--serve N"),
        closed_every: None,
        ready_file: READY_FILE,
        close_file: CLOSE_FILE,
        closed_log: CLOSED_LOG,
    }
    .serve();
}

/// The file: `n` instances on ve0 (VI_1 at priority `vi1`) and `vs` x `rs` virtual servers.
fn conf(n: usize, vi1: u8, vs: usize, rs: usize, delay_loop: u64) -> String {
    let mut c = String::from("global_defs {\n  router_id reload_vm\n}\n");
    c.push_str(&support::reload::instances(n, vi1, IFACE));
    for s in 0..vs {
        c.push_str(&format!(
            "virtual_server 10.8.{}.{} 80 {{\n  delay_loop {delay_loop}\n  lb_algo rr\n  \
             lb_kind NAT\n  protocol TCP\n",
            s / 250,
            s % 250 + 1
        ));
        for r in 0..rs {
            c.push_str(&format!(
                "  real_server {RS_IP} {} {{\n    weight 1\n    TCP_CHECK {{\n      \
                 connect_timeout 1\n    }}\n  }}\n",
                BASE_PORT as usize + s * rs + r
            ));
        }
        c.push_str("}\n");
    }
    c
}

/// A child of this process, killed (SIGKILL to its process group, by its PID) and reaped when
/// dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            // SAFETY: kill has no memory preconditions; the group is the one we created.
            unsafe { libc::kill(-(self.0.id() as i32), libc::SIGKILL) };
            let _ = self.0.wait();
        }
    }
}

/// The daemon's log file read as it grows: counts the lines holding each awaited marker.
struct LogTail {
    file: std::fs::File,
    partial: Vec<u8>,
}

impl LogTail {
    /// From the file's current end.
    fn at_end(path: &Path) -> LogTail {
        let mut file = std::fs::File::open(path).expect("open the daemon log");
        file.seek(std::io::SeekFrom::End(0)).expect("seek");
        LogTail {
            file,
            partial: Vec::new(),
        }
    }

    /// Reads what was appended; adds to `counts[i]` each new complete line holding
    /// `markers[i]`.
    fn poll(&mut self, markers: &[&str], counts: &mut [usize]) {
        let mut buf = Vec::new();
        let _ = self.file.read_to_end(&mut buf);
        self.partial.extend_from_slice(&buf);
        let Some(end) = self.partial.iter().rposition(|&b| b == b'\n') else {
            return;
        };
        let done: Vec<u8> = self.partial.drain(..=end).collect();
        for line in String::from_utf8_lossy(&done).lines() {
            for (m, c) in markers.iter().zip(counts.iter_mut()) {
                *c += usize::from(line.contains(m));
            }
        }
    }
}

/// `(busy, total)` jiffies of all CPUs (`/proc/stat`'s `cpu` line; idle and iowait are not
/// busy).
fn cpu_jiffies() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let f: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: u64 = f.iter().take(8).sum();
    let idle = f.get(3).copied().unwrap_or(0) + f.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

/// How many VIPs (`192.168.*`) are on the daemon's interface.
fn vips_up() -> usize {
    let out = Command::new("ip")
        .args(["-o", "-4", "addr", "show", "dev", IFACE])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    out.matches("inet 192.168.").count()
}

/// `--run DAEMON N RUNS VS RS DELAY_LOOP PROBE QUIET_S`: one daemon at one size; prints an `@@R` line per
/// phase, or an `@@E` line saying why there are none.
fn run(args: &[String]) {
    let daemon = Daemon::from_name(&args[0]).expect("daemon name");
    let num = |i: usize| -> usize { args[i].parse().expect("a number") };
    let (n, runs, vs, rs) = (num(1), num(2), num(3), num(4));
    let delay_loop = num(5) as u64;
    let probe = args.get(6).is_some_and(|p| p == "1");
    let quiet_s = args.get(7).and_then(|q| q.parse().ok()).unwrap_or(15);
    let tag = format!("daemon={} n={n}", daemon.name());
    match run_one(daemon, n, runs, (vs, rs), delay_loop, probe, quiet_s) {
        Ok(o) => {
            for case in CASES {
                let p = o.0.phase(case);
                let list = |f: &dyn Fn(&Timing) -> Option<f64>| {
                    p.timings
                        .iter()
                        .map(|t| f(t).map_or("-".to_owned(), |v| format!("{v:.1}")))
                        .collect::<Vec<_>>()
                        .join(",")
                };
                let vrrp =
                    o.2.iter()
                        .find(|(c, _)| *c == case)
                        .map(|(_, v)| {
                            v.iter()
                                .map(|t| t.map_or("-".to_owned(), |v| format!("{v:.1}")))
                                .collect::<Vec<_>>()
                                .join(",")
                        })
                        .unwrap_or_default();
                println!(
                    "@@R {tag} case={} ready={} logged={} gap={} late={} busy={} vrrp={vrrp}",
                    case.replace(' ', "_"),
                    list(&|t| t.ready),
                    list(&|t| t.logged.flatten()),
                    p.gap_ms.map_or("-".into(), |g| format!("{g:.1}")),
                    p.late,
                    o.1.iter()
                        .find(|(c, _)| *c == case)
                        .map_or("-".into(), |(_, b)| format!("{b:.0}")),
                );
            }
        }
        Err(why) => println!("@@E {tag} {}", why.replace('\n', " | ")),
    }
}

/// What [`run`] measured: the phases, the guest's CPU busy share (%) in each, and per phase
/// SIGHUP -> the VRRP side's line (ms) of each reload.
type Measured = (
    Outcome,
    Vec<(&'static str, f64)>,
    Vec<(&'static str, Vec<Option<f64>>)>,
);

fn run_one(
    daemon: Daemon,
    n: usize,
    runs: usize,
    (vs, rs): (usize, usize),
    delay_loop: u64,
    probe: bool,
    quiet_s: u64,
) -> Result<Measured, String> {
    let dir = PathBuf::from(format!("/tmp/rl-{}-{n}", daemon.name()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let conf_path = dir.join("keepalived.conf");
    std::fs::write(&conf_path, conf(n, 150, vs, rs, delay_loop)).map_err(|e| e.to_string())?;
    let adverts = dir.join("adverts");
    let adverts = adverts.to_str().expect("UTF-8 path");
    let _capture = Guard(
        Command::new("ip")
            .args([
                "netns",
                "exec",
                CAP_NS,
                GUEST_EXE,
                "--capture",
                CAP_IFACE,
                adverts,
            ])
            .process_group(0)
            .spawn()
            .map_err(|e| format!("capture: {e}"))?,
    );
    let sock_path = dir.join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).map_err(|e| e.to_string())?;
    sock.set_read_timeout(Some(Duration::from_millis(1)))
        .map_err(|e| e.to_string())?;
    let log_path = dir.join("daemon.log");
    let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
    let pid = |name: &str| dir.join(name).into_os_string();
    let mut cmd = match daemon {
        Daemon::Keepalived => {
            let mut c = Command::new("/usr/sbin/keepalived");
            c.args(["-n", "-l", "-D", "-f"]).arg(&conf_path);
            c.arg("-p").arg(pid("keepalived.pid"));
            c.arg("-r").arg(pid("vrrp.pid"));
            c.arg("-c").arg(pid("checkers.pid"));
            c
        }
        Daemon::Rkeepalived => {
            let mut c = Command::new("/usr/sbin/rkeepalived");
            c.args(["-n", "-l", "-D", "-f"]).arg(&conf_path);
            c.arg("-p").arg(pid("rkeepalived.pid"));
            c
        }
    };
    let mut child = Guard(
        cmd.env("NOTIFY_SOCKET", &sock_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("start {}: {e}", daemon.name()))?,
    );
    let log_tail = |lines: usize| {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    };
    let mut ipvs = IpvsSocket::open().map_err(|e| format!("IPVS socket: {e}"))?;
    let want = vs + vs * rs;
    let started = Instant::now();
    let (mut up, mut vip_s) = (0, None);
    let rows = loop {
        if up < n {
            up = vips_up();
            if up >= n {
                vip_s = Some(started.elapsed().as_secs_f64());
            }
        }
        let rows = support::guest::table_rows(&mut ipvs);
        if up >= n && rows == want {
            break rows;
        }
        if started.elapsed() > START || child.0.try_wait().ok().flatten().is_some() {
            return Err(format!(
                "{up} of {n} VIPs, {rows} of {want} IPVS rows after {:.0} s:\n{}",
                started.elapsed().as_secs_f64(),
                log_tail(20)
            ));
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    println!(
        "{} n={n}: {n} VIPs up after {:.1} s, {rows} IPVS rows after {:.1} s",
        daemon.name(),
        vip_s.unwrap_or_default(),
        started.elapsed().as_secs_f64()
    );
    std::thread::sleep(Duration::from_secs(3));
    let src: std::net::IpAddr = SRC_IP.parse().expect("SRC_IP");
    // Returns the timing and when `markers[0]` had come `wanted[0]` times (ms).
    let reload = |markers: &[&str], wanted: &[usize]| -> (Timing, Option<f64>) {
        support::reload::drain(&sock);
        let mut tail = LogTail::at_end(&log_path);
        let mut counts = vec![0; markers.len()];
        let mut first = None;
        let t0 = Instant::now();
        // SAFETY: kill has no memory preconditions; the PID is our child's.
        unsafe { libc::kill(child.0.id() as i32, libc::SIGHUP) };
        // keepalived 2.2.7 sends no `READY=1` after a reload (measured): not waited for.
        let ready_sent = daemon == Daemon::Rkeepalived;
        let t = support::reload::await_reload(&sock, t0, REPLY, ready_sent, true, || {
            tail.poll(markers, &mut counts);
            if first.is_none() && counts[0] >= wanted[0] {
                first = Some(t0.elapsed().as_secs_f64() * 1e3);
            }
            counts.iter().zip(wanted).all(|(c, w)| c >= w)
        });
        (t, first)
    };
    let quiet = Duration::from_secs(quiet_s);
    let mut busy = Vec::new();
    // Per phase, SIGHUP -> the VRRP side's line: keepalived's `Reload complete`, rkeepalived's
    // `(VI_1) Reload: priority changed` (none for an unchanged file: nothing to apply).
    let mut vrrp: Vec<(&'static str, Vec<Option<f64>>)> = Vec::new();
    let mut phase = |case: &'static str| -> Phase {
        let mut v = Vec::new();
        let from = SystemTime::now() - Duration::from_secs(1);
        let cpu0 = cpu_jiffies();
        let mut p = Phase::default();
        for i in 0..runs {
            match case {
                "quiet" => {
                    if i == 0 {
                        std::thread::sleep(quiet.saturating_sub(STEP * runs as u32));
                    }
                }
                "unchanged" => {
                    let (t, first) = match daemon {
                        Daemon::Keepalived => {
                            reload(&[KEEPALIVED_DONE, KEEPALIVED_CHECKERS_DONE], &[1, 1])
                        }
                        Daemon::Rkeepalived => (reload(&[RKEEPALIVED_IPVS], &[1]).0, None),
                    };
                    p.timings.push(t);
                    if daemon == Daemon::Keepalived {
                        v.push(first);
                    }
                }
                _ => {
                    let prio = if i % 2 == 0 { 140 } else { 150 };
                    let next = dir.join("keepalived.conf.next");
                    std::fs::write(&next, conf(n, prio, vs, rs, delay_loop))
                        .expect("write the file");
                    std::fs::rename(&next, &conf_path).expect("rename the file");
                    let (t, first) = match daemon {
                        Daemon::Keepalived => {
                            reload(&[KEEPALIVED_DONE, KEEPALIVED_CHECKERS_DONE], &[1, 1])
                        }
                        Daemon::Rkeepalived => {
                            reload(&[RKEEPALIVED_EDIT, RKEEPALIVED_IPVS], &[1, 1])
                        }
                    };
                    p.timings.push(t);
                    v.push(first);
                }
            }
            std::thread::sleep(STEP);
        }
        // Leave the capture a moment to write the last adverts.
        std::thread::sleep(Duration::from_millis(200));
        let cpu1 = cpu_jiffies();
        busy.push((
            case,
            (cpu1.0 - cpu0.0) as f64 * 100.0 / (cpu1.1 - cpu0.1).max(1) as f64,
        ));
        vrrp.push((case, v));
        let skip = if case == "1 edit" { 1 } else { 0 };
        (p.gap_ms, p.late) = support::reload::max_gap(
            support::guest::read_adverts(adverts),
            src,
            from,
            SystemTime::now(),
            skip,
        );
        p
    };
    let outcome = Outcome {
        quiet: phase("quiet"),
        unchanged: phase("unchanged"),
        edit: phase("1 edit"),
    };
    let text = std::fs::read_to_string(&log_path).unwrap_or_default();
    println!(
        "{} n={n}: log {} lines, {} `{KEEPALIVED_DONE}`, {} `{RKEEPALIVED_IPVS}`, {} `{RKEEPALIVED_EDIT}`",
        daemon.name(),
        text.lines().count(),
        text.matches(KEEPALIVED_DONE).count(),
        text.matches(RKEEPALIVED_IPVS).count(),
        text.matches(RKEEPALIVED_EDIT).count(),
    );
    if probe {
        println!("--- {} log tail:\n{}", daemon.name(), log_tail(40));
    }
    if child.0.try_wait().ok().flatten().is_some() {
        return Err(format!("the daemon died:\n{}", log_tail(20)));
    }
    // SIGTERM, then (Guard) SIGKILL after 120 s.
    // SAFETY: kill has no memory preconditions; the PID is our child's.
    unsafe { libc::kill(child.0.id() as i32, libc::SIGTERM) };
    let t = Instant::now();
    while child.0.try_wait().ok().flatten().is_none() && t.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok((outcome, busy, vrrp))
}
