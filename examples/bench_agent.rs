//! What the token agent costs: a token handed out from its cache, against the bare
//! process start of `app-token --version` (the floor: no client can answer faster than
//! it starts); the agent's memory when idle and after serving; and what `refresh: true`
//! adds to the native action's main step. A measurement, not a test: nothing here
//! asserts on time.
//!
//! ```text
//! cargo build --release --bins && cargo run --release --example bench_agent
//! ```
//!
//! The binary: `BENCH_BIN`, else `app-token` beside this example (`target/release/`).
//! Runs per row: the first argument, or `BENCH_RUNS`, or 41 (at least 11). The
//! markdown report goes to stdout, progress to stderr.

// The tests' harness, of which this uses a part.
#[allow(dead_code, unused_imports)]
#[path = "../tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::measure::*;
use common::native::shell_vars;
use common::tokens::Tokens;
use common::*;

const DEFAULT_RUNS: usize = 41;
const MIN_RUNS: usize = 11;
const COMMAND: &str = "cargo build --release --bins && cargo run --release --example bench_agent";

/// The wall time of `bin ARGS` with `env` and `stdin`, which must exit 0.
fn timed(bin: &Path, args: &[&str], env: &[(String, String)], stdin: &str) -> Duration {
    let started = Instant::now();
    let ran = run_binary(bin, args, env, stdin);
    let wall = started.elapsed();
    if ran.code != 0 {
        abort(&format!("{args:?} failed: {}", ran.stderr));
    }
    wall
}

/// `VmRSS` (resident now) and `VmHWM` (peak) of `pid`, in KiB.
fn rss_kib(pid: i32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn row(name: &str, walls: &[Duration], floor: Duration) {
    let m = median(walls.to_vec());
    let min = walls.iter().min().copied().unwrap_or_default();
    let max = walls.iter().max().copied().unwrap_or_default();
    println!(
        "| {name} | {:.2} ms ({:.2}–{:.2}) | {:+.2} ms | {:.2}× |",
        ms(m),
        ms(min),
        ms(max),
        ms(m) - ms(floor),
        m.as_secs_f64() / floor.as_secs_f64().max(1e-9)
    );
}

/// The native action's main step (the binary as the launcher starts it), with `inputs`:
/// its wall time; `cleanup` runs after each (stops an agent it left).
fn main_step(bin: &Path, gh: &FakeGitHub, inputs: &[(&str, &str)], runs: usize) -> Vec<Duration> {
    let runner_temp = tempfile::tempdir().unwrap_or_else(|e| abort(&format!("{e}")));
    let mut walls = Vec::new();
    for _ in 0..runs {
        let step = Step::new();
        let mut env = step.env(&gh.url(), inputs);
        env.push(("APP_TOKEN_STEP".into(), "main".into()));
        env.push(("APP_TOKEN_LAUNCHER".into(), "native/launch.js".into()));
        env.push((
            "RUNNER_TEMP".into(),
            runner_temp.path().display().to_string(),
        ));
        for name in ["env", "path"] {
            let _ = std::fs::write(step.file(name), "");
        }
        env.push(("GITHUB_ENV".into(), step.file("env").display().to_string()));
        env.push((
            "GITHUB_PATH".into(),
            step.file("path").display().to_string(),
        ));
        walls.push(timed(bin, &[], &env, ""));
        // Stop what main started, so that agents do not pile up.
        let written = std::fs::read_to_string(step.file("env")).unwrap_or_default();
        if let Some(address) = written
            .lines()
            .skip_while(|l| !l.starts_with("APP_TOKEN_AGENT<<"))
            .nth(1)
        {
            let _ = Command::new(bin)
                .args(["agent", "--stop"])
                .env_clear()
                .env("APP_TOKEN_AGENT", address)
                .output();
        }
    }
    walls
}

fn main() {
    let runs = runs_wanted(DEFAULT_RUNS, MIN_RUNS);
    let bin = binary_beside_me(COMMAND);
    let gh = FakeGitHub::start();
    let tokens = Tokens::new(Duration::from_secs(3600));
    gh.minting(&tokens, "acme", &[(101, "site")]);
    let runtime = tempfile::tempdir().unwrap_or_else(|e| abort(&format!("{e}")));
    let key = runtime.path().join("key.pem");
    std::fs::write(&key, KEY_PKCS1).unwrap_or_else(|e| abort(&format!("{e}")));
    let started = Command::new(&bin)
        .args([
            "agent",
            "--app-id",
            APP_ID,
            "--api-url",
            &gh.url(),
            "--repositories",
            "acme/site",
        ])
        .arg("--private-key-file")
        .arg(&key)
        .env_clear()
        .env("XDG_RUNTIME_DIR", runtime.path())
        .output()
        .unwrap_or_else(|e| abort(&format!("app-token agent: {e}")));
    if !started.status.success() {
        abort(&format!(
            "app-token agent: {}",
            String::from_utf8_lossy(&started.stderr)
        ));
    }
    let vars = shell_vars(&String::from_utf8_lossy(&started.stdout));
    let get = |n: &str| {
        vars.iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| abort(&format!("no {n}")))
    };
    let address = get("APP_TOKEN_AGENT");
    let pid: i32 = get("APP_TOKEN_AGENT_PID").parse().unwrap_or(0);
    let agent_env = vec![("APP_TOKEN_AGENT".to_string(), address.clone())];
    std::thread::sleep(Duration::from_secs(1));
    let (idle_rss, _) = rss_kib(pid);

    let host = gh.url().trim_start_matches("http://").to_string();
    let request = format!("protocol=http\nhost={host}\npath=acme/site.git\n\n");
    let mut version = Vec::new();
    let mut token = Vec::new();
    let mut credential = Vec::new();
    // git itself, with the agent's variables as `app-token agent` printed them (real git,
    // when there is one): its own start, then a whole `git credential fill`.
    let home = tempfile::tempdir().unwrap_or_else(|e| abort(&format!("{e}")));
    let mut git_env: Vec<(String, String)> = vars.clone();
    git_env.push(("HOME".into(), home.path().display().to_string()));
    git_env.push(("PATH".into(), std::env::var("PATH").unwrap_or_default()));
    git_env.push(("GIT_CONFIG_NOSYSTEM".into(), "1".into()));
    let git = common::native::on_path("git");
    let (mut git_version, mut fill) = (Vec::new(), Vec::new());
    eprint!("bench_agent: {runs} rounds: ");
    for _ in 0..runs {
        version.push(timed(&bin, &["--version"], &[], ""));
        token.push(timed(&bin, &["token"], &agent_env, ""));
        credential.push(timed(
            &bin,
            &["git-credential", "get"],
            &agent_env,
            &request,
        ));
        if let Some(git) = &git {
            git_version.push(timed(git, &["--version"], &git_env, ""));
            fill.push(timed(git, &["credential", "fill"], &git_env, &request));
        }
        eprint!(".");
    }
    eprintln!();
    let (served_rss, peak_rss) = rss_kib(pid);
    let mints = tokens.mints();

    let inputs = [
        ("app-id", APP_ID),
        ("private-key", KEY_PKCS1),
        ("repositories", "site"),
    ];
    let refresh_inputs = [
        ("app-id", APP_ID),
        ("private-key", KEY_PKCS1),
        ("repositories", "site"),
        ("refresh", "true"),
    ];
    eprintln!("bench_agent: main steps without and with refresh");
    let mut plain = Vec::new();
    let mut refresh = Vec::new();
    for _ in 0..runs {
        plain.extend(main_step(&bin, &gh, &inputs, 1));
        refresh.extend(main_step(&bin, &gh, &refresh_inputs, 1));
    }
    let _ = Command::new(&bin)
        .args(["agent", "--stop"])
        .env_clear()
        .env("APP_TOKEN_AGENT", &address)
        .output();

    let floor = median(version.clone());
    println!("## The token agent\n");
    let how = match std::env::var("BENCH_BIN") {
        Ok(b) => format!("BENCH_BIN={b} cargo run --example bench_agent -- {runs}"),
        Err(_) => COMMAND.to_string(),
    };
    println!("`{how}`: {runs} runs per row, in turns, against the fake GitHub on 127.0.0.1.\n");
    println!("| What | Median (min–max) | Above the floor | × the floor |");
    println!("|---|---:|---:|---:|");
    row(
        "`app-token --version`: **the floor**, a bare process start",
        &version,
        floor,
    );
    row("`app-token token`, from the agent's cache", &token, floor);
    row(
        "`app-token git-credential get`, from the agent's cache",
        &credential,
        floor,
    );
    if git.is_some() {
        let git_floor = median(git_version.clone());
        row("`git --version`: git's own start", &git_version, floor);
        row(
            "`git credential fill` (git, then the helper above), from the agent's cache",
            &fill,
            floor,
        );
        println!(
            "| the same, above `git --version` + `app-token --version` | | {:+.2} ms | |",
            ms(median(fill.clone())) - ms(git_floor) - ms(floor)
        );
    }
    println!();
    println!("Every request above was answered from the agent's cache: the fake saw {mints} token request(s) in all, for the agent's first token (a helper and the final one).\n");
    println!("| Agent memory | KiB |");
    println!("|---|---:|");
    println!("| resident, idle after start | {idle_rss} |");
    println!("| resident after the requests above | {served_rss} |");
    println!("| peak | {peak_rss} |\n");
    let (p, r) = (median(plain.clone()), median(refresh.clone()));
    println!("| Native main step, one repository by name | Median (min–max) |");
    println!("|---|---:|");
    let span = |w: &[Duration]| {
        format!(
            "{:.2} ms ({:.2}–{:.2})",
            ms(median(w.to_vec())),
            ms(w.iter().min().copied().unwrap_or_default()),
            ms(w.iter().max().copied().unwrap_or_default())
        )
    };
    println!("| without `refresh` | {} |", span(&plain));
    println!(
        "| `refresh: true` (starts the agent, waits until it listens) | {} |",
        span(&refresh)
    );
    println!("| what `refresh: true` adds | {:+.2} ms |", ms(r) - ms(p));
}
