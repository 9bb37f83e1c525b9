//! The agent's ledger on disk: the tokens it minted and has not revoked, for its
//! stopper to revoke if the agent itself is gone (killed, crashed).
//!
//! Tokens only, never a key, in the agent's own folder (mode 0700), the file 0600,
//! replaced whole at every change.

use std::io::Write as _;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::endpoint::LEDGER_FILE;
use crate::mint::Ledger;

/// The most bytes a ledger file may have: a job's agent mints some tokens an hour.
pub const MAX_LEDGER_BYTES: u64 = 1024 * 1024;

/// One live token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}

/// The entries of `ledger`.
pub fn entries(ledger: &Ledger) -> Vec<Entry> {
    ledger
        .entries()
        .into_iter()
        .map(|l| Entry {
            token: l.credential.token,
            expires_at: l.expires_at,
        })
        .collect()
}

/// Writes `entries` as `folder`'s ledger: a new file (0600) renamed over the old one.
pub fn write(folder: &Path, entries: &[Entry]) -> std::io::Result<()> {
    let text = serde_json::to_vec(entries).map_err(std::io::Error::other)?;
    let next = folder.join(format!("{LEDGER_FILE}.next"));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&next)?;
    file.write_all(&text)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&next, folder.join(LEDGER_FILE))
}

/// Parses a ledger file's text.
pub fn parse(text: &[u8]) -> Result<Vec<Entry>, String> {
    serde_json::from_slice(text).map_err(|e| format!("the agent's ledger is not readable: {e}"))
}

/// Reads `folder`'s ledger (none written: empty).
pub fn read(folder: &Path) -> Result<Vec<Entry>, String> {
    use std::io::Read as _;
    let path = folder.join(LEDGER_FILE);
    let file = match std::fs::File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("cannot read the agent's ledger: {e}")),
    };
    let mut text = Vec::new();
    file.take(MAX_LEDGER_BYTES)
        .read_to_end(&mut text)
        .map_err(|e| format!("cannot read the agent's ledger: {e}"))?;
    parse(&text)
}

/// Keeps `folder`'s ledger the same as `ledger` for as long as it runs; `log` hears a
/// failure to write it.
pub async fn keep(folder: &Path, ledger: &Ledger, log: &(dyn Fn(&str) + Sync)) {
    let mut changes = ledger.changes();
    loop {
        if let Err(e) = write(folder, &entries(ledger)) {
            log(&format!(
                "cannot write the ledger in {}: {e}",
                folder.display()
            ));
        }
        changes.next().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::github::Credential;

    #[test]
    fn the_ledger_on_disk_is_the_ledger_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(dir.path()), Ok(vec![]), "none written yet");
        let ledger = Ledger::default();
        let expires: DateTime<Utc> = "2030-01-01T10:00:00Z".parse().unwrap();
        ledger.add(Credential::new("ghs_a"), Some(expires));
        ledger.add(Credential::new("ghs_b"), None);
        write(dir.path(), &entries(&ledger)).unwrap();
        let back = read(dir.path()).unwrap();
        assert_eq!(
            back,
            vec![
                Entry {
                    token: "ghs_a".into(),
                    expires_at: Some(expires)
                },
                Entry {
                    token: "ghs_b".into(),
                    expires_at: None
                }
            ]
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join(LEDGER_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(parse(b"not json").is_err());
    }
}
