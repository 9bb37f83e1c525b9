//! `app-token revoke`: installation tokens read from stdin, one per line, revoked.

use std::io::{self, IsTerminal, Read};

use super::args::RevokeArgs;
use super::{given, usage, Failure};
use crate::config;
use crate::env::{var, Env};
use crate::github::{Client, Credential, Settings};
use crate::mint;

/// The tokens on stdin, one per line. Never quotes what it read: it may be a secret.
fn tokens_from(text: &str) -> Result<Vec<String>, Failure> {
    let mut tokens = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let token = line.trim();
        if token.is_empty() {
            continue;
        }
        if !token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        {
            return Err(usage(format!(
                "line {} of stdin is not a token (expected one token per line, such as ghs_…)",
                n + 1
            )));
        }
        tokens.push(token.to_string());
    }
    if tokens.is_empty() {
        return Err(usage(
            "no token on stdin: pipe it in, e.g. printf '%s\\n' \"$TOKEN\" | app-token revoke",
        ));
    }
    Ok(tokens)
}

pub(super) async fn command(
    args: &RevokeArgs,
    env: Env<'_>,
    settings: Settings,
) -> Result<(), Failure> {
    let api_url = config::api_url(
        given(&args.api.api_url).as_deref(),
        var(env, "GITHUB_API_URL").as_deref(),
    )?;
    let mut stdin = io::stdin().lock();
    if stdin.is_terminal() {
        return Err(usage(
            "revoke reads the token from stdin: pipe it in, e.g. printf '%s\\n' \"$TOKEN\" | app-token revoke",
        ));
    }
    let mut text = String::new();
    stdin
        .read_to_string(&mut text)
        .map_err(|e| usage(format!("cannot read stdin: {e}")))?;
    let tokens = tokens_from(&text)?;
    let client = Client::new(
        &api_url,
        None,
        &config::proxy(env)?,
        settings,
        super::output::stderr_log(),
    )
    .map_err(|e| Failure::Api(format!("cannot reach GitHub: {e:#}")))?;
    let tokens: Vec<Credential> = tokens.into_iter().map(Credential::new).collect();
    let failures = mint::revoke_all(&client, &tokens).await;
    if failures.is_empty() {
        return Ok(());
    }
    Err(Failure::Api(format!(
        "{} of {} token(s) not revoked:\n{}",
        failures.len(),
        tokens.len(),
        failures.join("\n")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_on_stdin() {
        assert_eq!(
            tokens_from("  ghs_a \n\nghs_b\n").unwrap(),
            vec!["ghs_a", "ghs_b"]
        );
        assert_eq!(tokens_from(" \n").unwrap_err().code(), 2);
        let e = tokens_from("ghs_a\n\"token\": \"ghs_secret\"\n").unwrap_err();
        assert_eq!(e.code(), 2);
        assert!(e.message().contains("line 2"), "{}", e.message());
        assert!(!e.message().contains("ghs_secret"));
    }
}
