//! Health-checker keywords (keepalived/check/check_api.c and check_*.c, 2.2.7): the checker
//! blocks of a `real_server`, the timing keywords shared by the virtual_server, real_server and
//! checker levels, and the top-level `SSL { }` block. A child module of the parser.

use super::Parser;
use crate::config::lexer::Line;
use crate::config::model::{
    CheckTiming, CheckerCfg, CheckerKind, DnsCfg, FileCfg, HttpCfg, HttpProtocol, MiscCfg, SmtpCfg,
    SslCfg, UdpCfg, UrlCfg, UrlRegex,
};
use crate::config::values;
use crate::units::Usecs;
use std::sync::Arc;
use std::time::Duration;

/// Upper bound of checker timers (keepalived reads them as `unsigned long` µs).
const MAX_TIMER: Duration = Duration::from_secs(u32::MAX as u64 / 1_000_000);

/// keepalived's DNS_CHECK `type` names and numbers (check_dns.c).
const DNS_TYPES: &[(&str, u16)] = &[
    ("A", 1),
    ("NS", 2),
    ("CNAME", 5),
    ("SOA", 6),
    ("MX", 15),
    ("TXT", 16),
    ("AAAA", 28),
];

impl Parser<'_> {
    fn timer_value(&mut self, who: &str, l: &Line, instead: &str) -> Option<Duration> {
        let word = self.need(who, l, 1)?;
        match values::timer(&word.text, Duration::ZERO, MAX_TIMER) {
            Ok(d) => Some(d),
            Err(e) => {
                let w = word.clone();
                self.bad_value(who, l, &w, e, instead);
                None
            }
        }
    }

    /// [`Parser::timer_value`] as the model keeps checker timers ("ignored" when invalid).
    fn timer_usecs(&mut self, who: &str, l: &Line) -> Option<Usecs> {
        self.timer_value(who, l, "ignored").map(Usecs::from)
    }

    /// The timing keywords every level accepts. Returns `false` if `l` is not one of them.
    pub(super) fn timing_keyword(&mut self, who: &str, t: &mut CheckTiming, l: &Line) -> bool {
        match l.keyword().text.as_str() {
            "delay_loop" => t.delay_loop = self.timer_usecs(who, l).or(t.delay_loop),
            "connect_timeout" => t.connect_timeout = self.timer_usecs(who, l).or(t.connect_timeout),
            "delay_before_retry" => {
                t.delay_before_retry = self.timer_usecs(who, l).or(t.delay_before_retry)
            }
            "warmup" => t.warmup = self.timer_usecs(who, l).or(t.warmup),
            "retry" | "nb_get_retry" => {
                if let Some(v) = self.unsigned(who, l, 1, (0, u32::MAX as u64), "ignored") {
                    t.retry = Some(v as u32);
                }
            }
            "alpha" => t.alpha = self.flag(who, l).or(t.alpha),
            _ => return false,
        }
        true
    }

    /// One checker block (`TCP_CHECK { … }` etc.), `kw` being its keyword: the checkers it
    /// stands for (one, except an `SMTP_CHECK` with `host { }` sub-blocks: one per host, see
    /// [`Parser::smtp_hosts`]); empty for an unknown kind or an unusable `FILE_CHECK`.
    pub(super) fn checker_block(&mut self, who: &str, kw: &str, line: &Line) -> Vec<CheckerCfg> {
        let mut hosts = Vec::new();
        let Some(c) = self.checker_block_with(who, kw, line, &mut hosts) else {
            return Vec::new();
        };
        if hosts.is_empty() {
            return vec![c];
        }
        smtp_hosts(c, hosts)
    }

    fn checker_block_with(
        &mut self,
        who: &str,
        kw: &str,
        line: &Line,
        hosts: &mut Vec<CheckerCfg>,
    ) -> Option<CheckerCfg> {
        let owner = line.keyword().clone();
        let kind = match kw {
            "TCP_CHECK" => CheckerKind::Tcp,
            "HTTP_GET" | "SSL_GET" => CheckerKind::Http(Box::new(HttpCfg {
                ssl: kw == "SSL_GET",
                urls: Vec::new(),
                http_protocol: HttpProtocol::Http10,
                virtualhost: None,
                enable_sni: false,
            })),
            "MISC_CHECK" => CheckerKind::Misc(Box::new(MiscCfg {
                argv: Vec::new(),
                timeout: None,
                dynamic: false,
                user: None,
            })),
            "DNS_CHECK" => CheckerKind::Dns(Box::new(DnsCfg {
                qtype: 6,
                name: ".".into(),
            })),
            "UDP_CHECK" => CheckerKind::Udp(Box::new(UdpCfg {
                payload: Vec::new(),
                require_reply: None,
                min_reply_length: 0,
                max_reply_length: 65535,
            })),
            "PING_CHECK" => CheckerKind::Ping,
            "SMTP_CHECK" => CheckerKind::Smtp(Box::new(SmtpCfg { helo_name: None })),
            "FILE_CHECK" => return self.file_check_block(who, line),
            _ => return None,
        };
        let mut c = CheckerCfg::new(kind, owner.span);
        let who = format!("{who}{kw}: ");
        if !self.peek_is_open() {
            return Some(c);
        }
        self.open_block(&owner);
        while let Some(l) = self.next_in_block(&owner) {
            if self.timing_keyword(&who, Arc::make_mut(&mut c.timing), &l)
                || self.connection_keyword(&who, &mut c, &l)
            {
                continue;
            }
            match l.keyword().text.as_str() {
                "host" if matches!(c.kind, CheckerKind::Smtp(_)) => {
                    let host = self.smtp_host_block(&who, &mut c, &l);
                    hosts.push(host);
                }
                _ => self.checker_specific(&who, &mut c.kind, &l),
            }
        }
        Some(c)
    }

    /// `host { connect_ip … connect_port … bindto … }` inside `SMTP_CHECK` (keepalived
    /// check_smtp.c, deprecated there: "The SMTP_CHECK host block is deprecated. Please define
    /// additional checkers."): the host starts from the connection options set so far and
    /// takes its own; `connect_timeout` is the host's, other timing keywords the checker's.
    fn smtp_host_block(&mut self, who: &str, c: &mut CheckerCfg, line: &Line) -> CheckerCfg {
        let owner = line.keyword().clone();
        self.diags.warn(
            &owner.span,
            format!(
                "{who}The SMTP_CHECK host block is deprecated. Please define additional checkers."
            ),
        );
        let mut host = c.clone();
        host.span = owner.span;
        Arc::make_mut(&mut host.timing).connect_timeout = None;
        if !self.peek_is_open() {
            return host;
        }
        self.open_block(&owner);
        while let Some(l) = self.next_in_block(&owner) {
            if l.keyword().text == "connect_timeout" {
                Arc::make_mut(&mut host.timing).connect_timeout = self.timer_usecs(who, &l);
                continue;
            }
            if self.connection_keyword(who, &mut host, &l)
                || self.timing_keyword(who, Arc::make_mut(&mut c.timing), &l)
            {
                continue;
            }
            let k = l.keyword().text.to_string();
            self.diags
                .warn(l.span(), format!("{who}host: Unknown keyword '{k}'"));
            self.skip_block_if_any(l.keyword());
        }
        host
    }

    /// The connection keywords every checker (and an SMTP `host`) takes; false for another.
    fn connection_keyword(&mut self, who: &str, c: &mut CheckerCfg, l: &Line) -> bool {
        let who = who.to_string();
        let k = l.keyword().text.to_string();
        match k.as_str() {
            "connect_ip" | "bindto" => {
                let Some(word) = self.need(&who, l, 1) else {
                    return true;
                };
                match values::ip_addr(&word.text) {
                    Some(ip) if k == "connect_ip" => c.connect_ip = Some(ip),
                    Some(ip) => c.bind_mut().bindto = Some(ip),
                    None => {
                        let w = word.clone();
                        self.bad_value(&who, l, &w, "not an IP address", "ignored")
                    }
                }
            }
            "connect_port" | "bind_port" => {
                if let Some(p) = self.unsigned(&who, l, 1, (1, 65535), "ignored") {
                    if k == "connect_port" {
                        c.connect_port = Some(p as u16);
                    } else {
                        c.bind_mut().bind_port = Some(p as u16);
                    }
                }
            }
            "bind_if" => {
                let dev = self.need(&who, l, 1).map(|w| w.text.to_string());
                if dev.is_some() || c.bind.is_some() {
                    c.bind_mut().bind_if = dev;
                }
            }
            "fwmark" => {
                let mark = self.unsigned(&who, l, 1, (0, u32::MAX as u64), "ignored");
                if mark.is_some() || c.bind.is_some() {
                    c.bind_mut().fwmark = mark.map(|v| v as u32);
                }
            }
            "log_all_failures" => {
                c.log_all_failures = self.flag(&who, l).unwrap_or(c.log_all_failures)
            }
            _ => return false,
        }
        true
    }

    /// `FILE_CHECK { track_file NAME; weight N [reverse|noreverse] }` (keepalived
    /// check_file.c): `None` (with keepalived's error) when it names no defined `track_file`.
    /// Timing keywords do not apply: the file is watched, not polled per `delay_loop`.
    fn file_check_block(&mut self, who: &str, line: &Line) -> Option<CheckerCfg> {
        let owner = line.keyword().clone();
        let who = format!("{who}FILE_CHECK: ");
        let mut track_file: Option<String> = None;
        let mut weight = None;
        if self.peek_is_open() {
            self.open_block(&owner);
            while let Some(l) = self.next_in_block(&owner) {
                match l.keyword().text.as_str() {
                    "track_file" => {
                        let Some(name) = self.need(&who, &l, 1).cloned() else {
                            continue;
                        };
                        if self.config.tracking.files.contains_key(name.text.as_str()) {
                            track_file = Some(name.text.into_string());
                        } else {
                            self.diags.error(
                                &name.span,
                                format!("{who}track_file {} not found", name.text),
                            );
                        }
                    }
                    "weight" => {
                        if l.arg(1).is_none() {
                            self.diags
                                .error(l.span(), format!("{who}track file weight missing"));
                            continue;
                        }
                        let w = match values::integer(
                            &l.words[1].text,
                            -(i32::MAX as i64),
                            i32::MAX as i64,
                        ) {
                            Ok(w) => w as i32,
                            Err(_) => {
                                self.diags.error(
                                    &l.words[1].span,
                                    format!(
                                        "{who}weight for track file must be in [{}..{}] \
                                         inclusive. Ignoring...",
                                        -i32::MAX,
                                        i32::MAX
                                    ),
                                );
                                continue;
                            }
                        };
                        let reverse = match l.arg(2).map(|w| w.text.as_str()) {
                            None | Some("noreverse") => false,
                            Some("reverse") => true,
                            Some(other) => {
                                self.diags.error(
                                    &l.words[2].span,
                                    format!(
                                        "{who}unknown track file weight option {other} - ignoring"
                                    ),
                                );
                                continue;
                            }
                        };
                        weight = Some((w, reverse));
                    }
                    other => {
                        self.diags
                            .warn(l.span(), format!("{who}Unknown keyword '{other}'"));
                        self.skip_block_if_any(l.keyword());
                    }
                }
            }
        }
        let Some(tf) = track_file.and_then(|n| self.config.tracking.files.get(&n)) else {
            self.diags.error(
                &owner.span,
                format!("{who}FILE_CHECK has no track_file specified - ignoring"),
            );
            return None;
        };
        let (weight, reverse) = weight.unwrap_or((tf.weight, tf.weight_reverse));
        Some(CheckerCfg::new(
            CheckerKind::File(Box::new(FileCfg {
                track_file: tf.name.clone(),
                path: tf.file.clone(),
                weight,
                reverse,
                init_file: tf.init_file,
            })),
            owner.span,
        ))
    }

    fn checker_specific(&mut self, who: &str, kind: &mut CheckerKind, l: &Line) {
        let k = l.keyword().text.as_str();
        match (kind, k) {
            (CheckerKind::Http(h), "url") => {
                if let Some(u) = self.url_block(who, l) {
                    h.urls.push(u);
                }
            }
            (CheckerKind::Http(h), "http_protocol") => {
                if let Some(w) = self.need(who, l, 1) {
                    match w.text.to_ascii_uppercase().as_str() {
                        "1.0" => h.http_protocol = HttpProtocol::Http10,
                        "1.0C" => h.http_protocol = HttpProtocol::Http10C,
                        "1.1" => h.http_protocol = HttpProtocol::Http11,
                        _ => {
                            let w = w.clone();
                            self.bad_value(who, l, &w, "expected 1.0, 1.0C or 1.1", "using 1.0")
                        }
                    }
                }
            }
            (CheckerKind::Http(h), "virtualhost") => {
                h.virtualhost = self.need(who, l, 1).map(|w| w.text.to_string())
            }
            (CheckerKind::Http(h), "enable_sni") => {
                h.enable_sni = self.flag(who, l).unwrap_or(h.enable_sni)
            }
            (CheckerKind::Http(_), "fast_recovery") => {}
            (CheckerKind::Misc(m), "misc_path") => {
                if let Some(cmd) = self.command(who, l, false) {
                    m.argv = cmd.argv;
                }
            }
            (CheckerKind::Misc(m), "misc_timeout") => {
                m.timeout = self.timer_value(who, l, "ignored").or(m.timeout)
            }
            (CheckerKind::Misc(m), "misc_dynamic") => {
                m.dynamic = self.flag(who, l).unwrap_or(m.dynamic)
            }
            (CheckerKind::Misc(m), "user") => {
                if let Some(w) = self.need(who, l, 1) {
                    m.user = Some(crate::config::model::ScriptUser {
                        user: w.text.to_string(),
                        group: l.arg(2).map(|g| g.text.to_string()),
                    });
                }
            }
            (CheckerKind::Dns(d), "type") => {
                if let Some(w) = self.need(who, l, 1) {
                    match DNS_TYPES
                        .iter()
                        .find(|(n, _)| n.eq_ignore_ascii_case(&w.text))
                    {
                        Some((_, t)) => d.qtype = *t,
                        None => {
                            let w = w.clone();
                            self.bad_value(who, l, &w, "unknown DNS type", "using SOA")
                        }
                    }
                }
            }
            (CheckerKind::Dns(d), "name") => {
                if let Some(w) = self.need(who, l, 1) {
                    d.name = w.text.to_string();
                }
            }
            (CheckerKind::Udp(u), "payload") => {
                if let Some(b) = self.hex_arg(who, l) {
                    u.payload = b;
                }
            }
            (CheckerKind::Udp(u), "require_reply") => {
                u.require_reply = if l.arg(1).is_some() {
                    self.hex_arg(who, l)
                } else {
                    Some(Vec::new())
                };
            }
            (CheckerKind::Udp(u), "min_reply_length") => {
                if let Some(v) = self.unsigned(who, l, 1, (0, 65535), "ignored") {
                    u.min_reply_length = v as usize;
                }
            }
            (CheckerKind::Udp(u), "max_reply_length") => {
                if let Some(v) = self.unsigned(who, l, 1, (0, 65535), "ignored") {
                    u.max_reply_length = v as usize;
                }
            }
            (CheckerKind::Smtp(m), "helo_name") => {
                m.helo_name = self.need(who, l, 1).map(|w| w.text.to_string())
            }
            _ => {
                self.diags
                    .warn(l.span(), format!("{who}Unknown keyword '{k}'"));
                self.skip_block_if_any(l.keyword());
            }
        }
    }

    fn hex_arg(&mut self, who: &str, l: &Line) -> Option<Vec<u8>> {
        let w = self.need(who, l, 1)?.clone();
        let text = w.text.trim_start_matches("0x");
        let bytes: Option<Vec<u8>> = (text.len() % 2 == 0)
            .then(|| {
                (0..text.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
                    .collect()
            })
            .flatten();
        if bytes.is_none() {
            self.bad_value(who, l, &w, "expected hex bytes", "ignored");
        }
        bytes
    }

    /// `url { path P; digest D; status_code C…; virtualhost H }`.
    fn url_block(&mut self, who: &str, line: &Line) -> Option<UrlCfg> {
        let owner = line.keyword().clone();
        let mut u = UrlCfg {
            path: "/".into(),
            digest: None,
            status_codes: Vec::new(),
            virtualhost: None,
            regex: None,
        };
        if !self.peek_is_open() {
            return Some(u);
        }
        // (pattern, keyword span, no_match), options, offsets: combined after the block.
        let mut regex: Option<(String, crate::config::diag::Span, bool)> = None;
        let mut flags = String::new();
        let (mut min_offset, mut max_offset) = (0usize, None);
        self.open_block(&owner);
        while let Some(l) = self.next_in_block(&owner) {
            match l.keyword().text.as_str() {
                "path" => {
                    if let Some(w) = self.need(who, &l, 1) {
                        u.path = w.text.to_string();
                    }
                }
                "digest" => {
                    if let Some(w) = self.need(who, &l, 1) {
                        if w.text.len() == 32 && w.text.chars().all(|c| c.is_ascii_hexdigit()) {
                            u.digest = Some(w.text.to_ascii_lowercase().into_string());
                        } else {
                            let w = w.clone();
                            self.bad_value(who, &l, &w, "expected 32 hex digits (MD5)", "ignored");
                        }
                    }
                }
                "status_code" => {
                    for w in l.words[1..].iter().cloned() {
                        let range = match w.text.split_once('-') {
                            Some((a, b)) => a.parse().ok().zip(b.parse().ok()),
                            None => w.text.parse().ok().map(|c| (c, c)),
                        };
                        match range {
                            Some((a, b)) if (100..=599).contains(&a) && a <= b && b <= 599 => {
                                u.status_codes.push((a, b))
                            }
                            _ => self.bad_value(
                                who,
                                &l,
                                &w,
                                "expected a status code or range 100-599",
                                "ignored",
                            ),
                        }
                    }
                }
                "virtualhost" => u.virtualhost = self.need(who, &l, 1).map(|w| w.text.to_string()),
                "regex" => {
                    if let Some(w) = self.need(who, &l, 1) {
                        let no_match = regex.as_ref().is_some_and(|r| r.2);
                        regex = Some((w.text.to_string(), w.span, no_match));
                    }
                }
                "regex_no_match" => match &mut regex {
                    Some(r) => r.2 = true,
                    None => {
                        regex = Some((String::new(), l.keyword().span, true));
                    }
                },
                "regex_options" => {
                    for w in l.words[1..].iter().cloned() {
                        match regex_option_flag(&w.text) {
                            Some(Some(f)) => flags.push(f),
                            Some(None) => {}
                            None => self.diags.warn(
                                &w.span,
                                format!(
                                    "{who}regex option '{}' is not supported by rkeepalived; ignored",
                                    w.text
                                ),
                            ),
                        }
                    }
                }
                "regex_min_offset" => {
                    if let Some(v) = self.unsigned(who, &l, 1, (0, u64::from(u32::MAX)), "ignored")
                    {
                        min_offset = v as usize;
                    }
                }
                "regex_max_offset" => {
                    if let Some(v) = self.unsigned(who, &l, 1, (1, u64::from(u32::MAX)), "ignored")
                    {
                        max_offset = Some(v as usize);
                    }
                }
                // PCRE2's JIT stack size: nothing to size with Rust's regex engine.
                "regex_stack" => {}
                other => {
                    self.diags
                        .warn(l.span(), format!("{who}Unknown keyword '{other}'"));
                    self.skip_block_if_any(l.keyword());
                }
            }
        }
        if let Some((pattern, span, no_match)) = regex {
            let pattern = if flags.is_empty() {
                pattern
            } else {
                format!("(?{flags}){pattern}")
            };
            if pattern.is_empty() {
                self.diags.error(
                    &span,
                    format!("{who}regex_no_match without regex - ignored"),
                );
            } else if let Err(e) = regex::bytes::Regex::new(&pattern) {
                let text = e.to_string();
                let first = text.lines().last().unwrap_or_default();
                let first = first.trim_start_matches("error: ");
                self.diags.error(
                    &span,
                    format!("{who}Invalid regex: '{pattern}': {first} - url ignored"),
                );
                return None;
            } else {
                u.regex = Some(UrlRegex {
                    pattern,
                    no_match,
                    min_offset,
                    max_offset,
                });
            }
        }
        Some(u)
    }

    /// Top-level `SSL { password; ca; certificate; key }`.
    pub(super) fn ssl_block(&mut self, line: &Line) {
        let owner = line.keyword().clone();
        let mut ssl = SslCfg::default();
        if self.peek_is_open() {
            self.open_block(&owner);
            while let Some(l) = self.next_in_block(&owner) {
                let who = "SSL: ";
                let value = self.need(who, &l, 1).map(|w| w.text.to_string());
                match l.keyword().text.as_str() {
                    "password" => ssl.password = value,
                    "ca" => ssl.ca = value.map(Into::into),
                    "certificate" => ssl.certificate = value.map(Into::into),
                    "key" => ssl.key = value.map(Into::into),
                    other => {
                        self.diags
                            .warn(l.span(), format!("{who}Unknown keyword '{other}'"));
                        self.skip_block_if_any(l.keyword());
                    }
                }
            }
        }
        self.config.ipvs.ssl = Some(ssl);
    }
}

/// A `regex_options` word as a Rust regex inline flag: `Some(Some(c))` for a flag,
/// `Some(None)` for an option with nothing to do here (UTF/UCP: Rust regexes are Unicode),
/// `None` for a PCRE2 option without an equivalent.
fn regex_option_flag(word: &str) -> Option<Option<char>> {
    match word {
        "caseless" => Some(Some('i')),
        "multiline" => Some(Some('m')),
        "dotall" => Some(Some('s')),
        "extended" => Some(Some('x')),
        "ungreedy" => Some(Some('U')),
        "utf" | "ucp" | "no_start_optimize" | "no_auto_possess" | "no_dotstar_anchor" => Some(None),
        _ => None,
    }
}

/// The checkers of an `SMTP_CHECK` with `host { }` blocks (keepalived 2.2.7 check_smtp.c
/// `smtp_check_end_handler`): the `SMTP_CHECK`'s own connection (the real server's address
/// and port unless set) and one checker per host, each with the `SMTP_CHECK`'s settings and
/// the host's connection. (keepalived's test for "a connection option was set" includes the
/// connection timeout, which starts at `UINT_MAX`, so its own connection is always checked.)
/// A real server is up only while all its checkers are: every host must answer.
fn smtp_hosts(main: CheckerCfg, hosts: Vec<CheckerCfg>) -> Vec<CheckerCfg> {
    let per_host = hosts.into_iter().map(|h| CheckerCfg {
        connect_ip: h.connect_ip,
        connect_port: h.connect_port,
        bind: h.bind,
        timing: Arc::new(crate::config::model::CheckTiming {
            connect_timeout: h.timing.connect_timeout.or(main.timing.connect_timeout),
            ..(*main.timing).clone()
        }),
        span: h.span,
        ..main.clone()
    });
    std::iter::once(main.clone()).chain(per_host).collect()
}

#[cfg(test)]
mod tests {
    use crate::config::model::{CheckerBind, CheckerCfg, CheckerKind, HttpProtocol};
    use crate::config::parser::parse;
    use std::time::Duration;

    /// The checkers of the only real server of a virtual server with `checker` in it.
    fn checkers(checker: &str) -> (Vec<CheckerCfg>, Vec<String>) {
        let (c, msgs) = parse(&format!(
            "virtual_server 10.0.0.1 80 {{\n protocol TCP\n real_server 10.0.1.1 80 {{\n{checker}\n }}\n}}\n"
        ));
        let rs = c
            .ipvs
            .virtual_servers
            .into_iter()
            .next()
            .unwrap()
            .real_servers;
        (rs.into_iter().next().unwrap().health.checkers, msgs)
    }

    fn protocol(c: &CheckerCfg) -> HttpProtocol {
        match &c.kind {
            CheckerKind::Http(h) => h.http_protocol,
            other => panic!("not HTTP: {other:?}"),
        }
    }

    #[test]
    fn http_protocol_is_1_0_1_0c_or_1_1_in_any_case() {
        let (c, msgs) = checkers("  HTTP_GET {\n   url {\n    path /\n   }\n  }");
        assert!(msgs.is_empty(), "{msgs:?}");
        assert_eq!(protocol(&c[0]), HttpProtocol::Http10);
        let (c, _) =
            checkers("  HTTP_GET {\n   http_protocol 1.0c\n   url {\n    path /\n   }\n  }");
        assert_eq!(protocol(&c[0]), HttpProtocol::Http10C);
        let (c, msgs) = checkers(
            "  SSL_GET {\n   http_protocol 1.1\n   http_protocol 2\n   url {\n    path /\n   }\n  }",
        );
        assert_eq!(
            msgs,
            [
                "t.conf:6:18: error: (VS 10.0.0.1 80) SSL_GET: invalid http_protocol '2': expected 1.0, 1.0C or 1.1 - using 1.0"
            ]
        );
        // keepalived's message says 1.0, but the value before the bad line stays.
        assert_eq!(protocol(&c[0]), HttpProtocol::Http11);
    }

    #[test]
    fn timing_keywords_of_a_checker() {
        let (c, msgs) = checkers(
            "  TCP_CHECK {\n   connect_timeout 2.5\n   nb_get_retry 4\n   delay_before_retry -1\n   warmup 1\n  }",
        );
        assert_eq!(msgs.len(), 1, "{msgs:?}");
        assert!(msgs[0].starts_with(
            "t.conf:7:23: error: (VS 10.0.0.1 80) TCP_CHECK: invalid delay_before_retry '-1'"
        ));
        let t = &c[0].timing;
        assert_eq!(t.connect_timeout, Some(Duration::from_millis(2500).into()));
        assert_eq!(t.retry, Some(4));
        assert_eq!(t.delay_before_retry, None);
        assert_eq!(t.warmup, Some(Duration::from_secs(1).into()));
    }

    /// The local socket options of a checker, kept boxed: absent when none is given.
    #[test]
    fn bind_options_of_a_checker() {
        let (c, msgs) = checkers(
            "  TCP_CHECK {\n   bindto 10.0.1.9\n   bind_port 4000\n   bind_if eth1\n   fwmark 7\n  }\n  TCP_CHECK {\n   connect_port 81\n  }\n  TCP_CHECK {\n   fwmark x\n  }",
        );
        assert_eq!(msgs.len(), 1, "{msgs:?}");
        assert_eq!(
            c[0].bind.as_deref(),
            Some(&CheckerBind {
                bindto: Some("10.0.1.9".parse().unwrap()),
                bind_port: Some(4000),
                bind_if: Some("eth1".to_owned()),
                fwmark: Some(7),
            })
        );
        assert_eq!(c[1].bind, None);
        assert_eq!(c[1].connect_port, Some(81));
        assert_eq!(c[2].bind, None, "a bad value sets nothing");
    }
}
