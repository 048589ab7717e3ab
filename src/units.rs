//! Typed units shared by the config model, the codecs and the state machine.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// VRRP router priority (RFC 5798 §5.2.4): 1-254 for backups, 255 for the address owner,
/// 0 only on the wire, in the advert a master sends when it stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Priority(pub u8);

impl Priority {
    /// keepalived's default `priority` (`VRRP_PRIO_DFL`).
    pub const DEFAULT: Priority = Priority(100);
    /// The address owner's priority (RFC 5798 §5.2.4); never adjusted by trackers.
    pub const OWNER: Priority = Priority(255);
    /// The priority of the advert a stopping master sends (RFC 5798 §6.4.3).
    pub const STOP: Priority = Priority(0);

    /// `true` for 255, the address owner.
    pub fn is_owner(self) -> bool {
        self.0 == 255
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Virtual Router Identifier (RFC 5798 §5.2.3), 1-255. Construct with [`Vrid::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Vrid(u8);

impl Vrid {
    /// `None` for 0, which is not a valid VRID.
    pub fn new(v: u8) -> Option<Vrid> {
        (v != 0).then_some(Vrid(v))
    }
    /// The VRID as its wire byte.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl fmt::Display for Vrid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A duration in centiseconds (10 ms units), the unit of VRRPv3's 12-bit Max Adver Int
/// (RFC 5798 §5.2.7). VRRPv2's 8-bit seconds field is converted at the codec edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Centiseconds(pub u16);

impl Centiseconds {
    /// keepalived's default `advert_int` of 1 s.
    pub const ONE_SECOND: Centiseconds = Centiseconds(100);

    /// As a `Duration` (n × 10 ms).
    pub fn as_duration(self) -> Duration {
        Duration::from_millis(u64::from(self.0) * 10)
    }
    /// Whole seconds, rounded to nearest (VRRPv2's Adver Int field, RFC 3768 §5.3.7).
    pub fn as_secs_rounded(self) -> u16 {
        (self.0 + 50) / 100
    }
    /// From whole seconds (saturating).
    pub fn from_secs(s: u16) -> Centiseconds {
        Centiseconds(s.saturating_mul(100))
    }
}

/// A checker timer as keepalived keeps one: whole microseconds (its timers are `unsigned
/// long` microseconds; `delay_loop`, `connect_timeout`, `delay_before_retry`, `warmup`). 8
/// bytes, and 8 as an `Option` too, where a `Duration` takes 16: the configuration keeps
/// several per real server. Sub-microsecond parts are dropped; serialized as a `Duration`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(from = "Duration", into = "Duration")]
pub struct Usecs(std::num::NonZeroU64);

impl Usecs {
    /// From a `Duration` (whole microseconds; saturating past `u64::MAX - 1`).
    pub fn from_duration(d: Duration) -> Usecs {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        // Stored plus one, so that `Option<Usecs>` needs no extra room.
        Usecs(std::num::NonZeroU64::MIN.saturating_add(us.min(u64::MAX - 1)))
    }

    /// As a `Duration`.
    pub fn as_duration(self) -> Duration {
        Duration::from_micros(self.0.get() - 1)
    }
}

impl From<Duration> for Usecs {
    fn from(d: Duration) -> Usecs {
        Usecs::from_duration(d)
    }
}

impl From<Usecs> for Duration {
    fn from(u: Usecs) -> Duration {
        u.as_duration()
    }
}

impl fmt::Debug for Usecs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_duration().fmt(f)
    }
}

/// VRRP protocol version: 2 (RFC 3768) or 3 (RFC 5798). Serialised as its number (2 or 3), as
/// the `-d` dump always wrote it; read from the number or from the variant's name (`"V2"`, the
/// form of the conformance scenarios' state-machine configs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "u8", try_from = "VersionRepr")]
pub enum Version {
    V2,
    V3,
}

impl From<Version> for u8 {
    fn from(v: Version) -> u8 {
        v.number()
    }
}

/// The forms [`Version`] is read from.
#[derive(Deserialize)]
#[serde(untagged)]
enum VersionRepr {
    Number(u8),
    Name(String),
}

impl TryFrom<VersionRepr> for Version {
    type Error = String;

    fn try_from(r: VersionRepr) -> Result<Version, String> {
        match r {
            VersionRepr::Number(n) => Version::try_from(n),
            VersionRepr::Name(name) => match name.as_str() {
                "V2" => Ok(Version::V2),
                "V3" => Ok(Version::V3),
                _ => Err(format!("VRRP version {name:?}: expected 2 or 3")),
            },
        }
    }
}

impl TryFrom<u8> for Version {
    type Error = String;

    /// 2 or 3; anything else is an error naming the value.
    fn try_from(n: u8) -> Result<Version, String> {
        match n {
            2 => Ok(Version::V2),
            3 => Ok(Version::V3),
            n => Err(format!("VRRP version {n}: expected 2 or 3")),
        }
    }
}

impl Version {
    /// The 4-bit version field of the advert.
    pub fn number(self) -> u8 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usecs_keep_microseconds_in_eight_bytes() {
        assert_eq!(std::mem::size_of::<Option<Usecs>>(), 8);
        for d in [
            Duration::ZERO,
            Duration::from_micros(1),
            Duration::from_millis(2500),
            Duration::from_secs(86_400 * 365),
        ] {
            assert_eq!(Usecs::from(d).as_duration(), d);
        }
        assert_eq!(
            Usecs::from(Duration::from_nanos(1_999)).as_duration(),
            Duration::from_micros(1)
        );
        assert_eq!(
            Usecs::from(Duration::MAX).as_duration(),
            Duration::from_micros(u64::MAX - 1)
        );
        let json = serde_json::to_string(&Usecs::from(Duration::from_millis(1500))).unwrap();
        assert_eq!(
            json,
            serde_json::to_string(&Duration::from_millis(1500)).unwrap()
        );
        let back: Usecs = serde_json::from_str(&json).unwrap();
        assert_eq!(back.as_duration(), Duration::from_millis(1500));
    }

    #[test]
    fn version_serialises_as_its_number() {
        assert_eq!(serde_json::to_string(&Version::V3).unwrap(), "3");
        assert_eq!(serde_json::from_str::<Version>("2").unwrap(), Version::V2);
        assert_eq!(
            serde_json::from_str::<Version>("\"V3\"").unwrap(),
            Version::V3
        );
        let err = serde_json::from_str::<Version>("4")
            .unwrap_err()
            .to_string();
        assert!(err.contains("VRRP version 4"), "{err}");
    }
}
