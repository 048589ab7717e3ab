//! Gratuitous ARP out of an `AF_PACKET` socket.
//!
//! RFC 5798 §6.4.2 ("Transition to Master"): for each IPv4 address associated with the virtual
//! router, broadcast a gratuitous ARP request carrying the virtual router MAC address (or, as
//! keepalived does without `use_vmac`, the interface's own MAC). keepalived repeats them
//! (`garp_master_repeat`, `garp_master_delay`, `garp_master_refresh`); the timing belongs to the
//! engine, this module only puts one frame on the wire.
//!
//! The socket is `SOCK_DGRAM`, so the caller hands over only the ARP payload (28 bytes for
//! Ethernet/IPv4, built by `wire::arp`) and the kernel adds the Ethernet header: destination =
//! the link broadcast `ff:ff:ff:ff:ff:ff` given in `sockaddr_ll`, source = the interface's MAC,
//! ethertype `ETH_P_ARP` (packet(7)).

use std::io;

use socket2::{Domain, SockAddr, SockAddrStorage, Socket, Type};

use super::NetError;

/// Ethertype of ARP (`ETH_P_ARP`, `include/uapi/linux/if_ether.h`).
pub const ETH_P_ARP: u16 = 0x0806;

/// Length of an ARP payload for Ethernet hardware and IPv4 protocol addresses (RFC 826).
pub const ARP_PAYLOAD_LEN: usize = 28;

/// The Ethernet broadcast address, where gratuitous ARPs go.
pub const ETHER_BROADCAST: [u8; 6] = [0xff; 6];

/// Sending gratuitous ARPs: the edge the engine uses after taking the virtual addresses.
/// [`PacketSocket`] is the real implementation; tests use a recording fake.
pub trait GarpTx {
    /// Broadcasts `arp_payload` (an ARP packet without link header, normally
    /// [`ARP_PAYLOAD_LEN`] bytes) on the Ethernet interface `ifindex`. Does not wait: if the
    /// device queue is full the frame is dropped with an error of kind `WouldBlock`.
    fn send_garp(&self, ifindex: u32, arp_payload: &[u8]) -> Result<(), NetError>;
}

/// One `AF_PACKET`/`SOCK_DGRAM` socket that can send on any interface of its namespace.
///
/// It is opened with protocol 0, so the kernel never queues received frames on it (a socket
/// opened with `ETH_P_ARP` would be handed a copy of every ARP frame on the host and never read
/// them); each send names the interface and the `ETH_P_ARP` ethertype in its `sockaddr_ll`, as
/// keepalived does with its single GARP socket.
#[derive(Debug)]
pub struct PacketSocket {
    sock: Socket,
}

impl PacketSocket {
    /// Opens the socket (non-blocking, close-on-exec) in the calling thread's network namespace.
    ///
    /// Errors: [`NetError::Io`], e.g. `EPERM` without `CAP_NET_RAW`.
    pub fn open() -> Result<PacketSocket, NetError> {
        let sock = Socket::new(Domain::PACKET, Type::DGRAM, None)
            .map_err(|e| NetError::io("socket(AF_PACKET, SOCK_DGRAM, 0)", e))?;
        sock.set_nonblocking(true)
            .map_err(|e| NetError::io("AF_PACKET socket: O_NONBLOCK", e))?;
        Ok(PacketSocket { sock })
    }
}

impl GarpTx for PacketSocket {
    fn send_garp(&self, ifindex: u32, arp_payload: &[u8]) -> Result<(), NetError> {
        let op = || format!("send gratuitous ARP on ifindex {ifindex}");
        let dst = broadcast_ll(ifindex).map_err(|e| NetError::io(op(), e))?;
        let sent = self
            .sock
            .send_to(arp_payload, &dst)
            .map_err(|e| NetError::io(op(), e))?;
        if sent != arp_payload.len() {
            return Err(NetError::io(
                op(),
                io::Error::new(
                    io::ErrorKind::WriteZero,
                    format!("sent {sent} of {} bytes", arp_payload.len()),
                ),
            ));
        }
        Ok(())
    }
}

/// `struct sockaddr_ll` for an ARP frame to the Ethernet broadcast address on `ifindex`.
fn broadcast_ll(ifindex: u32) -> io::Result<SockAddr> {
    let ifindex =
        libc::c_int::try_from(ifindex).map_err(|_| io::Error::from_raw_os_error(libc::ENODEV))?;
    let mut sll_addr = [0u8; 8];
    sll_addr[..6].copy_from_slice(&ETHER_BROADCAST);
    let ll = libc::sockaddr_ll {
        sll_family: libc::AF_PACKET as libc::c_ushort,
        sll_protocol: ETH_P_ARP.to_be(),
        sll_ifindex: ifindex,
        sll_hatype: 0,
        sll_pkttype: 0,
        sll_halen: 6,
        sll_addr,
    };
    let mut storage = SockAddrStorage::zeroed();
    // SAFETY: `sockaddr_ll` is one of this platform's `sockaddr_*` types and fits the storage;
    // the family field says AF_PACKET and the length given is `sockaddr_ll`'s size.
    unsafe {
        *storage.view_as::<libc::sockaddr_ll>() = ll;
        Ok(SockAddr::new(
            storage,
            size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        ))
    }
}
