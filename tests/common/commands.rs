//! Would the Actions runner take a line of a step's output for a workflow command? A port of the runner's two parsers (`ActionCommand.TryParseV2` and the legacy `ActionCommand.TryParse`, which `ActionCommandManager.TryProcessCommand` tries in that order on every line), in UTF-16 code units as .NET counts them.
//!
//! The runner's `StartsWith("::")` and `IndexOf("##[")` are culture-sensitive (it does
//! not run in invariant globalization mode): on Linux, ICU's collation skips
//! characters it ignores (controls, format characters such as U+200B or U+00AD,
//! variation selectors). So each line is read twice, ordinally and with those
//! characters skipped while matching, and counts as a command if either reading finds
//! one. Any command name counts, not only the registered ones: `stop-commands`
//! registers whatever token a line chooses.

/// What the runner would run: the command's name, which parser found it, and its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub name: String,
    pub legacy: bool,
    pub data: String,
}

/// .NET's `char.IsWhiteSpace`, which `string.TrimStart()` trims.
fn white(u: u16) -> bool {
    matches!(
        u,
        0x09..=0x0d | 0x20 | 0x85 | 0xa0 | 0x1680 | 0x2000..=0x200a | 0x2028 | 0x2029 | 0x202f | 0x205f | 0x3000
    )
}

/// Characters ICU's root collation ignores, generously: controls, format characters
/// (general category Cf) and the other default-ignorable code points of the BMP
/// (the combining grapheme joiner, variation selectors, fillers).
fn ignorable(u: u16) -> bool {
    matches!(
        u,
        0x00..=0x1f
            | 0x7f..=0x9f
            | 0xad
            | 0x34f
            | 0x600..=0x605
            | 0x61c
            | 0x6dd
            | 0x70f
            | 0x115f..=0x1160
            | 0x17b4..=0x17b5
            | 0x180b..=0x180f
            | 0x200b..=0x200f
            | 0x202a..=0x202e
            | 0x2060..=0x206f
            | 0xfe00..=0xfe0f
            | 0x3164
            | 0xfeff
            | 0xffa0
            | 0xfff0..=0xfffb
    )
}

#[derive(Clone, Copy)]
enum Compare {
    Ordinal,
    Culture,
}

/// `hay.IndexOf(needle, from)`: where `needle` starts, and the index just past it.
fn index_of(hay: &[u16], needle: &[u16], from: usize, how: Compare) -> Option<(usize, usize)> {
    (from..hay.len()).find_map(|start| matches_at(hay, needle, start, how).map(|end| (start, end)))
}

/// Does `needle` match `hay` at `start`? Gives the index just past the match.
fn matches_at(hay: &[u16], needle: &[u16], start: usize, how: Compare) -> Option<usize> {
    let mut i = start;
    for (n, want) in needle.iter().enumerate() {
        if let Compare::Culture = how {
            // The match starts on a character that counts; inside it, ignored ones are skipped.
            while n > 0 && i < hay.len() && ignorable(hay[i]) {
                i += 1;
            }
        }
        if hay.get(i) != Some(want) {
            return None;
        }
        i += 1;
    }
    Some(i)
}

fn utf16(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

fn text(units: &[u16]) -> String {
    String::from_utf16_lossy(units)
}

/// The command's name: `cmdInfo` up to its first space (an ordinal `IndexOf(' ')`).
fn name_of(info: &[u16]) -> String {
    let end = info.iter().position(|&u| u == 0x20).unwrap_or(info.len());
    text(&info[..end])
}

fn v2(line: &[u16], how: Compare) -> Option<Parsed> {
    let start = line.iter().position(|&u| !white(u)).unwrap_or(line.len());
    let message = &line[start..];
    let key = utf16("::");
    let starts = match how {
        Compare::Ordinal => message.starts_with(&key),
        Compare::Culture => {
            let first = message.iter().position(|&u| !ignorable(u))?;
            matches_at(message, &key, first, how).is_some()
        }
    };
    if !starts {
        return None;
    }
    let (end, _) = index_of(message, &key, key.len(), how)?;
    let info = &message[key.len()..end];
    let data = message.get(end + key.len()..).unwrap_or(&[]);
    Some(Parsed {
        name: name_of(info),
        legacy: false,
        data: text(data),
    })
}

fn legacy(line: &[u16], how: Compare) -> Option<Parsed> {
    let prefix = utf16("##[");
    let (at, _) = index_of(line, &prefix, 0, how)?;
    let rb = at + line[at..].iter().position(|&u| u == u16::from(b']'))?;
    let info_start = at + prefix.len();
    if rb < info_start {
        return None; // Substring would throw; the runner's catch gives false.
    }
    Some(Parsed {
        name: name_of(&line[info_start..rb]),
        legacy: true,
        data: text(&line[rb + 1..]),
    })
}

/// The command the runner would find in `line`, with every name counting as registered.
pub fn parse(line: &str) -> Option<Parsed> {
    let units = utf16(line);
    [Compare::Ordinal, Compare::Culture]
        .into_iter()
        .find_map(|how| v2(&units, how).or_else(|| legacy(&units, how)))
}

/// Every line of `output` (split as .NET's `ReadLine` splits: CR, LF or CRLF) that the
/// runner would take for a command, with the command.
pub fn commands(output: &str) -> Vec<(String, Parsed)> {
    output
        .split("\r\n")
        .flat_map(|l| l.split(['\r', '\n']))
        .filter_map(|l| parse(l).map(|p| (l.to_string(), p)))
        .collect()
}

/// Fails, showing them, if any line of `output` is a command but one of ours: a V2
/// command (`::name …::`) whose name is in `ours`.
pub fn assert_only_our_commands(output: &str, ours: &[&str]) {
    let stray: Vec<(String, Parsed)> = commands(output)
        .into_iter()
        .filter(|(_, p)| p.legacy || !ours.iter().any(|o| o.eq_ignore_ascii_case(&p.name)))
        .collect();
    assert!(
        stray.is_empty(),
        "lines the runner would take for commands: {stray:#?}\nin:\n{output}"
    );
}

/// The commands this action prints on purpose.
pub const OURS: &[&str] = &[
    "add-mask", "debug", "error", "warning", "notice", "group", "endgroup",
];

/// The runner's own cases (src/Test/L0/Worker/ActionCommandL0.cs), and the culture
/// readings, as a check of this port; called from tests/hostile.rs.
pub fn self_check() {
    let p = |l: &str| parse(l);
    let got = p("##[do-something k1=v1;]msg").expect("legacy");
    assert_eq!(
        (got.name.as_str(), got.legacy, got.data.as_str()),
        ("do-something", true, "msg")
    );
    assert_eq!(
        p("##[do-something]").map(|c| c.name).as_deref(),
        Some("do-something")
    );
    assert!(
        p(">>>   ##[do-something k1=v1;]msg").is_some(),
        "legacy: anywhere in a line"
    );
    let got = p("::do-something k1=v1,::msg").expect("v2");
    assert_eq!(
        (got.name.as_str(), got.legacy, got.data.as_str()),
        ("do-something", false, "msg")
    );
    assert!(p("::do-something::").is_some());
    assert!(
        p("   ::do-something k1=v1,::msg").is_some(),
        "v2: after white space"
    );
    assert!(
        p("   >>>   ::do-something k1=v1,::msg").is_none(),
        "v2: only at the start"
    );
    assert!(
        p("\u{3000}::error::x").is_some(),
        "TrimStart trims Unicode white space"
    );
    assert!(p("Echo ##[stop-commands]x").is_some());
    assert!(p("::add-mask").is_none(), "v2 needs its second ::");
    assert!(p("##[stop-commands").is_none(), "legacy needs its ]");
    // What the action prints instead.
    assert!(p("Echo ## [stop-commands]x").is_none());
    assert!(p(": :error::x").is_none());
    // Culture: a zero-width character does not hide a marker from ICU; the runner then
    // reads the name from the fourth (or third) code unit on.
    assert_eq!(
        p("#\u{200b}#[a]b").map(|c| c.name).as_deref(),
        Some("[a"),
        "found by the culture reading only"
    );
    assert_eq!(
        p("\u{feff}::stop-commands::x").map(|c| c.name).as_deref(),
        Some(":stop-commands"),
        "found by the culture reading only"
    );
}
