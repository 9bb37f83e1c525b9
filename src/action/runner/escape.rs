//! Escaping for workflow commands and file commands.
//!
//! Workflow commands' messages and properties (with text for people inside them), and
//! heredoc file-command entries with random delimiters.

use anyhow::{bail, Result};

use crate::excerpt::printable;

/// Text for people inside a command: each line printable (see [`printable`]), the
/// lines kept (the command's escaping keeps them in one line of the log).
pub fn shown(text: &str) -> String {
    let lines: Vec<String> = text.lines().map(|l| printable(l.chars())).collect();
    lines.join("\n")
}

/// Escapes a workflow command's message (the part after `::`).
pub fn escape_data(value: &str) -> String {
    value
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow command's property value (`title=…`).
pub fn escape_property(value: &str) -> String {
    escape_data(value).replace(':', "%3A").replace(',', "%2C")
}

/// A random delimiter for a heredoc file command, 128 bits of entropy.
pub fn random_delimiter() -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| anyhow::anyhow!("no randomness for a delimiter: {e}"))?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("ghadelimiter_{hex}"))
}

/// One `name<<DELIM … DELIM` entry of a file command.
///
/// Fails when the name is not a plain identifier, or when the delimiter occurs in
/// the name or the value (it never does for a random one; checked all the same).
pub fn heredoc_entry(name: &str, value: &str, delimiter: &str) -> Result<String> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        bail!("file command name {name:?} must be letters, digits, '-' or '_'");
    }
    if value.contains(delimiter) {
        bail!("the value of {name} contains the file command delimiter");
    }
    Ok(format!("{name}<<{delimiter}\n{value}\n{delimiter}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_escaping_keeps_a_value_on_one_line() {
        assert_eq!(escape_data("a\n::warning::x"), "a%0A::warning::x");
        assert_eq!(escape_data("100%\r\n"), "100%25%0D%0A");
    }

    #[test]
    fn property_escaping_covers_separators() {
        assert_eq!(escape_property("a:b,c\n%"), "a%3Ab%2Cc%0A%25");
    }

    #[test]
    fn delimiters_are_random_and_long() {
        let a = random_delimiter().unwrap();
        let b = random_delimiter().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), "ghadelimiter_".len() + 32);
    }

    #[test]
    fn heredoc_entries_refuse_bad_names_and_embedded_delimiters() {
        assert_eq!(
            heredoc_entry("token", "v", "D").unwrap(),
            "token<<D\nv\nD\n"
        );
        assert!(heredoc_entry("to\nken", "v", "D").is_err());
        assert!(heredoc_entry("", "v", "D").is_err());
        assert!(heredoc_entry("x", "a\nD\nb", "D").is_err());
    }
}
