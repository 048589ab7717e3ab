//! Where a socket checker connects, and how: keepalived's common checker options
//! (`connect_ip`, `connect_port`, `bindto`, `bind_port`, `bind_if`, `fwmark`) applied to a
//! TCP socket, and the probe `TCP_CHECK` makes.

use super::event::Endpoint;
use crate::config::model::CheckerBind;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// Where a socket checker connects, and how (keepalived's common checker options).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// `connect_ip` / `connect_port` (default: the real server's address and port).
    pub addr: SocketAddr,
    /// `bindto`, `bind_port`, `bind_if`, `fwmark` (`None`: none given).
    pub bind: Option<Box<CheckerBind>>,
}

impl Target {
    /// A target with no socket options.
    pub fn new(addr: SocketAddr) -> Target {
        Target { addr, bind: None }
    }

    /// Sets the local socket options on `sock`, a new socket for this target: `bind_if`
    /// (SO_BINDTODEVICE), `fwmark` (SO_MARK), then `bindto`/`bind_port` (with SO_REUSEADDR
    /// first when `reuse`). Errors name the option.
    pub(super) fn prepare(&self, sock: &socket2::Socket, reuse: bool) -> Result<(), String> {
        let Some(b) = self.bind.as_deref() else {
            return Ok(());
        };
        if let Some(dev) = &b.bind_if {
            sock.bind_device(Some(dev.as_bytes()))
                .map_err(|e| format!("bind_if {dev}: {e}"))?;
        }
        if let Some(mark) = b.fwmark {
            sock.set_mark(mark)
                .map_err(|e| format!("fwmark {mark}: {e}"))?;
        }
        if b.bindto.is_some() || b.bind_port.is_some() {
            let ip = b.bindto.unwrap_or(match self.addr {
                SocketAddr::V4(_) => IpAddr::from([0u8; 4]),
                SocketAddr::V6(_) => IpAddr::from([0u16; 8]),
            });
            if reuse {
                sock.set_reuse_address(true).map_err(|e| e.to_string())?;
            }
            sock.bind(&SocketAddr::new(ip, b.bind_port.unwrap_or(0)).into())
                .map_err(|e| format!("bindto: {e}"))?;
        }
        Ok(())
    }

    /// A non-blocking TCP socket with every option set (`bind_if`, `fwmark`, `bindto`,
    /// `bind_port`), not yet connected.
    fn socket(&self) -> Result<socket2::Socket, String> {
        let domain = socket2::Domain::for_address(self.addr);
        let sock = socket2::Socket::new(
            domain,
            socket2::Type::STREAM.nonblocking().cloexec(),
            Some(socket2::Protocol::TCP),
        )
        .map_err(|e| e.to_string())?;
        self.prepare(&sock, true)?;
        Ok(sock)
    }

    /// Opens a TCP connection honouring every option, within `timeout`.
    pub async fn connect(&self, timeout: Duration) -> Result<tokio::net::TcpStream, String> {
        let sock = self.socket()?;
        let sock = tokio::net::TcpSocket::from_std_stream(std::net::TcpStream::from(sock));
        match tokio::time::timeout(timeout, sock.connect(self.addr)).await {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("timeout".into()),
        }
    }

    /// `TCP_CHECK`'s probe: whether a TCP connection to the target completes within
    /// `timeout`; the connection is closed at once.
    ///
    /// The handshake with a local or nearby server has usually completed (or been refused)
    /// by the time `connect(2)` returns, so a second `connect(2)` settles most probes
    /// without registering the socket with the runtime or arming a timer — with thousands
    /// of checks per second that halves the work per check. Only a probe still in progress
    /// waits for the socket to become writable, bounded by `timeout`.
    pub async fn probe(&self, timeout: Duration) -> Result<(), String> {
        let sock = self.socket()?;
        // Closed with a reset (SO_LINGER 0): no FIN exchange and no TIME_WAIT socket per
        // check. With thousands of checks per second, TIME_WAIT sockets pile up in the
        // tens of thousands and make every connect's port search slow (measured: a fourfold
        // throughput loss in the checkers_vm bench). keepalived closed its checks this way
        // before 2.0 (layer4.c, `l_linger = 0`); 2.x lingers for a FIN instead.
        sock.set_linger(Some(Duration::ZERO))
            .map_err(|e| format!("SO_LINGER: {e}"))?;
        match sock.connect(&self.addr.into()) {
            Ok(()) => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(e) => return Err(e.to_string()),
        }
        // A second connect(2) reports where the handshake stands: 0 (or EISCONN) once
        // established, the error (ECONNREFUSED…) once it failed, EALREADY while in progress.
        match sock.connect(&self.addr.into()) {
            Ok(()) => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EISCONN) => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EALREADY) => {}
            Err(e) => return Err(e.to_string()),
        }
        let stream = tokio::net::TcpStream::from_std(std::net::TcpStream::from(sock))
            .map_err(|e| e.to_string())?;
        match tokio::time::timeout(timeout, stream.writable()).await {
            Ok(Ok(())) => match stream.take_error() {
                Ok(None) => Ok(()),
                Ok(Some(e)) | Err(e) => Err(e.to_string()),
            },
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("timeout".into()),
        }
    }
}

/// `[IP]:tcp:PORT`, as keepalived writes a TCP service in its log.
pub fn describe_addr(addr: SocketAddr) -> String {
    Endpoint::tcp(addr).to_string()
}
