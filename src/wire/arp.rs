//! Gratuitous ARP, built exactly as keepalived 2.2.7 builds it
//! (`keepalived/vrrp/vrrp_arp.c`, `send_gratuitous_arp_immediate`), and a parser to recognise
//! ARP packets in captures.
//!
//! keepalived's GARP is an ARP *request* (RFC 826 op 1) broadcast to ff:ff:ff:ff:ff:ff, with
//! sender hardware address = the interface MAC, sender protocol address = target protocol
//! address = the VIP, and target hardware address = ff:ff:ff:ff:ff:ff (verified on a capture
//! of keepalived 2.2.7: "Gratuitous ARP for 10.99.1.100 (Request)", 42 bytes).
//!
//! ```text
//! Ethernet (14 bytes, only in a full frame; AF_PACKET SOCK_DGRAM adds it itself):
//! | dst MAC (6) ff:ff:ff:ff:ff:ff | src MAC (6) | EtherType 0x0806 (2) |
//! ARP payload (28 bytes, RFC 826):
//! | HTYPE 1 (2) | PTYPE 0x0800 (2) | HLEN 6 | PLEN 4 | OPER 1 (2) |
//! | SHA (6) | SPA (4) | THA (6) | TPA (4) |
//! ```

use pnet_base::MacAddr;
use pnet_packet::Packet as _;
use pnet_packet::arp::{
    ArpHardwareTypes, ArpOperation, ArpOperations, ArpPacket, MutableArpPacket,
};
use pnet_packet::ethernet::{EtherTypes, EthernetPacket, MutableEthernetPacket};
use std::net::Ipv4Addr;

/// Length of an Ethernet/IPv4 ARP payload, bytes.
pub const ARP_PAYLOAD_LEN: usize = 28;
/// Length of an Ethernet II header, bytes.
pub const ETHERNET_HEADER_LEN: usize = 14;
/// Length of a full GARP frame (no FCS, no padding), bytes.
pub const FRAME_LEN: usize = ETHERNET_HEADER_LEN + ARP_PAYLOAD_LEN;
/// EtherType of ARP.
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// The Ethernet broadcast address; keepalived also uses it as GARP target hardware address.
pub const BROADCAST: [u8; 6] = [0xff; 6];
/// ARP operation of keepalived's GARP: request (RFC 826).
pub const OP_REQUEST: u16 = 1;
/// ARP operation: reply (RFC 826).
pub const OP_REPLY: u16 = 2;

/// Why a buffer is not an Ethernet/IPv4 ARP packet.
#[derive(thiserror::Error, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArpError {
    /// Shorter than 28 bytes (payload) or 42 bytes (frame).
    #[error("ARP packet truncated")]
    Truncated,
    /// A frame whose EtherType is not 0x0806.
    #[error("not an ARP frame (EtherType {0:#06x})")]
    NotArp(u16),
    /// An ARP payload for something other than Ethernet (1) / IPv4 (0x0800) with 6/4-byte
    /// addresses.
    #[error("unsupported ARP hardware/protocol type {htype:#06x}/{ptype:#06x}")]
    Unsupported { htype: u16, ptype: u16 },
}

/// The gratuitous ARP keepalived sends for one IPv4 VIP after becoming master.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GarpRepr {
    /// MAC of the sending interface (or the VMAC): Ethernet source and ARP sender hardware.
    pub sender_mac: [u8; 6],
    /// The VIP: ARP sender and target protocol address.
    pub ip: Ipv4Addr,
}

impl GarpRepr {
    /// 28: the ARP payload [`GarpRepr::emit`] writes (for an AF_PACKET `SOCK_DGRAM` socket,
    /// which adds the Ethernet header from the `sockaddr_ll`).
    pub const fn buffer_len(&self) -> usize {
        ARP_PAYLOAD_LEN
    }

    /// 42: the Ethernet frame [`GarpRepr::emit_frame`] writes (AF_PACKET `SOCK_RAW`).
    pub const fn frame_len(&self) -> usize {
        FRAME_LEN
    }

    /// Writes the 28-byte ARP payload into the start of `buf`. Panics if `buf` is shorter.
    pub fn emit(&self, buf: &mut [u8]) {
        let mut arp = MutableArpPacket::new(&mut buf[..ARP_PAYLOAD_LEN])
            .expect("GARP buffer holds an ARP payload");
        arp.set_hardware_type(ArpHardwareTypes::Ethernet);
        arp.set_protocol_type(EtherTypes::Ipv4);
        arp.set_hw_addr_len(6);
        arp.set_proto_addr_len(4);
        arp.set_operation(ArpOperations::Request);
        arp.set_sender_hw_addr(MacAddr::from(self.sender_mac));
        arp.set_sender_proto_addr(self.ip);
        arp.set_target_hw_addr(MacAddr::from(BROADCAST));
        arp.set_target_proto_addr(self.ip);
    }

    /// Writes the 42-byte Ethernet frame (broadcast destination, `sender_mac` source, EtherType
    /// 0x0806, then the payload of [`GarpRepr::emit`]). Panics if `buf` is shorter.
    pub fn emit_frame(&self, buf: &mut [u8]) {
        let mut eth = MutableEthernetPacket::new(&mut buf[..FRAME_LEN])
            .expect("GARP buffer holds an Ethernet frame");
        eth.set_destination(MacAddr::from(BROADCAST));
        eth.set_source(MacAddr::from(self.sender_mac));
        eth.set_ethertype(EtherTypes::Arp);
        self.emit(&mut buf[ETHERNET_HEADER_LEN..]);
    }
}

/// The Ethernet header of a parsed frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EthernetInfo {
    pub dst: [u8; 6],
    pub src: [u8; 6],
}

/// A parsed Ethernet/IPv4 ARP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ArpInfo {
    /// The Ethernet header, when a full frame was parsed.
    pub eth: Option<EthernetInfo>,
    /// 1 request, 2 reply.
    pub operation: u16,
    pub sender_mac: [u8; 6],
    pub sender_ip: Ipv4Addr,
    pub target_mac: [u8; 6],
    pub target_ip: Ipv4Addr,
}

impl ArpInfo {
    /// Gratuitous: sender and target protocol addresses are the same (RFC 5227 §3).
    pub fn is_gratuitous(&self) -> bool {
        self.sender_ip == self.target_ip
    }

    /// `Some(repr)` if this is exactly the GARP keepalived (and [`GarpRepr`]) sends: a request
    /// with target hardware ff:ff:ff:ff:ff:ff, sender IP = target IP, and, for a frame, a
    /// broadcast destination with source = sender hardware address.
    pub fn as_keepalived_garp(&self) -> Option<GarpRepr> {
        let eth_ok = self
            .eth
            .is_none_or(|e| e.dst == BROADCAST && e.src == self.sender_mac);
        (eth_ok
            && self.operation == OP_REQUEST
            && self.target_mac == BROADCAST
            && self.is_gratuitous())
        .then_some(GarpRepr {
            sender_mac: self.sender_mac,
            ip: self.sender_ip,
        })
    }
}

/// Parses either a bare ARP payload or a full Ethernet frame.
///
/// A buffer is taken as a payload when it starts like one (HTYPE 1, PTYPE 0x0800, HLEN 6,
/// PLEN 4; no plausible frame starts with destination MAC 00:01:08:00:06:04), otherwise as a
/// frame. Trailing bytes (Ethernet padding) are ignored.
pub fn parse(buf: &[u8]) -> Result<ArpInfo, ArpError> {
    if buf.starts_with(&[0x00, 0x01, 0x08, 0x00, 0x06, 0x04]) {
        parse_payload(buf)
    } else {
        parse_frame(buf)
    }
}

/// Parses a full Ethernet frame carrying ARP.
pub fn parse_frame(buf: &[u8]) -> Result<ArpInfo, ArpError> {
    if buf.len() < FRAME_LEN {
        return Err(ArpError::Truncated);
    }
    let eth = EthernetPacket::new(buf).ok_or(ArpError::Truncated)?;
    let ethertype = eth.get_ethertype().0;
    if ethertype != ETHERTYPE_ARP {
        return Err(ArpError::NotArp(ethertype));
    }
    let mut info = parse_payload(eth.payload())?;
    info.eth = Some(EthernetInfo {
        dst: eth.get_destination().octets(),
        src: eth.get_source().octets(),
    });
    Ok(info)
}

/// Parses an ARP payload (what an AF_PACKET `SOCK_DGRAM` socket receives).
pub fn parse_payload(buf: &[u8]) -> Result<ArpInfo, ArpError> {
    if buf.len() < ARP_PAYLOAD_LEN {
        return Err(ArpError::Truncated);
    }
    let arp = ArpPacket::new(buf).ok_or(ArpError::Truncated)?;
    let htype = arp.get_hardware_type().0;
    let ptype = arp.get_protocol_type().0;
    if htype != 1 || ptype != 0x0800 || arp.get_hw_addr_len() != 6 || arp.get_proto_addr_len() != 4
    {
        return Err(ArpError::Unsupported { htype, ptype });
    }
    let ArpOperation(operation) = arp.get_operation();
    Ok(ArpInfo {
        eth: None,
        operation,
        sender_mac: arp.get_sender_hw_addr().octets(),
        sender_ip: arp.get_sender_proto_addr(),
        target_mac: arp.get_target_hw_addr().octets(),
        target_ip: arp.get_target_proto_addr(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // Captured from keepalived 2.2.7 becoming master for VIP 10.99.1.100 on an interface with
    // MAC 02:00:00:00:00:0a (tshark: "Gratuitous ARP for 10.99.1.100 (Request)").
    static KEEPALIVED_GARP: [u8; 42] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // dst: broadcast
        0x02, 0x00, 0x00, 0x00, 0x00, 0x0a, // src
        0x08, 0x06, // ARP
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, // Ethernet/IPv4, 6/4
        0x00, 0x01, // request
        0x02, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x0a, 0x63, 0x01, 0x64, // SHA, SPA = VIP
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0a, 0x63, 0x01, 0x64, // THA = ff.., TPA = VIP
    ];

    fn repr() -> GarpRepr {
        GarpRepr {
            sender_mac: [0x02, 0, 0, 0, 0, 0x0a],
            ip: Ipv4Addr::new(10, 99, 1, 100),
        }
    }

    #[test]
    fn test_emit_payload() {
        let r = repr();
        assert_eq!(r.buffer_len(), 28);
        let mut buf = [0u8; 28];
        r.emit(&mut buf);
        assert_eq!(&buf[..], &KEEPALIVED_GARP[14..]);
    }

    #[test]
    fn test_emit_frame() {
        let r = repr();
        assert_eq!(r.frame_len(), 42);
        let mut buf = [0x5au8; 42];
        r.emit_frame(&mut buf);
        assert_eq!(buf, KEEPALIVED_GARP);
    }

    #[test]
    fn test_parse_frame() {
        let info = parse(&KEEPALIVED_GARP).unwrap();
        assert_eq!(
            info.eth,
            Some(EthernetInfo {
                dst: BROADCAST,
                src: [0x02, 0, 0, 0, 0, 0x0a]
            })
        );
        assert_eq!(info.operation, OP_REQUEST);
        assert_eq!(info.sender_mac, [0x02, 0, 0, 0, 0, 0x0a]);
        assert_eq!(info.sender_ip, Ipv4Addr::new(10, 99, 1, 100));
        assert_eq!(info.target_mac, BROADCAST);
        assert_eq!(info.target_ip, Ipv4Addr::new(10, 99, 1, 100));
        assert!(info.is_gratuitous());
        assert_eq!(info.as_keepalived_garp(), Some(repr()));
        assert_eq!(parse_frame(&KEEPALIVED_GARP), Ok(info));
    }

    #[test]
    fn test_parse_payload() {
        let info = parse(&KEEPALIVED_GARP[14..]).unwrap();
        assert_eq!(info.eth, None);
        assert_eq!(info.as_keepalived_garp(), Some(repr()));
        // With Ethernet minimum-size padding as a SOCK_DGRAM socket may see it.
        let mut padded = KEEPALIVED_GARP[14..].to_vec();
        padded.extend_from_slice(&[0; 18]);
        assert_eq!(parse(&padded), Ok(info));
    }

    #[test]
    fn test_not_a_garp() {
        // An ordinary request: who-has 10.99.1.2 tell 10.99.1.1, target MAC zero.
        let mut b = KEEPALIVED_GARP;
        b[28..32].copy_from_slice(&[10, 99, 1, 1]);
        b[32..38].copy_from_slice(&[0; 6]);
        b[38..42].copy_from_slice(&[10, 99, 1, 2]);
        let info = parse(&b).unwrap();
        assert!(!info.is_gratuitous());
        assert_eq!(info.as_keepalived_garp(), None);
        // A gratuitous reply is gratuitous but not keepalived's GARP.
        let mut b = KEEPALIVED_GARP;
        b[21] = 2;
        let info = parse(&b).unwrap();
        assert!(info.is_gratuitous());
        assert_eq!(info.operation, OP_REPLY);
        assert_eq!(info.as_keepalived_garp(), None);
    }

    #[test]
    fn test_malformed() {
        assert_eq!(parse(&KEEPALIVED_GARP[..41]), Err(ArpError::Truncated));
        assert_eq!(parse(&KEEPALIVED_GARP[14..41]), Err(ArpError::Truncated));
        assert_eq!(parse(&[]), Err(ArpError::Truncated));
        let mut b = KEEPALIVED_GARP;
        b[12..14].copy_from_slice(&[0x08, 0x00]);
        assert_eq!(parse(&b), Err(ArpError::NotArp(0x0800)));
        let mut b = KEEPALIVED_GARP;
        b[16..18].copy_from_slice(&[0x86, 0xdd]);
        assert_eq!(
            parse(&b),
            Err(ArpError::Unsupported {
                htype: 1,
                ptype: 0x86dd
            })
        );
    }

    proptest! {
        #[test]
        fn prop_parse_emit_roundtrip(mac in any::<[u8; 6]>(), ip in any::<[u8; 4]>()) {
            let r = GarpRepr { sender_mac: mac, ip: Ipv4Addr::from(ip) };
            let mut payload = [0u8; ARP_PAYLOAD_LEN];
            r.emit(&mut payload);
            prop_assert_eq!(parse_payload(&payload).unwrap().as_keepalived_garp(), Some(r));
            let mut frame = [0u8; FRAME_LEN];
            r.emit_frame(&mut frame);
            prop_assert_eq!(parse_frame(&frame).unwrap().as_keepalived_garp(), Some(r));
            prop_assert_eq!(parse(&frame).unwrap().as_keepalived_garp(), Some(r));
        }

        #[test]
        fn prop_random_bytes_never_panic(buf in prop::collection::vec(any::<u8>(), 0..64)) {
            let _ = parse(&buf);
            let _ = parse_payload(&buf);
            let _ = parse_frame(&buf);
        }
    }
}
