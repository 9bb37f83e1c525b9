//! The runner's OIDC token endpoint on 127.0.0.1: `ACTIONS_ID_TOKEN_REQUEST_URL` answers a real JWT for the audience asked (GitHub's default `https://github.com/OWNER` without one), with the claims GitHub's carry and a `sub` in either format (classic `repo:OWNER/REPO:…` or immutable `repo:OWNER@OWNER_ID/REPO@REPO_ID:…`), signed with a key whose public half the cloud stand-ins verify, as the clouds verify GitHub's; and what the tests expect a refusal or the debug log to say of such a token.

use std::sync::{Arc, Mutex};

use httpmock::prelude::*;
use httpmock::{HttpMockRequest, HttpMockResponse};
use serde_json::{json, Value};

/// The bearer that opens the runner's token endpoint.
pub const ID_TOKEN_REQUEST_TOKEN: &str = "runnerRequestTokenForOidcNeverPrinted02";
pub const OIDC_ISSUER: &str = "https://token.actions.githubusercontent.com";
/// The job's `sub`: this repository's main branch, in the classic format.
pub const OIDC_SUBJECT: &str = "repo:acme/site:ref:refs/heads/main";
/// acme's and acme/site's ids, as GitHub's tokens carry them.
pub const OWNER_ID: &str = "4242";
pub const REPO_ID: &str = "90210";
/// The same job's `sub` in the immutable format (GitHub's default since 2026-07-15 for
/// repositories created, renamed or transferred after that date).
pub const OIDC_SUBJECT_IMMUTABLE: &str = "repo:acme@4242/site@90210:ref:refs/heads/main";
/// GitHub's default audience for acme's jobs.
pub const OIDC_DEFAULT_AUDIENCE: &str = "https://github.com/acme";
/// The key GitHub's OIDC tokens are signed with here, and its public half (the JWKS).
pub const OIDC_KEY: &str = include_str!("../fixtures/test-key-2-pkcs1.pem");
pub const OIDC_PUBLIC_KEY: &str = include_str!("../fixtures/test-key-2-public.pem");

/// The claims of a token of acme/site's main branch for `audience`, with `subject`
/// (either format), as GitHub's OIDC provider issues them, but for its times.
pub fn job_claims(audience: &str, subject: &str) -> Value {
    json!({
        "sub": subject,
        "aud": audience,
        "ref": "refs/heads/main",
        "ref_type": "branch",
        "repository": "acme/site",
        "repository_id": REPO_ID,
        "repository_owner": "acme",
        "repository_owner_id": OWNER_ID,
        "repository_visibility": "private",
        "event_name": "push",
        "workflow": "ci",
        "job_workflow_ref": "acme/site/.github/workflows/ci.yml@refs/heads/main",
        "runner_environment": "github-hosted",
        "iss": OIDC_ISSUER,
    })
}

/// A JWT as GitHub's OIDC provider issues it, for `audience`, signed with [`OIDC_KEY`].
pub fn id_token(audience: &str, subject: &str) -> String {
    let now = super::unix_now();
    let mut claims = job_claims(audience, subject);
    claims["jti"] = json!(format!("{now}-{audience}"));
    claims["nbf"] = json!(now - 5);
    claims["iat"] = json!(now - 5);
    claims["exp"] = json!(now + 300);
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

    /// A runner whose tokens carry `subject` (another repository or branch, or the
    /// immutable format).
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

/// Both of GitHub's `sub` formats for the job, each with the name the debug log gives it.
pub const BOTH_FORMATS: [(&str, &str); 2] = [
    (OIDC_SUBJECT, "the classic format"),
    (OIDC_SUBJECT_IMMUTABLE, "the immutable format"),
];

/// What a refusal says of a token in the immutable format.
pub const SAID_IMMUTABLE: &str = "Its sub is in the immutable format, repo:OWNER@OWNER_ID/REPO@REPO_ID:… (GitHub's default since 2026-07-15 for repositories created, renamed or transferred after that date): a rule written for the classic repo:OWNER/REPO:… does not match it.";

/// What a refusal says a token of the job for `audience` with `subject` showed.
pub fn shown_claims(audience: &str, subject: &str) -> String {
    format!(
        "The job's OIDC token showed (its claims; the token itself is not shown): iss '{OIDC_ISSUER}', aud '{audience}', sub '{subject}', repository 'acme/site', repository_id '{REPO_ID}', repository_owner 'acme', repository_owner_id '{OWNER_ID}', ref 'refs/heads/main', job_workflow_ref 'acme/site/.github/workflows/ci.yml@refs/heads/main'."
    )
}

/// The lines of the step's `::error` annotation (its `%0A`s), the first with the
/// command.
pub fn error_lines(stdout: &str) -> Vec<String> {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("::error"))
        .unwrap_or_else(|| panic!("no ::error line in:\n{stdout}"));
    line.split("%0A").map(str::to_string).collect()
}

/// Asserts that the step's debug log says what the token (of the job, for `audience`,
/// with `subject` in `format`) showed `exchange`.
pub fn assert_claims_debugged(
    stdout: &str,
    exchange: &str,
    audience: &str,
    subject: &str,
    format: &str,
) {
    let prefix = format!("::debug::{exchange}: the job's OIDC token shows ");
    let line = stdout
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} line in:\n{stdout}"));
    assert!(
        line.contains(&format!(
            "aud '{audience}', sub '{subject}', repository 'acme/site', repository_id '{REPO_ID}'"
        )),
        "{line}"
    );
    assert!(
        line.ends_with(&format!("; its sub is in {format}")),
        "{line}"
    );
}
