//! Enterprise installations and GitHub's API as it behaves in 2026, run the way the runner
//! runs the step: an enterprise's installation (an account with a slug and no login),
//! tokens refused while they replicate, revocations that say why, base64 keys, a
//! permission given twice, and a bot user that cannot be looked up.

use std::time::Duration;

use crate::common::*;
use httpmock::prelude::*;
use serde_json::json;

const ENTERPRISE_INSTALLATION: u64 = 888;

/// `GET /enterprises/big-co/installation`, as GitHub answers it: the account has a slug
/// and a name, and no login.
fn enterprise_installation(gh: &FakeGitHub) -> httpmock::Mock<'_> {
    gh.installation_at(
        "/enterprises/big-co/installation",
        json!({
            "id": ENTERPRISE_INSTALLATION,
            "app_slug": SLUG,
            "account": {"slug": "big-co", "name": "Big Co", "id": 5},
            "target_type": "Enterprise",
            "permissions": {"enterprise_custom_properties_for_organizations": "write", "metadata": "read"},
            "repository_selection": "selected",
            "suspended_at": null
        }),
    )
}

#[test]
fn an_enterprise_installation_gets_a_token_for_no_repositories() {
    let gh = FakeGitHub::start();
    let lookup = enterprise_installation(&gh);
    let permissions = json!({"enterprise_custom_properties_for_organizations": "write"});
    // Exactly this body: no repositories, no repository_ids.
    let minted = gh.access_token(
        ENTERPRISE_INSTALLATION,
        json!({"permissions": permissions}),
        json!({"token": FINAL_TOKEN, "expires_at": "2099-01-01T00:00:00Z", "permissions": permissions}),
    );
    gh.bot_user();
    let revoked = gh.revoke(FINAL_TOKEN);
    let step = Step::new();
    let inputs = [
        ("enterprise", "big-co"),
        (
            "permission-enterprise-custom-properties-for-organizations",
            "write",
        ),
    ];
    let ran = step.main(bin(), &gh.url(), &inputs);
    assert_eq!(ran.code, 0, "{}", ran.stdout);
    lookup.assert_calls(1);
    minted.assert_calls(1);
    let out = step.outputs();
    assert_eq!(out["token"], FINAL_TOKEN);
    assert_eq!(out["installation-id"], ENTERPRISE_INSTALLATION.to_string());
    assert_eq!(out["app-slug"], SLUG);
    assert_eq!(out["expires-at"], "2099-01-01T00:00:00Z");
    assert_eq!(out["repository-ids"], "[]");
    assert_eq!(
        out["permissions"],
        r#"{"enterprise_custom_properties_for_organizations":"write"}"#
    );
    assert_eq!(out["git-user-name"], format!("{SLUG}[bot]"));
    assert!(out.contains_key("git-user-email"));
    assert!(
        ran.stdout.contains("enterprise: big-co;"),
        "the request is logged as the enterprise's: {}",
        ran.stdout
    );
    assert!(
        ran.stdout
            .contains("Created a token for enterprise big-co (installation 888)"),
        "{}",
        ran.stdout
    );
    assert!(
        step.summary()
            .contains("| enterprise big-co | 888 (`acme-bot`) |"),
        "{}",
        step.summary()
    );
    let post = step.post(bin(), &gh.url(), &inputs);
    assert_eq!(post.code, 0, "{}", post.stdout);
    revoked.assert_calls(1);
}

#[test]
fn an_app_not_installed_on_the_enterprise_is_said_so() {
    let gh = FakeGitHub::start();
    gh.server.mock(|when, then| {
        when.method(GET).path("/enterprises/big-co/installation");
        then.status(404)
            .github_json(json!({"message": "Not Found"}));
    });
    let step = Step::new();
    let ran = step.main(bin(), &gh.url(), &[("enterprise", "big-co")]);
    assert_eq!(ran.code, 1);
    assert!(
        ran.stdout
            .contains("the app is not installed on the enterprise big-co"),
        "{}",
        ran.stdout
    );
}

#[test]
fn enterprise_with_owner_or_repositories_fails_before_any_request_naming_both() {
    let gh = FakeGitHub::start();
    let any = gh.catch_all();
    let step = Step::new();
    for (other, value) in [("owner", "acme"), ("repositories", "site")] {
        let ran = step.main(
            bin(),
            &gh.url(),
            &[("enterprise", "big-co"), (other, value)],
        );
        assert_eq!(ran.code, 1, "{}", ran.stdout);
        let error = ran.line("::error ");
        assert!(
            error.contains("input `enterprise` cannot be combined with `")
                && error.contains(&format!("`{other}`")),
            "{error}"
        );
    }
    any.assert_calls(0);
}

#[test]
fn the_command_line_takes_an_enterprise_too() {
    let gh = FakeGitHub::start();
    enterprise_installation(&gh);
    gh.access_token(
        ENTERPRISE_INSTALLATION,
        json!({}),
        json!({"token": FINAL_TOKEN, "expires_at": "2099-01-01T00:00:00Z", "permissions": {"metadata": "read"}}),
    );
    gh.bot_user();
    let ran = Cli::mint(&gh)
        .args(&["--enterprise", "big-co", "--json"])
        .run();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let answer: serde_json::Value = serde_json::from_str(&ran.stdout).unwrap();
    assert_eq!(answer["token"], FINAL_TOKEN);
    assert_eq!(answer["owner"], "big-co");
    assert_eq!(answer["repository_ids"], json!([]));
    let both = Cli::new(&[
        "--app-id",
        APP_ID,
        "--enterprise",
        "big-co",
        "--owner",
        "acme",
    ])
    .run();
    assert_eq!(both.code, 2);
    assert!(
        both.stderr.contains("--enterprise") && both.stderr.contains("--owner"),
        "{}",
        both.stderr
    );
}

#[test]
fn post_right_after_main_revokes_a_token_that_is_still_replicating() {
    let gh = FakeGitHub::start();
    let mut flow = gh.flow("acme", &["site"], &[], &[(11, "site")], None);
    flow.revoke_final.delete();
    let (refused, revoked) = gh.revoke_lagging(FINAL_TOKEN, Duration::from_millis(600));
    let step = Step::new();
    assert_eq!(step.main(bin(), &gh.url(), &[]).code, 0);
    let post = step.post(bin(), &gh.url(), &[]);
    assert_eq!(post.code, 0);
    assert!(refused.calls() >= 1, "GitHub refused it at first");
    revoked.assert_calls(1);
    assert!(
        post.stdout.contains("Revoked 1 installation token"),
        "{}",
        post.stdout
    );
    assert!(!post.stdout.contains("::warning"), "{}", post.stdout);
    assert!(
        post.stdout.contains("HTTP 401; retrying"),
        "the lag is logged: {}",
        post.stdout
    );
}

#[test]
fn an_old_tokens_401_is_not_taken_for_lag() {
    let gh = FakeGitHub::start();
    let (refused, revoked) = gh.revoke_lagging("ghs_old", Duration::from_secs(60));
    let step = Step::new();
    let saved = json!([{"token": "ghs_old", "expires_at": "2099-01-01T00:00:00Z", "issued_at": "2026-01-01T00:00:00Z"}]);
    step.save_state(&saved);
    let post = step.post(bin(), &gh.url(), &[]);
    assert_eq!(post.code, 0);
    refused.assert_calls(1);
    revoked.assert_calls(0);
    assert!(
        post.stdout.contains("HTTP 401: Bad credentials"),
        "{}",
        post.stdout
    );
}

/// Post with one saved token whose revocation GitHub answers with `answers` in turn (the
/// last one again after that); gives what post did and how many attempts it made.
fn post_revocation(answers: &'static [u16]) -> (Ran, usize) {
    let gh = FakeGitHub::start();
    // One mock per answer, each taking one attempt but the last, which takes the rest.
    let turns: Vec<httpmock::Mock<'_>> = answers
        .iter()
        .enumerate()
        .map(|(i, status)| {
            let spec = move |when: httpmock::When, then: httpmock::Then| {
                when.method(DELETE).path("/installation/token");
                then.status(*status)
                    .header("x-github-request-id", format!("REQ:{i}"))
                    .github_json(json!({"message": format!("Service unavailable ({status})")}));
            };
            if i + 1 < answers.len() {
                gh.failing_first(1, spec)
            } else {
                gh.server.mock(spec)
            }
        })
        .collect();
    let step = Step::new();
    let saved = json!([{"token": "ghs_x", "expires_at": "2099-01-01T00:00:00Z"}]);
    step.save_state(&saved);
    let post = step.post(bin(), &gh.url(), &[]);
    let attempts = turns.iter().map(|m| m.calls()).sum();
    (post, attempts)
}

#[test]
fn a_revocation_that_keeps_failing_warns_with_githubs_status_message_and_request_id() {
    let (post, attempts) = post_revocation(&[503, 503, 503, 503]);
    assert_eq!(post.code, 0, "a failed revocation never fails the job");
    let warning = post.line("::warning title=Token not revoked::");
    assert!(warning.contains("HTTP 503"), "{warning}");
    assert!(warning.contains("Service unavailable (503)"), "{warning}");
    assert!(warning.contains("X-GitHub-Request-Id: REQ:"), "{warning}");
    assert!(warning.contains("after 4 attempts"), "{warning}");
    assert_eq!(attempts, 4);
}

#[test]
fn a_revocation_that_fails_once_is_retried() {
    let (post, attempts) = post_revocation(&[502, 204]);
    assert_eq!(post.code, 0);
    assert_eq!(attempts, 2);
    assert!(
        post.stdout.contains("Revoked 1 installation token"),
        "{}",
        post.stdout
    );
    assert!(!post.stdout.contains("::warning"), "{}", post.stdout);
}

#[test]
fn a_base64_key_mints_like_the_pem() {
    use base64::Engine as _;
    let gh = FakeGitHub::start();
    let flow = gh.flow("acme", &["site"], &[], &[(11, "site")], None);
    let step = Step::new();
    let encoded = base64::engine::general_purpose::STANDARD.encode(KEY_PKCS8);
    let ran = step.main(bin(), &gh.url(), &[("private-key", &encoded)]);
    assert_eq!(ran.code, 0, "{}", ran.stdout);
    flow.final_token.assert_calls(1);
    assert!(!ran.stdout.contains(&encoded[..20]));
}

#[test]
fn a_permission_given_twice_is_named() {
    let gh = FakeGitHub::start();
    let any = gh.catch_all();
    let step = Step::new();
    let ran = step.main(
        bin(),
        &gh.url(),
        &[(
            "permissions",
            "contents: read\nissues: write\ncontents: write",
        )],
    );
    assert_eq!(ran.code, 1);
    assert!(
        ran.stdout
            .contains("input `permissions` `contents` is given twice, as `read` and as `write`"),
        "{}",
        ran.stdout
    );
    any.assert_calls(0);
}

#[test]
fn errors_quote_at_most_a_short_prefix_of_an_input() {
    let gh = FakeGitHub::start();
    let step = Step::new();
    let huge = "x".repeat(100_000);
    for (input, value) in [
        ("repositories", huge.clone()),
        ("permissions", format!("{huge}: read")),
        ("owner", huge.clone()),
    ] {
        let ran = step.main(bin(), &gh.url(), &[(input, &value)]);
        assert_eq!(ran.code, 1);
        assert!(
            ran.stdout.len() < 2_000,
            "{input}: {} bytes",
            ran.stdout.len()
        );
    }
}

#[test]
fn a_bot_user_that_cannot_be_found_leaves_the_email_unset_and_says_why() {
    let gh = FakeGitHub::start();
    let mut flow = gh.flow("acme", &["site"], &[], &[(11, "site")], None);
    flow.bot.delete();
    let missing = gh.server.mock(|when, then| {
        when.method(GET).path(format!("/users/{SLUG}%5Bbot%5D"));
        then.status(404)
            .github_json(json!({"message": "Not Found"}));
    });
    let step = Step::new();
    let ran = step.main(bin(), &gh.url(), &[]);
    assert_eq!(ran.code, 0, "the token is still delivered: {}", ran.stdout);
    let out = step.outputs();
    assert_eq!(out["token"], FINAL_TOKEN);
    assert_eq!(out["git-user-name"], format!("{SLUG}[bot]"));
    assert!(!out.contains_key("git-user-email"), "{out:?}");
    // Once without a token, once with the new one.
    missing.assert_calls(2);
    let warning = ran.line("::warning");
    assert!(warning.contains("git-user-email is not set"), "{warning}");
    assert!(warning.contains("HTTP 404"), "{warning}");
    assert!(warning.contains("users.noreply.github.com"), "{warning}");
}
