//! One validated configuration for both front ends.
//!
//! What to mint, checked before any request, with errors that name the field at fault.
//!
//! The action's inputs and the command line's flags both fill a [`Given`]; [`plan`]
//! checks it and turns it into mint requests, and [`Plan::with_key`] adds the app's
//! key. Each front end names a [`Field`] its own way (`input \`owner\`` or `--owner`).

use std::fmt;

mod key;
mod proxy;

pub use key::{Backend, Flag, Key, KeyGiven, KeySetting, Setting, KEY_SETTINGS, SIGNING_VARIABLES};
pub use proxy::proxy;

use crate::excerpt::excerpt;
use crate::github::TokenFormat;
use crate::mint::{OwnerKind, Request, Selection};
use crate::permissions::{self, Permissions};
use crate::repositories::{self, Entry, OwnerRepos};
use crate::transport::is_loopback;

/// The default API when neither the front end nor `GITHUB_API_URL` gives one.
pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// A field of the configuration, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    AppId,
    ApiUrl,
    Owner,
    Repositories,
    Permissions,
    /// One permission given on its own (the action's `permission-<name>` inputs).
    Permission(&'static str),
    InstallationId,
    Enterprise,
    /// The installation token's format (`stateless` or `classic`).
    TokenFormat,
    /// A key setting (the PEM, or a key service's), named as [`KEY_SETTINGS`] says.
    Key(Setting),
    /// An environment variable, named the same by every front end.
    Environment(&'static str),
}

/// A field that is wrong, and why. Never carries a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub field: Field,
    /// What is wrong; each `{}` stands for the next of `refs`, named by the front end.
    pub message: String,
    pub refs: Vec<Field>,
}

impl ConfigError {
    pub(crate) fn new(field: Field, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
            refs: Vec::new(),
        }
    }

    pub(crate) fn naming(field: Field, message: &str, refs: &[Field]) -> Self {
        Self {
            field,
            message: message.to_string(),
            refs: refs.to_vec(),
        }
    }

    /// The message with the fields it mentions named by `name`.
    pub fn message_with(&self, name: impl Fn(Field) -> String) -> String {
        let mut out = self.message.clone();
        for field in &self.refs {
            out = out.replacen("{}", &name(*field), 1);
        }
        out
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = |field: Field| match field {
            Field::Key(setting) => format!("{setting:?}"),
            other => format!("{other:?}"),
        };
        write!(f, "{}: {}", name(self.field), self.message_with(name))
    }
}

impl std::error::Error for ConfigError {}

/// What a front end was given, as text. Blank values are already `None`.
#[derive(Debug, Clone, Default)]
pub struct Given {
    pub app_id: Option<String>,
    pub api_url: Option<String>,
    /// `GITHUB_API_URL`, the default for `api_url`.
    pub github_api_url: Option<String>,
    pub owner: Option<String>,
    /// Entries separated by commas, spaces or newlines.
    pub repositories: String,
    pub permissions: Option<String>,
    /// Permissions given one by one: (GitHub's name, level).
    pub permission_levels: Vec<(&'static str, String)>,
    pub installation_id: Option<String>,
    /// An enterprise's slug: its installation instead of an owner's.
    pub enterprise: Option<String>,
    /// The tokens' format: `stateless` or `classic`; none lets GitHub decide.
    pub token_format: Option<String>,
    /// `GITHUB_REPOSITORY`: `owner/name` of the workflow's repository.
    pub current_repository: Option<String>,
}

/// Everything but the key, checked: the app, the API and one mint request per owner.
#[derive(Debug, Clone)]
pub struct Plan {
    pub app_id: String,
    pub api_url: String,
    pub requests: Vec<Request>,
}

/// A plan with the app's key, checked: a PEM by a first signature, a service's key by its
/// settings (its first signature is the first request).
pub struct Config {
    pub app_id: String,
    pub key: Key,
    pub api_url: String,
    pub requests: Vec<Request>,
}

/// The most bytes an id, a name or a URL may have: 1 KiB, more than any real one
/// (GitHub's logins take 39, an Azure key identifier some 220, a Cloud KMS key version
/// some 250, Vault's paths, roles and audiences a few dozen).
pub const MAX_NAME_BYTES: usize = 1024;
/// A KMS key id (or ARN, or alias) or a role's ARN: what AWS takes, 2048 bytes for
/// either (KMS's `KeyId`, STS's `RoleArn`).
pub const MAX_AWS_ID_BYTES: usize = 2048;
/// A PEM private key, or its base64: 64 KiB (a 16384-bit RSA key's PEM is some 13 KB,
/// its base64 some 17 KB).
pub const MAX_KEY_BYTES: usize = 64 * 1024;
/// A file's path (`GOOGLE_APPLICATION_CREDENTIALS`, `--private-key-file`): Linux's PATH_MAX.
pub const MAX_PATH_BYTES: usize = 4096;

/// The most bytes `field` may hold: a longer value is refused before it is checked,
/// used or quoted (`permissions` and `repositories` by their own parsers).
pub fn max_len(field: Field) -> usize {
    match field {
        Field::Key(setting) => setting.spec().max_len,
        Field::Permissions => permissions::MAX_PERMISSIONS_BYTES,
        Field::Repositories => repositories::MAX_REPOSITORIES_BYTES,
        Field::Environment("GOOGLE_APPLICATION_CREDENTIALS") => MAX_PATH_BYTES,
        _ => MAX_NAME_BYTES,
    }
}

/// Refuses a `value` of `field` longer than [`max_len`], saying both lengths and quoting
/// none of it.
pub(crate) fn bounded(field: Field, value: Option<&str>) -> Result<(), ConfigError> {
    let max = max_len(field);
    match value {
        Some(v) if v.len() > max => Err(ConfigError::new(
            field,
            format!("is {} bytes long; at most {max} bytes are read", v.len()),
        )),
        _ => Ok(()),
    }
}

/// Checks a base URL: https, or plain http on a loopback host only. A trailing slash is
/// dropped; a path (GitHub Enterprise Server's `/api/v3`) is kept.
pub fn validate_url(raw: &str) -> Result<String, String> {
    let url = raw.trim().trim_end_matches('/');
    let uri: http::Uri = url.parse().map_err(|_| "is not a URL".to_string())?;
    let host = uri.host().ok_or_else(|| "has no host".to_string())?;
    match uri.scheme_str() {
        Some("https") => {}
        Some("http") if is_loopback(host) => {}
        Some("http") => {
            return Err("must use https (plain http is allowed only for loopback hosts)".into())
        }
        _ => return Err("must be an https URL, such as https://api.github.com".into()),
    }
    if uri.query().is_some() || url.contains('#') {
        return Err("must not have a query or fragment".into());
    }
    if uri
        .authority()
        .map(|a| a.as_str().contains('@'))
        .unwrap_or(false)
    {
        return Err("must not carry credentials".into());
    }
    Ok(url.to_string())
}

/// The API URL: the one given, else `GITHUB_API_URL`, else github.com's; checked.
pub fn api_url(given: Option<&str>, github_api_url: Option<&str>) -> Result<String, ConfigError> {
    let raw = given.or(github_api_url).unwrap_or(DEFAULT_API_URL);
    bounded(Field::ApiUrl, Some(raw))?;
    validate_url(raw).map_err(|m| ConfigError::new(Field::ApiUrl, m))
}

/// An app id: the numeric App ID or the Client ID (`Iv…`). GitHub takes either as the JWT issuer.
pub fn validate_app_id(raw: &str) -> Result<String, String> {
    let id = raw.trim();
    if id.is_empty() {
        return Err("is empty".into());
    }
    let numeric = id.bytes().all(|b| b.is_ascii_digit());
    let client_id = id.len() <= 64
        && id.starts_with("Iv")
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.');
    if !numeric && !client_id {
        return Err(
            "must be the app's numeric App ID or its Client ID (which starts with `Iv`)".into(),
        );
    }
    Ok(id.to_string())
}

/// The tokens' format, if one is given: one of [`TokenFormat::NAMES`], in lower case as
/// GitHub's header values are.
fn token_format(raw: Option<&str>) -> Result<Option<TokenFormat>, ConfigError> {
    raw.map(|v| {
        TokenFormat::named(v.trim()).ok_or_else(|| {
            ConfigError::new(
                Field::TokenFormat,
                format!(
                    "is `{}`; it must be `{}` or `{}` (or empty, to let GitHub choose)",
                    excerpt(v.trim()),
                    TokenFormat::NAMES[0],
                    TokenFormat::NAMES[1]
                ),
            )
        })
    })
    .transpose()
}

/// Parses an installation id.
fn installation_id(raw: Option<&str>) -> Result<Option<u64>, ConfigError> {
    raw.map(|v| match v.trim().parse::<u64>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err(ConfigError::new(
            Field::InstallationId,
            "must be a positive number",
        )),
    })
    .transpose()
}

/// The requested permissions: the mapping and every permission given on its own, merged.
fn requested_permissions(given: &Given) -> Result<Option<Permissions>, ConfigError> {
    let mut sources: Vec<(Field, Permissions)> = Vec::new();
    if let Some(p) = permissions::parse(given.permissions.as_deref().unwrap_or_default())
        .map_err(|m| ConfigError::new(Field::Permissions, m))?
    {
        sources.push((Field::Permissions, p));
    }
    for (name, level) in &given.permission_levels {
        let field = Field::Permission(name);
        let (name, level) =
            permissions::validate(name, level).map_err(|m| ConfigError::new(field, m))?;
        sources.push((field, Permissions::from([(name, level)])));
    }
    let borrowed: Vec<(Field, &Permissions)> = sources.iter().map(|(f, p)| (*f, p)).collect();
    permissions::merge(&borrowed).map_err(|c| {
        ConfigError::naming(
            Field::Permissions,
            &format!(
                "`{}` is `{}` in {{}} but `{}` in {{}}",
                c.name, c.first.1, c.second.1
            ),
            &[c.first.0, c.second.0],
        )
    })
}

/// One mint request per owner, from the owner, the repositories, the installation id
/// and the workflow's repository (the default when neither owner nor repositories is given).
pub fn requests(
    owner: Option<&str>,
    entries: &[Entry],
    installation_id: Option<u64>,
    current_repository: Option<&str>,
    permissions: Option<&Permissions>,
) -> Result<Vec<Request>, ConfigError> {
    if let Some(o) = owner {
        if !repositories::valid_name(o) {
            return Err(ConfigError::new(
                Field::Owner,
                "is not a valid account name (letters, digits, `-`, `_`, `.`)",
            ));
        }
    }
    let current = current_repository
        .and_then(|r| r.split_once('/'))
        .filter(|(o, r)| repositories::valid_name(o) && repositories::valid_name(r));
    let request = |owner: &str, selection| Request {
        owner: owner.to_string(),
        kind: OwnerKind::Account,
        selection,
        permissions: permissions.cloned(),
        installation_id,
        token_format: None,
    };
    let mut out = Vec::new();
    if entries.is_empty() {
        match (owner, current) {
            (Some(owner), _) => out.push(request(owner, Selection::All)),
            (None, Some((o, r))) => out.push(request(
                o,
                Selection::Only(OwnerRepos {
                    names: vec![r.to_string()],
                    ids: vec![],
                }),
            )),
            (None, None) => {
                return Err(ConfigError::naming(
                    Field::Owner,
                    "is not set, and there is no current repository (GITHUB_REPOSITORY) to default to: give {}, {}, or both",
                    &[Field::Owner, Field::Repositories],
                ))
            }
        }
    } else {
        // Only entries without an owner (bare names, ids) need one to default to.
        let all_owned = entries
            .iter()
            .all(|e| matches!(e, Entry::Name { owner: Some(_), .. }));
        let default_owner = match owner.or(current.map(|(o, _)| o)) {
            Some(o) => o,
            None if all_owned => "",
            None => return Err(ConfigError::new(
                Field::Owner,
                "must be set when repositories are given without an owner outside of a workflow",
            )),
        };
        for (owner, repos) in repositories::group_by_owner(entries, default_owner) {
            out.push(request(&owner, Selection::Only(repos)));
        }
    }
    if installation_id.is_some() && out.len() > 1 {
        return Err(ConfigError::new(
            Field::InstallationId,
            "names one installation, but the repositories span several owners",
        ));
    }
    Ok(out)
}

/// The one request for an enterprise's installation. An enterprise installation covers
/// no repositories, and is found by the enterprise alone: owner and repositories are
/// errors beside it (the workflow's repository is simply not the default then).
fn enterprise_request(
    slug: &str,
    given: &Given,
    installation_id: Option<u64>,
    permissions: Option<Permissions>,
) -> Result<Request, ConfigError> {
    if !repositories::valid_name(slug) {
        return Err(ConfigError::new(
            Field::Enterprise,
            "is not a valid enterprise slug (letters, digits, `-`)",
        ));
    }
    if given.owner.is_some() {
        return Err(ConfigError::naming(
            Field::Enterprise,
            "cannot be combined with {}: an enterprise's installation is found by the enterprise alone",
            &[Field::Owner],
        ));
    }
    if !given.repositories.trim().is_empty() {
        return Err(ConfigError::naming(
            Field::Enterprise,
            "cannot be combined with {}: an enterprise's installation covers no repositories",
            &[Field::Repositories],
        ));
    }
    Ok(Request {
        owner: slug.to_string(),
        kind: OwnerKind::Enterprise,
        selection: Selection::All,
        permissions,
        installation_id,
        token_format: None,
    })
}

/// Checks only what acting as the app needs (its id and the API) and plans no token:
/// for the commands that mint nothing, such as listing installations or printing a JWT.
pub fn app_plan(given: &Given) -> Result<Plan, ConfigError> {
    bounded(Field::AppId, given.app_id.as_deref())?;
    let app_id = match &given.app_id {
        Some(raw) => validate_app_id(raw).map_err(|m| ConfigError::new(Field::AppId, m))?,
        None => {
            return Err(ConfigError::new(
                Field::AppId,
                "is required: the app's App ID or Client ID",
            ))
        }
    };
    let api_url = api_url(given.api_url.as_deref(), given.github_api_url.as_deref())?;
    Ok(Plan {
        app_id,
        api_url,
        requests: Vec::new(),
    })
}

/// Checks everything but the key, in the order a user reads the fields.
pub fn plan(given: &Given) -> Result<Plan, ConfigError> {
    let Plan {
        app_id, api_url, ..
    } = app_plan(given)?;
    bounded(Field::Owner, given.owner.as_deref())?;
    bounded(Field::InstallationId, given.installation_id.as_deref())?;
    bounded(Field::Enterprise, given.enterprise.as_deref())?;
    bounded(Field::TokenFormat, given.token_format.as_deref())?;
    for (name, level) in &given.permission_levels {
        bounded(Field::Permission(name), Some(level))?;
    }
    let permissions = requested_permissions(given)?;
    let installation_id = installation_id(given.installation_id.as_deref())?;
    let format = token_format(given.token_format.as_deref())?;
    let mut requests = match &given.enterprise {
        Some(slug) => vec![enterprise_request(
            slug,
            given,
            installation_id,
            permissions,
        )?],
        None => {
            let entries = repositories::parse(&given.repositories)
                .map_err(|m| ConfigError::new(Field::Repositories, m))?;
            requests(
                given.owner.as_deref(),
                &entries,
                installation_id,
                given.current_repository.as_deref(),
                permissions.as_ref(),
            )?
        }
    };
    for request in &mut requests {
        request.token_format = format;
    }
    Ok(Plan {
        app_id,
        api_url,
        requests,
    })
}

impl Plan {
    /// Adds the app's key: a PEM, or a key service's key (exactly one of them).
    pub fn with_key(self, given: KeyGiven) -> Result<Config, ConfigError> {
        let key = key::check(&self.app_id, given.read_files())?;
        Ok(Config {
            app_id: self.app_id,
            key,
            api_url: self.api_url,
            requests: self.requests,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::github::Lookup;
    use crate::mint;
    use crate::permissions::Level;

    fn given() -> Given {
        Given {
            app_id: Some("123".into()),
            current_repository: Some("acme/site".into()),
            ..Given::default()
        }
    }

    fn plan_with(f: impl FnOnce(&mut Given)) -> Result<Plan, ConfigError> {
        let mut g = given();
        f(&mut g);
        plan(&g)
    }

    fn field_of(f: impl FnOnce(&mut Given)) -> Field {
        plan_with(f).expect_err("an error").field
    }

    #[test]
    fn defaults_to_the_current_repository() {
        let p = plan(&given()).unwrap();
        assert_eq!(p.api_url, DEFAULT_API_URL);
        assert_eq!(p.requests.len(), 1);
        let r = &p.requests[0];
        assert_eq!(
            mint::lookup(r),
            Lookup::Repository {
                owner: "acme".into(),
                repo: "site".into()
            }
        );
        assert_eq!(
            r.selection,
            Selection::Only(OwnerRepos {
                names: vec!["site".into()],
                ids: vec![]
            })
        );
    }

    #[test]
    fn owner_alone_means_every_repository() {
        let p = plan_with(|g| g.owner = Some("widgets".into())).unwrap();
        assert_eq!(
            mint::lookup(&p.requests[0]),
            Lookup::Account("widgets".into())
        );
        assert_eq!(p.requests[0].selection, Selection::All);
    }

    #[test]
    fn github_api_url_is_the_default_and_an_explicit_url_wins() {
        let p = plan_with(|g| g.github_api_url = Some("https://ghe.example.com/api/v3".into()))
            .unwrap();
        assert_eq!(p.api_url, "https://ghe.example.com/api/v3");
        let p = plan_with(|g| {
            g.github_api_url = Some("https://ghe.example.com/api/v3".into());
            g.api_url = Some("https://other.example.com/api/v3/".into());
        })
        .unwrap();
        assert_eq!(p.api_url, "https://other.example.com/api/v3");
    }

    #[test]
    fn missing_and_malformed_fields_are_named() {
        assert_eq!(field_of(|g| g.app_id = None), Field::AppId);
        assert_eq!(
            field_of(|g| g.app_id = Some("nope nope".into())),
            Field::AppId
        );
        assert_eq!(
            field_of(|g| g.permissions = Some("contens: read".into())),
            Field::Permissions
        );
        assert_eq!(
            field_of(|g| g.repositories = "a/b/c".into()),
            Field::Repositories
        );
        assert_eq!(
            field_of(|g| g.owner = Some("bad/owner".into())),
            Field::Owner
        );
        assert_eq!(
            field_of(|g| g.installation_id = Some("abc".into())),
            Field::InstallationId
        );
        assert_eq!(
            field_of(|g| g.api_url = Some("http://example.com".into())),
            Field::ApiUrl
        );
        assert_eq!(
            field_of(|g| g.permission_levels = vec![("workflows", "read".into())]),
            Field::Permission("workflows")
        );
    }

    #[test]
    fn every_field_is_bounded_before_it_is_checked() {
        let long = "9".repeat(MAX_NAME_BYTES + 1);
        type Set = fn(&mut Given, String);
        let cases: [(Set, Field); 7] = [
            (|g, v| g.app_id = Some(v), Field::AppId),
            (|g, v| g.token_format = Some(v), Field::TokenFormat),
            (
                |g, v| g.api_url = Some(format!("https://{v}")),
                Field::ApiUrl,
            ),
            (|g, v| g.owner = Some(v), Field::Owner),
            (|g, v| g.installation_id = Some(v), Field::InstallationId),
            (|g, v| g.enterprise = Some(v), Field::Enterprise),
            (
                |g, v| g.permission_levels = vec![("contents", v)],
                Field::Permission("contents"),
            ),
        ];
        for (set, field) in cases {
            let e = plan_with(|g| set(g, long.clone())).unwrap_err();
            assert_eq!(e.field, field);
            assert!(
                e.message.ends_with("at most 1024 bytes are read"),
                "{}",
                e.message
            );
            assert!(!e.message.contains("999"), "the value is not quoted");
        }
        // A numeric id as long as the bound is still read (and found a valid id).
        assert!(plan_with(|g| g.app_id = Some("9".repeat(MAX_NAME_BYTES))).is_ok());
        assert_eq!(max_len(Field::Key(Setting::AwsKmsKeyId)), 2048);
        assert_eq!(max_len(Field::Key(Setting::PrivateKey)), 64 * 1024);
    }

    #[test]
    fn the_app_alone_needs_no_owner_and_plans_no_token() {
        let p = app_plan(&Given {
            app_id: Some(" 123 ".into()),
            ..Given::default()
        })
        .unwrap();
        assert_eq!(
            (p.app_id.as_str(), p.api_url.as_str()),
            ("123", DEFAULT_API_URL)
        );
        assert!(p.requests.is_empty());
        let field = |g: Given| app_plan(&g).err().map(|e| e.field);
        assert_eq!(field(Given::default()), Some(Field::AppId));
        let bad_url = Given {
            app_id: Some("123".into()),
            github_api_url: Some("http://example.com".into()),
            ..Given::default()
        };
        assert_eq!(field(bad_url), Some(Field::ApiUrl));
    }

    #[test]
    fn api_urls() {
        assert_eq!(
            validate_url("https://api.github.com/").unwrap(),
            "https://api.github.com"
        );
        assert_eq!(
            validate_url("https://ghe.example.com/api/v3/").unwrap(),
            "https://ghe.example.com/api/v3"
        );
        assert!(validate_url("http://127.0.0.1:8080").is_ok());
        assert!(validate_url("http://localhost:1").is_ok());
        assert!(validate_url("http://[::1]:1").is_ok());
        assert!(validate_url("http://[::ffff:127.0.0.1]:1").is_ok());
        // The same loopback as the proxy's: a name DNS answers for is not plain http.
        for host in [
            "localhost.",
            "localhost.example",
            "127.0.0.1.example",
            "127.1",
        ] {
            let url = format!("http://{host}:1");
            assert!(validate_url(&url).unwrap_err().contains("https"), "{url}");
        }
        assert!(validate_url("http://api.github.com")
            .unwrap_err()
            .contains("https"));
        assert!(validate_url("ftp://x").is_err());
        assert!(validate_url("https://user:pw@host").is_err());
        assert!(validate_url("https://host/x?y=1").is_err());
        assert!(validate_url("not a url").is_err());
    }

    #[test]
    fn permissions_given_one_by_one_combine_and_conflict() {
        let p = plan_with(|g| {
            g.permissions = Some("contents: write".into());
            g.permission_levels = vec![("pull_requests", "read".into())];
        })
        .unwrap();
        let p = p.requests[0].permissions.clone().unwrap();
        assert_eq!(p.get("contents"), Some(&Level::Write));
        assert_eq!(p.get("pull_requests"), Some(&Level::Read));
        let e = plan_with(|g| {
            g.permissions = Some("contents: write".into());
            g.permission_levels = vec![("contents", "read".into())];
        })
        .err()
        .unwrap();
        assert_eq!(e.field, Field::Permissions);
        assert_eq!(e.refs, [Field::Permissions, Field::Permission("contents")]);
        let named = e.message_with(|f| match f {
            Field::Permission(p) => format!("<{p}>"),
            _ => "<map>".into(),
        });
        assert_eq!(
            named,
            "`contents` is `write` in <map> but `read` in <contents>"
        );
    }

    #[test]
    fn no_owner_no_repositories_and_no_workflow_names_both_fields() {
        let e = plan_with(|g| g.current_repository = None).err().unwrap();
        assert_eq!(e.field, Field::Owner);
        assert_eq!(e.refs, [Field::Owner, Field::Repositories]);
        let text = e.message_with(|f| format!("{f:?}"));
        assert!(
            text.ends_with("give Owner, Repositories, or both"),
            "{text}"
        );
    }

    #[test]
    fn an_enterprise_stands_alone_and_covers_no_repositories() {
        let p = plan_with(|g| g.enterprise = Some("big-co".into())).unwrap();
        let r = &p.requests[0];
        assert_eq!(
            p.requests.len(),
            1,
            "the workflow's repository is not added"
        );
        assert_eq!(
            (r.kind, r.selection.clone()),
            (OwnerKind::Enterprise, Selection::All)
        );
        assert_eq!(mint::lookup(r), Lookup::Enterprise("big-co".into()));
        let p = plan_with(|g| {
            g.enterprise = Some("big-co".into());
            g.installation_id = Some("9".into());
        })
        .unwrap();
        assert_eq!(mint::lookup(&p.requests[0]), Lookup::Id(9));
        for (f, other) in [
            (
                Box::new(|g: &mut Given| g.owner = Some("acme".into())) as Box<dyn Fn(&mut Given)>,
                Field::Owner,
            ),
            (
                Box::new(|g: &mut Given| g.repositories = "site".into()),
                Field::Repositories,
            ),
        ] {
            let e = plan_with(|g| {
                g.enterprise = Some("big-co".into());
                f(g);
            })
            .unwrap_err();
            assert_eq!((e.field, e.refs.clone()), (Field::Enterprise, vec![other]));
        }
        assert_eq!(
            field_of(|g| g.enterprise = Some("big co/../x".into())),
            Field::Enterprise
        );
    }

    #[test]
    fn a_token_format_is_stateless_or_classic_for_every_request() {
        let format = |f: &str, extra: fn(&mut Given)| {
            let p = plan_with(|g| {
                g.token_format = Some(f.into());
                extra(g);
            })
            .unwrap();
            let formats: Vec<_> = p.requests.iter().map(|r| r.token_format).collect();
            formats
        };
        let none: fn(&mut Given) = |_| {};
        assert_eq!(format("stateless", none), [Some(TokenFormat::Stateless)]);
        assert_eq!(format(" classic ", none), [Some(TokenFormat::Classic)]);
        let owners: fn(&mut Given) = |g| g.repositories = "acme/api, widgets/web".into();
        assert_eq!(
            format("stateless", owners),
            [Some(TokenFormat::Stateless); 2]
        );
        let enterprise: fn(&mut Given) = |g| g.enterprise = Some("big-co".into());
        assert_eq!(format("classic", enterprise), [Some(TokenFormat::Classic)]);
        let p = plan(&given()).unwrap();
        assert_eq!(p.requests[0].token_format, None, "GitHub decides");
        for bad in ["Stateless", "enabled", "jwt", "stateless,classic"] {
            let e = plan_with(|g| g.token_format = Some(bad.into())).unwrap_err();
            assert_eq!(e.field, Field::TokenFormat, "{bad}");
            assert!(
                e.message.contains("must be `stateless` or `classic`"),
                "{}",
                e.message
            );
        }
    }

    #[test]
    fn owners_in_every_entry_need_no_default_owner() {
        let entries = repositories::parse("acme/site widgets/web").unwrap();
        let r = requests(None, &entries, None, None, None).unwrap();
        let owners: Vec<&str> = r.iter().map(|r| r.owner.as_str()).collect();
        assert_eq!(owners, ["acme", "widgets"]);
        let entries = repositories::parse("acme/site, web").unwrap();
        let e = requests(None, &entries, None, None, None).err().unwrap();
        assert_eq!(e.field, Field::Owner);
        let entries = repositories::parse("42").unwrap();
        assert!(requests(None, &entries, None, None, None).is_err());
    }

    #[test]
    fn several_owners_and_installation_id() {
        let p = plan_with(|g| g.repositories = "acme/api, widgets/web, 42".into()).unwrap();
        let owners: Vec<&str> = p.requests.iter().map(|r| r.owner.as_str()).collect();
        assert_eq!(owners, ["acme", "widgets"]);
        let e = plan_with(|g| {
            g.repositories = "acme/api, widgets/web".into();
            g.installation_id = Some("7".into());
        })
        .err()
        .unwrap();
        assert_eq!(e.field, Field::InstallationId);
        let p = plan_with(|g| {
            g.repositories = "42".into();
            g.installation_id = Some("7".into());
        })
        .unwrap();
        assert_eq!(mint::lookup(&p.requests[0]), Lookup::Id(7));
        let p = plan_with(|g| g.repositories = "42, 43".into()).unwrap();
        assert_eq!(mint::lookup(&p.requests[0]), Lookup::Account("acme".into()));
    }
}
