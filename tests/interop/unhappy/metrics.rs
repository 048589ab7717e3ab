//! Issue 14 point 7: the metrics endpoint (`--metrics-listen`), inside the node's namespace:
//! scraped with curl, validated by `promtool check metrics`, scraped by a real Prometheus
//! server (listening on 127.0.0.1 inside the namespace), and not held up by a client that
//! connects and sends nothing.

use super::common::{ready_rk, row};
use crate::support::{Daemon, Lan, Node, in_ns, require_tool, wait_until};
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PORT: u16 = 9650;

fn scrape(node: &Node, url: &str) -> String {
    let out = node.exec(&["curl", "-sS", "-m", "5", url]);
    assert!(
        out.status.success(),
        "curl {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// [`scrape`] that gives an empty text while nothing answers yet.
fn try_scrape(node: &Node, url: &str) -> String {
    let out = node.exec(&["curl", "-sS", "-m", "5", url]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The value of the first sample of `name` whose labels contain `labels`.
fn sample(text: &str, name: &str, labels: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with('{') && l.contains(labels))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn metrics_endpoint_serves_prometheus() {
    let test = "metrics_endpoint_serves_prometheus";
    if !ready_rk(test)
        || !require_tool(test, "curl")
        || !require_tool(test, "promtool")
        || !require_tool(test, "prometheus")
    {
        return;
    }
    let lan = Lan::new(&["n"]);
    let node = lan.node("n");
    let addr = format!("{}:{PORT}", node.addr);
    let url = format!("http://{addr}/metrics");
    let conf = format!(
        "vrrp_script chk {{\n script \"/bin/true\"\n interval 1\n}}\n\
         vrrp_instance VI_1 {{\n state BACKUP\n interface eth0\n virtual_router_id 51\n\
         priority 100\n advert_int 1\n virtual_ipaddress {{\n {}/24\n }}\n\
         track_script {{\n chk\n }}\n}}\n",
        lan.ip(100)
    );
    let proc = node.spawn_with(Daemon::Rkeepalived, &conf, &["--metrics-listen", &addr]);
    proc.expect_log("(VI_1) Entering MASTER STATE", Duration::from_secs(15));
    let vip = format!("ip_address=\"{}\"", lan.ip(100));

    // A client that connects and sends nothing: the server drops it after its timeout, and
    // meanwhile scrapes are answered and adverts keep going.
    let ns = node.ns.clone();
    let silent_addr = addr.clone();
    let silent = in_ns(&ns, move || {
        let mut c = std::net::TcpStream::connect(&silent_addr).expect("connect");
        c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let start = Instant::now();
        let mut b = [0u8; 16];
        let n = c.read(&mut b).unwrap_or(0);
        let _ = c.write_all(b"GET");
        (n, start.elapsed())
    });
    std::thread::sleep(Duration::from_millis(500));
    let first = scrape(node, &url);
    let sent = |t: &str| {
        sample(t, "keepalived_advertisements_sent_total", "iname=\"VI_1\"").unwrap_or(-1.0)
    };
    assert_eq!(
        sample(&first, "keepalived_vrrp_state", &vip),
        Some(2.0),
        "MASTER is 2:\n{first}"
    );
    std::thread::sleep(Duration::from_millis(2500));
    let second = scrape(node, &url);
    assert!(
        sent(&second) >= sent(&first) + 2.0,
        "adverts flow while a client hangs: {} then {}",
        sent(&first),
        sent(&second)
    );
    assert_eq!(sample(&second, "keepalived_vrrp_state", &vip), Some(2.0));
    let (n, held) = silent.join().unwrap();
    assert_eq!(n, 0, "the silent client gets nothing but the close");
    assert!(
        held >= Duration::from_secs(4) && held < Duration::from_secs(10),
        "dropped after the 5 s client timeout, not {held:?}"
    );
    for name in [
        "keepalived_up 1",
        "keepalived_become_master_total{",
        "keepalived_script_status{name=\"chk\"} 1",
        "keepalived_script_duration_seconds_count{name=\"chk\"}",
        "keepalived_advertisements_received_total{",
        "keepalived_authentication_failure_total{",
        "keepalived_ip_ttl_errors_total{",
    ] {
        assert!(second.contains(name), "no {name:?} in\n{second}");
    }

    // promtool (it only reads the text on its standard input).
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool");
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(second.as_bytes())
        .unwrap();
    let out = promtool.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{second}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // A real Prometheus server in the namespace scrapes it (OpenMetrics, as it asks).
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n\
             \x20 - job_name: rkeepalived\n    static_configs:\n      - targets: ['{addr}']\n"
        ),
    )
    .unwrap();
    let tsdb = dir.path().join("data");
    let prom = node.spawn_cmd(&[
        "prometheus",
        &format!("--config.file={}", cfg.display()),
        &format!("--storage.tsdb.path={}", tsdb.display()),
        "--web.listen-address=127.0.0.1:9090",
    ]);
    let mut answer = String::new();
    let got = wait_until(Duration::from_secs(40), Duration::from_millis(500), || {
        let out = node.exec(&[
            "curl",
            "-s",
            "-m",
            "2",
            "http://127.0.0.1:9090/api/v1/query?query=keepalived_vrrp_state",
        ]);
        answer = String::from_utf8_lossy(&out.stdout).into_owned();
        answer.contains("\"iname\":\"VI_1\"")
    });
    assert!(
        got.is_some(),
        "Prometheus has no keepalived_vrrp_state sample: {answer}\n{}",
        prom.log_tail(20)
    );
    assert!(answer.contains("\"2\"]"), "value 2 (MASTER): {answer}");
    let up = node.exec(&[
        "curl",
        "-s",
        "-m",
        "2",
        "http://127.0.0.1:9090/api/v1/query?query=up",
    ]);
    let up = String::from_utf8_lossy(&up.stdout);
    assert!(up.contains("\"1\"]"), "target up: {up}");
    prom.term();
    proc.term();
    row(
        "metrics endpoint",
        "none (keepalived-exporter reads keepalived.data/.stats after signals)",
        "keepalived-exporter's names, promtool clean, scraped by Prometheus, a silent client dropped after 5 s",
    );
}

/// `-C`: the checker side's view (real server and checker state, the last failure as a
/// label) and the reload counter after a SIGHUP.
#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn metrics_show_checkers_and_reloads() {
    let test = "metrics_show_checkers_and_reloads";
    if !ready_rk(test) || !require_tool(test, "curl") {
        return;
    }
    let lan = Lan::new(&["lb", "srv"]);
    let node = lan.node("lb");
    let srv = lan.addr("srv");
    let addr = format!("{}:{PORT}", node.addr);
    let url = format!("http://{addr}/metrics");
    let conf = format!(
        "virtual_server 10.9.9.9 80 {{\n delay_loop 1\n protocol TCP\n\
         real_server {srv} 8080 {{\n TCP_CHECK {{\n connect_timeout 1\n retry 0\n }}\n }}\n}}\n"
    );
    let proc = node.spawn_with(
        Daemon::Rkeepalived,
        &conf,
        &["-C", "--metrics-listen", &addr],
    );
    let rs = format!("real_server=\"[{srv}]:tcp:8080\"");
    let mut text = String::new();
    let down = wait_until(Duration::from_secs(15), Duration::from_millis(200), || {
        text = try_scrape(node, &url);
        sample(&text, "keepalived_real_server_up", &rs) == Some(0.0)
    });
    assert!(
        down.is_some(),
        "real server never down:\n{text}\n{}",
        proc.log()
    );
    assert_eq!(
        sample(&text, "keepalived_checker_up", "method=\"TCP_CHECK\""),
        Some(0.0)
    );
    assert!(
        text.contains(&format!(
            "keepalived_checker_last_failure{{virtual_server=\"[10.9.9.9]:tcp:80\",{rs},method=\"TCP_CHECK\",reason=\"TCP connection to [{srv}]:tcp:8080 failed"
        )),
        "{text}"
    );
    proc.signal(libc::SIGHUP);
    let mut after = String::new();
    let reloaded = wait_until(Duration::from_secs(10), Duration::from_millis(200), || {
        after = try_scrape(node, &url);
        after.contains("keepalived_reloads_total{result=\"success\"} 1")
    });
    assert!(reloaded.is_some(), "{after}\n{}", proc.log());
    assert!(
        after.contains("keepalived_last_reload_success 1"),
        "{after}"
    );
    proc.term();
    row(
        "metrics: checkers and reloads",
        "none",
        "real server and checker state, last failure reason, reloads by result",
    );
}
