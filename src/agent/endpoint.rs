//! Where the agent listens, and how a client reaches it: only on this machine, only for
//! this user.
//!
//! A fresh folder of mode 0700 holds everything the agent keeps on disk (its socket and
//! its ledger; never a key). On unix the agent listens on a socket in that folder, mode
//! 0600, and answers only a peer whose uid is its own (`SO_PEERCRED`, `getpeereid`). On
//! Windows it listens on a named pipe that refuses remote clients and whose DACL admits
//! only this user (`endpoint/windows.rs`), and answers only a client whose process runs as that
//! user. Never on TCP.

use std::io;
use std::path::{Path, PathBuf};

use tokio::io::{AsyncRead, AsyncWrite};

use crate::env::{var, Env};

/// A connection to or from the agent.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// The agent's ledger of live tokens, in its folder.
pub const LEDGER_FILE: &str = "ledger.json";
/// The agent's socket, in its folder (unix).
pub const SOCKET_FILE: &str = "agent.sock";
/// The start of every folder's and pipe's name.
const PREFIX: &str = "app-token-agent-";

/// 16 random bytes as hex, naming one agent.
fn random_name() -> io::Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| io::Error::other(format!("no randomness: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The longest socket path every unix takes: `sun_path` holds 108 bytes on Linux and
/// 104 on macOS, the terminating NUL included.
pub const MAX_SOCKET_PATH: usize = 103;

/// How long the socket's path is in a fresh folder under `base`.
fn socket_path_len(base: &Path) -> usize {
    // base, '/', the folder's name (the prefix and 32 hex digits), '/', the socket's name.
    base.as_os_str().len() + 1 + PREFIX.len() + 32 + 1 + SOCKET_FILE.len()
}

/// The folder fresh folders go in: the runner's temporary folder in a job, else the
/// user's runtime folder, else the system's temporary folder; on unix, the first of those
/// under which the socket's path fits in [`MAX_SOCKET_PATH`] (a self-hosted runner's
/// `RUNNER_TEMP` can be deep), and `/tmp` when none does.
pub fn base_folder(env: Env<'_>) -> PathBuf {
    let candidates: Vec<PathBuf> = [var(env, "RUNNER_TEMP"), var(env, "XDG_RUNTIME_DIR")]
        .into_iter()
        .flatten()
        .map(PathBuf::from)
        .chain([std::env::temp_dir()])
        .collect();
    if cfg!(windows) {
        // A pipe's name does not depend on the folder's path.
        return candidates
            .into_iter()
            .next()
            .unwrap_or_else(std::env::temp_dir);
    }
    candidates
        .into_iter()
        .find(|base| socket_path_len(base) <= MAX_SOCKET_PATH)
        .unwrap_or_else(|| PathBuf::from("/tmp"))
}

/// A new folder under `base` only this user can enter (mode 0700 on unix).
pub fn make_folder(base: &Path) -> io::Result<PathBuf> {
    let path = base.join(format!("{PREFIX}{}", random_name()?));
    #[cfg_attr(not(unix), allow(unused_mut))]
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(&path)?;
    Ok(path)
}

/// Is `path` a folder this module made (its name has the agent's prefix)? Post removes
/// only such a folder.
pub fn is_agent_folder(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix(PREFIX))
        .is_some_and(|rest| rest.len() == 32 && rest.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The address the agent in `folder` listens on: its socket's path, or on Windows the
/// pipe named after the folder.
pub fn address(folder: &Path) -> String {
    #[cfg(unix)]
    {
        folder.join(SOCKET_FILE).display().to_string()
    }
    #[cfg(windows)]
    {
        let name = folder
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        format!(r"\\.\pipe\{name}")
    }
}

#[cfg(unix)]
pub use self::unix::{connect, Listener};
#[cfg(windows)]
pub use self::windows::{connect, Listener};

#[cfg(unix)]
mod unix {
    use std::io;
    use std::os::unix::fs::PermissionsExt as _;

    use tokio::net::{UnixListener, UnixStream};

    use super::Stream;

    /// The agent's socket.
    pub struct Listener(UnixListener);

    impl Listener {
        /// Listens at `address` (a path in a folder of mode 0700), the socket made 0600.
        pub fn bind(address: &str) -> io::Result<Self> {
            let listener = UnixListener::bind(address)?;
            std::fs::set_permissions(address, std::fs::Permissions::from_mode(0o600))?;
            Ok(Self(listener))
        }

        /// The next connection, and whether its peer is this process's user (a peer
        /// whose credentials cannot be read is not).
        pub async fn accept(&self) -> io::Result<(Box<dyn Stream>, bool)> {
            let (stream, _) = self.0.accept().await?;
            // SAFETY: geteuid(2) cannot fail and touches no memory.
            let own = unsafe { libc::geteuid() };
            let same_user = stream.peer_cred().is_ok_and(|c| c.uid() == own);
            Ok((Box::new(stream), same_user))
        }
    }

    /// A connection to the agent at `address`.
    pub async fn connect(address: &str) -> io::Result<Box<dyn Stream>> {
        Ok(Box::new(UnixStream::connect(address).await?))
    }
}

#[cfg(windows)]
mod windows;

/// The security descriptor, in SDDL, of a pipe only the user of SID `sid` may open: a
/// protected DACL (nothing inherited) whose one entry grants that SID all access, so
/// Everyone, Anonymous and every other user get none. None for what is not a SID's
/// string form (`S-` and then numbers between dashes).
pub fn only_user_sddl(sid: &str) -> Option<String> {
    let rest = sid.strip_prefix("S-")?;
    let numbers_between_dashes = rest
        .split('-')
        .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    numbers_between_dashes.then(|| format!("D:P(A;;GA;;;{sid})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_are_named_for_the_agent_and_only_those_are_recognised() {
        let base = tempfile::tempdir().unwrap();
        let folder = make_folder(base.path()).unwrap();
        assert!(is_agent_folder(&folder), "{}", folder.display());
        assert!(!is_agent_folder(base.path()));
        assert!(!is_agent_folder(Path::new("/tmp/app-token-agent-xyz")));
        assert!(!is_agent_folder(Path::new("/")));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&folder).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
            assert_eq!(
                address(&folder),
                folder.join(SOCKET_FILE).display().to_string()
            );
        }
    }

    #[test]
    fn the_base_folder_is_the_runners_then_the_users_runtime_folder() {
        let env = |name: &str| match name {
            "RUNNER_TEMP" => Some("/runner/tmp".to_string()),
            "XDG_RUNTIME_DIR" => Some("/run/user/1000".to_string()),
            _ => None,
        };
        assert_eq!(base_folder(&env), PathBuf::from("/runner/tmp"));
        let env = |name: &str| (name == "XDG_RUNTIME_DIR").then(|| "/run/user/1000".to_string());
        assert_eq!(base_folder(&env), PathBuf::from("/run/user/1000"));
        assert_eq!(base_folder(&|_: &str| None), std::env::temp_dir());
        // A base too deep for a socket's path gives way to the next.
        let deep = format!("/{}", "d".repeat(60));
        let env = |name: &str| match name {
            "RUNNER_TEMP" => Some(deep.clone()),
            "XDG_RUNTIME_DIR" => Some("/run/user/1000".to_string()),
            _ => None,
        };
        #[cfg(unix)]
        {
            assert_eq!(base_folder(&env), PathBuf::from("/run/user/1000"));
            assert_eq!(socket_path_len(Path::new(&deep)), 61 + 1 + 16 + 32 + 1 + 10);
        }
    }

    #[test]
    fn a_pipe_admits_only_the_users_sid_and_nothing_else_gets_into_its_descriptor() {
        let sid = "S-1-5-21-1004336348-1177238915-682003330-1000";
        assert_eq!(
            only_user_sddl(sid).as_deref(),
            Some("D:P(A;;GA;;;S-1-5-21-1004336348-1177238915-682003330-1000)")
        );
        assert_eq!(
            only_user_sddl("S-1-5-18").as_deref(),
            Some("D:P(A;;GA;;;S-1-5-18)")
        );
        // Not a SID: nothing that could add an entry (`)(A;;GA;;;WD`) or end the DACL.
        for bad in [
            "",
            "S-",
            "S-1--5",
            "S-1-5-",
            "s-1-5-18",
            "WD",
            "S-1-5-18)(A;;GA;;;WD",
            "S-1-5-18 ",
        ] {
            assert_eq!(only_user_sddl(bad), None, "{bad:?}");
        }
    }
}
