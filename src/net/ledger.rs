//! What this process has applied to the kernel, kept in a file so that whoever outlives it can
//! take it back: the supervisor when the daemon dies by a signal or a panic, or the next
//! daemon when the whole process tree was killed (issue 11).
//!
//! keepalived gets the same from its process tree: when the parent dies, the VRRP child's
//! parent-death signal makes it release its VIPs. A daemon killed with SIGKILL cannot release
//! anything itself; the record lets the survivor do it without reading the configuration
//! again (which may have changed since).
//!
//! The record lists VIPs and other addresses (`virtual_ipaddress`, `static_ipaddress`), routes
//! and rules (`virtual_routes`/`virtual_rules`, `static_*`), VMAC links and the nftables tables
//! the daemon created. [`Ledger`] rewrites the file (to a temporary name, then `rename`) after
//! each change, which happen only on state changes, never per advert. IPVS rows are not
//! listed: the restarted daemon reconciles the table by difference, so a real server keeps its
//! connections across a daemon crash.

use serde::{Deserialize, Serialize};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::objects::{IfAddr, Route, Rule};

/// Everything applied and not yet taken back.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    /// `(ifindex, address)`.
    pub addrs: Vec<(u32, IfAddr)>,
    pub routes: Vec<Route>,
    pub rules: Vec<Rule>,
    /// Interface indexes of VMAC (macvlan) links the daemon created.
    pub links: Vec<u32>,
    /// nftables tables created, as `(family, name)`: `("ip", "keepalived")`.
    pub nft_tables: Vec<(String, String)>,
    /// The network namespace (`/run/netns/NAME`) the daemon entered (`-s`, `net_namespace`):
    /// everything above is released there.
    #[serde(default)]
    pub netns: Option<String>,
}

impl Applied {
    /// Nothing recorded (a namespace alone is nothing to release).
    pub fn is_empty(&self) -> bool {
        self.addrs.is_empty()
            && self.routes.is_empty()
            && self.rules.is_empty()
            && self.links.is_empty()
            && self.nft_tables.is_empty()
    }

    /// One line for the log: `3 addresses, 1 route, 0 rules, 0 links, 1 nftables table`.
    pub fn summary(&self) -> String {
        format!(
            "{} address(es), {} route(s), {} rule(s), {} VMAC link(s), {} nftables table(s)",
            self.addrs.len(),
            self.routes.len(),
            self.rules.len(),
            self.links.len(),
            self.nft_tables.len()
        )
    }
}

fn insert<T: PartialEq + Clone>(v: &mut Vec<T>, x: &T) -> bool {
    if v.contains(x) {
        false
    } else {
        v.push(x.clone());
        true
    }
}

fn remove<T: PartialEq>(v: &mut Vec<T>, x: &T) -> bool {
    let before = v.len();
    v.retain(|y| y != x);
    v.len() != before
}

/// The record of one running daemon, kept in `path`.
#[derive(Debug)]
pub struct Ledger {
    path: PathBuf,
    record: Mutex<Record>,
}

/// The record in memory, and whether writing it is held back (see [`Ledger::hold`]).
#[derive(Debug, Default)]
struct Record {
    applied: Applied,
    /// Open [`Held`] guards.
    held: u32,
    /// A change was made while held: the file is behind.
    dirty: bool,
}

/// Holds the file back while it lives: changes made meanwhile are written once, when the last
/// guard is dropped. From [`Ledger::hold`].
#[must_use = "the record is written when the guard is dropped"]
pub struct Held<'a> {
    ledger: &'a Ledger,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        let mut r = self.ledger.lock();
        r.held = r.held.saturating_sub(1);
        if r.held == 0 && r.dirty {
            r.dirty = false;
            self.ledger.write(&r.applied);
        }
    }
}

impl Ledger {
    /// Starts an empty record in `path` (replacing what is there: read it with
    /// [`Ledger::load`] and release it first).
    ///
    /// Errors: the file cannot be written.
    pub fn create(path: &Path) -> std::io::Result<Ledger> {
        let ledger = Ledger {
            path: path.to_owned(),
            record: Mutex::new(Record::default()),
        };
        ledger.persist(&Applied::default())?;
        Ok(ledger)
    }

    /// The record left in `path`, if there is one that reads.
    pub fn load(path: &Path) -> Option<Applied> {
        let text = std::fs::read_to_string(path).ok()?;
        match serde_json::from_str(&text) {
            Ok(a) => Some(a),
            Err(e) => {
                tracing::warn!("{}: unreadable state record ({e}); ignored", path.display());
                None
            }
        }
    }

    /// Removes the record at a clean exit (everything was released by the daemon itself).
    pub fn remove(&self) {
        let _ = std::fs::remove_file(&self.path);
    }

    /// What is recorded now.
    pub fn applied(&self) -> Applied {
        self.lock().applied.clone()
    }

    /// Defers writing the file until the guard is dropped: the changes made meanwhile are
    /// written once, then. The `vrrp-kernel` worker holds it over the jobs queued together
    /// (a take-over's VIPs and its first GARP round), so that the file is written after the
    /// GARPs went out rather than between the address and its GARP; the record is still
    /// written before the jobs are reported done. Guards nest.
    pub fn hold(&self) -> Held<'_> {
        self.lock().held += 1;
        Held { ledger: self }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Record> {
        self.record.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn change(&self, f: impl FnOnce(&mut Applied) -> bool) {
        let mut r = self.lock();
        if f(&mut r.applied) {
            if r.held > 0 {
                r.dirty = true;
            } else {
                self.write(&r.applied);
            }
        }
    }

    fn write(&self, applied: &Applied) {
        if let Err(e) = self.persist(applied) {
            tracing::warn!("cannot write state record {}: {e}", self.path.display());
        }
    }

    fn persist(&self, applied: &Applied) -> std::io::Result<()> {
        let tmp = self.path.with_extension("tmp");
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(&serde_json::to_vec(applied).map_err(std::io::Error::other)?)?;
        std::fs::rename(&tmp, &self.path)
    }

    /// The daemon entered network namespace `name`: what follows is applied there.
    pub fn entered_netns(&self, name: &str) {
        self.change(|a| {
            let changed = a.netns.as_deref() != Some(name);
            a.netns = Some(name.to_owned());
            changed
        });
    }

    pub fn added_addr(&self, ifindex: u32, addr: &IfAddr) {
        self.change(|a| insert(&mut a.addrs, &(ifindex, addr.clone())));
    }
    pub fn removed_addr(&self, ifindex: u32, addr: &IfAddr) {
        self.change(|a| remove(&mut a.addrs, &(ifindex, addr.clone())));
    }
    pub fn added_route(&self, r: &Route) {
        self.change(|a| insert(&mut a.routes, r));
    }
    pub fn removed_route(&self, r: &Route) {
        self.change(|a| remove(&mut a.routes, r));
    }
    pub fn added_rule(&self, r: &Rule) {
        self.change(|a| insert(&mut a.rules, r));
    }
    pub fn removed_rule(&self, r: &Rule) {
        self.change(|a| remove(&mut a.rules, r));
    }
    pub fn added_link(&self, ifindex: u32) {
        self.change(|a| insert(&mut a.links, &ifindex));
    }
    pub fn removed_link(&self, ifindex: u32) {
        self.change(|a| remove(&mut a.links, &ifindex));
    }
    pub fn added_nft_table(&self, family: &str, table: &str) {
        self.change(|a| insert(&mut a.nft_tables, &(family.to_owned(), table.to_owned())));
    }
    pub fn removed_nft_table(&self, family: &str, table: &str) {
        self.change(|a| remove(&mut a.nft_tables, &(family.to_owned(), table.to_owned())));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_follows_changes_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        let l = Ledger::create(&path).unwrap();
        assert_eq!(Ledger::load(&path), Some(Applied::default()));
        let a = IfAddr {
            addr: "10.0.0.1".parse().unwrap(),
            prefix_len: 24,
            brd: None,
            scope: 0,
            label: None,
            peer: None,
        };
        l.added_addr(3, &a);
        l.added_addr(3, &a);
        l.added_nft_table("ip", "keepalived");
        let got = Ledger::load(&path).unwrap();
        assert_eq!(got.addrs, vec![(3, a.clone())]);
        assert_eq!(got.nft_tables, vec![("ip".into(), "keepalived".into())]);
        l.removed_addr(3, &a);
        l.removed_nft_table("ip", "keepalived");
        assert!(Ledger::load(&path).unwrap().is_empty());
        l.remove();
        assert_eq!(Ledger::load(&path), None);
    }

    #[test]
    fn a_held_record_is_written_when_the_last_guard_drops() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        let l = Ledger::create(&path).unwrap();
        let outer = l.hold();
        let inner = l.hold();
        l.added_link(7);
        l.added_nft_table("ip", "keepalived");
        assert!(
            Ledger::load(&path).unwrap().is_empty(),
            "written while held"
        );
        assert_eq!(
            l.applied().links,
            vec![7],
            "the memory copy follows at once"
        );
        drop(inner);
        assert!(
            Ledger::load(&path).unwrap().is_empty(),
            "written while still held"
        );
        drop(outer);
        let got = Ledger::load(&path).unwrap();
        assert_eq!(got.links, vec![7]);
        assert_eq!(got.nft_tables, vec![("ip".into(), "keepalived".into())]);
        // Not held: each change is written at once again.
        l.removed_link(7);
        assert!(Ledger::load(&path).unwrap().links.is_empty());
    }
}
