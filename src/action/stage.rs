//! Which front end a start of the executable is.
//!
//! The action's main step, its post step, or the command line; and whether the native
//! action's launcher started it.
//!
//! The image starts the post step by a link's name (`runs.post-entrypoint`:
//! `app-token-post`). Windows has no such link, and a copy's name carries `.exe`, so
//! the native action's launcher names the step in [`STEP_VARIABLE`] instead, which
//! every OS passes on, together with [`LAUNCHER_VARIABLE`] set to [`LAUNCHER`]. A step
//! is named only where both are: a job's `env:` reaches a container action's step too,
//! and a job's own `APP_TOKEN_STEP=post` must not turn the image's main step into post.

use super::runner::{under_act, under_actions};
use crate::env::Env;

/// The file name (less any extension) the image's post step is started by.
pub const POST_NAME: &str = "app-token-post";

/// The variable the native action's launcher names its step in: `main` or `post`.
pub const STEP_VARIABLE: &str = "APP_TOKEN_STEP";

/// The variable the native action's launcher sets beside [`STEP_VARIABLE`], to [`LAUNCHER`].
pub const LAUNCHER_VARIABLE: &str = "APP_TOKEN_LAUNCHER";

/// What the launcher sets [`LAUNCHER_VARIABLE`] to: its own path in the action.
pub const LAUNCHER: &str = "native/launch.js";

/// Was this start the native action's launcher's (node's `native/launch.js`)?
pub fn launched_natively(env: Env<'_>) -> bool {
    env(LAUNCHER_VARIABLE).as_deref() == Some(LAUNCHER)
}

/// Does act leave this action's post step without main's state? act passes state to a
/// JavaScript action's post step (the native action's) but not to a container action's.
pub fn act_drops_post_state(env: Env<'_>) -> bool {
    under_act(env) && !launched_natively(env)
}

/// What a start of the executable runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    Main,
    Post,
    CommandLine,
}

/// Chooses from the name the executable was started by (`argv[0]`'s file name), how
/// many arguments came after it, and the environment.
///
/// - started as `app-token-post` (or `app-token-post.exe`): post;
/// - no arguments, started by the native launcher ([`launched_natively`]) and
///   [`STEP_VARIABLE`] set: the step it names (another value is an error that names the
///   variable); without the launcher's mark the variable is the job's, and not read;
/// - no arguments under Actions (`GITHUB_ACTIONS=true`; the runner starts a container's
///   entrypoint without any): main;
/// - otherwise the command line.
pub fn choose(started_as: Option<&str>, arguments: usize, env: Env<'_>) -> Result<Start, String> {
    let stem = started_as.map(|n| {
        n.strip_suffix(".exe")
            .or_else(|| n.strip_suffix(".EXE"))
            .unwrap_or(n)
    });
    if stem == Some(POST_NAME) {
        return Ok(Start::Post);
    }
    if arguments > 0 {
        return Ok(Start::CommandLine);
    }
    let step = env(STEP_VARIABLE).filter(|_| launched_natively(env));
    match step.as_deref() {
        Some("main") => Ok(Start::Main),
        Some("post") => Ok(Start::Post),
        Some(other) if !other.is_empty() => Err(format!(
            "{STEP_VARIABLE} is {:?}: it must be `main` or `post`",
            crate::excerpt::excerpt(other)
        )),
        _ if under_actions(env) => Ok(Start::Main),
        _ => Ok(Start::CommandLine),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::env_of;

    fn start(name: &str, arguments: usize, pairs: &[(&str, &str)]) -> Result<Start, String> {
        choose(Some(name), arguments, &env_of(pairs))
    }

    #[test]
    fn the_images_link_is_post_whatever_the_environment() {
        assert_eq!(start("app-token-post", 0, &[]), Ok(Start::Post));
        let main = [("GITHUB_ACTIONS", "true"), (STEP_VARIABLE, "main")];
        assert_eq!(start("app-token-post", 0, &main), Ok(Start::Post));
    }

    #[test]
    fn a_windows_copy_named_for_post_is_post() {
        let actions = [("GITHUB_ACTIONS", "true")];
        assert_eq!(start("app-token-post.exe", 0, &actions), Ok(Start::Post));
        assert_eq!(start("app-token.exe", 0, &actions), Ok(Start::Main));
    }

    const NATIVE: (&str, &str) = (LAUNCHER_VARIABLE, LAUNCHER);

    #[test]
    fn the_launchers_variable_names_the_step() {
        let post = [("GITHUB_ACTIONS", "true"), (STEP_VARIABLE, "post"), NATIVE];
        assert_eq!(start("app-token.exe", 0, &post), Ok(Start::Post));
        assert_eq!(start("app-token", 0, &post), Ok(Start::Post));
        let main = [("GITHUB_ACTIONS", "true"), (STEP_VARIABLE, "main"), NATIVE];
        assert_eq!(start("app-token", 0, &main), Ok(Start::Main));
        // It names the step even where GITHUB_ACTIONS is missing.
        assert_eq!(
            start("app-token", 0, &[(STEP_VARIABLE, "post"), NATIVE]),
            Ok(Start::Post)
        );
    }

    #[test]
    fn the_jobs_own_step_variable_names_no_step() {
        // A job-level `env:` reaches the image's main step: it stays main.
        let job = [("GITHUB_ACTIONS", "true"), (STEP_VARIABLE, "post")];
        assert_eq!(start("app-token", 0, &job), Ok(Start::Main));
        assert_eq!(start("app-token.exe", 0, &job), Ok(Start::Main));
        let bogus = [("GITHUB_ACTIONS", "true"), (STEP_VARIABLE, "pre")];
        assert_eq!(start("app-token", 0, &bogus), Ok(Start::Main));
        // Only the launcher's own mark counts.
        let other = [
            ("GITHUB_ACTIONS", "true"),
            (STEP_VARIABLE, "post"),
            (LAUNCHER_VARIABLE, "1"),
        ];
        assert_eq!(start("app-token", 0, &other), Ok(Start::Main));
        assert_eq!(
            start("app-token", 0, &[(STEP_VARIABLE, "post")]),
            Ok(Start::CommandLine)
        );
    }

    #[test]
    fn act_drops_the_state_of_the_container_actions_post_only() {
        assert!(act_drops_post_state(&env_of(&[("ACT", "true")])));
        let native = [("ACT", "true"), (STEP_VARIABLE, "main"), NATIVE];
        assert!(!act_drops_post_state(&env_of(&native)));
        assert!(!act_drops_post_state(&env_of(&[NATIVE])));
        assert!(!act_drops_post_state(&env_of(&[(
            "GITHUB_ACTIONS",
            "true"
        )])));
    }

    #[test]
    fn another_value_is_an_error_naming_the_variable() {
        let err = start("app-token", 0, &[(STEP_VARIABLE, "pre"), NATIVE]).unwrap_err();
        assert!(err.contains(STEP_VARIABLE) && err.contains("pre"), "{err}");
        assert_eq!(
            start(
                "app-token",
                0,
                &[("GITHUB_ACTIONS", "true"), (STEP_VARIABLE, ""), NATIVE]
            ),
            Ok(Start::Main)
        );
    }

    #[test]
    fn arguments_are_the_command_line() {
        let post = [("GITHUB_ACTIONS", "true"), (STEP_VARIABLE, "post"), NATIVE];
        assert_eq!(start("app-token", 1, &post), Ok(Start::CommandLine));
        assert_eq!(start("app-token", 0, &[]), Ok(Start::CommandLine));
        assert_eq!(
            start("app-token", 0, &[("GITHUB_ACTIONS", "false")]),
            Ok(Start::CommandLine)
        );
    }
}
