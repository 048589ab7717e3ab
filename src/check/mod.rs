//! Health checkers with keepalived's semantics (keepalived/check/check_*.c).
//!
//! * [`state`] — the retry/`delay_loop` state machine (pure, no IO).
//! * [`tcp`] — `TCP_CHECK`: a connect within `connect_timeout`.
//! * [`http`] — `HTTP_GET`: request, status codes, MD5 digest of the body.
//! * [`misc`] — `MISC_CHECK`: a script's exit status (`misc_dynamic` weights).
//! * [`file`](mod@file) — `FILE_CHECK`: the number in a `track_file`'s file (down, or a weight delta).
//! * [`dns`], [`udp`], [`ping`], [`smtp`] — `DNS_CHECK`, `UDP_CHECK`, `PING_CHECK`, `SMTP_CHECK`.
//! * [`suspend`] — `ha_suspend`: checks run only while the virtual server address is local.
//! * [`status`] — each check's last result; [`dump`] — the SIGUSR1 checker data dump.
//! * [`endpoint`] — where a socket checker connects ([`Target`]) and its socket options.
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
pub mod endpoint;
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

use futures_util::{FutureExt, StreamExt, stream::FuturesUnordered};
use std::time::Duration;
use tokio::sync::mpsc;

pub use endpoint::{Target, describe_addr};
pub use state::{CheckState, Timing, Transition};

/// One checker of a real server. Equal checkers (same kind, target and options; an
/// `SSL_GET`'s TLS configuration by identity) are one check for the [`runner::Runner`].
/// The kinds larger than a `TCP_CHECK` are boxed, so that a table of TCP checks pays for
/// TCP checks only (88 bytes each).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Checker {
    Tcp(tcp::TcpCheck),
    Http(Box<http::HttpCheck>),
    Misc(Box<misc::MiscCheck>),
    Dns(Box<dns::DnsCheck>),
    Udp(Box<udp::UdpCheck>),
    Ping(Box<ping::PingCheck>),
    Smtp(Box<smtp::SmtpCheck>),
    /// `FILE_CHECK`: the [`runner::Runner`] watches the file instead of polling it per
    /// `delay_loop` (see [`file`](mod@file)).
    File(Box<file::FileCheck>),
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
pub fn run(
    id: usize,
    checker: Checker,
    timing: Timing,
    tx: mpsc::Sender<Event>,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    run_with(id, checker, timing, tx, RunOptions::default())
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
    /// The retry state; it holds the checker's [`Timing`].
    state: CheckState,
    /// The last `misc_dynamic` weight reported.
    last_weight: Option<u32>,
    record: Option<std::sync::Arc<status::CheckRecord>>,
}

/// Everything a check keeps between its rounds ([`run_all`]). A table has one per check
/// (10,000 at 1000 virtual servers x 10 real servers), so it is kept small: the checker and
/// its timing behind `Arc`s (shared with the runner, the dump and the other checks with that
/// timing), what all checks share in [`Lanes`], and no attempt state - an attempt's future is
/// boxed and lives only while it runs.
struct Task {
    id: usize,
    checker: std::sync::Arc<Checker>,
    /// `ha_suspend` (rare: boxed).
    gate: Option<Box<tokio::sync::watch::Receiver<bool>>>,
    p: Progress,
}

/// What every check of one [`run_all`] shares: where events go, and where a failed round's
/// retries go (the task that runs them on the retry lane, [`retry_lane_task`]; see [`run_with`]).
struct Lanes {
    tx: mpsc::Sender<Event>,
    retry: Option<mpsc::UnboundedSender<RetryJob>>,
}

/// The retries of check `i`'s failed round, for [`retry_lane_task`]: its task and the delay
/// before the first retry.
type RetryJob = (usize, Box<Task>, Duration);

/// As [`run`], with `opts`. With a `retry_lane`, the retries that follow a failed attempt run
/// on that runtime (one task there runs all of them), which also sends the verdict; it hands
/// the state back after the last retry (or a success), and the next round starts here again.
///
/// Why: a checker thread with thousands of checks can be saturated (each check's timer then
/// fires late, by as long as the queue of due checks takes). A real server that has just
/// failed while up is the one whose verdict matters; on a runtime that only carries retries
/// its `delay_before_retry` is kept, so the time from its first failed attempt to the verdict
/// stays `retry × (delay_before_retry + attempt)` however large the table. The retries of
/// real servers already down go there too, which takes them off the saturated thread.
///
/// One check of [`run_all`]; a table's checks run together there.
pub fn run_with(
    id: usize,
    checker: impl Into<std::sync::Arc<Checker>>,
    timing: impl Into<std::sync::Arc<Timing>>,
    tx: mpsc::Sender<Event>,
    opts: RunOptions,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let lane = opts.retry_lane.clone();
    run_all(vec![Scheduled::new(id, checker, timing, opts)], tx, lane)
}

/// A check ready for [`run_all`] (what [`run_with`] takes, prepared).
pub struct Scheduled(Box<Task>);

impl Scheduled {
    /// Check `id` with the arguments of [`run_with`] but the channel; `opts.retry_lane` is
    /// [`run_all`]'s to give.
    pub fn new(
        id: usize,
        checker: impl Into<std::sync::Arc<Checker>>,
        timing: impl Into<std::sync::Arc<Timing>>,
        opts: RunOptions,
    ) -> Scheduled {
        let checker = checker.into();
        let RunOptions { gate, record, .. } = opts;
        let p = Progress {
            state: CheckState::new(timing.into()),
            // A dynamic MISC_CHECK starts at the configured weight: its exit 0 reports that
            // weight, which is no change (keepalived compares with the last exit code, 0 at start).
            last_weight: match &*checker {
                Checker::Misc(m) if m.dynamic => Some(m.rs_weight),
                _ => None,
            },
            record,
        };
        Scheduled(Box::new(Task {
            id,
            checker,
            gate: gate.map(Box::new),
            p,
        }))
    }
}

/// The delay before a check's first attempt. The first attempts are spread over `warmup`
/// (keepalived: a random delay up to warmup) or, without warmup, over the first second (at
/// most one delay_loop): ten thousand checkers then do not all connect in the same instant
/// every round, and the phases stay spread because each checker then keeps its own rhythm.
fn first_delay(t: &Task) -> Duration {
    let timing = t.p.state.timing();
    let spread = if timing.warmup.is_zero() {
        timing.delay_loop.min(Duration::from_secs(1))
    } else {
        timing.warmup
    };
    // Golden-ratio sequence: evenly spread, deterministic per checker id.
    let frac = (t.id as f64 * 0.618_033_988_749_895).fract();
    spread.mul_f64(frac)
}

/// What a check's round hands back to [`run_all`]: the check's index, and its task with the
/// delay before its next round (`None`: the receiver is gone, the check stops).
type Done = (usize, Option<(Box<Task>, Duration)>);

/// One round of check `i`: waits while `ha_suspend` holds it, attempts, and hands the task
/// back as its output; after a failed attempt of a check with a retry lane, the retries run
/// there ([`retries`]), which hand the task back through [`run_all`]'s channel instead (the
/// output is then `None`).
///
/// Not an `async fn` (that would keep a second copy of `t`). The gate's wait and the attempt
/// are boxed: they live only while they run.
#[allow(clippy::manual_async_fn)]
fn round(
    i: usize,
    mut t: Box<Task>,
    lanes: std::sync::Arc<Lanes>,
) -> impl std::future::Future<Output = Option<Done>> + Send + 'static {
    async move {
        if let Some(g) = t.gate.as_deref_mut() {
            Box::pin(wait_gate(g, t.p.record.as_deref())).await;
        }
        let Some(delay) = Box::pin(step(t.id, &t.checker, &mut t.p, &lanes.tx)).await else {
            return Some((i, None));
        };
        if t.p.state.retrying()
            && let Some(lane) = &lanes.retry
        {
            // Without the lane (its runtime gone), the retry is this check's next round.
            return match lane.send((i, t, delay)) {
                Ok(()) => None,
                Err(mpsc::error::SendError((_, t, _))) => Some((i, Some((t, delay)))),
            };
        }
        Some((i, Some((t, delay))))
    }
}

/// The retries of a failed round, on the retry lane (see [`run_with`]): attempts after each
/// `delay` until the checker stops retrying, then hands the task back through `done` with the
/// delay before its next round. A table's failing checks each have one of these while they
/// retry, and nothing else besides their task (the attempt is boxed: it lives while it runs).
#[allow(clippy::manual_async_fn)]
fn retries(
    i: usize,
    mut t: Box<Task>,
    tx: mpsc::Sender<Event>,
    mut delay: Duration,
    done: mpsc::UnboundedSender<Done>,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    async move {
        loop {
            tokio::time::sleep(delay).await;
            match Box::pin(step(t.id, &t.checker, &mut t.p, &tx)).await {
                None => {
                    let _ = done.send((i, None));
                    return;
                }
                Some(d) if t.p.state.retrying() => delay = d,
                Some(d) => {
                    let _ = done.send((i, Some((t, d))));
                    return;
                }
            }
        }
    }
}

/// `f` with its panic caught (the output is then `Err`): a round or retries future that panics
/// ends alone, as a tokio task of its own did, instead of the task that polls them all.
fn isolated<F: std::future::Future>(
    f: F,
) -> futures_util::future::CatchUnwind<std::panic::AssertUnwindSafe<F>> {
    std::panic::AssertUnwindSafe(f).catch_unwind()
}

fn log_panicked() {
    tracing::error!("a health check round panicked; that check stops");
}

/// The task on the retry lane's runtime: runs the retries [`round`]s send it ([`retries`]),
/// all polled by this one task (not a tokio task each: see [`run_all`]), until the rounds'
/// sender is gone and the last retries have ended. A retries future that panics ends alone.
async fn retry_lane_task(
    mut jobs: mpsc::UnboundedReceiver<RetryJob>,
    tx: mpsc::Sender<Event>,
    done: mpsc::UnboundedSender<Done>,
) {
    let mut running = FuturesUnordered::new();
    let mut open = true;
    while open || !running.is_empty() {
        tokio::select! {
            job = jobs.recv(), if open => match job {
                Some((i, t, delay)) => {
                    running.push(isolated(retries(i, t, tx.clone(), delay, done.clone())));
                }
                None => open = false,
            },
            Some(ended) = running.next(), if !running.is_empty() => {
                if ended.is_err() {
                    log_panicked();
                }
            }
        }
    }
}

/// Runs `checks` on the current runtime as [`run_with`] describes, with one task for all of
/// them between their rounds: a heap of deadlines and one timer, where one task per check
/// kept a task cell and a timer each while it slept (about 350 bytes; at 1000 virtual servers
/// x 10 real servers, 10,000 of them). Each due round runs, polled by this same task (a
/// `FuturesUnordered`), until it hands its check back (see [`round`]). A check stops when its
/// round finds the receiver gone; this future ends when every check has stopped (dropping it,
/// or its runtime, stops the scheduling and the rounds running here; retries on the retry
/// lane end by themselves).
///
/// Every check's events go to `tx`; with a `retry_lane`, failed checks retry there.
pub async fn run_all(
    checks: Vec<Scheduled>,
    tx: mpsc::Sender<Event>,
    retry_lane: Option<tokio::runtime::Handle>,
) {
    use std::cmp::Reverse;
    use tokio::time::Instant;
    // Ended rounds come back here (from the retry lane; a round ended here is its own
    // output). A round that panics never does: its check stops (the panic is caught around
    // the round, as tokio caught it when each round was a task of its own).
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Done>();
    let retry = retry_lane.map(|lane| {
        let (jobs, rx) = mpsc::unbounded_channel();
        lane.spawn(retry_lane_task(rx, tx.clone(), done_tx.clone()));
        jobs
    });
    let lanes = std::sync::Arc::new(Lanes { tx, retry });
    let start = Instant::now();
    let mut due = std::collections::BinaryHeap::with_capacity(checks.len());
    // Boxed: while a check's round runs (a failing check's retries, mostly), its slot here
    // keeps 8 bytes, not a second place for the task.
    let mut idle: Vec<Option<Box<Task>>> = Vec::with_capacity(checks.len());
    for (i, Scheduled(t)) in checks.into_iter().enumerate() {
        due.push(Reverse((start + first_delay(&t), i)));
        idle.push(Some(t));
    }
    let mut running = 0usize;
    // The rounds running on this thread, polled by this task. Not one tokio task each: a task's
    // cell is aligned to 128 bytes, which glibc carves out of a larger chunk, and a table's
    // thousands of rounds in flight (on a busy CPU) then held and fragmented megabytes.
    let mut rounds = FuturesUnordered::new();
    // One timer for the next deadline, moved rather than made again at each turn of the loop.
    let timer = tokio::time::sleep_until(start);
    tokio::pin!(timer);
    let mut armed = None;
    loop {
        let next = due.peek().map(|&Reverse((at, _))| at);
        if next.is_none() && running == 0 {
            return;
        }
        if let Some(at) = next
            && armed != Some(at)
        {
            timer.as_mut().reset(at);
            armed = Some(at);
        }
        let back = tokio::select! {
            () = &mut timer, if next.is_some() => {
                armed = None;
                let now = Instant::now();
                while let Some(&Reverse((at, i))) = due.peek() {
                    if at > now {
                        break;
                    }
                    due.pop();
                    if let Some(t) = idle[i].take() {
                        running += 1;
                        rounds.push(isolated(round(i, t, lanes.clone())));
                    }
                }
                continue;
            }
            Some(ended) = rounds.next(), if !rounds.is_empty() => match ended {
                Ok(Some(back)) => back,
                // Its retries went to the lane, which hands the task back.
                Ok(None) => continue,
                Err(_) => {
                    log_panicked();
                    continue;
                }
            },
            Some(back) = done_rx.recv() => back,
        };
        running -= 1;
        let (i, back) = back;
        if let Some((t, delay)) = back {
            idle[i] = Some(t);
            due.push(Reverse((Instant::now() + delay, i)));
        }
    }
}

/// `ha_suspend`: waits until `gate` holds `true`, keeping the check's `record` disabled
/// meanwhile. A closed channel counts as open.
async fn wait_gate(
    gate: &mut tokio::sync::watch::Receiver<bool>,
    record: Option<&status::CheckRecord>,
) {
    let mut suspended = false;
    while !*gate.borrow_and_update() {
        if !suspended && let Some(r) = record {
            r.set_enabled(false);
        }
        suspended = true;
        if gate.changed().await.is_err() {
            break;
        }
    }
    if let Some(r) = record {
        r.set_enabled(true);
    }
}

/// One attempt: records it and sends the transition, if any. Returns the delay before the
/// next attempt, or `None` when the receiver is gone.
async fn step(
    id: usize,
    checker: &Checker,
    p: &mut Progress,
    tx: &mpsc::Sender<Event>,
) -> Option<Duration> {
    let timing = p.state.timing();
    let attempt = checker.attempt(&timing).await;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A table keeps one `Task` per check between rounds, and a failing check one retries
    /// future on the lane: both must stay small (a sleeping checker was a task of its own,
    /// about 350 bytes with its cell; once 920 with the checker, the timing and an attempt's
    /// state inline).
    #[test]
    fn a_waiting_check_is_small() {
        let size = std::mem::size_of::<Task>();
        assert!(size <= 56, "a scheduled check takes {size} bytes");
        let size = std::mem::size_of::<Checker>();
        assert!(size <= 40, "a Checker takes {size} bytes");
        let (tx, _rx) = mpsc::channel(1);
        let c = Checker::Tcp(tcp::TcpCheck {
            target: Target::new(([127, 0, 0, 1], 1).into()),
        });
        let Scheduled(t) = Scheduled::new(0, c, Timing::default(), RunOptions::default());
        let (done, _rx) = mpsc::unbounded_channel();
        let f = retries(0, t, tx, Duration::ZERO, done);
        let size = std::mem::size_of_val(&f);
        assert!(size <= 168, "a check's retries take {size} bytes");
    }
}
