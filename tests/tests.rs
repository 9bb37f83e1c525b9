//! The integration tests, as one program: a module per subject (`tests/<subject>.rs`), and
//! the harness they share (`common`: the fake GitHub, the step the runner gives, the key
//! services' stand-ins). `cargo test --test integration SUBJECT::` runs one subject.

mod common;

mod act;
mod action;
mod azure;
mod cli;
mod cli_ops;
mod container;
mod faults;
mod gcp;
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
