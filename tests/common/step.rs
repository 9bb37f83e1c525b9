//! A step as the runner sets it up: the environment with every declared input, the file-command files, and the built binary run as a process.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, Once, PoisonError, TryLockError};

use super::{APP_ID, KEY_PKCS1};

/// The environment the runner gives a container action's step: every input action.yml
/// declares (blank when the workflow left it out, hyphens kept, defaults filled in),
/// the file commands in `dir` (`output`, `state`, `summary`), and what every runner sets.
/// `inputs` override, by input name.
pub fn runner_env(api: &str, dir: &Path, inputs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env: BTreeMap<String, String> = app_token::action::inputs::all_inputs()
        .iter()
        .map(|n| (format!("INPUT_{}", n.to_uppercase()), String::new()))
        .collect();
    env.insert("INPUT_GITHUB-API-URL".into(), api.into());
    env.insert("INPUT_SKIP-TOKEN-REVOKE".into(), "false".into());
    env.insert("INPUT_APP-ID".into(), APP_ID.into());
    env.insert("INPUT_PRIVATE-KEY".into(), KEY_PKCS1.into());
    for (k, v) in inputs {
        env.insert(format!("INPUT_{}", k.to_uppercase()), v.to_string());
    }
    for (k, v) in [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_REPOSITORY", "acme/site"),
        ("GITHUB_REPOSITORY_OWNER", "acme"),
        ("GITHUB_API_URL", api),
    ] {
        env.insert(k.into(), v.into());
    }
    for (k, f) in [
        ("GITHUB_OUTPUT", "output"),
        ("GITHUB_STATE", "state"),
        ("GITHUB_STEP_SUMMARY", "summary"),
    ] {
        env.insert(k.into(), dir.join(f).display().to_string());
    }
    env.into_iter().collect()
}

/// Parses `name<<DELIM\nvalue\nDELIM\n` file commands, checking that the delimiters are random.
pub fn file_commands(path: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut out = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(head) = lines.next() {
        let (name, delim) = head.split_once("<<").expect("heredoc form");
        assert!(
            delim.starts_with("ghadelimiter_") && delim.len() > 40,
            "{delim}"
        );
        let value: Vec<&str> = lines.by_ref().take_while(|l| *l != delim).collect();
        out.insert(name.to_string(), value.join("\n"));
    }
    out
}

/// One step's directory: the file-command files the runner reads afterwards.
pub struct Step {
    dir: tempfile::TempDir,
}

impl Default for Step {
    fn default() -> Self {
        Self::new()
    }
}

impl Step {
    /// The main step of `bin` with the PEM input blank (the key is a service's) and `inputs`,
    /// plus `extra` variables.
    pub fn run_keyless(
        &self,
        bin: &Path,
        api: &str,
        inputs: &[(&str, &str)],
        extra: Vec<(String, String)>,
    ) -> Ran {
        let mut with_key: Vec<(&str, &str)> = vec![("private-key", "")];
        with_key.extend_from_slice(inputs);
        let mut env = self.env(api, &with_key);
        env.extend(extra);
        run_binary(bin, &[], &env, "")
    }

    /// A step whose file-command files exist and are empty, as the runner makes them before
    /// each step (actions/toolkit's `issueFileCommand` refuses a missing one).
    pub fn new() -> Self {
        let step = Self {
            dir: tempfile::tempdir().expect("a temporary directory"),
        };
        for name in ["output", "state", "summary"] {
            std::fs::write(step.file(name), "").expect("a file-command file");
        }
        step
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A file in the step's directory (`output`, `state` and `summary` are the file commands').
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The main step's environment (see [`runner_env`]).
    pub fn env(&self, api: &str, inputs: &[(&str, &str)]) -> Vec<(String, String)> {
        runner_env(api, self.dir(), inputs)
    }

    /// Post's environment: main's, plus `STATE_<name>` for what main saved.
    pub fn post_env(&self, api: &str, inputs: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut env = self.env(api, inputs);
        for (k, v) in file_commands(&self.file("state")) {
            env.push((format!("STATE_{k}"), v));
        }
        env
    }

    pub fn outputs(&self) -> BTreeMap<String, String> {
        file_commands(&self.file("output"))
    }

    /// Writes `saved` (the JSON main saves) as the state post reads.
    pub fn save_state(&self, saved: &serde_json::Value) {
        let delimiter = "ghadelimiter_00000000000000000000000000000000";
        let text = format!("tokens<<{delimiter}\n{saved}\n{delimiter}\n");
        std::fs::write(self.file("state"), text).expect("the state file");
    }

    pub fn summary(&self) -> String {
        std::fs::read_to_string(self.file("summary")).unwrap_or_default()
    }

    /// The main step, as the runner starts `bin`.
    pub fn main(&self, bin: &Path, api: &str, inputs: &[(&str, &str)]) -> Ran {
        run_binary(bin, &[], &self.env(api, inputs), "")
    }

    /// The post step, as the runner starts it: `bin` under the post-entrypoint's name,
    /// with main's inputs and `STATE_*` from what main saved.
    pub fn post(&self, bin: &Path, api: &str, inputs: &[(&str, &str)]) -> Ran {
        run_binary(
            &self.post_entrypoint(bin),
            &[],
            &self.post_env(api, inputs),
            "",
        )
    }

    /// The binary under the name the image's post-entrypoint gives it: a link named
    /// `app-token-post` in the step's directory.
    pub fn post_entrypoint(&self, bin: &Path) -> PathBuf {
        let link = self.file("app-token-post");
        if !link.exists() {
            std::os::unix::fs::symlink(bin, &link).expect("a link to the binary");
        }
        link
    }
}

/// What a process did.
#[derive(Debug)]
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    /// What a finished process did, from its output.
    pub fn of(out: std::process::Output) -> Self {
        Ran {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into(),
            stderr: String::from_utf8_lossy(&out.stderr).into(),
        }
    }

    /// The first stdout line that starts with `prefix` (a workflow command such as
    /// `::error`); the test fails, showing stdout, when there is none.
    pub fn line(&self, prefix: &str) -> &str {
        self.stdout
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line starting with {prefix:?} in:\n{}", self.stdout))
    }
}

/// Runs `bin` with `args`, nothing but `env` in its environment, and `stdin` on its input.
pub fn run_binary(bin: &Path, args: &[&str], env: &[(String, String)], stdin: &str) -> Ran {
    let mut child = Command::new(bin)
        .args(args)
        .env_clear()
        .envs(env.iter().cloned())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    // The process may exit without reading: a closed pipe is not the test's failure.
    if let Some(mut input) = child.stdin.take() {
        let _ = input.write_all(stdin.as_bytes());
    }
    let out = child.wait_with_output().expect("the binary's output");
    Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

/// Says that a test could not check what it names, past the harness's capture so that
/// it shows in the log. Where `require` names a variable set to `1`, it fails instead.
/// Each is also counted, and listed again as the test program exits (see
/// [`say_what_was_not_checked`]).
pub fn not_checked(what: &str, why: &str, require: &str) {
    assert_ne!(
        std::env::var(require).as_deref(),
        Ok("1"),
        "{require}=1, but {what} cannot be checked: {why}"
    );
    let _ = writeln!(std::io::stderr(), "NOT CHECKED: {what}: {why}");
    let mut list = NOT_CHECKED.lock().unwrap_or_else(PoisonError::into_inner);
    list.push(format!("{what}: {why} ({require})"));
    static AT_EXIT: Once = Once::new();
    // SAFETY: registers a function of ours, which takes no arguments and does not
    // unwind, to run as the process exits.
    AT_EXIT.call_once(|| unsafe {
        libc::atexit(say_what_was_not_checked);
    });
}

/// What this process could not check, in the order the tests said so.
static NOT_CHECKED: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Run as the test program exits (after the harness's `test result:` line, which CI
/// adds up; this line is not one of those): how many checks were not made, and each.
/// Only this process's: nothing is kept between runs, so nothing stale is counted.
extern "C" fn say_what_was_not_checked() {
    let list = match NOT_CHECKED.try_lock() {
        Ok(list) => list,
        Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
        // A test thread still holds it as the process exits: say nothing, rather than wait.
        Err(TryLockError::WouldBlock) => return,
    };
    if list.is_empty() {
        return;
    }
    let mut text = format!(
        "{} not checked (each a failure where the variable named is 1):\n",
        list.len()
    );
    for line in list.iter() {
        text.push_str(&format!("  {line}\n"));
    }
    let _ = std::io::stderr().write_all(text.as_bytes());
}
