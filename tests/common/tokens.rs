//! The fake GitHub's installation tokens as GitHub keeps them ([`Tokens`]): each minted new, expiring a set lifetime after issue, revoked by `DELETE /installation/token`, optionally refused in its first moment; and the mocks that mint and revoke through it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use httpmock::prelude::*;
use httpmock::{HttpMockRequest, HttpMockResponse, Mock};
use serde_json::{json, Value};

use super::{
    format_asked, installation_permissions, minted_as, repo_json, token_json, FakeGitHub,
    INSTALLATION,
};

/// How long GitHub may refuse a brand-new token, when a test asks for it ([`Tokens::refusing_fresh`]).
pub const FRESH: Duration = Duration::from_secs(1);

/// One token the authority minted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Minted {
    pub token: String,
    pub issued_at: SystemTime,
    /// `issued_at` + the lifetime, down to the whole second the JSON's `expires_at` says.
    pub expires_at: SystemTime,
    pub revoked: bool,
}

/// What a token is at a moment, to the authority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Never minted here.
    Unknown,
    /// Minted less than the refusal window ago, while the authority refuses fresh tokens.
    Fresh,
    Live,
    Expired,
    Revoked,
}

impl Minted {
    /// What this token is at `now`, when tokens younger than `refuse_fresh` are refused.
    pub fn state_at(&self, now: SystemTime, refuse_fresh: Duration) -> State {
        if self.revoked {
            State::Revoked
        } else if now >= self.expires_at {
            State::Expired
        } else if now < self.issued_at + refuse_fresh {
            State::Fresh
        } else {
            State::Live
        }
    }
}

/// `at`, down to its whole second.
fn whole_second(at: SystemTime) -> SystemTime {
    let since = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    SystemTime::UNIX_EPOCH + Duration::from_secs(since.as_secs())
}

/// `at` as GitHub writes `expires_at`: RFC 3339, UTC, whole seconds (`2026-01-01T12:00:00Z`).
pub fn rfc3339(at: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(at).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[derive(Default)]
struct Ledger {
    minted: Vec<Minted>,
    revocations: usize,
}

/// The token authority the fake GitHub and the git server share (clones share it):
/// every token minted, when it expires, whether it was revoked.
#[derive(Clone)]
pub struct Tokens {
    lifetime: Duration,
    refuse_fresh: Duration,
    ledger: Arc<Mutex<Ledger>>,
}

impl Tokens {
    /// An authority whose tokens live `lifetime` from issue.
    pub fn new(lifetime: Duration) -> Self {
        Self {
            lifetime,
            refuse_fresh: Duration::ZERO,
            ledger: Arc::default(),
        }
    }

    /// The same authority, refusing each token younger than `window` (GitHub's [`FRESH`]).
    pub fn refusing_fresh(mut self, window: Duration) -> Self {
        self.refuse_fresh = window;
        self
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().expect("the token ledger")
    }

    /// A new classic token (`ghs_` and 36 letters and digits), issued now.
    pub fn mint(&self) -> Minted {
        self.mint_as(super::Format::Classic)
    }

    /// A new token in `format`, issued now.
    pub fn mint_as(&self, format: super::Format) -> Minted {
        self.mint_lasting_as(self.lifetime, format)
    }

    /// A new classic token that lives `lifetime`, not the authority's, issued now.
    pub fn mint_lasting(&self, lifetime: Duration) -> Minted {
        self.mint_lasting_as(lifetime, super::Format::Classic)
    }

    fn mint_lasting_as(&self, lifetime: Duration, format: super::Format) -> Minted {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let mut ledger = self.ledger();
        let token = loop {
            let mut bytes = [0u8; 36];
            getrandom::fill(&mut bytes).expect("random bytes");
            let suffix: String = bytes
                .iter()
                .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
                .collect();
            let token = minted_as(&format!("ghs_{suffix}"), format);
            if !ledger.minted.iter().any(|m| m.token == token) {
                break token;
            }
        };
        let issued_at = SystemTime::now();
        let minted = Minted {
            token,
            issued_at,
            expires_at: whole_second(issued_at + lifetime),
            revoked: false,
        };
        ledger.minted.push(minted.clone());
        minted
    }

    /// What `token` is now.
    pub fn state(&self, token: &str) -> State {
        let now = SystemTime::now();
        self.ledger()
            .minted
            .iter()
            .find(|m| m.token == token)
            .map_or(State::Unknown, |m| m.state_at(now, self.refuse_fresh))
    }

    /// Would GitHub accept `token` now?
    pub fn live(&self, token: &str) -> bool {
        self.state(token) == State::Live
    }

    /// Revokes `token` if it is live now, as `DELETE /installation/token` does: whether it was.
    pub fn revoke(&self, token: &str) -> bool {
        let now = SystemTime::now();
        let refuse_fresh = self.refuse_fresh;
        let mut ledger = self.ledger();
        let Some(m) = ledger.minted.iter_mut().find(|m| m.token == token) else {
            return false;
        };
        if m.state_at(now, refuse_fresh) != State::Live {
            return false;
        }
        m.revoked = true;
        ledger.revocations += 1;
        true
    }

    /// Every token minted, in order.
    pub fn minted(&self) -> Vec<Minted> {
        self.ledger().minted.clone()
    }

    /// How many tokens were minted.
    pub fn mints(&self) -> usize {
        self.ledger().minted.len()
    }

    /// How many tokens were revoked.
    pub fn revocations(&self) -> usize {
        self.ledger().revocations
    }

    /// The tokens live now.
    pub fn live_tokens(&self) -> Vec<String> {
        let now = SystemTime::now();
        self.ledger()
            .minted
            .iter()
            .filter(|m| m.state_at(now, self.refuse_fresh) == State::Live)
            .map(|m| m.token.clone())
            .collect()
    }

    /// Sleeps until `token` has expired (a test's wait; the authority's clock is the test's).
    pub fn wait_until_expired(&self, token: &str) {
        let expires_at = self
            .ledger()
            .minted
            .iter()
            .find(|m| m.token == token)
            .map(|m| m.expires_at)
            .expect("a token minted here");
        if let Ok(left) = expires_at.duration_since(SystemTime::now()) {
            std::thread::sleep(left);
        }
        assert_eq!(self.state(token), State::Expired);
    }
}

/// The token of `Authorization: token X` or `Authorization: Bearer X`.
pub fn token_of(req: &HttpMockRequest) -> Option<String> {
    token_in(&super::stand_in::header(req, "authorization")?)
}

/// The token of an `Authorization` value `token X` or `Bearer X`.
fn token_in(authorization: &str) -> Option<String> {
    let (scheme, token) = authorization.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("token") || scheme.eq_ignore_ascii_case("bearer"))
        .then(|| token.trim().to_string())
}

/// GitHub's answer to a token request whose `body` asks for repositories (`repository_ids`,
/// `repositories` by name) and `permissions` of an installation of `owner` that has `repos`
/// (id, name): the repositories asked for (`None` for one the installation lacks), and
/// the permissions granted (the installation's when none are asked for).
pub fn token_grant(
    body: &Value,
    owner: &str,
    repos: &[(u64, String)],
) -> Option<(Option<Vec<Value>>, Value)> {
    let ids = body["repository_ids"].as_array();
    let names = body["repositories"].as_array();
    let mut listed = Vec::new();
    for id in ids.into_iter().flatten() {
        let (id, name) = repos.iter().find(|(r, _)| Some(*r) == id.as_u64())?;
        listed.push(repo_json(*id, owner, name));
    }
    for name in names.into_iter().flatten() {
        let (id, name) = repos
            .iter()
            .find(|(_, r)| name.as_str().is_some_and(|n| n.eq_ignore_ascii_case(r)))?;
        listed.push(repo_json(*id, owner, name));
    }
    let asked = ids.is_some() || names.is_some();
    let permissions = match &body["permissions"] {
        Value::Null => installation_permissions(),
        p => p.clone(),
    };
    Some((asked.then_some(listed), permissions))
}

impl FakeGitHub {
    /// `owner`'s installation, found by any of its `repos` (id, name), by the account or by
    /// its id, and the bot user; each token request (JWT required) mints a new token of
    /// `tokens`, answered in GitHub's shape; `DELETE /installation/token` revokes through
    /// `tokens` (204; 401 for a token not live). Gives (the token requests, the revocations).
    pub fn minting(
        &self,
        tokens: &Tokens,
        owner: &str,
        repos: &[(u64, &str)],
    ) -> (Mock<'_>, Mock<'_>) {
        for (_, name) in repos {
            self.repo_installation(owner, name, INSTALLATION);
        }
        self.account_installation(owner, INSTALLATION);
        self.installation_by_id(owner, INSTALLATION);
        self.bot_user();
        let (app, rollout) = (self.verifier(), self.rollout);
        let repos: Vec<(u64, String)> = repos.iter().map(|(i, n)| (*i, n.to_string())).collect();
        let owner = owner.to_string();
        let authority = tokens.clone();
        let mint = self.server.mock(|when, then| {
            when.method(POST)
                .path(format!("/app/installations/{INSTALLATION}/access_tokens"))
                .is_true(move |r| app.accepts(r));
            then.respond_with(move |r| {
                let body: Value = serde_json::from_slice(r.body_ref()).unwrap_or(json!({}));
                let Some((listed, permissions)) = token_grant(&body, &owner, &repos) else {
                    return answer(422, &json!({"message": "There is at least one repository that does not exist or is not accessible to the parent installation."}));
                };
                let minted = authority.mint_as(format_asked(r, rollout));
                let mut token = token_json(&minted.token, &[], &permissions);
                token["expires_at"] = json!(rfc3339(minted.expires_at));
                match listed {
                    Some(listed) => token["repositories"] = json!(listed),
                    None => {
                        token.as_object_mut().map(|t| t.remove("repositories"));
                    }
                }
                answer(201, &token)
            });
        });
        let authority = tokens.clone();
        let revoke = self.server.mock(|when, then| {
            when.method(DELETE).path("/installation/token");
            then.respond_with(move |r| match token_of(r) {
                Some(token) if authority.revoke(&token) => {
                    HttpMockResponse::builder().status(204).build()
                }
                _ => answer(401, &json!({"message": "Bad credentials", "status": "401"})),
            });
        });
        (mint, revoke)
    }
}

/// `status` with GitHub's JSON `body`.
fn answer(status: u16, body: &Value) -> HttpMockResponse {
    HttpMockResponse::builder()
        .status(status)
        .header("content-type", "application/json; charset=utf-8")
        .body(body.to_string())
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(issued: u64, expires: u64, revoked: bool) -> Minted {
        let at = |s| SystemTime::UNIX_EPOCH + Duration::from_secs(s);
        Minted {
            token: "ghs_x".into(),
            issued_at: at(issued),
            expires_at: at(expires),
            revoked,
        }
    }

    #[test]
    fn a_token_is_live_from_issue_to_expiry_unless_revoked() {
        let at = |ms| SystemTime::UNIX_EPOCH + Duration::from_millis(ms);
        let t = token(100, 120, false);
        assert_eq!(t.state_at(at(100_000), Duration::ZERO), State::Live);
        assert_eq!(t.state_at(at(119_999), Duration::ZERO), State::Live);
        assert_eq!(t.state_at(at(120_000), Duration::ZERO), State::Expired);
        assert_eq!(t.state_at(at(100_999), FRESH), State::Fresh);
        assert_eq!(t.state_at(at(101_000), FRESH), State::Live);
        let revoked = token(100, 120, true);
        assert_eq!(revoked.state_at(at(110_000), FRESH), State::Revoked);
        assert_eq!(revoked.state_at(at(130_000), FRESH), State::Revoked);
    }

    #[test]
    fn expires_at_is_rfc3339_in_whole_seconds() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_767_268_800_900);
        assert_eq!(rfc3339(whole_second(at)), "2026-01-01T12:00:00Z");
    }

    #[test]
    fn the_authority_mints_distinct_tokens_that_expire_and_revoke() {
        let tokens = Tokens::new(Duration::from_secs(60));
        let (a, b) = (tokens.mint(), tokens.mint());
        assert_ne!(a.token, b.token);
        for m in [&a, &b] {
            assert!(
                m.token.starts_with("ghs_") && m.token.len() == 40,
                "{}",
                m.token
            );
            let lifetime = m.expires_at.duration_since(m.issued_at).unwrap();
            assert!(lifetime > Duration::from_secs(59) && lifetime <= Duration::from_secs(60));
        }
        assert_eq!(tokens.live_tokens(), [a.token.clone(), b.token.clone()]);
        assert!(tokens.revoke(&a.token));
        assert!(!tokens.revoke(&a.token), "revoked twice");
        assert!(!tokens.revoke("ghs_unknown"));
        assert_eq!(tokens.state(&a.token), State::Revoked);
        assert_eq!(tokens.state("ghs_unknown"), State::Unknown);
        assert_eq!((tokens.mints(), tokens.revocations()), (2, 1));
        assert_eq!(tokens.live_tokens(), [b.token.as_str()]);
        let stateless = tokens.mint_as(crate::common::Format::Stateless);
        assert_eq!(stateless.token.len(), 523, "{}", stateless.token);
        assert!(tokens.revoke(&stateless.token));

        let fresh = Tokens::new(Duration::from_secs(60)).refusing_fresh(Duration::from_secs(30));
        let c = fresh.mint();
        assert_eq!(fresh.state(&c.token), State::Fresh);
        assert!(!fresh.revoke(&c.token), "GitHub refuses a fresh token");
        assert!(fresh.live_tokens().is_empty());
    }

    #[test]
    fn a_revocation_names_its_token_in_either_scheme() {
        assert_eq!(token_in("token ghs_a"), Some("ghs_a".into()));
        assert_eq!(token_in("Bearer ghs_a"), Some("ghs_a".into()));
        assert_eq!(token_in("bearer  ghs_a "), Some("ghs_a".into()));
        assert_eq!(token_in("Basic ghs_a"), None);
        assert_eq!(token_in("ghs_a"), None);
    }

    #[test]
    fn a_token_request_gets_what_it_asks_of_the_installation() {
        let repos = [(11, "site".to_string()), (12, "api".to_string())];
        let (listed, permissions) = token_grant(
            &json!({"repository_ids": [12], "repositories": ["Site"], "permissions": {"contents": "write"}}),
            "acme",
            &repos,
        )
        .unwrap();
        assert_eq!(
            listed,
            Some(vec![
                repo_json(12, "acme", "api"),
                repo_json(11, "acme", "site")
            ])
        );
        assert_eq!(permissions, json!({"contents": "write"}));
        assert_eq!(
            token_grant(&json!({}), "acme", &repos),
            Some((None, installation_permissions()))
        );
        assert_eq!(
            token_grant(&json!({"repository_ids": [13]}), "acme", &repos),
            None
        );
        assert_eq!(
            token_grant(&json!({"repositories": ["web"]}), "acme", &repos),
            None
        );
    }
}
