//! What the benchmarks share: how many runs, timing the main step, medians, milliseconds, the head of a table of keys, and stopping with a message.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{run_binary, FakeGitHub, Step};

impl FakeGitHub {
    /// A fake GitHub that answers every request after `latency`, as the real one does
    /// from afar.
    pub fn with_latency(latency: Duration) -> Self {
        let mut gh = Self::start();
        gh.latency = latency;
        gh
    }
}

/// Stops a benchmark with `message`, naming the program.
pub fn abort(message: &str) -> ! {
    let program = std::env::args().next().unwrap_or_default();
    let name = std::path::Path::new(&program)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    eprintln!("\n{name}: {message}");
    std::process::exit(1);
}

/// The median; zero for no values.
pub fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    let n = xs.len();
    match n {
        0 => Duration::ZERO,
        _ if n % 2 == 1 => xs[n / 2],
        _ => (xs[n / 2 - 1] + xs[n / 2]) / 2,
    }
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Runs per row: the first argument, or `BENCH_RUNS`, or `default`; at least `min`.
pub fn runs_wanted(default: usize, min: usize) -> usize {
    let raw = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("BENCH_RUNS").ok());
    match raw {
        None => default,
        Some(v) => match v.trim().parse::<usize>() {
            Ok(n) if n >= min => n,
            _ => abort(&format!("runs per row must be a number ≥ {min}, not {v:?}")),
        },
    }
}

/// `BENCH_BIN`, or `app-token` beside the running example's directory
/// (`target/<profile>/app-token`); stops with `command`, which builds it, when missing.
pub fn binary_beside_me(command: &str) -> PathBuf {
    if let Some(bin) = std::env::var_os("BENCH_BIN") {
        return PathBuf::from(bin);
    }
    let me = std::env::current_exe().unwrap_or_else(|e| abort(&format!("current_exe: {e}")));
    let bin = me
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("app-token"))
        .unwrap_or_else(|| abort("cannot tell where the example runs from"));
    if !bin.is_file() {
        abort(&format!(
            "{} is missing: examples do not build the crate's binaries. Run\n\n    {command}\n",
            bin.display()
        ));
    }
    bin
}

/// Runs the main step of `bin` `runs` times with `inputs` and `extra` variables; gives the
/// median wall time, and checks every run minted.
pub fn measure_main(
    bin: &Path,
    gh: &FakeGitHub,
    inputs: &[(&str, &str)],
    extra: &[(String, String)],
    runs: usize,
) -> Duration {
    let mut walls = Vec::new();
    for _ in 0..runs {
        let step = Step::new();
        let mut env = step.env(&gh.url(), inputs);
        env.extend(extra.iter().cloned());
        let started = Instant::now();
        let ran = run_binary(bin, &[], &env, "");
        walls.push(started.elapsed());
        if ran.code != 0 || !step.outputs().contains_key("token") {
            abort(&format!("the step failed:\n{}\n{}", ran.stdout, ran.stderr));
        }
    }
    median(walls)
}

/// The head of a benchmark's table of keys, and its first row: the key in memory, whose
/// median is `base`.
pub fn print_key_table_head(base: Duration) {
    println!(
        "| Key | Round trips before the first GitHub request | Median | Above the key in memory |"
    );
    println!("|---|---|---:|---:|");
    println!(
        "| `private-key` (in memory) | none | {:.1} ms | |",
        ms(base)
    );
}
