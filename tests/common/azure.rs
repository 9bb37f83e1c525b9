//! Microsoft Entra ID and Azure Key Vault on 127.0.0.1, one server for both (http and https on one port, https with httpmock's test CA): the token endpoint of the client-credentials grant (a federated assertion or a client secret), its OpenID metadata, and a vault whose keys sign SHA-256 digests with real RSA keys, answering in both services' documented error shapes.
//!
//! What the real services check is checked: the tenant, the client, the grant type, the
//! scope, the federated credential's issuer, subject and audience (the assertion's
//! signature verified with GitHub's key), the client secret; Key Vault's api-version,
//! the bearer and its tenant (a 401 with a `WWW-Authenticate` challenge otherwise), the
//! key's name and version, the algorithm, the digest's length.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use httpmock::prelude::*;
use httpmock::{HttpMockRequest, HttpMockResponse};
use rsa::pkcs1::DecodeRsaPrivateKey as _;
use rsa::traits::PublicKeyParts as _;
use serde_json::{json, Value};

use super::oidc::{id_token_claims, OIDC_ISSUER, OIDC_SUBJECT};
use super::stand_in::{header, serve};
use super::KEY_PKCS1;

/// The directory the app's service principal and the vault are in.
pub const AZURE_TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
/// Another directory Entra knows (where the vault is not).
pub const AZURE_OTHER_TENANT: &str = "f8cdef31-a31e-4b4a-93e4-5f571e91255a";
/// The app registration (or managed identity) the job signs in as.
pub const AZURE_CLIENT_ID: &str = "0c4b7c61-3c6e-4d0c-9a55-2f1f0c8b9e01";
pub const AZURE_CLIENT_SECRET: &str = "azureClientSecret~NeverPrinted0001";
/// The audience of a federated identity credential, as Entra sets it.
pub const AZURE_FEDERATED_AUDIENCE: &str = "api://AzureADTokenExchange";
pub const KEY_VAULT_RESOURCE: &str = "https://vault.azure.net";
pub const KEY_VAULT_SCOPE: &str = "https://vault.azure.net/.default";
/// The key the app's PEM was imported as.
pub const AZURE_KEY_NAME: &str = "github-app";
/// Its versions: an older one (another key), then the current one (the app's key).
pub const AZURE_KEY_OLD_VERSION: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
pub const AZURE_KEY_VERSION: &str = "9f8e7d6c5b4a39281706f5e4d3c2b1a0";
const OLDER_KEY: &str = include_str!("../fixtures/test-key-2-pkcs1.pem");

/// One request as the stand-in saw it.
#[derive(Debug, Clone)]
pub struct AzureSeen {
    #[allow(dead_code, reason = "read by Debug alone, for failure messages")]
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub authorization: Option<String>,
    /// A form's fields (the token endpoint's).
    pub form: Vec<(String, String)>,
    pub json: Option<Value>,
}

impl AzureSeen {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

struct State {
    /// The tenant the vault trusts tokens of.
    vault_tenant: String,
    /// The resource its challenge names.
    resource: String,
    /// The subjects of the app's federated credentials (one each, all with GitHub's
    /// issuer and `audience`): an assertion must have one of them exactly.
    subjects: Vec<String>,
    audience: String,
    /// Each key's versions, oldest first: (version, PEM).
    keys: BTreeMap<String, Vec<(String, String)>>,
    /// (access token, tenant) of every token Entra issued.
    tokens: Vec<(String, String)>,
    /// How long a token lives (its `expires_in`), and when each one ends.
    token_lifetime: u64,
    expires: BTreeMap<String, Instant>,
    seen: Vec<AzureSeen>,
}

/// Entra ID and Key Vault.
pub struct FakeAzure {
    pub server: MockServer,
    state: Arc<Mutex<State>>,
}

fn answer(status: u16, body: Value) -> HttpMockResponse {
    HttpMockResponse::builder()
        .status(status)
        .header("content-type", "application/json; charset=utf-8")
        .body(body.to_string())
        .build()
}

/// Entra's error: OAuth's `error` and `error_description`, with its AADSTS code.
fn entra_error(status: u16, error: &str, aadsts: u32, description: &str) -> HttpMockResponse {
    answer(
        status,
        json!({
            "error": error,
            "error_description": format!(
                "AADSTS{aadsts}: {description} Trace ID: 0f5bd0d4-2f8e-4d40-8f58-4b2c1f0e6e00 \
                 Correlation ID: 3c1e9a55-52f1-4d0e-9b5a-0b1c2d3e4f50 Timestamp: 2026-01-01 00:00:00Z"
            ),
            "error_codes": [aadsts],
            "timestamp": "2026-01-01 00:00:00Z",
            "trace_id": "0f5bd0d4-2f8e-4d40-8f58-4b2c1f0e6e00",
            "correlation_id": "3c1e9a55-52f1-4d0e-9b5a-0b1c2d3e4f50",
            "error_uri": format!("https://login.microsoftonline.com/error?code={aadsts}"),
        }),
    )
}

/// Key Vault's error: `{"error":{"code","message"}}`.
fn vault_error(status: u16, code: &str, message: &str) -> HttpMockResponse {
    answer(status, json!({"error": {"code": code, "message": message}}))
}

/// The api-versions Key Vault's keys `sign` answers to, from 7.4 on.
fn supported_api_version(v: &str) -> bool {
    matches!(v, "7.4" | "7.5" | "7.6")
        || (v.len() == 10 && v.as_bytes()[4] == b'-' && v >= "2025-07-01")
}

impl FakeAzure {
    /// A tenant with the app, a federated credential for acme/site's main branch, and a
    /// vault with the key `github-app` (its current version is the app's key).
    pub fn start() -> Self {
        let mut keys = BTreeMap::new();
        keys.insert(
            AZURE_KEY_NAME.to_string(),
            vec![
                (AZURE_KEY_OLD_VERSION.to_string(), OLDER_KEY.to_string()),
                (AZURE_KEY_VERSION.to_string(), KEY_PKCS1.to_string()),
            ],
        );
        let state = Arc::new(Mutex::new(State {
            vault_tenant: AZURE_TENANT.into(),
            resource: KEY_VAULT_RESOURCE.into(),
            subjects: vec![OIDC_SUBJECT.into()],
            audience: AZURE_FEDERATED_AUDIENCE.into(),
            keys,
            tokens: Vec::new(),
            token_lifetime: 3599,
            expires: BTreeMap::new(),
            seen: Vec::new(),
        }));
        let server = serve(&state, handle);
        Self { server, state }
    }

    /// `http://127.0.0.1:PORT`: for app-token, which allows plain http on loopback.
    pub fn url(&self) -> String {
        format!("http://{}", self.server.address())
    }

    /// `https://127.0.0.1:PORT`, certified by `tests/fixtures/httpmock-ca.pem`: for the
    /// Azure SDK, which refuses plain http.
    pub fn https_url(&self) -> String {
        format!("https://{}", self.server.address())
    }

    /// A key identifier in this vault, over http.
    pub fn key_id(&self, name: &str, version: Option<&str>) -> String {
        key_id(&self.url(), name, version)
    }

    pub fn https_key_id(&self, name: &str, version: Option<&str>) -> String {
        key_id(&self.https_url(), name, version)
    }

    /// Every request, in order.
    pub fn seen(&self) -> Vec<AzureSeen> {
        self.state
            .lock()
            .expect("the stand-in's state")
            .seen
            .clone()
    }

    /// Every access token Entra issued.
    pub fn issued_tokens(&self) -> Vec<String> {
        let state = self.state.lock().expect("the stand-in's state");
        state.tokens.iter().map(|(t, _)| t.clone()).collect()
    }

    /// The requests to the token endpoint, and to the vault.
    pub fn token_requests(&self) -> Vec<AzureSeen> {
        self.seen()
            .into_iter()
            .filter(|s| s.path.ends_with("/oauth2/v2.0/token"))
            .collect()
    }

    pub fn vault_requests(&self) -> Vec<AzureSeen> {
        self.seen()
            .into_iter()
            .filter(|s| s.path.starts_with("/keys/"))
            .collect()
    }
}

fn key_id(base: &str, name: &str, version: Option<&str>) -> String {
    match version {
        Some(v) => format!("{base}/keys/{name}/{v}"),
        None => format!("{base}/keys/{name}"),
    }
}

fn handle(state: &mut State, req: &HttpMockRequest) -> HttpMockResponse {
    let uri = req.uri();
    let path = uri.path().to_string();
    let body = req.body_string();
    let is_form = header(req, "content-type")
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    let form: Vec<(String, String)> = if is_form {
        form_urlencoded::parse(body.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    } else {
        Vec::new()
    };
    state.seen.push(AzureSeen {
        method: req.method().to_string(),
        path: path.clone(),
        query: req.query_params(),
        authorization: header(req, "authorization"),
        form: form.clone(),
        json: serde_json::from_str(&body).ok(),
    });
    let base = format!(
        "{}://{}",
        req.scheme(),
        header(req, "host").unwrap_or_else(|| "127.0.0.1".into())
    );
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (req.method().as_str(), segments.as_slice()) {
        ("GET", [tenant, "v2.0", ".well-known", "openid-configuration"]) => {
            openid_configuration(&base, tenant)
        }
        ("POST", [tenant, "oauth2", "v2.0", "token"]) => {
            if !is_form {
                return entra_error(
                    400,
                    "invalid_request",
                    900144,
                    "The request body must contain the following parameter: 'grant_type'.",
                );
            }
            token(state, tenant, &form)
        }
        (method, ["keys", rest @ ..]) => key_vault(state, req, &base, method, rest, &body),
        _ => answer(
            404,
            json!({"error": {"code": "NotFound", "message": format!("No route for {path}")}}),
        ),
    }
}

fn openid_configuration(base: &str, tenant: &str) -> HttpMockResponse {
    let known = [AZURE_TENANT, AZURE_OTHER_TENANT].contains(&tenant);
    if !known {
        return entra_error(400, "invalid_tenant", 90002, &format!("Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."));
    }
    answer(
        200,
        json!({
            "token_endpoint": format!("{base}/{tenant}/oauth2/v2.0/token"),
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": format!("{base}/{tenant}/discovery/v2.0/keys"),
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": format!("{base}/{tenant}/v2.0"),
            "authorization_endpoint": format!("{base}/{tenant}/oauth2/v2.0/authorize"),
            "device_authorization_endpoint": format!("{base}/{tenant}/oauth2/v2.0/devicecode"),
            "tenant_region_scope": "WW",
        }),
    )
}

/// The client-credentials grant, as Entra checks it.
fn token(state: &mut State, tenant: &str, form: &[(String, String)]) -> HttpMockResponse {
    let field = |n: &str| form.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
    if ![AZURE_TENANT, AZURE_OTHER_TENANT].contains(&tenant) {
        return entra_error(400, "invalid_tenant", 90002, &format!("Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."));
    }
    match field("grant_type") {
        Some("client_credentials") => {}
        None => {
            return entra_error(
                400,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'grant_type'.",
            )
        }
        Some(other) => {
            return entra_error(
                400,
                "unsupported_grant_type",
                70003,
                &format!("The app requested an unsupported grant type '{other}'."),
            )
        }
    }
    let client_id = field("client_id").unwrap_or_default();
    if client_id != AZURE_CLIENT_ID {
        return entra_error(400, "unauthorized_client", 700016, &format!("Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant."));
    }
    match field("scope") {
        Some(KEY_VAULT_SCOPE) => {}
        None => return entra_error(400, "invalid_request", 900144, "The request body must contain the following parameter: 'scope'."),
        Some(other) => return entra_error(400, "invalid_scope", 1002012, &format!("The provided value for scope {other} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).")),
    }
    match (field("client_secret"), field("client_assertion_type"), field("client_assertion")) {
        (Some(secret), None, None) => {
            if secret != AZURE_CLIENT_SECRET {
                return entra_error(401, "invalid_client", 7000215, &format!("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{AZURE_CLIENT_ID}'."));
            }
        }
        (None, Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer"), Some(assertion)) => {
            let Some(claims) = id_token_claims(assertion) else {
                return entra_error(401, "invalid_client", 700024, "Client assertion failed signature validation or is not within its valid time range.");
            };
            let claim = |n: &str| claims[n].as_str().unwrap_or_default().to_string();
            if claim("iss") != OIDC_ISSUER {
                return entra_error(401, "invalid_client", 700211, &format!("No matching federated identity record found for presented assertion issuer '{}'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation", claim("iss")));
            }
            if !state.subjects.contains(&claim("sub")) {
                return entra_error(401, "invalid_client", 700213, &format!("No matching federated identity record found for presented assertion subject '{}'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation", claim("sub")));
            }
            if claim("aud") != state.audience {
                return entra_error(401, "invalid_client", 700212, &format!("No matching federated identity record found for presented assertion audience '{}'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation", claim("aud")));
            }
        }
        (None, Some(other), _) if other != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" => {
            return entra_error(400, "invalid_request", 50027, &format!("Invalid client_assertion_type '{other}'."));
        }
        _ => return entra_error(401, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."),
    }
    let token = format!(
        "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.azureKeyVaultAccess{}{}",
        state.tokens.len() + 1,
        &tenant[..8]
    );
    state.tokens.push((token.clone(), tenant.to_string()));
    let lifetime = state.token_lifetime;
    state.expires.insert(
        token.clone(),
        Instant::now() + Duration::from_secs(lifetime),
    );
    answer(
        200,
        json!({"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": token}),
    )
}

/// Key Vault's `keys` operations: get a key, sign a digest.
fn key_vault(
    state: &State,
    req: &HttpMockRequest,
    base: &str,
    method: &str,
    rest: &[&str],
    body: &str,
) -> HttpMockResponse {
    let query = req.query_params();
    let api_version = query
        .iter()
        .find(|(k, _)| k == "api-version")
        .map(|(_, v)| v.as_str());
    match api_version {
        None => return vault_error(400, "BadParameter", "The request URI must contain a valid 'api-version' query parameter."),
        Some(v) if !supported_api_version(v) => {
            return vault_error(400, "BadParameter", &format!("The specified version ({v}) is not recognized. Consider using the latest supported version (2025-07-01)."))
        }
        Some(_) => {}
    }
    let challenge = format!(
        "Bearer authorization=\"{base}/{}\", resource=\"{}\"",
        state.vault_tenant, state.resource
    );
    let unauthorized = |message: &str| {
        HttpMockResponse::builder()
            .status(401)
            .header("content-type", "application/json; charset=utf-8")
            .header("www-authenticate", challenge.clone())
            .body(json!({"error": {"code": "Unauthorized", "message": message}}).to_string())
            .build()
    };
    let Some(bearer) =
        header(req, "authorization").and_then(|a| a.strip_prefix("Bearer ").map(str::to_string))
    else {
        return unauthorized("AKV10000: Request is missing a Bearer or PoP token.");
    };
    let Some((_, tenant)) = state.tokens.iter().find(|(t, _)| *t == bearer) else {
        return unauthorized("AKV10013: The access token is not valid.");
    };
    if state
        .expires
        .get(&bearer)
        .is_some_and(|e| Instant::now() >= *e)
    {
        return unauthorized("[TokenExpired] Error validating token: 'S2S12086'.");
    }
    if *tenant != state.vault_tenant {
        return unauthorized(&format!(
            "AKV10032: Invalid issuer. Expected one of https://sts.windows.net/{}/, https://sts.windows.net/e2d54eb5-3869-4f70-8578-dee5fc7331f4/, https://sts.windows.net/33e01921-4d64-4f8c-a055-5bdaffd5e33d/, https://sts.windows.net/975f013f-7f24-47e8-a7d3-abc4752bf346/. Found: https://sts.windows.net/{tenant}/.",
            state.vault_tenant
        ));
    }
    // /keys/NAME, /keys/NAME/VERSION, and for sign /keys/NAME/sign, /keys/NAME//sign,
    // /keys/NAME/VERSION/sign (no version, or an empty one: the current version).
    let (name, version, operation) = match (method, rest) {
        ("GET", [name]) | ("GET", [name, ""]) => (*name, None, None),
        ("GET", [name, version]) => (*name, Some(*version), None),
        ("POST", [name, "sign"]) | ("POST", [name, "", "sign"]) => (*name, None, Some("sign")),
        ("POST", [name, version, "sign"]) => (*name, Some(*version), Some("sign")),
        _ => {
            return vault_error(
                400,
                "BadParameter",
                "The request URI is not valid for a keys operation.",
            )
        }
    };
    let Some(versions) = state.keys.get(name) else {
        return key_not_found(name);
    };
    let found = match version {
        None => versions.last(),
        Some(v) => versions.iter().find(|(known, _)| known == v),
    };
    let Some((version, pem)) = found else {
        return key_not_found(&format!("{name}/{}", version.unwrap_or_default()));
    };
    let key = rsa::RsaPrivateKey::from_pkcs1_pem(pem).expect("a fixture RSA key");
    let kid = format!("{base}/keys/{name}/{version}");
    if operation.is_none() {
        let public = key.to_public_key();
        return answer(
            200,
            json!({
                "key": {
                    "kid": kid,
                    "kty": "RSA",
                    "key_ops": ["sign", "verify"],
                    "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
                    "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
                },
                "attributes": {
                    "enabled": true,
                    "created": 1767225600,
                    "updated": 1767225600,
                    "recoveryLevel": "Recoverable+Purgeable",
                    "recoverableDays": 90,
                    "exportable": false,
                },
                "tags": {},
            }),
        );
    }
    let Ok(params) = serde_json::from_str::<Value>(body) else {
        return vault_error(400, "BadParameter", "The request body is not valid JSON.");
    };
    match params["alg"].as_str() {
        Some("RS256") => {}
        Some(other) => {
            return vault_error(
                400,
                "BadParameter",
                &format!("Invalid algorithm {other} for an RSA key used with a SHA-256 digest."),
            )
        }
        None => return vault_error(400, "BadParameter", "Property 'alg' is required."),
    }
    let Some(digest) = params["value"]
        .as_str()
        .and_then(|v| URL_SAFE_NO_PAD.decode(v.trim_end_matches('=')).ok())
    else {
        return vault_error(
            400,
            "BadParameter",
            "Property 'value' must be a base64url string.",
        );
    };
    if digest.len() != 32 {
        return vault_error(
            400,
            "BadParameter",
            &format!(
                "Invalid digest length {} for algorithm RS256: a SHA-256 digest is 32 bytes.",
                digest.len()
            ),
        );
    }
    let signature = key
        .sign(rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), &digest)
        .expect("an RSA signature");
    answer(
        200,
        json!({"kid": kid, "value": URL_SAFE_NO_PAD.encode(signature)}),
    )
}

fn key_not_found(name: &str) -> HttpMockResponse {
    vault_error(
        404,
        "KeyNotFound",
        &format!("A key with (name/id) {name} was not found in this key vault. If you recently deleted this key you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182"),
    )
}

impl FakeAzure {
    /// The vault trusts another tenant's tokens only (the step names the wrong one).
    pub fn vault_in_tenant(&self, tenant: &str) {
        self.state
            .lock()
            .expect("the stand-in's state")
            .vault_tenant = tenant.to_string();
    }
}

impl FakeAzure {
    /// The app's federated credentials are for `subjects`, one each.
    pub fn federated_subjects(&self, subjects: &[&str]) {
        self.state.lock().expect("the stand-in's state").subjects =
            subjects.iter().map(|s| s.to_string()).collect();
    }

    /// The federated credential was made with another audience than Entra's default.
    pub fn federated_audience(&self, audience: &str) {
        self.state.lock().expect("the stand-in's state").audience = audience.to_string();
    }
}

impl FakeAzure {
    /// Entra's tokens live `seconds` (their `expires_in`), and the vault refuses them after.
    pub fn tokens_live(&self, seconds: u64) {
        self.state
            .lock()
            .expect("the stand-in's state")
            .token_lifetime = seconds;
    }

    /// The vault's challenge names another resource than Key Vault's.
    pub fn challenge_resource(&self, resource: &str) {
        self.state.lock().expect("the stand-in's state").resource = resource.to_string();
    }
}
