//! Property tests for the input parsers and the file-command writer: no input panics them,
//! and no secret reaches their output. Bounded case counts keep CI quick.

use app_token::action::runner::{escape_data, escape_property, heredoc_entry, random_delimiter};
use app_token::sign::pem;
use app_token::{permissions, repositories};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// A permission name: usually one of GitHub's (as is, or with `-` for `_`), sometimes
/// one with a letter dropped, sometimes noise.
fn name() -> impl Strategy<Value = String> {
    let known = prop::sample::select(
        permissions::APP_PERMISSIONS
            .iter()
            .map(|p| p.name)
            .collect::<Vec<_>>(),
    );
    prop_oneof![
        4 => known.clone().prop_map(str::to_string),
        2 => known.clone().prop_map(|n| n.replace('_', "-")),
        1 => known.prop_map(|n| n[1..].to_string()),
        1 => "[a-z_]{1,12}",
    ]
}

fn level() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["read", "write", "admin", "none"]).prop_map(str::to_string)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn permissions_never_panic(text in "\\PC{0,80}") {
        let _ = permissions::parse(&text);
    }

    /// Mappings whose names are mostly real permissions (some in `-` form, some
    /// misspelt) at levels that are mostly real: every accepted mapping holds only
    /// known names at allowed levels, and every mapping of known names at allowed
    /// levels, each name at one level, is accepted.
    #[test]
    fn permissions_accept_exactly_known_names_at_allowed_levels(
        pairs in prop::collection::vec((name(), level()), 1..5)
    ) {
        let text: String = pairs.iter().map(|(n, l)| format!("{n}: {l}\n")).collect();
        let valid = |(n, l): &(String, String)| {
            permissions::find(&n.replace('-', "_"))
                .is_some_and(|p| p.levels.iter().any(|x| x.as_str() == l))
        };
        // A name given twice (even as `a-b` and `a_b`) at two levels is refused.
        let first: std::collections::BTreeMap<String, &String> = pairs
            .iter()
            .rev()
            .map(|(n, l)| (n.replace('-', "_"), l))
            .collect();
        let consistent = pairs
            .iter()
            .all(|(n, l)| first.get(&n.replace('-', "_")) == Some(&l));
        match permissions::parse(&text) {
            Ok(Some(parsed)) => {
                for (name, level) in &parsed {
                    let p = permissions::find(name).expect("only known permissions come out");
                    prop_assert!(p.levels.contains(level));
                }
                prop_assert!(pairs.iter().all(valid), "accepted {text:?}");
            }
            Ok(None) => prop_assert!(false, "a non-empty mapping gave nothing: {text:?}"),
            Err(e) => prop_assert!(
                !(pairs.iter().all(valid) && consistent),
                "refused a valid mapping {text:?}: {e}"
            ),
        }
    }

    #[test]
    fn repositories_never_panic_and_only_valid_names_pass(text in "\\PC{0,120}") {
        if let Ok(entries) = repositories::parse(&text) {
            prop_assert!(entries.len() <= repositories::MAX_REPOSITORIES);
            for e in entries {
                if let repositories::Entry::Name { owner, name } = e {
                    prop_assert!(repositories::valid_name(&name));
                    prop_assert!(owner.map(|o| repositories::valid_name(&o)).unwrap_or(true));
                }
            }
        }
    }

    #[test]
    fn repository_errors_never_carry_control_characters(text in "[a-z/\\n\\r\\x1b:,]{0,60}") {
        if let Err(e) = repositories::parse(&text) {
            prop_assert!(!e.chars().any(|c| c.is_control()));
        }
    }

    #[test]
    fn key_errors_never_echo_the_key(body in "[A-Za-z0-9+/=]{8,64}", header in prop::sample::select(vec![
        "-----BEGIN RSA PRIVATE KEY-----", "-----BEGIN PRIVATE KEY-----", "-----BEGIN OPENSSH PRIVATE KEY-----", "", "garbage",
    ])) {
        let raw = format!("{header}\n{body}\n-----END RSA PRIVATE KEY-----\n");
        if let Err(e) = pem::parse_key(&raw) {
            prop_assert!(!e.contains(&body), "{e}");
        }
        if let Err(e) = pem::parse_key(&raw.replace('\n', "\\n")) {
            prop_assert!(!e.contains(&body), "{e}");
        }
    }

    #[test]
    fn escaped_values_stay_on_one_line(value in "\\PC*|[\\n\\r%:,]{0,20}") {
        let data = escape_data(&value);
        let prop = escape_property(&value);
        prop_assert!(!data.contains('\n') && !data.contains('\r'));
        prop_assert!(!prop.contains('\n') && !prop.contains(',') && !prop.contains(':'));
    }

    #[test]
    fn heredocs_round_trip_any_value(value in "[^\\r]{0,200}") {
        let delim = random_delimiter().unwrap();
        let entry = heredoc_entry("token", &value, &delim).unwrap();
        let body = entry.strip_prefix(&format!("token<<{delim}\n")).unwrap();
        let back = body.strip_suffix(&format!("\n{delim}\n")).unwrap();
        prop_assert_eq!(back, value.as_str());
    }
}
