//! Keeping what the process holds from other processes of its user.
//!
//! The signing variables taken out of its environment at start, and the process made
//! non-dumpable (no `/proc/PID/environ`, `/proc/PID/mem` or ptrace for them).
//!
//! The binary calls [`start`] first thing, before any thread and before the
//! configuration reads a secret; the front ends then read the environment through
//! [`env`], which still finds what was taken out, until [`forget_withheld`].
//!
//! On Linux, `/proc/PID/environ` shows the block the kernel laid out at `execve`, not what
//! `unsetenv` leaves: the values taken out are also overwritten there (with NULs), and
//! non-dumpable makes that file and `/proc/PID/mem` unreadable to any process without
//! `CAP_SYS_PTRACE`, `exec`'s command included. On macOS the process denies debuggers
//! (`PT_DENY_ATTACH`, as ssh-agent does; one already attached ends it); elsewhere only
//! the environment changes.

use std::sync::Mutex;

/// What [`start`] took out of the environment: each name and its value.
static WITHHELD: Mutex<Vec<(&'static str, String)>> = Mutex::new(Vec::new());

fn withheld_list<T>(f: impl FnOnce(&mut Vec<(&'static str, String)>) -> T) -> T {
    let mut list = WITHHELD.lock().unwrap_or_else(|p| p.into_inner());
    f(&mut list)
}

/// Takes `names` out of the process's environment (and out of its original block where
/// the platform shows that block to others), keeping their values for [`env`]; then
/// makes the process non-dumpable. A failure of the latter is said once on stderr.
///
/// # Safety
///
/// No other thread may be running: it changes the environment.
pub unsafe fn start(names: &[&'static str]) {
    withhold(names);
    if let Err(why) = deny_inspection() {
        eprintln!(
            "warning: other processes of this user may read this one's memory and environment: {why}"
        );
    }
}

/// The environment as the process was given it: what [`start`] took out, else the
/// process's own. A value that is not UTF-8 is `None`, as `std::env::var` has it.
pub fn env(name: &str) -> Option<String> {
    withheld_list(|list| {
        list.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    })
    .or_else(|| std::env::var(name).ok())
}

/// Forgets what [`start`] took out (its values overwritten first): for when nothing
/// is left to configure, before a command runs.
pub fn forget_withheld() {
    for (_, value) in withheld_list(std::mem::take) {
        let mut bytes = value.into_bytes();
        bytes.fill(0);
        // Read, as far as the compiler knows: the zeros are really written.
        std::hint::black_box(&bytes);
    }
}

fn withhold(names: &[&'static str]) {
    let taken: Vec<(&'static str, String)> = names
        .iter()
        .filter_map(|&n| std::env::var(n).ok().map(|v| (n, v)))
        .collect();
    let present: Vec<&'static str> = names
        .iter()
        .copied()
        .filter(|n| std::env::var_os(n).is_some())
        .collect();
    if present.is_empty() {
        return;
    }
    // Read before the variables go, and before the process is non-dumpable: from then
    // on a process that is not root may not open its own /proc/self/environ or mem.
    #[cfg(target_os = "linux")]
    let original = original_block();
    for name in &present {
        std::env::remove_var(name);
    }
    #[cfg(target_os = "linux")]
    if let Ok((start, block)) = original {
        // Best effort: the variables are gone from the environment whatever happens
        // here, and non-dumpable keeps the block from other processes anyway.
        let _ = overwrite(start, &block, &present);
    }
    withheld_list(|list| list.extend(taken));
}

/// Makes the process non-dumpable (Linux) or undebuggable (macOS).
fn deny_inspection() -> Result<(), String> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: prctl(2) with PR_SET_DUMPABLE reads no memory of ours.
        let off: libc::c_ulong = 0;
        let done = unsafe { libc::prctl(libc::PR_SET_DUMPABLE, off, off, off, off) };
        if done != 0 {
            return Err(format!(
                "prctl(PR_SET_DUMPABLE, 0): {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    #[cfg(target_os = "macos")]
    {
        // SAFETY: ptrace(2) with PT_DENY_ATTACH ignores its other arguments.
        let done = unsafe { libc::ptrace(libc::PT_DENY_ATTACH, 0, std::ptr::null_mut(), 0) };
        if done != 0 {
            return Err(format!(
                "ptrace(PT_DENY_ATTACH): {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}

/// Where the original environment block starts (`env_start`, field 50 of
/// `/proc/PID/stat`), from that file's text.
#[cfg(target_os = "linux")]
fn env_start(stat: &str) -> Option<u64> {
    // The command name (field 2) may hold spaces and parentheses: count after its end.
    let (_, after) = stat.rsplit_once(')')?;
    // `after` starts at field 3.
    after.split_whitespace().nth(50 - 3)?.parse().ok()
}

/// The byte ranges in `block` (`NAME=value` entries, each ended by a NUL) of the entries
/// named by `names`, every one of them.
#[cfg(target_os = "linux")]
fn entries_named(block: &[u8], names: &[&str]) -> Vec<std::ops::Range<usize>> {
    let mut ranges = Vec::new();
    let mut at = 0;
    for entry in block.split(|b| *b == 0) {
        let end = at + entry.len();
        let named = entry
            .iter()
            .position(|b| *b == b'=')
            .is_some_and(|eq| names.iter().any(|n| n.as_bytes() == &entry[..eq]));
        if named {
            ranges.push(at..end);
        }
        at = end + 1;
    }
    ranges
}

/// The original environment block: where it starts, and what it holds.
#[cfg(target_os = "linux")]
fn original_block() -> std::io::Result<(u64, Vec<u8>)> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    let start = env_start(&stat).ok_or_else(|| std::io::Error::other("no env_start"))?;
    Ok((start, std::fs::read("/proc/self/environ")?))
}

/// Overwrites with NULs the entries of `names` in the original block at `start`, each
/// only if the memory there still reads as that entry.
#[cfg(target_os = "linux")]
fn overwrite(start: u64, block: &[u8], names: &[&str]) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt as _;
    let mem = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/proc/self/mem")?;
    for range in entries_named(block, names) {
        let at = start + range.start as u64;
        let mut now = vec![0; range.len()];
        mem.read_exact_at(&mut now, at)?;
        if now == block[range.clone()] {
            mem.write_all_at(&vec![0; range.len()], at)?;
        }
    }
    Ok(())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn env_start_is_field_50_whatever_the_command_name_holds() {
        let mut fields: Vec<String> = (3..=52).map(|n| n.to_string()).collect();
        fields[50 - 3] = "140737488347136".into();
        let rest = fields.join(" ");
        assert_eq!(
            env_start(&format!("4242 (app-token) {rest}\n")),
            Some(140737488347136)
        );
        assert_eq!(
            env_start(&format!("4242 (a) (b c) {rest}\n")),
            Some(140737488347136),
            "a name with a space and a parenthesis"
        );
        assert_eq!(env_start("4242 (app-token) S 1 2 3"), None, "an old kernel");
        assert_eq!(env_start("garbage"), None);
    }

    #[test]
    fn entries_are_found_by_their_whole_name_and_each_occurrence() {
        let block = b"PATH=/bin\0APP_TOKEN_PRIVATE_KEY=-----BEGIN\0VAULT_TOKEN_X=keep\0=odd\0\0VAULT_TOKEN=s\0APP_TOKEN_PRIVATE_KEY=\0";
        let names = ["APP_TOKEN_PRIVATE_KEY", "VAULT_TOKEN"];
        let found: Vec<&[u8]> = entries_named(block, &names)
            .into_iter()
            .map(|r| &block[r])
            .collect();
        assert_eq!(
            found,
            [
                &b"APP_TOKEN_PRIVATE_KEY=-----BEGIN"[..],
                b"VAULT_TOKEN=s",
                b"APP_TOKEN_PRIVATE_KEY="
            ]
        );
        assert!(entries_named(b"", &names).is_empty());
        assert!(
            entries_named(b"APP_TOKEN_PRIVATE_KEY", &names).is_empty(),
            "no '='"
        );
    }
}
