//! The main entrypoint: the action's main step under GitHub Actions, the command line elsewhere.

use std::sync::Arc;

use app_token::http::Settings;
use app_token::runner::Runner;

fn main() {
    let runner = Arc::new(Runner::from_process_env());
    let env = |name: &str| std::env::var(name).ok();
    let code = match app_token::runtime() {
        Ok(rt) => rt.block_on(app_token::action::run(
            Arc::clone(&runner),
            &env,
            Settings::default(),
        )),
        Err(e) => {
            runner.error("Cannot start", &e.to_string());
            1
        }
    };
    std::process::exit(code);
}
