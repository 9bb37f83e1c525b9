//! What the container costs a workflow: the image's size (what `docker pull` moves), and
//! the wall time of `docker run` for the main and post steps, against the same static
//! binary run natively on the same fake GitHub, and against `docker run` of a container
//! that does nothing. A measurement, not a test: nothing here asserts on time.
//!
//! ```text
//! bash .ci/container && cargo run --release --example bench_container >> bench/RESULTS.md
//! ```
//!
//! .ci/container builds the static binary (`target/<arch>-unknown-linux-musl/release/
//! app-token`) and the image `app-token:test` around it, and starts a Docker engine if
//! none runs. Another binary: `BENCH_BIN=path`; another image: `APP_TOKEN_IMAGE=name`.
//! Runs per row: the first argument, or `BENCH_RUNS`, or 15 (at least 5). Every
//! container runs the way the runner starts it (tests/docker/mod.rs: the runner's
//! `docker run` command line, its mounts and file commands) with `--network host`,
//! and reaches the fake on 127.0.0.1 only. The markdown report goes to stdout,
//! progress to stderr.

// The tests' harness, of which this uses a part.
#[allow(dead_code, unused_imports)]
#[path = "../tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::docker;
use common::measure::*;
use common::*;
use docker::*;
use serde_json::json;

const DEFAULT_RUNS: usize = 15;
const MIN_RUNS: usize = 5;
const LATENCIES_MS: [u64; 2] = [0, 50];
const NAMES: [(u64, &str); 3] = [(101, "site"), (102, "api"), (103, "docs")];

/// `BENCH_BIN`, or the static binary .ci/container builds.
fn binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("BENCH_BIN") {
        return PathBuf::from(bin);
    }
    let triple = format!("{}-unknown-linux-musl", std::env::consts::ARCH);
    let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join(triple)
        .join("release/app-token");
    if !bin.is_file() {
        abort(&format!(
            "{} is missing: run `bash .ci/container` first",
            bin.display()
        ));
    }
    bin
}

/// A shell pipeline's trimmed stdout (for `docker save | gzip -9 | wc -c`).
fn sh(script: &str) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| abort(&format!("sh: {e}")));
    if !out.status.success() {
        abort(&format!(
            "`{script}` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn docker_text(args: &[&str]) -> String {
    let out = docker(args);
    if !out.status.success() {
        abort(&format!(
            "docker {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// What one row runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum What {
    NativeMain,
    ContainerMain,
    NativePost,
    ContainerPost,
    /// `app-token --version`, natively.
    NativeNothing,
    /// `docker run` with the runner's whole command line (every `-e`, the mounts,
    /// `--rm`), of `app-token --version`: the container does nothing.
    ContainerNothing,
    /// `docker run --rm --network host --entrypoint … IMAGE --version`.
    ContainerNothingMinimal,
}

/// One row: its fake GitHub, job directories and environments, and its times.
struct Row {
    what: What,
    latency_ms: Option<u64>,
    _gh: Option<FakeGitHub>,
    job: Job,
    /// The native step's file commands (host paths).
    native_dir: tempfile::TempDir,
    api: String,
    /// main's state, for post.
    state: Vec<(String, String)>,
    walls: Vec<Duration>,
}

fn inputs() -> Vec<(&'static str, String)> {
    vec![
        ("repositories", NAMES.map(|(_, n)| n).join(", ")),
        ("permissions", "contents: write".to_string()),
    ]
}

fn borrowed<'a>(inputs: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    inputs.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

impl Row {
    fn new(what: What, latency_ms: Option<u64>) -> Self {
        let (gh, api) = match latency_ms {
            Some(l) => {
                let gh = FakeGitHub::with_latency(Duration::from_millis(l));
                let names = NAMES.map(|(_, n)| n);
                gh.flow(
                    "acme",
                    &names,
                    &[],
                    &NAMES,
                    Some(json!({"contents": "write"})),
                );
                let api = gh.url();
                (Some(gh), api)
            }
            None => (None, "http://127.0.0.1:9".to_string()),
        };
        Self {
            what,
            latency_ms,
            _gh: gh,
            job: Job::new(),
            native_dir: tempfile::tempdir().unwrap_or_else(|e| abort(&format!("tempdir: {e}"))),
            api,
            state: Vec::new(),
            walls: Vec::new(),
        }
    }

    fn label(&self) -> String {
        let step = match self.what {
            What::NativeMain | What::ContainerMain => "main, 3 names",
            What::NativePost | What::ContainerPost => "post (revokes 1 token)",
            What::NativeNothing => "`app-token --version`",
            What::ContainerNothing => "`app-token --version`, the runner's command line",
            What::ContainerNothingMinimal => {
                "`app-token --version`, `docker run --rm --network host`"
            }
        };
        match self.latency_ms {
            Some(l) => format!("{step}, {l} ms"),
            None => step.to_string(),
        }
    }

    /// Main's state, from one container run of main on this row's fake (post needs it).
    fn prepare_post(&mut self, bin: &Path) {
        let inputs = inputs();
        let main = self.job.step();
        let env = self.job.env(&main, &self.api, &borrowed(&inputs));
        let ran = self.job.run(&main, MAIN_ENTRYPOINT, &env);
        if ran.code != 0 {
            abort(&format!(
                "main, to get the state for post: {:?}\n{}\n{}",
                ran.code, ran.stdout, ran.stderr
            ));
        }
        self.state = file_commands(&main.file("save_state_"))
            .into_iter()
            .map(|(k, v)| (format!("STATE_{k}"), v))
            .collect();
        // The native post: the same binary started by the post entrypoint's name.
        let link = self.native_dir.path().join("app-token-post");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(bin, &link).unwrap_or_else(|e| abort(&format!("symlink: {e}")));
    }

    fn run(&mut self, bin: &Path) {
        let inputs = inputs();
        let inputs = borrowed(&inputs);
        let started;
        let (code, out, err, ok_output): (Option<i32>, String, String, bool) = match self.what {
            What::NativeMain | What::NativePost | What::NativeNothing => {
                let dir = self.native_dir.path();
                for f in ["output", "state", "summary"] {
                    let _ = std::fs::write(dir.join(f), "");
                }
                let mut env = runner_env(&self.api, dir, &inputs);
                env.extend(self.state.iter().cloned());
                let (program, args): (PathBuf, &[&str]) = match self.what {
                    What::NativePost => (dir.join("app-token-post"), &[]),
                    What::NativeNothing => (bin.to_path_buf(), &["--version"]),
                    _ => (bin.to_path_buf(), &[]),
                };
                started = Instant::now();
                let o = Command::new(program)
                    .args(args)
                    .env_clear()
                    .envs(env)
                    .stdin(Stdio::null())
                    .output()
                    .unwrap_or_else(|e| abort(&format!("cannot start {}: {e}", bin.display())));
                let ok = self.what != What::NativeMain
                    || file_commands(&dir.join("output")).contains_key("token");
                (
                    o.status.code(),
                    String::from_utf8_lossy(&o.stdout).into(),
                    String::from_utf8_lossy(&o.stderr).into(),
                    ok,
                )
            }
            What::ContainerMain | What::ContainerPost | What::ContainerNothing => {
                let step = self.job.step();
                let mut env = self.job.env(&step, &self.api, &inputs);
                env.extend(self.state.iter().cloned());
                let cmd = match self.what {
                    What::ContainerPost => self.job.docker_run(&step, POST_ENTRYPOINT, &env),
                    What::ContainerNothing => {
                        self.job
                            .docker_run_with_args(&step, MAIN_ENTRYPOINT, &env, &["--version"])
                    }
                    _ => self.job.docker_run(&step, MAIN_ENTRYPOINT, &env),
                };
                started = Instant::now();
                let ran = Running::start(cmd, &step).wait();
                let ok = self.what != What::ContainerMain || step.outputs().contains_key("token");
                (
                    Some(ran.code).filter(|c| *c >= 0),
                    ran.stdout,
                    ran.stderr,
                    ok,
                )
            }
            What::ContainerNothingMinimal => {
                started = Instant::now();
                let o = docker(&[
                    "run",
                    "--rm",
                    "--network",
                    "host",
                    "--entrypoint",
                    MAIN_ENTRYPOINT,
                    &image(),
                    "--version",
                ]);
                (
                    o.status.code(),
                    String::from_utf8_lossy(&o.stdout).into(),
                    String::from_utf8_lossy(&o.stderr).into(),
                    true,
                )
            }
        };
        let wall = started.elapsed();
        let ok_text = match self.what {
            What::NativePost | What::ContainerPost => out.contains("Revoked 1 installation token"),
            What::NativeNothing | What::ContainerNothing | What::ContainerNothingMinimal => {
                out.starts_with("app-token ")
            }
            _ => true,
        };
        if code != Some(0) || !ok_output || !ok_text {
            abort(&format!(
                "{}: exit {code:?}\n--- stdout ---\n{out}\n--- stderr ---\n{err}",
                self.label()
            ));
        }
        self.walls.push(wall);
    }

    fn median(&self) -> Duration {
        median(self.walls.clone())
    }

    fn cell(&self) -> String {
        let min = self.walls.iter().min().copied().unwrap_or_default();
        let max = self.walls.iter().max().copied().unwrap_or_default();
        format!(
            "{:.1} ms ({:.1}–{:.1})",
            ms(self.median()),
            ms(min),
            ms(max)
        )
    }
}

fn main() {
    let runs = runs_wanted(DEFAULT_RUNS, MIN_RUNS);
    let bin = binary();
    let image = image();
    let size: u64 = docker_text(&["image", "inspect", "--format", "{{.Size}}", &image])
        .parse()
        .unwrap_or_else(|e| abort(&format!("image size: {e}")));
    let gz: u64 = sh(&format!("docker save '{image}' | gzip -9 | wc -c"))
        .parse()
        .unwrap_or_else(|e| abort(&format!("compressed size: {e}")));
    let bin_size = std::fs::metadata(&bin).map_or(0, |m| m.len());
    // Is the binary in the image the one run natively?
    let copy = tempfile::tempdir().unwrap_or_else(|e| abort(&format!("tempdir: {e}")));
    let id = docker_text(&["create", &image]);
    let inside = copy.path().join("app-token");
    let copied = docker(&[
        "cp",
        &format!("{id}:{MAIN_ENTRYPOINT}"),
        &inside.display().to_string(),
    ]);
    docker(&["rm", &id]);
    let same = copied.status.success()
        && std::fs::read(&inside).ok() == std::fs::read(&bin).ok()
        && std::fs::read(&bin).is_ok();
    let versions = docker_text(&[
        "version",
        "--format",
        "client {{.Client.Version}}, engine {{.Server.Version}}",
    ]);
    let driver = docker_text(&["info", "--format", "{{.Driver}}"]);

    let mut rows: Vec<Row> = Vec::new();
    for l in LATENCIES_MS {
        for what in [
            What::NativeMain,
            What::ContainerMain,
            What::NativePost,
            What::ContainerPost,
        ] {
            rows.push(Row::new(what, Some(l)));
        }
    }
    for what in [
        What::NativeNothing,
        What::ContainerNothing,
        What::ContainerNothingMinimal,
    ] {
        rows.push(Row::new(what, None));
    }
    for r in &mut rows {
        if matches!(r.what, What::NativePost | What::ContainerPost) {
            r.prepare_post(&bin);
        }
    }
    eprint!(
        "bench_container: warm-up, then {runs} rounds of {} runs: ",
        rows.len()
    );
    for r in &mut rows {
        r.run(&bin);
        r.walls.clear();
    }
    for _ in 0..runs {
        for r in &mut rows {
            r.run(&bin);
        }
        eprint!(".");
    }
    eprintln!();

    let find = |what: What, l: Option<u64>| {
        rows.iter()
            .find(|r| r.what == what && r.latency_ms == l)
            .unwrap_or_else(|| abort("a row is missing"))
    };
    let floor = find(What::ContainerNothing, None).median();
    let native_nothing = find(What::NativeNothing, None).median();

    println!("\n## Benchmark: the container\n");
    let mut command = String::from("bash .ci/container && ");
    for k in ["BENCH_BIN", "APP_TOKEN_IMAGE", "BENCH_RUNS"] {
        if let Ok(v) = std::env::var(k) {
            command.push_str(&format!("{k}={v} "));
        }
    }
    command.push_str("cargo run --release --example bench_container");
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.is_empty() {
        command.push_str(&format!(" -- {}", args.join(" ")));
    }
    println!(
        "Produced by `{command}` ({runs} runs per row, the rows taking turns, after one warm-up run each).\n"
    );
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    println!("- nproc: {cores}; Linux {}", kernel.trim());
    println!("- Docker: {versions}; storage driver {driver}");
    println!(
        "- Image `{image}`: {size} bytes ({:.2} MB) uncompressed (`docker image inspect --format '{{{{.Size}}}}'`), \
         {gz} bytes ({:.2} MB) as `docker save | gzip -9 | wc -c`, about what `docker pull` moves",
        size as f64 / 1e6,
        gz as f64 / 1e6
    );
    println!(
        "- The executable: {bin_size} bytes, `{}`; the image's `{MAIN_ENTRYPOINT}` is {}",
        bin.strip_prefix(env!("CARGO_MANIFEST_DIR"))
            .unwrap_or(&bin)
            .display(),
        if same {
            "byte for byte the same file"
        } else {
            "**a different file** (rebuild the image)"
        }
    );
    println!();
    println!(
        "Each time is from starting the process (the native binary, or the `docker` client) \
         to its exit, with `--rm`'s removal of the container included, as the runner waits for \
         it. The container runs with the runner's command line (every `-e NAME` of the step's \
         environment, `-e GITHUB_ACTIONS=true -e CI=true`, the six `-v` mounts, `--workdir`, \
         `--label`, `--rm`) plus `--network host`; the native binary gets the same environment \
         with host paths. The fake GitHub answers each request after the latency shown; \
         main resolves 3 repository names (3 sequential round trips), post revokes one token \
         (1 round trip).\n"
    );
    println!("| Step | Native | `docker run` | Container − native |");
    println!("|---|---:|---:|---:|");
    for l in LATENCIES_MS {
        for (native, container) in [
            (What::NativeMain, What::ContainerMain),
            (What::NativePost, What::ContainerPost),
        ] {
            let n = find(native, Some(l));
            let c = find(container, Some(l));
            println!(
                "| {} | {} | {} | {:+.1} ms |",
                c.label(),
                n.cell(),
                c.cell(),
                ms(c.median()) - ms(n.median())
            );
        }
    }
    let nothing = find(What::ContainerNothing, None);
    let minimal = find(What::ContainerNothingMinimal, None);
    println!(
        "| a container that does nothing: {} | {} | {} | {:+.1} ms |",
        nothing.label(),
        find(What::NativeNothing, None).cell(),
        nothing.cell(),
        ms(nothing.median()) - ms(native_nothing)
    );
    println!(
        "| a container that does nothing: {} | {} | {} | {:+.1} ms |",
        minimal.label(),
        find(What::NativeNothing, None).cell(),
        minimal.cell(),
        ms(minimal.median()) - ms(native_nothing)
    );

    println!(
        "\nThe floor is `docker run` of a container that does nothing, with the runner's \
         command line: {:.1} ms. Above it:\n",
        ms(floor)
    );
    println!("| Step | `docker run` − floor | Native | Left over |");
    println!("|---|---:|---:|---:|");
    for l in LATENCIES_MS {
        for (native, container) in [
            (What::NativeMain, What::ContainerMain),
            (What::NativePost, What::ContainerPost),
        ] {
            let n = find(native, Some(l)).median();
            let c = find(container, Some(l));
            let above = ms(c.median()) - ms(floor);
            println!(
                "| {} | {above:+.1} ms | {:.1} ms | {:+.1} ms |",
                c.label(),
                ms(n),
                above - (ms(n) - ms(native_nothing))
            );
        }
    }
    println!(
        "\n*Left over* is the container's cost above the floor beyond the step's own work \
         (its native time minus the native `--version` run, {:.1} ms): what running the step \
         in a container adds once `docker run` itself is paid for. Near zero, or below, means \
         none: part of `docker run`'s fixed cost (the client attaching to the container and \
         waiting for its removal) runs alongside the step instead of adding to it, and the \
         spread of the floor itself is tens of milliseconds.",
        ms(native_nothing)
    );
}
