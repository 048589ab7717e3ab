//! `FILE_CHECK` end to end without a network: a config with `track_file` blocks and
//! FILE_CHECKs is loaded, the initial real-server state the IPVS controller starts from is
//! checked, then the checker runner built from the config runs while the test rewrites the
//! file, and the real-server transitions and weights it reports are asserted (keepalived
//! 2.2.7 check_file.c / track_file.c rules).

use crate::support;

use rkeepalived::check::build::{rs_start, runner_for};
use rkeepalived::check::event::RsEvent;
use rkeepalived::config::{LoadOptions, load_str};
use rkeepalived::ipvs::health::VsHealth;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;
use support::{Daemon, Lan, require_daemon, require_root};

/// Replaces the file's content atomically (a reader never sees it empty half-way).
fn set(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// The next `n` events (sorted by real server), each within 5 s.
fn next(rx: &mpsc::Receiver<RsEvent>, n: usize) -> Vec<RsEvent> {
    let mut v: Vec<RsEvent> = (0..n)
        .map(|i| {
            rx.recv_timeout(Duration::from_secs(5))
                .unwrap_or_else(|_| panic!("event {} of {n} missing", i + 1))
        })
        .collect();
    v.sort_by_key(|e| e.rs);
    v
}

/// (real server, up, weight) of each event.
fn summary(evs: &[RsEvent]) -> Vec<(usize, bool, Option<u32>)> {
    evs.iter().map(|e| (e.rs, e.up, e.cause.weight)).collect()
}

#[test]
fn file_check_follows_the_file_with_keepalived_s_weight_rules() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("state");
    let g = dir.path().join("init");
    set(&f, "0\n");
    let conf = format!(
        "track_file tf {{\n file {}\n weight 0\n}}\n\
         track_file ti {{\n file {}\n init_file 7\n}}\n\
         virtual_server 10.0.0.1 80 {{\n delay_loop 1\n protocol TCP\n\
         real_server 10.0.0.2 80 {{\n weight 10\n FILE_CHECK {{\n track_file tf\n }}\n }}\n\
         real_server 10.0.0.3 80 {{\n weight 10\n FILE_CHECK {{\n track_file tf\n weight 2\n }}\n }}\n\
         real_server 10.0.0.4 80 {{\n weight 10\n FILE_CHECK {{\n track_file tf\n weight 0 reverse\n }}\n }}\n\
         real_server 10.0.0.5 80 {{\n weight 10\n FILE_CHECK {{\n track_file ti\n }}\n }}\n\
         }}\n",
        f.display(),
        g.display()
    );
    let loaded = load_str(Path::new("t.conf"), &conf, &LoadOptions::default());
    assert!(
        loaded.diagnostics.0.is_empty(),
        "{:?}",
        loaded.diagnostics.0
    );
    let config = loaded.config;

    // The state IPVS is first programmed with: value 0 keeps rs 0 up; rs 2 (reverse) is down;
    // init_file wrote 7 for rs 3, whose weight 1 adds 7 to its 10.
    let vs = &config.ipvs.virtual_servers[0];
    let h = VsHealth::new(vs, &rs_start(vs));
    assert_eq!(h.alive, [true, true, false, true]);
    assert_eq!(h.weight, [10, 10, 10, 17]);
    assert_eq!(std::fs::read_to_string(&g).unwrap(), "7");

    let (runner, index, problems) = runner_for(&config);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(*index, [(0, 0), (0, 1), (0, 2), (0, 3)]);
    assert_eq!(runner.distinct_checks(), 2, "one watcher per track_file");
    assert!(runner.initially_up(0) && !runner.initially_up(2));
    assert_eq!(runner.initial_weight(3), 17);

    let (tx, rx) = mpsc::channel::<RsEvent>();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let (etx, mut erx) = tokio::sync::mpsc::channel(16);
            let task = tokio::spawn(runner.run(etx));
            let forward = async {
                while let Some(ev) = erx.recv().await {
                    let _ = tx.send(ev);
                }
            };
            tokio::select! {
                _ = stop_rx => {}
                _ = forward => {}
            }
            task.abort();
        });
    });

    // At start the runner reports what it read for every real server with a FILE_CHECK.
    let evs = next(&rx, 4);
    assert_eq!(
        summary(&evs),
        [
            (0, true, Some(10)),
            (1, true, Some(10)),
            (2, false, Some(10)),
            (3, true, Some(17))
        ]
    );
    assert!(
        evs[2]
            .cause
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("tracked file tf")),
        "{:?}",
        evs[0].cause
    );

    // 3: weight 0 -> rs 0 down; weight 2 -> rs 1 at 10 + 6; reverse weight 0 -> rs 2 up.
    set(&f, "3");
    assert_eq!(
        summary(&next(&rx, 3)),
        [
            (0, false, Some(10)),
            (1, true, Some(16)),
            (2, true, Some(10))
        ]
    );

    // -4: only rs 1's weight changes (10 - 8); rs 0 stays down, rs 2 up.
    set(&f, "-4");
    assert_eq!(summary(&next(&rx, 1)), [(1, true, Some(2))]);

    // -20: 10 - 40 is clamped to weight 0, the real server stays up.
    set(&f, "-20");
    assert_eq!(summary(&next(&rx, 1)), [(1, true, Some(0))]);

    // A removed file reads as 0.
    std::fs::remove_file(&f).unwrap();
    assert_eq!(
        summary(&next(&rx, 3)),
        [
            (0, true, Some(10)),
            (1, true, Some(10)),
            (2, false, Some(10))
        ]
    );
    assert!(
        rx.recv_timeout(Duration::from_millis(500)).is_err(),
        "nothing else changed"
    );

    let _ = stop_tx.send(());
    thread.join().unwrap();
}

/// The daemon (checker side only, in a namespace; no IPVS in the test kernel, the controller
/// logs its decisions all the same) logs keepalived's lines for FILE_CHECK transitions and
/// weight changes, and its SIGUSR1 dump shows the FILE_CHECK with its failure.
#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn the_daemon_logs_file_check_transitions_and_weights() {
    if !require_root("file check daemon") || !require_daemon("file check", Daemon::Rkeepalived) {
        return;
    }
    let lan = Lan::new(&["lb"]);
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("state");
    set(&f, "0");
    let conf = format!(
        "track_file tf {{\n file {}\n weight 0\n}}\n\
         virtual_server 10.9.9.9 80 {{\n protocol TCP\n\
         real_server 10.9.9.1 80 {{\n weight 5\n FILE_CHECK {{\n track_file tf\n }}\n }}\n\
         real_server 10.9.9.2 80 {{\n weight 5\n FILE_CHECK {{\n track_file tf\n weight 2\n }}\n }}\n}}\n",
        f.display()
    );
    let proc = lan
        .node("lb")
        .spawn_with(Daemon::Rkeepalived, &conf, &["-C"]);
    // "IPVS: N virtual service(s) configured", or the error without IPVS: the checkers follow.
    assert!(
        proc.wait_log("IPVS", Duration::from_secs(10)),
        "{}",
        proc.log_tail(20)
    );
    let vs = "[10.9.9.9]:tcp:80";
    set(&f, "1");
    for line in [
        format!("Removing service [10.9.9.1]:tcp:80 from VS {vs}"),
        format!("Changing weight from 5 to 7 for active service [10.9.9.2]:tcp:80 of VS {vs}"),
    ] {
        assert!(
            proc.wait_log(&line, Duration::from_secs(5)),
            "no `{line}`:\n{}",
            proc.log_tail(20)
        );
    }

    let dump = proc.signal_dump(libc::SIGUSR1, "keepalived_check.data");
    assert!(
        dump.contains(&format!(
            " {vs} -> [10.9.9.1]:tcp:80\n   Keepalive method = FILE_CHECK\n   \
             Service = FILE_CHECK on track_file tf\n   Enabled = Yes\n   Up = No\n   \
             Has run = Yes\n   Last result = failed: tracked file tf now FAULT state (value 1 in {})\n",
            f.display()
        )),
        "{dump}"
    );

    set(&f, "0");
    for line in [
        format!("Adding service [10.9.9.1]:tcp:80 to VS {vs}"),
        format!("Changing weight from 7 to 5 for active service [10.9.9.2]:tcp:80 of VS {vs}"),
    ] {
        assert!(
            proc.wait_log(&line, Duration::from_secs(5)),
            "no `{line}`:\n{}",
            proc.log_tail(20)
        );
    }
    proc.term();
}
