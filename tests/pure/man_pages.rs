//! The man pages are generated, so that they cannot drift from the code: rkeepalived(8)'s
//! options from the clap definitions (clap_mangen) plus the sections written here (names,
//! signals, files, environment, exit status), and rkeepalived.conf(5) from the keyword tables
//! of `config::keywords`, each keyword marked implemented or not by loading it through the
//! parser. The committed pages in `packaging/` must equal what this generates; after a change
//! of flags or keywords, regenerate them with `UPDATE_MAN=1 cargo test --test pure man_pages`.

use clap::CommandFactory;
use rkeepalived::config::keywords::{Context, RKEEPALIVED_ONLY};
use rkeepalived::config::{LoadOptions, load_str};
use std::path::Path;

const DATE: &str = "2026";

fn esc(s: &str) -> String {
    // roff: a backslash is `\e`, a leading dot or quote would be a request, `-` is a hyphen.
    let s = s.replace('\\', "\\e").replace('-', "\\-");
    if s.starts_with('.') || s.starts_with('\'') {
        format!("\\&{s}")
    } else {
        s
    }
}

fn section(title: &str, body: &str) -> String {
    format!(".SH {title}\n{body}")
}

fn tp(tag: &str, text: &str) -> String {
    format!(".TP\n{tag}\n{}\n", esc(text))
}

/// rkeepalived(8).
fn rkeepalived_8() -> String {
    let cmd = rkeepalived::cli::Cli::command();
    let man = clap_mangen::Man::new(cmd)
        .section("8")
        .date(DATE)
        .source(format!("rkeepalived {}", env!("CARGO_PKG_VERSION")))
        .manual("System Manager's Manual");
    let mut out = Vec::new();
    man.render_title(&mut out).unwrap();
    man.render_name_section(&mut out).unwrap();
    man.render_synopsis_section(&mut out).unwrap();
    let mut page = String::from_utf8(out).unwrap();
    page += &section(
        "DESCRIPTION",
        &format!(
            "{}\n.PP\n{}\n.PP\n{}\n",
            esc(
                "rkeepalived is a VRRP daemon (RFC 3768, RFC 5798) with IPVS load balancing and \
                 health checks that reads keepalived's configuration unchanged \
                 (/etc/keepalived/keepalived.conf, see rkeepalived.conf(5)), takes keepalived \
                 2.2.7's command line and speaks its wire format."
            ),
            esc(
                "It runs as two processes: a small supervisor (the main process, whose pid is in \
                 the pidfile) and the daemon, its child, which loads the configuration and runs \
                 VRRP, IPVS and the checkers. If the daemon dies, the supervisor removes what it \
                 had applied (addresses, routes, rules, VMACs, nftables tables) and starts it \
                 again (not with -R)."
            ),
            esc(
                "Called as keepalived (the packages install /usr/sbin/keepalived as a link), it \
                 behaves as described here; called as genhash, it is rkeepalived --genhash."
            ),
        ),
    );
    let mut out = Vec::new();
    man.render_options_section(&mut out).unwrap();
    page += &String::from_utf8(out).unwrap();
    page += &section(
        "GENHASH MODE",
        &format!(
            "{}\n",
            esc(
                "rkeepalived -T (or --genhash) ARGS, and genhash ARGS, compute the digest of a \
                 web page as keepalived's genhash does, for the digest keyword of HTTP_GET and \
                 SSL_GET: -s SERVER -p PORT -u URL [-S (TLS)] [-V VIRTUALHOST] [-P PROTOCOL]. \
                 Options before -T are ignored with a warning."
            )
        ),
    );
    let sig = |name: &str, n: i32| format!("\\fB{name}\\fR ({n})");
    page += &section(
        "SIGNALS",
        &[
            tp(
                &sig("TERM, INT", 15),
                "Stop gracefully: a master sends a priority 0 advert and removes its virtual \
                 addresses, notify_stop runs, the IPVS table is removed (not with -I).",
            ),
            tp(
                &sig("HUP", 1),
                "Reload: the file is read again, once for both halves; with errors, the running \
                 configuration stays. The virtual_server side follows the new file by difference. \
                 VRRP instances are matched by name: an unchanged one is not touched; priority, \
                 advert_int, preempt, authentication, virtual addresses, routes and rules (by \
                 difference, gratuitous ARP/NA for added addresses only), unicast peers, \
                 track_script weights, the track_interface/track_process/track_file trackers of \
                 an instance or a sync group (an added one counts from its current value, a \
                 weight change moves the priority at once, a weight-0 one that is down puts the \
                 instance in FAULT) and notify commands change live; a new interface, VRID, \
                 version, address family, source, unicast/multicast mode or VMAC re-creates the \
                 instance; an added instance starts, a removed one stops as at shutdown; a \
                 renamed one (same interface, VRID and family) keeps running. vrrp_script blocks \
                 (runners restarted where their settings changed), vrrp_sync_group blocks (a \
                 group whose members changed is re-formed from their states), \
                 vrrp_track_process and track_file blocks (a new process, quorum, delay or file \
                 is counted again), notify_fifo/vrrp_notify_fifo (the FIFOs and their scripts \
                 restarted), static_* blocks and most global_defs settings (router_id and the \
                 mail settings too), vrrp_mcast_group4/6 (the advert sockets move to the new \
                 group), the nftables settings (the drop tables move in one batch) and \
                 lvs_sync_daemon (the sync daemons restarted, stopped or started; one that \
                 follows an instance as that instance is now) change live; net_namespace waits \
                 for a restart. \
                 Under systemd, `systemctl reload` checks the file with -t first and fails when \
                 it has errors.",
            ),
            tp(
                &sig("USR1", libc::SIGUSR1),
                "Write keepalived.data and keepalived_check.data in $TMPDIR (default /tmp).",
            ),
            tp(
                &sig("USR2", libc::SIGUSR2),
                "Write keepalived.stats in $TMPDIR.",
            ),
            tp(
                &sig("RTMIN+2", rkeepalived::cli::json_signal()),
                "keepalived's JSON signal: write keepalived.json in $TMPDIR.",
            ),
            tp(
                &sig("RTMAX-1", rkeepalived::cli::stats_clear_signal()),
                "keepalived's STATS_CLEAR signal: zero the VRRP counters.",
            ),
            format!(
                ".PP\n{}\n",
                esc(
                    "rkeepalived --signum=NAME prints these numbers (STOP, RELOAD, DATA, STATS, \
                     JSON, STATS_CLEAR), as keepalived does."
                )
            ),
        ]
        .concat(),
    );
    page += &section(
        "FILES",
        &[
            tp(
                "\\fI/etc/keepalived/keepalived.conf\\fR",
                "The configuration (see rkeepalived.conf(5)).",
            ),
            tp(
                "\\fI/run/keepalived.pid\\fR",
                "The supervisor's pid (-p); /run/keepalived/NAME/keepalived.pid with -s NAME. \
                 Next to it, FILE.state records what the daemon applied, for the supervisor.",
            ),
            tp(
                "\\fI/tmp/keepalived.data\\fR, \\fIkeepalived_check.data\\fR, \\fIkeepalived.stats\\fR, \\fIkeepalived.json\\fR",
                "The dumps written on USR1, USR2 and the JSON signal, in $TMPDIR (default /tmp).",
            ),
            tp(
                "\\fI/etc/default/rkeepalived\\fR, \\fI/etc/sysconfig/rkeepalived\\fR",
                "Options for the systemd unit (DAEMON_ARGS, KEEPALIVED_OPTIONS), read after \
                 keepalived's own /etc/default/keepalived and /etc/sysconfig/keepalived.",
            ),
        ]
        .concat(),
    );
    page += &section(
        "ENVIRONMENT",
        &[
            tp(
                "\\fBNOTIFY_SOCKET\\fR, \\fBWATCHDOG_USEC\\fR",
                "Set by systemd (Type=notify): the daemon reports READY=1, RELOADING=1, \
                 STOPPING=1, a STATUS= line and WATCHDOG=1.",
            ),
            tp("\\fBTMPDIR\\fR", "Where the dump files go (default /tmp)."),
        ]
        .concat(),
    );
    page += &section(
        "EXIT STATUS",
        &[
            tp(
                "\\fB0\\fR",
                "Stopped on request; with -t: the configuration is valid.",
            ),
            tp(
                "\\fB1\\fR",
                "The daemon could not start (configuration unreadable, IPVS configured but \
                 unavailable, pidfile held by a running daemon, namespace missing), or it died \
                 and was not restarted (-R).",
            ),
            tp("\\fB3\\fR", "-t: the file cannot be read or is missing."),
            tp(
                "\\fB4\\fR",
                "-t: the file has errors (unknown keywords, missing interfaces, scripts refused \
                 or disabled).",
            ),
            tp(
                "\\fB5\\fR",
                "-t: scripts are configured without enable_script_security.",
            ),
            tp(
                "\\fB6\\fR",
                "An included file is missing where the include (or -e) requires it.",
            ),
        ]
        .concat(),
    );
    page += &section(
        "SEE ALSO",
        "rkeepalived.conf(5), keepalived(8), keepalived.conf(5), systemd.service(5), ipvsadm(8)\n",
    );
    page
}

/// The parser's verdict on `kw` in `context`: false when it loads with rkeepalived's "does
/// not implement yet" warning.
fn implemented(context: Context, kw: &str) -> bool {
    let text = match context {
        Context::Root => format!("{kw} X {{\n}}\n"),
        Context::GlobalDefs => format!("global_defs {{\n  {kw}\n}}\n"),
        Context::VrrpInstance => format!("vrrp_instance VI {{\n  {kw}\n}}\n"),
        Context::Authentication => {
            format!("vrrp_instance VI {{\n  authentication {{\n    {kw}\n  }}\n}}\n")
        }
        Context::VrrpScript => format!("vrrp_script S {{\n  {kw}\n}}\n"),
        Context::VirtualServer => format!("virtual_server 10.0.0.1 80 {{\n  {kw}\n}}\n"),
        Context::RealServer => format!(
            "virtual_server 10.0.0.1 80 {{\n  real_server 10.0.0.2 80 {{\n    {kw}\n  }}\n}}\n"
        ),
        Context::VrrpSyncGroup => format!("vrrp_sync_group G {{\n  {kw}\n}}\n"),
        Context::VrrpTrackProcess => format!("vrrp_track_process P {{\n  {kw}\n}}\n"),
        Context::TrackFile => format!("track_file F {{\n  {kw}\n}}\n"),
    };
    let loaded = load_str(Path::new("k.conf"), &text, &LoadOptions::default());
    let needle = format!("'{kw}' is a keepalived keyword that rkeepalived does not implement yet");
    !loaded
        .diagnostics
        .0
        .iter()
        .any(|d| d.message.contains(&needle))
}

fn block_name(c: Context) -> &'static str {
    match c {
        Context::Root => "top level",
        Context::GlobalDefs => "global_defs",
        Context::VrrpInstance => "vrrp_instance",
        Context::Authentication => "vrrp_instance / authentication",
        Context::VrrpScript => "vrrp_script",
        Context::VirtualServer => "virtual_server",
        Context::RealServer => "virtual_server / real_server",
        Context::VrrpSyncGroup => "vrrp_sync_group",
        Context::VrrpTrackProcess => "vrrp_track_process",
        Context::TrackFile => "track_file, vrrp_track_file",
    }
}

/// rkeepalived.conf(5).
fn rkeepalived_conf_5() -> String {
    let mut page = format!(
        ".TH RKEEPALIVED.CONF 5 \"{DATE}\" \"rkeepalived {}\" \"File Formats Manual\"\n",
        env!("CARGO_PKG_VERSION")
    );
    page += &section(
        "NAME",
        "rkeepalived.conf \\- the keywords of keepalived.conf that rkeepalived implements\n",
    );
    page += &section(
        "DESCRIPTION",
        &format!(
            "{}\n.PP\n{}\n",
            esc(
                "rkeepalived reads keepalived's configuration language unchanged: # and ! \
                 comments, quoted strings, include with globs, @id conditional lines, $NAME \
                 definitions; keepalived.conf(5) describes each keyword's meaning. Every problem \
                 is reported as file:line:col: warning|error: message."
            ),
            esc(
                "Below, per block, every keyword keepalived 2.2.7 knows. \"implemented\" ones are \
                 parsed and acted on; \"not implemented\" ones load with a warning saying so and \
                 are ignored (with their block); words in no list are unknown keywords (skipped \
                 with their block, with a did-you-mean suggestion). Each block's list ends with the keywords \
                 rkeepalived adds, marked rkeepalived-only: keepalived rejects a file that uses \
                 them. This page is generated from rkeepalived's keyword tables and parser."
            )
        ),
    );
    for c in Context::ALL {
        let kws = c.keywords();
        let missing: Vec<&str> = kws.iter().copied().filter(|k| !implemented(c, k)).collect();
        page += &format!(
            ".SH {}\n{}\n",
            block_name(c).to_uppercase(),
            esc(&format!(
                "{} keywords, {} implemented.",
                kws.len(),
                kws.len() - missing.len()
            ))
        );
        for kw in kws {
            let status = if missing.contains(kw) {
                "not implemented (loads with a warning, ignored)"
            } else {
                "implemented"
            };
            page += &tp(&format!("\\fB{}\\fR", esc(kw)), status);
        }
        for (_, kw, what) in RKEEPALIVED_ONLY.iter().filter(|(b, _, _)| *b == c) {
            assert!(implemented(c, kw), "{kw}");
            page += &tp(
                &format!("\\fB{}\\fR", esc(kw)),
                &format!("rkeepalived-only (keepalived 2.2.7 rejects it). {what}."),
            );
        }
    }
    page += &section("SEE ALSO", "rkeepalived(8), keepalived.conf(5)\n");
    page
}

fn check(path: &str, generated: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    if std::env::var_os("UPDATE_MAN").is_some() {
        std::fs::write(&path, generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} differs from what the code generates: run `UPDATE_MAN=1 cargo test --test pure man_pages` \
         and commit it",
        path.display()
    );
}

#[test]
fn rkeepalived_8_is_generated_from_the_clap_definitions() {
    let page = rkeepalived_8();
    // Every long flag of the command line is in the page.
    for arg in rkeepalived::cli::Cli::command().get_arguments() {
        if let Some(long) = arg.get_long() {
            assert!(
                page.contains(&format!("\\-\\-{}", long.replace('-', "\\-"))),
                "--{long} missing"
            );
        }
    }
    for s in ["SIGNALS", "FILES", "EXIT STATUS", "ENVIRONMENT"] {
        assert!(page.contains(&format!(".SH {s}")), "{s}");
    }
    check("packaging/rkeepalived.8", &page);
}

#[test]
fn rkeepalived_conf_5_is_generated_from_the_keyword_tables() {
    // The parser's verdict is real: a keyword it parses and one it only warns about.
    assert!(implemented(Context::VrrpInstance, "priority"));
    assert!(!implemented(Context::Root, "bfd_instance"));
    let page = rkeepalived_conf_5();
    check("packaging/rkeepalived.conf.5", &page);
}
