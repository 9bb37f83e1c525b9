//! HTTP to GitHub's API over octocrab: TLS roots, proxies, timeouts, clock-skew recovery and our own retry policy.
//!
//! octocrab's own retry layer is not used: it resends POSTs at once, and a resent
//! token request can mint a token that nobody ever revokes. Redirects are not
//! followed, so the Authorization header never travels to another host.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use http_body_util::BodyExt;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioIo;
use octocrab::{AuthState, Octocrab, OctocrabBuilder};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::net::TcpStream;
use tower_service::Service;

use crate::jwt::{unix_now, Signer};

/// Timeouts and retry bounds. The defaults give up on a failing API in under 60 s.
#[derive(Debug, Clone)]
pub struct Settings {
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub max_attempts: u32,
    /// Time after which no new attempt starts (waits included).
    pub retry_budget: Duration,
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// The whole step's deadline, from the client's creation: past it no new request
    /// starts, except revocations (so that nothing minted is left alive).
    pub step_deadline: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(15),
            max_attempts: 4,
            retry_budget: Duration::from_secs(40),
            backoff_base: Duration::from_millis(500),
            backoff_cap: Duration::from_secs(8),
            step_deadline: Duration::from_secs(120),
        }
    }
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
struct ProxyConnector {
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

/// How a request authenticates.
#[derive(Clone, Copy)]
pub enum Auth<'a> {
    /// No Authorization header.
    None,
    /// A freshly signed app JWT.
    App,
    /// An installation token.
    Token(&'a str),
}

/// Which failures a request may be retried after.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Retry {
    /// Reads and deletes: any network error, timeout, 5xx or rate limit.
    Idempotent,
    /// Minting a token. Retried only when GitHub cannot have handed a token out:
    /// the connection failed before the request was sent, a rate limit refused it,
    /// or GitHub answered 5xx (an answer arrived, and it was not a token). Not
    /// retried when the request went out and no answer came (timeout, reset):
    /// that is exactly when a token may have been minted and lost, and a second
    /// one would double it. The job fails instead, and says why.
    Create,
}

/// A successful answer.
#[derive(Debug)]
pub struct ApiResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl ApiResponse {
    pub fn json<T: DeserializeOwned>(&self) -> anyhow::Result<T> {
        // The position only: serde's message could quote a value from the answer.
        serde_json::from_slice(&self.body).map_err(|e| {
            anyhow::anyhow!(
                "GitHub's answer is not the JSON expected (line {}, column {})",
                e.line(),
                e.column()
            )
        })
    }
}

/// A request that failed: GitHub's status, message and request id when there was an answer.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub method: Method,
    pub path: String,
    pub status: Option<u16>,
    pub message: String,
    pub request_id: Option<String>,
    pub attempts: u32,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.path)?;
        match self.status {
            Some(status) => write!(f, " answered HTTP {status}: {}", self.message)?,
            None => write!(f, " failed: {}", self.message)?,
        }
        if let Some(id) = &self.request_id {
            write!(f, " (X-GitHub-Request-Id: {id})")?;
        }
        if self.attempts > 1 {
            write!(f, " after {} attempts", self.attempts)?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

/// GitHub's error message from a response body, or the status text.
fn error_message(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> String {
    if status.is_redirection() {
        let to = headers
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|l| l.parse::<Uri>().ok())
            .and_then(|u| u.host().map(str::to_string))
            .unwrap_or_else(|| "another location".into());
        return format!(
            "a redirect to {to}; redirects are not followed, so credentials never leave the API host \
             (check github-api-url)"
        );
    }
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let message = parsed
        .as_ref()
        .and_then(|v| v.get("message"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| {
            status
                .canonical_reason()
                .unwrap_or("no message")
                .to_string()
        });
    let details: Vec<String> = parsed
        .as_ref()
        .and_then(|v| v.get("errors"))
        .and_then(Value::as_array)
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| {
                    e.get("message")
                        .and_then(Value::as_str)
                        .or_else(|| e.as_str())
                })
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if details.is_empty() {
        message
    } else {
        format!("{message} ({})", details.join("; "))
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// How long a rate-limited answer asks us to wait, if it is a rate limit at all.
pub fn rate_limit_wait(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Option<Duration> {
    let secondary = status == StatusCode::FORBIDDEN
        && (String::from_utf8_lossy(body)
            .to_ascii_lowercase()
            .contains("rate limit")
            || header_str(headers, "x-ratelimit-remaining") == Some("0"));
    if status != StatusCode::TOO_MANY_REQUESTS && !secondary {
        return None;
    }
    if let Some(secs) =
        header_str(headers, "retry-after").and_then(|v| v.trim().parse::<u64>().ok())
    {
        return Some(Duration::from_secs(secs));
    }
    if let Some(reset) =
        header_str(headers, "x-ratelimit-reset").and_then(|v| v.trim().parse::<i64>().ok())
    {
        return Some(Duration::from_secs((reset - now).max(1) as u64));
    }
    // GitHub's advice for a secondary limit without headers: wait at least a minute.
    Some(Duration::from_secs(60))
}

/// Is this 401 about the JWT's `iat` or `exp`, i.e. about our clock?
pub fn is_clock_rejection(status: StatusCode, body: &[u8]) -> bool {
    if status != StatusCode::UNAUTHORIZED {
        return false;
    }
    let text = String::from_utf8_lossy(body);
    ["'iat'", "'exp'", "Issued at", "Expiration time"]
        .iter()
        .any(|needle| text.contains(needle))
}

/// GitHub's clock minus ours, from a response's `Date` header.
pub fn clock_offset(headers: &HeaderMap, now: i64) -> Option<i64> {
    let date = httpdate::parse_http_date(header_str(headers, "date")?).ok()?;
    let server = date.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs() as i64;
    Some(server - now)
}

/// Did this error happen before the request could be sent (connecting, TLS, proxy tunnel)?
fn is_connect_error(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(h) = e.downcast_ref::<hyper_util::client::legacy::Error>() {
            return h.is_connect();
        }
        cur = next_cause(e);
    }
    false
}

/// The next error in a chain. An io::Error's `source()` skips the error it wraps, so for
/// those the wrapped error itself comes next.
fn next_cause<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a (dyn std::error::Error + 'static)> {
    match e
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
    {
        Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
        None => e.source(),
    }
}

/// Is this a TLS certificate the trust store does not vouch for? No retry can fix that.
fn is_certificate_error(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return matches!(
                tls,
                rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented
            );
        }
        cur = next_cause(e);
    }
    false
}

/// A short description of a transport error: the innermost causes, no secrets (none are in them).
fn describe_error(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        let text = e.to_string();
        if !parts.iter().any(|p: &String| p.contains(&text)) {
            parts.push(text);
        }
        cur = next_cause(e);
    }
    parts.last().cloned().unwrap_or_default()
}

/// Backoff before attempt `attempt + 1`: exponential, capped, with jitter in [50 %, 100 %].
fn backoff(settings: &Settings, attempt: u32) -> Duration {
    let exp = settings
        .backoff_base
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    let capped = exp.min(settings.backoff_cap);
    let mut byte = [0u8; 1];
    let jitter = if getrandom::fill(&mut byte).is_ok() {
        f64::from(byte[0]) / 255.0
    } else {
        0.5
    };
    capped.mul_f64(0.5 + jitter / 2.0)
}

/// A log line sink: the transport reports retries through it, knowing nothing of where they go.
pub type Log = Arc<dyn Fn(&str) + Send + Sync>;

/// A client for one API base URL.
pub struct Client {
    octo: Octocrab,
    base: String,
    signer: Option<Arc<Signer>>,
    settings: Settings,
    log: Log,
    debug: Option<Log>,
    deadline: Instant,
}

enum Attempt {
    Answer(ApiResponse),
    /// The transport failed; `sent` says whether the request may have reached GitHub,
    /// `permanent` that trying again cannot help (the server's certificate is not trusted).
    Failed {
        permanent: bool,
        message: String,
        sent: bool,
    },
}

impl Client {
    /// A client for `base` (an https URL, or http on loopback), e.g. `https://api.github.com`
    /// or `https://ghes.example.com/api/v3`.
    pub fn new(
        base: &str,
        signer: Option<Arc<Signer>>,
        proxy: &Proxy,
        settings: Settings,
        log: Log,
    ) -> anyhow::Result<Self> {
        let base = base.trim_end_matches('/').to_string();
        let mut direct = HttpConnector::new();
        direct.enforce_http(false);
        direct.set_nodelay(true);
        direct.set_connect_timeout(Some(settings.connect_timeout));
        let connector = ProxyConnector {
            direct,
            matcher: Arc::new(proxy.matcher()),
        };
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls_config(base.starts_with("https://"))?)
            .https_or_http()
            // HTTP/2 where TLS negotiates it (github.com does): the requests that run
            // alongside each other share one connection instead of each paying for a
            // TCP and TLS handshake. Plain http (loopback) stays HTTP/1.1.
            .enable_all_versions()
            .wrap_connector(connector);
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(30))
                .build::<_, octocrab::OctoBody>(https);
        let octo = OctocrabBuilder::new_empty()
            .with_service(client)
            .with_auth(AuthState::None)
            .build()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let deadline = Instant::now() + settings.step_deadline;
        Ok(Self {
            octo,
            base,
            signer,
            settings,
            log,
            debug: None,
            deadline,
        })
    }

    /// Also reports every attempt (method, path, status, time, request id) to `debug`.
    pub fn with_debug(mut self, debug: Log) -> Self {
        self.debug = Some(debug);
        self
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    fn log(&self, line: &str) {
        (self.log)(line)
    }

    fn request(
        &self,
        method: &Method,
        path: &str,
        auth: Auth<'_>,
        body: Option<&Value>,
    ) -> anyhow::Result<http::Request<octocrab::OctoBody>> {
        let mut builder = http::Request::builder()
            .method(method.clone())
            .uri(format!("{}{path}", self.base))
            .header(http::header::ACCEPT, "application/vnd.github+json")
            .header(
                http::header::USER_AGENT,
                concat!("app-token/", env!("CARGO_PKG_VERSION")),
            );
        let bearer = match auth {
            Auth::None => None,
            Auth::App => {
                let signer = self
                    .signer
                    .as_ref()
                    .context("no app key to sign a JWT with")?;
                Some(signer.sign()?)
            }
            Auth::Token(token) => Some(token.to_string()),
        };
        if let Some(bearer) = bearer {
            let mut value = HeaderValue::from_str(&format!("Bearer {bearer}"))
                .context("a token with characters a header cannot carry")?;
            value.set_sensitive(true);
            builder = builder.header(http::header::AUTHORIZATION, value);
        }
        self.octo
            .build_request(builder, body)
            .map_err(|e| anyhow::anyhow!("building the request: {e}"))
    }

    async fn attempt(
        &self,
        request: http::Request<octocrab::OctoBody>,
        limit: Duration,
    ) -> Attempt {
        let exchange = async {
            let response = self.octo.execute(request).await?;
            let (parts, body) = response.into_parts();
            let body = body.collect().await?.to_bytes();
            Ok::<_, octocrab::Error>(ApiResponse {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        match tokio::time::timeout(limit, exchange).await {
            Ok(Ok(response)) => Attempt::Answer(response),
            Ok(Err(e)) => Attempt::Failed {
                permanent: is_certificate_error(&e),
                sent: !is_connect_error(&e),
                message: describe_error(&e),
            },
            Err(_) => Attempt::Failed {
                permanent: false,
                sent: true,
                message: format!("no answer within {} s", limit.as_secs_f32()),
            },
        }
    }

    /// Sends a request with the retry policy of `retry`; gives back 2xx answers, and every
    /// other outcome as an [`ApiError`].
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        auth: Auth<'_>,
        body: Option<&Value>,
        retry: Retry,
    ) -> Result<ApiResponse, ApiError> {
        let started = Instant::now();
        let fail = |status: Option<u16>,
                    message: String,
                    request_id: Option<String>,
                    attempts: u32| ApiError {
            method: method.clone(),
            path: path.to_string(),
            status,
            message,
            request_id,
            attempts,
        };
        let mut attempt = 0u32;
        let mut skew_corrected = false;
        // Revocations may run past the step's deadline; nothing else starts after it.
        let budget = if method == Method::DELETE {
            self.settings.retry_budget
        } else {
            self.settings
                .retry_budget
                .min(self.deadline.saturating_duration_since(started))
        };
        if budget.is_zero() {
            return Err(fail(
                None,
                format!(
                    "not sent: the step's deadline of {} s has passed",
                    self.settings.step_deadline.as_secs()
                ),
                None,
                0,
            ));
        }
        loop {
            attempt += 1;
            let request = self
                .request(&method, path, auth, body)
                .map_err(|e| fail(None, format!("{e:#}"), None, attempt))?;
            let remaining = budget.saturating_sub(started.elapsed());
            let limit = self
                .settings
                .request_timeout
                .min(remaining.max(Duration::from_secs(1)));
            let sent_at = Instant::now();
            let outcome = self.attempt(request, limit).await;
            if let Some(debug) = &self.debug {
                let what = match &outcome {
                    Attempt::Answer(r) => format!(
                        "HTTP {} (X-GitHub-Request-Id: {})",
                        r.status.as_u16(),
                        header_str(&r.headers, "x-github-request-id").unwrap_or("none")
                    ),
                    Attempt::Failed { message, .. } => message.clone(),
                };
                debug(&format!(
                    "{method} {path}: {what} in {} ms (attempt {attempt})",
                    sent_at.elapsed().as_millis()
                ));
            }
            let (wait, last) = match outcome {
                Attempt::Answer(response) if response.status.is_success() => return Ok(response),
                Attempt::Answer(r) => {
                    let request_id =
                        header_str(&r.headers, "x-github-request-id").map(str::to_string);
                    let err = fail(
                        Some(r.status.as_u16()),
                        error_message(r.status, &r.headers, &r.body),
                        request_id,
                        attempt,
                    );
                    let now = unix_now();
                    if matches!(auth, Auth::App)
                        && !skew_corrected
                        && is_clock_rejection(r.status, &r.body)
                    {
                        if let (Some(offset), Some(signer)) =
                            (clock_offset(&r.headers, now), &self.signer)
                        {
                            skew_corrected = true;
                            signer.set_offset(offset);
                            self.log(&format!(
                                "GitHub rejected the JWT's time claims; its clock is {offset:+} s from this runner's. Signing again on GitHub's clock."
                            ));
                            attempt -= 1;
                            continue;
                        }
                    }
                    if let Some(wait) = rate_limit_wait(r.status, &r.headers, &r.body, now) {
                        (Some(wait), err)
                    } else if r.status.is_server_error() {
                        (None, err)
                    } else {
                        return Err(err);
                    }
                }
                Attempt::Failed {
                    message,
                    sent,
                    permanent,
                } => {
                    let err = fail(None, message, None, attempt);
                    if permanent {
                        return Err(err);
                    }
                    if sent && retry == Retry::Create {
                        return Err(ApiError {
                            message: format!(
                                "{}; not retried, because GitHub may have minted a token whose answer was lost",
                                err.message
                            ),
                            ..err
                        });
                    }
                    (None, err)
                }
            };
            let wait = wait.unwrap_or_else(|| backoff(&self.settings, attempt));
            if attempt >= self.settings.max_attempts {
                return Err(last);
            }
            if started.elapsed() + wait >= budget {
                return Err(ApiError {
                    message: format!(
                        "{}; the next try would be after {} s, beyond the retry budget of {} s",
                        last.message,
                        wait.as_secs(),
                        budget.as_secs()
                    ),
                    ..last
                });
            }
            self.log(&format!(
                "{} {}: {}; retrying in {:.1} s (attempt {} of {})",
                method,
                path,
                last.status
                    .map(|s| format!("HTTP {s}"))
                    .unwrap_or_else(|| last.message.clone()),
                wait.as_secs_f32(),
                attempt + 1,
                self.settings.max_attempts
            ));
            tokio::time::sleep(wait).await;
        }
    }

    /// [`Client::send`] and parse the JSON answer.
    pub async fn json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        auth: Auth<'_>,
        body: Option<&Value>,
        retry: Retry,
    ) -> anyhow::Result<T> {
        let response = self.send(method, path, auth, body, retry).await?;
        response.json()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn rate_limits_are_recognised() {
        let none = HeaderMap::new();
        assert_eq!(
            rate_limit_wait(
                StatusCode::TOO_MANY_REQUESTS,
                &headers(&[("retry-after", "3")]),
                b"",
                0
            ),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            rate_limit_wait(
                StatusCode::FORBIDDEN,
                &headers(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "110")]),
                b"",
                100
            ),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            rate_limit_wait(
                StatusCode::FORBIDDEN,
                &none,
                br#"{"message":"You have exceeded a secondary rate limit"}"#,
                0
            ),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            rate_limit_wait(
                StatusCode::FORBIDDEN,
                &none,
                br#"{"message":"Resource not accessible by integration"}"#,
                0
            ),
            None
        );
        assert_eq!(
            rate_limit_wait(StatusCode::UNPROCESSABLE_ENTITY, &none, b"", 0),
            None
        );
    }

    #[test]
    fn clock_rejections_and_offsets() {
        assert!(is_clock_rejection(
            StatusCode::UNAUTHORIZED,
            br#"{"message":"'Issued at' claim ('iat') must be an Integer representing a time in the past."}"#
        ));
        assert!(is_clock_rejection(
            StatusCode::UNAUTHORIZED,
            br#"{"message":"'Expiration time' claim ('exp') is too far in the future"}"#
        ));
        assert!(!is_clock_rejection(
            StatusCode::UNAUTHORIZED,
            br#"{"message":"A JSON web token could not be decoded"}"#
        ));
        assert!(!is_clock_rejection(StatusCode::FORBIDDEN, b"iat"));
        let h = headers(&[("date", "Thu, 01 Jan 1970 00:10:00 GMT")]);
        assert_eq!(clock_offset(&h, 300), Some(300));
        assert_eq!(clock_offset(&HeaderMap::new(), 300), None);
    }

    #[test]
    fn error_messages_carry_githubs_words_and_hide_redirect_paths() {
        let m = error_message(
            StatusCode::UNPROCESSABLE_ENTITY,
            &HeaderMap::new(),
            br#"{"message":"Validation Failed","errors":[{"message":"bad thing"}]}"#,
        );
        assert_eq!(m, "Validation Failed (bad thing)");
        let m = error_message(
            StatusCode::FOUND,
            &headers(&[("location", "https://evil.example/steal?x=1")]),
            b"",
        );
        assert!(m.contains("evil.example") && !m.contains("steal"), "{m}");
        assert_eq!(
            error_message(StatusCode::BAD_GATEWAY, &HeaderMap::new(), b"<html>"),
            "Bad Gateway"
        );
    }

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let s = Settings {
            backoff_base: Duration::from_millis(100),
            backoff_cap: Duration::from_millis(300),
            ..Settings::default()
        };
        for _ in 0..20 {
            let first = backoff(&s, 1);
            assert!(
                first >= Duration::from_millis(50) && first <= Duration::from_millis(100),
                "{first:?}"
            );
            let late = backoff(&s, 10);
            assert!(
                late >= Duration::from_millis(150) && late <= Duration::from_millis(300),
                "{late:?}"
            );
        }
    }

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
}
