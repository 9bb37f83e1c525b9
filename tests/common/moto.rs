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
