//! Local address presence from the kernel, for `ha_suspend` (keepalived check's netlink
//! reflector, `update_checker_activity`): an rtnetlink socket subscribed to
//! `RTNLGRP_IPV4_IFADDR` and `RTNLGRP_IPV6_IFADDR` (linux/rtnetlink.h), then one
//! `RTM_GETADDR` dump of every interface, so that an address added between the two is not
//! missed (it is reported twice, which [`AddrSet`] absorbs).
//!
//! The subscribed socket is read by a dedicated thread (neli's socket is blocking) that
//! forwards each `RTM_NEWADDR`/`RTM_DELADDR` as an [`AddrEvent`] to a tokio channel.

use neli::rtnl::Ifaddrmsg;
use std::collections::{HashMap, HashSet};
use std::io::Cursor;
use std::net::IpAddr;
use tokio::sync::mpsc;

use super::NetError;
use super::netlink::{IfAddrEntry, Netlink};

/// `RTNLGRP_IPV4_IFADDR` (linux/rtnetlink.h).
const RTNLGRP_IPV4_IFADDR: u32 = 5;
/// `RTNLGRP_IPV6_IFADDR` (linux/rtnetlink.h).
const RTNLGRP_IPV6_IFADDR: u32 = 9;

/// One address appearing on or leaving an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddrEvent {
    pub ifindex: u32,
    pub addr: IpAddr,
    /// `RTM_NEWADDR` (true) or `RTM_DELADDR`.
    pub added: bool,
}

/// The local addresses seen so far, with the interfaces each is on (an address may be on
/// several, e.g. an IPv6 link-local one; it is present while it is on any).
#[derive(Debug, Default, Clone)]
pub struct AddrSet(HashMap<IpAddr, HashSet<u32>>);

impl AddrSet {
    /// Applies one event.
    pub fn apply(&mut self, ev: AddrEvent) {
        if ev.added {
            self.0.entry(ev.addr).or_default().insert(ev.ifindex);
        } else if let Some(ifs) = self.0.get_mut(&ev.addr) {
            ifs.remove(&ev.ifindex);
            if ifs.is_empty() {
                self.0.remove(&ev.addr);
            }
        }
    }

    /// Whether `addr` is on some interface.
    pub fn contains(&self, addr: IpAddr) -> bool {
        self.0.contains_key(&addr)
    }
}

/// Subscribes to address events in the calling thread's network namespace, starts the reader
/// thread and returns the addresses present now (from a dump taken after subscribing). The
/// thread ends when the receiver is dropped (at the next event).
///
/// Errors: [`NetError::Io`] when the socket cannot be opened or subscribed; the dump's errors.
pub fn spawn(tx: mpsc::Sender<AddrEvent>) -> Result<Vec<AddrEvent>, NetError> {
    let types = (libc::RTM_NEWADDR, libc::RTM_DELADDR);
    let groups = [RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR];
    super::link_monitor::spawn_monitor("address monitor", &groups, types, tx, decode_addr)?;
    let now = Netlink::new()?.all_addresses()?;
    Ok(now
        .into_iter()
        .map(|a| AddrEvent {
            ifindex: a.ifindex,
            addr: a.addr,
            added: true,
        })
        .collect())
}

/// Decodes the body of one `RTM_NEWADDR` (`added`) or `RTM_DELADDR` message (`struct
/// ifaddrmsg` and its attributes, linux/if_addr.h) into an event; `None` when it does not
/// decode or carries no address. Never panics (fuzzed: fuzz/bodies.rs `rtnl`).
pub fn decode_addr(bytes: &[u8], added: bool) -> Option<AddrEvent> {
    use neli::FromBytesWithInput;
    let msg = Ifaddrmsg::from_bytes_with_input(&mut Cursor::new(bytes), bytes.len()).ok()?;
    IfAddrEntry::of(&msg).map(|a| AddrEvent {
        ifindex: a.ifindex,
        addr: a.addr,
        added,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_stays_present_while_it_is_on_any_interface() {
        let a: IpAddr = "fe80::1".parse().unwrap();
        let ev = |ifindex, added| AddrEvent {
            ifindex,
            addr: a,
            added,
        };
        let mut s = AddrSet::default();
        assert!(!s.contains(a));
        s.apply(ev(2, true));
        s.apply(ev(3, true));
        // The same address reported twice (event and dump) counts once.
        s.apply(ev(3, true));
        s.apply(ev(2, false));
        assert!(s.contains(a));
        s.apply(ev(3, false));
        assert!(!s.contains(a));
    }
}
