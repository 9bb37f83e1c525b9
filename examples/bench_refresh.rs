//! What `refresh: true` adds to the native action's main step: the same main step on the
//! same fake GitHub, with and without it (the agent started, waited on until it listens,
//! and the later steps pointed at it). The binary is run as the native launcher runs it
//! (its mark set); node's own start, the same in both, is left out. Every agent started
//! is stopped at the end. A measurement, not a test: nothing here asserts on time.
//!
//! ```text
//! cargo build --release --bin app-token && cargo run --release --example bench_refresh
//! BENCH_BIN=target/release/app-token cargo run --example bench_refresh   # the harness unoptimized
//! ```
//!
//! The binary: `BENCH_BIN`, else `app-token` beside the example (`target/release/`). The
//! harness's own speed is not in the times: each is the binary's process alone.
//! Runs per row: the first argument, or `BENCH_RUNS`, or 20 (at least 5).

// The tests' harness, of which this uses a part.
#[allow(dead_code, unused_imports)]
#[path = "../tests/common/mod.rs"]
mod common;

use std::process::Command;

use common::measure::*;
use common::*;

const DEFAULT_RUNS: usize = 20;
const MIN_RUNS: usize = 5;

fn main() {
    let runs = runs_wanted(DEFAULT_RUNS, MIN_RUNS);
    let bin = binary_beside_me("cargo build --release --bin app-token");
    let gh = FakeGitHub::start();
    gh.token_for_repository_101();
    gh.bot_user();
    let scratch = tempfile::tempdir().unwrap_or_else(|e| abort(&e.to_string()));
    let later_env = scratch.path().join("env");
    let later_path = scratch.path().join("path");
    for file in [&later_env, &later_path] {
        std::fs::write(file, "").unwrap_or_else(|e| abort(&e.to_string()));
    }
    let native: Vec<(String, String)> = [
        ("APP_TOKEN_LAUNCHER", "native/launch.js".to_string()),
        ("APP_TOKEN_STEP", "main".into()),
        ("GITHUB_ENV", later_env.display().to_string()),
        ("GITHUB_PATH", later_path.display().to_string()),
        ("RUNNER_TEMP", scratch.path().display().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let plain = [("owner", "acme"), ("repositories", "101")];
    let refresh = [
        ("owner", "acme"),
        ("repositories", "101"),
        ("refresh", "true"),
    ];
    // Warm the page cache and the fake once each way.
    measure_main(&bin, &gh, &plain, &native, 1);
    measure_main(&bin, &gh, &refresh, &native, 1);
    let without = measure_main(&bin, &gh, &plain, &native, runs);
    eprintln!("without refresh: {:.1} ms", ms(without));
    let with = measure_main(&bin, &gh, &refresh, &native, runs);
    eprintln!("with refresh: {:.1} ms", ms(with));

    // Stop every agent the runs started.
    let text = std::fs::read_to_string(&later_env).unwrap_or_default();
    let mut stopped = 0;
    for address in text
        .lines()
        .zip(text.lines().skip(1))
        .filter(|(head, _)| head.starts_with("APP_TOKEN_AGENT<<"))
        .map(|(_, value)| value)
    {
        let out = Command::new(&bin)
            .args(["agent", "--stop"])
            .env("APP_TOKEN_AGENT", address)
            .output();
        if out.is_ok_and(|o| o.status.success()) {
            stopped += 1;
        }
    }
    eprintln!("stopped {stopped} agent(s)");

    println!("\n## What `refresh: true` adds to the main step (`examples/bench_refresh.rs`)\n");
    println!("{runs} runs each, median wall time of the binary's main step as the native launcher starts it, against the fake GitHub on 127.0.0.1.\n");
    println!("| Main step | Median |");
    println!("|---|---:|");
    println!("| without `refresh` | {:.1} ms |", ms(without));
    println!("| with `refresh: true` | {:.1} ms |", ms(with));
    println!("| added by the agent | {:+.1} ms |", ms(with) - ms(without));
}
