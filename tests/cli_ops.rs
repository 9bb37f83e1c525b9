//! The operator commands, run as a user runs them against a fake GitHub on 127.0.0.1:
//! `installations` (table and JSON, paged, with an enterprise), `jwt`, `exec` (the token
//! handed to a command, revoked after it, signals passed on) and `completions`.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::*;
use httpmock::prelude::*;
use serde_json::{json, Value};

/// The command line with the test's PATH, for the commands `exec` runs.
fn command(args: &[&str]) -> Cli {
    Cli::new(args).path()
}

/// `SUBCOMMAND --app-id APP_ID --api-url API`, with the test's PATH.
fn app(subcommand: &str, api: &str) -> Cli {
    command(&[subcommand]).app(api)
}

/// Asserts that `text` contains each of `parts`.
fn says(text: &str, parts: &[&str]) {
    for part in parts {
        assert!(text.contains(part), "no {part:?} in: {text}");
    }
}

/// 100 installations on organisations for the first page, then a user's, a suspended
/// one and an enterprise's on the second.
fn two_pages() -> (Vec<Value>, Vec<Value>) {
    let first: Vec<Value> = (1..=100)
        .map(|n| installation_json(n, &format!("org{n}"), &json!({"metadata": "read"})))
        .collect();
    let mut suspended = installation_json(
        202,
        "acme",
        &json!({"contents": "write", "metadata": "read"}),
    );
    suspended["suspended_at"] = json!("2025-06-01T00:00:00Z");
    let second = vec![
        user_installation_json(201, "octocat", &json!({"issues": "write"})),
        suspended,
        enterprise_installation_json(
            203,
            "big-co",
            &json!({"enterprise_custom_properties_for_organizations": "write"}),
        ),
    ];
    (first, second)
}

#[test]
fn installations_prints_an_aligned_table_of_every_page() {
    let gh = FakeGitHub::start();
    let (first, second) = two_pages();
    let page1 = gh.installations_page(1, &first);
    let page2 = gh.installations_page(2, &second);
    let page3 = gh.installations_page(3, &[]);
    let url = gh.url();
    let ran = app("installations", &url).key_env().run();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(ran.stderr, "");
    let lines: Vec<&str> = ran.stdout.lines().collect();
    assert_eq!(lines.len(), 1 + 103, "{}", ran.stdout);
    assert_eq!(
        lines[0],
        "ID   ACCOUNT  TYPE          REPOSITORIES  SUSPENDED  PERMISSIONS"
    );
    assert_eq!(
        lines[1],
        "1    org1     Organization  selected      no         metadata: read"
    );
    assert_eq!(
        lines[101..],
        [
            "201  octocat  User          all           no         issues: write",
            "202  acme     Organization  selected      yes        contents: write, metadata: read",
            "203  big-co   Enterprise    selected      no         enterprise_custom_properties_for_organizations: write",
        ]
    );
    page1.assert_calls(1);
    page2.assert_calls(1);
    page3.assert_calls(0);
}

#[test]
fn installations_json_is_one_array_with_the_enterprise_by_its_slug() {
    let gh = FakeGitHub::start();
    let (first, second) = two_pages();
    gh.installations_page(1, &first);
    gh.installations_page(2, &second);
    let url = gh.url();
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("key.pem");
    std::fs::write(&key, KEY_PKCS8).unwrap();
    let key = key.display().to_string();
    let ran = app("installations", &url)
        .args(&["--private-key-file", &key, "--json"])
        .run();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(ran.stdout.lines().count(), 1, "one line: {}", ran.stdout);
    let got: Vec<Value> = serde_json::from_str(&ran.stdout).unwrap();
    assert_eq!(got.len(), 103);
    assert_eq!(
        got[102],
        json!({
            "id": 203,
            "account": "big-co",
            "account_type": "Enterprise",
            "repository_selection": "selected",
            "permissions": {"enterprise_custom_properties_for_organizations": "write"},
            "suspended": false,
            "suspended_at": null,
        })
    );
    assert_eq!(got[101]["suspended"], true);
    assert_eq!(got[101]["suspended_at"], "2025-06-01T00:00:00Z");
    assert_eq!(got[100]["account_type"], "User");
    assert_eq!(got[0]["account"], "org1");
}

#[test]
fn installations_of_an_app_with_none_is_a_header_alone() {
    let gh = FakeGitHub::start();
    let page1 = gh.installations_page(1, &[]);
    let url = gh.url();
    let ran = app("installations", &url).key_env().run();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(
        ran.stdout,
        "ID  ACCOUNT  TYPE  REPOSITORIES  SUSPENDED  PERMISSIONS\n"
    );
    let json = app("installations", &url).args(&["--json"]).key_env().run();
    assert_eq!((json.code, json.stdout.as_str()), (0, "[]\n"));
    page1.assert_calls(2);
}

#[test]
fn installations_refused_exits_1_and_bad_input_exits_2_before_any_request() {
    let gh = FakeGitHub::start();
    let refused = gh.server.mock(|when, then| {
        when.method(GET).path("/app/installations");
        then.status(401)
            .header("x-github-request-id", "ABCD:2")
            .github_json(json!({"message": "A JSON web token could not be decoded"}));
    });
    let url = gh.url();
    let ran = app("installations", &url).key_env().run();
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    assert_eq!(ran.stdout, "");
    says(
        &ran.stderr,
        &[
            "error: could not list the app's installations: ",
            "did not accept the app's JWT",
            "X-GitHub-Request-Id: ABCD:2",
        ],
    );
    refused.assert_calls(1);

    let quiet = FakeGitHub::start();
    let any = quiet.catch_all();
    let quiet_url = quiet.url();
    for (cli, expected) in [
        (
            app("installations", &quiet_url),
            "the app's private key is required",
        ),
        (
            command(&["installations", "--app-id", "nope", "--api-url", &quiet_url]).key_env(),
            "--app-id: must be the app's numeric App ID or its Client ID",
        ),
        (
            app("installations", "http://api.example.com").key_env(),
            "--api-url (or GITHUB_API_URL): must use https",
        ),
        (
            app("installations", &quiet_url)
                .args(&["--owner", "acme"])
                .key_env(),
            "unexpected argument '--owner'",
        ),
    ] {
        let ran = cli.run();
        let args = cli.arguments();
        assert_eq!(ran.code, 2, "{args:?}: {}", ran.stderr);
        assert_eq!(ran.stdout, "", "{args:?}");
        says(&ran.stderr, &[expected]);
        assert!(
            !ran.stderr.contains("PRIVATE KEY-----\nMII"),
            "{}",
            ran.stderr
        );
    }
    any.assert_calls(0);
}

#[test]
fn jwt_prints_one_signed_jwt_that_github_would_accept() {
    for app_id in [APP_ID, CLIENT_ID] {
        let before = unix_now();
        // An API that does not answer: jwt makes no request.
        let ran = command(&["jwt", "--app-id", app_id])
            .key_env()
            .env("GITHUB_API_URL", "http://127.0.0.1:9")
            .run();
        let after = unix_now();
        assert_eq!(ran.code, 0, "{}", ran.stderr);
        assert_eq!(ran.stderr, "");
        let jwt = ran.stdout.strip_suffix('\n').expect("one line");
        assert!(!jwt.contains('\n'), "{}", ran.stdout);
        let (iat, exp, iss) = jwt_claims(jwt).expect("an RS256 JWT that the public key verifies");
        assert_eq!(iss, app_id);
        assert!(
            (before - 60..=after - 60).contains(&iat),
            "iat {iat} is not 60 s back from [{before}, {after}]"
        );
        assert!(exp > after && exp - iat <= 600, "iat {iat}, exp {exp}");
    }
}

#[test]
fn jwt_without_a_usable_key_exits_2_and_prints_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let public = dir.path().join("public.pem");
    std::fs::write(&public, PUBLIC_KEY).unwrap();
    let public = public.display().to_string();
    for (cli, expected) in [
        (
            command(&["jwt", "--app-id", APP_ID]),
            "the app's private key is required",
        ),
        (
            command(&["jwt", "--app-id", APP_ID, "--private-key-file", &public]),
            "is a public key",
        ),
        (command(&["jwt"]).key_env(), "--app-id <ID>"),
    ] {
        let ran = cli.run();
        let args = cli.arguments();
        assert_eq!(ran.code, 2, "{args:?}: {}", ran.stderr);
        assert_eq!(ran.stdout, "");
        says(&ran.stderr, &[expected]);
    }
}

/// The fake's whole flow for a token for `acme/site`.
fn site(gh: &FakeGitHub) -> Flow<'_> {
    gh.flow("acme", &["site"], &[], &[(11, "site")], None)
}

/// `exec` for `acme/site` from `gh`, the key in the environment, then `command`.
fn exec(gh: &FakeGitHub, command: &[&str]) -> Cli {
    app("exec", &gh.url())
        .args(&["--repositories", "acme/site", "--"])
        .args(command)
        .key_env()
}

/// A shell script for `sh -c`, with `$1` its first argument.
const HANDS_OVER: &str = r#"test "$GH_TOKEN" = "$GITHUB_TOKEN" && printf %s "$GH_TOKEN" > "$1"
test -z "${APP_TOKEN_PRIVATE_KEY+set}" || echo "the key leaked" > "$1"
echo "the command's own output"
exit 5"#;

#[test]
fn exec_hands_the_token_to_the_command_revokes_it_and_exits_with_its_status() {
    let gh = FakeGitHub::start();
    let flow = site(&gh);
    let dir = tempfile::tempdir().unwrap();
    let seen = dir.path().join("seen");
    let ran = exec(&gh, &["sh", "-c", HANDS_OVER, "sh", seen.to_str().unwrap()]).run();
    assert_eq!(ran.code, 5, "{}", ran.stderr);
    assert_eq!(
        std::fs::read_to_string(&seen).unwrap(),
        FINAL_TOKEN,
        "GH_TOKEN and GITHUB_TOKEN are the token, and the key is not passed on"
    );
    assert_eq!(ran.stdout, "the command's own output\n");
    assert_eq!(ran.stderr, "");
    flow.final_token.assert_calls(1);
    flow.revoke_final.assert_calls(1);
}

#[test]
fn exec_passes_stdin_through_and_a_success_exits_0() {
    let gh = FakeGitHub::start();
    let flow = site(&gh);
    let ran = exec(&gh, &["cat"]).stdin("from stdin\n").run();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(ran.stdout, "from stdin\n");
    flow.revoke_final.assert_calls(1);
}

#[test]
fn exec_accepts_an_enterprise() {
    let gh = FakeGitHub::start();
    let lookup = gh.enterprise_installation("big-co", 909);
    let minted = gh.access_token(
        909,
        json!({}),
        json!({"token": FINAL_TOKEN, "expires_at": "2099-01-01T00:00:00Z", "permissions": {"metadata": "read"}}),
    );
    gh.bot_user();
    let revoked = gh.revoke(FINAL_TOKEN);
    let url = gh.url();
    let script = r#"test "$GITHUB_TOKEN" = "$1""#;
    let ran = app("exec", &url)
        .args(&[
            "--enterprise",
            "big-co",
            "--",
            "sh",
            "-c",
            script,
            "sh",
            FINAL_TOKEN,
        ])
        .key_env()
        .run();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    lookup.assert_calls(1);
    minted.assert_calls(1);
    revoked.assert_calls(1);
}

#[test]
fn exec_across_owners_is_bad_usage_before_any_request() {
    let gh = FakeGitHub::start();
    let any = gh.catch_all();
    let url = gh.url();
    let dir = tempfile::tempdir().unwrap();
    let ran_marker = dir.path().join("ran");
    let marker = ran_marker.display().to_string();
    for (cli, expected) in [
        (
            app("exec", &url).args(&[
                "--repositories",
                "acme/api widgets/web",
                "--",
                "touch",
                &marker,
            ]),
            "the repositories span 2 owners (acme, widgets)",
        ),
        (
            // The command must come after `--`.
            app("exec", &url).args(&["--owner", "acme", "touch", &marker]),
            "unexpected argument 'touch'",
        ),
    ] {
        let cli = cli.key_env();
        let ran = cli.run();
        let args = cli.arguments();
        assert_eq!(ran.code, 2, "{args:?}: {}", ran.stderr);
        says(&ran.stderr, &[expected]);
        assert_eq!(ran.stdout, "");
    }
    assert!(!ran_marker.exists(), "the command ran");
    any.assert_calls(0);
}

#[test]
fn exec_of_a_missing_command_exits_127_and_still_revokes() {
    let gh = FakeGitHub::start();
    let flow = site(&gh);
    let ran = exec(&gh, &["./no-such-command-here"]).run();
    assert_eq!(ran.code, 127, "{}", ran.stderr);
    assert!(
        ran.stderr
            .starts_with("error: cannot run ./no-such-command-here: "),
        "{}",
        ran.stderr
    );
    assert!(!ran.stderr.contains(FINAL_TOKEN));
    flow.revoke_final.assert_calls(1);
}

#[test]
fn exec_of_a_command_killed_by_a_signal_exits_128_plus_it() {
    let gh = FakeGitHub::start();
    let flow = site(&gh);
    let ran = exec(&gh, &["sh", "-c", "kill -KILL $$"]).run();
    assert_eq!(ran.code, 128 + 9, "{}", ran.stderr);
    flow.revoke_final.assert_calls(1);
}

#[test]
fn exec_warns_when_the_revocation_fails_and_keeps_the_commands_status() {
    let gh = FakeGitHub::start();
    let mut flow = site(&gh);
    flow.revoke_final.delete();
    let refused = gh.server.mock(|when, then| {
        when.method(DELETE).path("/installation/token");
        then.status(403)
            .github_json(json!({"message": "Resource not accessible by integration"}));
    });
    let ran = exec(&gh, &["sh", "-c", "exit 3"]).run();
    assert_eq!(ran.code, 3, "{}", ran.stderr);
    assert!(
        ran.stderr.starts_with(
            "warning: the token was not revoked, and stays valid until 2099-01-01T00:00:00Z: "
        ),
        "{}",
        ran.stderr
    );
    assert!(ran.stderr.contains("HTTP 403"), "{}", ran.stderr);
    assert!(!ran.stderr.contains(FINAL_TOKEN), "{}", ran.stderr);
    refused.assert_calls(1);
}

/// Sends `signal` to `app-token exec` while its command runs: the command must get it
/// (it traps it, writes which it got, and exits 7), and the token must still be revoked.
fn exec_passes_on(signal: i32, name: &str) {
    let gh = FakeGitHub::start();
    let flow = site(&gh);
    let dir = tempfile::tempdir().unwrap();
    let (ready, got) = (dir.path().join("ready"), dir.path().join("got"));
    let script = format!(
        r#"trap 'echo {name} > "$2"; exit 7' {name}
touch "$1"
# At most 20 s, so that a signal not passed on fails the test instead of hanging it.
i=0
while [ "$i" -lt 400 ]; do sleep 0.05; i=$((i + 1)); done
exit 9"#,
        name = name.trim_start_matches("SIG")
    );
    let child = exec(
        &gh,
        &[
            "sh",
            "-c",
            &script,
            "sh",
            ready.to_str().unwrap(),
            got.to_str().unwrap(),
        ],
    )
    .command()
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    assert!(
        wait_for_file(&ready, Duration::from_secs(20)),
        "the command never started"
    );
    flow.revoke_final.assert_calls(0);
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(7), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&got).unwrap().trim(),
        name.trim_start_matches("SIG")
    );
    flow.revoke_final.assert_calls(1);
    assert!(!stdout.contains(FINAL_TOKEN) && !stderr.contains(FINAL_TOKEN));
}

#[test]
fn exec_passes_sigterm_on_to_the_command_and_still_revokes() {
    exec_passes_on(libc::SIGTERM, "SIGTERM");
}

#[test]
fn exec_passes_sigint_on_to_the_command_and_still_revokes() {
    exec_passes_on(libc::SIGINT, "SIGINT");
}

/// The secret of an `exec` whose key is in the environment and which runs in a job that
/// may request OIDC tokens: a line from the middle of the PEM, and the runner's token.
const OIDC_REQUEST_TOKEN: &str = "oidc-request-token-exec-must-keep-from-its-command";

fn exec_secrets() -> [&'static str; 2] {
    let pem_line = KEY_PKCS1.lines().nth(5).expect("a PEM of many lines");
    [pem_line, OIDC_REQUEST_TOKEN]
}

/// The secrets of [`exec_secrets`] found in `text`, named.
fn secrets_in(text: &str) -> Vec<&'static str> {
    let [pem_line, oidc] = exec_secrets();
    let mut found = Vec::new();
    if text.contains(pem_line) {
        found.push("the private key");
    }
    if text.contains(oidc) {
        found.push("ACTIONS_ID_TOKEN_REQUEST_TOKEN");
    }
    found
}

/// What `exec`'s command can read of `exec` itself: its parent's /proc/PID/environ, then
/// every writable mapping of its memory (through /proc/PID/maps and /proc/PID/mem); a
/// line says which could not be opened.
const READS_ITS_PARENT: &str = r#"p=$PPID
echo "== environ"
cat "/proc/$p/environ" 2>/dev/null || echo "environ: unreadable"
echo
echo "== mem"
if maps=$(cat "/proc/$p/maps" 2>/dev/null); then
  printf '%s\n' "$maps" | while read -r range perms rest; do
    case $perms in rw*) ;; *) continue ;; esac
    start=$((0x${range%-*})); end=$((0x${range#*-}))
    dd if="/proc/$p/mem" bs=65536 iflag=skip_bytes,count_bytes skip="$start" count=$((end - start)) 2>/dev/null
  done
else
  echo "maps: unreadable"
fi
dd if="/proc/$p/mem" count=0 2>/dev/null || echo "mem: unreadable"
echo "== done""#;

/// Runs `exec` of [`READS_ITS_PARENT`] with the key and the OIDC request token in its
/// environment, as `command` starts it; gives what the command read.
fn exec_reading_its_parent(gh: &FakeGitHub, command: Command) -> String {
    let out = exec(gh, &["sh", "-c", READS_ITS_PARENT])
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", OIDC_REQUEST_TOKEN)
        .env("APP_TOKEN_TEST_VISIBLE", "a-variable-exec-keeps")
        .command_through(command)
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs");
    let read = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        read.ends_with("== done\n"),
        "the command did not run to its end: {stderr}"
    );
    read
}

/// As the same user, `exec`'s command finds none of what `exec` withheld from it in
/// `exec` itself: not in its environment as /proc shows it, not in its memory. It could
/// read both (the key, and the runner's OIDC request token) before `exec` made itself
/// non-dumpable. Run without CAP_SYS_PTRACE, which reads any process (as `nobody` under
/// root).
#[test]
fn exec_s_command_cannot_read_what_exec_withheld_from_exec_itself() {
    let what = "exec's command reading /proc/$PPID/environ and /proc/$PPID/mem";
    let Some(unprivileged) = Unprivileged::new(bin(), what) else {
        return;
    };
    let gh = FakeGitHub::start();
    let flow = site(&gh);
    let read = exec_reading_its_parent(&gh, unprivileged.command(&[]));
    let found = secrets_in(&read);
    assert!(
        found.is_empty(),
        "the command read {found:?} from exec ({} bytes read)",
        read.len()
    );
    for unreadable in ["environ: unreadable", "mem: unreadable", "maps: unreadable"] {
        assert!(
            read.contains(unreadable),
            "no {unreadable:?} ({} bytes read)",
            read.len()
        );
    }
    flow.revoke_final.assert_calls(1);
}

/// What /proc/PID/environ shows of `exec` (the block set up at execve, which unsetenv
/// leaves as it was) no longer holds what it withheld: `exec` overwrites it. Seen by a
/// command that can read it anyway, run with CAP_SYS_PTRACE (root's).
#[test]
fn exec_s_original_environment_block_keeps_no_withheld_value() {
    let gh = FakeGitHub::start();
    let flow = site(&gh);
    let read = exec_reading_its_parent(&gh, Command::new(BIN));
    let environ = read.split("== mem").next().expect("the environment part");
    if environ.contains("environ: unreadable") {
        not_checked(
            "the overwritten environment block of exec",
            "this process has no CAP_SYS_PTRACE to read another's non-dumpable /proc/PID/environ",
            REQUIRE_PROC,
        );
        return;
    }
    assert!(
        environ.contains("APP_TOKEN_TEST_VISIBLE=a-variable-exec-keeps"),
        "not the environment block: {environ}"
    );
    let found = secrets_in(environ);
    assert!(found.is_empty(), "{found:?} in exec's environment block");
    assert!(
        !environ.contains("APP_TOKEN_PRIVATE_KEY=")
            && !environ.contains("ACTIONS_ID_TOKEN_REQUEST_TOKEN="),
        "a withheld variable's name is left in exec's environment block"
    );
    flow.revoke_final.assert_calls(1);
}

#[test]
fn completions_for_every_shell_know_the_commands() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let ran = command(&["completions", shell]).run();
        assert_eq!(ran.code, 0, "{shell}: {}", ran.stderr);
        assert_eq!(ran.stderr, "", "{shell}");
        for word in ["installations", "exec", "jwt", "completions"] {
            assert!(ran.stdout.contains(word), "{shell} lacks {word}");
        }
    }
    let ran = command(&["completions", "tcsh"]).run();
    assert_eq!(ran.code, 2);
    assert_eq!(ran.stdout, "");
    assert!(
        ran.stderr
            .contains("[possible values: bash, zsh, fish, powershell]"),
        "{}",
        ran.stderr
    );
}

#[test]
fn help_of_each_new_command_has_examples() {
    for (command, example) in [
        (
            "installations",
            "app-token installations --app-id 123456 --json",
        ),
        ("jwt", "JWT=$(app-token jwt --app-id 123456)"),
        ("exec", "-- gh pr list --repo acme/site"),
        ("completions", "source <(app-token completions bash)"),
    ] {
        let ran = Cli::new(&[command, "--help"]).path().run();
        assert_eq!(ran.code, 0, "{command}");
        assert!(ran.stdout.contains("Examples:"), "{}", ran.stdout);
        assert!(ran.stdout.contains(example), "{}", ran.stdout);
    }
}

#[test]
fn jwt_and_installations_sign_with_a_kms_key_too() {
    let test = "jwt_and_installations_sign_with_a_kms_key_too";
    let Some(moto) = Moto::start() else {
        not_checked(
            test,
            "moto_server is not installed",
            "APP_TOKEN_REQUIRE_MOTO",
        );
        return;
    };
    let (_, public_key) = moto.signing_key(Some("alias/ops-app"));
    let kms = [
        ("AWS_REGION", AWS_REGION),
        ("AWS_ENDPOINT_URL", moto.url.as_str()),
        ("AWS_ACCESS_KEY_ID", AWS_ACCESS_KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", AWS_SECRET_ACCESS_KEY),
    ];
    let key = ["--aws-kms-key-id", "alias/ops-app"];

    let ran = command(&["jwt", "--app-id", APP_ID])
        .args(&key)
        .envs(&kms)
        .run();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let (iat, exp, iss) = jwt_claims_with(ran.stdout.trim(), &public_key)
        .expect("a JWT that the KMS key's public half verifies");
    assert_eq!((iss.as_str(), exp - iat), (APP_ID, 600));

    let gh = FakeGitHub::verifying_with(&public_key);
    let page1 = gh.installations_page(1, &two_pages().1);
    let url = gh.url();
    let ran = app("installations", &url)
        .args(&["--json"])
        .args(&key)
        .envs(&kms)
        .run();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(
        serde_json::from_str::<Vec<Value>>(&ran.stdout)
            .unwrap()
            .len(),
        3
    );
    assert!(!ran.stderr.contains(AWS_SECRET_ACCESS_KEY));
    page1.assert_calls(1);
}
