//! `virtual_routes` / `static_routes` and `virtual_rules` / `static_rules` lines, in the
//! ip-route / ip-rule syntax of man 5 keepalived.conf:
//!
//! ```text
//! [src IP] [to] PREFIX|default [via|gw IP [or IP]...] [dev IF] [scope S] [table T]
//!     [metric|priority|preference N] [onlink] [no_track]
//! blackhole|unreachable|prohibit|throw PREFIX [table T] ...
//! [not] [from PREFIX] [to PREFIX] [table T] [preference|priority|pref N] [fwmark N[/M]]
//!     [iif IF] [oif IF] [tos N] [goto N] [blackhole|unreachable|prohibit] [no_track]
//! ```
//!
//! Parsing is pure: `parse_route` / `parse_rule` take a line's words and return the model or
//! a message naming the offending word.

use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// One `virtual_routes` line (interfaces still by name; resolved when applied).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VirtualRoute {
    pub dst: IpAddr,
    pub dst_len: u8,
    /// `src IP` (preferred source).
    pub src: Option<IpAddr>,
    /// `via`/`gw`, then each `or`.
    pub gateways: Vec<IpAddr>,
    pub dev: Option<String>,
    /// `table` (default 254, main).
    pub table: u32,
    pub metric: Option<u32>,
    pub scope: Option<u8>,
    /// `blackhole`, `unreachable`, `prohibit`, `throw`, or a plain unicast route.
    pub kind: RouteKind,
    pub onlink: bool,
    /// `no_track`: the route's disappearance does not fault the instance.
    pub no_track: bool,
}

/// The type word of a route line (the kernel's `RTN_*`; `vrrp::routes` converts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RouteKind {
    /// A plain route (`unicast` or no type word).
    Unicast,
    Blackhole,
    Unreachable,
    Prohibit,
    Throw,
}

/// What a rule does when it matches (the kernel's `FR_ACT_*`; `vrrp::routes` converts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleAction {
    /// `table T` (the default action; a table is then required).
    ToTable,
    /// `goto N`: continue at the rule with preference N.
    Goto,
    Blackhole,
    Unreachable,
    Prohibit,
}

/// One `virtual_rules` line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VirtualRule {
    pub from: Option<(IpAddr, u8)>,
    pub to: Option<(IpAddr, u8)>,
    pub table: Option<u32>,
    pub priority: Option<u32>,
    pub fwmark: Option<(u32, Option<u32>)>,
    pub iif: Option<String>,
    pub oif: Option<String>,
    pub tos: u8,
    /// To table (default), goto, blackhole, unreachable, prohibit.
    pub action: RuleAction,
    pub goto: Option<u32>,
    pub invert: bool,
    pub no_track: bool,
}

impl VirtualRule {
    /// `true` for an IPv6 rule (from its `from`/`to`; IPv4 otherwise).
    pub fn is_v6(&self) -> bool {
        self.from.or(self.to).is_some_and(|(ip, _)| ip.is_ipv6())
    }
}

/// keepalived's `RULE_START_PRIORITY`: the preference given to the first rule written without
/// one; each further such rule of the same family gets one less.
pub const RULE_START_PRIORITY: u32 = 16384;

/// The preferences keepalived (`alloc_rule`) gives to rules written without one: per address
/// family, 16384, 16383, ... in the order the rules are read, `static_rules` and
/// `virtual_rules` alike (measured with keepalived 2.2.7 on the upstream `vrrp.rules` sample:
/// the static rule gets 16384, the virtual rule after it 16383). Fixed at load, so a rule keeps
/// its place whatever order master/backup transitions add them in.
#[derive(Debug, Clone)]
pub struct DefaultRulePriorities {
    next_v4: u32,
    next_v6: u32,
}

impl Default for DefaultRulePriorities {
    fn default() -> Self {
        DefaultRulePriorities {
            next_v4: RULE_START_PRIORITY,
            next_v6: RULE_START_PRIORITY,
        }
    }
}

impl DefaultRulePriorities {
    /// Gives `rule` the next preference of its family when it has none; returns the one
    /// given (the caller warns, as keepalived: "Rule has no preference specified - setting
    /// to N. This is probably not what you want."), `None` when the rule had its own.
    pub fn assign(&mut self, rule: &mut VirtualRule) -> Option<u32> {
        if rule.priority.is_some() {
            return None;
        }
        let next = if rule.is_v6() {
            &mut self.next_v6
        } else {
            &mut self.next_v4
        };
        let p = *next;
        *next = next.saturating_sub(1);
        rule.priority = Some(p);
        Some(p)
    }
}

/// `PREFIX` as `IP[/LEN]` (host route without a length) or `default`.
pub fn parse_prefix(s: &str, default_v6: bool) -> Result<(IpAddr, u8), String> {
    if s == "default" || s == "all" {
        let any: IpAddr = if default_v6 {
            "::".parse().unwrap()
        } else {
            "0.0.0.0".parse().unwrap()
        };
        return Ok((any, 0));
    }
    let (ip, len) = match s.split_once('/') {
        Some((ip, len)) => (ip, Some(len)),
        None => (s, None),
    };
    let ip: IpAddr = ip.parse().map_err(|_| format!("invalid address '{s}'"))?;
    let max = if ip.is_ipv6() { 128 } else { 32 };
    let len = match len {
        None => max,
        Some(l) => l
            .parse::<u8>()
            .ok()
            .filter(|l| *l <= max)
            .ok_or_else(|| format!("invalid prefix length in '{s}'"))?,
    };
    Ok((ip, len))
}

/// A routing table: a number or `main` (254), `local` (255), `default` (253).
pub fn parse_table(s: &str) -> Result<u32, String> {
    match s {
        "main" => Ok(254),
        "local" => Ok(255),
        "default" => Ok(253),
        _ => s.parse().map_err(|_| format!("invalid table '{s}'")),
    }
}

/// A route's scope: `universe` (iproute2's old name of `global`) or [`super::values::scope`].
fn parse_scope(s: &str) -> Result<u8, String> {
    match s {
        "universe" => Ok(0),
        _ => super::values::scope(s).ok_or_else(|| format!("invalid scope '{s}'")),
    }
}

fn next<'a>(it: &mut impl Iterator<Item = &'a str>, after: &str) -> Result<&'a str, String> {
    it.next().ok_or_else(|| format!("'{after}' needs a value"))
}

fn number(s: &str, what: &str) -> Result<u32, String> {
    s.parse().map_err(|_| format!("invalid {what} '{s}'"))
}

fn ip(s: &str) -> Result<IpAddr, String> {
    s.parse().map_err(|_| format!("invalid address '{s}'"))
}

/// Parses one route line.
pub fn parse_route(words: &[&str]) -> Result<VirtualRoute, String> {
    let mut r = VirtualRoute {
        dst: "0.0.0.0".parse().unwrap(),
        dst_len: 0,
        src: None,
        gateways: Vec::new(),
        dev: None,
        table: 254,
        metric: None,
        scope: None,
        kind: RouteKind::Unicast,
        onlink: false,
        no_track: false,
    };
    let mut dst: Option<&str> = None;
    let mut it = words.iter().copied();
    while let Some(w) = it.next() {
        match w {
            "src" => r.src = Some(ip(next(&mut it, w)?)?),
            "to" => dst = Some(next(&mut it, w)?),
            "via" | "gw" => r.gateways.push(ip(next(&mut it, w)?)?),
            "or" => {
                if r.gateways.is_empty() {
                    return Err("'or' without a first 'via'".into());
                }
                r.gateways.push(ip(next(&mut it, w)?)?)
            }
            "dev" | "oif" => r.dev = Some(next(&mut it, w)?.to_string()),
            "scope" => r.scope = Some(parse_scope(next(&mut it, w)?)?),
            "table" => r.table = parse_table(next(&mut it, w)?)?,
            "metric" | "priority" | "preference" => {
                r.metric = Some(number(next(&mut it, w)?, "metric")?)
            }
            "onlink" => r.onlink = true,
            "no_track" => r.no_track = true,
            "blackhole" => r.kind = RouteKind::Blackhole,
            "unreachable" => r.kind = RouteKind::Unreachable,
            "prohibit" => r.kind = RouteKind::Prohibit,
            "throw" => r.kind = RouteKind::Throw,
            "unicast" => r.kind = RouteKind::Unicast,
            _ if dst.is_none()
                && (w == "default" || w.parse::<IpAddr>().is_ok() || w.contains('/')) =>
            {
                dst = Some(w)
            }
            other => return Err(format!("unknown route option '{other}'")),
        }
    }
    let dst = dst.ok_or("route without a destination")?;
    let v6 = r
        .gateways
        .first()
        .or(r.src.as_ref())
        .is_some_and(IpAddr::is_ipv6);
    (r.dst, r.dst_len) = parse_prefix(dst, v6)?;
    let family_mismatch = r
        .gateways
        .iter()
        .chain(r.src.iter())
        .any(|a| a.is_ipv6() != r.dst.is_ipv6());
    if family_mismatch {
        return Err(format!("route to {dst} mixes IPv4 and IPv6 addresses"));
    }
    Ok(r)
}

/// Parses one rule line. keepalived gives a rule without a preference one with a warning;
/// that is the caller's (this returns `priority: None`; see [`DefaultRulePriorities`]).
pub fn parse_rule(words: &[&str]) -> Result<VirtualRule, String> {
    let mut r = VirtualRule {
        from: None,
        to: None,
        table: None,
        priority: None,
        fwmark: None,
        iif: None,
        oif: None,
        tos: 0,
        action: RuleAction::ToTable,
        goto: None,
        invert: false,
        no_track: false,
    };
    let mut it = words.iter().copied();
    while let Some(w) = it.next() {
        match w {
            "from" => r.from = Some(parse_prefix(next(&mut it, w)?, false)?),
            "to" => r.to = Some(parse_prefix(next(&mut it, w)?, false)?),
            "table" | "lookup" => r.table = Some(parse_table(next(&mut it, w)?)?),
            "preference" | "priority" | "pref" => {
                r.priority = Some(number(next(&mut it, w)?, "preference")?)
            }
            "fwmark" => {
                let v = next(&mut it, w)?;
                let (m, mask) = match v.split_once('/') {
                    Some((m, k)) => (m, Some(parse_u32_any(k)?)),
                    None => (v, None),
                };
                r.fwmark = Some((parse_u32_any(m)?, mask));
            }
            "iif" | "dev" => r.iif = Some(next(&mut it, w)?.to_string()),
            "oif" => r.oif = Some(next(&mut it, w)?.to_string()),
            "tos" | "dsfield" => {
                r.tos = parse_u32_any(next(&mut it, w)?)?
                    .try_into()
                    .map_err(|_| "invalid tos".to_string())?
            }
            "goto" => {
                r.goto = Some(number(next(&mut it, w)?, "goto target")?);
                r.action = RuleAction::Goto;
            }
            "not" => r.invert = true,
            "blackhole" => r.action = RuleAction::Blackhole,
            "unreachable" => r.action = RuleAction::Unreachable,
            "prohibit" => r.action = RuleAction::Prohibit,
            "no_track" => r.no_track = true,
            other => return Err(format!("unknown rule option '{other}'")),
        }
    }
    if let (Some((a, _)), Some((b, _))) = (r.from, r.to)
        && a.is_ipv6() != b.is_ipv6()
    {
        return Err("rule mixes IPv4 and IPv6 addresses".into());
    }
    if r.action == RuleAction::ToTable && r.table.is_none() {
        return Err("rule has no table".into());
    }
    Ok(r)
}

/// A number in decimal or `0x` hex (fwmark, masks, tos).
fn parse_u32_any(s: &str) -> Result<u32, String> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u32::from_str_radix(h, 16),
        None => s.parse(),
    }
    .map_err(|_| format!("invalid number '{s}'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<&str> {
        s.split_whitespace().collect()
    }

    #[test]
    fn routes_from_the_man_page() {
        let r = parse_route(&w(
            "src 192.168.100.1 to 192.168.109.0/24 via 192.168.200.254 dev eth1",
        ))
        .unwrap();
        assert_eq!((r.dst, r.dst_len), ("192.168.109.0".parse().unwrap(), 24));
        assert_eq!(r.src, Some("192.168.100.1".parse().unwrap()));
        assert_eq!(
            r.gateways,
            vec!["192.168.200.254".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(r.dev.as_deref(), Some("eth1"));
        assert_eq!(r.table, 254);

        let r = parse_route(&w(
            "192.168.113.0/24 via 192.168.200.254 or 192.168.100.254 dev eth1",
        ))
        .unwrap();
        assert_eq!(r.gateways.len(), 2);
        let r = parse_route(&w("blackhole 192.168.114.0/24")).unwrap();
        assert_eq!(r.kind, RouteKind::Blackhole);
        let r = parse_route(&w("default gw 192.168.0.1 table 100")).unwrap();
        assert_eq!((r.dst_len, r.table), (0, 100));
        let r = parse_route(&w("0.0.0.0/0 gw 192.168.0.1 table 100")).unwrap();
        assert_eq!((r.dst_len, r.table), (0, 100));
        let r = parse_route(&w("2001:db8:1::/64 via 2001:db8::1 metric 5 no_track")).unwrap();
        assert!(r.dst.is_ipv6() && r.no_track && r.metric == Some(5));
        let r = parse_route(&w("default via fe80::1 dev eth0")).unwrap();
        assert!(r.dst.is_ipv6(), "default takes the gateway's family");
    }

    #[test]
    fn bad_routes_name_the_problem() {
        assert!(
            parse_route(&w("10.0.0.0/24 via 10.0.0.1 flurb 3"))
                .unwrap_err()
                .contains("'flurb'")
        );
        assert!(
            parse_route(&w("10.0.0.0/33 via 10.0.0.1"))
                .unwrap_err()
                .contains("prefix length")
        );
        assert!(
            parse_route(&w("192.168.100./24 dev eth0"))
                .unwrap_err()
                .contains("192.168.100./24")
        );
        assert!(
            parse_route(&w("10.0.0.0/24 via 2001:db8::1"))
                .unwrap_err()
                .contains("mixes")
        );
        assert!(
            parse_route(&w("via 10.0.0.1"))
                .unwrap_err()
                .contains("destination")
        );
    }

    #[test]
    fn rules() {
        let r = parse_rule(&w(
            "from 192.168.28.0/24 to 192.168.29.0/26 table small iif p33",
        ))
        .unwrap_err();
        assert!(r.contains("table"));
        let r = parse_rule(&w(
            "from 192.168.28.0/24 to 192.168.29.0/26 table 100 iif p33 preference 20",
        ))
        .unwrap();
        assert_eq!(r.from, Some(("192.168.28.0".parse().unwrap(), 24)));
        assert_eq!(
            (r.table, r.priority, r.iif.as_deref()),
            (Some(100), Some(20), Some("p33"))
        );
        let r = parse_rule(&w("fwmark 0x10/0xff table main not")).unwrap();
        assert_eq!(
            (r.fwmark, r.table, r.invert),
            (Some((16, Some(255))), Some(254), true)
        );
        let r = parse_rule(&w("from 10.0.0.0/8 blackhole")).unwrap();
        assert_eq!(r.action, RuleAction::Blackhole);
        assert!(parse_rule(&w("from 2001:db8::/32 to 10.0.0.0/8 table 5")).is_err());
        assert!(
            parse_rule(&w("from 2001:db8::/32 table 5"))
                .unwrap()
                .is_v6()
        );
    }
}
