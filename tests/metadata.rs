//! Keeps generated and copied metadata honest: action.yml's `permission-*` inputs against
//! GitHub's permission list, and the repository's copy of that list against `../shared`.

use std::path::Path;

use app_token::inputs::permission_input_name;
use app_token::permissions::APP_PERMISSIONS;

const BEGIN: &str = "  # BEGIN GENERATED permission inputs";
const END: &str = "  # END GENERATED permission inputs";

fn generated_block() -> String {
    let mut out = String::new();
    for p in APP_PERMISSIONS {
        let description = p.description.replace('"', "'");
        out.push_str(&format!(
            "  {}:\n    description: \"{}. Levels: {}.\"\n    required: false\n",
            permission_input_name(p.name),
            description.trim_end_matches('.'),
            p.levels.join(" or ")
        ));
    }
    out
}

#[test]
fn action_yml_declares_every_permission_input() {
    let text = std::fs::read_to_string("action.yml").unwrap();
    let start = text.find(BEGIN).expect("action.yml has the BEGIN marker");
    let start = start + text[start..].find('\n').unwrap() + 1;
    let end = text.find(END).expect("action.yml has the END marker");
    let expected = generated_block();
    if std::env::var("APP_TOKEN_BLESS").as_deref() == Ok("1") {
        let updated = format!("{}{}{}", &text[..start], expected, &text[end..]);
        std::fs::write("action.yml", updated).unwrap();
        return;
    }
    assert_eq!(
        &text[start..end],
        expected,
        "action.yml's permission-* inputs drifted from github-api/app-token-endpoints.json; \
         regenerate with APP_TOKEN_BLESS=1 cargo test --test metadata"
    );
}

#[test]
fn action_yml_parses_and_names_exactly_the_inputs_the_code_reads() {
    let text = std::fs::read_to_string("action.yml").unwrap();
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
    let inputs = doc["inputs"].as_mapping().unwrap();
    let names: Vec<&str> = inputs.keys().filter_map(|k| k.as_str()).collect();
    let permission_inputs = names
        .iter()
        .filter(|n| n.starts_with("permission-"))
        .count();
    assert_eq!(permission_inputs, APP_PERMISSIONS.len());
    for core in [
        "app-id",
        "client-id",
        "private-key",
        "owner",
        "repositories",
        "permissions",
        "installation-id",
        "github-api-url",
        "skip-token-revoke",
    ] {
        assert!(names.contains(&core), "action.yml lacks input {core}");
    }
    assert_eq!(doc["runs"]["using"].as_str(), Some("docker"));
    assert_eq!(
        doc["runs"]["entrypoint"].as_str(),
        Some("/usr/local/bin/app-token")
    );
    assert_eq!(
        doc["runs"]["post-entrypoint"].as_str(),
        Some("/usr/local/bin/app-token-post")
    );
}

#[test]
fn the_repository_copy_matches_shared() {
    let shared = Path::new("../shared/github-api/app-token-endpoints.json");
    if !shared.exists() {
        eprintln!("no ../shared beside this clone: nothing to compare the copy with");
        return;
    }
    let copy = std::fs::read("github-api/app-token-endpoints.json").unwrap();
    let original = std::fs::read(shared).unwrap();
    assert!(
        copy == original,
        "github-api/app-token-endpoints.json differs from ../shared/github-api/app-token-endpoints.json: \
         copy the new one in and regenerate action.yml (APP_TOKEN_BLESS=1 cargo test --test metadata)"
    );
}
