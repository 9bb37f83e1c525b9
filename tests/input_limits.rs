//! No input costs more than a moment: every input the action declares, given text that is hostile to its parser (nesting, repetition, sheer length, up to the 128 KiB an environment variable can hold), is accepted or refused within a time bound, and the limits' errors say the limit. And no input floods the log: every input and every flag, far longer than a real one, is refused by name in a short error, before any request.

use std::time::{Duration, Instant};

use crate::common::*;
use app_token::action::inputs;

/// The bound the issue sets, for a release build: 100 ms.
///
/// This is a debug build, several times slower than the release, on a shared machine;
/// each case's time is the least of three runs, so that another process's burst does
/// not count. Measured here (`cargo test --test integration input_limits:: -- --nocapture`): the
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

/// What an error line may take at most, for any input however long: GitHub shows it as
/// an annotation, and a log keeps it.
const SHORT: usize = 1000;

/// Where the key services are asked in these steps: one server for all of them (the
/// runner's OIDC endpoint at `/oidc`, which answers a token; everything else refused),
/// so that a step that goes past its inputs reaches the code that quotes them, and so
/// that a step that does not can be seen to send nothing.
struct Services {
    server: httpmock::MockServer,
    /// The ids of its mocks, to count what was asked.
    mocks: Vec<usize>,
}

impl Services {
    fn start() -> Self {
        let server = httpmock::MockServer::start();
        let oidc = server.mock(|when, then| {
            when.path("/oidc");
            then.status(200)
                .header("content-type", "application/json")
                .body(r#"{"value":"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"}"#);
        });
        let rest = server.mock(|_, then| {
            then.status(400)
                .header("content-type", "application/json")
                .body("{}");
        });
        let mocks = vec![oidc.id(), rest.id()];
        Self { server, mocks }
    }

    fn url(&self) -> String {
        format!("http://{}", self.server.address())
    }

    /// The job's OIDC endpoint, AWS's credentials and every service's endpoint, here.
    fn env(&self) -> Vec<(String, String)> {
        let url = self.url();
        [
            (
                "ACTIONS_ID_TOKEN_REQUEST_URL",
                format!("{url}/oidc?api-version=2.0"),
            ),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "request-token".into()),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE".into()),
            ("AWS_SECRET_ACCESS_KEY", "secret".into()),
            ("AWS_ENDPOINT_URL", url.clone()),
            ("CLOUDSDK_API_ENDPOINT_OVERRIDES_STS", url.clone()),
            (
                "CLOUDSDK_API_ENDPOINT_OVERRIDES_IAMCREDENTIALS",
                url.clone(),
            ),
            ("CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDKMS", url.clone()),
            ("AZURE_AUTHORITY_HOST", url),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// The settings (input names) that make a step of `name`'s key service go as far as
    /// it can, with a good value each: the key, and what it needs beside it.
    fn settings(&self, name: &str) -> Vec<(&'static str, String)> {
        let service = name.split('-').next().unwrap_or_default();
        let settings: &[(&'static str, &str)] = match service {
            "aws" => &[("aws-kms-key-id", "alias/app"), ("aws-region", "eu-west-1")],
            "gcp" => &[
                (
                    "gcp-kms-key",
                    "projects/p/locations/global/keyRings/r/cryptoKeys/app/cryptoKeyVersions/1",
                ),
                (
                    "gcp-workload-identity-provider",
                    "projects/1/locations/global/workloadIdentityPools/github/providers/acme",
                ),
            ],
            "azure" => &[
                (
                    "azure-key-vault-key",
                    "https://acme.vault.azure.net/keys/app",
                ),
                ("azure-client-id", "00000000-1111-2222-3333-444444444444"),
                ("azure-tenant-id", "contoso.onmicrosoft.com"),
            ],
            "vault" => &[
                ("vault-transit-key", "app"),
                ("vault-url", ""),
                ("vault-role", "github-app"),
            ],
            _ => &[],
        };
        settings
            .iter()
            .map(|(k, v)| match *k {
                "vault-url" => (*k, self.url()),
                _ => (*k, v.to_string()),
            })
            .collect()
    }

    fn asked(&self) -> usize {
        self.mocks
            .iter()
            .map(|id| httpmock::Mock::new(*id, &self.server).calls())
            .sum()
    }
}

/// A value of `name` far longer than any real one, but of its shape where a shape gets
/// it further (digits for an id, a URL, a key version, an email).
fn oversized(name: &str) -> String {
    let long = "a".repeat(20_000);
    match name {
        "app-id" | "installation-id" => "9".repeat(20_000),
        "private-key" => "a".repeat(70_000),
        "github-api-url" | "vault-url" => format!("https://{long}"),
        "gcp-kms-key" => format!(
            "projects/{long}/locations/global/keyRings/r/cryptoKeys/app/cryptoKeyVersions/1"
        ),
        "gcp-service-account" => format!("{long}@p.iam.gserviceaccount.com"),
        "azure-key-vault-key" => format!("https://{long}.vault.azure.net/keys/app"),
        _ => long,
    }
}

/// The step's `::error` lines.
fn error_lines(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .filter(|l| l.starts_with("::error"))
        .collect()
}

#[test]
fn every_input_too_long_is_refused_by_name_in_a_short_error_before_any_request() {
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_app-token"));
    let gh = FakeGitHub::start();
    let github = gh.catch_all();
    let services = Services::start();
    let mut faults = Vec::new();
    for name in inputs::all_inputs() {
        let value = oversized(&name);
        let mut given: Vec<(&str, String)> = services.settings(&name);
        if !given.is_empty() {
            given.push(("private-key", String::new()));
        }
        given.retain(|(k, _)| *k != name);
        given.push((name.as_str(), value));
        let pairs: Vec<(&str, &str)> = given.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let step = Step::new();
        let mut env = step.env(&gh.url(), &pairs);
        env.extend(services.env());
        let ran = run_binary(bin, &[], &env, "");
        let errors = error_lines(&ran.stdout);
        let named = format!("input `{name}`");
        let fault = match errors.as_slice() {
            _ if ran.code != 1 => format!("exit {}", ran.code),
            [one] if one.len() >= SHORT => format!("a {}-character error", one.len()),
            [one] if !one.contains(&named) => format!("an error that does not name it: {one}"),
            [_] => continue,
            _ => format!("{} error lines", errors.len()),
        };
        faults.push(format!("{name}: {fault}"));
    }
    assert!(faults.is_empty(), "{faults:#?}");
    github.assert_calls(0);
    assert_eq!(services.asked(), 0, "a key service was asked");
}

/// The command line's flags, as its help lists them (each but `--json`, `--help` and
/// `--version` takes a value).
fn cli_flags(bin: &std::path::Path) -> Vec<String> {
    let help = run_binary(bin, &["--help"], &[], "");
    let flags: std::collections::BTreeSet<String> = help
        .stdout
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("--"))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|f| !matches!(*f, "json" | "help" | "version"))
        .map(str::to_string)
        .collect();
    flags.into_iter().collect()
}

#[test]
fn every_flag_too_long_is_refused_by_name_in_a_short_error_before_any_request() {
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_app-token"));
    let gh = FakeGitHub::start();
    let github = gh.catch_all();
    let services = Services::start();
    let flags = cli_flags(bin);
    assert!(flags.len() >= 20, "{flags:?}");
    let mut faults = Vec::new();
    for flag in &flags {
        // The flags take the inputs' names, but for these two.
        let input = match flag.as_str() {
            "api-url" => "github-api-url",
            "private-key-file" => "private-key-file",
            other => other,
        };
        let value = match input {
            "private-key-file" => format!("/tmp/{}", "a".repeat(5_000)),
            other => oversized(other),
        };
        let mut args: Vec<String> = Vec::new();
        let settings = services.settings(input);
        let mut env = services.env();
        if settings.is_empty() {
            env.push(("APP_TOKEN_PRIVATE_KEY".into(), KEY_PKCS1.into()));
        }
        for (k, v) in settings.iter().filter(|(k, _)| *k != input) {
            args.extend([format!("--{k}"), v.clone()]);
        }
        if flag != "app-id" {
            args.extend(["--app-id".into(), APP_ID.into()]);
        }
        if !matches!(flag.as_str(), "owner" | "enterprise" | "repositories") {
            args.extend(["--owner".into(), "acme".into()]);
        }
        if flag != "api-url" {
            args.extend(["--api-url".into(), gh.url()]);
        }
        args.extend([format!("--{flag}"), value]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let ran = run_binary(bin, &args, &env, "");
        let error = ran.stderr.trim_end();
        let fault = if ran.code != 2 {
            format!("exit {}: {}", ran.code, &error[..error.len().min(300)])
        } else if error.len() >= SHORT {
            format!("a {}-character error", error.len())
        } else if !error.contains(&format!("--{flag}")) {
            format!("an error that does not name it: {error}")
        } else {
            continue;
        };
        faults.push(format!("--{flag}: {fault}"));
    }
    assert!(faults.is_empty(), "{faults:#?}");
    github.assert_calls(0);
    assert_eq!(services.asked(), 0, "a key service was asked");
}
