//! What signing in Azure Key Vault and Vault transit costs: the main step with the key in memory, then with each of their credential paths, against the fake GitHub and the Entra ID, Key Vault, Vault and runner OIDC stand-ins on 127.0.0.1. A measurement, not a test.
//!
//! ```text
//! cargo build --release --bins && cargo run --release --example bench_azure_vault
//! ```
//!
//! Runs per row: the first argument, or `BENCH_RUNS`, or 9. Markdown on stdout.

// The tests' harness, of which this uses a part.
#[allow(dead_code, unused_imports)]
#[path = "../tests/common/mod.rs"]
mod common;

use common::azure::*;
use common::measure::*;
use common::oidc::FakeOidc;
use common::vault::*;
use common::*;

const COMMAND: &str =
    "cargo build --release --bins && cargo run --release --example bench_azure_vault";

fn main() {
    let runs = runs_wanted(9, 3);
    let bin = binary_beside_me(COMMAND);
    let gh = FakeGitHub::start();
    gh.flow("acme", &[], &[101], &[(101, "site")], None);
    let azure = FakeAzure::start();
    let vault = FakeVault::start();
    let oidc = FakeOidc::start();

    let key_id = azure.key_id(AZURE_KEY_NAME, None);
    let vault_url = vault.url();
    let azure_inputs = [
        ("repositories", "101"),
        ("private-key", ""),
        ("azure-key-vault-key", key_id.as_str()),
        ("azure-client-id", AZURE_CLIENT_ID),
        ("azure-tenant-id", AZURE_TENANT),
    ];
    let vault_token_inputs = [
        ("repositories", "101"),
        ("private-key", ""),
        ("vault-transit-key", VAULT_KEY_NAME),
        ("vault-url", vault_url.as_str()),
    ];
    let vault_role_inputs = [
        ("repositories", "101"),
        ("private-key", ""),
        ("vault-transit-key", VAULT_KEY_NAME),
        ("vault-url", vault_url.as_str()),
        ("vault-role", VAULT_ROLE),
    ];
    let authority = (
        "AZURE_AUTHORITY_HOST".to_string(),
        format!("{}/", azure.url()),
    );
    let mut azure_oidc = oidc.env();
    azure_oidc.push(authority.clone());
    let azure_secret = vec![
        authority,
        ("AZURE_CLIENT_SECRET".into(), AZURE_CLIENT_SECRET.into()),
    ];
    let vault_token = vec![("VAULT_TOKEN".to_string(), VAULT_STATIC_TOKEN.to_string())];

    eprintln!("bench_azure_vault: {runs} runs per row");
    let base = measure_main(&bin, &gh, &[("repositories", "101")], &[], runs);
    let rows = [
        (
            "`azure-key-vault-key`, the job's OIDC token",
            "OIDC token, Entra token, Key Vault `sign`",
            measure_main(&bin, &gh, &azure_inputs, &azure_oidc, runs),
        ),
        (
            "`azure-key-vault-key`, `AZURE_CLIENT_SECRET`",
            "Entra token, Key Vault `sign`",
            measure_main(&bin, &gh, &azure_inputs, &azure_secret, runs),
        ),
        (
            "`vault-transit-key` + `vault-role`",
            "OIDC token, JWT login, transit `sign` (and `revoke-self` as the step ends)",
            measure_main(&bin, &gh, &vault_role_inputs, &oidc.env(), runs),
        ),
        (
            "`vault-transit-key`, `VAULT_TOKEN`",
            "transit `sign`",
            measure_main(&bin, &gh, &vault_token_inputs, &vault_token, runs),
        ),
    ];

    println!("# Azure Key Vault and Vault transit: what the extra round trips cost\n");
    println!("`{COMMAND}`, {runs} runs per row, medians. The main step with 1 repository id against the fake GitHub on 127.0.0.1; Entra ID, Key Vault, Vault and the runner's OIDC endpoint are the test stand-ins (httpmock, plain http) on 127.0.0.1.\n");
    print_key_table_head(base);
    for (key, trips, wall) in rows {
        println!(
            "| {key} | {trips} | {:.1} ms | +{:.1} ms |",
            ms(wall),
            ms(wall.saturating_sub(base))
        );
    }
    println!("\nThe JWT is signed once per step, so these are paid once, not per request. The stand-ins answer at once on loopback, so the figures are the step's own cost of each round trip (a connection, a request, an RSA signature); on Azure or a real Vault add each endpoint's network latency.");
}
