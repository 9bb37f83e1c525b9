//! An IAM role's trust in front of moto's STS, which assumes any role for any token: `AssumeRoleWithWebIdentity` checked as STS checks it (the token's signature with GitHub's key, its issuer and expiry, its audience against the OIDC provider's client ids, then its `sub` against the role's `StringLike` condition), refused in STS's own XML, and passed on to moto when admitted.

use std::sync::Arc;

use super::moto::{Answered, Recorded, Recorder, Rewrite};
use super::oidc::{id_token_claims, OIDC_ISSUER};

/// The role a job assumes.
pub const AWS_ROLE_ARN: &str = "arn:aws:iam::123456789012:role/github-app-signer";

/// What the account's OIDC provider and the role's trust policy admit.
#[derive(Clone, Debug)]
pub struct RoleTrust {
    /// The provider's client ids (`token.actions.githubusercontent.com:aud`).
    pub audiences: Vec<String>,
    /// The role's `StringLike` condition on `token.actions.githubusercontent.com:sub`:
    /// a token's `sub` must match one (`*` any characters, `?` one).
    pub subjects: Vec<String>,
}

/// STS in front of moto, refusing what the trust does not admit.
pub struct StsTrust {
    pub url: String,
    recorder: Recorder,
}

impl StsTrust {
    pub fn start(moto_url: &str, trust: RoleTrust) -> Self {
        let gate = Arc::new(move |r: &Recorded| check(&trust, r));
        let recorder = Recorder::gated(moto_url, gate);
        Self {
            url: recorder.url.clone(),
            recorder,
        }
    }

    /// [`StsTrust::start`] for a role whose sessions last `seconds`, however long they
    /// are asked for: moto is asked for that `DurationSeconds`, and its answer's
    /// `Expiration` says so. (Real STS issues 15 minutes at least; a test cannot wait
    /// that long for credentials to run out.)
    pub fn with_sessions_of(moto_url: &str, trust: RoleTrust, seconds: u64) -> Self {
        let gate = Arc::new(move |r: &Recorded| check(&trust, r));
        let rewrite: Rewrite = Arc::new(move |r: &Recorded| {
            let form = form(r);
            let assume = form
                .iter()
                .any(|(k, v)| k == "Action" && v == "AssumeRoleWithWebIdentity");
            assume.then(|| {
                let mut out = form_urlencoded::Serializer::new(String::new());
                for (k, v) in form.iter().filter(|(k, _)| k != "DurationSeconds") {
                    out.append_pair(k, v);
                }
                out.append_pair("DurationSeconds", &seconds.to_string());
                out.finish().into_bytes()
            })
        });
        let recorder = Recorder::rewriting(moto_url, gate, rewrite);
        Self {
            url: recorder.url.clone(),
            recorder,
        }
    }

    /// How many `AssumeRoleWithWebIdentity` requests came.
    pub fn assume_calls(&self) -> usize {
        self.recorder
            .recorded()
            .iter()
            .filter(|r| {
                form(r)
                    .iter()
                    .any(|(k, v)| k == "Action" && v == "AssumeRoleWithWebIdentity")
            })
            .count()
    }
}

fn form(r: &Recorded) -> Vec<(String, String)> {
    form_urlencoded::parse(&r.body).into_owned().collect()
}

/// STS's error answer (the Query API's XML).
fn sts_error(status: u16, code: &str, message: &str) -> Answered {
    let request_id = "4f1c2a3b-5d6e-4f70-8a9b-0c1d2e3f4a5b";
    Answered {
        status,
        headers: vec![
            ("content-type", "text/xml".into()),
            ("x-amzn-requestid", request_id.into()),
        ],
        body: format!(
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  <Error>\n    <Type>Sender</Type>\n    <Code>{code}</Code>\n    <Message>{message}</Message>\n  </Error>\n  <RequestId>{request_id}</RequestId>\n</ErrorResponse>\n"
        ),
    }
}

/// `None` (passed on to moto) but for an `AssumeRoleWithWebIdentity` the trust refuses.
fn check(trust: &RoleTrust, r: &Recorded) -> Option<Answered> {
    let form = form(r);
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if get("Action") != Some("AssumeRoleWithWebIdentity") {
        return None;
    }
    let Some(claims) = get("WebIdentityToken").and_then(id_token_claims) else {
        return Some(sts_error(
            400,
            "InvalidIdentityToken",
            "The web identity token that was passed could not be validated by AWS. Get a new identity token from the identity provider and then retry the request.",
        ));
    };
    if claims["iss"] != OIDC_ISSUER {
        return Some(sts_error(
            400,
            "InvalidIdentityToken",
            &format!(
                "No OpenIDConnect provider found in your account for {}",
                claims["iss"].as_str().unwrap_or_default()
            ),
        ));
    }
    let audience = claims["aud"].as_str().unwrap_or_default();
    if !trust.audiences.iter().any(|a| a == audience) {
        return Some(sts_error(
            400,
            "InvalidIdentityToken",
            "Incorrect token audience",
        ));
    }
    let sub = claims["sub"].as_str().unwrap_or_default();
    if !trust.subjects.iter().any(|p| string_like(p, sub)) {
        return Some(sts_error(
            403,
            "AccessDenied",
            "Not authorized to perform sts:AssumeRoleWithWebIdentity",
        ));
    }
    None
}

/// IAM's `StringLike`: `*` matches any characters, `?` any one.
fn string_like(pattern: &str, value: &str) -> bool {
    fn go(p: &[char], v: &[char]) -> bool {
        match p.split_first() {
            None => v.is_empty(),
            Some(('*', rest)) => (0..=v.len()).any(|i| go(rest, &v[i..])),
            Some((c, rest)) => match v.split_first() {
                Some((d, more)) if *c == '?' || c == d => go(rest, more),
                _ => false,
            },
        }
    }
    let (p, v): (Vec<char>, Vec<char>) = (pattern.chars().collect(), value.chars().collect());
    go(&p, &v)
}

#[cfg(test)]
mod tests {
    use super::string_like;

    #[test]
    fn string_like_is_iams() {
        assert!(string_like(
            "repo:acme/site:*",
            "repo:acme/site:ref:refs/heads/main"
        ));
        assert!(string_like("repo:acme/sit?:ref:*", "repo:acme/site:ref:x"));
        assert!(!string_like(
            "repo:acme/site:*",
            "repo:acme@4242/site@90210:ref:refs/heads/main"
        ));
        assert!(string_like("a", "a") && !string_like("a", "ab"));
    }
}
