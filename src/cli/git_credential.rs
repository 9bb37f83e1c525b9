//! `app-token git-credential`.
//!
//! Git's credential-helper protocol, answered with a new installation token for the API's
//! own web host only.

use std::future::Future;
use std::io::{self, BufRead};

use chrono::{DateTime, Utc};

use super::args::{MintArgs, Operation};
use super::mint::{mint_all, prepare};
use super::output::deliver;
use super::{given, usage, Failure};
use crate::agent::git::owner_of_path;
use crate::agent::{self, Answer, Ask, AGENT_VARIABLE};
use crate::cancel::Signal;
use crate::config;
use crate::env::{var, Env};
use crate::github::Settings;
use crate::mint;

/// The username git sends with an installation token.
pub const GIT_USERNAME: &str = "x-access-token";

/// A git credential request: `key=value` lines up to a blank line or the end of input.
/// A repeated key keeps its last value; lines without `=` are ignored.
fn read_credential_request(input: &mut dyn BufRead) -> io::Result<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if input.read_line(&mut line)? == 0 {
            break;
        }
        let text = line.trim_end_matches(['\n', '\r']);
        if text.is_empty() {
            break;
        }
        if let Some((k, v)) = text.split_once('=') {
            pairs.retain(|(key, _): &(String, String)| key != k);
            pairs.push((k.to_string(), v.to_string()));
        }
    }
    Ok(pairs)
}

fn attribute<'a>(request: &'a [(String, String)], key: &str) -> Option<&'a str> {
    request
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// `host[:port]` in lower case, without the scheme's default port.
fn normalize_host(host: &str, scheme: &str) -> String {
    let host = host.trim().to_ascii_lowercase();
    let default_port = match scheme {
        "https" => "443",
        "http" => "80",
        _ => "",
    };
    match host.rsplit_once(':') {
        // A port only after a name or a bracketed IPv6 address.
        Some((name, port))
            if port == default_port && (!name.contains(':') || name.ends_with(']')) =>
        {
            name.to_string()
        }
        _ => host,
    }
}

/// The scheme and `host[:port]` git uses for the site whose API is `api_url`:
/// `https://api.github.com` (and `https://api.SUBDOMAIN.ghe.com`) → the host without `api.`;
/// an Enterprise Server `https://HOST/api/v3` → `HOST`; anything else (a loopback test
/// server) → its own host and port.
pub fn git_origin(api_url: &str) -> Option<(String, String)> {
    let uri: http::Uri = api_url.parse().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let authority = uri.authority()?.as_str();
    let host = normalize_host(authority, &scheme);
    let host = match (uri.path().trim_end_matches('/'), host.strip_prefix("api.")) {
        ("", Some(web)) => web.to_string(),
        _ => host,
    };
    Some((scheme, host))
}

/// Should `get` answer this request? Only for the API's own web origin.
fn credential_applies(request: &[(String, String)], api_url: &str) -> bool {
    let Some((scheme, host)) = git_origin(api_url) else {
        return false;
    };
    let protocol = attribute(request, "protocol").map(str::to_ascii_lowercase);
    let asked = attribute(request, "host").map(|h| normalize_host(h, &scheme));
    protocol.as_deref() == Some(scheme.as_str()) && asked.as_deref() == Some(host.as_str())
}

/// The answer to `get`.
fn credential_answer(token: &str, expires_at: DateTime<Utc>) -> String {
    format!(
        "username={GIT_USERNAME}\npassword={token}\npassword_expiry_utc={}\n",
        expires_at.timestamp()
    )
}

/// A token is one line of git's protocol; anything else could inject attributes.
fn fits_a_line(token: &str) -> bool {
    !token.is_empty() && !token.chars().any(char::is_control)
}

/// `get` answered by the agent at `address`: for the API's web host only (the agent
/// says which API it serves), with the token of the owner the request's path names when
/// the agent serves that owner, else its first owner's.
async fn from_agent(request: &[(String, String)], address: &str) -> Result<(), Failure> {
    let (api_url, owners) = match agent::ask(address, &Ask::Status).await {
        Ok(Answer::Status {
            api_url, owners, ..
        }) => (api_url, owners),
        Ok(Answer::Error { message }) => {
            return Err(Failure::Api(format!("the agent says: {message}")))
        }
        Ok(_) => return Err(Failure::Api("the agent answered something else".into())),
        Err(e) => return Err(Failure::Api(e.to_string())),
    };
    if !credential_applies(request, &api_url) {
        return Ok(());
    }
    let asked = owner_of_path(attribute(request, "path"))
        .filter(|owner| owners.iter().any(|o| o.eq_ignore_ascii_case(owner)))
        .map(str::to_string);
    let (token, _, expires_at, _) = super::agent::token_from(address, asked).await?;
    if !fits_a_line(&token) {
        return Err(Failure::Api(
            "the agent's token is not one a git credential can carry".into(),
        ));
    }
    super::output::print(&credential_answer(&token, expires_at))
}

pub(super) async fn command(
    operation: Operation,
    args: &MintArgs,
    env: Env<'_>,
    settings: Settings,
    cancel: impl Future<Output = Signal>,
) -> Result<(), Failure> {
    // Read the whole request whatever the operation: git writes it before reading an answer.
    let request = read_credential_request(&mut io::stdin().lock())
        .map_err(|e| usage(format!("cannot read git's request on stdin: {e}")))?;
    if operation != Operation::Get {
        return Ok(());
    }
    if given(&args.app.app_id).is_none() {
        return match var(env, AGENT_VARIABLE) {
            Some(address) => from_agent(&request, &address).await,
            None => Err(usage(format!(
                "--app-id is required (or {AGENT_VARIABLE}, naming an agent to ask)"
            ))),
        };
    }
    let api_url = config::api_url(
        given(&args.api.api_url).as_deref(),
        var(env, "GITHUB_API_URL").as_deref(),
    )?;
    if !credential_applies(&request, &api_url) {
        return Ok(());
    }
    let config = prepare(args, env)?;
    if config.requests.len() > 1 {
        return Err(usage(
            "a git credential is one token, and the repositories span several owners: \
             give repositories of one owner",
        ));
    }
    let (client, outcome, _armed) = mint_all(config, env, settings, cancel).await?;
    let Some(minted) = outcome.tokens.first() else {
        return Err(Failure::Api("GitHub answered with no token".into()));
    };
    if !fits_a_line(&minted.token) {
        let _ = mint::revoke_all(&client, &[minted.credential()]).await;
        return Err(Failure::Api(
            "GitHub's token is not one a git credential can carry".into(),
        ));
    }
    deliver(
        &client,
        &outcome,
        &credential_answer(&minted.token, minted.expires_at),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_origins() {
        let o = |u: &str| git_origin(u).unwrap();
        assert_eq!(
            o("https://api.github.com"),
            ("https".into(), "github.com".into())
        );
        assert_eq!(
            o("https://api.octo.ghe.com"),
            ("https".into(), "octo.ghe.com".into())
        );
        assert_eq!(
            o("https://GHE.example.com/api/v3"),
            ("https".into(), "ghe.example.com".into())
        );
        assert_eq!(
            o("https://ghe.example.com:443/api/v3"),
            ("https".into(), "ghe.example.com".into())
        );
        assert_eq!(
            o("https://api.example.com/api/v3"),
            ("https".into(), "api.example.com".into()),
            "with a path, the host is the web host"
        );
        assert_eq!(
            o("http://127.0.0.1:8080"),
            ("http".into(), "127.0.0.1:8080".into())
        );
        assert_eq!(o("http://[::1]:80"), ("http".into(), "[::1]".into()));
    }

    fn request(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn credentials_apply_only_to_the_apis_web_origin() {
        let api = "https://api.github.com";
        let gh = request(&[("protocol", "https"), ("host", "github.com")]);
        assert!(credential_applies(&gh, api));
        assert!(credential_applies(
            &request(&[("protocol", "https"), ("host", "GitHub.com:443")]),
            api
        ));
        for other in [
            request(&[("protocol", "http"), ("host", "github.com")]),
            request(&[("protocol", "https"), ("host", "gitlab.com")]),
            request(&[("protocol", "https"), ("host", "github.com.evil.example")]),
            request(&[("protocol", "https"), ("host", "api.github.com")]),
            request(&[("protocol", "https"), ("host", "github.com:8443")]),
            request(&[("protocol", "https")]),
            request(&[("host", "github.com")]),
        ] {
            assert!(!credential_applies(&other, api), "{other:?}");
        }
        let ghes = "https://ghe.example.com/api/v3";
        assert!(credential_applies(
            &request(&[("protocol", "https"), ("host", "ghe.example.com")]),
            ghes
        ));
        assert!(!credential_applies(&gh, ghes));
        let local = "http://127.0.0.1:4321";
        assert!(credential_applies(
            &request(&[("protocol", "http"), ("host", "127.0.0.1:4321")]),
            local
        ));
        assert!(!credential_applies(
            &request(&[("protocol", "http"), ("host", "127.0.0.1:4322")]),
            local
        ));
    }

    #[test]
    fn credential_requests_end_at_a_blank_line() {
        let mut input = io::Cursor::new(
            "protocol=https\r\nhost=x\nnoise\nhost=github.com\npath=a=b\n\nprotocol=http\n",
        );
        let r = read_credential_request(&mut input).unwrap();
        assert_eq!(attribute(&r, "protocol"), Some("https"));
        assert_eq!(attribute(&r, "host"), Some("github.com"));
        assert_eq!(attribute(&r, "path"), Some("a=b"));
        assert_eq!(r.len(), 3);
        let r = read_credential_request(&mut io::Cursor::new("")).unwrap();
        assert!(r.is_empty());
    }

    #[test]
    fn credential_answers() {
        assert_eq!(
            credential_answer("ghs_x", "2099-01-01T00:00:00Z".parse().unwrap()),
            "username=x-access-token\npassword=ghs_x\npassword_expiry_utc=4070908800\n"
        );
    }
}
