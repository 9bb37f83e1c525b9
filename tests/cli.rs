//! Runs the built `app-token` binary as a command line against a fake GitHub on 127.0.0.1:
//! what it prints on stdout and stderr, its exit status, and what it asked of GitHub;
//! `revoke` and the git credential-helper conversation, including with a real `git`.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::*;
use httpmock::prelude::*;
use serde_json::{json, Value};

/// `2099-01-01T00:00:00Z`, the fake tokens' expiry, in Unix seconds.
const EXPIRY_UNIX: &str = "4070908800";

#[test]
fn prints_only_the_token_and_never_revokes_it() {
    let gh = FakeGitHub::start();
    let flow = gh.names_and_an_id_flow();
    let ran = Cli::mint(&gh)
        .args(&[
            "--owner",
            "acme",
            "--repositories",
            "site, api",
            "--repositories",
            "9001",
            "--permissions",
            "contents:write,pull-requests:read",
        ])
        .run();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(ran.stdout, format!("{FINAL_TOKEN}\n"));
    assert_eq!(ran.stderr, "", "a clean success is quiet");
    flow.lookup.assert_calls(1);
    flow.helper.as_ref().unwrap().assert_calls(1);
    flow.revoke_helper.as_ref().unwrap().assert_calls(1);
    flow.final_token.assert_calls(1);
    flow.revoke_final.assert_calls(0);
}

#[test]
fn the_key_from_the_environment_a_client_id_and_yaml_permissions() {
    let gh = FakeGitHub::start();
    let lookup = gh.account_installation("widgets", INSTALLATION);
    let token = gh.access_token(
        INSTALLATION,
        json!({"permissions": {"contents": "write", "issues": "read"}}),
        token_json(
            FINAL_TOKEN,
            &[],
            &json!({"contents": "write", "issues": "read"}),
        ),
    );
    gh.bot_user();
    let ran = Cli::new(&[
        "--app-id",
        CLIENT_ID,
        "--owner",
        "widgets",
        "--permissions",
        "contents: write\nissues: read",
        "--api-url",
        &gh.url(),
    ])
    .env("APP_TOKEN_PRIVATE_KEY", KEY_PKCS8)
    .run();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(ran.stdout, format!("{FINAL_TOKEN}\n"));
    lookup.assert_calls(1);
    token.assert_calls(1);
}

/// With neither `--owner` nor `--repositories`, the command line mints for
/// `GITHUB_REPOSITORY` at `GITHUB_API_URL`, each written as `repository` and `api_url`
/// say (`{}` stands for the fake's URL).
fn mints_for_the_current_repository(repository: &str, api_url: &str) {
    let gh = FakeGitHub::start();
    let flow = gh.flow("acme", &["site"], &[], &[(11, "site")], None);
    let ran = Cli::new(&["--app-id", APP_ID])
        .key_file()
        .env("GITHUB_REPOSITORY", repository)
        .env("GITHUB_API_URL", &api_url.replace("{}", &gh.url()))
        .run();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(ran.stdout, format!("{FINAL_TOKEN}\n"));
    flow.lookup.assert_calls(1);
    flow.final_token.assert_calls(1);
}

#[test]
fn defaults_to_github_repository_and_github_api_url_when_set() {
    mints_for_the_current_repository("acme/site", "{}");
}

#[test]
fn github_repository_and_github_api_url_are_read_trimmed() {
    mints_for_the_current_repository(" acme/site\n", " {} ");
}

#[test]
fn an_installation_id_skips_the_lookup_by_repository() {
    let gh = FakeGitHub::start();
    let by_id = gh.installation_by_id("acme", INSTALLATION);
    let token = gh.access_token(
        INSTALLATION,
        json!({"repository_ids": [9001]}),
        token_json(FINAL_TOKEN, &[repo_json(9001, "acme", "site")], &json!({})),
    );
    gh.bot_user();
    let ran = Cli::mint(&gh)
        .args(&[
            "--owner",
            "acme",
            "--repositories",
            "9001",
            "--installation-id",
            "777",
        ])
        .run();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(ran.stdout, format!("{FINAL_TOKEN}\n"));
    by_id.assert_calls(1);
    token.assert_calls(1);
}

#[test]
fn json_has_the_token_and_what_it_covers() {
    let gh = FakeGitHub::start();
    gh.flow(
        "acme",
        &["site"],
        &[],
        &[(11, "site")],
        Some(json!({"contents": "read"})),
    );
    let ran = Cli::mint(&gh)
        .args(&[
            "--repositories",
            "acme/site",
            "--permissions",
            "contents: read",
            "--json",
        ])
        .run();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(ran.stdout.lines().count(), 1, "one line: {}", ran.stdout);
    let got: Value = serde_json::from_str(&ran.stdout).unwrap();
    let one = json!({
        "owner": "acme",
        "token": FINAL_TOKEN,
        "expires_at": "2099-01-01T00:00:00Z",
        "installation_id": INSTALLATION,
        "repository_ids": [11],
        "permissions": {"contents": "read"},
        "app_slug": SLUG,
        "git_user_name": format!("{SLUG}[bot]"),
        "git_user_email": format!("{BOT_ID}+{SLUG}[bot]@users.noreply.github.com"),
    });
    let mut expected = one.clone();
    expected["tokens"] = json!([one]);
    assert_eq!(got, expected);
}

/// Two owners, each with its own installation, helper and final token.
fn two_owners(gh: &FakeGitHub) -> Vec<httpmock::Mock<'_>> {
    let mut mocks = vec![
        gh.repo_installation("acme", "api", 1),
        gh.repo_installation("widgets", "web", 2),
    ];
    gh.bot_user();
    for (inst, owner, name, id) in [(1, "acme", "api", 101), (2, "widgets", "web", 202)] {
        let helper = format!("ghs_helper{inst}");
        mocks.push(gh.access_token(
            inst,
            json!({"repositories": [name], "permissions": {"metadata": "read"}}),
            token_json(
                &helper,
                &[repo_json(id, owner, name)],
                &json!({"metadata": "read"}),
            ),
        ));
        gh.revoke(&helper);
        mocks.push(gh.access_token(
            inst,
            json!({"repository_ids": [id]}),
            token_json(
                &format!("ghs_token_{owner}"),
                &[repo_json(id, owner, name)],
                &json!({"contents": "read"}),
            ),
        ));
    }
    mocks
}

#[test]
fn several_owners_need_json_and_get_one_object_each() {
    let quiet = FakeGitHub::start();
    let any = quiet.catch_all();
    let ran = Cli::mint(&quiet)
        .args(&["--repositories", "acme/api widgets/web"])
        .run();
    assert_eq!(ran.code, 2, "{}", ran.stderr);
    assert_eq!(ran.stdout, "");
    assert!(
        ran.stderr.contains("2 owners (acme, widgets)"),
        "{}",
        ran.stderr
    );
    assert!(ran.stderr.contains("--json"), "{}", ran.stderr);
    any.assert_calls(0);

    let gh = FakeGitHub::start();
    let mocks = two_owners(&gh);
    let ran = Cli::mint(&gh)
        .args(&["--repositories", "acme/api widgets/web", "--json"])
        .run();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let got: Value = serde_json::from_str(&ran.stdout).unwrap();
    assert_eq!(got.get("token"), None, "no single token: {got}");
    assert_eq!(got["app_slug"], SLUG);
    assert_eq!(got["git_user_name"], format!("{SLUG}[bot]"));
    let tokens = got["tokens"].as_array().unwrap();
    let summary: Vec<(String, String, u64, Value)> = tokens
        .iter()
        .map(|t| {
            (
                t["owner"].as_str().unwrap().to_string(),
                t["token"].as_str().unwrap().to_string(),
                t["installation_id"].as_u64().unwrap(),
                t["repository_ids"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("acme".into(), "ghs_token_acme".into(), 1, json!([101])),
            (
                "widgets".into(),
                "ghs_token_widgets".into(),
                2,
                json!([202])
            ),
        ]
    );
    for m in &mocks {
        m.assert_calls(1);
    }
}

#[test]
fn bad_usage_or_input_exits_2_before_any_request() {
    let gh = FakeGitHub::start();
    let any = gh.catch_all();
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.pem").display().to_string();
    let not_a_key = dir.path().join("bad.pem").display().to_string();
    std::fs::write(
        &not_a_key,
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEsecretpart\n-----END RSA PRIVATE KEY-----\n",
    )
    .unwrap();
    let url = gh.url();
    let mint_with_key = |key: &str| Cli::new(&[]).app(&url).args(&["--private-key-file", key]);
    // (the command line, what stderr says)
    let cases: Vec<(Cli, &str)> = vec![
        (
            Cli::mint(&gh).args(&["--owner", "acme", "--permissions", "contens:read"]),
            "--permissions: unknown permission `contens`. Did you mean `contents`?",
        ),
        (
            Cli::new(&["--app-id", APP_ID, "--owner", "acme", "--api-url", &url]),
            "the app's private key is required: --private-key-file PATH, or the PEM text in APP_TOKEN_PRIVATE_KEY",
        ),
        (
            mint_with_key(&missing).args(&["--owner", "acme"]).key_env(),
            "--private-key-file: cannot read",
        ),
        (
            mint_with_key(&not_a_key).args(&["--owner", "acme"]),
            "the private key in",
        ),
        (Cli::mint(&gh), "give --owner, --repositories, or both"),
        (
            Cli::mint(&gh).args(&["--repositories", "site"]),
            "--owner: must be set",
        ),
        (
            Cli::mint(&gh).args(&["--owner", "bad/owner"]),
            "--owner: is not a valid account name",
        ),
        (
            Cli::mint(&gh).args(&["--repositories", "a/b/c"]),
            "--repositories: invalid entries",
        ),
        (
            Cli::mint(&gh).args(&["--owner", "acme", "--installation-id", "0"]),
            "--installation-id: must be a positive number",
        ),
        (
            Cli::new(&["--app-id", "nope"])
                .key_file()
                .args(&["--owner", "acme", "--api-url", &url]),
            "--app-id: must be the app's numeric App ID or its Client ID",
        ),
        (
            Cli::mint_from("http://api.example.com").args(&["--owner", "acme"]),
            "--api-url (or GITHUB_API_URL): must use https",
        ),
        (
            Cli::new(&[]).key_file().args(&["--owner", "acme"]),
            "the following required arguments were not provided",
        ),
        (
            Cli::new(&["--app-id", APP_ID, "--private-key", KEY_PKCS1]),
            "unexpected argument '--private-key'",
        ),
    ];
    for (cli, says) in cases {
        let ran = cli.run();
        let args = cli.arguments();
        assert_eq!(ran.code, 2, "{args:?}: {}", ran.stderr);
        assert_eq!(ran.stdout, "", "{args:?}");
        assert!(
            ran.stderr.starts_with("error: "),
            "{args:?}: {}",
            ran.stderr
        );
        assert!(ran.stderr.contains(says), "{args:?}: {}", ran.stderr);
        assert!(!ran.stderr.contains("MIIEsecretpart"), "{}", ran.stderr);
    }
    any.assert_calls(0);

    let bare = Cli::new(&[]).run();
    assert_eq!(bare.code, 2);
    assert!(bare.stderr.contains("Usage: app-token"), "{}", bare.stderr);
}

#[test]
fn an_api_failure_exits_1() {
    let gh = FakeGitHub::start();
    let lookup = gh.server.mock(|when, then| {
        when.method(GET).path("/repos/acme/site/installation");
        then.status(404)
            .header("x-github-request-id", "ABCD:1")
            .github_json(json!({"message": "Not Found"}));
    });
    let ran = Cli::mint(&gh).args(&["--repositories", "acme/site"]).run();
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    assert_eq!(ran.stdout, "");
    assert!(
        ran.stderr
            .starts_with("error: could not create an installation token: "),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr
            .contains("the app is not installed on the repository acme/site"),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr
            .contains("HTTP 404: Not Found (X-GitHub-Request-Id: ABCD:1)"),
        "{}",
        ran.stderr
    );
    lookup.assert_calls(1);
}

#[test]
fn retry_lines_go_to_stderr_and_stdout_keeps_only_the_token() {
    let gh = FakeGitHub::start();
    let bad = gh.failing_first(1, |when, then| {
        when.method(GET).path("/repos/acme/site/installation");
        then.status(502).body("<html>bad gateway</html>");
    });
    let flow = gh.flow("acme", &["site"], &[], &[(11, "site")], None);
    let ran = Cli::mint(&gh).args(&["--repositories", "acme/site"]).run();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(ran.stdout, format!("{FINAL_TOKEN}\n"));
    assert!(
        ran.stderr.contains("HTTP 502; retrying in"),
        "{}",
        ran.stderr
    );
    bad.assert_calls(1);
    flow.lookup.assert_calls(1);
}

#[test]
fn under_actions_arguments_mean_the_command_line() {
    let gh = FakeGitHub::start();
    gh.flow("acme", &["site"], &[], &[(11, "site")], None);
    let actions = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_REPOSITORY", "acme/site"),
    ];
    let cli = Cli::mint(&gh).envs(&actions).run();
    assert_eq!(cli.code, 0, "{}", cli.stderr);
    assert_eq!(
        cli.stdout,
        format!("{FINAL_TOKEN}\n"),
        "no workflow commands"
    );

    // No arguments: the action, which speaks workflow commands and reads INPUT_*.
    let action = Cli::new(&[]).envs(&actions).run();
    assert_eq!(action.code, 1);
    assert!(
        action
            .stdout
            .lines()
            .any(|l| l.starts_with("::error title=Invalid input") && l.contains("input `app-id`")),
        "{}",
        action.stdout
    );
}

#[test]
fn help_shows_examples_for_each_command() {
    for (args, example) in [
        (vec!["--help"], "TOKEN=$(app-token --app-id"),
        (vec!["revoke", "--help"], "| app-token revoke"),
        (
            vec!["git-credential", "--help"],
            "credential.helper='!app-token git-credential",
        ),
    ] {
        let ran = Cli::new(&args).run();
        assert_eq!(ran.code, 0, "{args:?}");
        assert!(ran.stdout.contains("Examples:"), "{}", ran.stdout);
        assert!(ran.stdout.contains(example), "{}", ran.stdout);
    }
}

#[test]
fn revoke_reads_tokens_from_stdin() {
    let gh = FakeGitHub::start();
    let one = gh.revoke("ghs_one");
    let two = gh.revoke("ghs_two");
    let url = gh.url();
    let ran = Cli::new(&["revoke", "--api-url", &url])
        .stdin("  ghs_one  \n")
        .run();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(ran.stdout, "");
    one.assert_calls(1);
    two.assert_calls(0);

    // One per line, and the API from GITHUB_API_URL.
    let ran = Cli::new(&["revoke"])
        .env("GITHUB_API_URL", &url)
        .stdin("ghs_one\n\nghs_two\n")
        .run();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    one.assert_calls(2);
    two.assert_calls(1);
}

#[test]
fn revoke_without_a_token_exits_2_and_a_refusal_exits_1() {
    let gh = FakeGitHub::start();
    let refused = gh.server.mock(|when, then| {
        when.method(DELETE)
            .path("/installation/token")
            .header("authorization", "Bearer ghs_expired");
        then.status(401)
            .github_json(json!({"message": "Bad credentials"}));
    });
    let url = gh.url();
    for stdin in ["", " \n\n"] {
        let ran = Cli::new(&["revoke", "--api-url", &url]).stdin(stdin).run();
        assert_eq!(ran.code, 2, "{stdin:?}");
        assert!(ran.stderr.contains("no token on stdin"), "{}", ran.stderr);
    }
    let ran = Cli::new(&["revoke", "--api-url", &url])
        .stdin("{\"token\": \"ghs_x\"}\n")
        .run();
    assert_eq!(ran.code, 2);
    assert!(
        ran.stderr.contains("line 1 of stdin is not a token"),
        "{}",
        ran.stderr
    );
    assert!(!ran.stderr.contains("ghs_x"), "{}", ran.stderr);
    refused.assert_calls(0);

    let ran = Cli::new(&["revoke", "--api-url", &url])
        .stdin("ghs_expired\n")
        .run();
    assert_eq!(ran.code, 1);
    assert!(
        ran.stderr
            .contains("DELETE /installation/token answered HTTP 401: Bad credentials"),
        "{}",
        ran.stderr
    );
    refused.assert_calls(1);
}

/// `git-credential OPERATION` for `acme/site` from `gh`, as git runs the helper; the key
/// still to be given.
fn credential(gh: &FakeGitHub, operation: &str) -> Cli {
    Cli::new(&["git-credential", operation])
        .app(&gh.url())
        .args(&["--repositories", "acme/site"])
}

/// `host=127.0.0.1:PORT`, as git sends it for the fake GitHub.
fn host_of(gh: &FakeGitHub) -> String {
    gh.url().trim_start_matches("http://").to_string()
}

#[test]
fn git_credential_get_answers_for_the_apis_host() {
    let gh = FakeGitHub::start();
    let flow = gh.flow("acme", &["site"], &[], &[(11, "site")], None);
    let host = host_of(&gh);
    let ran = credential(&gh, "get")
        .key_file()
        .stdin(&format!(
            "protocol=http\nhost={host}\npath=acme/site.git\n\n"
        ))
        .run();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(
        ran.stdout,
        format!(
            "username=x-access-token\npassword={FINAL_TOKEN}\npassword_expiry_utc={EXPIRY_UNIX}\n"
        )
    );
    flow.final_token.assert_calls(1);
    flow.revoke_final.assert_calls(0);
}

#[test]
fn git_credential_is_silent_for_other_hosts_and_for_store_and_erase() {
    let gh = FakeGitHub::start();
    let any = gh.catch_all();
    let host = host_of(&gh);
    let other_port = format!("127.0.0.1:{}", gh.server.port() + 1);
    for (operation, stdin) in [
        ("get", "protocol=https\nhost=github.com\n\n".to_string()),
        ("get", format!("protocol=https\nhost={host}\n\n")),
        ("get", format!("protocol=http\nhost={other_port}\n\n")),
        ("get", "protocol=http\n".to_string()),
        (
            "store",
            format!("protocol=http\nhost={host}\nusername=x-access-token\npassword=ghs_old\n\n"),
        ),
        ("erase", format!("protocol=http\nhost={host}\n\n")),
    ] {
        let ran = credential(&gh, operation).key_file().stdin(&stdin).run();
        assert_eq!(ran.code, 0, "{operation} {stdin:?}: {}", ran.stderr);
        assert_eq!(ran.stdout, "", "{operation} {stdin:?}");
        assert_eq!(ran.stderr, "", "{operation} {stdin:?}");
    }
    any.assert_calls(0);
}

#[test]
fn git_credential_failures_are_reported_with_the_same_exit_statuses() {
    let gh = FakeGitHub::start();
    let lookup = gh.server.mock(|when, then| {
        when.method(GET).path("/repos/acme/site/installation");
        then.status(404)
            .github_json(json!({"message": "Not Found"}));
    });
    let host = host_of(&gh);
    let ask = format!("protocol=http\nhost={host}\n\n");
    let ran = credential(&gh, "get").key_file().stdin(&ask).run();
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    assert_eq!(ran.stdout, "");
    assert!(ran.stderr.contains("not installed"), "{}", ran.stderr);
    lookup.assert_calls(1);

    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.pem").display().to_string();
    let ran = credential(&gh, "get")
        .args(&["--private-key-file", &missing])
        .stdin(&ask)
        .run();
    assert_eq!(ran.code, 2, "{}", ran.stderr);
    assert_eq!(ran.stdout, "");
    lookup.assert_calls(1);
}

/// The same conversation through a real `git credential fill`, helper configured the way
/// the documentation says.
#[test]
fn git_credential_fill_with_a_real_git() {
    if Command::new("git").arg("--version").output().is_err() {
        return not_checked(
            "git credential fill with a real git",
            "git is not installed",
            "APP_TOKEN_REQUIRE_GIT",
        );
    }
    let gh = FakeGitHub::start();
    let flow = gh.flow("acme", &["site"], &[], &[(11, "site")], None);
    let home = tempfile::tempdir().unwrap();
    let key = home.path().join("key.pem");
    std::fs::write(&key, KEY_PKCS1).unwrap();
    let helper = format!(
        "!'{BIN}' git-credential --app-id {APP_ID} --private-key-file '{}' --repositories acme/site --api-url {}",
        key.display(),
        gh.url()
    );
    let host = host_of(&gh);
    let path = std::env::var("PATH").unwrap_or_default();
    let git_env = |home: &Path| -> Vec<(String, String)> {
        vec![
            ("PATH".into(), path.clone()),
            ("HOME".into(), home.display().to_string()),
            ("GIT_CONFIG_NOSYSTEM".into(), "1".into()),
            ("GIT_CONFIG_GLOBAL".into(), "/dev/null".into()),
            ("GIT_TERMINAL_PROMPT".into(), "0".into()),
        ]
    };
    let mut child = Command::new("git")
        .args(["-c", "credential.helper=", "-c"])
        .arg(format!("credential.helper={helper}"))
        .args(["credential", "fill"])
        .env_clear()
        .envs(git_env(home.path()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("protocol=http\nhost={host}\npath=acme/site.git\n\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    for expected in [
        "username=x-access-token".to_string(),
        format!("password={FINAL_TOKEN}"),
        format!("host={host}"),
        format!("password_expiry_utc={EXPIRY_UNIX}"),
    ] {
        assert!(lines.contains(&expected.as_str()), "{stdout}");
    }
    flow.final_token.assert_calls(1);
}
