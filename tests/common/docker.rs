//! The Actions runner's way of running a Docker container action's step: its
//! directories, file commands, environment and `docker run` command line. Shared by
//! tests/container.rs and the container benchmark (examples/bench_container.rs).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::{file_commands, runner_env, Ran};

pub const DEFAULT_IMAGE: &str = "app-token:test";
/// What `--label` carries, so that a container a failed test left behind can be found.
pub const LABEL: &str = "app-token-container-test";
pub const MAIN_ENTRYPOINT: &str = "/usr/local/bin/app-token";
pub const POST_ENTRYPOINT: &str = "/usr/local/bin/app-token-post";
/// How long any one `docker run` may take before the test gives up on it.
pub const RUN_LIMIT: Duration = Duration::from_secs(60);

pub fn image() -> String {
    std::env::var("APP_TOKEN_IMAGE").unwrap_or_else(|_| DEFAULT_IMAGE.to_string())
}

/// A fresh id like the runner's `Guid.NewGuid()`, for file-command names and container names.
pub fn guid() -> String {
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
pub fn declared_inputs() -> Vec<(String, Option<String>)> {
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
pub struct Job {
    /// The runner's temp directory: `/github/runner_temp`, with `_github_home`,
    /// `_github_workflow` and `_runner_file_commands` inside.
    pub temp: tempfile::TempDir,
    /// `GITHUB_WORKSPACE`: `/github/workspace`, the container's working directory.
    pub workspace: tempfile::TempDir,
}

/// One step: its file-command files (a new set per step, as the runner makes them).
pub struct Step {
    pub guid: String,
    pub files: PathBuf,
}

/// The file commands: the environment variable, and the runner's file name prefix
/// (FileCommandManager.cs).
pub const FILE_COMMANDS: [(&str, &str); 5] = [
    ("GITHUB_OUTPUT", "set_output_"),
    ("GITHUB_STATE", "save_state_"),
    ("GITHUB_ENV", "set_env_"),
    ("GITHUB_PATH", "add_path_"),
    ("GITHUB_STEP_SUMMARY", "step_summary_"),
];

impl Job {
    pub fn new() -> Self {
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
    pub fn step(&self) -> Step {
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
    pub fn env(&self, step: &Step, api: &str, inputs: &[(&str, &str)]) -> Vec<(String, String)> {
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
    pub fn post_env(
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
    /// the image (the benchmark adds some, with [`Job::docker_run_with_args`]).
    pub fn docker_run(&self, step: &Step, entrypoint: &str, env: &[(String, String)]) -> Command {
        self.docker_run_with_args(step, entrypoint, env, &[])
    }

    /// [`Job::docker_run`] with arguments after the image, as `runs.args` would give them.
    pub fn docker_run_with_args(
        &self,
        step: &Step,
        entrypoint: &str,
        env: &[(String, String)],
        args: &[&str],
    ) -> Command {
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
        cmd.args(args);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Runs a step's container to its end (within [`RUN_LIMIT`]).
    pub fn run(&self, step: &Step, entrypoint: &str, env: &[(String, String)]) -> Ran {
        let running = Running::start(self.docker_run(step, entrypoint, env), step);
        running.wait()
    }
}

impl Step {
    pub fn file(&self, prefix: &str) -> PathBuf {
        self.files.join(format!("{prefix}{}", self.guid))
    }

    /// `{sanitized image}_{6 hex}`, as ContainerActionHandler names it.
    pub fn container_name(&self) -> String {
        format!("apptokentest_{}", &self.guid[..6])
    }

    pub fn outputs(&self) -> BTreeMap<String, String> {
        file_commands(&self.file("set_output_"))
    }

    pub fn summary(&self) -> String {
        std::fs::read_to_string(self.file("step_summary_")).unwrap_or_default()
    }
}

/// A `docker run` client in flight. Dropped before the client ended on its own (a
/// test that failed or gave up), it kills the client and removes the container, so
/// that nothing is left running; after a normal end, `--rm` has removed it already.
pub struct Running {
    child: Option<Child>,
    ended: bool,
    name: String,
    out: Option<std::thread::JoinHandle<String>>,
    err: Option<std::thread::JoinHandle<String>>,
}

impl Running {
    pub fn start(mut cmd: Command, step: &Step) -> Self {
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
            ended: false,
            name: step.container_name(),
            out,
            err,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().map(|c| c.id() as i32).unwrap_or(0)
    }

    pub fn wait(self) -> Ran {
        self.wait_within(RUN_LIMIT)
    }

    /// Waits for the client to end; fails the test if it takes longer than `limit`
    /// (and the drop removes the container). Polls every millisecond, so that the
    /// benchmark's times are not rounded up by much.
    pub fn wait_within(mut self, limit: Duration) -> Ran {
        let started = Instant::now();
        let status = loop {
            let child = self.child.as_mut().expect("a client");
            if let Some(status) = child.try_wait().expect("the client's status") {
                break status;
            }
            if started.elapsed() > limit {
                panic!("docker run did not end within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        self.ended = true;
        Ran {
            code: status.code().unwrap_or(-1),
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
        if self.ended {
            return;
        }
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
pub fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("docker starts")
}
