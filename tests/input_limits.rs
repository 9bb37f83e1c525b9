//! No input costs more than a moment: every input the action declares, given text that is hostile to its parser (nesting, repetition, sheer length, up to the 128 KiB an environment variable can hold), is accepted or refused within a time bound, and the limits' errors say the limit.

mod common;

use std::time::{Duration, Instant};

use app_token::inputs;

/// The bound the issue sets, for a release build: 100 ms.
///
/// This is a debug build, several times slower than the release, on a shared machine;
/// each case's time is the least of three runs, so that another process's burst does
/// not count. Measured here (`cargo test --test input_limits -- --nocapture`): the
/// slowest case, before the limits, took 11 s (`a: ` and 60,000 `[` and `]`) and 0.65 s
/// (120 KB of `repositories`); with them, a few milliseconds. The bound is the issue's
/// own, held in the slower build.
const BOUND: Duration = Duration::from_millis(100);

/// The largest value one environment variable can carry on Linux (MAX_ARG_STRLEN),
/// less room for the name: what a runner can pass as one input.
const LARGEST: usize = 128 * 1024 - 64;

/// The step's environment with `name` set to `value`, and no private key unless that
/// is the input: reading a real RSA key is the slowest thing reading the inputs does
/// (most of 100 ms in a debug build), and every other input is read, and refused or
/// accepted, before the key is.
fn env_with(name: &str, value: &str) -> impl Fn(&str) -> Option<String> {
    let mut pairs: Vec<(String, String)> = vec![
        ("INPUT_APP-ID".into(), "123456".into()),
        ("GITHUB_REPOSITORY".into(), "acme/site".into()),
    ];
    pairs.retain(|(k, _)| k != &format!("INPUT_{}", name.to_uppercase()));
    pairs.push((format!("INPUT_{}", name.to_uppercase()), value.to_string()));
    move |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
}

/// The least of three runs of reading the inputs with `name` set to `value`, and the
/// error (if refused).
fn time(name: &str, value: &str) -> (Duration, Option<String>) {
    let env = env_with(name, value);
    let mut best = Duration::MAX;
    let mut error = None;
    for _ in 0..3 {
        let started = Instant::now();
        let read = inputs::read(&env);
        best = best.min(started.elapsed());
        error = read.err().map(|e| e.to_string());
    }
    (best, error)
}

/// Texts hostile to a parser, each at most `LARGEST` bytes.
fn hostile() -> Vec<(&'static str, String)> {
    let fill = |unit: &str| unit.repeat(LARGEST / unit.len());
    let half = LARGEST / 2 - 4;
    vec![
        (
            "a: [ 60,000 deep",
            format!("a: {}{}", "[".repeat(60_000), "]".repeat(60_000)),
        ),
        (
            "16 KB of [",
            format!("a: {}{}", "[".repeat(8_000), "]".repeat(8_000)),
        ),
        (
            "nested braces",
            format!("{}{}", "{a: ".repeat(half / 4), "}".repeat(half / 4)),
        ),
        ("block sequences", fill("- ")),
        ("8 KB of block sequences", "- ".repeat(4_000)),
        (
            "8 KB of nested block mappings",
            (0..120)
                .map(|i| format!("{}a:\n", " ".repeat(i)))
                .collect::<String>(),
        ),
        (
            "aliases",
            format!(
                "a: &a [x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a]\nc: [*b,*b,*b,*b,*b,*b,*b,*b]\n{}",
                "d: [*b]\n".repeat(500)
            ),
        ),
        (
            "aliases of aliases",
            format!(
                "a: &a [x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c]\n{}",
                "e: [*d]\n".repeat(900)
            ),
        ),
        ("names", fill("contents: read\n")),
        ("commas", fill(",")),
        ("distinct names", {
            let mut s = String::new();
            let mut i = 0;
            while s.len() < LARGEST - 12 {
                s.push_str(&format!("r{i} "));
                i += 1;
            }
            s
        }),
        ("one repository, again and again", fill("acme/site\n")),
        ("bad entries", fill("$ ")),
        ("one long word", "x".repeat(LARGEST)),
        ("digits", "9".repeat(LARGEST)),
        ("PEM armour", fill("-----BEGIN RSA PRIVATE KEY-----\n")),
        ("base64", fill("QUJD")),
        ("quotes", fill("\"'")),
        ("newlines", fill("\n\r")),
        ("unicode", fill("é\u{200b}")),
    ]
}

#[test]
fn every_input_is_accepted_or_refused_within_the_bound() {
    let mut worst = (Duration::ZERO, String::new());
    let mut slow = Vec::new();
    for name in inputs::all_inputs() {
        for (what, text) in hostile() {
            assert!(text.len() <= LARGEST, "{what}");
            let (took, _) = time(&name, &text);
            if took > worst.0 {
                worst = (took, format!("{name}: {what}"));
            }
            if took > BOUND {
                slow.push(format!("{name}: {what}: {took:?}"));
            }
        }
    }
    eprintln!(
        "slowest input: {} in {:?} (least of three runs)",
        worst.1, worst.0
    );
    assert!(slow.is_empty(), "slower than {BOUND:?}: {slow:#?}");
}

#[test]
fn the_limits_errors_name_the_input_and_say_the_limit() {
    let nested = format!("a: {}{}", "[".repeat(60_000), "]".repeat(60_000));
    let (_, e) = time("permissions", &nested);
    let e = e.expect("refused");
    assert!(e.contains("permissions"), "{e}");
    assert!(e.contains("at most 8192 bytes are read"), "{e}");
    let (_, e) = time(
        "permissions",
        &format!("a: {}{}", "[".repeat(3), "]".repeat(3)),
    );
    let e = e.expect("refused");
    assert!(e.contains("nests brackets deeper than 2 levels"), "{e}");
    let (_, e) = time("repositories", &"acme/site ".repeat(14_000));
    let e = e.expect("refused");
    assert!(e.contains("repositories"), "{e}");
    assert!(e.contains("at most 131072 bytes are read"), "{e}");
    let (_, e) = time("repositories", &"acme/site ".repeat(6_000));
    assert!(
        e.expect("refused").contains("more than 5000 entries"),
        "duplicates count"
    );
    // What is legitimate still reads: the only fault left is the missing key.
    let (_, e) = time("permissions", "contents: write\npull-requests: read");
    assert!(e
        .expect("no key")
        .starts_with("input `private-key` is required"));
}
