//! From the config's words to what the kernel edges take: a route's type to `RTN_*`
//! ([`RouteType`]), a rule's action to `FR_ACT_*` ([`fr_act`], include/uapi/linux/fib_rules.h),
//! `global_defs`' nftables settings to [`FirewallConfig`]. `config` names things; `net` does
//! not know `config`.

use crate::config::model::Nftables;
use crate::config::routes::{RouteKind, RuleAction};
use crate::net::firewall::FirewallConfig;
use crate::net::route::{self, RouteType};

impl From<&Nftables> for FirewallConfig {
    fn from(n: &Nftables) -> FirewallConfig {
        FirewallConfig {
            table: n.table.clone(),
            priority: n.priority,
            counters: n.counters,
        }
    }
}

impl From<RouteKind> for RouteType {
    fn from(k: RouteKind) -> RouteType {
        match k {
            RouteKind::Unicast => RouteType::Unicast,
            RouteKind::Blackhole => RouteType::Blackhole,
            RouteKind::Unreachable => RouteType::Unreachable,
            RouteKind::Prohibit => RouteType::Prohibit,
            RouteKind::Throw => RouteType::Throw,
        }
    }
}

/// The `FR_ACT_*` value of a rule action (the `action` byte of `struct fib_rule_hdr`).
pub fn fr_act(action: RuleAction) -> u8 {
    match action {
        RuleAction::ToTable => route::fr_act::TO_TBL,
        RuleAction::Goto => route::fr_act::GOTO,
        RuleAction::Blackhole => route::fr_act::BLACKHOLE,
        RuleAction::Unreachable => route::fr_act::UNREACHABLE,
        RuleAction::Prohibit => route::fr_act::PROHIBIT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::routes::{parse_route, parse_rule};

    /// The values fib_rules.h and rtnetlink.h give, from configured lines.
    #[test]
    fn kernel_values_of_configured_lines() {
        let rule = |line: &str| {
            let words: Vec<&str> = line.split_whitespace().collect();
            fr_act(parse_rule(&words).unwrap().action)
        };
        assert_eq!(rule("from 10.0.0.0/8 table 100"), 1);
        assert_eq!(rule("from 10.0.0.0/8 goto 200"), 2);
        assert_eq!(rule("from 10.0.0.0/8 blackhole"), 6);
        assert_eq!(rule("from 10.0.0.0/8 unreachable"), 7);
        assert_eq!(rule("from 10.0.0.0/8 prohibit"), 8);
        let route = |line: &str| {
            let words: Vec<&str> = line.split_whitespace().collect();
            RouteType::from(parse_route(&words).unwrap().kind)
        };
        assert_eq!(route("10.1.0.0/16 via 10.0.0.1"), RouteType::Unicast);
        assert_eq!(route("throw 10.2.0.0/16"), RouteType::Throw);
        assert_eq!(route("blackhole 10.3.0.0/16"), RouteType::Blackhole);
    }

    /// The firewall starts from the same defaults whether or not `global_defs` names them.
    #[test]
    fn firewall_config_of_global_defs() {
        assert_eq!(
            FirewallConfig::from(&Nftables::default()),
            FirewallConfig::default()
        );
        let n = Nftables {
            table: "t".into(),
            priority: 5,
            counters: true,
        };
        assert_eq!(
            FirewallConfig::from(&n),
            FirewallConfig {
                table: "t".into(),
                priority: 5,
                counters: true
            }
        );
    }
}
