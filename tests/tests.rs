//! The integration tests, as one program: a module per subject (`tests/<subject>.rs`), and
//! the harness they share (`common`: the fake GitHub, the step the runner gives, the key
//! services' stand-ins). `cargo test --test integration SUBJECT::` runs one subject.

mod common;

mod act;
mod action;
mod agent;
mod azure;
mod cli;
mod cli_ops;
mod container;
mod faults;
mod gcp;
mod git_server;
mod github_answers;
mod hardening;
mod hostile;
mod input_limits;
mod kms;
mod metadata;
mod native;
mod native_wine;
mod panic;
mod properties;
mod refresh;
mod stateless;
mod vault;
mod wire;

/// Cargo.toml turns off cargo's discovery of test files (`autotests = false`): a file in
/// tests/ that this program does not declare would be compiled by nothing and run never.
#[test]
fn every_file_in_tests_is_a_module_of_this_program() {
    let program = include_str!("tests.rs");
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests");
    let mut undeclared = Vec::new();
    for entry in std::fs::read_dir(dir).expect("the tests directory") {
        let name = entry.expect("an entry of tests/").file_name();
        let name = name.to_string_lossy();
        if let Some(module) = name.strip_suffix(".rs") {
            if module != "tests" && !program.contains(&format!("\nmod {module};\n")) {
                undeclared.push(name.to_string());
            }
        }
    }
    assert!(
        undeclared.is_empty(),
        "tests/{undeclared:?} not declared in tests/tests.rs (`mod NAME;`), so never run"
    );
}

/// The run ends with what it did not check: a line with how many, then each, after the
/// harness's `test result:` line (which CI adds up, so the count must not be one), and
/// only what this run did not check.
#[test]
fn the_run_ends_with_how_many_checks_were_not_made() {
    // This program again, with `args`: its stdout and stderr, in the order written. (Said
    // quoted when a check fails: its `test result:` lines are not this run's.)
    let run = |args: &[&str]| -> String {
        let mut out = tempfile::tempfile().expect("a file for the output");
        let status = std::process::Command::new(std::env::current_exe().expect("this program"))
            .args(args)
            .stdout(out.try_clone().expect("the file again"))
            .stderr(out.try_clone().expect("the file again"))
            .status()
            .expect("this program runs");
        let mut text = String::new();
        use std::io::{Read as _, Seek as _};
        out.rewind().expect("the output from its start");
        out.read_to_string(&mut text).expect("the output");
        assert!(status.success(), "{status}: {text:?}");
        text
    };

    let text = run(&["--ignored", "--exact", "a_check_not_made"]);
    assert!(
        text.contains("NOT CHECKED: a check: it is not made\n"),
        "{text:?}"
    );
    let result = text
        .find("test result: ok. 1 passed")
        .unwrap_or_else(|| panic!("{text:?}"));
    let count = text
        .find("\n1 not checked (")
        .unwrap_or_else(|| panic!("{text:?}"));
    assert!(result < count, "the count comes after the result: {text:?}");
    let tail: Vec<&str> = text[count..].lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(
        tail,
        [
            "1 not checked (each a failure where the variable named is 1):",
            "  a check: it is not made (APP_TOKEN_REQUIRE_NOTHING_REAL)",
        ],
        "{text:?}"
    );

    // A run that checked all it ran (here: nothing) ends with the harness's line alone.
    let text = run(&["--exact", "no_such_test"]);
    assert!(text.contains("test result: ok. 0 passed"), "{text:?}");
    assert!(!text.contains("not checked"), "{text:?}");
}

/// What [`the_run_ends_with_how_many_checks_were_not_made`] runs this program for.
#[test]
#[ignore = "run alone, by the_run_ends_with_how_many_checks_were_not_made"]
fn a_check_not_made() {
    common::not_checked(
        "a check",
        "it is not made",
        "APP_TOKEN_REQUIRE_NOTHING_REAL",
    );
}
