//! Stateless installation tokens on request, and the API version (issue 26, part 1): the
//! `X-GitHub-Stateless-S2S-Token` header on every token request a step makes (helpers and
//! the diagnostic listing's token included) and on no other, for each value of
//! `token-format` and `--token-format`; a 523-character stateless token carried whole by
//! every path (the mask, the outputs, the state post revokes, the summary that never
//! shows it, `--json`, `git-credential`, `exec`, `revoke`); and `X-GitHub-Api-Version`
//! on every request, to every endpoint app-token calls.

use std::path::Path;

use crate::common::*;
use serde_json::{json, Value};

/// The value of `X-GitHub-Stateless-S2S-Token` a format's name asks for (none: GitHub decides).
fn header_for(format: Option<&str>) -> Vec<String> {
    match format {
        Some("stateless") => vec!["enabled".into()],
        Some("classic") => vec!["disabled".into()],
        _ => vec![],
    }
}

/// Every token request `gh` saw carries `expected` as its `X-GitHub-Stateless-S2S-Token`
/// values, and no other request carries the header; there were `tokens` token requests.
fn asked_for(gh: &FakeGitHub, expected: &[String], tokens: usize, what: &str) {
    let seen = gh.seen();
    let (minting, others): (Vec<&Seen>, Vec<&Seen>) =
        seen.iter().partition(|s| s.is_token_request());
    assert_eq!(minting.len(), tokens, "{what}: {seen:#?}");
    for s in &minting {
        assert_eq!(s.token_formats, expected, "{what}: {} {}", s.method, s.path);
    }
    assert!(!others.is_empty(), "{what}: {seen:#?}");
    for s in &others {
        assert!(
            s.token_formats.is_empty(),
            "{what}: {} {} carries {:?}",
            s.method,
            s.path,
            s.token_formats
        );
    }
}

/// The bearers of the revocations `gh` saw, in order.
fn revoked(gh: &FakeGitHub) -> Vec<String> {
    gh.seen()
        .into_iter()
        .filter(|s| s.method == "DELETE")
        .filter_map(|s| s.bearer)
        .collect()
}

/// `acme/site` by name: a helper token resolves it, then the final token.
fn site(gh: &FakeGitHub) -> Flow<'_> {
    gh.flow("acme", &["site"], &[], &[(11, "site")], None)
}

/// The action's main step for `acme/site` (the current repository), with `token-format`
/// set to `format` when there is one.
fn main_step(step: &Step, gh: &FakeGitHub, format: Option<&str>) -> Ran {
    let mut inputs = vec![("repositories", "site")];
    inputs.extend(format.map(|f| ("token-format", f)));
    step.main(Path::new(BIN), &gh.url(), &inputs)
}

/// `--token-format FORMAT` when there is one.
fn format_flag(format: Option<&str>) -> Vec<&str> {
    format
        .map(|f| vec!["--token-format", f])
        .unwrap_or_default()
}

/// What git asks a credential helper for `acme/site` on the fake GitHub's host.
fn credential_request(gh: &FakeGitHub) -> String {
    let host = gh.url().trim_start_matches("http://").to_string();
    format!("protocol=http\nhost={host}\npath=acme/site.git\n\n")
}

/// The commands that mint: the action's main step, the default command, `exec` and
/// `git-credential get`.
const COMMANDS: [&str; 4] = [
    "the action",
    "app-token",
    "app-token exec",
    "app-token git-credential get",
];

/// `command` (one of [`COMMANDS`]) for `acme/site` from `gh`, asking for `format`.
fn mint_with(command: &str, gh: &FakeGitHub, format: Option<&str>) -> Ran {
    let flag = format_flag(format);
    let site = ["--repositories", "acme/site"];
    let cli = |args: &[&str]| {
        Cli::new(args)
            .app(&gh.url())
            .key_file()
            .args(&site)
            .args(&flag)
    };
    match command {
        "the action" => main_step(&Step::new(), gh, format),
        "app-token" => cli(&[]).run(),
        "app-token exec" => cli(&["exec"]).path().args(&["--", "true"]).run(),
        _ => cli(&["git-credential", "get"])
            .stdin(&credential_request(gh))
            .run(),
    }
}

#[test]
fn the_format_is_asked_for_on_every_token_request_helpers_included_and_no_other() {
    for format in [None, Some("stateless"), Some("classic")] {
        for command in COMMANDS {
            let gh = FakeGitHub::start();
            let flow = site(&gh);
            let ran = mint_with(command, &gh, format);
            let what = format!("{command} with {format:?}");
            assert_eq!(ran.code, 0, "{what}: {}{}", ran.stdout, ran.stderr);
            flow.helper.as_ref().unwrap().assert_calls(1);
            flow.final_token.assert_calls(1);
            // The helper token and the final one.
            asked_for(&gh, &header_for(format), 2, &what);
        }
    }
}

#[test]
fn the_diagnostic_listings_token_asks_for_the_format_too() {
    let gh = FakeGitHub::start();
    let diagnosis = gh.out_of_reach(&["site", "missing"], &[(11, "site")]);
    let step = Step::new();
    let ran = step.main(
        Path::new(BIN),
        &gh.url(),
        &[
            ("repositories", "site, missing"),
            ("token-format", "stateless"),
        ],
    );
    assert_eq!(ran.code, 1, "{}", ran.stdout);
    assert!(
        ran.stdout.contains("cannot access them: missing"),
        "{}",
        ran.stdout
    );
    for mock in &diagnosis {
        mock.assert_calls(1);
    }
    asked_for(
        &gh,
        &header_for(Some("stateless")),
        2,
        "the helper and the probe",
    );
    assert_eq!(revoked(&gh), [stateless("ghs_probe")]);
}

#[test]
fn a_format_other_than_stateless_or_classic_is_refused_before_any_request() {
    let gh = FakeGitHub::start();
    let any = gh.catch_all();
    for bad in ["jwt", "Stateless", "enabled"] {
        let step = Step::new();
        let ran = step.main(Path::new(BIN), &gh.url(), &[("token-format", bad)]);
        assert_eq!(ran.code, 1, "{}", ran.stdout);
        let error = ran.line("::error ");
        assert!(
            error.ends_with(&format!(
                "::input `token-format` is `{bad}`; it must be `stateless` or `classic` (or empty, to let GitHub choose)"
            )),
            "{error}"
        );
        let ran = Cli::mint(&gh)
            .args(&["--owner", "acme", "--token-format", bad])
            .run();
        assert_eq!(ran.code, 2, "{}", ran.stderr);
        assert_eq!(
            ran.stderr,
            format!("error: --token-format: is `{bad}`; it must be `stateless` or `classic` (or empty, to let GitHub choose)\n")
        );
    }
    any.assert_calls(0);
    assert!(gh.seen().is_empty());
}

/// The two ways a step gets stateless tokens: it asks for them, from a GitHub whose
/// rollout would mint classic ones; or it asks for nothing, from a GitHub whose rollout
/// mints stateless ones.
fn stateless_ways() -> Vec<(FakeGitHub, Option<&'static str>)> {
    vec![
        (FakeGitHub::start(), Some("stateless")),
        (FakeGitHub::rolled_out(Format::Stateless), None),
    ]
}

#[test]
fn a_stateless_token_takes_every_path_of_the_action_whole() {
    let token = stateless(FINAL_TOKEN);
    let helper = stateless(HELPER_TOKEN);
    assert_eq!(token.len(), 523);
    for (gh, format) in stateless_ways() {
        let flow = site(&gh);
        let step = Step::new();
        let ran = main_step(&step, &gh, format);
        assert_eq!(ran.code, 0, "{format:?}: {}", ran.stdout);
        // Masked whole, before it appears anywhere: it appears in its mask line only.
        let mask = format!("::add-mask::{token}");
        assert!(ran.stdout.lines().any(|l| l == mask), "{}", ran.stdout);
        assert_eq!(ran.stdout.matches(&token).count(), 1, "{}", ran.stdout);
        assert!(!ran.stderr.contains(&token));
        assert!(
            !ran.stdout.contains(&helper)
                || ran
                    .stdout
                    .lines()
                    .any(|l| l == format!("::add-mask::{helper}")),
            "{}",
            ran.stdout
        );
        // The outputs.
        let out = step.outputs();
        assert_eq!(out["token"], token, "{format:?}");
        let tokens: Value = serde_json::from_str(&out["tokens"]).unwrap();
        assert_eq!(tokens, json!({"acme": token}));
        // The summary, which never shows a token.
        let summary = step.summary();
        assert!(summary.contains("| acme | 777 (`acme-bot`) |"), "{summary}");
        assert!(!summary.contains("ghs_"), "{summary}");
        // The state, which post revokes the token from.
        assert_eq!(revoked(&gh), [helper.as_str()], "main revoked its helper");
        let post = step.post(Path::new(BIN), &gh.url(), &[]);
        assert_eq!(post.code, 0, "{}", post.stdout);
        assert!(post.stdout.lines().any(|l| l == mask), "{}", post.stdout);
        assert!(
            post.stdout.contains("Revoked 1 installation token"),
            "{}",
            post.stdout
        );
        assert_eq!(revoked(&gh), [helper.clone(), token.clone()]);
        flow.revoke_final.assert_calls(1);
    }
}

#[test]
fn a_stateless_token_takes_every_path_of_the_command_line_whole() {
    let token = stateless(FINAL_TOKEN);
    for (gh, format) in stateless_ways() {
        let flow = site(&gh);
        let flag = format_flag(format);
        let site = ["--repositories", "acme/site"];

        // Printed: the token and a newline, nothing else.
        let ran = Cli::mint(&gh).args(&site).args(&flag).run();
        assert_eq!(
            (ran.code, ran.stdout.as_str()),
            (0, format!("{token}\n").as_str())
        );

        // Revoked from stdin, as the help shows: the printed line piped in.
        let revoking = Cli::new(&["revoke", "--api-url", &gh.url()])
            .stdin(&ran.stdout)
            .run();
        assert_eq!(revoking.code, 0, "{}", revoking.stderr);
        assert_eq!(revoked(&gh).last(), Some(&token));

        // --json: the token at the top and in `tokens`.
        let ran = Cli::mint(&gh)
            .args(&site)
            .args(&flag)
            .args(&["--json"])
            .run();
        assert_eq!(ran.code, 0, "{}", ran.stderr);
        let answer: Value = serde_json::from_str(&ran.stdout).unwrap();
        assert_eq!(answer["token"], json!(token));
        assert_eq!(answer["tokens"][0]["token"], json!(token));

        // git-credential get: the password line.
        let ran = mint_with("app-token git-credential get", &gh, format);
        assert_eq!(ran.code, 0, "{}", ran.stderr);
        assert!(
            ran.stdout.lines().any(|l| l == format!("password={token}")),
            "{}",
            ran.stdout
        );

        // exec: GH_TOKEN and GITHUB_TOKEN, then revoked.
        let dir = tempfile::tempdir().unwrap();
        let seen = dir.path().join("seen");
        let script = r#"test "$GH_TOKEN" = "$GITHUB_TOKEN" && printf %s "$GH_TOKEN" > "$1""#;
        let before = flow.revoke_final.calls();
        let ran = Cli::new(&["exec"])
            .app(&gh.url())
            .key_file()
            .path()
            .args(&site)
            .args(&flag)
            .args(&["--", "sh", "-c", script, "sh", seen.to_str().unwrap()])
            .run();
        assert_eq!(ran.code, 0, "{}", ran.stderr);
        assert_eq!(std::fs::read_to_string(&seen).unwrap(), token);
        assert_eq!(flow.revoke_final.calls(), before + 1);
        assert_eq!(revoked(&gh).last(), Some(&token));
    }
}

#[test]
fn every_request_to_every_endpoint_carries_the_pinned_api_version() {
    let mut seen = Vec::new();
    // The action, main and post: the installation by repository, the helper and final
    // tokens, the bot user, two revocations.
    let gh = FakeGitHub::start();
    site(&gh);
    let step = Step::new();
    assert_eq!(main_step(&step, &gh, None).code, 0);
    assert_eq!(step.post(Path::new(BIN), &gh.url(), &[]).code, 0);
    seen.extend(gh.seen());
    // The installation by account, then by id.
    let gh = FakeGitHub::start();
    gh.flow("acme", &[], &[101], &[(101, "site")], None);
    gh.installation_by_id("acme", INSTALLATION);
    let by_account = Cli::mint(&gh).args(&["--owner", "acme", "--repositories", "101"]);
    assert_eq!(by_account.run().code, 0);
    let by_id = by_account.args(&["--installation-id", "777"]);
    assert_eq!(by_id.run().code, 0);
    seen.extend(gh.seen());
    // An enterprise's installation, and the app's installations.
    let gh = FakeGitHub::start();
    gh.enterprise_installation("big-co", 909);
    gh.access_token(909, json!({}), token_json(FINAL_TOKEN, &[], &json!({})));
    gh.bot_user();
    gh.installations_page(1, &[]);
    let ran = Cli::mint(&gh).args(&["--enterprise", "big-co"]).run();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let ran = Cli::new(&["installations"]).app(&gh.url()).key_file().run();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    seen.extend(gh.seen());
    // The diagnostic listing of the installation's repositories.
    let gh = FakeGitHub::start();
    gh.out_of_reach(&["site", "gone"], &[]);
    let ran = Cli::mint(&gh)
        .args(&["--repositories", "acme/site,acme/gone"])
        .run();
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    seen.extend(gh.seen());

    let called: std::collections::BTreeSet<String> = seen
        .iter()
        .map(|s| format!("{} {}", s.method, s.path))
        .collect();
    for endpoint in [
        "GET /repos/acme/site/installation",
        "GET /users/acme/installation",
        "GET /app/installations/777",
        "GET /enterprises/big-co/installation",
        "GET /app/installations",
        "POST /app/installations/777/access_tokens",
        "POST /app/installations/909/access_tokens",
        "DELETE /installation/token",
        "GET /installation/repositories",
        "GET /users/acme-bot%5Bbot%5D",
    ] {
        assert!(
            called.contains(endpoint),
            "{endpoint} not called: {called:#?}"
        );
    }
    for s in &seen {
        assert_eq!(s.api_versions, [API_VERSION], "{} {}", s.method, s.path);
    }
}
