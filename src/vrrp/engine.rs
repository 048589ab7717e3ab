//! The VRRP engine: the one task that owns every VRRP instance.
//!
//! ```text
//!  socket reader tasks ──(advert bytes)──┐
//!  vrrp_script tasks ───(script result)──┼──► Engine::run ──► fsm::Instance::handle/poll
//!  daemon ──────────────(Control)────────┘          │
//!                                                   ▼ Actions
//!                     VrrpSocket::send_to, AddrOps::add/del_addr, GarpTx, notify scripts
//! ```
//!
//! The engine turns IO events into [`fsm::Input`]s, runs each instance's timers from
//! [`fsm::Instance::next_deadline`], and carries out the returned [`fsm::Action`]s.
//! Adverts that fail validation are dropped, counted in [`Stats`] and logged rate-limited with
//! keepalived's wording (see [`drops`]).

use crate::config::model::{self, Config, UnicastPeer, VrrpInstance};
use crate::net::addr_monitor::AddrEvent;
use crate::net::firewall::{Blocked, Firewall};
use crate::net::garp::PacketSocket;
use crate::net::netlink::{AddrOps, IfAddr, Netlink};
use crate::net::socket::VrrpSocket;
use crate::net::socket6::{self, AnyVrrpSocket, NaSocket, Vrrp6Socket};
use crate::script::{self, RunAs};
use crate::units::{Priority, Version};
use crate::vrrp::fsm::{self, Action, Input, State};
use crate::vrrp::plan;
use crate::vrrp::track::{self, ScriptState, ScriptTracker, TrackWeight};
use crate::wire::vrrp as vrrp_wire;
use drops::{DropKind, DropReason, RateLimiter};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tracing::{debug, error, info, warn};

pub mod drops;
mod dump;
mod kernel;
mod reload;
mod syncd;
mod timer;
mod tracking;

/// Requests from the daemon to the engine.
#[derive(Debug)]
pub enum Control {
    /// SIGTERM/SIGINT: send priority-0 adverts, release VIPs, run notify_stop, return.
    Shutdown,
    /// SIGUSR1: write `keepalived.data` (the VRRP topology).
    WriteData,
    /// SIGUSR2: write `keepalived.stats` (advert counters).
    WriteStats,
    /// keepalived's JSON signal (SIGRTMIN+2): write `keepalived.json`.
    WriteJson,
    /// keepalived's STATS_CLEAR signal (SIGRTMAX-1): zero every instance's counters.
    ClearStats,
    /// SIGHUP: the VRRP side of a configuration read (and found valid) by the daemon,
    /// applied by difference (see `engine::reload`), with the links and addresses its plans
    /// need, read beforehand off this thread ([`Engine::reload_facts`]).
    Reload(Arc<Config>, Box<ReloadFacts>),
    /// Answered once every message sent before it was handled and the kernel work they queued
    /// was done: the daemon's reloader waits
    /// for a reload to be applied before the IPVS side starts the `active_active` sync daemons
    /// that replace the one the engine stopped.
    Barrier(tokio::sync::oneshot::Sender<()>),
}

pub use tracking::TrackFacts;

/// What a reload reads before the engine applies it, off the VRRP thread
/// ([`Engine::reload_facts`]): the links and addresses the new plans need, and the state of
/// every tracker the new file lists.
#[derive(Debug, Default)]
pub struct ReloadFacts {
    pub plans: plan::Recorded,
    pub trackers: TrackFacts,
}

/// Options from the command line that change the engine's behaviour.
#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    /// `-V/--dont-release-vrrp`: leave VIPs in place on exit.
    pub dont_release_vrrp: bool,
    /// Where every address, route, rule, VMAC and nftables table the engine applies is
    /// recorded, so that the supervisor can take them back if this process dies (see
    /// [`crate::net::ledger`]).
    pub ledger: Option<Arc<crate::net::ledger::Ledger>>,
    /// The checker data, for the IPVS half of the systemd status line ([`crate::systemd`]).
    pub check_data: crate::check::dump::CheckDataSlot,
}

/// Errors that stop the engine from starting.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("netlink: {0}")]
    Netlink(String),
    #[error("cannot open packet socket for gratuitous ARP: {0}")]
    Garp(String),
    #[error("cannot start the vrrp-kernel thread: {0}")]
    Thread(String),
    #[error("no VRRP instance could be started")]
    NothingToRun,
}

pub use crate::vrrp::plan::Expect;
pub use crate::vrrp::stats::Stats;

/// RFC 3768 §7.1 / RFC 5798 §7.1 receive checks that depend on the instance (the codec has
/// already checked length, version field, type and checksum):
/// TTL must be 255; the version must be the instance's; VRRPv2 authentication type and
/// password must match; VRRPv2 Adver Int must equal ours (keepalived drops a mismatch;
/// VRRPv3 backups adopt the master's interval instead, RFC 5798 §6.4.2).
pub fn validate(advert: &vrrp_wire::Repr, ttl: u8, expect: &Expect) -> Result<(), DropReason> {
    if expect.multicast && ttl != 255 {
        return Err(DropReason::Ttl(ttl));
    }
    if advert.version != expect.version {
        return Err(DropReason::Version {
            got: advert.version.number(),
            want: expect.version.number(),
        });
    }
    if expect.version == Version::V2 {
        let auth_type = |a: &vrrp_wire::Auth| match a {
            vrrp_wire::Auth::None => 0,
            vrrp_wire::Auth::Pass(_) => 1,
            vrrp_wire::Auth::Ah => 2,
        };
        match (&advert.auth, &expect.pass) {
            (vrrp_wire::Auth::None, None) => {}
            (vrrp_wire::Auth::Pass(got), Some(want)) => {
                if got != want {
                    return Err(DropReason::AuthFailure);
                }
            }
            (got, want) => {
                return Err(DropReason::AuthTypeMismatch {
                    got: auth_type(got),
                    want: u8::from(want.is_some()),
                });
            }
        }
        let (mine, got) = (
            expect.advert_int.as_secs_rounded(),
            advert.max_advert_int.as_secs_rounded(),
        );
        if mine != got {
            return Err(DropReason::AdvertInterval { mine, got });
        }
    }
    Ok(())
}

/// keepalived's advert address-list check (`vrrp_check_packet`, RFC 5798 §7.1 "MAY"): the
/// advert must list exactly as many addresses as the instance has VIPs of its family
/// (`virtual_ipaddress`, not the excluded ones), and every one of them.
pub fn check_addresses(vrid: u8, advert: &[IpAddr], vips: &[IpAddr]) -> Result<(), DropReason> {
    if advert.len() != vips.len() {
        return Err(DropReason::AddrCount {
            got: advert.len(),
            want: vips.len(),
        });
    }
    match vips.iter().find(|v| !advert.contains(v)) {
        Some(&vip) => Err(DropReason::AddrMissing { vrid, vip }),
        None => Ok(()),
    }
}

/// Whether an instance checks the address list of an advert from `src` (keepalived
/// `vrrp_state_backup` / `vrrp_state_master_rx`): always, except with `skip_check_adv_addr`
/// on a backup whose adverts still come from the master it follows (`master_src`), so a
/// master that changes its source address, or a new router, is checked again.
pub fn wants_address_check(
    skip_check_adv_addr: bool,
    state: State,
    master_src: Option<IpAddr>,
    src: IpAddr,
) -> bool {
    !(skip_check_adv_addr && state == State::Backup && master_src == Some(src))
}

/// Why [`check_unicast_source`] dropped an advert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceRejection {
    /// The source is not one of the `unicast_peer`s.
    NotAPeer,
    /// The TTL / hop limit is outside the peer's `[min_ttl, max_ttl]`.
    Ttl(u8),
}

/// keepalived's `check_unicast_src` (vrrp.c `vrrp_check_packet`): with unicast peers, an
/// advert must come from one of them, with a TTL / hop limit in that peer's
/// `[min_ttl, max_ttl]`. Only called when the check is on.
pub fn check_unicast_source(
    peers: &[UnicastPeer],
    src: IpAddr,
    ttl: u8,
) -> Result<(), SourceRejection> {
    let peer = peers
        .iter()
        .find(|p| p.addr == src)
        .ok_or(SourceRejection::NotAPeer)?;
    if ttl < peer.min_ttl || ttl > peer.max_ttl {
        return Err(SourceRejection::Ttl(ttl));
    }
    Ok(())
}

/// keepalived's lines for an instance that starts in FAULT waiting for the system.
fn log_parked(name: &str, b: &Blocker) {
    match b {
        Blocker::Interface(ifname) => {
            warn!(
                "Configuration specifies interface {ifname} which doesn't currently exist - will use if created"
            );
            warn!("({name}): entering FAULT state (interface {ifname} down)");
        }
        Blocker::Source(a) => {
            let e = nix::errno::Errno::EADDRNOTAVAIL;
            warn!("bind unicast_src {a} failed {} - {}", e as i32, e.desc());
            warn!("({name}): entering FAULT state (src address not configured)");
        }
        Blocker::NoAddress(kind) => {
            warn!("({name}) entering FAULT state (no {kind} address for interface)");
        }
    }
}

use crate::vrrp::plan::Vip;

/// An instance with everything the engine needs to carry out its actions.
struct Runtime {
    /// What the instance was built from (the reload diffs it with the new config's).
    plan: plan::InstancePlan,
    fsm: fsm::Instance,
    cfg: VrrpInstance,
    /// Index into `Engine::sockets`.
    socket: usize,
    src: IpAddr,
    /// Where adverts go: the multicast group or every unicast peer.
    dsts: Vec<IpAddr>,
    /// `unicast_peer`s (empty in multicast mode).
    peers: Vec<UnicastPeer>,
    /// `check_unicast_src` or `vrrp_check_unicast_src`.
    check_unicast_src: bool,
    /// `skip_check_adv_addr` (or `vrrp_skip_check_adv_addr`), see [`wants_address_check`].
    skip_check_adv_addr: bool,
    /// The VIPs an advert must list (the instance's family, not excluded).
    advert_vips: Vec<IpAddr>,
    /// Source of the last advert accepted while backup (keepalived's `master_saddr`).
    master_src: Option<IpAddr>,
    /// Rate limit of the drop log lines, per (source, kind).
    drop_log: RateLimiter<(IpAddr, DropKind)>,
    expect: Expect,
    /// Shared with the kernel jobs that add and remove them (see [`kernel`]).
    vips: Arc<[Vip]>,
    /// `virtual_routes` and `virtual_rules`, resolved: present only while master.
    routes: Arc<[crate::net::route::Route]>,
    rules: Arc<[crate::net::route::Rule]>,
    garp_repeat: u32,
    /// Accept_Mode False (`no_accept`, or strict mode's default) on a non-owner: the VIPs to
    /// drop traffic for while master; empty when the instance accepts.
    no_accept: Vec<Blocked>,
    /// Whether `no_accept`'s addresses are currently in the firewall.
    blocking: bool,
    tracks: Vec<(String, TrackWeight)>,
    last_tracked: track::Tracked,
    stats: Stats,
    /// When the last valid advert arrived (for the failover duration metric).
    last_advert_rx: Option<Instant>,
    /// Priority of the master's last advert while backup (0 when master or none seen yet):
    /// keepalived's `master_priority`, shown in `keepalived.json`.
    master_priority: u8,
    /// When the instance last changed state (or started).
    last_transition: std::time::SystemTime,
    /// Why the instance waits in FAULT for its interface or source address (see
    /// [`Blocker`]); `None` once it runs. A parked instance has no socket and no VIPs yet.
    parked: Option<Blocker>,
}

/// What keeps an instance from starting until the system changes: keepalived 2.2.7 starts
/// such an instance in FAULT (`unicast_src_ip` not configured: `bind unicast_src ADDR failed`,
/// then FAULT "src address not configured", and it never recovers; a missing interface
/// stops keepalived unless `dynamic_interfaces`). rkeepalived parks the instance in FAULT in
/// every case and starts it once the interface or address appears (retried every
/// [`PARK_RETRY`]).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Blocker {
    /// The instance's `interface` does not exist.
    Interface(String),
    /// `unicast_src_ip` / `mcast_src_ip` cannot be bound (not configured on this host).
    Source(IpAddr),
    /// No usable source address on the interface (no IPv4 address, or no IPv6 link-local).
    NoAddress(String),
}

/// What keeps `inst` from starting now, if anything that may change later (see
/// [`Blocker`]). Reads links and addresses and binds a socket: called at start-up and, for
/// the parked instances, on the blocking pool.
fn start_blocker(netlink: &dyn plan::Facts, inst: &VrrpInstance) -> Option<Blocker> {
    let ifname = inst.interface.as_ref()?;
    let Ok(link) = netlink.link(ifname) else {
        return Some(Blocker::Interface(ifname.clone()));
    };
    match inst.unicast_src_ip {
        // A link-local IPv6 source needs its scope to be bound; the socket checks it.
        Some(IpAddr::V6(a)) if a.segments()[0] & 0xffc0 == 0xfe80 => None,
        Some(a) => match std::net::UdpSocket::bind((a, 0)) {
            Err(e) if e.raw_os_error() == Some(libc::EADDRNOTAVAIL) => Some(Blocker::Source(a)),
            _ => None,
        },
        None if plan::is_ipv6(inst) => match netlink.link_local_ipv6(link.ifindex) {
            Ok(None) => Some(Blocker::NoAddress("IPv6 link-local".into())),
            _ => None,
        },
        None => {
            let vips = plan::vip_v4(inst);
            match netlink.primary_ipv4(link.ifindex, &vips) {
                Ok(None) => Some(Blocker::NoAddress("IPv4".into())),
                _ => None,
            }
        }
    }
}

/// How often parked instances check whether their interface or address appeared.
const PARK_RETRY: Duration = Duration::from_secs(1);

/// A received packet: socket index, bytes, source, destination, TTL / hop limit, and when it
/// arrived (the kernel's timestamp, else when it was read).
type Packet = (usize, Vec<u8>, IpAddr, IpAddr, u8, Instant);

/// Reads socket `i` until the engine stops, handing each packet to the engine loop.
fn spawn_receiver(i: usize, sock: Arc<AnyVrrpSocket>, tx: mpsc::Sender<Packet>) {
    tokio::spawn(async move {
        let mut buf = vec![0u8; 2048];
        loop {
            match sock.recv(&mut buf).await {
                Ok(r) => {
                    let at = r.at.unwrap_or_else(Instant::now);
                    let msg = (i, buf[..r.len].to_vec(), r.src, r.dst, r.ttl, at);
                    if tx.send(msg).await.is_err() {
                        return;
                    }
                }
                // A datagram the socket could not hand up whole (larger than the buffer, or a
                // bad IP header): a counted, rate-limited drop like any other bad packet (no
                // source known: the empty message says so).
                Err(
                    crate::net::NetError::Truncated { .. } | crate::net::NetError::Malformed(_),
                ) => {
                    let unspecified = IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);
                    let msg = (i, Vec::new(), unspecified, unspecified, 0, Instant::now());
                    if tx.send(msg).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    warn!("VRRP socket receive error: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    });
}

struct ScriptResult {
    name: String,
    /// The run of the script's runner that sent it (a reload restarts runners: results of an
    /// earlier runner still queued are dropped).
    run: u64,
    outcome: script::Outcome,
}

/// A GARP/NA burst in progress: the rounds of instance `inst` still to send. The rounds are
/// `vrrp_garp_interval` (with an IPv6 VIP `vrrp_gna_interval`) apart, counted from when the
/// previous round went out: while the kernel worker has not sent it yet (job `after`), the
/// next round has no deadline; then it is due at `at`, an absolute deadline of the engine's
/// timer.
#[derive(Debug, Clone, PartialEq, Eq)]
struct GarpBurst {
    inst: usize,
    /// What each round announces: `None`, every VIP of the instance (a transition); `Some`,
    /// only these (the VIPs a reload added), those still configured when the round goes out.
    vips: Option<Arc<[plan::Vip]>>,
    left: u32,
    after: u64,
    at: Option<Instant>,
}

/// Log lines [`Engine::execute`] holds back during a take-over, `(detail, line)`: `detail`
/// lines are written at debug level (keepalived's `-D`), the others at info. `None`: not
/// holding, lines are written at once.
type HeldLogs = Option<Vec<(bool, String)>>;

/// Writes `line` now, or keeps it in `held` when lines are held.
fn log_or_hold(held: &mut HeldLogs, detail: bool, line: String) {
    match held {
        Some(h) => h.push((detail, line)),
        None if detail => debug!("{line}"),
        None => info!("{line}"),
    }
}

/// Writes the lines held back, in order, and stops holding.
fn flush_logs(held: &mut HeldLogs) {
    for (detail, line) in held.take().into_iter().flatten() {
        if detail {
            debug!("{line}");
        } else {
            info!("{line}");
        }
    }
}

/// A notify script run held until the kernel job it follows is done (see [`kernel`]).
type Deferred = Box<dyn FnOnce() + Send>;

/// The engine: owns the instances, their sockets and their trackers.
pub struct Engine {
    instances: Vec<Runtime>,
    sockets: Vec<Arc<AnyVrrpSocket>>,
    /// Reads of links and addresses (start-up, parked instances, trackers); the changes go
    /// through `kernel`.
    netlink: Arc<Netlink>,
    /// The `vrrp-kernel` worker: VIPs, virtual routes and rules, nftables, GARP/NA sends.
    kernel: kernel::KernelThread,
    /// Its done messages, taken by [`Engine::run`].
    kernel_done: Option<mpsc::UnboundedReceiver<u64>>,
    /// Notify scripts waiting for the kernel job (sequence number) they follow.
    deferred: VecDeque<(u64, Deferred)>,
    /// VIPs (ifindex, address) the kernel reported removed while their instance was Master,
    /// checked once the kernel work queued before is done ([`Engine::check_vips_gone`]).
    vips_gone: Vec<(u32, IpAddr)>,
    /// GARP/NA bursts with rounds left to send.
    bursts: Vec<GarpBurst>,
    /// `vrrp_gna_interval`: gap between the NA rounds of a burst.
    gna_interval: Duration,
    trackers: BTreeMap<String, ScriptTracker>,
    /// The `vrrp_script` blocks of the configuration in force (the running ones as started).
    scripts: BTreeMap<String, model::VrrpScript>,
    /// The runner task of each running script, with its run number (see `tracking`).
    script_runs: BTreeMap<String, (u64, tokio::task::AbortHandle)>,
    /// The last run number given, and the runners' result channel (set by [`Engine::run`]).
    script_run_seq: u64,
    script_tx: Option<mpsc::Sender<ScriptResult>>,
    garp_interval: Duration,
    default_run_as: Option<RunAs>,
    /// The `global_defs` of the configuration in force (a reload applies the difference).
    global: model::GlobalDefs,
    opts: EngineOptions,
    /// Drops of packets that match no instance (VRID 0, undecodable header).
    global_stats: Stats,
    /// Rate limit of their log lines, per (socket, source, kind).
    global_drop_log: RateLimiter<(usize, IpAddr, DropKind)>,
    /// Interface, process and file trackers, sync groups, notify FIFOs (see `tracking`).
    trk: tracking::TrackState,
    /// VMAC interfaces we created (`use_vmac`), deleted at exit.
    vmacs: Vec<u32>,
    /// `static_ipaddress` / `static_routes` / `static_rules`, set at start, removed at exit.
    statics: Statics,
    /// The sysctls set for VMACs, restored when the engine is dropped.
    sysctls: crate::net::vmac::SysctlGuard,
    /// `lvs_sync_daemon`: the IPVS sync daemon following one instance.
    syncd: Option<syncd::Syncd>,
    /// Sockets by (transmit interface, source, multicast), shared by instances.
    socket_keys: HashMap<(String, IpAddr, bool), usize>,
    /// The config, kept while an instance is parked (to finish building it later).
    park_config: Option<Config>,
    /// A state changed since the metrics snapshot was last published.
    metrics_dirty: bool,
    /// The socket readers' channel, for the sockets a reload opens.
    pkt_tx: Option<mpsc::Sender<Packet>>,
}

impl Engine {
    /// Resolves interfaces and addresses, opens sockets and builds every instance of `config`.
    /// An instance that cannot start (missing interface, no IPv4 address) is logged and skipped.
    pub fn new(config: &Config, opts: EngineOptions) -> Result<Engine, EngineError> {
        let ledger = opts.ledger.clone();
        let netlink = Netlink::new()
            .map_err(|e| EngineError::Netlink(e.to_string()))?
            .with_ledger(ledger.clone());
        let garp = PacketSocket::open().map_err(|e| EngineError::Garp(e.to_string()))?;
        // The worker's own rtnetlink socket: its requests never wait behind the engine's reads.
        let worker_netlink = Netlink::new()
            .map_err(|e| EngineError::Netlink(e.to_string()))?
            .with_ledger(ledger.clone());
        // An unknown script_user was reported by the script policy, which then refused every
        // command without its own user.
        let default_run_as = config
            .global
            .script_user
            .as_ref()
            .and_then(|u| script::resolve_user(u).ok());
        // The script policy (users, enable_script_security, missing files) was applied when
        // the config was loaded (`script::policy::apply`): what is left may run.
        let na = if config
            .vrrp_instances
            .iter()
            .any(|i| i.virtual_ipaddress.iter().any(|v| v.addr.is_ipv6()))
        {
            match NaSocket::open() {
                Ok(s) => Some(s),
                Err(e) => {
                    warn!("cannot open ICMPv6 socket for unsolicited NAs: {e}");
                    None
                }
            }
        } else {
            None
        };
        let (kernel, kernel_done) = kernel::KernelThread::spawn(kernel::Kernel {
            netlink: worker_netlink,
            garp,
            na,
            // nftables drop rules for the VIPs of `no_accept` masters, VMAC maps.
            firewall: Firewall::new((&config.global.nftables).into()).with_ledger(ledger),
            sync_daemons: Default::default(),
        })
        .map_err(|e| EngineError::Thread(e.to_string()))?;
        let mut engine = Engine {
            metrics_dirty: true,
            instances: Vec::new(),
            sockets: Vec::new(),
            netlink: Arc::new(netlink),
            kernel,
            kernel_done: Some(kernel_done),
            deferred: VecDeque::new(),
            vips_gone: Vec::new(),
            bursts: Vec::new(),
            gna_interval: config.global.vrrp_gna_interval,
            trackers: BTreeMap::new(),
            scripts: config.vrrp_scripts.clone(),
            script_runs: BTreeMap::new(),
            script_run_seq: 0,
            script_tx: None,
            garp_interval: config.global.vrrp_garp_interval,
            default_run_as,
            global: config.global.clone(),
            opts,
            global_stats: Stats::default(),
            global_drop_log: RateLimiter::new(drops::SUMMARY_WINDOW, drops::MAX_TRACKED),
            trk: Default::default(),
            vmacs: Vec::new(),
            sysctls: Default::default(),
            statics: Statics::default(),
            syncd: None,
            socket_keys: HashMap::new(),
            park_config: None,
            pkt_tx: None,
        };
        engine.statics = engine.set_statics(config);
        for inst in &config.vrrp_instances {
            let blocker = start_blocker(&*engine.netlink, inst);
            if let Some(b) = &blocker {
                log_parked(&inst.name, b);
            }
            match engine.build_instance(config, inst, blocker, None) {
                Ok(rt) => engine.instances.push(rt),
                Err(msg) => error!("({}) {msg}; instance not started", inst.name),
            }
        }
        if engine.instances.iter().any(|r| r.parked.is_some()) {
            engine.park_config = Some(config.clone());
        }
        if engine.instances.is_empty() {
            return Err(EngineError::NothingToRun);
        }
        let names: Vec<&str> = engine
            .instances
            .iter()
            .map(|r| r.cfg.name.as_str())
            .collect();
        engine.syncd = syncd::Syncd::new(config, &names);
        engine.build_tracking(config);
        for rt in &engine.instances {
            for (name, _) in &rt.tracks {
                if let Some(s) = engine.scripts.get(name) {
                    engine
                        .trackers
                        .entry(name.clone())
                        .or_insert_with(|| ScriptTracker::new(s.rise, s.fall, s.init_fail));
                }
            }
        }
        Ok(engine)
    }

    /// Builds the runtime of `inst`. With a `parked` blocker the instance is built without
    /// socket, VIPs, routes or rules, to wait in FAULT ([`Engine::retry_parked`] finishes it).
    /// Links and addresses are read with `facts` (a reload's, read off this thread), else with
    /// the engine's rtnetlink socket.
    fn build_instance(
        &mut self,
        config: &Config,
        inst: &VrrpInstance,
        parked: Option<Blocker>,
        facts: Option<&dyn plan::Facts>,
    ) -> Result<Runtime, String> {
        if parked.is_some() {
            // No socket, VIPs or routes yet: the instance waits in FAULT.
            let plan = plan::parked(config, inst)?;
            return Ok(runtime(inst, plan, usize::MAX, parked));
        }
        let ifname = inst.interface.clone().ok_or("no interface")?;
        let netlink = self.netlink.clone();
        let facts: &dyn plan::Facts = facts.unwrap_or(&*netlink);
        let link = facts
            .link(&ifname)
            .map_err(|e| format!("interface {ifname}: {e}"))?;
        // use_vmac: VIPs live on the macvlan and adverts leave from it (unless
        // vmac_xmit_base), so the LAN only ever sees the virtual MAC for them.
        let vmac = match &inst.use_vmac {
            None => None,
            Some(name) => Some(self.setup_vmac(inst, &ifname, link.ifindex, name.clone())?),
        };
        let plan = plan::instance(config, inst, facts, vmac.as_deref())?;
        let socket = self.open_socket(&plan)?;
        Ok(runtime(inst, plan, socket, None))
    }

    /// The index of the advert socket `plan` asks for, opened unless an instance with the
    /// same transmit interface, source and cast already has it.
    fn open_socket(&mut self, plan: &plan::InstancePlan) -> Result<usize, String> {
        let (xmit_if, src, multicast) = (&plan.xmit_if, plan.src, plan.multicast);
        let key = (xmit_if.clone(), src, multicast);
        if let Some(i) = self.socket_keys.get(&key) {
            return Ok(*i);
        }
        let group = plan.dsts.first().copied().filter(|_| multicast);
        let s = match src {
            IpAddr::V6(src6) => {
                let g = match group {
                    Some(IpAddr::V6(g)) => Some(g),
                    Some(IpAddr::V4(_)) => {
                        return Err(format!(
                            "source address {src} is not of the instance's family"
                        ));
                    }
                    None => None,
                };
                Vrrp6Socket::open(xmit_if, src6, g, plan.unicast_ttl).map(AnyVrrpSocket::V6)
            }
            IpAddr::V4(src4) => {
                let g = match group {
                    Some(IpAddr::V4(g)) => Some(g),
                    Some(IpAddr::V6(_)) => {
                        return Err(format!(
                            "source address {src} is not of the instance's family"
                        ));
                    }
                    None => None,
                };
                VrrpSocket::open(xmit_if, Some(src4), g).and_then(|s| {
                    if !multicast {
                        s.set_unicast_ttl(plan.unicast_ttl)?;
                    }
                    Ok(AnyVrrpSocket::V4(s))
                })
            }
        }
        .map_err(|e| format!("VRRP socket on {}: {e}", plan.ifname))?;
        self.sockets.push(Arc::new(s));
        self.socket_keys.insert(key, self.sockets.len() - 1);
        Ok(self.sockets.len() - 1)
    }

    /// Runs until [`Control::Shutdown`] (or the control channel closes), then releases.
    pub async fn run(mut self, mut control: mpsc::Receiver<Control>) {
        let mut kernel_done = self.kernel_done.take().expect("Engine::run is called once");
        let (pkt_tx, mut pkt_rx) = mpsc::channel::<Packet>(1024);
        for (i, sock) in self.sockets.iter().enumerate() {
            spawn_receiver(i, sock.clone(), pkt_tx.clone());
        }
        // Kept only while instances are parked: their sockets are opened later.
        let mut park_tx = self.park_config.is_some().then(|| pkt_tx.clone());
        // Kept for the sockets of instances a reload adds.
        self.pkt_tx = Some(pkt_tx);
        let mut park_tick = tokio::time::interval(PARK_RETRY);
        park_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let (script_tx, mut script_rx) = mpsc::channel::<ScriptResult>(64);
        // Kept for the runners a reload starts.
        self.script_tx = Some(script_tx);
        let names: Vec<String> = self.trackers.keys().cloned().collect();
        for name in names {
            self.start_script(&name);
        }
        let mut trk_rx = self.start_trackers();
        // Addresses removed by someone else: a master that loses a VIP hands over (see
        // `Input::VipRemoved`). Without the monitor the engine runs on, as before.
        let (addr_tx, mut addr_rx) = mpsc::channel::<AddrEvent>(256);
        if let Err(e) = crate::net::addr_monitor::spawn(addr_tx) {
            warn!("cannot follow address removals (a VIP removed by hand goes unnoticed): {e}");
        }
        self.tracking_startup().await;
        self.syncd_startup();

        let now = Instant::now();
        for i in 0..self.instances.len() {
            let actions = self.instances[i].fsm.handle(now, Input::Startup);
            self.execute(i, actions).await;
        }
        // The VRRP timers run on a timerfd (see `timer`): tokio's 1 ms wheel would make every
        // advert and every Master_Down_Timer up to a millisecond late.
        let mut metrics_tick = tokio::time::interval(Duration::from_secs(1));
        metrics_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let metrics_on = crate::metrics::enabled();
        let timer = timer::DeadlineTimer::new()
            .inspect_err(|e| warn!("precise timer unavailable ({e}); using the runtime's timer"))
            .ok();
        // systemd: WATCHDOG=1 from this thread (a hung engine stops sending it) and the
        // status line when it changes.
        let watchdog = crate::systemd::watchdog_interval().is_some();
        let mut status_tick = tokio::time::interval(crate::systemd::tick_period());
        status_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let deadline = self
                .instances
                .iter()
                .filter_map(|r| r.fsm.next_deadline())
                .chain(self.next_drop_summary())
                .chain(self.bursts.iter().filter_map(|b| b.at))
                .min();
            let timer = timer.as_ref();
            let sleep = async move {
                match (deadline, timer) {
                    (Some(d), Some(t)) => {
                        if let Err(e) = t.sleep_until(d).await {
                            warn!("precise timer failed ({e}); using the runtime's timer");
                            tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await;
                        }
                    }
                    (Some(d), None) => {
                        tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await
                    }
                    (None, _) => std::future::pending().await,
                }
            };
            if metrics_on && self.metrics_dirty {
                self.publish_metrics();
            }
            tokio::select! {
                _ = metrics_tick.tick(), if metrics_on => self.publish_metrics(),
                _ = sleep => {
                    self.poll_due().await;
                    self.log_drop_summaries();
                }
                Some(seq) = kernel_done.recv() => {
                    self.on_kernel_done(seq);
                    if !self.vips_gone.is_empty() && self.kernel.idle() {
                        self.poll_due().await;
                        self.check_vips_gone().await;
                    }
                }
                Some(ev) = addr_rx.recv() => {
                    self.poll_due().await;
                    self.on_addr_event(ev).await;
                }
                Some((sock, bytes, src, dst, ttl, at)) = pkt_rx.recv() => {
                    self.poll_due().await;
                    self.on_packet(sock, &bytes, src, dst, ttl, at).await;
                }
                Some(res) = script_rx.recv() => {
                    self.poll_due().await;
                    self.on_script_result(res).await;
                }
                Some(ev) = trk_rx.recv() => {
                    self.poll_due().await;
                    self.on_track_event(ev).await;
                }
                _ = park_tick.tick(), if park_tx.is_some() => {
                    self.poll_due().await;
                    if let Some(tx) = &park_tx {
                        self.retry_parked(tx).await;
                    }
                    if self.park_config.is_none() {
                        park_tx = None;
                    }
                }
                _ = status_tick.tick() => {
                    if watchdog {
                        crate::systemd::watchdog();
                    }
                    let line = crate::systemd::status_line(
                        Some(self.vrrp_status()),
                        crate::check::dump::ipvs_status(&self.opts.check_data),
                    );
                    crate::systemd::status_if_changed(&line);
                }
                c = control.recv() => {
                    match c {
                        Some(Control::Shutdown) | None => break,
                        Some(Control::WriteData) => self.write_dump(dump::DATA_FILE, &self.format_data()),
                        Some(Control::WriteStats) => self.write_dump(dump::STATS_FILE, &self.format_stats()),
                        Some(Control::WriteJson) => self.write_dump(dump::JSON_FILE, &self.format_json()),
                        Some(Control::ClearStats) => self.clear_stats(),
                        Some(Control::Reload(config, facts)) => {
                            self.poll_due().await;
                            self.reload(&config, &facts).await;
                        }
                        Some(Control::Barrier(done)) => {
                            // After the worker ran the jobs queued before it (a sync daemon
                            // stopped by the reload, for one).
                            self.kernel.submit(Box::new(move |_| {
                                let _ = done.send(());
                            }));
                        }
                    }
                }
            }
        }
        self.poll_due().await;
        self.tracking_shutdown_begin();
        let now = Instant::now();
        for i in 0..self.instances.len() {
            let actions = self.instances[i].fsm.handle(now, Input::Shutdown);
            self.execute(i, actions).await;
        }
        // The VIPs are released and the notify_stop scripts run before the trackers stop.
        self.kernel_drain(&mut kernel_done).await;
        self.tracking_shutdown().await;
        if self.syncd.is_some() {
            self.syncd_stop();
        }
        if !self.opts.dont_release_vrrp {
            let statics = std::mem::take(&mut self.statics);
            for r in &statics.routes {
                let _ = self.netlink.del_route(r);
            }
            for r in &statics.rules {
                let _ = self.netlink.del_rule(r);
            }
            for (ifindex, a) in &statics.addrs {
                let _ = self.netlink.del_addr(*ifindex, a);
            }
            self.kernel.submit(Box::new(|k| k.firewall.release()));
            self.kernel_drain(&mut kernel_done).await;
            for ifindex in std::mem::take(&mut self.vmacs) {
                if let Err(e) = self.netlink.delete_link(ifindex) {
                    warn!("cannot remove VMAC interface {ifindex}: {e}");
                }
            }
        }
    }

    /// An address event from the kernel: the removal of a VIP of a Master instance (not an
    /// excluded one) is noted and checked once the kernel work queued so far is done, so that
    /// the engine's own changes (a reload re-adding an address) are not taken for it.
    async fn on_addr_event(&mut self, ev: AddrEvent) {
        if ev.added {
            return;
        }
        let watched = self.instances.iter().any(|rt| {
            rt.fsm.state() == State::Master
                && rt
                    .vips
                    .iter()
                    .any(|v| !v.excluded && v.ifindex == ev.ifindex && v.addr.addr == ev.addr)
        });
        if !watched {
            return;
        }
        self.vips_gone.push((ev.ifindex, ev.addr));
        if self.kernel.idle() {
            self.check_vips_gone().await;
        }
    }

    /// The VIPs reported removed that are still gone (one address dump) make their Master
    /// instance hand over ([`Input::VipRemoved`]), with keepalived's line `Netlink reflector
    /// reports IP ADDR removed from IFNAME`.
    async fn check_vips_gone(&mut self) {
        let gone = std::mem::take(&mut self.vips_gone);
        let present: std::collections::HashSet<(u32, IpAddr)> = match self.netlink.all_addresses() {
            Ok(all) => all.into_iter().map(|a| (a.ifindex, a.addr)).collect(),
            Err(e) => {
                warn!("cannot check the VIPs reported removed: {e}");
                return;
            }
        };
        let now = Instant::now();
        for i in 0..self.instances.len() {
            let rt = &self.instances[i];
            if rt.fsm.state() != State::Master {
                continue;
            }
            let lost = rt.vips.iter().find(|v| {
                let key = (v.ifindex, v.addr.addr);
                !v.excluded && gone.contains(&key) && !present.contains(&key)
            });
            if let Some(v) = lost {
                info!(
                    "Netlink reflector reports IP {} removed from {}",
                    v.addr.addr, v.ifname
                );
                let actions = self.instances[i].fsm.handle(now, Input::VipRemoved);
                self.execute(i, actions).await;
            }
        }
    }

    /// The worker finished kernel job `seq`: runs the notify scripts that waited for it.
    fn on_kernel_done(&mut self, seq: u64) {
        self.kernel.mark_done(seq);
        let now = Instant::now();
        for k in 0..self.bursts.len() {
            let b = &self.bursts[k];
            if b.at.is_none() && b.after <= seq {
                let inst = b.inst;
                self.bursts[k].at = Some(now + self.burst_interval(inst));
            }
        }
        while self.deferred.front().is_some_and(|(s, _)| *s <= seq) {
            if let Some((_, run)) = self.deferred.pop_front() {
                run();
            }
        }
    }

    /// Waits until every kernel job submitted so far is done.
    async fn kernel_drain(&mut self, done: &mut mpsc::UnboundedReceiver<u64>) {
        while !self.kernel.idle() {
            match done.recv().await {
                Some(seq) => self.on_kernel_done(seq),
                None => break,
            }
        }
    }

    /// Runs `run` once the kernel work submitted so far is done (at once when there is none),
    /// keeping the order of everything deferred.
    fn after_kernel(&mut self, run: Deferred) {
        if self.kernel.idle() && self.deferred.is_empty() {
            run();
        } else {
            self.deferred.push_back((self.kernel.last_submitted(), run));
        }
    }

    /// Tries to finish the instances parked in FAULT (see [`Blocker`]): one whose interface
    /// or source address appeared is built, gets its socket, and starts as at start-up (its
    /// trackers and sync group stay as they were). Stops retrying when none is left.
    async fn retry_parked(&mut self, pkt_tx: &mpsc::Sender<Packet>) {
        let Some(config) = self.park_config.take() else {
            return;
        };
        // The checks read the kernel: off the VRRP thread.
        let parked: Vec<(usize, VrrpInstance)> = self
            .instances
            .iter()
            .enumerate()
            .filter(|(_, r)| r.parked.is_some())
            .map(|(i, r)| (i, r.cfg.clone()))
            .collect();
        let netlink = self.netlink.clone();
        let checked = tokio::task::spawn_blocking(move || {
            parked
                .into_iter()
                .map(|(i, cfg)| (i, start_blocker(&*netlink, &cfg), cfg))
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
        for (i, now_blocked, cfg) in checked {
            let Some(was) = self.instances[i].parked.clone() else {
                continue;
            };
            if let Some(b) = now_blocked {
                if b != was {
                    log_parked(&cfg.name, &b);
                    self.instances[i].parked = Some(b);
                }
                continue;
            }
            let sockets_before = self.sockets.len();
            let built = self.build_instance(&config, &cfg, None, None);
            let mut rt = match built {
                Ok(rt) => rt,
                Err(msg) => {
                    error!("({}) {msg}; instance still waiting", cfg.name);
                    continue;
                }
            };
            for s in sockets_before..self.sockets.len() {
                spawn_receiver(s, self.sockets[s].clone(), pkt_tx.clone());
            }
            info!(
                "({}) interface and source address available - starting",
                cfg.name
            );
            let old = std::mem::replace(&mut self.instances[i], {
                // Trackers and sync-group adjustments were made on the parked runtime.
                rt.parked = None;
                rt
            });
            let rt = &mut self.instances[i];
            rt.tracks = old.tracks;
            rt.stats = old.stats;
            rt.last_tracked = old.last_tracked;
            // As at start-up: the current fault first, then Startup, then the trackers.
            let now = Instant::now();
            if self.trk_own_fault(i) {
                let actions = self.instances[i].fsm.handle(now, Input::Fault(true));
                self.execute(i, actions).await;
            }
            let actions = self.instances[i].fsm.handle(now, Input::Startup);
            self.execute(i, actions).await;
            self.retrack().await;
        }
        if self.instances.iter().any(|r| r.parked.is_some()) {
            self.park_config = Some(config);
        }
    }

    /// Adds the `static_*` addresses, rules and routes (errors are logged, as keepalived).
    fn set_statics(&self, config: &Config) -> Statics {
        let mut st = Statics::default();
        for a in &config.static_ipaddress {
            let dev = a.dev.as_deref().unwrap_or("eth0");
            let addr = IfAddr {
                addr: a.addr,
                prefix_len: a.prefix_len,
                brd: a.brd,
                scope: a.scope.unwrap_or(0),
                label: a.label.clone(),
                peer: a.peer,
            };
            match self
                .netlink
                .link(dev)
                .and_then(|l| self.netlink.add_addr(l.ifindex, &addr).map(|_| l.ifindex))
            {
                Ok(ifindex) => st.addrs.push((ifindex, addr)),
                Err(e) => error!(
                    "static_ipaddress {}/{} dev {dev}: {e}",
                    a.addr, a.prefix_len
                ),
            }
        }
        for r in &config.static_rules {
            let rule = plan::rule(r);
            match self.netlink.add_rule(&rule) {
                Ok(()) => st.rules.push(rule),
                Err(e) => error!("static_rules: {e}"),
            }
        }
        for r in &config.static_routes {
            let oif = match r
                .dev
                .as_deref()
                .map(|d| self.netlink.link(d).map(|l| l.ifindex))
                .transpose()
            {
                Ok(o) => o,
                Err(e) => {
                    error!("static_routes {}/{}: {e}", r.dst, r.dst_len);
                    continue;
                }
            };
            let route = plan::route(r, oif);
            match self.netlink.add_route(&route) {
                Ok(()) => st.routes.push(route),
                Err(e) => error!("static_routes: {e}"),
            }
        }
        st
    }

    /// Creates (or adopts, if it already carries the virtual MAC) the VMAC of `inst` on
    /// `base` and applies keepalived's sysctls; returns its name.
    fn setup_vmac(
        &mut self,
        inst: &VrrpInstance,
        base: &str,
        base_ifindex: u32,
        name: Option<String>,
    ) -> Result<String, String> {
        use crate::net::vmac::{default_name, virtual_mac};
        let vrid = inst.virtual_router_id.get();
        let name = name.unwrap_or_else(|| default_name(vrid));
        let mac = virtual_mac(vrid, plan::is_ipv6(inst));
        let ifindex = match self.netlink.link(&name) {
            Ok(l) if l.mac == mac => l.ifindex,
            Ok(_) => return Err(format!("interface {name} exists and is not our VMAC")),
            Err(_) => {
                let idx = self
                    .netlink
                    .create_vmac(base_ifindex, &name, mac)
                    .map_err(|e| format!("VMAC {name}: {e}"))?;
                info!("({}): Success creating VMAC interface {name}", inst.name);
                idx
            }
        };
        self.vmacs.push(ifindex);
        if let Err(e) = self.sysctls.vmac(base, &name, plan::is_ipv6(inst)) {
            warn!("({}) VMAC {name}: {e}", inst.name);
        }
        // keepalived's `vmac_map` (IGMP/MLD reports of the VMAC leave from the base).
        let (vmac, base, ipv6) = (name.clone(), base.to_string(), plan::is_ipv6(inst));
        self.kernel
            .submit(Box::new(move |k| k.firewall.add_vmac(&vmac, &base, ipv6)));
        Ok(name)
    }

    /// Fires every timer that is due: `fsm::Instance::handle` never does, so this runs before
    /// any input is handled.
    async fn poll_due(&mut self) {
        let now = Instant::now();
        for i in 0..self.instances.len() {
            if self.instances[i]
                .fsm
                .next_deadline()
                .is_some_and(|d| d <= now)
            {
                if self.sync_hold(i, now) {
                    continue;
                }
                let actions = self.instances[i].fsm.poll(now);
                self.execute(i, actions).await;
            }
        }
        self.poll_bursts(now);
    }

    /// Queues the GARP/NA rounds that are due; each burst's next round then waits for this
    /// one to go out.
    fn poll_bursts(&mut self, now: Instant) {
        let mut k = 0;
        while k < self.bursts.len() {
            let b = &self.bursts[k];
            if b.at.is_none_or(|at| at > now) {
                k += 1;
                continue;
            }
            let (inst, left, only) = (b.inst, b.left, b.vips.clone());
            let seq = match only {
                None => self.garp_round(inst),
                Some(only) => self.garp_round_of(inst, &only),
            };
            if left <= 1 {
                self.bursts.swap_remove(k);
            } else {
                self.bursts[k].left -= 1;
                self.bursts[k].after = seq;
                self.bursts[k].at = None;
                k += 1;
            }
        }
    }

    /// Handles one received packet; `arrived` is when the kernel received it: the fsm is given
    /// that time, so a Backup's Master_Down_Timer runs from the advert's arrival (RFC 5798
    /// §6.4.2), however late the engine got to it.
    async fn on_packet(
        &mut self,
        sock: usize,
        bytes: &[u8],
        src: IpAddr,
        dst: IpAddr,
        ttl: u8,
        arrived: Instant,
    ) {
        let advert = match vrrp_wire::Packet::new_checked(bytes)
            .and_then(|p| vrrp_wire::Repr::parse(&p, src, dst))
        {
            Ok(a) => a,
            Err(err) => {
                let reason = DropReason::Decode {
                    err,
                    version: bytes.first().map_or(0, |b| b >> 4),
                };
                // The VRID byte names the instance when it is there and one of ours.
                let vrid = bytes.get(1).copied().unwrap_or(0);
                match self.instances.iter().position(|r| {
                    r.socket == sock && vrid != 0 && r.cfg.virtual_router_id.get() == vrid
                }) {
                    Some(i) => self.drop_advert(i, src, reason),
                    None => self.drop_unmatched(sock, src, reason),
                }
                return;
            }
        };
        let Some(i) = self
            .instances
            .iter()
            .position(|r| r.socket == sock && r.cfg.virtual_router_id == advert.vrid)
        else {
            return;
        };
        let rt = &mut self.instances[i];
        if src == rt.src {
            return;
        }
        // keepalived: "Expected multicast packet but received unicast packet" (and the
        // reverse) — a multicast instance's socket also sees adverts sent to our address.
        if socket6::is_multicast(dst) != rt.expect.multicast {
            let expected_multicast = rt.expect.multicast;
            self.drop_advert(i, src, DropReason::Cast { expected_multicast });
            return;
        }
        if let Err(reason) = validate(&advert, ttl, &rt.expect) {
            self.drop_advert(i, src, reason);
            return;
        }
        let address_check =
            if wants_address_check(rt.skip_check_adv_addr, rt.fsm.state(), rt.master_src, src) {
                check_addresses(
                    rt.cfg.virtual_router_id.get(),
                    &advert.addresses,
                    &rt.advert_vips,
                )
            } else {
                Ok(())
            };
        // keepalived drops a count mismatch before counting the advert as received, and a
        // missing address (like a unicast source that is not a peer) after.
        if let Err(reason @ DropReason::AddrCount { .. }) = address_check {
            self.drop_advert(i, src, reason);
            return;
        }
        rt.stats.advert_rcvd += 1;
        if let Err(reason) = address_check {
            self.drop_advert(i, src, reason);
            return;
        }
        if rt.check_unicast_src
            && !rt.peers.is_empty()
            && let Err(e) = check_unicast_source(&rt.peers, src, ttl)
        {
            let reason = match e {
                SourceRejection::NotAPeer => DropReason::NotAPeer(src),
                SourceRejection::Ttl(ttl) => {
                    let p = rt.peers.iter().find(|p| p.addr == src);
                    DropReason::PeerTtl {
                        ttl,
                        min: p.map_or(0, |p| p.min_ttl),
                        max: p.map_or(255, |p| p.max_ttl),
                    }
                }
            };
            self.drop_advert(i, src, reason);
            return;
        }
        let arrived = arrived.min(Instant::now());
        rt.last_advert_rx = Some(arrived);
        if advert.priority == Priority::STOP {
            rt.stats.pri_zero_rcvd += 1;
        }
        if rt.fsm.state() == State::Backup {
            rt.master_priority = advert.priority.0;
            if advert.priority != Priority::STOP {
                rt.master_src = Some(src);
            }
        }
        let actions = rt.fsm.handle(
            arrived,
            Input::Advert {
                src,
                priority: advert.priority,
                max_advert_int: advert.max_advert_int,
            },
        );
        self.execute(i, actions).await;
    }

    /// Counts a dropped advert of instance `i` and logs it, rate-limited: the first of its
    /// kind from `src` now, the rest in the instance's summary line (see [`drops`]).
    fn drop_advert(&mut self, i: usize, src: IpAddr, reason: DropReason) {
        let rt = &mut self.instances[i];
        reason.count(&mut rt.stats);
        if rt.drop_log.hit((src, reason.kind()), Instant::now()) {
            info!("({}) {} [from {src}]", rt.cfg.name, reason.message());
        }
    }

    /// Counts and logs (rate-limited) a packet that matches no instance.
    fn drop_unmatched(&mut self, sock: usize, src: IpAddr, reason: DropReason) {
        reason.count(&mut self.global_stats);
        if self
            .global_drop_log
            .hit((sock, src, reason.kind()), Instant::now())
        {
            // keepalived's words for a packet no instance takes, with the socket's interface.
            let ifname = self
                .instances
                .iter()
                .find(|r| r.socket == sock)
                .and_then(|r| r.cfg.interface.as_deref())
                .unwrap_or("?");
            info!(
                "bogus VRRP packet received on {ifname} !!! {} [from {src}]",
                reason.message()
            );
        }
    }

    /// When the next drop summary is due, if any drop is being tracked.
    fn next_drop_summary(&self) -> Option<Instant> {
        self.instances
            .iter()
            .filter_map(|r| r.drop_log.next_deadline())
            .chain(self.global_drop_log.next_deadline())
            .min()
    }

    /// Logs the due drop summaries: one line per instance with drops not logged one by one.
    fn log_drop_summaries(&mut self) {
        let now = Instant::now();
        for rt in &mut self.instances {
            if let Some(line) = rt
                .drop_log
                .take_summary(now)
                .and_then(|s| drops::summary_line(&s, drops::SUMMARY_WINDOW))
            {
                info!("({}) {line}", rt.cfg.name);
            }
        }
        if let Some(s) = self.global_drop_log.take_summary(now) {
            let s = drops::Summary {
                counts: s
                    .counts
                    .into_iter()
                    .map(|((_, src, kind), n)| ((src, kind), n))
                    .collect(),
                overflow: s.overflow,
            };
            if let Some(line) = drops::summary_line(&s, drops::SUMMARY_WINDOW) {
                info!("VRRP receive (no instance): {line}");
            }
        }
    }

    async fn on_script_result(&mut self, res: ScriptResult) {
        if self.script_runs.get(&res.name).map(|(run, _)| *run) != Some(res.run) {
            return; // a runner a reload stopped or replaced
        }
        let Some(tracker) = self.trackers.get_mut(&res.name) else {
            return;
        };
        if let script::Outcome::Exited(status) = res.outcome
            && tracker.exit_status(status)
        {
            info!("Script `{}` now returning {status}", res.name);
        }
        let Some(new_state) = tracker.record(res.outcome.success()) else {
            return;
        };
        match (new_state, &res.outcome) {
            (ScriptState::Up, _) => info!("VRRP_Script({}) succeeded", res.name),
            (_, script::Outcome::TimedOut) => info!("VRRP_Script({}) timed_out", res.name),
            _ => info!("VRRP_Script({}) failed ({})", res.name, res.outcome),
        }
        self.retrack().await;
    }

    async fn execute(&mut self, i: usize, actions: Vec<Action>) {
        // A take-over's log lines are written once its VIPs and first GARP round are queued
        // on the kernel worker (in their order): writing a line (and trying syslog) takes
        // several system calls the GARP would otherwise wait for.
        let mut held_logs: HeldLogs = actions
            .iter()
            .any(|a| matches!(a, Action::AddVips))
            .then(Vec::new);
        // A take-over whose GARPs follow its VIPs: the first round may go out with them.
        let garp_follows = actions.iter().any(|a| matches!(a, Action::SendGarp))
            && self.instances[i].garp_repeat > 0
            && !self.instances[i].vips.is_empty();
        let mut first_round_sent = false;
        for action in actions {
            match action {
                Action::SendAdvert { priority } => self.send_advert(i, priority).await,
                Action::AddVips => {
                    let rt = &mut self.instances[i];
                    let blocking = !rt.no_accept.is_empty() && !rt.blocking;
                    let block = blocking.then(|| {
                        rt.blocking = true;
                        rt.no_accept.clone()
                    });
                    let change = self.change(i, block);
                    if change.firewall.is_none() {
                        // No `nft` to wait for: VIPs and first GARP round from this thread,
                        // if nothing is queued (see `kernel::KernelThread::run_now`).
                        let (name, vips) = (change.name.clone(), change.vips.clone());
                        let ran = self.kernel.run_now(|k| {
                            change.add(k);
                            if garp_follows {
                                kernel::garp_round(k, &name, &vips);
                            }
                        });
                        first_round_sent = ran.is_some() && garp_follows;
                        if ran.is_none() {
                            let change = self.change(i, None);
                            self.kernel.submit(Box::new(move |k| change.add(k)));
                        }
                    } else {
                        self.kernel.submit(Box::new(move |k| change.add(k)));
                    }
                    // Logged once the change is made or queued. keepalived 2.2.7 prints "setting
                    // VIPs." and the rule/route lines with -D only (measured), in this order:
                    // VIPs, rules, routes.
                    let rt = &self.instances[i];
                    let name = &rt.cfg.name;
                    let mut lines = Vec::new();
                    if blocking {
                        lines.push((false, format!("({name}) setting firewall drop rule")));
                    }
                    if !rt.vips.is_empty() {
                        lines.push((true, format!("({name}) setting VIPs.")));
                    }
                    if !rt.rules.is_empty() {
                        lines.push((true, format!("({name}) setting Virtual Rules")));
                    }
                    if !rt.routes.is_empty() {
                        lines.push((true, format!("({name}) setting Virtual Routes")));
                    }
                    for (detail, line) in lines {
                        log_or_hold(&mut held_logs, detail, line);
                    }
                }
                Action::DelVips => {
                    let rt = &self.instances[i];
                    let stopping = rt.fsm.state() == State::Stop;
                    if stopping && self.opts.dont_release_vrrp {
                        continue;
                    }
                    // No more GARPs for addresses we give up.
                    self.bursts.retain(|b| b.inst != i);
                    // keepalived (-D): "removing Virtual Routes", "removing Virtual Rules",
                    // "removing VIPs." - also at start-up, where nothing was set yet.
                    if !rt.routes.is_empty() {
                        debug!("({}) removing Virtual Routes", rt.cfg.name);
                    }
                    if !rt.rules.is_empty() {
                        debug!("({}) removing Virtual Rules", rt.cfg.name);
                    }
                    if !rt.vips.is_empty() {
                        debug!("({}) removing VIPs.", rt.cfg.name);
                    }
                    let rt = &mut self.instances[i];
                    let unblock = rt.blocking.then(|| {
                        info!("({}) removing firewall drop rule", rt.cfg.name);
                        rt.blocking = false;
                        rt.no_accept.clone()
                    });
                    let change = self.change(i, unblock);
                    self.kernel.submit(Box::new(move |k| change.remove(k)));
                }
                Action::SendGarp => {
                    let n = self.instances[i].garp_repeat;
                    let first_sent = std::mem::take(&mut first_round_sent);
                    self.send_garps(i, n, first_sent, &mut held_logs)
                }
                Action::SendGarpRepeat { repeat } => {
                    self.send_garps(i, repeat, false, &mut held_logs)
                }
                Action::StateChange { from, to } => {
                    flush_logs(&mut held_logs);
                    self.on_state_change(i, from, to);
                    self.syncd_follow(i, from, to);
                    self.instance_fifo(i, to);
                    self.after_state_change(i, to).await;
                }
                Action::Log(line) => log_or_hold(&mut held_logs, false, line),
            }
        }
        flush_logs(&mut held_logs);
    }

    async fn send_advert(&mut self, i: usize, priority: Priority) {
        let rt = &mut self.instances[i];
        if rt.parked.is_some() {
            return;
        }
        // The advert lists the VIPs of the instance's family (RFC 5798 §5.2.9).
        let v6 = rt.src.is_ipv6();
        let addresses = rt
            .vips
            .iter()
            .filter(|v| !v.excluded)
            .map(|v| v.addr.addr)
            .filter(|a| a.is_ipv6() == v6)
            .collect();
        let repr = vrrp_wire::Repr {
            version: rt.expect.version,
            vrid: rt.cfg.virtual_router_id,
            priority,
            max_advert_int: rt.expect.advert_int,
            addresses,
            auth: match rt.expect.pass {
                Some(p) => vrrp_wire::Auth::Pass(p),
                None => vrrp_wire::Auth::None,
            },
        };
        let mut buf = vec![0u8; repr.buffer_len()];
        for dst in rt.dsts.clone() {
            let mut packet = vrrp_wire::Packet::new_unchecked(&mut buf[..]);
            repr.emit(&mut packet, rt.src, dst);
            match self.sockets[rt.socket].send_to(&buf, dst).await {
                Ok(()) => {
                    rt.stats.advert_sent += 1;
                    if priority == Priority::STOP {
                        rt.stats.pri_zero_sent += 1;
                    }
                }
                Err(e) => warn!("({}) cannot send advert to {dst}: {e}", rt.cfg.name),
            }
        }
    }

    /// The kernel change of instance `i`'s VIPs, rules and routes, with `firewall` for its
    /// `no_accept` addresses.
    fn change(&self, i: usize, firewall: Option<Vec<Blocked>>) -> kernel::Change {
        let rt = &self.instances[i];
        kernel::Change {
            name: rt.cfg.name.clone(),
            vips: rt.vips.clone(),
            rules: rt.rules.clone(),
            routes: rt.routes.clone(),
            firewall,
        }
    }

    /// The gap between the rounds of instance `i`'s bursts: `vrrp_gna_interval` when it has
    /// an IPv6 VIP, else `vrrp_garp_interval`.
    fn burst_interval(&self, i: usize) -> Duration {
        if self.instances[i].vips.iter().any(|v| v.addr.addr.is_ipv6()) {
            self.gna_interval
        } else {
            self.garp_interval
        }
    }

    /// Queues one GARP/NA round of instance `i` on the kernel worker; returns its job.
    fn garp_round(&mut self, i: usize) -> u64 {
        let rt = &self.instances[i];
        let (name, vips) = (rt.cfg.name.clone(), rt.vips.clone());
        self.kernel
            .submit(Box::new(move |k| kernel::garp_round(k, &name, &vips)))
    }

    /// Starts a burst: `repeat` rounds of one GARP per IPv4 VIP and one unsolicited NA per
    /// IPv6 VIP (RFC 5798 §6.4.2), `vrrp_garp_interval` / `vrrp_gna_interval` apart. The
    /// first round is queued now, right behind the VIPs; the others are engine timers
    /// ([`GarpBurst`]). A new burst replaces the instance's unfinished one.
    ///
    /// `first_sent`: the first round already went out with the VIPs (see
    /// [`kernel::KernelThread::run_now`]); the next is due an interval from now.
    ///
    /// Its log lines are written once the first round is out or queued, after the lines `held`
    /// (see [`Engine::execute`]), which are written then too.
    fn send_garps(&mut self, i: usize, repeat: u32, first_sent: bool, held: &mut HeldLogs) {
        let rt = &self.instances[i];
        if rt.vips.is_empty() || repeat == 0 {
            return;
        }
        self.bursts.retain(|b| b.inst != i);
        let interval = self.burst_interval(i);
        if interval.is_zero() {
            for _ in u32::from(first_sent)..repeat {
                self.garp_round(i);
            }
        } else if first_sent {
            if repeat > 1 {
                self.bursts.push(GarpBurst {
                    inst: i,
                    vips: None,
                    left: repeat - 1,
                    after: self.kernel.last_submitted(),
                    at: Some(Instant::now() + interval),
                });
            }
        } else {
            let after = self.garp_round(i);
            if repeat > 1 {
                self.bursts.push(GarpBurst {
                    inst: i,
                    vips: None,
                    left: repeat - 1,
                    after,
                    at: None,
                });
            }
        }
        flush_logs(held);
        let rt = &self.instances[i];
        for v in rt.vips.iter() {
            if v.addr.addr.is_ipv4() {
                info!(
                    "({}) Sending/queueing gratuitous ARPs on {} for {}",
                    rt.cfg.name, v.ifname, v.addr.addr
                );
            } else {
                info!(
                    "({}) Sending/queueing Unsolicited Neighbour Adverts on {} for {}",
                    rt.cfg.name, v.ifname, v.addr.addr
                );
            }
        }
    }

    fn on_state_change(&mut self, i: usize, from: State, to: State) {
        self.metrics_dirty = true;
        let rt = &mut self.instances[i];
        rt.last_transition = std::time::SystemTime::now();
        match (from, to) {
            (_, State::Master) => {
                rt.stats.become_master += 1;
                rt.master_priority = 0;
                if from == State::Backup
                    && let Some(t) = rt.last_advert_rx
                {
                    crate::metrics::observe_failover(&rt.cfg.name, t.elapsed().as_secs_f64());
                }
            }
            (State::Master, _) => rt.stats.release_master += 1,
            _ => {}
        }
        let (notify, name) = (rt.cfg.notify.clone(), rt.cfg.name.clone());
        let priority = rt.fsm.effective_priority().0;
        self.notify(notify, "INSTANCE", name, to, priority);
    }

    /// Runs the notify scripts of a state change of an instance (`scope` "INSTANCE") or a
    /// sync group ("GROUP", priority 0): the state's own script (`notify_master`...), then
    /// `notify` with keepalived's `<scope> <name> <state> <priority>` appended. They start once
    /// the kernel work queued before them is done (a `notify_master` finds the VIPs up).
    fn notify(
        &mut self,
        n: model::Notify,
        scope: &'static str,
        name: String,
        to: State,
        priority: u8,
    ) {
        let specific = match to {
            State::Master => n.master,
            State::Backup => n.backup,
            State::Fault => n.fault,
            State::Stop => n.stop,
            State::Init => return,
        };
        if specific.is_none() && n.any.is_none() {
            return;
        }
        let any = n.any;
        self.after_kernel(Box::new(move || {
            if let Some(cmd) = &specific {
                script::spawn_command(cmd);
            }
            if let Some(cmd) = &any {
                let mut argv = cmd.argv.clone();
                argv.extend([
                    scope.to_string(),
                    name,
                    crate::notify::state_word(to).to_string(),
                    priority.to_string(),
                ]);
                script::spawn_as(cmd, argv);
            }
        }));
    }

    /// Hands the metrics endpoint a copy of what it shows (see [`crate::metrics`]).
    fn publish_metrics(&mut self) {
        self.metrics_dirty = false;
        let instances = self
            .instances
            .iter()
            .map(|r| crate::metrics::InstanceSnapshot {
                iname: r.cfg.name.clone(),
                intf: r.cfg.interface.clone().unwrap_or_default(),
                vrid: r.cfg.virtual_router_id.get(),
                state: match r.fsm.state() {
                    State::Backup => 1,
                    State::Master => 2,
                    State::Fault => 3,
                    State::Init | State::Stop => 0,
                },
                effective_priority: r.fsm.effective_priority().0,
                vips: r
                    .cfg
                    .virtual_ipaddress
                    .iter()
                    .map(|v| v.addr.to_string())
                    .collect(),
                stats: r.stats.clone(),
                garp_delay: r.cfg.garp_master_delay.map_or(5, |d| d.as_secs()),
                packet_len_err: r.stats.packet_len_err,
            })
            .collect();
        let scripts = self
            .trackers
            .iter()
            .map(|(name, t)| crate::metrics::ScriptSnapshot {
                name: name.clone(),
                good: t.state() == track::ScriptState::Up,
            })
            .collect();
        crate::metrics::publish_vrrp(crate::metrics::VrrpSnapshot { instances, scripts });
    }

    /// The plan every instance was built from, in configuration order (the VRRP reload
    /// diffs them with the new configuration's).
    pub fn plans(&self) -> impl Iterator<Item = &plan::InstancePlan> {
        self.instances.iter().map(|r| &r.plan)
    }

    /// The statistics of every instance, by name.
    pub fn stats(&self) -> Vec<(String, Stats)> {
        self.instances
            .iter()
            .map(|r| (r.cfg.name.clone(), r.stats.clone()))
            .collect()
    }
}

/// `static_*` items we set, to remove at exit.
#[derive(Debug, Default)]
struct Statics {
    addrs: Vec<(u32, IfAddr)>,
    routes: Vec<crate::net::route::Route>,
    rules: Vec<crate::net::route::Rule>,
}

/// The plan's facts, read with rtnetlink.
impl plan::Facts for Netlink {
    fn link(&self, name: &str) -> Result<plan::Link, String> {
        Netlink::link(self, name)
            .map(|l| plan::Link {
                ifindex: l.ifindex,
                mac: l.mac,
            })
            .map_err(|e| e.to_string())
    }

    fn primary_ipv4(
        &self,
        ifindex: u32,
        exclude: &[std::net::Ipv4Addr],
    ) -> Result<Option<std::net::Ipv4Addr>, String> {
        Netlink::primary_ipv4(self, ifindex, exclude).map_err(|e| e.to_string())
    }

    fn link_local_ipv6(&self, ifindex: u32) -> Result<Option<std::net::Ipv6Addr>, String> {
        Netlink::link_local_ipv6(self, ifindex).map_err(|e| e.to_string())
    }
}

/// The runtime of `inst` from its plan, with advert socket `socket` (`parked`: see
/// [`Blocker`]).
fn runtime(
    inst: &VrrpInstance,
    plan: plan::InstancePlan,
    socket: usize,
    parked: Option<Blocker>,
) -> Runtime {
    Runtime {
        fsm: fsm::Instance::new(plan.fsm.clone()),
        cfg: inst.clone(),
        socket,
        src: plan.src,
        dsts: plan.dsts.clone(),
        peers: plan.peers.clone(),
        check_unicast_src: plan.check_unicast_src,
        skip_check_adv_addr: plan.skip_check_adv_addr,
        advert_vips: plan.advert_vips.clone(),
        master_src: None,
        drop_log: RateLimiter::new(drops::SUMMARY_WINDOW, drops::MAX_TRACKED),
        expect: plan.expect.clone(),
        vips: plan.vips.as_slice().into(),
        routes: plan.routes.as_slice().into(),
        rules: plan.rules.as_slice().into(),
        garp_repeat: plan.garp_repeat,
        no_accept: plan.no_accept.clone(),
        blocking: false,
        tracks: plan.tracks.clone(),
        last_tracked: track::Tracked {
            priority: inst.priority,
            fault: false,
        },
        stats: Stats::default(),
        last_advert_rx: None,
        master_priority: 0,
        last_transition: std::time::SystemTime::now(),
        parked,
        plan,
    }
}

/// Runs one `vrrp_script` every `interval` (keepalived: from the start of one run to the next)
/// with its `timeout`, sending each outcome to the engine.
async fn run_vrrp_script(
    s: model::VrrpScript,
    run: u64,
    run_as: Option<RunAs>,
    tx: mpsc::Sender<ScriptResult>,
) {
    let mut ticker = tokio::time::interval(s.interval.max(Duration::from_millis(10)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let started = Instant::now();
        let outcome = script::run(
            &s.script.argv,
            run_as,
            Some(s.timeout.max(Duration::from_millis(10))),
        )
        .await;
        crate::metrics::observe_script(&s.name, started.elapsed().as_secs_f64());
        if tx
            .send(ScriptResult {
                name: s.name.clone(),
                run,
                outcome,
            })
            .await
            .is_err()
        {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::{Centiseconds, Vrid};

    fn advert(version: Version, auth: vrrp_wire::Auth, int: u16) -> vrrp_wire::Repr {
        vrrp_wire::Repr {
            version,
            vrid: Vrid::new(51).unwrap(),
            priority: Priority(100),
            max_advert_int: Centiseconds(int),
            addresses: vec![],
            auth,
        }
    }

    #[test]
    fn validate_applies_rfc_receive_checks() {
        let pass = *b"secret\0\0";
        let e2 = Expect {
            version: Version::V2,
            advert_int: Centiseconds(100),
            pass: Some(pass),
            multicast: true,
        };
        assert_eq!(
            validate(
                &advert(Version::V2, vrrp_wire::Auth::Pass(pass), 100),
                255,
                &e2
            ),
            Ok(())
        );
        assert_eq!(
            validate(
                &advert(Version::V2, vrrp_wire::Auth::Pass(pass), 100),
                64,
                &e2
            ),
            Err(DropReason::Ttl(64))
        );
        assert_eq!(
            validate(
                &advert(Version::V2, vrrp_wire::Auth::Pass(*b"other\0\0\0"), 100),
                255,
                &e2
            ),
            Err(DropReason::AuthFailure)
        );
        assert_eq!(
            validate(&advert(Version::V2, vrrp_wire::Auth::None, 100), 255, &e2),
            Err(DropReason::AuthTypeMismatch { got: 0, want: 1 })
        );
        assert_eq!(
            validate(
                &advert(Version::V2, vrrp_wire::Auth::Pass(pass), 200),
                255,
                &e2
            ),
            Err(DropReason::AdvertInterval { mine: 1, got: 2 })
        );
        assert_eq!(
            validate(&advert(Version::V3, vrrp_wire::Auth::None, 100), 255, &e2),
            Err(DropReason::Version { got: 3, want: 2 })
        );

        let mut e3 = Expect {
            version: Version::V3,
            advert_int: Centiseconds(100),
            pass: None,
            multicast: true,
        };
        // VRRPv3: a different interval is adopted, not dropped.
        assert_eq!(
            validate(&advert(Version::V3, vrrp_wire::Auth::None, 50), 255, &e3),
            Ok(())
        );
        assert_eq!(
            validate(&advert(Version::V3, vrrp_wire::Auth::None, 100), 1, &e3),
            Err(DropReason::Ttl(1))
        );
        // Unicast adverts may have crossed routers: no TTL check (keepalived).
        e3.multicast = false;
        assert_eq!(
            validate(&advert(Version::V3, vrrp_wire::Auth::None, 100), 1, &e3),
            Ok(())
        );
    }

    #[test]
    fn address_list_check_is_keepalived_s() {
        let v = |s: &str| -> IpAddr { s.parse().unwrap() };
        let ours = [v("10.77.0.100"), v("10.77.0.101")];
        assert_eq!(
            check_addresses(51, &[v("10.77.0.101"), v("10.77.0.100")], &ours),
            Ok(())
        );
        // A foreign router on the same VRID: same count, another address.
        assert_eq!(
            check_addresses(51, &[v("10.77.0.200")], &ours[..1]),
            Err(DropReason::AddrMissing {
                vrid: 51,
                vip: v("10.77.0.100")
            })
        );
        assert_eq!(
            check_addresses(51, &[v("10.77.0.100")], &ours),
            Err(DropReason::AddrCount { got: 1, want: 2 })
        );
        // No VIP configured: an advert with addresses is a count mismatch, as in keepalived.
        assert_eq!(
            check_addresses(51, &[v("10.77.0.100")], &[]),
            Err(DropReason::AddrCount { got: 1, want: 0 })
        );
        assert_eq!(check_addresses(51, &[], &[]), Ok(()));
    }

    #[test]
    fn skip_check_adv_addr_skips_only_the_known_master_on_a_backup() {
        let m: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.9".parse().unwrap();
        // Without the option every advert is checked.
        assert!(wants_address_check(false, State::Backup, Some(m), m));
        // With it: the master a backup follows is trusted ...
        assert!(!wants_address_check(true, State::Backup, Some(m), m));
        // ... but not a new source, nor before any master is known, nor while master.
        assert!(wants_address_check(true, State::Backup, Some(m), other));
        assert!(wants_address_check(true, State::Backup, None, m));
        assert!(wants_address_check(true, State::Master, Some(m), m));
    }

    #[test]
    fn unicast_source_check_uses_peers_and_their_ttl_range() {
        let a: IpAddr = "192.0.2.11".parse().unwrap();
        let b: IpAddr = "192.0.2.12".parse().unwrap();
        let mut pb = UnicastPeer::new(b);
        pb.min_ttl = 250;
        pb.max_ttl = 254;
        let peers = vec![UnicastPeer::new(a), pb];
        assert_eq!(check_unicast_source(&peers, a, 1), Ok(()));
        assert_eq!(check_unicast_source(&peers, a, 255), Ok(()));
        assert_eq!(check_unicast_source(&peers, b, 252), Ok(()));
        assert_eq!(
            check_unicast_source(&peers, b, 255),
            Err(SourceRejection::Ttl(255))
        );
        assert_eq!(
            check_unicast_source(&peers, b, 249),
            Err(SourceRejection::Ttl(249))
        );
        assert_eq!(
            check_unicast_source(&peers, "192.0.2.13".parse().unwrap(), 255),
            Err(SourceRejection::NotAPeer)
        );
    }
}
