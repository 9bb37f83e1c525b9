//! What the agent and its clients say to each other.
//!
//! One JSON object per line each way: the client asks once ([`Ask`]), the agent answers
//! once ([`Answer`]) and closes. Pure: encoding, decoding and their bounds.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The longest question the agent reads: real ones are under 200 bytes.
pub const MAX_ASK: usize = 4 * 1024;
/// The longest answer a client reads: a stateless token is some 520 characters.
pub const MAX_ANSWER: usize = 64 * 1024;

/// A client's question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "ask", rename_all = "kebab-case")]
pub enum Ask {
    /// A valid token for `owner` (none: the agent's first owner).
    Token {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        owner: Option<String>,
    },
    /// What the agent serves.
    Status,
    /// Revoke every token the agent minted, and end.
    Stop,
}

/// The agent's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "answer", rename_all = "kebab-case")]
pub enum Answer {
    Token {
        token: String,
        owner: String,
        expires_at: DateTime<Utc>,
        /// The API the token is for: a git helper answers only for its web host.
        api_url: String,
    },
    Status {
        pid: u32,
        owners: Vec<String>,
        api_url: String,
        /// Tokens minted by the agent and not revoked yet.
        live: usize,
    },
    Stopped {
        revoked: usize,
        /// Why some could not be revoked (never a token).
        failures: Vec<String>,
    },
    Error {
        message: String,
    },
}

/// `value` as one line of the protocol.
pub fn encode(value: &impl Serialize) -> String {
    // Serializing these types cannot fail: no maps with non-string keys, no floats.
    let mut line = serde_json::to_string(value).unwrap_or_else(|_| "{}".into());
    line.push('\n');
    line
}

/// One line of the protocol, at most `max` bytes, read as `T`.
pub fn decode<T: for<'de> Deserialize<'de>>(line: &[u8], max: usize) -> Result<T, String> {
    if line.len() > max {
        return Err(format!("a line of more than {max} bytes"));
    }
    let text = std::str::from_utf8(line).map_err(|_| "a line that is not UTF-8".to_string())?;
    serde_json::from_str(text.trim_end()).map_err(|e| format!("not understood ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_and_answers_round_trip_as_one_line_each() {
        let asks = [
            Ask::Token { owner: None },
            Ask::Token {
                owner: Some("acme".into()),
            },
            Ask::Status,
            Ask::Stop,
        ];
        for ask in asks {
            let line = encode(&ask);
            assert!(
                line.ends_with('\n') && line.matches('\n').count() == 1,
                "{line}"
            );
            assert_eq!(decode::<Ask>(line.as_bytes(), MAX_ASK), Ok(ask));
        }
        assert_eq!(encode(&Ask::Token { owner: None }), "{\"ask\":\"token\"}\n");
        let token = "ghs_".to_string() + &"a.b_".repeat(130);
        let answer = Answer::Token {
            token,
            owner: "acme".into(),
            expires_at: "2030-01-01T10:00:00Z".parse().unwrap(),
            api_url: "https://api.github.com".into(),
        };
        let line = encode(&answer);
        assert_eq!(decode::<Answer>(line.as_bytes(), MAX_ANSWER), Ok(answer));
    }

    #[test]
    fn oversized_or_unknown_lines_are_refused() {
        let long = format!(
            "{{\"ask\":\"token\",\"owner\":\"{}\"}}",
            "a".repeat(MAX_ASK)
        );
        assert!(decode::<Ask>(long.as_bytes(), MAX_ASK).is_err());
        assert!(decode::<Ask>(b"{\"ask\":\"key\"}", MAX_ASK).is_err());
        assert!(decode::<Ask>(b"\xff", MAX_ASK).is_err());
        assert!(decode::<Ask>(b"", MAX_ASK).is_err());
    }
}
