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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealServerHealth {
    checkers_up: Vec<bool>,
}

impl RealServerHealth {
    /// A real server with the given initial checker states (up unless `alpha`).
    pub fn new(initial: Vec<bool>) -> RealServerHealth {
        RealServerHealth {
            checkers_up: initial,
        }
    }

    /// Adds a checker in state `up`; returns its slot.
    pub fn push(&mut self, up: bool) -> usize {
        self.checkers_up.push(up);
        self.checkers_up.len() - 1
    }

    /// Up when every checker is up (a real server with no checker is always up).
    pub fn is_up(&self) -> bool {
        self.checkers_up.iter().all(|&u| u)
    }

    /// Records checker `slot`'s new state; returns the real server's new state if it changed.
    pub fn update(&mut self, slot: usize, up: bool) -> Option<bool> {
        let before = self.is_up();
        if let Some(s) = self.checkers_up.get_mut(slot) {
            *s = up;
        }
        let after = self.is_up();
        (before != after).then_some(after)
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
}
