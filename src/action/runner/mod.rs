//! The GitHub Actions runner protocol, all of it.
//!
//! The step's environment (inputs, state, debug), workflow commands and masks on stdout,
//! and file commands (outputs, state, summary, the later steps' environment and path).
//!
//! This module knows nothing of GitHub's API. Every value it prints inside a
//! workflow command is escaped, so that no input can start a command of its
//! own, and every file command is written as a heredoc with a random delimiter.

mod act;
mod env;
mod escape;
mod state;

pub use act::{main_note as act_main_note, under_act, POST_NO_STATE as ACT_POST_NO_STATE};
pub use env::{input, input_bool, state_value, under_actions};
pub use escape::{escape_data, escape_property, heredoc_entry, random_delimiter, shown};
pub use state::{SavedToken, STATE_TOKENS};

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::{bail, Context, Result};

use crate::env::{var, Env};
use crate::plain::plain_lines;

/// Where the file commands go: the paths the runner gives in the environment.
#[derive(Debug, Clone, Default)]
pub struct FileCommands {
    pub output: Option<PathBuf>,
    pub state: Option<PathBuf>,
    pub summary: Option<PathBuf>,
    pub env: Option<PathBuf>,
    pub path: Option<PathBuf>,
}

impl FileCommands {
    /// Reads `GITHUB_OUTPUT`, `GITHUB_STATE`, `GITHUB_STEP_SUMMARY`, `GITHUB_ENV` and
    /// `GITHUB_PATH` from `env`.
    pub fn from_env(env: Env<'_>) -> Self {
        let path = |name: &str| var(env, name).map(PathBuf::from);
        Self {
            output: path("GITHUB_OUTPUT"),
            state: path("GITHUB_STATE"),
            summary: path("GITHUB_STEP_SUMMARY"),
            env: path("GITHUB_ENV"),
            path: path("GITHUB_PATH"),
        }
    }
}

/// Talks to the runner: log lines and workflow commands on `out`, file commands on disk.
/// It can be shared between tasks: each line is written whole.
pub struct Runner<W: Write> {
    out: Mutex<W>,
    files: FileCommands,
    debug: bool,
}

impl<W: Write> Runner<W> {
    /// A runner writing to `out`, its file commands and `RUNNER_DEBUG` from `env`.
    pub fn from_env(out: W, env: Env<'_>) -> Self {
        Runner::new(out, FileCommands::from_env(env), env::debug(env))
    }

    pub fn new(out: W, files: FileCommands, debug: bool) -> Self {
        Self {
            out: Mutex::new(out),
            files,
            debug,
        }
    }

    /// Gives back the writer (tests read what was printed).
    pub fn into_inner(self) -> W {
        self.out
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn debug_enabled(&self) -> bool {
        self.debug
    }

    fn line(&self, text: &str) {
        let mut out = self
            .out
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // A log line that cannot be written (closed stdout) is not worth failing the step for.
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }

    /// A command for people (an annotation, a debug line, a group): its text shown
    /// printable, line by line (see [`shown`]), then escaped.
    fn command(&self, name: &str, properties: &[(&str, &str)], message: &str) {
        let properties: Vec<(&str, String)> =
            properties.iter().map(|(k, v)| (*k, shown(v))).collect();
        let properties: Vec<(&str, &str)> =
            properties.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.command_exact(name, &properties, &shown(message));
    }

    /// A command whose values are escaped but otherwise kept as they are (a mask must
    /// be the secret itself).
    fn command_exact(&self, name: &str, properties: &[(&str, &str)], message: &str) {
        let props: Vec<String> = properties
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={}", escape_property(v)))
            .collect();
        let props = if props.is_empty() {
            String::new()
        } else {
            format!(" {}", props.join(","))
        };
        self.line(&format!("::{name}{props}::{}", escape_data(message)));
    }

    /// Registers a secret with the runner, so that it is replaced by `***` in every later log line.
    pub fn mask(&self, secret: &str) {
        for part in secret.lines().map(str::trim).filter(|p| !p.is_empty()) {
            self.command_exact("add-mask", &[], part);
        }
    }

    /// Plain log lines, one per line of `message`, that the runner never takes for a
    /// command, whatever they quote (see [`plain_lines`]).
    pub fn info(&self, message: &str) {
        self.line(&plain_lines(message));
    }

    pub fn debug(&self, message: &str) {
        if self.debug {
            self.command("debug", &[], message);
        }
    }

    pub fn notice(&self, title: &str, message: &str) {
        self.command("notice", &[("title", title)], message);
    }

    pub fn warning(&self, title: &str, message: &str) {
        self.command("warning", &[("title", title)], message);
    }

    pub fn error(&self, title: &str, message: &str) {
        self.command("error", &[("title", title)], message);
    }

    pub fn group(&self, title: &str) {
        self.command("group", &[], title);
    }

    pub fn end_group(&self) {
        self.line("::endgroup::");
    }

    fn append(path: &Option<PathBuf>, what: &str, text: &str) -> Result<()> {
        let Some(path) = path else {
            bail!("{what} is not set: this must run as a step of a GitHub Actions job (runner 2.297 or later)");
        };
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open {what} at {}", path.display()))?;
        file.write_all(text.as_bytes())
            .with_context(|| format!("cannot write to {what} at {}", path.display()))
    }

    fn file_command(path: &Option<PathBuf>, what: &str, entries: &[(&str, &str)]) -> Result<()> {
        let delimiter = random_delimiter()?;
        let mut text = String::new();
        for (name, value) in entries {
            text.push_str(&heredoc_entry(name, value, &delimiter)?);
        }
        Self::append(path, what, &text)
    }

    /// Sets step outputs, all in one write to `GITHUB_OUTPUT`.
    pub fn set_outputs(&self, entries: &[(&str, &str)]) -> Result<()> {
        Self::file_command(&self.files.output, "GITHUB_OUTPUT", entries)
    }

    /// Saves state for the post step (it reads it back as `STATE_<name>`).
    pub fn save_state(&self, entries: &[(&str, &str)]) -> Result<()> {
        Self::file_command(&self.files.state, "GITHUB_STATE", entries)
    }

    /// Sets variables for the job's later steps, all in one write to `GITHUB_ENV`.
    pub fn set_env(&self, entries: &[(&str, &str)]) -> Result<()> {
        Self::file_command(&self.files.env, "GITHUB_ENV", entries)
    }

    /// Puts `dir` first on the later steps' `PATH` (a line of `GITHUB_PATH`). A path
    /// with a line break in it would be read as two: refused.
    pub fn add_path(&self, dir: &str) -> Result<()> {
        if dir.contains(['\n', '\r']) {
            bail!("the folder {dir:?} has a line break in it: GITHUB_PATH cannot take it");
        }
        Self::append(&self.files.path, "GITHUB_PATH", &format!("{dir}\n"))
    }

    /// Appends markdown to the job summary. A job without a summary file just gets none.
    pub fn append_summary(&self, markdown: &str) -> Result<()> {
        if self.files.summary.is_none() {
            return Ok(());
        }
        Self::append(&self.files.summary, "GITHUB_STEP_SUMMARY", markdown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runner(debug: bool) -> Runner<Vec<u8>> {
        Runner::new(Vec::new(), FileCommands::default(), debug)
    }

    #[test]
    fn commands_escape_their_message_and_title() {
        let r = runner(false);
        r.error("bad: input, really", "line1\n::warning::line2");
        r.info("hello\n::error::x ##[stop-commands]x 100%");
        r.mask("ghs_secret");
        r.warning("t\u{1b}", "GitHub: \u{1b}]52;c;eA==\u{7}\u{200b}");
        r.mask("a\u{1b}b");
        let out = String::from_utf8(r.into_inner()).unwrap();
        assert_eq!(
            out,
            "::error title=bad%3A input%2C really::line1%0A::warning::line2\n\
             hello\n: :error::x ## [stop-commands]x 100%\n::add-mask::ghs_secret\n\
             ::warning title=t?::GitHub: ?]52;c;eA==??\n::add-mask::a\u{1b}b\n"
        );
    }

    #[test]
    fn debug_lines_only_with_runner_debug() {
        let quiet = runner(false);
        quiet.debug("x");
        assert!(quiet.into_inner().is_empty());
        let loud = runner(true);
        loud.debug("x");
        assert_eq!(loud.into_inner(), b"::debug::x\n");
    }

    #[test]
    fn outputs_go_to_the_output_file_as_heredocs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        let files = FileCommands {
            output: Some(path.clone()),
            ..Default::default()
        };
        let r = Runner::new(Vec::new(), files, false);
        r.set_outputs(&[("token", "abc"), ("multi", "a\nb")])
            .unwrap();
        let text = std::fs::read_to_string(path).unwrap();
        let delim = text
            .lines()
            .next()
            .unwrap()
            .split("<<")
            .nth(1)
            .unwrap()
            .to_string();
        assert!(delim.starts_with("ghadelimiter_"));
        assert_eq!(
            text,
            format!("token<<{delim}\nabc\n{delim}\nmulti<<{delim}\na\nb\n{delim}\n")
        );
    }

    #[test]
    fn the_later_steps_environment_is_heredocs_and_their_path_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let (env, path) = (dir.path().join("env"), dir.path().join("path"));
        let files = FileCommands {
            env: Some(env.clone()),
            path: Some(path.clone()),
            ..Default::default()
        };
        let r = Runner::new(Vec::new(), files, false);
        r.set_env(&[("APP_TOKEN_AGENT", "/tmp/a/agent.sock"), ("V", "x\ny")])
            .unwrap();
        r.add_path("/opt/app token/bin").unwrap();
        r.add_path("/second").unwrap();
        let text = std::fs::read_to_string(env).unwrap();
        let delim = text.lines().next().unwrap().split("<<").nth(1).unwrap();
        assert!(delim.starts_with("ghadelimiter_"), "{text}");
        assert_eq!(
            text,
            format!(
                "APP_TOKEN_AGENT<<{delim}\n/tmp/a/agent.sock\n{delim}\nV<<{delim}\nx\ny\n{delim}\n"
            )
        );
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "/opt/app token/bin\n/second\n"
        );
        let e = r.add_path("/a\n/b").unwrap_err().to_string();
        assert!(e.contains("line break"), "{e}");
        assert!(r.add_path("/a\r").is_err());
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "/opt/app token/bin\n/second\n",
            "nothing written for a refused path"
        );
        let none = runner(false);
        assert!(none.set_env(&[("A", "b")]).is_err());
        assert!(none.add_path("/x").is_err());
    }

    #[test]
    fn a_missing_output_file_is_an_error_and_a_missing_summary_is_not() {
        let r = runner(false);
        assert!(r.set_outputs(&[("token", "x")]).is_err());
        assert!(r.append_summary("x").is_ok());
    }
}
