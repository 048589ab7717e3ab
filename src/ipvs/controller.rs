//! The IPVS controller: builds the desired table from the config's `virtual_server`s and the
//! health of their real servers, applies it to the kernel at start ([`program`]: a
//! [`reconcile`] against the table read back with GET dumps), follows the health checkers'
//! transitions, switches to a reloaded config by difference ([`apply_reload`]), and removes
//! exactly its own services at exit (unless `-I` / `--dont-release-ipvs`).
//!
//! Netlink calls block (microseconds on a local socket, but a large table is thousands of
//! messages): at start they run on the main thread before the runtime exists, afterwards on
//! tokio's blocking pool.

use crate::config::model::{
    Config, LbKind, TunnelCsum, TunnelType, VirtualServer, VsProtocol, VsTarget, VsgEntry,
};
use crate::ipvs::IpvsError;
use crate::ipvs::consts::*;
use crate::ipvs::genl::IpvsSocket;
use crate::ipvs::health::{self, VsHealth};
use crate::ipvs::model::*;
use crate::ipvs::reconcile::{reconcile, teardown};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use tracing::{error, info, warn};

/// The forwarding method of `lb_kind`.
pub fn fwd_method(kind: LbKind) -> u32 {
    match kind {
        LbKind::Nat => IP_VS_CONN_F_MASQ,
        LbKind::Dr => IP_VS_CONN_F_DROUTE,
        LbKind::Tun(_) => IP_VS_CONN_F_TUNNEL,
    }
}

/// The tunnel attributes of `lvs_method TUN …` (all zero for the other methods).
pub fn tunnel(kind: LbKind) -> Tunnel {
    let LbKind::Tun(t) = kind else {
        return Tunnel::default();
    };
    Tunnel {
        kind: match t.kind {
            TunnelType::Ipip => IP_VS_CONN_F_TUNNEL_TYPE_IPIP,
            TunnelType::Gue => IP_VS_CONN_F_TUNNEL_TYPE_GUE,
            TunnelType::Gre => IP_VS_CONN_F_TUNNEL_TYPE_GRE,
        },
        port: t.port,
        flags: match t.csum {
            TunnelCsum::NoCsum => IP_VS_TUNNEL_ENCAP_FLAG_NOCSUM,
            TunnelCsum::Csum => IP_VS_TUNNEL_ENCAP_FLAG_CSUM,
            TunnelCsum::RemCsum => IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM,
        },
    }
}

fn protocol(p: VsProtocol) -> u16 {
    match p {
        VsProtocol::Tcp => IPPROTO_TCP,
        VsProtocol::Udp => IPPROTO_UDP,
        VsProtocol::Sctp => IPPROTO_SCTP,
    }
}

/// The IPVS netmask for `persistence_granularity` (a prefix length) in family `af`: IPv4 the
/// mask's network-order bytes read as a native u32 (`be32` in the kernel), IPv6 the prefix.
pub fn netmask(af: u16, prefix: Option<u32>) -> u32 {
    match prefix {
        None => Service::default_netmask(af),
        Some(p) if af == AF_INET6 => p,
        Some(p) => {
            let mask = u32::MAX.checked_shl(32 - p.min(32)).unwrap_or(0);
            u32::from_ne_bytes(mask.to_be_bytes())
        }
    }
}

/// The service keys a virtual server stands for (several for a `group`).
fn service_keys(vs: &VirtualServer, config: &Config) -> Vec<ServiceKey> {
    let proto = protocol(vs.protocol);
    match &vs.target {
        VsTarget::Addr { addr, port } => vec![ServiceKey::Addr {
            protocol: proto,
            addr: *addr,
            port: *port,
        }],
        VsTarget::Fwmark { mark, ipv6 } => vec![ServiceKey::Fwmark {
            af: if *ipv6 { AF_INET6 } else { AF_INET },
            mark: *mark,
        }],
        VsTarget::Group(name) => {
            let Some(group) = config.ipvs.groups.get(name) else {
                return Vec::new();
            };
            let default_v6 = vs
                .ip_family_v6
                .or_else(|| vs.real_servers.first().map(|r| r.addr.is_ipv6()))
                .unwrap_or(false);
            group
                .entries
                .iter()
                .flat_map(|e| match e {
                    VsgEntry::Range { first, count, port } => (0..*count)
                        .filter_map(|i| nth_addr(*first, i))
                        .map(|addr| ServiceKey::Addr {
                            protocol: proto,
                            addr,
                            port: *port,
                        })
                        .collect::<Vec<_>>(),
                    VsgEntry::Fwmark { mark, ipv6 } => vec![ServiceKey::Fwmark {
                        af: if ipv6.unwrap_or(default_v6) {
                            AF_INET6
                        } else {
                            AF_INET
                        },
                        mark: *mark,
                    }],
                })
                .collect()
        }
    }
}

fn nth_addr(first: IpAddr, i: u32) -> Option<IpAddr> {
    match first {
        IpAddr::V4(a) => u32::from(a)
            .checked_add(i)
            .map(|v| IpAddr::V4(Ipv4Addr::from(v))),
        IpAddr::V6(a) => u128::from(a)
            .checked_add(u128::from(i))
            .map(|v| IpAddr::V6(Ipv6Addr::from(v))),
    }
}

/// The table the config asks for at start: every `virtual_server` (groups expanded) with
/// the destinations its starting health gives ([`health::VsHealth::new`]: real servers up
/// unless `alpha`; the sorry server in when the quorum is not met, e.g. with no real server).
/// Later duplicates replace earlier ones.
pub fn desired_table(config: &Config) -> Table {
    desired_table_with(config, &starting_health(config))
}

/// The starting health of every virtual server's real servers, in config order.
fn starting_health(config: &Config) -> Vec<VsHealth> {
    config
        .ipvs
        .virtual_servers
        .iter()
        .map(VsHealth::new)
        .collect()
}

/// The table for the given health of each virtual server (same order as the config's).
pub fn desired_table_with(config: &Config, health: &[VsHealth]) -> Table {
    let mut table = Table::new();
    for (vs, h) in config.ipvs.virtual_servers.iter().zip(health) {
        table.extend(vs_entries(config, vs, h));
    }
    table
}

/// The services (and their destinations) one virtual server stands for.
fn vs_entries(config: &Config, vs: &VirtualServer, health: &VsHealth) -> Table {
    let mut table = Table::new();
    for key in service_keys(vs, config) {
        let af = key.af();
        let persistent = vs.persistence_timeout.is_some();
        let service = Service {
            key,
            sched: vs.lb_algo.clone(),
            flags: vs.flags
                | if persistent {
                    IP_VS_SVC_F_PERSISTENT
                } else {
                    0
                },
            timeout: vs.persistence_timeout.unwrap_or(0),
            netmask: netmask(af, vs.persistence_granularity),
            pe_name: vs.persistence_engine.clone(),
        };
        let vs_port = match key {
            ServiceKey::Addr { port, .. } => port,
            ServiceKey::Fwmark { .. } => 0,
        };
        let dests = health::dests(vs, health, vs_port, |rs| {
            fwd_method(rs.lvs_method.unwrap_or(vs.lb_kind))
        });
        table.insert(key, ServiceEntry { service, dests });
    }
    table
}

/// keepalived's way of writing a service in its log: `[10.0.0.100]:tcp:80`, `FWM 5`.
pub fn fmt_service(key: &ServiceKey) -> String {
    match key {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => {
            let p = match *protocol {
                IPPROTO_UDP => "udp",
                IPPROTO_SCTP => "sctp",
                _ => "tcp",
            };
            format!("[{addr}]:{p}:{port}")
        }
        ServiceKey::Fwmark { mark, .. } => format!("FWM {mark}"),
    }
}

/// Moves the kernel's table from `owned` (the services rkeepalived programmed, empty at
/// start) to `desired`: the services of `owned` that `desired` lacks are removed, and `desired`
/// is reconciled against the table read back, so rows already right are not touched;
/// services rkeepalived does not own stay. Refused changes are logged. Returns how many
/// changes were sent. Start-up ([`apply`]), reload and shutdown ([`remove_owned`]) are all
/// this one step.
pub fn apply_reload(
    sock: &mut IpvsSocket,
    owned: &Table,
    desired: &Table,
) -> Result<usize, IpvsError> {
    let actual = sock.table()?;
    crate::timing::mark("ipvs-dumped");
    let stale = owned.keys().filter(|k| !desired.contains_key(k));
    let mut ops = teardown(stale, &actual);
    ops.extend(reconcile(desired, &actual));
    crate::timing::mark("ipvs-diffed");
    for (op, e) in sock.apply(&ops)? {
        error!("IPVS: cannot {op}: {e}");
    }
    crate::timing::mark("ipvs-applied");
    Ok(ops.len())
}

/// Applies `desired` to a kernel table rkeepalived has not programmed yet (start-up): see
/// [`apply_reload`]. Returns how many changes were sent.
pub fn apply(sock: &mut IpvsSocket, desired: &Table) -> Result<usize, IpvsError> {
    apply_reload(sock, &Table::new(), desired)
}

/// Removes the services of `owned` that the kernel still has; other services stay.
pub fn remove_owned(sock: &mut IpvsSocket, owned: &Table) -> Result<usize, IpvsError> {
    apply_reload(sock, owned, &Table::new())
}

/// `global_defs`' `lvs_flush` (flush the whole table) and `lvs_timeouts` (`SET_CONFIG`; an
/// unset timeout is sent as 0, which the kernel leaves unchanged), done before [`apply`].
pub fn prepare(sock: &mut IpvsSocket, ipvs: &crate::config::model::IpvsConfig) {
    if ipvs.lvs_flush {
        match sock.flush() {
            Ok(()) => info!("IPVS: flushed the table (lvs_flush)"),
            Err(e) => error!("IPVS: lvs_flush: {e}"),
        }
    }
    if let Some(t) = ipvs.lvs_timeouts {
        let t = crate::ipvs::genl::Timeouts {
            tcp: t.tcp.unwrap_or(0),
            tcp_fin: t.tcp_fin.unwrap_or(0),
            udp: t.udp.unwrap_or(0),
        };
        if let Err(e) = sock.set_timeouts(t) {
            error!("IPVS: lvs_timeouts: {e}");
        }
    }
}

/// The running controller: a task that owns the IPVS socket, the table it programmed and the
/// health of every real server; checker transitions come in, minimal table changes go out.
pub struct Controller {
    stop: Option<tokio::sync::oneshot::Sender<bool>>,
    reload: tokio::sync::mpsc::Sender<std::sync::Arc<Config>>,
    task: tokio::task::JoinHandle<()>,
    /// What the SIGUSR1 checker data dump shows (replaced on reload).
    check_data: SharedCheckData,
}

/// The checker data of the running configuration, replaced by each reload.
pub type SharedCheckData =
    std::sync::Arc<std::sync::RwLock<std::sync::Arc<crate::status::CheckData>>>;

/// The state the controller task owns.
struct Running {
    config: std::sync::Arc<Config>,
    health: Vec<VsHealth>,
    /// What we programmed (and believe the kernel has) for our services.
    owned: Table,
    check_data: SharedCheckData,
}

/// What the SIGUSR1 dump shows for `config` checked by `runner`.
fn checker_data(
    config: &std::sync::Arc<Config>,
    index: &health::RsIndex,
    runner: &crate::check::runner::Runner,
) -> std::sync::Arc<crate::status::CheckData> {
    std::sync::Arc::new(crate::status::CheckData {
        config: config.clone(),
        index: index.clone(),
        board: runner.board(),
    })
}

/// The start-up programming of the table ([`program`]), handed to
/// [`Controller::start_programmed`].
pub struct Programmed {
    /// `None` when IPVS could not be opened or the table not programmed (already logged).
    sock: Option<IpvsSocket>,
    /// Why IPVS could not be opened at all (no `ip_vs` in the kernel, even after
    /// `modprobe ip_vs`; no netlink socket), as keepalived's `IPVS: Can't initialize ipvs`.
    unavailable: Option<IpvsError>,
    /// The config's table, as sent to the kernel.
    owned: Table,
    /// The health the table was computed from (FILE_CHECK files read, `alpha` applied).
    health: Vec<VsHealth>,
}

/// Opens the IPVS socket and programs the config's table: the starting health of every real
/// server, the desired table, `lvs_flush`/`lvs_timeouts`, then the changes against the
/// kernel's table. Blocking (netlink requests); failures are logged. When IPVS cannot be
/// opened at all, [`Programmed::unavailable`] says why (the daemon decides whether it can go
/// on, see `daemon::main`).
pub fn program(config: &Config) -> Programmed {
    let health = starting_health(config);
    let owned = desired_table_with(config, &health);
    crate::timing::mark("ipvs-desired");
    let mut sock = match IpvsSocket::open() {
        Ok(s) => s,
        Err(e) => {
            error!("IPVS: Can't initialize ipvs: {e}");
            return Programmed {
                sock: None,
                unavailable: Some(e),
                owned,
                health,
            };
        }
    };
    crate::timing::mark("ipvs-opened");
    prepare(&mut sock, &config.ipvs);
    let sock = match apply(&mut sock, &owned) {
        Ok(n) => {
            info!(
                "IPVS: {} virtual service(s) configured ({n} change(s) sent)",
                owned.len()
            );
            Some(sock)
        }
        Err(e) => {
            error!("IPVS: {e}");
            None
        }
    };
    Programmed {
        sock,
        unavailable: None,
        owned,
        health,
    }
}

impl Programmed {
    /// Why IPVS could not be opened at all, if it could not (keepalived 2.2.7 logs
    /// `IPVS: Can't initialize ipvs: ...` and terminates as a whole).
    pub fn unavailable(&self) -> Option<&IpvsError> {
        self.unavailable.as_ref()
    }

    /// Removes the services [`program`] created, for a daemon that cannot go on.
    pub fn release(self) {
        if let Some(mut sock) = self.sock
            && let Err(e) = remove_owned(&mut sock, &self.owned)
        {
            error!("IPVS: {e}");
        }
    }
}

impl Controller {
    /// Opens the IPVS socket, programs the config's table (on a blocking thread, see
    /// [`program`]) and starts the health checkers.
    pub async fn start(config: &std::sync::Arc<Config>) -> Controller {
        let shared = std::sync::Arc::clone(config);
        let programmed = match tokio::task::spawn_blocking(move || program(&shared)).await {
            Ok(p) => p,
            Err(e) => {
                error!("IPVS: controller task failed: {e}");
                let health = starting_health(config);
                Programmed {
                    sock: None,
                    unavailable: None,
                    owned: desired_table_with(config, &health),
                    health,
                }
            }
        };
        Controller::start_programmed(config, programmed)
    }

    /// Starts the health checkers and the task that owns the table [`program`] set up. Must
    /// run inside the runtime.
    pub fn start_programmed(config: &std::sync::Arc<Config>, programmed: Programmed) -> Controller {
        let Programmed {
            sock,
            owned,
            health,
            ..
        } = programmed;
        let (runner, index, problems) = health::runner_for(config);
        let check_data = std::sync::Arc::new(std::sync::RwLock::new(checker_data(
            config, &index, &runner,
        )));
        for p in problems {
            error!("checker not started: {p}");
        }
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
        let (reload_tx, reload_rx) = tokio::sync::mpsc::channel(1);
        let state = Running {
            config: std::sync::Arc::clone(config),
            health,
            owned,
            check_data: check_data.clone(),
        };
        let task = tokio::spawn(state.run(sock, runner, index, stop_rx, reload_rx));
        Controller {
            stop: Some(stop_tx),
            reload: reload_tx,
            task,
            check_data,
        }
    }

    /// The state the SIGUSR1 checker data dump writes.
    pub fn check_data(&self) -> SharedCheckData {
        self.check_data.clone()
    }

    /// Switches the controller to `config` (already validated; SIGHUP): the checkers restart
    /// with it, real servers that stay keep their state, and the table changes by the
    /// difference only ([`apply_reload`]).
    pub async fn reload(&self, config: std::sync::Arc<Config>) {
        if self.reload.send(config).await.is_err() {
            warn!("IPVS: the controller has stopped; reload ignored");
        }
    }

    /// At exit: stops the checkers and removes the owned services unless `dont_release`
    /// (`-I`); with `omega`, runs the quorum_down and notify_down scripts as keepalived does.
    pub async fn stop(mut self, dont_release: bool) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(dont_release);
        }
        let _ = self.task.await;
    }
}

/// Starts `runner` (when it has checks) with a fresh channel for its transitions.
fn start_checkers(
    runner: crate::check::runner::Runner,
) -> (
    Option<tokio::task::JoinHandle<()>>,
    tokio::sync::mpsc::Receiver<crate::check::runner::RsEvent>,
) {
    let (tx, rx) = tokio::sync::mpsc::channel(1024);
    let task = (runner.distinct_checks() > 0).then(|| tokio::spawn(runner.run(tx)));
    (task, rx)
}

impl Running {
    /// Switches to `config` (validated by the caller): the health carried over from the
    /// running config (`carried`, see [`health::carried_alive`]), the new desired table, and
    /// the difference sent to the kernel ([`apply_reload`], on the blocking pool). Returns the
    /// socket (`None` if it was lost).
    async fn reload(
        &mut self,
        sock: Option<IpvsSocket>,
        config: std::sync::Arc<Config>,
        carried: &[Vec<Option<bool>>],
    ) -> Option<IpvsSocket> {
        let health: Vec<VsHealth> = config
            .ipvs
            .virtual_servers
            .iter()
            .enumerate()
            .map(|(i, vs)| VsHealth::with_carried(vs, carried.get(i).map_or(&[], Vec::as_slice)))
            .collect();
        let desired = desired_table_with(&config, &health);
        let owned = std::mem::take(&mut self.owned);
        let timeouts = crate::config::model::IpvsConfig {
            lvs_timeouts: config.ipvs.lvs_timeouts,
            ..Default::default()
        };
        self.config = config;
        self.health = health;
        let Some(mut sock) = sock else {
            self.owned = desired;
            return None;
        };
        let done = tokio::task::spawn_blocking(move || {
            prepare(&mut sock, &timeouts);
            let r = apply_reload(&mut sock, &owned, &desired);
            (sock, desired, r)
        })
        .await;
        match done {
            Ok((sock, desired, r)) => {
                match r {
                    Ok(n) => info!(
                        "IPVS: reloaded: {} virtual service(s) configured ({n} change(s) sent)",
                        desired.len()
                    ),
                    Err(e) => error!("IPVS: reload: {e}"),
                }
                self.owned = desired;
                Some(sock)
            }
            Err(e) => {
                error!("IPVS: reload task failed: {e}");
                None
            }
        }
    }

    async fn run(
        mut self,
        mut sock: Option<IpvsSocket>,
        runner: crate::check::runner::Runner,
        mut index: health::RsIndex,
        mut stop: tokio::sync::oneshot::Receiver<bool>,
        mut reload: tokio::sync::mpsc::Receiver<std::sync::Arc<Config>>,
    ) {
        let (mut checkers, mut rx) = start_checkers(runner);
        let dont_release = loop {
            tokio::select! {
                r = &mut stop => break r.unwrap_or(false),
                Some(config) = reload.recv() => {
                    // The old checkers stop (their threads end with their event channel) and
                    // their pending transitions are dropped: the new health starts from the
                    // carried state.
                    if let Some(c) = checkers.take() {
                        c.abort();
                    }
                    let carried = health::carried_alive(&self.config, &self.health, &config);
                    let (runner, new_index, problems) = health::runner_carrying(&config, &carried);
                    for p in problems {
                        error!("checker not started: {p}");
                    }
                    *self.check_data.write().unwrap_or_else(|e| e.into_inner()) =
                        checker_data(&config, &new_index, &runner);
                    sock = self.reload(sock, config, &carried).await;
                    index = new_index;
                    (checkers, rx) = start_checkers(runner);
                }
                Some(ev) = rx.recv() => {
                    // Take every transition already queued, then send the table changes of all
                    // affected virtual servers in one pipelined batch (a burst of failures —
                    // a switch dying — becomes one netlink exchange, not one per server).
                    let mut affected = std::collections::BTreeSet::new();
                    let mut next = Some(ev);
                    let mut n = 0;
                    while let Some(ev) = next.take() {
                        if let Some(&(vi, ri)) = index.get(ev.rs) {
                            self.on_rs_event(vi, ri, &ev);
                            affected.insert(vi);
                        }
                        n += 1;
                        if n < 4096 {
                            next = rx.try_recv().ok();
                        }
                    }
                    self.sync_vs(sock.as_mut(), &affected);
                }
            }
        };
        if let Some(c) = checkers {
            c.abort();
        }
        self.shutdown(sock, dont_release).await;
    }

    /// Records one real server transition: health, keepalived's log lines, notify and
    /// quorum scripts. The table follows in [`Running::sync_vs`].
    fn on_rs_event(&mut self, vi: usize, ri: usize, ev: &crate::check::runner::RsEvent) {
        let config = &self.config;
        let vs = &config.ipvs.virtual_servers[vi];
        let rs = &vs.real_servers[ri];
        if let Some(reason) = &ev.cause.reason {
            info!("{reason}");
        }
        let old_weight = self.health[vi].weight.get(ri).copied();
        let change = self.health[vi].update(vs, ri, ev.up, ev.cause.weight);
        let new_weight = self.health[vi].weight.get(ri).copied();
        let after = vs_entries(config, vs, &self.health[vi]);
        let inhibit = health::inhibit(vs, rs);
        for key in after.keys() {
            let vs_port = match key {
                ServiceKey::Addr { port, .. } => *port,
                ServiceKey::Fwmark { .. } => 0,
            };
            let rs_key = format!(
                "[{}]:{}:{}",
                rs.addr,
                fmt_service(key).split(':').nth(1).unwrap_or("tcp"),
                if rs.port == 0 { vs_port } else { rs.port }
            );
            if let (Some(o), Some(n)) = (old_weight, new_weight)
                && o != n
            {
                // keepalived ipwrapper.c update_svr_wgt.
                info!(
                    "Changing weight from {o} to {n} for {}active service {rs_key} of VS {}",
                    if ev.up { "" } else { "in" },
                    fmt_service(key)
                );
            }
            if change.rs_changed {
                let (verb, prep) = match (ev.up, inhibit) {
                    (true, false) => ("Adding", "to"),
                    (true, true) => ("Enabling", "of"),
                    (false, false) => ("Removing", "from"),
                    (false, true) => ("Disabling", "of"),
                };
                info!("{verb} service {rs_key} {prep} VS {}", fmt_service(key));
                crate::mail::real_server(vs, rs, &rs_key, &fmt_service(key), ev.up);
            }
            if let Some(q) = change.quorum {
                let (q0, h) = (vs.health.quorum, vs.health.hysteresis);
                let w = self.health[vi].live_weight();
                if q {
                    info!(
                        "Gained quorum {q0}+{h}={} <= {w} for VS {}",
                        q0 + h,
                        fmt_service(key)
                    );
                } else {
                    info!(
                        "Lost quorum {q0}-{h}={} > {w} for VS {}",
                        q0.saturating_sub(h),
                        fmt_service(key)
                    );
                }
            }
        }
        if change.rs_changed {
            let cmd = if ev.up {
                &rs.health.notify_up
            } else {
                &rs.health.notify_down
            };
            if let Some(c) = cmd {
                crate::script::spawn_command(c);
            }
        }
        match change.quorum {
            Some(true) => {
                if let Some(c) = &vs.health.quorum_up {
                    crate::script::spawn_command(c);
                }
            }
            Some(false) => {
                if let Some(c) = &vs.health.quorum_down {
                    crate::script::spawn_command(c);
                }
            }
            None => {}
        }
    }

    /// Brings the kernel's services of the virtual servers `affected` in line with their
    /// health: diffs what we own for them against the new destinations and sends the minimal
    /// changes in one pipelined batch.
    fn sync_vs(
        &mut self,
        sock: Option<&mut IpvsSocket>,
        affected: &std::collections::BTreeSet<usize>,
    ) {
        let mut ops = Vec::new();
        let mut updated = Table::new();
        for &vi in affected {
            let vs = &self.config.ipvs.virtual_servers[vi];
            let after = vs_entries(&self.config, vs, &self.health[vi]);
            let current: Table = after
                .keys()
                .filter_map(|k| self.owned.get(k).map(|e| (*k, e.clone())))
                .collect();
            ops.extend(reconcile(&after, &current));
            updated.extend(after);
        }
        if !ops.is_empty()
            && let Some(sock) = sock
        {
            match sock.apply(&ops) {
                Ok(failed) => {
                    for (op, e) in failed {
                        error!("IPVS: cannot {op}: {e}");
                    }
                }
                Err(e) => error!("IPVS: {e}"),
            }
        }
        self.owned.extend(updated);
    }

    async fn shutdown(self, sock: Option<IpvsSocket>, dont_release: bool) {
        for vs in &self.config.ipvs.virtual_servers {
            if !vs.health.omega {
                continue;
            }
            if let Some(c) = &vs.health.quorum_down {
                crate::script::spawn_command(c);
            }
            for rs in &vs.real_servers {
                if let Some(c) = &rs.health.notify_down {
                    crate::script::spawn_command(c);
                }
            }
        }
        let Some(mut sock) = sock else { return };
        if dont_release {
            info!("IPVS: leaving the virtual services in place (--dont-release-ipvs)");
            return;
        }
        let owned = self.owned;
        let r = tokio::task::spawn_blocking(move || remove_owned(&mut sock, &owned)).await;
        match r {
            Ok(Ok(n)) => info!("IPVS: removed {n} virtual service(s)"),
            Ok(Err(e)) => warn!("IPVS: cannot remove the virtual services: {e}"),
            Err(e) => warn!("IPVS: teardown task failed: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{LoadOptions, load_str};
    use std::path::Path;

    fn table(text: &str) -> Table {
        let l = load_str(Path::new("t.conf"), text, &LoadOptions::default());
        desired_table(&l.config)
    }

    #[test]
    fn service_and_dest_fields_follow_keepalived() {
        let t = table(
            "virtual_server 10.0.0.1 80 {\n lb_algo rr\n lb_kind DR\n persistence_timeout 50\n\
             persistence_granularity 255.255.255.0\n real_server 10.0.1.1 80 {\n weight 2\n }\n\
             real_server 10.0.1.2 8080 {\n lvs_method TUN\n uthreshold 9\n }\n}\n",
        );
        let e = t.values().next().unwrap();
        let s = &e.service;
        assert_eq!(s.sched, "rr");
        assert_eq!(s.flags, IP_VS_SVC_F_PERSISTENT);
        assert_eq!(s.timeout, 50);
        // 255.255.255.0 in network order, read natively (the kernel's __be32).
        assert_eq!(s.netmask.to_ne_bytes(), [255, 255, 255, 0]);
        let d: Vec<_> = e.dests.values().collect();
        assert_eq!((d[0].fwd, d[0].weight), (IP_VS_CONN_F_DROUTE, 2));
        assert_eq!(
            (d[1].fwd, d[1].u_thresh, d[1].key.port),
            // keepalived resets a TUN real server's port to the service's (only NAT maps).
            (IP_VS_CONN_F_TUNNEL, 9, 80)
        );
    }

    #[test]
    fn tunnel_options_reach_the_dest() {
        let t = table(
            "virtual_server 10.0.0.1 80 {\n lb_kind TUN type gue port 6080 remcsum\n\
             real_server 10.0.1.1 80\n real_server 10.0.1.2 80 {\n lvs_method TUN type gre csum\n }\n\
             real_server 10.0.1.3 80 {\n lvs_method NAT\n }\n}\n",
        );
        let d: Vec<_> = t.values().next().unwrap().dests.values().collect();
        let tun = |kind, port, flags| Tunnel { kind, port, flags };
        assert_eq!(
            d[0].tun,
            tun(
                IP_VS_CONN_F_TUNNEL_TYPE_GUE,
                6080,
                IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM
            )
        );
        assert_eq!(
            d[1].tun,
            tun(
                IP_VS_CONN_F_TUNNEL_TYPE_GRE,
                0,
                IP_VS_TUNNEL_ENCAP_FLAG_CSUM
            )
        );
        assert_eq!((d[2].fwd, d[2].tun), (IP_VS_CONN_F_MASQ, Tunnel::default()));
    }

    #[test]
    fn groups_expand_and_sorry_server_only_while_reals_are_down() {
        // (A virtual server without any real server is dropped at load, as keepalived does;
        // `alpha` starts this one's only real server down.)
        let t = table(
            "virtual_server_group G {\n 10.0.0.3-5 80\n fwmark 2\n}\n\
             virtual_server group G {\n protocol UDP\n real_server 10.0.1.1 80\n}\n\
             virtual_server 2001:db8::1 443 {\n protocol TCP\n alpha\n sorry_server 2001:db8::9\n\
             real_server 2001:db8::2 443 {\n TCP_CHECK {\n }\n }\n}\n\
             virtual_server 10.0.0.9 443 {\n protocol TCP\n sorry_server 10.0.9.9 80\n real_server 10.0.1.1 443\n}\n",
        );
        let keys: Vec<String> = t.keys().map(|k| k.to_string()).collect();
        assert_eq!(
            keys,
            [
                "TCP 10.0.0.9:443",
                "TCP [2001:db8::1]:443",
                "UDP 10.0.0.3:80",
                "UDP 10.0.0.4:80",
                "UDP 10.0.0.5:80",
                "FWM 2"
            ]
        );
        let v6 = &t[&ServiceKey::Addr {
            protocol: IPPROTO_TCP,
            addr: "2001:db8::1".parse().unwrap(),
            port: 443,
        }];
        assert_eq!(v6.service.netmask, 128);
        let sorry: Vec<_> = v6.dests.keys().collect();
        assert_eq!(
            sorry,
            [&DestKey {
                addr: "2001:db8::9".parse().unwrap(),
                port: 443
            }]
        );
        let with_reals = &t[&ServiceKey::Addr {
            protocol: IPPROTO_TCP,
            addr: "10.0.0.9".parse().unwrap(),
            port: 443,
        }];
        assert_eq!(
            with_reals.dests.len(),
            1,
            "sorry server stays out while reals are up"
        );
    }
}
