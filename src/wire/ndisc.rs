//! Unsolicited Neighbour Advertisement (RFC 4861 §4.4, §7.2.6): what a new IPv6 master sends
//! for each IPv6 VIP instead of a gratuitous ARP (RFC 5798 §6.4.2 "for each IPv6 address
//! associated with the virtual router, send an unsolicited ND Neighbor Advertisement with the
//! Router Flag (R) set if the router is a router, the Solicited Flag (S) unset, the Override
//! flag (O) set, the target address set to the IPv6 address ... and the Target Link-Layer
//! Address set to the virtual router MAC address").
//!
//! keepalived 2.2.7 (`keepalived/vrrp/vrrp_ndisc.c`) sends it to ff02::1 with hop limit 255,
//! the Override flag, the Router flag when the interface forwards IPv6, and a Target
//! Link-Layer Address option carrying the interface's MAC.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   Type 136    |    Code 0     |           Checksum            |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |R|S|O|                     Reserved                            |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Target Address (16 bytes)                  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! | Opt type 2    | Opt len 1     |  Target link-layer address    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+        (6 bytes)              |
//! |                                                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! The checksum covers the IPv6 pseudo-header (RFC 8200 §8.1, next header 58). A raw ICMPv6
//! socket has the kernel fill it in on send (RFC 3542 §3.1); [`Repr::emit`] computes it anyway
//! so the bytes are complete on their own (captures, tests).

use super::checksum::{fold, sum_words};
use std::net::Ipv6Addr;

/// ICMPv6 type of a Neighbour Advertisement (RFC 4861 §4.4).
pub const ICMPV6_NEIGHBOUR_ADVERT: u8 = 136;
/// IPv6 next-header number of ICMPv6.
pub const IPPROTO_ICMPV6: u8 = 58;
/// ND option type "Target Link-Layer Address" (RFC 4861 §4.6.1).
pub const OPT_TARGET_LL_ADDR: u8 = 2;
/// All-nodes link-local multicast, where unsolicited NAs go (RFC 4861 §7.2.6).
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// Hop limit of every ND message (RFC 4861 §7.1.2: receivers drop others).
pub const HOP_LIMIT: u8 = 255;
/// Length of the NA without options, bytes.
pub const HEADER_LEN: usize = 24;
/// Length of an NA with one Ethernet Target Link-Layer Address option, bytes.
pub const NA_LEN: usize = HEADER_LEN + 8;

/// Flag bits of the first byte after the checksum.
pub mod flags {
    /// Router flag (R).
    pub const ROUTER: u8 = 0x80;
    /// Solicited flag (S).
    pub const SOLICITED: u8 = 0x40;
    /// Override flag (O).
    pub const OVERRIDE: u8 = 0x20;
}

mod field {
    use std::ops::Range;
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Range<usize> = 2..4;
    pub const FLAGS: usize = 4;
    pub const TARGET: Range<usize> = 8..24;
    pub const OPTIONS: usize = 24;
}

/// Why bytes are not a Neighbour Advertisement this codec understands.
#[derive(thiserror::Error, Debug, Clone, Copy, PartialEq, Eq)]
pub enum NdiscError {
    /// Shorter than the 24-byte NA header, or an option runs past the end.
    #[error("neighbour advertisement truncated")]
    Truncated,
    /// ICMPv6 type/code is not 136/0.
    #[error("not a neighbour advertisement (ICMPv6 type {0}, code {1})")]
    NotNa(u8, u8),
    /// An option with length 0 (RFC 4861 §4.6: nodes MUST silently discard such packets).
    #[error("ND option with length 0")]
    BadOption,
    /// The checksum does not verify for the given addresses.
    #[error("bad ICMPv6 checksum")]
    BadChecksum,
}

/// A read/write view of an NA message (ICMPv6 header onwards, no IPv6 header).
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checks; accessors may panic if it is short.
    pub fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wraps a buffer of at least [`HEADER_LEN`] bytes.
    pub fn new_checked(buffer: T) -> Result<Packet<T>, NdiscError> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(NdiscError::Truncated);
        }
        Ok(Packet { buffer })
    }

    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }
    pub fn code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }
    pub fn checksum(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::CHECKSUM];
        u16::from_be_bytes([b[0], b[1]])
    }
    /// The R/S/O bits (see [`flags`]), in the top three bits.
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[field::FLAGS] & 0xe0
    }
    pub fn target(&self) -> Ipv6Addr {
        let mut o = [0u8; 16];
        o.copy_from_slice(&self.buffer.as_ref()[field::TARGET]);
        Ipv6Addr::from(o)
    }
    /// The options area (after the 24-byte header).
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[field::OPTIONS..]
    }
    /// `true` if the ICMPv6 checksum verifies for a message from `src` to `dst`.
    pub fn verify_checksum(&self, src: Ipv6Addr, dst: Ipv6Addr) -> bool {
        let msg = self.buffer.as_ref();
        fold(sum_words(msg, pseudo_sum(src, dst, msg.len()))) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn buf(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }
    pub fn set_type_code(&mut self, t: u8, code: u8) {
        self.buf()[field::TYPE] = t;
        self.buf()[field::CODE] = code;
    }
    /// Writes the R/S/O bits and zeroes the 29 reserved bits.
    pub fn set_flags(&mut self, f: u8) {
        self.buf()[field::FLAGS..field::TARGET.start].copy_from_slice(&[f & 0xe0, 0, 0, 0]);
    }
    pub fn set_target(&mut self, t: Ipv6Addr) {
        self.buf()[field::TARGET].copy_from_slice(&t.octets());
    }
    pub fn options_mut(&mut self) -> &mut [u8] {
        &mut self.buf()[field::OPTIONS..]
    }
    /// Computes and writes the checksum over the whole buffer with the pseudo-header.
    pub fn fill_checksum(&mut self, src: Ipv6Addr, dst: Ipv6Addr) {
        self.buf()[field::CHECKSUM].copy_from_slice(&[0, 0]);
        let len = self.buffer.as_ref().len();
        let sum = !fold(sum_words(self.buffer.as_ref(), pseudo_sum(src, dst, len)));
        self.buf()[field::CHECKSUM].copy_from_slice(&sum.to_be_bytes());
    }
}

/// An unsolicited NA for one VIP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Repr {
    /// The VIP being announced.
    pub target: Ipv6Addr,
    /// Router flag: set when the interface forwards IPv6 (keepalived reads
    /// `/proc/sys/net/ipv6/conf/IF/forwarding`).
    pub router: bool,
    /// Solicited flag: always false for unsolicited NAs.
    pub solicited: bool,
    /// Override flag: true so neighbours replace their cached MAC (RFC 4861 §7.2.6).
    pub override_flag: bool,
    /// Target Link-Layer Address option (Ethernet MAC), if present.
    pub target_mac: Option<[u8; 6]>,
}

impl Repr {
    /// The NA keepalived sends for `target` from an interface with MAC `mac`: O set, S unset,
    /// R as given, with the Target Link-Layer Address option.
    pub fn unsolicited(target: Ipv6Addr, mac: [u8; 6], router: bool) -> Repr {
        Repr {
            target,
            router,
            solicited: false,
            override_flag: true,
            target_mac: Some(mac),
        }
    }

    /// Reads an NA sent from `src` to `dst` (checksum verified). Options other than an
    /// Ethernet Target Link-Layer Address are skipped. Never panics.
    pub fn parse<T: AsRef<[u8]>>(
        packet: &Packet<T>,
        src: Ipv6Addr,
        dst: Ipv6Addr,
    ) -> Result<Repr, NdiscError> {
        if packet.buffer.as_ref().len() < HEADER_LEN {
            return Err(NdiscError::Truncated);
        }
        if packet.msg_type() != ICMPV6_NEIGHBOUR_ADVERT || packet.code() != 0 {
            return Err(NdiscError::NotNa(packet.msg_type(), packet.code()));
        }
        if !packet.verify_checksum(src, dst) {
            return Err(NdiscError::BadChecksum);
        }
        let f = packet.flags();
        let mut target_mac = None;
        let mut opts = packet.options();
        while !opts.is_empty() {
            if opts.len() < 2 {
                return Err(NdiscError::Truncated);
            }
            let len = usize::from(opts[1]) * 8;
            if len == 0 {
                return Err(NdiscError::BadOption);
            }
            let opt = opts.get(..len).ok_or(NdiscError::Truncated)?;
            if opt[0] == OPT_TARGET_LL_ADDR && len == 8 && target_mac.is_none() {
                let mut m = [0u8; 6];
                m.copy_from_slice(&opt[2..8]);
                target_mac = Some(m);
            }
            opts = &opts[len..];
        }
        Ok(Repr {
            target: packet.target(),
            router: f & flags::ROUTER != 0,
            solicited: f & flags::SOLICITED != 0,
            override_flag: f & flags::OVERRIDE != 0,
            target_mac,
        })
    }

    /// 24, or 32 with the link-layer address option.
    pub fn buffer_len(&self) -> usize {
        if self.target_mac.is_some() {
            NA_LEN
        } else {
            HEADER_LEN
        }
    }

    /// Writes the NA with its checksum for `src` → `dst`. Panics if the buffer is not exactly
    /// [`Repr::buffer_len`] bytes (the checksum covers the whole buffer).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut Packet<T>,
        src: Ipv6Addr,
        dst: Ipv6Addr,
    ) {
        assert_eq!(packet.buffer.as_ref().len(), self.buffer_len());
        packet.set_type_code(ICMPV6_NEIGHBOUR_ADVERT, 0);
        let mut f = 0;
        if self.router {
            f |= flags::ROUTER;
        }
        if self.solicited {
            f |= flags::SOLICITED;
        }
        if self.override_flag {
            f |= flags::OVERRIDE;
        }
        packet.set_flags(f);
        packet.set_target(self.target);
        if let Some(mac) = self.target_mac {
            let o = packet.options_mut();
            o[0] = OPT_TARGET_LL_ADDR;
            o[1] = 1;
            o[2..8].copy_from_slice(&mac);
        }
        packet.fill_checksum(src, dst);
    }
}

/// RFC 8200 §8.1 pseudo-header sum: source, destination, upper-layer length, next header 58.
fn pseudo_sum(src: Ipv6Addr, dst: Ipv6Addr, len: usize) -> u32 {
    let mut ph = [0u8; 40];
    ph[..16].copy_from_slice(&src.octets());
    ph[16..32].copy_from_slice(&dst.octets());
    ph[32..36].copy_from_slice(&(len as u32).to_be_bytes());
    ph[39] = IPPROTO_ICMPV6;
    sum_words(&ph, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// fe80::1 → ff02::1: NA with O set for fd00::100, target MAC 02:00:00:00:00:01.
    /// Checksum 0x581c computed independently (Python, RFC 1071 over the pseudo-header).
    static BYTES: [u8; 32] = [
        0x88, 0x00, 0x58, 0x1c, 0x20, 0x00, 0x00, 0x00, 0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x02, 0x01, 0x02, 0x00, 0x00, 0x00,
        0x00, 0x01,
    ];
    const SRC: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);
    const TARGET: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0x100);
    const MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];

    fn repr() -> Repr {
        Repr::unsolicited(TARGET, MAC, false)
    }

    #[test]
    fn test_deconstruct() {
        let p = Packet::new_checked(&BYTES[..]).unwrap();
        assert_eq!(p.msg_type(), 136);
        assert_eq!(p.code(), 0);
        assert_eq!(p.checksum(), 0x581c);
        assert_eq!(p.flags(), flags::OVERRIDE);
        assert_eq!(p.target(), TARGET);
        assert_eq!(p.options(), &[2, 1, 2, 0, 0, 0, 0, 1]);
        assert!(p.verify_checksum(SRC, ALL_NODES));
        assert!(!p.verify_checksum(TARGET, ALL_NODES));
    }

    #[test]
    fn test_construct() {
        let mut buf = [0xaau8; 32];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_type_code(136, 0);
        p.set_flags(flags::OVERRIDE);
        p.set_target(TARGET);
        p.options_mut().copy_from_slice(&[2, 1, 2, 0, 0, 0, 0, 1]);
        p.fill_checksum(SRC, ALL_NODES);
        assert_eq!(buf, BYTES);
    }

    #[test]
    fn test_parse() {
        let p = Packet::new_checked(&BYTES[..]).unwrap();
        assert_eq!(Repr::parse(&p, SRC, ALL_NODES), Ok(repr()));
        // Wrong pseudo-header → checksum error; wrong type → NotNa; short → Truncated.
        assert_eq!(Repr::parse(&p, SRC, SRC), Err(NdiscError::BadChecksum));
        let mut ns = BYTES;
        ns[0] = 135;
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&ns[..]), SRC, ALL_NODES),
            Err(NdiscError::NotNa(135, 0))
        );
        assert_eq!(
            Packet::new_checked(&BYTES[..20]).err(),
            Some(NdiscError::Truncated)
        );
        // A zero-length option is malformed (RFC 4861 §4.6).
        let mut bad = BYTES;
        bad[25] = 0;
        let mut p = Packet::new_unchecked(&mut bad[..]);
        p.fill_checksum(SRC, ALL_NODES);
        assert_eq!(Repr::parse(&p, SRC, ALL_NODES), Err(NdiscError::BadOption));
    }

    #[test]
    fn test_emit() {
        let r = repr();
        assert_eq!(r.buffer_len(), 32);
        let mut buf = vec![0u8; r.buffer_len()];
        r.emit(&mut Packet::new_unchecked(&mut buf[..]), SRC, ALL_NODES);
        assert_eq!(buf, BYTES);
        // Router flag: first flag byte 0xa0, checksum 0xd81b (Python, as above).
        let mut buf = [0u8; 32];
        Repr::unsolicited(TARGET, MAC, true).emit(
            &mut Packet::new_unchecked(&mut buf[..]),
            SRC,
            ALL_NODES,
        );
        assert_eq!(buf[4], 0xa0);
        assert_eq!(&buf[2..4], &[0xd8, 0x1b]);
    }

    proptest! {
        #[test]
        fn parse_emit_roundtrip(
            t in any::<u128>(), s in any::<u128>(), mac in any::<[u8; 6]>(),
            router in any::<bool>(), solicited in any::<bool>(), o in any::<bool>(),
            with_mac in any::<bool>(),
        ) {
            let r = Repr {
                target: Ipv6Addr::from(t),
                router,
                solicited,
                override_flag: o,
                target_mac: with_mac.then_some(mac),
            };
            let src = Ipv6Addr::from(s);
            let mut buf = vec![0u8; r.buffer_len()];
            r.emit(&mut Packet::new_unchecked(&mut buf[..]), src, ALL_NODES);
            let p = Packet::new_checked(&buf[..]).unwrap();
            prop_assert_eq!(Repr::parse(&p, src, ALL_NODES), Ok(r));
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(p) = Packet::new_checked(&bytes[..]) {
                let _ = Repr::parse(&p, SRC, ALL_NODES);
            }
        }
    }
}
