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
    let out = rk().arg("-v").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
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
