//! Keyless on Azure: the app's JWT signed by a key in Azure Key Vault, reached with the job's OIDC token traded at Entra ID (or a client secret), against stand-ins held to azure-identity and azure-keyvault-keys, and a fake GitHub that verifies the JWT with the vault key's public half.

mod common;

use common::azure::*;
use common::clients::{clients_python, run_client};
use common::oidc::{id_token, OIDC_SUBJECT};
use common::*;

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
try:
    ClientAssertionCredential(tenant, client_id, lambda: os.environ["WRONG_AUDIENCE"],
                              authority=authority).get_token("https://vault.azure.net/.default")
except ClientAuthenticationError as e:
    print("WRONG_AUDIENCE=" + str(e.message).splitlines()[0])

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
    let client = run_client(
        &python,
        AZURE_SDK,
        &[
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
            ("MESSAGE", message.into()),
            ("KEY_ID", azure.https_key_id(AZURE_KEY_NAME, None)),
            (
                "KEY_ID_VERSIONED",
                azure.https_key_id(AZURE_KEY_NAME, Some(AZURE_KEY_OLD_VERSION)),
            ),
            ("MISSING_KEY_ID", azure.https_key_id("no-such-key", None)),
        ],
    );
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
