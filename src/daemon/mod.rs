//! The daemon: `-t`, the supervisor and the daemon proper (`lifecycle`), its signals
//! (`signals`), SIGHUP reloads (`reload`) and keepalived's logging (`logging`).
//!
//! Signals (keepalived's contract): TERM and INT stop gracefully (priority-0 adverts, VIPs
//! released, notify_stop); USR1 writes `keepalived_check.data` (see [`crate::check::dump`])
//! and `keepalived.data`, USR2 writes `keepalived.stats` (see the engine's dump module); HUP
//! reloads: the file is read again and, if it has no error, the `virtual_server` side
//! (IPVS table and checkers) follows it by difference; other changes wait for a restart
//! (said in the log), and a file with errors leaves everything running as it was;
//! keepalived's JSON signal (SIGRTMIN+2) writes `keepalived.json` and its STATS_CLEAR signal
//! (SIGRTMAX-1) zeroes the VRRP counters (`--signum` prints their numbers).

mod lifecycle;
mod logging;
mod reload;
mod signals;

pub use lifecycle::{NAMESPACE_PID_DIR, default_pidfile};
pub use logging::{syslog_facility, syslog_ident};

use crate::cli::Cli;
use crate::config::{self, LoadOptions};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use tracing::{error, info};

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

/// The whole program: returns the process exit code. `-t` runs here; otherwise this process
/// becomes the supervisor, which forks the daemon (`lifecycle`).
pub fn main(cli: Cli) -> ExitCode {
    crate::timing::mark("main");
    let opts = LoadOptions {
        config_id: config_id(&cli),
        all_config: cli.all_config,
    };
    if let Some(log_file) = &cli.config_test {
        return config_test(&cli.use_file, &opts, log_file, cli.namespace.as_deref());
    }
    lifecycle::supervise(&cli, &opts)
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
            match ns.as_deref().map(lifecycle::enter_namespace) {
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

/// `-d/--dump-conf`: the configuration as loaded, to the log, one line per log message
/// (JSON, the model's field names; keepalived prints its own data structures).
pub(super) fn dump_conf(config: &config::Config) {
    info!("------< Configuration dump (-d) >------");
    match serde_json::to_string_pretty(config) {
        Ok(text) => text.lines().for_each(|l| info!("{l}")),
        Err(e) => error!("cannot dump the configuration: {e}"),
    }
}
