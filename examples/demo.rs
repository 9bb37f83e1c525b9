//! The action's main job, run locally: the real action code against an in-process fake GitHub,
//! printing what a workflow step would see (masking, outputs, summary, then the post step's revocation).
//!
//! `cargo run --example demo`

// The tests' harness, of which this uses a part.
#[allow(dead_code, unused_imports)]
#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::sync::Arc;

use app_token::action::runner::{FileCommands, Runner};
use app_token::github::Settings;
use common::*;
use serde_json::json;

fn main() -> anyhow::Result<()> {
    let gh = FakeGitHub::start();
    let permissions = json!({"contents": "write", "pull_requests": "read"});
    gh.flow(
        "acme",
        &["site", "docs"],
        &[],
        &[(101, "site"), (102, "docs")],
        Some(permissions),
    );

    let dir = tempfile::tempdir()?;
    let files = FileCommands {
        output: Some(dir.path().join("output")),
        state: Some(dir.path().join("state")),
        summary: Some(dir.path().join("summary.md")),
        ..FileCommands::default()
    };
    let mut env: HashMap<String, String> = HashMap::new();
    for (k, v) in [
        ("INPUT_APP-ID", APP_ID),
        ("INPUT_PRIVATE-KEY", KEY_PKCS1),
        ("INPUT_REPOSITORIES", "site, docs"),
        ("INPUT_PERMISSIONS", "contents: write\npull-requests: read"),
        ("INPUT_SKIP-TOKEN-REVOKE", "false"),
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_REPOSITORY", "acme/site"),
        ("GITHUB_REPOSITORY_OWNER", "acme"),
    ] {
        env.insert(k.to_string(), v.to_string());
    }
    env.insert("INPUT_GITHUB-API-URL".into(), gh.url());
    let lookup = |k: &str| env.get(k).cloned();

    println!("== The workflow step ==");
    println!("  - uses: app-token@v1");
    println!("    with: {{ app-id: {APP_ID}, private-key: <secret>, repositories: site, docs,");
    println!("            permissions: 'contents: write / pull-requests: read' }}");
    println!("    (GitHub is faked on {})\n", gh.url());
    println!("== Main step: what the runner reads on stdout ==");
    let rt = app_token::runtime()?;
    let runner = Arc::new(Runner::new(std::io::stdout(), files.clone(), false));
    let code = rt.block_on(app_token::action::main::run(
        Arc::clone(&runner),
        &lookup,
        Settings::default(),
        app_token::cancel::never(),
    ));
    println!("(exit code {code})\n");

    println!("== Outputs (GITHUB_OUTPUT), as later steps see them ==");
    let outputs = file_commands(files.output.as_deref().unwrap_or(dir.path()));
    let secret = outputs.get("token").cloned().unwrap_or_default();
    for (name, value) in &outputs {
        // In the job log the runner prints *** wherever a masked value appears.
        let shown = if secret.is_empty() {
            value.clone()
        } else {
            value.replace(&secret, "***")
        };
        println!("  steps.<id>.outputs.{name} = {shown}");
    }
    println!("\n== Job summary (GITHUB_STEP_SUMMARY) ==");
    print!(
        "{}",
        std::fs::read_to_string(dir.path().join("summary.md")).unwrap_or_default()
    );

    println!("== Post step (at the end of the job, with STATE_* from GITHUB_STATE) ==");
    for (k, v) in file_commands(files.state.as_deref().unwrap_or(dir.path())) {
        env.insert(format!("STATE_{k}"), v);
    }
    let lookup = |k: &str| env.get(k).cloned();
    let code = rt.block_on(app_token::action::post::run(
        Arc::clone(&runner),
        &lookup,
        Settings::default(),
        app_token::cancel::no_signals(),
    ));
    println!("(exit code {code})");
    Ok(())
}
