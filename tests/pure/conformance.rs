//! Golden scenarios for the VRRP state machine (`rkeepalived::vrrp::fsm`).
//!
//! Each case is a directory `tests/conformance/<case>/` with
//! - `config.json`: the instance configuration (durations in ms, interval in centiseconds);
//! - `input.jsonl`: one step per line, `{"at_ms": N, "input": <Input>}` or
//!   `{"at_ms": N, "poll": true}`, times relative to the start of the case;
//! - `output.jsonl`: one line per step, `{"at_ms", "state", "next_deadline_us", "actions"}`:
//!   the actions the step returned, the state after it and the next deadline (µs from the
//!   start of the case, or null).
//!
//! The runner asserts equality line by line. `UPDATE_GOLDEN=1 cargo test --test pure conformance`
//! rewrites `output.jsonl`; a rewritten golden must be reviewed by hand before it is committed.

use rkeepalived::units::{Centiseconds, Priority, Version, Vrid};
use rkeepalived::vrrp::fsm::{GarpPolicy, Input, Instance, InstanceConfig};
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseConfig {
    name: String,
    vrid: u8,
    version: Version,
    priority: u8,
    advert_int_cs: u16,
    preempt: bool,
    preempt_delay_ms: u64,
    start_master: bool,
    garp_master_delay_ms: u64,
    primary_ip: IpAddr,
    /// keepalived's GARP/NA policy knobs; absent = all off.
    #[serde(default)]
    garp: GarpPolicy,
}

impl CaseConfig {
    fn into_config(self) -> InstanceConfig {
        InstanceConfig {
            name: self.name,
            vrid: Vrid::new(self.vrid).expect("vrid 1-255"),
            version: self.version,
            priority: Priority(self.priority),
            advert_int: Centiseconds(self.advert_int_cs),
            preempt: self.preempt,
            preempt_delay: Duration::from_millis(self.preempt_delay_ms),
            start_master: self.start_master,
            garp_master_delay: Duration::from_millis(self.garp_master_delay_ms),
            primary_ip: self.primary_ip,
            garp: self.garp,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Step {
    at_ms: u64,
    #[serde(default)]
    input: Option<Input>,
    #[serde(default)]
    poll: bool,
}

fn run_case(case: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/conformance")
        .join(case);
    let read = |f: &str| {
        std::fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("{case}/{f}: {e}"))
    };
    let cfg: CaseConfig = serde_json::from_str(&read("config.json")).expect("config.json");
    let mut inst = Instance::new(cfg.into_config());
    let base = Instant::now();

    let mut got = Vec::new();
    for (n, line) in read("input.jsonl").lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let step: Step = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("{case}/input.jsonl:{}: {e}", n + 1));
        let now = base + Duration::from_millis(step.at_ms);
        let actions = match (step.input, step.poll) {
            (Some(input), false) => inst.handle(now, input),
            (None, true) => inst.poll(now),
            _ => panic!(
                "{case}/input.jsonl:{}: need exactly one of input, poll",
                n + 1
            ),
        };
        let deadline = inst
            .next_deadline()
            .map(|d| u64::try_from(d.duration_since(base).as_micros()).unwrap());
        got.push(json!({
            "at_ms": step.at_ms,
            "state": inst.state(),
            "next_deadline_us": deadline,
            "actions": actions,
        }));
    }

    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        let text: String = got.iter().map(|v| format!("{v}\n")).collect();
        std::fs::write(dir.join("output.jsonl"), text).unwrap();
        return;
    }

    let want: Vec<Value> = read("output.jsonl")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("output.jsonl line"))
        .collect();
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "{case}: step {} differs", i + 1);
    }
    assert_eq!(got.len(), want.len(), "{case}: number of steps differs");
}

macro_rules! case {
    ($(#[doc = $doc:literal])* $name:ident) => {
        $(#[doc = $doc])*
        #[test]
        fn $name() {
            run_case(stringify!($name));
        }
    };
}

case! {
    /// v2, priority 100, state BACKUP: Startup → Backup, no adverts heard; the
    /// Master_Down_Timer fires at 3 s + 156/256 s = 3609.375 ms → Master (advert, VIPs, GARP),
    /// adverts every 1 s, second GARP burst 5 s later.
    startup_backup_timeout
}

case! {
    /// Priority 255 (address owner): Startup → Master at once; tracker priority changes are
    /// ignored; adverts carry 255.
    startup_owner
}

case! {
    /// v2 `state MASTER`, priority 100: Startup → Backup, but Master after only
    /// 1 s + 1/256 s (keepalived VRRP_TIMER_SKEW_MIN).
    startup_state_master
}

case! {
    /// Backup hears a master at 150, then its priority-0 advert: Master_Down_Timer =
    /// Skew_Time = 609.375 ms → Master.
    priority_zero_skew_time
}

case! {
    /// Backup at 150 hears a master at 100 (preempt on): the adverts are discarded and logged,
    /// the timer from Startup (3 s + 106/256 s) runs out → Master.
    preempt_by_higher_priority
}

case! {
    /// Master at 100 hears 150: logs, Backup, DelVips, Master_Down_Timer = 3609.375 ms; the
    /// pending GARP burst and adverts are cancelled.
    master_yields_to_higher_priority
}

case! {
    /// `nopreempt`, priority 150, a master at 100 advertising every second: stays Backup;
    /// when the master sends priority 0 → Master after Skew_Time (106/256 s).
    nopreempt
}

case! {
    /// Priority 150, `preempt_delay 5`, master at 100 every second: the first lower advert
    /// (1 s) starts the delay; adverts are accepted until 6 s, then discarded; the timer armed
    /// by the 5 s advert fires at 5 s + 3.4140625 s → Master.
    preempt_delay
}

case! {
    /// Master at 100 with primary 10.0.0.10 hears 100 from 10.0.0.20 (higher address): yields
    /// to Backup.
    equal_priority_peer_higher_ip
}

case! {
    /// Master at 100 with primary 10.0.0.10 hears 100 from 10.0.0.9 (lower address as a
    /// number): stays Master and answers at once.
    equal_priority_peer_lower_ip
}

case! {
    /// Master at 100 hears 50: keepalived logs "forcing new election", sends an advert at once
    /// and re-arms the Adver_Timer.
    master_hears_lower_priority
}

case! {
    /// Master, Fault(true): two priority-0 adverts, VIPs removed, no timers; adverts ignored;
    /// Fault(false) → Backup with 3609.375 ms → Master.
    fault_and_recovery
}

case! {
    /// Master, Shutdown: priority-0 advert, VIPs removed, Stop; nothing afterwards.
    shutdown_from_master
}

case! {
    /// v3, priority 100, 1 s: the master advertises 50 cs; Backup adopts it (down =
    /// 1.5 s + 156 × 0.5 s / 256 = 1804.687 ms); after the master goes silent → Master with
    /// its own 1 s interval again.
    v3_adopts_master_interval
}

case! {
    /// Tracker weights: as Backup, priority 100 → 200 shortens the running Master_Down_Timer
    /// by the Skew_Time difference; as Master, 200 → 90 is advertised and a peer at 95
    /// preempts.
    tracker_priority_changes
}

case! {
    /// Split brain healed (v3, priority 150, garp_lower_prio_repeat 5, garp_lower_prio_delay
    /// 5 s, higher_prio_send_advert): Master at 3.5 s (down = 3 s + 106/256 s); the other
    /// master at 100 is heard at 4 s → log, advert at once, a burst of 5 GARPs per VIP; a
    /// second lower advert → another immediate burst; the second master burst at 8.5 s
    /// (garp_master_delay); the delayed lower-priority burst at 9 s; then a master
    /// at 200 is answered with one advert before we go to Backup.
    split_brain_healing
}

case! {
    /// Owner (255) with garp_master_refresh 3 s, refresh_repeat 2, no second burst: Master at
    /// 0; adverts every second; the first advert strictly after 3 s (at 4 s) carries a
    /// refresh burst of 2, then at 8 s; Shutdown stops it.
    garp_refresh
}

case! {
    /// Master at 100 with lower_prio_no_advert and garp_lower_prio_repeat 0 hears 50: only the
    /// log line (without "forcing new election"); no advert, no GARP; the Adver_Timer is
    /// re-armed from the advert.
    lower_prio_no_advert
}

case! {
    /// A VIP removed by someone else (keepalived 2.2.7, measured in a namespace): ignored
    /// in Init and Backup; Master at 150 leaves for Backup with one priority-0 advert and the
    /// VIPs removed, Master_Down_Timer = its Skew_Time (106/256 s); alone, it is Master again
    /// (VIPs and GARPs) 0.414 s later. A second removal during that time is ignored; a lower
    /// advert while Backup after the third one does not delay the timer.
    vip_removed_while_master
}
