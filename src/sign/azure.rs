//! The Azure Key Vault backend.
//!
//! The app's key in Key Vault, reached with a Microsoft Entra token for the job's OIDC
//! token (a federated credential) or the environment's client secret.

use anyhow::Context as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use futures::future::BoxFuture;
use http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest as _, Sha256};
use tokio::sync::OnceCell;

use crate::env::{var, Env};
use crate::excerpt::excerpt_name;
use crate::sign::claims::Trust;
use crate::sign::lease::{in_seconds, Lease, Leased};
use crate::sign::oidc::{self, IdToken, OidcRequest};
use crate::sign::rest::{self, Call, Dialect, RestClient, ServiceError};
use crate::sign::secret::{Secret, SecretSink};
use crate::sign::{described, Context, DebugSink, Sign};
use crate::transport::Answer;

/// The audience Entra expects in a federated OIDC token.
pub const AUDIENCE: &str = "api://AzureADTokenExchange";
/// Entra's token request, as messages name it.
const TOKEN_REQUEST: &str = "Entra ID token request";
/// The authority when `AZURE_AUTHORITY_HOST` is not set.
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com/";

/// What the job's environment says about Azure, as azure-identity reads it.
/// The variables that stand in for a key setting (a region, ids, an address, a namespace)
/// are read with the settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AzureEnv {
    pub authority_host: Option<String>,
    pub client_secret: Option<Secret>,
}

impl AzureEnv {
    pub fn from_env(env: Env<'_>) -> Self {
        Self {
            authority_host: var(env, "AZURE_AUTHORITY_HOST"),
            client_secret: var(env, "AZURE_CLIENT_SECRET").map(Secret::new),
        }
    }
}

/// How the token for Key Vault is had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// The job's OIDC token as a client assertion.
    Oidc(OidcRequest),
    /// `AZURE_CLIENT_SECRET`, as azure-identity's EnvironmentCredential uses it.
    ClientSecret(Secret),
}

/// A Key Vault key, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The key identifier as given, without a trailing slash.
    pub key_id: String,
    /// `https://VAULT.vault.azure.net` (scheme and authority of the key id).
    pub vault_url: String,
    /// The vault's Key Vault domain (`vault.azure.net`): its host ends in it, its
    /// tokens are for `https://DOMAIN`, and its challenge must name that.
    pub domain: String,
    pub name: String,
    /// Without one, the key's current version signs.
    pub version: Option<String>,
    pub client_id: String,
    pub tenant_id: String,
    /// Ends in `/`.
    pub authority: String,
    pub credential: Credential,
}

/// Key Vault's api-version for keys `sign`: the one the current SDKs send (7.4 or later
/// is needed for an imported RSA key's `sign` as used here).
pub const API_VERSION: &str = "2025-07-01";

/// Key Vault's and Managed HSM's domains in Azure's clouds (public, China, US
/// Government, Germany), as Azure names them for each cloud (`keyvault_dns`,
/// `mhsm_dns`): a vault's host is `NAME.DOMAIN`, and `https://DOMAIN` is the resource
/// its tokens are for, the one its challenge names.
pub const KEY_VAULT_DOMAINS: [&str; 8] = [
    "vault.azure.net",
    "vault.azure.cn",
    "vault.usgovcloudapi.net",
    "vault.microsoftazure.de",
    "managedhsm.azure.net",
    "managedhsm.azure.cn",
    "managedhsm.usgovcloudapi.net",
    "managedhsm.microsoftazure.de",
];

/// The domain of a vault on a loopback host (a stand-in), unless one is named: the
/// public cloud's.
const LOOPBACK_DOMAIN: &str = "vault.azure.net";

/// The Key Vault domain of a vault at `host`: the one of [`KEY_VAULT_DOMAINS`], or
/// `named` (`azure-key-vault-domain`, lower case), that the host ends in (`.DOMAIN`);
/// for a loopback host, `named` or the public cloud's. `None`: the host is no vault's,
/// and no token may go there.
pub fn vault_domain(host: &str, named: Option<&str>) -> Option<String> {
    let host = host.to_ascii_lowercase();
    let host = host.strip_suffix('.').unwrap_or(&host);
    let in_domain = |domain: &str| {
        host.strip_suffix(domain)
            .is_some_and(|name| name.len() > 1 && name.ends_with('.'))
    };
    if let Some(domain) = named
        .into_iter()
        .chain(KEY_VAULT_DOMAINS)
        .find(|d| in_domain(d))
    {
        return Some(domain.to_string());
    }
    crate::transport::is_loopback(host).then(|| named.unwrap_or(LOOPBACK_DOMAIN).to_string())
}

/// The scope of a token for a vault in `domain`: its resource's.
pub fn scope_for(domain: &str) -> String {
    format!("https://{domain}/.default")
}

/// The authority and resource of Key Vault's `WWW-Authenticate` challenge
/// (`Bearer authorization="https://login.microsoftonline.com/TENANT", resource="…"`).
pub fn challenge(header: &str) -> Option<(String, Option<String>)> {
    let params = header.trim().strip_prefix("Bearer")?.trim();
    let mut authority = None;
    let mut resource = None;
    for part in params.split(',') {
        let Some((key, value)) = part.trim().split_once('=') else {
            continue;
        };
        let value = value.trim().trim_matches('"').to_string();
        match key.trim() {
            "authorization" | "authorization_uri" => authority = Some(value),
            "resource" | "scope" => resource = Some(value),
            _ => {}
        }
    }
    Some((authority?, resource))
}

/// Checks Key Vault's challenge (the `WWW-Authenticate` of its 401) before any token
/// is asked for: the resource it names must be the vault's domain's, as the Azure
/// SDKs check it (`verify_challenge_resource`), so that no token for another resource
/// is had or sent on a vault's word.
pub fn check_challenge(header: Option<&str>, domain: &str) -> Result<(), String> {
    let (_, resource) = header
        .and_then(challenge)
        .ok_or("Key Vault's 401 carries no Bearer challenge (WWW-Authenticate)")?;
    let resource = resource.ok_or("Key Vault's challenge names no resource")?;
    let named = resource
        .parse::<http::Uri>()
        .ok()
        .filter(|u| u.scheme_str() == Some("https") && matches!(u.port_u16(), None | Some(443)))
        .and_then(|u| {
            u.host()
                .map(|h| h.trim_end_matches('.').to_ascii_lowercase())
        });
    if named.as_deref() == Some(domain) {
        Ok(())
    } else {
        Err(format!(
            "Key Vault's challenge asks for a token for {}, not for the vault's domain \
             (https://{domain}): no token is asked for or sent",
            crate::excerpt::excerpt(&resource)
        ))
    }
}

/// Entra's errors: OAuth's `error`, and the first sentence-bearing part of its
/// `error_description` (`AADSTS700212: …`), without the trace and correlation ids.
fn entra_error(call: &str, answer: &Answer) -> ServiceError {
    #[derive(Deserialize)]
    struct OAuth {
        error: String,
        #[serde(default)]
        error_description: String,
    }
    let (code, message) = match serde_json::from_slice::<OAuth>(&answer.body) {
        Ok(e) => {
            let description = e
                .error_description
                .split(" Trace ID:")
                .next()
                .unwrap_or_default()
                .split("\r\nTrace ID:")
                .next()
                .unwrap_or_default()
                .trim()
                .to_string();
            (e.error, description)
        }
        Err(_) => (rest::status_reason(answer), String::new()),
    };
    ServiceError {
        request_id: rest::header(answer, "x-ms-request-id"),
        ..ServiceError::answered(call, answer, code, message)
    }
}

/// Key Vault's errors: `{"error":{"code","message"}}`; a 401's challenge is kept in the
/// message, for it names the tenant and resource the vault wants.
fn key_vault_error(call: &str, answer: &Answer) -> ServiceError {
    #[derive(Deserialize)]
    struct Inner {
        code: String,
        #[serde(default)]
        message: String,
    }
    #[derive(Deserialize)]
    struct Outer {
        error: Inner,
    }
    let (code, mut message) = match serde_json::from_slice::<Outer>(&answer.body) {
        Ok(o) => (o.error.code, o.error.message),
        Err(_) => (rest::status_reason(answer), String::new()),
    };
    if answer.status == StatusCode::UNAUTHORIZED {
        if let Some((authority, resource)) =
            rest::header(answer, "www-authenticate").and_then(|h| challenge(&h))
        {
            let tenant = authority
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or_default();
            let resource = resource.unwrap_or_else(|| "?".into());
            message = format!(
                "{message} The vault's challenge asks for a token of tenant {tenant} for {resource}."
            );
        }
    }
    ServiceError {
        request_id: rest::header(answer, "x-ms-request-id"),
        ..ServiceError::answered(call, answer, code, message.trim().to_string())
    }
}

const ENTRA: Dialect = Dialect {
    error_of: entra_error,
    transient: |status, code| rest::transient_status(status) || code == "temporarily_unavailable",
};

const KEY_VAULT: Dialect = Dialect {
    error_of: key_vault_error,
    transient: |status, _| rest::transient_status(status),
};

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    /// How many seconds the token lives: a number (v2.0), or one in a string (v1.0).
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

/// The seconds of Entra's `expires_in`, in either form.
fn seconds(expires_in: Option<&serde_json::Value>) -> Option<u64> {
    match expires_in? {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[derive(Deserialize)]
struct SignAnswer {
    value: String,
}

/// Signs with a Key Vault key: an Entra token first (again near its end), then `sign` of
/// the digest.
pub struct KeyVaultKey {
    settings: Settings,
    client: RestClient,
    /// Whether the vault's challenge was had and checked.
    challenged: OnceCell<()>,
    token: Lease<Secret>,
    on_secret: SecretSink,
    on_debug: Option<DebugSink>,
}

impl KeyVaultKey {
    pub fn new(settings: Settings, context: &Context) -> anyhow::Result<Self> {
        Ok(Self {
            settings,
            client: context.client()?,
            challenged: OnceCell::new(),
            token: Lease::new(),
            on_secret: context.on_secret.clone(),
            on_debug: context.on_debug.clone(),
        })
    }

    fn token_url(&self) -> String {
        format!(
            "{}/{}/oauth2/v2.0/token",
            self.settings.authority.trim_end_matches('/'),
            self.settings.tenant_id
        )
    }

    /// Entra's access token for the vault: the client-credentials grant, with the job's
    /// OIDC token (asked anew each time) as the client assertion, or with the client
    /// secret; until its `expires_in`.
    async fn token(&self) -> anyhow::Result<std::sync::Arc<Secret>> {
        self.token
            .get(|| async {
                let s = &self.settings;
                let scope = scope_for(&s.domain);
                let assertion: Option<IdToken>;
                let mut pairs = vec![
                    ("client_id", s.client_id.as_str()),
                    ("scope", scope.as_str()),
                    ("grant_type", "client_credentials"),
                ];
                let how = match &s.credential {
                    Credential::Oidc(request) => {
                        let token =
                            oidc::token(&self.client, request, Some(AUDIENCE), &self.on_secret)
                                .await
                                .with_context(|| {
                                    format!("the job's OIDC token for audience {AUDIENCE}")
                                })?;
                        token.tell(TOKEN_REQUEST, self.on_debug.as_ref());
                        assertion = Some(token);
                        pairs.push((
                            "client_assertion_type",
                            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                        ));
                        pairs.extend(
                            assertion
                                .as_ref()
                                .map(|a| ("client_assertion", a.token.expose())),
                        );
                        format!("the job's OIDC token (audience {AUDIENCE})")
                    }
                    Credential::ClientSecret(secret) => {
                        assertion = None;
                        pairs.push(("client_secret", secret.expose()));
                        "AZURE_CLIENT_SECRET".to_string()
                    }
                };
                let call = Call::post_form(TOKEN_REQUEST, self.token_url(), &pairs);
                let answer = self
                    .client
                    .send(&call, &ENTRA)
                    .await
                    .map_err(|e| match &assertion {
                        Some(token) => token.explain(e, &Trust::EntraCredential),
                        None => e,
                    })
                    .with_context(|| {
                        format!(
                            "signing in to tenant {} as client {} with {how}",
                            excerpt_name(&s.tenant_id),
                            excerpt_name(&s.client_id)
                        )
                    })?;
                let token: TokenAnswer =
                    rest::json(call.name, &answer, "Entra's answer has no access_token")?;
                (self.on_secret)(&token.access_token);
                let ends = in_seconds(seconds(token.expires_in.as_ref()));
                Ok(Leased::new(Secret::new(token.access_token), ends))
            })
            .await
    }

    fn sign_url(&self) -> String {
        format!(
            "{}/sign?api-version={API_VERSION}",
            self.settings.key_id.trim_end_matches('/')
        )
    }

    /// The vault's challenge, had once before any token, as the Azure SDKs have it: the
    /// sign request without a body or a bearer, whose 401 names the resource a token
    /// must be for; checked against the vault's domain.
    async fn challenge(&self) -> anyhow::Result<()> {
        self.challenged
            .get_or_try_init(|| async {
                let call = Call {
                    name: "Key Vault challenge",
                    method: http::Method::POST,
                    url: self.sign_url(),
                    headers: vec![("accept", "application/json".into())],
                    body: bytes::Bytes::new(),
                    prepare: None,
                };
                let answer = self
                    .client
                    .send_expecting(&call, &KEY_VAULT, StatusCode::UNAUTHORIZED)
                    .await?;
                if answer.status != StatusCode::UNAUTHORIZED {
                    anyhow::bail!(
                        "Key Vault answered {} to a request without a token, not 401 with its challenge",
                        answer.status
                    );
                }
                let header = rest::header(&answer, "www-authenticate");
                check_challenge(header.as_deref(), &self.settings.domain)
                    .map_err(anyhow::Error::msg)
            })
            .await
            .map(|_| ())
    }

    async fn sign_digest(&self, message: &[u8]) -> anyhow::Result<Vec<u8>> {
        self.challenge().await?;
        let token = self.token().await?;
        let digest = Sha256::digest(message);
        let body = json!({"alg": "RS256", "value": URL_SAFE_NO_PAD.encode(digest)});
        let call = Call::post_json("Key Vault sign", self.sign_url(), &body).bearer(token.expose());
        let answer = match self.client.send(&call, &KEY_VAULT).await {
            Ok(answer) => answer,
            Err(e) if e.status == Some(401) => {
                return Err(anyhow::Error::new(e).context(format!(
                    "Key Vault refused the token of tenant {} for {}: check azure-tenant-id \
                     (or AZURE_TENANT_ID) against the vault's tenant, and the key's cloud",
                    excerpt_name(&self.settings.tenant_id),
                    scope_for(&self.settings.domain)
                )))
            }
            Err(e) => return Err(e.into()),
        };
        let signed: SignAnswer = rest::json(call.name, &answer, "Key Vault's answer has no value")?;
        URL_SAFE_NO_PAD
            .decode(signed.value.trim_end_matches('='))
            .context("Key Vault's signature is not base64url")
    }
}

impl Sign for KeyVaultKey {
    fn sign<'a>(&'a self, message: &'a [u8]) -> BoxFuture<'a, anyhow::Result<Vec<u8>>> {
        described(self, self.sign_digest(message))
    }

    fn describe(&self) -> String {
        format!("Key Vault key {}", excerpt_name(&self.settings.key_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vaults_domain_is_one_of_key_vaults_or_the_one_named() {
        let domain = |host: &str, named: Option<&str>| vault_domain(host, named);
        assert_eq!(
            domain("acme.vault.azure.net", None).as_deref(),
            Some("vault.azure.net")
        );
        assert_eq!(
            domain("Acme.Vault.Azure.CN.", None).as_deref(),
            Some("vault.azure.cn")
        );
        assert_eq!(
            domain("acme.managedhsm.usgovcloudapi.net", None).as_deref(),
            Some("managedhsm.usgovcloudapi.net")
        );
        // Any other host is no vault's: a host that only ends like a cloud's, the
        // domain itself, one that merely contains it.
        for host in [
            "attacker.example",
            "evilvault.azure.net",
            "vault.azure.net",
            "acme.vault.azure.net.attacker.example",
            "evilvault.azure.cn.example",
        ] {
            assert_eq!(domain(host, None), None, "{host}");
        }
        // A domain named for a cloud not in the list (Azure Stack Hub), besides them.
        let stack = Some("vault.local.azurestack.external");
        assert_eq!(
            domain("acme.vault.local.azurestack.external", stack).as_deref(),
            stack
        );
        assert_eq!(
            domain("acme.vault.azure.net", stack).as_deref(),
            Some("vault.azure.net")
        );
        assert_eq!(domain("acme.vault.local.azurestack.external", None), None);
        // A stand-in on loopback: the public cloud's resource, or the one named.
        assert_eq!(
            domain("127.0.0.1", None).as_deref(),
            Some("vault.azure.net")
        );
        assert_eq!(domain("[::1]", stack).as_deref(), stack);
        assert_eq!(
            scope_for("vault.azure.cn"),
            "https://vault.azure.cn/.default"
        );
    }

    #[test]
    fn a_challenge_must_name_the_vaults_domain() {
        let challenge = |resource: &str| {
            format!(
                r#"Bearer authorization="https://login.microsoftonline.com/T", resource="{resource}""#
            )
        };
        for resource in [
            "https://vault.azure.net",
            "https://vault.azure.net/",
            "https://VAULT.azure.net:443",
        ] {
            assert_eq!(
                check_challenge(Some(&challenge(resource)), "vault.azure.net"),
                Ok(()),
                "{resource}"
            );
        }
        // Managed HSM's names a scope.
        let scope = r#"Bearer authorization="https://login.microsoftonline.com/T", scope="https://managedhsm.azure.net/.default""#;
        assert_eq!(check_challenge(Some(scope), "managedhsm.azure.net"), Ok(()));
        for resource in [
            "https://management.azure.com",
            "https://vault.azure.cn",
            "https://azure.net",
            "http://vault.azure.net",
            "https://vault.azure.net:8443",
            "vault.azure.net",
        ] {
            let e = check_challenge(Some(&challenge(resource)), "vault.azure.net").unwrap_err();
            assert!(
                e.contains("no token is asked for or sent"),
                "{resource}: {e}"
            );
        }
        assert!(check_challenge(None, "vault.azure.net").is_err());
        assert!(check_challenge(
            Some(r#"Bearer authorization="https://login.microsoftonline.com/T""#),
            "vault.azure.net"
        )
        .unwrap_err()
        .contains("no resource"));
    }

    #[test]
    fn key_vaults_challenge_is_read() {
        let h = r#"Bearer authorization="https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47", resource="https://vault.azure.net""#;
        assert_eq!(
            challenge(h),
            Some((
                "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47".into(),
                Some("https://vault.azure.net".into())
            ))
        );
        assert_eq!(challenge("Basic realm=x"), None);
        assert_eq!(challenge("Bearer resource=\"x\""), None);
    }

    fn answer(status: u16, headers: &[(&'static str, &str)], body: &str) -> Answer {
        let mut map = http::HeaderMap::new();
        for (k, v) in headers {
            map.insert(*k, v.parse().unwrap());
        }
        Answer {
            status: StatusCode::from_u16(status).unwrap(),
            headers: map,
            body: bytes::Bytes::from(body.to_string()),
        }
    }

    #[test]
    fn entras_expires_in_is_read_in_either_form() {
        let answer = |body: &str| serde_json::from_str::<TokenAnswer>(body).unwrap();
        let read = |body: &str| seconds(answer(body).expires_in.as_ref());
        assert_eq!(
            read(r#"{"access_token":"t","expires_in":3599}"#),
            Some(3599)
        );
        assert_eq!(
            read(r#"{"access_token":"t","expires_in":"3599"}"#),
            Some(3599)
        );
        assert_eq!(read(r#"{"access_token":"t"}"#), None);
        assert_eq!(read(r#"{"access_token":"t","expires_in":-1}"#), None);
    }

    #[test]
    fn errors_are_quoted_in_each_services_words() {
        let e = entra_error(
            "t",
            &answer(
                401,
                &[],
                r#"{"error":"invalid_client","error_description":"AADSTS700212: No matching federated identity record found for presented assertion audience 'x'. Trace ID: 1 Correlation ID: 2","error_codes":[700212]}"#,
            ),
        );
        assert_eq!(e.code, "invalid_client");
        assert_eq!(
            e.message,
            "AADSTS700212: No matching federated identity record found for presented assertion audience 'x'."
        );
        let e = key_vault_error(
            "s",
            &answer(
                404,
                &[("x-ms-request-id", "r1")],
                r#"{"error":{"code":"KeyNotFound","message":"A key with (name/id) k was not found in this key vault."}}"#,
            ),
        );
        assert_eq!(
            (e.code.as_str(), e.request_id.as_deref()),
            ("KeyNotFound", Some("r1"))
        );
        let e = key_vault_error(
            "s",
            &answer(
                401,
                &[(
                    "www-authenticate",
                    r#"Bearer authorization="https://login.microsoftonline.com/T1", resource="https://vault.azure.net""#,
                )],
                r#"{"error":{"code":"Unauthorized","message":"AKV10032: Invalid issuer."}}"#,
            ),
        );
        assert_eq!(e.code, "Unauthorized");
        assert!(
            e.message.contains("AKV10032")
                && e.message.contains("tenant T1 for https://vault.azure.net"),
            "{}",
            e.message
        );
        // An answer in neither shape still says what happened.
        assert_eq!(
            entra_error("t", &answer(502, &[], "<html>")).code,
            "Bad Gateway"
        );
    }
}
