//! The checks of a GCP Cloud KMS key's settings.
//!
//! The key version's name, Google's endpoints (or the environment's overrides), and the
//! credentials: workload identity federation with the job's OIDC token, or the
//! `external_account` file of Application Default Credentials, read only when needed.

use super::{base_url, oidc_request, KeyGiven, Setting};
use crate::config::{validate_url, ConfigError, Field};
use crate::sign::gcp;

/// `GOOGLE_APPLICATION_CREDENTIALS`: where Application Default Credentials are.
const ADC: &str = "GOOGLE_APPLICATION_CREDENTIALS";

/// place, every name non-empty and plain, the version a number.
fn valid_gcp_key_version(name: &str) -> bool {
    let parts: Vec<&str> = name.split('/').collect();
    let labels = [
        "projects",
        "locations",
        "keyRings",
        "cryptoKeys",
        "cryptoKeyVersions",
    ];
    parts.len() == 10
        && parts.chunks(2).zip(labels).all(|(pair, label)| {
            pair[0] == label
                && !pair[1].is_empty()
                && pair[1]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        })
        && parts[9].bytes().all(|b| b.is_ascii_digit())
}

/// `projects/NUMBER/locations/global/workloadIdentityPools/POOL/providers/PROVIDER`.
fn valid_gcp_provider(name: &str) -> bool {
    let parts: Vec<&str> = name.split('/').collect();
    let plain = |s: &str| {
        !s.is_empty()
            && s.len() <= 63
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    matches!(parts.as_slice(), ["projects", number, "locations", "global", "workloadIdentityPools", pool, "providers", provider]
        if !number.is_empty()
            && number.bytes().all(|b| b.is_ascii_digit())
            && plain(pool)
            && plain(provider))
}

/// An email such as `signer@PROJECT.iam.gserviceaccount.com`.
fn valid_email(email: &str) -> bool {
    match email.split_once('@') {
        Some((local, domain)) => {
            let ok = |s: &str, extra: &[char]| {
                !s.is_empty()
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || extra.contains(&c))
            };
            ok(local, &['-', '_', '.', '+']) && ok(domain, &['-', '.']) && domain.contains('.')
        }
        None => false,
    }
}

/// Reads the Application Default Credentials file when the Cloud KMS key needs it: no
/// workload identity provider given, and the file not read yet.
pub(super) fn read_credentials_file(given: &mut KeyGiven) {
    if given[Setting::GcpWorkloadIdentityProvider].is_some()
        || given.gcp.application_credentials_text.is_some()
    {
        return;
    }
    if let Some(path) = given.variable(ADC) {
        given.gcp.application_credentials_text = Some(gcp::read_credentials_file(path));
    }
}

/// A Cloud KMS key version: its credentials (workload identity federation with the job's
/// OIDC token, or Application Default Credentials) and Google's endpoints.
pub(super) fn check(given: &KeyGiven) -> Result<gcp::Settings, ConfigError> {
    let key_version = given[Setting::GcpKmsKey]
        .as_deref()
        .unwrap_or_default()
        .trim();
    if !valid_gcp_key_version(key_version) {
        let message = if key_version.split('/').count() == 8 {
            "names a key, not a key version: add /cryptoKeyVersions/N (the version that holds the app's key)"
        } else {
            "must be a key version: projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/V"
        };
        return Err(ConfigError::new(Field::Key(Setting::GcpKmsKey), message));
    }
    let service_account = given[Setting::GcpServiceAccount]
        .as_deref()
        .map(str::trim)
        .map(|email| {
            if valid_email(email) {
                Ok(email.to_string())
            } else {
                Err(ConfigError::new(
                    Field::Key(Setting::GcpServiceAccount),
                    "must be a service account's email, such as signer@PROJECT.iam.gserviceaccount.com",
                ))
            }
        })
        .transpose()?;
    let endpoints = endpoints(&given.gcp)?;
    let credentials = credentials(given, &endpoints, service_account)?;
    Ok(gcp::Settings {
        key_version: key_version.to_string(),
        credentials,
        endpoints,
    })
}

/// Google's endpoints, or those the environment puts in their place.
fn endpoints(env: &gcp::GcpEnv) -> Result<gcp::Endpoints, ConfigError> {
    let defaults = gcp::Endpoints::default();
    let endpoint = |name, raw: &Option<String>, default: String| match raw {
        Some(url) => base_url(name, url),
        None => Ok(default),
    };
    Ok(gcp::Endpoints {
        sts: endpoint(
            "CLOUDSDK_API_ENDPOINT_OVERRIDES_STS",
            &env.sts_override,
            defaults.sts,
        )?,
        iamcredentials: endpoint(
            "CLOUDSDK_API_ENDPOINT_OVERRIDES_IAMCREDENTIALS",
            &env.iamcredentials_override,
            defaults.iamcredentials,
        )?,
        cloudkms: endpoint(
            "CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDKMS",
            &env.cloudkms_override,
            defaults.cloudkms,
        )?,
    })
}

/// The credentials: workload identity federation when a provider is given, else the
/// `external_account` file `GOOGLE_APPLICATION_CREDENTIALS` names.
fn credentials(
    given: &KeyGiven,
    endpoints: &gcp::Endpoints,
    service_account: Option<String>,
) -> Result<gcp::Credentials, ConfigError> {
    if let Some(provider) = &given[Setting::GcpWorkloadIdentityProvider] {
        let provider = provider.trim();
        if !valid_gcp_provider(provider) {
            return Err(ConfigError::new(
                Field::Key(Setting::GcpWorkloadIdentityProvider),
                "must be a provider's full name: \
                 projects/NUMBER/locations/global/workloadIdentityPools/POOL/providers/PROVIDER",
            ));
        }
        return Ok(gcp::Credentials::WorkloadIdentity {
            provider: provider.to_string(),
            service_account,
            oidc: oidc_request(
                &given.oidc,
                Field::Key(Setting::GcpWorkloadIdentityProvider),
            )?,
        });
    }
    let Some(path) = given.variable(ADC) else {
        return Err(ConfigError::naming(
            Field::Key(Setting::GcpKmsKey),
            "needs credentials: set {} (workload identity federation with the job's OIDC token), \
             or GOOGLE_APPLICATION_CREDENTIALS (as google-github-actions/auth leaves it)",
            &[Field::Key(Setting::GcpWorkloadIdentityProvider)],
        ));
    };
    let adc = Field::Environment(ADC);
    let text = match &given.gcp.application_credentials_text {
        Some(Ok(text)) => text,
        Some(Err(why)) => {
            return Err(ConfigError::new(
                adc,
                format!(
                    "names a file that cannot be read ({why}): {}",
                    crate::excerpt::excerpt_name(path)
                ),
            ))
        }
        None => return Err(ConfigError::new(adc, "names a file that was not read")),
    };
    let host = |url: &str| {
        url.split('?')
            .next()
            .and_then(|u| u.parse::<http::Uri>().ok())
            .and_then(|u| u.host().map(str::to_ascii_lowercase))
    };
    let env = &given.gcp;
    let hosts = gcp::external::Hosts {
        sts: env.sts_override.as_ref().and(host(&endpoints.sts)),
        iamcredentials: env
            .iamcredentials_override
            .as_ref()
            .and(host(&endpoints.iamcredentials)),
        oidc: given.oidc.request_url.as_deref().and_then(host),
    };
    let account = gcp::external::parse(text, validate_url, &hosts)
        .map_err(|m| ConfigError::new(adc, format!("names a file that {m}")))?;
    Ok(gcp::Credentials::ExternalAccount {
        path: path.to_string(),
        account,
        impersonation_url: service_account
            .map(|email| gcp::impersonation_url(&endpoints.iamcredentials, &email)),
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::{with, KEY, KEY_VERSION, PROVIDER};
    use super::*;
    use crate::sign::oidc::OidcEnv;
    use crate::sign::Service;
    use Setting as S;

    fn gcp(f: impl FnOnce(&mut KeyGiven)) -> Result<gcp::Settings, ConfigError> {
        match with(|g| {
            g[S::GcpKmsKey] = Some(KEY_VERSION.into());
            g[S::GcpWorkloadIdentityProvider] = Some(PROVIDER.into());
            f(g);
        })? {
            Service::Gcp(settings) => Ok(settings),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn gcp_key_versions_providers_and_accounts_are_checked() {
        let s = gcp(|_| {}).unwrap();
        assert_eq!(s.key_version, KEY_VERSION);
        assert_eq!(s.endpoints, gcp::Endpoints::default());
        assert!(matches!(
            s.credentials,
            gcp::Credentials::WorkloadIdentity {
                service_account: None,
                ..
            }
        ));
        let key_without_version = "projects/p/locations/global/keyRings/r/cryptoKeys/app";
        let e = gcp(|g| g[S::GcpKmsKey] = Some(key_without_version.into()))
            .err()
            .unwrap();
        assert_eq!(e.field, Field::Key(S::GcpKmsKey));
        assert!(e.message.contains("not a key version"), "{}", e.message);
        for bad in [
            "projects/p/locations/global/keyRings/r/cryptoKeys/app/cryptoKeyVersions/latest",
            "projects//locations/global/keyRings/r/cryptoKeys/app/cryptoKeyVersions/1",
            "projects/p/locations/global/keyrings/r/cryptoKeys/app/cryptoKeyVersions/1",
        ] {
            assert_eq!(
                gcp(|g| g[S::GcpKmsKey] = Some(bad.into()))
                    .err()
                    .unwrap()
                    .field,
                Field::Key(S::GcpKmsKey),
                "{bad}"
            );
        }
        for bad in [
            "projects/my-project/locations/global/workloadIdentityPools/github/providers/acme",
            "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/a",
            "projects/1/locations/europe-west1/workloadIdentityPools/p/providers/a",
        ] {
            let e = gcp(|g| g[S::GcpWorkloadIdentityProvider] = Some(bad.into()))
                .err()
                .unwrap();
            assert_eq!(e.field, Field::Key(S::GcpWorkloadIdentityProvider), "{bad}");
        }
        let e = gcp(|g| g[S::GcpServiceAccount] = Some("not an email".into()))
            .err()
            .unwrap();
        assert_eq!(e.field, Field::Key(S::GcpServiceAccount));
        let s = gcp(|g| g[S::GcpServiceAccount] = Some("signer@p.iam.gserviceaccount.com".into()))
            .unwrap();
        assert!(matches!(
            s.credentials,
            gcp::Credentials::WorkloadIdentity { service_account: Some(ref a), .. } if a == "signer@p.iam.gserviceaccount.com"
        ));
        // Workload identity needs the job's OIDC token.
        let e = gcp(|g| g.oidc = OidcEnv::default()).err().unwrap();
        assert_eq!(e.field, Field::Key(S::GcpWorkloadIdentityProvider));
        assert!(e.message.contains("id-token: write"), "{}", e.message);
    }

    #[test]
    fn gcp_credentials_fall_back_on_application_default_credentials() {
        let e = gcp(|g| g[S::GcpWorkloadIdentityProvider] = None)
            .err()
            .unwrap();
        assert_eq!(
            (e.field, e.refs),
            (
                Field::Key(S::GcpKmsKey),
                vec![Field::Key(S::GcpWorkloadIdentityProvider)]
            )
        );
        assert!(e.message.contains("GOOGLE_APPLICATION_CREDENTIALS"));
        let file = r#"{"type":"external_account","audience":"//iam.googleapis.com/x","subject_token_type":"urn:ietf:params:oauth:token-type:jwt","token_url":"https://sts.googleapis.com/v1/token","credential_source":{"file":"/tmp/t"}}"#;
        let adc = |g: &mut KeyGiven, text: Result<&str, &str>| {
            g[S::GcpWorkloadIdentityProvider] = None;
            g.set_variable(
                "GOOGLE_APPLICATION_CREDENTIALS",
                Some("/tmp/gha-creds.json".into()),
            );
            g.gcp.application_credentials_text =
                Some(text.map(str::to_string).map_err(str::to_string));
        };
        let s = gcp(|g| adc(g, Ok(file))).unwrap();
        assert!(matches!(
            s.credentials,
            gcp::Credentials::ExternalAccount {
                impersonation_url: None,
                ..
            }
        ));
        let s = gcp(|g| {
            adc(g, Ok(file));
            g[S::GcpServiceAccount] = Some("s@p.iam.gserviceaccount.com".into());
        })
        .unwrap();
        assert!(matches!(
            s.credentials,
            gcp::Credentials::ExternalAccount { impersonation_url: Some(ref u), .. }
                if u == "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/s@p.iam.gserviceaccount.com:generateAccessToken"
        ));
        let adc_field = Field::Environment("GOOGLE_APPLICATION_CREDENTIALS");
        let e = gcp(|g| adc(g, Err("entity not found"))).err().unwrap();
        assert_eq!(e.field, adc_field);
        assert!(e.message.contains("entity not found"), "{}", e.message);
        let e = gcp(|g| adc(g, Ok(r#"{"type":"authorized_user"}"#)))
            .err()
            .unwrap();
        assert_eq!(e.field, adc_field);
        assert!(e.message.contains("`authorized_user`"), "{}", e.message);
    }

    #[test]
    fn gcp_endpoint_overrides_are_base_urls_https_or_loopback() {
        let s = gcp(|g| {
            g.gcp.sts_override = Some("http://127.0.0.1:8080".into());
            g.gcp.cloudkms_override = Some("https://kms.private.example/".into());
        })
        .unwrap();
        assert_eq!(s.endpoints.sts, "http://127.0.0.1:8080/");
        assert_eq!(s.endpoints.cloudkms, "https://kms.private.example/");
        assert_eq!(
            s.endpoints.iamcredentials,
            "https://iamcredentials.googleapis.com/"
        );
        let e = gcp(|g| g.gcp.iamcredentials_override = Some("http://iam.example.com".into()))
            .err()
            .unwrap();
        assert_eq!(
            e.field,
            Field::Environment("CLOUDSDK_API_ENDPOINT_OVERRIDES_IAMCREDENTIALS")
        );
    }

    #[test]
    fn googles_credentials_file_is_read_only_for_a_cloud_kms_key_that_needs_it() {
        let path = Some("/nonexistent/gha-creds.json".to_string());
        let read = |f: fn(&mut KeyGiven)| {
            let mut given = KeyGiven::default();
            given.set_variable("GOOGLE_APPLICATION_CREDENTIALS", path.clone());
            f(&mut given);
            given.read_files().gcp.application_credentials_text
        };
        // Another key source, or workload identity: the file is not opened.
        assert_eq!(read(|g| g[S::PrivateKey] = Some(KEY.into())), None);
        assert_eq!(read(|g| g[S::VaultTransitKey] = Some("app".into())), None);
        assert_eq!(
            read(|g| {
                g[S::GcpKmsKey] = Some(KEY_VERSION.into());
                g[S::PrivateKey] = Some(KEY.into());
            }),
            None
        );
        assert_eq!(
            read(|g| {
                g[S::GcpKmsKey] = Some(KEY_VERSION.into());
                g[S::GcpWorkloadIdentityProvider] = Some(PROVIDER.into());
            }),
            None
        );
        // Cloud KMS with Application Default Credentials: read (here, not found).
        assert!(matches!(
            read(|g| g[S::GcpKmsKey] = Some(KEY_VERSION.into())),
            Some(Err(_))
        ));
    }

    #[test]
    fn a_credentials_files_urls_name_googles_hosts_the_overrides_or_the_runners() {
        let file = |token_url: &str, source: &str| {
            format!(
                r#"{{"type":"external_account","audience":"//iam.googleapis.com/x","subject_token_type":"urn:ietf:params:oauth:token-type:jwt","token_url":"{token_url}","credential_source":{{"url":"{source}?api-version=2.0","headers":{{"Authorization":"Bearer r"}}}}}}"#
            )
        };
        let adc = |g: &mut KeyGiven, text: String| {
            g[S::GcpWorkloadIdentityProvider] = None;
            g.set_variable(
                "GOOGLE_APPLICATION_CREDENTIALS",
                Some("/tmp/gha-creds.json".into()),
            );
            g.gcp.application_credentials_text = Some(Ok(text));
        };
        // The runner's OIDC host (token.actions.example, from oidc()) and Google's STS.
        let written = file(
            "https://sts.googleapis.com/v1/token",
            "https://token.actions.example/x",
        );
        assert!(gcp(|g| adc(g, written.clone())).is_ok());
        let adc_field = Field::Environment("GOOGLE_APPLICATION_CREDENTIALS");
        for (token_url, source, named) in [
            (
                "https://attacker.example/v1/token",
                "https://token.actions.example/x",
                "`token_url` that names the host attacker.example",
            ),
            (
                "https://sts.googleapis.com/v1/token",
                "https://attacker.example/x",
                "`credential_source.url` that names the host attacker.example",
            ),
        ] {
            let e = gcp(|g| adc(g, file(token_url, source))).err().unwrap();
            assert_eq!(e.field, adc_field);
            assert!(e.message.contains(named), "{}", e.message);
        }
        // An override's host is accepted for its own field.
        let private = file(
            "https://sts.private.example/v1/token",
            "https://token.actions.example/x",
        );
        assert!(gcp(|g| adc(g, private.clone())).is_err());
        assert!(gcp(|g| {
            adc(g, private.clone());
            g.gcp.sts_override = Some("https://sts.private.example/".into());
        })
        .is_ok());
    }
}
