//! A GCP stand-in on 127.0.0.1: the runner's OIDC endpoint (GitHub's claims, a `sub` in either format), STS's token exchange, IAM credentials' generateAccessToken and Cloud KMS's asymmetricSign, each checking what the real service checks (grant and token types, audiences, the provider's attribute condition, the bearer of each call, the key version's name, the digest's length) and answering, or refusing, in its words. It signs with the test key, whose public half the fake GitHub verifies with.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::{Request, Response};
use rsa::pkcs1::DecodeRsaPrivateKey as _;
use serde_json::{json, Value};

use super::oidc::{job_claims, OIDC_SUBJECT};
use super::KEY_PKCS1;

/// The runner's bearer for its OIDC endpoint.
pub const GCP_REQUEST_TOKEN: &str = "runnerRequestTokenForGcp0001";
/// The signature part of every OIDC token the stand-in's runner issues.
pub const GCP_OIDC_SIGNATURE: &str = "oidcSignatureOfTheGcpStandIn0001";
pub const FEDERATED_TOKEN: &str = "ya29.federatedTokenFromTheStandInSts0001";
pub const SERVICE_ACCOUNT_TOKEN: &str = "ya29.serviceAccountTokenFromTheStandIn0001";
pub const GCP_PROVIDER: &str =
    "projects/123456789/locations/global/workloadIdentityPools/github/providers/acme";
pub const GCP_SERVICE_ACCOUNT: &str = "app-signer@acme-prod.iam.gserviceaccount.com";
pub const GCP_KEY_VERSION: &str =
    "projects/acme-prod/locations/global/keyRings/github/cryptoKeys/app/cryptoKeyVersions/1";

/// What the stand-in expects.
#[derive(Clone)]
pub struct GcpExpect {
    pub provider: String,
    /// The service account that may be impersonated; without one, KMS takes the
    /// federated token itself (direct workload identity federation).
    pub service_account: Option<String>,
    pub key_version: String,
    /// The `sub` of the job's OIDC tokens (either of GitHub's formats).
    pub subject: String,
    /// The provider's attribute condition: `assertion.CLAIM == 'VALUE'` for each pair,
    /// all of them (none: no condition).
    pub attribute_condition: Vec<(&'static str, String)>,
    /// How long the tokens STS and IAM credentials issue live, in seconds (STS's
    /// `expires_in`, IAM's `expireTime`); without it an hour and a far date.
    pub token_lifetime: Option<u64>,
}

impl Default for GcpExpect {
    fn default() -> Self {
        Self {
            provider: GCP_PROVIDER.into(),
            service_account: Some(GCP_SERVICE_ACCOUNT.into()),
            key_version: GCP_KEY_VERSION.into(),
            subject: OIDC_SUBJECT.into(),
            attribute_condition: Vec::new(),
            token_lifetime: None,
        }
    }
}

/// One request the stand-in took.
#[derive(Clone, Debug)]
pub struct Seen {
    /// `oidc`, `sts`, `iam`, `kms` or `other`.
    pub service: &'static str,
    #[allow(dead_code, reason = "read by Debug alone, for failure messages")]
    pub path: String,
    #[allow(dead_code, reason = "read by Debug alone, for failure messages")]
    pub authorization: Option<String>,
    #[allow(dead_code, reason = "read by Debug alone, for failure messages")]
    pub body: String,
    /// The status it answered.
    pub status: u16,
}

/// The running stand-in; it lives as long as the test process.
pub struct GcpStandIn {
    pub url: String,
    pub expect: GcpExpect,
    seen: Arc<Mutex<Vec<Seen>>>,
}

/// A fake OIDC token for `aud`: a JWT's shape, with GitHub's claims for the classic
/// `sub`, and the stand-in's signature.
pub fn gcp_oidc_token(aud: &str) -> String {
    gcp_oidc_token_for(aud, OIDC_SUBJECT)
}

/// [`gcp_oidc_token`] with `subject` (either format).
pub fn gcp_oidc_token_for(aud: &str, subject: &str) -> String {
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","typ":"JWT"}"#);
    let claims = URL_SAFE_NO_PAD.encode(job_claims(aud, subject).to_string());
    format!("{header}.{claims}.{GCP_OIDC_SIGNATURE}")
}

fn oauth_error(error: &str, description: &str) -> (u16, Value) {
    (
        400,
        json!({"error": error, "error_description": description}),
    )
}

fn google_error(code: u16, status: &str, message: &str) -> (u16, Value) {
    (
        code,
        json!({"error": {"code": code, "message": message, "status": status}}),
    )
}

fn bearer(authorization: &Option<String>) -> Option<&str> {
    let value = authorization.as_deref()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

impl GcpStandIn {
    pub fn start(expect: GcpExpect) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        listener.set_nonblocking(true).expect("non-blocking");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (state_expect, state_seen) = (expect.clone(), Arc::clone(&seen));
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("a listener");
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let (expect, seen) = (state_expect.clone(), Arc::clone(&state_seen));
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(move |req| {
                            let (expect, seen) = (expect.clone(), Arc::clone(&seen));
                            async move { Ok::<_, Infallible>(answer(req, &expect, &seen).await) }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
        });
        Self { url, expect, seen }
    }

    /// `ACTIONS_ID_TOKEN_REQUEST_URL` at the stand-in's runner.
    pub fn oidc_url(&self) -> String {
        format!("{}/_apis/distributedtask/token?api-version=2.0", self.url)
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// How many requests `service` took.
    pub fn calls(&self, service: &str) -> usize {
        self.seen().iter().filter(|s| s.service == service).count()
    }

    /// The endpoint overrides, in gcloud's names, that send every call here.
    pub fn overrides(&self) -> Vec<(String, String)> {
        ["STS", "IAMCREDENTIALS", "CLOUDKMS"]
            .iter()
            .map(|s| {
                (
                    format!("CLOUDSDK_API_ENDPOINT_OVERRIDES_{s}"),
                    format!("{}/", self.url),
                )
            })
            .collect()
    }

    /// An `external_account` file as google-github-actions/auth writes it, pointing here,
    /// with the OIDC token asked for `audience`.
    pub fn external_account(&self, audience: &str, service_account: Option<&str>) -> Value {
        let encoded: String = form_urlencoded::byte_serialize(audience.as_bytes()).collect();
        let mut file = json!({
            "type": "external_account",
            "audience": format!("//iam.googleapis.com/{}", self.expect.provider),
            "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
            "token_url": format!("{}/v1/token", self.url),
            "credential_source": {
                "url": format!("{}&audience={encoded}", self.oidc_url()),
                "headers": {"Authorization": format!("Bearer {GCP_REQUEST_TOKEN}")},
                "format": {"type": "json", "subject_token_field_name": "value"},
            },
        });
        if let Some(email) = service_account {
            file["service_account_impersonation_url"] = json!(format!(
                "{}/v1/projects/-/serviceAccounts/{email}:generateAccessToken",
                self.url
            ));
        }
        file
    }
}

async fn answer(
    req: Request<hyper::body::Incoming>,
    expect: &GcpExpect,
    seen: &Mutex<Vec<Seen>>,
) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or_default().to_string();
    let authorization = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let body = String::from_utf8_lossy(&body).into_owned();
    let (service, (status, value)) = if path == "/_apis/distributedtask/token" {
        ("oidc", oidc(&query, &authorization, &expect.subject))
    } else if path == "/v1/token" {
        ("sts", sts(&body, expect))
    } else if let Some(rest) = path.strip_prefix("/v1/projects/-/serviceAccounts/") {
        ("iam", iam(rest, &authorization, &body, expect))
    } else if let Some(name) = path
        .strip_prefix("/v1/")
        .and_then(|p| p.strip_suffix(":asymmetricSign"))
    {
        ("kms", kms(name, &authorization, &body, expect))
    } else {
        ("other", google_error(404, "NOT_FOUND", "Not Found"))
    };
    if let Ok(mut s) = seen.lock() {
        s.push(Seen {
            service,
            path,
            authorization,
            body,
            status,
        });
    }
    Response::builder()
        .status(status)
        .header("content-type", "application/json; charset=UTF-8")
        .body(Full::new(Bytes::from(value.to_string())))
        .expect("a response")
}

/// The runner: a token for the asked audience (GitHub's default without one).
fn oidc(query: &str, authorization: &Option<String>, subject: &str) -> (u16, Value) {
    if bearer(authorization) != Some(GCP_REQUEST_TOKEN) {
        return (401, json!({"message": "Unauthorized"}));
    }
    let audience = form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "audience")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| "https://github.com/acme".into());
    (
        200,
        json!({"count": 1, "value": gcp_oidc_token_for(&audience, subject)}),
    )
}

/// The claims of a JWT-shaped token.
fn claims_of(token: &str) -> Option<Value> {
    let claims = token.split('.').nth(1)?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).ok()?).ok()
}

/// STS: a token exchange for the provider's audience, with a JWT whose `aud` is the
/// provider's (the default allowed audience of a workload identity provider).
fn sts(body: &str, expect: &GcpExpect) -> (u16, Value) {
    let form: BTreeMap<String, String> = form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    if get("grant_type") != "urn:ietf:params:oauth:grant-type:token-exchange" {
        return oauth_error(
            "unsupported_grant_type",
            &format!("Unsupported grant type: {}", get("grant_type")),
        );
    }
    if get("requested_token_type") != "urn:ietf:params:oauth:token-type:access_token" {
        return oauth_error(
            "invalid_request",
            "Invalid value for \"requested_token_type\".",
        );
    }
    if get("subject_token_type") != "urn:ietf:params:oauth:token-type:jwt" {
        return oauth_error(
            "invalid_request",
            "Invalid value for \"subject_token_type\".",
        );
    }
    // cloud-platform, or iam (google-auth asks for that one before it impersonates).
    let scopes: Vec<&str> = get("scope").split(' ').filter(|s| !s.is_empty()).collect();
    let known = [
        "https://www.googleapis.com/auth/cloud-platform",
        "https://www.googleapis.com/auth/iam",
    ];
    if scopes.is_empty() || !scopes.iter().all(|s| known.contains(s)) {
        return oauth_error("invalid_scope", "The requested scope is not allowed.");
    }
    if get("audience") != format!("//iam.googleapis.com/{}", expect.provider) {
        return oauth_error(
            "invalid_target",
            "The target service indicated by the \"audience\" parameters is invalid. This might either be because the pool or provider is disabled or deleted or because it doesn't exist.",
        );
    }
    let expected = format!("https://iam.googleapis.com/{}", expect.provider);
    let Some(claims) = claims_of(get("subject_token")) else {
        return oauth_error("invalid_grant", "Unable to parse the ID Token.");
    };
    match claims["aud"].as_str() {
        Some(aud) if aud == expected => {}
        aud => {
            return oauth_error(
                "invalid_grant",
                &format!(
                "The audience in ID Token [{}] does not match the expected audience {expected}.",
                aud.unwrap_or_default()
            ),
            )
        }
    }
    let admitted = expect
        .attribute_condition
        .iter()
        .all(|(claim, value)| claims[*claim].as_str() == Some(value.as_str()));
    if !admitted {
        return oauth_error(
            "unauthorized_client",
            "The given credential is rejected by the attribute condition.",
        );
    }
    (
        200,
        json!({
            "access_token": FEDERATED_TOKEN,
            "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
            "token_type": "Bearer",
            "expires_in": expect.token_lifetime.unwrap_or(3599),
        }),
    )
}

/// IAM credentials: a service account's token, for the federated token only.
fn iam(rest: &str, authorization: &Option<String>, body: &str, expect: &GcpExpect) -> (u16, Value) {
    let Some(email) = rest.strip_suffix(":generateAccessToken") else {
        return google_error(404, "NOT_FOUND", "Method not found.");
    };
    if bearer(authorization) != Some(FEDERATED_TOKEN) {
        return google_error(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
        );
    }
    if expect.service_account.as_deref() != Some(email) {
        return google_error(
            403,
            "PERMISSION_DENIED",
            "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).",
        );
    }
    let body: Value = serde_json::from_str(body).unwrap_or_default();
    let scoped = body["scope"]
        .as_array()
        .map(|s| {
            s.iter()
                .any(|v| v == "https://www.googleapis.com/auth/cloud-platform")
        })
        .unwrap_or(false);
    let lifetime_ok = match body.get("lifetime").and_then(|l| l.as_str()) {
        None => true,
        Some(l) => l
            .strip_suffix('s')
            .and_then(|n| n.parse::<f64>().ok())
            .is_some_and(|n| n > 0.0 && n <= 3600.0),
    };
    if !scoped || !lifetime_ok {
        return google_error(
            400,
            "INVALID_ARGUMENT",
            "Request contains an invalid argument.",
        );
    }
    // Whole seconds, as google-auth reads them (`%Y-%m-%dT%H:%M:%SZ`), rounded up.
    let expire_time = expect.token_lifetime.map_or_else(
        || "2030-01-01T00:00:00Z".to_string(),
        |seconds| {
            let end = chrono::Utc::now() + chrono::Duration::seconds(seconds as i64 + 1);
            end.format("%Y-%m-%dT%H:%M:%SZ").to_string()
        },
    );
    (
        200,
        json!({"accessToken": SERVICE_ACCOUNT_TOKEN, "expireTime": expire_time}),
    )
}

/// Cloud KMS: an RSA_SIGN_PKCS1_2048_SHA256 signature of a 32-byte digest.
fn kms(name: &str, authorization: &Option<String>, body: &str, expect: &GcpExpect) -> (u16, Value) {
    let token = if expect.service_account.is_some() {
        SERVICE_ACCOUNT_TOKEN
    } else {
        FEDERATED_TOKEN
    };
    if bearer(authorization) != Some(token) {
        return google_error(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
        );
    }
    if name != expect.key_version {
        return google_error(404, "NOT_FOUND", &format!("{name} not found."));
    }
    let body: Value = serde_json::from_str(body).unwrap_or_default();
    let Some(digest) = body["digest"]["sha256"]
        .as_str()
        .and_then(|d| STANDARD.decode(d).ok())
    else {
        return google_error(
            400,
            "INVALID_ARGUMENT",
            "The request must include a digest of type sha256 for a key of algorithm RSA_SIGN_PKCS1_2048_SHA256.",
        );
    };
    if digest.len() != 32 {
        return google_error(
            400,
            "INVALID_ARGUMENT",
            &format!(
                "Digest length {} does not match the expected length 32.",
                digest.len()
            ),
        );
    }
    let key = rsa::RsaPrivateKey::from_pkcs1_pem(KEY_PKCS1).expect("the test key");
    let signature = key
        .sign(rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), &digest)
        .expect("a signature");
    (
        200,
        json!({
            "signature": STANDARD.encode(signature),
            "name": name,
            "verifiedDigestCrc32c": false,
            "protectionLevel": "SOFTWARE",
        }),
    )
}
