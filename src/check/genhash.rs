//! `rkeepalived -T|--genhash`: keepalived's genhash. Fetches a URL and prints the MD5 digest
//! of its body, the value an `HTTP_GET` `digest` expects. Same options as genhash(1).

use super::Target;
use super::http::{self, HttpProtocol};
use clap::Parser;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

/// genhash's command line (`genhash -s ADDR -p PORT -u URL [-V HOST] [-P 1.0|1.0c|1.1] [-t S]`).
#[derive(Debug, Parser)]
#[command(name = "rkeepalived --genhash", disable_help_flag = false)]
pub struct GenhashCli {
    /// Remote server address.
    #[arg(short = 's', long = "server")]
    pub server: IpAddr,
    /// Remote server port (default 80).
    #[arg(short = 'p', long = "port", default_value_t = 80)]
    pub port: u16,
    /// URL path to fetch.
    #[arg(short = 'u', long = "url")]
    pub url: String,
    /// Host header to send.
    #[arg(short = 'V', long = "use-virtualhost")]
    pub virtualhost: Option<String>,
    /// HTTP protocol: 1.0, 1.0c (with Connection: close) or 1.1.
    #[arg(short = 'P', long = "protocol", default_value = "1.0")]
    pub protocol: String,
    /// Timeout in seconds.
    #[arg(short = 't', long = "timeout", default_value_t = 5)]
    pub timeout: u64,
    /// Firewall mark for the connection.
    #[arg(short = 'm', long = "fwmark")]
    pub fwmark: Option<u32>,
    /// Use SSL (no certificate verification, as keepalived's genhash).
    #[arg(short = 'S', long = "use-ssl")]
    pub ssl: bool,
    /// Send the virtualhost as SNI in the TLS handshake.
    #[arg(short = 'I', long = "use-sni")]
    pub sni: bool,
    /// Verbose output: status line and body length before the digest.
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,
}

/// Runs genhash with `args` (everything after `-T`/`--genhash`); prints the digest.
pub fn main(args: impl IntoIterator<Item = std::ffi::OsString>) -> ExitCode {
    let cli = match GenhashCli::try_parse_from(std::iter::once("genhash".into()).chain(args)) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(1);
        }
    };
    let protocol = match cli.protocol.to_ascii_lowercase().as_str() {
        "1.0" => HttpProtocol::Http10,
        "1.0c" => HttpProtocol::Http10C,
        "1.1" => HttpProtocol::Http11,
        other => {
            eprintln!("genhash: invalid protocol '{other}' (1.0, 1.0c or 1.1)");
            return ExitCode::from(1);
        }
    };
    let mut target = Target::new(SocketAddr::new(cli.server, cli.port));
    if let Some(mark) = cli.fwmark {
        target.bind.get_or_insert_default().fwmark = Some(mark);
    }
    let host = cli
        .virtualhost
        .clone()
        .unwrap_or_else(|| http::host_header(&target));
    let timeout = Duration::from_secs(cli.timeout.max(1));
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return ExitCode::from(1);
    };
    let tls = match cli.ssl.then(|| super::tls::client_config(None)).transpose() {
        Ok(c) => c.map(|config| http::Tls {
            config,
            sni: cli.sni,
        }),
        Err(e) => {
            eprintln!("genhash: {e}");
            return ExitCode::from(1);
        }
    };
    let exchange = http::fetch(&target, tls.as_ref(), &cli.url, &host, protocol, timeout);
    let result = rt.block_on(async { tokio::time::timeout(timeout, exchange).await });
    match result {
        Ok(Ok(resp)) => {
            if cli.verbose {
                println!(
                    "HTTP status: {}, body: {} bytes",
                    resp.status,
                    resp.body.len()
                );
            }
            println!("{}", http::md5_hex(&resp.body));
            ExitCode::SUCCESS
        }
        Ok(Err(e)) => {
            eprintln!("genhash: {}: {e}", super::describe_addr(target.addr));
            ExitCode::from(1)
        }
        Err(_) => {
            eprintln!("genhash: {}: timeout", super::describe_addr(target.addr));
            ExitCode::from(1)
        }
    }
}
