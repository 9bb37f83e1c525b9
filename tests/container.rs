//! The image as users get it, run the way the Actions runner runs a Docker container
//! action: `docker run` with the runner's own command line, the runner's mounts and
//! file commands, main then post, and a cancellation, against the fake GitHub on
//! 127.0.0.1 (the container shares the host's network: `--network host`).
//!
//! These tests need a Docker engine and the image `app-token:test`, which
//! `bash .ci/container` builds from the project's Dockerfile (only the compile stage
//! swapped for a binary built on the host). Without them each test says on stderr that
//! it did NOT check, and why, and passes; with `APP_TOKEN_REQUIRE_DOCKER=1` (which
//! .ci/container sets) a missing engine or image fails the test instead.
//! `APP_TOKEN_IMAGE` names another image to test.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::common::docker;
use crate::common::*;
use docker::{docker, image, Job, Running, MAIN_ENTRYPOINT, POST_ENTRYPOINT};
use serde_json::json;

/// Why the tests cannot run here, if they cannot: no docker client, no engine, no image.
fn unavailable() -> &'static Option<String> {
    static WHY: OnceLock<Option<String>> = OnceLock::new();
    WHY.get_or_init(|| {
        let image = image();
        let inspect = Command::new("docker")
            .args(["image", "inspect", "--format", "{{.Id}}", &image])
            .stdin(Stdio::null())
            .output();
        match inspect {
            Err(e) => Some(format!("no docker client could be started ({e})")),
            Ok(o) if o.status.success() => None,
            Ok(o) => {
                let engine = Command::new("docker")
                    .args(["version", "--format", "{{.Server.Version}}"])
                    .stdin(Stdio::null())
                    .output();
                match engine {
                    Ok(e) if e.status.success() => Some(format!(
                        "the Docker engine has no image {image} (bash .ci/container builds it)"
                    )),
                    _ => Some(format!(
                        "no Docker engine answers ({}); bash .ci/container starts one",
                        String::from_utf8_lossy(&o.stderr).trim()
                    )),
                }
            }
        }
    })
}

/// True when the test can run. Otherwise says so where it is seen even when the test
/// passes (past the test harness's capture), or fails the test when
/// `APP_TOKEN_REQUIRE_DOCKER=1`.
fn docker_ready(test: &str) -> bool {
    let Some(why) = unavailable() else {
        return true;
    };
    not_checked(
        &format!("container test {test}"),
        why,
        "APP_TOKEN_REQUIRE_DOCKER",
    );
    false
}

/// One line on stderr, past the test harness's capture (which takes `eprintln!` only),
/// in one write so that lines from tests running alongside do not interleave.
fn say(line: &str) {
    let _ = std::io::stderr().write_all(format!("{line}\n").as_bytes());
}

/// Asserts the token is masked before it appears anywhere else, and appears nowhere else.
fn assert_masked_first(ran: &Ran, token: &str) {
    let mask = format!("::add-mask::{token}");
    let first = ran.stdout.find(token).expect("the token is masked");
    assert_eq!(
        ran.stdout[..first].rfind("::add-mask::"),
        Some(first - "::add-mask::".len()),
        "{}",
        ran.stdout
    );
    assert!(ran.stdout.contains(&mask));
    assert_eq!(
        ran.stdout.matches(token).count(),
        1,
        "the token appears only in its mask line: {}",
        ran.stdout
    );
    assert!(!ran.stderr.contains(token), "{}", ran.stderr);
}

#[test]
fn the_image_is_one_static_executable_and_a_ca_bundle() {
    if !docker_ready("the_image_is_one_static_executable_and_a_ca_bundle") {
        return;
    }
    let image = image();
    let config = docker(&["image", "inspect", "--format", "{{json .Config}}", &image]);
    assert!(config.status.success());
    let config: serde_json::Value = serde_json::from_slice(&config.stdout).unwrap();
    assert_eq!(
        config["Entrypoint"],
        json!([MAIN_ENTRYPOINT]),
        "exec form, absolute"
    );
    assert!(
        config["User"].as_str().unwrap_or_default().is_empty(),
        "root: no USER, but {}",
        config["User"]
    );

    // The files of the image: the executable, the post link to it, the CA bundle.
    let created = docker(&["create", &image]);
    assert!(created.status.success());
    let id = String::from_utf8_lossy(&created.stdout).trim().to_string();
    let export = Command::new("sh")
        .arg("-c")
        .arg(format!("docker export {id} | tar -tvf -"))
        .output()
        .unwrap();
    docker(&["rm", &id]);
    assert!(export.status.success());
    let listing = String::from_utf8_lossy(&export.stdout);
    let files: Vec<&str> = listing
        .lines()
        .filter(|l| !l.starts_with('d'))
        .filter(|l| {
            // What `docker create` adds to every container.
            ![
                ".dockerenv",
                "etc/hostname",
                "etc/hosts",
                "etc/mtab",
                "etc/resolv.conf",
            ]
            .iter()
            .any(|f| l.contains(&format!(" {f}")))
                && !l.contains(" dev/")
        })
        .collect();
    assert_eq!(files.len(), 3, "{listing}");
    assert!(
        files
            .iter()
            .any(|l| l.contains(" usr/local/bin/app-token-post -> app-token")),
        "post is a link to the executable: {listing}"
    );
    assert!(files
        .iter()
        .any(|l| l.starts_with("-rwx") && l.ends_with(" usr/local/bin/app-token")));
    assert!(files
        .iter()
        .any(|l| l.ends_with(" etc/ssl/certs/ca-certificates.crt")));

    // It starts with no libc beside it, and by the link's name it is the post step
    // (with no state from main, there is nothing to revoke). There is no shell.
    let run = |entrypoint: &str, args: &[&str]| {
        let mut all = vec![
            "run",
            "--rm",
            "--network",
            "host",
            "--entrypoint",
            entrypoint,
        ];
        all.push(&image);
        all.extend_from_slice(args);
        docker(&all)
    };
    let version = run(MAIN_ENTRYPOINT, &["--version"]);
    let text = String::from_utf8_lossy(&version.stdout);
    assert!(text.starts_with("app-token "), "{text}");
    let post = run(POST_ENTRYPOINT, &[]);
    let text = String::from_utf8_lossy(&post.stdout);
    assert_eq!(post.status.code(), Some(0), "{text}");
    assert!(text.contains("No token to revoke"), "{text}");
    let shell = run("/bin/sh", &[]);
    assert!(!shell.status.success(), "the image has no shell");
}

#[test]
fn main_then_post_through_docker_run_like_the_runner() {
    if !docker_ready("main_then_post_through_docker_run_like_the_runner") {
        return;
    }
    let gh = FakeGitHub::start();
    let flow = gh.names_and_an_id_flow();
    let job = Job::new();
    let inputs = [
        ("repositories", "site\napi, 9001"),
        ("permissions", "contents: write\npull-requests: read"),
    ];
    let main = job.step();
    let env = job.env(&main, &gh.url(), &inputs);
    // Every declared input is there, the ones the workflow left out set but empty.
    assert!(env
        .iter()
        .any(|(k, v)| k == "INPUT_CLIENT-ID" && v.is_empty()));
    assert!(env
        .iter()
        .any(|(k, v)| k == "INPUT_PERMISSION-CONTENTS" && v.is_empty()));
    let ran = job.run(&main, MAIN_ENTRYPOINT, &env);
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    assert_masked_first(&ran, FINAL_TOKEN);

    let out = main.outputs();
    assert_eq!(out["token"], FINAL_TOKEN);
    assert_eq!(out["installation-id"], INSTALLATION.to_string());
    assert_eq!(out["app-slug"], SLUG);
    assert_eq!(out["git-user-name"], format!("{SLUG}[bot]"));
    assert_eq!(
        out["git-user-email"],
        format!("{BOT_ID}+{SLUG}[bot]@users.noreply.github.com")
    );
    let ids: Vec<u64> = serde_json::from_str(&out["repository-ids"]).unwrap();
    assert_eq!(ids, vec![9001, 11, 12]);
    let summary = main.summary();
    assert!(summary.contains("| acme | 777 (`acme-bot`) |"), "{summary}");
    assert!(!summary.contains("ghs_"), "the summary never holds a token");
    flow.final_token.assert_calls(1);
    flow.revoke_helper.as_ref().unwrap().assert_calls(1);
    flow.revoke_final.assert_calls(0);

    // Post: a step of its own (new file commands), the same inputs, main's state.
    let post = job.step();
    let env = job.post_env(&main, &post, &gh.url(), &inputs);
    assert!(env.iter().any(|(k, _)| k.starts_with("STATE_")), "{env:?}");
    let ran = job.run(&post, POST_ENTRYPOINT, &env);
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    assert!(
        ran.stdout.contains("Revoked 1 installation token"),
        "{}",
        ran.stdout
    );
    flow.revoke_final.assert_calls(1);
    flow.final_token.assert_calls(1);
}

#[test]
fn a_bad_input_fails_in_the_container_before_any_request() {
    if !docker_ready("a_bad_input_fails_in_the_container_before_any_request") {
        return;
    }
    let gh = FakeGitHub::start();
    let any = gh.catch_all();
    let job = Job::new();
    let step = job.step();
    let env = job.env(&step, &gh.url(), &[("permissions", "contens: read")]);
    let ran = job.run(&step, MAIN_ENTRYPOINT, &env);
    assert_eq!(ran.code, 1, "{}\n{}", ran.stdout, ran.stderr);
    let error = ran
        .stdout
        .lines()
        .find(|l| l.starts_with("::error"))
        .unwrap_or_else(|| panic!("no ::error:: line: {}", ran.stdout));
    assert!(
        error.contains("permissions") && error.contains("contens"),
        "{error}"
    );
    any.assert_calls(0);
    assert!(step.outputs().is_empty());
}

#[test]
fn tls_roots_come_from_the_image_and_ssl_cert_file_still_works() {
    if !docker_ready("tls_roots_come_from_the_image_and_ssl_cert_file_still_works") {
        return;
    }
    let gh = FakeGitHub::start();
    let flow = gh.flow("acme", &["site"], &[], &[(11, "site")], None);
    let job = Job::new();
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/httpmock-ca.pem"
        ),
        job.workspace.path().join("private-ca.pem"),
    )
    .unwrap();

    // The image's bundle: the public CAs, which do not include the fake's private CA.
    let step = job.step();
    let env = job.env(&step, &gh.https_url(), &[]);
    let ran = job.run(&step, MAIN_ENTRYPOINT, &env);
    assert_eq!(ran.code, 1, "{}\n{}", ran.stdout, ran.stderr);
    let said = ran.stdout.to_ascii_lowercase();
    assert!(said.contains("certificate"), "{}", ran.stdout);
    assert!(
        !said.contains("no ca certificates were found"),
        "the image's CA bundle was not read: {}",
        ran.stdout
    );
    flow.final_token.assert_calls(0);

    // SSL_CERT_FILE (a path in the workspace, as a workflow would give it) wins.
    let step = job.step();
    let mut env = job.env(&step, &gh.https_url(), &[]);
    env.push((
        "SSL_CERT_FILE".into(),
        "/github/workspace/private-ca.pem".into(),
    ));
    let ran = job.run(&step, MAIN_ENTRYPOINT, &env);
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    assert_eq!(step.outputs()["token"], FINAL_TOKEN);
    flow.final_token.assert_calls(1);
}

/// Cancels a main step the way the runner cancels one: a signal to the `docker run`
/// client (actions/runner's ProcessInvoker sends SIGINT, SIGTERM 7.5 s later, and
/// kills the client 2.5 s after that), which forwards it to the container's PID 1.
/// The step holds a token (repositories given as ids: no helper token) and waits on
/// a slow `GET /users/acme-bot[bot]`. The container must stop within about a second,
/// exit non-zero, say why, and revoke the token it minted.
fn cancelled_through_docker_run(signal: i32, name: &str, test: &str) {
    if !docker_ready(test) {
        return;
    }
    let gh = FakeGitHub::start();
    let (minted, revoked, slow_bot) = gh.token_then_a_hang(Duration::from_secs(20));
    let job = Job::new();
    let step = job.step();
    let env = job.env(&step, &gh.url(), &[("repositories", "101")]);
    let running = Running::start(job.docker_run(&step, MAIN_ENTRYPOINT, &env), &step);

    let waited = Instant::now();
    while minted.calls() == 0 || slow_bot.calls() == 0 {
        assert!(
            waited.elapsed() < Duration::from_secs(30),
            "the container never asked for the token and the bot user"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: kill(2) on the pid of our own child, the docker client.
    assert_eq!(unsafe { libc::kill(running.pid(), signal) }, 0);
    let sent = Instant::now();
    // By then the runner would have sent SIGTERM and killed the client, leaving the
    // container running.
    let ran = running.wait_within(Duration::from_secs(10));
    let took = sent.elapsed();
    say(&format!(
        "container test {test}: docker run ended {took:?} after {name}"
    ));

    assert_ne!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    assert!(
        took < Duration::from_secs(3),
        "the container stopped {took:?} after {name}"
    );
    assert!(
        ran.stdout
            .contains(&format!("::error title=Cancelled::{name} received")),
        "{}\n{}",
        ran.stdout,
        ran.stderr
    );
    revoked.assert_calls(1);
    assert!(
        ran.stdout.contains("Revoked 1 installation token"),
        "{}",
        ran.stdout
    );
    assert!(!ran.stdout.contains(FINAL_TOKEN), "{}", ran.stdout);
    assert!(step.outputs().is_empty(), "no outputs after a cancel");
    // --rm: the container is gone, not left running.
    let left = docker(&[
        "ps",
        "--all",
        "--quiet",
        "--filter",
        &format!("name=^{}$", step.container_name()),
    ]);
    assert_eq!(String::from_utf8_lossy(&left.stdout).trim(), "");
}

#[test]
fn sigint_to_docker_run_stops_the_container_and_revokes() {
    cancelled_through_docker_run(
        libc::SIGINT,
        "SIGINT",
        "sigint_to_docker_run_stops_the_container_and_revokes",
    );
}

#[test]
fn sigterm_to_docker_run_stops_the_container_and_revokes() {
    cancelled_through_docker_run(
        libc::SIGTERM,
        "SIGTERM",
        "sigterm_to_docker_run_stops_the_container_and_revokes",
    );
}
