//! The one test harness, shared by the tests, the demo and the benchmark: a fake GitHub on
//! 127.0.0.1 (httpmock) that checks the app JWT like GitHub does, the step environment
//! and file commands the runner gives (`step`), the built binary run as a process
//! (`step`), the command line run as a user runs it (`cli`), a CONNECT proxy (`net`), moto, a real AWS stand-in (`moto`), with a role's trust in front of its STS (`sts`), a GCP stand-in (`gcp`), the key services'
//! official clients (`clients`), the runner's OIDC endpoint (`oidc`), Entra ID with Key
//! Vault (`azure`) and Vault (`vault`), the answers of the operator commands (`ops`), a
//! key service's signer called as a long-lived process calls it (`renewal`), and the
//! binary run without `CAP_SYS_PTRACE` (`unprivileged`).

pub mod azure;
#[cfg(test)]
mod cli;
mod clients;
pub mod commands;
pub mod docker;
mod gcp;
#[cfg(test)]
pub mod git_server;
// What the benchmarks (examples/bench*.rs) share; no test uses it.
#[cfg(not(test))]
pub mod measure;
mod moto;
pub mod native;
mod net;
pub mod oidc;
mod ops;
#[cfg(test)]
mod renewal;
mod stand_in;
mod step;
mod sts;
pub mod tokens;
mod unprivileged;
pub mod vault;

#[cfg(test)]
pub use cli::*;
pub use clients::*;
pub use gcp::*;
pub use moto::*;
pub use net::*;
pub use ops::*;
#[cfg(test)]
pub use renewal::*;
pub use step::*;
pub use sts::*;
pub use unprivileged::*;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use httpmock::prelude::*;
use httpmock::{HttpMockRequest, HttpMockResponse, Mock, Then, When};
use serde_json::{json, Value};

/// The built binary the tests run (cargo builds it for the test program, not for the
/// demo and the benchmarks, which find theirs).
#[cfg(test)]
pub const BIN: &str = env!("CARGO_BIN_EXE_app-token");

/// [`BIN`], as a path.
#[cfg(test)]
pub fn bin() -> &'static std::path::Path {
    std::path::Path::new(BIN)
}

pub const KEY_PKCS1: &str = include_str!("../fixtures/test-key-pkcs1.pem");
pub const KEY_PKCS8: &str = include_str!("../fixtures/test-key-pkcs8.pem");
pub const PUBLIC_KEY: &str = include_str!("../fixtures/test-key-public.pem");

pub const APP_ID: &str = "123456";
pub const CLIENT_ID: &str = "Iv23liTestClient0001";
pub const SLUG: &str = "acme-bot";
pub const BOT_ID: u64 = 41898282;
pub const INSTALLATION: u64 = 777;
pub const HELPER_TOKEN: &str = "ghs_helperTokenForResolvingNames0001";
pub const FINAL_TOKEN: &str = "ghs_finalTokenTheJobUses00000000001";

/// The `X-GitHub-Api-Version` every request to the fake must carry, once: the version
/// app-token pins (written out here, so that a change of it fails every test).
pub const API_VERSION: &str = "2022-11-28";

/// The formats GitHub mints installation tokens in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `ghs_` and 36 letters and digits: the fake's token names as they are.
    Classic,
    /// `ghs_` and a JWT (see [`stateless`]).
    Stateless,
}

/// `token` (one of the fake's classic tokens) as GitHub mints it in `format`.
pub fn minted_as(token: &str, format: Format) -> String {
    match format {
        Format::Classic => token.to_string(),
        Format::Stateless => stateless(token),
    }
}

/// The stateless twin of the classic `token`: `ghs_` and a JWT of GitHub's shape and
/// length, 523 characters with two dots (an RS256 header, claims naming the
/// installation, a 256-byte signature, each base64url). Like every token GitHub mints,
/// it matches GitHub's pattern for both formats, `ghs_[A-Za-z0-9._]{36,}`.
pub fn stateless(token: &str) -> String {
    use base64::Engine as _;
    use sha2::{Digest as _, Sha256};
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let digest = Sha256::digest(token.as_bytes());
    let header = json!({"alg": "RS256", "typ": "JWT"});
    let claims = json!({
        "iss": "github.com",
        "sub": format!("installation:{INSTALLATION}"),
        "jti": digest[..8].iter().map(|b| format!("{b:02x}")).collect::<String>(),
        "iat": 1_800_000_000u64,
        "exp": 1_800_003_600u64,
    });
    let mut signature = Vec::new();
    let mut block = digest;
    while signature.len() < 256 {
        block = Sha256::digest(block);
        signature.extend_from_slice(&block);
    }
    signature.truncate(256);
    format!(
        "ghs_{}.{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes()),
        // GitHub's pattern has no `-`: its stateless tokens' signatures spell it `_`.
        b64(&signature).replace('-', "_")
    )
}

/// What the fake saw of one request: enough to check the headers app-token must send.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub bearer: Option<String>,
    /// Every `X-GitHub-Api-Version` value, in order.
    pub api_versions: Vec<String>,
    /// Every `X-GitHub-Stateless-S2S-Token` value, in order.
    pub token_formats: Vec<String>,
}

/// Every value of the header `name` in `req`.
fn header_values(req: &HttpMockRequest, name: &str) -> Vec<String> {
    req.headers_vec()
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
        .collect()
}

impl Seen {
    fn of(req: &HttpMockRequest) -> Self {
        Self {
            method: req.method().to_string(),
            path: req.uri().path().to_string(),
            bearer: bearer(req),
            api_versions: header_values(req, "x-github-api-version"),
            token_formats: header_values(req, "x-github-stateless-s2s-token"),
        }
    }

    /// A token request: `POST /app/installations/{id}/access_tokens`.
    pub fn is_token_request(&self) -> bool {
        self.method == "POST"
            && self.path.starts_with("/app/installations/")
            && self.path.ends_with("/access_tokens")
    }
}

/// The format GitHub mints a token in for `req`: the one its `X-GitHub-Stateless-S2S-Token`
/// asks for (`enabled`, `disabled`), else the rollout's (any other value is ignored).
fn format_asked(req: &HttpMockRequest, rollout: Format) -> Format {
    match header_values(req, "x-github-stateless-s2s-token").as_slice() {
        [one] if one == "enabled" => Format::Stateless,
        [one] if one == "disabled" => Format::Classic,
        _ => rollout,
    }
}

#[derive(serde::Deserialize)]
struct Claims {
    iat: i64,
    exp: i64,
    iss: String,
}

pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn bearer(req: &HttpMockRequest) -> Option<String> {
    req.headers_vec()
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        .and_then(|(_, v)| v.strip_prefix("Bearer ").map(str::to_string))
}

/// A JWT's claims (`iat`, `exp`, `iss`), if its RS256 signature verifies with the test
/// app's public key.
pub fn jwt_claims(jwt: &str) -> Option<(i64, i64, String)> {
    jwt_claims_with(jwt, PUBLIC_KEY)
}

/// A JWT's claims, if its RS256 signature verifies with `public_key` (PEM).
pub fn jwt_claims_with(jwt: &str, public_key: &str) -> Option<(i64, i64, String)> {
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(public_key.as_bytes()).ok()?;
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.validate_exp = false;
    v.required_spec_claims.clear();
    let c = jsonwebtoken::decode::<Claims>(jwt, &key, &v).ok()?.claims;
    Some((c.iat, c.exp, c.iss))
}

/// Each JWT among `bearers` (the fake's [`FakeGitHub::bearers`]) has its signature part,
/// exactly as the JWT carries it, in a `::add-mask::` line of `stdout`; there is one JWT
/// at least.
pub fn assert_jwt_signatures_masked(stdout: &str, bearers: &Mutex<Vec<String>>) {
    let jwts: Vec<String> = bearers
        .lock()
        .expect("the bearers")
        .iter()
        .filter(|b| b.matches('.').count() == 2)
        .cloned()
        .collect();
    assert!(!jwts.is_empty(), "GitHub received no JWT");
    for jwt in &jwts {
        let signature = jwt.rsplit('.').next().unwrap_or_default();
        assert!(
            stdout
                .lines()
                .any(|l| l == format!("::add-mask::{signature}")),
            "the JWT's signature {signature} is not masked:\n{stdout}"
        );
    }
}

/// How the fake GitHub checks an app JWT: the app's public key, and its clock's skew.
#[derive(Clone)]
pub struct Verifier {
    pub skew: i64,
    pub public_key: Arc<String>,
}

impl Verifier {
    fn claims(&self, req: &HttpMockRequest) -> Option<(i64, i64, String)> {
        jwt_claims_with(&bearer(req)?, &self.public_key)
    }

    /// Does the request carry a JWT GitHub would accept?
    pub fn accepts(&self, req: &HttpMockRequest) -> bool {
        let now = unix_now() + self.skew;
        match self.claims(req) {
            Some((iat, exp, iss)) => {
                (iss == APP_ID || iss == CLIENT_ID) && iat <= now && exp > now && exp - iat <= 600
            }
            None => false,
        }
    }

    /// A JWT signed by the app whose time claims are wrong on the server's clock?
    pub fn refuses_time_of(&self, req: &HttpMockRequest) -> bool {
        self.claims(req).is_some() && !self.accepts(req)
    }
}

fn test_app(skew: i64) -> Verifier {
    Verifier {
        skew,
        public_key: Arc::new(PUBLIC_KEY.to_string()),
    }
}

/// Does the request carry a JWT of the test app GitHub would accept, on a server clock
/// `skew` seconds from ours?
pub fn jwt_ok(req: &HttpMockRequest, skew: i64) -> bool {
    test_app(skew).accepts(req)
}

/// The opposite: a signed JWT whose time claims are wrong on the server's clock.
pub fn jwt_time_wrong(req: &HttpMockRequest, skew: i64) -> bool {
    test_app(skew).refuses_time_of(req)
}

pub fn repo_json(id: u64, owner: &str, name: &str) -> Value {
    json!({"id": id, "name": name, "full_name": format!("{owner}/{name}"), "private": true})
}

/// GitHub's JSON answers say so (`Content-Type: application/json; charset=utf-8`); httpmock's
/// `json_body` alone sends none, and clients such as octokit then read the body as text.
pub trait GitHubJson {
    fn github_json(self, body: impl Into<Value>) -> Self;
}

impl GitHubJson for httpmock::Then {
    fn github_json(self, body: impl Into<Value>) -> Self {
        self.header("content-type", "application/json; charset=utf-8")
            .json_body(body.into())
    }
}

pub fn installation_json(id: u64, owner: &str, permissions: &Value) -> Value {
    json!({
        "id": id,
        "app_slug": SLUG,
        "app_id": 123456,
        "account": {"login": owner, "id": 1, "type": "Organization"},
        "permissions": permissions,
        "repository_selection": "selected",
        "suspended_at": null,
        "events": []
    })
}

pub fn token_json(token: &str, repos: &[Value], permissions: &Value) -> Value {
    json!({
        "token": token,
        "expires_at": "2099-01-01T00:00:00Z",
        "permissions": permissions,
        "repository_selection": "selected",
        "repositories": repos,
    })
}

/// The permissions the fake installation has.
pub fn installation_permissions() -> Value {
    json!({"contents": "write", "metadata": "read", "pull_requests": "write", "issues": "read"})
}

/// A fake GitHub, optionally answering every request after `latency`. It mints each
/// token in the format the request asks for, else in `rollout`'s; and it records every
/// request it sees ([`FakeGitHub::seen`]): a test whose fake saw a request without
/// exactly one `X-GitHub-Api-Version: API_VERSION` fails as the fake is dropped.
pub struct FakeGitHub {
    pub server: MockServer,
    pub latency: Duration,
    pub skew: i64,
    /// The app's public key (PEM) that JWTs must verify with.
    pub public_key: Arc<String>,
    /// What a token request that asks for no format gets (GitHub's rollout).
    pub rollout: Format,
    seen: Arc<Mutex<Vec<Seen>>>,
    /// The paths under which the fake serves git, not the API ([`FakeGitHub::git_server`]):
    /// git sends no `X-GitHub-Api-Version`, and is not held to it.
    git_paths: Arc<Mutex<Vec<String>>>,
}

#[cfg(test)]
impl Drop for FakeGitHub {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let wrong: Vec<String> = self
            .seen()
            .into_iter()
            .filter(|s| s.api_versions != [API_VERSION])
            .filter(|s| !self.serves_git_at(&s.path))
            .map(|s| format!("{} {}: {:?}", s.method, s.path, s.api_versions))
            .collect();
        assert!(
            wrong.is_empty(),
            "requests without exactly `X-GitHub-Api-Version: {API_VERSION}`: {wrong:#?}"
        );
    }
}

/// The mocks of a standard flow, for assertions.
pub struct Flow<'a> {
    pub lookup: Mock<'a>,
    pub helper: Option<Mock<'a>>,
    pub final_token: Mock<'a>,
    pub revoke_helper: Option<Mock<'a>>,
    pub revoke_final: Mock<'a>,
    pub bot: Mock<'a>,
}

impl FakeGitHub {
    pub fn start() -> Self {
        let mut gh = Self {
            server: MockServer::start(),
            latency: Duration::ZERO,
            skew: 0,
            public_key: Arc::new(PUBLIC_KEY.to_string()),
            rollout: Format::Classic,
            seen: Arc::default(),
            git_paths: Arc::default(),
        };
        // The first mock, so that it sees every request.
        gh.seen = gh.record(|r| Some(Seen::of(r)));
        gh
    }

    /// A fake that accepts JWTs signed by the key whose public half is `public_key` (PEM).
    pub fn verifying_with(public_key: &str) -> Self {
        let mut gh = Self::start();
        gh.public_key = Arc::new(public_key.to_string());
        gh
    }

    /// A fake whose rollout mints `format` when a request asks for none.
    pub fn rolled_out(format: Format) -> Self {
        let mut gh = Self::start();
        gh.rollout = format;
        gh
    }

    /// Every request the fake has seen, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("the requests seen").clone()
    }

    /// What `pick` takes of every request from now on, as the fake received them: a
    /// mock that answers none, made before the others so that it sees each request.
    pub fn record<T: Send + 'static>(
        &self,
        pick: impl Fn(&HttpMockRequest) -> Option<T> + Send + Sync + 'static,
    ) -> Arc<Mutex<Vec<T>>> {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&seen);
        self.server.mock(|when, _| {
            when.is_true(move |r| {
                if let Some(item) = pick(r) {
                    record.lock().expect("the record").push(item);
                }
                false
            });
        });
        seen
    }

    /// How this fake checks JWTs.
    pub fn verifier(&self) -> Verifier {
        Verifier {
            skew: self.skew,
            public_key: Arc::clone(&self.public_key),
        }
    }

    /// Plain http (the fake answers http and https on the same port).
    pub fn url(&self) -> String {
        format!("http://{}", self.server.address())
    }

    /// https, with a certificate from httpmock's test CA (`tests/fixtures/httpmock-ca.pem`).
    pub fn https_url(&self) -> String {
        format!("https://{}", self.server.address())
    }

    /// `GET {path}`, JWT required, answered with `installation` (its JSON): how each of
    /// GitHub's installation lookups answers.
    pub fn installation_at(&self, path: impl Into<String>, installation: Value) -> Mock<'_> {
        let (app, latency) = (self.verifier(), self.latency);
        self.server.mock(|when, then| {
            when.method(GET)
                .path(path.into())
                .is_true(move |r| app.accepts(r));
            then.status(200).delay(latency).github_json(installation);
        })
    }

    /// `GET /repos/{owner}/{repo}/installation`, JWT required.
    pub fn repo_installation(&self, owner: &str, repo: &str, installation: u64) -> Mock<'_> {
        self.installation_at(
            format!("/repos/{owner}/{repo}/installation"),
            installation_json(installation, owner, &installation_permissions()),
        )
    }

    /// `GET /users/{owner}/installation`, JWT required.
    pub fn account_installation(&self, owner: &str, installation: u64) -> Mock<'_> {
        self.installation_at(
            format!("/users/{owner}/installation"),
            installation_json(installation, owner, &installation_permissions()),
        )
    }

    /// `GET /app/installations/{id}`, JWT required.
    pub fn installation_by_id(&self, owner: &str, installation: u64) -> Mock<'_> {
        self.installation_at(
            format!("/app/installations/{installation}"),
            installation_json(installation, owner, &installation_permissions()),
        )
    }

    /// `POST /app/installations/{id}/access_tokens` with exactly `body`, JWT required,
    /// answered with `answer`, its token in the format asked for (see [`minted_as`]).
    pub fn access_token(&self, installation: u64, body: Value, answer: Value) -> Mock<'_> {
        let app = self.verifier();
        let (latency, rollout) = (self.latency, self.rollout);
        self.server.mock(|when, then| {
            when.method(POST)
                .path(format!("/app/installations/{installation}/access_tokens"))
                .json_body(body)
                .is_true(move |r| app.accepts(r));
            then.status(201).delay(latency).respond_with(move |r| {
                let mut answer = answer.clone();
                if let Some(token) = answer["token"].as_str() {
                    answer["token"] = json!(minted_as(token, format_asked(r, rollout)));
                }
                HttpMockResponse::builder()
                    .status(201)
                    .header("content-type", "application/json; charset=utf-8")
                    .body(answer.to_string())
                    .build()
            });
        })
    }

    /// `DELETE /installation/token` with `token`, in either format GitHub mints it.
    pub fn revoke(&self, token: &str) -> Mock<'_> {
        let latency = self.latency;
        let formats = [token.to_string(), stateless(token)];
        self.server.mock(|when, then| {
            when.method(DELETE)
                .path("/installation/token")
                .is_true(move |r| bearer(r).is_some_and(|b| formats.contains(&b)));
            then.status(204).delay(latency);
        })
    }

    /// `GET /users/{slug}[bot]`.
    pub fn bot_user(&self) -> Mock<'_> {
        let latency = self.latency;
        self.server.mock(|when, then| {
            when.method(GET).path(format!("/users/{SLUG}%5Bbot%5D"));
            then.status(200)
                .delay(latency)
                .github_json(json!({"login": format!("{SLUG}[bot]"), "id": BOT_ID, "type": "Bot"}));
        })
    }

    /// The whole flow for `owner`: names resolved by a helper token, ids passed through,
    /// the final token for all of them. `repos` are (id, name) pairs the installation has.
    pub fn flow(
        &self,
        owner: &str,
        names: &[&str],
        ids: &[u64],
        repos: &[(u64, &str)],
        permissions: Option<Value>,
    ) -> Flow<'_> {
        let lookup = match names.first() {
            Some(first) => self.repo_installation(owner, first, INSTALLATION),
            None => self.account_installation(owner, INSTALLATION),
        };
        let mut final_ids: Vec<u64> = ids.to_vec();
        let (helper, revoke_helper) = if names.is_empty() {
            (None, None)
        } else {
            let listed: Vec<Value> = names
                .iter()
                .filter_map(|n| repos.iter().find(|(_, r)| r.eq_ignore_ascii_case(n)))
                .map(|(id, name)| repo_json(*id, owner, name))
                .collect();
            for (id, _) in names
                .iter()
                .filter_map(|n| repos.iter().find(|(_, r)| r.eq_ignore_ascii_case(n)))
            {
                if !final_ids.contains(id) {
                    final_ids.push(*id);
                }
            }
            let helper = self.access_token(
                INSTALLATION,
                json!({"repositories": names, "permissions": {"metadata": "read"}}),
                token_json(HELPER_TOKEN, &listed, &json!({"metadata": "read"})),
            );
            (Some(helper), Some(self.revoke(HELPER_TOKEN)))
        };
        let covered: Vec<Value> = final_ids
            .iter()
            .map(|id| {
                let name = repos
                    .iter()
                    .find(|(r, _)| r == id)
                    .map(|(_, n)| *n)
                    .unwrap_or("unnamed");
                repo_json(*id, owner, name)
            })
            .collect();
        let granted = permissions.clone().unwrap_or_else(installation_permissions);
        let mut body = json!({"repository_ids": final_ids});
        if let Some(p) = permissions {
            body["permissions"] = p;
        }
        let final_token = self.access_token(
            INSTALLATION,
            body,
            token_json(FINAL_TOKEN, &covered, &granted),
        );
        Flow {
            lookup,
            helper,
            final_token,
            revoke_helper,
            revoke_final: self.revoke(FINAL_TOKEN),
            bot: self.bot_user(),
        }
    }
}

impl FakeGitHub {
    /// `DELETE /installation/token` with `token` as GitHub answers it while a new token
    /// replicates: `401 Bad credentials` for `window` from the first attempt, then 204.
    /// Gives (the 401s, the 204s).
    pub fn revoke_lagging(&self, token: &str, window: Duration) -> (Mock<'_>, Mock<'_>) {
        let first = std::sync::Arc::new(std::sync::Mutex::new(None::<std::time::Instant>));
        let lagging = move |_: &HttpMockRequest| {
            let mut first = first.lock().expect("the clock of the first attempt");
            first.get_or_insert_with(std::time::Instant::now).elapsed() < window
        };
        let refused = {
            let lagging = lagging.clone();
            self.server.mock(|when, then| {
                when.method(DELETE)
                    .path("/installation/token")
                    .header("authorization", format!("Bearer {token}"))
                    .is_true(move |r| lagging(r));
                then.status(401)
                    .github_json(json!({"message": "Bad credentials", "status": "401"}));
            })
        };
        let revoked = self.server.mock(|when, then| {
            when.method(DELETE)
                .path("/installation/token")
                .header("authorization", format!("Bearer {token}"))
                .is_true(move |r| !lagging(r));
            then.status(204);
        });
        (refused, revoked)
    }

    /// The flow the main path's tests share: two names and an id of acme
    /// (`site, api, 9001`), with `contents: write` and `pull_requests: read`.
    pub fn names_and_an_id_flow(&self) -> Flow<'_> {
        self.flow(
            "acme",
            &["site", "api"],
            &[9001],
            &[(11, "site"), (12, "api")],
            Some(json!({"contents": "write", "pull_requests": "read"})),
        )
    }

    /// acme's installation, found by `names[0]`, refusing a helper token for `names`
    /// (GitHub's 422: one is out of its reach), then what explains it: a `metadata: read`
    /// token, `ghs_probe`, listing the installation's repositories (`listed`: id and name),
    /// and its revocation. Gives (the refusal, the probe, the listing).
    pub fn out_of_reach(&self, names: &[&str], listed: &[(u64, &str)]) -> [Mock<'_>; 3] {
        self.repo_installation("acme", names[0], INSTALLATION);
        self.bot_user();
        let body = json!({"repositories": names, "permissions": {"metadata": "read"}});
        let refused = self.server.mock(|when, then| {
            when.method(POST)
                .path(format!("/app/installations/{INSTALLATION}/access_tokens"))
                .json_body(body);
            then.status(422).github_json(json!({"message": "There is at least one repository that does not exist or is not accessible to the parent installation."}));
        });
        let probe = self.access_token(
            INSTALLATION,
            json!({"permissions": {"metadata": "read"}}),
            token_json("ghs_probe", &[], &json!({"metadata": "read"})),
        );
        self.revoke("ghs_probe");
        let repositories: Vec<Value> = listed
            .iter()
            .map(|(id, name)| repo_json(*id, "acme", name))
            .collect();
        let listing = self.server.mock(|when, then| {
            when.method(GET).path("/installation/repositories");
            then.status(200).github_json(
                json!({"total_count": repositories.len(), "repositories": repositories}),
            );
        });
        [refused, probe, listing]
    }

    /// acme's installation, and `FINAL_TOKEN` for its repository id 101 (`site`) with the
    /// installation's permissions. Gives the token request.
    pub fn token_for_repository_101(&self) -> Mock<'_> {
        self.account_installation("acme", INSTALLATION);
        self.access_token(
            INSTALLATION,
            json!({"repository_ids": [101]}),
            token_json(
                FINAL_TOKEN,
                &[repo_json(101, "acme", "site")],
                &installation_permissions(),
            ),
        )
    }

    /// A step that will be holding a token when it is cancelled: repository id 101 of
    /// acme, minted at once, while the bot user's lookup hangs for `hang`. Gives (the
    /// token request, its revocation, the hanging lookup).
    pub fn token_then_a_hang(&self, hang: Duration) -> (Mock<'_>, Mock<'_>, Mock<'_>) {
        let minted = self.token_for_repository_101();
        let revoked = self.revoke(FINAL_TOKEN);
        let hanging = self.server.mock(|when, then| {
            when.method(GET).path(format!("/users/{SLUG}%5Bbot%5D"));
            then.status(200)
                .delay(hang)
                .github_json(json!({"login": format!("{SLUG}[bot]"), "id": BOT_ID, "type": "Bot"}));
        });
        (minted, revoked, hanging)
    }

    /// The bearer of every request from now on, as the fake received it (see
    /// [`FakeGitHub::record`]).
    pub fn bearers(&self) -> Arc<Mutex<Vec<String>>> {
        self.record(bearer)
    }

    /// GitHub failing the first `n` requests the mock matches, each answered as `spec`
    /// says (httpmock's `when` and `then`); from the next on, they go to the mocks made
    /// after this one, so make it first. The limit is set with the mock, before any
    /// request can come.
    pub fn failing_first(&self, n: usize, spec: impl FnOnce(When, Then)) -> Mock<'_> {
        self.server
            .mock(|when, then| spec(when, then.up_to_n_times(n)))
    }

    /// A mock that answers anything not otherwise mocked, to prove no request was made.
    pub fn catch_all(&self) -> Mock<'_> {
        self.server.mock(|_, then| {
            then.status(599);
        })
    }
}
