//! Quoting what a user gave back to them in an error: a short prefix, with control characters shown as `?`, so that no input can flood or garble the log.

/// How many characters of a value an error quotes.
pub const MAX_QUOTED: usize = 60;

/// `raw`, cut to [`MAX_QUOTED`] characters (with `…` when cut), control characters as `?`.
pub fn excerpt(raw: &str) -> String {
    let mut s: String = printable(raw.chars().take(MAX_QUOTED));
    if raw.chars().nth(MAX_QUOTED).is_some() {
        s.push('…');
    }
    s
}

/// The characters, control characters shown as `?`: text from elsewhere (GitHub's
/// answers) that a terminal must show, not obey.
pub fn printable(chars: impl Iterator<Item = char>) -> String {
    chars
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
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
    }

    #[test]
    fn control_characters_cannot_reach_the_log() {
        assert_eq!(excerpt("a\n::warning::x\u{1b}[31m"), "a?::warning::x?[31m");
    }
}
