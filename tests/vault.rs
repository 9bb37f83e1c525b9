//! Keyless on HashiCorp Vault: the app's JWT signed by a transit key, reached with a token from JWT auth (the job's OIDC token) or from the environment, against a stand-in held to hvac, and a fake GitHub that verifies the JWT with the key's public half.

mod common;

use common::clients::{clients_python, run_client};
use common::oidc::{id_token, OIDC_DEFAULT_AUDIENCE, OIDC_SUBJECT};
use common::vault::*;
use common::*;

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
    let client = run_client(
        &python,
        HVAC,
        &[
            ("VAULT", vault.url()),
            ("NAMESPACE", "admin/ci".into()),
            ("ROLE", VAULT_ROLE.into()),
            ("JWT", id_token(OIDC_DEFAULT_AUDIENCE, OIDC_SUBJECT)),
            (
                "WRONG_AUDIENCE",
                id_token("sts.amazonaws.com", OIDC_SUBJECT),
            ),
            ("KEY", VAULT_KEY_NAME.into()),
            ("MESSAGE", message.into()),
        ],
    );
    assert_eq!(client.code, 0, "{}\n{}", client.stdout, client.stderr);
    let tokens = vault.login_tokens();
    assert_eq!(tokens.len(), 1);
    assert_eq!(client.value("TOKEN"), tokens[0].0);
    assert!(tokens[0].1, "revoke-self revoked it");
    assert!(client
        .value("WRONG_AUDIENCE")
        .contains("invalid audience (aud) claim"));
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
