//! The two lives of the process after `-t`: the supervisor (daemonize, main pidfile) and the
//! daemon (load, namespace, child pidfiles, IPVS programmed, the runtime with the engine,
//! stop); with their pidfiles and network namespace.

use super::logging::init_logging;
use super::reload::{Reloader, VrrpHalf};
use super::signals::{handle_signals, hold_signals};
use crate::check::dump::CheckDataSlot;
use crate::cli::{Cli, DEFAULT_PIDFILE};
use crate::config::{self, LoadOptions, Severity};
use crate::vrrp::engine::{Control, Engine, EngineOptions};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tracing::{debug, error, info, warn};

/// This process becomes the supervisor:
/// logging, `-s NAME`, daemonizing, the main pidfile, then [`crate::supervisor::main`], which
/// starts the daemon as its child. Returns the supervisor's exit code.
pub(super) fn supervise(cli: &Cli, opts: &LoadOptions) -> ExitCode {
    init_logging(cli);
    // `-s NAME`: the supervisor enters the namespace too, so that what it releases after
    // a crash is released there (a config's `net_namespace` is known only to the daemon,
    // which records it with what it applied).
    if let Some(ns) = &cli.namespace
        && let Err(e) = enter_namespace(ns)
    {
        error!("{e}");
        error!("Unable to set network namespace {ns} - exiting");
        return ExitCode::from(1);
    }
    if !cli.dont_fork
        && let Err(e) = nix::unistd::daemon(false, false)
    {
        error!("cannot daemonize: {e}");
        return ExitCode::from(1);
    }
    let pidfile = cli
        .pid
        .clone()
        .unwrap_or_else(|| default_pidfile(cli.namespace.as_deref()));
    if let Err(msg) = write_pidfile(&pidfile) {
        error!("{msg}");
        return ExitCode::from(1);
    }
    let role = crate::supervisor::main(cli, &pidfile, |supervised| {
        run_daemon(cli.clone(), opts.clone(), supervised)
    });
    match role {
        crate::supervisor::Role::Supervisor(code) => {
            release_pidfile(&pidfile);
            code
        }
        crate::supervisor::Role::Daemon(code) => code,
    }
}

/// glibc malloc's parameters for a long-running daemon, unless the environment chose them
/// (`MALLOC_ARENA_MAX` / `MALLOC_MMAP_THRESHOLD_`, or `arena_max` / `mmap_threshold` in
/// `GLIBC_TUNABLES`), before any thread starts:
/// * `M_ARENA_MAX` 1: one arena for every thread. By default glibc gives each thread that
///   allocates an arena of its own (up to 8 per CPU), each keeping its free chunks resident;
///   keepalived's processes are single-threaded, one arena each.
/// * `M_MMAP_THRESHOLD` 128 KiB, fixed: blocks from 128 KiB up (the configuration's text,
///   the vectors and tables a large configuration builds) are mapped on their own and given
///   back whole when freed. glibc's default threshold starts there but rises to the size of
///   the largest mapped block freed, so that after a large configuration's start-up those
///   blocks come from the heap and leave it full of holes, which the checks' allocations
///   then keep touching: the start-up peak stayed resident for the daemon's life.
///
/// Measured at 1000 x 10 TCP_CHECKs (native lab, `-C`): the daemon's anonymous memory
/// 13.1 MiB by default, 12.5 with one arena, 8.6-8.9 with both; the same CPU (29 % of a core).
fn tune_malloc() {
    let tunables = std::env::var("GLIBC_TUNABLES").unwrap_or_default();
    let chosen =
        |var: &str, tunable: &str| std::env::var_os(var).is_some() || tunables.contains(tunable);
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes glibc's allocator parameters; called before the
        // daemon starts any thread.
        if !chosen("MALLOC_ARENA_MAX", "arena_max") {
            unsafe { libc::mallopt(libc::M_ARENA_MAX, 1) };
        }
        if !chosen("MALLOC_MMAP_THRESHOLD_", "mmap_threshold") {
            unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024) };
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = chosen;
}

/// The daemon (the supervisor's child): holds the control signals, loads the configuration,
/// enters the namespace, programs IPVS, then runs the runtime with the engine, the signal
/// task and the reloader until a stop; removes the child pidfiles and the state record
/// when everything was released. Returns the daemon's exit code.
pub(super) fn run_daemon(
    cli: Cli,
    opts: LoadOptions,
    supervised: crate::supervisor::Supervised,
) -> ExitCode {
    // Stop, reload and dump signals are held from here until their handlers exist, and then
    // delivered: a SIGTERM or SIGHUP while the config is read or the IPVS table programmed
    // neither kills the daemon half-way (their default action) nor is lost. This thread is
    // the only one so far, so its mask covers the process; threads started later inherit the
    // mask of the thread that starts them, and commands started through std/tokio begin with
    // an empty mask.
    hold_signals(true);
    tune_malloc();
    init_logging(&cli);
    if !supervised.follow_supervisor() {
        error!("the supervisor is gone; not starting");
        return ExitCode::from(1);
    }
    info!("Starting rkeepalived v{}", env!("CARGO_PKG_VERSION"));
    let ledger = supervised.open_ledger();
    crate::timing::mark("logging");
    // keepalived: "Opening file '...'." with -D, then "Configuration file ..." always.
    debug!("Opening file '{}'.", cli.use_file.display());
    let loaded = match config::load(&cli.use_file, &opts) {
        Ok(l) => crate::script::policy::apply(l),
        Err(e) => {
            error!("{e}");
            return ExitCode::from(1);
        }
    };
    info!("Configuration file {}", cli.use_file.display());
    crate::timing::mark("parsed");
    for d in &loaded.diagnostics.0 {
        match d.severity {
            Severity::Warning => warn!("{d}"),
            Severity::Error => error!("{d}"),
        }
    }
    for flag in cli.accepted_but_ignored() {
        warn!("option {flag} has no effect in rkeepalived");
    }
    if loaded.missing_files {
        // keepalived 2.2.7: the same, exit 6, nothing started.
        error!("Configuration files are missing (see above) - not starting");
        return ExitCode::from(config::parser::EXIT_CONFIG_MISSING_FILES as u8);
    }
    if cli.dump_conf {
        super::dump_conf(&loaded.config);
    }
    // keepalived: `-s NAME` overrides the config's `net_namespace`; the namespace is entered
    // before anything touches the network (one thread so far: setns moves the process).
    let namespace = cli
        .namespace
        .clone()
        .or_else(|| loaded.config.net_namespace.clone());
    if let Some(ns) = &namespace {
        if let Err(e) = enter_namespace(ns) {
            error!("{e}");
            error!("Unable to set network namespace {ns} - exiting");
            return ExitCode::from(1);
        }
        if let Some(l) = &ledger {
            l.entered_netns(ns);
        }
    }
    // Metrics: served from this process, on a thread of its own, in the namespace entered
    // above. A port that cannot be bound is logged; VRRP and IPVS run regardless.
    match cli.metrics_addr() {
        Ok(Some(addr)) => {
            if let Err(e) = crate::metrics::serve(addr) {
                error!("{e}");
            }
        }
        Ok(None) => {}
        Err(e) => error!("{e}"),
    }
    let run_vrrp = !cli.check || cli.vrrp;
    // keepalived: -P runs only VRRP, -C only the checker (IPVS) side.
    let run_ipvs = !cli.vrrp || cli.check;
    let ipvs_opts = (run_ipvs, cli.dont_release_ipvs);
    // The supervisor wrote the main pidfile; the daemon's own pid goes to keepalived's child
    // pidfiles when they are asked for (-r for the VRRP side, -c for the checkers).
    let child_pidfiles: Vec<PathBuf> = [&cli.vrrp_pid, &cli.checkers_pid]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
    for p in &child_pidfiles {
        if let Err(msg) = write_pidfile(p) {
            warn!("{msg}");
        }
    }
    // `-u MASK`: the mask of the files created from here on, and of the scripts' (which
    // inherit it). keepalived 2.2.7 (measured) leaves its pidfile 0644 under `-u 077`; the
    // dump files are 0600 whatever the mask.
    if let Some(mask) = cli.umask {
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(mask));
    }
    // One copy of the config, shared by the IPVS controller and the VRRP side.
    let config = std::sync::Arc::new(loaded.config);
    // IPVS first, on this thread before the runtime exists (no thread to start on the way to
    // a full table); signals are still held, so a SIGTERM meanwhile leads to the orderly
    // shutdown that removes the table.
    let programmed = (ipvs_opts.0 && !config.ipvs.virtual_servers.is_empty())
        .then(|| crate::ipvs::program::program(&config));
    // A director whose kernel has no IPVS cannot balance: it must not take the VIPs that
    // draw the traffic. keepalived 2.2.7 terminates as a whole (its checker child exits with
    // a permanent error, exit code 1) before its VRRP side holds any address; so does this,
    // before the VRRP side starts. A config without virtual servers never opens IPVS. With
    // -C (checkers only) no address is ever taken: the checkers run, and their notify
    // scripts and SIGUSR1 data keep reporting the real servers' health.
    if run_vrrp
        && programmed
            .as_ref()
            .is_some_and(|p| p.unavailable().is_some())
    {
        error!(
            "virtual_server blocks are configured but IPVS is not available: stopping \
             without taking any VIP (load the ip_vs module, or run the VRRP side alone with -P)"
        );
        return ExitCode::from(1);
    }
    // rkeepalived-only `lvs_sync_daemon IF active_active`: the checker side runs both sync
    // daemons from here to the end (a sync daemon that follows a VRRP instance is the VRRP
    // side's).
    // A reload may restart, stop or start them (`Reloader`).
    let sync: super::reload::ActiveActiveSlot = std::sync::Arc::new(std::sync::Mutex::new(
        ipvs_opts
            .0
            .then(|| {
                crate::ipvs::syncd::ActiveActiveSync::start(config.global.lvs_sync_daemon.as_ref())
            })
            .flatten(),
    ));
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            error!("cannot start the runtime: {e}");
            if let Some(p) = programmed {
                p.release();
            }
            if let Some(s) = super::reload::take_active_active(&sync) {
                s.stop();
            }
            return ExitCode::from(1);
        }
    };
    crate::timing::mark("runtime");
    let check_data = CheckDataSlot::default();
    let engine_opts = EngineOptions {
        dont_release_vrrp: cli.dont_release_vrrp,
        ledger: ledger.clone(),
        check_data: check_data.clone(),
    };
    let address_monitoring = cli.address_monitoring;
    let ipvs_ledger = ledger.clone();
    let reloaded_sync = sync.clone();
    let code = runtime.block_on(async move {
        // Signal handlers first: a SIGTERM while the IPVS table is being programmed must still
        // lead to the orderly shutdown that removes it (the task registers its handlers before
        // its first await, which yield_now lets it reach).
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let (hup_tx, hup_rx) = tokio::sync::mpsc::channel(1);
        let engine_tx = run_vrrp.then(|| tx.clone());
        let signals = tokio::spawn(handle_signals(tx, hup_tx, check_data.clone()));
        if address_monitoring {
            tokio::spawn(log_address_changes());
        }
        // Mail alerts: sent by tasks of their own (crate::mail).
        crate::mail::install(&config);
        tokio::task::yield_now().await;
        hold_signals(false);
        // IPVS: the virtual servers are programmed; the controller applies health changes and
        // removes them after VRRP stopped (unless -I).
        let ipvs = programmed.map(|p| {
            let c = crate::ipvs::controller::Controller::start_programmed(
                &config,
                p,
                ipvs_ledger.clone(),
            );
            crate::timing::mark("ipvs-started");
            let _ = check_data.set(c.check_data());
            crate::metrics::set_check_data(c.check_data());
            c
        });
        let ipvs = std::sync::Arc::new(tokio::sync::Mutex::new(ipvs));
        let reloader = Reloader {
            path: cli.use_file.clone(),
            opts: opts.clone(),
            started: VrrpHalf::of(&config),
            mail_global: config.global.clone(),
            engine: engine_tx,
            run_ipvs: ipvs_opts.0,
            ipvs: ipvs.clone(),
            check_data,
            ledger: ipvs_ledger,
            active_active: reloaded_sync,
            lvs_sync: config
                .global
                .lvs_sync_daemon
                .as_ref()
                .map(crate::config::model::LvsSyncDaemon::positionless),
        };
        let reloads = tokio::spawn(reloader.serve(hup_rx));
        let code = run(config, engine_opts, run_vrrp, rx, signals).await;
        crate::systemd::stopping();
        // A reload in progress finishes first (it holds the controller); none starts after.
        let mut held = ipvs.lock().await;
        reloads.abort();
        if let Some(c) = held.take() {
            c.stop(ipvs_opts.1).await;
        }
        code
    });
    if let Some(s) = super::reload::take_active_active(&sync) {
        s.stop();
    }
    for p in &child_pidfiles {
        let _ = std::fs::remove_file(p);
    }
    // Everything was released (or kept on purpose with -V): nothing for the supervisor to do.
    if let Some(l) = &ledger
        && (code == ExitCode::SUCCESS || l.applied().is_empty())
    {
        l.remove();
    }
    info!("Stopped rkeepalived");
    // STOPPING=1 and the last status go out before the notifier thread ends with the process.
    crate::systemd::flush(std::time::Duration::from_millis(500));
    code
}

/// The daemon's runtime after start-up: the VRRP engine until it stops (or, with `-C`, the
/// wait for a stop request, keeping systemd's watchdog and status line).
async fn run(
    config: std::sync::Arc<config::Config>,
    opts: EngineOptions,
    run_vrrp: bool,
    rx: tokio::sync::mpsc::Receiver<Control>,
    signals: tokio::task::JoinHandle<()>,
) -> ExitCode {
    if !run_vrrp {
        if config.ipvs.virtual_servers.is_empty() {
            warn!(
                "--check without --vrrp and no virtual server: waiting for a reload that adds some"
            );
        }
        info!("Startup complete");
        crate::resident::shed_read_only_pages();
        crate::systemd::ready(&crate::systemd::status_line(
            None,
            crate::check::dump::ipvs_status(&opts.check_data),
        ));
        // Without VRRP only a stop request matters (the dumps have no VRRP data to write);
        // this thread keeps systemd's watchdog and status line.
        let watchdog = crate::systemd::watchdog_interval().is_some();
        let mut tick = tokio::time::interval(crate::systemd::tick_period());
        let mut rx = rx;
        loop {
            tokio::select! {
                c = rx.recv() => if matches!(c, Some(Control::Shutdown) | None) { break },
                _ = tick.tick() => {
                    if watchdog {
                        crate::systemd::watchdog();
                    }
                    crate::systemd::status_if_changed(
                        &crate::systemd::status_line(None, crate::check::dump::ipvs_status(&opts.check_data)),
                    );
                }
            }
        }
        return ExitCode::SUCCESS;
    }
    let check_data = opts.check_data.clone();
    let engine = match Engine::new(&config, opts) {
        Ok(e) => e,
        Err(e) => {
            error!("{e}");
            signals.abort();
            return ExitCode::from(1);
        }
    };
    // keepalived's parent logs this once its children are started.
    info!("Startup complete");
    // What only the start-up ran (the configuration's parse, the set-up) goes back to the
    // page cache; what runs from now on maps again.
    crate::resident::shed_read_only_pages();
    // systemd: the configuration is loaded, the IPVS table programmed, the VRRP sockets open.
    crate::systemd::ready(&crate::systemd::status_line(
        Some(engine.vrrp_status()),
        crate::check::dump::ipvs_status(&check_data),
    ));
    engine.run(rx).await;
    signals.abort();
    ExitCode::SUCCESS
}

/// keepalived's directory for the pidfiles of a daemon run in a network namespace:
/// `/run/keepalived/NAME/` (keepalived bind-mounts it on `/run/keepalived` in a private mount
/// namespace; seen from outside, its pidfiles are there).
pub const NAMESPACE_PID_DIR: &str = "/run/keepalived";

/// The main pidfile when `-p` is not given: [`DEFAULT_PIDFILE`], or
/// `/run/keepalived/NAME/keepalived.pid` in network namespace NAME (keepalived 2.2.7).
pub fn default_pidfile(namespace: Option<&str>) -> PathBuf {
    match namespace {
        Some(ns) => Path::new(NAMESPACE_PID_DIR).join(ns).join("keepalived.pid"),
        None => PathBuf::from(DEFAULT_PIDFILE),
    }
}

/// Moves the calling thread (the only one at start: the process) into network namespace
/// `/run/netns/NAME`, as keepalived's `-s NAME` and `net_namespace NAME` do. Errors: the
/// namespace file cannot be opened (keepalived's `Failed to open /run/netns/NAME`), or setns
/// fails.
pub(super) fn enter_namespace(name: &str) -> Result<(), String> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(format!("invalid network namespace name '{name}'"));
    }
    let path = Path::new("/run/netns").join(name);
    let file = std::fs::File::open(&path)
        .map_err(|e| format!("Failed to open {} ({e})", path.display()))?;
    nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET)
        .map_err(|e| format!("setns() into {} failed: {e}", path.display()))?;
    info!("Running in network namespace {name}");
    Ok(())
}

/// Removes the pidfile; one under [`NAMESPACE_PID_DIR`] takes its directory with it when
/// that is left empty, as keepalived leaves nothing behind.
fn release_pidfile(path: &Path) {
    let _ = std::fs::remove_file(path);
    if path.starts_with(NAMESPACE_PID_DIR) {
        if let Some(dir) = path.parent() {
            let _ = std::fs::remove_dir(dir);
        }
        let _ = std::fs::remove_dir(NAMESPACE_PID_DIR);
    }
}

/// `-a/--address-monitoring`: logs every address the kernel reports added or removed, in
/// keepalived's words (`Netlink reflector reports IP ADDR added to IFNAME` / `removed from`).
async fn log_address_changes() {
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    if let Err(e) = crate::net::addr_monitor::spawn(tx) {
        error!("address monitoring: {e}");
        return;
    }
    while let Some(ev) = rx.recv().await {
        let ifname = nix::net::if_::if_indextoname(ev.ifindex)
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|_| format!("if{}", ev.ifindex));
        let how = if ev.added { "added to" } else { "removed from" };
        info!("Netlink reflector reports IP {} {how} {ifname}", ev.addr);
    }
}

/// Writes this process's pid to `path` (creating [`NAMESPACE_PID_DIR`]`/NAME/` for a namespace
/// pidfile). Errors: another live process's pid is in the file, or the file cannot be written.
fn write_pidfile(path: &Path) -> Result<(), String> {
    if path.starts_with(NAMESPACE_PID_DIR)
        && let Some(dir) = path.parent()
    {
        use std::os::unix::fs::DirBuilderExt;
        let _ = std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(dir);
    }
    if let Ok(text) = std::fs::read_to_string(path)
        && let Ok(pid) = text.trim().parse::<i32>()
    {
        let alive = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok();
        if alive && pid != std::process::id() as i32 {
            return Err(format!(
                "daemon is already running (pid {pid} in {})",
                path.display()
            ));
        }
    }
    std::fs::write(path, format!("{}\n", std::process::id()))
        .map_err(|e| format!("cannot write pidfile {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pidfile_refuses_a_live_other_process() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.pid");
        // pid 1 is alive and is not us.
        std::fs::write(&p, "1\n").unwrap();
        assert!(write_pidfile(&p).unwrap_err().contains("already running"));
        // A stale pid is replaced.
        std::fs::write(&p, "999999999\n").unwrap();
        write_pidfile(&p).unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap().trim(),
            std::process::id().to_string()
        );
    }
}
