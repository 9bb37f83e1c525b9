//! App permissions.
//!
//! Parsing the `permissions` input, validating names and levels, and comparing grants.
//!
//! The list of permissions is generated at build time from the repository's copy of
//! GitHub's REST description (`github-api/app-token-endpoints.json`), never typed by hand.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_yaml_ng::Value as Yaml;

use crate::excerpt::excerpt;

/// A permission's level, ordered: a grant covers a request at its level or below.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Read,
    Write,
    Admin,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Read => "read",
            Level::Write => "write",
            Level::Admin => "admin",
        }
    }

    /// `read`, `write` or `admin`, in any case, surrounding spaces ignored.
    pub fn parse(text: &str) -> Option<Level> {
        match text.trim().to_ascii_lowercase().as_str() {
            "read" => Some(Level::Read),
            "write" => Some(Level::Write),
            "admin" => Some(Level::Admin),
            _ => None,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One app permission and the levels GitHub allows for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permission {
    pub name: &'static str,
    pub levels: &'static [Level],
    pub description: &'static str,
}

impl Permission {
    /// `read, write` for messages.
    pub fn levels_text(&self, separator: &str) -> String {
        self.levels
            .iter()
            .map(|l| l.as_str())
            .collect::<Vec<_>>()
            .join(separator)
    }
}

include!(concat!(env!("OUT_DIR"), "/app_permissions.rs"));

/// A requested or granted set of permissions, in GitHub's `snake_case` names.
pub type Permissions = BTreeMap<String, Level>;

/// Looks a permission up by GitHub's name.
pub fn find(name: &str) -> Option<&'static Permission> {
    APP_PERMISSIONS.iter().find(|p| p.name == name)
}

/// GitHub's form of a permission name: lower case, `_` for `-`.
pub fn normalize_name(name: &str) -> String {
    name.trim().to_ascii_lowercase().replace('-', "_")
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The nearest valid permission name, if one is close enough to be a likely typo.
pub fn suggest(name: &str) -> Option<&'static str> {
    let name = normalize_name(name);
    // No permission name is longer than this; a longer input is no typo of one.
    if name.len() > 80 {
        return None;
    }
    let (best, distance) = APP_PERMISSIONS
        .iter()
        .map(|p| (p.name, edit_distance(&name, p.name)))
        .min_by_key(|(_, d)| *d)?;
    let limit = (name.chars().count() / 3).max(2);
    (distance <= limit).then_some(best)
}

/// Checks one `name: level` pair and gives it back in GitHub's form.
pub fn validate(name: &str, level: &str) -> Result<(String, Level), String> {
    let key = normalize_name(name);
    let Some(permission) = find(&key) else {
        let hint = match suggest(&key) {
            Some(s) => format!(" Did you mean `{s}`?"),
            None => " See GitHub's list of app permissions.".to_string(),
        };
        return Err(format!(
            "unknown permission `{}`.{hint}",
            excerpt(name.trim())
        ));
    };
    match Level::parse(level) {
        Some(parsed) if permission.levels.contains(&parsed) => Ok((key, parsed)),
        _ => Err(format!(
            "`{}` cannot be `{}`: allowed levels are {}",
            permission.name,
            excerpt(level.trim()),
            permission.levels_text(", ")
        )),
    }
}

fn insert(out: &mut Permissions, name: &str, level: &str) -> Result<(), String> {
    let (key, level) = validate(name, level)?;
    if let Some(previous) = out.get(&key) {
        if *previous != level {
            return Err(format!(
                "`{key}` is given twice, as `{previous}` and as `{level}`"
            ));
        }
    }
    out.insert(key, level);
    Ok(())
}

fn scalar_text(value: &Yaml) -> Option<String> {
    match value {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Bool(b) => Some(b.to_string()),
        Yaml::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Parses `name:level,name:level` (the short form for one-line inputs and flags).
fn parse_pairs(text: &str) -> Result<Permissions, String> {
    let mut out = Permissions::new();
    for pair in text
        .split([',', '\n'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let Some((name, level)) = pair.split_once([':', '=']) else {
            return Err(format!("`{}` is not `name: level`", excerpt(pair)));
        };
        insert(&mut out, name, level)?;
    }
    Ok(out)
}

/// A YAML document as far as the `permissions` input cares: a mapping is kept as its
/// entries in order, duplicates included (serde_yaml_ng's own mapping refuses a repeated
/// key with only a position, and we want to name it).
enum Document {
    Empty,
    Text,
    Entries(Vec<(Yaml, Yaml)>),
    Other,
}

struct DocumentVisitor;

impl<'de> Visitor<'de> for DocumentVisitor {
    type Value = Document;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping of permission to level")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Document, E> {
        Ok(Document::Empty)
    }

    fn visit_none<E: de::Error>(self) -> Result<Document, E> {
        Ok(Document::Empty)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Document, E> {
        Ok(Document::Text)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Document, E> {
        Ok(Document::Other)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Document, E> {
        Ok(Document::Other)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Document, E> {
        Ok(Document::Other)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Document, E> {
        Ok(Document::Other)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Document, A::Error> {
        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
        Ok(Document::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Document, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry::<Yaml, Yaml>()? {
            entries.push(entry);
        }
        Ok(Document::Entries(entries))
    }
}

impl<'de> Deserialize<'de> for Document {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DocumentVisitor)
    }
}

/// The most text the `permissions` input may hold. Every permission GitHub has, at its
/// highest level, one a line, takes less than a quarter of it (see the tests).
pub const MAX_PERMISSIONS_BYTES: usize = 8 * 1024;

/// How deeply the `permissions` input may nest brackets: `{name: level}` is one level,
/// and a mapping of names to levels never needs more than two.
pub const MAX_PERMISSIONS_DEPTH: usize = 2;

/// Refuses, before the YAML parser sees it, text that a mapping of permissions never
/// is: too long, nested too deep, or with anchors and aliases. The parser's cost grows
/// with the square of the nesting (120 KB of `[` takes seconds), and aliases of
/// aliases multiply (8 KB of them took 17 s); this check takes time in proportion to
/// the text. Brackets are counted wherever they are, in quotes and comments too, and
/// so is a `&` or `*` that starts a word: no permission name or level has either.
fn within_limits(text: &str) -> Result<(), String> {
    if text.len() > MAX_PERMISSIONS_BYTES {
        return Err(format!(
            "is {} bytes long; at most {MAX_PERMISSIONS_BYTES} bytes are read \
             (a mapping of every permission is far shorter)",
            text.len()
        ));
    }
    let mut depth = 0usize;
    let mut previous = b'\n';
    for b in text.bytes() {
        let starts_a_word = previous.is_ascii_whitespace() || b"[{,:".contains(&previous);
        previous = b;
        match b {
            b'&' | b'*' if starts_a_word => {
                return Err(
                    "uses YAML anchors or aliases (`&`, `*`), which a mapping of permission \
                     to level never needs"
                        .into(),
                );
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_PERMISSIONS_DEPTH {
                    return Err(format!(
                        "nests brackets deeper than {MAX_PERMISSIONS_DEPTH} levels; \
                         give a mapping of permission to level, e.g. `contents: read`"
                    ));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Parses the `permissions` input: a YAML (or JSON) mapping of permission to level,
/// or the short form `name:level,name:level`. Empty text means "no permissions given".
/// A permission given twice at two levels is an error that names it. Text over
/// [`MAX_PERMISSIONS_BYTES`], or nested deeper than [`MAX_PERMISSIONS_DEPTH`], is refused.
pub fn parse(text: &str) -> Result<Option<Permissions>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    within_limits(text)?;
    let entries = match serde_yaml_ng::from_str::<Document>(text) {
        Ok(Document::Entries(entries)) => entries,
        Ok(Document::Empty) => return Ok(None),
        Ok(Document::Text) | Err(_) if !text.contains('\n') || !text.contains(": ") => {
            return parse_pairs(text).map(Some);
        }
        Ok(_) => {
            return Err("must be a mapping of permission to level, e.g. `contents: read`".into())
        }
        Err(e) => return Err(format!("is not valid YAML: {}", yaml_error_location(&e))),
    };
    let mut out = Permissions::new();
    for (name, level) in &entries {
        let Some(name) = scalar_text(name) else {
            return Err("every key must be a permission name".into());
        };
        let Some(level) = scalar_text(level) else {
            return Err(format!(
                "`{}` must have a level such as `read` or `write`",
                excerpt(&name)
            ));
        };
        insert(&mut out, &name, &level)?;
    }
    if out.is_empty() {
        return Ok(None);
    }
    Ok(Some(out))
}

/// A YAML error's position without the offending text (which could be anything the user pasted).
fn yaml_error_location(e: &serde_yaml_ng::Error) -> String {
    match e.location() {
        Some(l) => format!("error at line {}, column {}", l.line(), l.column()),
        None => "it does not parse".to_string(),
    }
}

/// The same permission at two levels, from two sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict<S> {
    pub name: String,
    pub first: (S, Level),
    pub second: (S, Level),
}

/// Merges permission sets from several sources; the same permission at two levels is a conflict.
pub fn merge<S: Copy>(sets: &[(S, &Permissions)]) -> Result<Option<Permissions>, Conflict<S>> {
    let mut out = Permissions::new();
    let mut origin: BTreeMap<&str, S> = BTreeMap::new();
    for (source, set) in sets {
        for (name, level) in set.iter() {
            match (out.get(name), origin.get(name.as_str())) {
                (Some(existing), Some(first)) if existing != level => {
                    return Err(Conflict {
                        name: name.clone(),
                        first: (*first, *existing),
                        second: (*source, *level),
                    });
                }
                _ => {
                    out.insert(name.clone(), *level);
                    origin.insert(name, *source);
                }
            }
        }
    }
    Ok((!out.is_empty()).then_some(out))
}

/// A requested permission the installation does not have (at that level).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lacking {
    pub name: String,
    pub requested: Level,
    pub granted: Option<Level>,
}

impl fmt::Display for Lacking {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.granted {
            Some(g) => write!(
                f,
                "{}: {} (the installation has {g})",
                self.name, self.requested
            ),
            None => write!(
                f,
                "{}: {} (the installation has none)",
                self.name, self.requested
            ),
        }
    }
}

/// The requested permissions that `granted` does not cover.
pub fn lacking(requested: &Permissions, granted: &Permissions) -> Vec<Lacking> {
    requested
        .iter()
        .filter(|(name, level)| granted.get(*name).is_none_or(|g| g < *level))
        .map(|(name, level)| Lacking {
            name: name.clone(),
            requested: *level,
            granted: granted.get(name).copied(),
        })
        .collect()
}

/// `contents: write, issues: read` for log lines.
pub fn describe(p: &Permissions) -> String {
    p.iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perms(pairs: &[(&str, &str)]) -> Permissions {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Level::parse(v).unwrap()))
            .collect()
    }

    #[test]
    fn the_generated_table_has_every_permission() {
        assert_eq!(APP_PERMISSIONS.len(), 55);
        assert_eq!(find("workflows").unwrap().levels, [Level::Write]);
        assert_eq!(
            find("organization_projects").unwrap().levels,
            [Level::Read, Level::Write, Level::Admin]
        );
    }

    #[test]
    fn yaml_with_dashes_and_underscores() {
        let p = parse("contents: write\npull-requests: read\nsecurity_events: read\n").unwrap();
        assert_eq!(
            p,
            Some(perms(&[
                ("contents", "write"),
                ("pull_requests", "read"),
                ("security_events", "read")
            ]))
        );
    }

    #[test]
    fn every_permission_fits_well_within_the_size_limit() {
        let all: String = APP_PERMISSIONS
            .iter()
            .map(|p| format!("{}: {}\n", p.name.replace('_', "-"), p.levels_text("")))
            .collect();
        assert!(all.len() * 4 < MAX_PERMISSIONS_BYTES, "{}", all.len());
        let as_levels: String = APP_PERMISSIONS
            .iter()
            .map(|p| format!("{}: {}\n", p.name, p.levels.last().unwrap()))
            .collect();
        assert_eq!(
            parse(&as_levels).unwrap().unwrap().len(),
            APP_PERMISSIONS.len()
        );
        let json = serde_json::json!({"contents": "read", "issues": "write"}).to_string();
        assert!(parse(&json).unwrap().is_some(), "JSON is one level deep");
    }

    #[test]
    fn long_or_deeply_nested_text_is_refused_with_the_limit() {
        let e = parse(&format!(
            "contents: read\n#{}",
            "x".repeat(MAX_PERMISSIONS_BYTES)
        ))
        .unwrap_err();
        assert!(e.contains("at most 8192 bytes are read"), "{e}");
        let nested = format!("a: {}{}", "[".repeat(60_000), "]".repeat(60_000));
        let e = parse(&nested).unwrap_err();
        assert!(e.contains("at most 8192 bytes"), "{e}");
        let nested = format!("a: {}{}", "[".repeat(3_000), "]".repeat(3_000));
        let e = parse(&nested).unwrap_err();
        assert!(e.contains("nests brackets deeper than 2 levels"), "{e}");
        let e = parse("{contents: [[read]]}").unwrap_err();
        assert!(e.contains("deeper than 2"), "{e}");
        for aliased in [
            "a: &x read\nb: *x",
            "[*a]",
            "{\"a\":*b}",
            "a: read # *note*",
        ] {
            let e = parse(aliased).unwrap_err();
            assert!(e.contains("anchors or aliases"), "{aliased}: {e}");
        }
        assert!(parse("contents: read # R&D, 2*3").unwrap().is_some());
        // Two levels parse, and are then refused for what they are.
        let e = parse("contents: [read]").unwrap_err();
        assert!(e.contains("must have a level"), "{e}");
    }

    #[test]
    fn json_is_yaml() {
        let p = parse(r#"{"contents":"read","Pull-Requests":"WRITE"}"#).unwrap();
        assert_eq!(
            p,
            Some(perms(&[("contents", "read"), ("pull_requests", "write")]))
        );
    }

    #[test]
    fn short_pairs_form() {
        assert_eq!(
            parse("contents:write,issues:read").unwrap(),
            Some(perms(&[("contents", "write"), ("issues", "read")]))
        );
        assert_eq!(
            parse("contents: write").unwrap(),
            Some(perms(&[("contents", "write")]))
        );
    }

    #[test]
    fn empty_means_none() {
        assert_eq!(parse("").unwrap(), None);
        assert_eq!(parse("  \n ").unwrap(), None);
        assert_eq!(parse("{}").unwrap(), None);
    }

    #[test]
    fn unknown_names_get_a_suggestion() {
        let e = parse("contens: read").unwrap_err();
        assert!(e.contains("unknown permission `contens`"), "{e}");
        assert!(e.contains("Did you mean `contents`?"), "{e}");
        let e = parse("pull-request: read").unwrap_err();
        assert!(e.contains("`pull_requests`"), "{e}");
        let e = parse("zzzzzzzzzzzzzzzzzzzz: read").unwrap_err();
        assert!(!e.contains("Did you mean"), "{e}");
    }

    #[test]
    fn levels_are_checked_per_permission() {
        let e = parse("workflows: read").unwrap_err();
        assert!(e.contains("allowed levels are write"), "{e}");
        let e = parse("contents: admin").unwrap_err();
        assert!(e.contains("read, write"), "{e}");
        assert!(parse("organization_projects: admin").is_ok());
    }

    #[test]
    fn non_mappings_and_bad_values_are_refused() {
        assert!(parse("- contents\n- issues: read\n").is_err());
        assert!(parse("contents:\n  - read\n")
            .unwrap_err()
            .contains("must have a level"));
    }

    #[test]
    fn a_permission_given_twice_is_named() {
        let e = parse("contents: read\nissues: write\ncontents: write\n").unwrap_err();
        assert_eq!(e, "`contents` is given twice, as `read` and as `write`");
        let e = parse("pull-requests: read\npull_requests: write\n").unwrap_err();
        assert!(e.contains("`pull_requests` is given twice"), "{e}");
        let e = parse(r#"{"contents": "read", "contents": "write"}"#).unwrap_err();
        assert!(e.contains("`contents` is given twice"), "{e}");
        assert_eq!(
            parse("contents: read\ncontents: read\n").unwrap(),
            Some(perms(&[("contents", "read")])),
            "the same level twice says the same thing"
        );
    }

    #[test]
    fn errors_quote_at_most_a_short_prefix() {
        let long = "z".repeat(5000);
        for text in [
            format!("{long}: read"),
            format!("contents: {long}"),
            format!("{long}:read,issues:write"),
        ] {
            let e = parse(&text).unwrap_err();
            assert!(e.len() < 300, "{} characters: {}", e.len(), &e[..100]);
        }
    }

    #[test]
    fn yaml_errors_do_not_echo_the_text() {
        let e = parse("contents: write\n  bad: [unclosed: secret-looking\n").unwrap_err();
        assert!(!e.contains("secret-looking"), "{e}");
    }

    #[test]
    fn merge_detects_conflicts_and_names_both_sources() {
        let a = perms(&[("contents", "write")]);
        let b = perms(&[("contents", "read")]);
        let e = merge(&[("permissions", &a), ("permission-contents", &b)]).unwrap_err();
        assert_eq!(
            e,
            Conflict {
                name: "contents".into(),
                first: ("permissions", Level::Write),
                second: ("permission-contents", Level::Read),
            }
        );
        let c = perms(&[("contents", "write"), ("issues", "read")]);
        assert_eq!(
            merge(&[("permissions", &a), ("x", &c)]).unwrap(),
            Some(c.clone())
        );
        assert_eq!(merge::<&str>(&[]).unwrap(), None);
    }

    #[test]
    fn levels_are_ordered_and_parsed_in_any_case() {
        assert!(Level::Read < Level::Write && Level::Write < Level::Admin);
        assert_eq!(Level::parse(" WRITE "), Some(Level::Write));
        assert_eq!(Level::parse("none"), None);
        assert_eq!(serde_json::to_string(&Level::Admin).unwrap(), "\"admin\"");
    }

    #[test]
    fn lacking_compares_levels() {
        let granted = perms(&[
            ("contents", "read"),
            ("issues", "write"),
            ("metadata", "read"),
        ]);
        let requested = perms(&[
            ("contents", "write"),
            ("issues", "read"),
            ("actions", "read"),
        ]);
        let l = lacking(&requested, &granted);
        assert_eq!(l.len(), 2);
        assert_eq!(
            l[0].to_string(),
            "actions: read (the installation has none)"
        );
        assert_eq!(
            l[1].to_string(),
            "contents: write (the installation has read)"
        );
    }
}
