//! Helpers the VM benchmarks (`benches/checkers_vm.rs`, `benches/reload_vm.rs`) run inside the
//! qemu guest (`vm.rs`), where the bench binary is copied as a helper: a many-port TCP server
//! for the real servers, the IPVS table's row count, and an advert capture on an `AF_PACKET`
//! socket (the guest image has no tcpdump).

use super::pcap::{self, Advert, Frame};
use rkeepalived::ipvs::genl::IpvsSocket;
use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Nanoseconds since the epoch (`CLOCK_REALTIME`).
pub fn realtime_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// Raises `RLIMIT_NOFILE` (soft and hard) to `n`; a failure is printed, not fatal.
pub fn raise_nofile(n: u64) {
    let lim = libc::rlimit {
        rlim_cur: n,
        rlim_max: n,
    };
    // SAFETY: setrlimit reads the struct we pass.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
        eprintln!(
            "setrlimit(NOFILE, {n}): {}",
            std::io::Error::last_os_error()
        );
    }
}

/// A many-port TCP server: the real servers of the VM benchmarks.
pub struct PortServer<'a> {
    /// The address every listener binds (on the guest's lo).
    pub ip: IpAddr,
    /// Listener `i` binds `base_port + i`.
    pub base_port: u16,
    /// How many ports, `0..count`.
    pub count: usize,
    /// Ports `i` with `i % n == 0` stay closed (`None`: every port listens).
    pub closed_every: Option<usize>,
    /// Created (empty) once every listener is bound.
    pub ready_file: &'a str,
    /// Polled every 5 ms: one port number per line to close (must exist).
    pub close_file: &'a str,
    /// Where `PORT NS` (the close time, [`realtime_ns`]) is appended once a port is closed.
    pub closed_log: &'a str,
}

impl PortServer<'_> {
    /// Binds the listeners, accepts (and drops) every connection, closes the ports named in
    /// `close_file`; runs until killed. Panics when a port cannot be bound.
    pub fn serve(&self) {
        raise_nofile(self.count as u64 + 1024);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        rt.block_on(async move {
            let mut open = HashMap::new();
            let closed = |i: usize| self.closed_every.is_some_and(|n| i.is_multiple_of(n));
            for i in (0..self.count).filter(|&i| !closed(i)) {
                let port = self.base_port + i as u16;
                let l = tokio::net::TcpListener::bind((self.ip, port))
                    .await
                    .unwrap_or_else(|e| panic!("bind {}:{port}: {e}", self.ip));
                open.insert(
                    port,
                    tokio::spawn(async move {
                        loop {
                            match l.accept().await {
                                Ok((s, _)) => drop(s),
                                Err(_) => tokio::time::sleep(Duration::from_millis(1)).await,
                            }
                        }
                    }),
                );
            }
            std::fs::write(self.ready_file, b"").expect("ready file");
            let mut ctl = std::fs::File::open(self.close_file).expect("open close file");
            let mut log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.closed_log)
                .expect("open closed log");
            let mut pending = String::new();
            loop {
                tokio::time::sleep(Duration::from_millis(5)).await;
                let mut buf = String::new();
                let _ = ctl.read_to_string(&mut buf);
                pending.push_str(&buf);
                while let Some(nl) = pending.find('\n') {
                    let line: String = pending.drain(..=nl).collect();
                    let Ok(port) = line.trim().parse::<u16>() else {
                        continue;
                    };
                    if let Some(task) = open.remove(&port) {
                        task.abort();
                        let _ = task.await; // the listener is dropped (closed) once this returns
                        let _ = writeln!(log, "{port} {}", realtime_ns());
                    }
                }
            }
        });
    }
}

/// Rows of the IPVS table: virtual services plus their real servers (0 when the dump fails),
/// read through the generic netlink dump `ipvsadm -Ln` reads.
pub fn table_rows(ipvs: &mut IpvsSocket) -> usize {
    let Ok(services) = ipvs.services() else {
        return 0;
    };
    services.len()
        + services
            .iter()
            .map(|s| ipvs.dests(&s.key).map_or(0, |d| d.len()))
            .sum::<usize>()
}

/// `SIOCGSTAMPNS` (linux/sockios.h; 64-bit `struct timespec` on x86_64): the kernel receive
/// time of the last packet read from the socket.
const SIOCGSTAMPNS: libc::c_ulong = 0x8907;

/// Captures the VRRP adverts arriving on `iface` (an `AF_PACKET` socket, kernel receive
/// timestamps) and appends one line per advert to `out`: `SECS.NANOS SRC VERSION VRID PRIORITY`
/// ([`read_adverts`] reads them back). Runs until killed; panics when the socket cannot be
/// opened.
pub fn capture_adverts(iface: &str, out: &str) {
    let name = std::ffi::CString::new(iface).expect("interface name");
    // SAFETY: if_nametoindex reads the NUL-terminated name.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    assert!(index != 0, "no interface {iface}");
    let proto = (libc::ETH_P_ALL as u16).to_be();
    // SAFETY: plain socket(2) call.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, i32::from(proto)) };
    assert!(
        fd >= 0,
        "AF_PACKET socket: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: sockaddr_ll is plain data; zeroed is a valid value.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = proto;
    sll.sll_ifindex = index as i32;
    // SAFETY: bind reads `sll`, whose size we pass.
    let rc = unsafe {
        libc::bind(
            fd,
            (&sll as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        )
    };
    assert!(rc == 0, "bind {iface}: {}", std::io::Error::last_os_error());
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(out)
        .unwrap_or_else(|e| panic!("{out}: {e}"));
    let mut buf = [0u8; 2048];
    loop {
        // SAFETY: recv writes at most buf.len() bytes into buf.
        let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n <= 0 {
            continue;
        }
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: SIOCGSTAMPNS writes one timespec.
        let time = if unsafe { libc::ioctl(fd, SIOCGSTAMPNS, &mut ts) } == 0 {
            UNIX_EPOCH + Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
        } else {
            SystemTime::now()
        };
        let frame = Frame {
            time,
            data: buf[..n as usize].to_vec(),
        };
        if let Some(ad) = pcap::advert(&frame) {
            let t = time.duration_since(UNIX_EPOCH).unwrap_or_default();
            let _ = writeln!(
                file,
                "{}.{:09} {} {} {} {}",
                t.as_secs(),
                t.subsec_nanos(),
                ad.src,
                ad.version,
                ad.vrid,
                ad.priority
            );
        }
    }
}

/// The adverts [`capture_adverts`] wrote to `path` (a partial last line is skipped).
pub fn read_adverts(path: &str) -> Vec<Advert> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (secs, nanos) = f.next()?.split_once('.')?;
            let time = UNIX_EPOCH + Duration::new(secs.parse().ok()?, nanos.parse().ok()?);
            Some(Advert {
                time,
                src: f.next()?.parse().ok()?,
                dst: None,
                version: f.next()?.parse().ok()?,
                vrid: f.next()?.parse().ok()?,
                priority: f.next()?.parse().ok()?,
            })
        })
        .collect()
}
