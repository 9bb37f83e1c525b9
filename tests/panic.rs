//! No token outlives a panic: the debug binary, told by `APP_TOKEN_TEST_PANIC=after-mint`
//! to panic once every token is minted and none delivered, revokes them within its bound,
//! exits non-zero and prints no token, as the main step and as the command line, against
//! a fake GitHub on 127.0.0.1; a Vault login's token is revoked too, against the Vault
//! stand-in. `exec`, told `command-running`, panics while its command runs, and still
//! revokes its token.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::oidc::FakeOidc;
use crate::common::vault::{FakeVault, VAULT_KEY_NAME, VAULT_ROLE};
use crate::common::*;
use httpmock::prelude::*;

/// Only a debug build has the fault-injection point; a release test run cannot check this.
fn debug_build() -> bool {
    if !cfg!(debug_assertions) {
        not_checked(
            "a panic revokes what was minted",
            "APP_TOKEN_TEST_PANIC exists only in debug builds",
            "APP_TOKEN_REQUIRE_PANIC",
        );
    }
    cfg!(debug_assertions)
}

/// The debug build's fault injection: a panic right after the mint.
const PANIC_AFTER_MINT: (&str, &str) = ("APP_TOKEN_TEST_PANIC", "after-mint");

fn panic_env(mut env: Vec<(String, String)>) -> Vec<(String, String)> {
    let (name, value) = PANIC_AFTER_MINT;
    env.push((name.into(), value.into()));
    env
}

/// The main step with `inputs` and `extra` variables, told to panic after the mint.
fn panicking_main(
    step: &Step,
    gh: &FakeGitHub,
    inputs: &[(&str, &str)],
    extra: Vec<(String, String)>,
) -> Ran {
    let mut env = step.env(&gh.url(), inputs);
    env.extend(extra);
    run_binary(Path::new(BIN), &[], &panic_env(env), "")
}

/// Every occurrence of `token` on stdout is the runner's mask command for it: the runner
/// hides the token from every later line and never shows the command itself.
fn only_in_masks(stdout: &str, token: &str) -> bool {
    stdout
        .lines()
        .filter(|l| l.contains(token))
        .all(|l| l == format!("::add-mask::{token}"))
}

#[test]
fn a_panic_in_the_main_step_revokes_the_token_minted() {
    if !debug_build() {
        return;
    }
    let gh = FakeGitHub::start();
    let flow = gh.flow("acme", &["site"], &[], &[(11, "site")], None);
    let step = Step::new();
    let started = Instant::now();
    let ran = panicking_main(&step, &gh, &[], Vec::new());
    let log = format!("{}\n--- stderr\n{}", ran.stdout, ran.stderr);
    eprintln!(
        "start to exit (mint, panic, revocation): {:?}",
        started.elapsed()
    );
    assert_ne!(ran.code, 0, "{log}");
    flow.final_token.assert_calls(1);
    flow.revoke_final.assert_calls(1);
    flow.revoke_helper.unwrap().assert_calls(1);
    assert!(ran.stderr.contains("a panic injected for a test"), "{log}");
    let warning = ran.line("::warning title=Step panicked::");
    assert!(
        warning.contains("revoked 1 of its 1 live installation token(s)"),
        "{warning}"
    );
    for token in [FINAL_TOKEN, HELPER_TOKEN] {
        assert!(!ran.stderr.contains(token), "{log}");
        assert!(only_in_masks(&ran.stdout, token), "{log}");
    }
    // The mask comes before the panic message could print the token.
    assert!(
        ran.stdout.contains(&format!("::add-mask::{FINAL_TOKEN}")),
        "{log}"
    );
    assert!(step.outputs().is_empty(), "nothing was delivered");
}

#[test]
fn a_panic_gives_up_revoking_at_its_bound() {
    if !debug_build() {
        return;
    }
    let gh = FakeGitHub::start();
    let hanging = gh.server.mock(|when, then| {
        when.method(DELETE)
            .path("/installation/token")
            .header("authorization", format!("Bearer {FINAL_TOKEN}"));
        then.status(204).delay(Duration::from_secs(30));
    });
    let flow = gh.flow("acme", &["site"], &[], &[(11, "site")], None);
    let step = Step::new();
    let started = Instant::now();
    let ran = panicking_main(&step, &gh, &[], Vec::new());
    let took = started.elapsed();
    let log = format!("{}\n--- stderr\n{}", ran.stdout, ran.stderr);
    eprintln!("start to exit, the revocation hanging: {took:?}");
    assert_ne!(ran.code, 0, "{log}");
    assert_eq!(hanging.calls(), 1, "{log}");
    flow.revoke_final.assert_calls(0);
    assert!(took < Duration::from_secs(6), "took {took:?}: {log}");
    let warning = ran.line("::warning title=Step panicked::");
    assert!(
        warning.contains("revoked 0 of its 1") && warning.contains("did not finish within 3 s"),
        "{warning}"
    );
    assert!(!ran.stderr.contains(FINAL_TOKEN), "{log}");
    assert!(only_in_masks(&ran.stdout, FINAL_TOKEN), "{log}");
}

#[test]
fn a_panic_on_the_command_line_revokes_the_token_and_prints_none() {
    if !debug_build() {
        return;
    }
    let gh = FakeGitHub::start();
    let flow = gh.flow("acme", &["site"], &[], &[(11, "site")], None);
    let ran = Cli::mint(&gh)
        .args(&["--repositories", "acme/site"])
        .envs(&[PANIC_AFTER_MINT])
        .run();
    let log = format!("{}\n--- stderr\n{}", ran.stdout, ran.stderr);
    assert_ne!(ran.code, 0, "{log}");
    flow.final_token.assert_calls(1);
    flow.revoke_final.assert_calls(1);
    assert!(ran.stdout.is_empty(), "{log}");
    assert!(
        ran.stderr
            .contains("warning: app-token panicked (a bug: please report it); revoked 1 of its 1"),
        "{log}"
    );
    assert!(ran.stderr.contains("a panic injected for a test"), "{log}");
    for token in [FINAL_TOKEN, HELPER_TOKEN] {
        assert!(!ran.stderr.contains(token), "{log}");
    }
}

/// `exec` hands its token on and drops its signer before its command runs; its panic
/// guard still revokes the token if it panics while the command runs.
#[test]
fn a_panic_while_execs_command_runs_revokes_its_token() {
    if !debug_build() {
        return;
    }
    let gh = FakeGitHub::start();
    let flow = gh.flow("acme", &["site"], &[], &[(11, "site")], None);
    let url = gh.url();
    let args = [
        "exec",
        "--app-id",
        APP_ID,
        "--api-url",
        &url,
        "--repositories",
        "acme/site",
        "--",
        "true",
    ];
    let env = vec![
        ("APP_TOKEN_PRIVATE_KEY".into(), KEY_PKCS1.into()),
        ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
        ("APP_TOKEN_TEST_PANIC".into(), "command-running".into()),
    ];
    let ran = run_binary(Path::new(BIN), &args, &env, "");
    let log = format!("{}\n--- stderr\n{}", ran.stdout, ran.stderr);
    assert_ne!(ran.code, 0, "{log}");
    assert!(ran.stderr.contains("a panic injected for a test"), "{log}");
    flow.final_token.assert_calls(1);
    flow.revoke_final.assert_calls(1);
    assert!(
        ran.stderr
            .contains("warning: app-token panicked (a bug: please report it); revoked 1 of its 1"),
        "{log}"
    );
    assert!(!log.contains(FINAL_TOKEN), "{log}");
}

#[test]
fn a_panic_in_the_main_step_revokes_the_vault_token_it_logged_in_for() {
    if !debug_build() {
        return;
    }
    let vault = FakeVault::start();
    let oidc = FakeOidc::start();
    let gh = FakeGitHub::start();
    let flow = gh.flow("acme", &["site"], &[], &[(11, "site")], None);
    let step = Step::new();
    let url = vault.url();
    let inputs = [
        ("private-key", ""),
        ("vault-transit-key", VAULT_KEY_NAME),
        ("vault-url", url.as_str()),
        ("vault-role", VAULT_ROLE),
    ];
    let started = Instant::now();
    let ran = panicking_main(&step, &gh, &inputs, oidc.env());
    let took = started.elapsed();
    let log = format!("{}\n--- stderr\n{}", ran.stdout, ran.stderr);
    eprintln!("start to exit (login, mint, panic, revocations): {took:?}");
    assert_ne!(ran.code, 0, "{log}");
    flow.final_token.assert_calls(1);
    flow.revoke_final.assert_calls(1);
    // The login's token is revoked too, by the panic's own client, within the bound.
    let tokens = vault.login_tokens();
    assert_eq!(tokens.len(), 1, "{log}");
    assert!(tokens[0].1, "the login's token is still valid: {log}");
    assert!(took < Duration::from_secs(6), "took {took:?}: {log}");
    assert!(!ran.stderr.contains(&tokens[0].0), "{log}");
    assert!(only_in_masks(&ran.stdout, &tokens[0].0), "{log}");
    assert!(step.outputs().is_empty(), "nothing was delivered");
}
