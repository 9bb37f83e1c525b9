//! The one executable: the action's main step, its post step, and the command line.
//!
//! Started as `app-token-post` (the image's `runs.post-entrypoint`, a link to this
//! file) it is the post step. Started as anything else, it is the main step when
//! `GITHUB_ACTIONS=true` and there are no arguments (the runner starts a container's
//! entrypoint without any), and the command line otherwise.

use std::ffi::OsString;
use std::path::Path;
use std::sync::Arc;

use app_token::cancel;
use app_token::http::Settings;
use app_token::runner::Runner;

/// The file name the post step is started by.
const POST_NAME: &str = "app-token-post";

fn step(post: bool) -> i32 {
    let runner = Arc::new(Runner::from_process_env());
    let env = |name: &str| std::env::var(name).ok();
    match app_token::runtime() {
        Ok(rt) if post => rt.block_on(async {
            app_token::post::run(
                Arc::clone(&runner),
                &env,
                Settings::default(),
                cancel::signalled(),
            )
            .await
        }),
        Ok(rt) => rt.block_on(async {
            app_token::action::run(
                Arc::clone(&runner),
                &env,
                Settings::default(),
                cancel::signalled(),
            )
            .await
        }),
        Err(e) if post => {
            runner.warning("Token not revoked", &format!("cannot start: {e}"));
            0
        }
        Err(e) => {
            runner.error("Cannot start", &e.to_string());
            1
        }
    }
}

fn main() {
    let args: Vec<OsString> = std::env::args_os().collect();
    let started_as = args
        .first()
        .map(Path::new)
        .and_then(Path::file_name)
        .and_then(|n| n.to_str());
    let under_actions = std::env::var("GITHUB_ACTIONS").as_deref() == Ok("true");
    let code = if started_as == Some(POST_NAME) {
        step(true)
    } else if under_actions && args.len() <= 1 {
        step(false)
    } else {
        let env = |name: &str| std::env::var(name).ok();
        app_token::cli::run(args, &env, Settings::default())
    };
    std::process::exit(code);
}
