//! Asking a running agent: one question, one answer.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};

use super::endpoint::connect;
use super::protocol::{decode, encode, Answer, Ask, MAX_ANSWER};

/// The variable that names the agent: its socket's path, or its pipe's name.
pub const AGENT_VARIABLE: &str = "APP_TOKEN_AGENT";

/// How long an answer may take: a token may wait on a mint (GitHub's own retries and
/// timeouts bound that), a stop on revoking every token.
pub const ANSWER_LIMIT: Duration = Duration::from_secs(120);

/// Why asking failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unanswered {
    /// No agent listens there (gone, or never started).
    NoAgent(String),
    /// It answered, but not as an agent does, or too late.
    Broken(String),
}

impl std::fmt::Display for Unanswered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unanswered::NoAgent(m) | Unanswered::Broken(m) => f.write_str(m),
        }
    }
}

/// Asks the agent at `address`; gives its answer.
pub async fn ask(address: &str, ask: &Ask) -> Result<Answer, Unanswered> {
    let shown = crate::excerpt::excerpt_name(address);
    let mut stream = connect(address)
        .await
        .map_err(|e| Unanswered::NoAgent(format!("no agent answers at {shown}: {e}")))?;
    let exchange = async {
        // An agent that refuses this peer answers without reading the question, and may
        // have closed before it is written: its answer is read all the same.
        let _ = stream.write_all(encode(ask).as_bytes()).await;
        let _ = stream.flush().await;
        let mut line = Vec::new();
        BufReader::new(&mut stream)
            .take(MAX_ANSWER as u64 + 1)
            .read_until(b'\n', &mut line)
            .await?;
        Ok::<_, std::io::Error>(line)
    };
    let line = match tokio::time::timeout(ANSWER_LIMIT, exchange).await {
        Ok(Ok(line)) => line,
        Ok(Err(e)) => return Err(Unanswered::Broken(format!("the agent at {shown}: {e}"))),
        Err(_) => {
            return Err(Unanswered::Broken(format!(
                "the agent at {shown} did not answer within {} s",
                ANSWER_LIMIT.as_secs()
            )))
        }
    };
    if line.is_empty() {
        return Err(Unanswered::Broken(format!(
            "the agent at {shown} closed without an answer"
        )));
    }
    decode(&line, MAX_ANSWER)
        .map_err(|e| Unanswered::Broken(format!("the agent at {shown} answered {e}")))
}
