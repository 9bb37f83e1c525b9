//! What the command line prints.
//!
//! Log lines on stderr, the `--json` answer, and stdout that, if it cannot be written,
//! revokes what it could not deliver.

use std::io::{self, Write};

use serde_json::{json, Map, Value};

use super::Failure;
use crate::github::{Client, Log};
use crate::mint::panic_guard;
use crate::mint::{self, Minted, Outcome, Revocation, Witness};
use crate::plain::plain_lines;

/// A library log line (a retry, a warning) on stderr: stdout carries only the answer.
fn log_line(line: &str) {
    eprintln!("{}", plain_lines(line));
}

/// Library log lines go to stderr (see [`log_line`]).
pub(super) fn stderr_log() -> Log {
    mint::log_sink(log_line)
}

/// Says on stderr what a session does: its log lines, and warnings. The command line
/// hides nothing (it prints no token but its answer), and says what a signal came to
/// in its error.
pub(super) struct StderrWitness;

impl Witness for StderrWitness {
    fn log(&self, line: &str) {
        log_line(line);
    }

    fn panicked(&self, live: usize, done: &Revocation) {
        let _ = writeln!(
            io::stderr(),
            "warning: {}",
            panic_guard::summary(live, done)
        );
    }

    fn signing_not_ended(&self, why: &str) {
        let _ = writeln!(io::stderr(), "warning: {why}");
    }
}

/// One token's JSON object.
fn token_object(m: &Minted, outcome: &Outcome) -> Map<String, Value> {
    let identity = outcome.identity.as_ref();
    let value = json!({
        "owner": m.owner,
        "token": m.token,
        "expires_at": m.expires_at_text(),
        "installation_id": m.installation_id,
        "repository_ids": mint::repository_ids(m),
        "permissions": m.permissions,
        "app_slug": m.app_slug,
        "git_user_name": identity.map(|i| i.name.clone()),
        "git_user_email": identity.map(|i| i.email.clone()),
    });
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// The `--json` answer: with one owner, that token's fields at the top; always `tokens`,
/// one object per owner; with several owners, only the fields they share at the top.
pub(super) fn json_answer(outcome: &Outcome) -> Value {
    let tokens: Vec<Map<String, Value>> = outcome
        .tokens
        .iter()
        .map(|t| token_object(t, outcome))
        .collect();
    let mut top = match tokens.as_slice() {
        [only] => only.clone(),
        _ => {
            let identity = outcome.identity.as_ref();
            let mut shared = Map::new();
            shared.insert(
                "app_slug".into(),
                json!(outcome.tokens.first().map(|t| t.app_slug.clone())),
            );
            shared.insert(
                "git_user_name".into(),
                json!(identity.map(|i| i.name.clone())),
            );
            shared.insert(
                "git_user_email".into(),
                json!(identity.map(|i| i.email.clone())),
            );
            shared
        }
    };
    top.insert(
        "tokens".into(),
        Value::Array(tokens.into_iter().map(Value::Object).collect()),
    );
    Value::Object(top)
}

fn write_stdout(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// Prints an answer that holds no token (a listing, a JWT, a script).
pub(super) fn print(text: &str) -> Result<(), Failure> {
    write_stdout(text).map_err(|e| Failure::Api(format!("cannot write to stdout: {e}")))
}

/// Prints what was minted; if it cannot be printed, nobody can use or revoke it: revoke it.
pub(super) async fn deliver(client: &Client, outcome: &Outcome, text: &str) -> Result<(), Failure> {
    if let Err(e) = write_stdout(text) {
        let tokens: Vec<_> = outcome.tokens.iter().map(Minted::credential).collect();
        let mut message = format!("cannot write to stdout ({e}); the new token was revoked");
        for f in mint::revoke_all(client, &tokens).await {
            message.push_str(&format!("\nnot revoked: {f}"));
        }
        return Err(Failure::Api(message));
    }
    Ok(())
}
