//! The one executable: the action's main step, its post step, and the command line.
//!
//! An agent started by a front end (see `app_token::agent::spawn`) is the one
//! argument `--serve-agent-from-stdin`. Otherwise, which one a start is,
//! `app_token::action::stage::choose` decides: the image's post link
//! (`app-token-post`) and the native launcher's `APP_TOKEN_STEP` name a step; with no
//! arguments under Actions it is main; otherwise the command line.

use std::ffi::OsString;
use std::path::Path;
use std::sync::Arc;

use app_token::action::runner::Runner;
use app_token::action::stage::{choose, Start};
use app_token::agent::{Front, Plan, SERVE_ARG};
use app_token::cancel;
use app_token::env::Env;
use app_token::github::Settings;

fn step(post: bool) -> i32 {
    let env = app_token::harden::env;
    let runner = Arc::new(Runner::from_env(std::io::stdout(), &env));
    match app_token::runtime() {
        Ok(rt) if post => rt.block_on(async {
            app_token::action::post::run(
                Arc::clone(&runner),
                &env,
                Settings::default(),
                cancel::signal_stream(),
            )
            .await
        }),
        Ok(rt) => rt.block_on(async {
            app_token::action::main::run(
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

/// An agent's configuration, rebuilt by the front end that started it.
fn rebuild(front: Front, env: Env<'_>, args: &[String]) -> Result<Plan, String> {
    match front {
        Front::Action => app_token::action::inputs::agent_plan(env),
        Front::CommandLine => app_token::cli::agent_plan(env, args),
    }
}

fn main() {
    // SAFETY: the first thing the process does, before any thread is started.
    unsafe { app_token::harden::start(app_token::config::SIGNING_VARIABLES) };
    app_token::mint::panic_guard::install();
    let args: Vec<OsString> = std::env::args_os().collect();
    let started_as = args
        .first()
        .map(Path::new)
        .and_then(Path::file_name)
        .and_then(|n| n.to_str());
    if args.len() == 2 && args[1] == SERVE_ARG {
        std::process::exit(app_token::agent::serve::run_ordered(rebuild));
    }
    let env = app_token::harden::env;
    let code = match choose(started_as, args.len().saturating_sub(1), &env) {
        Ok(Start::Post) => step(true),
        Ok(Start::Main) => step(false),
        Ok(Start::CommandLine) => app_token::cli::run(args, &env, Settings::default()),
        Err(e) => {
            Runner::from_env(std::io::stdout(), &env).error("Cannot start", &e);
            1
        }
    };
    std::process::exit(code);
}
