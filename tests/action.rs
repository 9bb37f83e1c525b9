//! Runs the built binaries the way the Actions runner does: `INPUT_*` variables with hyphens
//! kept, file commands in `GITHUB_OUTPUT`/`GITHUB_STATE`/`GITHUB_STEP_SUMMARY`, then post
//! with `STATE_*`; checks what they wrote, printed and asked of a fake GitHub.

use std::path::Path;
use std::process::Command;

use crate::common::*;
use httpmock::prelude::*;
use serde_json::{json, Value};

fn main_step(step: &Step, api: &str, inputs: &[(&str, &str)]) -> Ran {
    step.main(Path::new(BIN), api, inputs)
}

fn post_step(step: &Step, api: &str, inputs: &[(&str, &str)]) -> Ran {
    step.post(Path::new(BIN), api, inputs)
}

#[test]
fn main_then_post_like_the_runner() {
    let gh = FakeGitHub::start();
    let flow = gh.names_and_an_id_flow();
    let step = Step::new();
    let ran = main_step(
        &step,
        &gh.url(),
        &[
            ("repositories", "site\napi, 9001"),
            ("permissions", "contents: write\npull-requests: read"),
        ],
    );
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);

    // The mask comes before any other appearance of the token, in stdout or anywhere else.
    let mask = format!("::add-mask::{FINAL_TOKEN}");
    let first = ran.stdout.find(FINAL_TOKEN).unwrap();
    assert_eq!(
        ran.stdout[..first].rfind("::add-mask::"),
        Some(first - "::add-mask::".len()),
        "{}",
        ran.stdout
    );
    assert_eq!(
        ran.stdout.matches(FINAL_TOKEN).count(),
        1,
        "the token appears only in its mask line"
    );
    assert!(ran.stdout.contains(&mask));
    assert!(!ran.stderr.contains(FINAL_TOKEN));
    assert!(
        !ran.stdout.contains(HELPER_TOKEN)
            || ran.stdout.contains(&format!("::add-mask::{HELPER_TOKEN}"))
    );
    assert!(ran
        .stdout
        .contains("::group::Requesting a GitHub App installation token"));

    let out = step.outputs();
    assert_eq!(out["token"], FINAL_TOKEN);
    assert_eq!(out["installation-id"], INSTALLATION.to_string());
    assert_eq!(out["app-slug"], SLUG);
    assert_eq!(out["expires-at"], "2099-01-01T00:00:00Z");
    assert_eq!(out["git-user-name"], format!("{SLUG}[bot]"));
    assert_eq!(
        out["git-user-email"],
        format!("{BOT_ID}+{SLUG}[bot]@users.noreply.github.com")
    );
    let ids: Vec<u64> = serde_json::from_str(&out["repository-ids"]).unwrap();
    assert_eq!(ids, vec![9001, 11, 12]);
    let perms: Value = serde_json::from_str(&out["permissions"]).unwrap();
    assert_eq!(perms, json!({"contents": "write", "pull_requests": "read"}));
    let tokens: Value = serde_json::from_str(&out["tokens"]).unwrap();
    assert_eq!(tokens, json!({"acme": FINAL_TOKEN}));

    let summary = step.summary();
    assert!(summary.contains("| acme | 777 (`acme-bot`) |"), "{summary}");
    assert!(!summary.contains("ghs_"), "the summary never holds a token");

    flow.lookup.assert_calls(1);
    flow.helper.as_ref().unwrap().assert_calls(1);
    flow.final_token.assert_calls(1);
    flow.revoke_helper.as_ref().unwrap().assert_calls(1);
    flow.bot.assert_calls(1);
    flow.revoke_final.assert_calls(0);

    let post = post_step(&step, &gh.url(), &[]);
    assert_eq!(post.code, 0, "{}", post.stdout);
    assert!(
        post.stdout.contains("Revoked 1 installation token"),
        "{}",
        post.stdout
    );
    flow.revoke_final.assert_calls(1);
    assert_eq!(
        post.stdout.matches(FINAL_TOKEN).count(),
        1,
        "post only masks the token"
    );
}

/// A job-level `env:` reaches a container action's steps: a job's own `APP_TOKEN_STEP`
/// (the native launcher's variable) changes neither of the image's steps.
#[test]
fn a_jobs_own_app_token_step_changes_neither_step_of_the_image() {
    let gh = FakeGitHub::start();
    let flow = gh.names_and_an_id_flow();
    let step = Step::new();
    let inputs = [
        ("repositories", "site\napi, 9001"),
        ("permissions", "contents: write\npull-requests: read"),
    ];
    let mut env = step.env(&gh.url(), &inputs);
    env.push(("APP_TOKEN_STEP".into(), "post".into()));
    let main = run_binary(Path::new(BIN), &[], &env, "");
    assert_eq!(main.code, 0, "{}\n{}", main.stdout, main.stderr);
    assert_eq!(step.outputs()["token"], FINAL_TOKEN, "{}", main.stdout);
    flow.final_token.assert_calls(1);

    let mut env = step.post_env(&gh.url(), &inputs);
    env.push(("APP_TOKEN_STEP".into(), "main".into()));
    let post = run_binary(&step.post_entrypoint(Path::new(BIN)), &[], &env, "");
    assert_eq!(post.code, 0, "{}\n{}", post.stdout, post.stderr);
    flow.revoke_final.assert_calls(1);
    flow.final_token.assert_calls(1);
}

#[test]
fn a_bad_input_fails_before_any_request_and_names_the_input() {
    let gh = FakeGitHub::start();
    let any = gh.catch_all();
    let step = Step::new();
    for (inputs, named) in [
        (vec![("permissions", "contens: read")], "permissions"),
        (
            vec![("repositories", "ok\n::warning::injected")],
            "repositories",
        ),
        (vec![("app-id", "")], "app-id"),
        (
            vec![(
                "private-key",
                "-----BEGIN RSA PRIVATE KEY-----\nMIIEsecretpart\n-----END RSA PRIVATE KEY-----",
            )],
            "private-key",
        ),
        (
            vec![("github-api-url", "http://api.example.com")],
            "github-api-url",
        ),
        (
            vec![
                ("permissions", "contents: write"),
                ("permission-contents", "read"),
            ],
            "permissions",
        ),
    ] {
        let ran = main_step(&step, &gh.url(), &inputs);
        assert_eq!(ran.code, 1, "{inputs:?}: {}", ran.stdout);
        let error = ran.line("::error ");
        assert!(error.contains(&format!("input `{named}`")), "{error}");
        assert!(!ran.stdout.contains("MIIEsecretpart"));
        assert!(
            !ran.stdout.lines().any(|l| l.starts_with("::warning::")),
            "no injected command: {}",
            ran.stdout
        );
    }
    let ran = main_step(&step, &gh.url(), &[("permissions", "contens: read")]);
    assert!(
        ran.stdout.contains("Did you mean `contents`?"),
        "{}",
        ran.stdout
    );
    any.assert_calls(0);
    assert!(step.outputs().is_empty());
}

#[test]
fn defaults_to_the_current_repository_only() {
    let gh = FakeGitHub::start();
    let flow = gh.flow("acme", &["site"], &[], &[(11, "site")], None);
    let step = Step::new();
    let ran = main_step(&step, &gh.url(), &[]);
    assert_eq!(ran.code, 0, "{}", ran.stdout);
    flow.final_token.assert_calls(1);
    assert_eq!(step.outputs()["repository-ids"], "[11]");
}

#[test]
fn the_current_repository_is_read_trimmed() {
    let gh = FakeGitHub::start();
    let flow = gh.flow("acme", &["site"], &[], &[(11, "site")], None);
    let step = Step::new();
    let mut env = step.env(&gh.url(), &[]);
    env.retain(|(k, _)| k != "GITHUB_REPOSITORY");
    env.push(("GITHUB_REPOSITORY".into(), " acme/site\n".into()));
    let ran = run_binary(Path::new(BIN), &[], &env, "");
    assert_eq!(ran.code, 0, "{}", ran.stdout);
    flow.final_token.assert_calls(1);
    assert_eq!(step.outputs()["repository-ids"], "[11]");
}

#[test]
fn owner_alone_asks_for_every_repository() {
    let gh = FakeGitHub::start();
    let lookup = gh.account_installation("widgets", INSTALLATION);
    let token = gh.access_token(
        INSTALLATION,
        json!({}),
        token_json(FINAL_TOKEN, &[], &installation_permissions()),
    );
    gh.bot_user();
    let step = Step::new();
    let ran = main_step(&step, &gh.url(), &[("owner", "widgets")]);
    assert_eq!(ran.code, 0, "{}", ran.stdout);
    lookup.assert_calls(1);
    token.assert_calls(1);
}

#[test]
fn client_id_wins_over_app_id() {
    let gh = FakeGitHub::start();
    let flow = gh.flow("acme", &["site"], &[], &[(11, "site")], None);
    let step = Step::new();
    // The app-id is wrong on purpose: the fake GitHub only accepts JWTs issued by the client id.
    let ran = main_step(
        &step,
        &gh.url(),
        &[("app-id", "999"), ("client-id", CLIENT_ID)],
    );
    assert_eq!(ran.code, 0, "{}", ran.stdout);
    flow.final_token.assert_calls(1);
}

#[test]
fn permission_inputs_alone_and_with_permissions() {
    let gh = FakeGitHub::start();
    let flow = gh.flow(
        "acme",
        &["site"],
        &[],
        &[(11, "site")],
        Some(json!({"contents": "write", "issues": "read"})),
    );
    let step = Step::new();
    let ran = main_step(
        &step,
        &gh.url(),
        &[
            ("permission-contents", "write"),
            ("permission-issues", "read"),
        ],
    );
    assert_eq!(ran.code, 0, "{}", ran.stdout);
    let ran = main_step(
        &step,
        &gh.url(),
        &[
            ("permissions", "issues: read"),
            ("permission-contents", "write"),
        ],
    );
    assert_eq!(ran.code, 0, "{}", ran.stdout);
    flow.final_token.assert_calls(2);
}

#[test]
fn several_owners_get_one_token_each_and_post_revokes_all() {
    let gh = FakeGitHub::start();
    let acme = gh.repo_installation("acme", "api", 1);
    let widgets = gh.repo_installation("widgets", "web", 2);
    gh.bot_user();
    let helper = |inst: u64, name: &str, owner: &str, id: u64, token: &str| {
        gh.access_token(
            inst,
            json!({"repositories": [name], "permissions": {"metadata": "read"}}),
            token_json(
                token,
                &[repo_json(id, owner, name)],
                &json!({"metadata": "read"}),
            ),
        );
        gh.revoke(token)
    };
    let h1 = helper(1, "api", "acme", 101, "ghs_helperAcme");
    let h2 = helper(2, "web", "widgets", 202, "ghs_helperWidgets");
    let t1 = gh.access_token(
        1,
        json!({"repository_ids": [101]}),
        token_json(
            "ghs_tokenAcme",
            &[repo_json(101, "acme", "api")],
            &json!({}),
        ),
    );
    let t2 = gh.access_token(
        2,
        json!({"repository_ids": [202]}),
        token_json(
            "ghs_tokenWidgets",
            &[repo_json(202, "widgets", "web")],
            &json!({}),
        ),
    );
    let r1 = gh.revoke("ghs_tokenAcme");
    let r2 = gh.revoke("ghs_tokenWidgets");

    let step = Step::new();
    let ran = main_step(
        &step,
        &gh.url(),
        &[("repositories", "acme/api, widgets/web")],
    );
    assert_eq!(ran.code, 0, "{}", ran.stdout);
    for t in ["ghs_tokenAcme", "ghs_tokenWidgets"] {
        let mask = ran.stdout.find(&format!("::add-mask::{t}")).unwrap();
        assert_eq!(ran.stdout.find(t), Some(mask + "::add-mask::".len()));
    }
    assert!(
        ran.stdout.contains("::notice title=One token per owner::"),
        "{}",
        ran.stdout
    );
    let out = step.outputs();
    assert!(
        !out.contains_key("token"),
        "no single token with several owners"
    );
    let tokens: Value = serde_json::from_str(&out["tokens"]).unwrap();
    assert_eq!(
        tokens,
        json!({"acme": "ghs_tokenAcme", "widgets": "ghs_tokenWidgets"})
    );
    assert!(!step.summary().contains("ghs_"));
    for m in [&acme, &widgets, &t1, &t2, &h1, &h2] {
        m.assert_calls(1);
    }
    let post = post_step(&step, &gh.url(), &[]);
    assert!(
        post.stdout.contains("Revoked 2 installation token"),
        "{}",
        post.stdout
    );
    r1.assert_calls(1);
    r2.assert_calls(1);
}

#[test]
fn inaccessible_repositories_are_named_and_nothing_stays_alive() {
    let gh = FakeGitHub::start();
    gh.repo_installation("acme", "site", INSTALLATION);
    gh.bot_user();
    let helper = gh.server.mock(|when, then| {
        when.method(POST)
            .path(format!("/app/installations/{INSTALLATION}/access_tokens"))
            .json_body(json!({"repositories": ["site", "secret", "gone"], "permissions": {"metadata": "read"}}));
        then.status(422).github_json(json!({"message": "There is at least one repository that does not exist or is not accessible to the parent installation."}));
    });
    let probe = gh.access_token(
        INSTALLATION,
        json!({"permissions": {"metadata": "read"}}),
        token_json("ghs_probe", &[], &json!({"metadata": "read"})),
    );
    let listing = gh.server.mock(|when, then| {
        when.method(GET)
            .path("/installation/repositories")
            .header("authorization", "Bearer ghs_probe");
        then.status(200).github_json(
            json!({"total_count": 1, "repositories": [repo_json(11, "acme", "site")]}),
        );
    });
    let revoke_probe = gh.revoke("ghs_probe");
    let step = Step::new();
    let ran = main_step(&step, &gh.url(), &[("repositories", "site, secret, gone")]);
    assert_eq!(ran.code, 1);
    let error = ran.line("::error");
    assert!(
        error.contains("cannot access them: secret, gone"),
        "{error}"
    );
    assert!(!error.contains("site,"), "{error}");
    helper.assert_calls(1);
    probe.assert_calls(1);
    listing.assert_calls(1);
    revoke_probe.assert_calls(1);
    assert!(step.outputs().is_empty());
    let post = post_step(&step, &gh.url(), &[]);
    assert_eq!(post.code, 0);
    assert!(
        post.stdout.contains("No token to revoke"),
        "{}",
        post.stdout
    );
}

#[test]
fn permissions_the_installation_lacks_are_named_before_minting() {
    let gh = FakeGitHub::start();
    gh.repo_installation("acme", "site", INSTALLATION);
    let mint = gh.server.mock(|when, then| {
        when.method(POST);
        then.status(201);
    });
    let step = Step::new();
    let ran = main_step(
        &step,
        &gh.url(),
        &[(
            "permissions",
            "actions: read\ncontents: write\nissues: write",
        )],
    );
    assert_eq!(ran.code, 1);
    let error = ran.line("::error");
    assert!(error.contains("lacks: actions: read (the installation has none), issues: write (the installation has read)"), "{error}");
    mint.assert_calls(0);
}

#[test]
fn skip_token_revoke_leaves_the_token_alone() {
    let gh = FakeGitHub::start();
    let flow = gh.flow("acme", &["site"], &[], &[(11, "site")], None);
    let step = Step::new();
    let inputs = [("skip-token-revoke", "true")];
    assert_eq!(main_step(&step, &gh.url(), &inputs).code, 0);
    assert!(
        file_commands(&step.file("state")).is_empty(),
        "no token saved for post"
    );
    let post = post_step(&step, &gh.url(), &inputs);
    assert_eq!(post.code, 0);
    flow.revoke_final.assert_calls(0);
}

#[test]
fn post_warns_but_succeeds_when_revocation_fails() {
    let gh = FakeGitHub::start();
    gh.server.mock(|when, then| {
        when.method(DELETE).path("/installation/token");
        then.status(401)
            .github_json(json!({"message": "Bad credentials"}));
    });
    let step = Step::new();
    let saved = json!([{"token": "ghs_x", "expires_at": "2099-01-01T00:00:00Z"}, {"token": "ghs_old", "expires_at": "2000-01-01T00:00:00Z"}]);
    step.save_state(&saved);
    let post = post_step(&step, &gh.url(), &[]);
    assert_eq!(post.code, 0);
    assert!(
        post.stdout.contains("::warning title=Token not revoked::"),
        "{}",
        post.stdout
    );
    assert!(
        post.stdout.contains("1 token(s) already expired"),
        "{}",
        post.stdout
    );
}

#[test]
fn runner_debug_adds_request_detail_without_secrets() {
    let gh = FakeGitHub::start();
    gh.flow("acme", &["site"], &[], &[(11, "site")], None);
    let step = Step::new();
    let mut env = step.env(&gh.url(), &[]);
    env.push(("RUNNER_DEBUG".into(), "1".into()));
    let ran = run_binary(Path::new(BIN), &[], &env, "");
    assert_eq!(ran.code, 0, "{}", ran.stdout);
    let debug: Vec<&str> = ran
        .stdout
        .lines()
        .filter(|l| l.starts_with("::debug::"))
        .collect();
    assert!(
        debug
            .iter()
            .any(|l| l.contains("POST /app/installations/777/access_tokens: HTTP 201")),
        "{debug:?}"
    );
    assert!(
        !debug
            .iter()
            .any(|l| l.contains("ghs_") || l.contains("eyJ")),
        "{debug:?}"
    );
    let quiet = main_step(&step, &gh.url(), &[]);
    assert!(!quiet.stdout.contains("::debug::"));
}

#[test]
fn owner_plus_repositories_scopes_to_that_owner() {
    let gh = FakeGitHub::start();
    let flow = gh.flow("widgets", &["web"], &[55], &[(21, "web")], None);
    let step = Step::new();
    let ran = main_step(
        &step,
        &gh.url(),
        &[("owner", "widgets"), ("repositories", "web 55")],
    );
    assert_eq!(ran.code, 0, "{}", ran.stdout);
    flow.lookup.assert_calls(1);
    flow.final_token.assert_calls(1);
    assert_eq!(step.outputs()["repository-ids"], "[55,21]");
}

#[test]
fn installation_id_skips_the_lookup_by_repository() {
    let gh = FakeGitHub::start();
    let by_repo = gh.repo_installation("acme", "site", INSTALLATION);
    let by_id = gh.installation_by_id("acme", INSTALLATION);
    let token = gh.access_token(
        INSTALLATION,
        json!({"repository_ids": [5, 6]}),
        token_json(
            FINAL_TOKEN,
            &[repo_json(5, "acme", "a"), repo_json(6, "acme", "b")],
            &json!({}),
        ),
    );
    gh.bot_user();
    let step = Step::new();
    let ran = main_step(
        &step,
        &gh.url(),
        &[
            ("repositories", "5,6"),
            ("installation-id", &INSTALLATION.to_string()),
        ],
    );
    assert_eq!(ran.code, 0, "{}", ran.stdout);
    by_repo.assert_calls(0);
    by_id.assert_calls(1);
    token.assert_calls(1);
    let out = step.outputs();
    assert_eq!(out["app-slug"], SLUG);
    assert_eq!(out["git-user-name"], format!("{SLUG}[bot]"));
}

#[test]
fn more_than_500_repositories_fail_before_any_request() {
    let gh = FakeGitHub::start();
    let any = gh.catch_all();
    let list: Vec<String> = (0..501).map(|i| format!("r{i}")).collect();
    let step = Step::new();
    let ran = main_step(&step, &gh.url(), &[("repositories", &list.join(","))]);
    assert_eq!(ran.code, 1);
    assert!(ran.stdout.contains("at most 500"), "{}", ran.stdout);
    any.assert_calls(0);
}

#[test]
fn ssl_cert_file_is_the_trust_store_when_set() {
    let step = Step::new();
    let empty = step.file("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let mut env = step.env("https://127.0.0.1:9", &[]);
    env.push(("SSL_CERT_FILE".into(), empty.display().to_string()));
    let ran = run_binary(Path::new(BIN), &[], &env, "");
    assert_eq!(ran.code, 1);
    assert!(
        ran.stdout.contains("no CA certificates were found"),
        "{}",
        ran.stdout
    );
    assert!(ran.stdout.contains("SSL_CERT_FILE"), "{}", ran.stdout);
}

#[test]
fn tls_with_a_private_ca_from_ssl_cert_file_negotiates_http2() {
    let gh = FakeGitHub::start();
    // Matches first, and only when the request came over HTTP/2.
    let over_h2 = gh.server.mock(|when, then| {
        when.method(GET)
            .path("/repos/acme/site/installation")
            .is_true(|r| r.version() == http::Version::HTTP_2 && jwt_ok(r, 0));
        then.status(200).github_json(installation_json(
            INSTALLATION,
            "acme",
            &installation_permissions(),
        ));
    });
    let flow = gh.flow("acme", &["site"], &[], &[(11, "site")], None);
    let step = Step::new();
    let ca = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/httpmock-ca.pem"
    );
    let mut env = step.env(&gh.https_url(), &[]);
    env.push(("SSL_CERT_FILE".into(), ca.into()));
    let ran = run_binary(Path::new(BIN), &[], &env, "");
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    over_h2.assert_calls(1);
    flow.final_token.assert_calls(1);
    assert_eq!(step.outputs()["token"], FINAL_TOKEN);

    // With only the public CAs, the same server is not trusted, and nothing is sent to it.
    let public = "/etc/ssl/certs/ca-certificates.crt";
    if std::path::Path::new(public).exists() {
        let before = flow.final_token.calls();
        let step = Step::new();
        let mut env = step.env(&gh.https_url(), &[]);
        env.push(("SSL_CERT_FILE".into(), public.into()));
        let ran = run_binary(Path::new(BIN), &[], &env, "");
        assert_eq!(ran.code, 1, "{}", ran.stdout);
        assert!(
            ran.stdout.to_ascii_lowercase().contains("certificate"),
            "{}",
            ran.stdout
        );
        assert_eq!(flow.final_token.calls(), before);
        assert!(
            !ran.stdout.contains("retrying"),
            "an untrusted certificate is not retried: {}",
            ran.stdout
        );
    }
}

/// Cancels a main step that holds a token and waits on a slow GitHub, the way the
/// runner cancels (SIGINT, or SIGTERM): it must stop at once, revoke, and say so.
fn cancelled_with(signal: i32, expected_code: i32, name: &str) {
    let gh = FakeGitHub::start();
    let (minted, revoked, _hanging) = gh.token_then_a_hang(std::time::Duration::from_secs(30));
    let step = Step::new();
    let child = Command::new(BIN)
        .env_clear()
        .envs(step.env(&gh.url(), &[("repositories", "101")]))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let waited = std::time::Instant::now();
    while minted.calls() == 0 {
        assert!(
            waited.elapsed() < std::time::Duration::from_secs(20),
            "the token was never requested"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
    let sent = std::time::Instant::now();
    let out = child.wait_with_output().unwrap();
    let took = sent.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(expected_code), "{stdout}");
    assert!(
        took < std::time::Duration::from_secs(3),
        "stopped {took:?} after {name}"
    );
    assert!(
        stdout.contains(&format!("::error title=Cancelled::{name} received")),
        "{stdout}"
    );
    revoked.assert_calls(1);
    assert!(stdout.contains("Revoked 1 installation token"), "{stdout}");
    assert!(
        !stdout.contains(FINAL_TOKEN),
        "the token was printed: {stdout}"
    );
    assert!(step.outputs().is_empty(), "no outputs after a cancel");
}

#[test]
fn sigint_stops_the_step_and_revokes_what_it_minted() {
    cancelled_with(libc::SIGINT, 130, "SIGINT");
}

#[test]
fn sigterm_stops_the_step_and_revokes_what_it_minted() {
    cancelled_with(libc::SIGTERM, 143, "SIGTERM");
}
