//! The proxy settings from the environment, checked before any request.
//!
//! A proxy that cannot be spoken to safely is an error that names its variable.

use super::{ConfigError, Field};
use crate::env::Env;
use crate::transport::{proxy_variable, Proxy};

/// `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY`, checked: `socks*://` and
/// other schemes are refused rather than sent a CONNECT or silently ignored.
pub fn proxy(env: Env<'_>) -> Result<Proxy, ConfigError> {
    let proxy = Proxy::from_env(env);
    match proxy.fault() {
        None => Ok(proxy),
        Some((scheme, why)) => {
            let variable = proxy_variable(env, scheme).unwrap_or("HTTPS_PROXY");
            Err(ConfigError::new(Field::Environment(variable), why))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k: &str| {
            vars.iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn http_and_https_proxies_are_taken() {
        let env = with(&[
            ("HTTPS_PROXY", "https://user:pass@proxy.example:3129"),
            ("http_proxy", "proxy.example:3128"),
        ]);
        let p = proxy(&env).unwrap();
        assert_eq!(
            p.https.as_deref(),
            Some("https://user:pass@proxy.example:3129")
        );
        assert_eq!(p.http.as_deref(), Some("proxy.example:3128"));
    }

    #[test]
    fn a_socks_proxy_is_refused_naming_its_variable_and_not_its_password() {
        let env = with(&[("all_proxy", "socks5h://user:s3cret@proxy.example:1080")]);
        let e = proxy(&env).unwrap_err();
        assert_eq!(e.field, Field::Environment("all_proxy"));
        assert!(e.message.contains("SOCKS"), "{}", e.message);
        assert!(!e.message.contains("s3cret"), "{}", e.message);
    }

    #[test]
    fn the_variable_in_use_is_named() {
        // ALL_PROXY is not used for https when HTTPS_PROXY is set: only the one in use counts.
        let env = with(&[
            ("HTTPS_PROXY", "ftp://proxy.example:21"),
            ("HTTP_PROXY", "http://proxy.example:3128"),
        ]);
        let e = proxy(&env).unwrap_err();
        assert_eq!(e.field, Field::Environment("HTTPS_PROXY"));
        assert!(e.message.contains("ftp://"), "{}", e.message);
        let env = with(&[
            ("HTTPS_PROXY", "http://proxy.example:3128"),
            ("ALL_PROXY", "socks5://proxy.example:1080"),
        ]);
        let e = proxy(&env).unwrap_err();
        assert_eq!(e.field, Field::Environment("ALL_PROXY"), "used for http");
    }
}
