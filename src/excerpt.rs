//! Quoting what a user gave back to them in an error.
//!
//! A short prefix, with control characters shown as `?`, so that no input can flood or
//! garble the log.
//!
//! Every input an error (or a key's description) quotes goes through [`excerpt`], or
//! [`excerpt_name`] where the value is a name a service made, which a real one fills
//! whole: never `format!` of the raw value.

/// How many characters of a value an error quotes.
pub const MAX_QUOTED: usize = 60;

/// How many characters of a name an error quotes (a key's id, ARN or version, a role,
/// an audience, a path): the longest Cloud KMS key version (some 245: its project, key
/// ring and key at their longest) or Key Vault key identifier (some 225) is quoted
/// whole; only a KMS alias near its 256-character limit is cut.
pub const MAX_QUOTED_NAME: usize = 256;

/// `raw`, cut to [`MAX_QUOTED`] characters (with `…` when cut), control characters as `?`.
pub fn excerpt(raw: &str) -> String {
    cut(raw, MAX_QUOTED)
}

/// `raw`, a name, cut to [`MAX_QUOTED_NAME`] characters (with `…` when cut), control
/// characters as `?`.
pub fn excerpt_name(raw: &str) -> String {
    cut(raw, MAX_QUOTED_NAME)
}

fn cut(raw: &str, max: usize) -> String {
    let mut s: String = printable(raw.chars().take(max));
    if raw.chars().nth(max).is_some() {
        s.push('…');
    }
    s
}

/// The characters, control characters (terminal escapes among them) and invisible
/// ones (format characters such as zero-width and bidirectional controls, variation
/// selectors) shown as `?`: text from elsewhere (GitHub's answers) that a terminal, or
/// a log, must show, not obey.
///
/// Every line the command line prints and every plain line of the action goes
/// through here, by way of `plain::plain_lines`.
pub fn printable(chars: impl Iterator<Item = char>) -> String {
    chars
        .map(|c| {
            if c.is_control() || is_invisible(c) {
                '?'
            } else {
                c
            }
        })
        .collect()
}

/// Unicode's format characters (general category Cf) and its default-ignorable code
/// points: invisible, yet they reorder (U+202E), join or hide text, and collation
/// (the runner's culture-sensitive matching among them) skips them.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{ad}'
        | '\u{34f}'
        | '\u{600}'..='\u{605}'
        | '\u{61c}'
        | '\u{6dd}'
        | '\u{70f}'
        | '\u{890}'..='\u{891}'
        | '\u{8e2}'
        | '\u{115f}'..='\u{1160}'
        | '\u{17b4}'..='\u{17b5}'
        | '\u{180b}'..='\u{180f}'
        | '\u{200b}'..='\u{200f}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2060}'..='\u{206f}'
        | '\u{3164}'
        | '\u{fe00}'..='\u{fe0f}'
        | '\u{feff}'
        | '\u{ffa0}'
        | '\u{fff0}'..='\u{fffb}'
        | '\u{110bd}'
        | '\u{110cd}'
        | '\u{13430}'..='\u{1343f}'
        | '\u{1bca0}'..='\u{1bca3}'
        | '\u{1d173}'..='\u{1d17a}'
        | '\u{e0000}'..='\u{e0fff}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_are_quoted_whole_and_long_ones_cut() {
        assert_eq!(excerpt("contents"), "contents");
        let long = "x".repeat(10_000);
        let quoted = excerpt(&long);
        assert_eq!(quoted.chars().count(), MAX_QUOTED + 1);
        assert!(quoted.ends_with('…'));
        assert_eq!(excerpt(&"y".repeat(MAX_QUOTED)), "y".repeat(MAX_QUOTED));
        let quoted = excerpt_name(&long);
        assert_eq!(quoted.chars().count(), MAX_QUOTED_NAME + 1);
        assert!(quoted.ends_with('…'));
        let key = "projects/acme-prod/locations/europe-west1/keyRings/github/cryptoKeys/app/cryptoKeyVersions/12";
        assert_eq!(excerpt_name(key), key);
        assert_eq!(excerpt_name("a\u{1b}[2Jb"), "a?[2Jb");
    }

    #[test]
    fn control_characters_cannot_reach_the_log() {
        assert_eq!(excerpt("a\n::warning::x\u{1b}[31m"), "a?::warning::x?[31m");
        assert_eq!(
            printable("\u{1b}]52;c;eA==\u{7}\u{9b}2J".chars()),
            "?]52;c;eA==??2J",
            "OSC 52 (a clipboard write) and an 8-bit CSI"
        );
        assert_eq!(
            printable("evil\u{202e}txt.exe\u{200b}\u{feff}\u{fe0f}\u{34f}é".chars()),
            "evil?txt.exe????é"
        );
    }
}
