//! The main step's wall time, sequential round trips and peak memory: the release binary,
//! run the way the Actions runner runs it, against the fake GitHub answering every
//! request after 0, 50 and 100 ms. A measurement, not a test: nothing here asserts on time.
//!
//! ```text
//! cargo build --release --bins && cargo run --release --example bench > bench/RESULTS.md
//! ```
//!
//! Examples do not build the crate's binaries, hence the first command; the benchmark
//! runs `app-token` from the same directory as its own (`target/release/`). Runs per
//! case and latency: the first argument, or `BENCH_RUNS`, or 9 (at least 7). Another
//! build of the binary (a static one, say): `BENCH_BIN=path`. The markdown report goes
//! to stdout, progress to stderr. The container's figures (image size, `docker run`)
//! come from examples/bench_container.rs, appended to the same file.

// The tests' harness, of which this uses a part.
#[allow(dead_code, unused_imports)]
#[path = "../tests/common/mod.rs"]
mod common;

use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::measure::*;
use common::*;
use serde_json::json;

const LATENCIES_MS: [u64; 3] = [0, 50, 100];
const DEFAULT_RUNS: usize = 9;
const MIN_RUNS: usize = 7;
const COMMAND: &str = "cargo build --release --bins && cargo run --release --example bench";

/// Targets, for the notes.
const TARGET_ABOVE_FLOOR_MS: f64 = 15.0;
const TARGET_RSS_KIB: u64 = 15 * 1024;

const NAMES: [(u64, &str); 3] = [(101, "site"), (102, "api"), (103, "docs")];
const IDS: [u64; 3] = [201, 202, 203];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Case {
    Names,
    Ids,
    IdsWithInstallationId,
}

impl Case {
    const ALL: [Case; 3] = [Case::Names, Case::Ids, Case::IdsWithInstallationId];

    fn label(self) -> &'static str {
        match self {
            Case::Names => "3 names",
            Case::Ids => "3 ids",
            Case::IdsWithInstallationId => "3 ids + `installation-id`",
        }
    }

    /// The requests on the critical path, one after the other (what `src/mint.rs` does).
    fn path(self) -> &'static str {
        match self {
            Case::Names => {
                "`GET /repos/{o}/{r}/installation` → `POST …/access_tokens` (helper, names → ids) → `POST …/access_tokens` (final; helper revoked and bot user looked up alongside)"
            }
            Case::Ids => {
                "`GET /users/{o}/installation` → `POST …/access_tokens` (final; bot user looked up alongside)"
            }
            Case::IdsWithInstallationId => {
                "`POST …/access_tokens` (final), alongside `GET /app/installations/{id}` → `GET /users/{slug}[bot]`"
            }
        }
    }

    /// Sequential round trips the code makes.
    fn expected_round_trips(self) -> u64 {
        match self {
            Case::Names => 3,
            Case::Ids => 2,
            Case::IdsWithInstallationId => 2,
        }
    }

    /// Latencies before the step can end when a new connection costs one too. HTTP/1.1
    /// carries one request at a time per connection, so a request started alongside
    /// another either opens a connection or waits for one, and the step waits for all.
    fn expected_latencies_with_connects(self) -> u64 {
        match self {
            Case::Names => 5,
            Case::Ids => 4,
            Case::IdsWithInstallationId => 3,
        }
    }

    /// Why [`Case::expected_latencies_with_connects`] says so.
    fn connects_note(self) -> &'static str {
        match self {
            Case::Names => "connect, lookup, helper, final; the final token and the helper's revocation start together with one idle connection (the bot lookup holds the other), so one waits",
            Case::Ids => "connect, lookup, final; the bot lookup alongside needs a connection of its own",
            Case::IdsWithInstallationId => "two connections at once: `GET /app/installations/{id}` → `GET /users/{slug}[bot]` on one, the token on the other",
        }
    }

    fn target_round_trips(self) -> u64 {
        match self {
            Case::Names => 3,
            Case::Ids => 2,
            Case::IdsWithInstallationId => 1,
        }
    }

    fn inputs(self) -> Vec<(&'static str, String)> {
        let names = NAMES.map(|(_, n)| n).join(", ");
        let ids = IDS.map(|i| i.to_string()).join(", ");
        let mut inputs = vec![("permissions", "contents: write".to_string())];
        match self {
            Case::Names => inputs.push(("repositories", names)),
            Case::Ids => inputs.push(("repositories", ids)),
            Case::IdsWithInstallationId => {
                inputs.push(("repositories", ids));
                inputs.push(("installation-id", INSTALLATION.to_string()));
            }
        }
        inputs
    }

    /// Mocks everything this case asks of GitHub.
    fn mock(self, gh: &FakeGitHub) {
        let permissions = json!({"contents": "write"});
        match self {
            Case::Names => {
                let names = NAMES.map(|(_, n)| n);
                gh.flow("acme", &names, &[], &NAMES, Some(permissions));
            }
            Case::Ids => {
                gh.flow("acme", &[], &IDS, &[], Some(permissions));
            }
            Case::IdsWithInstallationId => {
                gh.installation_by_id("acme", INSTALLATION);
                let repos: Vec<_> = IDS.iter().map(|i| repo_json(*i, "acme", "r")).collect();
                gh.access_token(
                    INSTALLATION,
                    json!({"repository_ids": IDS, "permissions": permissions}),
                    token_json(FINAL_TOKEN, &repos, &permissions),
                );
                gh.bot_user();
            }
        }
    }
}

/// One run of the main step.
struct Run {
    wall: Duration,
    max_rss_kib: u64,
    spawner_rss_kib: u64,
}

/// Runs the binary in a step's directory.
trait Measured {
    fn run(&self, bin: &Path, env: &[(String, String)]) -> Run;
}

impl Measured for Step {
    /// Runs the binary once, through a fresh copy of this program (see [`spawn_and_measure`]);
    /// aborts the benchmark unless it exits 0 with a `token` output.
    fn run(&self, bin: &Path, env: &[(String, String)]) -> Run {
        for f in ["output", "state", "summary", "stdout", "stderr"] {
            let _ = std::fs::remove_file(self.file(f));
        }
        let me = std::env::current_exe().unwrap_or_else(|e| abort(&format!("current_exe: {e}")));
        let report = Command::new(me)
            .arg(SPAWN)
            .arg(bin)
            .arg(self.file("stdout"))
            .arg(self.file("stderr"))
            .env_clear()
            .envs(env.iter().cloned())
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| abort(&format!("cannot start the spawner: {e}")));
        let text = String::from_utf8_lossy(&report.stdout);
        let fields: Vec<u64> = text
            .split_whitespace()
            .filter_map(|f| f.parse().ok())
            .collect();
        let [wall_ns, code, max_rss_kib, spawner_rss_kib] = fields[..] else {
            abort(&format!(
                "the spawner said {text:?}: {}",
                String::from_utf8_lossy(&report.stderr)
            ))
        };
        let output = std::fs::read_to_string(self.file("output")).unwrap_or_default();
        if code != 0 || !output.lines().any(|l| l.starts_with("token<<")) {
            let read = |f| std::fs::read_to_string(self.file(f)).unwrap_or_default();
            abort(&format!(
                "the main step ended with {}, and a `token` output is needed\n\
                 --- stdout ---\n{}\n--- stderr ---\n{}\n--- GITHUB_OUTPUT ---\n{output}",
                if code >= 1000 {
                    format!("signal {}", code - 1000)
                } else {
                    format!("exit code {code}")
                },
                read("stdout"),
                read("stderr"),
            ));
        }
        Run {
            wall: Duration::from_nanos(wall_ns),
            max_rss_kib,
            spawner_rss_kib,
        }
    }
}

/// The first argument that turns this program into the spawner.
const SPAWN: &str = "--spawn-and-measure";

/// The spawner: starts `bin` with this process's environment (stdout and stderr to the
/// files named), and prints its wall time in ns, exit code (1000 + signal if killed), peak
/// RSS in KiB, and the spawner's own peak RSS in KiB.
///
/// Why a spawner: `ru_maxrss` also counts the image a process was forked from, before its
/// exec, and the benchmark holds fifteen fake servers. Started from this small fresh
/// process instead, the child's figure is its own unless it stays below the spawner's.
fn spawn_and_measure(args: &[String]) -> ! {
    let [bin, stdout, stderr] = args else {
        abort("usage: bench --spawn-and-measure BIN STDOUT STDERR")
    };
    let file = |p: &String| File::create(p).unwrap_or_else(|e| abort(&format!("{p}: {e}")));
    let own = own_peak_rss_kib();
    let started = Instant::now();
    let child = Command::new(bin)
        .stdin(Stdio::null())
        .stdout(file(stdout))
        .stderr(file(stderr))
        .spawn()
        .unwrap_or_else(|e| abort(&format!("cannot start {bin}: {e}")));
    let (status, usage) = wait4(child.id());
    let wall = started.elapsed();
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        1000 + libc::WTERMSIG(status)
    };
    // KiB on Linux.
    let rss = u64::try_from(usage.ru_maxrss).unwrap_or(0);
    println!("{} {code} {rss} {own}", wall.as_nanos());
    std::process::exit(0);
}

/// This process's peak RSS since its exec, in KiB (`VmHWM`; `getrusage` would also count
/// the image it was forked from).
fn own_peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Reaps the child, with its resource usage (only this child's: `wait4`, not `RUSAGE_CHILDREN`).
fn wait4(pid: u32) -> (i32, libc::rusage) {
    let pid = libc::pid_t::try_from(pid).expect("a pid");
    let mut status = 0;
    // SAFETY: rusage is plain old data, valid when zeroed; wait4 writes both out-pointers.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: pointers to live locals; pid is our own child, not yet reaped.
        let got = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if got == pid {
            return (status, usage);
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            abort(&format!("wait4: {err}"));
        }
    }
}

/// The command that produced the report, as it was typed.
fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut line = String::new();
    if std::env::var_os("BENCH_BIN").is_none() {
        line.push_str("cargo build --release --bins && ");
    }
    for k in ["BENCH_BIN", "BENCH_RUNS"] {
        if let Ok(v) = std::env::var(k) {
            line.push_str(&format!("{k}={v} "));
        }
    }
    line.push_str("cargo run --release --example bench");
    if !args.is_empty() {
        line.push_str(&format!(" -- {}", args.join(" ")));
    }
    line
}

fn machine() -> Vec<String> {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = read("/proc/sys/kernel/osrelease").trim().to_string();
    let rustc = Command::new("rustc")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into());
    vec![
        format!("CPU: {cpu}; nproc: {cores}"),
        format!("Linux {kernel}; {rustc}"),
    ]
}

struct Row {
    case: Case,
    latency_ms: u64,
    median: Duration,
    min: Duration,
    max: Duration,
    max_rss_kib: u64,
}

/// One row's fake GitHub, step files and environment.
struct Setup {
    case: Case,
    latency_ms: u64,
    slow_connect: bool,
    _gh: FakeGitHub,
    step: Step,
    env: Vec<(String, String)>,
    walls: Vec<Duration>,
    max_rss_kib: u64,
    spawner_rss_kib: u64,
}

impl Setup {
    fn new(case: Case, latency_ms: u64, slow_connect: bool) -> Self {
        let latency = Duration::from_millis(latency_ms);
        // A fake per row, so that only this case's mocks can answer.
        let gh = FakeGitHub::with_latency(latency);
        case.mock(&gh);
        let step = Step::new();
        let inputs = case.inputs();
        let inputs: Vec<(&str, &str)> = inputs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut env = step.env(&gh.url(), &inputs);
        if slow_connect {
            // Every new tunnel costs one more latency, like a TCP handshake (TLS to GitHub
            // costs one more again), and hyper's race between waiting for a pooled
            // connection and opening a new one plays out as on a real network.
            env.push(("HTTP_PROXY".into(), ConnectProxy::start(latency).url));
        }
        Self {
            case,
            latency_ms,
            slow_connect,
            _gh: gh,
            step,
            env,
            walls: Vec::new(),
            max_rss_kib: 0,
            spawner_rss_kib: 0,
        }
    }

    fn run(&mut self, bin: &Path) {
        let r = self.step.run(bin, &self.env);
        self.walls.push(r.wall);
        self.max_rss_kib = self.max_rss_kib.max(r.max_rss_kib);
        self.spawner_rss_kib = self.spawner_rss_kib.max(r.spawner_rss_kib);
    }

    fn row(&self) -> Row {
        Row {
            case: self.case,
            latency_ms: self.latency_ms,
            median: median(self.walls.clone()),
            min: self.walls.iter().min().copied().unwrap_or_default(),
            max: self.walls.iter().max().copied().unwrap_or_default(),
            max_rss_kib: self.max_rss_kib,
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(SPAWN) {
        spawn_and_measure(&args[1..]);
    }
    let runs = runs_wanted(DEFAULT_RUNS, MIN_RUNS);
    let bin = binary_beside_me(COMMAND);
    let size = std::fs::metadata(&bin).map_or(0, |m| m.len());

    let mut setups: Vec<Setup> = Vec::new();
    for slow_connect in [false, true] {
        for latency_ms in LATENCIES_MS {
            if slow_connect && latency_ms == 0 {
                continue;
            }
            for case in Case::ALL {
                setups.push(Setup::new(case, latency_ms, slow_connect));
            }
        }
    }
    // One warm-up run each (page cache, each fake's first answers), not counted; then the
    // rows take turns, so that a passing disturbance is spread over all of them.
    eprint!(
        "bench: warm-up, then {runs} rounds of {} runs: ",
        setups.len()
    );
    for s in &mut setups {
        s.run(&bin);
        s.walls.clear();
    }
    for _ in 0..runs {
        for s in &mut setups {
            s.run(&bin);
        }
        eprint!(".");
    }
    eprintln!();
    let spawner_rss_kib = setups.iter().map(|s| s.spawner_rss_kib).max().unwrap_or(0);
    let rows: Vec<Row> = setups
        .iter()
        .filter(|s| !s.slow_connect)
        .map(Setup::row)
        .collect();
    let slow_rows: Vec<Row> = setups
        .iter()
        .filter(|s| s.slow_connect)
        .map(Setup::row)
        .collect();

    // Measured round trips: the median at the highest latency over that latency, rounded down.
    let top = *LATENCIES_MS.last().unwrap_or(&100);
    let measured = |case: Case| {
        rows.iter()
            .find(|r| r.case == case && r.latency_ms == top)
            .map_or(0, |r| (ms(r.median) / top as f64).floor() as u64)
    };

    println!("## Benchmark: the main step against a fake GitHub\n");
    println!(
        "Produced by `{}` ({runs} runs per row, the rows taking turns, after one warm-up run each).\n",
        command_line()
    );
    for line in machine() {
        println!("- {line}");
    }
    println!(
        "- `{}`: {size} bytes",
        bin.strip_prefix(std::env::current_dir().unwrap_or_default())
            .unwrap_or(&bin)
            .display()
    );
    println!();
    println!(
        "Each run is the release binary started as the runner starts it (`env_clear`, every \
         `INPUT_*` with hyphens kept, `GITHUB_ACTIONS=true`, `GITHUB_OUTPUT`/`GITHUB_STATE`/\
         `GITHUB_STEP_SUMMARY` files), timed from spawn to exit, against an HTTP fake on \
         127.0.0.1 that checks each JWT and answers every request after the given latency. \
         Every run exited 0 with a `token` output. Round trips: *expected* is what the code \
         does on the critical path, *measured* is ⌊median at {top} ms ÷ {top} ms⌋. Floor = \
         expected round trips × latency. Peak RSS is `ru_maxrss` from `wait4`, the highest of \
         the runs, with each run started from a small fresh spawner process, as `ru_maxrss` \
         also counts the image a process was forked from (the spawner's own peak: {:.1} MiB).\n",
        spawner_rss_kib as f64 / 1024.0
    );
    println!(
        "| Case | Latency | Median (min–max) | Round trips expected / measured | Floor | Above floor | Peak RSS |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        let floor = r.case.expected_round_trips() * r.latency_ms;
        println!(
            "| {} | {} ms | {:.1} ms ({:.1}–{:.1}) | {} / {} | {floor} ms | {:+.1} ms | {:.1} MiB |",
            r.case.label(),
            r.latency_ms,
            ms(r.median),
            ms(r.min),
            ms(r.max),
            r.case.expected_round_trips(),
            measured(r.case),
            ms(r.median) - floor as f64,
            r.max_rss_kib as f64 / 1024.0,
        );
    }

    println!(
        "\nThe same, with each new connection also held for the latency (the fake behind an \
         HTTP CONNECT proxy, `HTTP_PROXY`), as a TCP handshake would cost on a real network; \
         TLS, absent here, would add one more latency per new connection. *Latencies expected* \
         is what HTTP/1.1 (one request at a time per connection) allows the code, as listed \
         below; *measured* is ⌊median ÷ latency⌋.\n"
    );
    println!(
        "| Case | Latency | Median (min–max) | Latencies expected / measured | Floor | Above floor |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for r in &slow_rows {
        let expected = r.case.expected_latencies_with_connects();
        let floor = expected * r.latency_ms;
        println!(
            "| {} | {} ms | {:.1} ms ({:.1}–{:.1}) | {expected} / {} | {floor} ms | {:+.1} ms |",
            r.case.label(),
            r.latency_ms,
            ms(r.median),
            ms(r.min),
            ms(r.max),
            (ms(r.median) / r.latency_ms as f64).floor(),
            ms(r.median) - floor as f64,
        );
    }

    println!("\nCritical paths:\n");
    for case in Case::ALL {
        println!("- {}: {}", case.label(), case.path());
    }
    println!("\nWith connections costing a latency:\n");
    for case in Case::ALL {
        println!(
            "- {}: {} latencies: {}.",
            case.label(),
            case.expected_latencies_with_connects(),
            case.connects_note()
        );
    }

    println!("\nTargets (round trips: 3 names ≤ 3, ids ≤ 2, ids + `installation-id` ≤ 1; ≤ {TARGET_ABOVE_FLOOR_MS} ms above the floor; peak RSS ≤ {} MB):\n", TARGET_RSS_KIB / 1024);
    let mut notes = Vec::new();
    for case in Case::ALL {
        let m = measured(case);
        if m != case.expected_round_trips() {
            notes.push(format!(
                "{}: measured {m} round trips, expected {}.",
                case.label(),
                case.expected_round_trips()
            ));
        }
        if m > case.target_round_trips() {
            let why = match case {
                Case::IdsWithInstallationId => {
                    " The token itself needs one round trip, but the `app-slug`, `git-user-name` and \
                     `git-user-email` outputs need the app's slug, which only \
                     `GET /app/installations/{id}` gives, and then the bot user's id, from \
                     `GET /users/{slug}[bot]`: two dependent requests, run alongside the token \
                     request. Meeting 1 means dropping or deferring those outputs, a behaviour change."
                }
                _ => "",
            };
            notes.push(format!(
                "{}: **target missed**, {m} round trips > {}.{why}",
                case.label(),
                case.target_round_trips()
            ));
        }
    }
    for r in &rows {
        let above = ms(r.median) - (r.case.expected_round_trips() * r.latency_ms) as f64;
        if above > TARGET_ABOVE_FLOOR_MS {
            notes.push(format!(
                "{} at {} ms: **target missed**, {above:.1} ms above the floor.",
                r.case.label(),
                r.latency_ms
            ));
        }
        if r.max_rss_kib <= spawner_rss_kib {
            notes.push(format!(
                "{} at {} ms: the peak RSS shown is the spawner's; the binary's is at most that.",
                r.case.label(),
                r.latency_ms
            ));
        }
        if r.max_rss_kib > TARGET_RSS_KIB {
            notes.push(format!(
                "{} at {} ms: **target missed**, peak RSS {:.1} MiB.",
                r.case.label(),
                r.latency_ms,
                r.max_rss_kib as f64 / 1024.0
            ));
        }
    }
    if notes.is_empty() {
        println!("- All met.");
    }
    for n in notes {
        println!("- {n}");
    }

    // Where the time above the floor goes: what a run costs with instant answers, and
    // what each round trip costs beyond the latency.
    println!("\nAbove the floor:\n");
    for case in Case::ALL {
        let at = |l: u64| rows.iter().find(|r| r.case == case && r.latency_ms == l);
        if let (Some(zero), Some(high)) = (at(0), at(top)) {
            let trips = case.expected_round_trips() as f64;
            let per_trip = (ms(high.median) - ms(zero.median)) / trips - top as f64;
            println!(
                "- {}: {:.1} ms with instant answers (process start, key check, signing, \
                 loopback requests), then {per_trip:+.1} ms per round trip beyond the {top} ms \
                 (the fake answers slightly after its delay).",
                case.label(),
                ms(zero.median),
            );
        }
    }
}
