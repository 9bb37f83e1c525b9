//! Keyless on HashiCorp Vault: the app's JWT signed by a transit key, reached with a token from JWT auth (the job's OIDC token) or from the environment, against a stand-in held to hvac, and a fake GitHub that verifies the JWT with the key's public half.

use app_token::excerpt::excerpt_name;

use crate::common::oidc::{
    assert_claims_debugged, error_lines, id_token, shown_claims, FakeOidc, BOTH_FORMATS,
    ID_TOKEN_REQUEST_TOKEN, OIDC_DEFAULT_AUDIENCE, OIDC_SUBJECT, OIDC_SUBJECT_IMMUTABLE,
    SAID_IMMUTABLE,
};
use crate::common::vault::*;
use crate::common::*;

/// hvac, as a workflow's Python would use it.
const HVAC: &str = r#"
import base64, os
import hvac
from hvac.exceptions import InvalidRequest, Forbidden

client = hvac.Client(url=os.environ["VAULT"], namespace=os.environ["NAMESPACE"])
login = client.auth.jwt.jwt_login(role=os.environ["ROLE"], jwt=os.environ["JWT"], path="jwt")
client.token = login["auth"]["client_token"]
print("TOKEN=" + client.token)
try:
    client.auth.jwt.jwt_login(role=os.environ["ROLE"], jwt=os.environ["WRONG_AUDIENCE"], path="jwt")
except InvalidRequest as e:
    print("WRONG_AUDIENCE=" + "; ".join(e.errors))
try:
    client.auth.jwt.jwt_login(role=os.environ["ROLE"], jwt=os.environ["WRONG_SUBJECT"], path="jwt")
except InvalidRequest as e:
    print("WRONG_SUBJECT=" + "; ".join(e.errors))
message = os.environ["MESSAGE"].encode()
signed = client.secrets.transit.sign_data(
    name=os.environ["KEY"], hash_input=base64.b64encode(message).decode(), hash_algorithm="sha2-256",
    signature_algorithm="pkcs1v15", marshaling_algorithm="jws", mount_point="transit")
print("SIGNATURE=" + signed["data"]["signature"])
try:
    client.secrets.transit.sign_data(name="no-such-key", hash_input=base64.b64encode(message).decode(),
                                     hash_algorithm="sha2-256", mount_point="transit")
except InvalidRequest as e:
    print("MISSING=" + "; ".join(e.errors))
client.auth.token.revoke_self()
try:
    client.secrets.transit.sign_data(name=os.environ["KEY"], hash_input=base64.b64encode(message).decode(),
                                     mount_point="transit")
except Forbidden as e:
    print("AFTER_REVOKE=" + "; ".join(e.errors))
"#;

#[test]
fn the_stand_in_answers_hvac() {
    let Some(python) = clients_python("the_stand_in_answers_hvac") else {
        return;
    };
    let vault = FakeVault::start();
    vault.in_namespace("admin/ci").rotated_to_the_apps_key();
    let message = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiIxMjM0NTYifQ";
    let env: Vec<(&str, String)> = vec![
        ("VAULT", vault.url()),
        ("NAMESPACE", "admin/ci".into()),
        ("ROLE", VAULT_ROLE.into()),
        ("JWT", id_token(OIDC_DEFAULT_AUDIENCE, OIDC_SUBJECT)),
        (
            "WRONG_AUDIENCE",
            id_token("sts.amazonaws.com", OIDC_SUBJECT),
        ),
        // The role's bound_subject is the classic one.
        (
            "WRONG_SUBJECT",
            id_token(OIDC_DEFAULT_AUDIENCE, OIDC_SUBJECT_IMMUTABLE),
        ),
        ("KEY", VAULT_KEY_NAME.into()),
        ("MESSAGE", message.into()),
    ];
    let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.push(("REQUESTS_CA_BUNDLE", HTTPMOCK_CA));
    let client = run_python(&python, HVAC, &env);
    assert_eq!(client.code, 0, "{}\n{}", client.stdout, client.stderr);
    let tokens = vault.login_tokens();
    assert_eq!(tokens.len(), 1);
    assert_eq!(client.value("TOKEN"), tokens[0].0);
    assert!(tokens[0].1, "revoke-self revoked it");
    assert!(client
        .value("WRONG_AUDIENCE")
        .contains("invalid audience (aud) claim"));
    assert_eq!(
        client.value("WRONG_SUBJECT"),
        "error validating token: invalid subject (sub) claim"
    );
    // The rotated key's latest version signs, with the app's key, as a JWS signature.
    let signature = client.value("SIGNATURE");
    let jws = signature.strip_prefix("vault:v2:").expect("version 2");
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(PUBLIC_KEY.as_bytes()).unwrap();
    assert!(jsonwebtoken::crypto::verify(
        jws,
        message.as_bytes(),
        &key,
        jsonwebtoken::Algorithm::RS256
    )
    .unwrap());
    assert_eq!(client.value("MISSING"), "signing key not found");
    assert_eq!(client.value("AFTER_REVOKE"), "permission denied");
    // hvac sent the namespace header with every request.
    assert!(vault
        .seen()
        .iter()
        .all(|s| s.namespace.as_deref() == Some("admin/ci")));
}

/// No secret anywhere in `text` but in the `::add-mask::` lines that hide it.
fn assert_no_secret(text: &str, secrets: &[String]) {
    for line in text.lines().filter(|l| !l.starts_with("::add-mask::")) {
        for secret in secrets
            .iter()
            .map(String::as_str)
            .chain([VAULT_STATIC_TOKEN, ID_TOKEN_REQUEST_TOKEN])
        {
            assert!(!line.contains(secret), "a secret in the log: {line}");
        }
    }
}

/// Every secret the step came to hold: the OIDC tokens and the login tokens.
fn secrets(oidc: &FakeOidc, vault: &FakeVault) -> Vec<String> {
    let mut all: Vec<String> = oidc.issued().into_iter().map(|(_, t)| t).collect();
    all.extend(vault.login_tokens().into_iter().map(|(t, _)| t));
    all
}

/// A step that logs in with `vault-role` and signs with the transit key.
fn role_step(
    vault: &FakeVault,
    oidc: &FakeOidc,
    gh: &FakeGitHub,
    step: &Step,
    more: &[(&str, &str)],
) -> Ran {
    let url = vault.url();
    let mut inputs = vec![
        ("vault-transit-key", VAULT_KEY_NAME),
        ("vault-url", url.as_str()),
        ("vault-role", VAULT_ROLE),
    ];
    inputs.extend_from_slice(more);
    step.run_keyless(bin(), &gh.url(), &inputs, oidc.env())
}

#[test]
fn a_token_minted_with_a_transit_key_after_a_jwt_login_whose_token_is_revoked() {
    let vault = FakeVault::start();
    let oidc = FakeOidc::start();
    let gh = FakeGitHub::start();
    let flow = gh.flow("acme", &["site"], &[], &[(11, "site")], None);
    let step = Step::new();
    let ran = role_step(&vault, &oidc, &gh, &step, &[]);
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    assert_eq!(step.outputs()["token"], FINAL_TOKEN);
    flow.lookup.assert_calls(1);
    flow.final_token.assert_calls(1);
    // The OIDC token was asked with GitHub's default audience, which the role binds.
    let issued = oidc.issued();
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0].0, OIDC_DEFAULT_AUDIENCE);
    // Login, one signature, then the login's token revoked as the step ends.
    let seen = vault.seen();
    let paths: Vec<&str> = seen.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "auth/jwt/login",
            "transit/sign/github-app/sha2-256",
            "auth/token/revoke-self"
        ]
    );
    let login = seen[0].json.as_ref().expect("a JSON login");
    assert_eq!(login["role"], VAULT_ROLE);
    assert_eq!(login["jwt"], issued[0].1.as_str());
    let sign = seen[1].json.as_ref().expect("a JSON sign");
    assert_eq!(sign["signature_algorithm"], "pkcs1v15");
    assert_eq!(sign["marshaling_algorithm"], "jws");
    let tokens = vault.login_tokens();
    assert_eq!(tokens.len(), 1);
    assert_eq!(seen[1].token.as_deref(), Some(tokens[0].0.as_str()));
    assert_eq!(seen[2].token.as_deref(), Some(tokens[0].0.as_str()));
    assert!(tokens[0].1, "the login's token is revoked");
    for secret in [&issued[0].1, &tokens[0].0] {
        assert!(ran.stdout.contains(&format!("::add-mask::{secret}")));
    }
    assert_no_secret(&ran.stdout, &secrets(&oidc, &vault));
    assert_no_secret(&ran.stderr, &secrets(&oidc, &vault));
}

#[test]
fn the_signature_github_received_is_masked_as_the_jwt_carries_it() {
    let vault = FakeVault::start();
    let oidc = FakeOidc::start();
    let gh = FakeGitHub::start();
    let bearers = gh.bearers();
    gh.flow("acme", &["site"], &[], &[(11, "site")], None);
    let ran = role_step(&vault, &oidc, &gh, &Step::new(), &[]);
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    // Vault answers `vault:v1:SIGNATURE`; the JWT carries SIGNATURE.
    assert_jwt_signatures_masked(&ran.stdout, &bearers);
    assert!(
        !ran.stdout.contains("::add-mask::vault:v"),
        "a mask of what no log will show:\n{}",
        ran.stdout
    );
}

#[test]
fn a_rotated_key_signs_with_its_latest_version() {
    let vault = FakeVault::start();
    vault.rotated_to_the_apps_key();
    let oidc = FakeOidc::start();
    let gh = FakeGitHub::start();
    let flow = gh.flow("acme", &["site"], &[], &[(11, "site")], None);
    let ran = role_step(&vault, &oidc, &gh, &Step::new(), &[]);
    assert_eq!(ran.code, 0, "{}", ran.stdout);
    // `vault:v2:`: the fake GitHub verified the signature of version 2, the app's key.
    flow.final_token.assert_calls(1);
}

#[test]
fn an_oidc_audience_the_role_does_not_bind_is_refused_and_named() {
    let vault = FakeVault::start();
    let oidc = FakeOidc::start();
    let gh = FakeGitHub::start();
    let any = gh.catch_all();
    let step = Step::new();
    let ran = role_step(
        &vault,
        &oidc,
        &gh,
        &step,
        &[("vault-audience", VAULT_AUDIENCE)],
    );
    assert_eq!(ran.code, 1, "{}", ran.stdout);
    any.assert_calls(0);
    assert!(step.outputs().is_empty());
    assert_eq!(oidc.issued()[0].0, VAULT_AUDIENCE);
    let error = ran.line("::error");
    assert!(
        error.contains("invalid audience (aud) claim"),
        "Vault's own words: {error}"
    );
    assert!(error.contains(VAULT_AUDIENCE), "the audience: {error}");
    assert!(error.contains(VAULT_ROLE), "{error}");
    assert_no_secret(&ran.stdout, &secrets(&oidc, &vault));
    // Bound, the same audience logs in.
    vault.bind_audiences(&[VAULT_AUDIENCE]);
    let gh = FakeGitHub::start();
    gh.flow("acme", &["site"], &[], &[(11, "site")], None);
    let ran = role_step(
        &vault,
        &oidc,
        &gh,
        &Step::new(),
        &[("vault-audience", VAULT_AUDIENCE)],
    );
    assert_eq!(ran.code, 0, "{}", ran.stdout);
}

#[test]
fn a_role_that_refuses_the_jobs_token_is_shown_its_claims_and_a_role_that_admits_it() {
    // The role's bound_subject was written for the classic format; the repository's
    // tokens now carry the immutable one.
    let vault = FakeVault::start();
    vault.bind_subject(OIDC_SUBJECT);
    let oidc = FakeOidc::with_subject(OIDC_SUBJECT_IMMUTABLE);
    let gh = FakeGitHub::start();
    let any = gh.catch_all();
    let step = Step::new();
    let ran = role_step(&vault, &oidc, &gh, &step, &[]);
    assert_eq!(ran.code, 1, "{}", ran.stdout);
    any.assert_calls(0);
    assert!(step.outputs().is_empty());
    assert!(vault.login_tokens().is_empty());
    let lines = error_lines(&ran.stdout);
    assert!(
        lines[0].contains("Vault JWT login failed: Bad Request: error validating token: invalid subject (sub) claim (HTTP 400)"),
        "Vault's own words first: {lines:?}"
    );
    assert_eq!(
        lines[1..],
        [
            shown_claims(OIDC_DEFAULT_AUDIENCE, OIDC_SUBJECT_IMMUTABLE).as_str(),
            SAID_IMMUTABLE,
            r#"A JWT auth role that admits this job: {"bound_audiences":["https://github.com/acme"],"bound_subject":"repo:acme@4242/site@90210:ref:refs/heads/main"}"#,
            r#"To admit it under either sub format, bind the repository's id instead of the subject: {"bound_audiences":["https://github.com/acme"],"bound_claims":{"ref":"refs/heads/main","repository_id":"90210"},"bound_subject":""}"#,
        ],
    );
    assert!(!ran.stdout.contains("::debug::"), "{}", ran.stdout);
    assert_no_secret(&ran.stdout, &secrets(&oidc, &vault));
    // A role bound to another repository's id is refused by its bound claims, and shown
    // the same.
    vault
        .bind_subject("")
        .bind_claims(&[("repository_id", &["1"])]);
    let gh = FakeGitHub::start();
    let ran = role_step(&vault, &oidc, &gh, &Step::new(), &[]);
    assert_eq!(ran.code, 1, "{}", ran.stdout);
    let lines = error_lines(&ran.stdout);
    assert!(
        lines[0].ends_with("Vault JWT login failed: Bad Request: error validating claims: claim \"repository_id\" does not match any associated bound claim values (HTTP 400)"),
        "{lines:?}"
    );
    assert_eq!(
        lines[1],
        shown_claims(OIDC_DEFAULT_AUDIENCE, OIDC_SUBJECT_IMMUTABLE)
    );
}

#[test]
fn a_role_bound_to_the_repositorys_id_admits_both_formats_and_debug_logs_the_claims() {
    let vault = FakeVault::start();
    // The role the refusal offers for either format.
    vault
        .bind_subject("")
        .bind_claims(&[("repository_id", &["90210"]), ("ref", &["refs/heads/main"])]);
    for (subject, format) in BOTH_FORMATS {
        let oidc = FakeOidc::with_subject(subject);
        let gh = FakeGitHub::start();
        gh.flow("acme", &["site"], &[], &[(11, "site")], None);
        let step = Step::new();
        let url = vault.url();
        let mut env = oidc.env();
        env.push(("RUNNER_DEBUG".into(), "1".into()));
        let ran = step.run_keyless(
            bin(),
            &gh.url(),
            &[
                ("vault-transit-key", VAULT_KEY_NAME),
                ("vault-url", url.as_str()),
                ("vault-role", VAULT_ROLE),
            ],
            env,
        );
        assert_eq!(ran.code, 0, "{subject}: {}", ran.stdout);
        assert_eq!(step.outputs()["token"], FINAL_TOKEN);
        let exchange = "Vault JWT login";
        assert_claims_debugged(
            &ran.stdout,
            exchange,
            OIDC_DEFAULT_AUDIENCE,
            subject,
            format,
        );
        assert_no_secret(&ran.stdout, &secrets(&oidc, &vault));
    }
}

/// Names as long as the bounds let them be (1024 bytes), though no real one is, are
/// quoted as excerpts: the error says what was asked, and not all of it.
#[test]
fn long_names_are_quoted_as_excerpts() {
    let vault = FakeVault::start();
    let oidc = FakeOidc::start();
    let gh = FakeGitHub::start();
    let any = gh.catch_all();
    let audience = format!("https://{}", "a".repeat(1000));
    let mount = "m".repeat(1000);
    let ran = role_step(
        &vault,
        &oidc,
        &gh,
        &Step::new(),
        &[
            ("vault-audience", &audience),
            ("vault-transit-mount", &mount),
        ],
    );
    assert_eq!(ran.code, 1, "{}", ran.stdout);
    any.assert_calls(0);
    let error = ran.line("::error");
    assert!(error.contains("invalid audience (aud) claim"), "{error}");
    assert!(
        error.contains(&format!("(audience {}:", excerpt_name(&audience))),
        "{error}"
    );
    let key = format!("{mount}/{VAULT_KEY_NAME}");
    assert!(
        error.contains(&format!("Vault transit key {}:", excerpt_name(&key))),
        "{error}"
    );
    assert!(
        !error.contains(&audience) && !error.contains(&mount),
        "{error}"
    );
}

#[test]
fn a_missing_key_fails_with_vaults_words_and_the_login_is_still_revoked() {
    let vault = FakeVault::start();
    let oidc = FakeOidc::start();
    let gh = FakeGitHub::start();
    let any = gh.catch_all();
    let url = vault.url();
    let step = Step::new();
    let ran = step.run_keyless(
        bin(),
        &gh.url(),
        &[
            ("vault-transit-key", "no-such-key"),
            ("vault-url", &url),
            ("vault-role", VAULT_ROLE),
        ],
        oidc.env(),
    );
    assert_eq!(ran.code, 1, "{}", ran.stdout);
    any.assert_calls(0);
    let error = ran.line("::error");
    assert!(
        error.contains("Vault transit key transit/no-such-key"),
        "{error}"
    );
    assert!(
        error.contains("signing key not found"),
        "Vault's words: {error}"
    );
    let tokens = vault.login_tokens();
    assert!(tokens[0].1, "revoked after the failure too");
    assert_no_secret(&ran.stdout, &secrets(&oidc, &vault));
}

#[test]
fn vault_token_from_the_environment_is_used_and_left_alone() {
    let vault = FakeVault::start();
    let gh = FakeGitHub::start();
    let flow = gh.flow("acme", &["site"], &[], &[(11, "site")], None);
    let step = Step::new();
    // No OIDC token at all, and Vault's address from VAULT_ADDR.
    let ran = step.run_keyless(
        bin(),
        &gh.url(),
        &[("vault-transit-key", VAULT_KEY_NAME)],
        vec![
            ("VAULT_ADDR".into(), vault.url()),
            ("VAULT_TOKEN".into(), VAULT_STATIC_TOKEN.into()),
        ],
    );
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    flow.final_token.assert_calls(1);
    let paths: Vec<String> = vault.seen().into_iter().map(|s| s.path).collect();
    assert_eq!(paths, ["transit/sign/github-app/sha2-256"]);
    assert!(vault.static_token_valid(), "not ours to revoke");
    assert!(ran
        .stdout
        .contains(&format!("::add-mask::{VAULT_STATIC_TOKEN}")));
    assert_no_secret(&ran.stdout, &[]);
}

#[test]
fn the_namespace_goes_in_x_vault_namespace() {
    let vault = FakeVault::start();
    vault.in_namespace("admin/ci");
    let oidc = FakeOidc::start();
    let gh = FakeGitHub::start();
    let flow = gh.flow("acme", &["site"], &[], &[(11, "site")], None);
    let ran = role_step(
        &vault,
        &oidc,
        &gh,
        &Step::new(),
        &[("vault-namespace", "admin/ci")],
    );
    assert_eq!(ran.code, 0, "{}", ran.stdout);
    flow.final_token.assert_calls(1);
    assert!(vault
        .seen()
        .iter()
        .all(|s| s.namespace.as_deref() == Some("admin/ci")));
    // Without it, the mounts are not found, in Vault's words.
    let gh = FakeGitHub::start();
    let ran = role_step(&vault, &oidc, &gh, &Step::new(), &[]);
    assert_eq!(ran.code, 1, "{}", ran.stdout);
    let error = ran.line("::error");
    assert!(error.contains("no handler for route"), "{error}");
}

#[test]
fn the_command_line_mints_and_signs_jwts_with_a_transit_key() {
    let vault = FakeVault::start();
    let gh = FakeGitHub::start();
    gh.flow("acme", &["site"], &[], &[(11, "site")], None);
    let env = vec![
        ("VAULT_ADDR".to_string(), vault.url()),
        ("VAULT_TOKEN".to_string(), VAULT_STATIC_TOKEN.to_string()),
    ];
    let url = gh.url();
    let args = [
        "--app-id",
        APP_ID,
        "--vault-transit-key",
        VAULT_KEY_NAME,
        "--repositories",
        "acme/site",
        "--api-url",
        &url,
    ];
    let ran = run_binary(bin(), &args, &env, "");
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(ran.stdout.trim(), FINAL_TOKEN);
    assert_no_secret(&ran.stderr, &[]);
    let ran = run_binary(
        bin(),
        &[
            "jwt",
            "--app-id",
            APP_ID,
            "--vault-transit-key",
            VAULT_KEY_NAME,
        ],
        &env,
        "",
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let (_, _, iss) = jwt_claims(ran.stdout.trim()).expect("a JWT the app's public key verifies");
    assert_eq!(iss, APP_ID);
}

/// A login whose answer is lost (Vault issued a token, the step never saw it) is not
/// sent again: a second login would leave the first token unrevoked while the step goes
/// on. The step fails, saying so, with one login made.
#[test]
fn a_login_whose_answer_is_lost_is_not_sent_again() {
    let vault = FakeVault::start();
    let relay = AnswerLosingRelay::start(&vault.server.address().to_string());
    let oidc = FakeOidc::start();
    let gh = FakeGitHub::start();
    let any = gh.catch_all();
    let step = Step::new();
    let inputs = [
        ("vault-transit-key", VAULT_KEY_NAME),
        ("vault-url", relay.url.as_str()),
        ("vault-role", VAULT_ROLE),
    ];
    let ran = step.run_keyless(bin(), &gh.url(), &inputs, oidc.env());
    assert_eq!(ran.code, 1, "{}", ran.stdout);
    let error = ran.line("::error");
    assert!(
        error.contains("Vault JWT login failed: no answer"),
        "{error}"
    );
    assert!(error.contains("not sent again"), "{error}");
    // Vault saw one login, and issued one token; nothing was signed.
    let paths: Vec<String> = vault.seen().into_iter().map(|s| s.path).collect();
    assert_eq!(paths, ["auth/jwt/login"]);
    assert_eq!(vault.login_tokens().len(), 1);
    assert_eq!(relay.connections(), 1);
    any.assert_calls(0);
    assert_no_secret(&ran.stdout, &secrets(&oidc, &vault));
}

/// Ctrl-C while the command line's token request waits for GitHub's answer, signing with
/// a Vault login whose `revoke-self` hangs: GitHub's token is revoked as soon as its
/// answer comes, and only then does the login's clean-up get its 5 s. It was the other
/// way round: the DELETE came 5.0 s after SIGINT.
#[test]
fn on_ctrl_c_the_command_line_revokes_githubs_token_before_ending_signing() {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    let vault = FakeVault::with_revoke_self_hanging(Duration::from_secs(30));
    let oidc = FakeOidc::start();
    let gh = FakeGitHub::start();
    gh.account_installation("acme", INSTALLATION);
    gh.bot_user();
    let answer_after = Duration::from_millis(300);
    let minting = gh.server.mock(|when, then| {
        when.method(httpmock::Method::POST)
            .path(format!("/app/installations/{INSTALLATION}/access_tokens"));
        then.status(201).delay(answer_after).github_json(token_json(
            FINAL_TOKEN,
            &[],
            &installation_permissions(),
        ));
    });
    let revoked = gh.revoke(FINAL_TOKEN);
    let (vault_url, url) = (vault.url(), gh.url());
    let child = Command::new(BIN)
        .args([
            "--app-id",
            APP_ID,
            "--vault-transit-key",
            VAULT_KEY_NAME,
            "--vault-url",
            &vault_url,
            "--vault-role",
            VAULT_ROLE,
            "--owner",
            "acme",
            "--api-url",
            &url,
        ])
        .env_clear()
        .envs(oidc.env())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let waiting = Instant::now();
    while minting.calls() == 0 {
        assert!(
            waiting.elapsed() < Duration::from_secs(20),
            "no token request"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let sent = Instant::now();
    while revoked.calls() == 0 && sent.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let took = sent.elapsed();
    let out = child.wait_with_output().expect("the binary's output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("SIGINT to GitHub's DELETE of the token: {took:?}");
    revoked.assert_calls(1);
    assert!(
        took < Duration::from_secs(1),
        "the token was revoked {took:?} after SIGINT (its answer came {answer_after:?} after the request): {stderr}"
    );
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "", "no token printed");
    // The login's clean-up was tried after that, and cut short at its bound.
    assert!(stderr.contains("did not finish within 5 s"), "{stderr}");
    assert_no_secret(&stderr, &secrets(&oidc, &vault));
}

/// One signer over the transit key, logging in with the job's OIDC token.
fn renewing_signer(vault: &FakeVault, oidc: &FakeOidc) -> ServiceSigner {
    use app_token::sign::{oidc::OidcRequest, vault, Secret, Service};
    ServiceSigner::new(Service::Vault(vault::Settings {
        url: vault.url(),
        mount: "transit".into(),
        key: VAULT_KEY_NAME.into(),
        namespace: None,
        auth: vault::Auth::Jwt {
            role: VAULT_ROLE.into(),
            path: "jwt".into(),
            audience: None,
            oidc: OidcRequest {
                url: oidc.env()[0].1.clone(),
                token: Secret::new(ID_TOKEN_REQUEST_TOKEN),
            },
        },
    }))
}

/// The token agent signs for hours with one signer: a login's token is used while it has
/// time left, and near the end of its lease (a quarter of its TTL left) a new login
/// replaces it and it is revoked; the last one is revoked at the end.
#[test]
fn a_logins_token_is_replaced_near_the_end_of_its_lease_and_revoked() {
    let vault = FakeVault::start();
    // 8 s: renewed with 2 s left, while the replaced token can still revoke itself.
    vault.token_ttl(8);
    let oidc = FakeOidc::start();
    let key = renewing_signer(&vault, &oidc);
    // Two signatures in a row: one login.
    let (first, second) = (key.sign(), key.sign());
    assert_eq!(vault.login_tokens().len(), 1);
    std::thread::sleep(std::time::Duration::from_millis(6500));
    let third = key.sign();
    assert_verify(&[&first, &second, &third], PUBLIC_KEY);
    let tokens = vault.login_tokens();
    assert_eq!(tokens.len(), 2, "a second login: {tokens:?}");
    assert_eq!(
        (tokens[0].1, tokens[1].1),
        (true, false),
        "the replaced token is revoked, the new one kept"
    );
    // Each login with a new OIDC token, each token masked as it came.
    let issued = oidc.issued();
    assert_eq!(issued.len(), 2);
    assert_ne!(issued[0].1, issued[1].1);
    for secret in issued
        .iter()
        .map(|i| &i.1)
        .chain(tokens.iter().map(|t| &t.0))
    {
        assert_eq!(key.times_masked(secret), 1, "masked once");
    }
    key.finish().expect("the last token revoked");
    assert!(vault.login_tokens().iter().all(|t| t.1), "all revoked");
    let seen = vault.seen();
    let calls: Vec<(&str, Option<&str>)> = seen
        .iter()
        .map(|s| (s.path.as_str(), s.token.as_deref()))
        .collect();
    let (one, two) = (Some(tokens[0].0.as_str()), Some(tokens[1].0.as_str()));
    let sign = "transit/sign/github-app/sha2-256";
    assert_eq!(
        calls,
        [
            ("auth/jwt/login", None),
            (sign, one),
            (sign, one),
            ("auth/jwt/login", None),
            ("auth/token/revoke-self", one),
            (sign, two),
            ("auth/token/revoke-self", two),
        ]
    );
}

/// A signer that waited past the end of its token's lease (the agent signs every ~40
/// minutes; a role's TTL may be shorter): a new login, and no revocation of the token
/// Vault has let run out (it is gone, and revoke-self would be refused).
#[test]
fn a_token_past_its_lease_is_replaced_and_not_revoked() {
    let vault = FakeVault::start();
    vault.token_ttl(2);
    let oidc = FakeOidc::start();
    let key = renewing_signer(&vault, &oidc);
    let first = key.sign();
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let second = key.sign();
    assert_verify(&[&first, &second], PUBLIC_KEY);
    key.finish().expect("the last token revoked");
    let paths: Vec<String> = vault.seen().into_iter().map(|s| s.path).collect();
    let sign = "transit/sign/github-app/sha2-256";
    assert_eq!(
        paths,
        [
            "auth/jwt/login",
            sign,
            "auth/jwt/login",
            sign,
            "auth/token/revoke-self"
        ]
    );
    let tokens = vault.login_tokens();
    assert_eq!(tokens.len(), 2);
    assert!(tokens[1].1, "the last token revoked");
}
