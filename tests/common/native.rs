//! The native action as a release lays it out, built by `.ci/native` into a test's own directory, the tools that run it (node, Wine), and the token agent its main starts (`refresh`).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::not_checked;

/// A program found on PATH, as `command -v` finds it.
pub fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// The native action laid out in a temporary directory by `.ci/native`.
pub struct NativeAction {
    dir: tempfile::TempDir,
}

impl NativeAction {
    /// `bin`, the host's binary (the tests pass their build's own: a second cargo build,
    /// whose features differ from the test build's, would rebuild it), laid out by
    /// `.ci/native --from` as a release lays out the binaries its runners built.
    pub fn host(bin: &Path) -> Self {
        let from = tempfile::tempdir().expect("a temporary directory");
        let host = host_triple();
        std::fs::create_dir(from.path().join(&host)).expect("the target's directory");
        std::fs::copy(bin, from.path().join(&host).join("app-token")).expect("the binary");
        let from = from.path().display().to_string();
        Self::lay_out(&["--from", &from, &host], &[])
    }

    /// `targets` built by `bash .ci/native TARGETS` with cargo's dev profile.
    pub fn build(targets: &[&str]) -> Self {
        Self::lay_out(targets, &[("APP_TOKEN_NATIVE_PROFILE", "dev")])
    }

    fn lay_out(args: &[&str], env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let out = Command::new("bash")
            .arg(".ci/native")
            .args(args)
            .envs(env.iter().copied())
            .env("APP_TOKEN_NATIVE_DIR", dir.path())
            .output()
            .expect("bash runs .ci/native");
        assert!(
            out.status.success(),
            ".ci/native {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Self { dir }
    }

    /// The action's directory (action.yml, main.js, post.js, bin/, SHA256SUMS).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The binary for node's `platform-arch` (`linux-x64`, `win32-x64`).
    pub fn binary(&self, platform: &str) -> PathBuf {
        let exe = if platform.starts_with("win32") {
            "app-token.exe"
        } else {
            "app-token"
        };
        self.dir().join("bin").join(platform).join(exe)
    }
}

/// node, or None after saying it is missing (a failure under APP_TOKEN_REQUIRE_NODE=1).
pub fn node(what: &str) -> Option<PathBuf> {
    let found = on_path("node");
    if found.is_none() {
        not_checked(what, "no node on PATH", "APP_TOKEN_REQUIRE_NODE");
    }
    found
}

/// This machine's `process.platform-process.arch`, as node names it.
pub fn node_platform(node: &Path) -> String {
    let out = Command::new(node)
        .args(["-p", "process.platform + '-' + process.arch"])
        .output()
        .expect("node runs");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The host's Rust target triple (`rustc -vV`).
pub fn host_triple() -> String {
    let out = Command::new("rustc")
        .arg("-vV")
        .output()
        .expect("rustc runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("rustc names the host")
        .to_string()
}

/// The pid of the token agent that main's log (`refresh`) names.
pub fn agent_pid(log: &str) -> Option<u32> {
    log.split("A token agent (pid ")
        .nth(1)?
        .split(')')
        .next()?
        .parse()
        .ok()
}

/// Is the process `pid` gone (or a zombie no one has reaped yet)?
pub fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

/// The `NAME='VALUE'; export NAME;` lines `app-token agent` prints, read back.
pub fn shell_vars(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .filter_map(|line| {
            let (name, rest) = line.split_once('=')?;
            let value = rest.strip_prefix('\'')?.split("'; export ").next()?;
            Some((name.to_string(), value.replace(r"'\''", "'")))
        })
        .collect()
}
