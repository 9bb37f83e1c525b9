//! The command line: flags to validated mint requests, the token (or JSON) on stdout, `revoke`, and git's credential-helper protocol.
//!
//! A thin shell over the same library as the Actions front end: the same validators,
//! parsers, transport and minting. What is particular to a terminal lives here: where
//! the key comes from (a file or `APP_TOKEN_PRIVATE_KEY`, never a flag value), what is
//! printed (only the token on stdout; log lines and errors on stderr) and the exit
//! status (2 for bad usage or input, 1 when GitHub refused or could not be reached).
//! The CLI never revokes a token it printed: whoever asked for it owns it.

use std::ffi::OsString;
use std::io::{self, BufRead, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::{json, Map, Value};

use crate::http::{Client, Proxy, Settings};
use crate::inputs::{self, InputError};
use crate::jwt::{self, Signer};
use crate::mint::{self, Minted, Outcome, Request};
use crate::{permissions, repositories};

/// Where the private key comes from when `--private-key-file` is not given.
pub const PRIVATE_KEY_ENV: &str = "APP_TOKEN_PRIVATE_KEY";

/// The username git sends with an installation token.
pub const GIT_USERNAME: &str = "x-access-token";

/// Exit status for bad usage or input (clap uses it for its own usage errors too).
pub const EXIT_USAGE: i32 = 2;
/// Exit status when GitHub refused, or could not be reached.
pub const EXIT_API: i32 = 1;

const MINT_HELP: &str = "\
Examples:
  # A token for two repositories of acme, with two permissions
  export APP_TOKEN_PRIVATE_KEY=\"$(cat app.private-key.pem)\"
  TOKEN=$(app-token --app-id 123456 --owner acme --repositories site,api \\
            --permissions contents:write,pull-requests:read)

  # Every repository the app can reach in an account; the key from a file
  app-token --app-id Iv23liABCDEF --private-key-file app.private-key.pem --owner acme

  # Everything about the token as JSON (needed when repositories span owners)
  app-token --app-id 123456 --private-key-file app.pem \\
            --repositories acme/site,widgets/web --json | jq -r '.tokens[] | .owner'

  # GitHub Enterprise Server
  app-token --app-id 42 --private-key-file app.pem --owner acme \\
            --api-url https://ghe.example.com/api/v3

  # Revoke the token when done
  printf '%s\\n' \"$TOKEN\" | app-token revoke

Environment:
  APP_TOKEN_PRIVATE_KEY   the app's PEM private key, when --private-key-file is not given
  GITHUB_API_URL          the default for --api-url
  GITHUB_REPOSITORY       owner/name to default to when neither --owner nor --repositories is given
  HTTPS_PROXY, NO_PROXY   proxies, read the way curl reads them

Exit status: 0 success, 1 GitHub refused or could not be reached, 2 bad usage or input.
Under GitHub Actions (GITHUB_ACTIONS=true) and without arguments, app-token runs as the action.";

const REVOKE_HELP: &str = "\
Examples:
  printf '%s\\n' \"$TOKEN\" | app-token revoke
  app-token --app-id 123456 --owner acme --json | jq -r '.tokens[].token' | app-token revoke
  printf '%s\\n' \"$TOKEN\" | app-token revoke --api-url https://ghe.example.com/api/v3

Exit status: 0 revoked, 1 GitHub refused or could not be reached, 2 no token on stdin.";

const GIT_CREDENTIAL_HELP: &str = "\
Examples:
  # Clone with an installation token (the empty helper first keeps other helpers out)
  export APP_TOKEN_PRIVATE_KEY=\"$(cat app.private-key.pem)\"
  git -c credential.helper= \\
      -c credential.helper='!app-token git-credential --app-id 123456 --owner acme' \\
      clone https://github.com/acme/site.git

  # In a repository's configuration, for github.com only, the key from a file
  git config credential.https://github.com.helper \\
      '!app-token git-credential --app-id 123456 --private-key-file /etc/app.pem --repositories acme/site'

`get` answers only over https for the API's web host (api.github.com: github.com;
https://HOST/api/v3: HOST); for any other host it prints nothing and git asks elsewhere.
`store` and `erase` do nothing. Every answer is a new token valid for an hour, with
password_expiry_utc so that git (2.41 and later) knows when it lapses; none is revoked.";

/// Mints a GitHub App installation token scoped to the repositories and permissions you name, and prints it.
#[derive(Debug, Parser)]
#[command(
    name = "app-token",
    version,
    after_help = MINT_HELP,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    arg_required_else_help = true
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    #[command(flatten)]
    mint: MintArgs,

    /// Print one JSON object: the token, what it covers and the app's git identity, with `tokens` (one per owner)
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Revoke installation tokens read from stdin (one per line)
    #[command(after_help = REVOKE_HELP)]
    Revoke(RevokeArgs),
    /// Act as a git credential helper that answers with a new installation token
    #[command(after_help = GIT_CREDENTIAL_HELP)]
    GitCredential(GitCredentialArgs),
}

/// What to mint: the flags of the main command, shared with `git-credential`.
#[derive(Debug, Args)]
struct MintArgs {
    /// The app's numeric App ID, or its Client ID (Iv…)
    #[arg(long, value_name = "ID", required = true)]
    app_id: Option<String>,

    /// A file holding the app's PEM private key [default: the key in APP_TOKEN_PRIVATE_KEY]
    #[arg(long, value_name = "PATH")]
    private_key_file: Option<PathBuf>,

    /// The account that owns the repositories; alone, the token covers every repository the app can reach there
    #[arg(long, value_name = "ACCOUNT")]
    owner: Option<String>,

    /// Repositories: names, owner/name, or numeric ids, separated by commas, spaces or newlines (repeatable)
    #[arg(long, value_name = "LIST")]
    repositories: Vec<String>,

    /// Permissions as YAML (`contents: read`) or `name:level,name:level` [default: the installation's]
    #[arg(long, value_name = "PERMISSIONS")]
    permissions: Option<String>,

    /// The installation to use, skipping its lookup
    #[arg(long, value_name = "ID")]
    installation_id: Option<String>,

    #[command(flatten)]
    api: ApiArgs,
}

#[derive(Debug, Args)]
struct ApiArgs {
    /// GitHub's API [default: GITHUB_API_URL, or https://api.github.com]
    #[arg(long, value_name = "URL")]
    api_url: Option<String>,
}

#[derive(Debug, Args)]
struct RevokeArgs {
    #[command(flatten)]
    api: ApiArgs,
}

#[derive(Debug, Args)]
struct GitCredentialArgs {
    /// The operation git asks for
    #[arg(value_enum)]
    operation: Operation,

    #[command(flatten)]
    mint: MintArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Operation {
    Get,
    Store,
    Erase,
}

/// Why a command failed, and so which exit status it ends with.
#[derive(Debug)]
enum Failure {
    /// Bad usage or input: exit 2.
    Usage(String),
    /// GitHub refused, or could not be reached: exit 1.
    Api(String),
}

impl Failure {
    fn code(&self) -> i32 {
        match self {
            Failure::Usage(_) => EXIT_USAGE,
            Failure::Api(_) => EXIT_API,
        }
    }

    fn message(&self) -> &str {
        match self {
            Failure::Usage(m) | Failure::Api(m) => m,
        }
    }
}

fn usage(message: impl Into<String>) -> Failure {
    Failure::Usage(message.into())
}

/// The library names inputs as the action does; the CLI names its flags.
fn flag_of(input: &str) -> String {
    match input {
        "app-id" | "client-id" => "--app-id".into(),
        "github-api-url" => "--api-url".into(),
        "private-key" => "the private key".into(),
        other => format!("--{other}"),
    }
}

impl From<InputError> for Failure {
    fn from(e: InputError) -> Self {
        usage(format!("{}: {}", flag_of(&e.input), e.message))
    }
}

/// Runs the command line on `args` (the program name first); gives back the exit status.
pub fn run<I, T>(args: I, env: &dyn Fn(&str) -> Option<String>, settings: Settings) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version on stdout with 0; usage errors on stderr with 2.
            let _ = e.print();
            return e.exit_code();
        }
    };
    let result = match crate::runtime() {
        Ok(rt) => rt.block_on(dispatch(cli, env, settings)),
        Err(e) => Err(Failure::Api(format!("cannot start: {e}"))),
    };
    match result {
        Ok(()) => 0,
        Err(failure) => {
            eprintln!("error: {}", failure.message());
            failure.code()
        }
    }
}

async fn dispatch(
    cli: Cli,
    env: &dyn Fn(&str) -> Option<String>,
    settings: Settings,
) -> Result<(), Failure> {
    match cli.command {
        None => mint_command(&cli.mint, cli.json, env, settings).await,
        Some(Command::Revoke(args)) => revoke_command(&args, env, settings).await,
        Some(Command::GitCredential(args)) => {
            git_credential_command(args.operation, &args.mint, env, settings).await
        }
    }
}

/// Validated flags: everything needed to mint, before any request.
struct Minting {
    signer: Signer,
    api_url: String,
    requests: Vec<Request>,
}

fn api_url(args: &ApiArgs, env: &dyn Fn(&str) -> Option<String>) -> Result<String, Failure> {
    let raw = given(&args.api_url)
        .map(str::to_string)
        .unwrap_or_else(|| inputs::default_api_url(env));
    inputs::validate_api_url(&raw).map_err(|m| usage(format!("--api-url (or GITHUB_API_URL) {m}")))
}

/// A flag given as an empty string (an unset shell variable) counts as not given.
fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// The private key's PEM: from `--private-key-file`, else from `APP_TOKEN_PRIVATE_KEY`.
fn private_key(
    args: &MintArgs,
    env: &dyn Fn(&str) -> Option<String>,
    app_id: &str,
) -> Result<Signer, Failure> {
    let (text, from) = match &args.private_key_file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                usage(format!(
                    "--private-key-file: cannot read {}: {e}",
                    path.display()
                ))
            })?;
            (text, format!("in {}", path.display()))
        }
        None => match env(PRIVATE_KEY_ENV).filter(|k| !k.trim().is_empty()) {
            Some(text) => (text, format!("in {PRIVATE_KEY_ENV}")),
            None => {
                return Err(usage(format!(
                    "the app's private key is required: --private-key-file PATH, or the PEM text in {PRIVATE_KEY_ENV}"
                )))
            }
        },
    };
    // The key's messages never quote the key.
    jwt::signer(&text, app_id).map_err(|m| usage(format!("the private key {from} {m}")))
}

/// Checks every flag and builds the mint requests; makes no request.
fn prepare(args: &MintArgs, env: &dyn Fn(&str) -> Option<String>) -> Result<Minting, Failure> {
    let app_id = inputs::validate_app_id(args.app_id.as_deref().unwrap_or_default())
        .map_err(|m| usage(format!("--app-id {m}")))?;
    let api_url = api_url(&args.api, env)?;
    let permissions = permissions::parse(args.permissions.as_deref().unwrap_or_default())
        .map_err(|m| usage(format!("--permissions: {m}")))?;
    let entries = repositories::parse(&args.repositories.join("\n"))
        .map_err(|m| usage(format!("--repositories: {m}")))?;
    let installation_id = inputs::parse_installation_id(given(&args.installation_id))?;
    let owner = given(&args.owner);
    let current = env("GITHUB_REPOSITORY").filter(|r| !r.trim().is_empty());
    if owner.is_none() && entries.is_empty() && current.is_none() {
        return Err(usage(
            "give --owner, --repositories, or both: outside GitHub Actions there is no current repository \
             to default to (GITHUB_REPOSITORY is not set)",
        ));
    }
    let requests = inputs::requests(
        owner,
        &entries,
        installation_id,
        current.as_deref(),
        permissions.as_ref(),
    )?;
    // The key last: the cheaper mistakes are reported without touching the file.
    let signer = private_key(args, env, &app_id)?;
    Ok(Minting {
        signer,
        api_url,
        requests,
    })
}

/// Library log lines (retries, warnings) go to stderr: stdout carries only the answer.
fn stderr_log() -> crate::http::Log {
    mint::log_sink(|line: &str| eprintln!("{line}"))
}

async fn mint_all(
    m: Minting,
    env: &dyn Fn(&str) -> Option<String>,
    settings: Settings,
) -> Result<(Arc<Client>, Outcome), Failure> {
    let signer = Arc::new(m.signer);
    let client = Client::new(
        &m.api_url,
        Some(signer),
        &Proxy::from_env(env),
        settings,
        stderr_log(),
    )
    .map_err(|e| Failure::Api(format!("cannot reach GitHub: {e:#}")))?;
    let client = Arc::new(client);
    let outcome = mint::mint(&client, &m.requests, &mint::Ledger::default(), stderr_log())
        .await
        .map_err(|e| Failure::Api(format!("could not create an installation token: {e:#}")))?;
    Ok((client, outcome))
}

/// One token's JSON object.
fn token_object(m: &Minted, outcome: &Outcome) -> Map<String, Value> {
    let identity = outcome.identity.as_ref();
    let value = json!({
        "owner": m.owner,
        "token": m.token,
        "expires_at": m.expires_at,
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
fn json_answer(outcome: &Outcome) -> Value {
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

/// Prints what was minted; if it cannot be printed, nobody can use or revoke it: revoke it.
async fn deliver(client: &Client, outcome: &Outcome, text: &str) -> Result<(), Failure> {
    if let Err(e) = write_stdout(text) {
        let tokens: Vec<String> = outcome.tokens.iter().map(|t| t.token.clone()).collect();
        let mut message = format!("cannot write to stdout ({e}); the new token was revoked");
        for f in mint::revoke_all(client, &tokens).await {
            message.push_str(&format!("\nnot revoked: {f}"));
        }
        return Err(Failure::Api(message));
    }
    Ok(())
}

async fn mint_command(
    args: &MintArgs,
    json: bool,
    env: &dyn Fn(&str) -> Option<String>,
    settings: Settings,
) -> Result<(), Failure> {
    let minting = prepare(args, env)?;
    if minting.requests.len() > 1 && !json {
        let owners: Vec<&str> = minting.requests.iter().map(|r| r.owner.as_str()).collect();
        return Err(usage(format!(
            "the repositories span {} owners ({}), and one token cannot cross accounts: \
             add --json to get one token per owner",
            owners.len(),
            owners.join(", ")
        )));
    }
    let (client, outcome) = mint_all(minting, env, settings).await?;
    let text = if json {
        format!("{}\n", json_answer(&outcome))
    } else {
        match outcome.tokens.as_slice() {
            [only] => format!("{}\n", only.token),
            _ => return Err(Failure::Api("GitHub answered with no token".into())),
        }
    };
    deliver(&client, &outcome, &text).await
}

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

async fn revoke_command(
    args: &RevokeArgs,
    env: &dyn Fn(&str) -> Option<String>,
    settings: Settings,
) -> Result<(), Failure> {
    let api_url = api_url(&args.api, env)?;
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
        &Proxy::from_env(env),
        settings,
        stderr_log(),
    )
    .map_err(|e| Failure::Api(format!("cannot reach GitHub: {e:#}")))?;
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
fn credential_answer(token: &str, expires_at: &str) -> String {
    let mut out = format!("username={GIT_USERNAME}\npassword={token}\n");
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(expires_at) {
        out.push_str(&format!("password_expiry_utc={}\n", t.timestamp()));
    }
    out
}

async fn git_credential_command(
    operation: Operation,
    args: &MintArgs,
    env: &dyn Fn(&str) -> Option<String>,
    settings: Settings,
) -> Result<(), Failure> {
    // Read the whole request whatever the operation: git writes it before reading an answer.
    let request = read_credential_request(&mut io::stdin().lock())
        .map_err(|e| usage(format!("cannot read git's request on stdin: {e}")))?;
    if operation != Operation::Get {
        return Ok(());
    }
    let api_url = api_url(&args.api, env)?;
    if !credential_applies(&request, &api_url) {
        return Ok(());
    }
    let minting = prepare(args, env)?;
    if minting.requests.len() > 1 {
        return Err(usage(
            "a git credential is one token, and the repositories span several owners: \
             give repositories of one owner",
        ));
    }
    let (client, outcome) = mint_all(minting, env, settings).await?;
    let Some(minted) = outcome.tokens.first() else {
        return Err(Failure::Api("GitHub answered with no token".into()));
    };
    // A token is one line of git's protocol; anything else could inject attributes.
    if minted.token.is_empty() || minted.token.chars().any(char::is_control) {
        let _ = mint::revoke_all(&client, std::slice::from_ref(&minted.token)).await;
        return Err(Failure::Api(
            "GitHub's token is not one a git credential can carry".into(),
        ));
    }
    deliver(
        &client,
        &outcome,
        &credential_answer(&minted.token, &minted.expires_at),
    )
    .await
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn help() -> String {
        Cli::command().render_long_help().to_string()
    }

    #[test]
    fn the_command_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("app-token").chain(args.iter().copied()))
    }

    #[test]
    fn minting_needs_an_app_id_but_subcommands_do_not() {
        let e = parse(&["--owner", "acme"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::MissingRequiredArgument);
        assert_eq!(e.exit_code(), 2);
        let cli = parse(&["revoke"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Revoke(_))));
        let e = parse(&["--json", "revoke"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let e = parse(&["git-credential", "get"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::MissingRequiredArgument);
        let cli = parse(&["git-credential", "erase", "--app-id", "1", "--owner", "a"]).unwrap();
        match cli.command {
            Some(Command::GitCredential(g)) => {
                assert_eq!(g.operation, Operation::Erase);
                assert_eq!(g.mint.owner.as_deref(), Some("a"));
            }
            other => panic!("{other:?}"),
        }
        assert!(parse(&["git-credential", "fill", "--app-id", "1"]).is_err());
    }

    #[test]
    fn the_key_is_never_a_flag_value() {
        assert!(parse(&["--app-id", "1", "--private-key", "x"]).is_err());
        let help = help();
        assert!(help.contains("APP_TOKEN_PRIVATE_KEY"), "{help}");
        assert!(help.contains("Examples:"), "{help}");
    }

    #[test]
    fn repositories_repeat_and_join() {
        let cli = parse(&[
            "--app-id",
            "1",
            "--repositories",
            "a,b",
            "--repositories",
            "c",
        ])
        .unwrap();
        let entries = repositories::parse(&cli.mint.repositories.join("\n")).unwrap();
        assert_eq!(entries.len(), 3);
    }

    #[test]
    fn input_errors_name_flags() {
        let f: Failure = InputError {
            input: "github-api-url".into(),
            message: "has no host".into(),
        }
        .into();
        assert_eq!(f.code(), 2);
        assert_eq!(f.message(), "--api-url: has no host");
        assert_eq!(flag_of("installation-id"), "--installation-id");
        assert_eq!(flag_of("client-id"), "--app-id");
    }

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
            credential_answer("ghs_x", "2099-01-01T00:00:00Z"),
            "username=x-access-token\npassword=ghs_x\npassword_expiry_utc=4070908800\n"
        );
        assert_eq!(
            credential_answer("ghs_x", "soon"),
            "username=x-access-token\npassword=ghs_x\n"
        );
    }

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

    #[test]
    fn blank_flags_count_as_not_given() {
        assert_eq!(given(&Some("  ".into())), None);
        assert_eq!(given(&Some(" acme ".into())), Some("acme"));
        assert_eq!(given(&None), None);
    }
}
