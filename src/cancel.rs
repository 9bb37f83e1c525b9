//! Cancellation.
//!
//! SIGINT and SIGTERM (on Windows Ctrl-C and Ctrl-Break) as a future that the front ends
//! race their work against, or as a stream to pass on to a child.
//!
//! On Windows the Actions runner cancels a step as it would with SIGINT then SIGTERM,
//! with a console control event: CTRL_C_EVENT, then CTRL_BREAK_EVENT 7.5 s later
//! (actions/runner's ProcessInvoker), to every process of the step's console.
//!
//! A container's PID 1 ignores every signal it has no handler for, so without this a
//! cancelled step that waits on GitHub keeps its container alive until the runner kills
//! the docker client (after SIGINT, then SIGTERM 7.5 s later, then 2.5 s more).

use std::future::Future;
use std::pin::Pin;

use futures::Stream;

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

    /// Its name as the user knows it: the signal's on unix, the console event's on Windows.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt if cfg!(windows) => "Ctrl-C",
            Signal::Terminate if cfg!(windows) => "Ctrl-Break",
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }
}

/// Every SIGINT and SIGTERM (Ctrl-C and Ctrl-Break) from the moment it is installed, one
/// after the other: for a front end that passes them on (to a child process) rather than
/// stopping at the first.
pub struct Signals {
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
    #[cfg(windows)]
    interrupt: Option<tokio::signal::windows::CtrlC>,
    #[cfg(windows)]
    terminate: Option<tokio::signal::windows::CtrlBreak>,
}

#[cfg(unix)]
impl Signals {
    /// Installs the handlers now, inside the runtime. Where a handler cannot be
    /// installed, that signal is simply never reported.
    pub fn install() -> Self {
        use tokio::signal::unix::{signal, SignalKind};
        Self {
            interrupt: signal(SignalKind::interrupt()).ok(),
            terminate: signal(SignalKind::terminate()).ok(),
        }
    }

    /// The next signal. Cancel safe: dropped unfinished, it loses no signal.
    pub async fn recv(&mut self) -> Signal {
        async fn next(s: Option<&mut tokio::signal::unix::Signal>) {
            if let Some(s) = s {
                if s.recv().await.is_some() {
                    return;
                }
            }
            std::future::pending::<()>().await
        }
        tokio::select! {
            () = next(self.interrupt.as_mut()) => Signal::Interrupt,
            () = next(self.terminate.as_mut()) => Signal::Terminate,
        }
    }
}

/// Ctrl-C and Ctrl-Break, the console events the runner sends on Windows.
#[cfg(windows)]
impl Signals {
    /// Installs the handlers now, inside the runtime: from then on the events no longer
    /// end the process (the default handler would, before it revokes).
    pub fn install() -> Self {
        use tokio::signal::windows::{ctrl_break, ctrl_c};
        Self {
            interrupt: ctrl_c().ok(),
            terminate: ctrl_break().ok(),
        }
    }

    /// The next event. Cancel safe: dropped unfinished, it loses no event.
    pub async fn recv(&mut self) -> Signal {
        let Self {
            interrupt,
            terminate,
        } = self;
        let interrupt = async {
            if let Some(s) = interrupt.as_mut() {
                if s.recv().await.is_some() {
                    return;
                }
            }
            std::future::pending::<()>().await
        };
        let terminate = async {
            if let Some(s) = terminate.as_mut() {
                if s.recv().await.is_some() {
                    return;
                }
            }
            std::future::pending::<()>().await
        };
        tokio::select! {
            () = interrupt => Signal::Interrupt,
            () = terminate => Signal::Terminate,
        }
    }
}

/// Neither unix nor Windows: nothing to install, nothing reported.
#[cfg(not(any(unix, windows)))]
impl Signals {
    pub fn install() -> Self {
        Self {}
    }

    pub async fn recv(&mut self) -> Signal {
        std::future::pending().await
    }
}

/// Resolves at the first SIGINT or SIGTERM. The handlers are installed when this is
/// called (not when it is first polled), so call it before the work starts.
pub fn signalled() -> impl Future<Output = Signal> {
    let mut signals = Signals::install();
    async move { signals.recv().await }
}

/// Every SIGINT and SIGTERM from now on, as a stream: for a step that goes on after the
/// first signal and stops at a later one (post). The handlers are installed now.
pub fn signal_stream() -> Pin<Box<dyn Stream<Item = Signal> + Send>> {
    let signals = Signals::install();
    Box::pin(futures::stream::unfold(signals, |mut s| async move {
        let signal = s.recv().await;
        Some((signal, s))
    }))
}

/// A stream of signals that never yields: for callers (tests, the demo) that do not cancel.
pub fn no_signals() -> futures::stream::Pending<Signal> {
    futures::stream::pending()
}

/// Never resolves: for callers (tests, the demo) that do not cancel.
pub fn never() -> impl Future<Output = Signal> {
    std::future::pending()
}
