//! The native action (`native/`) as the runner runs a node action: this machine's node
//! starts the launcher (main.js, post.js) from another working directory, with the
//! runner's `INPUT_*` (hyphens kept), file-command files and, for post, `STATE_*`;
//! the launcher checks the binary `.ci/native` laid out against SHA256SUMS and runs it.
//! Checked: outputs, state, mask and revocation; SIGINT and SIGTERM passed on while
//! main waits on GitHub; a binary that does not match the manifest, a missing manifest
//! entry and an unsupported platform refused before anything runs.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::native::{node, node_platform, NativeAction};
use crate::common::*;

/// The host's binary laid out by .ci/native, and node; None (NOT CHECKED) without node.
fn setup(what: &str) -> Option<(PathBuf, NativeAction)> {
    let node = node(what)?;
    Some((
        node,
        NativeAction::host(Path::new(env!("CARGO_BIN_EXE_app-token"))),
    ))
}

/// node running `script` of the action, the way the runner does: the step's
/// environment only, and the working directory elsewhere (the workspace).
fn launcher(node: &Path, action: &NativeAction, script: &str, env: &[(String, String)]) -> Command {
    let mut command = Command::new(node);
    command
        .arg(action.dir().join(script))
        .current_dir(std::env::temp_dir())
        .env_clear()
        .envs(env.iter().cloned());
    command
}

fn run(mut command: Command) -> Ran {
    let out = command.stdin(Stdio::null()).output().expect("node starts");
    Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

#[test]
fn main_then_post_through_the_launcher() {
    let Some((node, action)) = setup("the launcher's main and post") else {
        return;
    };
    let gh = FakeGitHub::start();
    let flow = gh.names_and_an_id_flow();
    let step = Step::new();
    let inputs = [
        ("repositories", "site\napi, 9001"),
        ("permissions", "contents: write\npull-requests: read"),
    ];
    let ran = run(launcher(
        &node,
        &action,
        "main.js",
        &step.env(&gh.url(), &inputs),
    ));
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    let mask = format!("::add-mask::{FINAL_TOKEN}");
    assert!(ran.stdout.contains(&mask), "{}", ran.stdout);
    assert_eq!(ran.stdout.matches(FINAL_TOKEN).count(), 1, "{}", ran.stdout);
    let out = step.outputs();
    assert_eq!(out["token"], FINAL_TOKEN);
    assert_eq!(out["installation-id"], INSTALLATION.to_string());
    assert_eq!(out["repository-ids"], "[9001,11,12]");
    assert!(
        !file_commands(&step.file("state")).is_empty(),
        "main saved its state"
    );
    flow.final_token.assert_calls(1);
    flow.revoke_final.assert_calls(0);

    let post = run(launcher(
        &node,
        &action,
        "post.js",
        &step.post_env(&gh.url(), &inputs),
    ));
    assert_eq!(post.code, 0, "{}\n{}", post.stdout, post.stderr);
    assert!(
        post.stdout.contains("Revoked 1 installation token"),
        "{}",
        post.stdout
    );
    // Post ran the post step: it revoked and minted nothing more.
    flow.revoke_final.assert_calls(1);
    flow.final_token.assert_calls(1);
}

/// Cancels main through the launcher while the binary, holding a token, waits on GitHub:
/// the runner signals node (its own child) only, so the launcher must pass it on.
fn cancelled_with(signal: i32, expected_code: i32, name: &str) {
    let Some((node, action)) = setup(&format!("{name} through the launcher")) else {
        return;
    };
    let gh = FakeGitHub::start();
    let (minted, revoked, _hanging) = gh.token_then_a_hang(Duration::from_secs(30));
    let step = Step::new();
    let mut command = launcher(
        &node,
        &action,
        "main.js",
        &step.env(&gh.url(), &[("repositories", "101")]),
    );
    let child = command.stdout(Stdio::piped()).spawn().expect("node starts");
    let waited = Instant::now();
    while minted.calls() == 0 {
        assert!(
            waited.elapsed() < Duration::from_secs(20),
            "no token was requested"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: kill(2) on our own child's pid: node, not the binary.
    assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
    let sent = Instant::now();
    let out = child.wait_with_output().expect("node ends");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(expected_code), "{stdout}");
    assert!(
        sent.elapsed() < Duration::from_secs(3),
        "{:?} after {name}",
        sent.elapsed()
    );
    assert!(stdout.contains(&format!("{name} received")), "{stdout}");
    revoked.assert_calls(1);
    assert!(!stdout.contains(FINAL_TOKEN), "{stdout}");
    assert!(step.outputs().is_empty(), "no outputs after a cancel");
}

#[test]
fn sigint_reaches_the_binary_which_revokes_and_the_launcher_fails() {
    cancelled_with(libc::SIGINT, 130, "SIGINT");
}

#[test]
fn sigterm_reaches_the_binary_which_revokes_and_the_launcher_fails() {
    cancelled_with(libc::SIGTERM, 143, "SIGTERM");
}

/// Runs main.js against a fake that answers nothing, so that any request shows.
fn refused(node: &Path, action: &NativeAction) -> (Ran, u64) {
    let gh = FakeGitHub::start();
    let anything = gh.catch_all();
    let step = Step::new();
    let ran = run(launcher(node, action, "main.js", &step.env(&gh.url(), &[])));
    (ran, anything.calls() as u64)
}

#[test]
fn a_binary_that_does_not_match_the_manifest_is_not_run() {
    let Some((node, action)) = setup("the launcher's hash check") else {
        return;
    };
    let binary = action.binary(&node_platform(&node));
    let mut bytes = std::fs::read(&binary).expect("the laid-out binary");
    bytes.extend_from_slice(b"tampered");
    std::fs::write(&binary, bytes).expect("the binary rewritten");
    let (ran, requests) = refused(&node, &action);
    assert_eq!(ran.code, 1, "{}\n{}", ran.stdout, ran.stderr);
    let error = ran.line("::error::");
    assert!(
        error.contains("SHA-256") && error.contains("not run"),
        "{error}"
    );
    assert_eq!(requests, 0, "nothing ran: no request");
    assert!(
        !ran.stdout.contains("::group::"),
        "the binary never started"
    );
}

#[test]
fn a_binary_the_manifest_does_not_list_is_not_run() {
    let Some((node, action)) = setup("the launcher's manifest") else {
        return;
    };
    let platform = node_platform(&node);
    let manifest = action.dir().join("SHA256SUMS");
    let text = std::fs::read_to_string(&manifest).expect("the manifest");
    let kept: String = text
        .lines()
        .filter(|l| !l.contains(&format!("bin/{platform}/")))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&manifest, kept).expect("the manifest rewritten");
    let (ran, requests) = refused(&node, &action);
    assert_eq!(ran.code, 1, "{}\n{}", ran.stdout, ran.stderr);
    assert!(
        ran.line("::error::")
            .contains(&format!("lists no bin/{platform}/app-token")),
        "{}",
        ran.stdout
    );
    assert_eq!(requests, 0);
}

#[test]
fn an_unsupported_platform_is_named_with_the_supported_ones() {
    let Some((node, action)) = setup("the launcher's platform check") else {
        return;
    };
    // node as it would be on AIX: process.platform redefined before the launcher loads.
    let preload = action.dir().join("aix.js");
    std::fs::write(
        &preload,
        "Object.defineProperty(process, 'platform', { value: 'aix' });\n",
    )
    .expect("the preload");
    let gh = FakeGitHub::start();
    let anything = gh.catch_all();
    let step = Step::new();
    let mut command = Command::new(&node);
    command
        .arg("--require")
        .arg(&preload)
        .arg(action.dir().join("main.js"))
        .env_clear()
        .envs(step.env(&gh.url(), &[]));
    let ran = run(command);
    assert_eq!(ran.code, 1, "{}\n{}", ran.stdout, ran.stderr);
    let error = ran.line("::error::");
    let arch = node_platform(&node);
    let arch = arch.split('-').nth(1).unwrap_or_default();
    assert!(error.contains(&format!("aix-{arch}")), "{error}");
    for supported in [
        "linux-x64",
        "linux-arm64",
        "darwin-x64",
        "darwin-arm64",
        "win32-x64",
    ] {
        assert!(error.contains(supported), "{error}");
    }
    anything.assert_calls(0);
}
