//! Address lines: `virtual_ipaddress`, `virtual_ipaddress_excluded`, `unicast_src_ip`,
//! `unicast_peer`, `virtual_routes`, `virtual_rules` of a `vrrp_instance`, and the top-level
//! `static_ipaddress`, `static_routes`, `static_rules` (keepalived/vrrp/vrrp_parser.c,
//! vrrp_ipaddress.c `alloc_ipaddress`, 2.2.7).

use super::Parser;
use super::vrrp_instance::InstanceDraft;
use crate::config::lexer::Line;
use crate::config::model::{UnicastPeer, VirtualAddress};
use crate::config::values;
use std::net::{IpAddr, Ipv4Addr};

impl Parser<'_> {
    /// One address line (`virtual_ipaddress`, `virtual_ipaddress_excluded`,
    /// `static_ipaddress`): `IP[/LEN] [brd IP] [dev IF] [scope S] [label L]`.
    fn address_line(&mut self, who: &str, l: &Line) -> Option<VirtualAddress> {
        let who = who.to_string();
        let first = l.keyword();
        let (addr_text, prefix_text) = values::split_prefix(&first.text);
        let Some(addr) = values::ip_addr(addr_text) else {
            self.diags.error(
                &first.span,
                format!(
                    "{who}invalid virtual_ipaddress '{}': not an IP address - skipped",
                    first.text
                ),
            );
            return None;
        };
        let max = values::max_prefix(&addr);
        let mut prefix_len = max;
        if let Some(p) = prefix_text {
            match values::unsigned(p, 0, u64::from(max)) {
                Ok(len) => prefix_len = len as u8,
                Err(e) => self.diags.error(
                    &first.span,
                    format!(
                        "{who}invalid prefix length '{p}' in virtual_ipaddress '{}': {e} - using {max}",
                        first.text
                    ),
                ),
            }
        }
        let mut vip = VirtualAddress {
            addr,
            prefix_len,
            brd: None,
            dev: None,
            scope: None,
            label: None,
            peer: None,
            no_track: false,
            span: first.span,
        };
        let mut i = 1;
        while i < l.words.len() {
            let option = &l.words[i];
            let param = l.words.get(i + 1);
            let takes_param = matches!(
                option.text.as_str(),
                "dev"
                    | "scope"
                    | "brd"
                    | "broadcast"
                    | "label"
                    | "peer"
                    | "track_group"
                    | "preferred_lft"
            );
            if takes_param && param.is_none() {
                self.diags.error(
                    &option.span,
                    format!(
                        "{who}No {} parameter specified for {} - skipped",
                        option.text, first.text
                    ),
                );
                return None;
            }
            match (option.text.as_str(), param) {
                ("dev", Some(p)) => {
                    if vip.dev.is_some() {
                        self.diags.error(
                            &p.span,
                            format!("{who}dev given more than once for {} - skipped", first.text),
                        );
                        return None;
                    }
                    vip.dev = Some(p.text.to_string());
                }
                ("scope", Some(p)) => match values::scope(&p.text) {
                    Some(s) => vip.scope = Some(s),
                    None => self.diags.error(
                        &p.span,
                        format!(
                            "{who}Invalid scope '{}' specified for {} - ignoring",
                            p.text, first.text
                        ),
                    ),
                },
                ("brd" | "broadcast", Some(p)) => {
                    let IpAddr::V4(v4) = addr else {
                        self.diags.error(
                            &option.span,
                            format!(
                                "{who}broadcast given for the IPv6 address {} - skipped",
                                first.text
                            ),
                        );
                        return None;
                    };
                    match p.text.as_str() {
                        "+" | "-" => {
                            if prefix_len > 30 {
                                self.diags.error(
                                    &p.span,
                                    format!(
                                        "{who}Address prefix length {prefix_len} too long for broadcast - ignoring"
                                    ),
                                );
                            } else {
                                let host_mask = u32::MAX >> prefix_len;
                                let bits = u32::from(v4);
                                let brd = if p.text == "+" {
                                    bits | host_mask
                                } else {
                                    bits & !host_mask
                                };
                                vip.brd = Some(IpAddr::V4(Ipv4Addr::from(brd)));
                            }
                        }
                        text => match text.parse::<Ipv4Addr>() {
                            Ok(b) => vip.brd = Some(IpAddr::V4(b)),
                            Err(_) => {
                                self.diags.error(
                                    &p.span,
                                    format!(
                                        "{who}invalid broadcast '{text}' for {} - skipped",
                                        first.text
                                    ),
                                );
                                return None;
                            }
                        },
                    }
                }
                ("label", Some(p)) => vip.label = Some(p.text.to_string()),
                ("peer", Some(p)) => match values::ip_addr(&p.text) {
                    Some(ip) if ip.is_ipv6() == vip.addr.is_ipv6() => vip.peer = Some(ip),
                    _ => self.diags.error(
                        &p.span,
                        format!(
                            "{who}Invalid peer address '{}' for {} - ignoring",
                            p.text, first.text
                        ),
                    ),
                },
                ("no_track", _) => vip.no_track = true,
                (
                    "track_group" | "preferred_lft" | "home" | "-nodad" | "mngtmpaddr"
                    | "noprefixroute" | "autojoin",
                    _,
                ) => {
                    self.diags.warn(
                        &option.span,
                        format!(
                            "{who}virtual_ipaddress option '{}' is a keepalived option that \
                             rkeepalived does not implement yet; ignored",
                            option.text
                        ),
                    );
                }
                _ => {
                    self.diags.error(
                        &option.span,
                        format!(
                            "{who}Unknown configuration entry '{}' for ip address - ignoring",
                            option.text
                        ),
                    );
                    i += 1;
                    continue;
                }
            }
            i += if takes_param { 2 } else { 1 };
        }
        if addr.is_ipv6() {
            if vip.scope.take().is_some() {
                self.diags.warn(
                    &first.span,
                    format!(
                        "{who}Cannot specify scope for IPv6 addresses ({}) - ignoring scope",
                        first.text
                    ),
                );
            }
            if vip.label.take().is_some() {
                self.diags.warn(
                    &first.span,
                    format!(
                        "{who}Cannot specify label for IPv6 addresses ({}) - ignoring label",
                        first.text
                    ),
                );
            }
        }
        Some(vip)
    }

    /// `static_ipaddress { }`, `static_routes { }`, `static_rules { }` (top level).
    pub(super) fn static_block(&mut self, line: &Line) {
        let owner = line.keyword().clone();
        let who = format!("{}: ", owner.text);
        self.no_block_params(line);
        self.open_block(&owner);
        while let Some(entry) = self.next_in_block(&owner) {
            match owner.text.as_str() {
                "static_ipaddress" => {
                    if let Some(mut a) = self.address_line(&who, &entry) {
                        // man 5: without dev, default_interface (default eth0).
                        a.dev.get_or_insert_with(|| "eth0".to_string());
                        self.config.static_ipaddress.push(a);
                    }
                }
                kind => {
                    let words: Vec<&str> = entry.words.iter().map(|w| w.text.as_str()).collect();
                    let parsed = if kind == "static_routes" {
                        crate::config::routes::parse_route(&words)
                            .map(|r| self.config.static_routes.push(r))
                    } else {
                        crate::config::routes::parse_rule(&words).map(|r| {
                            let r = self.rule_priority(r, &entry);
                            self.config.static_rules.push(r)
                        })
                    };
                    if let Err(e) = parsed {
                        self.diags
                            .error(entry.span(), format!("{who}{e} - line ignored"));
                    }
                }
            }
        }
    }

    /// `rule` with keepalived's default preference when the line gave none, warned as
    /// keepalived warns.
    pub(super) fn rule_priority(
        &mut self,
        mut rule: crate::config::routes::VirtualRule,
        entry: &Line,
    ) -> crate::config::routes::VirtualRule {
        if let Some(p) = self.rule_priorities.assign(&mut rule) {
            self.diags.warn(
                entry.span(),
                format!(
                    "Rule has no preference specified - setting to {p}. This is probably not what you want."
                ),
            );
        }
        rule
    }

    /// An address line of an instance: its family must be the instance's.
    pub(super) fn virtual_address(
        &mut self,
        d: &mut InstanceDraft,
        l: &Line,
    ) -> Option<VirtualAddress> {
        let who = d.who.clone();
        let vip = self.address_line(&who, l)?;
        let first = l.keyword().clone();
        self.claim_family(d, &vip.addr, &first, "virtual_ipaddress")
            .then_some(vip)
    }

    /// One line of `unicast_peer { }`: `IP [min_ttl N] [max_ttl N]`.
    pub(super) fn unicast_peer(&mut self, d: &mut InstanceDraft, l: &Line) -> Option<UnicastPeer> {
        let who = d.who.clone();
        let first = l.keyword();
        let Some(ip) = values::ip_addr(&first.text) else {
            self.diags.error(
                &first.span,
                format!(
                    "{who}invalid unicast_peer '{}': not an IP address - skipped",
                    first.text
                ),
            );
            return None;
        };
        let mut peer = UnicastPeer::new(ip);
        let mut i = 1;
        while i < l.words.len() {
            let option = &l.words[i];
            let is_ttl = matches!(option.text.as_str(), "min_ttl" | "max_ttl");
            if !is_ttl {
                self.diags.error(
                    &option.span,
                    format!(
                        "{who}unknown unicast_peer option '{}' - ignored",
                        option.text
                    ),
                );
                i += 2;
                continue;
            }
            let Some(value) = l.words.get(i + 1) else {
                self.diags.error(
                    &option.span,
                    format!(
                        "{who}unicast_peer {} is missing a value for {} - ignored",
                        first.text, option.text
                    ),
                );
                break;
            };
            match values::unsigned(&value.text, 0, 255) {
                Ok(ttl) if option.text == "min_ttl" => peer.min_ttl = ttl as u8,
                Ok(ttl) => peer.max_ttl = ttl as u8,
                Err(e) => self.diags.error(
                    &value.span,
                    format!(
                        "{who}invalid {} '{}' for unicast_peer {}: {e} - ignored",
                        option.text, value.text, first.text
                    ),
                ),
            }
            i += 2;
        }
        if peer.min_ttl > peer.max_ttl {
            self.diags.warn(
                &first.span,
                format!(
                    "{who}unicast_peer {}: min_ttl {} > max_ttl {} - all its adverts will be \
                     discarded with check_unicast_src",
                    first.text, peer.min_ttl, peer.max_ttl
                ),
            );
        }
        self.claim_family(d, &ip, first, "unicast_peer")
            .then_some(peer)
    }

    /// The address blocks of a `vrrp_instance`: `virtual_ipaddress`, `virtual_ipaddress_excluded`,
    /// `virtual_routes`, `virtual_rules`, `unicast_src_ip` (alias `mcast_src_ip`), `unicast_peer`.
    pub(super) fn instance_address_keyword(&mut self, d: &mut InstanceDraft, l: &Line) -> bool {
        let who = d.who.clone();
        let who = who.as_str();
        match l.keyword().text.as_str() {
            "virtual_ipaddress" => {
                self.no_block_params(l);
                let owner = l.keyword().clone();
                self.open_block(&owner);
                while let Some(entry) = self.next_in_block(&owner) {
                    if let Some(vip) = self.virtual_address(d, &entry) {
                        d.vips.push(vip);
                    }
                }
            }
            // Addresses of either family, moved with the instance but not in its adverts.
            "virtual_ipaddress_excluded" => {
                self.no_block_params(l);
                let owner = l.keyword().clone();
                self.open_block(&owner);
                while let Some(entry) = self.next_in_block(&owner) {
                    let family = d.ipv6.take();
                    let vip = self.virtual_address(d, &entry);
                    d.ipv6 = family;
                    if let Some(vip) = vip {
                        d.excluded.push(vip);
                    }
                }
            }
            "virtual_routes" | "virtual_rules" => {
                self.no_block_params(l);
                let owner = l.keyword().clone();
                let routes = owner.text == "virtual_routes";
                self.open_block(&owner);
                while let Some(entry) = self.next_in_block(&owner) {
                    let words: Vec<&str> = entry.words.iter().map(|w| w.text.as_str()).collect();
                    let parsed = if routes {
                        crate::config::routes::parse_route(&words).map(|r| d.routes.push(r))
                    } else {
                        crate::config::routes::parse_rule(&words)
                            .map(|r| d.rules.push(self.rule_priority(r, &entry)))
                    };
                    if let Err(e) = parsed {
                        self.diags.error(
                            entry.span(),
                            format!("{who}{}: {e} - line ignored", owner.text),
                        );
                    }
                }
            }
            // keepalived installs one handler (vrrp_srcip_handler) for both keywords.
            "unicast_src_ip" | "mcast_src_ip" => {
                let Some(word) = self.need(who, l, 1) else {
                    return true;
                };
                match values::ip_addr(&word.text) {
                    Some(ip) => {
                        if self.claim_family(d, &ip, word, "unicast_src_ip") {
                            d.unicast_src_ip = Some(ip);
                        }
                    }
                    None => self.bad_value(who, l, word, "not an IP address", "ignored"),
                }
            }
            "unicast_peer" => {
                self.no_block_params(l);
                let owner = l.keyword().clone();
                self.open_block(&owner);
                while let Some(entry) = self.next_in_block(&owner) {
                    if let Some(peer) = self.unicast_peer(d, &entry) {
                        d.unicast_peer.push(peer);
                    }
                }
            }
            _ => return false,
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use crate::config::model::VrrpInstance;
    use crate::config::parser::parse;
    use std::net::IpAddr;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// One instance with `block` in it.
    fn instance(block: &str) -> (Option<VrrpInstance>, Vec<String>) {
        let (c, msgs) = parse(&format!(
            "vrrp_instance VI {{\n interface eth0\n virtual_router_id 1\n{block}\n}}\n"
        ));
        (c.vrrp_instances.into_iter().next(), msgs)
    }

    #[test]
    fn broadcast_plus_and_minus_are_computed_from_the_prefix() {
        let (i, msgs) = instance(
            " virtual_ipaddress {\n  10.0.0.5/24 brd +\n  10.0.1.5/24 broadcast -\n  10.0.2.5/31 brd +\n }",
        );
        assert_eq!(
            msgs,
            ["t.conf:7:19: error: (VI) Address prefix length 31 too long for broadcast - ignoring"]
        );
        let v = i.unwrap().virtual_ipaddress;
        assert_eq!(v[0].brd, Some(ip("10.0.0.255")));
        assert_eq!(v[1].brd, Some(ip("10.0.1.0")));
        assert_eq!((v[2].prefix_len, v[2].brd), (31, None));
    }

    #[test]
    fn a_bad_prefix_length_is_the_host_prefix() {
        let (i, msgs) = instance(" virtual_ipaddress {\n  10.0.0.5/33\n  fe80::5/129\n }");
        assert_eq!(msgs.len(), 3, "{msgs:?}");
        assert!(msgs[0].starts_with("t.conf:5:3: error: (VI) invalid prefix length '33'"));
        assert!(msgs[0].ends_with("- using 32"));
        let v = i.unwrap().virtual_ipaddress;
        assert_eq!(v[0].prefix_len, 32);
        // fe80::5 is IPv6 in an IPv4 instance: not kept.
        assert_eq!(v.len(), 1);
    }

    #[test]
    fn ipv6_addresses_take_no_scope_or_label_and_no_broadcast() {
        let (i, msgs) = instance(
            " virtual_ipaddress {\n  fe80::5/64 scope link label x dev eth1\n  fe80::6 brd fe80::ff\n }",
        );
        assert_eq!(
            msgs,
            [
                "t.conf:5:3: warning: (VI) Cannot specify scope for IPv6 addresses (fe80::5/64) - ignoring scope",
                "t.conf:5:3: warning: (VI) Cannot specify label for IPv6 addresses (fe80::5/64) - ignoring label",
                "t.conf:6:11: error: (VI) broadcast given for the IPv6 address fe80::6 - skipped",
            ]
        );
        let v = i.unwrap().virtual_ipaddress;
        assert_eq!(v.len(), 1);
        assert_eq!(
            (v[0].scope, v[0].label.as_deref(), v[0].dev.as_deref()),
            (None, None, Some("eth1"))
        );
    }

    #[test]
    fn address_options_missing_doubled_or_unknown() {
        let (i, msgs) = instance(
            " virtual_ipaddress {\n  10.0.0.1 dev\n  10.0.0.2 dev a dev b\n  10.0.0.3 colour red scope host\n }",
        );
        assert_eq!(
            msgs,
            [
                "t.conf:5:12: error: (VI) No dev parameter specified for 10.0.0.1 - skipped",
                "t.conf:6:22: error: (VI) dev given more than once for 10.0.0.2 - skipped",
                "t.conf:7:12: error: (VI) Unknown configuration entry 'colour' for ip address - ignoring",
                "t.conf:7:19: error: (VI) Unknown configuration entry 'red' for ip address - ignoring",
            ]
        );
        let v = i.unwrap().virtual_ipaddress;
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].addr, ip("10.0.0.3"));
        assert!(v[0].scope.is_some());
    }

    #[test]
    fn the_first_address_fixes_the_family() {
        let (i, msgs) = instance(
            " unicast_src_ip 10.0.0.9\n virtual_ipaddress {\n  2001:db8::1\n  10.0.0.1\n }\n unicast_peer {\n  2001:db8::2\n }",
        );
        assert_eq!(
            msgs,
            [
                "t.conf:6:3: error: (VI) virtual_ipaddress '2001:db8::1' is IPv6 but the instance is IPv4 - ignoring",
                "t.conf:10:3: error: (VI) unicast_peer '2001:db8::2' is IPv6 but the instance is IPv4 - ignoring",
            ]
        );
        let i = i.unwrap();
        assert_eq!(i.virtual_ipaddress.len(), 1);
        assert!(i.unicast_peer.is_empty());
        // Excluded addresses may be of either family.
        let (i, msgs) = instance(
            " virtual_ipaddress {\n  10.0.0.1\n }\n virtual_ipaddress_excluded {\n  2001:db8::1\n }",
        );
        assert!(msgs.is_empty(), "{msgs:?}");
        assert_eq!(
            i.unwrap().virtual_ipaddress_excluded[0].addr,
            ip("2001:db8::1")
        );
    }

    #[test]
    fn unicast_peer_ttls() {
        let (i, msgs) = instance(
            " virtual_ipaddress {\n  10.0.0.1\n }\n unicast_peer {\n  10.0.0.2 min_ttl 9 max_ttl 3\n  10.0.0.3 max_ttl 300\n  10.0.0.4 hops 2\n }",
        );
        assert_eq!(
            msgs,
            [
                "t.conf:8:3: warning: (VI) unicast_peer 10.0.0.2: min_ttl 9 > max_ttl 3 - all its adverts will be discarded with check_unicast_src",
                "t.conf:9:20: error: (VI) invalid max_ttl '300' for unicast_peer 10.0.0.3: number outside range [0, 255] - ignored",
                "t.conf:10:12: error: (VI) unknown unicast_peer option 'hops' - ignored",
            ]
        );
        let peers = i.unwrap().unicast_peer;
        assert_eq!(peers.len(), 3);
        assert_eq!((peers[0].min_ttl, peers[0].max_ttl), (9, 3));
        assert_eq!(peers[1].max_ttl, 255);
    }

    /// keepalived numbers rules without a preference per family from 16384 down, static and
    /// virtual rules alike, in reading order.
    #[test]
    fn static_blocks_and_default_rule_preferences() {
        let (c, msgs) = parse(
            "static_ipaddress {\n 192.0.2.1/24\n}\nstatic_rules {\n from 10.0.0.0/8 table 100\n from 2001:db8::/32 table 100\n}\n\
             vrrp_instance VI {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  10.0.0.1\n }\n\
             virtual_rules {\n  from 10.1.0.0/16 table 101\n  from 10.2.0.0/16 table 102 pref 5\n  from 10.3.0.0/16 lookup\n }\n}\n",
        );
        assert_eq!(c.static_ipaddress[0].dev.as_deref(), Some("eth0"));
        let prio: Vec<_> = c.static_rules.iter().map(|r| r.priority).collect();
        assert_eq!(prio, [Some(16384), Some(16384)]);
        let prio: Vec<_> = c.vrrp_instances[0]
            .virtual_rules
            .iter()
            .map(|r| r.priority)
            .collect();
        assert_eq!(prio, [Some(16383), Some(5)]);
        assert_eq!(
            msgs.iter()
                .filter(|m| m.contains("Rule has no preference specified"))
                .count(),
            3
        );
        assert!(
            msgs.iter().any(
                |m| m.starts_with("t.conf:17:3: error: (VI) virtual_rules: ")
                    && m.ends_with(" - line ignored")
            ),
            "{msgs:?}"
        );
    }
}
