//! GitHub's app endpoints.
//!
//! Installation lookup and listing, token create and revoke, repository listing and the bot
//! user, with the shapes of their answers.
//!
//! Shapes follow GitHub's REST description. Permissions maps are read as maps (not a
//! fixed struct such as octocrab's `InstallationPermissions`) so that permissions
//! GitHub adds later are kept rather than dropped.

use std::collections::BTreeMap;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt, TryStreamExt};
use http::{HeaderMap, HeaderValue, Method};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::client::{Auth, Client, Credential};
use super::dialect::ApiError;
use super::retry::Retry;
use crate::permissions::{Level, Permissions};

/// At most this many requests in flight when many are needed.
pub const MAX_IN_FLIGHT: usize = 16;
/// GitHub's largest page.
pub const PAGE_SIZE: usize = 100;
/// The most pages a listing reads: 10,000 entries. A hostile or broken server that
/// claims more, or never sends a short page, gets an error, not endless requests.
pub const MAX_PAGES: usize = 100;

/// How to find the installation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Repository { owner: String, repo: String },
    Account(String),
    Enterprise(String),
    Id(u64),
}

impl std::fmt::Display for Lookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Lookup::Repository { owner, repo } => write!(f, "the repository {owner}/{repo}"),
            Lookup::Account(owner) => write!(f, "the account {owner}"),
            Lookup::Enterprise(slug) => write!(f, "the enterprise {slug}"),
            Lookup::Id(id) => write!(f, "installation {id}"),
        }
    }
}

/// The account an installation is on: a user or an organisation has a `login`; an
/// enterprise has a `slug` and a `name` instead.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Account {
    Login {
        login: String,
        /// `User` or `Organization`.
        #[serde(rename = "type", default)]
        kind: Option<String>,
    },
    Enterprise {
        slug: String,
        name: Option<String>,
    },
}

impl Account {
    pub fn is_enterprise(&self) -> bool {
        matches!(self, Account::Enterprise { .. })
    }

    /// The login, or the enterprise's slug.
    pub fn name(&self) -> &str {
        match self {
            Account::Login { login, .. } => login,
            Account::Enterprise { slug, .. } => slug,
        }
    }
}

/// Which repositories an installation or a token covers, as GitHub says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RepositorySelection {
    All,
    Selected,
}

/// An app installation, as the lookup endpoints give it.
#[derive(Debug, Clone, Deserialize)]
pub struct Installation {
    pub id: u64,
    pub app_slug: String,
    pub account: Option<Account>,
    #[serde(default)]
    pub permissions: BTreeMap<String, Value>,
    pub repository_selection: Option<RepositorySelection>,
    pub suspended_at: Option<String>,
    /// `User`, `Organization` or `Enterprise`.
    #[serde(default)]
    pub target_type: Option<String>,
}

/// A permissions object from an answer as name → level; entries that are not a level are skipped.
fn levels(permissions: &BTreeMap<String, Value>) -> Permissions {
    permissions
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), Level::parse(v.as_str()?)?)))
        .collect()
}

impl Installation {
    /// What the installation has been granted.
    pub fn granted(&self) -> Permissions {
        levels(&self.permissions)
    }

    /// The account's kind: `User`, `Organization` or `Enterprise`, from `target_type`,
    /// else the account's `type`, else `Enterprise` for an account with a slug.
    pub fn account_type(&self) -> Option<&str> {
        let from_account = match &self.account {
            Some(Account::Login { kind, .. }) => kind.as_deref(),
            Some(Account::Enterprise { .. }) => Some("Enterprise"),
            None => None,
        };
        self.target_type.as_deref().or(from_account)
    }
}

/// A repository as token and listing answers give it.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Repo {
    pub id: u64,
    pub name: String,
    #[serde(default)]
    pub full_name: String,
}

/// An installation token, as `POST /app/installations/{id}/access_tokens` gives it.
#[derive(Debug, Clone, Deserialize)]
pub struct Token {
    pub token: String,
    /// When the answer was read: the token is new, and may be refused for a few seconds.
    #[serde(skip, default = "Utc::now")]
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    #[serde(default)]
    pub permissions: BTreeMap<String, Value>,
    #[serde(default)]
    pub repositories: Vec<Repo>,
    pub repository_selection: Option<RepositorySelection>,
}

impl Token {
    pub fn credential(&self) -> Credential {
        Credential::issued(&self.token, self.issued_at)
    }

    /// What GitHub granted this token.
    pub fn granted(&self) -> Permissions {
        levels(&self.permissions)
    }
}

/// What a token request asks for: the body of `POST /app/installations/{id}/access_tokens`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TokenRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repositories: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository_ids: Option<Vec<u64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Permissions>,
}

/// Which format of installation token to ask GitHub for. Without one, GitHub's rollout
/// decides. Either way a token matches `ghs_[A-Za-z0-9._]{36,}`: a classic token is
/// `ghs_` and 36 letters and digits, a stateless one `ghs_` and a JWT (some 520
/// characters, two dots), and both are carried as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenFormat {
    /// `ghs_` followed by a JWT.
    Stateless,
    /// `ghs_` followed by 36 letters and digits.
    Classic,
}

/// The header that asks for a format, on `POST /app/installations/{id}/access_tokens` only.
pub const TOKEN_FORMAT_HEADER: &str = "x-github-stateless-s2s-token";

impl TokenFormat {
    /// The names a user gives, in the order help lists them.
    pub const NAMES: [&'static str; 2] = ["stateless", "classic"];

    /// The format named `name` (one of [`TokenFormat::NAMES`]).
    pub fn named(name: &str) -> Option<Self> {
        match name {
            "stateless" => Some(Self::Stateless),
            "classic" => Some(Self::Classic),
            _ => None,
        }
    }

    /// The value of [`TOKEN_FORMAT_HEADER`] that asks for it.
    pub fn header_value(self) -> &'static str {
        match self {
            Self::Stateless => "enabled",
            Self::Classic => "disabled",
        }
    }

    /// The headers of a token request that asks for `format` (none: GitHub decides).
    pub fn headers(format: Option<Self>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(format) = format {
            headers.insert(
                TOKEN_FORMAT_HEADER,
                HeaderValue::from_static(format.header_value()),
            );
        }
        headers
    }
}

fn api_error(e: &anyhow::Error) -> Option<&ApiError> {
    e.downcast_ref::<ApiError>()
}

/// The HTTP status of a failed call, when GitHub answered.
pub fn status_of(e: &anyhow::Error) -> Option<u16> {
    api_error(e).and_then(|a| a.status)
}

/// GitHub's message of a failed call.
pub fn message_of(e: &anyhow::Error) -> String {
    api_error(e)
        .map(|a| a.message.clone())
        .unwrap_or_else(|| format!("{e:#}"))
}

/// What a 401 to the app's JWT means, nearly always.
const JWT_REFUSED: &str =
    "GitHub did not accept the app's JWT: check that the app's id and private key belong to the same app";

fn is_suspension(e: &anyhow::Error) -> bool {
    status_of(e) == Some(403) && message_of(e).to_ascii_lowercase().contains("suspended")
}

/// Finds the app's installation.
pub async fn installation(client: &Client, lookup: &Lookup) -> anyhow::Result<Installation> {
    let path = match lookup {
        Lookup::Repository { owner, repo } => format!("/repos/{owner}/{repo}/installation"),
        Lookup::Account(owner) => format!("/users/{owner}/installation"),
        Lookup::Enterprise(slug) => format!("/enterprises/{slug}/installation"),
        Lookup::Id(id) => format!("/app/installations/{id}"),
    };
    let found: anyhow::Result<Installation> = client
        .json(Method::GET, &path, Auth::App, None, Retry::Idempotent)
        .await;
    match found {
        Ok(inst) if inst.suspended_at.is_some() => anyhow::bail!(
            "the app's installation on {lookup} is suspended (since {}); an owner of the account must unsuspend it",
            inst.suspended_at.unwrap_or_default()
        ),
        Ok(inst) => Ok(inst),
        Err(e) if status_of(&e) == Some(404) => Err(e.context(format!(
            "the app is not installed on {lookup} (or the app's id and private key belong to another app)"
        ))),
        Err(e) if status_of(&e) == Some(401) => Err(e.context(JWT_REFUSED)),
        Err(e) => Err(e.context(format!("looking up the app's installation on {lookup}"))),
    }
}

/// A 2xx answer to a token request that does not parse in full, yet carries a token:
/// GitHub minted it, so it must be revoked. Neither `Display` nor `Debug` shows the token.
#[derive(Clone)]
pub struct UnreadableToken {
    pub token: Credential,
    why: String,
}

impl std::fmt::Display for UnreadableToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GitHub minted a token, but {}", self.why)
    }
}

impl std::fmt::Debug for UnreadableToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnreadableToken")
            .field("token", &"***")
            .field("why", &self.why)
            .finish()
    }
}

impl std::error::Error for UnreadableToken {}

/// The token an error says GitHub minted but answered unreadably, if it is that error.
pub fn unreadable_token(e: &anyhow::Error) -> Option<&UnreadableToken> {
    e.downcast_ref::<UnreadableToken>()
}

/// The `token` field of a token answer, read leniently: whatever else the answer holds,
/// or fails to hold. A token is a non-empty string of visible ASCII.
pub fn token_field(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let token = value.get("token")?.as_str()?;
    let plausible = !token.is_empty() && token.bytes().all(|b| b.is_ascii_graphic());
    plausible.then(|| token.to_string())
}

/// Mints an installation token, in `format` when one is given. A 2xx answer that does
/// not parse, but carries a token, is an [`UnreadableToken`] error, for the caller to revoke.
pub async fn create_token(
    client: &Client,
    installation_id: u64,
    request: &TokenRequest,
    format: Option<TokenFormat>,
) -> anyhow::Result<Token> {
    let path = format!("/app/installations/{installation_id}/access_tokens");
    let body = serde_json::to_value(request)?;
    let headers = TokenFormat::headers(format);
    let answer = match client
        .send_with(
            Method::POST,
            &path,
            Auth::App,
            Some(&body),
            &headers,
            Retry::Create,
        )
        .await
        .map_err(anyhow::Error::from)
    {
        Ok(answer) => answer,
        Err(e) if is_suspension(&e) => {
            return Err(e.context(format!(
                "installation {installation_id} is suspended; an owner of the account must unsuspend it"
            )))
        }
        Err(e) => return Err(e),
    };
    match serde_json::from_slice::<Token>(&answer.body) {
        Ok(token) => Ok(token),
        // Only the position is said: serde's message could quote the answer.
        Err(e) => {
            let what = format!(
                "its answer to POST {path} (HTTP {}) is not the JSON expected (line {}, column {})",
                answer.status.as_u16(),
                e.line(),
                e.column()
            );
            match token_field(&answer.body) {
                Some(token) => Err(UnreadableToken {
                    token: Credential::issued(token, Utc::now()),
                    why: what,
                }
                .into()),
                None => Err(anyhow::anyhow!("no token in the answer: {what}")),
            }
        }
    }
}

/// Revokes an installation token.
pub async fn revoke_token(client: &Client, token: &Credential) -> anyhow::Result<()> {
    client
        .send(
            Method::DELETE,
            "/installation/token",
            Auth::Token(token),
            None,
            Retry::Idempotent,
        )
        .await
        .map(|_| ())
        .map_err(Into::into)
}

/// Is a page of a listing without a total count its last? GitHub gives no count for
/// `GET /app/installations`: a page shorter than [`PAGE_SIZE`] is the last one.
pub fn is_last_page(len: usize) -> bool {
    len < PAGE_SIZE
}

/// How many pages a listing that gives a `total_count` has, or why it will not be read.
pub fn pages_for(total_count: usize) -> anyhow::Result<usize> {
    let pages = total_count.div_ceil(PAGE_SIZE).max(1);
    if pages > MAX_PAGES {
        anyhow::bail!(
            "GitHub counts {total_count} entries, more than the {} (in {MAX_PAGES} pages) app-token lists",
            MAX_PAGES * PAGE_SIZE
        );
    }
    Ok(pages)
}

/// Every installation of the app (`GET /app/installations`, as the app), page after
/// page, at most [`MAX_PAGES`] of them.
pub async fn app_installations(client: &Client) -> anyhow::Result<Vec<Installation>> {
    let mut all = Vec::new();
    for n in 1..=MAX_PAGES {
        let path = format!("/app/installations?per_page={PAGE_SIZE}&page={n}");
        let page: Vec<Installation> = client
            .json(Method::GET, &path, Auth::App, None, Retry::Idempotent)
            .await
            .map_err(|e| match status_of(&e) {
                Some(401) => e.context(JWT_REFUSED),
                _ => e.context("listing the app's installations"),
            })?;
        let last = is_last_page(page.len());
        all.extend(page);
        if last {
            return Ok(all);
        }
    }
    anyhow::bail!(
        "listing the app's installations: more than {} (in {MAX_PAGES} full pages), the most app-token lists",
        MAX_PAGES * PAGE_SIZE
    )
}

#[derive(Deserialize)]
struct RepoPage {
    total_count: usize,
    repositories: Vec<Repo>,
}

/// Every repository an installation token can reach, paged, at most [`MAX_IN_FLIGHT`] pages
/// at once and [`MAX_PAGES`] in all.
pub async fn installation_repositories(
    client: &Client,
    token: &Credential,
) -> anyhow::Result<Vec<Repo>> {
    let page = |n: usize| async move {
        let path = format!("/installation/repositories?per_page={PAGE_SIZE}&page={n}");
        client
            .json::<RepoPage>(
                Method::GET,
                &path,
                Auth::Token(token),
                None,
                Retry::Idempotent,
            )
            .await
    };
    let first = page(1).await?;
    let pages = pages_for(first.total_count).context("listing the installation's repositories")?;
    let mut repos = first.repositories;
    let rest: Vec<RepoPage> = stream::iter(2..=pages)
        .map(page)
        .buffered(MAX_IN_FLIGHT)
        .try_collect()
        .await?;
    for p in rest {
        repos.extend(p.repositories);
    }
    Ok(repos)
}

#[derive(Deserialize)]
struct User {
    id: u64,
}

/// The user id of the app's bot account, `<slug>[bot]`.
pub async fn bot_user_id(
    client: &Client,
    slug: &str,
    token: Option<&Credential>,
) -> anyhow::Result<u64> {
    let path = format!("/users/{slug}%5Bbot%5D");
    let auth = token.map(Auth::Token).unwrap_or(Auth::None);
    let user: User = client
        .json(Method::GET, &path, auth, None, Retry::Idempotent)
        .await
        .with_context(|| format!("looking up the bot user {slug}[bot]"))?;
    Ok(user.id)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn accounts_are_logins_or_enterprises() {
        let user: Account = serde_json::from_value(json!({"login": "acme", "id": 1})).unwrap();
        assert_eq!(user.name(), "acme");
        let enterprise: Account =
            serde_json::from_value(json!({"slug": "big-co", "name": "Big Co", "id": 9})).unwrap();
        assert_eq!(
            enterprise,
            Account::Enterprise {
                slug: "big-co".into(),
                name: Some("Big Co".into())
            }
        );
        assert_eq!(enterprise.name(), "big-co");
    }

    #[test]
    fn an_installations_account_type_comes_from_target_type_then_the_account() {
        let inst = |v: Value| serde_json::from_value::<Installation>(v).unwrap();
        let base = json!({"id": 1, "app_slug": "a", "suspended_at": null});
        let with = |extra: Value| {
            let mut v = base.clone();
            v.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            inst(v)
        };
        let org = with(
            json!({"target_type": "Organization", "account": {"login": "acme", "type": "User"}}),
        );
        assert_eq!(org.account_type(), Some("Organization"));
        let user = with(json!({"account": {"login": "octocat", "type": "User"}}));
        assert_eq!(user.account_type(), Some("User"));
        let enterprise = with(json!({"account": {"slug": "big-co", "name": "Big Co"}}));
        assert_eq!(enterprise.account_type(), Some("Enterprise"));
        assert_eq!(with(json!({"account": null})).account_type(), None);
    }

    #[test]
    fn a_count_is_read_in_at_most_max_pages() {
        assert_eq!(pages_for(0).unwrap(), 1);
        assert_eq!(pages_for(1).unwrap(), 1);
        assert_eq!(pages_for(PAGE_SIZE).unwrap(), 1);
        assert_eq!(pages_for(PAGE_SIZE + 1).unwrap(), 2);
        assert_eq!(pages_for(MAX_PAGES * PAGE_SIZE).unwrap(), MAX_PAGES);
        let e = pages_for(MAX_PAGES * PAGE_SIZE + 1)
            .unwrap_err()
            .to_string();
        assert!(e.contains("10000"), "{e}");
        assert!(pages_for(100_000_000).is_err());
        assert!(pages_for(usize::MAX).is_err());
    }

    #[test]
    fn only_a_short_page_is_the_last() {
        assert!(is_last_page(0));
        assert!(is_last_page(PAGE_SIZE - 1));
        assert!(!is_last_page(PAGE_SIZE));
    }

    #[test]
    fn tokens_parse_their_expiry_and_skip_what_is_not_a_level() {
        let t: Token = serde_json::from_value(json!({
            "token": "ghs_x",
            "expires_at": "2030-01-01T00:00:00Z",
            "permissions": {"contents": "write", "metadata": "read", "odd": 3, "new_thing": "sideways"},
            "repository_selection": "selected"
        }))
        .unwrap();
        assert_eq!(t.expires_at.timestamp(), 1_893_456_000);
        assert_eq!(t.repository_selection, Some(RepositorySelection::Selected));
        let granted = t.granted();
        assert_eq!(granted.len(), 2, "{granted:?}");
        assert_eq!(granted["contents"], Level::Write);
    }

    #[test]
    fn a_token_is_read_from_an_answer_that_does_not_parse_in_full() {
        let soon = br#"{"token":"ghs_abc","expires_at":"soon"}"#;
        assert!(serde_json::from_slice::<Token>(soon).is_err());
        assert_eq!(token_field(soon).as_deref(), Some("ghs_abc"));
        assert_eq!(
            token_field(br#"{"token":"ghs_abc","repositories":7}"#).as_deref(),
            Some("ghs_abc")
        );
        for none in [
            &br#"{"expires_at":"2030-01-01T00:00:00Z"}"#[..],
            br#"{"token":""}"#,
            br#"{"token":"ghs a"}"#,
            br#"{"token":"ghs_\n"}"#,
            br#"{"token":5}"#,
            br#"["ghs_abc"]"#,
            b"<html>",
        ] {
            assert_eq!(token_field(none), None, "{}", String::from_utf8_lossy(none));
        }
        let e = UnreadableToken {
            token: Credential::new("ghs_secret"),
            why: "reasons".into(),
        };
        assert!(!format!("{e} {e:?}").contains("ghs_secret"));
    }

    #[test]
    fn token_formats_are_named_and_asked_for_by_header() {
        assert_eq!(
            TokenFormat::named("stateless"),
            Some(TokenFormat::Stateless)
        );
        assert_eq!(TokenFormat::named("classic"), Some(TokenFormat::Classic));
        for other in ["", "Stateless", "enabled", "jwt", " classic"] {
            assert_eq!(TokenFormat::named(other), None, "{other:?}");
        }
        let sent = |f| {
            TokenFormat::headers(f)
                .iter()
                .map(|(k, v)| format!("{k}: {}", v.to_str().unwrap()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            sent(Some(TokenFormat::Stateless)),
            ["x-github-stateless-s2s-token: enabled"]
        );
        assert_eq!(
            sent(Some(TokenFormat::Classic)),
            ["x-github-stateless-s2s-token: disabled"]
        );
        assert!(sent(None).is_empty(), "without a format GitHub decides");
    }

    #[test]
    fn token_requests_send_only_what_is_set() {
        let body = serde_json::to_value(TokenRequest {
            repository_ids: Some(vec![1, 2]),
            permissions: Some([("contents".to_string(), Level::Read)].into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            body,
            json!({"repository_ids": [1, 2], "permissions": {"contents": "read"}})
        );
        assert_eq!(
            serde_json::to_value(TokenRequest::default()).unwrap(),
            json!({})
        );
    }
}
