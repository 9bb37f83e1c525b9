//! app-token, the library behind the action and the command line.
//!
//! A GitHub App installation token scoped to exactly the repositories and permissions a job
//! needs.
//!
//! Read it top down. The front ends: `action` (the GitHub Action's main and post steps,
//! and the runner protocol they speak) and `cli` (the command line), each presenting
//! what a session reports. Minting: `mint` (a session that owns the signer, the client,
//! the ledger of what it minted and the panic guard; how tokens are planned, made and
//! revoked), from one checked `config` (with `permissions` and `repositories`).
//! Signing: `jwt` and `sign` (the app's JWT, and the key services that sign it).
//! GitHub: `github` (its client, dialect and endpoints). Transport: `transport` (HTTPS
//! to any host). Beside them: `env` (the environment, read one way), `cancel` (signals
//! as a future), `harden` (the process's secrets kept from other processes of its
//! user), `excerpt` and `plain` (text from elsewhere, shown and never obeyed).

// The front ends.
pub mod action;
pub mod cli;

// The token agent, for jobs longer than an hour: a third front end.
pub mod agent;

// Minting, from one checked configuration.
pub mod config;
pub mod mint;
pub mod permissions;
pub mod repositories;

// Signing.
pub mod jwt;
pub mod sign;

// GitHub.
pub mod github;

// Transport.
pub mod transport;

// Beside them.
pub mod cancel;
pub mod env;
pub mod excerpt;
#[cfg(debug_assertions)]
pub mod fault;
pub mod harden;
pub mod plain;

/// A small single-threaded runtime: the work is a handful of concurrent requests.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}
