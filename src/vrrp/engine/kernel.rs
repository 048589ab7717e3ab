//! The `vrrp-kernel` worker: the thread that changes the kernel for the engine, so that no
//! rtnetlink request, `nft` run or GARP/NA send ever holds up the VRRP timers and sockets.
//!
//! ```text
//!  Engine (VRRP thread) ──Job, in FIFO order──► vrrp-kernel thread
//!         ▲                                       │ rtnetlink (its own NETLINK_ROUTE socket),
//!         │                                       │ nft -f (net::firewall), AF_PACKET GARPs,
//!         └──────────── Done(seq) ────────────────┘ ICMPv6 NAs, the ledger (net::ledger)
//! ```
//!
//! Jobs run one at a time in the order they were submitted: an instance's firewall rule and
//! VIPs are in place before its first GARP/NA round (the round is the next job, so it goes out
//! right after the addresses), and a release runs after the take-over it undoes. Every change
//! is recorded in the ledger by the worker in that same order (the file is written after the
//! jobs queued together ran: a take-over's GARPs do not wait for it). After each job the worker
//! sends its sequence number back (once the record is written); the engine holds the notify scripts of a state change until the
//! kernel work submitted before them is done (so `notify_master` finds the VIPs up), and waits
//! for the queue to drain at shutdown.
//!
//! The timing of GARP bursts (`vrrp_garp_interval`, `vrrp_gna_interval`) stays with the
//! engine ([`super::GarpBurst`] deadlines): the worker only sends one round per job.

use super::Vip;
use crate::net::firewall::{Blocked, Firewall};
use crate::net::garp::{GarpTx, PacketSocket};
use crate::net::ledger::Ledger;
use crate::net::netlink::{AddrOps, Netlink};
use crate::net::route::{Route, Rule};
use crate::net::socket6::{NaSocket, NaTx};
use crate::wire::arp::GarpRepr;
use crate::wire::ndisc;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tracing::{debug, error, warn};

/// What the worker owns: its own rtnetlink socket, the GARP and NA sockets, the nftables
/// tables. Used only on the worker thread.
pub(super) struct Kernel {
    pub netlink: Netlink,
    pub garp: PacketSocket,
    /// Raw ICMPv6 socket for unsolicited NAs; `None` if it could not be opened (logged).
    pub na: Option<NaSocket>,
    pub firewall: Firewall,
}

/// One piece of kernel work, run on the worker thread.
pub(super) type Job = Box<dyn FnOnce(&mut Kernel) + Send>;

/// What the engine sends the worker.
enum Msg {
    /// A job and its sequence number.
    Job(u64, Job),
    /// A take-over may be due soon: poll the queue instead of sleeping until this instant
    /// (see [`KernelThread::warm_up`]).
    WarmUp(Instant),
}

/// How long before a Backup's Master_Down_Timer expires the engine wakes the worker
/// ([`KernelThread::warm_up`]): more than a thread's wake-up latency on a busy machine.
pub(super) const WARM_UP_LEAD: Duration = Duration::from_micros(1500);

/// How long after that deadline the worker keeps polling for the take-over's jobs (the
/// engine's own wake-up may be late) before it sleeps again.
pub(super) const WARM_UP_TAIL: Duration = Duration::from_millis(1);

/// At most this many queued jobs run under one hold of the state record (see the worker
/// loop in [`KernelThread::spawn`]).
const BATCH: usize = 16;

/// The engine's handle on the worker thread: submits jobs, counts them, joins the thread on
/// drop (after the jobs already queued ran).
pub(super) struct KernelThread {
    tx: Option<std::sync::mpsc::Sender<Msg>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Sequence number of the last job submitted (the first is 1).
    sent: u64,
    /// Sequence number of the last job the worker reported done.
    done: u64,
}

impl KernelThread {
    /// Starts the `vrrp-kernel` thread (in the calling thread's network namespace, which new
    /// threads inherit) owning `kernel`. Returns the handle and the receiver of the worker's
    /// done messages (one sequence number per job, in order).
    ///
    /// The worker runs the jobs already queued together, holding the state record
    /// ([`Ledger::hold`]) over them: a take-over's first GARP round, queued right behind its
    /// VIPs, goes out before the record is written, as keepalived sends it right after the
    /// addresses. The jobs are reported done once the record is written.
    ///
    /// Errors: the thread could not be created.
    pub fn spawn(
        mut kernel: Kernel,
    ) -> std::io::Result<(KernelThread, mpsc::UnboundedReceiver<u64>)> {
        let (tx, rx) = std::sync::mpsc::channel::<Msg>();
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let ledger = kernel.netlink.shared_ledger();
        let thread = std::thread::Builder::new()
            .name("vrrp-kernel".into())
            .spawn(move || {
                let mut poll_until = None;
                while let Some(first) = next_msg(&rx, &mut poll_until) {
                    let held = ledger.as_deref().map(Ledger::hold);
                    let mut done = Vec::new();
                    let mut msg = Some(first);
                    while let Some(m) = msg.take() {
                        match m {
                            Msg::Job(seq, job) => {
                                job(&mut kernel);
                                done.push(seq);
                            }
                            Msg::WarmUp(until) => poll_until = Some(until),
                        }
                        if done.len() < BATCH {
                            msg = rx.try_recv().ok();
                        }
                    }
                    drop(held);
                    for seq in done {
                        // The engine may be gone (shutdown): the jobs still run.
                        let _ = done_tx.send(seq);
                    }
                }
            })?;
        Ok((
            KernelThread {
                tx: Some(tx),
                thread: Some(thread),
                sent: 0,
                done: 0,
            },
            done_rx,
        ))
    }

    /// Tells the worker that jobs may come soon (a Backup's Master_Down_Timer expires within
    /// [`WARM_UP_LEAD`]): it polls its queue until `until` instead of sleeping, so that the
    /// take-over's VIPs and GARPs do not wait for the thread to be woken and scheduled (on a
    /// busy machine that took most of a millisecond). Polling yields the CPU between tries.
    pub fn warm_up(&mut self, until: Instant) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(Msg::WarmUp(until));
        }
    }

    /// Queues `job` behind every job submitted before; returns its sequence number.
    pub fn submit(&mut self, job: Job) -> u64 {
        self.sent += 1;
        if let Some(tx) = &self.tx
            && tx.send(Msg::Job(self.sent, job)).is_err()
        {
            error!("vrrp-kernel thread is gone; kernel change dropped");
        }
        self.sent
    }

    /// Sequence number of the last job submitted (0 before any).
    pub fn last_submitted(&self) -> u64 {
        self.sent
    }

    /// Records that the worker finished job `seq` (and every job before it).
    pub fn mark_done(&mut self, seq: u64) {
        self.done = self.done.max(seq);
    }

    /// Whether every job submitted has been reported done.
    pub fn idle(&self) -> bool {
        self.done >= self.sent
    }
}

impl Drop for KernelThread {
    fn drop(&mut self) {
        // Closing the channel ends the worker's loop once the queued jobs ran.
        self.tx = None;
        if let Some(t) = self.thread.take()
            && t.join().is_err()
        {
            error!("vrrp-kernel thread panicked");
        }
    }
}

/// The worker's next message: polled (yielding between tries) while `poll_until` is ahead,
/// then waited for. `None` once the engine's handle is gone and the queue is empty.
fn next_msg(rx: &std::sync::mpsc::Receiver<Msg>, poll_until: &mut Option<Instant>) -> Option<Msg> {
    while let Some(until) = *poll_until {
        match rx.try_recv() {
            Ok(m) => return Some(m),
            Err(std::sync::mpsc::TryRecvError::Disconnected) => return None,
            Err(std::sync::mpsc::TryRecvError::Empty) if Instant::now() >= until => {
                *poll_until = None;
            }
            Err(std::sync::mpsc::TryRecvError::Empty) => std::thread::yield_now(),
        }
    }
    rx.recv().ok()
}

/// An instance's VIPs, virtual rules and routes, with what the firewall must do with its
/// `no_accept` addresses.
pub(super) struct Change {
    /// Instance name, for the error lines.
    pub name: String,
    pub vips: Arc<[Vip]>,
    pub rules: Arc<[Rule]>,
    pub routes: Arc<[Route]>,
    /// `no_accept` addresses to block (take-over) or unblock (release), if any.
    pub firewall: Option<Vec<Blocked>>,
}

impl Change {
    /// Take-over: drop rule first (traffic to the VIPs is never accepted), then VIPs, virtual
    /// rules, virtual routes (keepalived's order). Errors are logged per item.
    pub fn add(self, k: &mut Kernel) {
        if let Some(b) = &self.firewall {
            k.firewall.block(b);
        }
        for v in self.vips.iter() {
            if let Err(e) = k.netlink.add_addr(v.ifindex, &v.addr) {
                error!(
                    "({}) cannot add VIP {}/{} on {}: {e}",
                    self.name, v.addr.addr, v.addr.prefix_len, v.ifname
                );
            }
        }
        for r in self.rules.iter() {
            if let Err(e) = k.netlink.add_rule(r) {
                error!("({}) cannot add virtual rule: {e}", self.name);
            }
        }
        for r in self.routes.iter() {
            if let Err(e) = k.netlink.add_route(r) {
                error!("({}) cannot add virtual route: {e}", self.name);
            }
        }
    }

    /// Release: virtual routes, virtual rules, VIPs, then the drop rule (the reverse order).
    pub fn remove(self, k: &mut Kernel) {
        for r in self.routes.iter() {
            if let Err(e) = k.netlink.del_route(r) {
                error!("({}) cannot remove virtual route: {e}", self.name);
            }
        }
        for r in self.rules.iter() {
            if let Err(e) = k.netlink.del_rule(r) {
                error!("({}) cannot remove virtual rule: {e}", self.name);
            }
        }
        for v in self.vips.iter() {
            if let Err(e) = k.netlink.del_addr(v.ifindex, &v.addr) {
                error!(
                    "({}) cannot remove VIP {}/{} from {}: {e}",
                    self.name, v.addr.addr, v.addr.prefix_len, v.ifname
                );
            }
        }
        if let Some(b) = &self.firewall {
            k.firewall.unblock(b);
        }
    }
}

/// One round of a GARP/NA burst (RFC 5798 §6.4.2): one gratuitous ARP per IPv4 VIP and one
/// unsolicited NA per IPv6 VIP of instance `name`. Send errors are logged per VIP.
pub(super) fn garp_round(k: &mut Kernel, name: &str, vips: &[Vip]) {
    // RFC 5798 §6.4.2: the NA's Router flag is set if the router forwards IPv6 on the link.
    // (A list, not a map: a `HashMap` seeds its hasher from `getrandom` on first use.)
    let mut forwarding: Vec<(&str, bool)> = Vec::new();
    for v in vips {
        match v.addr.addr {
            IpAddr::V4(ip) => {
                let repr = GarpRepr {
                    sender_mac: v.mac,
                    ip,
                };
                let mut payload = vec![0u8; repr.buffer_len()];
                repr.emit(&mut payload);
                // keepalived -D: one line per gratuitous ARP sent.
                debug!("Sending gratuitous ARP on {} for {}", v.ifname, ip);
                if let Err(e) = k.garp.send_garp(v.ifindex, &payload) {
                    warn!("({name}) cannot send gratuitous ARP on {}: {e}", v.ifname);
                }
            }
            IpAddr::V6(ip) => {
                let Some(na) = &k.na else { continue };
                let router = match forwarding.iter().find(|(n, _)| *n == v.ifname) {
                    Some(&(_, r)) => r,
                    None => {
                        let r = std::fs::read_to_string(format!(
                            "/proc/sys/net/ipv6/conf/{}/forwarding",
                            v.ifname
                        ))
                        .is_ok_and(|s| s.trim() == "1");
                        forwarding.push((&v.ifname, r));
                        r
                    }
                };
                let repr = ndisc::Repr::unsolicited(ip, v.mac, router);
                let mut msg = vec![0u8; repr.buffer_len()];
                // The kernel recomputes the checksum with the source it picks.
                repr.emit(
                    &mut ndisc::Packet::new_unchecked(&mut msg[..]),
                    std::net::Ipv6Addr::UNSPECIFIED,
                    ndisc::ALL_NODES,
                );
                if let Err(e) = na.send_na(v.ifindex, &msg) {
                    warn!("({name}) cannot send unsolicited NA on {}: {e}", v.ifname);
                }
            }
        }
    }
}
