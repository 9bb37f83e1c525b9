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
use app_token::github::Settings;
use app_token::runner::Runner;

/// The file name the post step is started by.
const POST_NAME: &str = "app-token-post";

fn step(post: bool) -> i32 {
    let env = |name: &str| std::env::var(name).ok();
    let runner = Arc::new(Runner::from_env(std::io::stdout(), &env));
    match app_token::runtime() {
        Ok(rt) if post => rt.block_on(async {
            app_token::post::run(
                Arc::clone(&runner),
                &env,
                Settings::default(),
                cancel::signal_stream(),
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
    app_token::panic_guard::install();
    let args: Vec<OsString> = std::env::args_os().collect();
    let started_as = args
        .first()
        .map(Path::new)
        .and_then(Path::file_name)
        .and_then(|n| n.to_str());
    let env = |name: &str| std::env::var(name).ok();
    let code = if started_as == Some(POST_NAME) {
        step(true)
    } else if app_token::runner::under_actions(&env) && args.len() <= 1 {
        step(false)
    } else {
        app_token::cli::run(args, &env, Settings::default())
    };
    std::process::exit(code);
}
