//! Programming the kernel's table: the start-up step ([`program`]: open the socket,
//! `lvs_flush`/`lvs_timeouts`, the config's table), and the one move from the table
//! rkeepalived owns to the one it wants ([`apply_reload`]) that start-up, reload and shutdown
//! all use. Blocking (netlink requests): the caller picks the thread.

use crate::config::model::Config;
use crate::ipvs::IpvsError;
use crate::ipvs::desired::{desired_table_with, starting_health};
use crate::ipvs::genl::IpvsSocket;
use crate::ipvs::health::VsHealth;
use crate::ipvs::model::Table;
use crate::ipvs::reconcile::{reconcile, teardown};
use tracing::{error, info};

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

/// The start-up programming of the table ([`program`]), handed to
/// [`crate::ipvs::controller::Controller::start_programmed`].
pub struct Programmed {
    /// `None` when IPVS could not be opened or the table not programmed (already logged).
    pub(crate) sock: Option<IpvsSocket>,
    /// Why IPVS could not be opened at all (no `ip_vs` in the kernel, even after
    /// `modprobe ip_vs`; no netlink socket), as keepalived's `IPVS: Can't initialize ipvs`.
    pub(crate) unavailable: Option<IpvsError>,
    /// The config's table, as sent to the kernel.
    pub(crate) owned: Table,
    /// The health the table was computed from (FILE_CHECK files read, `alpha` applied).
    pub(crate) health: Vec<VsHealth>,
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
