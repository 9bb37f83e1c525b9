//! The command line run as a user runs it (ripgrep's `TestCommand`, for app-token): the built binary with the test's arguments, nothing in its environment but what the test gives, and the test app's key in a file of its own.

use std::path::Path;
use std::process::Command;

use super::{run_binary, FakeGitHub, Ran, APP_ID, BIN, KEY_PKCS1};

/// One run of `app-token`, built up, then [`Cli::run`].
pub struct Cli {
    dir: tempfile::TempDir,
    args: Vec<String>,
    env: Vec<(String, String)>,
    stdin: String,
}

impl Cli {
    /// `app-token ARGS`, with an empty environment and stdin. The test app's key is
    /// written to a file ([`Cli::key`]) that only the test names.
    pub fn new(args: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        std::fs::write(dir.path().join("key.pem"), KEY_PKCS1).expect("the key file");
        Self {
            dir,
            args: Vec::new(),
            env: Vec::new(),
            stdin: String::new(),
        }
        .args(args)
    }

    /// `app-token --app-id APP_ID --api-url URL --private-key-file KEY`: minting from
    /// `gh` as the test app, the key in its file.
    pub fn mint(gh: &FakeGitHub) -> Self {
        Self::mint_from(&gh.url())
    }

    /// [`Cli::mint`] from the API at `api`.
    pub fn mint_from(api: &str) -> Self {
        Self::new(&[]).app(api).key_file()
    }

    /// Then `--app-id APP_ID --api-url API`.
    pub fn app(self, api: &str) -> Self {
        self.args(&["--app-id", APP_ID, "--api-url", api])
    }

    /// Then `--private-key-file KEY`, the key's file.
    pub fn key_file(self) -> Self {
        let key = self.key();
        self.args(&["--private-key-file", &key])
    }

    /// Then `args`.
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    /// `name=value` in the environment.
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_string(), value.to_string()));
        self
    }

    /// Each of `vars` in the environment.
    pub fn envs(self, vars: &[(&str, &str)]) -> Self {
        vars.iter().fold(self, |cli, (k, v)| cli.env(k, v))
    }

    /// The key's PEM in `APP_TOKEN_PRIVATE_KEY`, where the command line reads it when no
    /// file is given.
    pub fn key_env(self) -> Self {
        self.env("APP_TOKEN_PRIVATE_KEY", KEY_PKCS1)
    }

    /// The test's `PATH`, for the commands `exec` runs.
    pub fn path(self) -> Self {
        let path = std::env::var("PATH").unwrap_or_default();
        self.env("PATH", &path)
    }

    /// `text` on stdin.
    pub fn stdin(mut self, text: &str) -> Self {
        self.stdin = text.to_string();
        self
    }

    /// The key file's path.
    pub fn key(&self) -> String {
        self.dir.path().join("key.pem").display().to_string()
    }

    /// The arguments so far.
    pub fn arguments(&self) -> Vec<&str> {
        self.args.iter().map(String::as_str).collect()
    }

    /// The process, not started: for a test that signals it while it runs.
    pub fn command(&self) -> Command {
        self.command_through(Command::new(BIN))
    }

    /// The process as `program` starts the binary (one that drops privileges first, say),
    /// not started: `program` gets the arguments and nothing but the environment.
    pub fn command_through(&self, mut program: Command) -> Command {
        program
            .args(&self.args)
            .env_clear()
            .envs(self.env.iter().cloned());
        program
    }

    /// Runs it, and waits.
    pub fn run(&self) -> Ran {
        run_binary(Path::new(BIN), &self.arguments(), &self.env, &self.stdin)
    }
}
