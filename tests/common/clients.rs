//! The services' official Python clients, to hold the stand-ins to: the interpreter of the venv `.ci/clients` makes (`APP_TOKEN_CLIENTS_PYTHON`), a script run with it, and what it printed.

use std::path::PathBuf;
use std::process::Command;

/// The venv's python, or a note that `test` did not check (a failure where
/// `APP_TOKEN_REQUIRE_CLIENTS=1`).
pub fn clients_python(test: &str) -> Option<PathBuf> {
    let python = std::env::var_os("APP_TOKEN_CLIENTS_PYTHON").map(PathBuf::from);
    match python {
        Some(p) if p.is_file() => Some(p),
        _ => {
            super::not_checked(
                test,
                "the official clients are not installed (bash .ci/clients prints the python to set as APP_TOKEN_CLIENTS_PYTHON)",
                "APP_TOKEN_REQUIRE_CLIENTS",
            );
            None
        }
    }
}

/// What a client script did.
#[derive(Debug)]
pub struct Client {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Client {
    /// The value of the `NAME=value` line the script printed.
    pub fn value(&self, name: &str) -> &str {
        self.stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name}= in:\n{}\n{}", self.stdout, self.stderr))
    }
}

/// Runs `script` with `python`, only `env` (and PATH) in its environment, no proxy, and
/// httpmock's CA trusted for https on 127.0.0.1.
pub fn run_client(python: &PathBuf, script: &str, env: &[(&str, String)]) -> Client {
    let ca = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/httpmock-ca.pem"
    );
    let out = Command::new(python)
        .args(["-c", script])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("REQUESTS_CA_BUNDLE", ca)
        .env("SSL_CERT_FILE", ca)
        .env("NO_PROXY", "*")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("the client's python runs");
    Client {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}
