//! `app-token jwt`.
//!
//! A new app JWT on stdout, and nothing else, for scripts that call the app's own
//! endpoints.

use std::sync::Arc;

use super::args::JwtArgs;
use super::mint::{prepare_app, target};
use super::output::{print, StderrWitness};
use super::Failure;
use crate::env::Env;
use crate::github::Settings;
use crate::mint::session::{end_signing, signer};
use crate::mint::Witness;

pub(super) async fn command(
    args: &JwtArgs,
    env: Env<'_>,
    settings: Settings,
) -> Result<(), Failure> {
    // GitHub is not called: neither --api-url nor GITHUB_API_URL matters here. A key in
    // KMS is, through the proxies the environment names.
    let config = prepare_app(&args.app, None, env)?;
    let target = target(&config.api_url, env, settings)?;
    // No runner to hide secrets from: the command line never prints them.
    let witness: Arc<dyn Witness> = Arc::new(StderrWitness);
    let signer = signer(&config.app_id, config.key, &target, &witness)
        .map_err(|e| Failure::Api(format!("{e:#}")))?;
    let jwt = signer.sign().await;
    end_signing(&signer, &*witness).await;
    let jwt = jwt.map_err(|e| Failure::Api(format!("cannot sign the app's JWT: {e:#}")))?;
    print(&format!("{jwt}\n"))
}
