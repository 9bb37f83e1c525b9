//! Application Default Credentials of type `external_account`, as google-github-actions/auth writes them: the STS `token_url`, `audience` and `subject_token_type`, an optional `service_account_impersonation_url`, and where the subject token comes from (a URL with headers, or a file, in `text` or `json` format). Parsed and checked, with no I/O.

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

/// Parses `text` as an `external_account` file. `check_url` checks each URL (https, or
/// loopback) and gives it back normalised. Errors say what is wrong, never a value.
pub fn parse(
    text: &str,
    check_url: impl Fn(&str) -> Result<String, String>,
) -> Result<ExternalAccount, String> {
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
    let token_url = check_url(&need(raw.token_url, "token_url")?)
        .map_err(|m| format!("has a `token_url` that {m}"))?;
    let service_account_impersonation_url = raw
        .service_account_impersonation_url
        .filter(|s| !s.trim().is_empty())
        .map(|u| {
            check_url(&u).map_err(|m| format!("has a `service_account_impersonation_url` that {m}"))
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
    let format = match source.format {
        None => Format::Text,
        Some(f) => match f.kind.as_deref() {
            None | Some("text") => Format::Text,
            Some("json") => Format::Json {
                field: f
                    .subject_token_field_name
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| {
                        "has a json `format` without `subject_token_field_name`".to_string()
                    })?,
            },
            Some(_) => return Err("has a `format` whose type is neither `text` nor `json`".into()),
        },
    };
    let source = match (source.url, source.file) {
        (Some(url), None) => Source::Url {
            url: check_url_with_query(&url, &check_url)
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

    /// What google-github-actions/auth writes (its createCredentialsFile), with a service account.
    const WRITTEN_BY_AUTH: &str = r#"{"type":"external_account","audience":"//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/github/providers/acme","subject_token_type":"urn:ietf:params:oauth:token-type:jwt","token_url":"https://sts.googleapis.com/v1/token","credential_source":{"url":"https://pipelines.actions.githubusercontent.com/abc/_apis/distributedtask/token?api-version=2.0&audience=https%3A%2F%2Fiam.googleapis.com%2Fprojects%2F123%2Flocations%2Fglobal%2FworkloadIdentityPools%2Fgithub%2Fproviders%2Facme","headers":{"Authorization":"Bearer runnerRequestToken"},"format":{"type":"json","subject_token_field_name":"value"}},"service_account_impersonation_url":"https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/signer@p.iam.gserviceaccount.com:generateAccessToken"}"#;

    #[test]
    fn the_file_google_github_actions_auth_writes_parses() {
        let a = parse(WRITTEN_BY_AUTH, ok).unwrap();
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
        let a = parse(text, ok).unwrap();
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
            let e = parse(text, ok).unwrap_err();
            assert!(e.contains(expected), "{text}: {e}");
            assert!(
                !e.contains("SECRET") && !e.contains("runnerRequestToken"),
                "{e}"
            );
        }
    }
}
