//! Chaos soak (issue 11): three VRRP nodes (priorities 150/100/50, VRRPv3 0.1 s adverts, one
//! VIP, preempt on) and a fourth namespace `x` for bad adverts; random faults, each applied,
//! held, reverted, then left to settle for three Master_Down_Intervals before the invariants
//! are checked:
//!
//! * exactly one node holds the VIP, and it is the highest-priority node (every node is live
//!   again after the revert, so that is `a`);
//! * no other node keeps the VIP;
//! * no daemon exited unexpectedly;
//! * after a burst of bad adverts, every node's drop counters (its `keepalived.stats`, SIGUSR2)
//!   grew by exactly what was sent, in total and kind by kind (`Checksum` by the bad
//!   checksums, `Length` by the truncated and the too long ones, `TTL` by the TTL-64 ones):
//!   rkeepalived counts every packet once, under its kind. keepalived 2.2.7's file does not
//!   count every kind (no checksum counter; measured: its sums differ from what was sent), so
//!   for keepalived a difference is reported (`FaultResult::counters`), not counted as a
//!   violation.
//!
//! Faults: `kill -9` of a node's whole process tree and a restart, SIGSTOP/SIGCONT, carrier
//! loss (bridge port down/up), a partition (nftables drop of VRRP in a node's namespace) and
//! its heal, SIGHUP with an edited and with a broken file, and a burst of malformed adverts
//! from `x`. The random sequence comes from a seed (printed), so a failing run can be
//! replayed. Used by `benches/soak.rs` (both daemons, many faults) and by the short soak in
//! `tests/netns_unhappy/chaos.rs`.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use super::{Daemon, Lan, Proc, wait_until};

/// The nodes and their priorities, highest first.
pub const NODES: [(&str, u8); 3] = [("a", 150), ("b", 100), ("c", 50)];
/// VRRPv3 advert interval (centiseconds as keepalived writes it: `0.1`).
pub const ADVERT_INT: Duration = Duration::from_millis(100);

/// Master_Down_Interval of the lowest-priority backup (the longest): 3 × 0.1 s + skew.
pub fn mdi() -> Duration {
    ADVERT_INT * 3 + ADVERT_INT * (256 - 50) / 256
}

/// One kind of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Kill9Restart,
    StopCont,
    LinkDownUp,
    PartitionHeal,
    HupEdited,
    HupBroken,
    BadAdverts,
}

impl Fault {
    pub const ALL: [Fault; 7] = [
        Fault::Kill9Restart,
        Fault::StopCont,
        Fault::LinkDownUp,
        Fault::PartitionHeal,
        Fault::HupEdited,
        Fault::HupBroken,
        Fault::BadAdverts,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Fault::Kill9Restart => "kill -9 + restart",
            Fault::StopCont => "SIGSTOP/SIGCONT",
            Fault::LinkDownUp => "link down/up",
            Fault::PartitionHeal => "partition/heal",
            Fault::HupEdited => "SIGHUP edited file",
            Fault::HupBroken => "SIGHUP broken file",
            Fault::BadAdverts => "bad advert burst",
        }
    }
}

/// A small deterministic generator (xorshift64*), so a run replays from its seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The result of one fault.
#[derive(Debug, Clone)]
pub struct FaultResult {
    pub fault: Fault,
    pub node: &'static str,
    /// Revert → the invariant first held (bounded by the settle window).
    pub convergence: Option<Duration>,
    /// What was wrong after settling, if anything.
    pub violation: Option<String>,
    /// After a bad-advert burst: how the nodes' drop counters differ from what was sent, if
    /// they do (a violation for rkeepalived; reported only for keepalived).
    pub counters: Option<String>,
}

/// A running soak lab.
pub struct Soak {
    pub daemon: Daemon,
    pub lan: Lan,
    procs: Vec<Option<Proc>>,
    confs: Vec<String>,
    vip: IpAddr,
}

fn conf(lan: &Lan, priority: u8) -> String {
    format!(
        "global_defs {{\n  router_id soak\n}}\nvrrp_instance VI_1 {{\n  state BACKUP\n  \
         interface eth0\n  virtual_router_id 61\n  priority {priority}\n  version 3\n  \
         advert_int 0.1\n  virtual_ipaddress {{\n    {}/24\n  }}\n}}\n",
        lan.ip(100)
    )
}

impl Soak {
    /// Builds the namespaces and starts `daemon` on the three nodes; waits until `a` holds the
    /// VIP.
    pub fn start(daemon: Daemon) -> Soak {
        let lan = Lan::new(&["a", "b", "c", "x"]);
        let vip = IpAddr::V4(lan.ip(100));
        let mut procs = Vec::new();
        let mut confs = Vec::new();
        for (name, prio) in NODES {
            let c = conf(&lan, prio);
            procs.push(Some(lan.node(name).spawn(daemon, &c)));
            confs.push(c);
        }
        let soak = Soak {
            daemon,
            lan,
            procs,
            confs,
            vip,
        };
        let a = soak.procs[0].as_ref().expect("started");
        soak.lan.expect_addr("a", vip, Duration::from_secs(15), a);
        soak
    }

    fn index(name: &str) -> usize {
        NODES.iter().position(|(n, _)| *n == name).expect("node")
    }

    fn proc(&self, name: &str) -> &Proc {
        self.procs[Self::index(name)].as_ref().expect("running")
    }

    /// Who holds the VIP now.
    pub fn holders(&self) -> Vec<&'static str> {
        NODES
            .iter()
            .filter(|(n, _)| self.lan.node(n).has_addr(self.vip))
            .map(|(n, _)| *n)
            .collect()
    }

    /// `None` when the invariants hold, else what is wrong.
    pub fn check(&mut self) -> Option<String> {
        for (i, (n, _)) in NODES.iter().enumerate() {
            if let Some(p) = &self.procs[i]
                && !p.running()
            {
                return Some(format!("{n}: daemon exited:\n{}", p.log_tail(20)));
            }
        }
        let h = self.holders();
        (h != ["a"]).then(|| format!("holders {h:?} (want [\"a\"])"))
    }

    /// Applies `fault` to `node`, holds it for `hold`, reverts it, and watches the invariant
    /// for three Master_Down_Intervals (plus the restart time of a killed daemon).
    pub fn inject(&mut self, fault: Fault, node: &'static str, hold: Duration) -> FaultResult {
        let i = Self::index(node);
        let ns = self.lan.node(node).ns.clone();
        let mut settle = mdi() * 3;
        let mut counters = None;
        match fault {
            Fault::Kill9Restart => {
                let p = self.procs[i].take().expect("running");
                p.kill();
                std::thread::sleep(hold);
                drop(p);
                self.procs[i] = Some(self.lan.node(node).spawn(self.daemon, &self.confs[i]));
                // A restarted backup waits a Master_Down_Interval before preempting.
                settle += Duration::from_secs(2);
            }
            Fault::StopCont => {
                let p = self.proc(node);
                p.signal(libc::SIGSTOP);
                std::thread::sleep(hold);
                p.signal(libc::SIGCONT);
            }
            Fault::LinkDownUp => {
                let port = self.lan.port_of(node);
                self.lan.lan_ip(&format!("link set {port} down"));
                std::thread::sleep(hold);
                self.lan.lan_ip(&format!("link set {port} up"));
            }
            Fault::PartitionHeal => {
                nft(
                    &ns,
                    "add table inet rksoak\nadd chain inet rksoak in { type filter hook input \
                     priority 0; }\nadd chain inet rksoak out { type filter hook output priority \
                     0; }\nadd rule inet rksoak in ip protocol 112 drop\nadd rule inet rksoak out \
                     ip protocol 112 drop\n",
                );
                std::thread::sleep(hold);
                nft(&ns, "delete table inet rksoak\n");
            }
            Fault::HupEdited | Fault::HupBroken => {
                let path = self.proc(node).dir().join("keepalived.conf");
                let text = if fault == Fault::HupEdited {
                    format!("{}# edited by the soak\n", self.confs[i])
                } else {
                    format!(
                        "{}vrrp_instance VI_2 {{\n  priority nonsense\n",
                        self.confs[i]
                    )
                };
                std::fs::write(&path, text).expect("write config");
                self.proc(node).signal(libc::SIGHUP);
                std::thread::sleep(hold);
                std::fs::write(&path, &self.confs[i]).expect("restore config");
            }
            Fault::BadAdverts => {
                let x = self.lan.node("x").ns.clone();
                let src = self.lan.addr("x");
                let group = Ipv4Addr::new(224, 0, 0, 18);
                let before = self.drop_counters();
                let t = super::in_ns(&x, move || send_bad_adverts(src, group, hold));
                let sent = t.join().unwrap_or_default();
                // The last packets are still in the receivers' queues for a moment.
                std::thread::sleep(Duration::from_millis(300));
                let after = self.drop_counters();
                let want: u64 = sent.iter().sum();
                // Each node is on the segment and in the group: each receives every packet.
                let want_kinds = [
                    ("Checksum", sent[0]),
                    ("Length", sent[1] + sent[2]),
                    ("TTL", sent[3]),
                ];
                let mut wrong = Vec::new();
                for (k, (n, _)) in NODES.iter().enumerate() {
                    let got = drop_total(&after[k]).saturating_sub(drop_total(&before[k]));
                    if got != want {
                        wrong.push(format!("{n} counted {got}"));
                    }
                    for (key, w) in want_kinds {
                        let got = error_counter(&after[k], key)
                            .saturating_sub(error_counter(&before[k], key));
                        if got != w {
                            wrong.push(format!("{n} counted {got} {key} errors, not {w}"));
                        }
                    }
                }
                if !wrong.is_empty() {
                    counters = Some(format!(
                        "sent {sent:?} (bad checksum, truncated, trailing, TTL 64) = {want} per \
                         node; {}",
                        wrong.join(", ")
                    ));
                }
            }
        }
        let revert = Instant::now();
        let converged = wait_until(settle, Duration::from_millis(10), || {
            self.holders() == ["a"]
        })
        .map(|_| revert.elapsed());
        // Let it run to the end of the window, then check (a late flap counts).
        let left = settle.saturating_sub(revert.elapsed());
        std::thread::sleep(left.min(mdi()));
        let violation = self.check().or_else(|| {
            counters
                .as_ref()
                .filter(|_| self.daemon == Daemon::Rkeepalived)
                .map(|c| format!("drop counters: {c}"))
        });
        FaultResult {
            fault,
            node,
            convergence: converged,
            violation,
            counters,
        }
    }

    /// Runs `n` random faults from `seed`, calling `each` after every one.
    pub fn run(
        &mut self,
        n: usize,
        seed: u64,
        each: impl FnMut(usize, &FaultResult),
    ) -> Vec<FaultResult> {
        self.run_kinds(n, seed, &Fault::ALL, each)
    }

    /// [`Soak::run`] drawing faults from `kinds` only.
    pub fn run_kinds(
        &mut self,
        n: usize,
        seed: u64,
        kinds: &[Fault],
        mut each: impl FnMut(usize, &FaultResult),
    ) -> Vec<FaultResult> {
        let mut rng = Rng::new(seed);
        let mut out = Vec::new();
        for k in 0..n {
            if super::interrupted() {
                break;
            }
            let fault = kinds[rng.below(kinds.len() as u64) as usize];
            let node = NODES[rng.below(NODES.len() as u64) as usize].0;
            // Long enough for the fault to matter (a lost master is noticed after a
            // Master_Down_Interval), short enough to keep the soak quick.
            let hold = Duration::from_millis(200 + rng.below(800));
            let r = self.inject(fault, node, hold);
            each(k, &r);
            out.push(r);
        }
        out
    }
}

impl Soak {
    /// Each node's `keepalived.stats` (SIGUSR2), in [`NODES`] order: read with [`drop_total`]
    /// and [`error_counter`].
    fn drop_counters(&self) -> Vec<String> {
        NODES
            .iter()
            .map(|(n, _)| self.proc(n).signal_dump(libc::SIGUSR2, "keepalived.stats"))
            .collect()
    }
}

/// One counter of the error blocks of the first instance in a `keepalived.stats` text, by
/// name (`Length`, `TTL`, `Checksum`...); 0 when it is not there.
pub fn error_counter(stats: &str, key: &str) -> u64 {
    let mut in_errors = false;
    for line in stats.lines() {
        if line.starts_with("Unmatched") || (line.starts_with("VRRP Instance") && in_errors) {
            break;
        }
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if indent == 2 {
            in_errors = trimmed.ends_with("Errors:");
        } else if indent == 4
            && in_errors
            && let Some((name, v)) = trimmed.split_once(':')
            && name == key
        {
            return v.trim().parse().unwrap_or(0);
        }
    }
    0
}

/// Sums the counters of the error blocks of a `keepalived.stats` text (the instance's blocks;
/// the `Unmatched VRRP Packets` block counts packets for no instance and is left out).
pub fn drop_total(stats: &str) -> u64 {
    let mut total = 0;
    let mut in_errors = false;
    for line in stats.lines() {
        if line.starts_with("Unmatched") {
            break;
        }
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if indent == 2 {
            in_errors = trimmed.ends_with("Errors:");
        } else if indent == 4
            && in_errors
            && let Some(v) = trimmed.rsplit(':').next()
        {
            total += v.trim().parse::<u64>().unwrap_or(0);
        }
    }
    total
}

fn nft(ns: &str, script: &str) {
    use std::io::Write as _;
    let mut child = std::process::Command::new("ip")
        .args(["netns", "exec", ns, "nft", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("nft");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("write nft script");
    let st = child.wait().expect("nft");
    assert!(st.success(), "nft -f failed in {ns}:\n{script}");
}

/// Sends malformed VRRPv3 adverts for VRID 61 from `src` to `group` for `during`: a bad
/// checksum, a truncated one, trailing bytes, and a TTL of 64 (with a correct checksum, so
/// that only the TTL is wrong), in turn, about 2,000 per second. Returns how many of each
/// kind were sent, in that order.
pub fn send_bad_adverts(src: Ipv4Addr, group: Ipv4Addr, during: Duration) -> [u64; 4] {
    let sock = socket2::Socket::new(
        socket2::Domain::IPV4,
        socket2::Type::RAW,
        Some(socket2::Protocol::from(112)),
    )
    .expect("raw socket");
    let _ = sock.bind(&std::net::SocketAddr::new(IpAddr::V4(src), 0).into());
    let dst: socket2::SockAddr = std::net::SocketAddr::new(IpAddr::V4(group), 0).into();
    // VRRPv3 advert, VRID 61, priority 254, one address, max adver int 10 cs, bad checksum.
    let good_shape: [u8; 12] = [0x31, 61, 254, 1, 0x00, 10, 0xde, 0xad, 10, 0, 0, 100];
    // The same with its checksum right (RFC 5798 §5.2.8: over the IPv4 pseudo-header too).
    let mut ttl_only = good_shape;
    ttl_only[6..8].copy_from_slice(&[0, 0]);
    let mut pseudo = Vec::with_capacity(12 + ttl_only.len());
    pseudo.extend_from_slice(&src.octets());
    pseudo.extend_from_slice(&group.octets());
    pseudo.extend_from_slice(&[0, 112, 0, ttl_only.len() as u8]);
    pseudo.extend_from_slice(&ttl_only);
    let sum = pseudo
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum::<u32>();
    let folded = (sum & 0xffff) + (sum >> 16);
    let folded = (folded & 0xffff) + (folded >> 16);
    ttl_only[6..8].copy_from_slice(&(!(folded as u16)).to_be_bytes());
    let start = Instant::now();
    let mut sent = 0u64;
    let mut per_kind = [0u64; 4];
    while start.elapsed() < during && sent < 1_000_000 {
        let kind = sent % 4;
        let (ttl, pkt): (u32, Vec<u8>) = match kind {
            0 => (255, good_shape.to_vec()),
            1 => (255, good_shape[..7].to_vec()),
            2 => (255, [&good_shape[..], &[0u8; 9][..]].concat()),
            _ => (64, ttl_only.to_vec()),
        };
        let _ = sock.set_multicast_ttl_v4(ttl);
        if sock.send_to(&pkt, &dst).is_ok() {
            sent += 1;
            per_kind[kind as usize] += 1;
        }
        if sent.is_multiple_of(20) {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    per_kind
}

/// Median, 99th percentile and maximum of `v` (ms), `None` when empty.
pub fn stats(mut v: Vec<f64>) -> Option<(f64, f64, f64)> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some((v[n / 2], v[(n * 99 / 100).min(n - 1)], v[n - 1]))
}
