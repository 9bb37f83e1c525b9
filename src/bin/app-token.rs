//! The main entrypoint: the action's main step under GitHub Actions, the command line elsewhere.
//!
//! The action runs when `GITHUB_ACTIONS=true` and there are no arguments (the runner
//! starts the container's entrypoint without any); everything else is the CLI.

use std::ffi::OsString;
use std::sync::Arc;

use app_token::http::Settings;
use app_token::runner::Runner;

fn action(env: &dyn Fn(&str) -> Option<String>) -> i32 {
    let runner = Arc::new(Runner::from_process_env());
    match app_token::runtime() {
        Ok(rt) => rt.block_on(app_token::action::run(
            Arc::clone(&runner),
            env,
            Settings::default(),
        )),
        Err(e) => {
            runner.error("Cannot start", &e.to_string());
            1
        }
    }
}

fn main() {
    let env = |name: &str| std::env::var(name).ok();
    let args: Vec<OsString> = std::env::args_os().collect();
    let code = if env("GITHUB_ACTIONS").as_deref() == Some("true") && args.len() <= 1 {
        action(&env)
    } else {
        app_token::cli::run(args, &env, Settings::default())
    };
    std::process::exit(code);
}
