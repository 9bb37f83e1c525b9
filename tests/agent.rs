//! The token agent from the command line: `app-token agent`, `token`, `agent --stop`,
//! `git-credential` through the agent, and `exec --refresh`, against a fake GitHub whose
//! tokens expire seconds after issue and a real git server that admits only live ones.

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::git_server::{git, run_git, GitServer};
use crate::common::native::shell_vars;
use crate::common::tokens::{State, Tokens};
use crate::common::{
    dumpable, not_checked, Cli, FakeGitHub, Unprivileged, APP_ID, BIN, KEY_PKCS1, REQUIRE_PROC,
};

/// An agent started by a test: killed when the test ends, however it ends.
struct Agent {
    address: String,
    pid: i32,
    vars: Vec<(String, String)>,
}

impl Drop for Agent {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the agent's pid, which the test started; a second kill of an
        // agent already gone is refused with ESRCH, or reaches nothing the test cares for.
        unsafe {
            libc::kill(self.pid, libc::SIGKILL);
        }
    }
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 checks the pid exists, and sends nothing.
    let exists = unsafe { libc::kill(pid, 0) == 0 };
    exists
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|s| s.split_whitespace().nth(2) == Some("Z"))
}

/// `app-token agent` for `owner`'s `site`, its folder under `runtime`.
fn start_agent(gh: &FakeGitHub, runtime: &Path, extra: &[&str]) -> Agent {
    let ran = Cli::new(&["agent"])
        .app(&gh.url())
        .key_file()
        .args(&["--owner", "acme", "--repositories", "site"])
        .args(extra)
        .env("XDG_RUNTIME_DIR", &runtime.display().to_string())
        .run();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let vars = shell_vars(&ran.stdout);
    let get = |n: &str| {
        vars.iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {n} in {}", ran.stdout))
    };
    Agent {
        address: get("APP_TOKEN_AGENT"),
        pid: get("APP_TOKEN_AGENT_PID").parse().expect("a pid"),
        vars,
    }
}

fn token_from(agent: &Agent) -> String {
    let ran = Cli::new(&["token"])
        .env("APP_TOKEN_AGENT", &agent.address)
        .run();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    ran.stdout.trim_end().to_string()
}

#[test]
fn an_agent_hands_out_live_tokens_past_their_hour_and_revokes_every_one_when_stopped() {
    let gh = FakeGitHub::start();
    // Tokens live 12 s: handed out while more than 2 s are left, renewed at 4 s left, and
    // only once 0.3 s old (a fortieth of their life), while GitHub refuses one for 0.25 s.
    let tokens = Tokens::new(Duration::from_secs(12)).refusing_fresh(Duration::from_millis(250));
    gh.minting(&tokens, "acme", &[(101, "site")]);
    let runtime = tempfile::tempdir().expect("a runtime folder");
    let agent = start_agent(&gh, runtime.path(), &[]);
    let folder = PathBuf::from(&agent.address)
        .parent()
        .expect("the socket's folder")
        .to_path_buf();
    assert!(folder.starts_with(runtime.path()), "{}", folder.display());
    assert!(alive(agent.pid));

    let first = token_from(&agent);
    assert!(tokens.live(&first));
    let mut seen = vec![first.clone()];
    // Ask again and again for 20 s: every token handed out is live when handed out, and
    // the first is replaced before it expires.
    let end = Instant::now() + Duration::from_secs(20);
    while Instant::now() < end {
        let token = token_from(&agent);
        assert_eq!(
            tokens.state(&token),
            State::Live,
            "handed out a token GitHub refuses"
        );
        if !seen.contains(&token) {
            seen.push(token);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(
        seen.len() >= 2,
        "the token was never renewed: {}",
        seen.len()
    );
    assert!(!tokens.live(&first), "the first has expired by now");

    let ran = Cli::new(&["agent", "--stop"])
        .env("APP_TOKEN_AGENT", &agent.address)
        .run();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(
        ran.stdout,
        "unset APP_TOKEN_AGENT;\nunset APP_TOKEN_AGENT_PID;\n"
    );
    assert!(ran.stderr.contains("The agent revoked"), "{}", ran.stderr);
    assert_eq!(
        tokens.live_tokens(),
        Vec::<String>::new(),
        "every token revoked"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(agent.pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!alive(agent.pid), "the agent ended");
    assert!(!folder.exists(), "its folder is removed");
    let ran = Cli::new(&["token"])
        .env("APP_TOKEN_AGENT", &agent.address)
        .run();
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    assert!(ran.stderr.contains("no agent answers"), "{}", ran.stderr);
}

#[test]
fn token_without_an_agent_says_so() {
    let ran = Cli::new(&["token"]).run();
    assert_eq!(ran.code, 2, "{}", ran.stderr);
    assert!(
        ran.stderr.contains("APP_TOKEN_AGENT is not set"),
        "{}",
        ran.stderr
    );
    let ran = Cli::new(&["token"])
        .env("APP_TOKEN_AGENT", "/nonexistent/agent.sock")
        .run();
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    assert_eq!(ran.stdout, "");
}

#[test]
fn an_agent_that_cannot_mint_is_not_left_running() {
    let gh = FakeGitHub::start();
    // No installation: the agent's first token is refused, and `agent` says why.
    let runtime = tempfile::tempdir().expect("a runtime folder");
    let ran = Cli::new(&["agent"])
        .app(&gh.url())
        .key_file()
        .args(&["--owner", "acme"])
        .env("XDG_RUNTIME_DIR", &runtime.path().display().to_string())
        .run();
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    assert_eq!(ran.stdout, "");
    assert!(ran.stderr.contains("the agent says"), "{}", ran.stderr);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left: Vec<_> = std::fs::read_dir(runtime.path())
            .expect("the folder")
            .collect();
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the agent's folder stays: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The fake GitHub minting for acme's `site` (id 101), served over git (see
/// [`crate::common::git_server::serving`]).
fn serving(tokens: &Tokens, what: &str) -> Option<(FakeGitHub, GitServer)> {
    crate::common::git_server::serving(tokens, "acme", (101, "site"), what)
}

/// Hermetic git (see [`git`]) with the agent's variables: `APP_TOKEN_AGENT` and git's
/// configuration, as the shell lines `app-token agent` printed set them.
fn git_through(agent: &Agent, home: &Path) -> Command {
    let mut git = git(home);
    git.envs(agent.vars.iter().map(|(k, v)| (k, v)));
    git
}

#[test]
fn git_clones_then_pushes_hours_later_through_the_agent_and_never_sends_an_expired_token() {
    let tokens = Tokens::new(Duration::from_secs(12));
    let Some((gh, server)) = serving(&tokens, "git through the agent") else {
        return;
    };
    let runtime = tempfile::tempdir().expect("a runtime folder");
    let agent = start_agent(&gh, runtime.path(), &[]);
    let home = tempfile::tempdir().expect("git's home");
    let clone = home.path().join("site");
    run_git(
        git_through(&agent, home.path())
            .arg("clone")
            .arg(&server.url)
            .arg(&clone),
    );
    let cloned_with = tokens.minted().last().expect("a token").token.clone();
    // The clone's token expires, as an hour-old one would.
    tokens.wait_until_expired(&cloned_with);
    std::fs::write(clone.join("built"), "three hours later\n").expect("a file");
    run_git(
        git_through(&agent, home.path())
            .arg("-C")
            .arg(&clone)
            .args(["add", "built"]),
    );
    run_git(
        git_through(&agent, home.path())
            .arg("-C")
            .arg(&clone)
            .args(["commit", "-m", "built"]),
    );
    run_git(
        git_through(&agent, home.path())
            .arg("-C")
            .arg(&clone)
            .args(["push", "origin", "main"]),
    );
    let pushed = run_git(
        git_through(&agent, home.path())
            .arg("-C")
            .arg(&clone)
            .args(["rev-parse", "HEAD"]),
    );
    assert_eq!(server.head("main"), pushed.trim());
    // Every password git sent was a live token of the fake.
    let sent: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| !r.passwords.is_empty())
        .collect();
    assert!(sent.len() >= 2, "{sent:#?}");
    for request in &sent {
        assert_eq!(request.state, Some(State::Live), "{request:#?}");
    }
    let used: std::collections::BTreeSet<_> = sent.iter().map(|r| r.passwords.join(",")).collect();
    assert!(used.len() >= 2, "the push used a new token: {used:?}");
    let ran = Cli::new(&["agent", "--stop"])
        .env("APP_TOKEN_AGENT", &agent.address)
        .run();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(tokens.live_tokens(), Vec::<String>::new());
}

#[test]
fn fifty_concurrent_credential_fills_after_a_sleep_wait_on_one_mint() {
    // Tokens live 6 s. The agent is stopped (as a laptop sleeps) until its token expired and
    // its renewal is overdue; on waking, 50 `git credential fill` at once get one new token.
    let tokens = Tokens::new(Duration::from_secs(6));
    let Some((gh, _server)) = serving(&tokens, "fifty credential fills") else {
        return;
    };
    let runtime = tempfile::tempdir().expect("a runtime folder");
    let agent = start_agent(&gh, runtime.path(), &[]);
    let first = tokens
        .minted()
        .last()
        .expect("the first token")
        .token
        .clone();
    // SAFETY: signals to the agent this test started.
    unsafe { libc::kill(agent.pid, libc::SIGSTOP) };
    tokens.wait_until_expired(&first);
    let before = tokens.mints();
    // SAFETY: as above.
    unsafe { libc::kill(agent.pid, libc::SIGCONT) };
    let home = tempfile::tempdir().expect("git's home");
    let host = gh.url().trim_start_matches("http://").to_string();
    let fills: Vec<_> = (0..50)
        .map(|_| {
            let mut fill = git_through(&agent, home.path());
            fill.args(["credential", "fill"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let mut child = fill.spawn().expect("git runs");
            let request = format!("protocol=http\nhost={host}\npath=acme/site.git\n\n");
            child
                .stdin
                .take()
                .expect("git's stdin")
                .write_all(request.as_bytes())
                .expect("the request");
            child
        })
        .collect();
    let mut answered = std::collections::BTreeSet::new();
    for child in fills {
        let out = child.wait_with_output().expect("git ends");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let password = stdout
            .lines()
            .find_map(|l| l.strip_prefix("password="))
            .expect("a password")
            .to_string();
        assert!(tokens.live(&password), "a fill was handed a dead token");
        answered.insert(password);
    }
    assert_eq!(tokens.mints() - before, 1, "one mint for the burst");
    assert_eq!(answered.len(), 1, "{answered:?}");
}

#[test]
fn another_user_is_refused_by_the_agent_even_through_an_open_socket() {
    let gh = FakeGitHub::start();
    let tokens = Tokens::new(Duration::from_secs(600));
    gh.minting(&tokens, "acme", &[(101, "site")]);
    let Some(other) = Unprivileged::new(Path::new(BIN), "another user refused by the agent") else {
        return;
    };
    if !other.switches_user() {
        not_checked(
            "another user refused by the agent",
            "the tests do not run as root, so cannot start a client as another user",
            REQUIRE_PROC,
        );
        return;
    }
    let runtime = tempfile::tempdir().expect("a runtime folder");
    std::fs::set_permissions(runtime.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let agent = start_agent(&gh, runtime.path(), &[]);
    let ask_as_other = || {
        let out = other
            .command(&["token"])
            .env_clear()
            .env("APP_TOKEN_AGENT", &agent.address)
            .output()
            .expect("the client runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // The folder is the agent's user's alone: another user cannot reach the socket.
    let (code, stdout, stderr) = ask_as_other();
    assert_eq!((code, stdout.as_str()), (Some(1), ""), "{stderr}");
    assert!(stderr.contains("Permission denied"), "{stderr}");
    // Even with the folder and socket opened to all, the agent answers its own user only.
    let folder = Path::new(&agent.address).parent().expect("the folder");
    std::fs::set_permissions(folder, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&agent.address, std::fs::Permissions::from_mode(0o666)).unwrap();
    let (code, stdout, stderr) = ask_as_other();
    assert_eq!((code, stdout.as_str()), (Some(1), ""), "{stderr}");
    assert!(
        stderr.contains("refused: this agent answers only its own user"),
        "{stderr}"
    );
    assert!(
        !token_from(&agent).is_empty(),
        "its own user still gets a token"
    );
}

#[test]
fn exec_refresh_serves_its_command_past_its_first_token_and_revokes_every_token_at_its_end() {
    let tokens = Tokens::new(Duration::from_secs(12));
    let Some((gh, server)) = serving(&tokens, "exec --refresh") else {
        return;
    };
    let home = tempfile::tempdir().expect("git's home");
    let out = home.path().join("out");
    // The command: a clone, the first token's expiry waited out, then a token from the
    // agent and a push.
    let script = format!(
        r#"set -e
first="$GH_TOKEN"
git clone -q "{url}" "{home}/site"
echo "$first" > "{out}.first"
until [ -e "{out}.expired" ]; do sleep 0.2; done
'{bin}' token > "{out}.later"
cd "{home}/site" && echo built > built && git add built && git commit -qm built && git push -q origin main
echo "$APP_TOKEN_AGENT" > "{out}.agent"
"#,
        url = server.url,
        home = home.path().display(),
        out = out.display(),
        bin = BIN,
    );
    let cli = Cli::new(&["exec", "--refresh"])
        .app(&gh.url())
        .key_file()
        .args(&["--repositories", "acme/site", "--", "sh", "-c", &script])
        .path()
        .envs(&[
            ("HOME", &home.path().display().to_string()),
            ("GIT_CONFIG_NOSYSTEM", "1"),
            ("GIT_TERMINAL_PROMPT", "0"),
            ("GIT_AUTHOR_NAME", "Test"),
            ("GIT_AUTHOR_EMAIL", "test@example.com"),
            ("GIT_COMMITTER_NAME", "Test"),
            ("GIT_COMMITTER_EMAIL", "test@example.com"),
            ("XDG_RUNTIME_DIR", &home.path().display().to_string()),
        ]);
    let mut exec = cli
        .command()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("exec starts");
    let first_file = PathBuf::from(format!("{}.first", out.display()));
    let deadline = Instant::now() + Duration::from_secs(30);
    while !first_file.exists() {
        if Instant::now() > deadline || exec.try_wait().ok().flatten().is_some() {
            let _ = exec.kill();
            let out = exec.wait_with_output().expect("exec's output");
            panic!(
                "the clone did not finish: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let first = std::fs::read_to_string(&first_file)
        .unwrap()
        .trim()
        .to_string();
    tokens.wait_until_expired(&first);
    std::fs::write(format!("{}.expired", out.display()), "").unwrap();
    let status = exec.wait().expect("exec ends");
    let mut stderr = String::new();
    std::io::Read::read_to_string(exec.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "{stderr}");
    let later = std::fs::read_to_string(format!("{}.later", out.display())).unwrap();
    assert_ne!(later.trim(), first, "a fresh token after the first expired");
    for request in server.requests().iter().filter(|r| !r.passwords.is_empty()) {
        assert_eq!(request.state, Some(State::Live), "{request:#?}");
    }
    assert_eq!(
        tokens.live_tokens(),
        Vec::<String>::new(),
        "every token revoked: {stderr}"
    );
    let agent = std::fs::read_to_string(format!("{}.agent", out.display())).unwrap();
    assert!(
        !Path::new(agent.trim()).exists(),
        "the agent's socket is gone"
    );
}

/// Waits up to 10 s for the agent `pid` to end; whether it did.
fn ended(pid: i32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    !alive(pid)
}

#[test]
fn sigterm_and_the_lifetime_each_end_the_agent_and_every_token_it_minted() {
    let gh = FakeGitHub::start();
    // Tokens live 9 s: the agent renews them every 6 s while it runs.
    let tokens = Tokens::new(Duration::from_secs(9));
    gh.minting(&tokens, "acme", &[(101, "site")]);
    let runtime = tempfile::tempdir().expect("a runtime folder");

    // The runner's cancel, or an ephemeral runner's end: SIGTERM.
    let agent = start_agent(&gh, runtime.path(), &[]);
    std::thread::sleep(Duration::from_secs(7));
    assert!(
        tokens.mints() >= 3,
        "renewed once (a helper and a final first, then one)"
    );
    assert!(!tokens.live_tokens().is_empty());
    // SAFETY: a signal to the agent this test started.
    unsafe { libc::kill(agent.pid, libc::SIGTERM) };
    assert!(ended(agent.pid), "SIGTERM ends the agent");
    assert_eq!(tokens.live_tokens(), Vec::<String>::new(), "revoked first");

    // Its lifetime, 10 s, runs out.
    let agent = start_agent(&gh, runtime.path(), &["--lifetime", "10s"]);
    assert!(!tokens.live_tokens().is_empty());
    assert!(alive(agent.pid));
    std::thread::sleep(Duration::from_secs(10));
    assert!(ended(agent.pid), "the lifetime ends the agent");
    assert_eq!(tokens.live_tokens(), Vec::<String>::new());
    let left: Vec<_> = std::fs::read_dir(runtime.path())
        .expect("the runtime folder")
        .collect();
    assert!(left.is_empty(), "both folders removed: {left:?}");
}

#[test]
fn the_agent_keeps_the_key_out_of_its_arguments_environment_and_folder_and_is_not_dumpable() {
    let what = "the agent's arguments, environment, folder and dumpability";
    let gh = FakeGitHub::start();
    let tokens = Tokens::new(Duration::from_secs(600));
    gh.minting(&tokens, "acme", &[(101, "site")]);
    let Some(other) = Unprivileged::new(Path::new(BIN), what) else {
        return;
    };
    // The agent started (as `nobody` when the tests run as root) with the key in the
    // environment, and a secret-looking variable beside it.
    let runtime = tempfile::tempdir().expect("a runtime folder");
    std::fs::set_permissions(runtime.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = other
        .command(&[
            "agent",
            "--app-id",
            APP_ID,
            "--api-url",
            &gh.url(),
            "--owner",
            "acme",
        ])
        .env_clear()
        .env("APP_TOKEN_PRIVATE_KEY", KEY_PKCS1)
        .env("XDG_RUNTIME_DIR", runtime.path())
        .env("RUNNER_TRACKING_ID", "github_0123")
        .output()
        .expect("app-token agent runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let vars = shell_vars(&stdout);
    let get = |n: &str| {
        vars.iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
            .expect(n)
    };
    let agent = Agent {
        address: get("APP_TOKEN_AGENT"),
        pid: get("APP_TOKEN_AGENT_PID").parse().expect("a pid"),
        vars: vars.clone(),
    };
    let key_line = KEY_PKCS1.lines().nth(1).expect("a line of the key");
    assert!(!stdout.contains(key_line));
    let pid = agent.pid;
    // Read as root (or as its own user): no key in its arguments or environment.
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    assert_eq!(
        String::from_utf8_lossy(&cmdline),
        format!("{}\0--serve-agent-from-stdin\0", other.bin().display())
    );
    match std::fs::read(format!("/proc/{pid}/environ")) {
        Ok(environ) => {
            let environ = String::from_utf8_lossy(&environ);
            assert!(
                !environ.contains(key_line),
                "the key in the agent's environment"
            );
            assert!(!environ.contains("APP_TOKEN_PRIVATE_KEY"), "{environ}");
            assert!(
                environ.contains("RUNNER_TRACKING_ID=github_0123"),
                "{environ}"
            );
        }
        Err(e) => not_checked(
            what,
            &format!("cannot read the agent's environ: {e}"),
            REQUIRE_PROC,
        ),
    }
    // Its folder holds its socket, its log and its ledger, none with the key in it.
    let folder = Path::new(&agent.address).parent().expect("the folder");
    for entry in std::fs::read_dir(folder).expect("the agent's folder") {
        let path = entry.expect("an entry").path();
        let text = std::fs::read(&path).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&text).contains(key_line),
            "{}",
            path.display()
        );
    }
    if other.switches_user() {
        assert!(
            !dumpable(pid as u32),
            "the agent is dumpable: other processes of its user could read it"
        );
    } else {
        not_checked(
            what,
            "the tests do not run as root: the agent's dumpability is not visible",
            REQUIRE_PROC,
        );
    }
}

#[test]
fn an_agent_whose_runtime_folder_is_too_deep_for_a_socket_listens_in_the_temporary_folder() {
    let gh = FakeGitHub::start();
    let tokens = Tokens::new(Duration::from_secs(600));
    gh.minting(&tokens, "acme", &[(101, "site")]);
    // A self-hosted runner's RUNNER_TEMP can be deeper than a socket's path may be long
    // (108 bytes on Linux, 104 on macOS).
    let runtime = tempfile::tempdir().expect("a runtime folder");
    let deep = runtime.path().join("d".repeat(100));
    std::fs::create_dir(&deep).expect("a deep folder");
    let agent = start_agent(&gh, &deep, &[]);
    assert!(agent.address.len() <= 103, "{}", agent.address);
    assert!(!agent.address.starts_with(&deep.display().to_string()));
    assert!(tokens.live(&token_from(&agent)));
    let ran = Cli::new(&["agent", "--stop"])
        .env("APP_TOKEN_AGENT", &agent.address)
        .run();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
}

#[test]
fn a_burst_during_an_outage_costs_github_one_mint() {
    let gh = FakeGitHub::start();
    let tokens = Tokens::new(Duration::from_secs(6));
    let (mut mint, _revoke) = gh.minting(&tokens, "acme", &[(101, "site")]);
    let runtime = tempfile::tempdir().expect("a runtime folder");
    let agent = start_agent(&gh, runtime.path(), &[]);
    let first = tokens
        .minted()
        .last()
        .expect("the first token")
        .token
        .clone();
    // SAFETY: signals to the agent this test started.
    unsafe { libc::kill(agent.pid, libc::SIGSTOP) };
    tokens.wait_until_expired(&first);
    // GitHub refuses every token from now on.
    mint.delete();
    let refused = gh.server.mock(|when, then| {
        when.method(httpmock::Method::POST).path(format!(
            "/app/installations/{}/access_tokens",
            crate::common::INSTALLATION
        ));
        then.status(403)
            .header("content-type", "application/json")
            .body(r#"{"message":"Resource not accessible by integration"}"#);
    });
    // SAFETY: as above.
    unsafe { libc::kill(agent.pid, libc::SIGCONT) };
    let asked: Vec<_> = (0..20)
        .map(|_| {
            Cli::new(&["token"])
                .env("APP_TOKEN_AGENT", &agent.address)
                .command()
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("app-token token starts")
        })
        .collect();
    for child in asked {
        let out = child.wait_with_output().expect("app-token token ends");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("Resource not accessible by integration"),
            "{stderr}"
        );
    }
    assert_eq!(refused.calls(), 1, "one mint for the whole burst");
}
