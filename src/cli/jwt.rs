//! `app-token jwt`: a new app JWT on stdout, and nothing else, for scripts that call the app's own endpoints.

use super::args::JwtArgs;
use super::mint::{end_signing, prepare_app, signer};
use super::output::print;
use super::Failure;
use crate::config;
use crate::env::Env;
use crate::github::Settings;

pub(super) async fn command(
    args: &JwtArgs,
    env: Env<'_>,
    settings: Settings,
) -> Result<(), Failure> {
    // GitHub is not called: neither --api-url nor GITHUB_API_URL matters here. A key in
    // KMS is, through the proxies the environment names.
    let config = prepare_app(&args.app, None, env)?;
    let signer = signer(&config.app_id, config.key, &config::proxy(env)?, &settings)?;
    let jwt = signer.sign().await;
    end_signing(&signer).await;
    let jwt = jwt.map_err(|e| Failure::Api(format!("cannot sign the app's JWT: {e:#}")))?;
    print(&format!("{jwt}\n"))
}
