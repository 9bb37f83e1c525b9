//! What each way of running the action costs a main step, on the same fake GitHub and
//! the same inputs (one repository of acme, by name): the bare binary, the native
//! action (node starting native/main.js, which checks the binary against SHA256SUMS and
//! runs it), node running an empty script (the floor under the launcher), the container
//! (`docker run`, the runner's command line), and the official node action
//! (actions/create-github-app-token's dist/main.cjs) when a checkout of it is given.
//! A measurement, not a test: nothing here asserts on time.
//!
//! ```text
//! APP_TOKEN_OFFICIAL_ACTION=/path/to/create-github-app-token \
//!   cargo run --example bench_native >> bench/RESULTS.md
//! ```
//!
//! The binary: `BENCH_BIN`, else the one in the image `app-token:test` (what .ci/container
//! builds: the static musl release binary), copied out with `docker cp`, so that the
//! bare, native and container rows run the same executable. The native row lays it out
//! with `.ci/native --from`. Rows the machine cannot run (no docker, no official
//! checkout) say so. Runs per row: the first argument, or `BENCH_RUNS`, or 15 (at
//! least 5). The markdown report goes to stdout, progress to stderr.

// The tests' harness, of which this uses a part.
#[allow(dead_code, unused_imports)]
#[path = "../tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::docker::{self, Job};
use common::measure::*;
use common::native::{host_triple, on_path};
use common::*;
use httpmock::prelude::*;

const DEFAULT_RUNS: usize = 15;
const MIN_RUNS: usize = 5;
const INPUTS: [(&str, &str); 2] = [("owner", "acme"), ("repositories", "site")];

/// A fake that answers every request of any of the main steps measured. It does not
/// check JWTs (the official action's claims differ from the ones the fake's verifier
/// expects); the tests do that.
fn fake() -> FakeGitHub {
    let gh = FakeGitHub::start();
    gh.server.mock(|when, then| {
        when.method(GET).path("/repos/acme/site/installation");
        then.status(200).github_json(installation_json(
            INSTALLATION,
            "acme",
            &installation_permissions(),
        ));
    });
    gh.server.mock(|when, then| {
        when.method(POST)
            .path(format!("/app/installations/{INSTALLATION}/access_tokens"));
        then.status(201).github_json(token_json(
            FINAL_TOKEN,
            &[repo_json(11, "acme", "site")],
            &installation_permissions(),
        ));
    });
    gh.revoke(FINAL_TOKEN);
    gh.bot_user();
    gh
}

fn sh(command: &mut Command) -> bool {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// The binary to measure, and where it came from.
fn binary(scratch: &Path) -> (PathBuf, String) {
    if let Some(bin) = std::env::var_os("BENCH_BIN") {
        let bin = PathBuf::from(bin);
        let said = format!("BENCH_BIN={}", bin.display());
        return (bin, said);
    }
    let bin = scratch.join("app-token");
    let name = "app-token-bench-native";
    let _ = sh(Command::new("docker").args(["rm", "-f", name]));
    let copied = sh(Command::new("docker").args(["create", "--name", name, &docker::image()]))
        && sh(Command::new("docker").args([
            "cp",
            &format!("{name}:/usr/local/bin/app-token"),
            &bin.display().to_string(),
        ]));
    let _ = sh(Command::new("docker").args(["rm", "-f", name]));
    if !copied {
        abort("no BENCH_BIN, and no image app-token:test to take the binary from: run `bash .ci/container`");
    }
    (
        bin,
        format!("the image {}'s /usr/local/bin/app-token", docker::image()),
    )
}

/// Median wall time of `runs` runs of `make()`, each checked to have succeeded.
fn measure(runs: usize, label: &str, mut make: impl FnMut(&Step) -> Command) -> Duration {
    let mut times = Vec::new();
    for i in 0..runs {
        let step = Step::new();
        let mut command = make(&step);
        let started = Instant::now();
        let out = command
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| abort(&format!("{label}: {e}")));
        let took = started.elapsed();
        if !out.status.success() {
            abort(&format!(
                "{label}: run {i} failed:\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        times.push(took);
        eprint!(".");
    }
    eprintln!(" {label}");
    median(times)
}

/// Whether the official action's main step succeeds against the fake (once, output to stderr).
fn official_runs(node: &Path, dir: &Path, api: &str) -> bool {
    let step = Step::new();
    let out = Command::new(node)
        .arg(dir.join("dist/main.cjs"))
        .env_clear()
        .envs(step.env(api, &INPUTS))
        .stdin(Stdio::null())
        .output();
    match out {
        Ok(o) if o.status.success() => true,
        Ok(o) => {
            eprintln!(
                "the official action failed against the fake:\n{}",
                String::from_utf8_lossy(&o.stdout)
            );
            false
        }
        Err(e) => {
            eprintln!("the official action did not start: {e}");
            false
        }
    }
}

fn main() {
    let runs = runs_wanted(DEFAULT_RUNS, MIN_RUNS);
    let scratch = tempfile::tempdir().unwrap_or_else(|e| abort(&e.to_string()));
    let (bin, from) = binary(scratch.path());
    let node = on_path("node").unwrap_or_else(|| abort("no node on PATH"));
    let gh = fake();
    let api = gh.url();

    // The native action, laid out as a release does.
    let dist = scratch.path().join("dist");
    let triple = format!("{}-unknown-linux-musl", std::env::consts::ARCH);
    std::fs::create_dir_all(dist.join(&triple)).unwrap_or_else(|e| abort(&e.to_string()));
    std::fs::copy(&bin, dist.join(&triple).join("app-token"))
        .unwrap_or_else(|e| abort(&e.to_string()));
    let action = scratch.path().join("native");
    let laid_out = Command::new("bash")
        .args([".ci/native", "--from", &dist.display().to_string(), &triple])
        .env("APP_TOKEN_NATIVE_DIR", &action)
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !laid_out {
        abort(".ci/native --from failed");
    }

    let mut rows: Vec<(String, Option<Duration>, String)> = Vec::new();
    let bare = measure(runs, "bare binary", |step| {
        let mut c = Command::new(&bin);
        c.env_clear().envs(step.env(&api, &INPUTS));
        c
    });
    rows.push(("bare binary (the floor)".into(), Some(bare), String::new()));
    let empty = scratch.path().join("empty.js");
    std::fs::write(&empty, "").unwrap_or_else(|e| abort(&e.to_string()));
    let node_floor = measure(runs, "node empty.js", |step| {
        let mut c = Command::new(&node);
        c.arg(&empty).env_clear().envs(step.env(&api, &INPUTS));
        c
    });
    rows.push((
        "node running an empty script".into(),
        Some(node_floor),
        "what any node action pays first".into(),
    ));
    let native = measure(runs, "native action", |step| {
        let mut c = Command::new(&node);
        c.arg(action.join("main.js"))
            .env_clear()
            .envs(step.env(&api, &INPUTS));
        c
    });
    rows.push((
        "native/ (node + launcher + binary)".into(),
        Some(native),
        format!("{:+.0} ms over the bare binary", ms(native) - ms(bare)),
    ));

    if sh(Command::new("docker").args(["version"])) {
        let job = Job::new();
        let container = measure(runs, "container", |_| {
            let step = job.step();
            let env = job.env(&step, &api, &INPUTS);
            let mut c = job.docker_run(&step, "/usr/local/bin/app-token", &env);
            c.stdout(Stdio::piped());
            c
        });
        rows.push((
            "container (`docker run`, the runner's line)".into(),
            Some(container),
            format!("{:+.0} ms over the bare binary", ms(container) - ms(bare)),
        ));
    } else {
        rows.push((
            "container".into(),
            None,
            "not measured: no Docker engine".into(),
        ));
    }

    match std::env::var_os("APP_TOKEN_OFFICIAL_ACTION").map(PathBuf::from) {
        Some(dir) if dir.join("dist/main.cjs").is_file() && !official_runs(&node, &dir, &api) => {
            rows.push((
                "actions/create-github-app-token".into(),
                None,
                "not measured: its main step fails against this fake (see stderr)".into(),
            ))
        }
        Some(dir) if dir.join("dist/main.cjs").is_file() => {
            let official = measure(runs, "official action", |step| {
                let mut c = Command::new(&node);
                c.arg(dir.join("dist/main.cjs"))
                    .env_clear()
                    .envs(step.env(&api, &INPUTS));
                c
            });
            let version = std::fs::read_to_string(dir.join("package.json"))
                .ok()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                .and_then(|v| v["version"].as_str().map(|v| format!(" {v}")))
                .unwrap_or_default();
            rows.push((
                format!("actions/create-github-app-token{version} (node)"),
                Some(official),
                format!("{:+.0} ms over the bare binary", ms(official) - ms(bare)),
            ));
        }
        _ => rows.push((
            "actions/create-github-app-token".into(),
            None,
            "not measured: set APP_TOKEN_OFFICIAL_ACTION to a checkout of it (with dist/)".into(),
        )),
    }

    let node_version = Command::new(&node)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    println!("\n## The main step, by way of running it (`cargo run --example bench_native`)\n");
    println!(
        "Median wall time of {runs} runs each, fake GitHub on 127.0.0.1 with no added latency, \
         one repository by name. Binary: {from}; node {node_version}; host {}.\n",
        host_triple()
    );
    println!("| main step | median | note |\n| --- | ---: | --- |");
    for (what, time, note) in rows {
        match time {
            Some(t) => println!("| {what} | {:.0} ms | {note} |", ms(t)),
            None => println!("| {what} | – | {note} |"),
        }
    }
}
