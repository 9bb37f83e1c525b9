//! Keyless on Azure: the app's JWT signed by a key in Azure Key Vault, reached with the job's OIDC token traded at Entra ID (or a client secret), against stand-ins held to azure-identity and azure-keyvault-keys, and a fake GitHub that verifies the JWT with the vault key's public half.

use crate::common::azure::*;
use crate::common::oidc::{
    assert_claims_debugged, error_lines, id_token, shown_claims, FakeOidc, BOTH_FORMATS,
    ID_TOKEN_REQUEST_TOKEN, OIDC_SUBJECT, OIDC_SUBJECT_IMMUTABLE, SAID_IMMUTABLE,
};
use crate::common::*;

/// azure-identity and azure-keyvault-keys, as a workflow's Python would use them.
const AZURE_SDK: &str = r#"
import base64, hashlib, os, sys
from azure.identity import ClientAssertionCredential, ClientSecretCredential
from azure.keyvault.keys.crypto import CryptographyClient, SignatureAlgorithm
from azure.core.exceptions import ResourceNotFoundError, ClientAuthenticationError

authority, tenant, client_id = os.environ["AUTHORITY"], os.environ["TENANT"], os.environ["CLIENT_ID"]
assertion = os.environ["ASSERTION"]
federated = ClientAssertionCredential(tenant, client_id, lambda: assertion, authority=authority)
print("ASSERTION_TOKEN=" + federated.get_token("https://vault.azure.net/.default").token)
secret = ClientSecretCredential(tenant, client_id, os.environ["SECRET"], authority=authority,
                                disable_instance_discovery=True)
print("SECRET_TOKEN=" + secret.get_token("https://vault.azure.net/.default").token)
try:
    ClientSecretCredential(tenant, client_id, "wrong", authority=authority,
                           disable_instance_discovery=True).get_token("https://vault.azure.net/.default")
except ClientAuthenticationError as e:
    print("WRONG_SECRET=" + str(e.message).splitlines()[0])
for name in ("WRONG_AUDIENCE", "WRONG_SUBJECT"):
    try:
        ClientAssertionCredential(tenant, client_id, lambda: os.environ[name],
                                  authority=authority).get_token("https://vault.azure.net/.default")
    except ClientAuthenticationError as e:
        print(name + "=" + str(e.message).splitlines()[0])

digest = hashlib.sha256(os.environ["MESSAGE"].encode()).digest()
for name, key_id in (("CURRENT", os.environ["KEY_ID"]), ("VERSIONED", os.environ["KEY_ID_VERSIONED"])):
    crypto = CryptographyClient(key_id, federated, verify_challenge_resource=False)
    result = crypto.sign(SignatureAlgorithm.rs256, digest)
    print(name + "_SIGNATURE=" + base64.urlsafe_b64encode(result.signature).decode().rstrip("="))
    print(name + "_KID=" + result.key_id)
try:
    CryptographyClient(os.environ["MISSING_KEY_ID"], federated, verify_challenge_resource=False).sign(
        SignatureAlgorithm.rs256, digest)
except ResourceNotFoundError as e:
    print("MISSING=" + str(e.error.code) + ": " + str(e.error.message))
"#;

#[test]
fn the_stand_in_answers_azure_identity_and_azure_keyvault_keys() {
    let Some(python) =
        clients_python("the_stand_in_answers_azure_identity_and_azure_keyvault_keys")
    else {
        return;
    };
    let azure = FakeAzure::start();
    let message = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiIxMjM0NTYifQ";
    let env: Vec<(&str, String)> = vec![
        ("AUTHORITY", azure.https_url()),
        ("TENANT", AZURE_TENANT.into()),
        ("CLIENT_ID", AZURE_CLIENT_ID.into()),
        ("SECRET", AZURE_CLIENT_SECRET.into()),
        (
            "ASSERTION",
            id_token(AZURE_FEDERATED_AUDIENCE, OIDC_SUBJECT),
        ),
        (
            "WRONG_AUDIENCE",
            id_token("https://github.com/acme", OIDC_SUBJECT),
        ),
        // The federated credential's subject is the classic one.
        (
            "WRONG_SUBJECT",
            id_token(AZURE_FEDERATED_AUDIENCE, OIDC_SUBJECT_IMMUTABLE),
        ),
        ("MESSAGE", message.into()),
        ("KEY_ID", azure.https_key_id(AZURE_KEY_NAME, None)),
        (
            "KEY_ID_VERSIONED",
            azure.https_key_id(AZURE_KEY_NAME, Some(AZURE_KEY_OLD_VERSION)),
        ),
        ("MISSING_KEY_ID", azure.https_key_id("no-such-key", None)),
    ];
    let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.push(("REQUESTS_CA_BUNDLE", HTTPMOCK_CA));
    let client = run_python(&python, AZURE_SDK, &env);
    assert_eq!(client.code, 0, "{}\n{}", client.stdout, client.stderr);
    // What the clients received parsed: tokens, from both grants, as Entra issued them.
    let issued = azure.issued_tokens();
    assert!(issued.contains(&client.value("ASSERTION_TOKEN").to_string()));
    assert!(issued.contains(&client.value("SECRET_TOKEN").to_string()));
    assert!(client.value("WRONG_SECRET").contains("AADSTS7000215"));
    assert!(
        client.value("WRONG_AUDIENCE").contains("AADSTS700212")
            && client
                .value("WRONG_AUDIENCE")
                .contains("https://github.com/acme"),
        "{}",
        client.value("WRONG_AUDIENCE")
    );
    assert!(
        client.value("WRONG_SUBJECT").contains(&format!(
            "AADSTS700213: No matching federated identity record found for presented assertion subject '{OIDC_SUBJECT_IMMUTABLE}'"
        )),
        "{}",
        client.value("WRONG_SUBJECT")
    );
    // What they sent was accepted: the grant's fields, as the stand-in checks them.
    let grants = azure.token_requests();
    let federated = grants
        .iter()
        .find(|g| g.field("client_assertion").is_some())
        .expect("the federated grant");
    assert_eq!(federated.field("grant_type"), Some("client_credentials"));
    assert_eq!(federated.field("scope"), Some(KEY_VAULT_SCOPE));
    assert_eq!(
        federated.field("client_assertion_type"),
        Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    );
    // Key Vault: the SDK's first request carries no bearer and learns the tenant from the
    // 401's challenge; every later one carries Entra's token.
    let vault = azure.vault_requests();
    assert_eq!(vault[0].authorization, None, "{vault:?}");
    assert!(vault[1..].iter().all(|r| r
        .authorization
        .as_deref()
        .is_some_and(|a| a.starts_with("Bearer "))));
    let sign = vault
        .iter()
        .find(|r| r.path.ends_with("/sign") && r.authorization.is_some())
        .expect("a sign request");
    assert_eq!(sign.json.as_ref().expect("JSON")["alg"], "RS256");
    assert!(sign
        .query
        .iter()
        .any(|(k, v)| k == "api-version" && v.as_str() >= "2025-07-01"));
    // The current version signs with the app's key: the fake GitHub's verifier accepts
    // it; the older version's signature is another key's.
    let verifies = |sig: &str| {
        let key = jsonwebtoken::DecodingKey::from_rsa_pem(PUBLIC_KEY.as_bytes()).unwrap();
        jsonwebtoken::crypto::verify(
            sig,
            message.as_bytes(),
            &key,
            jsonwebtoken::Algorithm::RS256,
        )
        .unwrap_or(false)
    };
    assert!(verifies(client.value("CURRENT_SIGNATURE")));
    assert!(client.value("CURRENT_KID").ends_with(AZURE_KEY_VERSION));
    assert!(!verifies(client.value("VERSIONED_SIGNATURE")));
    assert!(client
        .value("VERSIONED_KID")
        .ends_with(AZURE_KEY_OLD_VERSION));
    assert!(
        client
            .value("MISSING")
            .starts_with("KeyNotFound: A key with (name/id) no-such-key was not found"),
        "{}",
        client.value("MISSING")
    );
}

/// Entra at the stand-in, as azure-identity reads it.
fn authority(azure: &FakeAzure) -> (String, String) {
    ("AZURE_AUTHORITY_HOST".into(), format!("{}/", azure.url()))
}

/// The inputs of a step that signs with `key_id`.
fn key_inputs(key_id: &str) -> Vec<(&'static str, String)> {
    vec![
        ("azure-key-vault-key", key_id.to_string()),
        ("azure-client-id", AZURE_CLIENT_ID.into()),
        ("azure-tenant-id", AZURE_TENANT.into()),
    ]
}

fn borrowed<'a>(inputs: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    inputs.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// No secret anywhere in `text` but in the `::add-mask::` lines that hide it.
fn assert_no_secret(text: &str, secrets: &[String]) {
    for line in text.lines().filter(|l| !l.starts_with("::add-mask::")) {
        for secret in secrets.iter().chain([
            &AZURE_CLIENT_SECRET.to_string(),
            &ID_TOKEN_REQUEST_TOKEN.to_string(),
        ]) {
            assert!(
                !line.contains(secret.as_str()),
                "a secret in the log: {line}"
            );
        }
    }
}

#[test]
fn a_token_minted_with_a_key_vault_key_and_the_jobs_oidc_token() {
    let azure = FakeAzure::start();
    let oidc = FakeOidc::start();
    let gh = FakeGitHub::start();
    let flow = gh.flow("acme", &["site"], &[], &[(11, "site")], None);
    let step = Step::new();
    let mut extra = oidc.env();
    extra.push(authority(&azure));
    let inputs = key_inputs(&azure.key_id(AZURE_KEY_NAME, None));
    let ran = step.run_keyless(bin(), &gh.url(), &borrowed(&inputs), extra);
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    assert_eq!(step.outputs()["token"], FINAL_TOKEN);
    // The fake GitHub accepted only JWTs that verify with the app's public key: the key
    // in the vault signed them, once for the step.
    flow.lookup.assert_calls(1);
    flow.final_token.assert_calls(1);
    // One OIDC token, for Entra's audience, traded once for one vault token.
    let issued = oidc.issued();
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0].0, AZURE_FEDERATED_AUDIENCE);
    let grants = azure.token_requests();
    assert_eq!(grants.len(), 1);
    let grant = &grants[0];
    assert_eq!(grant.path, format!("/{AZURE_TENANT}/oauth2/v2.0/token"));
    assert_eq!(grant.field("client_id"), Some(AZURE_CLIENT_ID));
    assert_eq!(grant.field("scope"), Some(KEY_VAULT_SCOPE));
    assert_eq!(grant.field("client_assertion"), Some(issued[0].1.as_str()));
    assert_eq!(grant.field("client_secret"), None);
    // The vault's challenge first, as the Azure SDKs ask it: no bearer, no body. Then the
    // key's current version signed (no version in the key id), with Entra's token.
    let tokens = azure.issued_tokens();
    let vault = azure.vault_requests();
    assert_eq!(vault.len(), 2, "{vault:?}");
    assert_eq!(vault[0].path, format!("/keys/{AZURE_KEY_NAME}/sign"));
    assert_eq!(
        (vault[0].authorization.as_deref(), vault[0].json.as_ref()),
        (None, None)
    );
    let signs = &vault[1..];
    assert_eq!(signs[0].path, format!("/keys/{AZURE_KEY_NAME}/sign"));
    assert_eq!(
        signs[0].authorization.as_deref(),
        Some(format!("Bearer {}", tokens[0]).as_str())
    );
    // Every secret is masked before anything could print it, and shown nowhere else.
    for secret in [&issued[0].1, &tokens[0]] {
        assert!(
            ran.stdout.contains(&format!("::add-mask::{secret}")),
            "{}",
            ran.stdout
        );
    }
    let secrets = vec![issued[0].1.clone(), tokens[0].clone()];
    assert_no_secret(&ran.stdout, &secrets);
    assert_no_secret(&ran.stderr, &secrets);
}

#[test]
fn a_key_version_in_the_key_id_is_the_one_that_signs() {
    let azure = FakeAzure::start();
    let oidc = FakeOidc::start();
    let gh = FakeGitHub::start();
    let flow = gh.flow("acme", &["site"], &[], &[(11, "site")], None);
    let mut extra = oidc.env();
    extra.push(authority(&azure));
    let inputs = key_inputs(&azure.key_id(AZURE_KEY_NAME, Some(AZURE_KEY_VERSION)));
    let ran = Step::new().run_keyless(bin(), &gh.url(), &borrowed(&inputs), extra.clone());
    assert_eq!(ran.code, 0, "{}", ran.stdout);
    flow.final_token.assert_calls(1);
    assert_eq!(
        azure.vault_requests()[0].path,
        format!("/keys/{AZURE_KEY_NAME}/{AZURE_KEY_VERSION}/sign")
    );
    // The older version holds another key: GitHub refuses what it signs.
    let inputs = key_inputs(&azure.key_id(AZURE_KEY_NAME, Some(AZURE_KEY_OLD_VERSION)));
    let ran = Step::new().run_keyless(bin(), &gh.url(), &borrowed(&inputs), extra);
    assert_eq!(ran.code, 1, "{}", ran.stdout);
    flow.final_token.assert_calls(1);
}

#[test]
fn the_client_secret_is_used_instead_of_the_oidc_token_when_set() {
    let azure = FakeAzure::start();
    let gh = FakeGitHub::start();
    let flow = gh.flow("acme", &["site"], &[], &[(11, "site")], None);
    let step = Step::new();
    // No OIDC token at all: the job has no `id-token: write`.
    let extra = vec![
        authority(&azure),
        ("AZURE_CLIENT_SECRET".into(), AZURE_CLIENT_SECRET.into()),
        ("AZURE_CLIENT_ID".into(), AZURE_CLIENT_ID.into()),
        ("AZURE_TENANT_ID".into(), AZURE_TENANT.into()),
    ];
    let key_id = azure.key_id(AZURE_KEY_NAME, None);
    let ran = step.run_keyless(bin(), &gh.url(), &[("azure-key-vault-key", &key_id)], extra);
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    assert_eq!(step.outputs()["token"], FINAL_TOKEN);
    flow.final_token.assert_calls(1);
    let grants = azure.token_requests();
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0].field("client_secret"), Some(AZURE_CLIENT_SECRET));
    assert_eq!(grants[0].field("client_assertion"), None);
    assert_eq!(grants[0].field("grant_type"), Some("client_credentials"));
    let tokens = azure.issued_tokens();
    assert!(ran.stdout.contains(&format!("::add-mask::{}", tokens[0])));
    assert_no_secret(&ran.stdout, &tokens);
    assert_no_secret(&ran.stderr, &tokens);
}

/// A step that fails before GitHub hears of it: its one `::error` line.
fn refused(azure: &FakeAzure, inputs: &[(&'static str, String)]) -> String {
    let oidc = FakeOidc::start();
    let gh = FakeGitHub::start();
    let any = gh.catch_all();
    let step = Step::new();
    let mut extra = oidc.env();
    extra.push(authority(azure));
    let ran = step.run_keyless(bin(), &gh.url(), &borrowed(inputs), extra);
    assert_eq!(ran.code, 1, "{}", ran.stdout);
    any.assert_calls(0);
    assert!(step.outputs().is_empty());
    let mut secrets: Vec<String> = oidc.issued().into_iter().map(|(_, t)| t).collect();
    secrets.extend(azure.issued_tokens());
    assert_no_secret(&ran.stdout, &secrets);
    assert_no_secret(&ran.stderr, &secrets);
    ran.line("::error").to_string()
}

#[test]
fn an_oidc_audience_the_federated_credential_does_not_hold_is_refused_and_named() {
    let azure = FakeAzure::start();
    azure.federated_audience("api://AzureADTokenExchangeChina");
    let error = refused(&azure, &key_inputs(&azure.key_id(AZURE_KEY_NAME, None)));
    assert!(error.contains("invalid_client"), "{error}");
    assert!(error.contains("AADSTS700212"), "Entra's own words: {error}");
    assert!(
        error.contains("audience 'api://AzureADTokenExchange'"),
        "the audience presented: {error}"
    );
    assert!(
        error.contains(AZURE_TENANT) && error.contains(AZURE_CLIENT_ID),
        "{error}"
    );
}

#[test]
fn a_federated_credential_that_refuses_the_jobs_token_is_shown_its_claims_and_a_credential_that_admits_it(
) {
    // The app's federated credential was made for the classic subject; the repository's
    // tokens now carry the immutable one.
    let azure = FakeAzure::start();
    azure.federated_subjects(&[OIDC_SUBJECT]);
    let oidc = FakeOidc::with_subject(OIDC_SUBJECT_IMMUTABLE);
    let gh = FakeGitHub::start();
    let any = gh.catch_all();
    let step = Step::new();
    let mut extra = oidc.env();
    extra.push(authority(&azure));
    let inputs = key_inputs(&azure.key_id(AZURE_KEY_NAME, None));
    let ran = step.run_keyless(bin(), &gh.url(), &borrowed(&inputs), extra);
    assert_eq!(ran.code, 1, "{}", ran.stdout);
    any.assert_calls(0);
    assert!(step.outputs().is_empty());
    assert!(azure.issued_tokens().is_empty());
    let lines = error_lines(&ran.stdout);
    assert!(
        lines[0].contains(&format!("Entra ID token request failed: invalid_client: AADSTS700213: No matching federated identity record found for presented assertion subject '{OIDC_SUBJECT_IMMUTABLE}'.")),
        "Entra's own words first: {lines:?}"
    );
    assert_eq!(
        lines[1..],
        [
            shown_claims(AZURE_FEDERATED_AUDIENCE, OIDC_SUBJECT_IMMUTABLE).as_str(),
            SAID_IMMUTABLE,
            "A federated identity credential that admits this job: issuer 'https://token.actions.githubusercontent.com', subject 'repo:acme@4242/site@90210:ref:refs/heads/main', audience 'api://AzureADTokenExchange'",
            "To admit it under either sub format, one credential for each, with the same issuer and audience: subject 'repo:acme/site:ref:refs/heads/main' and subject 'repo:acme@4242/site@90210:ref:refs/heads/main'",
        ],
    );
    assert!(!ran.stdout.contains("::debug::"), "{}", ran.stdout);
    let secrets: Vec<String> = oidc.issued().into_iter().map(|(_, t)| t).collect();
    assert_no_secret(&ran.stdout, &secrets);
}

#[test]
fn a_credential_for_each_format_admits_both_and_debug_logs_the_claims() {
    let azure = FakeAzure::start();
    // The two credentials the refusal offers.
    azure.federated_subjects(&[OIDC_SUBJECT, OIDC_SUBJECT_IMMUTABLE]);
    for (subject, format) in BOTH_FORMATS {
        let oidc = FakeOidc::with_subject(subject);
        let gh = FakeGitHub::start();
        gh.flow("acme", &["site"], &[], &[(11, "site")], None);
        let step = Step::new();
        let mut extra = oidc.env();
        extra.push(authority(&azure));
        extra.push(("RUNNER_DEBUG".into(), "1".into()));
        let inputs = key_inputs(&azure.key_id(AZURE_KEY_NAME, None));
        let ran = step.run_keyless(bin(), &gh.url(), &borrowed(&inputs), extra);
        assert_eq!(ran.code, 0, "{subject}: {}", ran.stdout);
        assert_eq!(step.outputs()["token"], FINAL_TOKEN);
        let exchange = "Entra ID token request";
        assert_claims_debugged(
            &ran.stdout,
            exchange,
            AZURE_FEDERATED_AUDIENCE,
            subject,
            format,
        );
        let secrets: Vec<String> = oidc.issued().into_iter().map(|(_, t)| t).collect();
        assert_no_secret(&ran.stdout, &secrets);
    }
}

#[test]
fn a_missing_key_fails_with_key_vaults_code_and_message() {
    let azure = FakeAzure::start();
    let key_id = azure.key_id("no-such-key", None);
    let error = refused(&azure, &key_inputs(&key_id));
    assert!(
        error.contains(&format!("Key Vault key {key_id}")),
        "{error}"
    );
    assert!(error.contains("KeyNotFound"), "{error}");
    assert!(
        error.contains("A key with (name/id) no-such-key was not found in this key vault"),
        "Key Vault's own message: {error}"
    );
}

#[test]
fn a_vault_in_another_tenant_is_said_plainly() {
    let azure = FakeAzure::start();
    azure.vault_in_tenant(AZURE_OTHER_TENANT);
    let error = refused(&azure, &key_inputs(&azure.key_id(AZURE_KEY_NAME, None)));
    assert!(error.contains("AKV10032"), "Key Vault's words: {error}");
    assert!(
        error.contains(&format!("a token of tenant {AZURE_OTHER_TENANT}")),
        "the challenge's tenant: {error}"
    );
    assert!(
        error.contains("azure-tenant-id") && error.contains(AZURE_TENANT),
        "what to fix: {error}"
    );
}

/// The command line, outside Actions: `AZURE_*` from the environment.
fn cli_env(azure: &FakeAzure) -> Vec<(String, String)> {
    vec![
        authority(azure),
        ("AZURE_CLIENT_SECRET".into(), AZURE_CLIENT_SECRET.into()),
        ("AZURE_CLIENT_ID".into(), AZURE_CLIENT_ID.into()),
        ("AZURE_TENANT_ID".into(), AZURE_TENANT.into()),
    ]
}

#[test]
fn the_command_line_mints_and_signs_jwts_with_a_key_vault_key() {
    let azure = FakeAzure::start();
    let gh = FakeGitHub::start();
    gh.flow("acme", &["site"], &[], &[(11, "site")], None);
    let key_id = azure.key_id(AZURE_KEY_NAME, None);
    let url = gh.url();
    let args = [
        "--app-id",
        APP_ID,
        "--azure-key-vault-key",
        &key_id,
        "--repositories",
        "acme/site",
        "--api-url",
        &url,
    ];
    let ran = run_binary(bin(), &args, &cli_env(&azure), "");
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(ran.stdout.trim(), FINAL_TOKEN);
    assert_no_secret(&ran.stderr, &azure.issued_tokens());
    // `jwt` prints one JWT that GitHub would accept, signed in the vault.
    let ran = run_binary(
        bin(),
        &["jwt", "--app-id", APP_ID, "--azure-key-vault-key", &key_id],
        &cli_env(&azure),
        "",
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let (_, _, iss) = jwt_claims(ran.stdout.trim()).expect("a JWT the app's public key verifies");
    assert_eq!(iss, APP_ID);
}

/// A step whose key id names a host outside Key Vault's domains (`*.example` reaches
/// this machine only through the proxy, which records every tunnel): refused before
/// any request, with the input, the host and the accepted domains named.
#[test]
fn a_key_id_on_a_host_outside_key_vaults_domains_is_refused_before_any_request() {
    let azure = FakeAzure::start();
    let oidc = FakeOidc::start();
    let gh = FakeGitHub::start();
    let any = gh.catch_all();
    let proxy = ConnectProxy::start(std::time::Duration::ZERO);
    let step = Step::new();
    let mut extra = oidc.env();
    extra.push(authority(&azure));
    extra.push(("HTTPS_PROXY".into(), proxy.url.clone()));
    let key_id = format!("https://attacker.example/keys/{AZURE_KEY_NAME}");
    let ran = step.run_keyless(bin(), &gh.url(), &borrowed(&key_inputs(&key_id)), extra);
    assert_eq!(ran.code, 1, "{}", ran.stdout);
    let error = ran.line("::error");
    assert!(
        error.contains("input `azure-key-vault-key` names the host attacker.example"),
        "{error}"
    );
    for domain in [
        ".vault.azure.net",
        ".vault.azure.cn",
        ".vault.usgovcloudapi.net",
        ".managedhsm.azure.net",
    ] {
        assert!(error.contains(domain), "{domain}: {error}");
    }
    assert!(
        error.contains("`azure-key-vault-domain`"),
        "the way out: {error}"
    );
    // Nothing was asked of anyone: no OIDC token, no Entra token, no tunnel anywhere.
    assert!(oidc.issued().is_empty());
    assert!(azure.seen().is_empty(), "{:?}", azure.seen());
    assert_eq!(proxy.targets(), Vec::<String>::new(), "{:?}", proxy.heads());
    any.assert_calls(0);
    // With the domain named, its hosts are vaults': the step asks the vault's challenge
    // there (through the proxy, which has nothing behind that name).
    let stack_key = format!("https://acme.vault.local.azurestack.example/keys/{AZURE_KEY_NAME}");
    let mut inputs = key_inputs(&stack_key);
    inputs.push((
        "azure-key-vault-domain",
        "vault.local.azurestack.example".into(),
    ));
    let mut extra = oidc.env();
    extra.push(authority(&azure));
    extra.push(("HTTPS_PROXY".into(), proxy.url.clone()));
    let ran = step.run_keyless(bin(), &gh.url(), &borrowed(&inputs), extra);
    assert_eq!(ran.code, 1, "{}", ran.stdout);
    let targets = proxy.targets();
    assert!(
        !targets.is_empty()
            && targets
                .iter()
                .all(|t| t == "acme.vault.local.azurestack.example:443"),
        "{targets:?}: {}",
        ran.stdout
    );
    assert!(
        ran.line("::error").contains("Key Vault challenge failed"),
        "{}",
        ran.stdout
    );
    assert!(azure.token_requests().is_empty());
}

/// A vault whose challenge names another resource than its domain's: refused, as the
/// Azure SDKs refuse it, before any token is asked for, so none is sent.
#[test]
fn a_challenge_for_another_resource_is_refused_and_no_token_is_had_or_sent() {
    let azure = FakeAzure::start();
    azure.challenge_resource("https://management.azure.com");
    let error = refused(&azure, &key_inputs(&azure.key_id(AZURE_KEY_NAME, None)));
    assert!(
        error.contains("Key Vault's challenge asks for a token for https://management.azure.com"),
        "{error}"
    );
    assert!(error.contains("https://vault.azure.net"), "{error}");
    assert!(
        error.contains(&format!(
            "Key Vault key {}",
            azure.key_id(AZURE_KEY_NAME, None)
        )),
        "{error}"
    );
    // One request, the challenge's, without a bearer; no token asked of Entra.
    let vault = azure.vault_requests();
    assert_eq!(vault.len(), 1, "{vault:?}");
    assert_eq!(vault[0].authorization, None);
    assert!(
        azure.token_requests().is_empty(),
        "{:?}",
        azure.token_requests()
    );
    assert!(azure.issued_tokens().is_empty());
}

/// One signer over the vault key, with Entra's tokens for the job's OIDC token.
fn renewing_signer(azure: &FakeAzure, oidc: &FakeOidc) -> ServiceSigner {
    use app_token::sign::{azure, oidc::OidcRequest, Secret, Service};
    ServiceSigner::new(Service::Azure(azure::Settings {
        key_id: azure.key_id(AZURE_KEY_NAME, None),
        vault_url: azure.url(),
        domain: "vault.azure.net".into(),
        name: AZURE_KEY_NAME.into(),
        version: None,
        client_id: AZURE_CLIENT_ID.into(),
        tenant_id: AZURE_TENANT.into(),
        authority: format!("{}/", azure.url()),
        credential: azure::Credential::Oidc(OidcRequest {
            url: oidc.env()[0].1.clone(),
            token: Secret::new(ID_TOKEN_REQUEST_TOKEN),
        }),
    }))
}

/// The token agent signs for hours with one signer: Entra's token is used while it has
/// time left (its `expires_in`), and a new one is had, with a new OIDC token, when the
/// last has run out, instead of the vault refusing it.
#[test]
fn entras_token_is_had_again_when_it_runs_out_and_not_before() {
    let azure = FakeAzure::start();
    azure.tokens_live(SHORT_LIFETIME_SECS);
    let oidc = FakeOidc::start();
    let key = renewing_signer(&azure, &oidc);
    let (first, second) = (key.sign(), key.sign());
    assert_eq!(azure.token_requests().len(), 1, "one token for both");
    std::thread::sleep(PAST_EXPIRY);
    let third = key.sign();
    assert_verify(&[&first, &second, &third], PUBLIC_KEY);
    assert_eq!(azure.token_requests().len(), 2, "a second token");
    let tokens = azure.issued_tokens();
    let issued = oidc.issued();
    assert_eq!(issued.len(), 2, "a new OIDC token for the second");
    // Each sign with the token current then; each secret masked as it came.
    let bearers: Vec<Option<String>> = azure
        .vault_requests()
        .into_iter()
        .map(|s| s.authorization)
        .collect();
    let bearer = |t: &String| Some(format!("Bearer {t}"));
    assert_eq!(
        bearers,
        [
            None,
            bearer(&tokens[0]),
            bearer(&tokens[0]),
            bearer(&tokens[1])
        ]
    );
    for secret in tokens.iter().chain(issued.iter().map(|i| &i.1)) {
        assert_eq!(key.times_masked(secret), 1, "masked once");
    }
}
