//! The key services' official Python clients (installed by `.ci/clients`): a script run with the venv's python, to hold each stand-in against the client its service ships.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::not_checked;

/// The venv's python: `APP_TOKEN_CLIENTS_PYTHON`; `None`, with a NOT CHECKED note (a
/// failure under `APP_TOKEN_REQUIRE_CLIENTS=1`), when it is not set.
pub fn clients_python(test: &str) -> Option<PathBuf> {
    match std::env::var_os("APP_TOKEN_CLIENTS_PYTHON") {
        Some(p) if PathBuf::from(&p).is_file() => Some(PathBuf::from(p)),
        _ => {
            not_checked(
                test,
                "the official clients are not installed (bash .ci/clients, then set APP_TOKEN_CLIENTS_PYTHON)",
                "APP_TOKEN_REQUIRE_CLIENTS",
            );
            None
        }
    }
}

/// What a client script printed, and how it ended.
pub struct Script {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `script` (Python source, on stdin) with `python`, with `env` added and no proxy.
pub fn run_python(python: &PathBuf, script: &str, env: &[(&str, &str)]) -> Script {
    let mut command = Command::new(python);
    command
        .arg("-")
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().expect("python starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("the script is written");
    let out = child.wait_with_output().expect("python ends");
    Script {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

impl Script {
    /// The value of the `NAME=value` line the script printed; the test fails, showing
    /// what it printed, when there is none.
    pub fn value(&self, name: &str) -> &str {
        self.stdout
            .lines()
            .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix('=')))
            .unwrap_or_else(|| panic!("no {name}= in:\n{}\n{}", self.stdout, self.stderr))
    }
}

/// httpmock's test CA, for a client that needs https on 127.0.0.1 (`REQUESTS_CA_BUNDLE`).
pub const HTTPMOCK_CA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/httpmock-ca.pem"
);
