//! Requests to a key service over the transport.
//!
//! A few bounded retries of what the service calls transient, and its error answers read,
//! by the service's own dialect, into one error that names the call, the code and the
//! message.

use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use http::{Method, StatusCode};
use http_body_util::Full;

use crate::transport::{self, Answer, Connector, Options, Proxy, Transport};

/// Attempts for one call: the first and two retries of a transient failure.
const MAX_ATTEMPTS: u32 = 3;
/// The wait before the first retry; doubled for the next.
const BACKOFF: Duration = Duration::from_millis(250);
/// One exchange's limit.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A key service said no, or could not be reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceError {
    /// What was asked, e.g. `KMS Sign`.
    pub call: String,
    /// The service's error code (`NotFoundException`, `invalid_grant`, `NOT_FOUND`), or
    /// the transport's failure.
    pub code: String,
    pub message: String,
    pub status: Option<u16>,
    pub request_id: Option<String>,
    /// Lines that follow the service's words: what the job's OIDC token showed a cloud
    /// that refused it (see [`super::claims`]). Boxed, to keep the error small.
    pub note: Option<Box<str>>,
}

impl ServiceError {
    /// An error of our own making about `call` (an answer we cannot read).
    pub fn local(call: &str, code: &str, message: &str) -> Self {
        Self {
            call: call.to_string(),
            code: code.to_string(),
            message: message.to_string(),
            status: None,
            request_id: None,
            note: None,
        }
    }
}

impl ServiceError {
    /// A service's error answer to `call`, in its own `code` and `message`, with the
    /// answer's status (and no request id).
    pub fn answered(call: &str, answer: &Answer, code: String, message: String) -> Self {
        Self {
            call: call.to_string(),
            code,
            message,
            status: Some(answer.status.as_u16()),
            request_id: None,
            note: None,
        }
    }
}

/// The code of an error answer whose body names none: its status's reason
/// (`Bad Request`).
pub fn status_reason(answer: &Answer) -> String {
    answer
        .status
        .canonical_reason()
        .unwrap_or("an error")
        .to_string()
}

/// An answer's header, when it is text.
pub fn header(answer: &Answer, name: &str) -> Option<String> {
    answer
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

impl std::fmt::Display for ServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} failed: {}", self.call, self.code)?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        match (self.status, &self.request_id) {
            (Some(s), Some(id)) => write!(f, " (HTTP {s}, request id {id})")?,
            (Some(s), None) => write!(f, " (HTTP {s})")?,
            _ => {}
        }
        match &self.note {
            Some(note) => write!(f, "\n{note}"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for ServiceError {}

/// How a service words its errors and which of them are worth another try.
pub struct Dialect {
    /// The code and message of an error answer to `call`.
    pub error_of: fn(call: &str, answer: &Answer) -> ServiceError,
    /// Whether an error answer (its status and code) may go away on its own.
    pub transient: fn(status: StatusCode, code: &str) -> bool,
}

/// 5xx and 429: what every service means as "try again".
pub fn transient_status(status: StatusCode) -> bool {
    status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS
}

/// Done to each attempt's request just before it is sent (SigV4 signs it there).
pub type Prepare<'a> = &'a (dyn Fn(&mut http::Request<Bytes>) -> anyhow::Result<()> + Sync);

/// The headers that carry a credential: marked sensitive, so that no debug output of a
/// request shows them (Vault's token travels in its own header, not in Authorization).
const SENSITIVE_HEADERS: [&str; 2] = ["authorization", "x-vault-token"];

/// One request to send.
pub struct Call<'a> {
    /// For messages: `KMS Sign`.
    pub name: &'a str,
    pub method: Method,
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Bytes,
    pub prepare: Option<Prepare<'a>>,
}

impl<'a> Call<'a> {
    /// A POST of a JSON body.
    pub fn post_json(name: &'a str, url: String, body: &serde_json::Value) -> Self {
        Self {
            name,
            method: Method::POST,
            url,
            headers: vec![
                ("content-type", "application/json".into()),
                ("accept", "application/json".into()),
            ],
            body: Bytes::from(body.to_string()),
            prepare: None,
        }
    }

    /// A POST of a form (`application/x-www-form-urlencoded`).
    pub fn post_form(name: &'a str, url: String, pairs: &[(&str, &str)]) -> Self {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        Self {
            name,
            method: Method::POST,
            url,
            headers: vec![
                ("content-type", "application/x-www-form-urlencoded".into()),
                ("accept", "application/json".into()),
            ],
            body: Bytes::from(body),
            prepare: None,
        }
    }

    /// Adds `Authorization: Bearer …`.
    pub fn bearer(mut self, token: &str) -> Self {
        self.headers
            .push(("authorization", format!("Bearer {token}")));
        self
    }
}

/// An HTTPS client for key services and the runner's OIDC endpoint.
pub struct RestClient {
    client: hyper_util::client::legacy::Client<Connector, Full<Bytes>>,
}

impl RestClient {
    pub fn new(proxy: &Proxy, connect_timeout: Duration) -> anyhow::Result<Self> {
        let transport = Transport::new(&Options {
            connect_timeout,
            proxy: proxy.clone(),
            tls_roots: true,
        })?;
        Ok(Self {
            client: transport.client(),
        })
    }

    fn request(&self, call: &Call<'_>) -> anyhow::Result<http::Request<Full<Bytes>>> {
        let mut builder = http::Request::builder()
            .method(call.method.clone())
            .uri(&call.url)
            .header(
                http::header::USER_AGENT,
                concat!("app-token/", env!("CARGO_PKG_VERSION")),
            );
        for (name, value) in &call.headers {
            let mut value = http::HeaderValue::from_str(value)
                .with_context(|| format!("{}: a header value it cannot carry", call.name))?;
            value.set_sensitive(SENSITIVE_HEADERS.contains(name));
            builder = builder.header(*name, value);
        }
        let mut request = builder
            .body(call.body.clone())
            .with_context(|| format!("{}: a request that cannot be sent", call.name))?;
        if let Some(prepare) = call.prepare {
            prepare(&mut request)?;
        }
        Ok(request.map(Full::new))
    }

    /// Sends `call`, retrying transient failures a few times; gives back a 2xx answer,
    /// or the error in `dialect`'s words.
    pub async fn send(&self, call: &Call<'_>, dialect: &Dialect) -> Result<Answer, ServiceError> {
        self.send_with(call, dialect, Retry::Transient, None).await
    }

    /// [`RestClient::send`] for a call that issues a credential this step must give back
    /// (a Vault login): it is not sent again once the service may have acted on it, so
    /// that no second credential is issued while the first one's answer is lost.
    pub async fn send_issuing(
        &self,
        call: &Call<'_>,
        dialect: &Dialect,
    ) -> Result<Answer, ServiceError> {
        self.send_with(call, dialect, Retry::UnlessServed, None)
            .await
    }

    /// [`RestClient::send`], with an answer of status `expected` given back too (Key
    /// Vault's 401 challenge).
    pub async fn send_expecting(
        &self,
        call: &Call<'_>,
        dialect: &Dialect,
        expected: StatusCode,
    ) -> Result<Answer, ServiceError> {
        self.send_with(call, dialect, Retry::Transient, Some(expected))
            .await
    }

    async fn send_with(
        &self,
        call: &Call<'_>,
        dialect: &Dialect,
        retry: Retry,
        expected: Option<StatusCode>,
    ) -> Result<Answer, ServiceError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let request = self.request(call).map_err(|e| {
                ServiceError::local(
                    call.name,
                    "a request that could not be made",
                    &format!("{e:#}"),
                )
            })?;
            let result = transport::exchange(self.client.request(request), REQUEST_TIMEOUT).await;
            let (mut error, retryable, outcome) = match result {
                Ok(answer) if answer.status.is_success() || Some(answer.status) == expected => {
                    return Ok(answer)
                }
                Ok(answer) => {
                    let error = (dialect.error_of)(call.name, &answer);
                    let retryable = (dialect.transient)(answer.status, &error.code);
                    (error, retryable, Outcome::Answered(answer.status))
                }
                Err(failed) => (
                    ServiceError::local(call.name, "no answer", &failed.message),
                    !failed.permanent,
                    Outcome::NoAnswer { sent: failed.sent },
                ),
            };
            let held_back = hold_back(retry, retryable, outcome);
            if held_back {
                error.message = format!(
                    "{}{}not sent again, since the service may have acted on it",
                    error.message,
                    if error.message.is_empty() { "" } else { "; " }
                );
            }
            if attempt >= MAX_ATTEMPTS || !retryable || held_back {
                return Err(error);
            }
            tokio::time::sleep(BACKOFF * 2u32.pow(attempt - 1)).await;
        }
    }
}

/// Which failures a call may be sent again after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retry {
    /// Any transient one: sending the call twice does no harm.
    Transient,
    /// A transient one that the service cannot have acted on: the call issues a
    /// credential, and a second one would leave the first, in a lost answer, unknown.
    UnlessServed,
}

/// How an attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Answered(StatusCode),
    /// No answer; `sent`: the request may have reached the server.
    NoAnswer {
        sent: bool,
    },
}

/// Is a transient failure kept from another try? Only for a call that issues a
/// credential, when the service may have acted on it.
fn hold_back(retry: Retry, retryable: bool, outcome: Outcome) -> bool {
    retry == Retry::UnlessServed && retryable && maybe_served(outcome)
}

/// May the service have acted on a request whose attempt failed so? One that got no
/// answer after it was sent may have been served, and so may one a gateway answered
/// for (502, 504: the service's own answer, if any, did not come through). An error
/// answer of the service's own issued nothing.
fn maybe_served(outcome: Outcome) -> bool {
    match outcome {
        Outcome::NoAnswer { sent } => sent,
        Outcome::Answered(status) => {
            status == StatusCode::BAD_GATEWAY || status == StatusCode::GATEWAY_TIMEOUT
        }
    }
}

/// Parses a 2xx answer's JSON body into `T`, or says which call's answer was unreadable.
pub fn json<T: serde::de::DeserializeOwned>(
    call: &str,
    answer: &Answer,
    missing: &str,
) -> Result<T, ServiceError> {
    serde_json::from_slice(&answer.body).map_err(|_| {
        ServiceError::answered(
            call,
            answer,
            "an answer that cannot be read".into(),
            missing.to_string(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_call_code_message_status_and_request() {
        let e = ServiceError {
            call: "KMS Sign".into(),
            code: "NotFoundException".into(),
            message: "Alias alias/x is not found.".into(),
            status: Some(400),
            request_id: Some("r-1".into()),
            note: None,
        };
        assert_eq!(
            e.to_string(),
            "KMS Sign failed: NotFoundException: Alias alias/x is not found. (HTTP 400, request id r-1)"
        );
        assert_eq!(
            ServiceError::local("STS", "no answer", "").to_string(),
            "STS failed: no answer"
        );
        let noted = ServiceError {
            note: Some("what the token showed".into()),
            ..e
        };
        assert_eq!(
            noted.to_string(),
            "KMS Sign failed: NotFoundException: Alias alias/x is not found. (HTTP 400, request id r-1)\nwhat the token showed"
        );
    }

    #[test]
    fn forms_are_url_encoded_and_bearers_sensitive() {
        let call = Call::post_form(
            "t",
            "http://127.0.0.1/".into(),
            &[("a", "b c/d"), ("e", "=")],
        )
        .bearer("tok");
        assert_eq!(&call.body[..], b"a=b+c%2Fd&e=%3D");
        let client = RestClient::new(&Proxy::default(), Duration::from_secs(1)).unwrap();
        let request = client.request(&call).unwrap();
        let auth = &request.headers()["authorization"];
        assert!(auth.is_sensitive());
        assert_eq!(auth, "Bearer tok");
    }

    #[test]
    fn vaults_token_header_is_sensitive_too() {
        let mut call = Call::post_json("t", "http://127.0.0.1/".into(), &serde_json::json!({}));
        call.headers.push(("x-vault-token", "hvs.secret".into()));
        call.headers.push(("x-vault-namespace", "admin".into()));
        let client = RestClient::new(&Proxy::default(), Duration::from_secs(1)).unwrap();
        let request = client.request(&call).unwrap();
        assert!(request.headers()["x-vault-token"].is_sensitive());
        assert!(!format!("{request:?}").contains("hvs.secret"));
        assert!(!request.headers()["x-vault-namespace"].is_sensitive());
    }

    #[test]
    fn a_call_that_issues_a_credential_is_not_sent_again_once_it_may_have_been_served() {
        let sent = Outcome::NoAnswer { sent: true };
        let unsent = Outcome::NoAnswer { sent: false };
        let answered = |s: u16| Outcome::Answered(StatusCode::from_u16(s).unwrap());
        // Any call: every transient failure is tried again.
        for outcome in [sent, unsent, answered(503), answered(504)] {
            assert!(!hold_back(Retry::Transient, true, outcome), "{outcome:?}");
        }
        // A login: not after a timeout or a dropped answer, nor a gateway's 502 or 504.
        for outcome in [sent, answered(502), answered(504)] {
            assert!(hold_back(Retry::UnlessServed, true, outcome), "{outcome:?}");
        }
        // But a connection never made, or the service's own error answer, issued nothing.
        for outcome in [
            unsent,
            answered(500),
            answered(503),
            answered(429),
            answered(412),
        ] {
            assert!(
                !hold_back(Retry::UnlessServed, true, outcome),
                "{outcome:?}"
            );
        }
        // What is not transient is not tried again either way.
        assert!(!hold_back(Retry::UnlessServed, false, sent));
    }
}
