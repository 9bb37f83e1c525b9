//! The step's inputs: read from `INPUT_*` variables, validated, and turned into typed mint requests before any request is made.

use std::fmt;
use std::net::IpAddr;

use crate::github::Lookup;
use crate::jwt::{self, Signer};
use crate::mint::{Request, Selection};
use crate::permissions::{self, Permissions, APP_PERMISSIONS};
use crate::repositories::{self, Entry, OwnerRepos};

/// The default API when neither the input nor `GITHUB_API_URL` gives one.
pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// A bad input: which one, and what is wrong with it. Never carries a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub input: String,
    pub message: String,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "input `{}` {}", self.input, self.message)
    }
}

impl std::error::Error for InputError {}

fn bad(input: &str, message: impl Into<String>) -> InputError {
    InputError {
        input: input.to_string(),
        message: message.into(),
    }
}

/// Reads one input the way the runner passes it to a container: `INPUT_` and the name in
/// upper case, hyphens kept (`INPUT_APP-ID`). The underscore form is accepted too, for
/// people who run the image by hand. Blank means unset.
pub fn get(env: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    let upper = name.to_ascii_uppercase().replace(' ', "_");
    env(&format!("INPUT_{upper}"))
        .or_else(|| env(&format!("INPUT_{}", upper.replace('-', "_"))))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// A boolean input, as the Actions toolkit reads them (YAML 1.2 core schema).
pub fn get_bool(env: &dyn Fn(&str) -> Option<String>, name: &str) -> Result<bool, InputError> {
    match get(env, name).as_deref() {
        None => Ok(false),
        Some("true" | "True" | "TRUE") => Ok(true),
        Some("false" | "False" | "FALSE") => Ok(false),
        Some(_) => Err(bad(name, "must be `true` or `false`")),
    }
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

/// Checks an API base URL: https, or plain http on a loopback host only. A trailing
/// slash is dropped; a path (GitHub Enterprise Server's `/api/v3`) is kept.
pub fn validate_api_url(raw: &str) -> Result<String, String> {
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

/// The `permission-<name>` input for a permission, as the official action names it.
pub fn permission_input_name(permission: &str) -> String {
    format!("permission-{}", permission.replace('_', "-"))
}

/// Everything the main step needs, validated.
pub struct Inputs {
    pub app_id: String,
    /// The app's JWT signer, its key checked by a first signature.
    pub signer: Signer,
    pub api_url: String,
    pub requests: Vec<Request>,
    pub skip_token_revoke: bool,
}

/// The API URL when none is given explicitly: `GITHUB_API_URL` (set on every runner), or github.com's.
pub fn default_api_url(env: &dyn Fn(&str) -> Option<String>) -> String {
    env("GITHUB_API_URL")
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_API_URL.to_string())
}

/// Reads the API URL input (or `GITHUB_API_URL`, or github.com's).
pub fn api_url(env: &dyn Fn(&str) -> Option<String>) -> Result<String, InputError> {
    let raw = get(env, "github-api-url").unwrap_or_else(|| default_api_url(env));
    validate_api_url(&raw).map_err(|m| bad("github-api-url", m))
}

/// The requested permissions: `permissions` and every `permission-*` input, merged.
pub fn requested_permissions(
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Permissions>, InputError> {
    let from_yaml = permissions::parse(&get(env, "permissions").unwrap_or_default())
        .map_err(|m| bad("permissions", m))?;
    let mut sources: Vec<(String, Permissions)> = Vec::new();
    if let Some(p) = from_yaml {
        sources.push(("permissions".into(), p));
    }
    for p in APP_PERMISSIONS {
        let input = permission_input_name(p.name);
        if let Some(level) = get(env, &input) {
            let (name, level) =
                permissions::validate(p.name, &level).map_err(|m| bad(&input, m))?;
            sources.push((input, Permissions::from([(name, level)])));
        }
    }
    let borrowed: Vec<(&str, &Permissions)> =
        sources.iter().map(|(s, p)| (s.as_str(), p)).collect();
    permissions::merge(&borrowed).map_err(|m| bad("permissions", m))
}

/// Builds one mint request per owner from `owner`, `repositories` and `installation-id`.
pub fn requests(
    owner: Option<&str>,
    entries: &[Entry],
    installation_id: Option<u64>,
    current_repository: Option<&str>,
    permissions: Option<&Permissions>,
) -> Result<Vec<Request>, InputError> {
    if let Some(o) = owner {
        if !repositories::valid_name(o) {
            return Err(bad(
                "owner",
                "is not a valid account name (letters, digits, `-`, `_`, `.`)",
            ));
        }
    }
    let current = current_repository.and_then(|r| r.split_once('/'));
    let mut out = Vec::new();
    if entries.is_empty() {
        match (owner, current) {
            (Some(owner), _) => out.push(Request {
                owner: owner.to_string(),
                lookup: Lookup::Account(owner.to_string()),
                selection: Selection::All,
                permissions: permissions.cloned(),
            }),
            (None, Some((o, r))) if repositories::valid_name(o) && repositories::valid_name(r) => {
                out.push(Request {
                    owner: o.to_string(),
                    lookup: Lookup::Repository {
                        owner: o.to_string(),
                        repo: r.to_string(),
                    },
                    selection: Selection::Only(OwnerRepos {
                        names: vec![r.to_string()],
                        ids: vec![],
                    }),
                    permissions: permissions.cloned(),
                })
            }
            (None, _) => return Err(bad(
                "owner",
                "is not set, and neither is GITHUB_REPOSITORY to default to the current repository",
            )),
        }
    } else {
        // Only entries without an owner (bare names, ids) need one to default to.
        let all_owned = entries
            .iter()
            .all(|e| matches!(e, Entry::Name { owner: Some(_), .. }));
        let default_owner = match owner
            .map(str::to_string)
            .or_else(|| current.map(|(o, _)| o.to_string()))
        {
            Some(o) => o,
            None if all_owned => String::new(),
            None => return Err(bad(
                "owner",
                "must be set when repositories are given without an owner outside of a workflow",
            )),
        };
        for (owner, repos) in repositories::group_by_owner(entries, &default_owner) {
            let lookup = match repos.names.first() {
                Some(name) => Lookup::Repository {
                    owner: owner.clone(),
                    repo: name.clone(),
                },
                None => Lookup::Account(owner.clone()),
            };
            out.push(Request {
                owner,
                lookup,
                selection: Selection::Only(repos),
                permissions: permissions.cloned(),
            });
        }
    }
    if let Some(id) = installation_id {
        if out.len() > 1 {
            return Err(bad(
                "installation-id",
                "names one installation, but the repositories span several owners",
            ));
        }
        for r in &mut out {
            r.lookup = Lookup::Id(id);
        }
    }
    Ok(out)
}

/// Parses `installation-id`.
pub fn parse_installation_id(raw: Option<&str>) -> Result<Option<u64>, InputError> {
    raw.map(|v| match v.parse::<u64>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err(bad("installation-id", "must be a positive number")),
    })
    .transpose()
}

/// Reads and validates every input of the main step.
pub fn read(env: &dyn Fn(&str) -> Option<String>) -> Result<Inputs, InputError> {
    let (app_input, app_raw) = match (get(env, "client-id"), get(env, "app-id")) {
        (Some(c), _) => ("client-id", c),
        (None, Some(a)) => ("app-id", a),
        (None, None) => {
            return Err(bad(
                "app-id",
                "is required (or client-id): the app's App ID or Client ID",
            ))
        }
    };
    let app_id = validate_app_id(&app_raw).map_err(|m| bad(app_input, m))?;
    let key_raw = get(env, "private-key")
        .ok_or_else(|| bad("private-key", "is required: the app's PEM private key"))?;
    let signer = jwt::signer(&key_raw, &app_id).map_err(|m| bad("private-key", m))?;
    let api_url = api_url(env)?;
    let permissions = requested_permissions(env)?;
    let entries = repositories::parse(&get(env, "repositories").unwrap_or_default())
        .map_err(|m| bad("repositories", m))?;
    let installation_id = parse_installation_id(get(env, "installation-id").as_deref())?;
    let skip_token_revoke = get_bool(env, "skip-token-revoke")?;
    let owner = get(env, "owner");
    let current = env("GITHUB_REPOSITORY").filter(|r| !r.is_empty());
    let requests = requests(
        owner.as_deref(),
        &entries,
        installation_id,
        current.as_deref(),
        permissions.as_ref(),
    )?;
    Ok(Inputs {
        app_id,
        signer,
        api_url,
        requests,
        skip_token_revoke,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const KEY: &str = include_str!("../tests/fixtures/test-key-pkcs1.pem");

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k: &str| map.get(k).cloned()
    }

    fn base<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut v = vec![
            ("INPUT_APP-ID", "123"),
            ("INPUT_PRIVATE-KEY", KEY),
            ("GITHUB_REPOSITORY", "acme/site"),
        ];
        v.extend_from_slice(extra);
        v
    }

    fn read_with(extra: &[(&str, &str)]) -> Result<Inputs, InputError> {
        read(&env_of(&base(extra)))
    }

    #[test]
    fn hyphenated_and_underscored_names() {
        let env = env_of(&[("INPUT_APP-ID", "1"), ("INPUT_SKIP_TOKEN_REVOKE", "true")]);
        assert_eq!(get(&env, "app-id").as_deref(), Some("1"));
        assert_eq!(get_bool(&env, "skip-token-revoke"), Ok(true));
        assert_eq!(get(&env, "owner"), None);
    }

    #[test]
    fn defaults_to_the_current_repository() {
        let i = read_with(&[]).unwrap();
        assert_eq!(i.api_url, DEFAULT_API_URL);
        assert_eq!(i.requests.len(), 1);
        let r = &i.requests[0];
        assert_eq!(
            r.lookup,
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
        assert!(!i.skip_token_revoke);
    }

    #[test]
    fn owner_alone_means_every_repository() {
        let i = read_with(&[("INPUT_OWNER", "widgets")]).unwrap();
        assert_eq!(i.requests[0].lookup, Lookup::Account("widgets".into()));
        assert_eq!(i.requests[0].selection, Selection::All);
    }

    #[test]
    fn client_id_wins_over_app_id() {
        let i = read_with(&[("INPUT_CLIENT-ID", "Iv23liABC")]).unwrap();
        assert_eq!(i.app_id, "Iv23liABC");
        let e = read_with(&[("INPUT_CLIENT-ID", "nope nope")])
            .err()
            .unwrap();
        assert_eq!(e.input, "client-id");
    }

    #[test]
    fn missing_and_malformed_inputs_are_named() {
        let e = read(&env_of(&[("INPUT_PRIVATE-KEY", KEY)])).err().unwrap();
        assert_eq!(e.input, "app-id");
        let e = read(&env_of(&[("INPUT_APP-ID", "1")])).err().unwrap();
        assert_eq!(e.input, "private-key");
        let e = read_with(&[(
            "INPUT_PRIVATE-KEY",
            "-----BEGIN RSA PRIVATE KEY-----\nMIIsecretline\n-----END RSA PRIVATE KEY-----",
        )])
        .err()
        .unwrap();
        assert_eq!(e.input, "private-key");
        assert!(!e.to_string().contains("MIIsecretline"));
        let e = read_with(&[("INPUT_PERMISSIONS", "contens: read")])
            .err()
            .unwrap();
        assert_eq!(e.input, "permissions");
        let e = read_with(&[("INPUT_REPOSITORIES", "a/b/c")]).err().unwrap();
        assert_eq!(e.input, "repositories");
        let e = read_with(&[("INPUT_SKIP-TOKEN-REVOKE", "yes")])
            .err()
            .unwrap();
        assert_eq!(e.input, "skip-token-revoke");
        let e = read_with(&[("INPUT_OWNER", "bad/owner")]).err().unwrap();
        assert_eq!(e.input, "owner");
        let e = read_with(&[("INPUT_INSTALLATION-ID", "abc")])
            .err()
            .unwrap();
        assert_eq!(e.input, "installation-id");
    }

    #[test]
    fn api_urls() {
        assert_eq!(
            validate_api_url("https://api.github.com/").unwrap(),
            "https://api.github.com"
        );
        assert_eq!(
            validate_api_url("https://ghe.example.com/api/v3/").unwrap(),
            "https://ghe.example.com/api/v3"
        );
        assert!(validate_api_url("http://127.0.0.1:8080").is_ok());
        assert!(validate_api_url("http://localhost:1").is_ok());
        assert!(validate_api_url("http://[::1]:1").is_ok());
        assert!(validate_api_url("http://api.github.com")
            .unwrap_err()
            .contains("https"));
        assert!(validate_api_url("ftp://x").is_err());
        assert!(validate_api_url("https://user:pw@host").is_err());
        assert!(validate_api_url("not a url").is_err());
        let e = read_with(&[("INPUT_GITHUB-API-URL", "http://example.com")])
            .err()
            .unwrap();
        assert_eq!(e.input, "github-api-url");
    }

    #[test]
    fn permission_inputs_combine_and_conflict() {
        let i = read_with(&[
            ("INPUT_PERMISSIONS", "contents: write"),
            ("INPUT_PERMISSION-PULL-REQUESTS", "read"),
        ])
        .unwrap();
        let p = i.requests[0].permissions.clone().unwrap();
        assert_eq!(p.get("contents").map(String::as_str), Some("write"));
        assert_eq!(p.get("pull_requests").map(String::as_str), Some("read"));
        let e = read_with(&[
            ("INPUT_PERMISSIONS", "contents: write"),
            ("INPUT_PERMISSION-CONTENTS", "read"),
        ])
        .err()
        .unwrap();
        assert!(
            e.message
                .contains("`write` in permissions but `read` in permission-contents"),
            "{e}"
        );
        let e = read_with(&[("INPUT_PERMISSION-WORKFLOWS", "read")])
            .err()
            .unwrap();
        assert_eq!(e.input, "permission-workflows");
    }

    #[test]
    fn owners_in_every_entry_need_no_default_owner() {
        let entries = repositories::parse("acme/site widgets/web").unwrap();
        let r = requests(None, &entries, None, None, None).unwrap();
        let owners: Vec<&str> = r.iter().map(|r| r.owner.as_str()).collect();
        assert_eq!(owners, ["acme", "widgets"]);
        let entries = repositories::parse("acme/site, web").unwrap();
        let e = requests(None, &entries, None, None, None).err().unwrap();
        assert_eq!(e.input, "owner");
        let entries = repositories::parse("42").unwrap();
        assert!(requests(None, &entries, None, None, None).is_err());
    }

    #[test]
    fn several_owners_and_installation_id() {
        let i = read_with(&[("INPUT_REPOSITORIES", "acme/api, widgets/web, 42")]).unwrap();
        let owners: Vec<&str> = i.requests.iter().map(|r| r.owner.as_str()).collect();
        assert_eq!(owners, ["acme", "widgets"]);
        let e = read_with(&[
            ("INPUT_REPOSITORIES", "acme/api, widgets/web"),
            ("INPUT_INSTALLATION-ID", "7"),
        ])
        .err()
        .unwrap();
        assert_eq!(e.input, "installation-id");
        let i = read_with(&[("INPUT_REPOSITORIES", "42"), ("INPUT_INSTALLATION-ID", "7")]).unwrap();
        assert_eq!(i.requests[0].lookup, Lookup::Id(7));
        let i = read_with(&[("INPUT_REPOSITORIES", "42, 43")]).unwrap();
        assert_eq!(i.requests[0].lookup, Lookup::Account("acme".into()));
    }
}
