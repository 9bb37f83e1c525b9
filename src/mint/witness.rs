//! What a session tells its front end.
//!
//! A [`Session`](super::Session) and its panic guard print nothing: they tell a
//! [`Witness`], and each front end presents that its own way (the action as workflow
//! commands and masks, the command line on stderr). No method is given a token to
//! print: only [`Witness::hide`] sees a secret, to hide it.

use super::Revocation;
use crate::cancel::Signal;

/// Hears what a session does, and presents it.
pub trait Witness: Send + Sync {
    /// A line for the log: a retry, a note on what was minted.
    fn log(&self, line: &str);

    /// Is every request to be reported too (the runner's debug logging)?
    fn debugs(&self) -> bool {
        false
    }

    /// One request, for the debug log, when [`Witness::debugs`].
    fn debug(&self, _line: &str) {}

    /// A secret to hide from now on wherever the output can (the runner's masks): one a
    /// key service lent, or, at a panic, a live token, before anything else is printed
    /// (the panic message included).
    fn hide(&self, _secret: &str) {}

    /// A signal came: the work stops, and every token minted is revoked.
    fn cancelled(&self, _signal: Signal) {}

    /// What revoking after the signal came to.
    fn revoked_after_cancel(&self, _done: &Revocation) {}

    /// The process panicked: what revoking its `live` tokens came to.
    fn panicked(&self, live: usize, done: &Revocation);

    /// Signing did not give back what it borrowed (a Vault login's token), and why.
    fn signing_not_ended(&self, _why: &str) {}
}
