//! The command line's arguments: the clap model, and the help text of each command.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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

  # The app's installation on an enterprise (enterprise-level APIs, no repositories)
  app-token --app-id 123456 --private-key-file app.pem --enterprise my-enterprise

  # The key in AWS KMS instead of a file (AWS credentials from the environment)
  app-token --app-id 123456 --aws-kms-key-id alias/github-app --aws-region eu-west-1 --owner acme

  # Revoke the token when done
  printf '%s\\n' \"$TOKEN\" | app-token revoke

Environment:
  APP_TOKEN_PRIVATE_KEY   the app's PEM private key, when --private-key-file is not given
  GITHUB_API_URL          the default for --api-url
  GITHUB_REPOSITORY       owner/name to default to when neither --owner nor --repositories is given
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION, AWS_ENDPOINT_URL
                          AWS credentials, region and endpoint, with --aws-kms-key-id
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
    pub command: Option<Command>,

    #[command(flatten)]
    pub mint: MintArgs,

    /// Print one JSON object: the token, what it covers and the app's git identity, with `tokens` (one per owner)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Revoke installation tokens read from stdin (one per line)
    #[command(after_help = REVOKE_HELP)]
    Revoke(RevokeArgs),
    /// Act as a git credential helper that answers with a new installation token
    #[command(after_help = GIT_CREDENTIAL_HELP)]
    GitCredential(Box<GitCredentialArgs>),
}

/// What to mint: the flags of the main command, shared with `git-credential`.
#[derive(Debug, Args)]
pub struct MintArgs {
    /// The app's numeric App ID, or its Client ID (Iv…)
    #[arg(long, value_name = "ID", required = true)]
    pub app_id: Option<String>,

    /// A file holding the app's PEM private key [default: the key in APP_TOKEN_PRIVATE_KEY]
    #[arg(long, value_name = "PATH")]
    pub private_key_file: Option<PathBuf>,

    /// The account that owns the repositories; alone, the token covers every repository the app can reach there
    #[arg(long, value_name = "ACCOUNT")]
    pub owner: Option<String>,

    /// Repositories: names, owner/name, or numeric ids, separated by commas, spaces or newlines (repeatable)
    #[arg(long, value_name = "LIST")]
    pub repositories: Vec<String>,

    /// Permissions as YAML (`contents: read`) or `name:level,name:level` [default: the installation's]
    #[arg(long, value_name = "PERMISSIONS")]
    pub permissions: Option<String>,

    /// The installation to use, skipping its lookup
    #[arg(long, value_name = "ID")]
    pub installation_id: Option<String>,

    /// An enterprise's slug: a token for the app's installation on that enterprise (no repositories)
    #[arg(long, value_name = "SLUG", conflicts_with_all = ["owner", "repositories"])]
    pub enterprise: Option<String>,

    #[command(flatten)]
    pub aws: AwsArgs,

    #[command(flatten)]
    pub api: ApiArgs,
}

/// The app's key in AWS KMS instead of a PEM.
#[derive(Debug, Args)]
pub struct AwsArgs {
    /// The KMS key that holds the app's private key (key id, ARN or alias/NAME), instead of a PEM; AWS credentials from the environment
    #[arg(long, value_name = "KEY")]
    pub aws_kms_key_id: Option<String>,

    /// The KMS key's region [default: AWS_REGION, then AWS_DEFAULT_REGION]
    #[arg(long, value_name = "REGION")]
    pub aws_region: Option<String>,

    /// A role to assume with the job's OIDC token (inside a GitHub Actions job with `id-token: write`)
    #[arg(long, value_name = "ARN")]
    pub aws_role_to_assume: Option<String>,
}

#[derive(Debug, Args)]
pub struct ApiArgs {
    /// GitHub's API [default: GITHUB_API_URL, or https://api.github.com]
    #[arg(long, value_name = "URL")]
    pub api_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct RevokeArgs {
    #[command(flatten)]
    pub api: ApiArgs,
}

#[derive(Debug, Args)]
pub struct GitCredentialArgs {
    /// The operation git asks for
    #[arg(value_enum)]
    pub operation: Operation,

    #[command(flatten)]
    pub mint: MintArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Operation {
    Get,
    Store,
    Erase,
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
}
