//! The command line's arguments: the clap model, and the help text of each command.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::error::ErrorKind;
use clap::{Arg, ArgAction, ArgMatches, Args, FromArgMatches, Parser, Subcommand, ValueEnum};
use clap_complete::Shell;

use crate::config::{Flag, KeySetting, Setting, KEY_SETTINGS};

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

  # The key in GCP Cloud KMS (Application Default Credentials)
  app-token --app-id 123456 --owner acme \\
            --gcp-kms-key projects/p/locations/global/keyRings/r/cryptoKeys/app/cryptoKeyVersions/1

  # Revoke the token when done
  printf '%s\\n' \"$TOKEN\" | app-token revoke

Environment:
  APP_TOKEN_PRIVATE_KEY   the app's PEM private key, when --private-key-file is not given
  GITHUB_API_URL          the default for --api-url
  GITHUB_REPOSITORY       owner/name to default to when neither --owner nor --repositories is given
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION, AWS_ENDPOINT_URL
                          AWS credentials, region and endpoint, with --aws-kms-key-id
  GOOGLE_APPLICATION_CREDENTIALS, CLOUDSDK_API_ENDPOINT_OVERRIDES_{STS,IAMCREDENTIALS,CLOUDKMS}
                          GCP credentials (an external_account file) and endpoints, with --gcp-kms-key
  AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_CLIENT_SECRET, AZURE_AUTHORITY_HOST
                          Azure's app registration and credential, with --azure-key-vault-key
  VAULT_ADDR, VAULT_TOKEN, VAULT_NAMESPACE
                          Vault's address, token and namespace, with --vault-transit-key
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

const INSTALLATIONS_HELP: &str = "\
Examples:
  export APP_TOKEN_PRIVATE_KEY=\"$(cat app.private-key.pem)\"
  app-token installations --app-id 123456

  # One JSON array, for scripts: the ids of the suspended installations
  app-token installations --app-id 123456 --json | jq '.[] | select(.suspended) | .id'

  # GitHub Enterprise Server
  app-token installations --app-id 42 --private-key-file app.pem --api-url https://ghe.example.com/api/v3

Columns: the installation's id, its account (a login, or an enterprise's slug), the
account's type (User, Organization, Enterprise), which repositories it covers (all or
selected), whether it is suspended, and its permissions.

Exit status: 0 listed, 1 GitHub refused or could not be reached, 2 bad usage or input.";

const JWT_HELP: &str = "\
Examples:
  export APP_TOKEN_PRIVATE_KEY=\"$(cat app.private-key.pem)\"
  JWT=$(app-token jwt --app-id 123456)
  curl -s -H \"Authorization: Bearer $JWT\" https://api.github.com/app | jq -r .slug
  curl -s -H \"Authorization: Bearer $JWT\" https://api.github.com/app/hook/deliveries

The JWT (RS256) is issued 60 s in the past, to absorb clock differences, and expires
10 minutes later. Nothing else is printed on stdout. GitHub is not asked anything; a key
held by a key service (--aws-kms-key-id, --gcp-kms-key, --azure-key-vault-key,
--vault-transit-key) signs it there.

Exit status: 0 printed, 1 it could not be signed or printed, 2 bad usage or input (a
missing or unusable key).";

const EXEC_HELP: &str = "\
Examples:
  export APP_TOKEN_PRIVATE_KEY=\"$(cat app.private-key.pem)\"
  # gh and git read the token from GH_TOKEN and GITHUB_TOKEN
  app-token exec --app-id 123456 --repositories acme/site -- gh pr list --repo acme/site
  app-token exec --app-id 123456 --owner acme --permissions issues:write -- ./triage.sh

  # The enterprise's installation, for the enterprise-level APIs
  app-token exec --app-id 123456 --enterprise my-enterprise -- ./enterprise-report.sh

  # A three-hour build that pushes at the end: fresh tokens for as long as it runs
  app-token exec --refresh --app-id 123456 --repositories acme/site \\
      --permissions contents:write -- sh -c './build.sh && git push'

COMMAND runs with GH_TOKEN and GITHUB_TOKEN set to a new installation token, and without
what could sign as the app: APP_TOKEN_PRIVATE_KEY, AWS credentials (AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, web identity and container credentials),
ACTIONS_ID_TOKEN_REQUEST_TOKEN/_URL, and GCP, Azure and Vault credentials. A file it can
read stays readable, --private-key-file included: keep the key where COMMAND cannot read
it. COMMAND reads and writes the terminal as usual. SIGINT and SIGTERM are
passed on to it. When it ends, the token is revoked (a revocation that fails is a warning
on stderr), and app-token exits with its status. The token is never printed.

With --refresh, app-token stays an agent for COMMAND's lifetime: APP_TOKEN_AGENT names it,
git is configured (GIT_CONFIG_COUNT, GIT_CONFIG_KEY_n, GIT_CONFIG_VALUE_n) to ask it for the
API's web host, and `app-token token` prints a token with more than 10 minutes left, so that
a COMMAND longer than the hour a token lives never sees one expire. GH_TOKEN and
GITHUB_TOKEN hold the first token, which expires within the hour. Every token minted is
revoked when COMMAND ends.

Exit status: COMMAND's (128 + n when signal n ended it); 1 GitHub refused or could not be
reached and COMMAND did not run; 2 bad usage or input (several owners, too: one token
cannot cross accounts); 126 COMMAND could not be started, 127 COMMAND was not found.";

const AGENT_HELP: &str = "\
Examples:
  # In a shell or a CI script: start it, use it, stop it
  export APP_TOKEN_PRIVATE_KEY=\"$(cat app.private-key.pem)\"
  eval \"$(app-token agent --app-id 123456 --repositories acme/site --permissions contents:write)\"
  unset APP_TOKEN_PRIVATE_KEY
  git clone https://github.com/acme/site.git     # git asks the agent
  GH_TOKEN=\"$(app-token token)\" gh release create v1 dist/*
  eval \"$(app-token agent --stop)\"

  # csh
  eval `app-token agent -c --app-id 123456 --owner acme --private-key-file app.pem`

The agent holds the app's key (or its key service's access) in memory only, and hands
its user's later commands a token of exactly this scope with more than 10 minutes left,
minting the next one ahead of time, for as long as --lifetime. It listens on a socket in a
fresh folder of mode 0700 (a named pipe on Windows) and answers only its own user. The
lines printed set APP_TOKEN_AGENT and APP_TOKEN_AGENT_PID, and git's configuration
(GIT_CONFIG_COUNT, GIT_CONFIG_KEY_n, GIT_CONFIG_VALUE_n, after any already set) so that git
asks the agent for the API's web host. It ends, revoking every token it minted, on
--stop, on SIGINT or SIGTERM, or when its lifetime runs out.

Exit status: 0 started (or stopped), 1 the agent could not start or GitHub refused its
first token, 2 bad usage or input.";

const TOKEN_HELP: &str = "\
Examples:
  GH_TOKEN=\"$(app-token token)\" gh pr list --repo acme/site
  curl -H \"Authorization: Bearer $(app-token token --owner widgets)\" https://api.github.com/installation/repositories

Prints a token of the agent's scope with more than 10 minutes left. The agent is the one
APP_TOKEN_AGENT names (the action's `refresh: true`, `app-token agent`, or
`app-token exec --refresh` set it). The token is the agent's to revoke: do not revoke it.

Exit status: 0 printed, 1 no agent answers or GitHub refused, 2 APP_TOKEN_AGENT is not set.";

const COMPLETIONS_HELP: &str = "\
Examples:
  # bash: for this shell, or for every new one
  source <(app-token completions bash)
  app-token completions bash > ~/.local/share/bash-completion/completions/app-token

  # zsh: a directory on $fpath
  app-token completions zsh > \"${fpath[1]}/_app-token\"

  # fish
  app-token completions fish > ~/.config/fish/completions/app-token.fish

  # PowerShell
  app-token completions powershell | Out-String | Invoke-Expression";

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
    /// Act as a git credential helper that answers with a new installation token (or the agent's)
    #[command(after_help = GIT_CREDENTIAL_HELP, mut_arg("app_id", |a| a.required(false)))]
    GitCredential(Box<GitCredentialArgs>),
    /// List the app's installations: account, type, repositories, suspension, permissions
    #[command(after_help = INSTALLATIONS_HELP)]
    Installations(InstallationsArgs),
    /// Print a new JWT of the app (RS256, valid for 10 minutes), for the app's own endpoints
    #[command(after_help = JWT_HELP)]
    Jwt(JwtArgs),
    /// Run a command with a new installation token in GH_TOKEN and GITHUB_TOKEN, revoked when it ends
    #[command(after_help = EXEC_HELP)]
    Exec(ExecArgs),
    /// Start an agent that keeps fresh installation tokens for later commands, and print the shell lines that point at it
    #[command(after_help = AGENT_HELP)]
    Agent(Box<AgentArgs>),
    /// Print a valid installation token from the agent named by APP_TOKEN_AGENT
    #[command(after_help = TOKEN_HELP)]
    Token(TokenArgs),
    /// Print the completion script of a shell
    #[command(after_help = COMPLETIONS_HELP)]
    Completions(CompletionsArgs),
}

/// Who the app is and where its key comes from: the flags of every command that acts as the app.
#[derive(Debug, Args)]
pub struct AppArgs {
    /// The app's numeric App ID, or its Client ID (Iv…)
    #[arg(long, value_name = "ID", required = true)]
    pub app_id: Option<String>,

    /// A file holding the app's PEM private key [default: the key in APP_TOKEN_PRIVATE_KEY]
    #[arg(long, value_name = "PATH")]
    pub private_key_file: Option<PathBuf>,

    #[command(flatten)]
    pub keys: KeyArgs,
}

/// What to mint: the flags of the main command, shared with `git-credential` and `exec`.
#[derive(Debug, Args)]
pub struct MintArgs {
    #[command(flatten)]
    pub app: AppArgs,

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

    /// The tokens' format: stateless (ghs_ and a JWT, some 520 characters) or classic [default: GitHub's choice]
    #[arg(long, value_name = "FORMAT")]
    pub token_format: Option<String>,

    #[command(flatten)]
    pub api: ApiArgs,
}

/// The key services' flags: one per key setting that has one, `--` and its input's name,
/// with the value name and help [`KEY_SETTINGS`] gives it (in its order).
#[derive(Debug, Default)]
pub struct KeyArgs {
    values: [Option<String>; KEY_SETTINGS.len()],
}

impl KeyArgs {
    /// The value given for `setting`'s flag, as typed.
    pub fn get(&self, setting: Setting) -> &Option<String> {
        &self.values[setting as usize]
    }
}

/// The key settings that are flags, with their flags.
fn key_flags() -> impl Iterator<Item = (&'static KeySetting, Flag)> {
    KEY_SETTINGS.iter().filter_map(|s| Some((s, s.flag?)))
}

impl FromArgMatches for KeyArgs {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut args = Self::default();
        args.update_from_arg_matches(matches)?;
        Ok(args)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        for (setting, _) in key_flags() {
            let value = matches
                .try_get_one::<String>(setting.name)
                .map_err(|e| clap::Error::raw(ErrorKind::InvalidValue, e))?;
            if let Some(value) = value {
                self.values[setting.setting as usize] = Some(value.clone());
            }
        }
        Ok(())
    }
}

impl Args for KeyArgs {
    fn augment_args(command: clap::Command) -> clap::Command {
        command.args(key_flags().map(|(setting, flag)| {
            Arg::new(setting.name)
                .long(setting.name)
                .value_name(flag.value_name)
                .help(flag.help)
                .action(ArgAction::Set)
                .value_parser(clap::value_parser!(String))
        }))
    }

    fn augment_args_for_update(command: clap::Command) -> clap::Command {
        Self::augment_args(command)
    }
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

#[derive(Debug, Args)]
pub struct InstallationsArgs {
    #[command(flatten)]
    pub app: AppArgs,

    #[command(flatten)]
    pub api: ApiArgs,

    /// Print one JSON array, an object per installation, instead of the table
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct JwtArgs {
    #[command(flatten)]
    pub app: AppArgs,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    #[command(flatten)]
    pub mint: MintArgs,

    /// Serve COMMAND fresh tokens for as long as it runs: an agent in APP_TOKEN_AGENT, and git set to ask it
    #[arg(long)]
    pub refresh: bool,

    /// The command to run, and its arguments, after `--`
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

#[derive(Debug, Args)]
pub struct AgentArgs {
    #[command(flatten)]
    pub mint: MintArgs,

    /// How long the agent serves at most: hours, minutes or seconds (8h, 90m, 3600s) [default: 6h]
    #[arg(long, value_name = "DURATION")]
    pub lifetime: Option<String>,

    /// Print csh lines (setenv) instead of Bourne shell lines
    #[arg(short = 'c', long = "csh", conflicts_with = "json")]
    pub csh: bool,

    /// Print one JSON object (the agent's address and pid, and git's variables) instead of shell lines
    #[arg(long)]
    pub json: bool,

    /// Stop the agent named by APP_TOKEN_AGENT: it revokes every token it minted, and ends
    #[arg(long, exclusive = true)]
    pub stop: bool,
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The account whose token to print [default: the agent's first]
    #[arg(long, value_name = "ACCOUNT")]
    pub owner: Option<String>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in
    #[arg(value_parser = shells())]
    pub shell: Shell,
}

/// The shells `completions` writes scripts for, in the order help lists them: clap_complete's
/// but for elvish.
pub const SHELLS: [Shell; 4] = [Shell::Bash, Shell::Zsh, Shell::Fish, Shell::PowerShell];

/// Takes the name of one of [`SHELLS`], as clap_complete spells it.
fn shells() -> impl TypedValueParser<Value = Shell> {
    PossibleValuesParser::new(SHELLS.iter().filter_map(ValueEnum::to_possible_value))
        .try_map(|name| Shell::from_str(&name, false))
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
        // Without the app, git-credential asks the agent (or says the app is missing).
        assert!(parse(&["git-credential", "get"]).is_ok());
        let cli = parse(&["agent", "--stop"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Agent(a)) if a.stop));
        assert!(parse(&["agent", "--stop", "--app-id", "1"]).is_err());
        assert!(
            parse(&["agent", "--owner", "acme"]).is_err(),
            "an agent needs the app"
        );
        assert!(parse(&["token"]).is_ok());
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
    fn every_command_that_mints_takes_the_token_format_and_no_other_does() {
        let format = |cli: Cli| match cli.command {
            None => cli.mint.token_format,
            Some(Command::GitCredential(g)) => g.mint.token_format,
            Some(Command::Exec(e)) => e.mint.token_format,
            other => panic!("{other:?}"),
        };
        let flag = ["--token-format", "stateless"];
        for args in [
            &["--app-id", "1"][..],
            &["git-credential", "get", "--app-id", "1"],
            &["exec", "--app-id", "1"],
        ] {
            let mut all = args.to_vec();
            all.extend(flag);
            if args.first() == Some(&"exec") {
                all.extend(["--", "true"]);
            }
            let cli = parse(&all).unwrap();
            assert_eq!(format(cli).as_deref(), Some("stateless"), "{all:?}");
        }
        for args in [
            &["revoke"][..],
            &["installations", "--app-id", "1"],
            &["jwt", "--app-id", "1"],
        ] {
            let mut all = args.to_vec();
            all.extend(flag);
            assert_eq!(parse(&all).unwrap_err().exit_code(), 2, "{all:?}");
        }
    }

    #[test]
    fn exec_takes_the_mint_flags_and_a_command_after_a_double_dash() {
        let cli = parse(&[
            "exec",
            "--app-id",
            "1",
            "--enterprise",
            "big-co",
            "--",
            "sh",
            "-c",
            "exit 3",
        ])
        .unwrap();
        match cli.command {
            Some(Command::Exec(e)) => {
                assert_eq!(e.mint.enterprise.as_deref(), Some("big-co"));
                assert_eq!(e.command, ["sh", "-c", "exit 3"]);
            }
            other => panic!("{other:?}"),
        }
        for bad in [
            &["exec", "--app-id", "1", "--owner", "a"][..],
            &["exec", "--app-id", "1", "--owner", "a", "sh"],
            &["exec", "--owner", "a", "--", "sh"],
        ] {
            assert_eq!(parse(bad).unwrap_err().exit_code(), 2, "{bad:?}");
        }
    }

    #[test]
    fn installations_and_jwt_take_the_apps_flags_only() {
        let cli = parse(&["installations", "--app-id", "1", "--json"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Installations(i)) if i.json));
        assert!(parse(&["jwt", "--app-id", "1"]).is_ok());
        for bad in [
            &["installations"][..],
            &["installations", "--app-id", "1", "--owner", "acme"],
            &["jwt", "--app-id", "1", "--api-url", "https://x"],
            &["completions", "elvish"],
        ] {
            assert_eq!(parse(bad).unwrap_err().exit_code(), 2, "{bad:?}");
        }
    }

    #[test]
    fn every_key_setting_but_the_pem_is_a_flag_named_as_its_input() {
        let help = help();
        for row in KEY_SETTINGS.iter().filter(|s| s.flag.is_some()) {
            let flag = format!("--{}", row.name);
            let cli = parse(&["--app-id", "1", &flag, " v "]).unwrap();
            for other in &KEY_SETTINGS {
                let expected = (other.setting == row.setting).then(|| " v ".to_string());
                assert_eq!(cli.mint.app.keys.get(other.setting), &expected, "{flag}");
            }
            let shown = format!(
                "{flag} <{}>",
                row.flag.map(|f| f.value_name).unwrap_or_default()
            );
            assert!(help.contains(&shown), "{shown}");
        }
        // Installations and jwt take them too, each in its own place.
        let cli = parse(&[
            "jwt",
            "--app-id",
            "1",
            "--vault-url",
            "u",
            "--vault-role",
            "r",
        ])
        .unwrap();
        match cli.command {
            Some(Command::Jwt(j)) => {
                assert_eq!(j.app.keys.get(Setting::VaultUrl).as_deref(), Some("u"));
                assert_eq!(j.app.keys.get(Setting::VaultRole).as_deref(), Some("r"));
                assert_eq!(j.app.keys.get(Setting::VaultAudience), &None);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_key_is_never_a_flag_value() {
        assert!(parse(&["--app-id", "1", "--private-key", "x"]).is_err());
        let help = help();
        assert!(help.contains("APP_TOKEN_PRIVATE_KEY"), "{help}");
        assert!(help.contains("Examples:"), "{help}");
    }
}
