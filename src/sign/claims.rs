//! What the job's OIDC token showed a cloud.
//!
//! The claims trust rules match on, read from the token's payload (its middle part: the
//! signature is not checked, and the token itself is never shown); which of GitHub's
//! `sub` formats it is in, the immutable `repo:OWNER@OWNER_ID/REPO@REPO_ID:…` or the
//! classic `repo:OWNER/REPO:…`; and the trust rule, in each cloud's own syntax, that
//! would admit the job, under its format and under either. Added to the error when a
//! cloud refuses the token, and told to the runner's debug log at every exchange. Pure,
//! with no I/O.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Map, Value};

use super::rest::ServiceError;
use crate::excerpt::excerpt_name;

/// The claims shown, in this order: those trust rules match on.
pub const SHOWN: [&str; 10] = [
    "iss",
    "aud",
    "sub",
    "repository",
    "repository_id",
    "repository_owner",
    "repository_owner_id",
    "ref",
    "environment",
    "job_workflow_ref",
];

/// The most of a token's payload that is read: GitHub's are under 2 KiB.
const MAX_PAYLOAD: usize = 16 * 1024;

/// The issuer of GitHub.com's tokens, when a token names none.
const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// The claims of the job's OIDC token that trust rules match on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// (claim, value) of each of [`SHOWN`] the token has, in that order; an `aud` list
    /// joined with `, `.
    values: Vec<(&'static str, String)>,
    /// The first audience (GitHub's tokens have one).
    audience: Option<String>,
}

impl Claims {
    /// The claims of a JWT (`header.payload.signature`) whose payload is a JSON object;
    /// `None` for anything else.
    pub fn of_token(token: &str) -> Option<Self> {
        let mut parts = token.split('.');
        let (_header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || payload.len() > MAX_PAYLOAD {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
        let object: Map<String, Value> = serde_json::from_slice(&bytes).ok()?;
        let values = SHOWN
            .iter()
            .filter_map(|&name| Some((name, text(object.get(name)?)?)))
            .collect();
        let audience = match object.get("aud") {
            Some(Value::Array(list)) => list.iter().find_map(|a| a.as_str()).map(str::to_string),
            Some(Value::String(a)) => Some(a.clone()),
            _ => None,
        };
        Some(Self { values, audience })
    }

    /// A claim's value, as a string.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// `iss 'https://…', aud '…', sub '…', …`: each value quoted as an excerpt.
    pub fn shown(&self) -> String {
        if self.values.is_empty() {
            return format!(
                "none of the claims trust rules match on ({})",
                SHOWN.join(", ")
            );
        }
        let shown: Vec<String> = self
            .values
            .iter()
            .map(|(name, value)| format!("{name} {}", quoted(value)))
            .collect();
        shown.join(", ")
    }

    /// The token's `sub`, read.
    pub fn subject(&self) -> Subject {
        Subject::of(self)
    }
}

/// A claim's value as text: a string, a number or a boolean as JSON writes it, a list
/// of strings joined with `, `.
fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Array(items) => {
            let texts: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
            (!texts.is_empty()).then(|| texts.join(", "))
        }
        _ => None,
    }
}

/// A value as an error quotes it: an excerpt, in single quotes.
fn quoted(value: &str) -> String {
    format!("'{}'", excerpt_name(value))
}

/// Which of GitHub's formats a `sub` is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `repo:OWNER@OWNER_ID/REPO@REPO_ID:…`: GitHub's default since 2026-07-15 for
    /// repositories created, renamed or transferred after that date.
    Immutable,
    /// `repo:OWNER/REPO:…`.
    Classic,
    /// Neither: a subject template of the repository or its organisation shapes it.
    Other,
    /// The token has no `sub`.
    Missing,
}

/// A job's `sub`, read: its format, and the same job's subject in each of GitHub's
/// formats where the token gives what it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub format: Format,
    pub sub: Option<String>,
    /// `repo:OWNER/REPO:CONTEXT`.
    pub classic: Option<String>,
    /// `repo:OWNER@OWNER_ID/REPO@REPO_ID:CONTEXT`: the ids from the `sub`, or from the
    /// `repository_owner_id` and `repository_id` claims.
    pub immutable: Option<String>,
    /// What the subject says of the job after the repository (`ref:refs/heads/main`,
    /// `environment:prod`, `pull_request`).
    pub context: Option<String>,
}

/// A `repo:` subject's parts.
struct Parts<'a> {
    owner: &'a str,
    owner_id: Option<&'a str>,
    repo: &'a str,
    repo_id: Option<&'a str>,
    context: Option<&'a str>,
}

/// `repo:OWNER[@ID]/REPO[@ID][:CONTEXT]` (owners and repositories have no `@`, `/` or
/// `:` in their names).
fn parts(sub: &str) -> Option<Parts<'_>> {
    let rest = sub.strip_prefix("repo:")?;
    let (path, context) = match rest.split_once(':') {
        Some((path, context)) => (path, Some(context)),
        None => (rest, None),
    };
    let (owner, repo) = path.split_once('/')?;
    let (owner, owner_id) = named(owner)?;
    let (repo, repo_id) = named(repo)?;
    Some(Parts {
        owner,
        owner_id,
        repo,
        repo_id,
        context,
    })
}

/// `NAME`, or `NAME@ID` with a numeric id.
fn named(part: &str) -> Option<(&str, Option<&str>)> {
    match part.split_once('@') {
        None if !part.is_empty() => Some((part, None)),
        Some((name, id)) if !name.is_empty() && numeric(id) => Some((name, Some(id))),
        _ => None,
    }
}

fn numeric(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())
}

impl Subject {
    fn of(claims: &Claims) -> Self {
        let Some(sub) = claims.get("sub") else {
            return Self {
                format: Format::Missing,
                sub: None,
                classic: None,
                immutable: None,
                context: None,
            };
        };
        let other = Self {
            format: Format::Other,
            sub: Some(sub.to_string()),
            classic: None,
            immutable: None,
            context: None,
        };
        let Some(p) = parts(sub) else {
            return other;
        };
        let format = match (p.owner_id, p.repo_id) {
            (Some(_), Some(_)) => Format::Immutable,
            (None, None) => Format::Classic,
            _ => return other,
        };
        let claimed = |name: &str| claims.get(name).filter(|id| numeric(id));
        let owner_id = p.owner_id.or_else(|| claimed("repository_owner_id"));
        let repo_id = p.repo_id.or_else(|| claimed("repository_id"));
        let tail = p.context.map(|c| format!(":{c}")).unwrap_or_default();
        Self {
            format,
            sub: Some(sub.to_string()),
            classic: Some(format!("repo:{}/{}{tail}", p.owner, p.repo)),
            immutable: owner_id
                .zip(repo_id)
                .map(|(o, r)| format!("repo:{}@{o}/{}@{r}{tail}", p.owner, p.repo)),
            context: p.context.map(str::to_string),
        }
    }

    /// Both of GitHub's forms of the job's subject, classic first, when the token gives
    /// both.
    pub fn both(&self) -> Option<[&str; 2]> {
        Some([self.classic.as_deref()?, self.immutable.as_deref()?])
    }

    /// What a person is told of the format.
    pub fn said(&self) -> &'static str {
        match self.format {
            Format::Immutable => {
                "Its sub is in the immutable format, repo:OWNER@OWNER_ID/REPO@REPO_ID:… \
                 (GitHub's default since 2026-07-15 for repositories created, renamed or \
                 transferred after that date): a rule written for the classic \
                 repo:OWNER/REPO:… does not match it."
            }
            Format::Classic => {
                "Its sub is in the classic format, repo:OWNER/REPO:…: a rule written for the \
                 immutable repo:OWNER@OWNER_ID/REPO@REPO_ID:… (GitHub's default since \
                 2026-07-15 for repositories created, renamed or transferred after that \
                 date) does not match it."
            }
            Format::Other => {
                "Its sub is in neither of GitHub's formats (repo:OWNER/REPO:…, \
                 repo:OWNER@OWNER_ID/REPO@REPO_ID:…): a subject template of the repository \
                 or its organisation shapes it."
            }
            Format::Missing => "It has no sub.",
        }
    }

    /// The format's name, for the debug log.
    fn name(&self) -> &'static str {
        match self.format {
            Format::Immutable => "the immutable format",
            Format::Classic => "the classic format",
            Format::Other => "neither of GitHub's formats",
            Format::Missing => "none: the token has no sub",
        }
    }
}

/// The claim, and its value, that narrows a rule on the repository to what the subject
/// names after it: the `ref` of `ref:…`, the `environment` of `environment:…`; none for
/// other contexts (`pull_request`), nor for a subject of another shape.
fn narrowing(subject: &Subject) -> Option<(&'static str, &str)> {
    let context = subject.context.as_deref()?;
    if let Some(r) = context.strip_prefix("ref:") {
        Some(("ref", r))
    } else {
        context
            .strip_prefix("environment:")
            .map(|e| ("environment", e))
    }
}

/// A trust rule of one cloud, the one that matches on the job's OIDC token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// An IAM role's trust policy (STS `AssumeRoleWithWebIdentity`).
    AwsRole,
    /// A workload identity provider's attribute condition (Google's STS), with the
    /// provider's resource name when known
    /// (`projects/N/locations/global/workloadIdentityPools/POOL/providers/P`).
    GcpProvider(Option<String>),
    /// An application's federated identity credentials (Entra ID).
    EntraCredential,
    /// A JWT auth role (Vault).
    VaultRole,
}

/// Entra's codes for an assertion that no federated identity credential matches:
/// AADSTS70021 (no matching record), and 700211, 700212, 700213 (its issuer, audience,
/// subject).
const ENTRA_NO_MATCH: [&str; 4] = ["70021", "700211", "700212", "700213"];

impl Trust {
    /// Is `error` this cloud's refusal of the token's claims, rather than a fault
    /// elsewhere (a role or provider that does not exist, a service unreachable)?
    pub fn refused(&self, error: &ServiceError) -> bool {
        let code = error.code.as_str();
        match self {
            Trust::AwsRole => matches!(code, "AccessDenied" | "InvalidIdentityToken"),
            Trust::GcpProvider(_) => matches!(code, "invalid_grant" | "unauthorized_client"),
            Trust::EntraCredential => {
                let aadsts = error
                    .message
                    .strip_prefix("AADSTS")
                    .map(|m| m.split(|c: char| !c.is_ascii_digit()).next().unwrap_or(""));
                aadsts.is_some_and(|c| ENTRA_NO_MATCH.contains(&c))
            }
            Trust::VaultRole => {
                let message = error.message.to_ascii_lowercase();
                matches!(error.status, Some(400 | 403))
                    && ["claim", "audience", "bound"]
                        .iter()
                        .any(|w| message.contains(w))
            }
        }
    }

    /// What the token showed this cloud, and the rule, in its syntax, that admits the job
    /// (and the repository under either format, where the token gives both): lines to
    /// add to the cloud's refusal.
    pub fn note(&self, claims: &Claims) -> String {
        let subject = claims.subject();
        let mut lines = vec![
            format!(
                "The job's OIDC token showed (its claims; the token itself is not shown): {}.",
                claims.shown()
            ),
            subject.said().to_string(),
        ];
        lines.extend(self.rules(claims, &subject));
        lines.join("\n")
    }

    /// The rules that admit the job, in the cloud's syntax: under its format, then under
    /// either.
    fn rules(&self, claims: &Claims, subject: &Subject) -> Vec<String> {
        let sub = subject.sub.as_deref();
        let audience = claims.audience.as_deref();
        let mut rules = Vec::new();
        match self {
            Trust::AwsRole => {
                let issuer = claims.get("iss").unwrap_or(GITHUB_ISSUER);
                let prefix = issuer
                    .strip_prefix("https://")
                    .unwrap_or(issuer)
                    .trim_end_matches('/');
                let key = |claim: &str| excerpt_name(&format!("{prefix}:{claim}"));
                let aud = audience.map(|a| json!({ key("aud"): excerpt_name(a) }));
                if let Some(sub) = sub {
                    let mut equals = aud.clone().unwrap_or_else(|| json!({}));
                    equals[key("sub")] = json!(excerpt_name(sub));
                    rules.push(format!(
                        "An IAM role trust policy that admits this job: \"Condition\": {}",
                        json!({ "StringEquals": equals })
                    ));
                }
                if let Some(both) = subject.both() {
                    let mut condition =
                        json!({ "StringLike": { key("sub"): both.map(excerpt_name) } });
                    if let Some(aud) = aud {
                        condition["StringEquals"] = aud;
                    }
                    rules.push(format!(
                        "To admit it under either sub format: \"Condition\": {condition}"
                    ));
                }
            }
            Trust::GcpProvider(provider) => {
                if let Some(sub) = sub {
                    rules.push(format!(
                        "A workload identity provider's attribute condition that admits this \
                         job: assertion.sub == {}",
                        cel(sub)
                    ));
                }
                if let Some(id) = claims.get("repository_id") {
                    let mut condition = format!("assertion.repository_id == {}", cel(id));
                    if let Some((claim, value)) = narrowing(subject) {
                        condition.push_str(&format!(" && assertion.{claim} == {}", cel(value)));
                    }
                    let mut rule = format!(
                        "To admit it under either sub format, match on the repository's id: \
                         {condition}"
                    );
                    if let Some(pool) = provider.as_deref().and_then(pool_of) {
                        rule.push_str(&format!(
                            "; and grant the service account's roles/iam.workloadIdentityUser \
                             (or the key's own role) to \
                             principalSet://iam.googleapis.com/{}/attribute.repository_id/{}, \
                             with the attribute mapping attribute.repository_id=assertion.repository_id",
                            excerpt_name(pool),
                            excerpt_name(id)
                        ));
                    }
                    rules.push(rule);
                }
            }
            Trust::EntraCredential => {
                if let Some(sub) = sub {
                    rules.push(format!(
                        "A federated identity credential that admits this job: issuer {}, \
                         subject {}, audience {}",
                        quoted(claims.get("iss").unwrap_or(GITHUB_ISSUER)),
                        quoted(sub),
                        audience.map_or_else(|| "?".to_string(), quoted)
                    ));
                }
                if let Some([classic, immutable]) = subject.both() {
                    rules.push(format!(
                        "To admit it under either sub format, one credential for each, with \
                         the same issuer and audience: subject {} and subject {}",
                        quoted(classic),
                        quoted(immutable)
                    ));
                }
            }
            Trust::VaultRole => {
                let audiences = audience.map(|a| json!([excerpt_name(a)]));
                if let Some(sub) = sub {
                    let mut role = json!({ "bound_subject": excerpt_name(sub) });
                    if let Some(audiences) = &audiences {
                        role["bound_audiences"] = audiences.clone();
                    }
                    rules.push(format!("A JWT auth role that admits this job: {role}"));
                }
                if let Some(id) = claims.get("repository_id") {
                    let mut bound = json!({ "repository_id": excerpt_name(id) });
                    if let Some((claim, value)) = narrowing(subject) {
                        bound[claim] = json!(excerpt_name(value));
                    }
                    let mut role = json!({ "bound_subject": "", "bound_claims": bound });
                    if let Some(audiences) = audiences {
                        role["bound_audiences"] = audiences;
                    }
                    rules.push(format!(
                        "To admit it under either sub format, bind the repository's id \
                         instead of the subject: {role}"
                    ));
                }
            }
        }
        rules
    }
}

/// A CEL string literal of `value` (an excerpt), in single quotes.
fn cel(value: &str) -> String {
    let escaped = excerpt_name(value)
        .replace('\\', "\\\\")
        .replace('\'', "\\'");
    format!("'{escaped}'")
}

/// The pool of a workload identity provider's resource name
/// (`projects/N/locations/global/workloadIdentityPools/POOL`).
fn pool_of(provider: &str) -> Option<&str> {
    provider
        .split_once("/providers/")
        .map(|(pool, _)| pool)
        .filter(|pool| pool.contains("/workloadIdentityPools/"))
}

/// `error`, with what the token showed (`claims`) when it is `trust`'s cloud refusing
/// the token; any other error as it is.
pub fn explained(error: ServiceError, claims: Option<&Claims>, trust: &Trust) -> ServiceError {
    match claims {
        Some(claims) if trust.refused(&error) => ServiceError {
            note: Some(trust.note(claims).into()),
            ..error
        },
        _ => error,
    }
}

/// The debug log's line for an exchange of the token: what it shows `exchange`.
pub fn debug_line(exchange: &str, claims: &Claims) -> String {
    format!(
        "{exchange}: the job's OIDC token shows {}; its sub is in {}",
        claims.shown(),
        claims.subject().name()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A token with `claims` as its payload (the header and signature are not read).
    fn token(claims: &Value) -> String {
        format!(
            "eyJhbGciOiJSUzI1NiJ9.{}.c2lnbmF0dXJl",
            URL_SAFE_NO_PAD.encode(claims.to_string())
        )
    }

    /// A job of acme/site's main branch, as GitHub's token says it, with `sub`.
    fn job(sub: &str) -> Claims {
        Claims::of_token(&token(&json!({
            "jti": "x",
            "iss": "https://token.actions.githubusercontent.com",
            "aud": "sts.amazonaws.com",
            "sub": sub,
            "ref": "refs/heads/main",
            "repository": "acme/site",
            "repository_id": "90210",
            "repository_owner": "acme",
            "repository_owner_id": "4242",
            "job_workflow_ref": "acme/site/.github/workflows/ci.yml@refs/heads/main",
            "event_name": "push",
            "exp": 1,
        })))
        .unwrap()
    }

    const CLASSIC: &str = "repo:acme/site:ref:refs/heads/main";
    const IMMUTABLE: &str = "repo:acme@4242/site@90210:ref:refs/heads/main";

    fn error(code: &str, message: &str, status: u16) -> ServiceError {
        ServiceError {
            status: Some(status),
            ..ServiceError::local("X", code, message)
        }
    }

    #[test]
    fn the_claims_trust_rules_match_on_are_read_in_order_and_nothing_else() {
        let claims = job(IMMUTABLE);
        assert_eq!(
            claims.shown(),
            "iss 'https://token.actions.githubusercontent.com', aud 'sts.amazonaws.com', \
             sub 'repo:acme@4242/site@90210:ref:refs/heads/main', repository 'acme/site', \
             repository_id '90210', repository_owner 'acme', repository_owner_id '4242', \
             ref 'refs/heads/main', job_workflow_ref 'acme/site/.github/workflows/ci.yml@refs/heads/main'"
        );
        assert_eq!(claims.get("event_name"), None);
        assert_eq!(claims.get("environment"), None);
        // Numbers and lists, as some issuers write them.
        let c = Claims::of_token(&token(
            &json!({"aud": ["a", "b"], "repository_id": 7, "sub": "s"}),
        ))
        .unwrap();
        assert_eq!(c.shown(), "aud 'a, b', sub 's', repository_id '7'");
        assert_eq!(c.audience.as_deref(), Some("a"));
    }

    #[test]
    fn what_is_not_a_jwt_with_a_json_payload_has_no_claims() {
        for not in [
            "",
            "ghs_abc",
            "a.b",
            "a.!!!.c",
            "a.b.c.d",
            &format!("a.{}.c", URL_SAFE_NO_PAD.encode("[1]")),
            &format!("a.{}.c", URL_SAFE_NO_PAD.encode("x".repeat(MAX_PAYLOAD))),
        ] {
            assert_eq!(Claims::of_token(not), None, "{not}");
        }
        // Padding, as some encoders leave it, is read.
        let padded = format!(
            "h.{}.s",
            base64::engine::general_purpose::URL_SAFE.encode(r#"{"sub":"abc"}"#)
        );
        assert!(padded.contains('='));
        assert_eq!(Claims::of_token(&padded).unwrap().get("sub"), Some("abc"));
    }

    #[test]
    fn both_sub_formats_are_told_apart_and_each_gives_the_other() {
        for sub in [CLASSIC, IMMUTABLE] {
            let s = job(sub).subject();
            assert_eq!(s.classic.as_deref(), Some(CLASSIC), "{sub}");
            assert_eq!(s.immutable.as_deref(), Some(IMMUTABLE), "{sub}");
            assert_eq!(s.context.as_deref(), Some("ref:refs/heads/main"));
        }
        assert_eq!(job(CLASSIC).subject().format, Format::Classic);
        assert_eq!(job(IMMUTABLE).subject().format, Format::Immutable);
        // An environment's subject keeps its context.
        let s = job("repo:acme@4242/site@90210:environment:prod").subject();
        assert_eq!(
            s.classic.as_deref(),
            Some("repo:acme/site:environment:prod")
        );
        assert_eq!(narrowing(&s), Some(("environment", "prod")));
        // A classic subject without the id claims gives no immutable form.
        let bare = Claims::of_token(&token(&json!({"sub": "repo:acme/site:pull_request"})))
            .unwrap()
            .subject();
        assert_eq!(bare.format, Format::Classic);
        assert_eq!(bare.immutable, None);
        assert_eq!(bare.both(), None);
        assert_eq!(narrowing(&bare), None);
        // Templates and half-formed ids are neither format.
        for other in [
            "repository_owner_id:4242:environment:prod",
            "repo:acme@4242/site:ref:refs/heads/main",
            "repo:acme@x/site@1:ref:refs/heads/main",
            "repo:acme",
        ] {
            let s = job(other).subject();
            assert_eq!(s.format, Format::Other, "{other}");
            assert_eq!(s.both(), None);
        }
        let none = Claims::of_token(&token(&json!({"iss": "i"}))).unwrap();
        assert_eq!(none.subject().format, Format::Missing);
    }

    #[test]
    fn aws_is_shown_an_iam_condition_and_one_for_either_format() {
        let note = Trust::AwsRole.note(&job(IMMUTABLE));
        let lines: Vec<&str> = note.lines().collect();
        assert!(lines[0].starts_with("The job's OIDC token showed (its claims; the token itself is not shown): iss 'https://token.actions.githubusercontent.com'"), "{note}");
        assert!(
            lines[1].starts_with("Its sub is in the immutable format"),
            "{note}"
        );
        assert_eq!(
            lines[2],
            r#"An IAM role trust policy that admits this job: "Condition": {"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com","token.actions.githubusercontent.com:sub":"repo:acme@4242/site@90210:ref:refs/heads/main"}}"#
        );
        assert_eq!(
            lines[3],
            r#"To admit it under either sub format: "Condition": {"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"},"StringLike":{"token.actions.githubusercontent.com:sub":["repo:acme/site:ref:refs/heads/main","repo:acme@4242/site@90210:ref:refs/heads/main"]}}"#
        );
        assert_eq!(lines.len(), 4);
        // The condition's key follows the issuer (GHES, an enterprise's own issuer).
        let ghes = Claims::of_token(&token(&json!({
            "iss": "https://ghes.example/_services/token", "aud": "sts.amazonaws.com", "sub": CLASSIC
        })))
        .unwrap();
        let note = Trust::AwsRole.note(&ghes);
        assert!(
            note.contains(
                r#""ghes.example/_services/token:sub":"repo:acme/site:ref:refs/heads/main""#
            ),
            "{note}"
        );
        assert!(note.contains("in the classic format"), "{note}");
        assert!(!note.contains("either"), "no ids, no second form: {note}");
    }

    #[test]
    fn gcp_is_shown_an_attribute_condition_in_cel_and_the_repositorys_id() {
        let provider = "projects/123/locations/global/workloadIdentityPools/github/providers/acme";
        let note = Trust::GcpProvider(Some(provider.into())).note(&job(CLASSIC));
        let lines: Vec<&str> = note.lines().collect();
        assert!(
            lines[1].starts_with("Its sub is in the classic format"),
            "{note}"
        );
        assert_eq!(
            lines[2],
            "A workload identity provider's attribute condition that admits this job: assertion.sub == 'repo:acme/site:ref:refs/heads/main'"
        );
        assert_eq!(
            lines[3],
            "To admit it under either sub format, match on the repository's id: assertion.repository_id == '90210' && assertion.ref == 'refs/heads/main'; \
             and grant the service account's roles/iam.workloadIdentityUser (or the key's own role) to \
             principalSet://iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/github/attribute.repository_id/90210, \
             with the attribute mapping attribute.repository_id=assertion.repository_id"
        );
        // CEL's quotes are escaped; no provider, no principal set.
        let odd = Claims::of_token(&token(
            &json!({"sub": "repo:a/b:ref:refs/heads/it's\\x", "repository_id": "1"}),
        ))
        .unwrap();
        let note = Trust::GcpProvider(None).note(&odd);
        assert!(
            note.contains(r"assertion.sub == 'repo:a/b:ref:refs/heads/it\'s\\x'"),
            "{note}"
        );
        assert!(
            note.contains(
                r"assertion.repository_id == '1' && assertion.ref == 'refs/heads/it\'s\\x'"
            ),
            "{note}"
        );
        assert!(!note.contains("principalSet"), "{note}");
    }

    #[test]
    fn entra_is_shown_a_federated_credential_and_one_per_format() {
        let mut claims = job(IMMUTABLE);
        claims.audience = Some("api://AzureADTokenExchange".into());
        let note = Trust::EntraCredential.note(&claims);
        let lines: Vec<&str> = note.lines().collect();
        assert_eq!(
            lines[2],
            "A federated identity credential that admits this job: issuer 'https://token.actions.githubusercontent.com', \
             subject 'repo:acme@4242/site@90210:ref:refs/heads/main', audience 'api://AzureADTokenExchange'"
        );
        assert_eq!(
            lines[3],
            "To admit it under either sub format, one credential for each, with the same issuer and audience: \
             subject 'repo:acme/site:ref:refs/heads/main' and subject 'repo:acme@4242/site@90210:ref:refs/heads/main'"
        );
    }

    #[test]
    fn vault_is_shown_a_roles_bound_subject_and_bound_claims() {
        let mut claims = job(CLASSIC);
        claims.audience = Some("https://github.com/acme".into());
        let note = Trust::VaultRole.note(&claims);
        let lines: Vec<&str> = note.lines().collect();
        assert_eq!(
            lines[2],
            r#"A JWT auth role that admits this job: {"bound_audiences":["https://github.com/acme"],"bound_subject":"repo:acme/site:ref:refs/heads/main"}"#
        );
        assert_eq!(
            lines[3],
            r#"To admit it under either sub format, bind the repository's id instead of the subject: {"bound_audiences":["https://github.com/acme"],"bound_claims":{"ref":"refs/heads/main","repository_id":"90210"},"bound_subject":""}"#
        );
    }

    #[test]
    fn only_a_refusal_of_the_token_is_explained() {
        let claims = job(IMMUTABLE);
        let cases = [
            (Trust::AwsRole, error("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity", 403), true),
            (Trust::AwsRole, error("InvalidIdentityToken", "Incorrect token audience", 400), true),
            (Trust::AwsRole, error("ValidationError", "1 validation error", 400), false),
            (Trust::AwsRole, error("no answer", "timed out", 0), false),
            (Trust::GcpProvider(None), error("unauthorized_client", "The given credential is rejected by the attribute condition.", 400), true),
            (Trust::GcpProvider(None), error("invalid_grant", "The audience in ID Token [x] does not match the expected audience y.", 400), true),
            (Trust::GcpProvider(None), error("invalid_target", "The target service indicated by the \"audience\" parameters is invalid.", 400), false),
            (Trust::EntraCredential, error("invalid_client", "AADSTS700213: No matching federated identity record found for presented assertion subject 'x'.", 401), true),
            (Trust::EntraCredential, error("invalid_client", "AADSTS70021: No matching federated identity record found for presented assertion.", 400), true),
            (Trust::EntraCredential, error("invalid_client", "AADSTS700211: No matching federated identity record found for presented assertion issuer 'x'.", 401), true),
            (Trust::EntraCredential, error("invalid_client", "AADSTS7000215: Invalid client secret provided.", 401), false),
            (Trust::EntraCredential, error("unauthorized_client", "AADSTS700016: Application with identifier 'x' was not found.", 400), false),
            (Trust::VaultRole, error("Bad Request", "error validating token: invalid subject (sub) claim", 400), true),
            (Trust::VaultRole, error("Bad Request", "error validating token: invalid audience (aud) claim: audience claim does not match any expected audience", 400), true),
            (Trust::VaultRole, error("Bad Request", "error validating claims: claim \"repository_id\" does not match any associated bound claim values", 400), true),
            (Trust::VaultRole, error("Bad Request", "role \"x\" could not be found", 400), false),
            (Trust::VaultRole, error("Internal Server Error", "claim", 500), false),
        ];
        for (trust, e, refused) in cases {
            let shown = explained(e.clone(), Some(&claims), &trust).to_string();
            assert_eq!(trust.refused(&e), refused, "{trust:?}: {e}");
            assert_eq!(
                shown.contains("\nThe job's OIDC token showed"),
                refused,
                "{shown}"
            );
            assert!(
                shown.starts_with(&e.to_string()),
                "the service's words first: {shown}"
            );
        }
        // Without claims (a token that is no JWT) the error is as it was.
        let e = error("AccessDenied", "no", 403);
        assert_eq!(explained(e.clone(), None, &Trust::AwsRole), e);
    }

    #[test]
    fn hostile_claims_are_quoted_printable_and_bounded() {
        // Long, though within the payload's bound.
        let long = "x".repeat(1_000);
        let hostile = Claims::of_token(&token(&json!({
            "iss": long, "aud": long, "sub": format!("repo:a/b:ref:{long}\n::error::x\u{1b}[2J"),
            "repository": "##[stop-commands]x", "repository_id": "1", "repository_owner": long,
            "repository_owner_id": "2", "ref": long, "environment": long, "job_workflow_ref": long,
        })))
        .unwrap();
        for trust in [
            Trust::AwsRole,
            Trust::GcpProvider(Some(format!(
                "projects/1/locations/global/workloadIdentityPools/{long}/providers/p"
            ))),
            Trust::EntraCredential,
            Trust::VaultRole,
        ] {
            let note = trust.note(&hostile);
            assert!(note.len() < 12 * 1024, "{trust:?}: {} bytes", note.len());
            assert!(
                !note.chars().any(|c| c.is_control() && c != '\n'),
                "{trust:?}: {note}"
            );
            assert!(!note.contains("\n::"), "{trust:?}");
            assert!(note.contains('…'), "cut, and said to be: {trust:?}");
        }
        let line = debug_line("X", &hostile);
        assert!(line.len() < 4 * 1024 && !line.contains('\n'));
    }

    #[test]
    fn the_debug_line_names_the_exchange_the_claims_and_the_format() {
        assert_eq!(
            debug_line("Vault JWT login", &Claims::of_token(&token(&json!({"sub": IMMUTABLE, "aud": "a"}))).unwrap()),
            "Vault JWT login: the job's OIDC token shows aud 'a', sub 'repo:acme@4242/site@90210:ref:refs/heads/main'; its sub is in the immutable format"
        );
    }
}
