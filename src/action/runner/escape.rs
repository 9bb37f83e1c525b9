//! Escaping for workflow commands, plain log lines that the runner cannot take for a command, and heredoc file-command entries with random delimiters.

use anyhow::{bail, Result};

use crate::excerpt::printable;

/// Where the runner's legacy parser looks for a command: anywhere in a line
/// (`ActionCommand.TryParse`: `##[name props]data`).
const LEGACY_MARKER: &str = "##[";
/// What starts a command, after leading white space (`ActionCommand.TryParseV2`: `::name props::data`).
const COMMAND_MARKER: &str = "::";

/// Text as plain log lines, for people and never for the runner: one line per line of
/// `text`, each shown printable (control and format characters as `?`, so neither a
/// terminal nor the runner obeys them), with a space put inside every `##[` (`## [`)
/// and inside a `::` that starts a line after white space (`: :`). The runner
/// parses a line as a command only when `##[` is followed by a command's name, or
/// when the line starts, after white space, with `::`; a person reads both forms the
/// same. Nothing is percent-escaped: the runner unescapes only inside commands.
pub fn plain_lines(text: &str) -> String {
    let lines: Vec<String> = text.lines().map(plain_line).collect();
    lines.join("\n")
}

/// JSON text that the runner cannot take for a command: `[` after `##` is written as
/// `\u005b`, the same JSON value. Outside a string JSON has no `#`, and no line of it
/// starts with `::`.
pub fn plain_json(json: &str) -> String {
    json.replace(LEGACY_MARKER, "##\\u005b")
}

/// Text for people inside a command: each line printable (see [`printable`]), the
/// lines kept (the command's escaping keeps them in one line of the log).
pub fn shown(text: &str) -> String {
    let lines: Vec<String> = text.lines().map(|l| printable(l.chars())).collect();
    lines.join("\n")
}

/// One line of [`plain_lines`] (a CR or LF in it is shown as `?`).
pub fn plain_line(line: &str) -> String {
    let shown = printable(line.chars());
    let mut out = shown.replace(LEGACY_MARKER, "## [");
    let blanks = out.len() - out.trim_start().len();
    if out[blanks..].starts_with(COMMAND_MARKER) {
        out.insert(blanks + 1, ' ');
    }
    out
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
    fn plain_lines_break_both_command_markers_and_nothing_else() {
        assert_eq!(
            plain_line("Echo ##[stop-commands]x"),
            "Echo ## [stop-commands]x"
        );
        assert_eq!(
            plain_line("###[set-output name=a]b##["),
            "### [set-output name=a]b## ["
        );
        assert_eq!(plain_line("::add-mask::x"), ": :add-mask::x");
        assert_eq!(plain_line(" \u{3000}::error::x"), " \u{3000}: :error::x");
        assert_eq!(
            plain_line("a ::error::x"),
            "a ::error::x",
            "only a leading :: starts a command"
        );
        assert_eq!(
            plain_line("100% of /users/a%5Bbot%5D"),
            "100% of /users/a%5Bbot%5D"
        );
        assert_eq!(plain_line("# [x] :: y"), "# [x] :: y");
    }

    #[test]
    fn plain_json_is_the_same_value_without_the_legacy_marker() {
        let value = serde_json::json!({"account": "##[stop-commands]x", "list": [["##"]]});
        let text = plain_json(&value.to_string());
        assert!(!text.contains("##["), "{text}");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&text).unwrap(),
            value
        );
    }

    #[test]
    fn plain_lines_show_control_and_format_characters_as_question_marks() {
        assert_eq!(
            plain_lines("a\n::error::b\r\n\u{1b}]52;c;eA==\u{7}"),
            "a\n: :error::b\n?]52;c;eA==?"
        );
        assert_eq!(
            plain_line("#\u{200b}#[stop-commands]"),
            "#?#[stop-commands]"
        );
        assert_eq!(plain_line("\u{feff}::error::x"), "?::error::x");
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
