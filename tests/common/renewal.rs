//! One app JWT signer over a key service's backend, called as a long-lived process calls it (the token agent signs a fresh JWT every ~40 minutes for hours): each call a new signature, with what the backend was lent (credentials, an access token, a Vault token) lasting seconds here, not hours.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app_token::jwt::Signer;
use app_token::sign::{self, Service};
use app_token::transport::Proxy;

use super::{jwt_claims_with, unix_now, APP_ID};

/// How long a stand-in's short-lived access lives in these tests: a backend renews it
/// with a quarter of that left (1 s), so a signature [`PAST_EXPIRY`] after the first
/// exchange, when the access has run out, needs a second one.
pub const SHORT_LIFETIME_SECS: u64 = 4;
pub const PAST_EXPIRY: Duration = Duration::from_millis(4500);

/// A signer over `service`'s backend, on its own runtime, with the secrets it was told.
pub struct ServiceSigner {
    pub signer: Signer,
    rt: tokio::runtime::Runtime,
    masked: Arc<Mutex<Vec<String>>>,
    /// The clock of the next JWT: each is for ten minutes after the last, so that none
    /// is reused and each call is a signature.
    next: AtomicI64,
}

impl ServiceSigner {
    pub fn new(service: Service) -> Self {
        let masked = Arc::new(Mutex::new(Vec::new()));
        let told = Arc::clone(&masked);
        let context = sign::Context {
            proxy: Proxy::default(),
            connect_timeout: Duration::from_secs(5),
            on_secret: Arc::new(move |s: &str| {
                told.lock().expect("the masked secrets").push(s.to_string())
            }),
            on_debug: None,
        };
        let key = sign::backend(service, &context).expect("the key service's signer");
        Self {
            signer: Signer::new(key, APP_ID),
            rt: app_token::runtime().expect("a runtime"),
            masked,
            next: AtomicI64::new(unix_now()),
        }
    }

    /// A new app JWT, whose signature the service made now.
    pub fn sign(&self) -> String {
        let at = self.next.fetch_add(600, Ordering::SeqCst);
        let before = self.signer.signatures();
        let jwt = self
            .rt
            .block_on(self.signer.sign_at(at))
            .unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(self.signer.signatures(), before + 1, "a signature was made");
        jwt
    }

    /// What the backend gives back at the end of the step.
    pub fn finish(&self) -> anyhow::Result<()> {
        self.rt.block_on(self.signer.finish())
    }

    /// Every secret the backend told, in order.
    pub fn masked(&self) -> Vec<String> {
        self.masked.lock().expect("the masked secrets").clone()
    }

    /// How many times `secret` was told.
    pub fn times_masked(&self, secret: &str) -> usize {
        self.masked().iter().filter(|s| *s == secret).count()
    }
}

/// Each JWT's signature verifies with `public_key`, and the app is their issuer.
pub fn assert_verify(jwts: &[&str], public_key: &str) {
    for jwt in jwts {
        let claims = jwt_claims_with(jwt, public_key);
        assert!(
            claims.as_ref().is_some_and(|(_, _, iss)| iss == APP_ID),
            "a JWT that does not verify: {claims:?}"
        );
    }
}
