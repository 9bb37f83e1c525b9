//! Cancellation: SIGINT and SIGTERM as a future that the front ends race their work against.
//!
//! A container's PID 1 ignores every signal it has no handler for, so without this a
//! cancelled step that waits on GitHub keeps its container alive until the runner kills
//! the docker client (after SIGINT, then SIGTERM 7.5 s later, then 2.5 s more).

use std::future::Future;

/// The signal that cancelled the work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Interrupt,
    Terminate,
}

impl Signal {
    /// The conventional exit status of a process stopped by this signal: 128 + its number.
    pub fn exit_code(self) -> i32 {
        match self {
            Signal::Interrupt => 130,
            Signal::Terminate => 143,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }
}

/// Resolves at the first SIGINT or SIGTERM. The handlers are installed when this is
/// called (not when it is first polled), so call it before the work starts.
/// Where a handler cannot be installed, that signal is simply never reported.
#[cfg(unix)]
pub fn signalled() -> impl Future<Output = Signal> {
    use tokio::signal::unix::{signal, SignalKind};
    let interrupt = signal(SignalKind::interrupt()).ok();
    let terminate = signal(SignalKind::terminate()).ok();
    async move {
        let wait = |s: Option<tokio::signal::unix::Signal>| async move {
            match s {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = wait(interrupt) => Signal::Interrupt,
            () = wait(terminate) => Signal::Terminate,
        }
    }
}

/// Ctrl-C elsewhere.
#[cfg(not(unix))]
pub fn signalled() -> impl Future<Output = Signal> {
    async {
        match tokio::signal::ctrl_c().await {
            Ok(()) => Signal::Interrupt,
            Err(_) => std::future::pending().await,
        }
    }
}

/// Never resolves: for callers (tests, the demo) that do not cancel.
pub fn never() -> impl Future<Output = Signal> {
    std::future::pending()
}
