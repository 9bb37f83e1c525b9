//! The checks of a HashiCorp Vault transit key's settings.
//!
//! The key's name, Vault's address (the setting, else `VAULT_ADDR`), the transit mount,
//! the namespace (the setting, else `VAULT_NAMESPACE`), and where the token comes from: a
//! JWT auth login with the job's OIDC token, or `VAULT_TOKEN`.

use super::{oidc_request, KeyGiven, Setting};
use crate::config::{validate_url, ConfigError, Field};
use crate::sign::vault;

/// A Vault path (a mount, an auth path, a namespace): plain segments, no `..`.
fn vault_path(field: Field, raw: &str) -> Result<String, ConfigError> {
    let path = raw.trim().trim_matches('/');
    let ok = !path.is_empty()
        && path.split('/').all(|seg| {
            !seg.is_empty()
                && seg != ".."
                && seg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        });
    if ok {
        Ok(path.to_string())
    } else {
        Err(ConfigError::new(
            field,
            "must be a Vault path: names of letters, digits, `-`, `_` and `.`, separated by `/`",
        ))
    }
}

/// A Vault transit key: Vault's address, the mount, the namespace and the token's source.
pub(super) fn check(given: &KeyGiven) -> Result<vault::Settings, ConfigError> {
    let key = given[Setting::VaultTransitKey]
        .as_deref()
        .unwrap_or_default()
        .trim();
    let key_ok = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && key != ".."
        && key != ".";
    if !key_ok {
        return Err(ConfigError::new(
            Field::Key(Setting::VaultTransitKey),
            "must be a transit key's name: letters, digits, `-`, `_` and `.`",
        ));
    }
    let Some((field, url)) = given.or_env(Setting::VaultUrl) else {
        return Err(ConfigError::new(
            Field::Key(Setting::VaultUrl),
            "is not set, and neither is VAULT_ADDR: give Vault's address",
        ));
    };
    let url = validate_url(url).map_err(|m| ConfigError::new(field, m))?;
    let mount = vault_path(
        Field::Key(Setting::VaultTransitMount),
        given[Setting::VaultTransitMount]
            .as_deref()
            .unwrap_or("transit"),
    )?;
    let namespace = given
        .or_env(Setting::VaultNamespace)
        .map(|(field, ns)| vault_path(field, ns))
        .transpose()?;
    Ok(vault::Settings {
        url,
        mount,
        key: key.to_string(),
        namespace,
        auth: auth(given)?,
    })
}

/// Where the token comes from: a JWT auth login with the job's OIDC token when a role is
/// given (its path and audience only then), else `VAULT_TOKEN`.
fn auth(given: &KeyGiven) -> Result<vault::Auth, ConfigError> {
    let Some(role) = &given[Setting::VaultRole] else {
        for setting in [Setting::VaultAuthPath, Setting::VaultAudience] {
            if given[setting].is_some() {
                return Err(ConfigError::naming(
                    Field::Key(setting),
                    "needs {}",
                    &[Field::Key(Setting::VaultRole)],
                ));
            }
        }
        return match &given.vault.token {
            Some(token) => Ok(vault::Auth::Token(token.clone())),
            None => Err(ConfigError::naming(
                Field::Key(Setting::VaultTransitKey),
                "needs a Vault token: set {} (JWT auth with the job's OIDC token), \
                 or VAULT_TOKEN (as hashicorp/vault-action leaves it)",
                &[Field::Key(Setting::VaultRole)],
            )),
        };
    };
    let role = role.trim();
    if !role
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'))
    {
        return Err(ConfigError::new(
            Field::Key(Setting::VaultRole),
            "must be a JWT auth role's name",
        ));
    }
    Ok(vault::Auth::Jwt {
        role: role.to_string(),
        path: vault_path(
            Field::Key(Setting::VaultAuthPath),
            given[Setting::VaultAuthPath].as_deref().unwrap_or("jwt"),
        )?,
        audience: given[Setting::VaultAudience]
            .as_deref()
            .map(|a| a.trim().to_string()),
        oidc: oidc_request(&given.oidc, Field::Key(Setting::VaultRole))?,
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::with;
    use super::*;
    use crate::sign::oidc::OidcEnv;
    use crate::sign::{Secret, Service};
    use Setting as S;

    fn vault(f: impl FnOnce(&mut KeyGiven)) -> Result<vault::Settings, ConfigError> {
        match with(|g| {
            g[S::VaultTransitKey] = Some("github-app".into());
            g.set_variable("VAULT_ADDR", Some("https://vault.example:8200/".into()));
            g.vault.token = Some(Secret::new("hvs.x"));
            f(g);
        })? {
            Service::Vault(settings) => Ok(settings),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn vault_addresses_paths_and_tokens_are_checked() {
        let s = vault(|_| {}).unwrap();
        assert_eq!(
            (s.url.as_str(), s.mount.as_str(), s.namespace.as_deref()),
            ("https://vault.example:8200", "transit", None)
        );
        assert!(matches!(s.auth, vault::Auth::Token(_)));
        let s = vault(|g| {
            g[S::VaultUrl] = Some("http://127.0.0.1:8200".into());
            g[S::VaultTransitMount] = Some("/keys/transit/".into());
            g[S::VaultRole] = Some("github-app".into());
            g.set_variable("VAULT_NAMESPACE", Some("admin/team".into()));
        })
        .unwrap();
        assert_eq!(s.url, "http://127.0.0.1:8200");
        assert_eq!(s.mount, "keys/transit");
        assert_eq!(s.namespace.as_deref(), Some("admin/team"));
        assert!(
            matches!(s.auth, vault::Auth::Jwt { ref path, audience: None, .. } if path == "jwt")
        );
        assert_eq!(
            vault(|g| g[S::VaultTransitKey] = Some("a/b".into()))
                .err()
                .unwrap()
                .field,
            Field::Key(S::VaultTransitKey)
        );
        assert_eq!(
            vault(|g| g.set_variable("VAULT_ADDR", None))
                .err()
                .unwrap()
                .field,
            Field::Key(S::VaultUrl)
        );
        assert_eq!(
            vault(|g| g.set_variable("VAULT_ADDR", Some("http://vault.example".into())))
                .err()
                .unwrap()
                .field,
            Field::Environment("VAULT_ADDR")
        );
        assert_eq!(
            vault(|g| g[S::VaultTransitMount] = Some("../sys".into()))
                .err()
                .unwrap()
                .field,
            Field::Key(S::VaultTransitMount)
        );
        let e = vault(|g| g.vault.token = None).err().unwrap();
        assert_eq!(
            (e.field, e.refs),
            (
                Field::Key(S::VaultTransitKey),
                vec![Field::Key(S::VaultRole)]
            )
        );
        let e = vault(|g| g[S::VaultAudience] = Some("x".into()))
            .err()
            .unwrap();
        assert_eq!(
            (e.field, e.refs),
            (Field::Key(S::VaultAudience), vec![Field::Key(S::VaultRole)])
        );
        assert_eq!(
            vault(|g| {
                g[S::VaultRole] = Some("r".into());
                g.oidc = OidcEnv::default();
            })
            .err()
            .unwrap()
            .field,
            Field::Key(S::VaultRole)
        );
    }
}
