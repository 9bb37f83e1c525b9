//! Secrets on the wire, and what a server can make us do, against stand-ins on 127.0.0.1:
//! a loopback destination is never proxied (the CLI, the action, any user of the
//! transport); an `https://` proxy is spoken to in TLS and its certificate verified; a
//! `socks*://` or unknown proxy is refused before any request; `exec`'s command gets no
//! credential that can sign as the app; a body is read up to 4 MiB and a listing up to
//! 100 pages.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::*;
use app_token::github::{self, Client, Credential, Settings};
use app_token::jwt::Signer;
use app_token::mint;
use app_token::sign::pem::PemKey;
use app_token::transport::{self, Options, Proxy, Transport};
use base64::Engine as _;
use bytes::Bytes;
use httpmock::prelude::*;
use serde_json::{json, Value};

/// The CA httpmock signs its https certificates with (the fake GitHub's, for any name).
const HTTPMOCK_CA: &str = include_str!("fixtures/httpmock-ca.pem");
/// The most of a body that is read (`transport::MAX_BODY`).
const CAP: usize = 4 * 1024 * 1024;

/// The command line with the test's PATH (for `exec`'s command) and the key in the environment.
fn cli(args: &[&str]) -> Cli {
    Cli::new(args).path().key_env()
}

/// Minting a token for `acme/site` from the API at `api`.
fn mint_site(api: &str) -> Cli {
    cli(&[]).app(api).args(&["--repositories", "acme/site"])
}

fn site(gh: &FakeGitHub) -> Flow<'_> {
    gh.flow("acme", &["site"], &[], &[(11, "site")], None)
}

/// A port on 127.0.0.1 that counts the connections made to it and answers none.
fn listener_counting() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&count);
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            seen.fetch_add(1, Ordering::SeqCst);
            drop(conn);
        }
    });
    (addr, count)
}

// ---- 7. Loopback is never proxied ----

#[test]
fn the_cli_never_sends_loopback_traffic_through_a_proxy() {
    let gh = FakeGitHub::start();
    let flow = site(&gh);
    let proxy = ConnectProxy::start(Duration::ZERO);
    let localhost = format!("http://localhost:{}", gh.server.port());
    for url in [gh.url(), localhost] {
        let ran = mint_site(&url)
            .envs(&[
                ("HTTP_PROXY", &proxy.url),
                ("HTTPS_PROXY", &proxy.url),
                ("ALL_PROXY", &proxy.url),
            ])
            .run();
        assert_eq!(ran.code, 0, "{url}: {}", ran.stderr);
        assert_eq!(ran.stdout, format!("{FINAL_TOKEN}\n"));
    }
    assert_eq!(proxy.targets(), Vec::<String>::new(), "{:?}", proxy.heads());
    flow.final_token.assert_calls(2);
}

#[test]
fn the_action_never_sends_loopback_traffic_through_a_proxy() {
    let gh = FakeGitHub::start();
    let flow = site(&gh);
    let proxy = ConnectProxy::start(Duration::ZERO);
    let step = Step::new();
    let mut env = step.env(&gh.url(), &[("repositories", "site")]);
    env.push(("HTTP_PROXY".into(), proxy.url.clone()));
    env.push(("https_proxy".into(), proxy.url.clone()));
    let ran = run_binary(Path::new(BIN), &[], &env, "");
    assert_eq!(ran.code, 0, "{}", ran.stdout);
    assert_eq!(
        step.outputs().get("token").map(String::as_str),
        Some(FINAL_TOKEN)
    );
    assert_eq!(proxy.targets(), Vec::<String>::new());
    flow.final_token.assert_calls(1);
}

/// AWS's client (KMS, STS) is built on the same transport: what holds for it holds for them.
#[test]
fn the_transport_reaches_a_loopback_endpoint_directly_whatever_the_proxy() {
    let server = MockServer::start();
    let kms = server.mock(|when, then| {
        when.method(POST).path("/");
        then.status(200).body("{}");
    });
    let proxy = ConnectProxy::start(Duration::ZERO);
    let rt = app_token::runtime().unwrap();
    let transport = Transport::new(&Options {
        connect_timeout: Duration::from_secs(2),
        proxy: Proxy {
            http: Some(proxy.url.clone()),
            https: Some(proxy.url.clone()),
            no_proxy: None,
        },
        tls_roots: false,
    })
    .unwrap();
    let client = rt.block_on(async { transport.client::<http_body_util::Full<Bytes>>() });
    let request = http::Request::post(format!("http://127.0.0.1:{}/", server.port()))
        .body(http_body_util::Full::new(Bytes::from_static(b"{}")))
        .unwrap();
    let answer = rt
        .block_on(transport::exchange(
            client.request(request),
            Duration::from_secs(5),
        ))
        .unwrap();
    assert_eq!(answer.status, 200);
    kms.assert_calls(1);
    assert_eq!(proxy.targets(), Vec::<String>::new());
}

// ---- 8. An https:// proxy is spoken to in TLS; socks and others are refused ----

/// A CA made for the test, and a certificate it signs for 127.0.0.1 (the proxy's).
struct ProxyCa {
    ca_pem: String,
    server: Arc<rustls::ServerConfig>,
}

fn proxy_ca() -> ProxyCa {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "app-token test proxy CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.subject_alt_names = vec![rcgen::SanType::IpAddress("127.0.0.1".parse().unwrap())];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params.signed_by(&key, &issuer).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
        )
        .unwrap();
    ProxyCa {
        ca_pem: ca_cert.pem(),
        server: Arc::new(server),
    }
}

/// An `https://` proxy: TLS on 127.0.0.1 with `ca`'s certificate, in front of a
/// [`ConnectProxy`] that sees (and records) only what arrives inside the TLS session.
/// Gives its address and the proxy behind it.
fn tls_proxy(ca: &ProxyCa) -> (String, ConnectProxy) {
    let inner = ConnectProxy::start(Duration::ZERO);
    let inner_addr = inner.url.trim_start_matches("http://").to_string();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::clone(&ca.server));
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, inner_addr) = (acceptor.clone(), inner_addr.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let Ok(mut up) = tokio::net::TcpStream::connect(&inner_addr).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
                });
            }
        });
    });
    (addr, inner)
}

/// A PEM bundle in a file that lives as long as the returned directory.
fn bundle(pems: &[&str]) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("roots.pem");
    std::fs::write(&path, pems.join("\n")).unwrap();
    let path = path.display().to_string();
    (dir, path)
}

#[test]
fn an_https_proxy_is_spoken_to_in_tls_with_the_credentials_inside() {
    let gh = FakeGitHub::start();
    let flow = site(&gh);
    let ca = proxy_ca();
    let (addr, behind) = tls_proxy(&ca);
    let (_dir, roots) = bundle(&[HTTPMOCK_CA, &ca.ca_pem]);
    // GitHub by a name only the proxy resolves: the request has to cross it.
    let named = format!("github.example:{}", gh.server.port());
    let api = format!("https://{named}");
    let proxy = format!("https://proxy-user:pr0xy%20pass@{addr}");
    let ran = mint_site(&api)
        .envs(&[("HTTPS_PROXY", &proxy), ("SSL_CERT_FILE", &roots)])
        .run();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(ran.stdout, format!("{FINAL_TOKEN}\n"));
    flow.final_token.assert_calls(1);
    let heads = behind.heads();
    assert!(!heads.is_empty());
    let basic = base64::engine::general_purpose::STANDARD.encode("proxy-user:pr0xy pass");
    for head in &heads {
        assert!(head.starts_with(&format!("CONNECT {named} ")), "{head}");
        assert!(
            head.to_ascii_lowercase().contains(&format!(
                "proxy-authorization: basic {}",
                basic.to_ascii_lowercase()
            )),
            "the credentials travel inside the TLS session: {head}"
        );
    }
}

#[test]
fn an_https_proxy_whose_certificate_the_roots_do_not_vouch_for_gets_nothing() {
    let gh = FakeGitHub::start();
    let flow = site(&gh);
    let ca = proxy_ca();
    let (addr, behind) = tls_proxy(&ca);
    // The roots vouch for GitHub's certificate, not the proxy's.
    let (_dir, roots) = bundle(&[HTTPMOCK_CA]);
    let api = format!("https://github.example:{}", gh.server.port());
    let proxy = format!("https://proxy-user:s3cret@{addr}");
    let ran = mint_site(&api)
        .envs(&[("HTTPS_PROXY", &proxy), ("SSL_CERT_FILE", &roots)])
        .run();
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    assert!(ran.stderr.contains("certificate"), "{}", ran.stderr);
    assert!(!ran.stderr.contains("s3cret"), "{}", ran.stderr);
    assert_eq!(behind.heads(), Vec::<String>::new());
    flow.lookup.assert_calls(0);
}

#[test]
fn socks_and_unknown_proxy_schemes_are_refused_before_any_request() {
    let gh = FakeGitHub::start();
    let any = gh.catch_all();
    let (addr, connections) = listener_counting();
    let url = gh.https_url();
    for (variable, proxy, says) in [
        (
            "HTTPS_PROXY",
            format!("socks5://user:s3cret@{addr}"),
            "SOCKS",
        ),
        ("all_proxy", format!("socks5h://{addr}"), "SOCKS"),
        ("https_proxy", format!("ftp://{addr}"), "ftp://"),
    ] {
        let ran = mint_site(&url).envs(&[(variable, &proxy)]).run();
        assert_eq!(ran.code, 2, "{variable}={proxy}: {}", ran.stderr);
        assert!(ran.stderr.contains(variable), "{}", ran.stderr);
        assert!(ran.stderr.contains(says), "{}", ran.stderr);
        assert!(!ran.stderr.contains("s3cret"), "{}", ran.stderr);
    }
    assert_eq!(connections.load(Ordering::SeqCst), 0);
    any.assert_calls(0);
}

#[test]
fn the_action_refuses_a_socks_proxy_with_an_error_naming_it_before_any_request() {
    let gh = FakeGitHub::start();
    let any = gh.catch_all();
    let (addr, connections) = listener_counting();
    let step = Step::new();
    let mut env = step.env(&gh.https_url(), &[("repositories", "site")]);
    env.push((
        "HTTPS_PROXY".into(),
        format!("socks5h://user:s3cret@{addr}"),
    ));
    let ran = run_binary(Path::new(BIN), &[], &env, "");
    assert_eq!(ran.code, 1, "{}", ran.stdout);
    let error = ran.line("::error");
    assert!(error.contains("HTTPS_PROXY"), "{error}");
    assert!(error.contains("SOCKS"), "{error}");
    assert!(!ran.stdout.contains("s3cret"), "{}", ran.stdout);
    assert_eq!(connections.load(Ordering::SeqCst), 0);
    any.assert_calls(0);
}

// ---- 9. exec's command cannot sign ----

#[test]
fn execs_command_gets_the_token_and_nothing_that_can_sign_as_the_app() {
    let gh = FakeGitHub::start();
    let flow = site(&gh);
    let url = gh.url();
    let withheld = [
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI"),
        ("AWS_SESSION_TOKEN", "FwoGZXIvYXdzE"),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/token"),
        ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/signer"),
        (
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "http://169.254.170.23/v1/credentials",
        ),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "eyJoidc"),
        (
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            "https://token.actions.example/",
        ),
        ("GOOGLE_APPLICATION_CREDENTIALS", "/tmp/gcp.json"),
        ("AZURE_CLIENT_SECRET", "azure-secret"),
        ("AZURE_FEDERATED_TOKEN_FILE", "/var/run/azure"),
        ("VAULT_TOKEN", "hvs.example"),
    ];
    let mut env: Vec<(&str, &str)> = withheld.to_vec();
    env.push(("AWS_REGION", "eu-west-1"));
    let ran = cli(&["exec"])
        .app(&url)
        .args(&["--repositories", "acme/site", "--", "env"])
        .envs(&env)
        .run();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let seen: Vec<&str> = ran.stdout.lines().collect();
    assert!(
        seen.contains(&format!("GH_TOKEN={FINAL_TOKEN}").as_str()),
        "{seen:?}"
    );
    assert!(
        seen.contains(&"AWS_REGION=eu-west-1"),
        "the rest is kept: {seen:?}"
    );
    for (name, _) in withheld.iter().chain([&("APP_TOKEN_PRIVATE_KEY", "")]) {
        assert!(
            !seen.iter().any(|l| l.starts_with(&format!("{name}="))),
            "{name} reached the command"
        );
    }
    flow.revoke_final.assert_calls(1);
}

#[test]
fn execs_help_says_what_is_withheld_and_that_a_key_file_stays_readable() {
    let ran = cli(&["exec", "--help"]).run();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let help = ran.stdout.replace('\n', " ");
    for part in [
        "AWS_SECRET_ACCESS_KEY",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "--private-key-file included",
    ] {
        assert!(help.contains(part), "no {part:?} in: {help}");
    }
}

// ---- 13. Bodies and listings are bounded ----

#[test]
fn an_answer_over_4_mib_fails_clearly_and_is_not_asked_again() {
    let gh = FakeGitHub::start();
    let mut padded = installation_json(INSTALLATION, "acme", &installation_permissions());
    padded["padding"] = json!("x".repeat(CAP + 1024));
    let big = gh.server.mock(|when, then| {
        when.method(GET).path("/repos/acme/site/installation");
        then.status(200).github_json(padded);
    });
    let flow = site(&gh);
    let ran = mint_site(&gh.url()).run();
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    assert!(ran.stderr.contains("larger than 4 MiB"), "{}", ran.stderr);
    big.assert_calls(1);
    flow.final_token.assert_calls(0);
}

/// Answers one request with a chunked body of `total` bytes (no length said up front),
/// counting what it managed to write before the client hung up.
fn streaming_server(total: usize) -> (String, Arc<AtomicUsize>, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let written = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&written);
    let serving = std::thread::spawn(move || {
        let Ok((conn, _)) = listener.accept() else {
            return;
        };
        let mut reader = BufReader::new(conn.try_clone().unwrap());
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap_or(0) > 2 {
            line.clear();
        }
        let mut conn = conn;
        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
        if conn.write_all(head.as_bytes()).is_err() {
            return;
        }
        let chunk = vec![b' '; 64 * 1024];
        let mut sent = 0;
        while sent < total {
            let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
            if conn.write_all(&framed).is_err() {
                return;
            }
            sent += chunk.len();
            count.store(sent, Ordering::SeqCst);
        }
        let _ = conn.write_all(b"0\r\n\r\n");
        let mut rest = Vec::new();
        let _ = conn.read_to_end(&mut rest);
    });
    (url, written, serving)
}

#[test]
fn a_64_mib_stream_is_cut_off_at_the_cap_not_read_whole() {
    let total = 64 * 1024 * 1024;
    let (url, written, serving) = streaming_server(total);
    let rt = app_token::runtime().unwrap();
    let transport = Transport::new(&Options {
        connect_timeout: Duration::from_secs(2),
        proxy: Proxy::default(),
        tls_roots: false,
    })
    .unwrap();
    let client = rt.block_on(async { transport.client::<http_body_util::Full<Bytes>>() });
    let request = http::Request::get(&url)
        .body(http_body_util::Full::new(Bytes::new()))
        .unwrap();
    let started = Instant::now();
    let result = rt.block_on(transport::exchange(
        client.request(request),
        Duration::from_secs(20),
    ));
    let failed = result.expect_err("a body past the cap is an error");
    assert!(
        failed.message.contains("larger than 4 MiB"),
        "{}",
        failed.message
    );
    assert!(failed.permanent, "asking again would only read it again");
    drop(client);
    drop(rt);
    serving.join().unwrap();
    let sent = written.load(Ordering::SeqCst);
    assert!(
        sent < total / 4,
        "{sent} bytes were sent before the client hung up"
    );
    eprintln!(
        "cut off after {:.1} MiB sent, in {} ms",
        sent as f64 / (1024.0 * 1024.0),
        started.elapsed().as_millis()
    );
}

/// A client on its own runtime, signing as the test app, whose deadline is `deadline`.
fn client_with_deadline(url: &str, deadline: Duration) -> (tokio::runtime::Runtime, Client) {
    let rt = app_token::runtime().unwrap();
    let signer = Arc::new(Signer::new(
        Box::new(PemKey::parse(KEY_PKCS8).unwrap()),
        APP_ID,
    ));
    let settings = Settings {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(2),
        max_attempts: 1,
        retry_budget: Duration::from_secs(1),
        backoff_base: Duration::from_millis(10),
        backoff_cap: Duration::from_millis(10),
        step_deadline: deadline,
    };
    let client = {
        let _guard = rt.enter();
        Client::new(
            url,
            Some(signer),
            &Proxy::default(),
            settings,
            mint::log_sink(|_| {}),
        )
        .unwrap()
    };
    (rt, client)
}

#[test]
fn a_repository_count_past_100_pages_is_refused_after_the_first() {
    let gh = FakeGitHub::start();
    let pages = gh.server.mock(|when, then| {
        when.method(GET).path("/installation/repositories");
        then.status(200)
            .github_json(json!({"total_count": 100_000_000, "repositories": []}));
    });
    let (rt, client) = client_with_deadline(&gh.url(), Duration::from_secs(3));
    let token = Credential::new("ghs_listingToken");
    let err = rt
        .block_on(github::installation_repositories(&client, &token))
        .expect_err("a count past the bound");
    let err = format!("{err:#}");
    assert!(err.contains("100000000") && err.contains("10000"), "{err}");
    pages.assert_calls(1);
}

#[test]
fn the_installations_listing_stops_after_100_full_pages() {
    let gh = FakeGitHub::start();
    let full: Vec<Value> = (1..=100)
        .map(|n| installation_json(n, &format!("org{n}"), &json!({"metadata": "read"})))
        .collect();
    let pages = gh.server.mock(|when, then| {
        when.method(GET).path("/app/installations");
        then.status(200).github_json(Value::Array(full));
    });
    let (rt, client) = client_with_deadline(&gh.url(), Duration::from_secs(20));
    let started = Instant::now();
    let err = rt
        .block_on(github::app_installations(&client))
        .expect_err("a listing that never ends");
    assert!(format!("{err:#}").contains("more than 10000"), "{err:#}");
    pages.assert_calls(100);
    eprintln!("100 pages in {} ms", started.elapsed().as_millis());
}
