//! Health checkers with keepalived's semantics (keepalived/check/check_*.c).
//!
//! * [`state`] — the retry/`delay_loop` state machine (pure, no IO).
//! * [`tcp`] — `TCP_CHECK`: a connect within `connect_timeout`.
//! * [`http`] — `HTTP_GET`: request, status codes, MD5 digest of the body.
//! * [`misc`] — `MISC_CHECK`: a script's exit status (`misc_dynamic` weights).
//! * [`file`] — `FILE_CHECK`: the number in a `track_file`'s file (down, or a weight delta).
//! * [`dns`], [`udp`], [`ping`], [`smtp`] — `DNS_CHECK`, `UDP_CHECK`, `PING_CHECK`, `SMTP_CHECK`.
//! * [`suspend`] — `ha_suspend`: checks run only while the virtual server address is local.
//! * [`status`] — each check's last result; [`dump`] — the SIGUSR1 checker data dump.
//! * [`event`] — what the checkers report to their owner (`RsId`, `RsEvent`, `Endpoint`).
//! * [`build`] — the config's checker blocks turned into a [`runner::Runner`].
//! * [`runner`] — many checkers: identical checks shared, a real server up only while all its
//!   checkers are.
//! * [`genhash`] — `rkeepalived --genhash`, keepalived's genhash.
//!
//! [`run`] drives one checker as a task: it attempts, feeds [`state::CheckState`], sleeps
//! the delay it returns, and sends an [`Event`] only on transitions.

pub mod build;
pub mod dns;
pub mod dump;
pub mod event;
pub mod file;
pub mod genhash;
pub mod http;
pub mod misc;
pub mod ping;
pub mod runner;
pub mod smtp;
pub mod state;
pub mod status;
pub mod suspend;
pub mod tcp;
pub mod tls;
pub mod udp;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::sync::mpsc;

pub use state::{CheckState, Timing, Transition};

/// Where a socket checker connects, and how (keepalived's common checker options).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// `connect_ip` / `connect_port` (default: the real server's address and port).
    pub addr: SocketAddr,
    /// `bindto`: local source address.
    pub bindto: Option<IpAddr>,
    /// `bind_port`: local source port.
    pub bind_port: Option<u16>,
    /// `bind_if`: SO_BINDTODEVICE.
    pub bind_if: Option<String>,
    /// `fwmark`: SO_MARK on the checker's socket.
    pub fwmark: Option<u32>,
}

impl Target {
    /// A target with no socket options.
    pub fn new(addr: SocketAddr) -> Target {
        Target {
            addr,
            bindto: None,
            bind_port: None,
            bind_if: None,
            fwmark: None,
        }
    }

    /// A non-blocking TCP socket with every option set (`bind_if`, `fwmark`, `bindto`,
    /// `bind_port`), not yet connected.
    fn socket(&self) -> Result<socket2::Socket, String> {
        let domain = socket2::Domain::for_address(self.addr);
        let sock = socket2::Socket::new(
            domain,
            socket2::Type::STREAM.nonblocking().cloexec(),
            Some(socket2::Protocol::TCP),
        )
        .map_err(|e| e.to_string())?;
        if let Some(dev) = &self.bind_if {
            sock.bind_device(Some(dev.as_bytes()))
                .map_err(|e| format!("bind_if {dev}: {e}"))?;
        }
        if let Some(mark) = self.fwmark {
            sock.set_mark(mark)
                .map_err(|e| format!("fwmark {mark}: {e}"))?;
        }
        if self.bindto.is_some() || self.bind_port.is_some() {
            let ip = self.bindto.unwrap_or(match self.addr {
                SocketAddr::V4(_) => IpAddr::from([0u8; 4]),
                SocketAddr::V6(_) => IpAddr::from([0u16; 8]),
            });
            sock.set_reuse_address(true).map_err(|e| e.to_string())?;
            sock.bind(&SocketAddr::new(ip, self.bind_port.unwrap_or(0)).into())
                .map_err(|e| format!("bindto: {e}"))?;
        }
        Ok(sock)
    }

    /// Opens a TCP connection honouring every option, within `timeout`.
    pub async fn connect(&self, timeout: Duration) -> Result<tokio::net::TcpStream, String> {
        let sock = self.socket()?;
        let sock = tokio::net::TcpSocket::from_std_stream(std::net::TcpStream::from(sock));
        match tokio::time::timeout(timeout, sock.connect(self.addr)).await {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("timeout".into()),
        }
    }

    /// `TCP_CHECK`'s probe: whether a TCP connection to the target completes within
    /// `timeout`; the connection is closed at once.
    ///
    /// The handshake with a local or nearby server has usually completed (or been refused)
    /// by the time `connect(2)` returns, so a second `connect(2)` settles most probes
    /// without registering the socket with the runtime or arming a timer — with thousands
    /// of checks per second that halves the work per check. Only a probe still in progress
    /// waits for the socket to become writable, bounded by `timeout`.
    pub async fn probe(&self, timeout: Duration) -> Result<(), String> {
        let sock = self.socket()?;
        // Closed with a reset (SO_LINGER 0): no FIN exchange and no TIME_WAIT socket per
        // check. With thousands of checks per second, TIME_WAIT sockets pile up in the
        // tens of thousands and make every connect's port search slow (measured: a fourfold
        // throughput loss in the checkers_vm bench). keepalived closed its checks this way
        // before 2.0 (layer4.c, `l_linger = 0`); 2.x lingers for a FIN instead.
        sock.set_linger(Some(Duration::ZERO))
            .map_err(|e| format!("SO_LINGER: {e}"))?;
        match sock.connect(&self.addr.into()) {
            Ok(()) => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(e) => return Err(e.to_string()),
        }
        // A second connect(2) reports where the handshake stands: 0 (or EISCONN) once
        // established, the error (ECONNREFUSED…) once it failed, EALREADY while in progress.
        match sock.connect(&self.addr.into()) {
            Ok(()) => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EISCONN) => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EALREADY) => {}
            Err(e) => return Err(e.to_string()),
        }
        let stream = tokio::net::TcpStream::from_std(std::net::TcpStream::from(sock))
            .map_err(|e| e.to_string())?;
        match tokio::time::timeout(timeout, stream.writable()).await {
            Ok(Ok(())) => match stream.take_error() {
                Ok(None) => Ok(()),
                Ok(Some(e)) | Err(e) => Err(e.to_string()),
            },
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("timeout".into()),
        }
    }
}

/// One checker of a real server. Equal checkers (same kind, target and options; an
/// `SSL_GET`'s TLS configuration by identity) are one check for the [`runner::Runner`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Checker {
    Tcp(tcp::TcpCheck),
    Http(http::HttpCheck),
    Misc(misc::MiscCheck),
    Dns(dns::DnsCheck),
    Udp(udp::UdpCheck),
    Ping(ping::PingCheck),
    Smtp(smtp::SmtpCheck),
    /// `FILE_CHECK`: the [`runner::Runner`] watches the file instead of polling it per
    /// `delay_loop` (see [`file`]).
    File(file::FileCheck),
}

/// The result of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    Ok,
    /// A success that also sets the real server's weight (`misc_dynamic`).
    OkWeight(u32),
    Failed(String),
}

impl Checker {
    /// Runs one attempt, bounded by `timing.connect_timeout` (`misc_timeout` for MISC_CHECK).
    pub async fn attempt(&self, timing: &Timing) -> Attempt {
        // Each attempt is boxed: a checker task then holds a pointer, not the largest
        // variant's state (HTTP's read buffer), while it sleeps between attempts — this keeps
        // a 10 000-checker table small.
        let t = timing.connect_timeout;
        match self {
            Checker::Tcp(c) => Box::pin(c.attempt(t)).await,
            Checker::Http(c) => Box::pin(c.attempt(t)).await,
            Checker::Misc(c) => Box::pin(c.attempt()).await,
            Checker::Dns(c) => Box::pin(c.attempt(t)).await,
            Checker::Udp(c) => Box::pin(c.attempt(t)).await,
            Checker::Ping(c) => Box::pin(c.attempt(t)).await,
            Checker::Smtp(c) => Box::pin(c.attempt(t)).await,
            Checker::File(c) => {
                let v = c.read();
                match c.status(v) {
                    file::FileStatus::Fault => Attempt::Failed(c.fault_reason(v)),
                    file::FileStatus::Weight(_) => Attempt::Ok,
                }
            }
        }
    }

    /// keepalived's `Keepalive method` name of the checker.
    pub fn method(&self) -> &'static str {
        match self {
            Checker::Tcp(_) => "TCP_CHECK",
            Checker::Http(c) if c.tls.is_some() => "SSL_GET",
            Checker::Http(_) => "HTTP_GET",
            Checker::Misc(_) => "MISC_CHECK",
            Checker::Dns(_) => "DNS_CHECK",
            Checker::Udp(_) => "UDP_CHECK",
            Checker::Ping(_) => "PING_CHECK",
            Checker::Smtp(_) => "SMTP_CHECK",
            Checker::File(_) => "FILE_CHECK",
        }
    }

    /// keepalived's name for the checked service in log lines, e.g. `[10.0.0.2]:tcp:80`.
    pub fn describe(&self) -> String {
        match self {
            Checker::Tcp(c) => describe_addr(c.target.addr),
            Checker::Http(c) => describe_addr(c.target.addr),
            Checker::Misc(c) => format!("Misc check to {}", c.argv.join(" ")),
            Checker::Dns(c) => event::Endpoint::udp(c.target.addr).to_string(),
            Checker::Udp(c) => event::Endpoint::udp(c.target.addr).to_string(),
            Checker::Ping(c) => format!("[{}]", c.addr),
            Checker::Smtp(c) => describe_addr(c.target.addr),
            Checker::File(c) => format!("FILE_CHECK on track_file {}", c.name),
        }
    }
}

/// `[IP]:tcp:PORT`, as keepalived writes a TCP service in its log.
pub fn describe_addr(addr: SocketAddr) -> String {
    event::Endpoint::tcp(addr).to_string()
}

/// What a running checker reports: only transitions (and weight changes of `misc_dynamic`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The id the owner gave the checker.
    pub id: usize,
    pub transition: Transition,
    /// Why it went down (the last failure).
    pub reason: Option<String>,
    /// New weight from `misc_dynamic`.
    pub weight: Option<u32>,
}

/// Drives `checker` forever with `timing`, sending an [`Event`] on every transition.
/// Returns when the receiver is gone.
pub async fn run(id: usize, checker: Checker, timing: Timing, tx: mpsc::Sender<Event>) {
    run_with(id, checker, timing, tx, RunOptions::default()).await
}

/// How a checker runs beyond its timing (see [`run_with`]).
#[derive(Debug, Default)]
pub struct RunOptions {
    /// `ha_suspend`: attempt only while this holds `true` (the virtual server's address is
    /// local). While suspended the checker keeps its state and reports nothing; the first
    /// attempt after a resume is immediate. A closed channel counts as open.
    pub gate: Option<tokio::sync::watch::Receiver<bool>>,
    /// Where each attempt's result goes for the SIGUSR1 dump.
    pub record: Option<std::sync::Arc<status::CheckRecord>>,
    /// The runtime that runs retries (see [`run_with`]).
    pub retry_lane: Option<tokio::runtime::Handle>,
}

/// What one checker carries between attempts.
struct Progress {
    state: CheckState,
    /// The last `misc_dynamic` weight reported.
    last_weight: Option<u32>,
    record: Option<std::sync::Arc<status::CheckRecord>>,
}

/// As [`run`], with `opts`. With a `retry_lane`, the retries that follow a failed attempt run
/// as a task on that runtime, which also sends the verdict; it hands the state back after the
/// last retry (or a success), and the next round starts here again.
///
/// Why: a checker thread with thousands of checks can be saturated (each check's timer then
/// fires late, by as long as the queue of due checks takes). A real server that has just
/// failed while up is the one whose verdict matters; on a runtime that only carries retries
/// its `delay_before_retry` is kept, so the time from its first failed attempt to the verdict
/// stays `retry × (delay_before_retry + attempt)` however large the table. The retries of
/// real servers already down go there too, which takes them off the saturated thread.
pub async fn run_with(
    id: usize,
    checker: Checker,
    timing: Timing,
    tx: mpsc::Sender<Event>,
    opts: RunOptions,
) {
    let RunOptions {
        mut gate,
        record,
        retry_lane,
    } = opts;
    let checker = std::sync::Arc::new(checker);
    let mut p = Progress {
        state: CheckState::new(timing),
        // A dynamic MISC_CHECK starts at the configured weight: its exit 0 reports that
        // weight, which is no change (keepalived compares with the last exit code, 0 at start).
        last_weight: match &*checker {
            Checker::Misc(m) if m.dynamic => Some(m.rs_weight),
            _ => None,
        },
        record,
    };
    // The first attempt of each checker is spread over `warmup` (keepalived: a random delay up
    // to warmup) or, without warmup, over the first second (at most one delay_loop): ten
    // thousand checkers then do not all connect in the same instant every round, and the
    // phases stay spread because each checker then keeps its own rhythm.
    let spread = if timing.warmup.is_zero() {
        timing.delay_loop.min(Duration::from_secs(1))
    } else {
        timing.warmup
    };
    // Golden-ratio sequence: evenly spread, deterministic per checker id.
    let frac = (id as f64 * 0.618_033_988_749_895).fract();
    tokio::time::sleep(spread.mul_f64(frac)).await;
    loop {
        if let Some(g) = gate.as_mut() {
            let mut suspended = false;
            while !*g.borrow_and_update() {
                if !suspended && let Some(r) = &p.record {
                    r.set_enabled(false);
                }
                suspended = true;
                if g.changed().await.is_err() {
                    break;
                }
            }
            if let Some(r) = &p.record {
                r.set_enabled(true);
            }
        }
        let Some(mut delay) = step(id, &checker, &timing, &mut p, &tx).await else {
            return;
        };
        if let Some(lane) = &retry_lane
            && p.state.retrying()
        {
            let (c, t) = (checker.clone(), tx.clone());
            let mut moved = p;
            let retries = lane.spawn(async move {
                let mut delay = delay;
                loop {
                    tokio::time::sleep(delay).await;
                    match step(id, &c, &timing, &mut moved, &t).await {
                        None => return (moved, None),
                        Some(d) if moved.state.retrying() => delay = d,
                        Some(d) => return (moved, Some(d)),
                    }
                }
            });
            let Ok((back, next)) = retries.await else {
                return;
            };
            p = back;
            let Some(next) = next else { return };
            delay = next;
        }
        tokio::time::sleep(delay).await;
    }
}

/// One attempt: records it and sends the transition, if any. Returns the delay before the
/// next attempt, or `None` when the receiver is gone.
async fn step(
    id: usize,
    checker: &Checker,
    timing: &Timing,
    p: &mut Progress,
    tx: &mpsc::Sender<Event>,
) -> Option<Duration> {
    let attempt = checker.attempt(timing).await;
    let (ok, reason, weight) = match attempt {
        Attempt::Ok => (true, None, None),
        Attempt::OkWeight(w) => (true, None, Some(w)),
        Attempt::Failed(r) => (false, Some(r), None),
    };
    if !ok && tracing::enabled!(tracing::Level::DEBUG) {
        tracing::debug!(
            "{} attempt failed: {}",
            checker.describe(),
            reason.as_deref().unwrap_or("")
        );
    }
    let (transition, delay) = p.state.record(ok);
    if let Some(r) = &p.record {
        r.attempt(reason.clone().map_or(Ok(()), Err), p.state.is_up());
    }
    let weight_changed = weight.is_some() && weight != p.last_weight;
    if weight.is_some() {
        p.last_weight = weight;
    }
    if let Some(t) = transition.or((weight_changed && p.state.is_up()).then_some(Transition::Up)) {
        let ev = Event {
            id,
            transition: t,
            reason,
            weight,
        };
        tx.send(ev).await.ok()?;
    }
    Some(delay)
}
