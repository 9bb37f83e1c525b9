//! Keyless on GCP: the app's JWT signed by a Cloud KMS key version, reached with the
//! job's OIDC token through workload identity federation (STS, then an impersonated
//! service account) or with an `external_account` file, against the GCP stand-in on
//! 127.0.0.1 and a fake GitHub that verifies the JWT. Run as the runner runs the step,
//! and as the CLI; the stand-in itself is held against google-auth and google-cloud-kms.

use std::path::Path;

use crate::common::oidc::{
    assert_claims_debugged, error_lines, shown_claims, BOTH_FORMATS, OIDC_SUBJECT,
    OIDC_SUBJECT_IMMUTABLE, SAID_IMMUTABLE,
};
use crate::common::*;
use serde_json::json;

/// Every secret of the flow: the runner's bearer, the OIDC token, both access tokens.
fn secrets() -> [&'static str; 4] {
    [
        GCP_REQUEST_TOKEN,
        GCP_OIDC_SIGNATURE,
        FEDERATED_TOKEN,
        SERVICE_ACCOUNT_TOKEN,
    ]
}

/// No secret in the log but in the `::add-mask::` lines that hide it.
fn assert_no_secret(text: &str) {
    for line in text.lines().filter(|l| !l.starts_with("::add-mask::")) {
        for secret in secrets() {
            assert!(!line.contains(secret), "a secret in the log: {line}");
        }
    }
}

/// The runner's OIDC variables at the stand-in, and every Google endpoint there.
fn gcp_env(gcp: &GcpStandIn) -> Vec<(String, String)> {
    let mut env = vec![
        ("ACTIONS_ID_TOKEN_REQUEST_URL".to_string(), gcp.oidc_url()),
        (
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN".to_string(),
            GCP_REQUEST_TOKEN.to_string(),
        ),
    ];
    env.extend(gcp.overrides());
    env
}

fn federated_inputs() -> Vec<(&'static str, &'static str)> {
    vec![
        ("gcp-kms-key", GCP_KEY_VERSION),
        ("gcp-workload-identity-provider", GCP_PROVIDER),
        ("gcp-service-account", GCP_SERVICE_ACCOUNT),
    ]
}

#[test]
fn a_token_signed_by_cloud_kms_through_workload_identity_and_a_service_account() {
    let gcp = GcpStandIn::start(GcpExpect::default());
    let gh = FakeGitHub::start();
    let flow = gh.flow("acme", &["site"], &[], &[(11, "site")], None);
    let step = Step::new();
    let ran = step.run_keyless(bin(), &gh.url(), &federated_inputs(), gcp_env(&gcp));
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    assert_eq!(step.outputs()["token"], FINAL_TOKEN);
    // The fake accepted only JWTs that verify with the key's public half: Cloud KMS signed.
    flow.lookup.assert_calls(1);
    flow.final_token.assert_calls(1);
    // One of each: the JWT is signed once and reused.
    for service in ["oidc", "sts", "iam", "kms"] {
        assert_eq!(gcp.calls(service), 1, "{service}: {:?}", gcp.seen());
    }
    assert!(
        gcp.seen().iter().all(|s| s.status == 200),
        "{:?}",
        gcp.seen()
    );
    // Every token is masked before anything could print it, and shown nowhere else.
    let oidc_token = gcp_oidc_token(&format!("https://iam.googleapis.com/{GCP_PROVIDER}"));
    for secret in [oidc_token.as_str(), FEDERATED_TOKEN, SERVICE_ACCOUNT_TOKEN] {
        assert!(
            ran.stdout.contains(&format!("::add-mask::{secret}")),
            "{secret} is not masked: {}",
            ran.stdout
        );
    }
    assert_no_secret(&ran.stdout);
    assert_no_secret(&ran.stderr);
}

#[test]
fn without_a_service_account_the_federated_token_signs() {
    let gcp = GcpStandIn::start(GcpExpect {
        service_account: None,
        ..GcpExpect::default()
    });
    let gh = FakeGitHub::start();
    gh.flow("acme", &["site"], &[], &[(11, "site")], None);
    let step = Step::new();
    let ran = step.run_keyless(bin(), &gh.url(), &federated_inputs()[..2], gcp_env(&gcp));
    assert_eq!(ran.code, 0, "{}", ran.stdout);
    assert_eq!(step.outputs()["token"], FINAL_TOKEN);
    assert_eq!(gcp.calls("iam"), 0);
    assert_eq!(gcp.calls("kms"), 1);
}

#[test]
fn a_clock_correction_signs_again_through_cloud_kms_with_the_same_token() {
    let gcp = GcpStandIn::start(GcpExpect::default());
    let mut gh = FakeGitHub::start();
    gh.skew = 720;
    let server_date =
        httpdate::fmt_http_date(std::time::SystemTime::now() + std::time::Duration::from_secs(720));
    let rejected = gh.server.mock(|when, then| {
        when.is_true(|r| jwt_time_wrong(r, 720));
        then.status(401).header("date", server_date.clone()).github_json(json!({
            "message": "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires."
        }));
    });
    gh.flow("acme", &["site"], &[], &[(11, "site")], None);
    let step = Step::new();
    let ran = step.run_keyless(bin(), &gh.url(), &federated_inputs(), gcp_env(&gcp));
    assert_eq!(ran.code, 0, "{}", ran.stdout);
    rejected.assert_calls(1);
    // Signed twice, by Cloud KMS both times; the access token was had once.
    assert_eq!(gcp.calls("kms"), 2, "{:?}", gcp.seen());
    assert_eq!(gcp.calls("sts"), 1);
    assert_eq!(gcp.calls("iam"), 1);
}

#[test]
fn a_provider_sts_does_not_know_is_refused_in_its_words() {
    let gcp = GcpStandIn::start(GcpExpect::default());
    let gh = FakeGitHub::start();
    let any = gh.catch_all();
    let step = Step::new();
    let other = "projects/123456789/locations/global/workloadIdentityPools/github/providers/other";
    let ran = step.run_keyless(
        bin(),
        &gh.url(),
        &[
            ("gcp-kms-key", GCP_KEY_VERSION),
            ("gcp-workload-identity-provider", other),
        ],
        gcp_env(&gcp),
    );
    assert_eq!(ran.code, 1, "{}", ran.stdout);
    let error = ran.line("::error");
    assert!(
        error.contains(&format!("Cloud KMS key {GCP_KEY_VERSION}")),
        "{error}"
    );
    assert!(
        error.contains("STS token exchange failed: invalid_target"),
        "{error}"
    );
    assert!(
        error.contains("pool or provider is disabled or deleted"),
        "{error}"
    );
    any.assert_calls(0);
    assert_no_secret(&ran.stdout);
}

#[test]
fn an_oidc_token_for_the_wrong_audience_is_refused_and_named() {
    // A credentials file whose token URL asks for GitHub's default audience.
    let gcp = GcpStandIn::start(GcpExpect::default());
    let gh = FakeGitHub::start();
    let any = gh.catch_all();
    let step = Step::new();
    let file = step.file("gha-creds-wrong.json");
    let account = gcp.external_account("https://github.com/acme", Some(GCP_SERVICE_ACCOUNT));
    std::fs::write(&file, account.to_string()).unwrap();
    let mut extra = gcp.overrides();
    extra.push((
        "GOOGLE_APPLICATION_CREDENTIALS".into(),
        file.display().to_string(),
    ));
    let ran = step.run_keyless(bin(), &gh.url(), &[("gcp-kms-key", GCP_KEY_VERSION)], extra);
    assert_eq!(ran.code, 1, "{}", ran.stdout);
    let error = ran.line("::error");
    assert!(error.contains("invalid_grant"), "{error}");
    assert!(
        error.contains("The audience in ID Token [https://github.com/acme] does not match"),
        "the wrong audience is named: {error}"
    );
    // The file's subject token is the job's: what it showed STS follows.
    assert!(
        error.contains("%0AThe job's OIDC token showed (its claims; the token itself is not shown): iss 'https://token.actions.githubusercontent.com', aud 'https://github.com/acme', sub 'repo:acme/site:ref:refs/heads/main',"),
        "{error}"
    );
    assert_eq!(gcp.calls("kms"), 0);
    any.assert_calls(0);
    assert_no_secret(&ran.stdout);
}

#[test]
fn an_attribute_condition_that_refuses_the_jobs_token_is_shown_its_claims_and_a_condition_that_admits_it(
) {
    // The provider's condition was written for the classic format; the repository's
    // tokens now carry the immutable one.
    let gcp = GcpStandIn::start(GcpExpect {
        subject: OIDC_SUBJECT_IMMUTABLE.into(),
        attribute_condition: vec![("sub", OIDC_SUBJECT.into())],
        ..GcpExpect::default()
    });
    let gh = FakeGitHub::start();
    let any = gh.catch_all();
    let step = Step::new();
    let ran = step.run_keyless(bin(), &gh.url(), &federated_inputs(), gcp_env(&gcp));
    assert_eq!(ran.code, 1, "{}", ran.stdout);
    any.assert_calls(0);
    assert!(step.outputs().is_empty());
    assert_eq!(
        (gcp.calls("sts"), gcp.calls("iam"), gcp.calls("kms")),
        (1, 0, 0)
    );
    let lines = error_lines(&ran.stdout);
    assert!(
        lines[0].contains("STS token exchange failed: unauthorized_client: The given credential is rejected by the attribute condition. (HTTP 400)"),
        "Google's own words first: {lines:?}"
    );
    let audience = format!("https://iam.googleapis.com/{GCP_PROVIDER}");
    assert_eq!(
        lines[1..],
        [
            shown_claims(&audience, OIDC_SUBJECT_IMMUTABLE).as_str(),
            SAID_IMMUTABLE,
            "A workload identity provider's attribute condition that admits this job: assertion.sub == 'repo:acme@4242/site@90210:ref:refs/heads/main'",
            "To admit it under either sub format, match on the repository's id: assertion.repository_id == '90210' && assertion.ref == 'refs/heads/main'; and grant the service account's roles/iam.workloadIdentityUser (or the key's own role) to principalSet://iam.googleapis.com/projects/123456789/locations/global/workloadIdentityPools/github/attribute.repository_id/90210, with the attribute mapping attribute.repository_id=assertion.repository_id",
        ],
    );
    assert!(!ran.stdout.contains("::debug::"), "{}", ran.stdout);
    assert_no_secret(&ran.stdout);
}

#[test]
fn a_condition_on_the_repositorys_id_admits_both_formats_and_debug_logs_the_claims() {
    for (subject, format) in BOTH_FORMATS {
        // The condition the refusal offers for either format.
        let gcp = GcpStandIn::start(GcpExpect {
            subject: subject.into(),
            attribute_condition: vec![
                ("repository_id", "90210".into()),
                ("ref", "refs/heads/main".into()),
            ],
            ..GcpExpect::default()
        });
        let gh = FakeGitHub::start();
        gh.flow("acme", &["site"], &[], &[(11, "site")], None);
        let step = Step::new();
        let mut env = gcp_env(&gcp);
        env.push(("RUNNER_DEBUG".into(), "1".into()));
        let ran = step.run_keyless(bin(), &gh.url(), &federated_inputs(), env);
        assert_eq!(ran.code, 0, "{subject}: {}", ran.stdout);
        assert_eq!(step.outputs()["token"], FINAL_TOKEN);
        let audience = format!("https://iam.googleapis.com/{GCP_PROVIDER}");
        let exchange = "STS token exchange";
        assert_claims_debugged(&ran.stdout, exchange, &audience, subject, format);
        assert_no_secret(&ran.stdout);
    }
}

#[test]
fn a_missing_key_version_is_reported_with_cloud_kms_words() {
    let gcp = GcpStandIn::start(GcpExpect::default());
    let gh = FakeGitHub::start();
    let any = gh.catch_all();
    let step = Step::new();
    let missing = GCP_KEY_VERSION.replace("cryptoKeyVersions/1", "cryptoKeyVersions/9");
    let mut inputs = federated_inputs();
    inputs[0] = ("gcp-kms-key", &missing);
    let ran = step.run_keyless(bin(), &gh.url(), &inputs, gcp_env(&gcp));
    assert_eq!(ran.code, 1, "{}", ran.stdout);
    let error = ran.line("::error");
    assert!(
        error.contains(&format!("Cloud KMS key {missing}")),
        "{error}"
    );
    assert!(
        error.contains(&format!(
            "Cloud KMS asymmetricSign failed: NOT_FOUND: {missing} not found. (HTTP 404)"
        )),
        "{error}"
    );
    any.assert_calls(0);
    assert!(step.outputs().is_empty());
    assert_no_secret(&ran.stdout);
    assert_no_secret(&ran.stderr);
}

#[test]
fn an_external_account_file_as_google_github_actions_auth_writes_it() {
    let gcp = GcpStandIn::start(GcpExpect::default());
    let gh = FakeGitHub::start();
    gh.flow("acme", &["site"], &[], &[(11, "site")], None);
    let step = Step::new();
    let file = step.file("gha-creds-1234.json");
    let audience = format!("https://iam.googleapis.com/{GCP_PROVIDER}");
    let account = gcp.external_account(&audience, Some(GCP_SERVICE_ACCOUNT));
    std::fs::write(&file, account.to_string()).unwrap();
    // Only Cloud KMS's endpoint comes from the environment; the rest from the file.
    let extra = vec![
        (
            "GOOGLE_APPLICATION_CREDENTIALS".to_string(),
            file.display().to_string(),
        ),
        (
            "CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDKMS".to_string(),
            format!("{}/", gcp.url),
        ),
    ];
    let ran = step.run_keyless(bin(), &gh.url(), &[("gcp-kms-key", GCP_KEY_VERSION)], extra);
    assert_eq!(ran.code, 0, "{}", ran.stdout);
    assert_eq!(step.outputs()["token"], FINAL_TOKEN);
    for service in ["oidc", "sts", "iam", "kms"] {
        assert_eq!(gcp.calls(service), 1, "{service}: {:?}", gcp.seen());
    }
    // The file's header carried the runner's bearer: masked too.
    assert!(ran
        .stdout
        .contains(&format!("::add-mask::{GCP_REQUEST_TOKEN}")));
    assert_no_secret(&ran.stdout);
}

#[test]
fn gcp_inputs_are_checked_before_any_request() {
    let gcp = GcpStandIn::start(GcpExpect::default());
    let gh = FakeGitHub::start();
    let any = gh.catch_all();
    let step = Step::new();
    let bad_provider = "projects/acme/locations/global/workloadIdentityPools/p/providers/x";
    let cases: [(&[(&str, &str)], &str); 4] = [
        (
            &[(
                "gcp-kms-key",
                "projects/p/locations/l/keyRings/r/cryptoKeys/k",
            )],
            "input `gcp-kms-key` names a key, not a key version",
        ),
        (
            &[
                ("gcp-kms-key", GCP_KEY_VERSION),
                ("gcp-workload-identity-provider", bad_provider),
            ],
            "input `gcp-workload-identity-provider` must be a provider's full name",
        ),
        (
            &[
                ("gcp-service-account", GCP_SERVICE_ACCOUNT),
                ("private-key", KEY_PKCS1),
            ],
            "input `gcp-service-account` needs `gcp-kms-key`",
        ),
        (
            &[
                ("gcp-kms-key", GCP_KEY_VERSION),
                ("aws-kms-key-id", "alias/app"),
            ],
            "input `gcp-kms-key` and `aws-kms-key-id` are both set",
        ),
    ];
    for (inputs, named) in cases {
        let ran = step.run_keyless(bin(), &gh.url(), inputs, gcp_env(&gcp));
        assert_eq!(ran.code, 1, "{}", ran.stdout);
        let error = ran.line("::error");
        assert!(error.contains(named), "{named}: {error}");
    }
    any.assert_calls(0);
    assert!(gcp.seen().is_empty(), "{:?}", gcp.seen());
}

#[test]
fn the_command_line_mints_and_signs_jwts_with_cloud_kms() {
    let gcp = GcpStandIn::start(GcpExpect::default());
    let gh = FakeGitHub::start();
    gh.flow("acme", &["site"], &[], &[(11, "site")], None);
    let key = [
        "--app-id",
        APP_ID,
        "--gcp-kms-key",
        GCP_KEY_VERSION,
        "--gcp-workload-identity-provider",
        GCP_PROVIDER,
        "--gcp-service-account",
        GCP_SERVICE_ACCOUNT,
    ];
    let url = gh.url();
    let mut mint = key.to_vec();
    mint.extend(["--repositories", "acme/site", "--api-url", &url]);
    let ran = run_binary(bin(), &mint, &gcp_env(&gcp), "");
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(ran.stdout.trim(), FINAL_TOKEN);
    assert_no_secret(&ran.stderr);

    let mut jwt = vec!["jwt"];
    jwt.extend(key);
    let ran = run_binary(bin(), &jwt, &gcp_env(&gcp), "");
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let (iat, exp, iss) = jwt_claims(ran.stdout.trim()).expect("a JWT that verifies with the key");
    assert_eq!((exp - iat, iss.as_str()), (600, APP_ID));
    assert_no_secret(&ran.stdout);
    assert_eq!(gcp.calls("kms"), 2);

    // A flag of GCP's without the key: named as the flags are.
    let ran = run_binary(
        bin(),
        &[
            "jwt",
            "--app-id",
            APP_ID,
            "--gcp-service-account",
            GCP_SERVICE_ACCOUNT,
        ],
        &[("APP_TOKEN_PRIVATE_KEY".into(), KEY_PKCS1.into())],
        "",
    );
    assert_eq!(ran.code, 2, "{}", ran.stderr);
    assert!(
        ran.stderr
            .contains("--gcp-service-account: needs --gcp-kms-key"),
        "{}",
        ran.stderr
    );
}

/// google-auth (its identity_pool credentials, from the file google-github-actions/auth
/// writes) and google-cloud-kms (REST transport) against the stand-in: what they send is
/// accepted, what they get back parses, and their errors carry the stand-in's words.
const OFFICIAL_CLIENTS: &str = r#"
import base64, hashlib, json, os, sys
import google.api_core.exceptions
import google.auth.exceptions
from google.api_core.client_options import ClientOptions
from google.auth import identity_pool
from google.cloud import kms

SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]

def client(info):
    creds = identity_pool.Credentials.from_info(info, scopes=SCOPES)
    options = ClientOptions(api_endpoint=os.environ["KMS_ENDPOINT"])
    return creds, kms.KeyManagementServiceClient(credentials=creds, transport="rest", client_options=options)

out = {}
creds, kms_client = client(json.loads(os.environ["GOOD_ACCOUNT"]))
digest = hashlib.sha256(b"header.claims").digest()
answer = kms_client.asymmetric_sign(request={"name": os.environ["KEY_VERSION"], "digest": {"sha256": digest}})
out["signature"] = base64.b64encode(answer.signature).decode()
out["name"] = answer.name
out["token"] = creds.token
try:
    kms_client.asymmetric_sign(request={"name": os.environ["MISSING_KEY"], "digest": {"sha256": digest}})
    out["missing"] = "signed"
except google.api_core.exceptions.NotFound as e:
    out["missing"] = e.message
try:
    kms_client.asymmetric_sign(request={"name": os.environ["KEY_VERSION"], "digest": {"sha256": digest[:31]}})
    out["short"] = "signed"
except google.api_core.exceptions.BadRequest as e:
    out["short"] = e.message
import google.auth.transport.requests
for name in ("WRONG_ACCOUNT", "REFUSED_ACCOUNT"):
    creds, _ = client(json.loads(os.environ[name]))
    try:
        creds.refresh(google.auth.transport.requests.Request())
        out[name] = "refreshed"
    except google.auth.exceptions.GoogleAuthError as e:
        out[name] = str(e)
print(json.dumps(out))
"#;

#[test]
fn the_stand_in_speaks_what_google_auth_and_google_cloud_kms_speak() {
    let test = "the_stand_in_speaks_what_google_auth_and_google_cloud_kms_speak";
    let Some(python) = clients_python(test) else {
        return;
    };
    let gcp = GcpStandIn::start(GcpExpect::default());
    let good = gcp.external_account(
        &format!("https://iam.googleapis.com/{GCP_PROVIDER}"),
        Some(GCP_SERVICE_ACCOUNT),
    );
    let wrong = gcp.external_account("https://github.com/acme", Some(GCP_SERVICE_ACCOUNT));
    // A provider whose attribute condition was written for the classic sub, and a job
    // whose token carries the immutable one.
    let refusing = GcpStandIn::start(GcpExpect {
        subject: OIDC_SUBJECT_IMMUTABLE.into(),
        attribute_condition: vec![("sub", OIDC_SUBJECT.into())],
        ..GcpExpect::default()
    });
    let refused = refusing.external_account(
        &format!("https://iam.googleapis.com/{GCP_PROVIDER}"),
        Some(GCP_SERVICE_ACCOUNT),
    );
    let missing = GCP_KEY_VERSION.replace("cryptoKeyVersions/1", "cryptoKeyVersions/9");
    let ran = run_python(
        &python,
        OFFICIAL_CLIENTS,
        &[
            ("GOOD_ACCOUNT", &good.to_string()),
            ("WRONG_ACCOUNT", &wrong.to_string()),
            ("REFUSED_ACCOUNT", &refused.to_string()),
            ("KMS_ENDPOINT", &gcp.url),
            ("KEY_VERSION", GCP_KEY_VERSION),
            ("MISSING_KEY", &missing),
        ],
    );
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    let out: serde_json::Value =
        serde_json::from_str(ran.stdout.lines().last().unwrap_or_default()).expect("JSON");
    // google-auth did the exchange and the impersonation: KMS took the account's token.
    assert_eq!(out["token"], SERVICE_ACCOUNT_TOKEN, "{out}");
    for service in ["oidc", "sts", "iam"] {
        assert!(
            gcp.seen()
                .iter()
                .any(|s| s.service == service && s.status == 200),
            "{service}: {:?}",
            gcp.seen()
        );
    }
    // The signature google-cloud-kms parsed verifies with the key's public half.
    use base64::Engine as _;
    use rsa::pkcs8::DecodePublicKey as _;
    use sha2::Digest as _;
    let signature = base64::engine::general_purpose::STANDARD
        .decode(out["signature"].as_str().unwrap_or_default())
        .expect("base64");
    let public = rsa::RsaPublicKey::from_public_key_pem(PUBLIC_KEY).expect("the public key");
    public
        .verify(
            rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
            &sha2::Sha256::digest(b"header.claims"),
            &signature,
        )
        .expect("the signature verifies");
    assert_eq!(out["name"], GCP_KEY_VERSION);
    // Errors in Google's form reach the client's exceptions with their words.
    assert!(
        out["missing"]
            .as_str()
            .unwrap_or_default()
            .ends_with(&format!(": {missing} not found.")),
        "{out}"
    );
    assert!(
        out["short"]
            .as_str()
            .unwrap_or_default()
            .contains("Digest length 31"),
        "{out}"
    );
    let wrong = out["WRONG_ACCOUNT"].as_str().unwrap_or_default();
    assert!(
        wrong.contains("invalid_grant")
            && wrong.contains("The audience in ID Token [https://github.com/acme]"),
        "{wrong}"
    );
    let refused = out["REFUSED_ACCOUNT"].as_str().unwrap_or_default();
    assert!(
        refused.contains("unauthorized_client")
            && refused.contains("The given credential is rejected by the attribute condition."),
        "{refused}"
    );
    assert_eq!(refusing.calls("iam"), 0, "{:?}", refusing.seen());
}

/// An `external_account` file that sends a token to a host neither Google's, an
/// override's nor the runner's (`*.example` reaches this machine only through the
/// proxy, which records every tunnel): refused before any request, naming the variable,
/// the file's field, the host and the hosts accepted.
#[test]
fn a_credentials_file_naming_another_host_is_refused_before_any_request() {
    let gcp = GcpStandIn::start(GcpExpect::default());
    let gh = FakeGitHub::start();
    let any = gh.catch_all();
    let proxy = ConnectProxy::start(std::time::Duration::ZERO);
    let step = Step::new();
    let file = step.file("gha-creds-elsewhere.json");
    let audience = format!("https://iam.googleapis.com/{GCP_PROVIDER}");
    let mut account = gcp.external_account(&audience, Some(GCP_SERVICE_ACCOUNT));
    account["service_account_impersonation_url"] = json!(format!(
        "https://attacker.example/v1/projects/-/serviceAccounts/{GCP_SERVICE_ACCOUNT}:generateAccessToken"
    ));
    std::fs::write(&file, account.to_string()).unwrap();
    let mut extra = gcp_env(&gcp);
    extra.retain(|(k, _)| !k.ends_with("_IAMCREDENTIALS"));
    extra.push((
        "GOOGLE_APPLICATION_CREDENTIALS".into(),
        file.display().to_string(),
    ));
    extra.push(("HTTPS_PROXY".into(), proxy.url.clone()));
    let ran = step.run_keyless(bin(), &gh.url(), &[("gcp-kms-key", GCP_KEY_VERSION)], extra);
    assert_eq!(ran.code, 1, "{}", ran.stdout);
    let error = ran.line("::error");
    assert!(
        error.contains("`GOOGLE_APPLICATION_CREDENTIALS` names a file that has a `service_account_impersonation_url` that names the host attacker.example"),
        "{error}"
    );
    assert!(error.contains("iamcredentials.googleapis.com"), "{error}");
    assert!(
        error.contains("CLOUDSDK_API_ENDPOINT_OVERRIDES_IAMCREDENTIALS"),
        "{error}"
    );
    // Nothing was asked of anyone: not the runner's OIDC endpoint, not STS, no tunnel.
    assert!(gcp.seen().is_empty(), "{:?}", gcp.seen());
    assert_eq!(proxy.targets(), Vec::<String>::new(), "{:?}", proxy.heads());
    any.assert_calls(0);
    assert_no_secret(&ran.stdout);
}

/// A FIFO at `path`.
fn fifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a NUL-terminated path and a mode; mkfifo touches nothing else.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

/// Runs the main step with `GOOGLE_APPLICATION_CREDENTIALS` naming a FIFO that nobody
/// writes. Should the step open it and wait, a writer comes after `patience` and closes
/// it at once (an empty file), so that the test ends either way; the step must have
/// ended before.
fn with_a_fifo(step: &Step, gh: &FakeGitHub, inputs: &[(&str, &str)], keyless: bool) -> Ran {
    let patience = std::time::Duration::from_secs(20);
    let path = step.file("gha-creds-fifo.json");
    fifo(&path);
    let writer_path = path.clone();
    std::thread::spawn(move || {
        std::thread::sleep(patience);
        // Opened only if a reader waits on it (no reader: ENXIO), so it never blocks.
        let _ = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(writer_path);
    });
    let extra = vec![(
        "GOOGLE_APPLICATION_CREDENTIALS".to_string(),
        path.display().to_string(),
    )];
    let started = std::time::Instant::now();
    let ran = if keyless {
        step.run_keyless(bin(), &gh.url(), inputs, extra)
    } else {
        let mut env = step.env(&gh.url(), inputs);
        env.extend(extra);
        run_binary(bin(), &[], &env, "")
    };
    assert!(
        started.elapsed() < patience,
        "the step waited on the FIFO for {:?}: {}",
        started.elapsed(),
        ran.stdout
    );
    ran
}

use std::os::unix::fs::OpenOptionsExt as _;

#[test]
fn googles_credentials_variable_is_not_read_for_another_key_source() {
    let gh = FakeGitHub::start();
    let flow = gh.flow("acme", &["site"], &[], &[(11, "site")], None);
    let step = Step::new();
    // The PEM signs; the variable, naming a FIFO, is not even opened.
    let ran = with_a_fifo(&step, &gh, &[("repositories", "site")], false);
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    assert_eq!(step.outputs()["token"], FINAL_TOKEN);
    flow.final_token.assert_calls(1);
}

#[test]
fn googles_credentials_file_must_be_a_small_regular_file() {
    let gh = FakeGitHub::start();
    let any = gh.catch_all();
    // A FIFO: refused at once, naming the variable, rather than waited on.
    let step = Step::new();
    let ran = with_a_fifo(&step, &gh, &[("gcp-kms-key", GCP_KEY_VERSION)], true);
    assert_eq!(ran.code, 1, "{}", ran.stdout);
    let error = ran.line("::error");
    assert!(
        error.contains(
            "`GOOGLE_APPLICATION_CREDENTIALS` names a file that cannot be read (not a regular file"
        ),
        "{error}"
    );
    // A file over 64 KiB (an external_account file is under 2 KiB), and a device.
    let big = step.file("gha-creds-big.json");
    std::fs::write(&big, format!("{{\"type\":\"{}\"}}", "x".repeat(70 * 1024))).unwrap();
    for (path, why) in [
        (big.display().to_string(), "larger than 64 KiB"),
        ("/dev/zero".to_string(), "not a regular file"),
    ] {
        let extra = vec![("GOOGLE_APPLICATION_CREDENTIALS".to_string(), path.clone())];
        let ran = step.run_keyless(bin(), &gh.url(), &[("gcp-kms-key", GCP_KEY_VERSION)], extra);
        assert_eq!(ran.code, 1, "{}", ran.stdout);
        let error = ran.line("::error");
        assert!(
            error.contains("`GOOGLE_APPLICATION_CREDENTIALS` names a file that cannot be read")
                && error.contains(why),
            "{path}: {error}"
        );
    }
    any.assert_calls(0);
}

/// The token agent signs for hours with one signer: the access token is used while it
/// has time left, and had again (a new OIDC token, STS, and IAM credentials when a
/// service account is impersonated) when it has run out: through a service account its
/// end is IAM's `expireTime`, without one STS's `expires_in`.
#[test]
fn the_access_token_is_had_again_when_it_runs_out_and_not_before() {
    use app_token::sign::{gcp, oidc::OidcRequest, Secret, Service};
    let stand_ins = [Some(GCP_SERVICE_ACCOUNT), None].map(|account| {
        GcpStandIn::start(GcpExpect {
            service_account: account.map(str::to_string),
            token_lifetime: Some(SHORT_LIFETIME_SECS),
            ..GcpExpect::default()
        })
    });
    let keys = stand_ins.each_ref().map(|g| {
        let base = format!("{}/", g.url);
        ServiceSigner::new(Service::Gcp(gcp::Settings {
            key_version: GCP_KEY_VERSION.into(),
            credentials: gcp::Credentials::WorkloadIdentity {
                provider: GCP_PROVIDER.into(),
                service_account: g.expect.service_account.clone(),
                oidc: OidcRequest {
                    url: g.oidc_url(),
                    token: Secret::new(GCP_REQUEST_TOKEN),
                },
            },
            endpoints: gcp::Endpoints {
                sts: base.clone(),
                iamcredentials: base.clone(),
                cloudkms: base,
            },
        }))
    });
    let first: Vec<(String, String)> = keys.iter().map(|k| (k.sign(), k.sign())).collect();
    for g in &stand_ins {
        assert_eq!(
            (g.calls("oidc"), g.calls("sts")),
            (1, 1),
            "one token for both"
        );
    }
    std::thread::sleep(PAST_EXPIRY);
    for ((key, g), (one, two)) in keys.iter().zip(&stand_ins).zip(&first) {
        let three = key.sign();
        assert_verify(&[one, two, &three], PUBLIC_KEY);
        let impersonates = g.expect.service_account.is_some();
        let exchanges = (g.calls("oidc"), g.calls("sts"), g.calls("iam"));
        let iam = if impersonates { 2 } else { 0 };
        assert_eq!(exchanges, (2, 2, iam), "had again: {:?}", g.seen());
        assert_eq!(g.calls("kms"), 3);
        // Each token masked again as it came.
        assert_eq!(key.times_masked(FEDERATED_TOKEN), 2);
        assert_eq!(key.times_masked(SERVICE_ACCOUNT_TOKEN), iam);
    }
}
