//! app-token: a GitHub App installation token scoped to exactly the repositories and permissions a job needs.
//!
//! The core: `config` (one validated configuration for both front ends), `permissions`,
//! `repositories`, `jwt` and `sign` (the app's JWT and the backends that sign it), `transport` (HTTPS to any host), `github` (GitHub's client,
//! dialect and endpoints), `mint` (planning and making tokens). The front ends over it:
//! the action (`inputs`, `action`, `post`, `summary`, with `runner` for the Actions
//! protocol) and the command line (`cli`). `cancel` turns signals into a future;
//! `panic_guard` revokes what was minted when the process panics; `harden` keeps the
//! process's secrets from other processes of its user.

pub mod action;
pub mod cancel;
pub mod cli;
pub mod config;
pub mod env;
pub mod excerpt;
#[cfg(debug_assertions)]
pub mod fault;
pub mod github;
pub mod harden;
pub mod jwt;
pub mod mint;
pub mod permissions;
pub mod plain;
pub mod repositories;
pub mod sign;
pub mod transport;

/// A small single-threaded runtime: the work is a handful of concurrent requests.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}
