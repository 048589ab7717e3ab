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

const GOOD: &str = "vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n  priority 100\n  virtual_ipaddress {\n    10.1.2.3/24\n  }\n}\n";

#[test]
fn config_test_exit_codes_match_keepalived() {
    assert_eq!(config_test(GOOD).0, 0);

    let (code, err) = config_test(&GOOD.replace("priority 100", "priority 300"));
    assert_eq!(code, 4, "{err}");
    assert!(
        err.starts_with("FILE:4:"),
        "diagnostic must carry file:line:col: {err}"
    );
    assert!(err.contains("error"), "{err}");

    let scripts = format!("vrrp_script chk {{\n  script \"/bin/true\"\n}}\n{GOOD}");
    assert_eq!(config_test(&scripts).0, 5);
    let secured = format!("global_defs {{\n  enable_script_security\n}}\n{scripts}");
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
    assert_eq!(code, 0, "keepalived loads past unknown keywords");
}

#[test]
fn version_and_bad_flags() {
    let out = rk().arg("-v").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
    let out = rk().arg("--no-such-flag").output().unwrap();
    assert!(!out.status.success());
}
