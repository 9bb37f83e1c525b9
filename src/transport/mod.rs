//! A plain HTTPS client for any host.
//!
//! TLS roots from the system store, proxies, connect and exchange timeouts, a bounded body,
//! HTTP/2; no retries, no redirects.
//!
//! It knows nothing of GitHub. What a failure means for a retry is said here only as
//! facts (was the request sent? can trying again help?); the policy is the caller's.
//! Proxies (which are used, and the tunnel through one) are `proxy`'s.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use bytes::Bytes;
use futures::future::BoxFuture;
use http::{HeaderMap, HeaderValue, StatusCode};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;

mod proxy;

pub use proxy::{is_loopback, proxy_fault, proxy_variable, Proxy, ProxyConnector};

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
        if let Some((scheme, why)) = options.proxy.fault() {
            bail!("the proxy for {scheme} requests {why}");
        }
        let tls = tls_config(options.tls_roots || options.proxy.speaks_tls())?;
        let mut direct = HttpConnector::new();
        direct.enforce_http(false);
        direct.set_nodelay(true);
        direct.set_connect_timeout(Some(options.connect_timeout));
        // CONNECT is an HTTP/1.1 request: that is all the proxy is offered.
        let to_tls_proxy = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls.clone())
            .https_or_http()
            .enable_http1()
            .wrap_connector(direct.clone());
        let connector = ProxyConnector::new(direct, to_tls_proxy, &options.proxy);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
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

/// The most of a body that is read: far more than any answer app-token asks for (a
/// listing page of 100 repositories is well under 1 MiB), far less than a hostile or
/// broken server could send.
pub const MAX_BODY: usize = 4 * 1024 * 1024;

/// An answer whose body is over [`MAX_BODY`]: read no further, and do not ask again.
fn too_large() -> Failed {
    Failed {
        message: format!(
            "the answer's body is larger than {} MiB, the most app-token reads",
            MAX_BODY / (1024 * 1024)
        ),
        sent: true,
        permanent: true,
    }
}

/// Does a `Content-Length` already say the body is over `max`?
fn declared_over(headers: &HeaderMap, max: usize) -> bool {
    headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|n| n > max as u64)
}

/// Runs one exchange within `limit`: the request, then its whole body (at most [`MAX_BODY`]).
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
        if declared_over(&parts.headers, MAX_BODY) {
            return Err(too_large());
        }
        let body = Limited::new(body, MAX_BODY)
            .collect()
            .await
            .map_err(|e| {
                if e.downcast_ref::<LengthLimitError>().is_some() {
                    too_large()
                } else {
                    failed(&*e)
                }
            })?
            .to_bytes();
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
    fn a_declared_length_over_the_cap_is_refused_before_reading() {
        let mut h = HeaderMap::new();
        assert!(!declared_over(&h, 10));
        h.insert(http::header::CONTENT_LENGTH, HeaderValue::from_static("10"));
        assert!(!declared_over(&h, 10));
        h.insert(http::header::CONTENT_LENGTH, HeaderValue::from_static("11"));
        assert!(declared_over(&h, 10));
        h.insert(
            http::header::CONTENT_LENGTH,
            HeaderValue::from_static("99999999999999999999999"),
        );
        assert!(
            !declared_over(&h, 10),
            "unparsable: the body's own length decides"
        );
        assert!(too_large().permanent && too_large().sent);
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
