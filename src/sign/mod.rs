//! The signers of the app's JWT, behind one interface.
//!
//! [`Sign`], and the choice of backend: a PEM in memory, or a key held by AWS KMS, GCP
//! Cloud KMS, Azure Key Vault or Vault transit, each reached over [`rest`] with the job's
//! [`oidc`] token or the environment's credentials.
//!
//! One file (or folder) per backend; none of them knows the others, the configuration
//! or the app JWT's claims: a backend turns a JWS signing input into an RS256 signature.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use futures::future::BoxFuture;

use crate::transport::Proxy;

pub mod aws;
pub mod azure;
pub mod claims;
pub mod gcp;
pub mod lease;
pub mod oidc;
pub mod pem;
pub mod rest;
pub mod secret;
pub mod vault;

pub use secret::{Secret, SecretSink};

/// Told the lines the runner's debug logging shows: what the job's OIDC token shows at
/// each exchange.
pub type DebugSink = Arc<dyn Fn(&str) + Send + Sync>;

/// What holds the app's key: it makes RS256 (RSASSA-PKCS1-v1_5 with SHA-256) signatures
/// of a JWS signing input.
pub trait Sign: Send + Sync {
    fn sign<'a>(&'a self, message: &'a [u8]) -> BoxFuture<'a, anyhow::Result<Vec<u8>>>;
    /// The key, for messages ("the private key", "KMS key alias/x").
    fn describe(&self) -> String;
    /// Gives back what signing borrowed for the step (a Vault token the step logged in
    /// for is revoked here). Most backends hold nothing that outlives the process.
    fn finish(&self) -> BoxFuture<'_, anyhow::Result<()>> {
        Box::pin(async { Ok(()) })
    }
    /// [`Sign::finish`] at a panic: on the panic's own runtime, with a client made for
    /// it (the step's runtime and its connections are gone); nothing when `finish` has
    /// given it back already.
    fn finish_afresh(&self) -> BoxFuture<'_, anyhow::Result<()>> {
        Box::pin(async { Ok(()) })
    }
}

/// A key held by a service, with its checked settings: one variant per backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Service {
    Aws(aws::KmsSettings),
    Gcp(gcp::Settings),
    Azure(azure::Settings),
    Vault(vault::Settings),
}

/// What every service's client is made with: the GitHub client's proxies and connect
/// timeout, where the secrets it comes to hold are told, and, with the runner's debug
/// logging on, where its debug lines go.
#[derive(Clone)]
pub struct Context {
    pub proxy: Proxy,
    pub connect_timeout: Duration,
    pub on_secret: SecretSink,
    pub on_debug: Option<DebugSink>,
}

impl Context {
    /// The service's HTTPS client, through the proxies, with the connect timeout.
    pub fn client(&self) -> anyhow::Result<rest::RestClient> {
        rest::RestClient::new(&self.proxy, self.connect_timeout)
    }
}

/// A service key's [`Sign::sign`]: `signing` boxed, its error led by the key's
/// description (`KMS key alias/x: KMS Sign failed: …`).
fn described<'a>(
    key: &'a (impl Sign + ?Sized),
    signing: impl Future<Output = anyhow::Result<Vec<u8>>> + Send + 'a,
) -> BoxFuture<'a, anyhow::Result<Vec<u8>>> {
    Box::pin(async move { signing.await.with_context(|| key.describe()) })
}

/// The signer of a service's key. Its client is made here; no request is made until
/// the first signature. Every signature it makes is masked as the JWT carries it (see
/// [`Masked`]).
pub fn backend(service: Service, context: &Context) -> anyhow::Result<Box<dyn Sign>> {
    let key: Box<dyn Sign> = match service {
        Service::Aws(settings) => Box::new(aws::KmsKey::new(settings, context)?),
        Service::Gcp(settings) => Box::new(gcp::CloudKmsKey::new(settings, context)?),
        Service::Azure(settings) => Box::new(azure::KeyVaultKey::new(settings, context)?),
        Service::Vault(settings) => Box::new(vault::TransitKey::new(settings, context)?),
    };
    Ok(Box::new(Masked {
        key,
        on_secret: context.on_secret.clone(),
    }))
}

/// What the JWT carries of a signature: its bytes in base64url without padding, the
/// JWT's third part (RFC 7515, 7.1).
pub fn jwt_part(signature: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(signature)
}

/// A service's key whose every signature `on_secret` learns as the JWT carries it
/// ([`jwt_part`]), before the JWT is made: the one place a service's signature is
/// masked, whatever form the service answered in (KMS's and Cloud KMS's base64, Key
/// Vault's base64url, Vault's `vault:vN:…`).
struct Masked {
    key: Box<dyn Sign>,
    on_secret: SecretSink,
}

impl Sign for Masked {
    fn sign<'a>(&'a self, message: &'a [u8]) -> BoxFuture<'a, anyhow::Result<Vec<u8>>> {
        Box::pin(async move {
            let signature = self.key.sign(message).await?;
            (self.on_secret)(&jwt_part(&signature));
            Ok(signature)
        })
    }

    fn describe(&self) -> String {
        self.key.describe()
    }

    fn finish(&self) -> BoxFuture<'_, anyhow::Result<()>> {
        self.key.finish()
    }

    fn finish_afresh(&self) -> BoxFuture<'_, anyhow::Result<()>> {
        self.key.finish_afresh()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use futures::FutureExt as _;

    use super::*;

    /// A key whose signature is fixed bytes.
    struct Fixed;

    impl Sign for Fixed {
        fn sign<'a>(&'a self, _: &'a [u8]) -> BoxFuture<'a, anyhow::Result<Vec<u8>>> {
            Box::pin(async { Ok(vec![0xfb, 0xff, 0x01]) })
        }

        fn describe(&self) -> String {
            "a fixed key".into()
        }
    }

    #[test]
    fn a_services_signature_is_masked_as_the_jwt_carries_it() {
        let masked = Arc::new(Mutex::new(Vec::<String>::new()));
        let told = Arc::clone(&masked);
        let key = Masked {
            key: Box::new(Fixed),
            on_secret: Arc::new(move |s: &str| told.lock().unwrap().push(s.to_string())),
        };
        let signature = key.sign(b"input").now_or_never().unwrap().unwrap();
        assert_eq!(signature, [0xfb, 0xff, 0x01]);
        // base64url without padding (`-`, `_`), not base64 (`+/8B`).
        assert_eq!(jwt_part(&signature), "-_8B");
        assert_eq!(*masked.lock().unwrap(), ["-_8B"]);
        assert_eq!(key.describe(), "a fixed key");
    }
}
