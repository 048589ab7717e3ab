//! Running many checkers: identical checks shared by several real servers run once, and a
//! real server is up only while every one of its checkers is up (keepalived: "all checkers
//! of a real server must succeed").
//!
//! ```text
//!  Runner::subscribe(rs, spec) ──► one task per distinct (Checker, Timing)
//!                                    │ Event (transitions only)
//!                                    ▼
//!  fan-out to every subscriber ──► RealServerHealth (pure) ──► RsEvent (rs up/down)
//! ```

use super::event::{HealthTable, RealServerHealth, RsEvent, RsId};
use super::{Checker, Event, Timing, Transition};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use tokio::sync::mpsc;

/// File descriptors kept free for the rest of the daemon on top of one per check.
const FD_SPARE: usize = 64;

/// The soft `RLIMIT_NOFILE` the process had before [`raise_fd_limit`] first changed it.
static FD_BASE: std::sync::OnceLock<libc::rlim_t> = std::sync::OnceLock::new();

/// Raises `RLIMIT_NOFILE` to `extra` descriptors above the soft limit the process started
/// with (the soft limit, and the hard one when that is too low and the process may raise it,
/// i.e. as root), so every check can hold its socket at once: all checks with the same `delay_loop` start together, and with the common default of
/// 1024 a table of a few thousand checkers would fail with `EMFILE` and mark healthy real
/// servers down. keepalived does the same in its checker process (check_daemon.c
/// `set_checker_max_fds`: one descriptor per checker plus fixed ones). Never lowers the
/// limit; failures are logged.
pub fn raise_fd_limit(extra: usize) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return;
    }
    // Relative to the limit the process started with, so a reload does not raise it again.
    let base = *FD_BASE.get_or_init(|| lim.rlim_cur);
    let want = base.saturating_add(extra as libc::rlim_t);
    if want <= lim.rlim_cur {
        return;
    }
    if lim.rlim_max != libc::RLIM_INFINITY && want > lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: want,
            rlim_max: want,
        };
        // SAFETY: setrlimit reads the struct we pass.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            return;
        }
    }
    let soft = libc::rlimit {
        rlim_cur: if lim.rlim_max == libc::RLIM_INFINITY {
            want
        } else {
            want.min(lim.rlim_max)
        },
        rlim_max: lim.rlim_max,
    };
    // SAFETY: setrlimit reads the struct we pass.
    let now = if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &soft) } == 0 {
        soft.rlim_cur
    } else {
        lim.rlim_cur
    };
    if now < want {
        tracing::warn!(
            "cannot raise the open file limit to {want} for the checkers (now {now}): checks \
             may fail with \"too many open files\""
        );
    }
}

/// One distinct check and the (real server, checker slot) pairs that follow it.
struct SharedCheck {
    /// Shared with the [`ShareKey`] and the [`Board`](super::status::Board), not copied.
    checker: Arc<Checker>,
    timing: Timing,
    subscribers: Vec<(RsId, usize)>,
    /// `ha_suspend`: the virtual server address that must be local for the check to run.
    gate: Option<GateId>,
    record: std::sync::Arc<super::status::CheckRecord>,
}

/// What makes two subscriptions one check: the same checker, timing and `ha_suspend` gate.
#[derive(PartialEq, Eq, Hash)]
struct ShareKey {
    checker: Arc<Checker>,
    timing: Timing,
    gate: Option<GateId>,
}

/// Collects checker subscriptions, then runs each distinct check once.
#[derive(Default)]
pub struct Runner {
    checks: Vec<SharedCheck>,
    index: HashMap<ShareKey, usize>,
    health: HealthTable,
    /// `FILE_CHECK`s: watched files, not polled checks.
    files: super::file::FileWatch,
    /// Every (real server, check) pair with the check's record, for the data dump.
    board: super::status::Board,
    /// `ha_suspend` gates by [`GateId`]: (label, addresses).
    gates: Vec<(String, Vec<IpAddr>)>,
    gate_index: HashMap<String, GateId>,
}

/// An `ha_suspend` gate of a [`Runner`] (see [`Runner::gate`]).
pub type GateId = usize;

impl Runner {
    pub fn new() -> Runner {
        Runner::default()
    }

    /// A runner with room for `checks` subscriptions of `real_servers` real servers: a large
    /// table is then built without the doubling of its vectors and the rehashing of its
    /// sharing index (at 1000 x 10 TCP_CHECKs, megabytes held at once and then freed below
    /// live data, which the checks' churn keeps resident).
    pub fn with_capacity(real_servers: usize, checks: usize) -> Runner {
        Runner {
            checks: Vec::with_capacity(checks),
            index: HashMap::with_capacity(checks),
            health: HealthTable::with_capacity(real_servers),
            board: super::status::Board {
                entries: Vec::with_capacity(checks),
            },
            ..Runner::default()
        }
    }

    /// Adds `checker` with `timing` as the next checker of real server `rs`. An identical
    /// check already subscribed by another real server is shared.
    pub fn subscribe(&mut self, rs: RsId, checker: Checker, timing: Timing) {
        self.subscribe_gated(rs, checker, timing, None)
    }

    /// Declares an `ha_suspend` gate: the checks subscribed with it run only while one of
    /// `addrs` is configured on this host. `label` names it in the log (and identifies it:
    /// the same label gives the same gate).
    pub fn gate(&mut self, label: String, addrs: Vec<IpAddr>) -> GateId {
        if let Some(&i) = self.gate_index.get(&label) {
            return i;
        }
        self.gate_index.insert(label.clone(), self.gates.len());
        self.gates.push((label, addrs));
        self.gates.len() - 1
    }

    /// [`Runner::subscribe`] for a virtual server with `ha_suspend`: the check runs only
    /// while an address of `gate` (from [`Runner::gate`]) is configured on this host (keepalived
    /// `update_checker_activity`); it starts suspended until the address is seen.
    pub fn subscribe_gated(
        &mut self,
        rs: RsId,
        checker: Checker,
        timing: Timing,
        gate: Option<GateId>,
    ) {
        let health = self.health.entry(rs);
        if let Checker::File(fc) = checker {
            let record = super::status::CheckRecord::new(true, true);
            let slot = health.push(true);
            let on_board = Arc::new(Checker::File(fc.clone()));
            let up = self.files.add(rs, slot, *fc, record.clone());
            health.update(slot, up);
            self.board.entries.push(super::status::BoardEntry {
                rs,
                checker: on_board,
                record,
            });
            return;
        }
        let slot = health.push(!timing.alpha);
        let key = ShareKey {
            checker: Arc::new(checker),
            timing,
            gate,
        };
        let (checker, record) = match self.index.get(&key) {
            Some(&i) => {
                let c = &mut self.checks[i];
                c.subscribers.push((rs, slot));
                (c.checker.clone(), c.record.clone())
            }
            None => {
                let checker = key.checker.clone();
                self.index.insert(key, self.checks.len());
                let record = super::status::CheckRecord::new(!timing.alpha, gate.is_none());
                self.checks.push(SharedCheck {
                    checker: checker.clone(),
                    timing,
                    subscribers: vec![(rs, slot)],
                    gate,
                    record: record.clone(),
                });
                (checker, record)
            }
        };
        self.board.entries.push(super::status::BoardEntry {
            rs,
            checker,
            record,
        });
    }

    /// Number of checks that will run (after sharing), watched files included.
    pub fn distinct_checks(&self) -> usize {
        self.checks.len() + self.files.len()
    }

    /// Every (real server, check) pair with the record its check task keeps up to date
    /// (take it before [`Runner::run`]).
    pub fn board(&self) -> super::status::Board {
        self.board.clone()
    }

    /// Sets real server `rs`'s configured weight, the base its `FILE_CHECK` weights add to
    /// (default 1). Only a real server with a `FILE_CHECK` needs it: the others' weight is
    /// their configured one, which the runner never changes.
    pub fn set_weight(&mut self, rs: RsId, weight: u32) {
        self.files.set_base_weight(rs, weight);
    }

    /// Real server `rs`'s weight at start (its configured weight plus its `FILE_CHECK`s'), for
    /// a real server with a `FILE_CHECK` (see [`Runner::set_weight`]).
    pub fn initial_weight(&self, rs: RsId) -> u32 {
        self.files.weight(rs)
    }

    /// Whether real server `rs` starts up (no `alpha` checker).
    pub fn initially_up(&self, rs: RsId) -> bool {
        self.health.get(rs).is_none_or(RealServerHealth::is_up)
    }

    /// Starts every check and forwards real-server transitions to `tx` until it closes (or
    /// this future is dropped).
    ///
    /// The checks run on a dedicated thread with its own single-threaded runtime (keepalived
    /// likewise runs its checkers in a process of their own): when thousands of checks keep
    /// that thread busy, the caller's runtime (the IPVS controller, VRRP) still handles each
    /// transition at once instead of queueing behind every pending check. A second thread
    /// runs the retries of real servers that have just failed while up
    /// ([`super::run_with`]), so that their verdict is not delayed either. The
    /// aggregation into real-server states runs here, on the caller's runtime.
    pub async fn run(self, tx: mpsc::Sender<RsEvent>) {
        // What only the subscriptions needed goes now, not when this (endless) future ends.
        let Runner {
            checks: shared,
            index,
            health,
            files,
            board,
            gates,
            gate_index,
        } = self;
        drop((index, board, gate_index));
        raise_fd_limit(shared.len() + FD_SPARE);
        let (etx, mut erx) = mpsc::channel::<Event>(EVENT_QUEUE);
        // Who follows each check, as one list: check `id`'s subscribers are
        // `subscribers[starts[id]..starts[id + 1]]` (one vector per check cost a heap block
        // each, and most checks have one subscriber).
        let mut subscribers: Vec<(RsId, usize)> = Vec::with_capacity(shared.len());
        let mut starts: Vec<usize> = Vec::with_capacity(shared.len() + 1);
        let mut tasks = Vec::new();
        let mut gates = super::suspend::Gates::new(gates);
        let mut checks = Vec::with_capacity(shared.len());
        // One copy of each distinct timing, shared by its checks.
        let mut timings: HashMap<Timing, Arc<Timing>> = HashMap::new();
        for (id, c) in shared.into_iter().enumerate() {
            starts.push(subscribers.len());
            subscribers.extend(c.subscribers);
            let opts = super::RunOptions {
                gate: c.gate.map(|a| gates.receiver(a)),
                record: Some(c.record),
                retry_lane: None,
            };
            let timing = timings
                .entry(c.timing)
                .or_insert_with(|| Arc::new(c.timing));
            checks.push((id, c.checker, timing.clone(), opts));
        }
        drop(timings);
        if !checks.is_empty() {
            let lane = spawn_runtime_thread("checker-retry", etx.clone(), |_| {});
            let shared = std::sync::Arc::new(std::sync::Mutex::new(Some(checks)));
            let for_thread = shared.clone();
            let lane_handle = lane.clone();
            // One task runs every check between its rounds (`run_all`), not one task each.
            let started = spawn_runtime_thread("checker", etx.clone(), move |etx| {
                let checks = for_thread.lock().ok().and_then(|mut c| c.take());
                let scheduled = checks
                    .into_iter()
                    .flatten()
                    .map(|(id, checker, timing, opts)| {
                        super::Scheduled::new(id, checker, timing, opts)
                    })
                    .collect();
                tokio::spawn(super::run_all(scheduled, etx.clone(), lane_handle));
            });
            // The checks run here only if the threads cannot be started.
            if started.is_none()
                && let Some(checks) = shared.lock().ok().and_then(|mut c| c.take())
            {
                let scheduled = checks
                    .into_iter()
                    .map(|(id, checker, timing, opts)| {
                        super::Scheduled::new(id, checker, timing, opts)
                    })
                    .collect();
                tasks.push(tokio::spawn(super::run_all(scheduled, etx.clone(), lane)));
            }
        }
        if let Some(t) = gates.start() {
            tasks.push(t);
        }
        drop(etx);
        starts.push(subscribers.len());
        subscribers.shrink_to_fit();
        let mut health = health;
        health.shrink_to_fit();
        let mut files = files;
        let (ftx, mut frx) = mpsc::channel::<(usize, i64)>(64);
        tasks.extend(files.spawn_pollers(&ftx));
        drop(ftx);
        release_freed_heap();
        for ev in files.initial_events(&health) {
            if tx.send(ev).await.is_err() {
                tasks.iter().for_each(|t| t.abort());
                return;
            }
        }
        loop {
            let ev = tokio::select! {
                Some(ev) = erx.recv() => ev,
                Some((file, value)) = frx.recv() => {
                    for ev in files.on_value(file, value, &mut health) {
                        if tx.send(ev).await.is_err() {
                            tasks.iter().for_each(|t| t.abort());
                            return;
                        }
                    }
                    continue;
                }
                else => break,
            };
            let up = ev.transition == Transition::Up;
            let following = starts.get(ev.id).zip(starts.get(ev.id + 1));
            let following = following.map_or(&[][..], |(&a, &b)| &subscribers[a..b]);
            for &(rs, slot) in following {
                if let (Some(w), true) = (ev.weight, up) {
                    files.set_weight_now(rs, w);
                }
                let Some(h) = health.get_mut(rs) else {
                    continue;
                };
                // A misc_dynamic weight change of a real server that stays up is reported too.
                let changed = h
                    .update(slot, up)
                    .or((ev.weight.is_some() && up && h.is_up()).then_some(true));
                if let Some(now_up) = changed
                    && tx
                        .send(RsEvent {
                            rs,
                            up: now_up,
                            cause: ev.clone(),
                        })
                        .await
                        .is_err()
                {
                    tasks.iter().for_each(|t| t.abort());
                    return;
                }
            }
        }
    }
}

/// Gives the heap pages freed since start-up back to the system (glibc `malloc_trim`): the
/// configuration's parse and the subscriptions of a large table leave megabytes of free
/// chunks below live data, which glibc would otherwise keep resident for the daemon's life.
fn release_freed_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap pages; no memory in use is touched.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Capacity of the queue from the checker threads to the aggregation (events are
/// transitions only, so it fills only in a burst; a full queue makes checkers wait).
const EVENT_QUEUE: usize = 4096;

/// Starts thread `name` with a single-threaded runtime that runs `start` inside the runtime
/// and then lives until every receiver of `etx` is gone (dropping the runtime drops its
/// tasks and closes their sockets). Returns the runtime's handle, or `None` (logged) when
/// the thread or its runtime cannot be started.
fn spawn_runtime_thread(
    name: &str,
    etx: mpsc::Sender<Event>,
    start: impl FnOnce(&mpsc::Sender<Event>) + Send + 'static,
) -> Option<tokio::runtime::Handle> {
    let (handle_tx, handle_rx) = std::sync::mpsc::sync_channel(1);
    let spawned = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!("cannot start a checker runtime: {e}");
                    let _ = handle_tx.send(None);
                    return;
                }
            };
            let _ = handle_tx.send(Some(rt.handle().clone()));
            rt.block_on(async move {
                start(&etx);
                etx.closed().await;
            });
        });
    if let Err(e) = spawned {
        tracing::error!("cannot start thread {name}: {e}");
        return None;
    }
    handle_rx.recv().ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{Target, tcp::TcpCheck};

    fn nofile() -> libc::rlimit {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into the struct we pass.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
        lim
    }

    #[test]
    fn fd_limit_makes_room_for_every_check_once() {
        let start = nofile();
        raise_fd_limit(5000);
        let base = *FD_BASE.get().expect("base recorded");
        let after = nofile();
        // Up to the hard limit, which only CAP_SYS_RESOURCE may raise.
        let cap = after.rlim_max;
        assert!(
            after.rlim_cur >= (base + 5000).min(cap),
            "{} {base}",
            after.rlim_cur
        );
        assert!(after.rlim_cur >= start.rlim_cur, "never lowered");
        // A second call (a reload) with the same checks does not raise it again.
        raise_fd_limit(5000);
        assert_eq!(nofile().rlim_cur, after.rlim_cur);
    }

    #[test]
    fn real_server_is_up_only_while_every_checker_is() {
        let mut h = RealServerHealth::new(vec![true, true]);
        assert!(h.is_up());
        assert_eq!(h.update(0, false), Some(false));
        assert_eq!(h.update(1, false), None);
        assert_eq!(h.update(0, true), None);
        assert_eq!(h.update(1, true), Some(true));
        assert!(RealServerHealth::new(vec![]).is_up());
    }

    #[test]
    fn a_misc_dynamic_weight_of_a_real_server_that_stays_up_is_reported() {
        use crate::check::misc::MiscCheck;
        let mut r = Runner::new();
        r.subscribe(
            0,
            Checker::Misc(Box::new(MiscCheck {
                argv: vec!["/bin/sh".into(), "-c".into(), "exit 12".into()],
                timeout: std::time::Duration::from_secs(5),
                dynamic: true,
                rs_weight: 1,
                run_as: None,
            })),
            Timing {
                delay_loop: std::time::Duration::from_secs(60),
                ..Timing::default()
            },
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let ev = rt.block_on(async {
            let (tx, mut rx) = mpsc::channel(4);
            let task = tokio::spawn(r.run(tx));
            let ev = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv()).await;
            task.abort();
            ev
        });
        let ev = ev.expect("an event within 10 s").expect("runner alive");
        // exit 12 = up with weight 10; the real server was up already.
        assert_eq!((ev.rs, ev.up, ev.cause.weight), (0, true, Some(10)));
    }

    #[test]
    fn identical_checks_are_shared() {
        let tcp = |port| {
            Checker::Tcp(TcpCheck {
                target: Target::new(([10, 0, 0, 2], port).into()),
            })
        };
        let mut r = Runner::new();
        r.subscribe(0, tcp(80), Timing::default());
        r.subscribe(1, tcp(80), Timing::default());
        r.subscribe(2, tcp(81), Timing::default());
        r.subscribe(
            3,
            tcp(80),
            Timing {
                delay_loop: std::time::Duration::from_secs(2),
                ..Timing::default()
            },
        );
        assert_eq!(r.distinct_checks(), 3);
        assert!(r.initially_up(0));
        r.subscribe(
            4,
            tcp(80),
            Timing {
                alpha: true,
                ..Timing::default()
            },
        );
        assert!(!r.initially_up(4));
    }
}
