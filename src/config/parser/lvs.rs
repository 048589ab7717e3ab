//! The LVS options outside the `virtual_server` block structure: the tunnel options of
//! `lvs_method TUN …` and `global_defs`' `lvs_timeouts` (keepalived/check/check_parser.c and
//! global_parser.c, 2.2.7; keepalived.conf(5)).

use super::Parser;
use crate::config::lexer::Line;
use crate::config::model::{LvsTimeouts, TunnelCsum, TunnelOpts, TunnelType};
use crate::config::values;

/// keepalived's `LVS_MAX_TIMEOUT` (31 days) for `lvs_timeouts`.
const MAX_LVS_TIMEOUT: u64 = 2_678_400;

impl Parser<'_> {
    /// The words after `lvs_method TUN`: `[type ipip|gue|gre] [port N] [nocsum|csum|remcsum]`.
    /// keepalived's rules: GUE needs a port, only GUE takes a port, `ipip` takes no checksum
    /// option and GRE no `remcsum`. Any error ignores the whole keyword (`None`).
    pub(super) fn tunnel_opts(&mut self, who: &str, l: &Line) -> Option<TunnelOpts> {
        let mut t = TunnelOpts::default();
        let mut port_given = false;
        let mut csum_given = false;
        let mut i = 2;
        while let Some(word) = l.arg(i) {
            match word.text.as_str() {
                "type" => {
                    let ty = self.need(who, l, i + 1)?;
                    t.kind = match ty.text.as_str() {
                        "ipip" => TunnelType::Ipip,
                        "gue" => TunnelType::Gue,
                        "gre" => TunnelType::Gre,
                        _ => {
                            self.bad_value(who, l, ty, "expected ipip, gue or gre", "ignored");
                            return None;
                        }
                    };
                    i += 2;
                }
                "port" => {
                    let v = self.unsigned(who, l, i + 1, (1, 65535), "ignored")?;
                    t.port = v as u16;
                    port_given = true;
                    i += 2;
                }
                "nocsum" | "csum" | "remcsum" => {
                    t.csum = match word.text.as_str() {
                        "csum" => TunnelCsum::Csum,
                        "remcsum" => TunnelCsum::RemCsum,
                        _ => TunnelCsum::NoCsum,
                    };
                    csum_given = true;
                    i += 1;
                }
                _ => {
                    self.bad_value(
                        who,
                        l,
                        word,
                        "expected type, port, nocsum, csum or remcsum",
                        "ignored",
                    );
                    return None;
                }
            }
        }
        let problem = match t.kind {
            TunnelType::Gue if !port_given => Some("a gue tunnel needs a port"),
            TunnelType::Ipip | TunnelType::Gre if port_given => {
                Some("only a gue tunnel takes a port")
            }
            TunnelType::Ipip if csum_given => Some("an ipip tunnel takes no checksum option"),
            TunnelType::Gre if t.csum == TunnelCsum::RemCsum => {
                Some("a gre tunnel does not support remcsum")
            }
            _ => None,
        };
        if let Some(why) = problem {
            self.diags.error(
                &l.keyword().span,
                format!("{who}lvs_method TUN: {why} - ignored"),
            );
            return None;
        }
        Some(t)
    }

    /// `lvs_timeouts [tcp SECS] [tcpfin SECS] [udp SECS]` (at least one).
    pub(super) fn lvs_timeouts(&mut self, l: &Line) {
        let who = "";
        let mut t = LvsTimeouts::default();
        let mut i = 1;
        while let Some(word) = l.arg(i) {
            let slot = match word.text.as_str() {
                "tcp" => &mut t.tcp,
                "tcpfin" => &mut t.tcp_fin,
                "udp" => &mut t.udp,
                _ => {
                    self.bad_value(who, l, word, "expected tcp, tcpfin or udp", "ignored");
                    return;
                }
            };
            let Some(value) = l.arg(i + 1) else {
                self.diags.error(
                    &word.span,
                    format!("lvs_timeouts: '{}' is missing its seconds", word.text),
                );
                return;
            };
            match values::unsigned(&value.text, 0, MAX_LVS_TIMEOUT) {
                Ok(v) => *slot = Some(v as u32),
                Err(e) => {
                    self.bad_value(who, l, value, e, "ignored");
                    return;
                }
            }
            i += 2;
        }
        if i == 1 {
            self.diags.error(
                &l.keyword().span,
                "lvs_timeouts: no timeout given - ignored",
            );
            return;
        }
        self.config.ipvs.lvs_timeouts = Some(t);
    }
}

#[cfg(test)]
mod tests {
    use crate::config::model::*;
    use crate::config::parser::parse as load;

    fn methods(text: &str) -> (Vec<Option<LbKind>>, Vec<String>) {
        let (c, msgs) = load(text);
        let vs = &c.ipvs.virtual_servers[0];
        let mut v = vec![Some(vs.lb_kind)];
        // A lone real server stands for "any real server" (a virtual server needs one).
        if vs.real_servers.len() > 1 {
            v.extend(vs.real_servers.iter().map(|r| r.lvs_method));
        }
        (v, msgs)
    }

    #[test]
    fn tunnel_options() {
        let (m, msgs) = methods(
            "virtual_server 10.0.0.1 80 {\n lvs_method TUN type gue port 6080 csum\n\
             real_server 10.0.1.1 80 {\n  lvs_method TUN\n }\n\
             real_server 10.0.1.2 80 {\n  lvs_method TUN type gre csum\n }\n\
             real_server 10.0.1.3 80 {\n  lb_kind TUN type gue port 1 remcsum\n }\n\
             real_server 10.0.1.4 80 {\n  lvs_method TUN type ipip\n }\n protocol TCP\n}\n",
        );
        let tun = |kind, port, csum| Some(LbKind::Tun(TunnelOpts { kind, port, csum }));
        assert_eq!(
            m,
            [
                tun(TunnelType::Gue, 6080, TunnelCsum::Csum),
                tun(TunnelType::Ipip, 0, TunnelCsum::NoCsum),
                tun(TunnelType::Gre, 0, TunnelCsum::Csum),
                // `lb_kind` is not a real_server keyword.
                None,
                tun(TunnelType::Ipip, 0, TunnelCsum::NoCsum),
            ]
        );
        assert_eq!(msgs.len(), 1, "{msgs:?}");
        assert!(msgs[0].contains("lb_kind"), "{msgs:?}");
    }

    #[test]
    fn bad_tunnel_options_are_errors() {
        for (line, why) in [
            ("TUN type gue", "a gue tunnel needs a port"),
            ("TUN type gre port 5", "only a gue tunnel takes a port"),
            ("TUN port 5", "only a gue tunnel takes a port"),
            ("TUN csum", "an ipip tunnel takes no checksum option"),
            (
                "TUN type gre remcsum",
                "a gre tunnel does not support remcsum",
            ),
            ("TUN type vxlan", "expected ipip, gue or gre"),
            ("TUN type gue port 0", "ignored"),
            ("TUN fast", "expected type, port"),
        ] {
            let (m, msgs) = methods(&format!(
                "virtual_server 10.0.0.1 80 {{\n lvs_method DR\n lvs_method {line}\n protocol TCP\n\
                 real_server 10.0.1.1 80\n}}\n"
            ));
            assert_eq!(m, [Some(LbKind::Dr)], "{line}: the bad keyword is ignored");
            assert_eq!(msgs.len(), 1, "{line}: {msgs:?}");
            assert!(
                msgs[0].contains("error") && msgs[0].contains(why),
                "{line}: {msgs:?}"
            );
        }
    }

    #[test]
    fn lvs_timeouts_and_flush() {
        let (c, msgs) = load("global_defs {\n lvs_timeouts tcp 900 udp 30\n lvs_flush\n}\n");
        assert!(msgs.is_empty(), "{msgs:?}");
        assert_eq!(
            c.ipvs.lvs_timeouts,
            Some(LvsTimeouts {
                tcp: Some(900),
                tcp_fin: None,
                udp: Some(30)
            })
        );
        assert!(c.ipvs.lvs_flush);
        let (c, _) = load("global_defs {\n lvs_timeouts tcpfin 5\n}\n");
        assert_eq!(c.ipvs.lvs_timeouts.unwrap().tcp_fin, Some(5));
        assert!(!c.ipvs.lvs_flush);
        for bad in [
            "lvs_timeouts",
            "lvs_timeouts tcp",
            "lvs_timeouts sctp 5",
            "lvs_timeouts tcp 2678401",
        ] {
            let (c, msgs) = load(&format!("global_defs {{\n {bad}\n}}\n"));
            assert_eq!(c.ipvs.lvs_timeouts, None, "{bad}");
            assert_eq!(msgs.len(), 1, "{bad}: {msgs:?}");
            assert!(msgs[0].contains("error"), "{bad}: {msgs:?}");
        }
    }
}
