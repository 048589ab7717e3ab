//! `virtual_server_group NAME { … }` (keepalived/check/check_parser.c, 2.2.7): address ranges
//! `A.B.C.D-E` / `X::Y-Z` with a port, and `fwmark N [inet|inet6]` entries.

use super::Parser;
use crate::config::lexer::{Line, Word};
use crate::config::model::{VirtualServerGroup, VsgEntry};
use crate::config::values;
use std::net::IpAddr;

impl Parser<'_> {
    /// `virtual_server_group NAME { IP[-LAST] [PORT] | fwmark N [inet|inet6] … }`.
    pub(super) fn virtual_server_group(&mut self, line: &Line) {
        let owner = line.keyword().clone();
        let Some(name) = line.arg(1).cloned() else {
            self.diags.error(
                &owner.span,
                "virtual_server_group must have a name - skipping",
            );
            self.skip_block_if_any(&owner);
            return;
        };
        let who = format!("(VSG {}) ", name.text);
        let mut group = VirtualServerGroup {
            name: name.text.to_string(),
            entries: Vec::new(),
            span: name.span,
        };
        self.open_block(&owner);
        while let Some(l) = self.next_in_block(&owner) {
            if let Some(e) = self.vsg_entry(&who, &l) {
                group.entries.push(e);
            }
        }
        if self.config.ipvs.groups.contains_key(name.text.as_str()) {
            self.diags.error(
                &name.span,
                format!(
                    "virtual_server_group {} already defined - skipping this one",
                    name.text
                ),
            );
            return;
        }
        self.config
            .ipvs
            .groups
            .insert(name.text.into_string(), group);
    }

    fn vsg_entry(&mut self, who: &str, l: &Line) -> Option<VsgEntry> {
        let first = l.keyword().clone();
        if first.text == "fwmark" {
            let mark = self.unsigned(who, l, 1, (1, u32::MAX as u64), "skipping")? as u32;
            let ipv6 = match l.arg(2).map(|w| w.text.as_str()) {
                None => None,
                Some("inet") => Some(false),
                Some("inet6") => Some(true),
                Some(_) => {
                    let w = l.words[2].clone();
                    self.bad_value(who, l, &w, "expected inet or inet6", "skipping");
                    return None;
                }
            };
            return Some(VsgEntry::Fwmark { mark, ipv6 });
        }
        let Some((first_addr, count)) = addr_range(&first.text) else {
            self.group_error(who, &first, "not an IP address or range IP-LAST");
            return None;
        };
        let port = match l.arg(1) {
            None => 0,
            Some(w) => match values::unsigned(&w.text, 0, 65535) {
                Ok(p) => p as u16,
                Err(e) => {
                    let w = w.clone();
                    self.group_error(who, &w, e);
                    return None;
                }
            },
        };
        Some(VsgEntry::Range {
            first: first_addr,
            count,
            port,
        })
    }

    fn group_error(&mut self, who: &str, word: &Word, reason: impl std::fmt::Display) {
        self.diags.error(
            &word.span,
            format!(
                "{who}invalid virtual_server_group entry '{}': {reason} - skipping",
                word.text
            ),
        );
    }
}

/// `A.B.C.D[-E]` (last octet range) or `X::Y[-Z]` (last group range, hex): the first address
/// and the number of addresses.
pub fn addr_range(text: &str) -> Option<(IpAddr, u32)> {
    let (addr_text, last) = match text.rsplit_once('-') {
        Some((a, l)) => (a, Some(l)),
        None => (text, None),
    };
    let addr = values::ip_addr(addr_text)?;
    let Some(last) = last else {
        return Some((addr, 1));
    };
    let (start, end) = match addr {
        IpAddr::V4(a) => (u32::from(a.octets()[3]), last.parse::<u8>().ok()? as u32),
        IpAddr::V6(a) => (
            u32::from(a.segments()[7]),
            u16::from_str_radix(last, 16).ok()? as u32,
        ),
    };
    (end >= start).then(|| (addr, end - start + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::config::model::VsTarget;
    use crate::config::parser::parse as load;

    #[test]
    fn groups_and_fwmark() {
        let (c, msgs) = load(
            "virtual_server_group G {\n 10.0.0.1 80\n 10.0.0.3-5 80\n fwmark 7\n fwmark 8 inet6\n}\n\
             virtual_server group G {\n lb_algo rr\n real_server 10.0.1.1 80\n}\n\
             virtual_server fwmark 9 {\n protocol TCP\n real_server 2001:db8::2 80\n}\n",
        );
        assert_eq!(
            msgs,
            [
                "t.conf:7:1: warning: (VS group G) no protocol set - defaulting to UDP",
                "t.conf:12:2: warning: (VS fwmark 9) protocol is ignored for a fwmark virtual server"
            ]
        );
        let g = &c.ipvs.groups["G"];
        assert_eq!(
            g.entries,
            [
                VsgEntry::Range {
                    first: "10.0.0.1".parse().unwrap(),
                    count: 1,
                    port: 80
                },
                VsgEntry::Range {
                    first: "10.0.0.3".parse().unwrap(),
                    count: 3,
                    port: 80
                },
                VsgEntry::Fwmark {
                    mark: 7,
                    ipv6: None
                },
                VsgEntry::Fwmark {
                    mark: 8,
                    ipv6: Some(true)
                },
            ]
        );
        assert_eq!(
            c.ipvs.virtual_servers[0].target,
            VsTarget::Group("G".into())
        );
        assert_eq!(
            c.ipvs.virtual_servers[1].target,
            VsTarget::Fwmark {
                mark: 9,
                ipv6: true
            }
        );
    }

    #[test]
    fn ranges() {
        assert_eq!(
            addr_range("192.168.200.3-10"),
            Some(("192.168.200.3".parse().unwrap(), 8))
        );
        assert_eq!(
            addr_range("ae00::2-9"),
            Some(("ae00::2".parse().unwrap(), 8))
        );
        assert_eq!(
            addr_range("ae00::a-f"),
            Some(("ae00::a".parse().unwrap(), 6))
        );
        assert_eq!(
            addr_range("10.0.0.1"),
            Some(("10.0.0.1".parse().unwrap(), 1))
        );
        assert_eq!(addr_range("10.0.0.9-3"), None);
        assert_eq!(addr_range("10.0.0.1-300"), None);
    }
}
