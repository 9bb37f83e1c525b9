//! A git server on the fake GitHub's own host and port (where `app-token git-credential` answers): the real `git http-backend`, run as CGI for each request to a bare repository's smart-HTTP paths, after a Basic check of the password against the fake's [`Tokens`]; every request recorded with the credentials it carried.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use httpmock::{HttpMockRequest, HttpMockResponse};

use super::stand_in::header;
use super::tokens::{State, Tokens};
use super::FakeGitHub;

/// The username git sends with an installation token.
pub const USERNAME: &str = "x-access-token";

/// The realm of the server's `WWW-Authenticate: Basic` (GitHub's).
pub const REALM: &str = "GitHub";

/// `git http-backend`, found through the `git` on `PATH` (`git --exec-path`); `None` when
/// there is no git, or it has no http-backend.
pub fn git_http_backend() -> Option<PathBuf> {
    let out = Command::new("git").arg("--exec-path").output().ok()?;
    let dir = String::from_utf8(out.stdout).ok()?;
    let backend = Path::new(dir.trim()).join("git-http-backend");
    (out.status.success() && backend.is_file()).then_some(backend)
}

/// `git` with nothing of the machine's configuration: `HOME` is `home`, no system
/// configuration, no prompt, no askpass; the test's `PATH`, and a committer.
pub fn git(home: &Path) -> Command {
    let mut git = Command::new("git");
    git.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com");
    git
}

/// Runs `git`, which must succeed: its stdout.
pub fn run_git(git: &mut Command) -> String {
    let out = git.output().expect("git runs");
    assert!(
        out.status.success(),
        "{git:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What the server saw of one request, and what it answered.
#[derive(Debug, Clone)]
pub struct GitRequest {
    pub method: String,
    /// The path and query.
    pub target: String,
    /// Every `Authorization` value, in order.
    pub authorizations: Vec<String>,
    /// The password of each Basic `Authorization`, in order.
    pub passwords: Vec<String>,
    /// What the authority held the password to be, when there was exactly one.
    pub state: Option<State>,
    pub status: u16,
}

impl GitRequest {
    /// Did it carry a token that was not live?
    pub fn stale(&self) -> bool {
        self.state.is_some_and(|s| s != State::Live)
    }
}

/// The user and password of a Basic `Authorization` value.
pub fn basic(authorization: &str) -> Option<(String, String)> {
    let (scheme, encoded) = authorization.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// A CGI program's answer.
#[derive(Debug, PartialEq, Eq)]
pub struct CgiAnswer {
    /// Its `Status:`, else 200.
    pub status: u16,
    /// Its other headers.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The answer a CGI program wrote, `out`.
pub fn parse_cgi(out: &[u8]) -> Result<CgiAnswer, String> {
    let (end, gap) = [&b"\r\n\r\n"[..], b"\n\n"]
        .iter()
        .filter_map(|sep| {
            out.windows(sep.len())
                .position(|w| w == *sep)
                .map(|at| (at, sep.len()))
        })
        .min()
        .ok_or("the CGI answer has no end of its headers")?;
    let head = std::str::from_utf8(&out[..end]).map_err(|e| format!("CGI headers: {e}"))?;
    let mut status = 200;
    let mut headers = Vec::new();
    for line in head.lines() {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("not a CGI header: {line:?}"))?;
        let value = value.trim().to_string();
        if name.eq_ignore_ascii_case("status") {
            status = value
                .split(' ')
                .next()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| format!("not a CGI status: {value:?}"))?;
        } else {
            headers.push((name.to_string(), value));
        }
    }
    Ok(CgiAnswer {
        status,
        headers,
        body: out[end + gap..].to_vec(),
    })
}

/// A bare repository on the fake GitHub's host, served by `git http-backend`.
pub struct GitServer {
    /// `http://127.0.0.1:PORT/OWNER/NAME.git`.
    pub url: String,
    /// The bare repository.
    pub bare: PathBuf,
    requests: Arc<Mutex<Vec<GitRequest>>>,
    _root: tempfile::TempDir,
}

impl GitServer {
    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<GitRequest> {
        self.requests.lock().expect("the git requests").clone()
    }

    /// The commit `branch` names in the bare repository.
    pub fn head(&self, branch: &str) -> String {
        let home = self.bare.parent().expect("the owner's directory");
        run_git(
            git(home)
                .arg("-C")
                .arg(&self.bare)
                .args(["rev-parse", branch]),
        )
        .trim()
        .to_string()
    }
}

/// The whole of what the server does with one request to the repository: the Basic
/// credentials checked against `tokens`, then `backend` as CGI.
fn serve(
    req: &HttpMockRequest,
    tokens: &Tokens,
    backend: &Path,
    root: &Path,
    seen: &Mutex<Vec<GitRequest>>,
) -> HttpMockResponse {
    let authorizations: Vec<String> = req
        .headers_vec()
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        .map(|(_, v)| v.clone())
        .collect();
    let credentials: Vec<(String, String)> =
        authorizations.iter().filter_map(|a| basic(a)).collect();
    let state = match credentials.as_slice() {
        [(_, password)] => Some(tokens.state(password)),
        _ => None,
    };
    let allowed = match (credentials.as_slice(), authorizations.len()) {
        ([(user, _)], 1) => user == USERNAME && state == Some(State::Live),
        _ => false,
    };
    let uri = req.uri();
    let answer = if allowed {
        cgi(req, backend, root)
    } else {
        HttpMockResponse::builder()
            .status(401)
            .header("www-authenticate", format!("Basic realm=\"{REALM}\""))
            .header("content-type", "text/plain")
            .body("Invalid username or token.\n")
            .build()
    };
    seen.lock().expect("the git requests").push(GitRequest {
        method: req.method().to_string(),
        target: uri
            .path_and_query()
            .map_or_else(|| uri.path().to_string(), |p| p.to_string()),
        authorizations,
        passwords: credentials.into_iter().map(|(_, p)| p).collect(),
        state,
        status: answer.status.unwrap_or(200),
    });
    answer
}

/// `git http-backend` for `req` (git-http-backend(1)'s CGI variables), its body on stdin.
fn cgi(req: &HttpMockRequest, backend: &Path, root: &Path) -> HttpMockResponse {
    let uri = req.uri();
    let mut command = Command::new(backend);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", root)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GATEWAY_INTERFACE", "CGI/1.1")
        .env("SERVER_PROTOCOL", "HTTP/1.1")
        .env("REQUEST_METHOD", req.method().as_str())
        .env("PATH_INFO", uri.path())
        .env("QUERY_STRING", uri.query().unwrap_or(""))
        .env("CONTENT_LENGTH", req.body_ref().len().to_string())
        // Authenticated: http-backend lets it push.
        .env("REMOTE_USER", USERNAME)
        .env("REMOTE_ADDR", "127.0.0.1");
    for (header_name, variable) in [
        ("content-type", "CONTENT_TYPE"),
        ("content-encoding", "HTTP_CONTENT_ENCODING"),
        ("git-protocol", "GIT_PROTOCOL"),
    ] {
        if let Some(value) = header(req, header_name) {
            command.env(variable, value);
        }
    }
    let failed = |why: String| {
        HttpMockResponse::builder()
            .status(500)
            .body(why.into_bytes())
            .build()
    };
    let mut child = match command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => return failed(format!("git http-backend: {e}")),
    };
    let body = req.body_vec();
    let mut stdin = child.stdin.take().expect("the backend's stdin");
    // Written beside the reading of its answer, which may come before it has read all.
    let writer = std::thread::spawn(move || stdin.write_all(&body));
    let out = match child.wait_with_output() {
        Ok(out) => out,
        Err(e) => return failed(format!("git http-backend: {e}")),
    };
    let _ = writer.join();
    match parse_cgi(&out.stdout) {
        Ok(answer) => answer
            .headers
            .into_iter()
            .fold(
                HttpMockResponse::builder().status(answer.status),
                |b, (k, v)| b.header(k, v),
            )
            .body(answer.body)
            .build(),
        Err(e) => failed(format!(
            "{e}; git http-backend said: {}",
            String::from_utf8_lossy(&out.stderr)
        )),
    }
}

impl FakeGitHub {
    /// `repo` (`OWNER/NAME`) served by git over smart HTTP at
    /// `http://127.0.0.1:PORT/OWNER/NAME.git`, on this fake's port, to the password of a
    /// live token of `tokens` (user [`USERNAME`]); its `main` has one commit. `None`
    /// when git, or its http-backend, is missing.
    pub fn git_server(&self, tokens: &Tokens, repo: &str) -> Option<GitServer> {
        let backend = git_http_backend()?;
        let root = tempfile::tempdir().expect("a directory for the repositories");
        let bare = root.path().join(format!("{repo}.git"));
        let seed = root.path().join("seed");
        run_git(
            git(root.path())
                .args(["init", "--bare", "--initial-branch=main"])
                .arg(&bare),
        );
        run_git(
            git(root.path())
                .args(["init", "--initial-branch=main"])
                .arg(&seed),
        );
        std::fs::write(seed.join("README"), "seed\n").expect("a file to commit");
        run_git(
            git(root.path())
                .arg("-C")
                .arg(&seed)
                .args(["add", "README"]),
        );
        run_git(
            git(root.path())
                .arg("-C")
                .arg(&seed)
                .args(["commit", "-m", "seed"]),
        );
        run_git(
            git(root.path())
                .arg("-C")
                .arg(&seed)
                .arg("push")
                .arg(&bare)
                .arg("main"),
        );

        let prefix = format!("/{repo}.git/");
        self.git_paths
            .lock()
            .expect("the git paths")
            .push(prefix.clone());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (seen, tokens, project) = (
            Arc::clone(&requests),
            tokens.clone(),
            root.path().to_path_buf(),
        );
        self.server.mock(|when, then| {
            when.is_true(move |r| r.uri().path().starts_with(&prefix));
            then.respond_with(move |r| serve(r, &tokens, &backend, &project, &seen));
        });
        Some(GitServer {
            url: format!("{}/{repo}.git", self.url()),
            bare,
            requests,
            _root: root,
        })
    }

    /// Is `path` one the fake serves git at?
    pub(super) fn serves_git_at(&self, path: &str) -> bool {
        self.git_paths
            .lock()
            .expect("the git paths")
            .iter()
            .any(|prefix| path.starts_with(prefix))
    }
}

/// A fake GitHub minting through `tokens` for `owner`'s `repo` (`(id, name)`), that
/// repository served over git; `None`, NOT CHECKED said for `what`, when git is missing.
pub fn serving(
    tokens: &Tokens,
    owner: &str,
    repo: (u64, &str),
    what: &str,
) -> Option<(FakeGitHub, GitServer)> {
    let gh = FakeGitHub::start();
    gh.minting(tokens, owner, &[repo]);
    match gh.git_server(tokens, &format!("{owner}/{}", repo.1)) {
        Some(server) => Some((gh, server)),
        None => {
            super::not_checked(
                what,
                "git, or its http-backend, is missing",
                "APP_TOKEN_REQUIRE_GIT",
            );
            None
        }
    }
}
