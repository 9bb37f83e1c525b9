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

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::*;
use httpmock::prelude::*;
use serde_json::json;

const DEFAULT_IMAGE: &str = "app-token:test";
/// What `--label` carries, so that a container a failed test left behind can be found.
const LABEL: &str = "app-token-container-test";
const MAIN: &str = "/usr/local/bin/app-token";
const POST: &str = "/usr/local/bin/app-token-post";
/// How long any one `docker run` may take before the test gives up on it.
const RUN_LIMIT: Duration = Duration::from_secs(60);

fn image() -> String {
    std::env::var("APP_TOKEN_IMAGE").unwrap_or_else(|_| DEFAULT_IMAGE.to_string())
}

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
/// passes (straight to stderr, past the test harness's capture), or fails the test
/// when `APP_TOKEN_REQUIRE_DOCKER=1`.
fn docker_ready(test: &str) -> bool {
    let Some(why) = unavailable() else {
        return true;
    };
    if std::env::var("APP_TOKEN_REQUIRE_DOCKER").as_deref() == Ok("1") {
        panic!("APP_TOKEN_REQUIRE_DOCKER=1, but {why}");
    }
    say(&format!(
        "container test {test}: NOT CHECKED, because {why}"
    ));
    false
}

/// One line on stderr, past the test harness's capture (which takes `eprintln!` only),
/// in one write so that lines from tests running alongside do not interleave.
fn say(line: &str) {
    let _ = std::io::stderr().write_all(format!("{line}\n").as_bytes());
}

/// A fresh id like the runner's `Guid.NewGuid()`, for file-command names and container names.
fn guid() -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("random bytes");
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Every input action.yml declares, with its default (`None` when it has none).
fn declared_inputs() -> Vec<(String, Option<String>)> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/action.yml"))
        .expect("action.yml");
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).expect("action.yml is YAML");
    doc["inputs"]
        .as_mapping()
        .expect("action.yml has inputs")
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().expect("an input name").to_string(),
                v["default"].as_str().map(str::to_string),
            )
        })
        .collect()
}

/// One job's runner directories on the host, mounted into every step's container.
struct Job {
    /// The runner's temp directory: `/github/runner_temp`, with `_github_home`,
    /// `_github_workflow` and `_runner_file_commands` inside.
    temp: tempfile::TempDir,
    /// `GITHUB_WORKSPACE`: `/github/workspace`, the container's working directory.
    workspace: tempfile::TempDir,
}

/// One step: its file-command files (a new set per step, as the runner makes them).
struct Step {
    guid: String,
    files: PathBuf,
}

/// The file commands: the environment variable, and the runner's file name prefix
/// (FileCommandManager.cs).
const FILE_COMMANDS: [(&str, &str); 5] = [
    ("GITHUB_OUTPUT", "set_output_"),
    ("GITHUB_STATE", "save_state_"),
    ("GITHUB_ENV", "set_env_"),
    ("GITHUB_PATH", "add_path_"),
    ("GITHUB_STEP_SUMMARY", "step_summary_"),
];

impl Job {
    fn new() -> Self {
        let temp = tempfile::tempdir().unwrap();
        for d in ["_github_home", "_github_workflow", "_runner_file_commands"] {
            std::fs::create_dir(temp.path().join(d)).unwrap();
        }
        std::fs::write(temp.path().join("_github_workflow/event.json"), "{}").unwrap();
        Self {
            temp,
            workspace: tempfile::tempdir().unwrap(),
        }
    }

    /// A step's file commands, created empty before the step as the runner does.
    fn step(&self) -> Step {
        let step = Step {
            guid: guid(),
            files: self.temp.path().join("_runner_file_commands"),
        };
        for (_, prefix) in FILE_COMMANDS {
            std::fs::write(step.file(prefix), "").unwrap();
        }
        step
    }

    /// The step's environment as the runner gives it to a container: every declared
    /// input (`INPUT_` + the name upper-cased, hyphens kept; blank when the workflow
    /// left it out, defaults filled in), then container paths for everything the
    /// runner translates.
    fn env(&self, step: &Step, api: &str, inputs: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut env: BTreeMap<String, String> =
            runner_env(api, Path::new("/github/file_commands"), inputs)
                .into_iter()
                .collect();
        for (name, default) in declared_inputs() {
            let value = match default {
                Some(d) if d.contains("${{") => api.to_string(),
                Some(d) => d,
                None => String::new(),
            };
            env.entry(format!("INPUT_{}", name.replace(' ', "_").to_uppercase()))
                .or_insert(value);
        }
        for (var, prefix) in FILE_COMMANDS {
            env.insert(
                var.into(),
                format!("/github/file_commands/{prefix}{}", step.guid),
            );
        }
        for (k, v) in [
            ("HOME", "/github/home"),
            ("RUNNER_TEMP", "/github/runner_temp"),
            ("GITHUB_WORKSPACE", "/github/workspace"),
            ("GITHUB_EVENT_PATH", "/github/workflow/event.json"),
        ] {
            env.insert(k.into(), v.into());
        }
        env.into_iter().collect()
    }

    /// Post's environment: main's, plus `STATE_<name>` from what main saved.
    fn post_env(
        &self,
        main: &Step,
        post: &Step,
        api: &str,
        inputs: &[(&str, &str)],
    ) -> Vec<(String, String)> {
        let mut env = self.env(post, api, inputs);
        for (k, v) in file_commands(&main.file("save_state_")) {
            env.push((format!("STATE_{k}"), v));
        }
        env
    }

    /// `docker run` exactly as the runner builds it (actions/runner,
    /// src/Runner.Worker/Container/DockerCommandManager.cs, DockerRun; the volumes from
    /// Handlers/ContainerActionHandler.cs):
    ///
    /// ```text
    /// dockerOptions.Add($"--name {container.ContainerDisplayName}");
    /// dockerOptions.Add($"--label {DockerInstanceLabel}");
    /// dockerOptions.Add($"--workdir {container.ContainerWorkDirectory}");
    /// dockerOptions.Add($"--rm");
    /// foreach (var env in container.ContainerEnvironmentVariables)
    /// {
    ///     // e.g. -e MY_SECRET maps the value into the exec'ed process without exposing
    ///     // the value directly in the command
    ///     dockerOptions.Add(DockerUtil.CreateEscapedOption("-e", env.Key));
    /// }
    /// // Watermark for GitHub Action environment
    /// dockerOptions.Add("-e GITHUB_ACTIONS=true");
    /// // Set CI=true when no one else already set it.
    /// if (!container.ContainerEnvironmentVariables.ContainsKey("CI"))
    ///     dockerOptions.Add("-e CI=true");
    /// if (!string.IsNullOrEmpty(container.ContainerEntryPoint))
    ///     dockerOptions.Add($"--entrypoint \"{container.ContainerEntryPoint}\"");
    /// if (!string.IsNullOrEmpty(container.ContainerNetwork))
    ///     dockerOptions.Add($"--network {container.ContainerNetwork}");
    /// foreach (var volume in container.MountVolumes) … -v "SOURCE":"TARGET"
    /// dockerOptions.Add($"{container.ContainerImage}");
    /// dockerOptions.Add($"{container.ContainerEntryPointArgs}");
    /// … ExecuteDockerCommandAsync(context, "run", optionsString,
    ///       container.ContainerEnvironmentVariables, …)
    ///
    /// container.MountVolumes.Add(new MountVolume("/var/run/docker.sock", "/var/run/docker.sock"));
    /// container.MountVolumes.Add(new MountVolume(tempDirectory, "/github/runner_temp"));
    /// container.MountVolumes.Add(new MountVolume(tempHomeDirectory, "/github/home"));
    /// container.MountVolumes.Add(new MountVolume(tempWorkflowDirectory, "/github/workflow"));
    /// container.MountVolumes.Add(new MountVolume(tempFileCommandDirectory, "/github/file_commands"));
    /// container.MountVolumes.Add(new MountVolume(defaultWorkingDirectory, "/github/workspace"));
    /// ```
    ///
    /// The values travel in the docker client's own environment (`-e NAME`, no value on
    /// the command line), which holds the step's environment. Ours adds `--network host`
    /// where the runner puts the job's network: the container reaches the fake GitHub
    /// on 127.0.0.1 and no other address. action.yml declares no `args`, so none follow
    /// the image.
    fn docker_run(&self, step: &Step, entrypoint: &str, env: &[(String, String)]) -> Command {
        let temp = self.temp.path().display().to_string();
        let mut cmd = Command::new("docker");
        cmd.env_clear();
        for keep in ["PATH", "DOCKER_HOST"] {
            if let Ok(v) = std::env::var(keep) {
                cmd.env(keep, v);
            }
        }
        cmd.envs(env.iter().cloned());
        cmd.args(["run", "--name", &step.container_name()]);
        cmd.args(["--label", LABEL, "--workdir", "/github/workspace", "--rm"]);
        for (k, _) in env {
            cmd.args(["-e", k]);
        }
        cmd.args(["-e", "GITHUB_ACTIONS=true"]);
        if !env.iter().any(|(k, _)| k == "CI") {
            cmd.args(["-e", "CI=true"]);
        }
        cmd.args(["--entrypoint", entrypoint, "--network", "host"]);
        if Path::new("/var/run/docker.sock").exists() {
            cmd.args(["-v", "/var/run/docker.sock:/var/run/docker.sock"]);
        }
        for (from, to) in [
            (temp.clone(), "/github/runner_temp"),
            (format!("{temp}/_github_home"), "/github/home"),
            (format!("{temp}/_github_workflow"), "/github/workflow"),
            (
                format!("{temp}/_runner_file_commands"),
                "/github/file_commands",
            ),
            (
                self.workspace.path().display().to_string(),
                "/github/workspace",
            ),
        ] {
            cmd.args(["-v", &format!("{from}:{to}")]);
        }
        cmd.arg(image());
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Runs a step's container to its end (within [`RUN_LIMIT`]).
    fn run(&self, step: &Step, entrypoint: &str, env: &[(String, String)]) -> Ran {
        let running = Running::start(self.docker_run(step, entrypoint, env), step);
        running.wait()
    }
}

impl Step {
    fn file(&self, prefix: &str) -> PathBuf {
        self.files.join(format!("{prefix}{}", self.guid))
    }

    /// `{sanitized image}_{6 hex}`, as ContainerActionHandler names it.
    fn container_name(&self) -> String {
        format!("apptokentest_{}", &self.guid[..6])
    }

    fn outputs(&self) -> BTreeMap<String, String> {
        file_commands(&self.file("set_output_"))
    }

    fn summary(&self) -> String {
        std::fs::read_to_string(self.file("step_summary_")).unwrap_or_default()
    }
}

struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// A `docker run` client in flight. Dropping it removes the container if it is still
/// there, so that a failed test leaves nothing running.
struct Running {
    child: Option<Child>,
    name: String,
    out: Option<std::thread::JoinHandle<String>>,
    err: Option<std::thread::JoinHandle<String>>,
}

impl Running {
    fn start(mut cmd: Command, step: &Step) -> Self {
        let mut child = cmd.spawn().expect("docker run starts");
        let drain = |mut r: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut s = Vec::new();
                let _ = r.read_to_end(&mut s);
                String::from_utf8_lossy(&s).into_owned()
            })
        };
        let out = child.stdout.take().map(|o| drain(Box::new(o)));
        let err = child.stderr.take().map(|e| drain(Box::new(e)));
        Self {
            child: Some(child),
            name: step.container_name(),
            out,
            err,
        }
    }

    fn pid(&self) -> i32 {
        self.child.as_ref().map(|c| c.id() as i32).unwrap_or(0)
    }

    fn wait(self) -> Ran {
        self.wait_within(RUN_LIMIT)
    }

    /// Waits for the client to end; fails the test if it takes longer than `limit`
    /// (and the drop removes the container).
    fn wait_within(mut self, limit: Duration) -> Ran {
        let mut child = self.child.take().expect("a client");
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > limit {
                let _ = child.kill();
                let _ = child.wait();
                panic!("docker run did not end within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        Ran {
            code: status.code(),
            stdout: self
                .out
                .take()
                .map(|t| t.join().unwrap())
                .unwrap_or_default(),
            stderr: self
                .err
                .take()
                .map(|t| t.join().unwrap())
                .unwrap_or_default(),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = Command::new("docker")
            .args(["rm", "--force", &self.name])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A docker command other than `run`, with its output.
fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("docker starts")
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
    assert_eq!(config["Entrypoint"], json!([MAIN]), "exec form, absolute");
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
    let version = run(MAIN, &["--version"]);
    let text = String::from_utf8_lossy(&version.stdout);
    assert!(text.starts_with("app-token "), "{text}");
    let post = run(POST, &[]);
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
    let flow = gh.flow(
        "acme",
        &["site", "api"],
        &[9001],
        &[(11, "site"), (12, "api")],
        Some(json!({"contents": "write", "pull_requests": "read"})),
    );
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
    let ran = job.run(&main, MAIN, &env);
    assert_eq!(ran.code, Some(0), "{}\n{}", ran.stdout, ran.stderr);
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
    let ran = job.run(&post, POST, &env);
    assert_eq!(ran.code, Some(0), "{}\n{}", ran.stdout, ran.stderr);
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
    let ran = job.run(&step, MAIN, &env);
    assert_eq!(ran.code, Some(1), "{}\n{}", ran.stdout, ran.stderr);
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
    let ran = job.run(&step, MAIN, &env);
    assert_eq!(ran.code, Some(1), "{}\n{}", ran.stdout, ran.stderr);
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
    let ran = job.run(&step, MAIN, &env);
    assert_eq!(ran.code, Some(0), "{}\n{}", ran.stdout, ran.stderr);
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
    gh.account_installation("acme", INSTALLATION);
    let minted = gh.access_token(
        INSTALLATION,
        json!({"repository_ids": [101]}),
        token_json(
            FINAL_TOKEN,
            &[repo_json(101, "acme", "site")],
            &installation_permissions(),
        ),
    );
    let revoked = gh.revoke(FINAL_TOKEN);
    let slow_bot = gh.server.mock(|when, then| {
        when.method(GET).path(format!("/users/{SLUG}%5Bbot%5D"));
        then.status(200)
            .delay(Duration::from_secs(20))
            .json_body(json!({"login": format!("{SLUG}[bot]"), "id": BOT_ID, "type": "Bot"}));
    });
    let job = Job::new();
    let step = job.step();
    let env = job.env(&step, &gh.url(), &[("repositories", "101")]);
    let running = Running::start(job.docker_run(&step, MAIN, &env), &step);

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

    assert_ne!(ran.code, Some(0), "{}\n{}", ran.stdout, ran.stderr);
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
