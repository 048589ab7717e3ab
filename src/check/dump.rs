//! The SIGUSR1 data dump of the checker side (see [`crate::data_file`] for where and how it
//! is written): keepalived 2.2.7 writes
//! `keepalived_check.data` in `$TMPDIR` (default `/tmp`) from its checker process
//! (check_data.c `dump_data_check`: "Health checkers" then "LVS Topology").
//!
//! rkeepalived writes the same file name and section titles with keepalived's line labels for
//! what it keeps (`Keepalive method`, `Enabled`, `Up`, `Has run`, `RIP = …, RPORT = …,
//! WEIGHT = …`, `alive`, `num failed checkers`), plus two lines keepalived does not have:
//! `Last result` (`OK` or `failed: REASON`) and `Last failure` (the most recent failure
//! text, e.g. `TCP connection to [10.0.0.2]:tcp:80 failed.`). The format is text for people;
//! it is not a stable interface.

use super::build::RsIndex;
use super::event::{Endpoint, RsId, protocol_name};
use super::status::{Board, BoardEntry};
use crate::config::Config;
use crate::config::model::{RealServer, VirtualServer, VsTarget};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The checker data of the running configuration, set once the IPVS side starts (shared by
/// the SIGUSR1 dump and the `STATUS=` line).
pub type CheckDataSlot = std::sync::Arc<
    std::sync::OnceLock<std::sync::Arc<std::sync::RwLock<std::sync::Arc<CheckData>>>>,
>;

/// The IPVS half of the `STATUS=` line: `IPVS: N virtual servers, real servers U/T up`, or
/// `None` when no virtual server runs.
pub fn ipvs_status(check_data: &CheckDataSlot) -> Option<String> {
    let data = check_data.get()?;
    let data = data.read().unwrap_or_else(|e| e.into_inner()).clone();
    let (vs, up, total) = data.summary();
    (vs > 0).then(|| format!("IPVS: {vs} virtual servers, real servers {up}/{total} up"))
}

/// keepalived's checker data file name.
pub const CHECK_DATA_FILE: &str = "keepalived_check.data";

/// What the checker data dump needs: the configuration, which real server each runner id
/// stands for, and the live check records.
#[derive(Debug, Clone)]
pub struct CheckData {
    pub config: std::sync::Arc<Config>,
    pub index: RsIndex,
    pub board: Board,
}

fn yes(b: bool) -> &'static str {
    if b { "Yes" } else { "No" }
}

/// `[IP]:proto:PORT`, `FWM N` or `[group NAME]`, as keepalived's `FMT_VS`.
pub fn fmt_vs(vs: &VirtualServer) -> String {
    match &vs.target {
        VsTarget::Addr { addr, port } => Endpoint {
            addr: *addr,
            protocol: vs.protocol,
            port: *port,
        }
        .to_string(),
        VsTarget::Fwmark { mark, .. } => format!("FWM {mark}"),
        VsTarget::Group(name) => format!("[{name}]"),
    }
}

/// `[IP]:proto:PORT` of a real server (the virtual server's port when it has none).
pub fn fmt_rs(vs: &VirtualServer, rs: &RealServer) -> String {
    let port = match (&vs.target, rs.port) {
        (VsTarget::Addr { port, .. }, 0) => *port,
        (_, p) => p,
    };
    Endpoint {
        addr: rs.addr,
        protocol: vs.protocol,
        port,
    }
    .to_string()
}

impl CheckData {
    /// Virtual servers, real servers up (no failed checker, as the dump's `alive = 1`) and
    /// real servers in all, for the service status line.
    pub fn summary(&self) -> (usize, usize, usize) {
        let ipvs = &self.config.ipvs;
        let mut down: std::collections::HashSet<(usize, usize)> = Default::default();
        for e in &self.board.entries {
            if !e.record.snapshot().up
                && let Some(&pair) = self.index.get(e.rs)
            {
                down.insert(pair);
            }
        }
        let total: usize = ipvs
            .virtual_servers
            .iter()
            .map(|v| v.real_servers.len())
            .sum();
        (ipvs.virtual_servers.len(), total - down.len(), total)
    }

    /// The dump's text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let ipvs = &self.config.ipvs;
        // One pass over the board and the index, so that a large pool dumps in linear time.
        let mut by_rs: HashMap<RsId, Vec<&BoardEntry>> = HashMap::new();
        for e in &self.board.entries {
            by_rs.entry(e.rs).or_default().push(e);
        }
        let ids: HashMap<(usize, usize), RsId> = self
            .index
            .iter()
            .enumerate()
            .map(|(id, &pair)| (pair, id))
            .collect();
        let _ = writeln!(out, "------< Health checkers >------");
        for (id, &(vi, ri)) in self.index.iter().enumerate() {
            let vs = &ipvs.virtual_servers[vi];
            let rs = &vs.real_servers[ri];
            for e in by_rs.get(&id).into_iter().flatten() {
                let s = e.record.snapshot();
                let _ = writeln!(out, " {} -> {}", fmt_vs(vs), fmt_rs(vs, rs));
                let _ = writeln!(out, "   Keepalive method = {}", e.method());
                let _ = writeln!(out, "   Service = {}", e.service());
                let _ = writeln!(out, "   Enabled = {}", yes(s.enabled));
                let _ = writeln!(out, "   Up = {}", yes(s.up));
                let _ = writeln!(out, "   Has run = {}", yes(s.has_run));
                let last = match &s.last {
                    None => "none".to_string(),
                    Some((Ok(()), _)) => "OK".to_string(),
                    Some((Err(e), _)) => format!("failed: {e}"),
                };
                let _ = writeln!(out, "   Last result = {last}");
                if let Some(f) = &s.last_failure {
                    let _ = writeln!(out, "   Last failure = {f}");
                }
            }
        }
        let _ = writeln!(out, "------< LVS Topology >------");
        for (vi, vs) in ipvs.virtual_servers.iter().enumerate() {
            let _ = writeln!(out, " ------< Virtual server >------");
            match &vs.target {
                VsTarget::Addr { addr, port } => {
                    let _ = writeln!(out, " VS VIP = {addr}, VPORT = {port}");
                }
                VsTarget::Fwmark { mark, .. } => {
                    let _ = writeln!(out, " VS FWMARK = {mark}");
                }
                VsTarget::Group(name) => {
                    let _ = writeln!(out, " VS GROUP = {name}");
                }
            }
            let _ = writeln!(out, "   delay_loop = {:?}", vs.delay_loop);
            let _ = writeln!(out, "   lvs_sched = {}", vs.lb_algo);
            let _ = writeln!(
                out,
                "   protocol = {}",
                protocol_name(vs.protocol).to_ascii_uppercase()
            );
            let _ = writeln!(
                out,
                "   quorum = {}, hysteresis = {}",
                vs.health.quorum, vs.health.hysteresis
            );
            if vs.health.ha_suspend {
                let _ = writeln!(out, "   Using HA suspend");
            }
            for (ri, rs) in vs.real_servers.iter().enumerate() {
                let failed = ids
                    .get(&(vi, ri))
                    .and_then(|id| by_rs.get(id))
                    .into_iter()
                    .flatten()
                    .filter(|e| !e.record.snapshot().up)
                    .count();
                let port = match (&vs.target, rs.port) {
                    (VsTarget::Addr { port, .. }, 0) => *port,
                    (_, p) => p,
                };
                let _ = writeln!(out, "   ------< Real server >------");
                let _ = writeln!(
                    out,
                    "   RIP = {}, RPORT = {port}, WEIGHT = {}",
                    rs.addr, rs.weight
                );
                let _ = writeln!(out, "   alive = {}", u8::from(failed == 0));
                let _ = writeln!(out, "   num failed checkers = {failed}");
            }
        }
        out
    }

    /// Writes the dump to `dir`/[`CHECK_DATA_FILE`] with [`crate::data_file::write`] and
    /// returns the path.
    pub fn write(&self, dir: &Path) -> std::io::Result<PathBuf> {
        crate::data_file::write(dir, CHECK_DATA_FILE, self.render().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::build::runner_for;
    use crate::config::{LoadOptions, load_str};

    #[test]
    fn the_dump_lists_each_real_server_s_checkers_with_their_last_result() {
        let config = load_str(
            Path::new("t.conf"),
            "virtual_server 10.0.0.1 80 {\n protocol TCP\n ha_suspend\n\
             real_server 10.0.0.2 80 {\n weight 3\n TCP_CHECK {\n }\n }\n\
             real_server 10.0.0.3 80 {\n }\n}\n",
            &LoadOptions::default(),
        )
        .config;
        let (runner, index, _) = runner_for(&config);
        let board = runner.board();
        board.entries[0].record.attempt(
            Err("TCP connection to [10.0.0.2]:tcp:80 failed.".into()),
            false,
        );
        let text = CheckData {
            config: config.into(),
            index,
            board,
        }
        .render();
        let want = "------< Health checkers >------\n \
             [10.0.0.1]:tcp:80 -> [10.0.0.2]:tcp:80\n   Keepalive method = TCP_CHECK\n   \
             Service = [10.0.0.2]:tcp:80\n   Enabled = No\n   Up = No\n   Has run = Yes\n   \
             Last result = failed: TCP connection to [10.0.0.2]:tcp:80 failed.\n   \
             Last failure = TCP connection to [10.0.0.2]:tcp:80 failed.\n\
             ------< LVS Topology >------\n ------< Virtual server >------\n \
             VS VIP = 10.0.0.1, VPORT = 80\n   delay_loop = 60s\n   lvs_sched = wlc\n   \
             protocol = TCP\n   quorum = 1, hysteresis = 0\n   Using HA suspend\n   \
             ------< Real server >------\n   RIP = 10.0.0.2, RPORT = 80, WEIGHT = 3\n   \
             alive = 0\n   num failed checkers = 1\n   ------< Real server >------\n   \
             RIP = 10.0.0.3, RPORT = 80, WEIGHT = 1\n   alive = 1\n   num failed checkers = 0\n";
        assert_eq!(text, want);
    }
}
