//! What signing with GCP Cloud KMS costs: the main step with the key in memory, with
//! workload identity federation (the runner's OIDC token, STS, then `asymmetricSign`),
//! and with a service account impersonated too (`generateAccessToken` before
//! `asymmetricSign`), against the fake GitHub and the GCP stand-in on 127.0.0.1. A
//! measurement, not a test.
//!
//! ```text
//! cargo build --release --bins && cargo run --release --example bench_gcp
//! ```
//!
//! Runs per row: the first argument, or `BENCH_RUNS`, or 9. Markdown on stdout.

// The tests' harness, of which this uses a part.
#[allow(dead_code, unused_imports)]
#[path = "../tests/common/mod.rs"]
mod common;

use common::measure::*;
use common::*;

const COMMAND: &str = "cargo build --release --bins && cargo run --release --example bench_gcp";

fn main() {
    let runs = runs_wanted(9, 3);
    let bin = binary_beside_me(COMMAND);
    let direct = GcpStandIn::start(GcpExpect {
        service_account: None,
        ..GcpExpect::default()
    });
    let impersonating = GcpStandIn::start(GcpExpect::default());
    let gh = FakeGitHub::start();
    gh.flow("acme", &[], &[101], &[(101, "site")], None);

    let env = |gcp: &GcpStandIn| {
        let mut env = vec![
            ("ACTIONS_ID_TOKEN_REQUEST_URL".to_string(), gcp.oidc_url()),
            (
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN".to_string(),
                GCP_REQUEST_TOKEN.to_string(),
            ),
        ];
        env.extend(gcp.overrides());
        env
    };
    let ids = [("repositories", "101")];
    let federated = [
        ("repositories", "101"),
        ("private-key", ""),
        ("gcp-kms-key", GCP_KEY_VERSION),
        ("gcp-workload-identity-provider", GCP_PROVIDER),
    ];
    let mut with_account = federated.to_vec();
    with_account.push(("gcp-service-account", GCP_SERVICE_ACCOUNT));

    eprintln!("bench_gcp: {runs} runs per row");
    let base = measure_main(&bin, &gh, &ids, &[], runs);
    let direct_ms = measure_main(&bin, &gh, &federated, &env(&direct), runs);
    let account_ms = measure_main(&bin, &gh, &with_account, &env(&impersonating), runs);

    println!("# Signing with GCP Cloud KMS: what the extra round trips cost\n");
    println!("`{COMMAND}`, {runs} runs per row, medians. The main step with 3 repository ids against the fake GitHub on 127.0.0.1; GCP is the stand-in of tests/common/gcp.rs on 127.0.0.1.\n");
    print_key_table_head(base);
    println!(
        "| `gcp-kms-key` + `gcp-workload-identity-provider` | OIDC token, STS token exchange, KMS `asymmetricSign` | {:.1} ms | +{:.1} ms |",
        ms(direct_ms),
        ms(direct_ms.saturating_sub(base))
    );
    println!(
        "| … + `gcp-service-account` | OIDC token, STS, IAM `generateAccessToken`, KMS `asymmetricSign` | {:.1} ms | +{:.1} ms |",
        ms(account_ms),
        ms(account_ms.saturating_sub(base))
    );
    println!("\nThe JWT is signed once per step, so these are paid once. Against Google each is a round trip to a global endpoint; the stand-in answers on loopback, so these figures are the step's own cost of the extra calls, not Google's latency.");
}
