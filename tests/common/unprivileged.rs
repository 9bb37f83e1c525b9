//! The built binary run as the runner's user runs it, without `CAP_SYS_PTRACE`: what another process of that user (a command `exec` starts, say) can read of it.
//!
//! Root has `CAP_SYS_PTRACE`, which reads any process whatever it does to protect itself,
//! so a test run as root starts the binary as `nobody` (65534) through util-linux's
//! `setpriv`, with no capability left. A test run as another user starts it as is.

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::not_checked;

/// Set to `1` (as CI does, as root with `setpriv`), a test that cannot look at the binary
/// through /proc as it means to (unprivileged, or with `CAP_SYS_PTRACE`) fails instead of
/// saying `NOT CHECKED`.
pub const REQUIRE_PROC: &str = "APP_TOKEN_REQUIRE_PROC";

/// `CAP_SYS_PTRACE`'s bit in the capability sets of `/proc/PID/status`.
const CAP_SYS_PTRACE: u32 = 19;

/// The user the binary runs as when the test runs as root.
pub const NOBODY: u32 = 65534;

/// Does this process have `CAP_SYS_PTRACE` in its effective set?
fn can_read_any_process() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << CAP_SYS_PTRACE) != 0)
}

fn on_path(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(program))
            .find(|p| p.is_file())
    })
}

/// The binary, copied into a directory any user can enter (the target directory may be
/// under a home that `nobody` cannot), and how to start it unprivileged.
pub struct Unprivileged {
    _dir: tempfile::TempDir,
    bin: PathBuf,
    setpriv: Option<PathBuf>,
}

impl Unprivileged {
    /// `None`, after saying that `what` is NOT CHECKED, when this process can read any
    /// process and cannot shed that (no `setpriv`).
    pub fn new(bin: &Path, what: &str) -> Option<Self> {
        let setpriv = if can_read_any_process() {
            match on_path("setpriv") {
                Some(p) => Some(p),
                None => {
                    not_checked(
                        what,
                        "this process has CAP_SYS_PTRACE and no setpriv (util-linux) to run the binary without it",
                        REQUIRE_PROC,
                    );
                    return None;
                }
            }
        } else {
            None
        };
        let dir = tempfile::tempdir().expect("a temporary directory");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("a directory anyone can enter");
        let copy = dir.path().join("app-token");
        std::fs::copy(bin, &copy).expect("a copy of the binary");
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755))
            .expect("a binary anyone can run");
        Some(Self {
            _dir: dir,
            bin: copy,
            setpriv,
        })
    }

    /// The copy of the binary it runs.
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// Does [`Unprivileged::command`] run the binary as another user (`nobody`)? Only
    /// when the tests run as root.
    pub fn switches_user(&self) -> bool {
        self.setpriv.is_some()
    }

    /// The binary with `args`, to be started without `CAP_SYS_PTRACE` (as `nobody` when
    /// the test runs as root).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = self.command_of(&self.bin);
        command.args(args);
        command
    }

    /// `program` (another than the binary: node, a shell), to be started as
    /// [`Unprivileged::command`] starts the binary.
    pub fn command_of(&self, program: &Path) -> Command {
        match &self.setpriv {
            Some(setpriv) => {
                let mut c = Command::new(setpriv);
                c.args([
                    &format!("--reuid={NOBODY}"),
                    &format!("--regid={NOBODY}"),
                    "--clear-groups",
                    "--inh-caps=-all",
                    "--bounding-set=-all",
                    "--",
                ])
                .arg(program);
                c
            }
            None => Command::new(program),
        }
    }
}

/// Is the process `pid` dumpable, as the kernel says it by the owner of the files in
/// `/proc/PID/` (root for a process that is not)? Only meaningful for a process not run by
/// root.
pub fn dumpable(pid: u32) -> bool {
    let owner = std::fs::metadata(format!("/proc/{pid}/environ"))
        .expect("the process's /proc entry")
        .uid();
    owner != 0
}
