//! The job's end, as an agent sees it: the process that runs the job (the runner's
//! worker, the native launcher's parent) is gone.
//!
//! The runner ends a job's leftover processes by the `RUNNER_TRACKING_ID` in their
//! environment, which it reads from `/proc/PID/environ` on Linux: the agent, not
//! dumpable, cannot be read there, so the runner would leave it running. The agent
//! therefore watches the worker itself, and ends (revoking first) once it is gone.

use std::time::Duration;

/// How often the watched process is looked for.
pub const WATCH_EVERY: Duration = Duration::from_secs(2);

/// The variable the native launcher names its parent in (the runner's worker).
pub const RUNNER_PID_VARIABLE: &str = "APP_TOKEN_RUNNER_PID";

/// The pid named in `text` (the launcher's [`RUNNER_PID_VARIABLE`]), if it is one worth
/// watching: not 0 or 1 (init outlives every job).
pub fn watched_pid(text: Option<&str>) -> Option<u32> {
    text?.trim().parse().ok().filter(|&pid| pid > 1)
}

/// Is process `pid` there (ours or another user's)?
#[cfg(unix)]
pub fn exists(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 sends nothing; kill(2) only says whether the pid exists.
    let found = unsafe { libc::kill(pid, 0) } == 0;
    found || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Resolves once process `pid` is gone, looked for every [`WATCH_EVERY`]. On Windows the
/// runner reads every process's environment itself and ends the agent: never resolves.
pub async fn gone(pid: u32) {
    #[cfg(unix)]
    loop {
        tokio::time::sleep(WATCH_EVERY).await;
        if !exists(pid) {
            return;
        }
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        std::future::pending::<()>().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_real_parent_is_watched() {
        assert_eq!(watched_pid(Some("4242")), Some(4242));
        assert_eq!(watched_pid(Some(" 4242\n")), Some(4242));
        for none in [None, Some(""), Some("0"), Some("1"), Some("-5"), Some("x")] {
            assert_eq!(watched_pid(none), None, "{none:?}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn this_process_exists_and_a_reaped_child_does_not() {
        assert!(exists(std::process::id()));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!exists(pid));
    }
}
