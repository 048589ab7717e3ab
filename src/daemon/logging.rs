//! Logging as keepalived does it: syslog datagrams with a per-subsystem ident and `-S`'s
//! facility, and `-l`'s console lines with keepalived's timestamp.

use crate::cli::Cli;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

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

/// Installs the global subscriber: `-D` detail (DEBUG) or INFO, `-l` console lines on stderr,
/// syslog unless `--no-syslog`. A second call does nothing.
pub(super) fn init_logging(cli: &Cli) {
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
}
