//! A fake GitHub that mints short-lived tokens: each token request answered with a token
//! of its own that expires seconds later, and every revocation answered and recorded; so
//! that a token agent renews within a test.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use httpmock::prelude::*;
use httpmock::HttpMockResponse;
use serde_json::json;

use super::{bearer, installation_permissions, repo_json, FakeGitHub};

/// Each token minted, with its expiry.
type Minted = Vec<(String, chrono::DateTime<chrono::Utc>)>;

/// What the fake minted and saw revoked.
#[derive(Clone, Default)]
pub struct ShortTokens {
    /// Every token minted, in order, with its expiry.
    pub minted: Arc<Mutex<Minted>>,
    /// The bearer of every revocation, in order.
    pub revoked: Arc<Mutex<Vec<String>>>,
}

impl ShortTokens {
    pub fn minted(&self) -> Vec<String> {
        let minted = self.minted.lock().expect("the tokens minted");
        minted.iter().map(|(t, _)| t.clone()).collect()
    }

    pub fn revoked(&self) -> Vec<String> {
        self.revoked.lock().expect("the revocations").clone()
    }

    /// Is `token` one the fake minted, and not expired?
    pub fn valid(&self, token: &str) -> bool {
        let now = chrono::Utc::now();
        let minted = self.minted.lock().expect("the tokens minted");
        minted.iter().any(|(t, at)| t == token && *at > now)
            && !self.revoked().iter().any(|r| r == token)
    }
}

impl FakeGitHub {
    /// acme's installation `installation` (found by owner and by id), whose every token request (for repository 101,
    /// `site`) gets a distinct token that expires `life` later; revocations of any token
    /// answered 204.
    pub fn short_tokens(&self, installation: u64, life: Duration) -> ShortTokens {
        let tokens = ShortTokens::default();
        self.account_installation("acme", installation);
        self.installation_by_id("acme", installation);
        let (app, minted) = (self.verifier(), Arc::clone(&tokens.minted));
        self.server.mock(|when, then| {
            when.method(POST)
                .path(format!("/app/installations/{installation}/access_tokens"))
                .is_true(move |r| app.accepts(r));
            then.respond_with(move |_| {
                let mut minted = minted.lock().expect("the tokens minted");
                let token = format!("ghs_shortLived{:021}", minted.len() + 1);
                let expires_at =
                    chrono::Utc::now() + chrono::Duration::from_std(life).expect("a short life");
                minted.push((token.clone(), expires_at));
                let answer = json!({
                    "token": token,
                    "expires_at": expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    "permissions": installation_permissions(),
                    "repository_selection": "selected",
                    "repositories": [repo_json(101, "acme", "site")],
                });
                HttpMockResponse::builder()
                    .status(201)
                    .header("content-type", "application/json; charset=utf-8")
                    .body(answer.to_string())
                    .build()
            });
        });
        let revoked = Arc::clone(&tokens.revoked);
        self.server.mock(|when, then| {
            when.method(DELETE).path("/installation/token");
            then.respond_with(move |r| {
                if let Some(b) = bearer(r) {
                    revoked.lock().expect("the revocations").push(b);
                }
                HttpMockResponse::builder().status(204).build()
            });
        });
        tokens
    }
}
