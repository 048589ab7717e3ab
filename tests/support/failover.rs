//! The failover scenario shared by `examples/failover_demo.rs` and `benches/failover.rs`:
//! nodes `a` (priority 150) and `b` (priority 100) run a VRRP daemon from `conf/demo.conf`,
//! client `c` captures ARP and VRRP; once `a` is master it is killed with SIGKILL and we
//! measure when `b` holds the VIP and when `c` sees `b`'s gratuitous ARP.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant, SystemTime};

use super::{Daemon, Lan, Proc, fmt_mac, ms_between, wait_until};

/// `conf/demo.conf`, the template both nodes are configured from.
pub const DEMO_TEMPLATE: &str = include_str!("../../conf/demo.conf");

/// Fills a template: drops whole-line comments (`#` or `!`, which document the
/// placeholders) and the `$NAME=value` definition lines of the names in `vars`, and replaces
/// every `${NAME}` by its value. Errors name any `${...}` left without a value.
pub fn render(template: &str, vars: &[(&str, String)]) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    for line in template.lines() {
        if line.trim_start().starts_with(['#', '!']) {
            continue;
        }
        let defines_var = line
            .strip_prefix('$')
            .and_then(|rest| rest.split_once('='))
            .is_some_and(|(name, _)| vars.iter().any(|(n, _)| *n == name.trim()));
        if defines_var {
            continue;
        }
        let mut line = line.to_owned();
        for (name, value) in vars {
            line = line.replace(&format!("${{{name}}}"), value);
        }
        if let Some(at) = line.find("${") {
            let name: String = line[at + 2..].chars().take_while(|c| *c != '}').collect();
            return Err(format!("no value for placeholder ${{{name}}}"));
        }
        out.push_str(&line);
        out.push('\n');
    }
    Ok(out)
}

/// RFC 3768 §6.1 (v2): `Master_Down_Interval = 3 * Advertisement_Interval + Skew_Time`,
/// `Skew_Time = (256 - Priority) / 256` seconds.
/// RFC 5798 §6.1 (v3): `Skew_Time = ((256 - Priority) * Master_Adver_Interval) / 256`.
/// keepalived computes the same (vrrp.h `VRRP_MS_DOWN_TIMER`).
pub fn master_down_interval(version: u8, advert_int: Duration, priority: u8) -> Duration {
    let skew_units = 256 - u32::from(priority);
    let skew = if version == 3 {
        advert_int * skew_units / 256
    } else {
        Duration::from_secs(1) * skew_units / 256
    };
    advert_int * 3 + skew
}

/// Parameters of one failover run.
#[derive(Clone, Debug)]
pub struct Settings {
    /// VRRP version, 2 or 3.
    pub version: u8,
    /// Advertisement interval (whole seconds for v2).
    pub advert_int: Duration,
    pub vrid: u8,
    /// Priority of node `a`, which should win the election.
    pub master_priority: u8,
    /// Priority of node `b`.
    pub backup_priority: u8,
    /// Initial `state` of node `a` (`MASTER` or `BACKUP`).
    pub master_state: &'static str,
    /// How often `ip -o addr` is polled on `b` after the kill.
    pub poll: Duration,
    /// Bound on the election at start-up.
    pub election_timeout: Duration,
    /// Time left between the election and the kill, so adverts flow in steady state.
    pub steady: Duration,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            version: 2,
            advert_int: Duration::from_secs(1),
            vrid: 51,
            master_priority: 150,
            backup_priority: 100,
            master_state: "MASTER",
            poll: Duration::from_millis(5),
            election_timeout: Duration::from_secs(15),
            steady: Duration::from_millis(1500),
        }
    }
}

impl Settings {
    /// Master_Down_Interval of the backup (see [`master_down_interval`]).
    pub fn mdi(&self) -> Duration {
        master_down_interval(self.version, self.advert_int, self.backup_priority)
    }

    /// The advert interval as keepalived writes it (`1`, `0.5`).
    fn advert_int_text(&self) -> String {
        let s = self.advert_int.as_secs_f64();
        if s.fract() == 0.0 {
            format!("{}", s as u64)
        } else {
            format!("{s}")
        }
    }

    /// `conf/demo.conf` filled in for one node.
    pub fn conf(&self, state: &str, priority: u8, vip: Ipv4Addr) -> String {
        let vars = [
            ("INTERFACE", "eth0".to_owned()),
            ("STATE", state.to_owned()),
            ("PRIORITY", priority.to_string()),
            ("VRID", self.vrid.to_string()),
            ("VERSION", self.version.to_string()),
            ("ADVERT_INT", self.advert_int_text()),
            ("VIP", format!("{vip}/24")),
        ];
        render(DEMO_TEMPLATE, &vars).expect("conf/demo.conf placeholders")
    }
}

/// What one run measured. Offsets are from the kill unless named otherwise.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// From starting the daemons until `a` held the VIP and `b` logged BACKUP.
    pub election: Duration,
    /// Kill → VIP present on `b` (by polling `ip -o addr`, so late by up to one poll step
    /// plus one `ip` call, see `poll_cost`).
    pub kill_to_vip: Duration,
    /// Mean duration of one `ip -o addr` call while polling (the poll's blind spot on top of
    /// the poll step).
    pub poll_cost: Duration,
    /// Kill → first gratuitous ARP for the VIP with `b`'s MAC captured on `c`.
    pub kill_to_garp: Option<f64>,
    /// How long before the kill `c` captured `a`'s last advert (ms, ≥ 0); `b`'s
    /// Master_Down timer started from (about) that moment.
    pub last_advert_before_kill: Option<f64>,
    /// Whether any advert with priority 0 from `a` was seen after the kill (there must be
    /// none: a SIGKILLed daemon cannot resign).
    pub priority_zero_after_kill: bool,
    /// The backup's Master_Down_Interval.
    pub mdi: Duration,
    /// MAC of `b`'s `eth0`.
    pub backup_mac: [u8; 6],
}

impl Outcome {
    /// Last advert from `a` → first GARP from `b`, in ms: the observed takeover delay.
    pub fn advert_to_garp(&self) -> Option<f64> {
        Some(self.kill_to_garp? + self.last_advert_before_kill?)
    }

    /// `advert_to_garp` minus the RFC Master_Down_Interval, in ms: the daemon's own delay.
    pub fn overhead(&self) -> Option<f64> {
        Some(self.advert_to_garp()? - self.mdi.as_secs_f64() * 1e3)
    }
}

/// Progress messages of [`run`], for the demo's narration.
pub enum Step<'a> {
    /// The segment exists.
    Built { lan: &'a Lan, vip: Ipv4Addr },
    /// `a` holds the VIP, `b` is backup, after this long.
    Elected(Duration),
    /// `a`'s daemon was killed now.
    Killed,
}

/// Runs the scenario once with `daemon` on both nodes. Every namespace and process is gone
/// when this returns (RAII). Errors describe what did not happen, with log excerpts.
pub fn run(
    daemon: Daemon,
    s: &Settings,
    progress: &mut dyn FnMut(Step),
) -> Result<Outcome, String> {
    let lan = Lan::new(&["a", "b", "c"]);
    let vip = lan.ip(100);
    let (a, b) = (lan.node("a"), lan.node("b"));
    progress(Step::Built { lan: &lan, vip });
    let mut cap = lan.capture("c", "arp or ip proto 112 or ip6 proto 112");

    let start = Instant::now();
    let pa = a.spawn(daemon, &s.conf(s.master_state, s.master_priority, vip));
    let pb = b.spawn(daemon, &s.conf("BACKUP", s.backup_priority, vip));
    let vip_ip = IpAddr::V4(vip);
    let elected = wait_until(s.election_timeout, Duration::from_millis(10), || {
        a.has_addr(vip_ip) && pb.log().contains("Entering BACKUP STATE")
    });
    if elected.is_none() {
        return Err(failure(
            "no election: a never held the VIP with b in BACKUP",
            &pa,
            &pb,
        ));
    }
    let election = start.elapsed();
    progress(Step::Elected(election));
    // Steady state; `b` must stay backup the whole time.
    wait_until(s.steady, Duration::from_millis(50), || b.has_addr(vip_ip));
    if b.has_addr(vip_ip) || !a.has_addr(vip_ip) {
        return Err(failure("VIP not (only) on a in steady state", &pa, &pb));
    }
    if super::interrupted() {
        return Err("interrupted".into());
    }

    let backup_mac = b.mac();
    let kill_wall = SystemTime::now();
    let kill = Instant::now();
    pa.kill();
    progress(Step::Killed);
    let timeout = s.mdi() + s.advert_int + Duration::from_secs(5);
    let (mut polls, mut polling) = (0u32, Duration::ZERO);
    let kill_to_vip = wait_until(timeout, s.poll, || {
        let t = Instant::now();
        let held = b.has_addr(vip_ip);
        polls += 1;
        polling += t.elapsed();
        held
    })
    .map(|_| kill.elapsed())
    .ok_or_else(|| failure("b never took the VIP over", &pa, &pb))?;
    let poll_cost = polling / polls.max(1);

    let first_garp = || {
        cap.garps()
            .into_iter()
            .find(|g| g.ip == vip && g.mac == backup_mac && g.time >= kill_wall)
    };
    let mut garp = None;
    wait_until(Duration::from_secs(2), Duration::from_millis(20), || {
        garp = first_garp();
        garp.is_some()
    });
    // Give a stray priority-0 advert a chance to show up before looking for it.
    std::thread::sleep(Duration::from_millis(100));
    cap.stop();
    let adverts = cap.adverts();
    let from_a = |p: &&super::Advert| p.src == IpAddr::V4(a.addr) && p.vrid == s.vrid;
    let last_advert = adverts
        .iter()
        .filter(from_a)
        .filter(|p| p.time <= kill_wall && p.priority > 0)
        .map(|p| p.time)
        .next_back();
    let priority_zero_after_kill = adverts
        .iter()
        .filter(from_a)
        .any(|p| p.time > kill_wall && p.priority == 0);
    drop(pb);
    Ok(Outcome {
        election,
        kill_to_vip,
        poll_cost,
        kill_to_garp: garp.map(|g| ms_between(kill_wall, g.time)),
        last_advert_before_kill: last_advert.map(|t| ms_between(t, kill_wall)),
        priority_zero_after_kill,
        mdi: s.mdi(),
        backup_mac,
    })
}

fn failure(what: &str, pa: &Proc, pb: &Proc) -> String {
    format!(
        "{what}\n--- log of a (last 15 lines) ---\n{}\n--- log of b (last 15 lines) ---\n{}",
        pa.log_tail(15),
        pb.log_tail(15)
    )
}

/// One line per measured event, sorted by time, e.g. for the demo.
pub fn timeline(o: &Outcome, vip: Ipv4Addr) -> Vec<(f64, String)> {
    let mut rows = vec![(
        0.0,
        "SIGKILL to a's daemon (whole process group)".to_owned(),
    )];
    if let Some(t) = o.last_advert_before_kill {
        rows.push((-t, "last advert from a seen by c".to_owned()));
    }
    rows.push((
        o.kill_to_vip.as_secs_f64() * 1e3,
        format!("VIP {vip} present on b (ip addr polled)"),
    ));
    if let Some(t) = o.kill_to_garp {
        rows.push((
            t,
            format!(
                "first GARP for {vip} at b's MAC {} seen by c",
                fmt_mac(&o.backup_mac)
            ),
        ));
    }
    rows.sort_by(|x, y| x.0.total_cmp(&y.0));
    rows
}
