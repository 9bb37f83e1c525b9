//! The job's OIDC token.
//!
//! Asked of the runner anew for each exchange, with the exchange's audience
//! (`ACTIONS_ID_TOKEN_REQUEST_URL` + `&audience=…`, with `ACTIONS_ID_TOKEN_REQUEST_TOKEN`
//! as the bearer), masked as soon as it arrives, and kept with its claims; every cloud
//! backend trades it for its own credentials, and says what it showed when the cloud
//! refuses it.

use http::Method;
use serde::Deserialize;

use super::claims::{self, Claims, Trust};
use super::rest::{self, Call, Dialect, RestClient, ServiceError};
use super::secret::{Secret, SecretSink};
use super::DebugSink;
use crate::env::{var, Env};
use crate::transport::Answer;

/// The runner's OIDC token endpoint and the bearer that opens it: present in a job with
/// `permissions: id-token: write`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcRequest {
    /// `ACTIONS_ID_TOKEN_REQUEST_URL`, checked (https, or loopback); it carries a query.
    pub url: String,
    pub token: Secret,
}

/// What the environment says about the OIDC endpoint, before it is checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OidcEnv {
    pub request_url: Option<String>,
    pub request_token: Option<Secret>,
}

impl OidcEnv {
    pub fn from_env(env: Env<'_>) -> Self {
        Self {
            request_url: var(env, "ACTIONS_ID_TOKEN_REQUEST_URL"),
            request_token: var(env, "ACTIONS_ID_TOKEN_REQUEST_TOKEN").map(Secret::new),
        }
    }
}

/// The URL that asks for a token with `audience`: the runner's URL (which already has a
/// query) with `audience` added, percent-encoded as `@actions/core` does. Without an
/// audience the token has GitHub's default, `https://github.com/OWNER`.
pub fn token_url(request_url: &str, audience: Option<&str>) -> String {
    let Some(audience) = audience else {
        return request_url.to_string();
    };
    let separator = if request_url.contains('?') { '&' } else { '?' };
    let encoded: String = form_urlencoded::byte_serialize(audience.as_bytes()).collect();
    format!("{request_url}{separator}audience={encoded}")
}

#[derive(Deserialize)]
struct TokenAnswer {
    value: String,
}

/// The job's OIDC token, with the claims a cloud's trust rules match on.
pub struct IdToken {
    pub token: Secret,
    /// `None` for a token that is no JWT with a readable payload.
    pub claims: Option<Claims>,
}

impl IdToken {
    /// `token`, with its claims read from its payload.
    pub fn new(token: Secret) -> Self {
        let claims = Claims::of_token(token.expose());
        Self { token, claims }
    }

    /// Tells `on_debug` (the runner's debug log, when it is on) what the token shows
    /// `exchange`, before it is sent there.
    pub fn tell(&self, exchange: &str, on_debug: Option<&DebugSink>) {
        if let (Some(debug), Some(claims)) = (on_debug, &self.claims) {
            debug(&claims::debug_line(exchange, claims));
        }
    }

    /// `error`, the answer of the exchange, with what the token showed when it is the
    /// cloud refusing it by `trust`.
    pub fn explain(&self, error: ServiceError, trust: &Trust) -> ServiceError {
        claims::explained(error, self.claims.as_ref(), trust)
    }
}

/// The runner's errors: its status, and its body's `message` when it has one.
fn error_of(call: &str, answer: &Answer) -> ServiceError {
    #[derive(Deserialize)]
    struct Message {
        #[serde(alias = "Message")]
        message: String,
    }
    let message = serde_json::from_slice::<Message>(&answer.body)
        .map(|m| m.message)
        .unwrap_or_default();
    ServiceError::answered(call, answer, rest::status_reason(answer), message)
}

const DIALECT: Dialect = Dialect {
    error_of,
    transient: |status, _| rest::transient_status(status),
};

/// The job's OIDC token for `audience` (GitHub's default without one), with its claims;
/// `on_secret` learns it before anything else sees it.
pub async fn token(
    client: &RestClient,
    request: &OidcRequest,
    audience: Option<&str>,
    on_secret: &SecretSink,
) -> Result<IdToken, ServiceError> {
    let call = Call {
        name: "GitHub's OIDC token request",
        method: Method::GET,
        url: token_url(&request.url, audience),
        headers: vec![
            (
                "authorization",
                format!("bearer {}", request.token.expose()),
            ),
            ("accept", "application/json".into()),
        ],
        body: bytes::Bytes::new(),
        prepare: None,
    };
    let answer = client.send(&call, &DIALECT).await?;
    let token: TokenAnswer = rest::json(call.name, &answer, "the runner's answer has no `value`")?;
    on_secret(&token.value);
    Ok(IdToken::new(Secret::new(token.value)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_audience_is_added_to_the_runners_query_encoded() {
        assert_eq!(
            token_url(
                "https://t.example/x?api-version=2.0",
                Some("sts.amazonaws.com")
            ),
            "https://t.example/x?api-version=2.0&audience=sts.amazonaws.com"
        );
        assert_eq!(
            token_url(
                "http://127.0.0.1:1/t",
                Some("https://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/g")
            ),
            "http://127.0.0.1:1/t?audience=https%3A%2F%2Fiam.googleapis.com%2Fprojects%2F1%2Flocations%2Fglobal%2FworkloadIdentityPools%2Fp%2Fproviders%2Fg"
        );
        assert_eq!(
            token_url(
                "https://t.example/x?a=1",
                Some("api://AzureADTokenExchange")
            ),
            "https://t.example/x?a=1&audience=api%3A%2F%2FAzureADTokenExchange"
        );
        assert_eq!(
            token_url("https://t.example/x?a=1", None),
            "https://t.example/x?a=1"
        );
    }

    #[test]
    fn the_environment_gives_the_url_and_its_bearer() {
        let env = |k: &str| match k {
            "ACTIONS_ID_TOKEN_REQUEST_URL" => Some(" https://t.example/x?a=1 ".to_string()),
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN" => Some("req".to_string()),
            _ => None,
        };
        let o = OidcEnv::from_env(&env);
        assert_eq!(o.request_url.as_deref(), Some("https://t.example/x?a=1"));
        assert_eq!(o.request_token, Some(Secret::new("req")));
        assert_eq!(OidcEnv::from_env(&|_| None), OidcEnv::default());
    }
}
