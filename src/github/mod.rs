//! GitHub's REST API as app-token uses it.
//!
//! The client and its dialect (errors, rate limits, clock skew, retries) and the app
//! endpoints. It knows nothing of GitHub Actions.

mod client;
mod dialect;
mod endpoints;
mod retry;

pub use client::{
    parse_json, unix_now, AppJwt, Auth, Client, Credential, Log, API_VERSION, API_VERSION_HEADER,
    REPLICATION_WINDOW,
};
pub use dialect::ApiError;
pub use endpoints::*;
pub use retry::{Retry, Settings};
