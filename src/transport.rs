//! A plain HTTPS client for any host: TLS roots from the system store, proxies, connect and exchange timeouts, HTTP/2; no retries, no redirects.
//!
//! It knows nothing of GitHub. What a failure means for a retry is said here only as
//! facts (was the request sent? can trying again help?); the policy is the caller's.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use bytes::Bytes;
use futures::future::BoxFuture;
use http::{HeaderMap, HeaderValue, StatusCode, Uri};
use http_body_util::BodyExt;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tower_service::Service;

/// Where a request's `Authorization: Bearer` value comes from, asked afresh for every
/// attempt (an app JWT is signed on a clock that may be corrected between attempts).
pub trait Bearer: Send + Sync {
    fn bearer(&self) -> BoxFuture<'_, anyhow::Result<String>>;
}

/// A bearer value that does not change: an installation token.
pub struct Fixed<'a>(pub &'a str);

impl Bearer for Fixed<'_> {
    fn bearer(&self) -> BoxFuture<'_, anyhow::Result<String>> {
        let value = self.0.to_string();
        Box::pin(async move { Ok(value) })
    }
}

/// The `Authorization` header for a bearer value, marked sensitive so that no debug
/// output of the request shows it.
pub fn authorization(bearer: &str) -> anyhow::Result<HeaderValue> {
    let mut value = HeaderValue::from_str(&format!("Bearer {bearer}"))
        .context("a credential with characters a header cannot carry")?;
    value.set_sensitive(true);
    Ok(value)
}

/// Proxy settings, read from the environment the way curl reads them.
#[derive(Debug, Clone, Default)]
pub struct Proxy {
    pub http: Option<String>,
    pub https: Option<String>,
    pub no_proxy: Option<String>,
}

impl Proxy {
    /// `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY`, upper or lower case.
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Self {
        let pick = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| env(n).filter(|v| !v.trim().is_empty()))
        };
        let all = pick(&["ALL_PROXY", "all_proxy"]);
        Self {
            http: pick(&["HTTP_PROXY", "http_proxy"]).or_else(|| all.clone()),
            https: pick(&["HTTPS_PROXY", "https_proxy"]).or(all),
            no_proxy: pick(&["NO_PROXY", "no_proxy"]),
        }
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

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Connecting = Pin<Box<dyn Future<Output = Result<TokioIo<TcpStream>, BoxError>> + Send>>;

/// Connects directly, or through an HTTP CONNECT tunnel when the proxy settings say so.
#[derive(Clone)]
pub struct ProxyConnector {
    direct: HttpConnector,
    matcher: Arc<Matcher>,
}

impl Service<Uri> for ProxyConnector {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = Connecting;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.direct.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        match self.matcher.intercept(&dst) {
            Some(intercept) => {
                let mut tunnel = Tunnel::new(intercept.uri().clone(), self.direct.clone());
                if let Some(auth) = intercept.basic_auth() {
                    tunnel = tunnel.with_auth(auth.clone());
                }
                Box::pin(async move { tunnel.call(dst).await.map_err(Into::into) })
            }
            None => {
                let connecting = self.direct.call(dst);
                Box::pin(async move { connecting.await.map_err(Into::into) })
            }
        }
    }
}

/// The TLS configuration: roots from the system store (`SSL_CERT_FILE` and `SSL_CERT_DIR` work).
fn tls_config(load_roots: bool) -> anyhow::Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    if load_roots {
        let found = rustls_native_certs::load_native_certs();
        for cert in found.certs {
            // A certificate rustls cannot use is skipped; the others still work.
            let _ = roots.add(cert);
        }
        if roots.is_empty() {
            bail!(
                "no CA certificates were found in the system store; \
                 set SSL_CERT_FILE to a PEM bundle that includes your server's CA"
            );
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS setup")?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// How connections are made.
#[derive(Debug, Clone)]
pub struct Options {
    pub connect_timeout: Duration,
    pub proxy: Proxy,
    /// Load the system's CA roots (not needed when every host is plain http on loopback).
    pub tls_roots: bool,
}

/// The connector every client of this process is built on.
pub type Connector = HttpsConnector<ProxyConnector>;

/// An HTTPS client factory: one connector (TLS, proxies, timeouts), any body type.
#[derive(Clone)]
pub struct Transport {
    connector: Connector,
}

impl Transport {
    pub fn new(options: &Options) -> anyhow::Result<Self> {
        let mut direct = HttpConnector::new();
        direct.enforce_http(false);
        direct.set_nodelay(true);
        direct.set_connect_timeout(Some(options.connect_timeout));
        let connector = ProxyConnector {
            direct,
            matcher: Arc::new(options.proxy.matcher()),
        };
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls_config(options.tls_roots)?)
            .https_or_http()
            // HTTP/2 where TLS negotiates it (github.com does): requests that run
            // alongside each other share one connection instead of each paying for a
            // TCP and TLS handshake. Plain http (loopback) stays HTTP/1.1.
            .enable_all_versions()
            .wrap_connector(connector);
        Ok(Self { connector })
    }

    /// A pooled client for requests with bodies of type `B`.
    pub fn client<B>(&self) -> hyper_util::client::legacy::Client<Connector, B>
    where
        B: http_body::Body + Send + 'static,
        B::Data: Send,
    {
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(self.connector.clone())
    }
}

/// A complete answer, whatever its status.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// An exchange that got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed {
    /// What went wrong, in a few words (no secrets are ever in them).
    pub message: String,
    /// The request may have reached the server (it failed after connecting).
    pub sent: bool,
    /// Trying again cannot help (the server's certificate is not trusted).
    pub permanent: bool,
}

/// Runs one exchange within `limit`: the request, then its whole body.
pub async fn exchange<F, B, E>(send: F, limit: Duration) -> Result<Answer, Failed>
where
    F: Future<Output = Result<http::Response<B>, E>>,
    E: std::error::Error + Send + Sync + 'static,
    B: http_body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let whole = async {
        let response = send.await.map_err(|e| failed(&e))?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.map_err(|e| failed(&e))?.to_bytes();
        Ok(Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    };
    match tokio::time::timeout(limit, whole).await {
        Ok(result) => result,
        Err(_) => Err(Failed {
            message: format!("no answer within {} s", limit.as_secs_f32()),
            sent: true,
            permanent: false,
        }),
    }
}

/// What a transport error means: sent or not, permanent or not, and a short description.
pub fn failed(err: &(dyn std::error::Error + 'static)) -> Failed {
    Failed {
        message: describe_error(err),
        sent: !is_connect_error(err),
        permanent: is_certificate_error(err),
    }
}

/// The errors in a chain, outermost first. An io::Error's `source()` skips the error it
/// wraps, so for those the wrapped error itself comes next.
fn causes<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(err), |e| {
        match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        }
    })
}

/// Did this error happen before the request could be sent (connecting, TLS, proxy tunnel)?
fn is_connect_error(err: &(dyn std::error::Error + 'static)) -> bool {
    causes(err)
        .find_map(|e| e.downcast_ref::<hyper_util::client::legacy::Error>())
        .map(|h| h.is_connect())
        .unwrap_or(false)
}

/// Is this a TLS certificate the trust store does not vouch for? No retry can fix that.
fn is_certificate_error(err: &(dyn std::error::Error + 'static)) -> bool {
    causes(err)
        .find_map(|e| e.downcast_ref::<rustls::Error>())
        .map(|tls| {
            matches!(
                tls,
                rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented
            )
        })
        .unwrap_or(false)
}

/// The innermost description of a transport error.
fn describe_error(err: &(dyn std::error::Error + 'static)) -> String {
    causes(err)
        .last()
        .map(ToString::to_string)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn the_innermost_cause_describes_an_error() {
        let inner = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
        let outer = std::io::Error::other(inner);
        let f = failed(&outer);
        assert_eq!(f.message, "reset by peer");
        assert!(
            f.sent,
            "an error that is not a connect error may have been sent"
        );
        assert!(!f.permanent);
    }

    #[test]
    fn bearer_headers_are_sensitive() {
        let h = authorization("ghs_x").unwrap();
        assert!(h.is_sensitive());
        assert_eq!(h.to_str().unwrap(), "Bearer ghs_x");
        assert!(authorization("a\nb").is_err());
    }
}
