//! Wiring and lifecycle: logging, config load, `-t`, daemonizing, pidfile, signals, the engine.
//!
//! Signals (keepalived's contract): TERM and INT stop gracefully (priority-0 adverts, VIPs
//! released, notify_stop); USR1 writes `keepalived_check.data` (see [`crate::check::dump`]) and
//! `keepalived.data`, USR2 writes `keepalived.stats` (see the engine's dump module); HUP
//! reloads: the file is read again and, if it has no error, the `virtual_server` side
//! (IPVS table and checkers) follows it by difference; other changes wait for a restart
//! (said in the log), and a file with errors leaves everything running as it was;
//! keepalived's JSON signal (SIGRTMIN+2) writes `keepalived.json` and its STATS_CLEAR signal
//! (SIGRTMAX-1) zeroes the VRRP counters (`--signum` prints their numbers).

use crate::cli::{Cli, DEFAULT_PIDFILE};
use crate::config::{self, LoadOptions, Severity};
use crate::vrrp::engine::{Control, Engine, EngineOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tokio::signal::unix::{SignalKind, signal};
use tracing::{debug, error, info, warn};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// keepalived's `-t` exit code when the config cannot be read at all.
pub const EXIT_CONFIG_UNUSABLE: u8 = 3;

/// The config id used for `@ID` lines: `-i`, else the host name up to its first '.'.
pub fn config_id(cli: &Cli) -> String {
    if let Some(id) = &cli.config_id {
        return id.clone();
    }
    let host = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_default();
    host.split('.').next().unwrap_or_default().to_string()
}

/// The whole program: returns the process exit code.
pub fn main(cli: Cli) -> ExitCode {
    crate::timing::mark("main");
    let opts = LoadOptions {
        config_id: config_id(&cli),
        all_config: cli.all_config,
    };
    if let Some(log_file) = &cli.config_test {
        return config_test(&cli.use_file, &opts, log_file, cli.namespace.as_deref());
    }
    let supervised = crate::supervisor::Supervised::from_env();
    if supervised.is_none() {
        // This process becomes the supervisor; the daemon is its child (crate::supervisor).
        init_logging(&cli);
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
        let code = crate::supervisor::main(&cli, &pidfile);
        release_pidfile(&pidfile);
        return code;
    }
    let supervised = supervised.expect("checked above");
    // Stop, reload and dump signals are held from here until their handlers exist, and then
    // delivered: a SIGTERM or SIGHUP while the config is read or the IPVS table programmed
    // neither kills the daemon half-way (their default action) nor is lost. This thread is
    // the only one so far, so its mask covers the process; threads started later inherit the
    // mask of the thread that starts them, and commands started through std/tokio begin with
    // an empty mask.
    hold_signals(true);
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
        dump_conf(&loaded.config);
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
    let code = runtime.block_on(async move {
        // Signal handlers first: a SIGTERM while the IPVS table is being programmed must still
        // lead to the orderly shutdown that removes it (the task registers its handlers before
        // its first await, which yield_now lets it reach).
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let (hup_tx, hup_rx) = tokio::sync::mpsc::channel(1);
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
            let c = crate::ipvs::controller::Controller::start_programmed(&config, p);
            crate::timing::mark("ipvs-started");
            let _ = check_data.set(c.check_data());
            crate::metrics::set_check_data(c.check_data());
            c
        });
        let ipvs = std::sync::Arc::new(tokio::sync::Mutex::new(ipvs));
        let reloader = Reloader {
            path: cli.use_file.clone(),
            opts: opts.clone(),
            started: config.clone(),
            run_ipvs: ipvs_opts.0,
            ipvs: ipvs.clone(),
            check_data,
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
    code
}

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
        crate::systemd::ready(&crate::systemd::status_line(None, &opts.check_data));
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
                        &crate::systemd::status_line(None, &opts.check_data),
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
    // systemd: the configuration is loaded, the IPVS table programmed, the VRRP sockets open.
    crate::systemd::ready(&crate::systemd::status_line(
        Some(engine.vrrp_status()),
        &check_data,
    ));
    engine.run(rx).await;
    signals.abort();
    ExitCode::SUCCESS
}

/// The checker data the SIGUSR1 dump writes, once the IPVS side has started.
use crate::systemd::CheckDataSlot;

/// The signals [`handle_signals`] handles, blocked (`hold`) or unblocked in the calling
/// thread: while blocked, one that arrives stays pending and is delivered once unblocked.
fn hold_signals(hold: bool) {
    // SAFETY: sigemptyset/sigaddset initialise and fill `set`; pthread_sigmask only reads it.
    let rc = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in crate::cli::control_signals() {
            libc::sigaddset(&mut set, s);
        }
        let how = if hold {
            libc::SIG_BLOCK
        } else {
            libc::SIG_UNBLOCK
        };
        libc::pthread_sigmask(how, &set, std::ptr::null_mut())
    };
    if rc != 0 {
        warn!(
            "cannot change the signal mask: {}",
            std::io::Error::from_raw_os_error(rc)
        );
    }
}

/// SIGHUP: reads the config file again and, when it has no error, hands it to the IPVS
/// controller; with an error (or an unreadable file) the running configuration stays.
/// keepalived reloads both sides; rkeepalived reloads the `virtual_server` side and says
/// when other changes (VRRP instances, global_defs, ...) wait for the next restart.
struct Reloader {
    path: PathBuf,
    opts: LoadOptions,
    /// The configuration the daemon started with (what the VRRP side runs).
    started: std::sync::Arc<config::Config>,
    /// Whether the IPVS side runs at all (not `-P`).
    run_ipvs: bool,
    /// The IPVS controller: reloaded, or started by a reload that brings the first
    /// virtual servers.
    ipvs: std::sync::Arc<tokio::sync::Mutex<Option<crate::ipvs::controller::Controller>>>,
    check_data: CheckDataSlot,
}

impl Reloader {
    async fn serve(self, mut requests: tokio::sync::mpsc::Receiver<()>) {
        while requests.recv().await.is_some() {
            // systemd: RELOADING=1 until the reload has ended, taken or refused.
            crate::systemd::reloading();
            let ok = self.reload().await;
            crate::metrics::reloaded(ok);
            let outcome = if ok {
                "taken"
            } else {
                "refused, running configuration kept (see the log)"
            };
            crate::systemd::reloaded(outcome);
        }
    }

    /// One reload; false when the file was refused (unreadable, or with errors).
    async fn reload(&self) -> bool {
        info!("Reloading the configuration from {}", self.path.display());
        let (path, opts) = (self.path.clone(), self.opts.clone());
        let loaded = match tokio::task::spawn_blocking(move || {
            config::load(&path, &opts).map(crate::script::policy::apply)
        })
        .await
        {
            Ok(Ok(l)) => l,
            Ok(Err(e)) => {
                error!("Reload: {e} - keeping the running configuration");
                return false;
            }
            Err(e) => {
                error!("Reload: {e} - keeping the running configuration");
                return false;
            }
        };
        for d in &loaded.diagnostics.0 {
            match d.severity {
                Severity::Warning => warn!("{d}"),
                Severity::Error => error!("{d}"),
            }
        }
        if loaded.diagnostics.has_errors() {
            error!("Reload: the configuration has errors - keeping the running configuration");
            return false;
        }
        let new = std::sync::Arc::new(loaded.config);
        if outside_ipvs(&self.started) != outside_ipvs(&new) {
            warn!(
                "Reload: changes outside virtual_server blocks (VRRP, global_defs, ...) take \
                 effect at the next restart; the VRRP side keeps running unchanged"
            );
        }
        let mut ipvs = self.ipvs.lock().await;
        match ipvs.as_ref() {
            Some(c) => c.reload(new).await,
            None if new.ipvs.virtual_servers.is_empty() => {}
            None if !self.run_ipvs => {
                warn!("Reload: virtual servers are not run with --vrrp (-P)")
            }
            None => {
                // The first virtual servers: the IPVS side starts as it would have at start-up.
                let config = new.clone();
                match tokio::task::spawn_blocking(move || crate::ipvs::program::program(&config))
                    .await
                {
                    Ok(p) if p.unavailable().is_some() => error!(
                        "Reload: virtual_server blocks added but IPVS is not available: \
                         they are not run"
                    ),
                    Ok(p) => {
                        let c = crate::ipvs::controller::Controller::start_programmed(&new, p);
                        let _ = self.check_data.set(c.check_data());
                        crate::metrics::set_check_data(c.check_data());
                        *ipvs = Some(c);
                    }
                    Err(e) => error!("Reload: cannot start the IPVS side: {e}"),
                }
            }
        }
        true
    }
}

/// Everything of `config` but its `virtual_server` side, without source positions (moving a
/// block is not a change), for telling whether a reload changed the VRRP side.
fn outside_ipvs(config: &config::Config) -> serde_json::Value {
    fn strip_spans(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                m.remove("span");
                m.values_mut().for_each(strip_spans);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(strip_spans),
            _ => {}
        }
    }
    let mut v = serde_json::to_value(config).unwrap_or_default();
    if let serde_json::Value::Object(m) = &mut v {
        m.remove("ipvs");
        m.remove("virtual_servers_seen");
    }
    strip_spans(&mut v);
    v
}

async fn handle_signals(
    tx: tokio::sync::mpsc::Sender<Control>,
    hup: tokio::sync::mpsc::Sender<()>,
    check_data: CheckDataSlot,
) {
    let (
        Ok(mut term),
        Ok(mut int),
        Ok(mut hup_signal),
        Ok(mut usr1),
        Ok(mut usr2),
        Ok(mut json),
        Ok(mut clear),
    ) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
        signal(SignalKind::user_defined1()),
        signal(SignalKind::user_defined2()),
        signal(SignalKind::from_raw(crate::cli::json_signal())),
        signal(SignalKind::from_raw(crate::cli::stats_clear_signal())),
    )
    else {
        error!("cannot install signal handlers");
        return;
    };
    loop {
        tokio::select! {
            _ = term.recv() => {
                info!("Stopping");
                crate::systemd::stopping();
                let _ = tx.send(Control::Shutdown).await;
            }
            _ = int.recv() => {
                info!("Stopping");
                crate::systemd::stopping();
                let _ = tx.send(Control::Shutdown).await;
            }
            // A reload already queued covers this one too.
            _ = hup_signal.recv() => { let _ = hup.try_send(()); }
            _ = usr1.recv() => {
                dump_data(&check_data);
                let _ = tx.send(Control::WriteData).await;
            }
            _ = usr2.recv() => { let _ = tx.send(Control::WriteStats).await; }
            _ = json.recv() => { let _ = tx.send(Control::WriteJson).await; }
            _ = clear.recv() => { let _ = tx.send(Control::ClearStats).await; }
        }
    }
}

/// SIGUSR1, checker side: writes `keepalived_check.data` (the engine writes `keepalived.data`).
fn dump_data(check_data: &CheckDataSlot) {
    let current = check_data
        .get()
        .map(|d| d.read().unwrap_or_else(|e| e.into_inner()).clone());
    match current {
        Some(d) => match d.write(&crate::data_file::data_dir()) {
            Ok(path) => info!("Checker data written to {}", path.display()),
            Err(e) => error!("cannot write the checker data file: {e}"),
        },
        None => info!("Data dump (SIGUSR1): no checker data (no virtual server running)"),
    }
}

/// `-t[=LOG_FILE]`: prints every diagnostic (to stderr and, if given, to LOG_FILE) and returns
/// keepalived(8)'s exit code: 0 ok, 3 unreadable or missing file, 4 errors (including what
/// the script policy refuses and interfaces missing in the current network namespace), 5
/// scripts without script security. The script policy and the interface check run as at
/// start-up, so `-t` reports what the daemon would; interfaces are looked for in the network
/// namespace the daemon would use (`-s NAME` or `net_namespace`).
fn config_test(
    path: &Path,
    opts: &LoadOptions,
    log_file: &str,
    namespace: Option<&str>,
) -> ExitCode {
    let mut out: Vec<String> = Vec::new();
    let code = match config::load(path, opts) {
        Ok(loaded) => {
            let mut loaded = crate::script::policy::apply(loaded);
            // The interfaces are those of the namespace the daemon would run in (`-s`, else
            // the config's `net_namespace`): `systemctl reload` runs `-t` with the daemon's
            // flags. When it cannot be entered (not root), they are not checked.
            let ns = namespace
                .map(str::to_owned)
                .or_else(|| loaded.config.net_namespace.clone());
            match ns.as_deref().map(enter_namespace) {
                Some(Err(e)) => out.push(format!("interfaces not checked: {e}")),
                None | Some(Ok(())) => {
                    let missing = crate::vrrp::missing_interfaces(&loaded.config);
                    loaded.diagnostics.0.extend(missing);
                }
            }
            out.extend(loaded.diagnostics.0.iter().map(|d| d.to_string()));
            loaded.config_test_exit_code()
        }
        Err(e) => {
            out.push(e.to_string());
            i32::from(EXIT_CONFIG_UNUSABLE)
        }
    };
    for line in &out {
        eprintln!("{line}");
    }
    if !log_file.is_empty()
        && let Ok(mut f) = std::fs::File::create(log_file)
    {
        for line in &out {
            let _ = writeln!(f, "{line}");
        }
    }
    ExitCode::from(code as u8)
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
fn enter_namespace(name: &str) -> Result<(), String> {
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

/// `-d/--dump-conf`: the configuration as loaded, to the log, one line per log message
/// (JSON, the model's field names; keepalived prints its own data structures).
fn dump_conf(config: &config::Config) {
    info!("------< Configuration dump (-d) >------");
    match serde_json::to_string_pretty(config) {
        Ok(text) => text.lines().for_each(|l| info!("{l}")),
        Err(e) => error!("cannot dump the configuration: {e}"),
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

/// Maps `-S` (0-7, localN, daemon, user...) to a syslog facility; default daemon.
pub fn syslog_facility(s: Option<&str>) -> libc::c_int {
    match s {
        None => libc::LOG_DAEMON,
        Some(s) => {
            let n = s.strip_prefix("local").unwrap_or(s);
            match (n.parse::<u8>(), s) {
                (Ok(i), _) if i <= 7 => (16 + i32::from(i)) << 3,
                (_, "user") => libc::LOG_USER,
                (_, "daemon") => libc::LOG_DAEMON,
                _ => libc::LOG_DAEMON,
            }
        }
    }
}

/// keepalived's syslog ident for the subsystem a log line comes from (`target`: the module
/// path of the line): `Keepalived_vrrp` for VRRP and what serves it (network, scripts,
/// notifications), `Keepalived_healthcheckers` for the checkers and IPVS, `Keepalived` for the
/// rest (start, configuration, stop), as keepalived's parent and its two children log, so
/// rsyslog rules on `programname` keep routing the lines.
pub fn syslog_ident(target: &str) -> &'static str {
    match target.split("::").nth(1).unwrap_or("") {
        "vrrp" | "net" | "wire" | "script" | "notify" => "Keepalived_vrrp",
        "check" | "ipvs" => "Keepalived_healthcheckers",
        _ => "Keepalived",
    }
}

/// Logs to syslog with the facility given by `-S`: RFC 3164 datagrams to `/dev/log` as
/// glibc's syslog(3) writes them (`<PRI>Mmm dd hh:mm:ss IDENT[PID]: message`), the ident
/// chosen per line by [`syslog_ident`] (openlog has one ident per process). `-D` detail lines
/// go out at `LOG_INFO`, as keepalived logs them. A missing `/dev/log` is retried at each line.
struct SyslogLayer {
    facility: libc::c_int,
    sock: std::sync::Mutex<Option<std::os::unix::net::UnixDatagram>>,
}

impl SyslogLayer {
    fn send(&self, line: &str) {
        let mut sock = self.sock.lock().unwrap_or_else(|e| e.into_inner());
        for _ in 0..2 {
            if sock.is_none() {
                let Ok(s) = std::os::unix::net::UnixDatagram::unbound() else {
                    return;
                };
                if s.connect("/dev/log").is_err() {
                    return;
                }
                *sock = Some(s);
            }
            if let Some(s) = sock.as_ref()
                && s.send(line.as_bytes()).is_ok()
            {
                return;
            }
            // The syslog daemon restarted (or went away): reconnect once.
            *sock = None;
        }
    }
}

struct Message(String);

impl tracing::field::Visit for Message {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            self.0 = value.to_string();
        }
    }
}

impl<S: tracing::Subscriber> Layer<S> for SyslogLayer {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let mut m = Message(String::new());
        event.record(&mut m);
        let pri = match *event.metadata().level() {
            tracing::Level::ERROR => libc::LOG_ERR,
            tracing::Level::WARN => libc::LOG_WARNING,
            _ => libc::LOG_INFO,
        };
        let line = format!(
            "<{}>{} {}[{}]: {}",
            pri | self.facility,
            local_time(c"%b %e %H:%M:%S"),
            syslog_ident(event.metadata().target()),
            std::process::id(),
            m.0
        );
        self.send(&line);
    }
}

/// keepalived's console line: `Sun Nov 22 05:26:29 2026: message` (local time).
struct ConsoleFormat;

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for ConsoleFormat
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        write!(writer, "{}: ", local_time_keepalived())?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// The current local time as `%a %b %e %H:%M:%S %Y` (what keepalived prints with `-l`).
fn local_time_keepalived() -> String {
    local_time(c"%a %b %e %H:%M:%S %Y")
}

/// The current local time formatted by strftime(3) with `format`.
fn local_time(format: &std::ffi::CStr) -> String {
    // SAFETY: time/localtime_r/strftime write only into the buffers given here.
    unsafe {
        let t = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&t, &mut tm);
        let mut buf = [0u8; 64];
        let n = libc::strftime(buf.as_mut_ptr().cast(), buf.len(), format.as_ptr(), &tm);
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }
}

fn init_logging(cli: &Cli) {
    let level = if cli.log_detail {
        tracing::Level::DEBUG
    } else {
        tracing::Level::INFO
    };
    let filter = tracing_subscriber::filter::LevelFilter::from_level(level);
    let console = cli.log_console.then(|| {
        tracing_subscriber::fmt::layer()
            .event_format(ConsoleFormat)
            .with_writer(std::io::stderr)
            .with_ansi(false)
    });
    let syslog = (!cli.no_syslog).then(|| {
        let facility = syslog_facility(cli.log_facility.as_deref());
        SyslogLayer {
            facility,
            sock: std::sync::Mutex::new(None),
        }
    });
    let _ = tracing_subscriber::registry()
        .with(console)
        .with(syslog)
        .with(filter)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facilities_map_like_keepalived() {
        assert_eq!(syslog_facility(None), libc::LOG_DAEMON);
        assert_eq!(syslog_facility(Some("0")), libc::LOG_LOCAL0);
        assert_eq!(syslog_facility(Some("7")), libc::LOG_LOCAL7);
        assert_eq!(syslog_facility(Some("local3")), libc::LOG_LOCAL3);
        assert_eq!(syslog_facility(Some("user")), libc::LOG_USER);
    }

    #[test]
    fn syslog_idents_follow_keepalived_subsystems() {
        assert_eq!(syslog_ident("rkeepalived::vrrp::engine"), "Keepalived_vrrp");
        assert_eq!(syslog_ident("rkeepalived::net::vmac"), "Keepalived_vrrp");
        assert_eq!(
            syslog_ident("rkeepalived::check::tcp"),
            "Keepalived_healthcheckers"
        );
        assert_eq!(
            syslog_ident("rkeepalived::ipvs::controller"),
            "Keepalived_healthcheckers"
        );
        assert_eq!(syslog_ident("rkeepalived::daemon"), "Keepalived");
        assert_eq!(syslog_ident("rkeepalived"), "Keepalived");
    }

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
