//! HashiCorp Vault on 127.0.0.1: JWT auth (`auth/PATH/login`, a role bound to an audience and a subject or to claims, the token's signature checked with GitHub's key, refusals in Vault's words), a transit mount whose RSA keys sign with real keys (any version, `pkcs1v15` or `pss`, `jws` or `asn1` marshaling), `auth/token/revoke-self`, all under an optional namespace (`X-Vault-Namespace`), answering in Vault's `{"errors":[…]}`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use httpmock::prelude::*;
use httpmock::{HttpMockRequest, HttpMockResponse};
use rsa::pkcs1::DecodeRsaPrivateKey as _;
use serde_json::{json, Value};
use sha2::Digest as _;

use super::oidc::{id_token_claims, OIDC_DEFAULT_AUDIENCE, OIDC_SUBJECT};
use super::stand_in::{header, serve_on};
use super::KEY_PKCS1;

/// The JWT auth role the job logs in with.
pub const VAULT_ROLE: &str = "github-app-signer";
/// The transit key the app's PEM was imported as.
pub const VAULT_KEY_NAME: &str = "github-app";
/// A token from the environment, as hashicorp/vault-action leaves it.
pub const VAULT_STATIC_TOKEN: &str = "hvs.CAESIStaticTokenFromVaultActionNeverPrinted";
/// The audience a role binds when the workflow sets `vault-audience`.
pub const VAULT_AUDIENCE: &str = "https://vault.example.com";
const OLDER_KEY: &str = include_str!("../fixtures/test-key-2-pkcs1.pem");

/// One request as the stand-in saw it.
#[derive(Debug, Clone)]
pub struct VaultSeen {
    #[allow(dead_code, reason = "read by Debug alone, for failure messages")]
    pub method: String,
    /// Below `/v1/`.
    pub path: String,
    pub token: Option<String>,
    pub namespace: Option<String>,
    pub json: Option<Value>,
}

struct Token {
    value: String,
    revoked: bool,
    /// When its TTL runs out (never: the environment's).
    expires: Option<Instant>,
}

impl Token {
    /// Whether Vault still takes it: not revoked, and within its TTL.
    fn valid(&self) -> bool {
        !self.revoked && self.expires.is_none_or(|e| Instant::now() < e)
    }
}

struct State {
    /// The namespace the mounts live in (Vault Enterprise, HCP), without slashes.
    namespace: Option<String>,
    auth_path: String,
    mount: String,
    /// The role's `bound_audiences` and `bound_subject` (empty: none), and its
    /// `bound_claims` (`bound_claims_type` `string`: each claim one of its values).
    bound_audiences: Vec<String>,
    bound_subject: String,
    bound_claims: BTreeMap<String, Vec<String>>,
    /// Each key's versions, oldest first (version N is index N-1).
    keys: BTreeMap<String, Vec<String>>,
    tokens: Vec<Token>,
    /// The TTL of a login's token (the role's `token_ttl`), in seconds.
    token_ttl: u64,
    seen: Vec<VaultSeen>,
}

/// Vault, JWT auth at `jwt`, transit at `transit`.
pub struct FakeVault {
    pub server: MockServer,
    state: Arc<Mutex<State>>,
}

fn answer(status: u16, body: Value) -> HttpMockResponse {
    HttpMockResponse::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("cache-control", "no-store")
        .body(body.to_string())
        .build()
}

fn errors(status: u16, message: &str) -> HttpMockResponse {
    answer(status, json!({"errors": [message]}))
}

/// A deterministic source of PSS salt: this stand-in needs signatures, not secrecy.
struct Salt(u64);

impl rsa::rand_core::RngCore for Salt {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1);
        self.0
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for b in dest {
            *b = self.next_u64() as u8;
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rsa::rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl rsa::rand_core::CryptoRng for Salt {}

impl FakeVault {
    /// The key `github-app` with one version (the app's key), the role bound to GitHub's
    /// default audience and acme/site's main branch, no namespace.
    pub fn start() -> Self {
        Self::on(MockServer::start())
    }

    /// Vault as [`FakeVault::start`] makes it, but `auth/token/revoke-self` hangs: it
    /// answers (revoking nothing) only after `hang`.
    pub fn with_revoke_self_hanging(hang: Duration) -> Self {
        let server = MockServer::start();
        server.mock(|when, then| {
            when.path("/v1/auth/token/revoke-self");
            then.delay(hang).status(204);
        });
        Self::on(server)
    }

    fn on(server: MockServer) -> Self {
        let mut keys = BTreeMap::new();
        keys.insert(VAULT_KEY_NAME.to_string(), vec![KEY_PKCS1.to_string()]);
        let state = Arc::new(Mutex::new(State {
            namespace: None,
            auth_path: "jwt".into(),
            mount: "transit".into(),
            bound_audiences: vec![OIDC_DEFAULT_AUDIENCE.into()],
            bound_subject: OIDC_SUBJECT.into(),
            bound_claims: BTreeMap::new(),
            keys,
            tokens: vec![Token {
                value: VAULT_STATIC_TOKEN.into(),
                revoked: false,
                expires: None,
            }],
            token_ttl: 300,
            seen: Vec::new(),
        }));
        let server = serve_on(server, &state, handle);
        Self { server, state }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.server.address())
    }

    fn with(&self, f: impl FnOnce(&mut State)) -> &Self {
        f(&mut self.state.lock().expect("the stand-in's state"));
        self
    }

    /// The mounts live in namespace `ns` (e.g. `admin/ci`).
    pub fn in_namespace(&self, ns: &str) -> &Self {
        self.with(|s| s.namespace = Some(ns.trim_matches('/').to_string()))
    }

    /// The role binds `audiences` instead of GitHub's default.
    pub fn bind_audiences(&self, audiences: &[&str]) -> &Self {
        self.with(|s| s.bound_audiences = audiences.iter().map(|a| a.to_string()).collect())
    }

    /// The role binds `subject` (empty: none) as its `bound_subject`.
    pub fn bind_subject(&self, subject: &str) -> &Self {
        self.with(|s| s.bound_subject = subject.to_string())
    }

    /// The role's `bound_claims`: each claim must be one of its values.
    pub fn bind_claims(&self, claims: &[(&str, &[&str])]) -> &Self {
        self.with(|s| {
            s.bound_claims = claims
                .iter()
                .map(|(c, vs)| (c.to_string(), vs.iter().map(|v| v.to_string()).collect()))
                .collect()
        })
    }

    /// The role's `token_ttl`: a login's token lives `seconds` (its `lease_duration`).
    pub fn token_ttl(&self, seconds: u64) -> &Self {
        self.with(|s| s.token_ttl = seconds)
    }

    /// The key's history as a rotation leaves it: version 1 another key, version 2 the
    /// app's (`vault:v2:` signatures).
    pub fn rotated_to_the_apps_key(&self) -> &Self {
        self.with(|s| {
            s.keys.insert(
                VAULT_KEY_NAME.to_string(),
                vec![OLDER_KEY.to_string(), KEY_PKCS1.to_string()],
            );
        })
    }

    pub fn seen(&self) -> Vec<VaultSeen> {
        self.state
            .lock()
            .expect("the stand-in's state")
            .seen
            .clone()
    }

    /// The tokens `auth/…/login` issued, and whether each is revoked.
    pub fn login_tokens(&self) -> Vec<(String, bool)> {
        let state = self.state.lock().expect("the stand-in's state");
        state
            .tokens
            .iter()
            .filter(|t| t.value != VAULT_STATIC_TOKEN)
            .map(|t| (t.value.clone(), t.revoked))
            .collect()
    }

    /// Whether the environment's token is still valid.
    pub fn static_token_valid(&self) -> bool {
        let state = self.state.lock().expect("the stand-in's state");
        state
            .tokens
            .iter()
            .any(|t| t.value == VAULT_STATIC_TOKEN && !t.revoked)
    }
}

fn handle(state: &mut State, req: &HttpMockRequest) -> HttpMockResponse {
    let uri = req.uri();
    let body = req.body_string();
    let json: Option<Value> = serde_json::from_str(&body).ok();
    let token = header(req, "x-vault-token");
    let header_ns = header(req, "x-vault-namespace").map(|n| n.trim_matches('/').to_string());
    let Some(full) = uri.path().strip_prefix("/v1/") else {
        return errors(404, "not found");
    };
    state.seen.push(VaultSeen {
        method: req.method().to_string(),
        path: full.to_string(),
        token: token.clone(),
        namespace: header_ns.clone(),
        json: json.clone(),
    });
    // The namespace comes from the header, or from the path's first segments (Vault
    // takes either); a mount in a namespace is not found from another.
    let mut path = full.to_string();
    let in_namespace = match (&state.namespace, header_ns.as_deref()) {
        (None, None | Some("")) => true,
        (None, Some(_)) => false,
        (Some(want), Some(given)) => given == want,
        (Some(want), None) => match full.strip_prefix(&format!("{want}/")) {
            Some(rest) => {
                path = rest.to_string();
                true
            }
            None => false,
        },
    };
    let no_route = || {
        errors(
            404,
            &format!("no handler for route \"{full}\". route entry not found."),
        )
    };
    let segments: Vec<&str> = path.split('/').collect();
    let login_path = format!("auth/{}/login", state.auth_path);
    if req.method() != http::Method::POST && req.method() != http::Method::PUT {
        return errors(405, "unsupported operation");
    }
    if path == "auth/token/revoke-self" {
        // The token store is in every namespace.
        return match state
            .tokens
            .iter_mut()
            .find(|t| Some(&t.value) == token.as_ref() && t.valid())
        {
            Some(t) => {
                t.revoked = true;
                HttpMockResponse::builder().status(204).build()
            }
            None => errors(403, "permission denied"),
        };
    }
    if path == login_path {
        if !in_namespace {
            return no_route();
        }
        return login(state, json.as_ref());
    }
    match segments.as_slice() {
        [mount, "sign", key, rest @ ..]
            if *mount == state.mount && in_namespace && rest.len() <= 1 =>
        {
            let valid = state
                .tokens
                .iter()
                .any(|t| Some(&t.value) == token.as_ref() && t.valid());
            if !valid {
                return errors(403, "permission denied");
            }
            let hash = rest
                .first()
                .map(|h| h.to_string())
                .or_else(|| {
                    json.as_ref()
                        .and_then(|j| j["hash_algorithm"].as_str().map(str::to_string))
                })
                .unwrap_or_else(|| "sha2-256".into());
            sign(state, key, &hash, json.as_ref())
        }
        _ => no_route(),
    }
}

fn login(state: &mut State, body: Option<&Value>) -> HttpMockResponse {
    let body = body.cloned().unwrap_or(Value::Null);
    let Some(role) = body["role"].as_str().filter(|r| !r.is_empty()) else {
        return errors(400, "missing role");
    };
    if role != VAULT_ROLE {
        return errors(400, &format!("role \"{role}\" could not be found"));
    }
    let Some(jwt) = body["jwt"].as_str().filter(|j| !j.is_empty()) else {
        return errors(400, "missing token");
    };
    let Some(claims) = id_token_claims(jwt) else {
        return errors(
            400,
            "error validating token: failed to verify id token signature",
        );
    };
    // As Vault's JWT auth checks them (hashicorp/cap's validator: the subject, then the
    // audience; then the role's bound claims).
    if !state.bound_subject.is_empty() && claims["sub"].as_str() != Some(&state.bound_subject) {
        return errors(400, "error validating token: invalid subject (sub) claim");
    }
    let audience = claims["aud"].as_str().unwrap_or_default();
    if !state.bound_audiences.iter().any(|a| a == audience) {
        return errors(400, "error validating token: invalid audience (aud) claim: audience claim does not match any expected audience");
    }
    for (claim, values) in &state.bound_claims {
        let Some(value) = claims.get(claim).and_then(Value::as_str) else {
            return errors(
                400,
                &format!("error validating claims: claim \"{claim}\" is missing"),
            );
        };
        if !values.iter().any(|v| v == value) {
            return errors(
                400,
                &format!("error validating claims: claim \"{claim}\" does not match any associated bound claim values"),
            );
        }
    }
    let value = format!("hvs.CAESILoginToken{:04}NeverPrinted", state.tokens.len());
    state.tokens.push(Token {
        value: value.clone(),
        revoked: false,
        expires: Some(Instant::now() + Duration::from_secs(state.token_ttl)),
    });
    answer(
        200,
        json!({
            "request_id": "5f1a6c2e-0d6b-4c47-9a43-0a6a2b9f7c11",
            "lease_id": "",
            "renewable": false,
            "lease_duration": 0,
            "data": null,
            "wrap_info": null,
            "warnings": null,
            "auth": {
                "client_token": value,
                "accessor": format!("accessor{:04}", state.tokens.len()),
                "policies": ["default", "github-app-sign"],
                "token_policies": ["default", "github-app-sign"],
                "metadata": {"role": VAULT_ROLE},
                "lease_duration": state.token_ttl,
                "renewable": true,
                "entity_id": "7d2e3a1c-5b6f-4e8d-9c0a-1b2c3d4e5f60",
                "token_type": "service",
                "orphan": true,
                "mfa_requirement": null,
                "num_uses": 0,
            },
        }),
    )
}

fn sign(state: &State, key: &str, hash: &str, body: Option<&Value>) -> HttpMockResponse {
    let body = body.cloned().unwrap_or(Value::Null);
    let Some(versions) = state.keys.get(key) else {
        return errors(400, "signing key not found");
    };
    if hash != "sha2-256" {
        return errors(400, &format!("unsupported hash algorithm {hash}"));
    }
    let Some(input) = body["input"].as_str() else {
        return errors(400, "missing input to process");
    };
    let Ok(input) = STANDARD.decode(input) else {
        return errors(400, "unable to decode input as base64: illegal base64 data");
    };
    let version = match body["key_version"].as_u64() {
        None | Some(0) => versions.len(),
        Some(v) if v as usize <= versions.len() => v as usize,
        Some(_) => {
            return errors(
                400,
                "requested version for signing is greater than the latest key version",
            )
        }
    };
    let key =
        rsa::RsaPrivateKey::from_pkcs1_pem(&versions[version - 1]).expect("a fixture RSA key");
    let digest = sha2::Sha256::digest(&input);
    let signature = match body["signature_algorithm"].as_str().unwrap_or("pss") {
        "pkcs1v15" => key.sign(rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), &digest),
        "pss" => key.sign_with_rng(
            &mut Salt(version as u64),
            rsa::Pss::new::<sha2::Sha256>(),
            &digest,
        ),
        other => return errors(400, &format!("unsupported rsa signature algorithm {other}")),
    }
    .expect("an RSA signature");
    let encoded = match body["marshaling_algorithm"].as_str().unwrap_or("asn1") {
        "jws" => URL_SAFE_NO_PAD.encode(signature),
        "asn1" => STANDARD.encode(signature),
        other => return errors(400, &format!("invalid marshaling type {other}")),
    };
    answer(
        200,
        json!({
            "request_id": "0c8f3b9e-6a2d-4f1e-8b7c-5d4e3f2a1b00",
            "lease_id": "",
            "renewable": false,
            "lease_duration": 0,
            "data": {"signature": format!("vault:v{version}:{encoded}"), "key_version": version},
            "wrap_info": null,
            "warnings": null,
            "auth": null,
        }),
    )
}
