//! `vrrp_track_process`: counts the running processes that match a spec and turns the count
//! into up/down with `quorum`, `quorum_max`, `fork_delay` and `terminate_delay`.
//!
//! keepalived (track_process.c) scans `/proc` once and then follows the kernel's process
//! connector; rkeepalived rescans `/proc` every [`POLL_INTERVAL`] instead (a documented
//! difference: a process that lives less than one interval can be missed, and a change is
//! seen up to one interval late). Matching is keepalived's: without `full_command` the
//! process name (`/proc/PID/stat`, the kernel's `comm`, at most 15 bytes) must equal the
//! basename of `process`; with it, `argv[0]` must equal `process`. Parameters, when given or
//! when `param_match` is set, are compared with `argv[1..]`. Zombies do not count.

use crate::config::model::{ParamMatch, TrackProcess};
use std::time::{Duration, Instant};

/// How often `/proc` is rescanned.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// Linux `TASK_COMM_LEN - 1`: the longest process name the kernel keeps.
const COMM_MAX: usize = 15;

/// What we know about one running process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcInfo {
    /// The kernel's process name (`comm`).
    pub comm: String,
    /// `/proc/PID/cmdline` split at NULs (read only when some spec needs it).
    pub cmdline: Vec<String>,
}

/// `true` if `p` is a process `spec` counts.
pub fn matches(spec: &TrackProcess, p: &ProcInfo) -> bool {
    let Some(path) = spec.process.first() else {
        return false;
    };
    if spec.full_command {
        if p.cmdline.first() != Some(path) {
            return false;
        }
    } else {
        let base = path.rsplit('/').next().unwrap_or(path);
        let mut end = base.len().min(COMM_MAX);
        while !base.is_char_boundary(end) {
            end -= 1;
        }
        if p.comm != base[..end] {
            return false;
        }
    }
    let params = &spec.process[1..];
    let Some(how) = spec
        .param_match
        .or((!params.is_empty()).then_some(ParamMatch::Exact))
    else {
        return true;
    };
    let args = p.cmdline.get(1..).unwrap_or(&[]);
    match how {
        ParamMatch::Exact => args == params,
        ParamMatch::Partial => args.len() >= params.len() && args[..params.len()] == *params,
        ParamMatch::Initial => {
            let Some((last, head)) = params.split_last() else {
                return true;
            };
            args.len() >= params.len()
                && args[..head.len()] == *head
                && args[head.len()].starts_with(last.as_str())
        }
    }
}

/// `true` when `spec` needs the command line of candidate processes.
pub fn needs_cmdline(spec: &TrackProcess) -> bool {
    spec.full_command || spec.process.len() > 1 || spec.param_match.is_some()
}

/// Quorum with keepalived's delays: a count inside `quorum..=quorum_max` is "up"; a change
/// only counts once it has lasted `fork_delay` (to up) or `terminate_delay` (to down).
#[derive(Debug, Clone)]
pub struct Quorum {
    quorum: u32,
    quorum_max: Option<u32>,
    fork_delay: Duration,
    terminate_delay: Duration,
    up: bool,
    /// A change seen but not yet accepted: (new value, seen at).
    pending: Option<(bool, Instant)>,
}

impl Quorum {
    /// Starts from `count` at startup (no delay applies to the initial state).
    pub fn new(spec: &TrackProcess, count: u32) -> Quorum {
        let mut q = Quorum {
            quorum: spec.quorum,
            quorum_max: spec.quorum_max,
            fork_delay: spec.fork_delay,
            terminate_delay: spec.terminate_delay,
            up: false,
            pending: None,
        };
        q.up = q.in_quorum(count);
        q
    }

    fn in_quorum(&self, count: u32) -> bool {
        count >= self.quorum && self.quorum_max.is_none_or(|m| count <= m)
    }

    pub fn up(&self) -> bool {
        self.up
    }

    /// Records the count seen at `now`; returns the new state when it changed.
    pub fn update(&mut self, now: Instant, count: u32) -> Option<bool> {
        let want = self.in_quorum(count);
        if want == self.up {
            self.pending = None;
            return None;
        }
        let delay = if want {
            self.fork_delay
        } else {
            self.terminate_delay
        };
        let since = match self.pending {
            Some((v, t)) if v == want => t,
            _ => {
                self.pending = Some((want, now));
                now
            }
        };
        if now.duration_since(since) >= delay {
            self.up = want;
            self.pending = None;
            return Some(want);
        }
        None
    }
}

/// Reads every live process from `/proc` (`with_cmdline`: also their command lines).
pub fn scan_proc(with_cmdline: bool) -> Vec<ProcInfo> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // "PID (comm) S ...": comm may hold spaces and parentheses; it ends at the last ')'.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let state = stat[close + 1..].trim_start().chars().next();
        if state == Some('Z') {
            continue;
        }
        let comm = stat[open + 1..close].to_string();
        let cmdline = if with_cmdline {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|b| {
                    b.split(|&c| c == 0)
                        .filter(|s| !s.is_empty())
                        .map(|s| String::from_utf8_lossy(s).into_owned())
                        .collect()
                })
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        out.push(ProcInfo { comm, cmdline });
    }
    out
}

/// The number of processes in `procs` that `spec` counts.
pub fn count(spec: &TrackProcess, procs: &[ProcInfo]) -> u32 {
    procs.iter().filter(|p| matches(spec, p)).count() as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::diag::Span;

    fn spec(process: &[&str], pm: Option<ParamMatch>, full: bool) -> TrackProcess {
        TrackProcess {
            name: "t".into(),
            process: process.iter().map(|s| s.to_string()).collect(),
            param_match: pm,
            weight: 1,
            weight_reverse: false,
            quorum: 1,
            quorum_max: None,
            fork_delay: Duration::ZERO,
            terminate_delay: Duration::ZERO,
            full_command: full,
            span: Span::default(),
        }
    }

    fn p(comm: &str, cmd: &[&str]) -> ProcInfo {
        ProcInfo {
            comm: comm.into(),
            cmdline: cmd.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn name_matching_is_exact_on_comm() {
        let s = spec(&["/usr/sbin/sshd"], None, false);
        assert!(matches(&s, &p("sshd", &["sshd: user"])));
        assert!(!matches(&s, &p("ssh", &["ssh"])));
        let long = spec(&["a_very_long_process_name"], None, false);
        assert!(matches(&long, &p("a_very_long_pro", &[])));
        let full = spec(&["/bin/sleep"], None, true);
        assert!(matches(&full, &p("sleep", &["/bin/sleep", "5"])));
        assert!(!matches(&full, &p("sleep", &["sleep", "5"])));
    }

    #[test]
    fn parameters_exact_partial_initial() {
        let exact = spec(&["sleep", "100"], None, false);
        assert!(matches(&exact, &p("sleep", &["sleep", "100"])));
        assert!(!matches(&exact, &p("sleep", &["sleep", "100", "x"])));
        let none = spec(&["sleep"], Some(ParamMatch::Exact), false);
        assert!(!matches(&none, &p("sleep", &["sleep", "1"])));
        assert!(matches(&none, &p("sleep", &["sleep"])));
        let partial = spec(&["sleep", "100"], Some(ParamMatch::Partial), false);
        assert!(matches(&partial, &p("sleep", &["sleep", "100", "x"])));
        let initial = spec(&["sleep", "10"], Some(ParamMatch::Initial), false);
        assert!(matches(&initial, &p("sleep", &["sleep", "100"])));
        assert!(!matches(&initial, &p("sleep", &["sleep", "200"])));
    }

    #[test]
    fn quorum_and_delays() {
        let mut s = spec(&["x"], None, false);
        s.quorum = 2;
        s.quorum_max = Some(3);
        s.terminate_delay = Duration::from_secs(1);
        let t = Instant::now();
        let mut q = Quorum::new(&s, 2);
        assert!(q.up());
        assert_eq!(q.update(t, 4), None); // above quorum_max, but the delay runs
        assert_eq!(q.update(t + Duration::from_millis(500), 1), None);
        assert_eq!(q.update(t + Duration::from_millis(1000), 1), Some(false));
        assert_eq!(q.update(t + Duration::from_millis(1100), 3), Some(true)); // no fork_delay
    }

    #[test]
    fn this_process_is_found_in_proc() {
        let procs = scan_proc(true);
        let me = std::fs::read_to_string("/proc/self/comm").unwrap();
        let s = spec(&[me.trim()], None, false);
        assert!(count(&s, &procs) >= 1);
    }
}
