//! The post step's entrypoint (`runs.post-entrypoint`): revokes what main created.

use std::sync::Arc;

use app_token::http::Settings;
use app_token::runner::Runner;

fn main() {
    let runner = Arc::new(Runner::from_process_env());
    let env = |name: &str| std::env::var(name).ok();
    let code = match app_token::runtime() {
        Ok(rt) => rt.block_on(app_token::post::run(
            Arc::clone(&runner),
            &env,
            Settings::default(),
        )),
        Err(e) => {
            runner.warning("Token not revoked", &format!("cannot start: {e}"));
            0
        }
    };
    std::process::exit(code);
}
