//! The `repositories` input.
//!
//! Entries as names, `owner/name` or numeric ids, checked against GitHub's naming rules.

use std::collections::{BTreeMap, HashSet};

use crate::excerpt::excerpt;

/// GitHub's limit on repositories in one installation token.
pub const MAX_REPOSITORIES: usize = 500;

/// The most text the input may hold: 500 entries of `owner/name` at GitHub's longest
/// names (100 characters each) and a separator take 101,500 bytes. A longer input is
/// refused before it is read, so that no input costs more than a few milliseconds.
pub const MAX_REPOSITORIES_BYTES: usize = 128 * 1024;

/// How many entries are read, duplicates and invalid ones included, before the input
/// is refused: ten for each repository a token can cover.
pub const MAX_ENTRIES: usize = 10 * MAX_REPOSITORIES;

/// How many invalid entries an error names; it counts the rest.
const MAX_NAMED_ERRORS: usize = 10;

/// One entry of the `repositories` input.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Entry {
    /// A name, with its owner when the entry gave one (`owner/name`).
    Name { owner: Option<String>, name: String },
    /// A numeric repository id.
    Id(u64),
}

/// Checks a repository or owner name against GitHub's rules: letters, digits, `-`, `_`, `.`,
/// at most 100 characters, not `.` or `..` and no `..` inside.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        && !name.contains("..")
        && name != "."
}

/// Parses one entry. Pure digits are an id; `owner/name` carries its owner.
pub fn parse_entry(raw: &str) -> Result<Entry, String> {
    if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) {
        return match raw.parse::<u64>() {
            Ok(id) if id > 0 => Ok(Entry::Id(id)),
            _ => Err("is not a valid repository id".into()),
        };
    }
    let (owner, name) = match raw.split_once('/') {
        Some((owner, name)) => (Some(owner), name),
        None => (None, raw),
    };
    if name.contains('/') {
        return Err("has more than one `/`".into());
    }
    if let Some(owner) = owner {
        if !valid_name(owner) {
            return Err("has an owner that is not a valid account name".into());
        }
    }
    if !valid_name(name) {
        return Err(
            "is not a valid repository name (letters, digits, `-`, `_`, `.`; at most 100)".into(),
        );
    }
    Ok(Entry::Name {
        owner: owner.map(str::to_string),
        name: name.to_string(),
    })
}

/// Parses the whole input: entries separated by commas, spaces or newlines, duplicates dropped.
/// Invalid entries are counted in the error, the first ten named; reading stops at the
/// 501st distinct entry, and at the 5001st of any kind. Takes time in proportion to
/// the text, which may be at most [`MAX_REPOSITORIES_BYTES`].
pub fn parse(text: &str) -> Result<Vec<Entry>, String> {
    if text.len() > MAX_REPOSITORIES_BYTES {
        return Err(format!(
            "is {} bytes long; at most {MAX_REPOSITORIES_BYTES} bytes are read \
             ({MAX_REPOSITORIES} entries of `owner/name` at GitHub's longest names fit)",
            text.len()
        ));
    }
    let mut entries = Vec::new();
    let mut seen = HashSet::new();
    let mut bad = Vec::new();
    let mut bad_count = 0usize;
    for (n, raw) in text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .enumerate()
    {
        if n == MAX_ENTRIES {
            return Err(format!(
                "has more than {MAX_ENTRIES} entries (duplicates and invalid ones included); \
                 one token can cover at most {MAX_REPOSITORIES} repositories"
            ));
        }
        match parse_entry(raw) {
            Ok(entry) => {
                if !seen.contains(&entry) {
                    seen.insert(entry.clone());
                    entries.push(entry);
                }
                if entries.len() > MAX_REPOSITORIES {
                    return Err(format!(
                        "more than {MAX_REPOSITORIES} repositories given, but one token can cover at most {MAX_REPOSITORIES}"
                    ));
                }
            }
            Err(why) => {
                bad_count += 1;
                if bad.len() < MAX_NAMED_ERRORS {
                    bad.push(format!("`{}` {why}", excerpt(raw)));
                }
            }
        }
    }
    if bad_count > bad.len() {
        bad.push(format!("and {} more", bad_count - bad.len()));
    }
    if !bad.is_empty() {
        return Err(format!("invalid entries: {}", bad.join("; ")));
    }
    Ok(entries)
}

/// The repositories one owner's token should cover.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnerRepos {
    pub names: Vec<String>,
    pub ids: Vec<u64>,
}

impl OwnerRepos {
    pub fn is_empty(&self) -> bool {
        self.names.is_empty() && self.ids.is_empty()
    }
}

/// Groups entries by owner: entries without one go to `default_owner`. Owners and names
/// are case-insensitive on GitHub, so `Acme/Web` and `acme/web` are one repository; the
/// first spelling seen is kept.
pub fn group_by_owner(entries: &[Entry], default_owner: &str) -> BTreeMap<String, OwnerRepos> {
    let mut groups: BTreeMap<String, OwnerRepos> = BTreeMap::new();
    for entry in entries {
        let owner = match entry {
            Entry::Name {
                owner: Some(owner), ..
            } => owner.as_str(),
            _ => default_owner,
        };
        let key = groups
            .keys()
            .find(|k| k.eq_ignore_ascii_case(owner))
            .cloned()
            .unwrap_or_else(|| owner.to_string());
        let group = groups.entry(key).or_default();
        match entry {
            Entry::Name { name, .. } => {
                if !group.names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
                    group.names.push(name.clone());
                }
            }
            Entry::Id(id) => {
                if !group.ids.contains(id) {
                    group.ids.push(*id);
                }
            }
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(owner: Option<&str>, n: &str) -> Entry {
        Entry::Name {
            owner: owner.map(str::to_string),
            name: n.to_string(),
        }
    }

    #[test]
    fn every_separator_and_form() {
        let e = parse("api, acme/web\n  12345\tdocs.github.io,,").unwrap();
        assert_eq!(
            e,
            vec![
                name(None, "api"),
                name(Some("acme"), "web"),
                Entry::Id(12345),
                name(None, "docs.github.io")
            ]
        );
    }

    #[test]
    fn duplicates_are_dropped() {
        assert_eq!(parse("a a,a").unwrap(), vec![name(None, "a")]);
    }

    #[test]
    fn empty_is_no_entries() {
        assert!(parse("  \n").unwrap().is_empty());
    }

    #[test]
    fn invalid_entries_are_all_named() {
        let e = parse("ok, ../etc, a/b/c, bad$name, x/..,  -fine").unwrap_err();
        assert!(e.contains("`../etc`"), "{e}");
        assert!(e.contains("`a/b/c` has more than one `/`"), "{e}");
        assert!(e.contains("`bad$name`"), "{e}");
        assert!(e.contains("`x/..`"), "{e}");
        assert!(!e.contains("`ok`"), "{e}");
        assert!(!e.contains("-fine"), "{e}");
    }

    #[test]
    fn names_follow_githubs_rules() {
        assert!(valid_name("a-b_c.d"));
        assert!(!valid_name(""));
        assert!(!valid_name("."));
        assert!(!valid_name("a..b"));
        assert!(!valid_name(&"x".repeat(101)));
        assert!(valid_name(&"x".repeat(100)));
        assert!(!valid_name("a%2Fb"));
        assert!(!valid_name("a?b"));
    }

    #[test]
    fn zero_is_not_an_id() {
        assert!(parse("0").is_err());
        assert!(parse("99999999999999999999999").is_err());
    }

    #[test]
    fn control_characters_are_not_echoed() {
        let e = parse("a\u{1b}[31m").unwrap_err();
        assert!(!e.contains('\u{1b}'), "{e}");
    }

    #[test]
    fn at_most_500() {
        let list: Vec<String> = (1..=500).map(|i| format!("r{i}")).collect();
        assert_eq!(parse(&list.join(",")).unwrap().len(), 500);
        let list: Vec<String> = (1..=501).map(|i| format!("r{i}")).collect();
        let e = parse(&list.join(",")).unwrap_err();
        assert!(e.contains("at most 500"), "{e}");
    }

    #[test]
    fn a_long_input_is_refused_with_the_limit_and_many_errors_are_counted() {
        let longest = format!("{}/{}", "o".repeat(100), "r".repeat(100));
        let legit: Vec<String> = (0..MAX_REPOSITORIES)
            .map(|i| format!("{}{i:03}", &longest[..longest.len() - 3]))
            .collect();
        let legit = legit.join("\n");
        assert!(legit.len() < MAX_REPOSITORIES_BYTES);
        assert_eq!(parse(&legit).unwrap().len(), MAX_REPOSITORIES);
        let e = parse(&"a,".repeat(MAX_REPOSITORIES_BYTES / 2 + 1)).unwrap_err();
        assert!(e.contains("at most 131072 bytes are read"), "{e}");
        let e = parse(&"a ".repeat(MAX_ENTRIES + 1)).unwrap_err();
        assert!(e.contains("more than 5000 entries"), "{e}");
        assert_eq!(parse(&"a ".repeat(MAX_ENTRIES)).unwrap().len(), 1);
        let e = parse(&"$ ".repeat(1000)).unwrap_err();
        assert_eq!(e.matches("`$`").count(), 10, "{e}");
        assert!(e.ends_with("and 990 more"), "{e}");
    }

    #[test]
    fn grouping_by_owner() {
        let e = parse("api, acme/web, 7, widgets/site, ACME/Web, Acme/docs").unwrap();
        let g = group_by_owner(&e, "acme");
        assert_eq!(g.len(), 2);
        assert_eq!(
            g["acme"],
            OwnerRepos {
                names: vec!["api".into(), "web".into(), "docs".into()],
                ids: vec![7]
            }
        );
        assert_eq!(g["widgets"].names, vec!["site".to_string()]);
    }
}
