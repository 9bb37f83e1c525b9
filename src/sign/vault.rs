//! The HashiCorp Vault transit backend.
//!
//! The app's key in a transit mount, reached with a Vault token from JWT auth with the
//! job's OIDC token, or `VAULT_TOKEN` from the environment.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::Context as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use futures::future::BoxFuture;
use serde::Deserialize;
use serde_json::json;

use crate::env::{var, Env};
use crate::excerpt::excerpt_name;
use crate::sign::claims::Trust;
use crate::sign::lease::{in_seconds, Lease, Leased};
use crate::sign::oidc::{self, OidcRequest};
use crate::sign::rest::{self, Call, Dialect, RestClient, ServiceError};
use crate::sign::secret::{Secret, SecretSink};
use crate::sign::{described, Context, Sign};
use crate::transport::Answer;

/// What the job's environment says about Vault, as the Vault CLI and hashicorp/vault-action leave it.
/// The variables that stand in for a key setting (a region, ids, an address, a namespace)
/// are read with the settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VaultEnv {
    pub token: Option<Secret>,
}

impl VaultEnv {
    pub fn from_env(env: Env<'_>) -> Self {
        Self {
            token: var(env, "VAULT_TOKEN").map(Secret::new),
        }
    }
}

/// How the Vault token is had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// `vault-role`: a login at `auth/{path}/login` with the job's OIDC token; the token
    /// is revoked at the end of the step.
    Jwt {
        role: String,
        /// `vault-auth-path`, default `jwt`.
        path: String,
        /// `vault-audience`; without it GitHub's default (`https://github.com/OWNER`).
        audience: Option<String>,
        oidc: OidcRequest,
    },
    /// `VAULT_TOKEN` from the environment, left as it is.
    Token(Secret),
}

/// A transit key, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Vault's address, without a trailing slash.
    pub url: String,
    /// `vault-transit-mount`, default `transit`.
    pub mount: String,
    pub key: String,
    /// Sent as `X-Vault-Namespace`.
    pub namespace: Option<String>,
    pub auth: Auth,
}

/// The login with the job's OIDC token, as messages name it.
const LOGIN: &str = "Vault JWT login";

/// Vault's errors, `{"errors":["…"]}`: the status's name as the code, the errors as the
/// message.
fn vault_error(call: &str, answer: &Answer) -> ServiceError {
    #[derive(Deserialize)]
    struct Errors {
        #[serde(default)]
        errors: Vec<String>,
    }
    let message = serde_json::from_slice::<Errors>(&answer.body)
        .map(|e| {
            e.errors
                .iter()
                .map(|m| m.trim().replace("\n\t* ", " ").replace('\n', " "))
                .collect::<Vec<_>>()
                .join("; ")
        })
        .unwrap_or_default();
    ServiceError::answered(call, answer, rest::status_reason(answer), message)
}

const VAULT: Dialect = Dialect {
    error_of: vault_error,
    // 5xx and 429 (a standby or a rate limit), and 412 (a performance standby that has
    // not caught up yet), as Vault's own client retries them.
    transient: |status, _| rest::transient_status(status) || status.as_u16() == 412,
};

/// A transit signature, `vault:vN:SIGNATURE` with the JWS (base64url) marshaling: its key
/// version and bytes. Any version: a rotated key signs with its latest.
pub fn parse_signature(signature: &str) -> Result<(u64, Vec<u8>), String> {
    let rest = signature
        .strip_prefix("vault:v")
        .ok_or("does not start with vault:v")?;
    let (version, encoded) = rest.split_once(':').ok_or("has no key version")?;
    let version: u64 = version
        .parse()
        .map_err(|_| format!("has a key version that is not a number: {version:?}"))?;
    let bytes = URL_SAFE_NO_PAD
        .decode(encoded.trim_end_matches('='))
        .map_err(|_| "is not base64url (the jws marshaling)".to_string())?;
    Ok((version, bytes))
}

#[derive(Deserialize)]
struct LoginAnswer {
    auth: LoginAuth,
}

#[derive(Deserialize)]
struct LoginAuth {
    client_token: String,
    /// How many seconds the token lives (0: it does not end).
    #[serde(default)]
    lease_duration: u64,
}

#[derive(Deserialize)]
struct SignAnswer {
    data: SignData,
}

#[derive(Deserialize)]
struct SignData {
    signature: String,
}

/// The Vault token, whether this step logged in for it (and so revokes it), when its
/// lease ends, and whether it is revoked already.
struct Session {
    token: Secret,
    logged_in: bool,
    expires_at: Option<SystemTime>,
    revoked: AtomicBool,
}

/// Signs with a transit key: a Vault token first (a login's again near the end of its
/// lease, the one it replaces revoked), then `sign/KEY/sha2-256`.
pub struct TransitKey {
    settings: Settings,
    client: RestClient,
    session: Lease<Session>,
    on_secret: SecretSink,
    /// What a panic's own client is made with.
    context: Context,
}

impl TransitKey {
    pub fn new(settings: Settings, context: &Context) -> anyhow::Result<Self> {
        Ok(Self {
            settings,
            client: context.client()?,
            session: Lease::new(),
            on_secret: context.on_secret.clone(),
            context: context.clone(),
        })
    }

    /// A call to `{vault}/v1/{path}`, in the namespace, with the token when given.
    fn call<'a>(
        &self,
        name: &'a str,
        path: &str,
        body: &serde_json::Value,
        token: Option<&Secret>,
    ) -> Call<'a> {
        let mut call = Call::post_json(
            name,
            format!("{}/v1/{path}", self.settings.url.trim_end_matches('/')),
            body,
        );
        // As Vault's own clients send it (a guard against requests forged by browsers).
        call.headers.push(("x-vault-request", "true".into()));
        if let Some(ns) = &self.settings.namespace {
            call.headers.push(("x-vault-namespace", ns.clone()));
        }
        if let Some(token) = token {
            call.headers
                .push(("x-vault-token", token.expose().to_string()));
        }
        call
    }

    /// The Vault token: the environment's, kept; or a login's with the job's OIDC token
    /// (asked anew for each login), until its `lease_duration`. A login that replaces
    /// another revokes the token it replaces.
    async fn session(&self) -> anyhow::Result<Arc<Session>> {
        let (session, replaced) = self
            .session
            .get_replacing(|| async {
                let session: anyhow::Result<Leased<Session>> = match &self.settings.auth {
                    Auth::Token(token) => {
                        (self.on_secret)(token.expose());
                        Ok(Leased::kept(Session {
                            token: token.clone(),
                            logged_in: false,
                            expires_at: None,
                            revoked: AtomicBool::new(false),
                        }))
                    }
                    Auth::Jwt {
                        role,
                        path,
                        audience,
                        oidc,
                    } => {
                        let named = audience.as_deref().map_or_else(
                            || "GitHub's default, https://github.com/OWNER".to_string(),
                            excerpt_name,
                        );
                        let (role_named, path_named) = (excerpt_name(role), excerpt_name(path));
                        let jwt = oidc::token(&self.client, oidc, audience.as_deref(), &self.on_secret)
                            .await
                            .with_context(|| format!("the job's OIDC token for audience {named}"))?;
                        let call = self.call(
                            LOGIN,
                            &format!("auth/{path}/login"),
                            &json!({"role": role, "jwt": jwt.token.expose()}),
                            None,
                        );
                        jwt.tell(LOGIN, self.context.on_debug.as_ref());
                        // Not sent again once Vault may have served it: a second login
                        // would leave the first one's token, in a lost answer, unrevoked.
                        let answer = self.client.send_issuing(&call, &VAULT).await
                            .map_err(|e| jwt.explain(e, &Trust::VaultRole))
                            .with_context(|| {
                            format!(
                                "logging in to Vault as role {role_named} at auth/{path_named} with the job's OIDC token \
                                 (audience {named}: the role's bound_audiences must hold it; vault-audience sets it)"
                            )
                        })?;
                        let login: LoginAnswer =
                            rest::json(call.name, &answer, "Vault's answer has no auth.client_token")?;
                        (self.on_secret)(&login.auth.client_token);
                        let ends = in_seconds(Some(login.auth.lease_duration).filter(|&s| s > 0));
                        Ok(Leased::new(
                            Session {
                                token: Secret::new(login.auth.client_token),
                                logged_in: true,
                                expires_at: ends,
                                revoked: AtomicBool::new(false),
                            },
                            ends,
                        ))
                    }
                };
                session
            })
            .await?;
        if let Some(replaced) = replaced {
            // The signature goes on without it: a token near the end of its lease.
            if let Err(e) = self.revoke(&self.client, &replaced).await {
                if let Some(debug) = &self.context.on_debug {
                    debug(&format!(
                        "{}: revoking the Vault token a new login replaced: {e:#}",
                        self.describe()
                    ));
                }
            }
        }
        Ok(session)
    }

    async fn sign_input(&self, message: &[u8]) -> anyhow::Result<Vec<u8>> {
        let session = self.session().await?;
        let s = &self.settings;
        let call = self.call(
            "Vault transit sign",
            &format!("{}/sign/{}/sha2-256", s.mount, s.key),
            &json!({
                "input": STANDARD.encode(message),
                "signature_algorithm": "pkcs1v15",
                "marshaling_algorithm": "jws",
            }),
            Some(&session.token),
        );
        let answer = self.client.send(&call, &VAULT).await?;
        let signed: SignAnswer =
            rest::json(call.name, &answer, "Vault's answer has no data.signature")?;
        let (_version, signature) = parse_signature(&signed.data.signature)
            .map_err(|m| anyhow::anyhow!("Vault's signature {m}"))?;
        Ok(signature)
    }

    /// Revokes, with `client`, `session`'s token if this step logged in for it
    /// (`auth/token/revoke-self`), once; a token from the environment is left alone, and
    /// one past the end of its lease is gone already (Vault revoked it).
    async fn revoke(&self, client: &RestClient, session: &Session) -> anyhow::Result<()> {
        let ended = session
            .expires_at
            .is_some_and(|end| SystemTime::now() >= end);
        if !session.logged_in || ended || session.revoked.load(Ordering::SeqCst) {
            return Ok(());
        }
        let call = self.call(
            "Vault token revoke-self",
            "auth/token/revoke-self",
            &json!({}),
            Some(&session.token),
        );
        client.send(&call, &VAULT).await?;
        session.revoked.store(true, Ordering::SeqCst);
        Ok(())
    }
}

impl Sign for TransitKey {
    fn sign<'a>(&'a self, message: &'a [u8]) -> BoxFuture<'a, anyhow::Result<Vec<u8>>> {
        described(self, self.sign_input(message))
    }

    fn describe(&self) -> String {
        let key = format!("{}/{}", self.settings.mount, self.settings.key);
        format!("Vault transit key {}", excerpt_name(&key))
    }

    fn finish(&self) -> BoxFuture<'_, anyhow::Result<()>> {
        Box::pin(async move {
            let Some(session) = self.session.current().await else {
                return Ok(());
            };
            self.revoke(&self.client, &session)
                .await
                .with_context(|| format!("revoking the Vault token of {}", self.describe()))
        })
    }

    fn finish_afresh(&self) -> BoxFuture<'_, anyhow::Result<()>> {
        Box::pin(async move {
            let Some(session) = self.session.peek() else {
                return Ok(());
            };
            let client = self.context.client()?;
            self.revoke(&client, &session)
                .await
                .with_context(|| format!("revoking the Vault token of {}", self.describe()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_of_any_key_version_are_read() {
        let sig = URL_SAFE_NO_PAD.encode([1u8, 2, 3, 250]);
        assert_eq!(
            parse_signature(&format!("vault:v1:{sig}")),
            Ok((1, vec![1, 2, 3, 250]))
        );
        assert_eq!(
            parse_signature(&format!("vault:v27:{sig}")).map(|s| s.0),
            Ok(27)
        );
        assert!(parse_signature(&sig).is_err());
        assert!(parse_signature(&format!("vault:vx:{sig}")).is_err());
        // The asn1 marshaling (standard base64 with `+` or `/`) is not what was asked.
        assert!(parse_signature("vault:v1:ab+/").is_err());
    }

    #[test]
    fn vaults_errors_are_quoted() {
        let answer = Answer {
            status: http::StatusCode::BAD_REQUEST,
            headers: http::HeaderMap::new(),
            body: bytes::Bytes::from_static(br#"{"errors":["signing key not found"]}"#),
        };
        let e = vault_error("Vault transit sign", &answer);
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            ("Bad Request", "signing key not found")
        );
        let answer = Answer {
            status: http::StatusCode::FORBIDDEN,
            headers: http::HeaderMap::new(),
            body: bytes::Bytes::from_static(
                b"{\"errors\":[\"1 error occurred:\\n\\t* permission denied\\n\\n\"]}",
            ),
        };
        assert_eq!(
            vault_error("x", &answer).message,
            "1 error occurred: permission denied"
        );
    }
}
