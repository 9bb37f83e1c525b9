//! The runner's OIDC token endpoint on 127.0.0.1: `ACTIONS_ID_TOKEN_REQUEST_URL` answers a real JWT for the audience asked (GitHub's default `https://github.com/OWNER` without one), signed with a key whose public half the cloud stand-ins verify, as the clouds verify GitHub's.

use std::sync::{Arc, Mutex};

use httpmock::prelude::*;
use httpmock::{HttpMockRequest, HttpMockResponse};
use serde_json::{json, Value};

/// The bearer that opens the runner's token endpoint.
pub const ID_TOKEN_REQUEST_TOKEN: &str = "runnerRequestTokenForOidcNeverPrinted02";
pub const OIDC_ISSUER: &str = "https://token.actions.githubusercontent.com";
/// The job's `sub`: this repository's main branch.
pub const OIDC_SUBJECT: &str = "repo:acme/site:ref:refs/heads/main";
/// GitHub's default audience for acme's jobs.
pub const OIDC_DEFAULT_AUDIENCE: &str = "https://github.com/acme";
/// The key GitHub's OIDC tokens are signed with here, and its public half (the JWKS).
pub const OIDC_KEY: &str = include_str!("../fixtures/test-key-2-pkcs1.pem");
pub const OIDC_PUBLIC_KEY: &str = include_str!("../fixtures/test-key-2-public.pem");

/// A JWT as GitHub's OIDC provider issues it, for `audience`, signed with [`OIDC_KEY`].
pub fn id_token(audience: &str, subject: &str) -> String {
    let now = super::unix_now();
    let claims = json!({
        "jti": format!("{now}-{audience}"),
        "sub": subject,
        "aud": audience,
        "ref": "refs/heads/main",
        "repository": "acme/site",
        "repository_owner": "acme",
        "iss": OIDC_ISSUER,
        "nbf": now - 5,
        "iat": now - 5,
        "exp": now + 300,
    });
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(OIDC_KEY.as_bytes()).expect("the OIDC key");
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        &key,
    )
    .expect("an OIDC token")
}

/// The claims of a token GitHub's OIDC provider signed (checked against its public key,
/// as a cloud checks it), expiry included; `None` for anything else.
pub fn id_token_claims(jwt: &str) -> Option<Value> {
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(OIDC_PUBLIC_KEY.as_bytes()).ok()?;
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.validate_aud = false;
    v.set_issuer(&[OIDC_ISSUER]);
    jsonwebtoken::decode::<Value>(jwt, &key, &v)
        .ok()
        .map(|d| d.claims)
}

/// The runner's token endpoint.
pub struct FakeOidc {
    pub server: MockServer,
    /// (audience, token) of every token issued, in order.
    issued: Arc<Mutex<Vec<(String, String)>>>,
}

impl FakeOidc {
    pub fn start() -> Self {
        Self::with_subject(OIDC_SUBJECT)
    }

    /// A runner whose tokens carry `subject` (another repository or branch).
    pub fn with_subject(subject: &str) -> Self {
        let server = MockServer::start();
        let issued = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&issued);
        let subject = subject.to_string();
        server.mock(|when, then| {
            when.method(GET).path("/_apis/distributedtask/token");
            then.respond_with(move |req: &HttpMockRequest| {
                let authorized = req.headers_vec().iter().any(|(k, v)| {
                    k.eq_ignore_ascii_case("authorization")
                        && v == &format!("bearer {ID_TOKEN_REQUEST_TOKEN}")
                });
                let query = req.query_params();
                let param = |n: &str| query.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
                if !authorized || param("api-version").as_deref() != Some("2.0") {
                    return HttpMockResponse::builder()
                        .status(401)
                        .body(json!({"message": "Unauthorized"}).to_string())
                        .build();
                }
                let audience = param("audience").unwrap_or_else(|| OIDC_DEFAULT_AUDIENCE.into());
                let token = id_token(&audience, &subject);
                log.lock()
                    .expect("the issued tokens")
                    .push((audience, token.clone()));
                HttpMockResponse::builder()
                    .status(200)
                    .header("content-type", "application/json")
                    .body(json!({"count": 1, "value": token}).to_string())
                    .build()
            });
        });
        Self { server, issued }
    }

    /// The variables a job with `permissions: id-token: write` has.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            (
                "ACTIONS_ID_TOKEN_REQUEST_URL".into(),
                format!(
                    "http://{}/_apis/distributedtask/token?api-version=2.0",
                    self.server.address()
                ),
            ),
            (
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN".into(),
                ID_TOKEN_REQUEST_TOKEN.into(),
            ),
        ]
    }

    /// (audience, token) of every token issued.
    pub fn issued(&self) -> Vec<(String, String)> {
        self.issued.lock().expect("the issued tokens").clone()
    }
}
