//! What keyless signing costs: the main step with the key in memory, with the key in KMS
//! (one `Sign`), and with a role assumed first (the runner's OIDC token, STS, then
//! `Sign`), against the fake GitHub and moto on 127.0.0.1. A measurement, not a test.
//!
//! ```text
//! cargo build --release --bins && cargo run --release --example bench_kms
//! ```
//!
//! Needs moto (`bash .ci/moto` installs it and prints the path to put in
//! `APP_TOKEN_MOTO_SERVER`). Runs per row: the first argument, or `BENCH_RUNS`, or 9. Markdown on stdout.

// The tests' harness, of which this uses a part.
#[allow(dead_code, unused_imports)]
#[path = "../tests/common/mod.rs"]
mod common;

use common::measure::*;
use common::*;
use httpmock::prelude::*;
use serde_json::json;

const COMMAND: &str = "cargo build --release --bins && cargo run --release --example bench_kms";
const ROLE: &str = "arn:aws:iam::123456789012:role/github-app-signer";

fn main() {
    let runs = runs_wanted(9, 3);
    let bin = binary_beside_me(COMMAND);
    let moto = Moto::start().unwrap_or_else(|| {
        abort("moto_server is not installed: run `bash .ci/moto` and set APP_TOKEN_MOTO_SERVER")
    });
    let (key_id, public_key) = moto.signing_key(Some("alias/bench"));

    let pem = FakeGitHub::start();
    pem.flow("acme", &[], &[101], &[(101, "site")], None);
    let kms = FakeGitHub::verifying_with(&public_key);
    kms.flow("acme", &[], &[101], &[(101, "site")], None);
    let runner_service = MockServer::start();
    runner_service.mock(|when, then| {
        when.method(GET).path("/token");
        then.status(200)
            .github_json(json!({"value": "header.payload.signature"}));
    });

    let ids = [("repositories", "101")];
    let kms_inputs = [
        ("repositories", "101"),
        ("private-key", ""),
        ("aws-kms-key-id", key_id.as_str()),
    ];
    let role_inputs = [
        ("repositories", "101"),
        ("private-key", ""),
        ("aws-kms-key-id", key_id.as_str()),
        ("aws-role-to-assume", ROLE),
    ];
    let aws = vec![
        ("AWS_REGION".to_string(), AWS_REGION.to_string()),
        ("AWS_ENDPOINT_URL".to_string(), moto.url.clone()),
    ];
    let mut with_keys = aws.clone();
    with_keys.push(("AWS_ACCESS_KEY_ID".into(), AWS_ACCESS_KEY_ID.into()));
    with_keys.push(("AWS_SECRET_ACCESS_KEY".into(), AWS_SECRET_ACCESS_KEY.into()));
    let mut with_oidc = aws;
    with_oidc.push((
        "ACTIONS_ID_TOKEN_REQUEST_URL".into(),
        format!("http://{}/token?api-version=2.0", runner_service.address()),
    ));
    with_oidc.push((
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN".into(),
        "request-token".into(),
    ));

    eprintln!("bench_kms: {runs} runs per row");
    let base = measure_main(&bin, &pem, &ids, &[], runs);
    let signed = measure_main(&bin, &kms, &kms_inputs, &with_keys, runs);
    let assumed = measure_main(&bin, &kms, &role_inputs, &with_oidc, runs);

    println!("# Keyless signing: what the extra round trips cost\n");
    println!("`{COMMAND}`, {runs} runs per row, medians. The main step with 3 repository ids against the fake GitHub on 127.0.0.1; AWS is moto on 127.0.0.1, the runner's OIDC endpoint an httpmock fake.\n");
    print_key_table_head(base);
    println!(
        "| `aws-kms-key-id`, credentials from the environment | KMS `Sign` | {:.1} ms | +{:.1} ms |",
        ms(signed),
        ms(signed.saturating_sub(base))
    );
    println!(
        "| `aws-kms-key-id` + `aws-role-to-assume` | OIDC token, STS `AssumeRoleWithWebIdentity`, KMS `Sign` | {:.1} ms | +{:.1} ms |",
        ms(assumed),
        ms(assumed.saturating_sub(base))
    );
    println!("\nThe JWT is signed once per step, so these are paid once, not per request. On AWS each is a round trip to a regional endpoint (a few to a few tens of milliseconds from a runner in the same region); moto answers from Python on loopback, so its figures are mostly its own processing time.");
}
