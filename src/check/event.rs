//! The vocabulary between the checkers and their owner (the IPVS controller): which real
//! server ([`RsId`]), its aggregated health ([`RealServerHealth`]), what is reported
//! ([`RsEvent`]), and keepalived's way of writing a service, `[IP]:proto:PORT` ([`Endpoint`]).
//! Pure data; both `check` and `ipvs` import it.

use super::Event;
use crate::config::model::VsProtocol;
use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// Identifies a real server of a virtual server for the owner of the runner (the IPVS
/// controller): an index it chose (see [`super::build::RsIndex`]).
pub type RsId = usize;

/// The aggregated health of one real server from its checkers' states. Pure.
///
/// A table keeps one per real server, so it takes 16 bytes: up to 64 checker slots as a
/// bitset; a real server with more checkers keeps one flag per slot on the heap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealServerHealth(Slots);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Slots {
    /// `len` slots (at most 64); bit `i` of `down` is set while slot `i` is down.
    Few { len: u8, down: u64 },
    /// More than 64 slots: `true` while that slot is down. Boxed: a bare `Vec` would make
    /// every real server's entry 24 bytes, for a case almost no configuration has.
    #[allow(clippy::box_collection)]
    Many(Box<Vec<bool>>),
}

impl Default for RealServerHealth {
    fn default() -> Self {
        RealServerHealth(Slots::Few { len: 0, down: 0 })
    }
}

impl RealServerHealth {
    /// A real server with the given initial checker states (up unless `alpha`).
    pub fn new(initial: Vec<bool>) -> RealServerHealth {
        let mut h = RealServerHealth::default();
        for up in initial {
            h.push(up);
        }
        h
    }

    /// Adds a checker in state `up`; returns its slot.
    pub fn push(&mut self, up: bool) -> usize {
        match &mut self.0 {
            Slots::Few { len, down } if *len < 64 => {
                if !up {
                    *down |= 1 << *len;
                }
                *len += 1;
                usize::from(*len) - 1
            }
            Slots::Few { len, down } => {
                let mut many: Vec<bool> = (0..*len).map(|i| *down & (1 << i) != 0).collect();
                many.push(!up);
                self.0 = Slots::Many(Box::new(many));
                64
            }
            Slots::Many(v) => {
                v.push(!up);
                v.len() - 1
            }
        }
    }

    /// Up when every checker is up (a real server with no checker is always up).
    pub fn is_up(&self) -> bool {
        match &self.0 {
            Slots::Few { down, .. } => *down == 0,
            Slots::Many(v) => !v.contains(&true),
        }
    }

    /// Records checker `slot`'s new state; returns the real server's new state if it changed.
    pub fn update(&mut self, slot: usize, up: bool) -> Option<bool> {
        let before = self.is_up();
        match &mut self.0 {
            Slots::Few { len, down } if slot < usize::from(*len) => {
                if up {
                    *down &= !(1 << slot);
                } else {
                    *down |= 1 << slot;
                }
            }
            Slots::Few { .. } => {}
            Slots::Many(v) => {
                if let Some(s) = v.get_mut(slot) {
                    *s = !up;
                }
            }
        }
        let after = self.is_up();
        (before != after).then_some(after)
    }
}

/// Every real server's [`RealServerHealth`] by [`RsId`]: the ids are indexes (the owner
/// numbers its real servers from 0), so a table is one vector, not a map. A real server
/// never subscribed reads as one without checkers (up).
#[derive(Debug, Clone, Default)]
pub struct HealthTable(Vec<RealServerHealth>);

impl HealthTable {
    /// Real server `rs`'s health, if the table reaches it.
    pub fn get(&self, rs: RsId) -> Option<&RealServerHealth> {
        self.0.get(rs)
    }

    /// Real server `rs`'s health to update, if the table reaches it.
    pub fn get_mut(&mut self, rs: RsId) -> Option<&mut RealServerHealth> {
        self.0.get_mut(rs)
    }

    /// An empty table with room for `n` real servers.
    pub fn with_capacity(n: usize) -> HealthTable {
        HealthTable(Vec::with_capacity(n))
    }

    /// Real server `rs`'s health, the table grown to reach it.
    pub fn entry(&mut self, rs: RsId) -> &mut RealServerHealth {
        if self.0.len() <= rs {
            self.0.resize_with(rs + 1, RealServerHealth::default);
        }
        &mut self.0[rs]
    }

    /// Frees the room left over from growing.
    pub fn shrink_to_fit(&mut self) {
        self.0.shrink_to_fit();
    }
}

/// What the runner reports to its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsEvent {
    pub rs: RsId,
    /// The real server's new aggregated state.
    pub up: bool,
    /// The checker event that caused it (its reason says why a check failed).
    pub cause: Event,
}

/// A service as keepalived writes it in its log, dump and mails (`FMT_RS`/`FMT_VS` of
/// keepalived's check_data.h): `[10.0.0.2]:tcp:80`, `[2001:db8::1]:udp:53`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    pub addr: IpAddr,
    pub protocol: VsProtocol,
    pub port: u16,
}

impl Endpoint {
    /// A TCP endpoint (the checkers that connect: TCP_CHECK, HTTP_GET, SMTP_CHECK).
    pub fn tcp(addr: SocketAddr) -> Endpoint {
        Endpoint {
            addr: addr.ip(),
            protocol: VsProtocol::Tcp,
            port: addr.port(),
        }
    }

    /// A UDP endpoint (DNS_CHECK, UDP_CHECK).
    pub fn udp(addr: SocketAddr) -> Endpoint {
        Endpoint {
            protocol: VsProtocol::Udp,
            ..Endpoint::tcp(addr)
        }
    }
}

/// keepalived's lower-case protocol name (`tcp`, `udp`, `sctp`).
pub fn protocol_name(p: VsProtocol) -> &'static str {
    match p {
        VsProtocol::Tcp => "tcp",
        VsProtocol::Udp => "udp",
        VsProtocol::Sctp => "sctp",
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}]:{}:{}",
            self.addr,
            protocol_name(self.protocol),
            self.port
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_print_as_keepalived_and_health_needs_every_checker() {
        let e = Endpoint {
            addr: "2001:db8::1".parse().unwrap(),
            protocol: VsProtocol::Sctp,
            port: 9,
        };
        assert_eq!(e.to_string(), "[2001:db8::1]:sctp:9");
        let a: SocketAddr = "10.0.0.2:53".parse().unwrap();
        assert_eq!(Endpoint::udp(a).to_string(), "[10.0.0.2]:udp:53");
        assert_eq!(Endpoint::tcp(a).to_string(), "[10.0.0.2]:tcp:53");

        let mut h = RealServerHealth::new(vec![true]);
        assert_eq!(h.push(false), 1);
        assert!(!h.is_up());
        assert_eq!(h.update(1, true), Some(true));
        assert_eq!(h.update(0, true), None);
        assert_eq!(h.update(0, false), Some(false));
    }

    /// Past 64 checkers the slots go on the heap; every slot still counts.
    #[test]
    fn health_of_a_real_server_with_many_checkers() {
        let mut h = RealServerHealth::new(vec![true; 130]);
        assert!(h.is_up());
        assert_eq!(h.push(true), 130);
        for slot in [0, 63, 64, 127, 128, 130] {
            assert_eq!(h.update(slot, false), Some(false), "slot {slot}");
            assert_eq!(h.update(slot, false), None, "slot {slot} again");
            assert_eq!(h.update(slot, true), Some(true), "slot {slot} back");
        }
        assert_eq!(h.update(131, false), None, "no such slot");
        assert!(h.is_up());
        let h = RealServerHealth::new(vec![true, true, false]);
        assert!(!h.is_up());
        assert!(std::mem::size_of::<RealServerHealth>() <= 16);

        let mut t = HealthTable::default();
        assert!(t.get(3).is_none());
        t.entry(3).push(false);
        assert!(
            t.get(1).is_some_and(RealServerHealth::is_up),
            "a gap reads as up"
        );
        assert!(!t.get(3).unwrap().is_up());
        assert_eq!(t.get_mut(3).unwrap().update(0, true), Some(true));
    }
}
