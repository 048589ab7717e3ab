//! Value parsers for keyword arguments, with keepalived 2.2.7's acceptance rules
//! (`lib/parser.c`: `read_unsigned_func`, `read_int_func`, `read_decimal_unsigned_long_func`,
//! `check_true_false`; `keepalived/vrrp/vrrp_ipaddress.c`: `parse_ipaddress`).
//!
//! Every parser takes one word (quotes already removed) and returns a typed value or a
//! [`ValueError`] whose `Display` is the reason keepalived gives (`invalid number '…'`,
//! `number '…' outside range [a, b]`, …) so callers can name keyword and value around it.

use nom::Parser;
use nom::branch::alt;
use nom::character::complete::{char, digit0, digit1, one_of, space0};
use nom::combinator::{all_consuming, opt, recognize};
use nom::sequence::{pair, preceded};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

/// Why a value word was rejected. The `Display` text follows keepalived's wording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueError {
    /// Not a number at all (`invalid number 'x'`).
    Invalid,
    /// A minus sign where only unsigned values are allowed.
    Negative,
    /// More than 6 decimal places (keepalived's timers have µs resolution).
    TooManyDecimals,
    /// A number outside `[min, max]`; both bounds already formatted for the message.
    OutOfRange { min: String, max: String },
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueError::Invalid => f.write_str("invalid number"),
            ValueError::Negative => f.write_str("negative number"),
            ValueError::TooManyDecimals => f.write_str("too many decimal places (max 6)"),
            ValueError::OutOfRange { min, max } => {
                write!(f, "number outside range [{min}, {max}]")
            }
        }
    }
}

/// Timers and other decimals are read in micro-units (`TIMER_HZ` = 1 000 000).
pub const MICROS_PER_SEC: u64 = 1_000_000;

/// An unsigned decimal integer within `[min, max]` (keepalived `read_unsigned`):
/// leading blanks and a `+` are allowed, a `-` is "negative number".
pub fn unsigned(word: &str, min: u64, max: u64) -> Result<u64, ValueError> {
    let trimmed = word.trim_start_matches([' ', '\t']);
    if trimmed.starts_with('-') {
        return Err(ValueError::Negative);
    }
    let digits: nom::IResult<&str, &str> =
        all_consuming(preceded(opt(char('+')), digit1)).parse(trimmed);
    let (_, digits) = digits.map_err(|_| ValueError::Invalid)?;
    let value: u64 = digits.parse().map_err(|_| out_of_range(min, max))?;
    if value < min || value > max {
        return Err(out_of_range(min, max));
    }
    Ok(value)
}

/// A signed decimal integer within `[min, max]` (keepalived `read_int`).
pub fn integer(word: &str, min: i64, max: i64) -> Result<i64, ValueError> {
    let trimmed = word.trim_start_matches([' ', '\t']);
    let number: nom::IResult<&str, &str> =
        all_consuming(recognize(pair(opt(one_of("+-")), digit1))).parse(trimmed);
    let (_, number) = number.map_err(|_| ValueError::Invalid)?;
    let value: i64 = number
        .trim_start_matches('+')
        .parse()
        .map_err(|_| out_of_range(min, max))?;
    if value < min || value > max {
        return Err(out_of_range(min, max));
    }
    Ok(value)
}

/// A non-negative decimal with up to 6 fractional digits, returned in micro-units
/// (keepalived `read_decimal_unsigned` with `TIMER_HZ_DIGITS`, used for `advert_int`,
/// `preempt_delay` and other timers). `"2.5"` is 2 500 000; `".5"` and `"5."` are accepted as
/// keepalived accepts them. `min`/`max` are in micro-units.
pub fn decimal_micros(word: &str, min: u64, max: u64) -> Result<u64, ValueError> {
    if word.starts_with('-') {
        return Err(ValueError::Negative);
    }
    let parsed: nom::IResult<&str, (&str, Option<&str>)> =
        all_consuming(pair(digit0, opt(preceded(char('.'), digit0)))).parse(word);
    let (_, (whole, frac)) = parsed.map_err(|_| ValueError::Invalid)?;
    let frac = frac.unwrap_or("");
    if whole.is_empty() && frac.is_empty() {
        return Err(ValueError::Invalid);
    }
    if frac.len() > 6 {
        return Err(ValueError::TooManyDecimals);
    }
    let range = || ValueError::OutOfRange {
        min: format_micros(min),
        max: format_micros(max),
    };
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| range())?
    };
    let frac_micros: u64 = format!("{frac:0<6}")
        .parse()
        .map_err(|_| ValueError::Invalid)?;
    let value = whole
        .checked_mul(MICROS_PER_SEC)
        .and_then(|w| w.checked_add(frac_micros))
        .ok_or_else(range)?;
    if value < min || value > max {
        return Err(range());
    }
    Ok(value)
}

/// A timer in seconds with fractions (`2.5`), as a `Duration`; see [`decimal_micros`].
pub fn timer(word: &str, min: Duration, max: Duration) -> Result<Duration, ValueError> {
    let micros = |d: Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
    decimal_micros(word, micros(min), micros(max)).map(Duration::from_micros)
}

/// Formats micro-units as keepalived prints range bounds (`0.010000`).
pub fn format_micros(micros: u64) -> String {
    format!("{}.{:06}", micros / MICROS_PER_SEC, micros % MICROS_PER_SEC)
}

fn out_of_range<T: fmt::Display>(min: T, max: T) -> ValueError {
    ValueError::OutOfRange {
        min: min.to_string(),
        max: max.to_string(),
    }
}

/// keepalived's `check_true_false`: `true`/`on`/`yes` and `false`/`off`/`no` (case-sensitive).
pub fn boolean(word: &str) -> Option<bool> {
    match word {
        "true" | "on" | "yes" => Some(true),
        "false" | "off" | "no" => Some(false),
        _ => None,
    }
}

/// An IP address as `inet_pton` reads it: IPv6 if the word contains `:`, else dotted-quad IPv4.
pub fn ip_addr(word: &str) -> Option<IpAddr> {
    if word.contains(':') {
        word.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
    } else {
        word.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
    }
}

/// `IP[/LEN]` split into its parts (the address text and the optional prefix text);
/// the caller validates each so that it can report them separately, as keepalived does.
pub fn split_prefix(word: &str) -> (&str, Option<&str>) {
    let parsed: nom::IResult<&str, (&str, Option<&str>)> = pair(
        nom::bytes::complete::take_till(|c| c == '/'),
        opt(preceded(char('/'), nom::combinator::rest)),
    )
    .parse(word);
    match parsed {
        Ok((_, parts)) => parts,
        Err(_) => (word, None),
    }
}

/// The maximum prefix length of an address family (32 or 128).
pub fn max_prefix(addr: &IpAddr) -> u8 {
    match addr {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

/// iproute2's `rt_scopes` names of the rtnetlink scopes (`rtm_scope`, `ifa_scope`): the one
/// table for parsing (`scope`) and for printing (`scope_name`).
pub const SCOPE_NAMES: [(&str, u8); 5] = [
    ("global", 0),
    ("site", 200),
    ("link", 253),
    ("host", 254),
    ("nowhere", 255),
];

/// An rtnetlink address scope: a name of [`SCOPE_NAMES`] or a number 0-255.
pub fn scope(word: &str) -> Option<u8> {
    match SCOPE_NAMES.iter().find(|(name, _)| *name == word) {
        Some(&(_, n)) => Some(n),
        None => unsigned(word, 0, 255)
            .ok()
            .and_then(|v| u8::try_from(v).ok()),
    }
}

/// A scope as `ip` prints it: its [`SCOPE_NAMES`] name, else the number.
pub fn scope_name(scope: u8) -> String {
    match SCOPE_NAMES.iter().find(|&&(_, n)| n == scope) {
        Some((name, _)) => (*name).to_string(),
        None => scope.to_string(),
    }
}

/// A floating-point number of seconds within `[min, max]` (keepalived `read_double`, used by
/// `vrrp_garp_interval` and `vrrp_gna_interval`), returned as a `Duration` rounded to µs.
pub fn seconds_f64(word: &str, min: f64, max: f64) -> Result<Duration, ValueError> {
    let parsed: nom::IResult<&str, &str> = all_consuming(recognize(pair(
        preceded(space0, opt(one_of("+-"))),
        alt((
            recognize(pair(digit1, opt(preceded(char('.'), digit0)))),
            recognize(preceded(char('.'), digit1)),
        )),
    )))
    .parse(word);
    parsed.map_err(|_| ValueError::Invalid)?;
    let value: f64 = word.trim().parse().map_err(|_| ValueError::Invalid)?;
    if !(min..=max).contains(&value) {
        return Err(ValueError::OutOfRange {
            min: format!("{min:.6}"),
            max: format!("{max:.6}"),
        });
    }
    Ok(Duration::from_micros(
        (value * MICROS_PER_SEC as f64).round() as u64,
    ))
}

/// C's `strtol(s, &end, 0)` on the start of `s`: leading white space, an optional sign, then
/// `0x`/`0X` and hex digits, `0` and octal digits, or decimal digits, up to the first byte
/// that does not belong. Returns the value and the bytes used (0 when `s` starts with no
/// number; the value is then 0, as strtol's), or `None` when the number does not fit an `i64`
/// (strtol's `ERANGE`). keepalived reads tracked files (`track_file`, `FILE_CHECK`) and
/// `~SEQ` bounds this way.
pub fn strtol0(s: &str) -> Option<(i64, usize)> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
        i += 1;
    }
    let negative = b.get(i) == Some(&b'-');
    if matches!(b.get(i), Some(b'-' | b'+')) {
        i += 1;
    }
    let (radix, start) = match (b.get(i), b.get(i + 1), b.get(i + 2)) {
        (Some(b'0'), Some(b'x' | b'X'), Some(h)) if h.is_ascii_hexdigit() => (16, i + 2),
        (Some(b'0'), ..) => (8, i),
        _ => (10, i),
    };
    let end = start
        + b[start..]
            .iter()
            .position(|c| !char::from(*c).is_digit(radix))
            .unwrap_or(b.len() - start);
    if end == start {
        return Some((0, 0));
    }
    let magnitude = i128::from_str_radix(&s[start..end], radix).ok()?;
    let value = i64::try_from(if negative { -magnitude } else { magnitude }).ok()?;
    Some((value, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtol0_follows_c_rules() {
        assert_eq!(strtol0(" 42\n"), Some((42, 3)));
        assert_eq!(strtol0("-7x"), Some((-7, 2)));
        assert_eq!(strtol0("0x1f"), Some((31, 4)));
        assert_eq!(strtol0("-0X10 "), Some((-16, 5)));
        assert_eq!(strtol0("010"), Some((8, 3)));
        assert_eq!(strtol0("08"), Some((0, 1)));
        assert_eq!(strtol0("0x"), Some((0, 1)));
        assert_eq!(strtol0("0xg"), Some((0, 1)));
        assert_eq!(strtol0("+5"), Some((5, 2)));
        assert_eq!(strtol0("abc"), Some((0, 0)));
        assert_eq!(strtol0("-"), Some((0, 0)));
        assert_eq!(strtol0(""), Some((0, 0)));
        assert_eq!(strtol0("99999999999999999999"), None);
        assert_eq!(strtol0("-9223372036854775808"), Some((i64::MIN, 20)));
    }

    #[test]
    fn unsigned_follows_strtoul_rules() {
        assert_eq!(unsigned("100", 1, 255), Ok(100));
        assert_eq!(unsigned("+7", 0, 10), Ok(7));
        assert_eq!(unsigned(" 7", 0, 10), Ok(7));
        assert_eq!(unsigned("-1", 0, 10), Err(ValueError::Negative));
        assert_eq!(unsigned("2.5", 0, 10), Err(ValueError::Invalid));
        assert_eq!(unsigned("", 0, 10), Err(ValueError::Invalid));
        assert_eq!(
            unsigned("300", 1, 255).unwrap_err().to_string(),
            "number outside range [1, 255]"
        );
        assert!(matches!(
            unsigned("99999999999999999999999", 0, 10),
            Err(ValueError::OutOfRange { .. })
        ));
    }

    #[test]
    fn integer_accepts_signs() {
        assert_eq!(integer("-4", -253, 253), Ok(-4));
        assert_eq!(integer("+4", -253, 253), Ok(4));
        assert_eq!(integer("4x", -253, 253), Err(ValueError::Invalid));
        assert!(integer("-254", -253, 253).is_err());
    }

    #[test]
    fn decimals_are_micro_units() {
        assert_eq!(decimal_micros("2.5", 0, u64::MAX), Ok(2_500_000));
        assert_eq!(decimal_micros("1", 0, u64::MAX), Ok(1_000_000));
        assert_eq!(decimal_micros(".5", 0, u64::MAX), Ok(500_000));
        assert_eq!(decimal_micros("5.", 0, u64::MAX), Ok(5_000_000));
        assert_eq!(decimal_micros("0.000001", 0, u64::MAX), Ok(1));
        assert_eq!(
            decimal_micros("0.0000001", 0, u64::MAX),
            Err(ValueError::TooManyDecimals)
        );
        assert_eq!(decimal_micros("-1", 0, u64::MAX), Err(ValueError::Negative));
        assert_eq!(decimal_micros("abc", 0, u64::MAX), Err(ValueError::Invalid));
        assert_eq!(decimal_micros(".", 0, u64::MAX), Err(ValueError::Invalid));
        assert_eq!(
            decimal_micros("0.001", 10_000, 255_000_000)
                .unwrap_err()
                .to_string(),
            "number outside range [0.010000, 255.000000]"
        );
    }

    #[test]
    fn ip_and_prefix() {
        assert_eq!(
            ip_addr("10.0.0.1"),
            Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)))
        );
        assert_eq!(ip_addr("fe80::1"), "fe80::1".parse().ok());
        assert_eq!(ip_addr("192.168.100."), None);
        assert_eq!(ip_addr("10.0.0.256"), None);
        assert_eq!(split_prefix("10.0.0.1/24"), ("10.0.0.1", Some("24")));
        assert_eq!(split_prefix("10.0.0.1"), ("10.0.0.1", None));
        assert_eq!(split_prefix("fe80::1/64"), ("fe80::1", Some("64")));
    }

    #[test]
    fn scopes_and_booleans() {
        assert_eq!(scope("link"), Some(253));
        assert_eq!(scope("17"), Some(17));
        assert_eq!(scope("256"), None);
        assert_eq!(scope("galaxy"), None);
        assert_eq!(boolean("on"), Some(true));
        assert_eq!(boolean("no"), Some(false));
        assert_eq!(boolean("On"), None);
    }

    #[test]
    fn float_seconds() {
        assert_eq!(
            seconds_f64("0.5", 0.000001, 4294.0),
            Ok(Duration::from_millis(500))
        );
        assert_eq!(seconds_f64("x", 0.0, 1.0), Err(ValueError::Invalid));
        assert!(seconds_f64("0", 0.000001, 4294.0).is_err());
    }
}
