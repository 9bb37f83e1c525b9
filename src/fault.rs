//! Test-only fault injection, compiled only into debug builds.
//!
//! `APP_TOKEN_TEST_PANIC=<point>` makes the process panic at that point, for the tests to
//! check what a panic leaves behind.
//!
//! The points: `after-mint`, every token requested has been minted, and none delivered;
//! `command-running`, `exec`'s command has started with its token (the signer is gone by
//! then). The release binary has neither this module nor its calls.

/// The variable that names the point to panic at.
pub const VARIABLE: &str = "APP_TOKEN_TEST_PANIC";

/// Panics when [`VARIABLE`] names `point`.
pub fn inject(point: &str) {
    if std::env::var(VARIABLE).is_ok_and(|v| v == point) {
        panic!("{VARIABLE}={point}: a panic injected for a test");
    }
}
