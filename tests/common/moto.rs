//! A real AWS stand-in on 127.0.0.1: moto's server (KMS and STS), started by the tests that need it and stopped when they end.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use app_token::sign::aws::{sigv4, Credentials};
use app_token::sign::rest::{Call, RestClient};
use app_token::transport::Proxy;
use base64::Engine as _;
use bytes::Bytes;
use serde_json::{json, Value};

/// Credentials moto accepts (it checks none).
pub const AWS_ACCESS_KEY_ID: &str = "AKIAMOTOTESTKEY00001";
pub const AWS_SECRET_ACCESS_KEY: &str = "motoSecretKeyThatMustNeverBePrinted0001";
pub const AWS_REGION: &str = "eu-west-1";

/// moto's server: `APP_TOKEN_MOTO_SERVER`, else `moto_server` on the PATH.
pub fn moto_server() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("APP_TOKEN_MOTO_SERVER") {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("moto_server"))
            .find(|p| p.is_file())
    })
}

/// A running moto server; stopped when dropped.
pub struct Moto {
    child: Child,
    pub url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    /// Starts moto on a free port of 127.0.0.1 and waits for it to answer; `None` when
    /// moto is not installed (the caller says it did not check).
    pub fn start() -> Option<Self> {
        let server = moto_server()?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut command = Command::new(server);
        command.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
        // If this test process dies without dropping the server, the server dies too.
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::process::CommandExt as _;
            // SAFETY: prctl is async-signal-safe and touches nothing of the parent.
            unsafe {
                command.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts");
        let moto = Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "moto did not start within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(moto)
    }

    /// A KMS JSON call (`TrentService.<action>`), signed as the AWS SDKs sign it.
    fn kms(&self, action: &str, body: Value) -> Value {
        let rt = app_token::runtime().expect("a runtime");
        rt.block_on(async {
            let client =
                RestClient::new(&Proxy::default(), Duration::from_secs(5)).expect("a client");
            let credentials = Credentials::new(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, None);
            let signed = |request: &mut http::Request<Bytes>| {
                sigv4::sign_v4(request, &credentials, AWS_REGION, "kms")
            };
            let call = Call {
                name: "moto KMS",
                method: http::Method::POST,
                url: format!("{}/", self.url),
                headers: vec![
                    ("content-type", "application/x-amz-json-1.1".into()),
                    ("x-amz-target", format!("TrentService.{action}")),
                ],
                body: Bytes::from(body.to_string()),
                prepare: Some(&signed),
            };
            let answer = client
                .send(&call, &sigv4::DIALECT)
                .await
                .expect("moto answers");
            serde_json::from_slice(&answer.body).expect("moto's JSON")
        })
    }

    /// A new RSA_2048 signing key, with `alias` when given; gives its id and its public
    /// key as PEM (what the fake GitHub verifies the app's JWTs with).
    pub fn signing_key(&self, alias: Option<&str>) -> (String, String) {
        let created = self.kms(
            "CreateKey",
            json!({"KeySpec": "RSA_2048", "KeyUsage": "SIGN_VERIFY", "Description": "app-token test"}),
        );
        let id = created["KeyMetadata"]["KeyId"]
            .as_str()
            .expect("a key id")
            .to_string();
        if let Some(alias) = alias {
            self.kms(
                "CreateAlias",
                json!({"AliasName": alias, "TargetKeyId": id}),
            );
        }
        let public = self.kms("GetPublicKey", json!({"KeyId": id}));
        let der = base64::engine::general_purpose::STANDARD
            .decode(public["PublicKey"].as_str().expect("a public key"))
            .expect("base64 DER");
        let body = base64::engine::general_purpose::STANDARD.encode(der);
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap_or_default())
            .collect();
        let pem = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            lines.join("\n")
        );
        (id, pem)
    }
}

/// One request as it reached the recorder: what a SigV4 verifier needs.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// Path and query.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// An answer given in moto's stead: status, headers, body.
pub struct Answered {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

/// What a [`Recorder`] asks of each request before it passes it on: `Some` answers it
/// instead (a check moto does not make, refused in AWS's words).
pub type Gate = std::sync::Arc<dyn Fn(&Recorded) -> Option<Answered> + Send + Sync>;

/// What a [`Recorder`] asks of each request it passes on: `Some` is the body moto gets
/// instead (a setting of the account moto has no word for).
pub type Rewrite = std::sync::Arc<dyn Fn(&Recorded) -> Option<Vec<u8>> + Send + Sync>;

/// A forwarder in front of moto on 127.0.0.1 that records every request before passing
/// it on unchanged (moto checks no signature: the tests check them against botocore),
/// unless its gate answers it.
pub struct Recorder {
    pub url: String,
    pub requests: std::sync::Arc<std::sync::Mutex<Vec<Recorded>>>,
}

impl Recorder {
    pub fn start(upstream: &str) -> Self {
        Self::gated(upstream, std::sync::Arc::new(|_: &Recorded| None))
    }

    /// A recorder whose `gate` answers the requests it takes, and passes on the rest.
    pub fn gated(upstream: &str, gate: Gate) -> Self {
        Self::rewriting(upstream, gate, std::sync::Arc::new(|_: &Recorded| None))
    }

    /// [`Recorder::gated`], passing on the body `rewrite` gives instead of a request's.
    pub fn rewriting(upstream: &str, gate: Gate, rewrite: Rewrite) -> Self {
        use http_body_util::{BodyExt as _, Full};
        let listener = TcpListener::bind("127.0.0.1:0").expect("a port");
        listener.set_nonblocking(true).expect("non-blocking");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (seen, upstream) = (std::sync::Arc::clone(&requests), upstream.to_string());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("a listener");
                let client: hyper_util::client::legacy::Client<_, Full<Bytes>> =
                    hyper_util::client::legacy::Client::builder(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .build_http();
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let (seen, upstream, client, gate, rewrite) = (
                        std::sync::Arc::clone(&seen),
                        upstream.clone(),
                        client.clone(),
                        std::sync::Arc::clone(&gate),
                        std::sync::Arc::clone(&rewrite),
                    );
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(
                            move |req: hyper::Request<hyper::body::Incoming>| {
                                let (seen, upstream, client, gate, rewrite) = (
                                    std::sync::Arc::clone(&seen),
                                    upstream.clone(),
                                    client.clone(),
                                    std::sync::Arc::clone(&gate),
                                    std::sync::Arc::clone(&rewrite),
                                );
                                async move {
                                    let (parts, body) = req.into_parts();
                                    let body = body
                                        .collect()
                                        .await
                                        .map(|b| b.to_bytes())
                                        .unwrap_or_default();
                                    let target = parts
                                        .uri
                                        .path_and_query()
                                        .map(|p| p.as_str().to_string())
                                        .unwrap_or_default();
                                    let recorded = Recorded {
                                        method: parts.method.to_string(),
                                        target: target.clone(),
                                        headers: parts
                                            .headers
                                            .iter()
                                            .map(|(k, v)| {
                                                (
                                                    k.to_string(),
                                                    v.to_str().unwrap_or_default().to_string(),
                                                )
                                            })
                                            .collect(),
                                        body: body.to_vec(),
                                    };
                                    let answered = gate(&recorded);
                                    let rewritten = rewrite(&recorded);
                                    if let Ok(mut s) = seen.lock() {
                                        s.push(recorded);
                                    }
                                    if let Some(a) = answered {
                                        let mut answer =
                                            hyper::Response::builder().status(a.status);
                                        for (k, v) in a.headers {
                                            answer = answer.header(k, v);
                                        }
                                        let answer = answer
                                            .body(Full::new(Bytes::from(a.body)))
                                            .expect("a response");
                                        return Ok::<_, std::convert::Infallible>(answer);
                                    }
                                    let mut forward = hyper::Request::builder()
                                        .method(parts.method)
                                        .uri(format!("{upstream}{target}"));
                                    for (k, v) in &parts.headers {
                                        // A rewritten body has its own length.
                                        if rewritten.is_none() || k != http::header::CONTENT_LENGTH
                                        {
                                            forward = forward.header(k, v);
                                        }
                                    }
                                    let body = rewritten.map_or(body, Bytes::from);
                                    let forward = forward.body(Full::new(body)).expect("a request");
                                    let answer = match client.request(forward).await {
                                        Ok(r) => {
                                            let (parts, body) = r.into_parts();
                                            let body = body
                                                .collect()
                                                .await
                                                .map(|b| b.to_bytes())
                                                .unwrap_or_default();
                                            hyper::Response::from_parts(parts, Full::new(body))
                                        }
                                        Err(_) => hyper::Response::builder()
                                            .status(502)
                                            .body(Full::new(Bytes::new()))
                                            .expect("a response"),
                                    };
                                    Ok::<_, std::convert::Infallible>(answer)
                                }
                            },
                        );
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
        });
        Self { url, requests }
    }

    pub fn recorded(&self) -> Vec<Recorded> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }
}
