//! Which front end a start of the executable is: the action's main step, its post step, or the command line.
//!
//! The image starts the post step by a link's name (`runs.post-entrypoint`:
//! `app-token-post`). Windows has no such link, and a copy's name carries `.exe`, so
//! the native action's launcher names the step in [`STEP_VARIABLE`] instead, which
//! every OS passes on. Nothing else sets it.

use crate::runner::{under_actions, Env};

/// The file name (less any extension) the image's post step is started by.
pub const POST_NAME: &str = "app-token-post";

/// The variable the native action's launcher names its step in: `main` or `post`.
pub const STEP_VARIABLE: &str = "APP_TOKEN_STEP";

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
/// - no arguments and [`STEP_VARIABLE`] set: the step it names (another value is an error
///   that names the variable);
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
    match env(STEP_VARIABLE).as_deref() {
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
    use crate::runner::env_of;

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

    #[test]
    fn the_launchers_variable_names_the_step() {
        let post = [("GITHUB_ACTIONS", "true"), (STEP_VARIABLE, "post")];
        assert_eq!(start("app-token.exe", 0, &post), Ok(Start::Post));
        assert_eq!(start("app-token", 0, &post), Ok(Start::Post));
        let main = [("GITHUB_ACTIONS", "true"), (STEP_VARIABLE, "main")];
        assert_eq!(start("app-token", 0, &main), Ok(Start::Main));
        // It names the step even where GITHUB_ACTIONS is missing.
        assert_eq!(
            start("app-token", 0, &[(STEP_VARIABLE, "post")]),
            Ok(Start::Post)
        );
    }

    #[test]
    fn another_value_is_an_error_naming_the_variable() {
        let err = start("app-token", 0, &[(STEP_VARIABLE, "pre")]).unwrap_err();
        assert!(err.contains(STEP_VARIABLE) && err.contains("pre"), "{err}");
        assert_eq!(
            start(
                "app-token",
                0,
                &[("GITHUB_ACTIONS", "true"), (STEP_VARIABLE, "")]
            ),
            Ok(Start::Main)
        );
    }

    #[test]
    fn arguments_are_the_command_line() {
        let post = [("GITHUB_ACTIONS", "true"), (STEP_VARIABLE, "post")];
        assert_eq!(start("app-token", 1, &post), Ok(Start::CommandLine));
        assert_eq!(start("app-token", 0, &[]), Ok(Start::CommandLine));
        assert_eq!(
            start("app-token", 0, &[("GITHUB_ACTIONS", "false")]),
            Ok(Start::CommandLine)
        );
    }
}
