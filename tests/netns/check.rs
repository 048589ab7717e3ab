//! Health checkers against real services in a network namespace: a TCP listener and an
//! HTTP server run in node "srv", the checker runs in node "lb"; the services flip down and
//! up and the reported transitions and their timing are asserted against keepalived's
//! formula `delay_loop + (retry + 1) × connect_timeout + retry × delay_before_retry`.

use crate::support;

use rkeepalived::check::{self, Checker, Event, Target, Timing, Transition};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::{Lan, in_ns, require_root};

/// A TCP server in a namespace answering each connection with `respond(request)`; it stops
/// listening (port closed) while `open` is false, and ends when `stop` is set.
struct Server {
    open: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start(
        ns: &str,
        addr: SocketAddr,
        respond: impl Fn(&[u8]) -> Vec<u8> + Send + 'static,
    ) -> Server {
        let open = Arc::new(AtomicBool::new(true));
        let stop = Arc::new(AtomicBool::new(false));
        let (o, s) = (open.clone(), stop.clone());
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = in_ns(ns, move || {
            // Listening before start() returns, so no check can race the bind.
            let l = TcpListener::bind(addr).expect("bind");
            l.set_nonblocking(true).unwrap();
            let mut listener: Option<TcpListener> = Some(l);
            let _ = ready_tx.send(());
            while !s.load(Ordering::SeqCst) {
                if o.load(Ordering::SeqCst) {
                    let l = listener.get_or_insert_with(|| {
                        let l = TcpListener::bind(addr).expect("bind");
                        l.set_nonblocking(true).unwrap();
                        l
                    });
                    if let Ok((mut c, _)) = l.accept() {
                        c.set_nonblocking(false).unwrap();
                        c.set_read_timeout(Some(Duration::from_millis(500)))
                            .unwrap();
                        let mut buf = [0u8; 2048];
                        let n = c.read(&mut buf).unwrap_or(0);
                        let _ = c.write_all(&respond(&buf[..n]));
                        continue;
                    }
                } else {
                    listener = None; // closed: connections are refused
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("server ready");
        Server {
            open,
            stop,
            thread: Some(thread),
        }
    }
    fn set_open(&self, v: bool) {
        self.open.store(v, Ordering::SeqCst);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn timing() -> Timing {
    Timing {
        delay_loop: Duration::from_secs(1),
        connect_timeout: Duration::from_secs(1),
        retry: 1,
        delay_before_retry: Duration::from_millis(500),
        warmup: Duration::ZERO,
        alpha: false,
    }
}

/// Runs `checker` in namespace `ns`; events arrive on the returned channel with the time
/// they were received. The checker stops when `stop` is set.
fn run_checker(
    ns: &str,
    checker: Checker,
    timing: Timing,
    stop: Arc<AtomicBool>,
) -> std::sync::mpsc::Receiver<(Instant, Event)> {
    run_checker_with(ns, checker, timing, stop, false)
}

/// As [`run_checker`]; with `retry_lane`, the retries run on a second runtime (thread), as
/// the daemon's runner does.
fn run_checker_with(
    ns: &str,
    checker: Checker,
    timing: Timing,
    stop: Arc<AtomicBool>,
    retry_lane: bool,
) -> std::sync::mpsc::Receiver<(Instant, Event)> {
    let (tx, rx) = std::sync::mpsc::channel();
    in_ns(ns, move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        // The lane's thread is spawned from this one, so it is in the same namespace.
        let lane_rt = retry_lane.then(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap()
        });
        let lane = lane_rt.as_ref().map(|r| r.handle().clone());
        rt.block_on(async move {
            let (etx, mut erx) = tokio::sync::mpsc::channel(16);
            let opts = check::RunOptions {
                retry_lane: lane,
                ..Default::default()
            };
            let task = tokio::spawn(check::run_with(0, checker, timing, etx, opts));
            while !stop.load(Ordering::SeqCst) {
                if let Ok(Some(ev)) =
                    tokio::time::timeout(Duration::from_millis(50), erx.recv()).await
                {
                    let _ = tx.send((Instant::now(), ev));
                }
            }
            task.abort();
        });
    });
    rx
}

fn expect(
    rx: &std::sync::mpsc::Receiver<(Instant, Event)>,
    want: Transition,
    within: Duration,
) -> (Instant, Event) {
    let (at, ev) = rx
        .recv_timeout(within)
        .unwrap_or_else(|_| panic!("no {want:?} event within {within:?}"));
    assert_eq!(ev.transition, want, "{ev:?}");
    (at, ev)
}

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn tcp_check_reports_down_and_up_within_keepalived_s_formula() {
    if !require_root("tcp_check") {
        return;
    }
    let lan = Lan::new(&["srv", "lb"]);
    let addr = SocketAddr::new(lan.addr("srv").into(), 8080);
    let server = Server::start(&lan.node("srv").ns, addr, |_| Vec::new());
    let stop = Arc::new(AtomicBool::new(false));
    let t = timing();
    // The daemon's way: the retries after the first failure run on a second runtime.
    let rx = run_checker_with(
        &lan.node("lb").ns,
        Checker::Tcp(check::tcp::TcpCheck {
            target: Target::new(addr),
        }),
        t,
        stop.clone(),
        true,
    );

    // Up from the start (no alpha): no event while the service answers.
    assert!(
        rx.recv_timeout(Duration::from_millis(2500)).is_err(),
        "spurious event while up"
    );

    let closed = Instant::now();
    server.set_open(false);
    let (at, ev) = expect(&rx, Transition::Down, Duration::from_secs(8));
    let took = at - closed;
    assert!(
        took <= t.worst_case_detection() + Duration::from_millis(500),
        "down after {took:?}"
    );
    assert!(ev.reason.unwrap().contains(&format!(
        "TCP connection to [{}]:tcp:8080 failed",
        addr.ip()
    )));

    let reopened = Instant::now();
    server.set_open(true);
    let (at, _) = expect(&rx, Transition::Up, Duration::from_secs(5));
    assert!(
        at - reopened <= t.delay_loop + t.connect_timeout + Duration::from_millis(500),
        "up after {:?}",
        at - reopened
    );
    stop.store(true, Ordering::SeqCst);
}

/// An `HTTP_GET` (HTTP/1.0, no virtualhost) of `urls` on `addr`.
fn http_get(addr: SocketAddr, urls: Vec<check::http::Url>) -> Checker {
    Checker::Http(Box::new(check::http::HttpCheck {
        target: Target::new(addr),
        urls,
        protocol: check::http::HttpProtocol::Http10,
        virtualhost: None,
        tls: None,
    }))
}

/// Runs `checker` from node lb with `alpha` (starts down) and the test timing.
fn run_alpha(
    lan: &Lan,
    checker: Checker,
) -> (
    std::sync::mpsc::Receiver<(Instant, Event)>,
    Arc<AtomicBool>,
    Timing,
) {
    let stop = Arc::new(AtomicBool::new(false));
    let t = Timing {
        alpha: true,
        ..timing()
    };
    (
        run_checker(&lan.node("lb").ns, checker, t, stop.clone()),
        stop,
        t,
    )
}

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn http_get_checks_status_codes_and_digest() {
    if !require_root("http_get") {
        return;
    }
    let lan = Lan::new(&["srv", "lb"]);
    let addr = SocketAddr::new(lan.addr("srv").into(), 8081);
    let page: Arc<Mutex<(u16, &'static str)>> = Arc::new(Mutex::new((200, "healthy\n")));
    let requests: Arc<Mutex<Vec<String>>> = Arc::default();
    let (p, r) = (page.clone(), requests.clone());
    let _server = Server::start(&lan.node("srv").ns, addr, move |req| {
        r.lock()
            .unwrap()
            .push(String::from_utf8_lossy(req).into_owned());
        let (status, body) = *p.lock().unwrap();
        format!(
            "HTTP/1.0 {status} X\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    });
    let url = check::http::Url {
        path: "/health".into(),
        digest: Some(check::http::md5_hex(b"healthy\n")),
        status_codes: vec![(200, 200)],
        virtualhost: Some("www.example.test".into()),
        regex: None,
    };
    let (rx, stop, t) = run_alpha(&lan, http_get(addr, vec![url]));

    // alpha: starts down, the first good answer is an Up edge.
    expect(&rx, Transition::Up, Duration::from_secs(3));
    let req = requests.lock().unwrap()[0].clone();
    assert!(
        req.starts_with("GET /health HTTP/1.0\r\n") && req.contains("Host: www.example.test\r\n"),
        "{req}"
    );

    *page.lock().unwrap() = (500, "healthy\n");
    let (_, ev) = expect(
        &rx,
        Transition::Down,
        t.worst_case_detection() + Duration::from_secs(1),
    );
    assert!(ev.reason.unwrap().contains("HTTP status code error (500)"));
    *page.lock().unwrap() = (200, "healthy\n");
    expect(&rx, Transition::Up, Duration::from_secs(4));
    *page.lock().unwrap() = (200, "changed\n");
    let (_, ev) = expect(
        &rx,
        Transition::Down,
        t.worst_case_detection() + Duration::from_secs(1),
    );
    assert!(ev.reason.unwrap().contains("MD5 digest error"));
    stop.store(true, Ordering::SeqCst);
}

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn http_get_regex_and_regex_no_match_follow_the_body() {
    if !require_root("http_get_regex") {
        return;
    }
    let lan = Lan::new(&["srv", "lb"]);
    let addr = SocketAddr::new(lan.addr("srv").into(), 8082);
    let body: Arc<Mutex<&'static str>> = Arc::new(Mutex::new("<p>Status: GREEN</p>"));
    let b = body.clone();
    let _server = Server::start(&lan.node("srv").ns, addr, move |_| {
        let body = *b.lock().unwrap();
        format!(
            "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    });
    // The url blocks as the config loader builds them: `regex "status: (ok|green)"` with
    // `regex_options caseless`, and `regex_no_match "maintenance"` from offset 3.
    let url = |path: &str, regex: rkeepalived::config::model::UrlRegex| check::http::Url {
        path: path.into(),
        digest: None,
        status_codes: vec![],
        virtualhost: None,
        regex: Some(check::http::BodyRegex::new(&regex).unwrap()),
    };
    let urls = vec![
        url(
            "/a",
            rkeepalived::config::model::UrlRegex {
                pattern: "(?i)status: (ok|green)".into(),
                no_match: false,
                min_offset: 0,
                max_offset: None,
            },
        ),
        url(
            "/b",
            rkeepalived::config::model::UrlRegex {
                pattern: "maintenance".into(),
                no_match: true,
                min_offset: 3,
                max_offset: None,
            },
        ),
    ];
    let (rx, stop, t) = run_alpha(&lan, http_get(addr, urls));
    expect(&rx, Transition::Up, Duration::from_secs(3));
    // (page, the transition it causes, the failure reason it gives)
    let steps = [
        (
            "<p>Status: RED</p>",
            Transition::Down,
            Some("regex '(?i)status: (ok|green)' did not match"),
        ),
        ("<p>status: ok</p>", Transition::Up, None),
        (
            "<p>status: ok - maintenance at 5</p>",
            Transition::Down,
            Some("regex_no_match 'maintenance' matched"),
        ),
        // Before regex_min_offset the word does not count.
        ("maintenance: no; status: ok", Transition::Up, None),
    ];
    for (page, transition, reason) in steps {
        *body.lock().unwrap() = page;
        let (_, ev) = expect(
            &rx,
            transition,
            t.worst_case_detection() + Duration::from_secs(1),
        );
        if let Some(want) = reason {
            assert!(
                ev.reason.as_deref().unwrap_or("").contains(want),
                "{page}: {:?}",
                ev.reason
            );
        }
    }
    stop.store(true, Ordering::SeqCst);
}

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn misc_check_follows_the_script_exit_status_and_dynamic_weight() {
    if !require_root("misc_check") {
        return;
    }
    let lan = Lan::new(&["lb"]);
    let dir = tempfile::tempdir().unwrap();
    let code = dir.path().join("code");
    std::fs::write(&code, "0").unwrap();
    let argv = vec![
        "/bin/sh".to_string(),
        "-c".to_string(),
        format!("exit $(cat {})", code.display()),
    ];
    let checker = Checker::Misc(Box::new(check::misc::MiscCheck {
        argv,
        timeout: Duration::from_secs(2),
        dynamic: true,
        rs_weight: 3,
        run_as: None,
    }));
    let stop = Arc::new(AtomicBool::new(false));
    let t = Timing {
        retry: 0,
        ..timing()
    };
    let rx = run_checker(&lan.node("lb").ns, checker, t, stop.clone());
    assert!(
        rx.recv_timeout(Duration::from_millis(1500)).is_err(),
        "spurious event while up"
    );
    std::fs::write(&code, "1").unwrap();
    expect(&rx, Transition::Down, Duration::from_secs(3));
    // misc_dynamic: exit 12 = up with weight 10.
    std::fs::write(&code, "12").unwrap();
    let (_, ev) = expect(&rx, Transition::Up, Duration::from_secs(3));
    assert_eq!(ev.weight, Some(10));
    // Exit 0 sets the configured weight back (keepalived: rs->iweight).
    std::fs::write(&code, "0").unwrap();
    let (_, ev) = expect(&rx, Transition::Up, Duration::from_secs(3));
    assert_eq!(ev.weight, Some(3));
    stop.store(true, Ordering::SeqCst);
}

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn genhash_mode_prints_the_same_digest_as_keepalived_s_genhash() {
    if !require_root("genhash") || !support::require_tool("genhash", "genhash") {
        return;
    }
    let lan = Lan::new(&["srv", "lb"]);
    let addr = SocketAddr::new(lan.addr("srv").into(), 8082);
    let body = "<html><body>pool member 1</body></html>\n";
    let _server = Server::start(&lan.node("srv").ns, addr, move |_| {
        format!(
            "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    });
    let port = addr.port().to_string();
    let ip = addr.ip().to_string();
    let args = ["-s", ip.as_str(), "-p", port.as_str(), "-u", "/index.html"];
    let theirs = lan.node("lb").exec(&[&["genhash"][..], &args[..]].concat());
    let rk = env!("CARGO_BIN_EXE_rkeepalived");
    let ours = lan.node("lb").exec(&[&[rk, "-T"][..], &args[..]].concat());
    assert!(
        theirs.status.success() && ours.status.success(),
        "{theirs:?}\n{ours:?}"
    );
    let theirs = String::from_utf8_lossy(&theirs.stdout).trim().to_string();
    let ours = String::from_utf8_lossy(&ours.stdout).trim().to_string();
    assert_eq!(theirs.len(), 32, "{theirs}");
    assert_eq!(ours, theirs);
    assert_eq!(ours, check::http::md5_hex(body.as_bytes()));
}

/// A UDP server in a namespace answering each datagram with `respond(request)` (`None` = no
/// answer); the socket is closed while `open` is false, so the kernel answers ICMP port
/// unreachable.
struct UdpServer {
    open: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl UdpServer {
    fn start(
        ns: &str,
        addr: SocketAddr,
        respond: impl Fn(&[u8]) -> Option<Vec<u8>> + Send + 'static,
    ) -> UdpServer {
        let open = Arc::new(AtomicBool::new(true));
        let stop = Arc::new(AtomicBool::new(false));
        let (o, s) = (open.clone(), stop.clone());
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = in_ns(ns, move || {
            let u = std::net::UdpSocket::bind(addr).expect("bind udp");
            u.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
            let mut sock: Option<std::net::UdpSocket> = Some(u);
            let _ = ready_tx.send(());
            let mut buf = [0u8; 1500];
            while !s.load(Ordering::SeqCst) {
                if !o.load(Ordering::SeqCst) {
                    sock = None;
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                }
                let u = sock.get_or_insert_with(|| {
                    let u = std::net::UdpSocket::bind(addr).expect("bind udp");
                    u.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
                    u
                });
                if let Ok((n, from)) = u.recv_from(&mut buf)
                    && let Some(reply) = respond(&buf[..n])
                {
                    let _ = u.send_to(&reply, from);
                }
            }
        });
        ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("udp server ready");
        UdpServer {
            open,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for UdpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn dns_udp_ping_and_smtp_checks_follow_their_services() {
    if !require_root("dns_udp_ping_smtp") {
        return;
    }
    let lan = Lan::new(&["srv", "lb"]);
    let srv = lan.addr("srv");
    let ns = lan.node("srv").ns.clone();
    let t = Timing {
        retry: 0,
        ..timing()
    };
    let stop = Arc::new(AtomicBool::new(false));
    let within = t.worst_case_detection() + Duration::from_secs(1);

    // DNS: a responder whose RCODE we choose (0 = NOERROR, 5 = REFUSED).
    let rcode = Arc::new(std::sync::atomic::AtomicU8::new(0));
    let rc = rcode.clone();
    let _dns = UdpServer::start(&ns, SocketAddr::new(srv.into(), 5353), move |q| {
        let mut r = q.to_vec();
        r[2] |= 0x80;
        r[3] = (r[3] & 0xf0) | rc.load(Ordering::SeqCst);
        Some(r)
    });
    let dns = Checker::Dns(Box::new(check::dns::DnsCheck {
        target: Target::new(SocketAddr::new(srv.into(), 5353)),
        qtype: 6,
        name: ".".into(),
    }));
    let rx_dns = run_checker(&lan.node("lb").ns, dns, t, stop.clone());

    // UDP: an echo service that we close (ICMP port unreachable).
    let echo = UdpServer::start(&ns, SocketAddr::new(srv.into(), 7007), |q| Some(q.to_vec()));
    let udp = Checker::Udp(Box::new(check::udp::UdpCheck {
        target: Target::new(SocketAddr::new(srv.into(), 7007)),
        payload: b"ping".to_vec(),
        require_reply: Some(b"ping".to_vec()),
        min_reply_length: 0,
        max_reply_length: 65535,
    }));
    let rx_udp = run_checker(&lan.node("lb").ns, udp, t, stop.clone());

    // PING: the kernel of "srv" answers until told to ignore echoes.
    let ping = Checker::Ping(Box::new(check::ping::PingCheck {
        addr: srv.into(),
        bind_if: None,
    }));
    let rx_ping = run_checker(&lan.node("lb").ns, ping, t, stop.clone());

    // SMTP: a server whose HELO answer we choose.
    let helo_ok = Arc::new(AtomicBool::new(true));
    let h = helo_ok.clone();
    let smtp_addr = SocketAddr::new(srv.into(), 2526);
    let smtp_stop = Arc::new(AtomicBool::new(false));
    let ss = smtp_stop.clone();
    let (smtp_ready_tx, smtp_ready_rx) = std::sync::mpsc::channel();
    let smtp_thread = in_ns(&ns, move || {
        let l = TcpListener::bind(smtp_addr).unwrap();
        l.set_nonblocking(true).unwrap();
        let _ = smtp_ready_tx.send(());
        while !ss.load(Ordering::SeqCst) {
            if let Ok((mut c, _)) = l.accept() {
                c.set_nonblocking(false).unwrap();
                c.set_read_timeout(Some(Duration::from_millis(500)))
                    .unwrap();
                let _ = c.write_all(b"220-mail.test ESMTP\r\n220 ready\r\n");
                let mut buf = [0u8; 256];
                let _ = c.read(&mut buf);
                let answer: &[u8] = if h.load(Ordering::SeqCst) {
                    b"250 hello\r\n"
                } else {
                    b"554 go away\r\n"
                };
                let _ = c.write_all(answer);
                let _ = c.read(&mut buf);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    smtp_ready_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("smtp server ready");
    let smtp = Checker::Smtp(Box::new(check::smtp::SmtpCheck {
        target: Target::new(smtp_addr),
        helo_name: "lb.test".into(),
    }));
    let rx_smtp = run_checker(&lan.node("lb").ns, smtp, t, stop.clone());

    // Everything answers: no transitions (checkers start up).
    std::thread::sleep(Duration::from_millis(2500));
    for (name, rx) in [
        ("dns", &rx_dns),
        ("udp", &rx_udp),
        ("ping", &rx_ping),
        ("smtp", &rx_smtp),
    ] {
        assert!(
            rx.try_recv().is_err(),
            "{name}: spurious event while the service is up"
        );
    }

    // Break every service, then mend it.
    rcode.store(5, Ordering::SeqCst);
    echo.open.store(false, Ordering::SeqCst);
    lan.node("srv")
        .exec(&["sysctl", "-q", "-w", "net.ipv4.icmp_echo_ignore_all=1"]);
    helo_ok.store(false, Ordering::SeqCst);
    let (_, ev) = expect(&rx_dns, Transition::Down, within);
    assert!(ev.reason.unwrap().contains("rcode = 5"));
    expect(&rx_udp, Transition::Down, within);
    expect(&rx_ping, Transition::Down, within);
    let (_, ev) = expect(&rx_smtp, Transition::Down, within);
    assert!(ev.reason.unwrap().contains("HELO answered 554"));

    rcode.store(0, Ordering::SeqCst);
    echo.open.store(true, Ordering::SeqCst);
    lan.node("srv")
        .exec(&["sysctl", "-q", "-w", "net.ipv4.icmp_echo_ignore_all=0"]);
    helo_ok.store(true, Ordering::SeqCst);
    for (name, rx) in [
        ("dns", &rx_dns),
        ("udp", &rx_udp),
        ("ping", &rx_ping),
        ("smtp", &rx_smtp),
    ] {
        let ev = rx
            .recv_timeout(within)
            .unwrap_or_else(|_| panic!("{name}: no Up event"));
        assert_eq!(ev.1.transition, Transition::Up, "{name}");
    }
    stop.store(true, Ordering::SeqCst);
    smtp_stop.store(true, Ordering::SeqCst);
    let _ = smtp_thread.join();
}

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn ssl_get_against_a_self_signed_tls_server_and_genhash_ssl() {
    if !require_root("ssl_get") || !support::require_tool("ssl_get", "openssl") {
        return;
    }
    let lan = Lan::new(&["srv", "lb"]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    std::fs::write(dir.path().join("health.html"), "tls pool member\n").unwrap();
    let gen_cert = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=srv.test",
        ])
        .args([
            "-keyout",
            &format!("{d}/key.pem"),
            "-out",
            &format!("{d}/cert.pem"),
        ])
        .output()
        .unwrap();
    assert!(gen_cert.status.success(), "{gen_cert:?}");
    let addr = SocketAddr::new(lan.addr("srv").into(), 8443);
    let serve = format!(
        "cd {d} && exec openssl s_server -quiet -accept {} -cert cert.pem -key key.pem -WWW",
        addr.port()
    );
    let server = lan.node("srv").spawn_cmd(&["sh", "-c", &serve]);
    // Wait until it listens.
    let listening =
        support::wait_until(Duration::from_secs(10), Duration::from_millis(100), || {
            let out = lan.node("lb").exec(&[
                "bash",
                "-c",
                &format!(
                    "exec 3<>/dev/tcp/{}/{} && echo open",
                    addr.ip(),
                    addr.port()
                ),
            ]);
            String::from_utf8_lossy(&out.stdout).contains("open")
        });
    assert!(
        listening.is_some(),
        "openssl s_server did not start: {}",
        server.log()
    );

    // genhash -S and rkeepalived -T -S agree on the digest of the page.
    let port = addr.port().to_string();
    let ip = addr.ip().to_string();
    let args = [
        "-S",
        "-s",
        ip.as_str(),
        "-p",
        port.as_str(),
        "-u",
        "/health.html",
    ];
    let rk = env!("CARGO_BIN_EXE_rkeepalived");
    let ours = lan.node("lb").exec(&[&[rk, "-T"][..], &args[..]].concat());
    assert!(ours.status.success(), "{ours:?}");
    let ours = String::from_utf8_lossy(&ours.stdout).trim().to_string();
    assert_eq!(ours, check::http::md5_hex(b"tls pool member\n"));
    if support::find_program("genhash").is_some() {
        let theirs = lan.node("lb").exec(&[&["genhash"][..], &args[..]].concat());
        assert_eq!(
            String::from_utf8_lossy(&theirs.stdout).trim(),
            ours,
            "{theirs:?}"
        );
    }

    // An SSL_GET checker sees the page, then the service going away.
    let url = check::http::Url {
        path: "/health.html".into(),
        digest: Some(ours),
        status_codes: vec![],
        virtualhost: None,
        regex: None,
    };
    let tls = check::http::Tls {
        config: check::tls::client_config(None).unwrap(),
        sni: false,
    };
    let checker = Checker::Http(Box::new(check::http::HttpCheck {
        target: Target::new(addr),
        urls: vec![url],
        protocol: check::http::HttpProtocol::Http10,
        virtualhost: None,
        tls: Some(tls),
    }));
    let stop = Arc::new(AtomicBool::new(false));
    let t = Timing {
        alpha: true,
        retry: 0,
        ..timing()
    };
    let rx = run_checker(&lan.node("lb").ns, checker, t, stop.clone());
    expect(&rx, Transition::Up, Duration::from_secs(5));
    server.kill();
    expect(
        &rx,
        Transition::Down,
        t.worst_case_detection() + Duration::from_secs(1),
    );
    stop.store(true, Ordering::SeqCst);
}

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn runner_shares_identical_checks_and_aggregates_real_server_health() {
    if !require_root("runner") {
        return;
    }
    use rkeepalived::check::event::RsEvent;
    use rkeepalived::check::runner::Runner;
    let lan = Lan::new(&["srv", "lb"]);
    let ip = lan.addr("srv");
    let ns = lan.node("srv").ns.clone();
    let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let h = hits.clone();
    let web = Server::start(&ns, SocketAddr::new(ip.into(), 8090), move |_| {
        h.fetch_add(1, Ordering::SeqCst);
        Vec::new()
    });
    let _db = Server::start(&ns, SocketAddr::new(ip.into(), 8091), |_| Vec::new());
    let tcp = |port| {
        Checker::Tcp(check::tcp::TcpCheck {
            target: Target::new(SocketAddr::new(ip.into(), port)),
        })
    };
    let t = Timing {
        retry: 0,
        ..timing()
    };
    // Real servers 0 and 1 (two virtual servers with the same pool member) both check :8090;
    // real server 1 also checks :8091. Real server 2 checks :8091 only.
    let mut runner = Runner::new();
    runner.subscribe(0, tcp(8090), t);
    runner.subscribe(1, tcp(8090), t);
    runner.subscribe(1, tcp(8091), t);
    runner.subscribe(2, tcp(8091), t);
    assert_eq!(runner.distinct_checks(), 2);

    let (tx, rx) = std::sync::mpsc::channel::<RsEvent>();
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    support::run_runner_in_ns(&lan.node("lb").ns, runner, s, move |ev| {
        let _ = tx.send(ev);
    });
    // Three rounds at delay_loop 1 s: one connection per round to :8090, not two.
    std::thread::sleep(Duration::from_millis(3300));
    let n = hits.load(Ordering::SeqCst);
    assert!(
        (3..=4).contains(&n),
        "{n} connections in 3.3 s: the shared check ran more than once per round"
    );
    assert!(
        rx.try_recv().is_err(),
        "no transition while everything is up"
    );

    web.set_open(false);
    let mut downs: Vec<usize> = (0..2)
        .map(|_| rx.recv_timeout(Duration::from_secs(4)).expect("down event"))
        .inspect(|ev| assert!(!ev.up, "{ev:?}"))
        .map(|ev| ev.rs)
        .collect();
    downs.sort();
    assert_eq!(
        downs,
        vec![0, 1],
        "both owners of the shared check go down; rs 2 does not"
    );
    assert!(
        rx.recv_timeout(Duration::from_millis(1500)).is_err(),
        "rs 2 must stay up"
    );
    web.set_open(true);
    let mut ups: Vec<usize> = (0..2)
        .map(|_| {
            rx.recv_timeout(Duration::from_secs(4))
                .expect("up event")
                .rs
        })
        .collect();
    ups.sort();
    assert_eq!(ups, vec![0, 1]);
    stop.store(true, Ordering::SeqCst);
}

/// `TCP_CHECK`'s probe settles at once against a listening and a closed port, waits up to
/// `connect_timeout` for a host that does not answer, and ends each successful probe with a
/// reset (no FIN, so no TIME_WAIT socket per check on the checker's side).
#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn tcp_probe_answers_listening_closed_and_silent_targets_and_resets_its_connection() {
    if !require_root("tcp_probe") {
        return;
    }
    let lan = Lan::new(&["srv", "lb"]);
    let ip = lan.addr("srv");
    let open = SocketAddr::new(ip.into(), 8082);
    let closed = SocketAddr::new(ip.into(), 8083);
    // Nobody has this address: ARP gets no answer and the SYN never leaves.
    let silent = SocketAddr::new(lan.ip(200).into(), 8082);
    // The server reports how its side of the accepted connection ended.
    let (seen_tx, seen_rx) = std::sync::mpsc::channel();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    in_ns(&lan.node("srv").ns, move || {
        let l = TcpListener::bind(open).expect("bind");
        let _ = ready_tx.send(());
        let (mut c, _) = l.accept().expect("accept");
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 16];
        let _ = seen_tx.send(c.read(&mut buf).map_err(|e| e.kind()));
    });
    ready_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("server ready");
    let results = in_ns(&lan.node("lb").ns, move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let t = Duration::from_millis(300);
            let probe = |a| async move { Target::new(a).probe(t).await };
            let started = Instant::now();
            let silent = probe(silent).await;
            let waited = started.elapsed();
            (probe(open).await, probe(closed).await, silent, waited)
        })
    })
    .join()
    .expect("checker thread");
    let (open_r, closed_r, silent_r, waited) = results;
    assert_eq!(open_r, Ok(()));
    assert!(
        closed_r.as_ref().is_err_and(|e| e.contains("refused")),
        "{closed_r:?}"
    );
    assert_eq!(silent_r, Err("timeout".to_owned()));
    assert!(
        waited >= Duration::from_millis(300),
        "gave up after {waited:?}"
    );
    assert_eq!(
        seen_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("server saw the probe"),
        Err(std::io::ErrorKind::ConnectionReset),
        "the probe's connection ends with a reset"
    );
}
