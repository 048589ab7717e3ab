//! Native Prometheus metrics (`--metrics-listen ADDR:PORT`, or `METRICS_LISTEN`), encoded by
//! prometheus-client and served by the daemon on a thread of its own.
//!
//! The names and labels of keepalived-exporter (mehdy/keepalived-exporter, collector.go), so
//! its dashboards keep working: `keepalived_up`, `keepalived_vrrp_state{iname,intf,vrid,
//! ip_address}` (0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT; one sample per VIP), and per instance
//! with labels `iname`, `intf`, `vrid`, `state` (`INIT|BACKUP|MASTER|FAULT`) the counters
//! `keepalived_advertisements_received_total`, `keepalived_advertisements_sent_total`,
//! `keepalived_become_master_total`, `keepalived_release_master_total`,
//! `keepalived_packet_length_errors_total`, `keepalived_advertisements_interval_errors_total`,
//! `keepalived_ip_ttl_errors_total`, `keepalived_invalid_type_received_total`,
//! `keepalived_address_list_errors_total`, `keepalived_authentication_invalid_total`,
//! `keepalived_authentication_mismatch_total`, `keepalived_authentication_failure_total`,
//! `keepalived_priority_zero_received_total`, `keepalived_priority_zero_sent_total`,
//! `keepalived_gratuitous_arp_delay_total`; per `vrrp_script` `keepalived_script_status{name}`
//! (0 BAD, 1 GOOD) and `keepalived_script_state{name}` (0 idle).
//!
//! Beyond the exporter: `keepalived_vrrp_effective_priority`, `keepalived_failover_duration_
//! seconds{iname}` (histogram: from the last advert heard to this node becoming MASTER),
//! `keepalived_script_duration_seconds{name}` (histogram of `vrrp_script` runs),
//! `keepalived_reloads_total{result="success|error"}`, `keepalived_last_reload_success`, and
//! from the checker side's view `keepalived_real_server_up{virtual_server,real_server}`,
//! `keepalived_checker_up{virtual_server,real_server,method}` and
//! `keepalived_checker_last_failure{virtual_server,real_server,method,reason}`, and read from
//! the kernel at each scrape while the IPVS side runs, `keepalived_ipvs_virtual_server_*` and
//! `keepalived_ipvs_real_server_*`: `connections`, `in_packets`, `out_packets`, `in_bytes`,
//! `out_bytes` (`_total` counters) and the kernel's rates (`connections_per_second`,
//! `in_packets_per_second`, ... gauges), labelled like keepalived's log
//! (`virtual_server="[10.0.0.100]:tcp:80"`, `real_server="[10.0.0.2]:tcp:80"`).
//!
//! The VRRP engine publishes a [`VrrpSnapshot`] (every second and on each state change); a
//! scrape encodes the last one and never touches the engine. Each connection has 5 s to send
//! its request and take the answer: a slow or silent client holds only its own task.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::net::SocketAddr;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracing::{info, warn};

/// One VRRP instance as the engine last published it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InstanceSnapshot {
    pub iname: String,
    pub intf: String,
    pub vrid: u8,
    /// keepalived's number: 0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT.
    pub state: u8,
    pub effective_priority: u8,
    pub vips: Vec<String>,
    pub stats: crate::vrrp::stats::Stats,
    /// `garp_master_delay` in seconds (keepalived's `garp_delay`).
    pub garp_delay: u64,
    /// Packets that did not decode as VRRP (counted by the engine as a whole).
    pub packet_len_err: u64,
}

/// One `vrrp_script`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScriptSnapshot {
    pub name: String,
    pub good: bool,
}

/// What the VRRP engine publishes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VrrpSnapshot {
    pub instances: Vec<InstanceSnapshot>,
    pub scripts: Vec<ScriptSnapshot>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InstanceLabels {
    iname: String,
    intf: String,
    vrid: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VipLabels {
    iname: String,
    intf: String,
    vrid: String,
    ip_address: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NameLabels {
    name: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InameLabels {
    iname: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VsLabels {
    virtual_server: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RsLabels {
    virtual_server: String,
    real_server: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CheckerLabels {
    virtual_server: String,
    real_server: String,
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FailureLabels {
    virtual_server: String,
    real_server: String,
    method: String,
    reason: String,
}

type HistFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn failover_histogram() -> Histogram {
    // 10 ms .. ~40 s.
    Histogram::new(exponential_buckets(0.01, 2.0, 13))
}

fn script_histogram() -> Histogram {
    // 1 ms .. ~32 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// The process's metrics: what is accumulated here, and the last snapshots.
struct Metrics {
    vrrp: Mutex<Option<VrrpSnapshot>>,
    checks: Mutex<Option<crate::ipvs::controller::SharedCheckData>>,
    failover: HistFamily<InameLabels>,
    scripts: HistFamily<NameLabels>,
    reloads: Family<ResultLabels, Counter>,
    last_reload_ok: Gauge,
}

static METRICS: OnceLock<Metrics> = OnceLock::new();

fn metrics() -> &'static Metrics {
    METRICS.get_or_init(|| Metrics {
        vrrp: Mutex::new(None),
        checks: Mutex::new(None),
        failover: Family::new_with_constructor(failover_histogram),
        scripts: Family::new_with_constructor(script_histogram),
        reloads: Family::default(),
        last_reload_ok: Gauge::default(),
    })
}

/// Whether an endpoint serves the metrics (the engine publishes only then).
pub fn enabled() -> bool {
    ENABLED.get().is_some()
}

static ENABLED: OnceLock<()> = OnceLock::new();

/// The engine's latest view.
pub fn publish_vrrp(snapshot: VrrpSnapshot) {
    *metrics()
        .vrrp
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = Some(snapshot);
}

/// The checker side's data (replaced on reload by the controller itself).
pub fn set_check_data(data: crate::ipvs::controller::SharedCheckData) {
    *metrics()
        .checks
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = Some(data);
}

/// Instance `iname` became MASTER `secs` after the last advert it heard.
pub fn observe_failover(iname: &str, secs: f64) {
    metrics()
        .failover
        .get_or_create(&InameLabels {
            iname: iname.to_string(),
        })
        .observe(secs);
}

/// One run of `vrrp_script` `name` took `secs`.
pub fn observe_script(name: &str, secs: f64) {
    metrics()
        .scripts
        .get_or_create(&NameLabels {
            name: name.to_string(),
        })
        .observe(secs);
}

/// A reload (SIGHUP) finished: `ok` when the new file was taken.
pub fn reloaded(ok: bool) {
    let m = metrics();
    m.reloads
        .get_or_create(&ResultLabels {
            result: if ok { "success" } else { "error" }.into(),
        })
        .inc();
    m.last_reload_ok.set(i64::from(ok));
}

const STATES: [&str; 4] = ["INIT", "BACKUP", "MASTER", "FAULT"];

/// The kernel's IPVS counters: per service, its own and its destinations'.
pub type IpvsCounters = Vec<crate::ipvs::genl::ServiceStats>;

/// Reads the IPVS counters when the IPVS side runs (blocking: a netlink dump).
pub fn read_ipvs() -> Option<IpvsCounters> {
    metrics()
        .checks
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()?;
    crate::ipvs::genl::IpvsSocket::open().ok()?.stats().ok()
}

/// The text exposition of everything known now (OpenMetrics text, which Prometheus and
/// promtool read).
pub fn encode() -> String {
    encode_with(None)
}

fn register_ipvs(reg: &mut Registry, ipvs: &IpvsCounters) {
    use crate::ipvs::genl::IpvsStats;
    type Get = fn(&IpvsStats) -> u64;
    let totals: [(&str, &str, Get); 5] = [
        ("connections", "Connections", |s| s.conns),
        ("in_packets", "Packets in", |s| s.inpkts),
        ("out_packets", "Packets out", |s| s.outpkts),
        ("in_bytes", "Bytes in", |s| s.inbytes),
        ("out_bytes", "Bytes out", |s| s.outbytes),
    ];
    let rates: [(&str, &str, Get); 5] = [
        ("connections_per_second", "Connections per second", |s| {
            s.cps
        }),
        ("in_packets_per_second", "Packets in per second", |s| {
            s.inpps
        }),
        ("out_packets_per_second", "Packets out per second", |s| {
            s.outpps
        }),
        ("in_bytes_per_second", "Bytes in per second", |s| s.inbps),
        ("out_bytes_per_second", "Bytes out per second", |s| s.outbps),
    ];
    let vs_tot: Vec<Family<VsLabels, Counter>> = totals.iter().map(|_| Family::default()).collect();
    let vs_rate: Vec<Family<VsLabels, Gauge>> = rates.iter().map(|_| Family::default()).collect();
    let rs_tot: Vec<Family<RsLabels, Counter>> = totals.iter().map(|_| Family::default()).collect();
    let rs_rate: Vec<Family<RsLabels, Gauge>> = rates.iter().map(|_| Family::default()).collect();
    for (key, st, dests) in ipvs {
        let vs = crate::ipvs::desired::fmt_service(key);
        let proto = vs.split(':').nth(1).unwrap_or("tcp").to_string();
        let l = VsLabels {
            virtual_server: vs.clone(),
        };
        for ((_, _, g), f) in totals.iter().zip(&vs_tot) {
            f.get_or_create(&l).inc_by(g(st));
        }
        for ((_, _, g), f) in rates.iter().zip(&vs_rate) {
            f.get_or_create(&l).set(g(st) as i64);
        }
        for (dk, ds) in dests {
            let l = RsLabels {
                virtual_server: vs.clone(),
                real_server: format!("[{}]:{proto}:{}", dk.addr, dk.port),
            };
            for ((_, _, g), f) in totals.iter().zip(&rs_tot) {
                f.get_or_create(&l).inc_by(g(ds));
            }
            for ((_, _, g), f) in rates.iter().zip(&rs_rate) {
                f.get_or_create(&l).set(g(ds) as i64);
            }
        }
    }
    for ((n, h, _), f) in totals.iter().zip(vs_tot) {
        reg.register(format!("keepalived_ipvs_virtual_server_{n}"), *h, f);
    }
    for ((n, h, _), f) in rates.iter().zip(vs_rate) {
        reg.register(format!("keepalived_ipvs_virtual_server_{n}"), *h, f);
    }
    for ((n, h, _), f) in totals.iter().zip(rs_tot) {
        reg.register(format!("keepalived_ipvs_real_server_{n}"), *h, f);
    }
    for ((n, h, _), f) in rates.iter().zip(rs_rate) {
        reg.register(format!("keepalived_ipvs_real_server_{n}"), *h, f);
    }
}

/// [`encode`] with the IPVS counters read by [`read_ipvs`] (none: no IPVS families).
pub fn encode_with(ipvs: Option<IpvsCounters>) -> String {
    let m = metrics();
    let mut reg = Registry::default();
    let up: Gauge = Gauge::default();
    up.set(1);
    reg.register("keepalived_up", "Status", up);
    let vrrp = m
        .vrrp
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
        .unwrap_or_default();
    let state: Family<VipLabels, Gauge> = Family::default();
    let prio: Family<VipLabels, Gauge> = Family::default();
    type Get = fn(&InstanceSnapshot) -> u64;
    let counters: [(&str, &str, Get); 15] = [
        (
            "keepalived_advertisements_received",
            "Advertisements received",
            |i| i.stats.advert_rcvd,
        ),
        (
            "keepalived_advertisements_sent",
            "Advertisements sent",
            |i| i.stats.advert_sent,
        ),
        ("keepalived_become_master", "Became master", |i| {
            i.stats.become_master
        }),
        ("keepalived_release_master", "Released master", |i| {
            i.stats.release_master
        }),
        (
            "keepalived_packet_length_errors",
            "Packet length errors",
            |i| i.packet_len_err,
        ),
        (
            "keepalived_advertisements_interval_errors",
            "Advertisement interval errors",
            |i| i.stats.advert_interval_err,
        ),
        ("keepalived_ip_ttl_errors", "TTL errors", |i| {
            i.stats.ip_ttl_err
        }),
        (
            "keepalived_invalid_type_received",
            "Invalid type errors",
            |i| i.stats.invalid_type_rcvd,
        ),
        (
            "keepalived_address_list_errors",
            "Address list errors",
            |i| i.stats.addr_list_err,
        ),
        (
            "keepalived_authentication_invalid",
            "Authentication invalid",
            |i| i.stats.invalid_authtype,
        ),
        (
            "keepalived_authentication_mismatch",
            "Authentication mismatch",
            |i| i.stats.authtype_mismatch,
        ),
        (
            "keepalived_authentication_failure",
            "Authentication failure",
            |i| i.stats.auth_failure,
        ),
        (
            "keepalived_priority_zero_received",
            "Priority zero received",
            |i| i.stats.pri_zero_rcvd,
        ),
        ("keepalived_priority_zero_sent", "Priority zero sent", |i| {
            i.stats.pri_zero_sent
        }),
        (
            "keepalived_gratuitous_arp_delay",
            "Gratuitous ARP delay",
            |i| i.garp_delay,
        ),
    ];
    let families: Vec<Family<InstanceLabels, Counter>> =
        counters.iter().map(|_| Family::default()).collect();
    for i in &vrrp.instances {
        let labels = InstanceLabels {
            iname: i.iname.clone(),
            intf: i.intf.clone(),
            vrid: i.vrid.to_string(),
            state: STATES.get(usize::from(i.state)).unwrap_or(&"").to_string(),
        };
        for ((_, _, get), f) in counters.iter().zip(&families) {
            f.get_or_create(&labels).inc_by(get(i));
        }
        for vip in &i.vips {
            let l = VipLabels {
                iname: i.iname.clone(),
                intf: i.intf.clone(),
                vrid: i.vrid.to_string(),
                ip_address: vip.clone(),
            };
            state.get_or_create(&l).set(i64::from(i.state));
            prio.get_or_create(&l).set(i64::from(i.effective_priority));
        }
    }
    reg.register("keepalived_vrrp_state", "State of vrrp", state);
    reg.register(
        "keepalived_vrrp_effective_priority",
        "Effective priority of the instance",
        prio,
    );
    for ((name, help, _), f) in counters.iter().zip(families) {
        reg.register(*name, *help, f);
    }
    let status: Family<NameLabels, Gauge> = Family::default();
    let sstate: Family<NameLabels, Gauge> = Family::default();
    for s in &vrrp.scripts {
        let l = NameLabels {
            name: s.name.clone(),
        };
        status.get_or_create(&l).set(i64::from(s.good));
        sstate.get_or_create(&l).set(0);
    }
    reg.register("keepalived_script_status", "Tracker Script Status", status);
    reg.register("keepalived_script_state", "Tracker Script State", sstate);
    reg.register(
        "keepalived_failover_duration_seconds",
        "From the last advert heard to becoming MASTER",
        m.failover.clone(),
    );
    reg.register(
        "keepalived_script_duration_seconds",
        "Duration of vrrp_script runs",
        m.scripts.clone(),
    );
    reg.register(
        "keepalived_reloads",
        "Reloads (SIGHUP) by result",
        m.reloads.clone(),
    );
    reg.register(
        "keepalived_last_reload_success",
        "1 when the last reload took the new file (0 also before any reload)",
        m.last_reload_ok.clone(),
    );
    register_checks(&mut reg, m);
    if let Some(ipvs) = &ipvs {
        register_ipvs(&mut reg, ipvs);
    }
    let mut out = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &reg) {
        warn!("metrics: cannot encode: {e}");
    }
    out
}

fn register_checks(reg: &mut Registry, m: &Metrics) {
    let data = m
        .checks
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
        .map(|d| d.read().unwrap_or_else(PoisonError::into_inner).clone());
    let rs_up: Family<RsLabels, Gauge> = Family::default();
    let ch_up: Family<CheckerLabels, Gauge> = Family::default();
    let failure: Family<FailureLabels, Gauge> = Family::default();
    if let Some(d) = data {
        for (id, &(vi, ri)) in d.index.iter().enumerate() {
            let Some(vs) = d.config.ipvs.virtual_servers.get(vi) else {
                continue;
            };
            let Some(rs) = vs.real_servers.get(ri) else {
                continue;
            };
            let vs_name = crate::check::dump::fmt_vs(vs);
            let rs_name = crate::check::dump::fmt_rs(vs, rs);
            let mut all_up = true;
            for e in d.board.of(id) {
                let s = e.record.snapshot();
                all_up &= s.up;
                ch_up
                    .get_or_create(&CheckerLabels {
                        virtual_server: vs_name.clone(),
                        real_server: rs_name.clone(),
                        method: e.method().to_string(),
                    })
                    .set(i64::from(s.up));
                if let Some(reason) = s.last_failure {
                    failure
                        .get_or_create(&FailureLabels {
                            virtual_server: vs_name.clone(),
                            real_server: rs_name.clone(),
                            method: e.method().to_string(),
                            reason: reason.to_string(),
                        })
                        .set(1);
                }
            }
            rs_up
                .get_or_create(&RsLabels {
                    virtual_server: vs_name.clone(),
                    real_server: rs_name,
                })
                .set(i64::from(all_up));
        }
    }
    reg.register(
        "keepalived_real_server_up",
        "1 while every checker of the real server is up",
        rs_up,
    );
    reg.register("keepalived_checker_up", "State of each checker", ch_up);
    reg.register(
        "keepalived_checker_last_failure",
        "The last failure of each checker (reason label), 1 once it failed",
        failure,
    );
}

/// How long a client has to send its request, and to take the answer.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);

/// Binds `addr` now (an error is returned to the caller) and serves `GET /metrics` on a
/// thread of its own with its own runtime; every connection is a task with
/// `CLIENT_TIMEOUT`.
pub fn serve(addr: SocketAddr) -> Result<(), String> {
    let listener = std::net::TcpListener::bind(addr)
        .map_err(|e| format!("metrics: cannot listen on {addr}: {e}"))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("metrics: {e}"))?;
    let _ = ENABLED.set(());
    metrics();
    std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    warn!("metrics: cannot start the runtime: {e}");
                    return;
                }
            };
            rt.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => l,
                    Err(e) => {
                        warn!("metrics: {e}");
                        return;
                    }
                };
                loop {
                    match listener.accept().await {
                        Ok((conn, _)) => {
                            tokio::spawn(async move {
                                let _ = tokio::time::timeout(CLIENT_TIMEOUT, answer(conn)).await;
                            });
                        }
                        Err(e) => {
                            warn!("metrics: accept: {e}");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                }
            });
        })
        .map_err(|e| format!("metrics: cannot start its thread: {e}"))?;
    info!("Metrics on http://{addr}/metrics");
    Ok(())
}

async fn answer(mut conn: tokio::net::TcpStream) -> std::io::Result<()> {
    let mut req = Vec::new();
    let mut buf = [0u8; 1024];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") && req.len() < 8192 {
        let n = conn.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        req.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&req);
    // Prometheus asks for OpenMetrics; anything else (curl, promtool) gets the classic text.
    let openmetrics = line.lines().any(|l| {
        l.to_ascii_lowercase().starts_with("accept:") && l.contains("application/openmetrics-text")
    });
    let mut words = line.split_whitespace();
    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let (status, ctype, body) = if method != "GET" && method != "HEAD" {
        (
            "405 Method Not Allowed",
            "text/plain",
            "GET only\n".to_string(),
        )
    } else if path == "/metrics" || path.starts_with("/metrics?") || path == "/" {
        let ipvs = tokio::task::spawn_blocking(read_ipvs).await.ok().flatten();
        let text = encode_with(ipvs);
        if openmetrics {
            (
                "200 OK",
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                text,
            )
        } else {
            (
                "200 OK",
                "text/plain; version=0.0.4; charset=utf-8",
                to_classic_text(&text),
            )
        }
    } else {
        ("404 Not Found", "text/plain", "see /metrics\n".to_string())
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).await?;
    if method != "HEAD" {
        conn.write_all(body.as_bytes()).await?;
    }
    conn.shutdown().await
}

/// OpenMetrics text as Prometheus' classic text format (0.0.4): a counter's HELP and TYPE
/// name its `_total` samples, and the `# EOF` / `# UNIT` lines go.
pub fn to_classic_text(om: &str) -> String {
    let mut out = String::with_capacity(om.len());
    let mut help: Option<&str> = None;
    for line in om.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        if line.starts_with("# HELP ") {
            if let Some(h) = help.replace(line) {
                out.push_str(h);
                out.push('\n');
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ")
            && let Some(name) = rest.strip_suffix(" counter")
        {
            if let Some(h) = help.take() {
                out.push_str(&h.replacen(name, &format!("{name}_total"), 1));
                out.push('\n');
            }
            out.push_str(&format!("# TYPE {name}_total counter\n"));
            continue;
        }
        if let Some(h) = help.take() {
            out.push_str(h);
            out.push('\n');
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_the_exporter_names() {
        publish_vrrp(VrrpSnapshot {
            instances: vec![InstanceSnapshot {
                iname: "VI_1".into(),
                intf: "eth0".into(),
                vrid: 51,
                state: 2,
                effective_priority: 100,
                vips: vec!["10.0.0.1".into()],
                stats: crate::vrrp::stats::Stats {
                    advert_sent: 7,
                    ..Default::default()
                },
                ..Default::default()
            }],
            scripts: vec![ScriptSnapshot {
                name: "chk".into(),
                good: true,
            }],
        });
        observe_failover("VI_1", 3.2);
        let ipvs: IpvsCounters = vec![(
            crate::ipvs::model::ServiceKey::Addr {
                protocol: 6,
                addr: "10.0.0.100".parse().unwrap(),
                port: 80,
            },
            crate::ipvs::genl::IpvsStats {
                conns: 5,
                ..Default::default()
            },
            vec![(
                crate::ipvs::model::DestKey {
                    addr: "10.0.0.2".parse().unwrap(),
                    port: 8080,
                },
                crate::ipvs::genl::IpvsStats {
                    inbytes: 1000,
                    cps: 2,
                    ..Default::default()
                },
            )],
        )];
        let classic = to_classic_text(&encode_with(Some(ipvs)));
        for needle in [
            "keepalived_ipvs_virtual_server_connections_total{virtual_server=\"[10.0.0.100]:tcp:80\"} 5",
            "keepalived_ipvs_real_server_in_bytes_total{virtual_server=\"[10.0.0.100]:tcp:80\",real_server=\"[10.0.0.2]:tcp:8080\"} 1000",
            "keepalived_ipvs_real_server_connections_per_second{virtual_server=\"[10.0.0.100]:tcp:80\",real_server=\"[10.0.0.2]:tcp:8080\"} 2",
            "# TYPE keepalived_ipvs_virtual_server_connections_total counter",
        ] {
            assert!(classic.contains(needle), "no {needle:?} in\n{classic}");
        }
        reloaded(false);
        let text = encode();
        for needle in [
            "keepalived_up 1",
            "keepalived_vrrp_state{iname=\"VI_1\",intf=\"eth0\",vrid=\"51\",ip_address=\"10.0.0.1\"} 2",
            "keepalived_advertisements_sent_total{iname=\"VI_1\",intf=\"eth0\",vrid=\"51\",state=\"MASTER\"} 7",
            "keepalived_script_status{name=\"chk\"} 1",
            "keepalived_failover_duration_seconds_count{iname=\"VI_1\"} 1",
            "keepalived_reloads_total{result=\"error\"} 1",
        ] {
            assert!(text.contains(needle), "no {needle:?} in\n{text}");
        }
    }
}
