//! The agent at work: questions answered, tokens renewed, and the end.
//!
//! [`serve`] answers every connection of the agent's user (tokens, status, stop) while
//! the [`Keeper`] renews tokens ahead of time and the ledger on disk follows the one in
//! memory, until something ends it: a stop asked for, a signal, its lifetime, or (for
//! `exec --refresh`) its command. [`finish`] then revokes every token it minted (those
//! still in flight included), answers the stopper, ends signing and removes its folder.
//! [`run_ordered`] is the detached agent's whole life, from its order on stdin.

use std::future::Future;
use std::io::{Read as _, Write as _};
use std::path::Path;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{FuturesUnordered, StreamExt as _};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};

use super::endpoint::{address, Listener, Stream};
use super::keeper::Keeper;
use super::ledger_file;
use super::order::{Order, Rebuild, MAX_ORDER_BYTES};
use super::protocol::{decode, encode, Answer, Ask, MAX_ASK};
use super::spawn::READY;
use crate::cancel::Signal;
use crate::mint::{Revocation, Session, Unopened, Witness};

/// How long a client has to ask its question.
pub const ASK_LIMIT: Duration = Duration::from_secs(5);
/// How long revoking may take when a stop is asked for (the job's post step waits).
pub const STOP_REVOKE_LIMIT: Duration = Duration::from_secs(20);

/// What ended the agent.
pub enum Ending {
    /// A client asked it to stop: it hears the answer.
    Asked(Box<dyn Stream>),
    /// A signal came.
    Signal(Signal),
    /// Its lifetime ran out.
    Lifetime,
    /// What it served ended (`exec`'s command).
    Done,
    /// The job's process (see [`super::watch`]) is gone.
    JobEnded,
}

impl Ending {
    fn describe(&self) -> String {
        match self {
            Ending::Asked(_) => "stop asked for".into(),
            Ending::Signal(s) => format!("{} received", s.name()),
            Ending::Lifetime => "its lifetime ran out".into(),
            Ending::Done => "its command ended".into(),
            Ending::JobEnded => "the job's process is gone".into(),
        }
    }
}

/// The agent's log: time-stamped lines on stderr (its log file, for a detached agent),
/// never a token.
pub struct LogWitness;

/// A line for the agent's log.
pub fn log_line(line: &str) {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    eprintln!("{now} {}", crate::plain::plain_lines(line));
}

impl Witness for LogWitness {
    fn log(&self, line: &str) {
        log_line(line);
    }
    fn panicked(&self, live: usize, done: &Revocation) {
        log_line(&format!(
            "panicked: {}",
            crate::mint::panic_guard::summary(live, done)
        ));
    }
    fn signing_not_ended(&self, why: &str) {
        log_line(&format!("signing did not end cleanly: {why}"));
    }
}

/// The answer to `ask`; a stop is handed to `stop` with its connection.
async fn answer(keeper: &Keeper, ask: Ask) -> Answer {
    match ask {
        Ask::Token { owner } => match keeper.token(owner.as_deref()).await {
            Ok((owner, held)) => Answer::Token {
                token: held.token,
                owner,
                expires_at: held.expires_at,
                api_url: keeper.api_url().to_string(),
            },
            Err(message) => Answer::Error { message },
        },
        Ask::Status => Answer::Status {
            pid: std::process::id(),
            owners: keeper.owners(),
            api_url: keeper.api_url().to_string(),
            live: keeper.session().ledger().live().len(),
        },
        Ask::Stop => Answer::Error {
            message: "stop is answered by the agent's end".into(),
        },
    }
}

/// Reads one question from `stream`, within [`ASK_LIMIT`] and [`MAX_ASK`] bytes.
async fn read_ask(stream: &mut Box<dyn Stream>) -> Result<Ask, String> {
    let mut line = Vec::new();
    let mut reader = BufReader::new(stream).take(MAX_ASK as u64 + 1);
    let read = reader.read_until(b'\n', &mut line);
    match tokio::time::timeout(ASK_LIMIT, read).await {
        Ok(Ok(_)) => decode(&line, MAX_ASK),
        Ok(Err(e)) => Err(format!("cannot read the question: {e}")),
        Err(_) => Err(format!("no question within {} s", ASK_LIMIT.as_secs())),
    }
}

async fn reply(stream: &mut Box<dyn Stream>, answer: &Answer) {
    let _ = stream.write_all(encode(answer).as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// One connection: refused unless it is the agent's user's; a stop is passed on.
async fn handle(
    keeper: &Keeper,
    mut stream: Box<dyn Stream>,
    same_user: bool,
    stop: &tokio::sync::mpsc::UnboundedSender<Box<dyn Stream>>,
) {
    if !same_user {
        log_line("refused a connection from another user");
        let message = "refused: this agent answers only its own user".to_string();
        reply(&mut stream, &Answer::Error { message }).await;
        return;
    }
    let answer = match read_ask(&mut stream).await {
        Ok(Ask::Stop) => {
            let _ = stop.send(stream);
            return;
        }
        Ok(ask) => answer(keeper, ask).await,
        Err(message) => Answer::Error { message },
    };
    reply(&mut stream, &answer).await;
}

/// Serves `listener` with `keeper`'s tokens, the ledger in `folder` kept up to date,
/// until a stop is asked for or `until` resolves; gives what ended it.
pub async fn serve(
    keeper: &Keeper,
    listener: &Listener,
    folder: &Path,
    until: impl Future<Output = Ending>,
) -> Ending {
    let (stop_tx, mut stop_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut connections = FuturesUnordered::new();
    let renew = keeper.renew(&log_line);
    let keep = ledger_file::keep(folder, keeper.session().ledger(), &log_line);
    let (mut renew, mut keep, mut until) = (pin!(renew), pin!(keep), pin!(until));
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, same_user)) => connections.push(handle(keeper, stream, same_user, &stop_tx)),
                Err(e) => {
                    log_line(&format!("cannot accept a connection: {e}"));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(()) = connections.next(), if !connections.is_empty() => {}
            () = &mut renew => {}
            () = &mut keep => {}
            Some(stream) = stop_rx.recv() => return Ending::Asked(stream),
            ending = &mut until => return ending,
        }
    }
}

/// Ends the agent: revokes every token it minted (those still in flight included)
/// within `limit`, leaves what could not be revoked in the ledger on disk, answers the
/// stopper, ends signing, and removes `folder` when nothing is left in it to revoke.
pub async fn finish(keeper: Keeper, folder: &Path, ending: Ending, limit: Duration) -> Revocation {
    log_line(&format!("ending: {}", ending.describe()));
    let session = keeper.into_session();
    session.ledger().drop_expired(chrono::Utc::now());
    let done = session.revoke_everything(limit).await;
    let left = ledger_file::entries(session.ledger());
    if let Err(e) = ledger_file::write(folder, &left) {
        log_line(&format!("cannot write the ledger: {e}"));
    }
    log_line(&format!(
        "revoked {} token(s); {} left",
        done.revoked,
        left.len()
    ));
    for f in &done.failures {
        log_line(&format!("not revoked: {f}"));
    }
    if let Ending::Asked(mut stream) = ending {
        let answer = Answer::Stopped {
            revoked: done.revoked,
            failures: done.failures.clone(),
        };
        reply(&mut stream, &answer).await;
    }
    session.end().await;
    if left.is_empty() {
        let _ = std::fs::remove_dir_all(folder);
    }
    done
}

/// How long revoking may take for `ending`: a stop asked for is waited on; a signal
/// may be followed by a harder one.
pub fn revoke_limit(ending: &Ending) -> Duration {
    match ending {
        Ending::Signal(_) => crate::mint::CANCEL_REVOKE_LIMIT,
        _ => STOP_REVOKE_LIMIT,
    }
}

/// Reads the order on stdin, at most [`MAX_ORDER_BYTES`].
fn read_order() -> Result<Order, String> {
    let mut text = Vec::new();
    std::io::stdin()
        .lock()
        .take(MAX_ORDER_BYTES)
        .read_to_end(&mut text)
        .map_err(|e| format!("cannot read the order: {e}"))?;
    let order =
        serde_json::from_slice(&text).map_err(|e| format!("the order is not readable: {e}"));
    // The order holds the key: its bytes go as soon as they are read.
    text.fill(0);
    order
}

/// Says on stdout, once, that the agent listens (or why not).
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(line.as_bytes());
    let _ = out.write_all(b"\n");
    let _ = out.flush();
}

/// The detached agent's life: its order from stdin, its configuration rebuilt with
/// `rebuild`, its socket, `ready`, then service until its end. Gives the exit status.
pub fn run_ordered(rebuild: Rebuild) -> i32 {
    let order = match read_order() {
        Ok(order) => order,
        Err(e) => {
            say(&format!("error: {e}"));
            return 1;
        }
    };
    let runtime = match crate::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            say(&format!("error: cannot start: {e}"));
            return 1;
        }
    };
    runtime.block_on(async move {
        let mut signals = crate::cancel::Signals::install();
        let env = order.env();
        let plan = match rebuild(order.front, &env, &order.args) {
            Ok(plan) => plan,
            Err(e) => {
                say(&format!("error: {e}"));
                return 1;
            }
        };
        let config = plan.config;
        let witness: Arc<dyn Witness> = Arc::new(LogWitness);
        let session = match Session::open(&config.app_id, config.key, plan.target, witness) {
            Ok(session) => session,
            Err(Unopened::Key(e) | Unopened::Client(e)) => {
                say(&format!("error: {e:#}"));
                return 1;
            }
        };
        let listener = match Listener::bind(&address(&order.folder)) {
            Ok(listener) => listener,
            Err(e) => {
                say(&format!(
                    "error: cannot listen in {}: {e}",
                    order.folder.display()
                ));
                session.end().await;
                return 1;
            }
        };
        let keeper = Keeper::new(session, &config.requests, &order.first, &config.api_url);
        log_line(&format!(
            "serving tokens for {} at {} for at most {} s",
            keeper.owners().join(", "),
            address(&order.folder),
            order.lifetime_secs
        ));
        say(&format!("{READY} {}", std::process::id()));
        let lifetime = Duration::from_secs(order.lifetime_secs);
        let job_ended = async {
            match order.watch_pid {
                Some(pid) => super::watch::gone(pid).await,
                None => std::future::pending().await,
            }
        };
        let until = async {
            tokio::select! {
                signal = signals.recv() => Ending::Signal(signal),
                () = tokio::time::sleep(lifetime) => Ending::Lifetime,
                () = job_ended => Ending::JobEnded,
            }
        };
        let ending = serve(&keeper, &listener, &order.folder, until).await;
        let limit = revoke_limit(&ending);
        let done = finish(keeper, &order.folder, ending, limit).await;
        i32::from(!done.failures.is_empty() || done.timed_out)
    })
}
