//! Proxies: which to use, and the connector that tunnels through one.
//!
//! The settings are read from the environment the way curl reads them; a loopback host is
//! never proxied. `http://` (or scheme-less) and `https://` proxies are spoken to with
//! HTTP CONNECT, an `https://` one in TLS verified against the client's roots; any other
//! scheme is refused, never ignored. `is_loopback` decides, for the whole crate, which
//! hosts cannot leave the machine.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use http::Uri;
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::proxy::matcher::{Intercept, Matcher};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tower_service::Service;

/// Proxy settings, read from the environment the way curl reads them.
#[derive(Debug, Clone, Default)]
pub struct Proxy {
    pub http: Option<String>,
    pub https: Option<String>,
    pub no_proxy: Option<String>,
}

/// Where each proxy setting is read from, first found first: upper case, then lower case.
const HTTP_PROXY_VARIABLES: [&str; 4] = ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"];
const HTTPS_PROXY_VARIABLES: [&str; 4] = ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"];
const NO_PROXY_VARIABLES: [&str; 2] = ["NO_PROXY", "no_proxy"];

/// The first of `names` that is set and not blank.
fn first_set(env: &dyn Fn(&str) -> Option<String>, names: &[&'static str]) -> Option<&'static str> {
    names
        .iter()
        .copied()
        .find(|n| env(n).is_some_and(|v| !v.trim().is_empty()))
}

/// The variable the proxy for `scheme` (`http` or `https`) is read from, if any.
pub fn proxy_variable(env: &dyn Fn(&str) -> Option<String>, scheme: &str) -> Option<&'static str> {
    match scheme {
        "http" => first_set(env, &HTTP_PROXY_VARIABLES),
        "https" => first_set(env, &HTTPS_PROXY_VARIABLES),
        _ => None,
    }
}

impl Proxy {
    /// `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY`, upper or lower case.
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Self {
        let read = |names: &[&'static str]| first_set(env, names).and_then(env);
        Self {
            http: read(&HTTP_PROXY_VARIABLES),
            https: read(&HTTPS_PROXY_VARIABLES),
            no_proxy: read(&NO_PROXY_VARIABLES),
        }
    }

    /// The first setting that cannot be used, as (`http` or `https`, why). Nothing is
    /// connected to before this is known.
    pub fn fault(&self) -> Option<(&'static str, String)> {
        [("http", &self.http), ("https", &self.https)]
            .into_iter()
            .find_map(|(scheme, value)| Some((scheme, proxy_fault(value.as_deref()?)?)))
    }

    /// Does any setting name an `https://` proxy (whose certificate needs the roots)?
    pub(super) fn speaks_tls(&self) -> bool {
        [&self.http, &self.https].into_iter().flatten().any(|v| {
            v.trim()
                .get(..8)
                .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
        })
    }

    fn matcher(&self) -> Matcher {
        let mut b = Matcher::builder();
        if let Some(v) = &self.http {
            b = b.http(v.clone());
        }
        if let Some(v) = &self.https {
            b = b.https(v.clone());
        }
        if let Some(v) = &self.no_proxy {
            b = b.no(v.clone());
        }
        b.build()
    }
}

/// Why a proxy URL cannot be used, or `None` when it can. `http://` (or no scheme, as
/// curl reads it) and `https://` proxies are spoken to with HTTP CONNECT; anything else
/// is refused rather than ignored. The reason never repeats the URL, which may hold a
/// password.
pub fn proxy_fault(raw: &str) -> Option<String> {
    const SPOKEN: &str = "app-token speaks HTTP CONNECT to http:// and https:// proxies only";
    let raw = raw.trim();
    let scheme = raw
        .split_once("://")
        .map(|(scheme, _)| scheme.to_ascii_lowercase());
    match scheme.as_deref() {
        None | Some("http") | Some("https") => {}
        Some(s) if s.starts_with("socks") => {
            return Some(format!("is a SOCKS proxy ({s}://); {SPOKEN}"));
        }
        Some(s) => return Some(format!("has the scheme {s}://; {SPOKEN}")),
    }
    match raw.parse::<Uri>() {
        Ok(uri) if uri.host().is_some_and(|h| !h.is_empty()) => None,
        _ => Some("is not a proxy URL such as http://HOST:PORT".to_string()),
    }
}

/// Is `host` (as a URL gives it: an IPv6 address in brackets) a loopback destination:
/// `localhost`, an address in `127.0.0.0/8`, `::1`, or an IPv4-mapped `::ffff:127.x.y.z`?
/// Decided by the name as written, never by resolving it, and for two uses at once:
/// which hosts may be plain http (`config::validate_url`) and which are never proxied.
/// So only what cannot leave the machine whatever DNS says counts: `localhost.` (the
/// rooted name), `localhost.example`, `127.0.0.1.example` or `127.1` do not, for the
/// resolver asks DNS about them (glibc reads `/etc/hosts` for `localhost` only).
pub fn is_loopback(host: &str) -> bool {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

/// The proxy to reach `dst` through, if any: never one for a loopback destination,
/// whatever the settings say; else as the settings (and `NO_PROXY`) say.
fn proxy_for(matcher: &Matcher, dst: &Uri) -> Option<Intercept> {
    match dst.host() {
        Some(host) if is_loopback(host) => None,
        _ => matcher.intercept(dst),
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// A connection: plain TCP, or TCP in TLS to an `https://` proxy (the tunnel inside it).
type Stream = MaybeHttpsStream<TokioIo<TcpStream>>;
type Connecting = Pin<Box<dyn Future<Output = Result<Stream, BoxError>> + Send>>;

/// Connects directly, or through an HTTP CONNECT tunnel when the proxy settings say so.
#[derive(Clone)]
pub struct ProxyConnector {
    direct: HttpConnector,
    /// To an `https://` proxy: TLS first (the same roots), then CONNECT inside it.
    to_tls_proxy: HttpsConnector<HttpConnector>,
    matcher: Arc<Matcher>,
}

impl ProxyConnector {
    /// Connects with `direct`, and to an `https://` proxy with `to_tls_proxy`, as `proxy` says.
    pub(super) fn new(
        direct: HttpConnector,
        to_tls_proxy: HttpsConnector<HttpConnector>,
        proxy: &Proxy,
    ) -> Self {
        Self {
            direct,
            to_tls_proxy,
            matcher: Arc::new(proxy.matcher()),
        }
    }
}

impl Service<Uri> for ProxyConnector {
    type Response = Stream;
    type Error = BoxError;
    type Future = Connecting;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.direct.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        match proxy_for(&self.matcher, &dst) {
            Some(intercept) if intercept.uri().scheme() == Some(&http::uri::Scheme::HTTPS) => {
                let mut tunnel = Tunnel::new(intercept.uri().clone(), self.to_tls_proxy.clone());
                if let Some(auth) = intercept.basic_auth() {
                    tunnel = tunnel.with_auth(auth.clone());
                }
                Box::pin(async move { tunnel.call(dst).await.map_err(Into::into) })
            }
            Some(intercept) => {
                let mut tunnel = Tunnel::new(intercept.uri().clone(), self.direct.clone());
                if let Some(auth) = intercept.basic_auth() {
                    tunnel = tunnel.with_auth(auth.clone());
                }
                Box::pin(async move {
                    let tcp = tunnel.call(dst).await?;
                    Ok(MaybeHttpsStream::Http(tcp))
                })
            }
            None => {
                let connecting = self.direct.call(dst);
                Box::pin(async move { Ok(MaybeHttpsStream::Http(connecting.await?)) })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::{Options, Transport};
    use std::time::Duration;

    #[test]
    fn proxy_settings_from_either_case() {
        let env = |k: &str| match k {
            "https_proxy" => Some("http://proxy:3128".to_string()),
            "NO_PROXY" => Some("internal.example".to_string()),
            _ => None,
        };
        let p = Proxy::from_env(&env);
        assert_eq!(p.https.as_deref(), Some("http://proxy:3128"));
        assert_eq!(p.http, None);
        let m = p.matcher();
        assert!(m
            .intercept(&"https://api.github.com/x".parse().unwrap())
            .is_some());
        assert!(m
            .intercept(&"https://ghe.internal.example/x".parse().unwrap())
            .is_none());
        assert!(m
            .intercept(&"http://api.github.com/x".parse().unwrap())
            .is_none());
    }

    fn proxied(p: &Proxy, url: &str) -> Option<String> {
        proxy_for(&p.matcher(), &url.parse().unwrap()).map(|i| i.uri().to_string())
    }

    #[test]
    fn a_loopback_destination_is_never_proxied() {
        let p = Proxy {
            http: Some("http://proxy.example:3128".into()),
            https: Some("https://proxy.example:3129".into()),
            no_proxy: None,
        };
        for url in [
            "http://127.0.0.1:8080/app",
            "https://127.0.0.1/app",
            "http://127.8.9.10:1/",
            "http://[::1]:8080/",
            "http://[::ffff:127.0.0.1]:8080/",
            "http://localhost:8080/",
            "https://LOCALHOST/",
        ] {
            assert_eq!(proxied(&p, url), None, "{url}");
        }
        for url in [
            "http://github.example:8080/",
            "http://128.0.0.1/",
            "http://localhost.example/",
            // The rooted name is DNS's to answer: the proxy resolves it (see `is_loopback`).
            "https://localhost./",
            "http://[::2]/",
        ] {
            assert!(proxied(&p, url).is_some(), "{url}");
        }
        assert_eq!(
            proxied(&p, "https://api.github.com/").as_deref(),
            Some("https://proxy.example:3129/")
        );
    }

    #[test]
    fn loopback_is_what_cannot_leave_the_machine_whatever_dns_says() {
        for host in [
            "localhost",
            "LocalHost",
            "127.0.0.1",
            "127.8.9.10",
            "127.255.255.254",
            "::1",
            "[::1]",
            "::ffff:127.0.0.1",
            "[::ffff:127.0.0.1]",
            "[::ffff:7f00:1]",
        ] {
            assert!(is_loopback(host), "{host}");
        }
        for host in [
            "localhost.",
            "LOCALHOST.",
            "localhost.example",
            "127.0.0.1.example",
            "localhost:80",
            "127.1",
            "0x7f.0.0.1",
            "128.0.0.1",
            "::2",
            "[::ffff:128.0.0.1]",
            "[[::1]]",
            "[::1",
            "",
        ] {
            assert!(!is_loopback(host), "{host}");
        }
    }

    #[test]
    fn no_proxy_names_hosts_domains_and_addresses() {
        let p = Proxy {
            https: Some("http://proxy.example:3128".into()),
            no_proxy: Some("ghe.internal, .corp.example, 10.0.0.0/8".into()),
            ..Proxy::default()
        };
        assert!(proxied(&p, "https://ghe.internal/api/v3").is_none());
        assert!(proxied(&p, "https://api.ghe.internal/").is_none());
        assert!(proxied(&p, "https://kms.corp.example/").is_none());
        assert!(proxied(&p, "https://10.1.2.3/").is_none());
        assert!(proxied(&p, "https://notghe.internal/").is_some());
        assert!(proxied(&p, "https://api.github.com/").is_some());
        let all = Proxy {
            no_proxy: Some("*".into()),
            ..p
        };
        assert!(proxied(&all, "https://api.github.com/").is_none());
    }

    #[test]
    fn only_http_and_https_proxies_are_spoken_to() {
        for ok in [
            "http://proxy:3128",
            "https://user:pass@proxy:3129",
            "HTTPS://proxy:3129/",
            "proxy.example:3128",
        ] {
            assert_eq!(proxy_fault(ok), None, "{ok}");
        }
        for (bad, says) in [
            ("socks5://proxy:1080", "SOCKS"),
            ("socks5h://u:secret@proxy:1080", "SOCKS"),
            ("SOCKS4a://proxy:1080", "SOCKS"),
            ("ftp://proxy:21", "ftp://"),
            ("http://", "not a proxy URL"),
            ("http://pro xy:1", "not a proxy URL"),
        ] {
            let why = proxy_fault(bad).unwrap_or_else(|| panic!("{bad} accepted"));
            assert!(why.contains(says), "{bad}: {why}");
            assert!(!why.contains("secret"), "{why}");
        }
        let p = Proxy {
            http: Some("http://proxy:3128".into()),
            https: Some("socks5://proxy:1080".into()),
            no_proxy: None,
        };
        assert_eq!(p.fault().map(|(scheme, _)| scheme), Some("https"));
        assert!(!p.speaks_tls());
        let tls = Proxy {
            https: Some("https://proxy:3129".into()),
            ..Proxy::default()
        };
        assert!(tls.speaks_tls());
        assert!(Transport::new(&Options {
            connect_timeout: Duration::from_secs(1),
            proxy: p,
            tls_roots: false,
        })
        .is_err());
    }
}
