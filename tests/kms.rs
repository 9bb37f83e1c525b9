//! Keyless: the app's JWT signed by a key in AWS KMS, against moto (a real AWS stand-in
//! on 127.0.0.1, KMS signing with real RSA keys) and a fake GitHub that verifies the JWT
//! with the KMS key's public half. Run the way the runner runs the step, and as the CLI;
//! a role's trust in front of moto's STS refuses a token it does not admit, in STS's
//! words (held against botocore), and the step shows what the token showed it.

use crate::common::oidc::{
    assert_claims_debugged, error_lines, id_token, shown_claims, FakeOidc, BOTH_FORMATS,
    OIDC_SUBJECT, OIDC_SUBJECT_IMMUTABLE, SAID_IMMUTABLE,
};
use crate::common::*;
use httpmock::prelude::*;
use serde_json::json;

/// What the runner's OIDC endpoint is asked with, and answers.
const ID_TOKEN_REQUEST_TOKEN: &str = "runnerRequestTokenForOidc0001";
const OIDC_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvOmFjbWUvc2l0ZSJ9.oidcSignature0001";

/// moto, or a note that the test did not check (a failure where moto is required).
fn moto(test: &str) -> Option<Moto> {
    let moto = Moto::start();
    if moto.is_none() {
        not_checked(
            test,
            "moto_server is not installed (pip install 'moto[server]', or set APP_TOKEN_MOTO_SERVER)",
            "APP_TOKEN_REQUIRE_MOTO",
        );
    }
    moto
}

/// The AWS part of the step's environment: credentials as configure-aws-credentials
/// leaves them (unless `role`), and every AWS endpoint at moto.
fn aws_env(moto: &Moto, credentials: bool) -> Vec<(String, String)> {
    let mut env = vec![
        ("AWS_REGION".to_string(), AWS_REGION.to_string()),
        ("AWS_ENDPOINT_URL".to_string(), moto.url.clone()),
    ];
    if credentials {
        env.push(("AWS_ACCESS_KEY_ID".into(), AWS_ACCESS_KEY_ID.into()));
        env.push(("AWS_SECRET_ACCESS_KEY".into(), AWS_SECRET_ACCESS_KEY.into()));
    }
    env
}

/// No secret in the log but in the `::add-mask::` lines that hide it.
fn assert_no_secret(text: &str) {
    for line in text.lines().filter(|l| !l.starts_with("::add-mask::")) {
        for secret in [AWS_SECRET_ACCESS_KEY, ID_TOKEN_REQUEST_TOKEN, OIDC_TOKEN] {
            assert!(!line.contains(secret), "a secret in the log: {line}");
        }
    }
}

#[test]
fn a_token_signed_by_a_kms_key_by_id_and_by_alias() {
    let Some(moto) = moto("a_token_signed_by_a_kms_key_by_id_and_by_alias") else {
        return;
    };
    let (key_id, public_key) = moto.signing_key(Some("alias/github-app"));
    for key in [key_id.as_str(), "alias/github-app"] {
        let gh = FakeGitHub::verifying_with(&public_key);
        let flow = gh.flow("acme", &["site"], &[], &[(11, "site")], None);
        let step = Step::new();
        let ran = step.run_keyless(
            bin(),
            &gh.url(),
            &[("aws-kms-key-id", key)],
            aws_env(&moto, true),
        );
        assert_eq!(ran.code, 0, "{key}: {}", ran.stdout);
        assert_eq!(step.outputs()["token"], FINAL_TOKEN);
        // The fake accepted only JWTs that verify with the KMS key's public half.
        flow.lookup.assert_calls(1);
        flow.final_token.assert_calls(1);
        assert_no_secret(&ran.stdout);
        assert_no_secret(&ran.stderr);
    }
}

#[test]
fn the_signature_github_received_is_masked_as_the_jwt_carries_it() {
    let Some(moto) = moto("the_signature_github_received_is_masked_as_the_jwt_carries_it") else {
        return;
    };
    let (key_id, public_key) = moto.signing_key(None);
    let gh = FakeGitHub::verifying_with(&public_key);
    let bearers = gh.bearers();
    gh.flow("acme", &["site"], &[], &[(11, "site")], None);
    let ran = Step::new().run_keyless(
        bin(),
        &gh.url(),
        &[("aws-kms-key-id", &key_id)],
        aws_env(&moto, true),
    );
    assert_eq!(ran.code, 0, "{}", ran.stdout);
    // KMS answers in standard base64; the JWT carries base64url.
    assert_jwt_signatures_masked(&ran.stdout, &bearers);
}

#[test]
fn a_role_assumed_with_the_jobs_oidc_token() {
    let Some(moto) = moto("a_role_assumed_with_the_jobs_oidc_token") else {
        return;
    };
    let (key_id, public_key) = moto.signing_key(None);
    let gh = FakeGitHub::verifying_with(&public_key);
    gh.flow("acme", &["site"], &[], &[(11, "site")], None);
    let runner_service = MockServer::start();
    let oidc = runner_service.mock(|when, then| {
        when.method(GET)
            .path("/_apis/distributedtask/token")
            .query_param("api-version", "2.0")
            .query_param("audience", "sts.amazonaws.com")
            .header("authorization", format!("bearer {ID_TOKEN_REQUEST_TOKEN}"));
        then.status(200).github_json(json!({"value": OIDC_TOKEN}));
    });
    let step = Step::new();
    let mut extra = aws_env(&moto, false);
    extra.push((
        "ACTIONS_ID_TOKEN_REQUEST_URL".into(),
        format!(
            "http://{}/_apis/distributedtask/token?api-version=2.0",
            runner_service.address()
        ),
    ));
    extra.push((
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN".into(),
        ID_TOKEN_REQUEST_TOKEN.into(),
    ));
    let ran = step.run_keyless(
        bin(),
        &gh.url(),
        &[
            ("aws-kms-key-id", &key_id),
            (
                "aws-role-to-assume",
                "arn:aws:iam::123456789012:role/github-app-signer",
            ),
        ],
        extra,
    );
    assert_eq!(ran.code, 0, "{}", ran.stdout);
    oidc.assert_calls(1);
    assert_eq!(step.outputs()["token"], FINAL_TOKEN);
    // The OIDC token is masked before anything could print it, and never shown otherwise.
    assert_eq!(
        ran.stdout.matches(OIDC_TOKEN).count(),
        1,
        "only in its mask: {}",
        ran.stdout
    );
    assert!(ran.stdout.contains(&format!("::add-mask::{OIDC_TOKEN}")));
    // So are the session's credentials (moto's STS makes some up).
    assert!(
        ran.stdout.matches("::add-mask::").count() >= 4,
        "the OIDC token, the access key id, the secret key and the session token: {}",
        ran.stdout
    );
    assert_no_secret(&ran.stdout);
}

#[test]
fn a_missing_key_fails_with_awss_code_and_message_and_mints_nothing() {
    let Some(moto) = moto("a_missing_key_fails_with_awss_code_and_message_and_mints_nothing")
    else {
        return;
    };
    let gh = FakeGitHub::start();
    let any = gh.catch_all();
    let step = Step::new();
    let ran = step.run_keyless(
        bin(),
        &gh.url(),
        &[("aws-kms-key-id", "alias/no-such-key")],
        aws_env(&moto, true),
    );
    assert_eq!(ran.code, 1, "{}", ran.stdout);
    let error = ran.line("::error");
    assert!(error.contains("KMS key alias/no-such-key"), "{error}");
    assert!(error.contains("NotFoundException"), "{error}");
    assert!(error.contains("is not found"), "AWS's own message: {error}");
    any.assert_calls(0);
    assert!(step.outputs().is_empty());
    assert_no_secret(&ran.stdout);
}

#[test]
fn the_key_is_in_kms_or_given_but_not_both_and_not_neither() {
    let gh = FakeGitHub::start();
    let any = gh.catch_all();
    let step = Step::new();
    let both = step.main(bin(), &gh.url(), &[("aws-kms-key-id", "alias/github-app")]);
    let neither = step.main(bin(), &gh.url(), &[("private-key", "")]);
    for (ran, first, second) in [
        (both, "aws-kms-key-id", "private-key"),
        (neither, "private-key", "aws-kms-key-id"),
    ] {
        assert_eq!(ran.code, 1, "{}", ran.stdout);
        let error = ran.line("::error");
        assert!(
            error.contains(&format!("input `{first}`")) && error.contains(&format!("`{second}`")),
            "{error}"
        );
    }
    any.assert_calls(0);
}

/// Inputs, extra variables, and what the error must name.
type Case = (
    &'static [(&'static str, &'static str)],
    Vec<(String, String)>,
    &'static str,
);

#[test]
fn kms_inputs_are_checked_before_any_request() {
    let gh = FakeGitHub::start();
    let any = gh.catch_all();
    let step = Step::new();
    let cases: [Case; 3] = [
        // No region anywhere.
        (
            &[("aws-kms-key-id", "alias/a")],
            vec![],
            "input `aws-region`",
        ),
        // No credentials, and no role.
        (
            &[("aws-kms-key-id", "alias/a"), ("aws-region", "eu-west-1")],
            vec![],
            "AWS_ACCESS_KEY_ID",
        ),
        // A KMS endpoint that is plain http on another host.
        (
            &[("aws-kms-key-id", "alias/a"), ("aws-region", "eu-west-1")],
            vec![
                ("AWS_ACCESS_KEY_ID".into(), "AKID".into()),
                ("AWS_SECRET_ACCESS_KEY".into(), "s".into()),
                (
                    "AWS_ENDPOINT_URL_KMS".into(),
                    "http://kms.example.com".into(),
                ),
            ],
            "AWS_ENDPOINT_URL_KMS",
        ),
    ];
    for (inputs, extra, named) in cases {
        let ran = step.run_keyless(bin(), &gh.url(), inputs, extra);
        assert_eq!(ran.code, 1, "{}", ran.stdout);
        assert!(
            ran.stdout
                .lines()
                .any(|l| l.starts_with("::error") && l.contains(named)),
            "{named}: {}",
            ran.stdout
        );
    }
    any.assert_calls(0);
}

#[test]
fn the_command_line_signs_with_kms_too() {
    let Some(moto) = moto("the_command_line_signs_with_kms_too") else {
        return;
    };
    let (_, public_key) = moto.signing_key(Some("alias/cli-app"));
    let gh = FakeGitHub::verifying_with(&public_key);
    gh.flow("acme", &["site"], &[], &[(11, "site")], None);
    let args = [
        "--app-id",
        APP_ID,
        "--aws-kms-key-id",
        "alias/cli-app",
        "--aws-region",
        AWS_REGION,
        "--repositories",
        "acme/site",
        "--api-url",
        &gh.url(),
    ];
    let mut env = aws_env(&moto, true);
    env.retain(|(k, _)| k != "AWS_REGION");
    let ran = run_binary(bin(), &args, &env, "");
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(ran.stdout.trim(), FINAL_TOKEN);
    assert_no_secret(&ran.stderr);
}

/// botocore's SigV4 (its canonical request, string to sign and HMAC chain) over each
/// recorded request, signing the headers the request says it signed: the signature it
/// computes from the known credentials, and one from a wrong secret.
const BOTOCORE_SIGV4: &str = r#"
import json, os
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials

out = []
for r in json.loads(os.environ["REQUESTS"]):
    headers = {k: v for k, v in r["headers"]}
    authorization = headers.pop("authorization")
    assert authorization.startswith("AWS4-HMAC-SHA256 "), authorization
    parts = dict(p.strip().split("=", 1) for p in authorization[len("AWS4-HMAC-SHA256 "):].split(","))
    _, date, region, service, terminal = parts["Credential"].split("/")
    signed = parts["SignedHeaders"].split(";")

    class Signed(SigV4Auth):
        def headers_to_sign(self, request):
            chosen = HTTPHeaders()
            for name, value in request.headers.items():
                if name.lower() in signed:
                    chosen[name.lower()] = value
            return chosen

    def signature(secret):
        creds = Credentials(os.environ["AK"], secret, os.environ.get("ST") or None)
        request = AWSRequest(method=r["method"], url=os.environ["ENDPOINT"] + r["target"],
                             data=bytes(r["body"]), headers=headers)
        request.context["timestamp"] = headers["x-amz-date"]
        auth = Signed(creds, service, region)
        canonical = auth.canonical_request(request)
        return auth.signature(auth.string_to_sign(request, canonical), request)

    out.append({
        "ours": parts["Signature"],
        "botocore": signature(os.environ["SK"]),
        "wrong_secret": signature(os.environ["SK"] + "x"),
        "scope": [date == headers["x-amz-date"][:8], region, service, terminal],
        "signed": signed,
    })
print(json.dumps(out))
"#;

#[test]
fn kms_requests_carry_signatures_botocore_computes_too() {
    let test = "kms_requests_carry_signatures_botocore_computes_too";
    let Some(moto) = moto(test) else {
        return;
    };
    let Some(python) = clients_python(test) else {
        return;
    };
    let (_, public_key) = moto.signing_key(Some("alias/sigv4"));
    let recorder = Recorder::start(&moto.url);
    let gh = FakeGitHub::verifying_with(&public_key);
    gh.flow("acme", &["site"], &[], &[(11, "site")], None);
    let step = Step::new();
    let session_token = "IQoJb3JpZ2luX2VjESessionTokenForSigV4Test0001";
    let mut extra = aws_env(&moto, true);
    extra.retain(|(k, _)| k != "AWS_ENDPOINT_URL");
    extra.push(("AWS_ENDPOINT_URL".into(), recorder.url.clone()));
    extra.push(("AWS_SESSION_TOKEN".into(), session_token.into()));
    let ran = step.run_keyless(
        bin(),
        &gh.url(),
        &[("aws-kms-key-id", "alias/sigv4")],
        extra,
    );
    assert_eq!(ran.code, 0, "{}", ran.stdout);
    let recorded = recorder.recorded();
    assert_eq!(recorded.len(), 1, "one KMS Sign: {recorded:?}");
    let requests: Vec<serde_json::Value> = recorded
        .iter()
        .map(|r| json!({"method": r.method, "target": r.target, "headers": r.headers, "body": r.body}))
        .collect();
    let script = run_python(
        &python,
        BOTOCORE_SIGV4,
        &[
            ("REQUESTS", &serde_json::Value::from(requests).to_string()),
            ("ENDPOINT", &recorder.url),
            ("AK", AWS_ACCESS_KEY_ID),
            ("SK", AWS_SECRET_ACCESS_KEY),
            ("ST", session_token),
        ],
    );
    assert_eq!(script.code, 0, "{}\n{}", script.stdout, script.stderr);
    let checked: Vec<serde_json::Value> =
        serde_json::from_str(script.stdout.lines().last().unwrap_or_default()).expect("JSON");
    assert_eq!(checked.len(), 1);
    for c in &checked {
        assert_eq!(
            c["ours"], c["botocore"],
            "botocore computes another signature: {c}"
        );
        assert_ne!(c["ours"], c["wrong_secret"], "{c}");
        assert_eq!(
            c["scope"],
            json!([true, AWS_REGION, "kms", "aws4_request"]),
            "{c}"
        );
        let signed: Vec<&str> = c["signed"]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
            .unwrap_or_default();
        for header in ["host", "x-amz-date", "x-amz-target", "x-amz-security-token"] {
            assert!(signed.contains(&header), "{header} is not signed: {c}");
        }
    }
}

/// The step's environment for a role assumed with the runner's OIDC token: STS at the
/// role's trust in front of moto, KMS at moto, the runner's OIDC endpoint.
fn role_env(moto: &Moto, sts: &StsTrust, oidc: &FakeOidc) -> Vec<(String, String)> {
    let mut env = aws_env(moto, false);
    env.push(("AWS_ENDPOINT_URL_STS".into(), sts.url.clone()));
    env.extend(oidc.env());
    env
}

/// What the role trust of these tests admits: GitHub's audience for STS, and `subjects`.
fn trust(subjects: &[&str]) -> RoleTrust {
    RoleTrust {
        audiences: vec!["sts.amazonaws.com".into()],
        subjects: subjects.iter().map(|s| s.to_string()).collect(),
    }
}

/// The condition the refusal offers for either `sub` format.
const EITHER_FORMAT: &str = r#"To admit it under either sub format: "Condition": {"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"},"StringLike":{"token.actions.githubusercontent.com:sub":["repo:acme/site:ref:refs/heads/main","repo:acme@4242/site@90210:ref:refs/heads/main"]}}"#;

#[test]
fn a_role_that_refuses_the_jobs_token_is_shown_its_claims_and_the_condition_that_admits_it() {
    let test =
        "a_role_that_refuses_the_jobs_token_is_shown_its_claims_and_the_condition_that_admits_it";
    let Some(moto) = moto(test) else {
        return;
    };
    let (key_id, public_key) = moto.signing_key(None);
    // The role's trust was written for the classic format; the repository's tokens now
    // carry the immutable one.
    let sts = StsTrust::start(&moto.url, trust(&[OIDC_SUBJECT]));
    let oidc = FakeOidc::with_subject(OIDC_SUBJECT_IMMUTABLE);
    let gh = FakeGitHub::verifying_with(&public_key);
    let any = gh.catch_all();
    let step = Step::new();
    let ran = step.run_keyless(
        bin(),
        &gh.url(),
        &[
            ("aws-kms-key-id", &key_id),
            ("aws-role-to-assume", AWS_ROLE_ARN),
        ],
        role_env(&moto, &sts, &oidc),
    );
    assert_eq!(ran.code, 1, "{}", ran.stdout);
    any.assert_calls(0);
    assert!(step.outputs().is_empty());
    assert_eq!(sts.assume_calls(), 1);
    let lines = error_lines(&ran.stdout);
    // STS's own words first, then what the token showed it.
    assert!(
        lines[0].contains("STS AssumeRoleWithWebIdentity failed: AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity (HTTP 403, request id "),
        "{lines:?}"
    );
    assert_eq!(
        lines[1..],
        [
            shown_claims("sts.amazonaws.com", OIDC_SUBJECT_IMMUTABLE).as_str(),
            SAID_IMMUTABLE,
            r#"An IAM role trust policy that admits this job: "Condition": {"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com","token.actions.githubusercontent.com:sub":"repo:acme@4242/site@90210:ref:refs/heads/main"}}"#,
            EITHER_FORMAT,
        ],
    );
    // The token itself only in its mask; no debug line without the runner's debug logging.
    let token = &oidc.issued()[0].1;
    assert_eq!(
        ran.stdout.matches(token.as_str()).count(),
        1,
        "{}",
        ran.stdout
    );
    assert!(!ran.stdout.contains("::debug::"), "{}", ran.stdout);
    assert_no_secret(&ran.stdout);
}

#[test]
fn the_condition_for_either_format_admits_both_and_debug_logs_the_claims_at_each_exchange() {
    let test =
        "the_condition_for_either_format_admits_both_and_debug_logs_the_claims_at_each_exchange";
    let Some(moto) = moto(test) else {
        return;
    };
    let (key_id, public_key) = moto.signing_key(None);
    // The StringLike list the refusal offers.
    let sts = StsTrust::start(&moto.url, trust(&[OIDC_SUBJECT, OIDC_SUBJECT_IMMUTABLE]));
    for (subject, format) in BOTH_FORMATS {
        let oidc = FakeOidc::with_subject(subject);
        let gh = FakeGitHub::verifying_with(&public_key);
        gh.flow("acme", &["site"], &[], &[(11, "site")], None);
        let step = Step::new();
        let mut env = role_env(&moto, &sts, &oidc);
        env.push(("RUNNER_DEBUG".into(), "1".into()));
        let ran = step.run_keyless(
            bin(),
            &gh.url(),
            &[
                ("aws-kms-key-id", &key_id),
                ("aws-role-to-assume", AWS_ROLE_ARN),
            ],
            env,
        );
        assert_eq!(ran.code, 0, "{subject}: {}", ran.stdout);
        assert_eq!(step.outputs()["token"], FINAL_TOKEN);
        let exchange = "STS AssumeRoleWithWebIdentity";
        assert_claims_debugged(&ran.stdout, exchange, "sts.amazonaws.com", subject, format);
        assert_no_secret(&ran.stdout);
    }
    assert_eq!(sts.assume_calls(), 2);
}

/// botocore's STS client, as a workflow's Python would call AssumeRoleWithWebIdentity.
const BOTOCORE_STS: &str = r#"
import json, os
import botocore.session
from botocore.exceptions import ClientError

sts = botocore.session.get_session().create_client(
    "sts", region_name="eu-west-1", endpoint_url=os.environ["STS"],
    aws_access_key_id="unused", aws_secret_access_key="unused")
out = {}
for name in ("ADMITTED", "REFUSED", "WRONG_AUDIENCE"):
    try:
        answer = sts.assume_role_with_web_identity(
            RoleArn=os.environ["ROLE"], RoleSessionName="app-token", WebIdentityToken=os.environ[name])
        out[name] = ["assumed", answer["Credentials"]["AccessKeyId"], answer["AssumedRoleUser"]["Arn"]]
    except ClientError as e:
        out[name] = [e.response["Error"]["Code"], e.response["Error"]["Message"],
                     e.response["ResponseMetadata"]["HTTPStatusCode"]]
print(json.dumps(out))
"#;

#[test]
fn the_role_trust_refuses_botocore_in_stss_words() {
    let test = "the_role_trust_refuses_botocore_in_stss_words";
    let Some(moto) = moto(test) else {
        return;
    };
    let Some(python) = clients_python(test) else {
        return;
    };
    let sts = StsTrust::start(&moto.url, trust(&[OIDC_SUBJECT]));
    let ran = run_python(
        &python,
        BOTOCORE_STS,
        &[
            ("STS", &sts.url),
            ("ROLE", AWS_ROLE_ARN),
            ("ADMITTED", &id_token("sts.amazonaws.com", OIDC_SUBJECT)),
            (
                "REFUSED",
                &id_token("sts.amazonaws.com", OIDC_SUBJECT_IMMUTABLE),
            ),
            (
                "WRONG_AUDIENCE",
                &id_token("https://github.com/acme", OIDC_SUBJECT),
            ),
        ],
    );
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    let out: serde_json::Value =
        serde_json::from_str(ran.stdout.lines().last().unwrap_or_default()).expect("JSON");
    // Admitted, moto's STS assumed the role.
    assert_eq!(out["ADMITTED"][0], "assumed", "{out}");
    assert!(
        out["ADMITTED"][2]
            .as_str()
            .is_some_and(|a| a.ends_with(":assumed-role/github-app-signer/app-token")),
        "{out}"
    );
    assert_eq!(
        out["REFUSED"],
        json!([
            "AccessDenied",
            "Not authorized to perform sts:AssumeRoleWithWebIdentity",
            403
        ])
    );
    assert_eq!(
        out["WRONG_AUDIENCE"],
        json!(["InvalidIdentityToken", "Incorrect token audience", 400])
    );
}

/// The token agent signs for hours with one signer: a role's session credentials are
/// used while they have time left (STS's `Expiration`), and the role is assumed again,
/// with a new OIDC token, when they have run out; KMS is then called with the new ones.
#[test]
fn a_roles_credentials_are_had_again_when_they_run_out_and_not_before() {
    let test = "a_roles_credentials_are_had_again_when_they_run_out_and_not_before";
    let Some(moto) = moto(test) else {
        return;
    };
    let (key_id, public_key) = moto.signing_key(None);
    let sts = StsTrust::with_sessions_of(&moto.url, trust(&[OIDC_SUBJECT]), SHORT_LIFETIME_SECS);
    let kms = Recorder::start(&moto.url);
    let oidc = FakeOidc::start();
    use app_token::sign::aws::{CredentialSource, KmsSettings};
    let key = ServiceSigner::new(app_token::sign::Service::Aws(KmsSettings {
        key_id,
        region: AWS_REGION.into(),
        endpoint: kms.url.clone(),
        credentials: CredentialSource::WebIdentity {
            role_arn: AWS_ROLE_ARN.into(),
            sts_endpoint: sts.url.clone(),
            oidc: app_token::sign::oidc::OidcRequest {
                url: oidc.env()[0].1.clone(),
                token: app_token::sign::Secret::new(crate::common::oidc::ID_TOKEN_REQUEST_TOKEN),
            },
            session_name: "app-token".into(),
        },
    }));
    let (first, second) = (key.sign(), key.sign());
    assert_eq!(sts.assume_calls(), 1, "one session for both");
    std::thread::sleep(PAST_EXPIRY);
    let third = key.sign();
    assert_verify(&[&first, &second, &third], &public_key);
    assert_eq!(sts.assume_calls(), 2, "a second session");
    assert_eq!(oidc.issued().len(), 2, "a new OIDC token for the second");
    // Each session's OIDC token, access key id, secret key and session token masked as
    // they came: two sets, not one (besides the JWTs' signatures).
    let signatures: Vec<&str> = [&first, &second, &third]
        .iter()
        .filter_map(|jwt| jwt.rsplit('.').next())
        .collect();
    let masked: Vec<String> = key
        .masked()
        .into_iter()
        .filter(|s| !signatures.contains(&s.as_str()))
        .collect();
    assert_eq!(masked.len(), 8, "{} secrets told", masked.len());
    let (one, two) = (&masked[1], &masked[5]);
    assert_ne!(one, two, "new credentials");
    // KMS signed with the session current at each signature.
    let credential_of = |r: &Recorded| {
        r.headers
            .iter()
            .find(|(k, _)| k == "authorization")
            .and_then(|(_, v)| v.split("Credential=").nth(1))
            .and_then(|c| c.split('/').next())
            .map(str::to_string)
    };
    let used: Vec<Option<String>> = kms.recorded().iter().map(credential_of).collect();
    assert_eq!(
        used,
        [Some(one.clone()), Some(one.clone()), Some(two.clone())]
    );
}
