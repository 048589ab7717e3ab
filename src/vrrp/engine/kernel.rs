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
//! is recorded in the ledger in that same order; the file is written after the jobs queued
//! together ran (a GARP round does not wait for it), and each job is reported done (its
//! sequence number sent back) once it is written. The engine holds the notify scripts of a
//! state change until the kernel work submitted before them is done (so `notify_master` finds
//! the VIPs up), and waits for the queue to drain at shutdown.
//!
//! One exception, for speed: a take-over without a firewall change, when nothing is queued,
//! adds its VIPs and sends its first GARP/NA round on the engine's thread
//! ([`KernelThread::run_now`]), as keepalived does from its VRRP process, instead of waiting
//! for this thread to be woken and scheduled.
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
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tracing::{debug, error, warn};

/// What the worker owns: its own rtnetlink socket, the GARP and NA sockets, the nftables
/// tables, the IPVS sync daemon. Used only on the worker thread.
pub(super) struct Kernel {
    pub netlink: Netlink,
    pub garp: PacketSocket,
    /// Raw ICMPv6 socket for unsolicited NAs; `None` if it could not be opened (logged).
    pub na: Option<NaSocket>,
    pub firewall: Firewall,
    /// The `lvs_sync_daemon` this process started (`IPVS_CMD_NEW_DAEMON` / `_DEL_DAEMON`).
    pub sync_daemons: super::syncd::SyncDaemons,
}

/// One piece of kernel work, run on the worker thread.
pub(super) type Job = Box<dyn FnOnce(&mut Kernel) + Send>;

/// At most this many queued jobs run under one hold of the state record (see the worker
/// loop in [`KernelThread::spawn`]).
const BATCH: usize = 16;

/// The engine's handle on the worker thread: submits jobs, counts them, joins the thread on
/// drop (after the jobs already queued ran).
pub(super) struct KernelThread {
    tx: Option<std::sync::mpsc::Sender<(u64, Job)>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// What the jobs run on; locked by the worker while it runs jobs, and by
    /// [`KernelThread::run_now`].
    kernel: Arc<Mutex<Kernel>>,
    /// The state record the kernel's changes go to, if any.
    ledger: Option<Arc<Ledger>>,
    /// Sequence number of the last job submitted (the first is 1).
    sent: u64,
    /// Sequence number of the last job the worker reported done.
    done: u64,
}

/// Locks `kernel`; a job that panicked leaves it usable.
fn lock(kernel: &Mutex<Kernel>) -> std::sync::MutexGuard<'_, Kernel> {
    kernel.lock().unwrap_or_else(|e| e.into_inner())
}

impl KernelThread {
    /// Starts the `vrrp-kernel` thread (in the calling thread's network namespace, which new
    /// threads inherit) owning `kernel`. Returns the handle and the receiver of the worker's
    /// done messages (one sequence number per job, in order).
    ///
    /// The worker runs the jobs already queued together, holding the state record
    /// ([`Ledger::hold`]) over them: a GARP round queued right behind its VIPs goes out before
    /// the record is written. The jobs are reported done once the record is written.
    ///
    /// Errors: the thread could not be created.
    pub fn spawn(kernel: Kernel) -> std::io::Result<(KernelThread, mpsc::UnboundedReceiver<u64>)> {
        let (tx, rx) = std::sync::mpsc::channel::<(u64, Job)>();
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let ledger = kernel.netlink.shared_ledger();
        let kernel = Arc::new(Mutex::new(kernel));
        let (worker_kernel, worker_ledger) = (kernel.clone(), ledger.clone());
        let thread = std::thread::Builder::new()
            .name("vrrp-kernel".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let held = worker_ledger.as_deref().map(Ledger::hold);
                    let mut k = lock(&worker_kernel);
                    let mut done = Vec::new();
                    let mut next = Some(first);
                    while let Some((seq, job)) = next.take() {
                        job(&mut k);
                        done.push(seq);
                        if done.len() < BATCH {
                            next = rx.try_recv().ok();
                        }
                    }
                    drop(k);
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
                kernel,
                ledger,
                sent: 0,
                done: 0,
            },
            done_rx,
        ))
    }

    /// Runs `job` on the calling thread, now, if no job is queued or running (the kernel
    /// changes keep their order), and returns its sequence number, already done; `None`
    /// otherwise, with `job` not run.
    ///
    /// For a take-over's VIPs and first GARP round, as keepalived sends them from its VRRP
    /// thread: handing them to the worker adds the worker's wake-up to the take-over, most
    /// of a millisecond on a busy machine. The caller keeps slow work (`nft`) off this path.
    /// The state record is written after `job`, on this thread.
    pub fn run_now(&mut self, job: impl FnOnce(&mut Kernel)) -> Option<u64> {
        if !self.idle() {
            return None;
        }
        let held = self.ledger.as_deref().map(Ledger::hold);
        job(&mut lock(&self.kernel));
        drop(held);
        self.sent += 1;
        self.done = self.sent;
        Some(self.sent)
    }

    /// Queues `job` behind every job submitted before; returns its sequence number.
    pub fn submit(&mut self, job: Job) -> u64 {
        self.sent += 1;
        if let Some(tx) = &self.tx
            && tx.send((self.sent, job)).is_err()
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
                match k.garp.send_garp(v.ifindex, &payload) {
                    // keepalived -D: one line per gratuitous ARP sent (written after it went).
                    Ok(()) => debug!("Sending gratuitous ARP on {} for {}", v.ifname, ip),
                    Err(e) => warn!("({name}) cannot send gratuitous ARP on {}: {e}", v.ifname),
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
                match na.send_na(v.ifindex, &msg) {
                    // keepalived -D: one line per unsolicited NA sent.
                    Ok(()) => debug!(
                        "Sending unsolicited Neighbour Advert on {} for {}",
                        v.ifname, ip
                    ),
                    Err(e) => warn!("({name}) cannot send unsolicited NA on {}: {e}", v.ifname),
                }
            }
        }
    }
}
