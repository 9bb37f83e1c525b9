//! The checks of an Azure Key Vault key's settings.
//!
//! The key's identifier (on a host in one of Azure's Key Vault domains, the one named, or
//! loopback), the app registration's client and tenant ids (the settings, else
//! `AZURE_CLIENT_ID` and `AZURE_TENANT_ID`), the authority and the credential.

use super::{base_url, oidc_request, KeyGiven, Setting};
use crate::config::{validate_url, ConfigError, Field};
use crate::sign::azure;

/// A GUID, as Entra writes client and tenant ids.
fn valid_guid(id: &str) -> bool {
    let groups: Vec<&str> = id.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A domain name (`vault.local.azurestack.external`), in lower case: two labels or more,
/// of letters, digits and `-`; a leading or trailing dot dropped.
fn valid_domain(raw: &str) -> Option<String> {
    let domain = raw.trim().trim_start_matches('.').trim_end_matches('.');
    let labels: Vec<&str> = domain.split('.').collect();
    let ok = domain.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    ok.then(|| domain.to_ascii_lowercase())
}

/// A Key Vault key: its identifier (on a host in a Key Vault domain, or loopback), the
/// app registration, the authority and the credential.
pub(super) fn check(given: &KeyGiven) -> Result<azure::Settings, ConfigError> {
    let raw = given[Setting::AzureKeyVaultKey]
        .as_deref()
        .unwrap_or_default();
    let (key_id, uri, name, version) = key_identifier(raw)?;
    let vault_url = format!(
        "{}://{}",
        uri.scheme_str().unwrap_or("https"),
        uri.authority().map(|a| a.as_str()).unwrap_or_default()
    );
    let domain = vault_domain(given, uri.host().unwrap_or_default())?;
    let (client_id, tenant_id) = registration(given)?;
    let env = &given.azure;
    let authority = match &env.authority_host {
        Some(url) => base_url("AZURE_AUTHORITY_HOST", url)?,
        None => azure::DEFAULT_AUTHORITY.to_string(),
    };
    let credential = match &env.client_secret {
        Some(secret) => azure::Credential::ClientSecret(secret.clone()),
        None => azure::Credential::Oidc(oidc_request(
            &given.oidc,
            Field::Key(Setting::AzureKeyVaultKey),
        )?),
    };
    Ok(azure::Settings {
        key_id,
        vault_url,
        domain,
        name,
        version,
        client_id,
        tenant_id,
        authority,
        credential,
    })
}

/// A key identifier, `https://VAULT.vault.azure.net/keys/NAME[/VERSION]`: itself
/// (normalised), parsed, and its key's name and version.
fn key_identifier(raw: &str) -> Result<(String, http::Uri, String, Option<String>), ConfigError> {
    const SHAPE: &str =
        "must be a key identifier: https://VAULT.vault.azure.net/keys/NAME or …/keys/NAME/VERSION";
    let field = Field::Key(Setting::AzureKeyVaultKey);
    let key_id = validate_url(raw).map_err(|m| ConfigError::new(field, m))?;
    let uri: http::Uri = key_id.parse().map_err(|_| ConfigError::new(field, SHAPE))?;
    let name_ok = |s: &str| {
        !s.is_empty() && s.len() <= 127 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    let segments: Vec<&str> = uri.path().trim_start_matches('/').split('/').collect();
    let (name, version) = match segments.as_slice() {
        ["keys", name] if name_ok(name) => (name.to_string(), None),
        ["keys", name, version] if name_ok(name) && name_ok(version) => {
            (name.to_string(), Some(version.to_string()))
        }
        _ => return Err(ConfigError::new(field, SHAPE)),
    };
    Ok((key_id, uri, name, version))
}

/// The Key Vault domain the key's `host` is in: one of Azure's, or the one named in
/// `azure-key-vault-domain`; any other host is refused, for the vault's token goes there.
fn vault_domain(given: &KeyGiven, host: &str) -> Result<String, ConfigError> {
    let named = given[Setting::AzureKeyVaultDomain]
        .as_deref()
        .map(|raw| {
            valid_domain(raw).ok_or_else(|| {
                ConfigError::new(
                    Field::Key(Setting::AzureKeyVaultDomain),
                    "must be a domain name such as vault.local.azurestack.external (a vault's host is NAME.DOMAIN)",
                )
            })
        })
        .transpose()?;
    azure::vault_domain(host, named.as_deref()).ok_or_else(|| {
        let domains: Vec<String> = azure::KEY_VAULT_DOMAINS
            .iter()
            .map(|d| format!(".{d}"))
            .collect();
        ConfigError::naming(
            Field::Key(Setting::AzureKeyVaultKey),
            &format!(
                "names the host {host}, which is in none of Key Vault's and Managed HSM's domains ({}): \
                 the vault's access token is sent nowhere else; for another Key Vault domain, name it in {{}}",
                domains.join(", ")
            ),
            &[Field::Key(Setting::AzureKeyVaultDomain)],
        )
    })
}

/// The app registration's client id and the tenant id, each the setting or else its
/// variable, trimmed.
fn registration(given: &KeyGiven) -> Result<(String, String), ConfigError> {
    let (_, client_id) = given.or_env(Setting::AzureClientId).ok_or_else(|| {
        ConfigError::new(
            Field::Key(Setting::AzureClientId),
            "is not set, and neither is AZURE_CLIENT_ID: give the app registration's (or managed identity's) client id",
        )
    })?;
    if !valid_guid(client_id.trim()) {
        return Err(ConfigError::new(
            Field::Key(Setting::AzureClientId),
            "must be a client id, a GUID such as 00000000-0000-0000-0000-000000000000",
        ));
    }
    let (_, tenant_id) = given.or_env(Setting::AzureTenantId).ok_or_else(|| {
        ConfigError::new(
            Field::Key(Setting::AzureTenantId),
            "is not set, and neither is AZURE_TENANT_ID: give the directory (tenant) id",
        )
    })?;
    let tenant_ok = !tenant_id.trim().is_empty()
        && tenant_id
            .trim()
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.'));
    if !tenant_ok {
        return Err(ConfigError::new(
            Field::Key(Setting::AzureTenantId),
            "must be a tenant id (a GUID) or a tenant's domain name",
        ));
    }
    Ok((client_id.trim().to_string(), tenant_id.trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{with, KEY};
    use super::*;
    use crate::sign::oidc::OidcEnv;
    use crate::sign::{Secret, Service};
    use Setting as S;

    const CLIENT: &str = "00000000-1111-2222-3333-444444444444";

    fn azure(f: impl FnOnce(&mut KeyGiven)) -> Result<azure::Settings, ConfigError> {
        match with(|g| {
            g[S::AzureKeyVaultKey] = Some("https://acme.vault.azure.net/keys/github-app".into());
            g.set_variable("AZURE_CLIENT_ID", Some(CLIENT.into()));
            g.set_variable("AZURE_TENANT_ID", Some("contoso.onmicrosoft.com".into()));
            f(g);
        })? {
            Service::Azure(settings) => Ok(settings),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn azure_key_ids_ids_and_credentials_are_checked() {
        let s = azure(|_| {}).unwrap();
        assert_eq!(
            (s.vault_url.as_str(), s.name.as_str(), s.version.as_deref()),
            ("https://acme.vault.azure.net", "github-app", None)
        );
        assert_eq!(s.authority, azure::DEFAULT_AUTHORITY);
        assert!(matches!(s.credential, azure::Credential::Oidc(_)));
        let s = azure(|g| {
            g[S::AzureKeyVaultKey] =
                Some("http://127.0.0.1:9/keys/app/0123456789abcdef0123456789abcdef".into());
            g[S::AzureClientId] = Some("99999999-1111-2222-3333-444444444444".into());
            g.azure.authority_host = Some("http://127.0.0.1:7".into());
            g.azure.client_secret = Some(Secret::new("s"));
        })
        .unwrap();
        assert_eq!(
            s.version.as_deref(),
            Some("0123456789abcdef0123456789abcdef")
        );
        assert_eq!(s.client_id, "99999999-1111-2222-3333-444444444444");
        assert_eq!(s.authority, "http://127.0.0.1:7/");
        assert!(matches!(s.credential, azure::Credential::ClientSecret(_)));
        for bad in [
            "http://acme.vault.azure.net/keys/app",
            "https://acme.vault.azure.net/secrets/app",
            "https://acme.vault.azure.net/keys/app/v/extra",
            "https://acme.vault.azure.net/keys/app?x=1",
        ] {
            let e = azure(|g| g[S::AzureKeyVaultKey] = Some(bad.into()))
                .err()
                .unwrap();
            assert_eq!(e.field, Field::Key(S::AzureKeyVaultKey), "{bad}");
        }
        assert_eq!(
            azure(|g| g.set_variable("AZURE_CLIENT_ID", None))
                .err()
                .unwrap()
                .field,
            Field::Key(S::AzureClientId)
        );
        assert_eq!(
            azure(|g| g[S::AzureClientId] = Some("app".into()))
                .err()
                .unwrap()
                .field,
            Field::Key(S::AzureClientId)
        );
        assert_eq!(
            azure(|g| g.set_variable("AZURE_TENANT_ID", None))
                .err()
                .unwrap()
                .field,
            Field::Key(S::AzureTenantId)
        );
        assert_eq!(
            azure(|g| g.azure.authority_host = Some("http://login.example.com".into()))
                .err()
                .unwrap()
                .field,
            Field::Environment("AZURE_AUTHORITY_HOST")
        );
        assert_eq!(
            azure(|g| g.oidc = OidcEnv::default()).err().unwrap().field,
            Field::Key(S::AzureKeyVaultKey)
        );
    }

    #[test]
    fn a_key_vault_key_is_on_a_key_vault_host_or_in_the_domain_named() {
        let s = azure(|_| {}).unwrap();
        assert_eq!(s.domain, "vault.azure.net");
        let s = azure(|g| {
            g[S::AzureKeyVaultKey] = Some("https://acme.managedhsm.azure.cn/keys/app".into())
        })
        .unwrap();
        assert_eq!(s.domain, "managedhsm.azure.cn");
        // Any other host is refused before any request, naming the input, the host, the
        // domains, and the input that would name another.
        for host in ["attacker.example", "acme.vault.azure.net.attacker.example"] {
            let e = azure(|g| g[S::AzureKeyVaultKey] = Some(format!("https://{host}/keys/app")))
                .err()
                .unwrap();
            assert_eq!(
                (e.field, e.refs.as_slice()),
                (
                    Field::Key(S::AzureKeyVaultKey),
                    &[Field::Key(S::AzureKeyVaultDomain)][..]
                )
            );
            assert!(
                e.message.contains(&format!("names the host {host},")),
                "{}",
                e.message
            );
            for domain in azure::KEY_VAULT_DOMAINS {
                assert!(e.message.contains(&format!(".{domain}")), "{}", e.message);
            }
        }
        // The domain named: accepted, and the token's resource; Azure's still are.
        let stack = "https://acme.vault.local.azurestack.external/keys/app";
        let s = azure(|g| {
            g[S::AzureKeyVaultKey] = Some(stack.into());
            g[S::AzureKeyVaultDomain] = Some(" .Vault.Local.AzureStack.External. ".into());
        })
        .unwrap();
        assert_eq!(s.domain, "vault.local.azurestack.external");
        let s =
            azure(|g| g[S::AzureKeyVaultDomain] = Some("vault.local.azurestack.external".into()))
                .unwrap();
        assert_eq!(s.domain, "vault.azure.net");
        for bad in [
            "com",
            "vault..example",
            "https://vault.example",
            "-x.example",
        ] {
            let e = azure(|g| g[S::AzureKeyVaultDomain] = Some(bad.into()))
                .err()
                .unwrap();
            assert_eq!(e.field, Field::Key(S::AzureKeyVaultDomain), "{bad}");
        }
        // Named without a Key Vault key: a mistake, said.
        let e = with(|g| {
            g[S::PrivateKey] = Some(KEY.into());
            g[S::AzureKeyVaultDomain] = Some("vault.example".into());
        })
        .err()
        .unwrap();
        assert_eq!(
            (e.field, e.refs),
            (
                Field::Key(S::AzureKeyVaultDomain),
                vec![Field::Key(S::AzureKeyVaultKey)]
            )
        );
    }
}
