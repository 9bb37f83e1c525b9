//! app-token: a GitHub App installation token scoped to exactly the repositories and permissions a job needs.
//!
//! The library holds the core (inputs, permissions, repositories, JWT, HTTP, GitHub's
//! endpoints, minting); the Actions front end (`action`, `post`, `runner`, `summary`)
//! and the command line (`cli`) are thin shells over it.

pub mod action;
pub mod cancel;
pub mod cli;
pub mod github;
pub mod http;
pub mod inputs;
pub mod jwt;
pub mod mint;
pub mod permissions;
pub mod post;
pub mod repositories;
pub mod runner;
pub mod summary;

/// A small single-threaded runtime: the work is a handful of concurrent requests.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}
