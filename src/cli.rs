//! Command line, compatible with keepalived 2.2.7's (`keepalived --help`, man 8 keepalived).
//!
//! Every flag of keepalived 2.2.7's `--help` parses. Those without an effect in rkeepalived
//! (SNMP, core dumps, BFD, the children's pidfiles, ...) are listed by
//! [`Cli::accepted_but_ignored`] so the daemon says so once in its log and carries on.

use clap::Parser;
use std::path::PathBuf;

/// keepalived's default config file.
pub const DEFAULT_CONFIG: &str = "/etc/keepalived/keepalived.conf";
/// keepalived's default main pidfile.
pub const DEFAULT_PIDFILE: &str = "/run/keepalived.pid";

/// `rkeepalived [OPTIONS]`: keepalived's flags, same short and long names.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "rkeepalived",
    version,
    disable_version_flag = true,
    about = "VRRP daemon with IPVS load balancing and health checks, compatible with keepalived"
)]
pub struct Cli {
    /// Use the specified configuration file.
    #[arg(short = 'f', long = "use-file", value_name = "FILE", default_value = DEFAULT_CONFIG)]
    pub use_file: PathBuf,

    /// Don't fork the daemon process.
    #[arg(short = 'n', long = "dont-fork")]
    pub dont_fork: bool,

    /// Log messages to the console (stderr).
    #[arg(short = 'l', long = "log-console")]
    pub log_console: bool,

    /// Detailed log messages.
    #[arg(short = 'D', long = "log-detail")]
    pub log_detail: bool,

    /// Syslog facility: 0-7 (local0-local7), or daemon, user, localN.
    #[arg(short = 'S', long = "log-facility", value_name = "FACILITY")]
    pub log_facility: Option<String>,

    /// Don't log via syslog.
    #[arg(short = 'G', long = "no-syslog")]
    pub no_syslog: bool,

    /// Only run the VRRP subsystem.
    #[arg(short = 'P', long = "vrrp")]
    pub vrrp: bool,

    /// Only run the checker (IPVS) subsystem.
    #[arg(short = 'C', long = "check")]
    pub check: bool,

    /// Don't run the BFD subsystem.
    #[arg(short = 'B', long = "no_bfd")]
    pub no_bfd: bool,

    /// Check the configuration for obvious errors and exit. keepalived's exit codes: 0 ok,
    /// 3 the config can't run, 4 errors but it would run, 5 scripts without enable_script_security.
    #[arg(short = 't', long = "config-test", value_name = "LOG_FILE", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pub config_test: Option<String>,

    /// Dump the parsed configuration to the log.
    #[arg(short = 'd', long = "dump-conf")]
    pub dump_conf: bool,

    /// Main pidfile (default /run/keepalived.pid).
    #[arg(short = 'p', long = "pid", value_name = "FILE")]
    pub pid: Option<PathBuf>,

    /// VRRP child pidfile (accepted for compatibility; rkeepalived is one process).
    #[arg(short = 'r', long = "vrrp_pid", value_name = "FILE")]
    pub vrrp_pid: Option<PathBuf>,

    /// Checker child pidfile (accepted for compatibility; rkeepalived is one process).
    #[arg(short = 'c', long = "checkers_pid", value_name = "FILE")]
    pub checkers_pid: Option<PathBuf>,

    /// BFD child pidfile (accepted for compatibility).
    #[arg(short = 'b', long = "bfd_pid", value_name = "FILE")]
    pub bfd_pid: Option<PathBuf>,

    /// Config id for `@ID` conditional lines (default: host name up to the first '.').
    #[arg(short = 'i', long = "config-id", value_name = "ID")]
    pub config_id: Option<String>,

    /// Don't remove VRRP VIPs and routes on exit.
    #[arg(short = 'V', long = "dont-release-vrrp")]
    pub dont_release_vrrp: bool,

    /// Don't remove IPVS topology on exit.
    #[arg(short = 'I', long = "dont-release-ipvs")]
    pub dont_release_ipvs: bool,

    /// Display the version (on stderr, as keepalived: see [`version_text`]) and exit.
    /// (`-V` means --dont-release-vrrp, as in keepalived.)
    #[arg(short = 'v', long = "version")]
    pub version: bool,

    /// Print the number of the signal for SIGFUNC (STOP, RELOAD, DATA, STATS, STATS_CLEAR,
    /// JSON) and exit, as keepalived's `--signum` (used by scripts and exporters:
    /// `kill -s $(keepalived --signum=JSON) PID`).
    #[arg(long = "signum", value_name = "SIGFUNC", require_equals = true)]
    pub signum: Option<String>,

    /// Don't respawn child processes. rkeepalived has no child processes: a fault that would
    /// make keepalived respawn a child ends the daemon, which is what `-R` asks for.
    #[arg(short = 'R', long = "dont-respawn")]
    pub dont_respawn: bool,

    /// Force all child processes to run, even if they have no configuration (no effect:
    /// rkeepalived is one process).
    #[arg(long = "all")]
    pub all: bool,

    /// umask for file creation, in numeric form (`022`, `0x12`, `18`: C's `strtoul(.., 0)`):
    /// set once the pidfile is written (as keepalived 2.2.7), inherited by the scripts.
    #[arg(short = 'u', long = "umask", value_name = "MASK", value_parser = parse_umask)]
    pub umask: Option<u32>,

    /// Drop VIPs on a transition caused by a signal (keepalived `RELEASE_VIPS_BIT`: a reload
    /// that makes a master a backup removes its VIPs even if keepalived did not record them
    /// as set). What it asks for is always so here: leaving MASTER always removes the VIPs,
    /// also when a reload makes a master a backup; so it is not listed as without effect.
    /// (keepalived 2.2.7, measured: it does not remove an address added by hand on a backup
    /// at stop; nor does rkeepalived.)
    #[arg(short = 'X', long = "release-vips")]
    pub release_vips: bool,

    /// Log every address addition and deletion the kernel reports (`Netlink reflector reports
    /// IP ADDR added to IFNAME` / `removed from IFNAME`).
    #[arg(short = 'a', long = "address-monitoring")]
    pub address_monitoring: bool,

    /// Enable the SNMP subsystem (no effect: rkeepalived has no SNMP agent).
    #[arg(short = 'x', long = "snmp")]
    pub snmp: bool,

    /// The socket of the SNMP master agent (no effect).
    #[arg(short = 'A', long = "snmp-agent-socket", value_name = "FILE")]
    pub snmp_agent_socket: Option<String>,

    /// Run in network namespace NAME (`/run/netns/NAME`), overriding the config's
    /// `net_namespace`. The default pidfile is then `/run/keepalived/NAME/keepalived.pid`,
    /// where keepalived 2.2.7 leaves it.
    #[arg(short = 's', long = "namespace", value_name = "NAME")]
    pub namespace: Option<String>,

    /// Produce a core dump on abnormal termination (no effect).
    #[arg(short = 'm', long = "core-dump")]
    pub core_dump: bool,

    /// Also set /proc/sys/kernel/core_pattern to PATN (no effect: rkeepalived leaves the
    /// host's core pattern alone).
    #[arg(short = 'M', long = "core-dump-pattern", value_name = "PATN", num_args = 0..=1, default_missing_value = "core")]
    pub core_dump_pattern: Option<String>,

    /// Error if any configuration file is missing: every `include` checks as `includea`
    /// (keepalived's `include_check` with all checks).
    #[arg(short = 'e', long = "all-config")]
    pub all_config: bool,

    /// Log to FILE (keepalived built with --enable-log-file; no effect here, use syslog or
    /// `-l`).
    #[arg(short = 'g', long = "log-file", value_name = "FILE", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pub log_file: Option<String>,

    /// Serve Prometheus metrics on ADDR:PORT (`http://ADDR:PORT/metrics`), from the daemon
    /// process; also read from the environment variable `METRICS_LISTEN` (e.g. set in
    /// `/etc/default/rkeepalived`). Off unless given.
    #[arg(long = "metrics-listen", value_name = "ADDR:PORT")]
    pub metrics_listen: Option<std::net::SocketAddr>,
}

impl Cli {
    /// `--metrics-listen`, else `METRICS_LISTEN` from the environment (an unparsable value
    /// is an error message).
    pub fn metrics_addr(&self) -> Result<Option<std::net::SocketAddr>, String> {
        if let Some(a) = self.metrics_listen {
            return Ok(Some(a));
        }
        match std::env::var("METRICS_LISTEN") {
            Ok(v) if !v.trim().is_empty() => v
                .trim()
                .parse()
                .map(Some)
                .map_err(|e| format!("METRICS_LISTEN={v}: {e} (expected ADDR:PORT)")),
            _ => Ok(None),
        }
    }
}

/// The version of keepalived whose configuration, command line, files and wire rkeepalived
/// follows; `-v` reports it so that tools which choose their probes by keepalived's version
/// (keepalived-exporter: `--signum` from 1.3.8 on, the script state in the data file) take
/// the keepalived 2.2.7 ones.
pub const KEEPALIVED_VERSION: &str = "2.2.7";

/// What `-v` prints on stderr. The first line has keepalived's form, `Keepalived vX.Y.Z
/// (...)`, with keepalived's version and, in the parentheses where keepalived has its build
/// date, rkeepalived's own version: keepalived-exporter (and other tools) take the second word
/// without its `v` as the version and need a second line.
pub fn version_text() -> String {
    format!(
        "Keepalived v{KEEPALIVED_VERSION} (rkeepalived {rk})\n\n\
         rkeepalived {rk}: VRRP, IPVS and health checks with keepalived {KEEPALIVED_VERSION}'s \
         configuration, command line and wire format\n",
        rk = env!("CARGO_PKG_VERSION")
    )
}

/// `-u MASK`: C's `strtoul(MASK, .., 0)` (leading `0x` hex, leading `0` octal, else decimal),
/// at most 0777.
fn parse_umask(s: &str) -> Result<u32, String> {
    let v = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u32::from_str_radix(h, 16)
    } else if s.len() > 1 && s.starts_with('0') {
        u32::from_str_radix(&s[1..], 8)
    } else {
        s.parse()
    };
    match v {
        Ok(v) if v <= 0o777 => Ok(v),
        _ => Err(format!("invalid umask '{s}'")),
    }
}

/// keepalived's signal for `func` (`--signum`): STOP 15, RELOAD 1, DATA 10, STATS 12,
/// STATS_CLEAR SIGRTMAX-1 and JSON SIGRTMIN+2 (63 and 36 with glibc). Names are
/// case-sensitive, as keepalived's.
pub fn signal_number(func: &str) -> Option<i32> {
    Some(match func {
        "STOP" => libc::SIGTERM,
        "RELOAD" => libc::SIGHUP,
        "DATA" => libc::SIGUSR1,
        "STATS" => libc::SIGUSR2,
        "STATS_CLEAR" => stats_clear_signal(),
        "JSON" => json_signal(),
        _ => return None,
    })
}

/// keepalived's JSON dump signal: `SIGRTMIN + 2`.
pub fn json_signal() -> i32 {
    libc::SIGRTMIN() + 2
}

/// keepalived's statistics-clearing signal: `SIGRTMAX - 1`.
pub fn stats_clear_signal() -> i32 {
    libc::SIGRTMAX() - 1
}

/// The signals an operator sends to the daemon (keepalived's `--signum` names STOP, RELOAD,
/// DATA, STATS, JSON, STATS_CLEAR, plus SIGINT): the supervisor forwards them, the daemon
/// holds them until its handlers exist.
pub fn control_signals() -> [i32; 7] {
    [
        libc::SIGTERM,
        libc::SIGINT,
        libc::SIGHUP,
        libc::SIGUSR1,
        libc::SIGUSR2,
        json_signal(),
        stats_clear_signal(),
    ]
}

impl Cli {
    /// keepalived flags given on this command line that change nothing in rkeepalived, by
    /// their long names (the daemon logs `option --xyz has no effect in rkeepalived` once
    /// for each).
    pub fn accepted_but_ignored(&self) -> Vec<&'static str> {
        [
            (self.no_bfd, "--no_bfd"),
            (self.all, "--all"),
            (self.snmp, "--snmp"),
            (self.snmp_agent_socket.is_some(), "--snmp-agent-socket"),
            (self.core_dump, "--core-dump"),
            (self.core_dump_pattern.is_some(), "--core-dump-pattern"),
            (self.log_file.is_some(), "--log-file"),
            (self.vrrp_pid.is_some(), "--vrrp_pid"),
            (self.checkers_pid.is_some(), "--checkers_pid"),
            (self.bfd_pid.is_some(), "--bfd_pid"),
        ]
        .into_iter()
        .filter_map(|(given, name)| given.then_some(name))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keepalived_style_command_lines_parse() {
        let c = Cli::try_parse_from([
            "rkeepalived",
            "-n",
            "-l",
            "-D",
            "-f",
            "/tmp/k.conf",
            "-p",
            "/tmp/k.pid",
            "-P",
        ])
        .unwrap();
        assert!(c.dont_fork && c.log_console && c.log_detail && c.vrrp);
        assert_eq!(c.use_file, PathBuf::from("/tmp/k.conf"));
        assert_eq!(c.pid, Some(PathBuf::from("/tmp/k.pid")));
        assert_eq!(c.config_test, None);

        let c = Cli::try_parse_from(["rkeepalived", "--use-file=/x", "-t"]).unwrap();
        assert_eq!(c.config_test.as_deref(), Some(""));
        assert_eq!(c.use_file, PathBuf::from("/x"));

        let c = Cli::try_parse_from([
            "rkeepalived",
            "--config-test=/tmp/log",
            "-i",
            "node1",
            "-S",
            "7",
        ])
        .unwrap();
        assert_eq!(c.config_test.as_deref(), Some("/tmp/log"));
        assert_eq!(c.config_id.as_deref(), Some("node1"));
        assert_eq!(c.log_facility.as_deref(), Some("7"));
    }

    #[test]
    fn default_config_path_is_keepalived_s() {
        let c = Cli::try_parse_from(["rkeepalived"]).unwrap();
        assert_eq!(c.use_file, PathBuf::from(DEFAULT_CONFIG));
        assert!(!c.dont_fork);
    }

    #[test]
    fn unknown_flag_is_an_error() {
        assert!(Cli::try_parse_from(["rkeepalived", "--frobnicate"]).is_err());
    }
}
