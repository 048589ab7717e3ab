//! Mail alerts (`smtp_alert`), keepalived 2.2.7's messages (core/smtp.c, vrrp_notify.c,
//! check_*.c) sent through lettre's SMTP transport.
//!
//! Who mails (keepalived's precedence, vrrp.c / check_data.c): an instance or sync group with
//! its own `smtp_alert`, else `smtp_alert_vrrp`, else `smtp_alert`, else no mail; a real
//! server with its own `smtp_alert`, else `smtp_alert_checker`, else `smtp_alert`, else mail
//! (keepalived keeps that default for backward compatibility). Nothing is sent unless
//! `notification_email` has an address and `smtp_server` is set.
//!
//! What (measured against keepalived 2.2.7 with an SMTP sink): one connection per mail, the
//! envelope from `notification_email_from` (default `keepalived@HOSTNAME`) to every address,
//! and the message
//!
//! ```text
//! Date: Fri, 04 Dec 2026 16:26:55 +0000
//! From: ka@example.com
//! Subject: [RID1] VRRP Instance VI_1 - Entering MASTER state
//! X-Mailer: Keepalived
//! To: ops@example.com, second@example.com
//!
//! => VRRP Instance is now owning VRRP VIPs <=
//! ```
//!
//! An instance mails each new state once (`Entering MASTER|BACKUP|FAULT state`; BACKUP and
//! FAULT say `=> VRRP Instance is no longer owning VRRP VIPs <=`), a group likewise
//! (`[RID] VRRP Group G1 - ...`, `=> All VRRP group instances are now in MASTER state <=`),
//! `no_email_faults` drops the FAULT ones; keepalived 2.2.7 queues a `Stopping` mail at
//! shutdown but exits before sending it (measured: none arrives), so none is sent here. A
//! real server mails `[RID] Realserver [10.0.0.2]:tcp:80 of virtual server
//! [10.0.0.100]:tcp:80 - UP|DOWN` with its checker's line (`=> TCP CHECK succeed on service
//! <=`, ...); a virtual server that gains or loses its quorum mails `[RID] Virtualserver
//! [10.0.0.100]:tcp:80 - UP|DOWN` (`=> Gained quorum 3+1=4 <= 5 <=`).
//!
//! Mails are sent by tasks of their own, so a slow or dead server never holds the VRRP side.
//! keepalived logs every failed mail; here a failure is logged once per outage and the
//! recovery once, with the count of mails lost meanwhile. keepalived speaks `HELO`; lettre
//! speaks `EHLO` (every server that takes HELO takes EHLO).

use crate::config::model::{Config, RealServer, VirtualServer};
use lettre::AsyncTransport;
use lettre::address::{Address, Envelope};
use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::transport::smtp::extension::ClientId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use tracing::{error, info, warn};

/// One message: subject and body, as keepalived builds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub subject: String,
    pub body: String,
}

/// The mail side of a loaded configuration.
pub struct Mailer {
    router_id: String,
    from: String,
    to: Vec<String>,
    envelope: Envelope,
    transport: AsyncSmtpTransport<lettre::Tokio1Executor>,
    server: String,
    vrrp_default: bool,
    checker_default: bool,
    no_email_faults: bool,
    /// Per instance (`false`) or group (`true`) name: whether it mails, and the last state
    /// mailed (keepalived's `last_email_state`).
    vrrp: Mutex<HashMap<(bool, String), VrrpMailState>>,
    outage: Mutex<Outage>,
}

/// Whether an instance or group mails, and the state it last mailed.
type VrrpMailState = (bool, Option<&'static str>);

#[derive(Default)]
struct Outage {
    down: bool,
    lost: u64,
}

/// The running mailer: installed at start-up, replaced by each reload ([`reload`]).
static MAILER: RwLock<Option<Arc<Mailer>>> = RwLock::new(None);

/// The running mailer, if any.
fn mailer() -> Option<Arc<Mailer>> {
    MAILER.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// The host name (keepalived's default `router_id`, helo name and sender domain).
fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into())
}

impl Mailer {
    /// The mailer `config` asks for, or `None` (no address, no server, or an address lettre
    /// cannot use: logged).
    pub fn new(config: &Config) -> Option<Mailer> {
        let g = &config.global;
        let (host, port) = g.smtp_server.as_ref()?;
        if g.notification_email.is_empty() {
            return None;
        }
        let host_name = hostname();
        let from = g
            .notification_email_from
            .clone()
            .unwrap_or_else(|| format!("keepalived@{host_name}"));
        let parse = |a: &str| match a.parse::<Address>() {
            Ok(a) => Some(a),
            Err(e) => {
                error!("SMTP alert: unusable address {a:?}: {e} - mail alerts disabled");
                None
            }
        };
        let sender = parse(&from)?;
        let mut rcpt = Vec::new();
        for a in &g.notification_email {
            rcpt.push(parse(a)?);
        }
        let envelope = Envelope::new(Some(sender), rcpt).ok()?;
        let port = port.unwrap_or(25);
        let helo = g
            .smtp_helo_name
            .clone()
            .unwrap_or_else(|| host_name.clone());
        let transport = AsyncSmtpTransport::<lettre::Tokio1Executor>::builder_dangerous(host)
            .port(port)
            .hello_name(ClientId::Domain(helo))
            .timeout(Some(g.smtp_connect_timeout))
            .build();
        let server = match host.parse::<std::net::IpAddr>() {
            Ok(_) => format!("[{host}]:{port}"),
            Err(_) => format!("{host}:{port}"),
        };
        let vrrp_default = g.smtp_alert_vrrp.or(g.smtp_alert).unwrap_or(false);
        let mut vrrp = HashMap::new();
        for i in &config.vrrp_instances {
            vrrp.insert(
                (false, i.name.clone()),
                (i.smtp_alert.unwrap_or(vrrp_default), None),
            );
        }
        for s in &config.tracking.sync_groups {
            vrrp.insert(
                (true, s.name.clone()),
                (s.smtp_alert.unwrap_or(vrrp_default), None),
            );
        }
        Some(Mailer {
            router_id: g.router_id.clone().unwrap_or(host_name),
            from,
            to: g.notification_email.clone(),
            envelope,
            transport,
            server,
            vrrp_default,
            checker_default: g.smtp_alert_checker.or(g.smtp_alert).unwrap_or(true),
            no_email_faults: g.no_email_faults,
            vrrp: Mutex::new(vrrp),
            outage: Mutex::default(),
        })
    }

    /// Takes from the mailer it replaces what each instance and group last mailed (for the
    /// names both know; whether they mail is the new file's) and the SMTP outage state.
    fn carry_over(&self, old: &Mailer) {
        let old_map = old.vrrp.lock().unwrap_or_else(|e| e.into_inner());
        let mut map = self.vrrp.lock().unwrap_or_else(|e| e.into_inner());
        for (key, (_, last)) in old_map.iter() {
            if let Some(entry) = map.get_mut(key) {
                entry.1 = *last;
            }
        }
        let o = old.outage.lock().unwrap_or_else(|e| e.into_inner());
        let mut n = self.outage.lock().unwrap_or_else(|e| e.into_inner());
        if !n.down && o.down && self.server == old.server {
            *n = Outage {
                down: true,
                lost: o.lost,
            };
        }
    }

    /// The full message keepalived writes (headers, blank line, body), without the final
    /// `CRLF.CRLF` the transport adds.
    pub fn message(&self, mail: &Mail, date: &str) -> String {
        format!(
            "Date: {date}\r\nFrom: {}\r\nSubject: {}\r\nX-Mailer: Keepalived\r\nTo: {}\r\n\r\n{}\r\n",
            self.from,
            mail.subject,
            self.to.join(", "),
            mail.body
        )
    }

    /// The mail of an instance (`group` false) or sync group entering `state` (`MASTER`,
    /// `BACKUP`, `FAULT`), if it is to be sent now.
    pub fn vrrp_mail(&self, group: bool, name: &str, state: &'static str) -> Option<Mail> {
        if state == "FAULT" && self.no_email_faults {
            return None;
        }
        let body = match (group, state) {
            (false, "MASTER") => "=> VRRP Instance is now owning VRRP VIPs <=".to_string(),
            (false, "BACKUP" | "FAULT") => {
                "=> VRRP Instance is no longer owning VRRP VIPs <=".to_string()
            }
            (true, "MASTER" | "BACKUP" | "FAULT") => {
                format!("=> All VRRP group instances are now in {state} state <=")
            }
            _ => return None,
        };
        let mut map = self.vrrp.lock().unwrap_or_else(|e| e.into_inner());
        let entry = map
            .entry((group, name.to_string()))
            .or_insert((self.vrrp_default, None));
        if !entry.0 || entry.1 == Some(state) {
            return None;
        }
        entry.1 = Some(state);
        let kind = if group { "Group" } else { "Instance" };
        Some(Mail {
            subject: format!(
                "[{}] VRRP {kind} {name} - Entering {state} state",
                self.router_id
            ),
            body,
        })
    }

    /// The mail of real server `rs` (written `rs_key`, e.g. `[10.0.0.2]:tcp:80`) of the
    /// virtual server written `vs_key` going `up` or down, if it mails.
    pub fn real_server_mail(
        &self,
        rs: &RealServer,
        rs_key: &str,
        vs_key: &str,
        up: bool,
    ) -> Option<Mail> {
        if !rs.health.smtp_alert.unwrap_or(self.checker_default) {
            return None;
        }
        Some(Mail {
            subject: format!(
                "[{}] Realserver {rs_key} of virtual server {vs_key} - {}",
                self.router_id,
                if up { "UP" } else { "DOWN" }
            ),
            body: checker_body(rs, up),
        })
    }

    /// The mail of virtual server `vs` (written `vs_key`) gaining (`up`) or losing its quorum,
    /// if it mails: keepalived's `SMTP_MSG_VS` (ipwrapper.c `do_vs_notifies`), subject
    /// `[RID] Virtualserver [10.0.0.1]:tcp:80 - UP|DOWN`, body `=> Gained quorum Q+H=T <= W <=`
    /// (`Lost quorum` likewise: keepalived writes `+` and the threshold in both).
    pub fn quorum_mail(
        &self,
        vs: &VirtualServer,
        vs_key: &str,
        up: bool,
        threshold: u64,
        live_weight: u64,
    ) -> Option<Mail> {
        if !vs.health.smtp_alert.unwrap_or(self.checker_default) {
            return None;
        }
        Some(Mail {
            subject: format!(
                "[{}] Virtualserver {vs_key} - {}",
                self.router_id,
                if up { "UP" } else { "DOWN" }
            ),
            body: format!(
                "=> {} {}+{}={threshold} <= {live_weight} <=",
                if up { "Gained quorum" } else { "Lost quorum" },
                vs.health.quorum,
                vs.health.hysteresis
            ),
        })
    }

    /// Queues `mail` on a task of its own (must run inside the runtime).
    pub fn send(self: Arc<Self>, mail: Mail) {
        let raw = self.message(&mail, &rfc2822_now());
        tokio::spawn(async move {
            match self
                .transport
                .send_raw(&self.envelope, raw.as_bytes())
                .await
            {
                Ok(_) => {
                    let mut o = self.outage.lock().unwrap_or_else(|e| e.into_inner());
                    if o.down {
                        info!(
                            "SMTP server {} reachable again ({} alert(s) lost meanwhile)",
                            self.server, o.lost
                        );
                        *o = Outage::default();
                    }
                    drop(o);
                    info!("SMTP alert successfully sent.");
                }
                Err(e) => {
                    let mut o = self.outage.lock().unwrap_or_else(|e| e.into_inner());
                    o.lost += 1;
                    if !o.down {
                        o.down = true;
                        warn!(
                            "SMTP alert to {} failed: {e} - not logged again until it recovers",
                            self.server
                        );
                    }
                }
            }
        });
    }
}

/// The body a real server's checker mails (keepalived's check_*.c; a real server with
/// several checkers gets the generic `CHECK` line).
fn checker_body(rs: &RealServer, up: bool) -> String {
    use crate::config::model::CheckerKind as K;
    let kinds: Vec<&K> = rs.health.checkers.iter().map(|c| &c.kind).collect();
    let kind = match kinds.as_slice() {
        [k] => Some(*k),
        _ => None,
    };
    let (ok, ko) = ("succeed", "failed");
    match kind {
        Some(K::Tcp) => format!("=> TCP CHECK {} on service <=", if up { ok } else { ko }),
        Some(K::Ping) => format!("=> ICMP CHECK {} on service <=", if up { ok } else { ko }),
        Some(K::Udp { .. }) => format!("=> UDP CHECK {} on service <=", if up { ok } else { ko }),
        Some(K::Dns { .. }) => format!("=> DNS_CHECK: {} on service <=", if up { ok } else { ko }),
        Some(K::Misc { .. }) => format!(
            "=> MISC CHECK {} on service <=",
            if up { "succeeded" } else { "failed" }
        ),
        _ => format!("=> CHECK {} on service <=", if up { ok } else { ko }),
    }
}

/// `Fri, 04 Dec 2026 16:26:55 +0000` in local time (keepalived's Date header).
pub fn rfc2822_now() -> String {
    // SAFETY: time/localtime_r/strftime write only into the buffers passed.
    unsafe {
        let t = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&t, &mut tm);
        let mut buf = [0u8; 64];
        let n = libc::strftime(
            buf.as_mut_ptr().cast(),
            buf.len(),
            c"%a, %d %b %Y %H:%M:%S %z".as_ptr(),
            &tm,
        );
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }
}

/// Installs the mailer of `config` at start-up.
pub fn install(config: &Config) {
    let m = Mailer::new(config);
    if let Some(m) = &m {
        info!("SMTP alerts go to {} through {}", m.to.join(", "), m.server);
    }
    *MAILER.write().unwrap_or_else(|e| e.into_inner()) = m.map(Arc::new);
}

/// A reload: the mailer of the new `config` replaces the running one (`router_id`,
/// `notification_email`, `notification_email_from`, `smtp_server`, `smtp_helo_name`,
/// `smtp_connect_timeout`, `smtp_alert*`, `no_email_faults`, an instance's or group's
/// `smtp_alert`), as keepalived re-reads them on SIGHUP. What each instance and group last
/// mailed carries over (a state is still mailed once), and so does an SMTP outage in
/// progress. Logged when the recipients, server or sender change, or mail is switched off.
pub fn reload(config: &Config) {
    let new = Mailer::new(config);
    let mut slot = MAILER.write().unwrap_or_else(|e| e.into_inner());
    let old = slot.take();
    let summary = |m: &Mailer| {
        (
            m.to.clone(),
            m.server.clone(),
            m.from.clone(),
            m.router_id.clone(),
        )
    };
    match (&old, &new) {
        (Some(o), Some(n)) if summary(o) == summary(n) => {}
        (_, Some(n)) => info!(
            "Reload: SMTP alerts go to {} through {} (from {}, router_id {})",
            n.to.join(", "),
            n.server,
            n.from,
            n.router_id
        ),
        (Some(_), None) => info!("Reload: SMTP alerts are off"),
        (None, None) => {}
    }
    *slot = new.map(|n| {
        if let Some(o) = &old {
            n.carry_over(o);
        }
        Arc::new(n)
    });
}

/// An instance (`group` false) or sync group entered `state`: mails it when configured.
pub fn vrrp_state(group: bool, name: &str, state: &'static str) {
    if let Some(m) = mailer()
        && let Some(mail) = m.vrrp_mail(group, name, state)
    {
        m.send(mail);
    }
}

/// Real server `rs` of `vs` changed state: mails it when configured.
pub fn real_server(_vs: &VirtualServer, rs: &RealServer, rs_key: &str, vs_key: &str, up: bool) {
    if let Some(m) = mailer()
        && let Some(mail) = m.real_server_mail(rs, rs_key, vs_key, up)
    {
        m.send(mail);
    }
}

/// Virtual server `vs` (written `vs_key`) gained (`up`) or lost its quorum, with keepalived's
/// `threshold` and the live weight: mails it when configured.
pub fn quorum(vs: &VirtualServer, vs_key: &str, up: bool, threshold: u64, live_weight: u64) {
    if let Some(m) = mailer()
        && let Some(mail) = m.quorum_mail(vs, vs_key, up, threshold, live_weight)
    {
        m.send(mail);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Config {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.conf");
        std::fs::write(&p, text).unwrap();
        crate::config::load(&p, &Default::default()).unwrap().config
    }

    const GLOBAL: &str = "global_defs {\n router_id R\n notification_email {\n a@x.org\n b@x.org\n }\n\
        notification_email_from k@x.org\n smtp_server 127.0.0.1 2525\n";
    const INST: &str = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n\
        virtual_ipaddress {\n 10.0.0.1\n }\n";

    #[tokio::test]
    async fn precedence_and_dedup_follow_keepalived() {
        // No smtp_alert anywhere: instances do not mail.
        let c = load(&format!("{GLOBAL}}}\n{INST}}}\n"));
        let m = Mailer::new(&c).unwrap();
        assert_eq!(m.vrrp_mail(false, "VI_1", "MASTER"), None);
        // Global smtp_alert: they do, once per state.
        let c = load(&format!("{GLOBAL} smtp_alert\n}}\n{INST}}}\n"));
        let m = Mailer::new(&c).unwrap();
        let mail = m.vrrp_mail(false, "VI_1", "MASTER").unwrap();
        assert_eq!(
            mail.subject,
            "[R] VRRP Instance VI_1 - Entering MASTER state"
        );
        assert_eq!(mail.body, "=> VRRP Instance is now owning VRRP VIPs <=");
        assert_eq!(m.vrrp_mail(false, "VI_1", "MASTER"), None);
        assert!(m.vrrp_mail(false, "VI_1", "FAULT").is_some());
        assert_eq!(
            m.message(&mail, "D"),
            "Date: D\r\nFrom: k@x.org\r\nSubject: [R] VRRP Instance VI_1 - Entering MASTER \
             state\r\nX-Mailer: Keepalived\r\nTo: a@x.org, b@x.org\r\n\r\n=> VRRP Instance is \
             now owning VRRP VIPs <=\r\n"
        );
        // smtp_alert_vrrp off beats smtp_alert; the instance's own keyword beats both.
        let c = load(&format!(
            "{GLOBAL} smtp_alert\n smtp_alert_vrrp off\n no_email_faults\n}}\n{INST} smtp_alert\n}}\n\
             vrrp_instance VI_2 {{\n interface eth0\n virtual_router_id 2\n}}\n"
        ));
        let m = Mailer::new(&c).unwrap();
        assert!(m.vrrp_mail(false, "VI_1", "BACKUP").is_some());
        assert_eq!(m.vrrp_mail(false, "VI_1", "FAULT"), None, "no_email_faults");
        assert_eq!(m.vrrp_mail(false, "VI_2", "BACKUP"), None);
    }

    #[test]
    fn quorum_changes_mail_as_keepalived_does() {
        let c = load(&format!(
            "{GLOBAL}}}\nvirtual_server 10.0.0.1 80 {{\n quorum 3\n hysteresis 1\n \
             real_server 10.0.0.2 80 {{\n weight 2\n TCP_CHECK {{\n }}\n }}\n \
             real_server 10.0.0.3 80 {{\n weight 2\n TCP_CHECK {{\n }}\n }}\n}}\n\
             virtual_server 10.0.0.9 80 {{\n smtp_alert off\n real_server 10.0.0.2 80 {{\n }}\n}}\n"
        ));
        let m = Mailer::new(&c).unwrap();
        let vs = &c.ipvs.virtual_servers[0];
        let up = m.quorum_mail(vs, "[10.0.0.1]:tcp:80", true, 4, 5).unwrap();
        assert_eq!(up.subject, "[R] Virtualserver [10.0.0.1]:tcp:80 - UP");
        assert_eq!(up.body, "=> Gained quorum 3+1=4 <= 5 <=");
        let down = m.quorum_mail(vs, "[10.0.0.1]:tcp:80", false, 2, 1).unwrap();
        assert_eq!(down.subject, "[R] Virtualserver [10.0.0.1]:tcp:80 - DOWN");
        assert_eq!(down.body, "=> Lost quorum 3+1=2 <= 1 <=");
        let quiet = &c.ipvs.virtual_servers[1];
        assert_eq!(m.quorum_mail(quiet, "[10.0.0.9]:tcp:80", true, 1, 1), None);
    }

    #[test]
    fn real_servers_mail_by_default() {
        let c = load(&format!(
            "{GLOBAL}}}\nvirtual_server 10.0.0.1 80 {{\n real_server 10.0.0.2 80 {{\n TCP_CHECK {{\n }}\n }}\n\
             real_server 10.0.0.3 80 {{\n smtp_alert off\n TCP_CHECK {{\n }}\n }}\n}}\n"
        ));
        let m = Mailer::new(&c).unwrap();
        let vs = &c.ipvs.virtual_servers[0];
        let mail = m
            .real_server_mail(
                &vs.real_servers[0],
                "[10.0.0.2]:tcp:80",
                "[10.0.0.1]:tcp:80",
                false,
            )
            .unwrap();
        assert_eq!(
            mail.subject,
            "[R] Realserver [10.0.0.2]:tcp:80 of virtual server [10.0.0.1]:tcp:80 - DOWN"
        );
        assert_eq!(mail.body, "=> TCP CHECK failed on service <=");
        assert_eq!(
            m.real_server_mail(&vs.real_servers[1], "a", "b", true),
            None
        );
    }

    #[test]
    fn date_is_rfc2822() {
        let d = rfc2822_now();
        assert_eq!(d.split(' ').count(), 6, "{d}");
        assert!(d.contains(", "), "{d}");
    }
}
