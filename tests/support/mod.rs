//! Network-namespace harness shared by the integration tests, `examples/failover_demo.rs` and
//! `benches/failover.rs`.
//!
//! Integration tests use it with `mod support;`; the example and the bench include it with
//! `#[path = "../tests/support/mod.rs"] mod support;`, so it depends only on std, `libc` and
//! `tempfile` (a dev-dependency, available to tests, examples and benches).
//!
//! The picture built by [`Lan::new`]:
//!
//! ```text
//!   namespace <prefix>lan     bridge br0 (stp_state 0, mcast_snooping 0)
//!                              |             |             |
//!                             v0a           v1b           v2c      ports of br0 (veth ends)
//!                              |             |             |
//!   namespaces <prefix>a/b/c  eth0          eth0          eth0     the other veth ends
//!                             10.X.Y.1/24   10.X.Y.2/24   10.X.Y.3/24
//! ```
//!
//! The bridge floods VRRP multicast (224.0.0.18, ff02::12) to every port because STP and
//! multicast snooping are off (pitfall noted in ARCHITECTURE.md).
//!
//! Safety rules this module keeps (COMMON.md, "Network safety"):
//! * every packet stays inside namespaces created here; nothing touches the host's interfaces;
//! * every namespace carries the per-process, per-`Lan` prefix `rk<pid % 100000>n<k>` and is
//!   deleted by `Drop` (also on panic);
//! * every process is started by us in its own process group and killed by its PID (or by that
//!   group, which only holds the process we started and its children);
//! * every wait is bounded by a timeout and stops early once [`interrupted`] is true.

#![allow(dead_code)]

pub mod failover;
pub mod guest;
pub mod pcap;
pub mod reload;
pub mod soak;
pub mod vm;

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

pub use pcap::{Advert, Garp};

/// Polling step of [`Proc::wait_log`] and of the other internal waits.
const POLL: Duration = Duration::from_millis(20);
/// How long a process gets to exit after SIGKILL before we give up waiting for it.
const REAP_TIMEOUT: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------------------------
// Skip rules and interruption
// ---------------------------------------------------------------------------------------------

/// Reports that `test` cannot run because of `reason`, by failing.
///
/// Every test that needs a prerequisite (root, network namespaces, a tool, keepalived, the VM) is
/// `#[ignore = "reason"]`d, so a plain `cargo test` lists it as ignored; it runs only when asked
/// for (`--include-ignored`, as `scripts/test-all` does as root). A test that was asked for and
/// cannot run is a failure, never a pass. The return type keeps the callers' `if !require_*(..)
/// { return; }` shape.
pub fn skip(test: &str, reason: &str) -> bool {
    panic!(
        "{test} cannot run here: {reason} (it is #[ignore]d; run it as root, see scripts/test-all)"
    );
}

/// True when the process can create network namespaces: effective uid 0 and a working
/// `ip netns`. Otherwise follows the [`skip`] rule.
pub fn require_root(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return skip(test, "needs root (network namespaces)");
    }
    match Command::new("ip").args(["netns", "list"]).output() {
        Ok(out) if out.status.success() => true,
        Ok(out) => skip(
            test,
            &format!(
                "`ip netns list` failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ),
        Err(e) => skip(test, &format!("cannot run `ip` (iproute2): {e}")),
    }
}

/// True when the program `tool` is found in `PATH` (or `/usr/sbin`, `/sbin`); otherwise
/// follows the [`skip`] rule.
pub fn require_tool(test: &str, tool: &str) -> bool {
    if find_program(tool).is_some() {
        true
    } else {
        skip(test, &format!("`{tool}` is not installed"))
    }
}

/// True when the binary of `daemon` exists; otherwise follows the [`skip`] rule.
pub fn require_daemon(test: &str, daemon: Daemon) -> bool {
    match daemon.binary() {
        Ok(_) => true,
        Err(why) => skip(test, &why),
    }
}

/// Finds `name` in `PATH`, then in the sbin directories a non-login root shell may lack.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_interrupt(_sig: libc::c_int) {
    if INTERRUPTED.swap(true, Ordering::SeqCst) {
        // Second Ctrl-C: the user does not want to wait for the cleanup any more.
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(130) };
    }
}

/// Installs a SIGINT/SIGTERM handler that only sets a flag (see [`interrupted`]). Every wait in
/// this module then returns early, callers unwind, and the RAII guards clean up. A second
/// SIGINT exits at once with status 130 without cleaning up.
pub fn install_interrupt_handler() {
    let handler = on_interrupt as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only touches an atomic and calls the async-signal-safe _exit.
    unsafe {
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGTERM, handler);
    }
}

/// True once SIGINT or SIGTERM arrived after [`install_interrupt_handler`]; always false in
/// tests, which never install the handler.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Calls `f` every `step` until it returns true; returns the elapsed time at that moment, or
/// `None` after `timeout` (or once [`interrupted`]). `f` is always called at least once.
pub fn wait_until(
    timeout: Duration,
    step: Duration,
    mut f: impl FnMut() -> bool,
) -> Option<Duration> {
    let start = Instant::now();
    loop {
        if f() {
            return Some(start.elapsed());
        }
        if start.elapsed() >= timeout || interrupted() {
            return None;
        }
        std::thread::sleep(step);
    }
}

// ---------------------------------------------------------------------------------------------
// Running commands
// ---------------------------------------------------------------------------------------------

/// Runs `ip` with the whitespace-separated arguments `cmd` and panics with its stderr if it
/// fails (used while building a `Lan`, where any failure means the harness cannot go on).
fn ip(cmd: &str) {
    let out = Command::new("ip")
        .args(cmd.split_whitespace())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run `ip {cmd}`: {e}"));
    if !out.status.success() {
        panic!(
            "`ip {cmd}` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
}

/// Names of the existing network namespaces (`ip netns list`, first column).
pub fn list_namespaces() -> Vec<String> {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return Vec::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect()
}

/// A child process we started, shared between its [`Proc`]/[`Capture`] handle and the
/// [`Lan`] that must kill it on drop. `status` is set exactly when the child has been reaped;
/// until then its PID (and the process group it leads) cannot be reused, so signalling it
/// is safe.
struct Slot {
    child: Child,
    status: Option<ExitStatus>,
}

type SharedSlot = Arc<Mutex<Slot>>;
type Registry = Arc<Mutex<Vec<SharedSlot>>>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves consistent data; keep going.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Slot {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Reaps the child if it has exited; returns its status.
    fn poll(&mut self) -> Option<ExitStatus> {
        if self.status.is_none()
            && let Ok(Some(st)) = self.child.try_wait()
        {
            self.status = Some(st);
        }
        self.status
    }

    /// Sends `sig` to the child only, if it has not been reaped yet.
    fn signal(&mut self, sig: i32) {
        if self.status.is_none() {
            // SAFETY: plain syscall; the PID is our unreaped child, so it is not recycled.
            unsafe { libc::kill(self.pid() as libc::pid_t, sig) };
        }
    }

    /// Sends `sig` to the process group the child leads (it was started with
    /// `process_group(0)`), which holds the child and the children it forked.
    fn signal_group(&mut self, sig: i32) {
        if self.status.is_none() {
            // SAFETY: plain syscall; the group id is our unreaped child's PID.
            unsafe { libc::killpg(self.pid() as libc::pid_t, sig) };
        }
    }

    fn wait_for(&mut self, timeout: Duration) -> Option<ExitStatus> {
        wait_until_uninterruptible(timeout, || self.poll().is_some());
        self.status
    }
}

/// Like [`wait_until`] but ignores [`interrupted`]: cleanup must still wait for processes.
fn wait_until_uninterruptible(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if f() {
            return true;
        }
        if start.elapsed() >= timeout {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Spawns `argv` inside namespace `ns` (`ip netns exec` execs the command, so the PID is the
/// command's own), in a new process group, stdin from /dev/null, stdout and stderr appended
/// to `log`, `TMPDIR` set to `log`'s directory (where keepalived and rkeepalived write their
/// SIGUSR1/SIGUSR2 dumps), and registers it for cleanup.
fn spawn_in(ns: &str, argv: &[OsString], log: &Path, registry: &Registry) -> SharedSlot {
    let out = File::create(log).unwrap_or_else(|e| panic!("create {}: {e}", log.display()));
    let err = out.try_clone().expect("dup log file");
    let child = Command::new("ip")
        .args(["netns", "exec", ns])
        .args(argv)
        .env("TMPDIR", log.parent().unwrap_or(Path::new("/tmp")))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {argv:?} in {ns}: {e}"));
    let slot = Arc::new(Mutex::new(Slot {
        child,
        status: None,
    }));
    lock(registry).push(slot.clone());
    slot
}

fn exit_code(st: ExitStatus) -> i32 {
    st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0))
}

// ---------------------------------------------------------------------------------------------
// Lan and Node
// ---------------------------------------------------------------------------------------------

static LAN_COUNTER: AtomicU32 = AtomicU32::new(0);

/// A throwaway Ethernet segment: one namespace holding bridge `br0` and one namespace per
/// node, each with `eth0` on the bridge and `10.X.Y.<i+1>/24` (i = position in `nodes`).
///
/// Drop kills (SIGKILL, by process group) every process spawned through its nodes or
/// captures that is still running, waits for them, then deletes its namespaces.
pub struct Lan {
    prefix: String,
    net: [u8; 3],
    lan_ns: String,
    nodes: Vec<Node>,
    /// Namespaces created so far, deleted in reverse order on drop.
    created: Vec<String>,
    registry: Registry,
    /// Extra segments added by [`Lan::add_segment`].
    segments: u32,
}

/// One host on a [`Lan`]: a network namespace with `eth0` and `lo` up.
pub struct Node {
    /// Namespace name, e.g. `rk12345n0a`.
    pub ns: String,
    /// The name given to [`Lan::new`].
    pub name: String,
    /// Primary IPv4 address on `eth0`.
    pub addr: Ipv4Addr,
    registry: Registry,
}

impl Lan {
    /// Builds the segment. Node names must be short (`[a-z0-9]`, at most 10 characters) so
    /// that namespace and interface names stay short. Panics if a step fails; whatever was
    /// created up to then is removed.
    ///
    /// The /24 is `10.X.Y.0/24` with `X = 100 + pid % 150` and `Y = k % 256` (`k` counts the
    /// `Lan`s of this process). Namespaces already isolate every `Lan`; distinct subnets only
    /// keep logs and captures of parallel tests unambiguous.
    pub fn new(nodes: &[&str]) -> Lan {
        assert!(!nodes.is_empty() && nodes.len() < 250, "1..250 nodes");
        for n in nodes {
            assert!(
                !n.is_empty()
                    && n.len() <= 10
                    && n.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                    && *n != "lan",
                "node name {n:?}: use 1-10 chars [a-z0-9], not \"lan\""
            );
        }
        let pid = std::process::id();
        let registry: Registry = Arc::default();
        // Find a free prefix: a namespace left over by an earlier process with the same
        // pid % 100000 makes `ip netns add` fail, then we take the next counter value.
        let mut lan = None;
        for _ in 0..64 {
            let k = LAN_COUNTER.fetch_add(1, Ordering::SeqCst);
            let prefix = format!("rk{}n{k}", pid % 100_000);
            let lan_ns = format!("{prefix}lan");
            let ok = Command::new("ip")
                .args(["netns", "add", &lan_ns])
                .stderr(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ok {
                lan = Some(Lan {
                    net: [10, (100 + pid % 150) as u8, (k % 256) as u8],
                    created: vec![lan_ns.clone()],
                    prefix,
                    lan_ns,
                    nodes: Vec::new(),
                    registry: registry.clone(),
                    segments: 0,
                });
                break;
            }
        }
        let mut lan = lan.expect("no free namespace prefix after 64 tries (is `ip netns` usable?)");
        let l = lan.lan_ns.clone();
        ip(&format!(
            "-n {l} link add br0 type bridge stp_state 0 mcast_snooping 0"
        ));
        ip(&format!("-n {l} link set br0 up"));
        ip(&format!("-n {l} link set lo up"));

        for (i, name) in nodes.iter().enumerate() {
            let ns = format!("{}{name}", lan.prefix);
            ip(&format!("netns add {ns}"));
            lan.created.push(ns.clone());
            // New interfaces inherit `default`: set accept_dad 0 before eth0 exists, so IPv6
            // addresses are never tentative (ARCHITECTURE.md pitfalls).
            let out = Command::new("ip")
                .args(["netns", "exec", &ns, "sysctl", "-qw"])
                .args([
                    "net.ipv6.conf.all.accept_dad=0",
                    "net.ipv6.conf.default.accept_dad=0",
                ])
                .output()
                .expect("run sysctl");
            assert!(
                out.status.success(),
                "sysctl accept_dad in {ns}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let port: String = format!("v{i}{name}").chars().take(15).collect();
            ip(&format!(
                "-n {l} link add {port} type veth peer name eth0 netns {ns}"
            ));
            ip(&format!("-n {l} link set {port} master br0 up"));
            let addr = Ipv4Addr::new(lan.net[0], lan.net[1], lan.net[2], i as u8 + 1);
            ip(&format!("-n {ns} link set lo up"));
            ip(&format!("-n {ns} addr add {addr}/24 dev eth0"));
            ip(&format!("-n {ns} link set eth0 up"));
            lan.nodes.push(Node {
                ns,
                name: name.to_string(),
                addr,
                registry: registry.clone(),
            });
        }
        lan
    }

    /// The node called `name`; panics if there is none.
    /// Waits (polling every 10 ms, at most `timeout`) until `node` holds `ip`; panics with the
    /// log of `daemon` (the process expected to have added it) otherwise.
    pub fn expect_addr(&self, node: &str, ip: IpAddr, timeout: Duration, daemon: &Proc) {
        let got = wait_until(timeout, Duration::from_millis(10), || {
            self.node(node).has_addr(ip)
        });
        assert!(got.is_some(), "{node} never took {ip}:\n{}", daemon.log());
    }

    pub fn node(&self, name: &str) -> &Node {
        self.nodes
            .iter()
            .find(|n| n.name == name)
            .unwrap_or_else(|| panic!("no node {name:?} on this Lan"))
    }

    /// All nodes, in the order given to [`Lan::new`].
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The `[10, X, Y]` of this segment's `10.X.Y.0/24`.
    pub fn subnet(&self) -> [u8; 3] {
        self.net
    }

    /// `10.X.Y.host` on this segment, e.g. `lan.ip(100)` for a VIP.
    pub fn ip(&self, host: u8) -> Ipv4Addr {
        Ipv4Addr::new(self.net[0], self.net[1], self.net[2], host)
    }

    /// `fd00:X:Y::host` on this segment (X, Y as in [`Lan::subnet`]): a ULA for IPv6 tests;
    /// nothing assigns it, see [`Node::add_ip6`].
    pub fn ip6(&self, host: u16) -> std::net::Ipv6Addr {
        std::net::Ipv6Addr::new(
            0xfd00,
            u16::from(self.net[1]),
            u16::from(self.net[2]),
            0,
            0,
            0,
            0,
            host,
        )
    }

    /// Primary IPv4 address of node `name`.
    pub fn addr(&self, node: &str) -> Ipv4Addr {
        self.node(node).addr
    }

    /// The unique prefix of every namespace of this segment (`rk<pid>n<k>`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Names of every namespace this segment created (the `lan` one first).
    pub fn namespaces(&self) -> &[String] {
        &self.created
    }

    /// Adds a second Ethernet segment: bridge `br<n>` in the LAN namespace and, in every
    /// node, an interface `ifname` (e.g. `eth1`) on it with `10.X.Z.<i+1>/24`, where `Z` is
    /// `Y` with its top bit flipped (so it differs from `eth0`'s subnet). Returns `[10, X, Z]`.
    /// Everything is inside this `Lan`'s namespaces and goes away with them.
    pub fn add_segment(&mut self, ifname: &str) -> [u8; 3] {
        assert!(
            ifname.len() <= 15 && !ifname.is_empty(),
            "interface name {ifname:?}"
        );
        let seg = self.segments + 1;
        self.segments = seg;
        let net = [
            self.net[0],
            self.net[1],
            self.net[2] ^ (0x80 | (seg as u8 - 1)),
        ];
        let l = self.lan_ns.clone();
        let br = format!("br{seg}");
        ip(&format!(
            "-n {l} link add {br} type bridge stp_state 0 mcast_snooping 0"
        ));
        ip(&format!("-n {l} link set {br} up"));
        for (i, node) in self.nodes.iter().enumerate() {
            let ns = &node.ns;
            let port: String = format!("w{seg}{i}{}", node.name).chars().take(15).collect();
            ip(&format!(
                "-n {l} link add {port} type veth peer name {ifname} netns {ns}"
            ));
            ip(&format!("-n {l} link set {port} master {br} up"));
            let addr = Ipv4Addr::new(net[0], net[1], net[2], i as u8 + 1);
            ip(&format!("-n {ns} addr add {addr}/24 dev {ifname}"));
            ip(&format!("-n {ns} link set {ifname} up"));
        }
        net
    }

    /// The bridge port (in the LAN namespace) of `node`'s `eth0`; setting it down takes the
    /// node's `eth0` out of RUNNING (carrier lost) while leaving it administratively up.
    pub fn port_of(&self, node: &str) -> String {
        let i = self
            .nodes
            .iter()
            .position(|n| n.name == node)
            .unwrap_or_else(|| panic!("no node {node:?}"));
        format!("v{i}{node}").chars().take(15).collect()
    }

    /// Runs `ip ARGS` inside the LAN namespace (e.g. to set a bridge port down); panics on
    /// failure.
    pub fn lan_ip(&self, args: &str) {
        ip(&format!("-n {} {args}", self.lan_ns));
    }

    /// Starts `tcpdump` on `eth0` of node `node` writing a pcap file (see [`Capture`]);
    /// `filter` is a pcap-filter expression (may be empty). Waits (at most 5 s) until
    /// tcpdump reports it is listening; panics if it does not.
    pub fn capture(&self, node: &str, filter: &str) -> Capture {
        Capture::start(self.node(node), filter)
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        let slots: Vec<SharedSlot> = lock(&self.registry).drain(..).collect();
        for slot in &slots {
            let mut s = lock(slot);
            s.signal_group(libc::SIGKILL);
            s.wait_for(REAP_TIMEOUT);
        }
        for ns in self.created.iter().rev() {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(Stdio::null())
                .status();
        }
    }
}

impl Node {
    /// Runs `cmd` inside this node's namespace (`ip netns exec NS cmd...`) and waits for it.
    /// Only for short commands: there is no timeout.
    pub fn exec(&self, cmd: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.ns])
            .args(cmd)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("ip netns exec {} {cmd:?}: {e}", self.ns))
    }

    /// Adds `addr/64` to `eth0` (nodad; DAD is off on test links anyway). Panics on failure.
    pub fn add_ip6(&self, addr: std::net::Ipv6Addr) {
        let out = self.exec(&[
            "ip",
            "-6",
            "addr",
            "add",
            &format!("{addr}/64"),
            "dev",
            "eth0",
            "nodad",
        ]);
        assert!(
            out.status.success(),
            "ip -6 addr add {addr} in {}: {}",
            self.ns,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The first link-local IPv6 address of `eth0` (waits up to 2 s for the kernel to add it).
    pub fn link_local(&self) -> std::net::Ipv6Addr {
        let mut found = None;
        wait_until_uninterruptible(Duration::from_secs(2), || {
            found = self.addrs().into_iter().find_map(|a| match a {
                IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80 => Some(v6),
                _ => None,
            });
            found.is_some()
        });
        found.unwrap_or_else(|| panic!("no link-local address on eth0 in {}", self.ns))
    }

    /// Every address on every interface of the node, from `ip -o addr show`.
    pub fn addrs(&self) -> Vec<IpAddr> {
        let out = Command::new("ip")
            .args(["-n", &self.ns, "-o", "addr", "show"])
            .stdin(Stdio::null())
            .output()
            .expect("run ip addr show");
        parse_ip_o_addr(&String::from_utf8_lossy(&out.stdout))
    }

    /// True when `ip` is configured on any interface of the node.
    pub fn has_addr(&self, ip: IpAddr) -> bool {
        self.addrs().contains(&ip)
    }

    /// MAC address of `eth0`.
    pub fn mac(&self) -> [u8; 6] {
        let out = Command::new("ip")
            .args(["-n", &self.ns, "-o", "link", "show", "dev", "eth0"])
            .output()
            .expect("run ip link show");
        let text = String::from_utf8_lossy(&out.stdout);
        let mac = text
            .split_whitespace()
            .skip_while(|w| *w != "link/ether")
            .nth(1)
            .unwrap_or_else(|| panic!("no link/ether in {text:?}"));
        parse_mac(mac).unwrap_or_else(|| panic!("bad MAC {mac:?}"))
    }

    /// Starts `daemon` in this namespace on a copy of `conf` (written to a fresh temporary
    /// directory that also holds the pidfiles and the log). See [`Daemon::args`] for the
    /// command line. Panics if the binary is missing (check with [`require_daemon`]).
    pub fn spawn(&self, daemon: Daemon, conf: &str) -> Proc {
        self.spawn_with(daemon, conf, &[])
    }

    /// [`Node::spawn`] with `extra` arguments after the usual ones (e.g. `-C`).
    pub fn spawn_with(&self, daemon: Daemon, conf: &str, extra: &[&str]) -> Proc {
        let bin = daemon.binary().unwrap_or_else(|why| panic!("{why}"));
        let dir = tempfile::Builder::new()
            .prefix(&format!("{}-{}-", self.ns, daemon.name()))
            .tempdir()
            .expect("create temp dir");
        let conf_path = dir.path().join("keepalived.conf");
        File::create(&conf_path)
            .and_then(|mut f| f.write_all(conf.as_bytes()))
            .expect("write config");
        let mut argv = vec![OsString::from(bin)];
        argv.extend(daemon.args(&conf_path, dir.path()));
        argv.extend(extra.iter().map(OsString::from));
        self.spawn_argv(&argv, dir)
    }

    /// Starts an arbitrary command in this namespace with the same bookkeeping as
    /// [`Node::spawn`] (own process group, log file, killed by the `Lan` on drop).
    pub fn spawn_cmd(&self, argv: &[&str]) -> Proc {
        let dir = tempfile::Builder::new()
            .prefix(&format!("{}-cmd-", self.ns))
            .tempdir()
            .expect("create temp dir");
        let argv: Vec<OsString> = argv.iter().map(OsString::from).collect();
        self.spawn_argv(&argv, dir)
    }

    fn spawn_argv(&self, argv: &[OsString], dir: tempfile::TempDir) -> Proc {
        let log = dir.path().join("output.log");
        let slot = spawn_in(&self.ns, argv, &log, &self.registry);
        let pid = lock(&slot).pid();
        Proc {
            pid,
            slot,
            log,
            dir,
        }
    }
}

/// Addresses in `ip -o addr show` output (`2: eth0    inet 10.1.2.3/24 ...`).
pub fn parse_ip_o_addr(text: &str) -> Vec<IpAddr> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            words.find(|w| *w == "inet" || *w == "inet6")?;
            let cidr = words.next()?;
            cidr.split('/').next()?.parse().ok()
        })
        .collect()
}

/// `aa:bb:cc:dd:ee:ff` → bytes.
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = s.split(':');
    for b in &mut mac {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

/// Bytes → `aa:bb:cc:dd:ee:ff`.
pub fn fmt_mac(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

// ---------------------------------------------------------------------------------------------
// Daemons and processes
// ---------------------------------------------------------------------------------------------

/// Which VRRP daemon to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Daemon {
    /// This project's binary: `$RKEEPALIVED_BIN`, else `<target>/<profile>/rkeepalived` next to
    /// the running test/example/bench (see [`Daemon::binary`]).
    Rkeepalived,
    /// The system's keepalived (Debian's 2.2.7 on the development machines).
    Keepalived,
}

impl Daemon {
    /// Both daemons, rkeepalived first.
    pub const ALL: [Daemon; 2] = [Daemon::Rkeepalived, Daemon::Keepalived];

    /// `"rkeepalived"` or `"keepalived"`.
    pub fn name(self) -> &'static str {
        match self {
            Daemon::Rkeepalived => "rkeepalived",
            Daemon::Keepalived => "keepalived",
        }
    }

    /// Parses [`Daemon::name`].
    pub fn from_name(s: &str) -> Option<Daemon> {
        Daemon::ALL.into_iter().find(|d| d.name() == s)
    }

    /// Path of the binary, or a sentence saying why there is none.
    ///
    /// rkeepalived: `$RKEEPALIVED_BIN` if set; otherwise tests, examples and benches run from
    /// `<target>/<profile>/{deps,examples}/`, so the binary is looked for in
    /// `<target>/<profile>/rkeepalived`, then in the other profile's directory.
    /// (`CARGO_BIN_EXE_rkeepalived` exists only for integration tests, hence this search.)
    pub fn binary(self) -> Result<PathBuf, String> {
        match self {
            Daemon::Keepalived => find_program("keepalived").ok_or_else(|| {
                "keepalived is not installed (apt-get install keepalived)".to_owned()
            }),
            Daemon::Rkeepalived => {
                if let Some(p) = std::env::var_os("RKEEPALIVED_BIN") {
                    let p = PathBuf::from(p);
                    return if p.is_file() {
                        Ok(p)
                    } else {
                        Err(format!("RKEEPALIVED_BIN={} does not exist", p.display()))
                    };
                }
                let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
                let profile_dir = exe
                    .parent()
                    .and_then(Path::parent)
                    .ok_or("cannot locate the target directory")?;
                let mut candidates = vec![profile_dir.join("rkeepalived")];
                if let Some(target) = profile_dir.parent() {
                    for other in ["release", "debug"] {
                        let p = target.join(other).join("rkeepalived");
                        if !candidates.contains(&p) {
                            candidates.push(p);
                        }
                    }
                }
                let build = if profile_dir.ends_with("release") {
                    "cargo build --release"
                } else {
                    "cargo build"
                };
                candidates.iter().find(|p| p.is_file()).cloned().ok_or_else(|| {
                    format!(
                        "rkeepalived binary not found at {} (run `{build}`, or set RKEEPALIVED_BIN)",
                        candidates[0].display()
                    )
                })
            }
        }
    }

    /// Command-line arguments (after the binary) for a foreground daemon logging to stderr,
    /// with every pidfile inside `dir`:
    ///
    /// * rkeepalived: `-n -l -D -f CONF -p DIR/rkeepalived.pid`
    /// * keepalived:  `-n -l -D -P -f CONF -p DIR/keepalived.pid -r DIR/vrrp.pid -c DIR/checkers.pid`
    ///   (`-P`: VRRP subsystem only; own pidfiles so that two instances can run on one host).
    pub fn args(self, conf: &Path, dir: &Path) -> Vec<OsString> {
        let mut v: Vec<OsString> = ["-n", "-l", "-D"].map(OsString::from).to_vec();
        if self == Daemon::Keepalived {
            v.push("-P".into());
        }
        v.push("-f".into());
        v.push(conf.into());
        v.push("-p".into());
        v.push(dir.join(format!("{}.pid", self.name())).into());
        if self == Daemon::Keepalived {
            v.push("-r".into());
            v.push(dir.join("vrrp.pid").into());
            v.push("-c".into());
            v.push(dir.join("checkers.pid").into());
        }
        v
    }
}

/// A process started by [`Node::spawn`] or [`Node::spawn_cmd`]; it leads its own process
/// group. Drop kills the group (SIGKILL) if the process is still running and reaps it.
pub struct Proc {
    /// PID of the started process (also its process group id).
    pub pid: u32,
    slot: SharedSlot,
    log: PathBuf,
    dir: tempfile::TempDir,
}

impl Proc {
    /// Everything the process wrote to stdout and stderr so far.
    pub fn log(&self) -> String {
        fs::read(&self.log)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// The last `n` lines of [`Proc::log`], for failure messages.
    pub fn log_tail(&self, n: usize) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Polls the log every 20 ms until it contains `needle`; false after `timeout`.
    pub fn wait_log(&self, needle: &str, timeout: Duration) -> bool {
        wait_until(timeout, POLL, || self.log().contains(needle)).is_some()
    }

    /// [`Proc::wait_log`] that fails the test with the log when `needle` does not appear.
    pub fn expect_log(&self, needle: &str, timeout: Duration) {
        assert!(
            self.wait_log(needle, timeout),
            "no {needle:?} in the log after {timeout:?}:\n{}",
            self.log()
        );
    }

    /// Number of occurrences of `needle` in the log.
    pub fn log_count(&self, needle: &str) -> usize {
        self.log().matches(needle).count()
    }

    /// Sends `sig` to the process itself (not to its children), unless it was reaped already.
    pub fn signal(&self, sig: i32) {
        lock(&self.slot).signal(sig);
    }

    /// Sends `sig` and returns the file `name` the process then writes in its directory (its
    /// `TMPDIR`: keepalived's and rkeepalived's SIGUSR1/SIGUSR2 dumps). Waits at most 5 s for
    /// the file to appear non-empty, then 300 ms for the writer to finish; panics with the
    /// log otherwise.
    pub fn signal_dump(&self, sig: i32, name: &str) -> String {
        let path = self.dir().join(name);
        let _ = std::fs::remove_file(&path);
        self.signal(sig);
        let got = wait_until(Duration::from_secs(5), Duration::from_millis(20), || {
            std::fs::metadata(&path).is_ok_and(|m| m.len() > 0)
        });
        assert!(
            got.is_some(),
            "no {name} after signal {sig}:\n{}",
            self.log_tail(30)
        );
        std::thread::sleep(Duration::from_millis(300));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// SIGKILL to the whole process group, then reap (bounded). For keepalived this matters:
    /// killing only the parent makes its VRRP child exit gracefully (parent-death signal) and
    /// send a priority-0 advert, which is not a crash.
    pub fn kill(&self) {
        let mut s = lock(&self.slot);
        s.signal_group(libc::SIGKILL);
        s.wait_for(REAP_TIMEOUT);
    }

    /// SIGTERM to the process (keepalived and rkeepalived release their VIPs gracefully).
    pub fn term(&self) {
        self.signal(libc::SIGTERM);
    }

    /// True while the process has not exited.
    pub fn running(&self) -> bool {
        lock(&self.slot).poll().is_none()
    }

    /// Waits up to `timeout` for the process to exit; its exit code, or 128 + signal number
    /// if a signal ended it; `None` if still running.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        wait_until(timeout, POLL, || lock(&self.slot).poll().is_some())?;
        lock(&self.slot).status.map(exit_code)
    }

    /// Temporary directory holding the config copy, pidfiles and log; removed on drop.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let mut s = lock(&self.slot);
        s.signal_group(libc::SIGKILL);
        s.wait_for(REAP_TIMEOUT);
    }
}

// ---------------------------------------------------------------------------------------------
// Capture
// ---------------------------------------------------------------------------------------------

/// A running `tcpdump -U --immediate-mode -i eth0 -w FILE FILTER` in a node's namespace.
///
/// The pcap file can be read while tcpdump runs (each packet is flushed as it arrives) and
/// after [`Capture::stop`]. Drop stops tcpdump (SIGINT, then SIGKILL after 2 s) and removes
/// the file.
pub struct Capture {
    slot: SharedSlot,
    dir: tempfile::TempDir,
    file: PathBuf,
    log: PathBuf,
}

impl Capture {
    fn start(node: &Node, filter: &str) -> Capture {
        let tcpdump = find_program("tcpdump").expect("tcpdump is not installed");
        let dir = tempfile::Builder::new()
            .prefix(&format!("{}-pcap-", node.ns))
            .tempdir()
            .expect("create temp dir");
        let file = dir.path().join("eth0.pcap");
        let log = dir.path().join("tcpdump.log");
        // -Z root: Debian's tcpdump otherwise drops to user `tcpdump`, which cannot write
        // into our 0700 temporary directory.
        let mut argv: Vec<OsString> = vec![
            tcpdump.into(),
            "-Z".into(),
            "root".into(),
            "-U".into(),
            "--immediate-mode".into(),
            // Immediate mode uses a TPACKET_V2 ring with one slot per snaplen: at the default
            // snaplen (262144) the default 2 MiB ring holds 8 frames, and a burst of adverts
            // (200 instances at once) loses most of them in the kernel (measured: 1312 of 2600
            // dropped; the sender's own egress capture had every advert). 2048 bytes hold
            // every frame the tests capture (VRRP, ARP, ND at MTU 1500); 8 MiB of ring hold
            // about 3,900 of them.
            "-s".into(),
            "2048".into(),
            "-B".into(),
            "8192".into(),
            "-n".into(),
            "-i".into(),
            "eth0".into(),
            "-w".into(),
            file.clone().into(),
        ];
        if !filter.is_empty() {
            argv.push(filter.into());
        }
        let slot = spawn_in(&node.ns, &argv, &log, &node.registry);
        let cap = Capture {
            slot,
            dir,
            file,
            log,
        };
        let ready = wait_until_uninterruptible(Duration::from_secs(5), || {
            fs::read_to_string(&cap.log)
                .map(|l| l.contains("listening on"))
                .unwrap_or(false)
                || lock(&cap.slot).poll().is_some()
        });
        let log = fs::read_to_string(&cap.log).unwrap_or_default();
        assert!(
            ready && log.contains("listening on"),
            "tcpdump in {} did not start: {log}",
            node.ns
        );
        cap
    }

    /// Path of the pcap file (complete after [`Capture::stop`]).
    pub fn path(&self) -> &Path {
        &self.file
    }

    /// Stops tcpdump (SIGINT so it flushes and closes the file; SIGKILL after 2 s) and
    /// returns the pcap file's path, valid until the `Capture` is dropped. Idempotent.
    pub fn stop(&mut self) -> &Path {
        let mut s = lock(&self.slot);
        s.signal(libc::SIGINT);
        if s.wait_for(Duration::from_secs(2)).is_none() {
            s.signal_group(libc::SIGKILL);
            s.wait_for(REAP_TIMEOUT);
        }
        drop(s);
        &self.file
    }

    /// Every frame captured so far (a partial last record is ignored).
    pub fn frames(&self) -> Vec<pcap::Frame> {
        fs::read(&self.file)
            .map(|b| pcap::parse(&b).unwrap_or_default())
            .unwrap_or_default()
    }

    /// Gratuitous ARPs captured so far (sender IP == target IP), in capture order.
    pub fn garps(&self) -> Vec<Garp> {
        self.frames().iter().filter_map(pcap::garp).collect()
    }

    /// VRRP advertisements (IPv4 or IPv6, protocol 112) captured so far, in capture order.
    pub fn adverts(&self) -> Vec<Advert> {
        self.frames().iter().filter_map(pcap::advert).collect()
    }

    /// Unsolicited (or any) Neighbour Advertisements captured so far, in capture order.
    pub fn nas(&self) -> Vec<pcap::Na> {
        self.frames().iter().filter_map(pcap::na).collect()
    }

    /// `(time, src, dst, ttl)` of every VRRP packet captured so far, in capture order.
    pub fn vrrp_ips(&self) -> Vec<(SystemTime, IpAddr, IpAddr, u8)> {
        self.frames()
            .iter()
            .filter_map(|f| pcap::vrrp_ip(f).map(|(s, d, t)| (f.time, s, d, t)))
            .collect()
    }

    /// `tshark -r FILE -V`: the full dissection, e.g. to assert
    /// `[Checksum Status: Good]` on VRRPv3 adverts. Empty if tshark is missing.
    pub fn tshark_verbose(&self) -> String {
        let Some(tshark) = find_program("tshark") else {
            return String::new();
        };
        Command::new(tshark)
            .arg("-r")
            .arg(&self.file)
            .arg("-V")
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// The directory holding the pcap file and tcpdump's log; removed on drop.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Milliseconds from `from` to `to` (negative if `to` is earlier), for timelines mixing
/// capture timestamps (wall clock) with the wall-clock time of an action.
pub fn ms_between(from: SystemTime, to: SystemTime) -> f64 {
    match to.duration_since(from) {
        Ok(d) => d.as_secs_f64() * 1e3,
        Err(e) => -e.duration().as_secs_f64() * 1e3,
    }
}

// ---------------------------------------------------------------------------------------------
// Code inside a namespace
// ---------------------------------------------------------------------------------------------

/// Runs `f` on a new thread that has joined network namespace `ns` (the test's own threads
/// stay where they are).
pub fn in_ns<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let fd = File::open(&path).expect("open netns");
        nix::sched::setns(fd, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        f()
    })
}

/// Runs a checker [`Runner`](rkeepalived::check::runner::Runner) inside `ns` (its check
/// threads inherit the namespace) until `stop` is set, handing every real-server event to
/// `on_event`.
pub fn run_runner_in_ns(
    ns: &str,
    runner: rkeepalived::check::runner::Runner,
    stop: Arc<std::sync::atomic::AtomicBool>,
    mut on_event: impl FnMut(rkeepalived::check::event::RsEvent) + Send + 'static,
) -> std::thread::JoinHandle<()> {
    in_ns(ns, move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let (etx, mut erx) = tokio::sync::mpsc::channel(16);
            let task = tokio::spawn(runner.run(etx));
            while !stop.load(Ordering::SeqCst) {
                if let Ok(Some(ev)) =
                    tokio::time::timeout(Duration::from_millis(50), erx.recv()).await
                {
                    on_event(ev);
                }
            }
            task.abort();
        });
    })
}
