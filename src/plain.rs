//! Text shown, never obeyed.
//!
//! Lines and JSON from elsewhere, printed so that neither a terminal nor the Actions
//! runner takes them for a command. Both front ends print through here: the action's
//! plain log lines, and everything the command line prints (its output may itself
//! land in a job's log).

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
