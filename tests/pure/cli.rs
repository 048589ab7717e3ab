//! The binary's command line: `-t` exit codes (keepalived's 0/3/4/5) and diagnostics output,
//! `--version`, unknown flags.

use std::process::Command;

fn rk() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rkeepalived"))
}

fn config_test(text: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keepalived.conf");
    std::fs::write(&path, text).unwrap();
    let out = rk().arg("-t").arg("-f").arg(&path).output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stderr).replace(&path.display().to_string(), "FILE"),
    )
}

/// A valid instance on an interface of this host (`-t` checks that it exists, as
/// keepalived's does); `GOOD_IF` names it.
static GOOD: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "vrrp_instance VI_1 {{\n  interface {}\n  virtual_router_id 51\n  priority 100\n  virtual_ipaddress {{\n    10.1.2.3/24\n  }}\n}}\n",
        *GOOD_IF
    )
});

/// The first interface of this network namespace other than `lo` (else `lo`).
static GOOD_IF: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let mut names: Vec<String> = std::fs::read_dir("/sys/class/net")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
        .into_iter()
        .find(|n| n != "lo")
        .unwrap_or_else(|| "lo".into())
});

#[test]
fn config_test_exit_codes_match_keepalived() {
    assert_eq!(config_test(&GOOD).0, 0);

    let (code, err) = config_test(&GOOD.replace("priority 100", "priority 300"));
    assert_eq!(code, 4, "{err}");
    assert!(
        err.starts_with("FILE:4:"),
        "diagnostic must carry file:line:col: {err}"
    );
    assert!(err.contains("error"), "{err}");

    let scripts = format!("vrrp_script chk {{\n  script \"/bin/true\"\n}}\n{}", *GOOD);
    assert_eq!(config_test(&scripts).0, 5);
    // enable_script_security needs a user to run the script as (keepalived_script, or
    // script_user); without one the script is refused, and -t says so.
    let secured =
        format!("global_defs {{\n  enable_script_security\n  script_user nobody\n}}\n{scripts}");
    assert_eq!(config_test(&secured).0, 0);

    let out = rk()
        .args(["-t", "-f", "/nonexistent/keepalived.conf"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn misspelt_keyword_is_reported_with_position_and_suggestion() {
    let (code, err) = config_test(&GOOD.replace("priority 100", "priorty 100"));
    assert!(
        err.contains("FILE:4:3: warning: Unknown keyword 'priorty'"),
        "{err}"
    );
    assert!(err.contains("did you mean 'priority'"), "{err}");
    // keepalived loads past unknown keywords but its -t fails on them (2.2.7: exit 5).
    assert_eq!(code, 4, "{err}");
}

#[test]
fn version_and_bad_flags() {
    for flag in ["-v", "--version"] {
        let out = rk().arg(flag).output().unwrap();
        assert!(out.status.success());
        assert!(out.stdout.is_empty(), "keepalived prints -v on stderr");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            err.lines().next(),
            Some(
                format!(
                    "Keepalived v2.2.7 (rkeepalived {})",
                    env!("CARGO_PKG_VERSION")
                )
                .as_str()
            )
        );
        assert_eq!(exporter_version(&err), Some("2.2.7".to_owned()), "{err}");
    }
    let out = rk().arg("--no-such-flag").output().unwrap();
    assert!(!out.status.success());
}

/// `--signum=SIGFUNC` prints the same numbers as keepalived 2.2.7's (scripts and exporters
/// run `kill -s $(keepalived --signum=JSON) PID`), and an unknown name is an error (exit 1).
#[test]
fn signum_prints_keepalived_s_signal_numbers() {
    let ka = std::path::Path::new("/usr/sbin/keepalived");
    for func in [
        "STOP",
        "RELOAD",
        "DATA",
        "STATS",
        "STATS_CLEAR",
        "JSON",
        "NOSUCH",
        "json",
    ] {
        let ours = rk().arg(format!("--signum={func}")).output().unwrap();
        let ours_n = String::from_utf8_lossy(&ours.stdout).trim().to_string();
        if ka.exists() {
            let theirs = Command::new(ka)
                .arg(format!("--signum={func}"))
                .output()
                .unwrap();
            assert_eq!(ours.status.code(), theirs.status.code(), "{func}");
            assert_eq!(
                ours_n,
                String::from_utf8_lossy(&theirs.stdout).trim(),
                "{func}"
            );
        } else if std::env::var_os("CI").is_some() {
            panic!("keepalived is not installed (CI is set)");
        }
        let known = !matches!(func, "NOSUCH" | "json");
        assert_eq!(ours.status.success(), known, "{func}: {ours:?}");
        assert_eq!(ours_n.parse::<i32>().is_ok(), known, "{func}: {ours_n}");
    }
}

/// One option of `keepalived --help`: its short letter, long name and value (`None`: no
/// value; `Some((metavar, optional))`).
#[derive(Debug)]
struct HelpOption {
    short: Option<char>,
    long: String,
    value: Option<(String, bool)>,
}

/// The options listed by `keepalived --help` (keepalived 2.2.7's `usage()`): lines starting
/// with `-X, --long...` or `    --long...`.
fn help_options(help: &str) -> Vec<HelpOption> {
    let mut out = Vec::new();
    for line in help.lines() {
        let t = line.trim_start();
        let (short, rest) = match t.strip_prefix('-') {
            Some(r) if !r.starts_with('-') => {
                let mut c = r.chars();
                let letter = c.next().unwrap();
                match c.as_str().strip_prefix(", ") {
                    Some(rest) => (Some(letter), rest),
                    None => continue,
                }
            }
            Some(_) => (None, t),
            None => continue,
        };
        let Some(spec) = rest.split_whitespace().next() else {
            continue;
        };
        let Some(spec) = spec.strip_prefix("--") else {
            continue;
        };
        let (long, value) = if let Some((l, v)) = spec.split_once("[=") {
            (l, Some((v.trim_end_matches(']').to_string(), true)))
        } else if let Some((l, v)) = spec.split_once('=') {
            (l, Some((v.to_string(), false)))
        } else {
            // `-i, --config-id id`: a value after a space.
            let words: Vec<&str> = rest.split_whitespace().collect();
            let spaced = words
                .get(1)
                .filter(|w| w.chars().all(|c| c.is_ascii_lowercase()));
            (spec, spaced.map(|w| (w.to_string(), false)))
        };
        out.push(HelpOption {
            short,
            long: long.to_string(),
            value,
        });
    }
    out
}

/// A value for an option's metavar that both daemons accept in `-t` mode.
fn sample_value(metavar: &str, dir: &std::path::Path) -> String {
    match metavar {
        "MASK" => "022".into(),
        "NAME" | "id" => "node1".into(),
        "PATN" => "core".into(),
        // keepalived 2.2.7 documents local[0-7] but exits 5 on "-S local3" (measured).
        m if m.starts_with("([0-7]") => "3".into(),
        _ => dir.join("x.file").display().to_string(),
    }
}

/// Issue 10 point 8: every option of the installed keepalived 2.2.7's `--help` parses in
/// rkeepalived (short and long forms, with a value where it takes one), as it does in
/// keepalived: `OPTION -t -f GOOD` exits as `-t -f GOOD` does, for both daemons (a parse
/// error would be exit 2 from rkeepalived, 1 from keepalived). Options that leave the daemon mode
/// (`-T` genhash, `-t`, `--signum`, `-v`, `-h`) and `-f` (given anyway) are exercised elsewhere.
#[test]
fn every_keepalived_help_option_parses() {
    let ka = std::path::Path::new("/usr/sbin/keepalived");
    if !ka.exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "keepalived is not installed (CI is set)"
        );
        eprintln!("skipped: keepalived is not installed");
        return;
    }
    let help = Command::new(ka).arg("--help").output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&help.stdout),
        String::from_utf8_lossy(&help.stderr)
    );
    let options = help_options(&text);
    assert!(options.len() >= 30, "too few options parsed from:\n{text}");
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("keepalived.conf");
    std::fs::write(&conf, GOOD.as_str()).unwrap();
    let skip = [
        "genhash",
        "config-test",
        "signum",
        "version",
        "help",
        "use-file",
    ];
    let rk_bin = std::ffi::OsStr::new(env!("CARGO_BIN_EXE_rkeepalived"));
    let daemons = [("keepalived", ka.as_os_str()), ("rkeepalived", rk_bin)];
    let config_test = |bin: &std::ffi::OsStr, form: &[String]| {
        Command::new(bin)
            .args(form)
            .arg("-t")
            .arg("-f")
            .arg(&conf)
            .output()
            .unwrap()
    };
    // What `-t` says of this config without any option (keepalived may count the missing
    // eth0 of this namespace): each option must leave that unchanged.
    let baseline = daemons.map(|(_, bin)| config_test(bin, &[]).status.code());
    let mut tried = 0;
    for o in options.iter().filter(|o| !skip.contains(&o.long.as_str())) {
        let mut forms: Vec<Vec<String>> = Vec::new();
        match &o.value {
            None => {
                forms.push(vec![format!("--{}", o.long)]);
                forms.extend(o.short.map(|c| vec![format!("-{c}")]));
            }
            Some((metavar, optional)) => {
                let v = sample_value(metavar, dir.path());
                forms.push(vec![format!("--{}={v}", o.long)]);
                if *optional {
                    forms.push(vec![format!("--{}", o.long)]);
                    forms.extend(o.short.map(|c| vec![format!("-{c}")]));
                } else {
                    forms.extend(o.short.map(|c| vec![format!("-{c}"), v.clone()]));
                }
            }
        }
        for form in forms {
            for ((name, bin), want) in daemons.iter().zip(baseline) {
                let out = config_test(bin, &form);
                assert_eq!(
                    out.status.code(),
                    want,
                    "{name} {form:?} -t: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            tried += 1;
        }
    }
    assert!(tried >= 45, "only {tried} forms tried");
}

/// Flags without effect in rkeepalived are named once in the log, and the daemon carries on;
/// `-T` after other options switches to genhash with keepalived's warning.
#[test]
fn flags_without_effect_warn_once() {
    use clap::Parser;
    use rkeepalived::cli::Cli;
    let c = Cli::try_parse_from(["rkeepalived", "-x", "-m", "--all", "-A", "/s", "-B"]).unwrap();
    assert_eq!(
        c.accepted_but_ignored(),
        [
            "--no_bfd",
            "--all",
            "--snmp",
            "--snmp-agent-socket",
            "--core-dump"
        ]
    );
    let c =
        Cli::try_parse_from(["rkeepalived", "-u", "0x12", "-s", "ns1", "-X", "-a", "-e"]).unwrap();
    assert_eq!(c.umask, Some(0o22));
    assert_eq!(c.namespace.as_deref(), Some("ns1"));
    assert!(c.release_vips && c.address_monitoring && c.all_config);
    assert!(c.accepted_but_ignored().is_empty());
    assert!(Cli::try_parse_from(["rkeepalived", "-u", "0999"]).is_err());

    let out = rk().args(["-n", "-T", "-h"]).output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("`-T` not used as first option"),
        "{out:?}"
    );
}

/// `-e/--all-config`: a plain `include` of a missing file stops the load, as keepalived
/// 2.2.7 (measured: `(Line 1) Config files missing '...'.` and exit 6, with `-t` and at start);
/// without `-e` the same config loads (keepalived: exit 0).
#[test]
fn all_config_makes_a_missing_include_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("keepalived.conf");
    let missing = dir.path().join("nonexistent.conf");
    std::fs::write(&conf, format!("include {}\n{}", missing.display(), *GOOD)).unwrap();
    let run = |bin: &std::ffi::OsStr, e: bool| {
        let mut c = Command::new(bin);
        if e {
            c.arg("-e");
        }
        c.arg("-t").arg("-f").arg(&conf).output().unwrap()
    };
    let ours = std::ffi::OsStr::new(env!("CARGO_BIN_EXE_rkeepalived"));
    let with_e = run(ours, true);
    assert_eq!(with_e.status.code(), Some(6), "{with_e:?}");
    assert!(String::from_utf8_lossy(&with_e.stderr).contains("Config files missing"));
    assert_eq!(run(ours, false).status.code(), Some(0));
    let ka = std::path::Path::new("/usr/sbin/keepalived");
    if ka.exists() {
        assert_eq!(run(ka.as_os_str(), true).status.code(), Some(6));
        assert_eq!(run(ka.as_os_str(), false).status.code(), Some(0));
    }
}

/// Issue 10 point 9: keepalived 2.2.7's load-time corrections of virtual and real servers
/// (check_data.c `validate_check_config`, check_parser.c), as `-t` prints them: each config
/// makes keepalived and rkeepalived say the same sentence (rkeepalived as a warning with the
/// position; keepalived counts them as config errors, `-t` exit 5).
#[test]
fn ipvs_corrections_are_reported_like_keepalived() {
    let vs = |head: &str, body: &str| {
        format!("virtual_server {head} {{\n  lb_algo rr\n  lb_kind NAT\n{body}\n}}\n")
    };
    let rs = "  real_server 10.0.0.2 80 {\n    weight 1\n  }";
    let cases = [
        (
            vs("10.0.0.1 80", &format!("  protocol TCP\n  ops\n{rs}")),
            "one packet scheduling requires UDP - resetting",
        ),
        (vs("10.0.0.1 80", rs), "no protocol set - defaulting to UDP"),
        (
            vs(
                "10.0.0.1 80",
                &format!("  protocol TCP\n  hysteresis 2\n{rs}"),
            ),
            "hysteresis 2 >= quorum 1; setting hysteresis to 0",
        ),
        (
            vs("10.0.0.1 80", &format!("  protocol TCP\n  quorum 3\n{rs}")),
            "exceeds total weight of real servers 1, reducing quorum to 1",
        ),
        (
            vs("10.0.0.1 80", &format!("  protocol TCP\n  sh-port\n{rs}")),
            "sh-port only applies to sh scheduler - ignoring",
        ),
        (
            vs("10.0.0.1 80", &format!("  protocol TCP\n{rs}\n{rs}")),
            "is duplicated - removing second rs",
        ),
        (
            vs(
                "10.0.0.1 80",
                "  protocol TCP\n  real_server 10.0.0.2 8080 {\n    lvs_method DR\n  }",
            ),
            "ports don't match - resetting",
        ),
        (
            vs("10.0.0.1 0", &format!("  protocol TCP\n{rs}")),
            "zero port only valid for persistent services - setting",
        ),
        (
            vs("10.0.0.1 80", "  protocol TCP\n  sorry_server 10.0.0.9 80"),
            "has no real servers - ignoring",
        ),
    ];
    let ka = std::path::Path::new("/usr/sbin/keepalived");
    let dir = tempfile::tempdir().unwrap();
    for (i, (conf, said)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("c{i}.conf"));
        std::fs::write(&path, conf).unwrap();
        let ours = rk().arg("-t").arg("-f").arg(&path).output().unwrap();
        let ours = String::from_utf8_lossy(&ours.stderr).into_owned();
        assert!(
            ours.lines()
                .any(|l| l.contains("warning") && l.contains(said)),
            "rkeepalived on\n{conf}\nsaid:\n{ours}"
        );
        if ka.exists() {
            let theirs = Command::new(ka)
                .arg("-t")
                .arg("-f")
                .arg(&path)
                .output()
                .unwrap();
            let theirs = String::from_utf8_lossy(&theirs.stderr).into_owned();
            assert!(
                theirs.contains(said),
                "keepalived on\n{conf}\nsaid:\n{theirs}"
            );
        }
    }
}

/// keepalived-exporter's reading of `keepalived -v`'s stderr: a second line must exist, and
/// the first line's second space-separated word, without its first character, is the version
/// (then parsed by hashicorp/go-version: digits and dots here).
fn exporter_version(stderr: &str) -> Option<String> {
    let (first, _rest) = stderr.split_once('\n')?;
    let word = first.split(' ').nth(1)?;
    let v = word.get(1..)?;
    v.split('.')
        .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        .then(|| v.to_owned())
}

/// Installed as `keepalived` and `genhash` (links to the binary), it is those programs: the
/// probes keepalived-exporter makes (`keepalived -v` on stderr, `keepalived --signum=DATA`
/// etc. as a JSON number on stdout), `keepalived -t`, and genhash's command line.
#[test]
fn keepalived_and_genhash_names_run_those_programs() {
    let dir = tempfile::tempdir().unwrap();
    let ka = dir.path().join("keepalived");
    let gh = dir.path().join("genhash");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_rkeepalived"), &ka).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_rkeepalived"), &gh).unwrap();

    let out = Command::new(&ka).arg("-v").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        exporter_version(&String::from_utf8_lossy(&out.stderr)),
        Some("2.2.7".to_owned())
    );
    for (func, n) in [("DATA", "10"), ("STATS", "12"), ("JSON", "36")] {
        let out = Command::new(&ka)
            .arg(format!("--signum={func}"))
            .output()
            .unwrap();
        assert!(out.status.success());
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), n, "{func}");
    }
    let conf = dir.path().join("k.conf");
    std::fs::write(&conf, &*GOOD).unwrap();
    let out = Command::new(&ka)
        .arg("-t")
        .arg("-f")
        .arg(&conf)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // genhash by name is `rkeepalived -T`: the same answer to the same (bad) arguments.
    let by_name = Command::new(&gh).args(["-s", "x"]).output().unwrap();
    let by_flag = rk().args(["-T", "-s", "x"]).output().unwrap();
    assert_eq!(by_name.status.code(), by_flag.status.code());
    assert_eq!(by_name.stderr, by_flag.stderr);
    assert!(!by_name.status.success());
    // And not rkeepalived's parser: `-t` is no genhash flag.
    let out = Command::new(&gh).arg("-t").output().unwrap();
    assert!(!out.status.success());
}
