//! The harness's git server and expiring tokens, proven with what exists today: a real git
//! over smart HTTP from the fake GitHub's own host, its credentials from `app-token
//! git-credential` (a new token per call), tokens that expire and are revoked, refused with
//! 401 once they are; and what git does with a stale `extraheader` beside a helper.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};

use crate::common::git_server::{
    basic, git, parse_cgi, run_git, CgiAnswer, GitRequest, GitServer, REALM,
};
use crate::common::tokens::{rfc3339, State, Tokens};
use crate::common::{Cli, FakeGitHub, APP_ID, BIN, KEY_PKCS1};

/// The fake's token lifetime where a test waits for one to expire: long enough for a
/// clone on a loaded machine (one helper run, three requests) to finish well inside it.
const LIFETIME: Duration = Duration::from_secs(15);

/// Long enough that no test sees one of these expire.
const LONG: Duration = Duration::from_secs(600);

/// The fake GitHub minting for acme's `site` (id 11), served over git (see
/// [`crate::common::git_server::serving`]).
fn serving(tokens: &Tokens, what: &str) -> Option<(FakeGitHub, GitServer)> {
    crate::common::git_server::serving(tokens, "acme", (11, "site"), what)
}

/// `git` (see [`git`]) with `config` given through `GIT_CONFIG_COUNT`, `_KEY_n`, `_VALUE_n`.
fn git_with(home: &Path, config: &[(String, String)]) -> Command {
    let mut git = git(home);
    git.env("GIT_CONFIG_COUNT", config.len().to_string());
    for (n, (key, value)) in config.iter().enumerate() {
        git.env(format!("GIT_CONFIG_KEY_{n}"), key)
            .env(format!("GIT_CONFIG_VALUE_{n}"), value);
    }
    git
}

/// `credential.http://127.0.0.1:PORT.helper` = `app-token git-credential` for acme/site,
/// minting from `gh` with the test app's key (written under `home`).
fn app_token_helper(gh: &FakeGitHub, home: &Path) -> (String, String) {
    let key = home.join("key.pem");
    std::fs::write(&key, KEY_PKCS1).expect("the key file");
    (
        format!("credential.{}.helper", gh.url()),
        format!(
            "!'{BIN}' git-credential --app-id {APP_ID} --private-key-file '{}' --repositories acme/site --api-url {}",
            key.display(),
            gh.url()
        ),
    )
}

/// A helper that answers `token`, whatever it is.
fn fixed_helper(gh: &FakeGitHub, token: &str) -> (String, String) {
    (
        format!("credential.{}.helper", gh.url()),
        format!("!f() {{ echo username=x-access-token; echo password={token}; }}; f"),
    )
}

/// `git ls-remote URL`, as it ran.
fn ls_remote(home: &Path, config: &[(String, String)], url: &str) -> Output {
    git_with(home, config)
        .args(["ls-remote", url])
        .output()
        .expect("git runs")
}

/// The requests from the `from`th on that carried a password, as (password, its state, status).
fn passwords(requests: &[GitRequest], from: usize) -> Vec<(String, Option<State>, u16)> {
    requests[from..]
        .iter()
        .filter(|r| !r.passwords.is_empty())
        .map(|r| (r.passwords.join(","), r.state, r.status))
        .collect()
}

#[test]
fn a_push_after_the_clones_token_expired_is_made_with_a_new_token() {
    let tokens = Tokens::new(LIFETIME);
    let Some((gh, server)) = serving(&tokens, "a push over a real git server") else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let helper = [app_token_helper(&gh, home.path())];
    let clone = home.path().join("site");
    run_git(
        git_with(home.path(), &helper)
            .args(["clone", &server.url])
            .arg(&clone),
    );
    let cloned = server.requests();
    // git asks without credentials, is answered 401 with a Basic challenge, asks its
    // helper, and carries the one token the helper gave from then on.
    assert_eq!(
        (cloned[0].status, cloned[0].state),
        (401, None),
        "{cloned:#?}"
    );
    let used = passwords(&cloned, 0);
    let first = used[0].0.clone();
    assert!(first.starts_with("ghs_"), "{used:?}");
    assert!(
        used.iter()
            .all(|u| *u == (first.clone(), Some(State::Live), 200)),
        "{used:?}"
    );

    std::fs::write(clone.join("CHANGE"), "after the token expired\n").unwrap();
    run_git(
        git(home.path())
            .arg("-C")
            .arg(&clone)
            .args(["add", "CHANGE"]),
    );
    run_git(
        git(home.path())
            .arg("-C")
            .arg(&clone)
            .args(["commit", "-m", "change"]),
    );
    tokens.wait_until_expired(&first);

    run_git(
        git_with(home.path(), &helper)
            .arg("-C")
            .arg(&clone)
            .args(["push", "origin", "main"]),
    );
    let head = run_git(
        git(home.path())
            .arg("-C")
            .arg(&clone)
            .args(["rev-parse", "HEAD"]),
    );
    assert_eq!(server.head("main"), head.trim(), "the push did not land");
    let pushed = passwords(&server.requests(), cloned.len());
    let second = pushed[0].0.clone();
    assert_ne!(second, first, "{pushed:?}");
    assert!(
        pushed
            .iter()
            .all(|u| *u == (second.clone(), Some(State::Live), 200)),
        "{pushed:?}"
    );
    assert!(
        server.requests().iter().any(|r| r.method == "POST"
            && r.target.ends_with("/git-receive-pack")
            && r.passwords == [second.clone()]
            && r.status == 200),
        "{:#?}",
        server.requests()
    );
    // git never sent a token that was not live; of the four minted (a helper token and
    // the credential, per helper run), the helper tokens were revoked and the clone's
    // expired: the push's is the one live.
    assert!(
        !server.requests().iter().any(GitRequest::stale),
        "{:#?}",
        server.requests()
    );
    assert_eq!(tokens.live_tokens(), [second]);
    assert_eq!(tokens.state(&first), State::Expired);
}

#[test]
fn expired_revoked_unknown_and_fresh_tokens_are_refused_with_401() {
    let tokens = Tokens::new(LONG).refusing_fresh(Duration::from_secs(10));
    let Some((gh, server)) = serving(&tokens, "refusals of a real git server") else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let expired = tokens.mint_lasting(Duration::from_secs(1));
    let revoked = tokens.mint();
    let fresh = tokens.mint();
    // Revoked as the command line revokes: DELETE /installation/token, once it may be.
    std::thread::sleep(Duration::from_secs(10));
    let ran = Cli::new(&["revoke", "--api-url", &gh.url()])
        .stdin(&format!("{}\n", revoked.token))
        .run();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(tokens.state(&revoked.token), State::Revoked);
    let again = Cli::new(&["revoke", "--api-url", &gh.url()])
        .stdin(&format!("{}\n", revoked.token))
        .run();
    assert_eq!(
        again.code, 1,
        "a revoked token is refused: {}",
        again.stderr
    );
    assert!(again.stderr.contains("401"), "{}", again.stderr);
    assert_eq!(tokens.revocations(), 1);
    assert_eq!(tokens.state(&expired.token), State::Expired);
    let young = tokens.mint();

    for (token, state) in [
        (&young.token, Some(State::Fresh)),
        (&expired.token, Some(State::Expired)),
        (&revoked.token, Some(State::Revoked)),
        (
            &"ghs_neverMintedByThisFake0000000000001".to_string(),
            Some(State::Unknown),
        ),
    ] {
        let from = server.requests().len();
        let out = ls_remote(home.path(), &[fixed_helper(&gh, token)], &server.url);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{token}: {stderr}");
        assert!(
            stderr.contains("Authentication failed"),
            "{token}: {stderr}"
        );
        let requests = server.requests();
        assert_eq!(
            passwords(&requests, from),
            [(token.clone(), state, 401)],
            "{requests:#?}"
        );
    }
    // The same server lets in a live token (the one minted with the others, now 10 s old).
    let out = ls_remote(home.path(), &[fixed_helper(&gh, &fresh.token)], &server.url);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("refs/heads/main"));

    // An unauthenticated request is challenged so that git asks its helper.
    let first = &server.requests()[0];
    assert_eq!((first.status, first.authorizations.len()), (401, 0));
}

/// actions/checkout's `persist-credentials` leaves the token in `http.<url>.extraheader`;
/// once that token has expired, a credential helper beside it does not help: what the
/// server sees, request by request.
#[test]
fn a_stale_extraheader_beside_a_credential_helper() {
    let tokens = Tokens::new(LONG);
    let Some((gh, server)) = serving(&tokens, "an extraheader over a real git server") else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let stale = tokens.mint_lasting(Duration::from_secs(1));
    tokens.wait_until_expired(&stale.token);
    let header = format!(
        "AUTHORIZATION: basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{}", stale.token))
    );
    let config = [
        (format!("http.{}/.extraheader", gh.url()), header),
        app_token_helper(&gh, home.path()),
    ];
    let out = ls_remote(home.path(), &config, &server.url);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let requests = server.requests();
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("Authentication failed"), "{stderr}");
    // git sent the header; answered 401, it asked the helper, which minted a token
    // (beside its own helper token, revoked); and it sent the stale header again, alone:
    // the helper's token never reached the server, and is left live, unused.
    let fetched = tokens
        .minted()
        .into_iter()
        .find(|m| tokens.live(&m.token))
        .expect("the helper's token");
    assert_eq!((tokens.mints(), tokens.revocations()), (3, 1));
    assert_eq!(tokens.live_tokens(), [fetched.token.as_str()]);
    assert_eq!(requests.len(), 2, "{requests:#?}");
    for request in &requests {
        assert_eq!(
            request.authorizations,
            [config[0].1["AUTHORIZATION: ".len()..].to_string()]
        );
        assert_eq!((request.state, request.status), (Some(State::Expired), 401));
        assert_eq!(
            request.target,
            "/acme/site.git/info/refs?service=git-upload-pack"
        );
    }
}

/// What the token agent's tests lean on: each token request mints a new token, in GitHub's
/// shape, that expires when its `expires_at` says; in the format asked for.
#[test]
fn the_fake_mints_a_new_token_per_request_expiring_as_it_says() {
    let gh = FakeGitHub::start();
    let tokens = Tokens::new(LONG);
    gh.minting(&tokens, "acme", &[(11, "site"), (12, "api")]);
    let mint = |format: &str| -> Value {
        let ran = Cli::mint(&gh)
            .args(&[
                "--repositories",
                "acme/site",
                "--permissions",
                "contents: write",
            ])
            .args(&["--token-format", format, "--json"])
            .run();
        assert_eq!(ran.code, 0, "{}", ran.stderr);
        serde_json::from_str(&ran.stdout).expect("the JSON answer")
    };
    let answers = [mint("classic"), mint("classic"), mint("stateless")];
    let minted = tokens.minted();
    // Each run: a metadata token to resolve the name (revoked), then the job's.
    assert_eq!((minted.len(), tokens.revocations()), (6, 3));
    for (answer, minted) in answers.iter().zip([&minted[1], &minted[3], &minted[5]]) {
        assert_eq!(answer["token"], minted.token.as_str());
        assert_eq!(answer["expires_at"], rfc3339(minted.expires_at).as_str());
        assert_eq!(answer["repository_ids"], json!([11]));
        assert_eq!(answer["permissions"], json!({"contents": "write"}));
        let lifetime = minted.expires_at.duration_since(minted.issued_at).unwrap();
        assert!(lifetime > LONG - Duration::from_secs(1) && lifetime <= LONG);
    }
    assert_ne!(answers[0]["token"], answers[1]["token"]);
    assert_eq!(minted[5].token.len(), 523, "stateless: {}", minted[5].token);
    assert_eq!(
        tokens.live_tokens(),
        [&minted[1], &minted[3], &minted[5]].map(|m| m.token.clone())
    );
}

#[test]
fn cgi_answers_and_basic_credentials_are_parsed() {
    let header = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
    assert_eq!(
        parse_cgi(b"Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nno\n"),
        Ok(CgiAnswer {
            status: 404,
            headers: header("Content-Type", "text/plain"),
            body: b"no\n".to_vec()
        })
    );
    assert_eq!(
        parse_cgi(b"Content-Type: application/x-git-upload-pack-result\r\n\r\n\x00PACK\r\n\r\n"),
        Ok(CgiAnswer {
            status: 200,
            headers: header("Content-Type", "application/x-git-upload-pack-result"),
            body: b"\x00PACK\r\n\r\n".to_vec()
        })
    );
    assert_eq!(
        parse_cgi(b"Expires: Fri\n\nbody").map(|a| a.body),
        Ok(b"body".to_vec())
    );
    assert!(parse_cgi(b"Status: 200 OK\r\n").is_err());
    assert!(parse_cgi(b"Status: many\r\n\r\n").is_err());

    let encoded = base64::engine::general_purpose::STANDARD.encode("x-access-token:ghs_a:b");
    assert_eq!(
        basic(&format!("Basic {encoded}")),
        Some(("x-access-token".into(), "ghs_a:b".into()))
    );
    assert_eq!(
        basic(&format!("basic {encoded}")).map(|c| c.1),
        Some("ghs_a:b".into())
    );
    assert_eq!(basic(&format!("Bearer {encoded}")), None);
    assert_eq!(basic("Basic !!!"), None);
    assert_eq!(REALM, "GitHub");
}
