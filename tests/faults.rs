//! The transport and minting under faults: 5xx, dropped connections, rate limits, clock skew,
//! redirects, suspension, proxies and large lists, against a fake GitHub on 127.0.0.1.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crate::common::*;
use app_token::github::{Auth, Client, Retry, Settings};
use app_token::jwt::Signer;
use app_token::mint::{self, Outcome, OwnerKind, Request, Selection};
use app_token::repositories::OwnerRepos;
use app_token::sign::pem::PemKey;
use app_token::transport::Proxy;
use http::Method;
use httpmock::prelude::*;
use serde_json::json;

fn fast() -> Settings {
    Settings {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(2),
        max_attempts: 3,
        retry_budget: Duration::from_secs(10),
        backoff_base: Duration::from_millis(20),
        backoff_cap: Duration::from_millis(100),
        step_deadline: Duration::from_secs(30),
    }
}

struct Logged(Arc<Mutex<Vec<String>>>);

impl Logged {
    fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

/// A client on its own runtime (octocrab's service starts a task where it is built).
struct Test {
    rt: tokio::runtime::Runtime,
    client: Arc<Client>,
}

fn client(url: &str, proxy: Proxy, settings: Settings) -> (Test, Logged) {
    let rt = app_token::runtime().unwrap();
    let _guard = rt.enter();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    let log = mint::log_sink(move |l: &str| sink.lock().unwrap().push(l.to_string()));
    let signer = Arc::new(Signer::new(
        Box::new(PemKey::parse(KEY_PKCS8).unwrap()),
        APP_ID,
    ));
    let client = Arc::new(Client::new(url, Some(signer), &proxy, settings, log).unwrap());
    drop(_guard);
    (Test { rt, client }, Logged(lines))
}

fn site_request() -> Request {
    Request {
        owner: "acme".into(),
        kind: OwnerKind::Account,
        selection: Selection::Only(OwnerRepos {
            names: vec!["site".into()],
            ids: vec![],
        }),
        permissions: None,
        installation_id: None,
        token_format: None,
    }
}

fn mint_with(t: &Test, requests: &[Request]) -> anyhow::Result<Outcome> {
    t.rt.block_on(mint::mint(
        &t.client,
        requests,
        &mint::Ledger::default(),
        mint::log_sink(|_| {}),
    ))
}

#[test]
fn a_502_then_success_is_retried_with_a_log_line() {
    let gh = FakeGitHub::start();
    let bad = gh.failing_first(1, |when, then| {
        when.method(GET).path("/repos/acme/site/installation");
        then.status(502).body("<html>bad gateway</html>");
    });
    let flow = gh.flow("acme", &["site"], &[], &[(11, "site")], None);
    let (c, log) = client(&gh.url(), Proxy::default(), fast());
    let out = mint_with(&c, &[site_request()]).unwrap();
    assert_eq!(out.tokens[0].token, FINAL_TOKEN);
    bad.assert_calls(1);
    flow.lookup.assert_calls(1);
    let retries: Vec<String> = log
        .lines()
        .into_iter()
        .filter(|l| l.contains("retrying"))
        .collect();
    assert_eq!(retries.len(), 1, "{retries:?}");
    assert!(retries[0].contains("HTTP 502"), "{retries:?}");
}

#[test]
fn a_permanent_503_gives_up_within_the_bound_with_status_message_and_request_id() {
    let gh = FakeGitHub::start();
    let down = gh.server.mock(|when, then| {
        when.method(GET);
        then.status(503)
            .header("x-github-request-id", "ABCD:1234")
            .github_json(json!({"message": "Service unavailable"}));
    });
    let (c, log) = client(&gh.url(), Proxy::default(), fast());
    let started = Instant::now();
    let err = format!("{:#}", mint_with(&c, &[site_request()]).unwrap_err());
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(err.contains("HTTP 503"), "{err}");
    assert!(err.contains("Service unavailable"), "{err}");
    assert!(err.contains("ABCD:1234"), "{err}");
    assert!(err.contains("after 3 attempts"), "{err}");
    down.assert_calls(3);
    assert_eq!(
        log.lines()
            .iter()
            .filter(|l| l.contains("retrying"))
            .count(),
        2
    );
}

#[test]
fn a_422_is_not_retried() {
    let gh = FakeGitHub::start();
    gh.repo_installation("acme", "site", INSTALLATION);
    gh.bot_user();
    let refused = gh.server.mock(|when, then| {
        when.method(POST)
            .path(format!("/app/installations/{INSTALLATION}/access_tokens"));
        then.status(422).github_json(
            json!({"message": "The permissions requested are not granted to this installation."}),
        );
    });
    let (c, _) = client(&gh.url(), Proxy::default(), fast());
    let err = format!("{:#}", mint_with(&c, &[site_request()]).unwrap_err());
    assert!(err.contains("HTTP 422"), "{err}");
    refused.assert_calls(1);
}

#[test]
fn retry_after_is_waited_for() {
    let gh = FakeGitHub::start();
    let limited = gh.failing_first(1, |when, then| {
        when.method(GET).path("/repos/acme/site/installation");
        then.status(429)
            .header("retry-after", "1")
            .github_json(json!({"message": "slow down"}));
    });
    gh.flow("acme", &["site"], &[], &[(11, "site")], None);
    let (c, log) = client(&gh.url(), Proxy::default(), fast());
    let started = Instant::now();
    mint_with(&c, &[site_request()]).unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited {:?}",
        started.elapsed()
    );
    limited.assert_calls(1);
    assert!(
        log.lines()
            .iter()
            .any(|l| l.contains("HTTP 429") && l.contains("retrying in 1.0 s")),
        "{:?}",
        log.lines()
    );
}

#[test]
fn a_secondary_rate_limit_beyond_the_budget_fails_at_once() {
    let gh = FakeGitHub::start();
    let limited = gh.server.mock(|when, then| {
        when.method(GET);
        then.status(403)
            .header("retry-after", "3600")
            .github_json(json!({"message": "You have exceeded a secondary rate limit."}));
    });
    let (c, _) = client(&gh.url(), Proxy::default(), fast());
    let started = Instant::now();
    let err = format!("{:#}", mint_with(&c, &[site_request()]).unwrap_err());
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(err.contains("beyond the retry budget"), "{err}");
    limited.assert_calls(1);
}

/// A TCP front that drops the first `drop` connections, then forwards to `target`.
fn flaky_front(target: std::net::SocketAddr, drop: usize) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            if n < drop {
                // Read the request, then hang up without a word.
                let mut buf = [0u8; 4096];
                let mut s = stream;
                let _ = s.read(&mut buf);
                drop_conn(s);
                continue;
            }
            std::thread::spawn(move || pipe(stream, TcpStream::connect(target).unwrap()));
        }
    });
    (format!("http://{addr}"), seen)
}

fn drop_conn(s: TcpStream) {
    let _ = s.shutdown(std::net::Shutdown::Both);
}

#[test]
fn a_dropped_connection_is_retried_for_a_read() {
    let gh = FakeGitHub::start();
    let flow = gh.flow("acme", &["site"], &[], &[(11, "site")], None);
    let (url, seen) = flaky_front(*gh.server.address(), 1);
    let (c, log) = client(&url, Proxy::default(), fast());
    let out = mint_with(&c, &[site_request()]).unwrap();
    assert_eq!(out.tokens[0].token, FINAL_TOKEN);
    assert!(seen.load(Ordering::SeqCst) >= 2);
    flow.lookup.assert_calls(1);
    assert!(
        log.lines().iter().any(|l| l.contains("retrying")),
        "{:?}",
        log.lines()
    );
}

#[test]
fn a_token_request_whose_answer_was_lost_is_not_resent() {
    let gh = FakeGitHub::start();
    let token = gh.access_token(
        INSTALLATION,
        json!({"repository_ids": [5]}),
        token_json(FINAL_TOKEN, &[], &json!({})),
    );
    let (url, seen) = flaky_front(*gh.server.address(), 1);
    let (t, _) = client(&url, Proxy::default(), fast());
    let path = format!("/app/installations/{INSTALLATION}/access_tokens");
    let body = json!({"repository_ids": [5]});
    let result =
        t.rt.block_on(
            t.client
                .send(Method::POST, &path, Auth::App, Some(&body), Retry::Create),
        );
    let err = result.unwrap_err().to_string();
    assert!(
        err.contains("not retried, because GitHub may have minted a token"),
        "{err}"
    );
    assert_eq!(
        seen.load(Ordering::SeqCst),
        1,
        "one connection, no second try"
    );
    token.assert_calls(0);
    // The same drop on a read is retried.
    let (url, seen) = flaky_front(*gh.server.address(), 1);
    let (t, _) = client(&url, Proxy::default(), fast());
    let lookup = gh.installation_by_id("acme", INSTALLATION);
    let path = format!("/app/installations/{INSTALLATION}");
    t.rt.block_on(
        t.client
            .send(Method::GET, &path, Auth::App, None, Retry::Idempotent),
    )
    .unwrap();
    assert_eq!(seen.load(Ordering::SeqCst), 2);
    lookup.assert_calls(1);
}

fn clock_test(skew: i64) {
    let mut gh = FakeGitHub::start();
    gh.skew = skew;
    let server_date = if skew >= 0 {
        httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(skew as u64))
    } else {
        httpdate::fmt_http_date(SystemTime::now() - Duration::from_secs((-skew) as u64))
    };
    let rejected = gh.server.mock(|when, then| {
        when.is_true(move |r| jwt_time_wrong(r, skew));
        then.status(401).header("date", server_date.clone()).github_json(json!({
            "message": if skew < 0 {
                "'Issued at' claim ('iat') must be an Integer representing a time in the past."
            } else {
                "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires."
            }
        }));
    });
    let flow = gh.flow("acme", &["site"], &[], &[(11, "site")], None);
    let (c, log) = client(&gh.url(), Proxy::default(), fast());
    let out = mint_with(&c, &[site_request()]).unwrap();
    assert_eq!(out.tokens[0].token, FINAL_TOKEN);
    rejected.assert_calls(1);
    flow.lookup.assert_calls(1);
    flow.final_token.assert_calls(1);
    assert!(
        log.lines()
            .iter()
            .any(|l| l.contains("Signing again on GitHub's clock")),
        "{:?}",
        log.lines()
    );
}

#[test]
fn server_clock_five_minutes_behind() {
    clock_test(-300);
}

#[test]
fn server_clock_twelve_minutes_ahead() {
    clock_test(720);
}

#[test]
fn redirects_are_not_followed_and_credentials_stay_home() {
    let gh = FakeGitHub::start();
    let elsewhere = MockServer::start();
    let trap = elsewhere.mock(|_, then| {
        then.status(200);
    });
    gh.server.mock(|when, then| {
        when.method(GET);
        then.status(302).header("location", elsewhere.url("/steal"));
    });
    let (c, _) = client(&gh.url(), Proxy::default(), fast());
    let err = format!("{:#}", mint_with(&c, &[site_request()]).unwrap_err());
    assert!(err.contains("redirects are not followed"), "{err}");
    trap.assert_calls(0);
}

#[test]
fn a_suspended_installation_gets_its_own_error() {
    let gh = FakeGitHub::start();
    gh.repo_installation("acme", "site", INSTALLATION);
    gh.bot_user();
    gh.server.mock(|when, then| {
        when.method(POST);
        then.status(403)
            .github_json(json!({"message": "This installation has been suspended"}));
    });
    let (c, _) = client(&gh.url(), Proxy::default(), fast());
    let err = format!("{:#}", mint_with(&c, &[site_request()]).unwrap_err());
    assert!(
        err.contains("is suspended; an owner of the account must unsuspend it"),
        "{err}"
    );
}

#[test]
fn a_missing_installation_says_the_app_is_not_installed() {
    let gh = FakeGitHub::start();
    gh.server.mock(|when, then| {
        when.method(GET).path("/repos/acme/site/installation");
        then.status(404)
            .github_json(json!({"message": "Not Found"}));
    });
    let (c, _) = client(&gh.url(), Proxy::default(), fast());
    let err = format!("{:#}", mint_with(&c, &[site_request()]).unwrap_err());
    assert!(
        err.contains("the app is not installed on the repository acme/site"),
        "{err}"
    );
}

#[test]
fn requests_go_through_the_proxy_but_loopback_ones_never_do() {
    let gh = FakeGitHub::start();
    gh.flow("acme", &["site"], &[], &[(11, "site")], None);
    let proxy = ConnectProxy::start(Duration::ZERO);
    let proxy_url = proxy.url.clone();
    let env = |k: &str| match k {
        "http_proxy" => Some(proxy_url.clone()),
        "HTTPS_PROXY" => Some(proxy_url.clone()),
        _ => None,
    };
    // A name only the proxy resolves (to the fake on 127.0.0.1): not loopback by name,
    // so proxied, and reachable only through the proxy.
    let named = format!("github.example:{}", gh.server.port());
    let (c, _) = client(&format!("http://{named}"), Proxy::from_env(&env), fast());
    mint_with(&c, &[site_request()]).unwrap();
    let seen = proxy.targets();
    assert!(!seen.is_empty());
    assert!(seen.iter().all(|t| *t == named), "{seen:?}");

    // A proxy of its own: hyper may still finish a connection it started in the
    // background for the first client, and that one would be counted here. No NO_PROXY:
    // a loopback destination is never proxied.
    let bypassed = ConnectProxy::start(Duration::ZERO);
    let bypassed_url = bypassed.url.clone();
    let env = |k: &str| match k {
        "HTTP_PROXY" => Some(bypassed_url.clone()),
        _ => None,
    };
    let (c, _) = client(&gh.url(), Proxy::from_env(&env), fast());
    mint_with(&c, &[site_request()]).unwrap();
    assert!(bypassed.targets().is_empty(), "{:?}", bypassed.targets());
}

#[test]
fn five_hundred_names_resolve_in_one_helper_request() {
    let gh = FakeGitHub::start();
    let names: Vec<String> = (0..500).map(|i| format!("repo-{i}")).collect();
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let repos: Vec<(u64, &str)> = name_refs
        .iter()
        .enumerate()
        .map(|(i, n)| (1000 + i as u64, *n))
        .collect();
    let flow = gh.flow("acme", &name_refs, &[], &repos, None);
    let (c, _) = client(&gh.url(), Proxy::default(), fast());
    let request = Request {
        selection: Selection::Only(OwnerRepos {
            names: names.clone(),
            ids: vec![],
        }),
        ..site_request()
    };
    let out = mint_with(&c, &[request]).unwrap();
    assert_eq!(out.tokens[0].repositories.len(), 500);
    flow.helper.unwrap().assert_calls(1);
    flow.final_token.assert_calls(1);
}

#[test]
fn the_diagnostic_listing_pages_with_bounded_concurrency() {
    let gh = FakeGitHub::start();
    gh.repo_installation("acme", "r0", INSTALLATION);
    gh.bot_user();
    gh.server.mock(|when, then| {
        when.method(POST).json_body_includes(r#"{"repositories": ["r0", "missing"]}"#);
        then.status(422).github_json(json!({"message": "There is at least one repository that does not exist or is not accessible to the parent installation."}));
    });
    gh.access_token(
        INSTALLATION,
        json!({"permissions": {"metadata": "read"}}),
        token_json("ghs_probe", &[], &json!({})),
    );
    gh.revoke("ghs_probe");
    let pages: Vec<_> = (1..=3)
        .map(|p| {
            let repos: Vec<_> = (0..if p < 3 { 100 } else { 50 })
                .map(|i| repo_json(p * 1000 + i, "acme", &format!("r{}", (p - 1) * 100 + i)))
                .collect();
            gh.server.mock(move |when, then| {
                when.method(GET)
                    .path("/installation/repositories")
                    .query_param("page", p.to_string())
                    .query_param("per_page", "100");
                then.status(200)
                    .github_json(json!({"total_count": 250, "repositories": repos}));
            })
        })
        .collect();
    let (c, _) = client(&gh.url(), Proxy::default(), fast());
    let request = Request {
        selection: Selection::Only(OwnerRepos {
            names: vec!["r0".into(), "missing".into()],
            ids: vec![],
        }),
        ..site_request()
    };
    let err = format!("{:#}", mint_with(&c, &[request]).unwrap_err());
    assert!(err.ends_with("cannot access them: missing"), "{err}");
    for p in &pages {
        p.assert_calls(1);
    }
}

#[test]
fn an_enterprise_server_base_path_is_kept() {
    let gh = FakeGitHub::start();
    let lookup = gh.installation_at(
        format!("/api/v3/app/installations/{INSTALLATION}"),
        installation_json(INSTALLATION, "acme", &installation_permissions()),
    );
    let (t, _) = client(&format!("{}/api/v3/", gh.url()), Proxy::default(), fast());
    let path = format!("/app/installations/{INSTALLATION}");
    t.rt.block_on(
        t.client
            .send(Method::GET, &path, Auth::App, None, Retry::Idempotent),
    )
    .unwrap();
    lookup.assert_calls(1);
}

#[test]
fn a_helper_token_refused_while_it_replicates_is_still_revoked() {
    let gh = FakeGitHub::start();
    let mut flow = gh.flow("acme", &["site"], &[], &[(11, "site")], None);
    if let Some(m) = flow.revoke_helper.as_mut() {
        m.delete();
    }
    let (refused, revoked) = gh.revoke_lagging(HELPER_TOKEN, Duration::from_millis(150));
    let settings = Settings {
        backoff_base: Duration::from_millis(100),
        backoff_cap: Duration::from_millis(200),
        max_attempts: 4,
        ..fast()
    };
    let (c, log) = client(&gh.url(), Proxy::default(), settings);
    let out = mint_with(&c, &[site_request()]).unwrap();
    assert_eq!(out.tokens[0].token, FINAL_TOKEN);
    assert!(refused.calls() >= 1, "the helper was refused at first");
    revoked.assert_calls(1);
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    assert!(
        log.lines()
            .iter()
            .any(|l| l.contains("DELETE /installation/token: HTTP 401; retrying")),
        "{:?}",
        log.lines()
    );
}
