//! `HTTP_GET` and `SSL_GET` (keepalived check_http.c): one request per `url { }`; each must
//! answer with an accepted status code and, when `digest` is given, a body whose MD5
//! matches. `SSL_GET` is the same over TLS ([`super::tls`]), with SNI when `enable_sni`.

use super::{Attempt, Target};
use md5::{Digest, Md5};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Largest response body read (keepalived reads the whole page; this bounds memory).
pub const MAX_BODY: usize = 4 << 20;

/// `http_protocol 1.0|1.0C|1.1`: the config's type.
pub use crate::config::model::HttpProtocol;

/// One `url { path; digest; status_code; virtualhost }` block.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Url {
    pub path: String,
    /// `digest`: lowercase hex MD5 of the body.
    pub digest: Option<String>,
    /// `status_code` ranges (inclusive); empty means keepalived's default, 200-299.
    pub status_codes: Vec<(u16, u16)>,
    /// `virtualhost`: the Host header (default: the target address).
    pub virtualhost: Option<String>,
    /// `regex` / `regex_no_match` on the body.
    pub regex: Option<BodyRegex>,
}

/// A compiled `regex` of a `url { }` block (see `config::model::UrlRegex`).
#[derive(Debug, Clone)]
pub struct BodyRegex {
    re: regex::bytes::Regex,
    /// `regex_no_match`: pass when the pattern does not match.
    pub no_match: bool,
    /// `regex_min_offset`: bytes skipped before searching.
    pub min_offset: usize,
    /// `regex_max_offset`: a match must start before this offset.
    pub max_offset: Option<usize>,
}

impl PartialEq for BodyRegex {
    fn eq(&self, other: &Self) -> bool {
        self.re.as_str() == other.re.as_str()
            && (self.no_match, self.min_offset, self.max_offset)
                == (other.no_match, other.min_offset, other.max_offset)
    }
}

impl Eq for BodyRegex {}

impl std::hash::Hash for BodyRegex {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.re.as_str().hash(state);
        (self.no_match, self.min_offset, self.max_offset).hash(state);
    }
}

impl BodyRegex {
    /// Compiles `cfg` (errors: the pattern's syntax error; the loader has reported it already).
    pub fn new(cfg: &crate::config::model::UrlRegex) -> Result<BodyRegex, regex::Error> {
        Ok(BodyRegex {
            re: regex::bytes::Regex::new(&cfg.pattern)?,
            no_match: cfg.no_match,
            min_offset: cfg.min_offset,
            max_offset: cfg.max_offset,
        })
    }

    /// Whether the pattern matches in `body` (from `min_offset`, starting before `max_offset`).
    pub fn matches(&self, body: &[u8]) -> bool {
        if self.min_offset > body.len() {
            return false;
        }
        self.re
            .find_at(body, self.min_offset)
            .is_some_and(|m| self.max_offset.is_none_or(|max| m.start() < max))
    }

    /// `None` when the body passes, else why not.
    pub fn verdict(&self, body: &[u8]) -> Option<String> {
        match (self.matches(body), self.no_match) {
            (true, false) | (false, true) => None,
            (false, false) => Some(format!("regex '{}' did not match", self.re.as_str())),
            (true, true) => Some(format!("regex_no_match '{}' matched", self.re.as_str())),
        }
    }
}

/// `HTTP_GET { url { } ...; http_protocol; virtualhost }`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HttpCheck {
    pub target: Target,
    pub urls: Vec<Url>,
    pub protocol: HttpProtocol,
    /// Checker-level `virtualhost`.
    pub virtualhost: Option<String>,
    /// `SSL_GET`: the TLS client configuration (None for `HTTP_GET`).
    pub tls: Option<Tls>,
}

/// TLS settings of an `SSL_GET`.
#[derive(Debug, Clone)]
pub struct Tls {
    pub config: std::sync::Arc<rustls::ClientConfig>,
    /// `enable_sni`: send the virtualhost as SNI.
    pub sni: bool,
}

impl PartialEq for Tls {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.config, &other.config) && self.sni == other.sni
    }
}

impl Eq for Tls {}

impl std::hash::Hash for Tls {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        std::sync::Arc::as_ptr(&self.config).hash(state);
        self.sni.hash(state);
    }
}

/// A parsed HTTP response: status code and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Lowercase hex MD5 of `body` (what `digest` and `genhash` print).
pub fn md5_hex(body: &[u8]) -> String {
    Md5::digest(body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Splits a raw HTTP/1.x response into status and body. `None` if there is no status line.
pub fn parse_response(raw: &[u8]) -> Option<Response> {
    let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4);
    let (head, body) = match head_end {
        Some(e) => (&raw[..e], raw[e..].to_vec()),
        None => (raw, Vec::new()),
    };
    let line = head.split(|&b| b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?.trim_end();
    let mut parts = line.split_whitespace();
    if !parts.next()?.starts_with("HTTP/") {
        return None;
    }
    let status = parts.next()?.parse().ok()?;
    Some(Response { status, body })
}

/// The request keepalived sends for `path` with Host `host`.
pub fn request(path: &str, host: &str, protocol: HttpProtocol) -> String {
    let (version, close) = match protocol {
        HttpProtocol::Http10 => ("1.0", false),
        HttpProtocol::Http10C => ("1.0", true),
        HttpProtocol::Http11 => ("1.1", true),
    };
    let mut r =
        format!("GET {path} HTTP/{version}\r\nUser-Agent: KeepAliveClient\r\nHost: {host}\r\n");
    if close {
        r.push_str("Connection: close\r\n");
    }
    r.push_str("\r\n");
    r
}

impl Url {
    /// Whether `status` is accepted (default 200-299).
    pub fn accepts(&self, status: u16) -> bool {
        if self.status_codes.is_empty() {
            return (200..300).contains(&status);
        }
        self.status_codes
            .iter()
            .any(|&(lo, hi)| (lo..=hi).contains(&status))
    }
}

impl HttpCheck {
    /// Fetches every url; the first failure fails the attempt. `timeout` bounds each url.
    pub async fn attempt(&self, timeout: Duration) -> Attempt {
        for url in &self.urls {
            let host = url
                .virtualhost
                .clone()
                .or_else(|| self.virtualhost.clone())
                .unwrap_or_else(|| host_header(&self.target));
            let exchange = fetch(
                &self.target,
                self.tls.as_ref(),
                &url.path,
                &host,
                self.protocol,
                timeout,
            );
            let fetched = tokio::time::timeout(timeout, exchange).await;
            let resp = match fetched {
                Ok(Ok(r)) => r,
                Ok(Err(e)) => return self.fail(url, &e),
                Err(_) => return self.fail(url, "timeout"),
            };
            if !url.accepts(resp.status) {
                return self.fail(url, &format!("HTTP status code error ({})", resp.status));
            }
            if let Some(want) = &url.digest {
                let got = md5_hex(&resp.body);
                if !got.eq_ignore_ascii_case(want) {
                    return self.fail(
                        url,
                        &format!("MD5 digest error: got {got}, expected {want}"),
                    );
                }
            }
            if let Some(why) = url.regex.as_ref().and_then(|r| r.verdict(&resp.body)) {
                return self.fail(url, &why);
            }
        }
        Attempt::Ok
    }

    fn fail(&self, url: &Url, why: &str) -> Attempt {
        Attempt::Failed(format!(
            "HTTP_CHECK on service {} failed for url {}: {why}",
            super::describe_addr(self.target.addr),
            url.path
        ))
    }
}

/// GETs `path` from `target` (over TLS when `tls` is given) with Host `host` and returns
/// the parsed response (`timeout` bounds the connect; the caller bounds the whole exchange).
pub async fn fetch(
    target: &Target,
    tls: Option<&Tls>,
    path: &str,
    host: &str,
    protocol: HttpProtocol,
    timeout: Duration,
) -> Result<Response, String> {
    let tcp = target.connect(timeout).await?;
    let req = request(path, host, protocol);
    let raw = match tls {
        None => exchange(tcp, &req).await?,
        Some(t) => {
            let name = if t.sni {
                host.split(':').next().unwrap_or(host).to_string()
            } else {
                target.addr.ip().to_string()
            };
            let name = rustls::pki_types::ServerName::try_from(name).map_err(|e| e.to_string())?;
            let connector = tokio_rustls::TlsConnector::from(t.config.clone());
            let stream = connector
                .connect(name, tcp)
                .await
                .map_err(|e| format!("SSL handshake: {e}"))?;
            exchange(stream, &req).await?
        }
    };
    parse_response(&raw).ok_or_else(|| "invalid HTTP response".to_string())
}

/// Writes `req` and reads until the peer closes (or [`MAX_BODY`]). A TLS peer that closes
/// without close_notify still counts as the end of the response.
async fn exchange<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut s: S,
    req: &str,
) -> Result<Vec<u8>, String> {
    s.write_all(req.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = match s.read(&mut buf).await {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => 0,
            Err(e) => return Err(e.to_string()),
        };
        if n == 0 || raw.len() > MAX_BODY {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
    }
    Ok(raw)
}

/// The Host header keepalived sends when no `virtualhost` is set: the address, with the port
/// unless it is 80.
pub fn host_header(t: &Target) -> String {
    match t.addr {
        std::net::SocketAddr::V4(a) if a.port() == 80 => a.ip().to_string(),
        std::net::SocketAddr::V4(a) => format!("{}:{}", a.ip(), a.port()),
        std::net::SocketAddr::V6(a) if a.port() == 80 => format!("[{}]", a.ip()),
        std::net::SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_of_known_bodies() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_hex(b"hello\n"), "b1946ac92492d2347c6235b4d2611184");
    }

    #[test]
    fn responses_parse() {
        let r =
            parse_response(b"HTTP/1.0 503 Service Unavailable\r\nServer: x\r\n\r\nbusy").unwrap();
        assert_eq!(
            r,
            Response {
                status: 503,
                body: b"busy".to_vec()
            }
        );
        assert_eq!(
            parse_response(b"HTTP/1.1 204 No Content\r\n\r\n")
                .unwrap()
                .status,
            204
        );
        assert_eq!(parse_response(b"garbage"), None);
        assert_eq!(parse_response(b""), None);
    }

    #[test]
    fn status_code_ranges() {
        let mut u = Url {
            path: "/".into(),
            digest: None,
            status_codes: vec![],
            regex: None,
            virtualhost: None,
        };
        assert!(u.accepts(200) && u.accepts(299) && !u.accepts(301) && !u.accepts(500));
        u.status_codes = vec![(200, 200), (300, 302)];
        assert!(u.accepts(200) && u.accepts(301) && !u.accepts(204));
    }

    #[test]
    fn request_matches_keepalived() {
        assert_eq!(
            request("/health", "10.0.0.2:8080", HttpProtocol::Http10),
            "GET /health HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: 10.0.0.2:8080\r\n\r\n"
        );
        assert!(
            request("/", "h", HttpProtocol::Http11).contains("HTTP/1.1\r\n")
                && request("/", "h", HttpProtocol::Http11).contains("Connection: close\r\n")
        );
    }
}
