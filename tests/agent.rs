//! The token agent from the command line: `app-token agent`, `token`, `agent --stop`,
//! `git-credential` through the agent, and `exec --refresh`, against a fake GitHub whose
//! tokens expire seconds after issue and a real git server that admits only live ones.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::tokens::Tokens;
use crate::common::{Cli, FakeGitHub};

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

/// `NAME='VALUE'; export NAME;` lines, read back.
fn shell_vars(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .filter_map(|line| {
            let (name, rest) = line.split_once('=')?;
            let value = rest.strip_prefix('\'')?.split("'; export ").next()?;
            Some((name.to_string(), value.replace(r"'\''", "'")))
        })
        .collect()
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
    // Tokens live 12 s: handed out while more than 2 s are left, renewed at 4 s left.
    let tokens = Tokens::new(Duration::from_secs(12));
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
        assert!(tokens.live(&token), "handed out a token GitHub refuses");
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
