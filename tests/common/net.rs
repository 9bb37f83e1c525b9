//! Stand-ins on the network path, on 127.0.0.1 only: an HTTP CONNECT proxy that records its tunnels, can slow new ones down, and resolves `*.example` names to 127.0.0.1 itself.

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Copies both ways between `a` and `b` until both sides close.
pub fn pipe(a: TcpStream, b: TcpStream) {
    let (Ok(mut a2), Ok(mut b2)) = (a.try_clone(), b.try_clone()) else {
        return;
    };
    let t = std::thread::spawn(move || {
        let _ = std::io::copy(&mut a2, &mut b2);
        let _ = b2.shutdown(Shutdown::Write);
    });
    let (mut a, mut b) = (a, b);
    let _ = std::io::copy(&mut b, &mut a);
    let _ = a.shutdown(Shutdown::Write);
    let _ = t.join();
}

/// A CONNECT proxy.
pub struct ConnectProxy {
    pub url: String,
    /// Every tunnel's target, in order.
    pub targets: Arc<Mutex<Vec<String>>>,
    /// Every CONNECT request's head (its request line and headers), in order.
    pub heads: Arc<Mutex<Vec<String>>>,
}

impl ConnectProxy {
    /// Starts a proxy that holds each new tunnel for `delay` before opening it (a new
    /// connection then costs one more latency, like a TCP handshake).
    pub fn start(delay: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a port on 127.0.0.1");
        let url = format!("http://{}", listener.local_addr().expect("its address"));
        let targets = Arc::new(Mutex::new(Vec::new()));
        let heads = Arc::new(Mutex::new(Vec::new()));
        let (seen, seen_heads) = (Arc::clone(&targets), Arc::clone(&heads));
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let seen = Arc::clone(&seen);
                let seen_heads = Arc::clone(&seen_heads);
                std::thread::spawn(move || tunnel(client, &seen, &seen_heads, delay));
            }
        });
        Self {
            url,
            targets,
            heads,
        }
    }

    pub fn targets(&self) -> Vec<String> {
        self.targets.lock().map(|t| t.clone()).unwrap_or_default()
    }

    pub fn heads(&self) -> Vec<String> {
        self.heads.lock().map(|t| t.clone()).unwrap_or_default()
    }
}

/// Where the proxy connects for `target` (`host:port`): a name under `.example` (a
/// reserved name no DNS answers, RFC 2606) is this machine, as only the proxy knows.
/// The client cannot resolve it, so it must go through the proxy.
fn resolve(target: &str) -> String {
    match target.rsplit_once(':') {
        Some((host, port)) if host.to_ascii_lowercase().ends_with(".example") => {
            format!("127.0.0.1:{port}")
        }
        _ => target.to_string(),
    }
}

fn tunnel(
    client: TcpStream,
    seen: &Mutex<Vec<String>>,
    seen_heads: &Mutex<Vec<String>>,
    delay: Duration,
) -> Option<()> {
    let _ = client.set_nodelay(true);
    let mut reader = BufReader::new(client.try_clone().ok()?);
    // The CONNECT head; the client sends nothing more before the answer.
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let target = line.split_whitespace().nth(1)?.to_string();
    let mut head = line.clone();
    let mut header = String::new();
    while reader.read_line(&mut header).ok()? > 2 {
        head.push_str(&header);
        header.clear();
    }
    if let Ok(mut t) = seen.lock() {
        t.push(target.clone());
    }
    if let Ok(mut h) = seen_heads.lock() {
        h.push(head);
    }
    std::thread::sleep(delay);
    let upstream = TcpStream::connect(resolve(&target)).ok()?;
    upstream.set_nodelay(true).ok()?;
    let mut client_w = client.try_clone().ok()?;
    client_w
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .ok()?;
    // What the reader buffered past the head (nothing, before the answer) is not lost:
    // the client only sends once it has read the answer.
    drop(reader);
    pipe(client, upstream);
    Some(())
}

/// A relay to `upstream` (`host:port`) that loses the answer on its first connection:
/// what the client sends reaches the server, but once the server begins to answer, the
/// client's connection is closed (a gateway that dropped the answer, a reset). Later
/// connections are relayed whole.
pub struct AnswerLosingRelay {
    pub url: String,
    /// How many connections were made to it.
    pub connections: Arc<Mutex<usize>>,
}

impl AnswerLosingRelay {
    pub fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a port on 127.0.0.1");
        let url = format!("http://{}", listener.local_addr().expect("its address"));
        let connections = Arc::new(Mutex::new(0));
        let (count, upstream) = (Arc::clone(&connections), upstream.to_string());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let first = count
                    .lock()
                    .map(|mut n| {
                        *n += 1;
                        *n == 1
                    })
                    .unwrap_or(false);
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                std::thread::spawn(move || {
                    if first {
                        lose_the_answer(client, server);
                    } else {
                        pipe(client, server);
                    }
                });
            }
        });
        Self { url, connections }
    }

    pub fn connections(&self) -> usize {
        self.connections.lock().map(|n| *n).unwrap_or_default()
    }
}

/// Relays the request from `client` to `server`, waits for the server's first bytes
/// (it has acted), then closes both without passing them on.
fn lose_the_answer(client: TcpStream, mut server: TcpStream) {
    let (Ok(mut from_client), Ok(mut to_server)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from_client, &mut to_server);
    });
    let mut first = [0u8; 1];
    let _ = std::io::Read::read(&mut server, &mut first);
    let _ = client.shutdown(Shutdown::Both);
    let _ = server.shutdown(Shutdown::Both);
}
