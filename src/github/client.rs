//! The GitHub client.
//!
//! Octocrab over the transport, authenticated as the app or an installation, with GitHub's
//! retry policy and clock-skew recovery.
//!
//! octocrab's own retry layer is not used: it resends POSTs at once, and a resent
//! token request can mint a token that nobody ever revokes. Redirects are not
//! followed, so the Authorization header never travels to another host.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use http::header::HeaderName;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use octocrab::{AuthState, Octocrab, OctocrabBuilder};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::dialect::{
    clock_offset, error_message, header_str, is_clock_rejection, rate_limit_wait, request_id,
    ApiError,
};
use super::retry::{decide, jitter, Decision, Outcome, Retry, Settings};
use crate::transport::{self, Answer, Bearer, Failed, Proxy, Transport};

/// The app's JWT as the client needs it: a bearer value, and a clock GitHub may correct.
pub trait AppJwt: Bearer {
    /// GitHub refused the JWT's time claims; its clock is `github_minus_ours` seconds
    /// from this machine's. Sign on GitHub's clock from now on.
    fn correct_clock(&self, github_minus_ours: i64);
}

/// The REST API version every request asks for, in `X-GitHub-Api-Version`: sent by this
/// client, never left to a crate's default (octocrab adds its own from its package
/// metadata; [`Client::send`] replaces it).
///
/// `2022-11-28`, and not the newer `2026-03-10`: GitHub answers 400 to a version it does
/// not support, and GitHub Enterprise Server 3.20 supports only `2022-11-28`, while github.com serves it until at least March 2028 (24 months after
/// `2026-03-10`). Moving up would change nothing that is read: of 2026-03-10's breaking
/// changes (`x-github-breaking-changes` in github-api/app-token-endpoints.json), only
/// the repository objects of token and listing answers lose fields (`has_downloads`,
/// `master_branch`, `use_squash_pr_title_as_default`), of which only `id`, `name` and
/// `full_name` are read; `/rate_limit`, whose `rate` it drops, is never called.
pub const API_VERSION: &str = "2022-11-28";

/// The header [`API_VERSION`] goes in.
pub const API_VERSION_HEADER: HeaderName = HeaderName::from_static("x-github-api-version");

/// How long a new installation token may be refused while it replicates across
/// GitHub: a 401 for a token younger than this is retried (as @octokit/auth-app does).
pub const REPLICATION_WINDOW: Duration = Duration::from_secs(5);

/// An installation token, and when GitHub issued it, when that is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub token: String,
    pub issued_at: Option<DateTime<Utc>>,
}

impl Credential {
    /// A token of unknown age (one read from stdin, say): never taken for a fresh one.
    pub fn new(token: impl Into<String>) -> Self {
        Self {
            token: token.into(),
            issued_at: None,
        }
    }

    pub fn issued(token: impl Into<String>, at: DateTime<Utc>) -> Self {
        Self {
            token: token.into(),
            issued_at: Some(at),
        }
    }

    /// Was it issued less than [`REPLICATION_WINDOW`] before `now`?
    pub fn is_fresh(&self, now: DateTime<Utc>) -> bool {
        self.issued_at.is_some_and(|at| {
            (now - at)
                .to_std()
                .map(|age| age < REPLICATION_WINDOW)
                .unwrap_or(true)
        })
    }
}

/// How a request authenticates.
#[derive(Clone, Copy)]
pub enum Auth<'a> {
    /// No Authorization header.
    None,
    /// The app's JWT.
    App,
    /// An installation token.
    Token(&'a Credential),
}

/// A log line sink: the client reports retries through it, knowing nothing of where they go.
pub type Log = Arc<dyn Fn(&str) + Send + Sync>;

/// Seconds since the epoch on this machine's clock: what the app's JWT is signed on, and
/// what GitHub's `Date` and rate-limit resets are measured against. The crate's one reading of it.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// An answer's JSON body as `T`. On a mismatch only the position is said: serde's
/// message could quote a value from the answer.
pub fn parse_json<T: DeserializeOwned>(answer: &Answer) -> anyhow::Result<T> {
    serde_json::from_slice(&answer.body).map_err(|e| {
        anyhow::anyhow!(
            "GitHub's answer is not the JSON expected (line {}, column {})",
            e.line(),
            e.column()
        )
    })
}

/// One request as [`Client::send`] is asked for it, attempt after attempt.
struct Call<'a> {
    method: &'a Method,
    path: &'a str,
    auth: Auth<'a>,
    body: Option<&'a Value>,
    /// Headers of this request besides the client's own (which they cannot replace).
    headers: &'a HeaderMap,
}

impl Call<'_> {
    /// A revocation: sent even after the step's deadline or its cancellation.
    fn is_revocation(&self) -> bool {
        *self.method == Method::DELETE
    }

    fn error(
        &self,
        status: Option<StatusCode>,
        message: String,
        request_id: Option<String>,
        attempts: u32,
    ) -> ApiError {
        ApiError {
            method: self.method.clone(),
            path: self.path.to_string(),
            status: status.map(|s| s.as_u16()),
            message,
            request_id,
            attempts,
        }
    }
}

/// What one attempt came to.
enum Tried {
    /// A 2xx answer.
    Answered(Answer),
    /// GitHub refused the JWT for its clock, now corrected: the same attempt again.
    ClockCorrected,
    /// Any other answer, or none: what it means for a retry, and the error it would be.
    Failed(Outcome, ApiError),
}

/// A client for one API base URL.
pub struct Client {
    octo: Octocrab,
    base: String,
    app: Option<Arc<dyn AppJwt>>,
    settings: Settings,
    log: Log,
    debug: Option<Log>,
    deadline: Instant,
    /// Set once the step is cancelled: from then on only revocations are sent or retried.
    cancelled: tokio::sync::watch::Sender<bool>,
}

impl Client {
    /// A client for `base` (an https URL, or http on loopback), e.g. `https://api.github.com`
    /// or `https://ghe.example.com/api/v3`. `app` signs the requests made as the app.
    pub fn new(
        base: &str,
        app: Option<Arc<dyn AppJwt>>,
        proxy: &Proxy,
        settings: Settings,
        log: Log,
    ) -> anyhow::Result<Self> {
        let base = base.trim_end_matches('/').to_string();
        let transport = Transport::new(&transport::Options {
            connect_timeout: settings.connect_timeout,
            proxy: proxy.clone(),
            tls_roots: base.starts_with("https://"),
        })?;
        let octo = OctocrabBuilder::new_empty()
            .with_service(transport.client::<octocrab::OctoBody>())
            .with_auth(AuthState::None)
            .build()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let deadline = Instant::now() + settings.step_deadline;
        Ok(Self {
            octo,
            base,
            app,
            settings,
            log,
            debug: None,
            deadline,
            cancelled: tokio::sync::watch::Sender::new(false),
        })
    }

    /// The same client (its connections, settings, deadline and cancellation) without
    /// the app's key: it can only use tokens, and keeps no signer alive.
    pub fn without_app(&self) -> Self {
        Self {
            octo: self.octo.clone(),
            base: self.base.clone(),
            app: None,
            settings: self.settings.clone(),
            log: Arc::clone(&self.log),
            debug: self.debug.clone(),
            deadline: self.deadline,
            cancelled: self.cancelled.clone(),
        }
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

    /// The step is cancelled: no request but a revocation starts from now on, and a
    /// request waiting to be retried gives up at once (one on the wire is answered).
    pub fn cancel(&self) {
        self.cancelled.send_replace(true);
    }

    pub fn is_cancelled(&self) -> bool {
        *self.cancelled.borrow()
    }

    /// Resolves when the step is cancelled.
    async fn until_cancelled(&self) {
        let mut rx = self.cancelled.subscribe();
        if rx.wait_for(|c| *c).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    async fn request(
        &self,
        method: &Method,
        path: &str,
        auth: Auth<'_>,
        body: Option<&Value>,
        headers: &HeaderMap,
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
                let app = self.app.as_ref().context("no app key to sign a JWT with")?;
                Some(app.bearer().await?)
            }
            Auth::Token(credential) => Some(credential.token.clone()),
        };
        if let Some(bearer) = bearer {
            builder = builder.header(
                http::header::AUTHORIZATION,
                transport::authorization(&bearer)?,
            );
        }
        let mut request = self
            .octo
            .build_request(builder, body)
            .map_err(|e| anyhow::anyhow!("building the request: {e}"))?;
        let sent = request.headers_mut();
        for (name, value) in headers {
            if !sent.contains_key(name) {
                sent.insert(name, value.clone());
            }
        }
        // Inserted last, replacing whatever octocrab added: one value, ours.
        sent.insert(API_VERSION_HEADER, HeaderValue::from_static(API_VERSION));
        Ok(request)
    }

    fn debug_line(
        &self,
        method: &Method,
        path: &str,
        result: &Result<Answer, Failed>,
        took: Duration,
        attempt: u32,
    ) {
        let Some(debug) = &self.debug else { return };
        let what = match result {
            Ok(a) => format!(
                "HTTP {} (X-GitHub-Request-Id: {})",
                a.status.as_u16(),
                header_str(&a.headers, "x-github-request-id").unwrap_or("none")
            ),
            Err(f) => f.message.clone(),
        };
        debug(&format!(
            "{method} {path}: {what} in {} ms (attempt {attempt})",
            took.as_millis()
        ));
    }

    /// If GitHub refused the app's JWT for its clock, and the clock has not been
    /// corrected yet, corrects it from the answer's `Date`; says whether it did.
    fn corrected_clock(&self, auth: Auth<'_>, answer: &Answer) -> bool {
        let (Auth::App, Some(app)) = (auth, &self.app) else {
            return false;
        };
        if !is_clock_rejection(answer.status, &answer.body) {
            return false;
        }
        let Some(offset) = clock_offset(&answer.headers, unix_now()) else {
            return false;
        };
        app.correct_clock(offset);
        (self.log)(&format!(
            "GitHub rejected the JWT's time claims; its clock is {offset:+} s from this machine's. Signing again on GitHub's clock."
        ));
        true
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
    ) -> Result<Answer, ApiError> {
        self.send_with(method, path, auth, body, &HeaderMap::new(), retry)
            .await
    }

    /// [`Client::send`], with `headers` added to the request (a header the client sets
    /// itself, such as `Authorization` or [`API_VERSION_HEADER`], is not replaced).
    pub async fn send_with(
        &self,
        method: Method,
        path: &str,
        auth: Auth<'_>,
        body: Option<&Value>,
        headers: &HeaderMap,
        retry: Retry,
    ) -> Result<Answer, ApiError> {
        let call = Call {
            method: &method,
            path,
            auth,
            body,
            headers,
        };
        let started = Instant::now();
        // Revocations may run past the step's deadline; nothing else starts after it.
        let budget = if call.is_revocation() {
            self.settings.retry_budget
        } else {
            self.settings
                .retry_budget
                .min(self.deadline.saturating_duration_since(started))
        };
        if budget.is_zero() {
            let message = format!(
                "not sent: the step's deadline of {} s has passed",
                self.settings.step_deadline.as_secs()
            );
            return Err(call.error(None, message, None, 0));
        }
        let mut attempt = 0u32;
        let mut clock_corrected = false;
        loop {
            attempt += 1;
            // Revocations are what a cancelled step still does; nothing else starts or retries.
            if !call.is_revocation() && self.is_cancelled() {
                let message = "not sent: the step was cancelled".to_string();
                return Err(call.error(None, message, None, attempt - 1));
            }
            let remaining = || budget.saturating_sub(started.elapsed());
            let (outcome, err) = match self
                .attempt(&call, attempt, remaining, !clock_corrected)
                .await?
            {
                Tried::Answered(answer) => return Ok(answer),
                Tried::ClockCorrected => {
                    // The same attempt again, on GitHub's clock.
                    clock_corrected = true;
                    attempt -= 1;
                    continue;
                }
                Tried::Failed(outcome, err) => (outcome, err),
            };
            let elapsed = started.elapsed();
            match decide(
                retry,
                outcome,
                attempt,
                elapsed,
                budget,
                &self.settings,
                jitter(),
            ) {
                Decision::GiveUp(None) => return Err(err),
                Decision::GiveUp(Some(why)) => {
                    return Err(ApiError {
                        message: format!("{}; {why}", err.message),
                        ..err
                    })
                }
                Decision::RetryAfter(wait) => self.wait_to_retry(&call, err, wait, attempt).await?,
            }
        }
    }

    /// One attempt at `call`: the request made (an app JWT signed for it), sent within
    /// what `remaining` says is left of the budget, and its answer read for a retry.
    /// `may_correct_clock`: a JWT refused for its clock may have it corrected (once a call).
    async fn attempt(
        &self,
        call: &Call<'_>,
        attempt: u32,
        remaining: impl Fn() -> Duration,
        may_correct_clock: bool,
    ) -> Result<Tried, ApiError> {
        let request = self
            .request(call.method, call.path, call.auth, call.body, call.headers)
            .await
            .map_err(|e| call.error(None, format!("{e:#}"), None, attempt))?;
        let limit = self
            .settings
            .request_timeout
            .min(remaining().max(Duration::from_secs(1)));
        let sent_at = Instant::now();
        let fresh_credential =
            matches!(call.auth, Auth::Token(credential) if credential.is_fresh(Utc::now()));
        let result = transport::exchange(self.octo.execute(request), limit).await;
        self.debug_line(call.method, call.path, &result, sent_at.elapsed(), attempt);
        Ok(match result {
            Ok(answer) if answer.status.is_success() => Tried::Answered(answer),
            Ok(answer) if may_correct_clock && self.corrected_clock(call.auth, &answer) => {
                Tried::ClockCorrected
            }
            Ok(answer) => {
                let outcome = Outcome::Refused {
                    status: answer.status,
                    rate_limit: rate_limit_wait(
                        answer.status,
                        &answer.headers,
                        &answer.body,
                        unix_now(),
                    ),
                    fresh_credential,
                };
                let message = error_message(answer.status, &answer.headers, &answer.body);
                let id = request_id(&answer.headers);
                let err = call.error(Some(answer.status), message, id, attempt);
                Tried::Failed(outcome, err)
            }
            Err(failed) => {
                let outcome = Outcome::Failed {
                    sent: failed.sent,
                    permanent: failed.permanent,
                };
                Tried::Failed(outcome, call.error(None, failed.message, None, attempt))
            }
        })
    }

    /// Says that `call` will be tried again after `wait`, and waits. A cancelled step
    /// stops the wait at once (but for a revocation), giving back `err`.
    async fn wait_to_retry(
        &self,
        call: &Call<'_>,
        err: ApiError,
        wait: Duration,
        attempt: u32,
    ) -> Result<(), ApiError> {
        let what = err
            .status
            .map(|s| format!("HTTP {s}"))
            .unwrap_or_else(|| err.message.clone());
        (self.log)(&format!(
            "{} {}: {what}; retrying in {:.1} s (attempt {} of {})",
            call.method,
            call.path,
            wait.as_secs_f32(),
            attempt + 1,
            self.settings.max_attempts
        ));
        if call.is_revocation() {
            tokio::time::sleep(wait).await;
            return Ok(());
        }
        tokio::select! {
            () = tokio::time::sleep(wait) => Ok(()),
            () = self.until_cancelled() => Err(ApiError {
                message: format!("{}; not retried: the step was cancelled", err.message),
                ..err
            }),
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
        let answer = self.send(method, path, auth, body, retry).await?;
        parse_json(&answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_without_the_app_keeps_no_signer_and_cannot_sign() {
        let signer = Arc::new(crate::jwt::Signer::new(
            Box::new(crate::sign::pem::PemKey::parse(crate::jwt::tests::TEST_KEY_PKCS1).unwrap()),
            "1",
        ));
        let app = Arc::clone(&signer) as Arc<dyn AppJwt>;
        // The client is made inside a runtime: its connection pool needs a reactor. No
        // request is sent.
        let refused = crate::runtime().unwrap().block_on(async {
            let log: Log = Arc::new(|_: &str| {});
            let (base, proxy) = ("http://127.0.0.1:1", Proxy::default());
            let client = Client::new(base, Some(app), &proxy, Settings::default(), log).unwrap();
            client.cancel();
            let tokens_only = client.without_app();
            drop(client);
            assert_eq!(Arc::strong_count(&signer), 1, "the signer is let go");
            assert!(tokens_only.is_cancelled(), "the same cancellation");
            let refused = tokens_only
                .request(&Method::GET, "/app", Auth::App, None, &HeaderMap::new())
                .await;
            format!("{:#}", refused.map(|_| ()).unwrap_err())
        });
        assert!(refused.contains("no app key"), "{refused}");
    }

    #[test]
    fn every_request_carries_one_api_version_ours_and_its_own_headers() {
        let (request, extra) = crate::runtime().unwrap().block_on(async {
            let log: Log = Arc::new(|_: &str| {});
            let (base, proxy) = ("http://127.0.0.1:1", Proxy::default());
            let client = Client::new(base, None, &proxy, Settings::default(), log).unwrap();
            let token = Credential::new("ghs_x");
            let plain = client
                .request(&Method::GET, "/x", Auth::None, None, &HeaderMap::new())
                .await
                .unwrap();
            let mut headers = HeaderMap::new();
            headers.insert("x-extra", HeaderValue::from_static("yes"));
            headers.insert(API_VERSION_HEADER, HeaderValue::from_static("1999-01-01"));
            headers.insert(http::header::AUTHORIZATION, HeaderValue::from_static("no"));
            let extra = client
                .request(&Method::POST, "/x", Auth::Token(&token), None, &headers)
                .await
                .unwrap();
            (plain, extra)
        });
        for r in [&request, &extra] {
            let versions: Vec<_> = r.headers().get_all(API_VERSION_HEADER).iter().collect();
            assert_eq!(versions, [API_VERSION], "{:?}", r.headers());
        }
        assert!(request.headers().get("x-extra").is_none());
        assert_eq!(extra.headers()["x-extra"], "yes");
        assert_eq!(extra.headers()[http::header::AUTHORIZATION], "Bearer ghs_x");
    }

    #[test]
    fn a_credential_is_fresh_for_its_first_seconds_only() {
        let issued: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        let c = Credential::issued("ghs_x", issued);
        let at = |secs: i64| issued + chrono::Duration::seconds(secs);
        assert!(c.is_fresh(at(0)) && c.is_fresh(at(4)));
        assert!(!c.is_fresh(at(5)) && !c.is_fresh(at(3600)));
        assert!(
            c.is_fresh(at(-2)),
            "a clock a little behind still counts it fresh"
        );
        assert!(
            !Credential::new("ghs_y").is_fresh(at(0)),
            "unknown age is never fresh"
        );
    }
}
