//! GitHub-style `external_account` credentials.
//!
//! Application Default Credentials of type `external_account`, as
//! google-github-actions/auth writes them: the STS `token_url`, `audience` and
//! `subject_token_type`, an optional `service_account_impersonation_url`, and where the
//! subject token comes from (a URL with headers, or a file, in `text` or `json` format).
//! Parsed and checked, with no I/O.

use serde::Deserialize;

/// How the subject token is read from what its source gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// The whole body, trimmed.
    Text,
    /// One field of a JSON object (`value` for GitHub's OIDC endpoint).
    Json { field: String },
}

/// Where the subject token comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `GET url` with `headers` (GitHub's OIDC endpoint with its bearer).
    Url {
        url: String,
        headers: Vec<(String, String)>,
        format: Format,
    },
    /// A file's content.
    File { path: String, format: Format },
}

/// An `external_account` file, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalAccount {
    pub audience: String,
    pub subject_token_type: String,
    pub token_url: String,
    pub service_account_impersonation_url: Option<String>,
    pub source: Source,
}

impl ExternalAccount {
    /// Every value in the file that a log must not show: the headers' values (the
    /// runner's bearer).
    pub fn secrets(&self) -> Vec<&str> {
        match &self.source {
            Source::Url { headers, .. } => headers.iter().map(|(_, v)| v.as_str()).collect(),
            Source::File { .. } => Vec::new(),
        }
    }
}

#[derive(Deserialize)]
struct RawFile {
    #[serde(rename = "type")]
    kind: Option<String>,
    audience: Option<String>,
    subject_token_type: Option<String>,
    token_url: Option<String>,
    service_account_impersonation_url: Option<String>,
    credential_source: Option<RawSource>,
}

#[derive(Deserialize)]
struct RawSource {
    url: Option<String>,
    file: Option<String>,
    #[serde(default)]
    headers: std::collections::BTreeMap<String, String>,
    format: Option<RawFormat>,
    environment_id: Option<String>,
    executable: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawFormat {
    #[serde(rename = "type")]
    kind: Option<String>,
    subject_token_field_name: Option<String>,
}

/// The hosts, besides Google's own and loopback ones, that a file's URLs may name: those
/// of the endpoints the environment overrides, and the runner's OIDC endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hosts {
    /// `CLOUDSDK_API_ENDPOINT_OVERRIDES_STS`'s host, for `token_url`.
    pub sts: Option<String>,
    /// `CLOUDSDK_API_ENDPOINT_OVERRIDES_IAMCREDENTIALS`'s, for `service_account_impersonation_url`.
    pub iamcredentials: Option<String>,
    /// `ACTIONS_ID_TOKEN_REQUEST_URL`'s, for `credential_source.url`.
    pub oidc: Option<String>,
}

/// Is `host` one of Google's for `service` (`sts`, `iamcredentials`), as google-auth
/// accepted them (before 2.15): `SERVICE.googleapis.com`, `SERVICE.LOCATION.googleapis.com`,
/// `LOCATION.SERVICE.googleapis.com`, `LOCATION-SERVICE.googleapis.com` and
/// `SERVICE-NAME.p.googleapis.com` (a Private Service Connect endpoint), each part
/// one label?
pub fn google_host(service: &str, host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    let Some(name) = host.strip_suffix(".googleapis.com") else {
        return false;
    };
    let label = |l: &str| {
        !l.is_empty()
            && !l.contains(|c: char| c == '.' || c == '/' || c == '\\' || c.is_whitespace())
    };
    let dashed = |l: &str, tail: &str| l.strip_suffix(tail).is_some_and(label);
    let parts: Vec<&str> = name.split('.').collect();
    match parts.as_slice() {
        [only] => *only == service || dashed(only, &format!("-{service}")),
        [first, second] => {
            (*first == service && label(second))
                || (label(first) && *second == service)
                || (*second == "p"
                    && first
                        .strip_prefix(&format!("{service}-"))
                        .is_some_and(label))
        }
        _ => false,
    }
}

/// The hosts a file's URL field may name, said for a message.
fn accepted(field: &str) -> &'static str {
    match field {
        "token_url" => {
            "sts.googleapis.com or another of Google's STS hosts (sts.LOCATION.googleapis.com, \
             LOCATION-sts.googleapis.com, sts-NAME.p.googleapis.com), \
             CLOUDSDK_API_ENDPOINT_OVERRIDES_STS's host, or a loopback host"
        }
        "service_account_impersonation_url" => {
            "iamcredentials.googleapis.com or another of Google's IAM credentials hosts \
             (iamcredentials.LOCATION.googleapis.com, LOCATION-iamcredentials.googleapis.com, \
             iamcredentials-NAME.p.googleapis.com), CLOUDSDK_API_ENDPOINT_OVERRIDES_IAMCREDENTIALS's \
             host, or a loopback host"
        }
        _ => "the runner's OIDC endpoint's host (ACTIONS_ID_TOKEN_REQUEST_URL's), or a loopback host",
    }
}

/// Checks the host of a URL (already checked by `check_url`) in `field` against the
/// hosts that field may name.
fn host_allowed(field: &str, url: &str, hosts: &Hosts) -> Result<(), String> {
    let host = url
        .parse::<http::Uri>()
        .ok()
        .and_then(|u| {
            u.host()
                .map(|h| h.trim_end_matches('.').to_ascii_lowercase())
        })
        .unwrap_or_default();
    let extra = match field {
        "token_url" => &hosts.sts,
        "service_account_impersonation_url" => &hosts.iamcredentials,
        _ => &hosts.oidc,
    };
    let ok = crate::transport::is_loopback(&host)
        || extra
            .as_deref()
            .is_some_and(|h| h.eq_ignore_ascii_case(&host))
        || match field {
            "token_url" => google_host("sts", &host),
            "service_account_impersonation_url" => google_host("iamcredentials", &host),
            _ => false,
        };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "names the host {}, where only {} is accepted",
            crate::excerpt::excerpt(&host),
            accepted(field)
        ))
    }
}

/// Parses `text` as an `external_account` file. `check_url` checks each URL (https, or
/// loopback) and gives it back normalised; each URL's host must then be one its field
/// may name (Google's, one of `hosts`, or loopback), so that no token goes elsewhere.
/// Errors say what is wrong, never a secret.
pub fn parse(
    text: &str,
    check_url: impl Fn(&str) -> Result<String, String>,
    hosts: &Hosts,
) -> Result<ExternalAccount, String> {
    let check_url = |field: &str, raw: &str| {
        let url = check_url(raw)?;
        host_allowed(field, &url, hosts)?;
        Ok::<_, String>(url)
    };
    let raw: RawFile = serde_json::from_str(text)
        .map_err(|_| "is not JSON, or not an object with text fields".to_string())?;
    match raw.kind.as_deref() {
        Some("external_account") => {}
        Some(other) => {
            return Err(format!(
                "is of type `{}`, not `external_account` (the file google-github-actions/auth writes for workload identity federation)",
                crate::excerpt::excerpt(other)
            ))
        }
        None => return Err("has no `type`".into()),
    }
    let need = |v: Option<String>, name: &str| {
        v.filter(|s| !s.trim().is_empty())
            .ok_or_else(|| format!("has no `{name}`"))
    };
    let audience = need(raw.audience, "audience")?;
    let subject_token_type = need(raw.subject_token_type, "subject_token_type")?;
    let token_url = check_url("token_url", &need(raw.token_url, "token_url")?)
        .map_err(|m| format!("has a `token_url` that {m}"))?;
    let service_account_impersonation_url = raw
        .service_account_impersonation_url
        .filter(|s| !s.trim().is_empty())
        .map(|u| {
            check_url("service_account_impersonation_url", &u)
                .map_err(|m| format!("has a `service_account_impersonation_url` that {m}"))
        })
        .transpose()?;
    let source = raw
        .credential_source
        .ok_or_else(|| "has no `credential_source`".to_string())?;
    if source.environment_id.is_some() {
        return Err("takes its token from AWS (`environment_id`): only a `url` or a `file` credential source is supported".into());
    }
    if source.executable.is_some() {
        return Err("takes its token from an executable: only a `url` or a `file` credential source is supported".into());
    }
    let format = format(source.format)?;
    let source = match (source.url, source.file) {
        (Some(url), None) => Source::Url {
            url: check_url_with_query(&url, &|raw: &str| check_url("credential_source.url", raw))
                .map_err(|m| format!("has a `credential_source.url` that {m}"))?,
            headers: source.headers.into_iter().collect(),
            format,
        },
        (None, Some(path)) if !path.trim().is_empty() => Source::File { path, format },
        (Some(_), Some(_)) => {
            return Err("has a `credential_source` with both a `url` and a `file`".into())
        }
        _ => return Err("has a `credential_source` with neither a `url` nor a `file`".into()),
    };
    Ok(ExternalAccount {
        audience,
        subject_token_type,
        token_url,
        service_account_impersonation_url,
        source,
    })
}

/// The subject token's `format`: `text` when it says none.
fn format(raw: Option<RawFormat>) -> Result<Format, String> {
    let Some(f) = raw else {
        return Ok(Format::Text);
    };
    match f.kind.as_deref() {
        None | Some("text") => Ok(Format::Text),
        Some("json") => Ok(Format::Json {
            field: f
                .subject_token_field_name
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    "has a json `format` without `subject_token_field_name`".to_string()
                })?,
        }),
        Some(_) => Err("has a `format` whose type is neither `text` nor `json`".into()),
    }
}

/// A URL with a query (GitHub's OIDC URL has one): the part before `?` checked.
fn check_url_with_query(
    raw: &str,
    check_url: &impl Fn(&str) -> Result<String, String>,
) -> Result<String, String> {
    match raw.trim().split_once('?') {
        Some((base, query)) => Ok(format!("{}?{query}", check_url(base)?)),
        None => check_url(raw),
    }
}

/// The subject token in what the source gave, read by `format`.
pub fn subject_token(body: &str, format: &Format) -> Result<String, String> {
    let token = match format {
        Format::Text => body.trim().to_string(),
        Format::Json { field } => {
            let value: serde_json::Value = serde_json::from_str(body)
                .map_err(|_| "the credential source's answer is not JSON".to_string())?;
            value
                .get(field)
                .and_then(|v| v.as_str())
                .map(str::to_string)
                .ok_or_else(|| format!("the credential source's answer has no `{field}`"))?
        }
    };
    if token.is_empty() {
        return Err("the credential source gave an empty token".into());
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(url: &str) -> Result<String, String> {
        crate::config::validate_url(url)
    }

    /// The runner whose OIDC endpoint google-github-actions/auth wrote in the file.
    fn runner() -> Hosts {
        Hosts {
            oidc: Some("pipelines.actions.githubusercontent.com".into()),
            ..Hosts::default()
        }
    }

    /// What google-github-actions/auth writes (its createCredentialsFile), with a service account.
    const WRITTEN_BY_AUTH: &str = r#"{"type":"external_account","audience":"//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/github/providers/acme","subject_token_type":"urn:ietf:params:oauth:token-type:jwt","token_url":"https://sts.googleapis.com/v1/token","credential_source":{"url":"https://pipelines.actions.githubusercontent.com/abc/_apis/distributedtask/token?api-version=2.0&audience=https%3A%2F%2Fiam.googleapis.com%2Fprojects%2F123%2Flocations%2Fglobal%2FworkloadIdentityPools%2Fgithub%2Fproviders%2Facme","headers":{"Authorization":"Bearer runnerRequestToken"},"format":{"type":"json","subject_token_field_name":"value"}},"service_account_impersonation_url":"https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/signer@p.iam.gserviceaccount.com:generateAccessToken"}"#;

    #[test]
    fn the_file_google_github_actions_auth_writes_parses() {
        let a = parse(WRITTEN_BY_AUTH, ok, &runner()).unwrap();
        assert_eq!(
            a.audience,
            "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/github/providers/acme"
        );
        assert_eq!(a.token_url, "https://sts.googleapis.com/v1/token");
        assert!(a
            .service_account_impersonation_url
            .as_deref()
            .unwrap()
            .ends_with(":generateAccessToken"));
        match &a.source {
            Source::Url {
                url,
                headers,
                format,
            } => {
                assert!(url.contains("?api-version=2.0&audience=https%3A%2F%2Fiam"));
                assert_eq!(
                    headers,
                    &[(
                        "Authorization".to_string(),
                        "Bearer runnerRequestToken".to_string()
                    )]
                );
                assert_eq!(
                    format,
                    &Format::Json {
                        field: "value".into()
                    }
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(a.secrets(), ["Bearer runnerRequestToken"]);
    }

    #[test]
    fn file_sources_and_text_formats_parse() {
        let text = r#"{"type":"external_account","audience":"//iam.googleapis.com/x","subject_token_type":"urn:ietf:params:oauth:token-type:jwt","token_url":"http://127.0.0.1:9/v1/token","credential_source":{"file":"/tmp/oidc-token"}}"#;
        let a = parse(text, ok, &Hosts::default()).unwrap();
        assert_eq!(
            a.source,
            Source::File {
                path: "/tmp/oidc-token".into(),
                format: Format::Text
            }
        );
        assert_eq!(a.service_account_impersonation_url, None);
        assert_eq!(subject_token(" tok \n", &Format::Text).unwrap(), "tok");
        let json = Format::Json {
            field: "value".into(),
        };
        assert_eq!(subject_token(r#"{"value":"t"}"#, &json).unwrap(), "t");
        assert!(subject_token(r#"{"count":1}"#, &json)
            .unwrap_err()
            .contains("`value`"));
        assert!(subject_token("", &Format::Text).is_err());
    }

    #[test]
    fn wrong_files_say_what_is_wrong_without_their_values() {
        let cases = [
            ("[]", "not JSON"),
            (
                r#"{"type":"service_account","private_key":"SECRET"}"#,
                "`service_account`",
            ),
            (r#"{"type":"external_account"}"#, "no `audience`"),
            (
                &WRITTEN_BY_AUTH.replace("https://sts.googleapis.com", "http://sts.example.com"),
                "`token_url` that must use https",
            ),
            (
                &WRITTEN_BY_AUTH.replace(
                    r#""url":"https://pipelines"#,
                    r#""file":"/x","url":"https://pipelines"#,
                ),
                "both a `url` and a `file`",
            ),
            (
                &WRITTEN_BY_AUTH.replace(r#""type":"json","#, r#""type":"xml","#),
                "neither `text` nor `json`",
            ),
        ];
        for (text, expected) in cases {
            let e = parse(text, ok, &runner()).unwrap_err();
            assert!(e.contains(expected), "{text}: {e}");
            assert!(
                !e.contains("SECRET") && !e.contains("runnerRequestToken"),
                "{e}"
            );
        }
    }

    #[test]
    fn googles_hosts_are_those_google_auth_accepted() {
        for (service, host) in [
            ("sts", "sts.googleapis.com"),
            ("sts", "STS.googleapis.com"),
            ("sts", "sts.us-east4.googleapis.com"),
            ("sts", "us-east4.sts.googleapis.com"),
            ("sts", "us-east4-sts.googleapis.com"),
            ("sts", "sts-xyz123.p.googleapis.com"),
            ("iamcredentials", "iamcredentials.googleapis.com"),
            (
                "iamcredentials",
                "europe-west1-iamcredentials.googleapis.com",
            ),
            ("iamcredentials", "iamcredentials-psc.p.googleapis.com"),
        ] {
            assert!(google_host(service, host), "{service}: {host}");
        }
        for (service, host) in [
            ("sts", "sts.googleapis.com.attacker.example"),
            ("sts", "attacker.example"),
            ("sts", "iamcredentials.googleapis.com"),
            ("sts", "evilsts.googleapis.com"),
            ("sts", "a.b.sts.googleapis.com"),
            ("sts", "sts.a.b.googleapis.com"),
            ("sts", "-sts.googleapis.com"),
            ("sts", "sts-.p.googleapis.com"),
            ("sts", "xsts-a.p.googleapis.com"),
            ("iamcredentials", "sts.googleapis.com"),
            ("iamcredentials", "googleapis.com"),
        ] {
            assert!(!google_host(service, host), "{service}: {host}");
        }
    }

    #[test]
    fn each_url_names_only_a_host_its_field_may() {
        let at = |field: &str, url: &str| {
            match field {
            "token_url" => WRITTEN_BY_AUTH.replace("https://sts.googleapis.com/v1/token", url),
            "service_account_impersonation_url" => WRITTEN_BY_AUTH.replace(
                "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/signer@p.iam.gserviceaccount.com:generateAccessToken",
                url,
            ),
            _ => WRITTEN_BY_AUTH.replace(
                "https://pipelines.actions.githubusercontent.com/abc/_apis/distributedtask/token",
                url,
            ),
        }
        };
        let fields = [
            "token_url",
            "service_account_impersonation_url",
            "credential_source.url",
        ];
        // Elsewhere: refused, naming the field, the host, and what is accepted instead.
        for field in fields {
            let e = parse(&at(field, "https://attacker.example/x"), ok, &runner()).unwrap_err();
            assert!(e.contains(&format!("`{field}`")), "{e}");
            assert!(e.contains("names the host attacker.example"), "{e}");
            assert!(e.contains("loopback"), "{e}");
            assert!(!e.contains("runnerRequestToken"), "{e}");
            // Loopback (a stand-in) is always accepted.
            assert!(parse(&at(field, "http://127.0.0.1:9/x"), ok, &runner()).is_ok());
        }
        // Google's own host for one service is not the other's, nor the runner's.
        let swapped = at(
            "token_url",
            "https://iamcredentials.googleapis.com/v1/token",
        );
        assert!(parse(&swapped, ok, &runner()).is_err());
        let google = at("credential_source.url", "https://sts.googleapis.com/token");
        assert!(parse(&google, ok, &runner()).is_err());
        // Regional and Private Service Connect forms are Google's.
        let regional = at(
            "token_url",
            "https://sts.europe-west1.googleapis.com/v1/token",
        );
        assert!(parse(&regional, ok, &runner()).is_ok());
        // The overrides' hosts and the runner's, each for its own field.
        let hosts = Hosts {
            sts: Some("sts.private.example".into()),
            iamcredentials: Some("iam.private.example".into()),
            ..runner()
        };
        for (field, url) in [
            ("token_url", "https://sts.private.example/v1/token"),
            (
                "service_account_impersonation_url",
                "https://iam.private.example/v1/x",
            ),
        ] {
            assert!(parse(&at(field, url), ok, &hosts).is_ok(), "{field}");
        }
        let crossed = at("token_url", "https://iam.private.example/v1/token");
        assert!(parse(&crossed, ok, &hosts).is_err());
        let ghes = Hosts {
            oidc: Some("ghes.example".into()),
            ..Hosts::default()
        };
        let source = at(
            "credential_source.url",
            "https://ghes.example/_services/token",
        );
        assert!(parse(&source, ok, &ghes).is_ok());
        // No runner: a credential source on the network is nobody's.
        let e = parse(WRITTEN_BY_AUTH, ok, &Hosts::default()).unwrap_err();
        assert!(e.contains("`credential_source.url`"), "{e}");
    }
}
