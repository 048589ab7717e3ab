//! `MISC_CHECK` (keepalived check_misc.c): runs `misc_path`; exit 0 is up. With
//! `misc_dynamic`, exit 0 and 1 mean up/down and 2-255 mean up with weight `status - 2`;
//! exit 0 then sets the real server's configured weight back (keepalived: `rs->iweight`).

use super::Attempt;
use crate::script::{self, Outcome, RunAs};
use std::time::Duration;

/// `MISC_CHECK { misc_path "CMD args"; misc_timeout N; misc_dynamic; user U [G] }`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MiscCheck {
    pub argv: Vec<String>,
    /// `misc_timeout` (keepalived default: `delay_loop`).
    pub timeout: Duration,
    /// `misc_dynamic`.
    pub dynamic: bool,
    /// The real server's configured `weight`: what exit 0 sets with `misc_dynamic`.
    pub rs_weight: u32,
    pub run_as: Option<RunAs>,
}

impl MiscCheck {
    /// Runs the script once (killed after `timeout`).
    pub async fn attempt(&self) -> Attempt {
        match script::run(&self.argv, self.run_as, Some(self.timeout)).await {
            Outcome::Exited(0) if self.dynamic => Attempt::OkWeight(self.rs_weight),
            Outcome::Exited(0) => Attempt::Ok,
            Outcome::Exited(code) if self.dynamic && code >= 2 => {
                Attempt::OkWeight((code - 2) as u32)
            }
            other => Attempt::Failed(format!(
                "Misc check to {} failed: {other}",
                self.argv.join(" ")
            )),
        }
    }
}
