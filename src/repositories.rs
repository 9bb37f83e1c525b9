//! The `repositories` input: entries as names, `owner/name` or numeric ids, checked against GitHub's naming rules.

use std::collections::BTreeMap;

use crate::excerpt::excerpt;

/// GitHub's limit on repositories in one installation token.
pub const MAX_REPOSITORIES: usize = 500;

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
/// Every invalid entry is named in the error, not just the first.
pub fn parse(text: &str) -> Result<Vec<Entry>, String> {
    let mut entries = Vec::new();
    let mut bad = Vec::new();
    for raw in text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
    {
        match parse_entry(raw) {
            Ok(entry) if !entries.contains(&entry) => entries.push(entry),
            Ok(_) => {}
            Err(why) => bad.push(format!("`{}` {why}", excerpt(raw))),
        }
    }
    if !bad.is_empty() {
        return Err(format!("invalid entries: {}", bad.join("; ")));
    }
    if entries.len() > MAX_REPOSITORIES {
        return Err(format!(
            "{} repositories given, but one token can cover at most {MAX_REPOSITORIES}",
            entries.len()
        ));
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
