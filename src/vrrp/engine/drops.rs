//! Why a received VRRP packet was dropped, the counter each reason feeds, the log line keepalived
//! 2.2.7 writes for it (`vrrp.c` `vrrp_check_packet`), and the rate limiter that keeps those
//! lines cheap under a flood.
//!
//! Logging policy (issue 10): the first drop of each kind from each source address is logged at
//! once with keepalived's wording (plus `[from SRC]`); further drops of that kind from that
//! source are only counted, and once a minute each instance logs one summary line with the
//! counts. A (source, kind) that stays quiet for a whole minute is forgotten, so a problem that
//! comes back is logged at once again. The counters ([`super::Stats`]) are always kept.

use crate::wire::vrrp::DecodeError;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::Hash;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// How often an instance logs the summary of the drops it did not log one by one.
pub const SUMMARY_WINDOW: Duration = Duration::from_secs(60);
/// At most this many (source, kind) pairs are tracked per limiter; drops from further pairs
/// (a flood with forged source addresses) are counted in one "other sources" bucket.
pub const MAX_TRACKED: usize = 256;

/// Why an advert was dropped, with what keepalived's log line shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// The codec rejected the packet (length, version, type, VRID 0, checksum, auth type).
    /// `version` is the packet's version nibble (for keepalived's "Invalid VRRPv2 checksum").
    Decode { err: DecodeError, version: u8 },
    /// A multicast advert with an IP TTL / hop limit other than 255 (RFC 5798 §7.1).
    Ttl(u8),
    /// The advert's version is not the instance's.
    Version { got: u8, want: u8 },
    /// VRRPv2 Auth Type differs from the instance's (RFC 3768 §7.1).
    AuthTypeMismatch { got: u8, want: u8 },
    /// VRRPv2 PASS data differs from `auth_pass`.
    AuthFailure,
    /// VRRPv2 Adver Int differs from `advert_int`, in whole seconds.
    AdvertInterval { mine: u16, got: u16 },
    /// The advert lists another number of addresses than the instance has VIPs.
    AddrCount { got: usize, want: usize },
    /// One of the instance's VIPs is missing from the advert.
    AddrMissing { vrid: u8, vip: IpAddr },
    /// A multicast instance received a unicast advert (`expected_multicast`), or the reverse.
    Cast { expected_multicast: bool },
    /// `check_unicast_src`: the source is not a `unicast_peer`.
    NotAPeer(IpAddr),
    /// `check_unicast_src`: TTL / hop limit outside the peer's `[min_ttl, max_ttl]`.
    PeerTtl { ttl: u8, min: u8, max: u8 },
}

/// The rate-limiting key part of a [`DropReason`]: its kind without the values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DropKind {
    Length,
    Checksum,
    UnknownVersion,
    Type,
    Vrid0,
    InvalidAuthType,
    Ttl,
    Version,
    AuthTypeMismatch,
    AuthFailure,
    AdvertInterval,
    AddrCount,
    AddrList,
    Cast,
    NotAPeer,
    PeerTtl,
}

impl DropKind {
    /// Short words for the summary line.
    pub fn words(self) -> &'static str {
        match self {
            DropKind::Length => "bad length",
            DropKind::Checksum => "bad checksum",
            DropKind::UnknownVersion => "unknown version",
            DropKind::Type => "bad type",
            DropKind::Vrid0 => "VRID 0",
            DropKind::InvalidAuthType => "invalid auth type",
            DropKind::Ttl => "invalid TTL",
            DropKind::Version => "wrong version",
            DropKind::AuthTypeMismatch => "auth type mismatch",
            DropKind::AuthFailure => "invalid passwd",
            DropKind::AdvertInterval => "advert interval mismatch",
            DropKind::AddrCount => "address count mismatch",
            DropKind::AddrList => "VIP not in advert",
            DropKind::Cast => "multicast/unicast mismatch",
            DropKind::NotAPeer => "not a unicast peer",
            DropKind::PeerTtl => "TTL out of peer range",
        }
    }
}

impl DropReason {
    /// The kind, for rate limiting and counting.
    pub fn kind(&self) -> DropKind {
        match self {
            DropReason::Decode { err, .. } => match err {
                DecodeError::Truncated
                | DecodeError::BadAddressCount
                | DecodeError::TrailingBytes { .. }
                | DecodeError::BadIpHeader => DropKind::Length,
                DecodeError::BadVersion(_) | DecodeError::BadFamily => DropKind::UnknownVersion,
                DecodeError::BadType(_) => DropKind::Type,
                DecodeError::BadVrid => DropKind::Vrid0,
                DecodeError::BadChecksum => DropKind::Checksum,
                DecodeError::BadAuthType(_) => DropKind::InvalidAuthType,
            },
            DropReason::Ttl(_) => DropKind::Ttl,
            DropReason::Version { .. } => DropKind::Version,
            DropReason::AuthTypeMismatch { .. } => DropKind::AuthTypeMismatch,
            DropReason::AuthFailure => DropKind::AuthFailure,
            DropReason::AdvertInterval { .. } => DropKind::AdvertInterval,
            DropReason::AddrCount { .. } => DropKind::AddrCount,
            DropReason::AddrMissing { .. } => DropKind::AddrList,
            DropReason::Cast { .. } => DropKind::Cast,
            DropReason::NotAPeer(_) => DropKind::NotAPeer,
            DropReason::PeerTtl { .. } => DropKind::PeerTtl,
        }
    }

    /// Adds one to the counter this reason feeds (keepalived's `vrrp_stats` names, see
    /// [`super::Stats`]).
    pub fn count(&self, s: &mut super::Stats) {
        let c = match self.kind() {
            DropKind::Length => &mut s.packet_len_err,
            DropKind::Checksum => &mut s.chk_err,
            DropKind::UnknownVersion | DropKind::Version => &mut s.vers_err,
            DropKind::Type => &mut s.invalid_type_rcvd,
            DropKind::Vrid0 => &mut s.vrid_err,
            DropKind::InvalidAuthType => &mut s.invalid_authtype,
            DropKind::Ttl | DropKind::PeerTtl => &mut s.ip_ttl_err,
            DropKind::AuthTypeMismatch => &mut s.authtype_mismatch,
            DropKind::AuthFailure => &mut s.auth_failure,
            DropKind::AdvertInterval => &mut s.advert_interval_err,
            DropKind::AddrCount | DropKind::AddrList | DropKind::Cast => &mut s.addr_list_err,
            DropKind::NotAPeer => &mut s.unicast_src_err,
        };
        *c += 1;
    }

    /// keepalived's log line for this drop, after `(INSTANCE) ` (or, with no instance, after
    /// the caller's prefix).
    pub fn message(&self) -> String {
        match *self {
            DropReason::Decode { err, version } => match err {
                DecodeError::BadChecksum => format!("Invalid VRRPv{version} checksum"),
                DecodeError::TrailingBytes { len, expected } => {
                    format!("vrrp packet too long, length {len} and expect {expected}")
                }
                DecodeError::Truncated | DecodeError::BadAddressCount => {
                    format!("vrrp packet too short ({err})")
                }
                DecodeError::BadType(t) => format!("Invalid packet type. {t} and expect 1"),
                DecodeError::BadAuthType(t) => format!("Invalid auth type: {t}"),
                other => format!("bogus VRRP packet: {other}"),
            },
            DropReason::Ttl(ttl) => format!("invalid TTL/HL. Received {ttl} and expect 255"),
            DropReason::Version { got, want } => {
                format!("wrong version. Received {got} and expect {want}")
            }
            DropReason::AuthTypeMismatch { got, want } => {
                format!("received a {got} auth, expecting {want}!")
            }
            DropReason::AuthFailure => "received an invalid passwd!".to_string(),
            DropReason::AdvertInterval { mine, got } => {
                format!("advertisement interval mismatch mine={mine} sec rcv'd={got} sec")
            }
            DropReason::AddrCount { got, want } => {
                format!("received an unexpected ip number count {got}, expected {want}!")
            }
            DropReason::AddrMissing { vrid, vip } => format!(
                "ip address associated with VRID {vrid} not present in MASTER advert: {vip}"
            ),
            DropReason::Cast { expected_multicast } => {
                let (want, got) = if expected_multicast {
                    ("mult", "un")
                } else {
                    ("un", "mult")
                };
                format!("Expected {want}icast packet but received {got}icast packet")
            }
            DropReason::NotAPeer(src) => {
                format!("unicast source address {src} not a unicast peer")
            }
            DropReason::PeerTtl { ttl, min, max } => {
                format!("TTL/HL {ttl} not in range {min} - {max}")
            }
        }
    }
}

/// Per-key "log the first, count the rest" limiter with a summary every `window`. Pure: the
/// caller passes the time, so it is tested without sleeping.
///
/// Cost per [`RateLimiter::hit`]: one hash-map lookup; nothing is allocated for a known key.
#[derive(Debug)]
pub struct RateLimiter<K> {
    window: Duration,
    max_keys: usize,
    entries: HashMap<K, Entry>,
    /// Hits of keys not tracked because `max_keys` were tracked already.
    overflow: u64,
    /// When the next summary is due; `None` while nothing is tracked.
    deadline: Option<Instant>,
}

#[derive(Debug, Default)]
struct Entry {
    /// Hits since the last summary that were not logged.
    suppressed: u64,
    /// Hit (logged or not) since the last summary.
    active: bool,
}

/// What [`RateLimiter::take_summary`] reports: the suppressed hits per key (keys with none are
/// left out, in key order) and the hits of untracked keys.
#[derive(Debug, PartialEq, Eq)]
pub struct Summary<K> {
    pub counts: Vec<(K, u64)>,
    pub overflow: u64,
}

impl<K> Default for Summary<K> {
    fn default() -> Summary<K> {
        Summary {
            counts: Vec::new(),
            overflow: 0,
        }
    }
}

impl<K> Summary<K> {
    /// Total suppressed hits.
    pub fn total(&self) -> u64 {
        self.counts.iter().map(|(_, n)| n).sum::<u64>() + self.overflow
    }
}

impl<K: Hash + Eq + Clone + Ord> RateLimiter<K> {
    /// A limiter summarising every `window`, tracking at most `max_keys` keys.
    pub fn new(window: Duration, max_keys: usize) -> RateLimiter<K> {
        RateLimiter {
            window,
            max_keys,
            entries: HashMap::new(),
            overflow: 0,
            deadline: None,
        }
    }

    /// Records one occurrence of `key` at `now`; `true` when it must be logged now (the key
    /// was not tracked: first occurrence, or first after a quiet window).
    pub fn hit(&mut self, key: K, now: Instant) -> bool {
        if self.deadline.is_none() {
            self.deadline = Some(now + self.window);
        }
        if let Some(e) = self.entries.get_mut(&key) {
            e.suppressed += 1;
            e.active = true;
            return false;
        }
        if self.entries.len() >= self.max_keys {
            self.overflow += 1;
            return false;
        }
        self.entries.insert(
            key,
            Entry {
                suppressed: 0,
                active: true,
            },
        );
        true
    }

    /// When [`RateLimiter::take_summary`] should next be called; `None` while idle.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// At or after the deadline: the summary since the last one (`None` before the deadline).
    /// Keys quiet for the whole window are forgotten; the others start a new window.
    pub fn take_summary(&mut self, now: Instant) -> Option<Summary<K>> {
        if self.deadline.is_none_or(|d| now < d) {
            return None;
        }
        let mut counts: Vec<(K, u64)> = self
            .entries
            .iter()
            .filter(|(_, e)| e.suppressed > 0)
            .map(|(k, e)| (k.clone(), e.suppressed))
            .collect();
        counts.sort_by(|a, b| a.0.cmp(&b.0));
        self.entries.retain(|_, e| e.active);
        for e in self.entries.values_mut() {
            e.suppressed = 0;
            e.active = false;
        }
        let overflow = std::mem::take(&mut self.overflow);
        self.deadline = if self.entries.is_empty() {
            None
        } else {
            Some(now + self.window)
        };
        Some(Summary { counts, overflow })
    }
}

/// The summary line after `(INSTANCE) ` for a limiter keyed by (source, kind), or `None` when
/// nothing was suppressed: `dropped N more adverts in the last 60 s: 1200 invalid passwd from
/// 10.0.0.3, …` (at most 8 pairs named, then `and N more`).
pub fn summary_line(s: &Summary<(IpAddr, DropKind)>, window: Duration) -> Option<String> {
    let total = s.total();
    if total == 0 {
        return None;
    }
    let mut counts: Vec<&((IpAddr, DropKind), u64)> = s.counts.iter().collect();
    counts.sort_by_key(|c| std::cmp::Reverse(c.1));
    let mut line = format!(
        "dropped {total} more adverts in the last {} s (first of each kind logged above):",
        window.as_secs()
    );
    for (i, ((src, kind), n)) in counts.iter().enumerate() {
        if i == 8 {
            let _ = write!(line, " and {} more", counts.len() - 8);
            break;
        }
        let sep = if i == 0 { " " } else { ", " };
        let _ = write!(line, "{sep}{n} {} from {src}", kind.words());
    }
    if s.overflow > 0 {
        let sep = if counts.is_empty() { " " } else { ", " };
        let _ = write!(line, "{sep}{} from other sources", s.overflow);
    }
    Some(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> Instant {
        Instant::now()
    }

    #[test]
    fn first_hit_per_key_is_logged_the_rest_counted_and_summarised() {
        let start = t0();
        let mut l = RateLimiter::new(Duration::from_secs(60), 16);
        assert_eq!(l.next_deadline(), None);
        assert!(l.hit("a", start));
        assert!(!l.hit("a", start + Duration::from_secs(1)));
        assert!(!l.hit("a", start + Duration::from_secs(2)));
        assert!(l.hit("b", start + Duration::from_secs(3)));
        assert_eq!(l.next_deadline(), Some(start + Duration::from_secs(60)));
        // Not before the deadline.
        assert_eq!(l.take_summary(start + Duration::from_secs(59)), None);
        let s = l.take_summary(start + Duration::from_secs(60)).unwrap();
        assert_eq!(s.counts, vec![("a", 2)]);
        assert_eq!(s.total(), 2);
        // Both keys were active: still tracked, so a hit is not logged again.
        assert!(!l.hit("a", start + Duration::from_secs(61)));
        let s = l.take_summary(start + Duration::from_secs(120)).unwrap();
        assert_eq!(s.counts, vec![("a", 1)]);
        // "b" was quiet for a whole window: forgotten, so its next hit is logged at once.
        assert!(l.hit("b", start + Duration::from_secs(121)));
    }

    #[test]
    fn quiet_limiter_goes_idle_and_restarts_its_window() {
        let start = t0();
        let mut l = RateLimiter::new(Duration::from_secs(60), 16);
        assert!(l.hit(1, start));
        assert_eq!(
            l.take_summary(start + Duration::from_secs(60)),
            Some(Summary::default())
        );
        assert_eq!(
            l.take_summary(start + Duration::from_secs(120)),
            Some(Summary::default())
        );
        // Nothing tracked: idle, no timer.
        assert_eq!(l.next_deadline(), None);
        let later = start + Duration::from_secs(500);
        assert!(l.hit(1, later));
        assert_eq!(l.next_deadline(), Some(later + Duration::from_secs(60)));
    }

    #[test]
    fn keys_beyond_the_cap_are_counted_in_one_bucket() {
        let start = t0();
        let mut l = RateLimiter::new(Duration::from_secs(60), 2);
        assert!(l.hit(1, start));
        assert!(l.hit(2, start));
        for k in 3..1000 {
            assert!(!l.hit(k, start));
        }
        let s = l.take_summary(start + Duration::from_secs(60)).unwrap();
        assert_eq!(s.overflow, 997);
        assert_eq!(s.counts, vec![]);
    }

    #[test]
    fn a_flood_logs_one_line_and_one_summary_per_window() {
        // 50,000 hits a second for 3 minutes from one source: 1 immediate line, 3 summaries.
        let start = t0();
        let mut l = RateLimiter::new(SUMMARY_WINDOW, MAX_TRACKED);
        let src: IpAddr = "10.0.0.3".parse().unwrap();
        let (mut logged, mut summaries) = (0, 0);
        for ms in 0..180_000u64 {
            let now = start + Duration::from_millis(ms);
            for _ in 0..50 {
                logged += usize::from(l.hit((src, DropKind::Checksum), now));
            }
            if let Some(s) = l.take_summary(now) {
                summaries += 1;
                assert!(s.total() >= 50 * 59_000, "{s:?}");
            }
        }
        assert_eq!((logged, summaries), (1, 2));
        assert!(
            l.take_summary(start + Duration::from_secs(180))
                .is_some_and(|s| s.total() > 0)
        );
    }

    #[test]
    fn summary_line_names_counts_sources_and_kinds() {
        let a: IpAddr = "10.0.0.3".parse().unwrap();
        let b: IpAddr = "10.0.0.4".parse().unwrap();
        let s = Summary {
            counts: vec![((a, DropKind::AuthFailure), 5), ((b, DropKind::Ttl), 7)],
            overflow: 2,
        };
        assert_eq!(
            summary_line(&s, SUMMARY_WINDOW).unwrap(),
            "dropped 14 more adverts in the last 60 s (first of each kind logged above): \
             7 invalid TTL from 10.0.0.4, 5 invalid passwd from 10.0.0.3, 2 from other sources"
        );
        assert_eq!(summary_line(&Summary::default(), SUMMARY_WINDOW), None);
    }

    #[test]
    fn messages_use_keepalived_wording() {
        let vip: IpAddr = "10.77.0.100".parse().unwrap();
        assert_eq!(
            DropReason::AddrMissing { vrid: 51, vip }.message(),
            "ip address associated with VRID 51 not present in MASTER advert: 10.77.0.100"
        );
        assert_eq!(
            DropReason::AuthFailure.message(),
            "received an invalid passwd!"
        );
        assert_eq!(
            DropReason::Ttl(64).message(),
            "invalid TTL/HL. Received 64 and expect 255"
        );
        assert_eq!(
            DropReason::Decode {
                err: DecodeError::BadChecksum,
                version: 2
            }
            .message(),
            "Invalid VRRPv2 checksum"
        );
        assert_eq!(
            DropReason::AddrCount { got: 2, want: 1 }.message(),
            "received an unexpected ip number count 2, expected 1!"
        );
        let mut s = super::super::Stats::default();
        DropReason::AuthFailure.count(&mut s);
        DropReason::Decode {
            err: DecodeError::TrailingBytes {
                len: 24,
                expected: 20,
            },
            version: 2,
        }
        .count(&mut s);
        assert_eq!((s.auth_failure, s.packet_len_err), (1, 1));
    }
}
