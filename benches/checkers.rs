//! `cargo bench --bench checkers`: health-check detection time at scale (issue: "detection time
//! stays the same when the table is large").
//!
//! For S×R real servers (10×5, 100×10, 1000×10; env `CHECKER_SCALES="100x10,1000x10"` to choose)
//! a server thread in namespace "srv" listens on one TCP port per real server, 20 % of them
//! closed; rkeepalived's checker runner (TCP_CHECK, delay_loop 1 s, connect_timeout 1 s,
//! retry 1, delay_before_retry 1 s) runs in namespace "lb" (its checks on the runner's own
//! `checker…` threads). After the initial 20 % are reported down and the rest stays quiet, ten
//! more ports close 100 ms apart and the bench prints the time from the close to each removal
//! (median, max), the checkers' CPU (the runner's thread plus its `checker…` threads) over a
//! steady 5 s window, and the process RSS growth since before the runner started.
//!
//! keepalived's figure needs its checker process and IPVS (a VM run): not part of this bench
//! yet; see the closing notes of the checker issue.

#[path = "../tests/support/mod.rs"]
mod support;

use rkeepalived::check::event::RsEvent;
use rkeepalived::check::runner::Runner;
use rkeepalived::check::{Checker, Target, Timing, tcp::TcpCheck};
use std::net::{IpAddr, SocketAddr};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BASE_PORT: u16 = 20000;

fn thread_cpu() -> Duration {
    // SAFETY: getrusage writes into the struct we pass.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut u) };
    Duration::from_micros(
        (u.ru_utime.tv_sec * 1_000_000
            + u.ru_utime.tv_usec
            + u.ru_stime.tv_sec * 1_000_000
            + u.ru_stime.tv_usec) as u64,
    ) + checker_threads_cpu()
}

/// CPU (utime + stime) of this process's threads named `checker…`: the runner runs its checks
/// on threads of its own.
fn checker_threads_cpu() -> Duration {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let mut ticks = 0u64;
    for e in std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        let comm = std::fs::read_to_string(e.path().join("comm")).unwrap_or_default();
        if !comm.starts_with("checker") {
            continue;
        }
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        ticks += f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
            + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    }
    Duration::from_secs_f64(ticks as f64 / hz)
}

fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn enter(ns: &str) {
    let fd = std::fs::File::open(format!("/run/netns/{ns}")).expect("open netns");
    nix::sched::setns(fd, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
}

/// Listeners for ports BASE..BASE+n on `ip`; `close` receives ports to close.
fn serve(
    ns: String,
    ip: IpAddr,
    n: usize,
    closed: Vec<u16>,
    close: mpsc::Receiver<u16>,
    stop: mpsc::Receiver<()>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        enter(&ns);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let mut tasks = std::collections::HashMap::new();
            for i in 0..n {
                let port = BASE_PORT + i as u16;
                if closed.contains(&port) {
                    continue;
                }
                let l = tokio::net::TcpListener::bind(SocketAddr::new(ip, port))
                    .await
                    .expect("bind");
                tasks.insert(
                    port,
                    tokio::spawn(async move {
                        loop {
                            if let Ok((s, _)) = l.accept().await {
                                drop(s);
                            }
                        }
                    }),
                );
            }
            loop {
                if stop.try_recv().is_ok() {
                    break;
                }
                while let Ok(p) = close.try_recv() {
                    if let Some(t) = tasks.remove(&p) {
                        t.abort();
                    }
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            tasks.values().for_each(|t| t.abort());
        });
    })
}

struct Figures {
    n: usize,
    detect_median: Duration,
    detect_max: Duration,
    cpu_percent: f64,
    rss_growth_kib: u64,
    distinct: usize,
}

fn run(s: usize, r: usize) -> Result<Figures, String> {
    let n = s * r;
    let lan = support::Lan::new(&["srv", "lb"]);
    let ip: IpAddr = lan.addr("srv").into();
    let initially_closed: Vec<u16> = (0..n)
        .filter(|i| i % 5 == 0)
        .map(|i| BASE_PORT + i as u16)
        .collect();
    let probes: Vec<u16> = (0..n)
        .filter(|i| i % 5 != 0)
        .step_by((n / 10).max(1))
        .take(10)
        .map(|i| BASE_PORT + i as u16)
        .collect();
    let (close_tx, close_rx) = mpsc::channel();
    let (stop_tx, stop_rx) = mpsc::channel();
    let server = serve(
        lan.node("srv").ns.clone(),
        ip,
        n,
        initially_closed.clone(),
        close_rx,
        stop_rx,
    );
    std::thread::sleep(Duration::from_millis(300 + n as u64 / 20));

    let timing = Timing {
        delay_loop: Duration::from_secs(1),
        connect_timeout: Duration::from_secs(1),
        retry: 1,
        delay_before_retry: Duration::from_secs(1),
        warmup: Duration::ZERO,
        alpha: false,
    };
    let mut runner = Runner::new();
    for i in 0..n {
        let target = Target::new(SocketAddr::new(ip, BASE_PORT + i as u16));
        runner.subscribe(i, Checker::Tcp(TcpCheck { target }), timing);
    }
    let distinct = runner.distinct_checks();
    let rss_before = rss_kib();
    let (ev_tx, ev_rx) = mpsc::channel::<(Instant, RsEvent)>();
    let (cpu_tx, cpu_rx) = mpsc::channel::<mpsc::Sender<Duration>>();
    let (lb_stop_tx, lb_stop_rx) = mpsc::channel::<()>();
    let lb_ns = lan.node("lb").ns.clone();
    let checker = std::thread::spawn(move || {
        enter(&lb_ns);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let (tx, mut rx) = tokio::sync::mpsc::channel(65536);
            let task = tokio::spawn(runner.run(tx));
            loop {
                if lb_stop_rx.try_recv().is_ok() {
                    break;
                }
                if let Ok(reply) = cpu_rx.try_recv() {
                    let _ = reply.send(thread_cpu());
                }
                while let Ok(ev) = rx.try_recv() {
                    let _ = ev_tx.send((Instant::now(), ev));
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            task.abort();
        });
    });
    let cpu_now = || {
        let (tx, rx) = mpsc::channel();
        cpu_tx.send(tx).ok()?;
        rx.recv_timeout(Duration::from_secs(5)).ok()
    };
    let finish = |why: String| {
        let _ = lb_stop_tx.send(());
        let _ = stop_tx.send(());
        why
    };

    // The initial 20 % go down (each needs a failed attempt and a failed retry).
    let mut down = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while down < initially_closed.len() {
        match ev_rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok((_, ev)) if !ev.up => down += 1,
            Ok(_) => {}
            Err(_) => {
                return Err(finish(format!(
                    "only {down}/{} initial downs reported",
                    initially_closed.len()
                )));
            }
        }
    }
    // Steady state: CPU over 5 s, no events expected.
    let c0 = cpu_now().ok_or_else(|| finish("no cpu reading".into()))?;
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(5));
    let c1 = cpu_now().ok_or_else(|| finish("no cpu reading".into()))?;
    let cpu_percent = (c1 - c0).as_secs_f64() / t0.elapsed().as_secs_f64() * 100.0;
    let rss_growth_kib = rss_kib().saturating_sub(rss_before);
    while ev_rx.try_recv().is_ok() {}

    // Ten more real servers die, 100 ms apart, so that the closes fall at different points
    // of the checkers' delay_loop cycle (the detection time depends on that phase).
    let mut closed_at = std::collections::HashMap::new();
    for p in &probes {
        close_tx.send(*p).unwrap();
        closed_at.insert((p - BASE_PORT) as usize, Instant::now());
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut detections = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while detections.len() < probes.len() {
        match ev_rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok((at, ev)) if !ev.up && closed_at.contains_key(&ev.rs) => {
                detections.push(at - closed_at[&ev.rs])
            }
            Ok(_) => {}
            Err(_) => {
                return Err(finish(format!(
                    "only {}/{} probe removals",
                    detections.len(),
                    probes.len()
                )));
            }
        }
    }
    finish(String::new());
    let _ = checker.join();
    let _ = server.join();
    detections.sort();
    Ok(Figures {
        n,
        detect_median: detections[detections.len() / 2],
        detect_max: *detections.last().unwrap(),
        cpu_percent,
        rss_growth_kib,
        distinct,
    })
}

fn main() {
    if !support::require_root("checkers bench") {
        return;
    }
    // Room for one socket per real server on each side: raise the soft limit to the hard one
    // (and the hard one too, which root may).
    // SAFETY: plain syscalls with valid structs.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        let want = libc::rlimit {
            rlim_cur: 200_000,
            rlim_max: 200_000,
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &want) != 0 {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
    let scales = std::env::var("CHECKER_SCALES").unwrap_or_else(|_| "10x5,100x10,1000x10".into());
    let timing = Timing {
        delay_loop: Duration::from_secs(1),
        connect_timeout: Duration::from_secs(1),
        retry: 1,
        delay_before_retry: Duration::from_secs(1),
        warmup: Duration::ZERO,
        alpha: false,
    };
    println!(
        "checker bench: TCP_CHECK, delay_loop 1 s, connect_timeout 1 s, retry 1, delay_before_retry 1 s (keepalived's bound: {:?}), 20 % down",
        timing.worst_case_detection()
    );
    println!(
        "{:>10} {:>8} {:>9} {:>22} {:>16} {:>14}",
        "S x R", "checks", "distinct", "close->removal med/max", "checker CPU %", "RSS growth"
    );
    for scale in scales.split(',') {
        let Some((s, r)) = scale
            .split_once('x')
            .and_then(|(s, r)| Some((s.trim().parse().ok()?, r.trim().parse().ok()?)))
        else {
            eprintln!("bad scale {scale}");
            continue;
        };
        match run(s, r) {
            Ok(f) => println!(
                "{:>10} {:>8} {:>9} {:>10.0} / {:>5.0} ms {:>15.1}% {:>10} KiB",
                scale,
                f.n,
                f.distinct,
                f.detect_median.as_secs_f64() * 1e3,
                f.detect_max.as_secs_f64() * 1e3,
                f.cpu_percent,
                f.rss_growth_kib
            ),
            Err(e) => println!("{scale:>10} failed: {e}"),
        }
    }
}
