//! The `refresh` input through the native action as the runner runs it: node starts the
//! launcher's main, which starts the token agent; `GITHUB_ENV` and `GITHUB_PATH` are
//! applied to later "steps" (shell commands) that ask the agent through `app-token
//! token` and real git's `git credential fill`; then post. The fake GitHub mints tokens
//! that expire seconds later, so that the agent mints its own within the test. Also: the
//! agent killed before post, the container action's refusal, and what another process
//! of the job can read of the agent.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::native::{agent_pid, gone, node, NativeAction};
use crate::common::tokens::Tokens;
use crate::common::*;

/// How long the fake's tokens live: the agent renews at a third left (after some 6.7 s)
/// and hands a token out while a sixth is left; main's own token outlives the test's
/// post step, which follows the agent's first renewal by about a second.
const LIFE: Duration = Duration::from_secs(10);

/// A line from the middle of the app's key: what must be found nowhere.
fn key_line() -> &'static str {
    KEY_PKCS1.lines().nth(5).expect("a PEM of many lines")
}

/// One job: the native action, the fake GitHub, the step's files, the runner's temporary
/// folder, a hermetic home for git; run as `nobody` when `nobody` is set.
struct Job {
    node: PathBuf,
    action: NativeAction,
    gh: FakeGitHub,
    tokens: Tokens,
    step: Step,
    temp: tempfile::TempDir,
    home: tempfile::TempDir,
    nobody: Option<Unprivileged>,
    /// The agent main started, ended (SIGTERM: it revokes) if the test fails before post.
    agent: std::cell::Cell<Option<u32>>,
}

impl Drop for Job {
    fn drop(&mut self) {
        if let Some(pid) = self.agent.get().filter(|&pid| !gone(pid)) {
            // SAFETY: kill(2) of the agent this job started.
            unsafe { libc::kill(pid as i32, libc::SIGTERM) };
        }
    }
}

fn open_to_all(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("a chmod");
}

impl Job {
    fn new(what: &str, nobody: bool) -> Option<Self> {
        let node = node(what)?;
        let nobody = match nobody {
            true => Some(Unprivileged::new(bin(), what)?),
            false => None,
        };
        let gh = FakeGitHub::start();
        let tokens = Tokens::new(LIFE);
        gh.minting(&tokens, "acme", &[(101, "site")]);
        let job = Self {
            node,
            action: NativeAction::host(bin()),
            gh,
            tokens,
            step: Step::new(),
            temp: tempfile::tempdir().expect("RUNNER_TEMP"),
            home: tempfile::tempdir().expect("a home"),
            nobody,
            agent: std::cell::Cell::new(None),
        };
        for name in ["env", "path"] {
            std::fs::write(job.step.file(name), "").expect("a file-command file");
        }
        if job.nobody.is_some() {
            // Everything the job's user (nobody) reads or writes, as the runner's user has it.
            let status = Command::new("chmod")
                .args(["-R", "a+rX"])
                .arg(job.action.dir())
                .status()
                .expect("chmod runs");
            assert!(status.success());
            for dir in [job.step.dir(), job.temp.path(), job.home.path()] {
                open_to_all(dir, 0o777);
            }
            for name in ["output", "state", "summary", "env", "path"] {
                open_to_all(&job.step.file(name), 0o666);
            }
        }
        Some(job)
    }

    fn inputs(&self) -> [(&'static str, &'static str); 2] {
        [("repositories", "101"), ("refresh", "true")]
    }

    /// The step's environment as the runner gives it, `GITHUB_ENV`, `GITHUB_PATH` and
    /// `RUNNER_TEMP` included; post's with main's state.
    fn env(&self, post: bool) -> Vec<(String, String)> {
        let url = self.gh.url();
        let mut env = match post {
            true => self.step.post_env(&url, &self.inputs()),
            false => self.step.env(&url, &self.inputs()),
        };
        for (k, f) in [("GITHUB_ENV", "env"), ("GITHUB_PATH", "path")] {
            env.push((k.into(), self.step.file(f).display().to_string()));
        }
        env.push(("RUNNER_TEMP".into(), self.temp.path().display().to_string()));
        env
    }

    fn command(&self, program: &Path) -> Command {
        match &self.nobody {
            Some(nobody) => nobody.command_of(program),
            None => Command::new(program),
        }
    }

    /// node running the launcher's `script`, as the runner does.
    fn launcher(&self, script: &str, post: bool) -> Ran {
        let out = self
            .command(&self.node)
            .arg(self.action.dir().join(script))
            .current_dir(self.home.path())
            .env_clear()
            .envs(self.env(post))
            .stdin(Stdio::null())
            .output()
            .expect("node starts");
        Ran::of(out)
    }

    /// Main with `refresh: true`; gives what it did and the agent's pid.
    fn main(&self) -> (Ran, u32) {
        let ran = self.launcher("main.js", false);
        assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
        let pid =
            agent_pid(&ran.stdout).unwrap_or_else(|| panic!("no agent's pid in:\n{}", ran.stdout));
        self.agent.set(Some(pid));
        (ran, pid)
    }

    fn post(&self) -> Ran {
        self.launcher("post.js", true)
    }

    /// What main wrote to `GITHUB_ENV`.
    fn later_env(&self) -> std::collections::BTreeMap<String, String> {
        file_commands(&self.step.file("env"))
    }

    /// The agent's folder, from its address in `GITHUB_ENV`.
    fn folder(&self) -> PathBuf {
        let address = PathBuf::from(&self.later_env()["APP_TOKEN_AGENT"]);
        address.parent().expect("the socket's folder").to_path_buf()
    }

    /// A later step: `script` run by sh with `GITHUB_ENV` and `GITHUB_PATH` applied to
    /// a plain environment (no system git configuration, a home of its own).
    fn later_step(&self, script: &str) -> Ran {
        let path = std::fs::read_to_string(self.step.file("path")).expect("GITHUB_PATH");
        let mut dirs: Vec<String> = path.lines().rev().map(str::to_string).collect();
        dirs.push(std::env::var("PATH").unwrap_or_default());
        let out = self
            .command(Path::new("/bin/sh"))
            .args(["-c", script])
            .current_dir(self.home.path())
            .env_clear()
            .envs(self.later_env())
            .env("PATH", dirs.join(":"))
            .env("HOME", self.home.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("FAKE_HOST", self.gh.server.address().to_string())
            .stdin(Stdio::null())
            .output()
            .expect("sh starts");
        Ran::of(out)
    }

    /// Waits until the fake has minted `n` tokens (the agent its own after main's).
    fn wait_for_tokens(&self, n: usize) {
        let since = Instant::now();
        while self.tokens.mints() < n {
            assert!(
                since.elapsed() < Duration::from_secs(20),
                "the agent minted no token of its own: {:?}",
                self.tokens.minted()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// `app-token token`, then git asking for the fake's credentials for acme/site.
const TOKEN_AND_GIT: &str = r#"app-token token || exit 1
printf 'protocol=http\nhost=%s\npath=acme/site.git\n\n' "$FAKE_HOST" | git credential fill"#;

/// What [`TOKEN_AND_GIT`] got: the token, and git's password.
fn token_and_password(ran: &Ran) -> (String, String) {
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    let token = ran.stdout.lines().next().unwrap_or_default().to_string();
    let password = ran
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("password="))
        .unwrap_or_else(|| panic!("git got no password:\n{}\n{}", ran.stdout, ran.stderr));
    (token, password.to_string())
}

fn eventually(what: &str, done: impl Fn() -> bool) {
    let since = Instant::now();
    while !done() {
        assert!(since.elapsed() < Duration::from_secs(10), "{what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every token the fake minted was revoked.
fn all_revoked(job: &Job) {
    for token in job.tokens.minted() {
        assert!(token.revoked, "{} was not revoked", token.token);
    }
}

#[test]
fn later_steps_get_fresh_tokens_from_the_agent_and_post_revokes_every_one() {
    let Some(job) = Job::new("refresh through the native action", false) else {
        return;
    };
    let (main, pid) = job.main();
    let first = job.tokens.minted()[0].token.clone();
    assert_eq!(
        job.step.outputs()["token"],
        first,
        "the token output is main's"
    );
    assert!(
        main.stdout
            .contains("until the post step stops it, or for at most 6h"),
        "{}",
        main.stdout
    );
    assert_eq!(main.stdout.matches(&first).count(), 1, "only its mask");

    // What the later steps get: the agent's address in a folder of RUNNER_TEMP, git's
    // helper for the fake's origin, the binary's folder on PATH.
    let env = job.later_env();
    let folder = job.folder();
    assert_eq!(folder.parent(), Some(job.temp.path()));
    assert_eq!(
        std::fs::metadata(&folder)
            .expect("the agent's folder")
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
    let origin = format!("http://{}", job.gh.server.address());
    assert_eq!(env["GIT_CONFIG_COUNT"], "3");
    assert_eq!(
        env["GIT_CONFIG_KEY_1"],
        format!("credential.{origin}.helper")
    );
    let bin_dir = job.action.binary("linux-x64");
    let bin_dir = bin_dir.parent().expect("the binary's folder");
    assert_eq!(
        std::fs::read_to_string(job.step.file("path")).expect("GITHUB_PATH"),
        format!("{}\n", bin_dir.display())
    );
    let state = file_commands(&job.step.file("state"));
    assert_eq!(PathBuf::from(&state["agent"]), folder);

    // At first the agent hands out main's token.
    let ran = job.later_step(TOKEN_AND_GIT);
    assert_eq!(token_and_password(&ran), (first.clone(), first.clone()));

    // Once main's is near its end, a token the agent minted itself.
    job.wait_for_tokens(2);
    std::thread::sleep(Duration::from_millis(500));
    let ran = job.later_step(TOKEN_AND_GIT);
    let (token, password) = token_and_password(&ran);
    let second = job.tokens.minted()[1].token.clone();
    assert_eq!(
        (&token, &password),
        (&second, &second),
        "the agent's log:\n{}",
        std::fs::read_to_string(folder.join("agent.log")).unwrap_or_default()
    );
    assert!(job.tokens.live(&second), "a live token of the fake");

    // The key is nowhere outside the agent's memory.
    no_key_outside_the_agent(&job, pid, &folder);

    let post = job.post();
    assert_eq!(post.code, 0, "{}\n{}", post.stdout, post.stderr);
    assert!(
        post.stdout
            .contains("The token agent revoked 1 token(s) it minted, and ended."),
        "{}",
        post.stdout
    );
    assert!(
        post.stdout.contains("Revoked 1 installation token(s)."),
        "main's own, from its state: {}",
        post.stdout
    );
    all_revoked(&job);
    eventually("the agent ended", || gone(pid));
    eventually("the agent's folder was removed", || !folder.exists());
}

/// The key in no file of the agent's folder, not in its command line or environment,
/// not in what the later steps were given.
fn no_key_outside_the_agent(job: &Job, pid: u32, folder: &Path) {
    let key = key_line();
    for entry in std::fs::read_dir(folder).expect("the agent's folder") {
        let path = entry.expect("an entry").path();
        if path.is_file() {
            let text = std::fs::read(&path).expect("a file of the agent's");
            let text = String::from_utf8_lossy(&text);
            assert!(!text.contains(key), "the key in {}", path.display());
            assert!(
                !text.contains(&job.tokens.minted()[0].token),
                "main's token (post revokes it) in {}",
                path.display()
            );
        }
    }
    for file in ["env", "path", "state", "output"] {
        let text = std::fs::read_to_string(job.step.file(file)).expect("a file command");
        assert!(!text.contains(key), "the key in {file}");
    }
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).expect("the agent's cmdline");
    let cmdline = String::from_utf8_lossy(&cmdline);
    assert!(
        cmdline.ends_with("--serve-agent-from-stdin\0") && !cmdline.contains(key),
        "{cmdline:?}"
    );
    match std::fs::read(format!("/proc/{pid}/environ")) {
        Ok(environ) => {
            let environ = String::from_utf8_lossy(&environ);
            assert!(!environ.contains(key), "the key in the agent's environment");
            assert!(
                !environ.contains("INPUT_"),
                "an input in the agent's environment"
            );
        }
        Err(e) => not_checked(
            "the agent's /proc/PID/environ",
            &format!("this process cannot read it ({e}): it has no CAP_SYS_PTRACE"),
            REQUIRE_PROC,
        ),
    }
}

#[test]
fn an_agent_killed_before_post_has_its_ledger_revoked_by_post() {
    let Some(job) = Job::new("refresh with the agent killed", false) else {
        return;
    };
    let (_, pid) = job.main();
    let folder = job.folder();
    job.wait_for_tokens(2);
    // Its ledger on disk follows a mint at once, but not within the same instant.
    eventually("the agent's ledger holds its token", || {
        std::fs::read_to_string(folder.join("ledger.json"))
            .is_ok_and(|l| l.contains(&job.tokens.minted()[1].token))
    });
    // SAFETY: kill(2) of the agent this test started.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGKILL) }, 0);
    eventually("the agent died", || gone(pid));
    let post = job.post();
    assert_eq!(post.code, 0, "{}\n{}", post.stdout, post.stderr);
    assert!(
        post.stdout
            .contains("revoking the 1 live token(s) of its ledger")
            && post
                .stdout
                .contains("Revoked 1 installation token(s) the agent minted."),
        "{}",
        post.stdout
    );
    assert!(!post.stdout.contains("::error"), "{}", post.stdout);
    all_revoked(&job);
    assert!(!folder.exists(), "post removed the agent's folder");
}

#[test]
fn the_container_action_refuses_refresh_before_any_request() {
    let gh = FakeGitHub::start();
    let anything = gh.catch_all();
    let step = Step::new();
    for other in [("app-id", APP_ID), ("app-id", "")] {
        let ran = step.main(bin(), &gh.url(), &[("refresh", "true"), other]);
        assert_eq!(ran.code, 1, "{}\n{}", ran.stdout, ran.stderr);
        let error = ran.line("::error");
        assert!(
            error.contains("refresh")
                && error.contains("app-token/app-token/native")
                && error.contains("cannot leave a process behind its step"),
            "{error}"
        );
        assert_eq!(ran.stdout.matches("::error").count(), 1, "{}", ran.stdout);
    }
    anything.assert_calls(0);
    assert!(step.outputs().is_empty());
}

/// Another process of the job's user (a later step) can use the agent, but cannot read
/// its environment: the agent is not dumpable. Run as `nobody` (without CAP_SYS_PTRACE)
/// where the test is root.
#[test]
fn a_later_step_cannot_read_the_agents_environment() {
    let Some(job) = Job::new("a later step reading /proc/AGENT/environ", true) else {
        return;
    };
    let (_, pid) = job.main();
    let first = job.tokens.minted()[0].token.clone();
    let ran = job.later_step(&format!(
        "{TOKEN_AND_GIT}\n\
         cat /proc/{pid}/environ >/dev/null 2>&1 && echo environ: readable || echo environ: unreadable\n\
         cat /proc/{pid}/cmdline >/dev/null 2>&1 && echo cmdline: readable"
    ));
    assert_eq!(token_and_password(&ran), (first.clone(), first));
    assert!(
        ran.stdout
            .contains("environ: unreadable\ncmdline: readable"),
        "{}",
        ran.stdout
    );
    if job.nobody.as_ref().is_some_and(Unprivileged::switches_user) {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
        assert!(
            status.contains(&format!("Uid:\t{NOBODY}\t")),
            "the agent runs as the job's user"
        );
    }
    assert!(
        !dumpable(pid),
        "the agent's /proc entries are root's: not dumpable"
    );
    let post = job.post();
    assert_eq!(post.code, 0, "{}\n{}", post.stdout, post.stderr);
    assert!(
        post.stdout.contains("The token agent revoked"),
        "{}",
        post.stdout
    );
    all_revoked(&job);
    eventually("the agent ended", || gone(pid));
}

/// Post with a saved agent folder that no agent answers at and that holds no ledger:
/// a warning, not an error; a saved path that is not an agent's folder is left alone.
#[test]
fn post_without_an_agent_or_its_ledger_warns_and_touches_nothing_else() {
    let gh = FakeGitHub::start();
    let anything = gh.catch_all();
    let step = Step::new();
    let temp = tempfile::tempdir().expect("RUNNER_TEMP");
    let gone = temp
        .path()
        .join("app-token-agent-0123456789abcdef0123456789abcdef");
    let kept = temp.path().join("not-an-agent");
    std::fs::create_dir(&kept).expect("a folder");
    std::fs::write(kept.join("ledger.json"), "[]").expect("a file");
    for (saved, warning) in [
        (&gone, "left no ledger"),
        (&kept, "not a folder of app-token's agent: left alone"),
    ] {
        let delimiter = "ghadelimiter_00000000000000000000000000000000";
        let state = format!("agent<<{delimiter}\n{}\n{delimiter}\n", saved.display());
        std::fs::write(step.file("state"), state).expect("the state");
        let ran = step.post(bin(), &gh.url(), &[("refresh", "true")]);
        assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
        assert!(ran.line("::warning").contains(warning), "{}", ran.stdout);
        assert!(!ran.stdout.contains("::error"), "{}", ran.stdout);
    }
    assert!(kept.join("ledger.json").exists(), "left alone");
    anything.assert_calls(0);
}

/// The runner reads `RUNNER_TRACKING_ID` from `/proc/PID/environ` to end a job's leftover
/// processes, which the agent (not dumpable) does not let it: so the agent watches the
/// launcher's parent, the runner's worker, and ends with it, revoking first.
#[test]
fn an_agent_whose_job_process_is_gone_revokes_and_ends() {
    let Some(job) = Job::new("refresh with the job's process gone", false) else {
        return;
    };
    // The runner's worker: a node that starts the launcher, then lives on until killed
    // (node, not a shell: a shell drops the `INPUT_APP-ID`-style variables).
    let out = job.home.path().join("main.out");
    let script = format!(
        "const fs = require('fs');\n\
         const r = require('child_process').spawnSync(process.execPath, [{main:?}], {{ encoding: 'utf8' }});\n\
         fs.writeFileSync({out:?}, r.stdout + r.stderr);\n\
         fs.writeFileSync({done:?}, 'done');\n\
         setInterval(() => {{}}, 1000000);",
        main = job.action.dir().join("main.js").display().to_string(),
        out = out.display().to_string(),
        done = format!("{}.done", out.display()),
    );
    let worker = Command::new(&job.node)
        .args(["-e", &script])
        .current_dir(job.home.path())
        .env_clear()
        .envs(job.env(false))
        .spawn()
        .expect("the worker starts");
    let mut worker = scopeguard_kill(worker);
    eventually("main ended", || {
        job.home.path().join("main.out.done").exists()
    });
    let stdout = std::fs::read_to_string(&out).expect("main's output");
    let pid = agent_pid(&stdout).unwrap_or_else(|| panic!("no agent's pid in:\n{stdout}"));
    job.agent.set(Some(pid));
    let folder = job.folder();
    assert!(!gone(pid), "the agent serves while the job runs");
    let (token, _) = token_and_password(&job.later_step(TOKEN_AND_GIT));
    assert!(job.tokens.live(&token));
    // The agent renews main's token: one of its own to revoke at the end.
    job.wait_for_tokens(2);
    worker.0.kill().expect("the worker is killed");
    let _ = worker.0.wait();
    eventually("the agent ended with its job", || gone(pid));
    // Main's own token is post's to revoke (no post ran); every token the agent minted
    // was revoked, and its folder removed.
    let main_token = job.tokens.minted()[0].token.clone();
    for minted in job.tokens.minted() {
        if minted.token != main_token {
            assert!(minted.revoked, "{} was not revoked", minted.token);
        }
    }
    assert!(!folder.exists(), "the agent removed its folder");
}

/// A child killed when the test ends, however it ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn scopeguard_kill(child: std::process::Child) -> KillOnDrop {
    KillOnDrop(child)
}
