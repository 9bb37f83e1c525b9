//! Starting an agent that outlives its starter.
//!
//! The same binary, started with [`SERVE_ARG`] alone, detached from its starter (a new
//! session on unix, a detached process on Windows), its environment emptied but for what
//! no secret is in, its order written to its stdin, its log in its folder. It says on
//! stdout that it is ready, or why it is not, and is then left to run.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::process::Command;

use super::endpoint::address;
use super::order::Order;

/// The one argument an agent is started with: its order comes on stdin.
pub const SERVE_ARG: &str = "--serve-agent-from-stdin";
/// The agent's log, in its folder.
pub const LOG_FILE: &str = "agent.log";
/// What an agent prints once it listens (then its pid).
pub const READY: &str = "ready";
/// How long a starter waits for its agent to say it is ready.
pub const READY_LIMIT: Duration = Duration::from_secs(20);

/// The variables an agent keeps in its environment: none holds a secret. The runner's
/// `RUNNER_TRACKING_ID` lets its clean-up at the job's end find the agent if post never
/// ran; Windows needs its system folders; certificates may be found through `SSL_CERT_*`.
pub const KEPT_VARIABLES: &[&str] = &[
    "RUNNER_TRACKING_ID",
    "PATH",
    "HOME",
    "LANG",
    "TMPDIR",
    "TEMP",
    "TMP",
    "SystemRoot",
    "SYSTEMROOT",
    "windir",
    "USERPROFILE",
    "LOCALAPPDATA",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
];

/// A started agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    pub address: String,
    pub pid: u32,
}

/// Reads the agent's first line: ready and its pid, or why not.
pub fn parse_ready(line: &str) -> Result<u32, String> {
    let line = line.trim_end();
    match line.split_once(' ') {
        Some((READY, pid)) => pid
            .parse()
            .map_err(|_| format!("the agent said {:?}", crate::excerpt::excerpt(line))),
        _ if line.is_empty() => Err("the agent ended without a word".into()),
        _ => Err(crate::plain::plain_lines(
            line.strip_prefix("error: ").unwrap_or(line),
        )),
    }
}

/// Starts `program` as the agent of `order` (whose folder exists), and waits until it
/// listens; gives where, and its pid.
pub async fn start(program: &Path, order: &Order) -> Result<Started, String> {
    let log = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(order.folder.join(LOG_FILE))
        .map_err(|e| format!("cannot open the agent's log: {e}"))?;
    let mut command = Command::new(program);
    // Not the step's working directory: on Windows a process's working directory cannot
    // be removed, and the job's workspace is cleaned while the agent may still run.
    if let Some(base) = order.folder.parent() {
        command.current_dir(base);
    }
    command
        .arg(SERVE_ARG)
        .env_clear()
        .envs(
            KEPT_VARIABLES
                .iter()
                .filter_map(|&n| std::env::var_os(n).map(|v| (n, v))),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(log)
        .kill_on_drop(false);
    detach(&mut command);
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start the agent ({}): {e}", program.display()))?;
    let text = serde_json::to_vec(order).map_err(|e| format!("cannot write the order: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A failure to write shows as the agent's own complaint, read below.
        let _ = stdin.write_all(&text).await;
        let _ = stdin.shutdown().await;
    }
    let Some(stdout) = child.stdout.take() else {
        return Err("the agent has no stdout".into());
    };
    let mut line = String::new();
    let mut reader = BufReader::new(stdout.take(4096));
    let read = reader.read_line(&mut line);
    match tokio::time::timeout(READY_LIMIT, read).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return Err(format!("cannot hear from the agent: {e}")),
        Err(_) => {
            let _ = child.start_kill();
            return Err(format!(
                "the agent did not say it was ready within {} s",
                READY_LIMIT.as_secs()
            ));
        }
    }
    let pid = parse_ready(&line)?;
    Ok(Started {
        address: address(&order.folder),
        pid,
    })
}

#[cfg(unix)]
fn detach(command: &mut Command) {
    // SAFETY: setsid(2) is async-signal-safe, and all the child runs before exec.
    unsafe {
        command.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(windows)]
fn detach(command: &mut Command) {
    // DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP: no console, and the step's Ctrl-C is not its.
    command.creation_flags(0x0000_0008 | 0x0000_0200);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_agents_first_line_is_ready_and_its_pid_or_why_not() {
        assert_eq!(parse_ready("ready 4242\n"), Ok(4242));
        assert_eq!(
            parse_ready("error: input `app-id` is required\n"),
            Err("input `app-id` is required".into())
        );
        assert_eq!(
            parse_ready(""),
            Err("the agent ended without a word".into())
        );
        assert!(parse_ready("ready now").is_err());
        for kept in KEPT_VARIABLES {
            assert!(!crate::config::SIGNING_VARIABLES.contains(kept), "{kept}");
        }
    }
}
