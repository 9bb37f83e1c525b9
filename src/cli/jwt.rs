//! `app-token jwt`: a new app JWT on stdout, and nothing else, for scripts that call the app's own endpoints.

use super::args::JwtArgs;
use super::mint::prepare_app;
use super::output::print;
use super::Failure;
use crate::runner::Env;

pub(super) async fn command(args: &JwtArgs, env: Env<'_>) -> Result<(), Failure> {
    // No API is called: neither --api-url nor GITHUB_API_URL matters here.
    let config = prepare_app(&args.app, None, env)?;
    let jwt = config
        .signer
        .sign()
        .map_err(|e| Failure::Api(format!("cannot sign the app's JWT: {e:#}")))?;
    print(&format!("{jwt}\n"))
}
