//! Property tests for the input parsers and the file-command writer: no input panics them,
//! and no secret reaches their output. Bounded case counts keep CI quick.

use app_token::runner::{escape_data, escape_property, heredoc_entry, random_delimiter};
use app_token::{jwt, permissions, repositories};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn permissions_never_panic_and_accept_only_known_names(text in "\\PC{0,80}|([a-z_-]{1,20}: (read|write|admin|x)\n){0,4}") {
        if let Ok(Some(parsed)) = permissions::parse(&text) {
            for (name, level) in &parsed {
                let p = permissions::find(name).expect("only known permissions come out");
                prop_assert!(p.levels.contains(&level.as_str()));
            }
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
        if let Err(e) = jwt::parse_key(&raw) {
            prop_assert!(!e.contains(&body), "{e}");
        }
        if let Err(e) = jwt::parse_key(&raw.replace('\n', "\\n")) {
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
