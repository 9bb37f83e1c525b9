//! No token outlives the step, whatever happens: a cancel while another request waits to
//! retry, a cancelled post step, a hostile `Retry-After`, an unreadable token answer, a
//! helper that could not be revoked, an installation id on another account. The built
//! binary runs as the runner starts it, against a fake GitHub on 127.0.0.1.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::*;
use app_token::github::{Auth, Client, Credential, Retry, Settings};
use app_token::jwt::Signer;
use app_token::sign::pem::PemKey;
use app_token::transport::Proxy;
use http::Method;
use httpmock::prelude::*;
use httpmock::Mock;
use serde_json::{json, Value};

/// Starts `bin` with `env` only, its output piped.
fn spawn(bin: &Path, env: Vec<(String, String)>) -> Child {
    Command::new(bin)
        .env_clear()
        .envs(env)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts")
}

/// Waits for `done`, failing the test after 20 s.
fn wait_for(what: &str, done: impl Fn() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < Duration::from_secs(20), "{what}: never");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn kill(child: &Child, signal: i32) {
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
}

fn text(out: &Output) -> String {
    format!(
        "{}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// One owner's names resolved by a helper, then the final token, as `flow` mocks them,
/// with an installation id of its own.
fn owner_flow<'a>(
    gh: &'a FakeGitHub,
    owner: &str,
    name: &str,
    installation: u64,
    id: u64,
) -> (Mock<'a>, Mock<'a>, Mock<'a>, Mock<'a>) {
    gh.repo_installation(owner, name, installation);
    let helper_token = format!("ghs_helper_{owner}");
    let final_token = format!("ghs_final_{owner}");
    let helper = gh.access_token(
        installation,
        json!({"repositories": [name], "permissions": {"metadata": "read"}}),
        token_json(
            &helper_token,
            &[repo_json(id, owner, name)],
            &json!({"metadata": "read"}),
        ),
    );
    let final_token_mock = gh.access_token(
        installation,
        json!({"repository_ids": [id]}),
        token_json(
            &final_token,
            &[repo_json(id, owner, name)],
            &installation_permissions(),
        ),
    );
    (
        helper,
        gh.revoke(&helper_token),
        final_token_mock,
        gh.revoke(&final_token),
    )
}

/// Point 1: acme's token is minted while widgets' helper request sleeps on
/// `Retry-After: 20`. A SIGINT must revoke acme's tokens at once, stop widgets' retry,
/// and exit well within the cancel bound.
#[test]
fn a_cancel_revokes_at_once_while_another_request_waits_to_retry() {
    let gh = FakeGitHub::start();
    gh.bot_user();
    let (_, acme_helper_revoked, acme_final, acme_final_revoked) =
        owner_flow(&gh, "acme", "site", 1, 11);
    gh.repo_installation("widgets", "web", 2);
    let limited = gh.server.mock(|when, then| {
        when.method(POST).path("/app/installations/2/access_tokens");
        then.status(429)
            .header("retry-after", "20")
            .github_json(json!({"message": "slow down"}));
    });
    let step = Step::new();
    let child = spawn(
        Path::new(BIN),
        step.env(&gh.url(), &[("repositories", "acme/site widgets/web")]),
    );
    wait_for("acme's token and widgets' 429", || {
        acme_final.calls() == 1 && limited.calls() == 1
    });
    std::thread::sleep(Duration::from_millis(200));
    kill(&child, libc::SIGINT);
    let sent = Instant::now();
    let out = child.wait_with_output().unwrap();
    let took = sent.elapsed();
    let log = text(&out);
    eprintln!("SIGINT to exit, every minted token revoked: {took:?}");
    assert_eq!(out.status.code(), Some(130), "{log}");
    assert!(took < Duration::from_millis(1500), "took {took:?}: {log}");
    acme_final_revoked.assert_calls(1);
    acme_helper_revoked.assert_calls(1);
    assert!(!log.contains("did not finish"), "{log}");
    assert!(revoked_count(&log) >= 1, "{log}");
    std::thread::sleep(Duration::from_millis(300));
    limited.assert_calls(1);
    assert!(step.outputs().is_empty());
}

/// Point 1, the other half: a token whose answer arrives after the cancel is revoked
/// when it arrives, and what was live before is revoked without waiting for it.
#[test]
fn a_cancel_revokes_what_was_live_at_once_and_what_arrives_later() {
    let gh = FakeGitHub::start();
    gh.bot_user();
    let (_, _, acme_final, acme_final_revoked) = owner_flow(&gh, "acme", "site", 1, 11);
    gh.repo_installation("widgets", "web", 2);
    let slow = gh.server.mock(|when, then| {
        when.method(POST).path("/app/installations/2/access_tokens");
        then.status(201)
            .delay(Duration::from_millis(1500))
            .github_json(token_json(
                "ghs_lateWidgetsHelper",
                &[repo_json(22, "widgets", "web")],
                &json!({"metadata": "read"}),
            ));
    });
    let late_revoked = gh.revoke("ghs_lateWidgetsHelper");
    let step = Step::new();
    let child = spawn(
        Path::new(BIN),
        step.env(&gh.url(), &[("repositories", "acme/site widgets/web")]),
    );
    wait_for("acme's token while widgets' is in flight", || {
        acme_final.calls() == 1 && slow.calls() == 1
    });
    let sent = Instant::now();
    kill(&child, libc::SIGINT);
    wait_for("acme's revocation", || acme_final_revoked.calls() == 1);
    assert_eq!(
        late_revoked.calls(),
        0,
        "acme's token was revoked before widgets' answer came"
    );
    assert!(sent.elapsed() < Duration::from_millis(1000));
    let out = child.wait_with_output().unwrap();
    let log = text(&out);
    assert_eq!(out.status.code(), Some(130), "{log}");
    late_revoked.assert_calls(1);
    // acme's final and widgets' late helper; acme's helper too when the cancel cut its
    // revocation short.
    assert!(revoked_count(&log) >= 2, "{log}");
    assert!(!log.contains("ghs_lateWidgetsHelper"), "{log}");
}

/// N in the log's "Revoked N installation token(s)", or 0.
fn revoked_count(log: &str) -> usize {
    log.split("Revoked ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn saved_live_token(step: &Step, token: &str) {
    step.save_state(&json!([{"token": token, "expires_at": "2099-01-01T00:00:00Z"}]));
}

/// Point 2: a SIGINT while post's revocation is on the wire does not abandon it: the
/// 503 that comes back is retried, the token is revoked, and post exits 130.
#[test]
fn post_goes_on_revoking_after_sigint_and_retries_a_5xx() {
    let gh = FakeGitHub::start();
    let unavailable = gh.failing_first(1, |when, then| {
        when.method(DELETE).path("/installation/token");
        then.status(503)
            .delay(Duration::from_millis(1000))
            .github_json(json!({"message": "Service unavailable"}));
    });
    let revoked = gh.revoke(FINAL_TOKEN);
    let step = Step::new();
    saved_live_token(&step, FINAL_TOKEN);
    let child = spawn(
        &step.post_entrypoint(Path::new(BIN)),
        step.post_env(&gh.url(), &[]),
    );
    std::thread::sleep(Duration::from_millis(400));
    kill(&child, libc::SIGINT);
    let out = child.wait_with_output().unwrap();
    let log = text(&out);
    assert_eq!(out.status.code(), Some(130), "{log}");
    unavailable.assert_calls(1);
    revoked.assert_calls(1);
    assert!(
        log.contains("SIGINT received: revoking goes on for up to 5 s"),
        "{log}"
    );
    assert!(log.contains("Revoked 1 installation token"), "{log}");
}

/// Point 2, its bounds: a SIGTERM after the SIGINT stops post at once; without one, the
/// cancel bound (5 s) does.
#[test]
fn post_stops_at_a_sigterm_after_sigint_or_at_the_bound() {
    let gh = FakeGitHub::start();
    gh.server.mock(|when, then| {
        when.method(DELETE).path("/installation/token");
        then.status(204).delay(Duration::from_secs(30));
    });
    for sigterm in [true, false] {
        let step = Step::new();
        saved_live_token(&step, FINAL_TOKEN);
        let child = spawn(
            &step.post_entrypoint(Path::new(BIN)),
            step.post_env(&gh.url(), &[]),
        );
        std::thread::sleep(Duration::from_millis(300));
        kill(&child, libc::SIGINT);
        let first = Instant::now();
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            child_alive(&child),
            "post went on after SIGINT (sigterm: {sigterm})"
        );
        if sigterm {
            kill(&child, libc::SIGTERM);
        }
        let out = child.wait_with_output().unwrap();
        let took = first.elapsed();
        let log = text(&out);
        assert_eq!(out.status.code(), Some(130), "{log}");
        if sigterm {
            assert!(took < Duration::from_millis(1500), "{took:?}");
            assert!(
                log.contains("SIGTERM received before the revocation finished"),
                "{log}"
            );
        } else {
            assert!(
                took >= Duration::from_millis(4800) && took < Duration::from_secs(7),
                "{took:?}"
            );
            assert!(log.contains("did not finish within 5 s of SIGINT"), "{log}");
        }
    }
}

fn child_alive(child: &Child) -> bool {
    // SAFETY: signal 0 only checks that our child exists (and has not been reaped).
    let exists = unsafe { libc::kill(child.id() as i32, 0) } == 0;
    let mut status = 0;
    // SAFETY: a non-blocking wait on our own child, which tells a zombie from a live one.
    let reaped = unsafe { libc::waitpid(child.id() as i32, &mut status, libc::WNOHANG) };
    exists && reaped == 0
}

fn saved_state(step: &Step) -> Vec<Value> {
    let state = file_commands(&step.file("state"));
    serde_json::from_str(state.get("tokens").map(String::as_str).unwrap_or("[]")).unwrap()
}

/// Points 3 and 5: the helper's revocation answers `Retry-After: u64::MAX`. The step must
/// not panic; it delivers the token, saves the helper (masked) for post, and post revokes it.
#[test]
fn a_huge_retry_after_on_the_helpers_revocation_neither_panics_nor_leaves_it_alive() {
    let gh = FakeGitHub::start();
    let hostile = gh.failing_first(1, |when, then| {
        when.method(DELETE)
            .path("/installation/token")
            .header("authorization", format!("Bearer {HELPER_TOKEN}"));
        // Answered after a second, so that the time spent plus the wait overflows.
        then.status(429)
            .delay(Duration::from_millis(1100))
            .header("retry-after", "18446744073709551615")
            .github_json(json!({"message": "slow down"}));
    });
    let flow = gh.flow("acme", &["site"], &[], &[(11, "site")], None);
    let step = Step::new();
    let ran = step.main(Path::new(BIN), &gh.url(), &[]);
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    hostile.assert_calls(1);
    assert_eq!(step.outputs()["token"], FINAL_TOKEN);
    assert!(
        ran.stdout.contains("could not revoke the helper token"),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout.contains(&format!("::add-mask::{HELPER_TOKEN}")),
        "{}",
        ran.stdout
    );
    let first = ran.stdout.find(HELPER_TOKEN).unwrap();
    assert!(ran.stdout[..first].ends_with("::add-mask::"));
    let saved = saved_state(&step);
    assert_eq!(saved.len(), 2, "{saved:?}");
    assert!(saved
        .iter()
        .any(|s| s["token"] == HELPER_TOKEN && s["helper"] == true));

    let post = step.post(Path::new(BIN), &gh.url(), &[]);
    assert_eq!(post.code, 0, "{}", post.stdout);
    assert!(
        post.stdout.contains("Revoked 2 installation token"),
        "{}",
        post.stdout
    );
    flow.revoke_helper.unwrap().assert_calls(1);
    flow.revoke_final.assert_calls(1);
}

/// Point 5 with `skip-token-revoke`: the step's token stays alive, as asked; the helper
/// main could not revoke does not.
#[test]
fn skip_token_revoke_keeps_the_token_but_not_a_helper_main_could_not_revoke() {
    let gh = FakeGitHub::start();
    gh.failing_first(1, |when, then| {
        when.method(DELETE)
            .path("/installation/token")
            .header("authorization", format!("Bearer {HELPER_TOKEN}"));
        then.status(404)
            .github_json(json!({"message": "Not Found"}));
    });
    let flow = gh.flow("acme", &["site"], &[], &[(11, "site")], None);
    let step = Step::new();
    let inputs = [("skip-token-revoke", "true")];
    let ran = step.main(Path::new(BIN), &gh.url(), &inputs);
    assert_eq!(ran.code, 0, "{}", ran.stdout);
    let saved = saved_state(&step);
    assert_eq!(saved.len(), 1, "{saved:?}");
    assert_eq!(saved[0]["token"], HELPER_TOKEN);
    let post = step.post(Path::new(BIN), &gh.url(), &inputs);
    assert_eq!(post.code, 0, "{}", post.stdout);
    flow.revoke_helper.unwrap().assert_calls(1);
    flow.revoke_final.assert_calls(0);
}

/// Point 4: a 201 whose body carries a token but not the documented shape fails the step,
/// and the token it carried is revoked, never printed.
#[test]
fn a_token_answer_that_does_not_parse_is_revoked() {
    let gh = FakeGitHub::start();
    gh.repo_installation("acme", "site", INSTALLATION);
    gh.bot_user();
    gh.access_token(
        INSTALLATION,
        json!({"repositories": ["site"], "permissions": {"metadata": "read"}}),
        token_json(
            HELPER_TOKEN,
            &[repo_json(11, "acme", "site")],
            &json!({"metadata": "read"}),
        ),
    );
    let helper_revoked = gh.revoke(HELPER_TOKEN);
    let unreadable = "ghs_unreadableAnswerToken000000001";
    gh.access_token(
        INSTALLATION,
        json!({"repository_ids": [11]}),
        json!({"token": unreadable, "expires_at": "soon"}),
    );
    let revoked = gh.revoke(unreadable);
    let step = Step::new();
    let ran = step.main(Path::new(BIN), &gh.url(), &[]);
    assert_eq!(ran.code, 1, "{}", ran.stdout);
    let error = ran.line("::error");
    assert!(
        error.contains("GitHub minted a token, but its answer"),
        "{error}"
    );
    assert!(error.contains("is not the JSON expected"), "{error}");
    assert!(error.contains("it was revoked"), "{error}");
    revoked.assert_calls(1);
    helper_revoked.assert_calls(1);
    assert!(!ran.stdout.contains(unreadable), "{}", ran.stdout);
    assert!(step.outputs().is_empty());
}

/// Point 6: `installation-id` on another account than the owner (named, or the current
/// repository's by default) fails, naming both, and its token is revoked.
#[test]
fn an_installation_id_on_another_account_is_refused_and_its_token_revoked() {
    for inputs in [
        vec![("installation-id", "999"), ("repositories", "acme/site")],
        vec![("installation-id", "999")],
    ] {
        let gh = FakeGitHub::start();
        gh.installation_by_id("evil", 999);
        gh.bot_user();
        gh.access_token(
            999,
            json!({"repositories": ["site"], "permissions": {"metadata": "read"}}),
            token_json(
                HELPER_TOKEN,
                &[repo_json(31, "evil", "site")],
                &json!({"metadata": "read"}),
            ),
        );
        let helper_revoked = gh.revoke(HELPER_TOKEN);
        let minted = gh.access_token(
            999,
            json!({"repository_ids": [31]}),
            token_json(
                FINAL_TOKEN,
                &[repo_json(31, "evil", "site")],
                &installation_permissions(),
            ),
        );
        let revoked = gh.revoke(FINAL_TOKEN);
        let step = Step::new();
        let ran = step.main(Path::new(BIN), &gh.url(), &inputs);
        assert_eq!(ran.code, 1, "{inputs:?}: {}", ran.stdout);
        let error = ran.line("::error");
        assert!(
            error.contains(
                "installation 999 is the app's installation on the account evil, not on the account acme"
            ),
            "{error}"
        );
        assert!(!ran.stdout.contains("Created a token"), "{}", ran.stdout);
        assert!(minted.calls() <= 1);
        assert_eq!(
            revoked.calls(),
            minted.calls(),
            "every token minted is revoked"
        );
        helper_revoked.assert_calls(1);
        assert!(step.outputs().is_empty());
        assert!(saved_state(&step).is_empty());
    }
}

/// A client on its own runtime, signing as the test app, with short retry bounds.
fn library_client(url: &str) -> (tokio::runtime::Runtime, Arc<Client>) {
    let rt = app_token::runtime().unwrap();
    let guard = rt.enter();
    let signer = Arc::new(Signer::new(
        Box::new(PemKey::parse(KEY_PKCS8).unwrap()),
        APP_ID,
    ));
    let settings = Settings {
        backoff_base: Duration::from_millis(300),
        backoff_cap: Duration::from_millis(300),
        ..Settings::default()
    };
    let log = app_token::mint::log_sink(|_| {});
    let client = Client::new(url, Some(signer), &Proxy::default(), settings, log).unwrap();
    drop(guard);
    (rt, Arc::new(client))
}

/// Point 1, in the client: a cancel wakes a request waiting to retry, which gives up
/// and says why; nothing new but a revocation is sent; revocations still retry.
#[test]
fn a_cancelled_client_stops_retrying_everything_but_revocations() {
    let gh = FakeGitHub::start();
    let limited = gh.server.mock(|when, then| {
        when.method(POST);
        then.status(429)
            .header("retry-after", "20")
            .github_json(json!({"message": "slow down"}));
    });
    let read = gh.installation_by_id("acme", INSTALLATION);
    let unavailable = gh.failing_first(1, |when, then| {
        when.method(DELETE).path("/installation/token");
        then.status(503);
    });
    let revoked = gh.revoke(FINAL_TOKEN);
    let (rt, client) = library_client(&gh.url());
    rt.block_on(async {
        let body = json!({});
        let started = Instant::now();
        let cancel = async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            client.cancel();
        };
        let (sent, ()) = tokio::join!(
            client.send(
                Method::POST,
                "/app/installations/777/access_tokens",
                Auth::App,
                Some(&body),
                Retry::Create,
            ),
            cancel
        );
        let err = sent.unwrap_err().to_string();
        assert!(started.elapsed() < Duration::from_secs(2), "{err}");
        assert!(err.contains("not retried: the step was cancelled"), "{err}");
        let after = client
            .send(
                Method::GET,
                "/app/installations/777",
                Auth::App,
                None,
                Retry::Idempotent,
            )
            .await
            .unwrap_err()
            .to_string();
        assert!(
            after.contains("not sent: the step was cancelled"),
            "{after}"
        );
        let token = Credential::new(FINAL_TOKEN);
        app_token::github::revoke_token(&client, &token)
            .await
            .expect("a revocation is sent and retried after a cancel");
    });
    limited.assert_calls(1);
    read.assert_calls(0);
    unavailable.assert_calls(1);
    revoked.assert_calls(1);
}

/// Points 1 and 5: a token a cancelled step could not revoke is masked and saved for post,
/// which revokes it.
#[test]
fn a_token_a_cancel_could_not_revoke_is_left_to_post() {
    let gh = FakeGitHub::start();
    let refused = gh.failing_first(1, |when, then| {
        when.method(DELETE)
            .path("/installation/token")
            .header("authorization", format!("Bearer {FINAL_TOKEN}"));
        then.status(404)
            .github_json(json!({"message": "Not Found"}));
    });
    let (minted, revoked, _hanging) = gh.token_then_a_hang(Duration::from_secs(30));
    let step = Step::new();
    let child = spawn(
        Path::new(BIN),
        step.env(&gh.url(), &[("repositories", "101")]),
    );
    wait_for("the token", || minted.calls() == 1);
    std::thread::sleep(Duration::from_millis(100));
    kill(&child, libc::SIGINT);
    let out = child.wait_with_output().unwrap();
    let log = text(&out);
    assert_eq!(out.status.code(), Some(130), "{log}");
    refused.assert_calls(1);
    assert!(log.contains(&format!("::add-mask::{FINAL_TOKEN}")), "{log}");
    assert_eq!(log.matches(FINAL_TOKEN).count(), 1, "only its mask: {log}");
    let saved = saved_state(&step);
    assert_eq!(saved.len(), 1, "{saved:?}");
    assert_eq!(saved[0]["token"], FINAL_TOKEN);
    assert!(step.outputs().is_empty());
    let post = step.post(Path::new(BIN), &gh.url(), &[("skip-token-revoke", "true")]);
    assert_eq!(post.code, 0, "{}", post.stdout);
    revoked.assert_calls(1);
}

/// Every start of the binary makes itself non-dumpable before it reads a secret, so that
/// no other process of its user can read its memory or environment: the main step, the
/// post step (the native launcher's way of naming it) and the command line, each caught
/// while its first request to GitHub waits. Run without CAP_SYS_PTRACE (as `nobody`
/// under root), where /proc/PID belongs to root only when the process is not dumpable.
#[test]
fn every_start_is_non_dumpable_before_its_first_request() {
    let what = "the binary made non-dumpable in every mode";
    let Some(unprivileged) = Unprivileged::new(Path::new(BIN), what) else {
        return;
    };
    let gh = FakeGitHub::start();
    let waiting = gh.server.mock(|_, then| {
        then.status(599).delay(Duration::from_secs(30));
    });
    let main = Step::new();
    let post = Step::new();
    saved_live_token(&post, FINAL_TOKEN);
    let mut post_env = post.post_env(&gh.url(), &[]);
    post_env.push(("APP_TOKEN_STEP".into(), "post".into()));
    let url = gh.url();
    let mut cli_env = vec![("APP_TOKEN_PRIVATE_KEY".to_string(), KEY_PKCS1.to_string())];
    cli_env.extend(std::env::var("PATH").map(|p| ("PATH".to_string(), p)));
    let starts = [
        ("the main step", vec![], main.env(&gh.url(), &[])),
        ("the post step", vec![], post_env),
        (
            "the command line",
            vec!["--app-id", APP_ID, "--api-url", &url, "--owner", "acme"],
            cli_env,
        ),
    ];
    for (name, args, env) in starts {
        let before = waiting.calls();
        let mut child = unprivileged
            .command(&args)
            .env_clear()
            .envs(env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let started = Instant::now();
        while waiting.calls() == before {
            if started.elapsed() > Duration::from_secs(20) || child.try_wait().unwrap().is_some() {
                child.kill().ok();
                let out = child.wait_with_output().unwrap();
                panic!("{name}: no request to GitHub: {}", text(&out));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let dumpable = dumpable(child.id());
        assert!(child.try_wait().unwrap().is_none(), "{name} ended");
        kill(&child, libc::SIGKILL);
        child.wait().unwrap();
        assert!(
            !dumpable,
            "{name} is dumpable: other processes of its user can read it"
        );
    }
}
