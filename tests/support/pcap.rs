//! A minimal reader for the classic pcap files `tcpdump -w` writes, and decoders for the two
//! kinds of frames the harness looks for: gratuitous ARPs and VRRP advertisements.
//!
//! File format (libpcap, "pcap-savefile(5)"): a 24-byte global header whose magic
//! `a1b2c3d4` (microsecond) or `a1b23c4d` (nanosecond timestamps) also gives the byte
//! order, then records of a 16-byte header (seconds, sub-seconds, captured length,
//! original length) followed by the captured bytes. Only link type 1 (Ethernet) is read.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One captured Ethernet frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Capture timestamp (wall clock of the capturing kernel).
    pub time: SystemTime,
    /// The frame from the destination MAC on (as many bytes as were captured).
    pub data: Vec<u8>,
}

/// A gratuitous ARP: an ARP request or reply whose sender and target IPv4 addresses are
/// equal (RFC 5227 §3 "ARP Announcement"; what VRRP masters send, RFC 5798 §6.4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Garp {
    pub time: SystemTime,
    /// The announced address (sender protocol address).
    pub ip: Ipv4Addr,
    /// The MAC the address is announced at (sender hardware address).
    pub mac: [u8; 6],
}

/// The fields of a VRRP advertisement the harness needs (RFC 3768 §5.1 / RFC 5798 §5.1:
/// byte 0 = version << 4 | type, byte 1 = VRID, byte 2 = priority).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Advert {
    pub time: SystemTime,
    /// Source address of the IP header (the sender's primary address).
    pub src: IpAddr,
    /// Destination address of the IP header (the group, or a unicast peer); `None` where
    /// the capture did not record it (the guest's advert capture).
    pub dst: Option<IpAddr>,
    pub version: u8,
    pub vrid: u8,
    pub priority: u8,
}

/// Why a buffer is not a pcap file the harness can read.
#[derive(Debug, PartialEq, Eq)]
pub enum PcapError {
    /// Shorter than the 24-byte global header.
    Short,
    /// Unknown magic number (pcapng files are not supported).
    Magic(u32),
    /// Link type other than 1 (Ethernet).
    LinkType(u32),
}

/// Parses a pcap file. A truncated last record (tcpdump still writing) is ignored.
pub fn parse(buf: &[u8]) -> Result<Vec<Frame>, PcapError> {
    if buf.len() < 24 {
        return Err(PcapError::Short);
    }
    let magic_le = u32::from_le_bytes(buf[0..4].try_into().unwrap());
    let (big_endian, nanos) = match magic_le {
        0xa1b2_c3d4 => (false, false),
        0xa1b2_3c4d => (false, true),
        0xd4c3_b2a1 => (true, false),
        0x4d3c_b2a1 => (true, true),
        other => return Err(PcapError::Magic(other)),
    };
    let u32_at = |at: usize| {
        let b: [u8; 4] = buf[at..at + 4].try_into().unwrap();
        if big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    };
    let link = u32_at(20) & 0x0fff_ffff;
    if link != 1 {
        return Err(PcapError::LinkType(link));
    }
    let mut frames = Vec::new();
    let mut at = 24;
    while at + 16 <= buf.len() {
        let secs = u32_at(at);
        let frac = u32_at(at + 4);
        let caplen = u32_at(at + 8) as usize;
        let start = at + 16;
        let Some(end) = start.checked_add(caplen).filter(|e| *e <= buf.len()) else {
            break;
        };
        let sub = if nanos {
            Duration::from_nanos(frac.into())
        } else {
            Duration::from_micros(frac.into())
        };
        frames.push(Frame {
            time: UNIX_EPOCH + Duration::from_secs(secs.into()) + sub,
            data: buf[start..end].to_vec(),
        });
        at = end;
    }
    Ok(frames)
}

/// Ethertype and payload of an Ethernet II frame, skipping one 802.1Q tag if present.
fn ether(data: &[u8]) -> Option<(u16, &[u8])> {
    let ty = u16::from_be_bytes(data.get(12..14)?.try_into().ok()?);
    if ty == 0x8100 {
        let inner = u16::from_be_bytes(data.get(16..18)?.try_into().ok()?);
        return Some((inner, data.get(18..)?));
    }
    Some((ty, data.get(14..)?))
}

/// Decodes a gratuitous ARP (Ethernet/IPv4 ARP, RFC 826 layout, SPA == TPA) in the form
/// keepalived and rkeepalived send: a request (an ARP reply with SPA == TPA is not counted).
pub fn garp(frame: &Frame) -> Option<Garp> {
    let (ty, arp) = ether(&frame.data)?;
    // htype 1, ptype 0x0800, hlen 6, plen 4, then oper, SHA, SPA, THA, TPA.
    if ty != 0x0806 || arp.get(0..6)? != [0, 1, 8, 0, 6, 4] || arp.get(6..8)? != [0, 1] {
        return None;
    }
    let sha: [u8; 6] = arp.get(8..14)?.try_into().ok()?;
    let spa: [u8; 4] = arp.get(14..18)?.try_into().ok()?;
    let tpa: [u8; 4] = arp.get(24..28)?.try_into().ok()?;
    (spa == tpa).then(|| Garp {
        time: frame.time,
        ip: Ipv4Addr::from(spa),
        mac: sha,
    })
}

/// Decodes the first bytes of a VRRP advertisement carried in IPv4 or IPv6 (protocol /
/// next header 112, no IPv6 extension headers).
pub fn advert(frame: &Frame) -> Option<Advert> {
    let (ty, l3) = ether(&frame.data)?;
    let (src, dst, vrrp) = match ty {
        0x0800 => {
            let ihl = usize::from(l3.first()? & 0x0f) * 4;
            if l3.first()? >> 4 != 4 || *l3.get(9)? != 112 || ihl < 20 {
                return None;
            }
            let src: [u8; 4] = l3.get(12..16)?.try_into().ok()?;
            let dst: [u8; 4] = l3.get(16..20)?.try_into().ok()?;
            (
                IpAddr::from(Ipv4Addr::from(src)),
                IpAddr::from(Ipv4Addr::from(dst)),
                l3.get(ihl..)?,
            )
        }
        0x86dd => {
            if l3.first()? >> 4 != 6 || *l3.get(6)? != 112 {
                return None;
            }
            let src: [u8; 16] = l3.get(8..24)?.try_into().ok()?;
            let dst: [u8; 16] = l3.get(24..40)?.try_into().ok()?;
            (
                IpAddr::from(Ipv6Addr::from(src)),
                IpAddr::from(Ipv6Addr::from(dst)),
                l3.get(40..)?,
            )
        }
        _ => return None,
    };
    let head = vrrp.get(0..3)?;
    // Type 1 = ADVERTISEMENT, the only type defined.
    if head[0] & 0x0f != 1 {
        return None;
    }
    Some(Advert {
        time: frame.time,
        src,
        dst: Some(dst),
        version: head[0] >> 4,
        vrid: head[1],
        priority: head[2],
    })
}

/// An unsolicited Neighbour Advertisement (RFC 4861 §4.4), what an IPv6 VRRP master sends for
/// each IPv6 VIP instead of a gratuitous ARP (RFC 5798 §6.4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Na {
    pub time: SystemTime,
    /// IPv6 source and destination (ff02::1 for unsolicited NAs).
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    /// IPv6 hop limit (RFC 4861 §7.1.2: must be 255).
    pub hop_limit: u8,
    /// The announced address.
    pub target: Ipv6Addr,
    /// Router, Solicited, Override flags.
    pub router: bool,
    pub solicited: bool,
    pub override_flag: bool,
    /// The Target Link-Layer Address option, if present.
    pub mac: Option<[u8; 6]>,
}

/// Decodes an Ethernet/IPv6/ICMPv6 Neighbour Advertisement (type 136, no extension headers).
pub fn na(frame: &Frame) -> Option<Na> {
    let (ty, l3) = ether(&frame.data)?;
    if ty != 0x86dd || l3.first()? >> 4 != 6 || *l3.get(6)? != 58 {
        return None;
    }
    let src: [u8; 16] = l3.get(8..24)?.try_into().ok()?;
    let dst: [u8; 16] = l3.get(24..40)?.try_into().ok()?;
    let icmp = l3.get(40..)?;
    if *icmp.first()? != 136 || *icmp.get(1)? != 0 {
        return None;
    }
    let flags = *icmp.get(4)?;
    let target: [u8; 16] = icmp.get(8..24)?.try_into().ok()?;
    let mut mac = None;
    let mut opts = icmp.get(24..)?;
    while opts.len() >= 8 {
        let len = usize::from(opts[1]) * 8;
        if len == 0 || len > opts.len() {
            break;
        }
        if opts[0] == 2 && len == 8 {
            mac = Some(opts[2..8].try_into().ok()?);
        }
        opts = &opts[len..];
    }
    Some(Na {
        time: frame.time,
        src: Ipv6Addr::from(src),
        dst: Ipv6Addr::from(dst),
        hop_limit: *l3.get(7)?,
        target: Ipv6Addr::from(target),
        router: flags & 0x80 != 0,
        solicited: flags & 0x40 != 0,
        override_flag: flags & 0x20 != 0,
        mac,
    })
}

/// Source, destination and TTL / hop limit of a VRRP frame (IPv4 or IPv6, protocol 112).
pub fn vrrp_ip(frame: &Frame) -> Option<(IpAddr, IpAddr, u8)> {
    advert(frame)?;
    let (ty, l3) = ether(&frame.data)?;
    match ty {
        0x0800 => {
            let s: [u8; 4] = l3.get(12..16)?.try_into().ok()?;
            let d: [u8; 4] = l3.get(16..20)?.try_into().ok()?;
            Some((
                IpAddr::from(Ipv4Addr::from(s)),
                IpAddr::from(Ipv4Addr::from(d)),
                *l3.get(8)?,
            ))
        }
        0x86dd => {
            let s: [u8; 16] = l3.get(8..24)?.try_into().ok()?;
            let d: [u8; 16] = l3.get(24..40)?.try_into().ok()?;
            Some((
                IpAddr::from(Ipv6Addr::from(s)),
                IpAddr::from(Ipv6Addr::from(d)),
                *l3.get(7)?,
            ))
        }
        _ => None,
    }
}
