//! The app's key in a file, as the command line reads it (`--private-key-file`), and the command line's arguments that mint with it.

use super::{APP_ID, KEY_PKCS1};

/// `KEY_PKCS1` written to a file of its own temporary directory.
pub struct KeyFile {
    _dir: tempfile::TempDir,
    /// The file's path.
    pub path: String,
}

impl KeyFile {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let key = dir.path().join("key.pem");
        std::fs::write(&key, KEY_PKCS1).expect("the key file");
        Self {
            path: key.display().to_string(),
            _dir: dir,
        }
    }

    /// `--app-id APP_ID --private-key-file KEY --api-url API --repositories REPOSITORIES`.
    pub fn mint_args<'a>(&'a self, api: &'a str, repositories: &'a str) -> [&'a str; 8] {
        [
            "--app-id",
            APP_ID,
            "--private-key-file",
            &self.path,
            "--api-url",
            api,
            "--repositories",
            repositories,
        ]
    }
}
