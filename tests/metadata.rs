//! Keeps generated and copied metadata honest: action.yml's inputs against the list the
//! code reads, its `permission-*` inputs against GitHub's permission list, and the
//! repository's copy of that list against `../shared` where there is one.

use std::collections::BTreeSet;
use std::path::Path;

use crate::common::not_checked;
use app_token::action::inputs::{all_inputs, permission_input_name};
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
            p.levels_text(" or ")
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
         regenerate with APP_TOKEN_BLESS=1 cargo test --test integration metadata::"
    );
}

#[test]
fn action_yml_declares_exactly_the_inputs_the_code_reads() {
    let text = std::fs::read_to_string("action.yml").unwrap();
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
    let declared: BTreeSet<String> = doc["inputs"]
        .as_mapping()
        .expect("action.yml has inputs")
        .keys()
        .filter_map(|k| k.as_str().map(str::to_string))
        .collect();
    let read: BTreeSet<String> = all_inputs().into_iter().collect();
    let extra: Vec<_> = declared.difference(&read).collect();
    let missing: Vec<_> = read.difference(&declared).collect();
    assert!(
        extra.is_empty() && missing.is_empty(),
        "action.yml declares inputs the code never reads: {extra:?}; the code reads inputs action.yml lacks: {missing:?}"
    );
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

/// The copy must equal `../shared`'s. A clone without `../shared` beside it (GitHub's CI,
/// a user's clone) cannot compare: the test says so loudly instead of passing quietly,
/// and fails when `APP_TOKEN_REQUIRE_SHARED=1` (set by .ci/run where shared/ exists).
#[test]
fn the_repository_copy_matches_shared() {
    let shared = Path::new("../shared/github-api/app-token-endpoints.json");
    if !shared.exists() {
        return not_checked(
            "the copy in github-api/ against shared/'s",
            &format!("no {} beside this clone", shared.display()),
            "APP_TOKEN_REQUIRE_SHARED",
        );
    }
    let copy = std::fs::read("github-api/app-token-endpoints.json").unwrap();
    let original = std::fs::read(shared).unwrap();
    assert!(
        copy == original,
        "github-api/app-token-endpoints.json differs from ../shared/github-api/app-token-endpoints.json: \
         copy the new one in and regenerate action.yml (APP_TOKEN_BLESS=1 cargo test --test integration metadata::)"
    );
}

/// native/action.yml: the root action.yml with the header and `runs:` of a node action
/// that starts the launcher. Generated, so that it cannot drift.
fn native_action_yml(root: &str) -> String {
    let runs = root.find("\nruns:\n").expect("action.yml has runs:") + 1;
    let body = &root[..runs];
    let inputs = body.find("\ninputs:\n").expect("action.yml has inputs:") + 1;
    format!(
        "# GENERATED from ../action.yml (APP_TOKEN_BLESS=1 cargo test --test integration metadata::): edit that\n\
         # one. The same inputs, defaults and outputs; the binary started by a node launcher\n\
         # (main.js, post.js) rather than in a container, so it runs on Linux, macOS and\n\
         # Windows runners, with or without Docker.\n\
         name: GitHub App installation token (app-token, native)\n\
         description: >-\n  \
         The app-token action without Docker, for every runner: Linux, macOS and\n  \
         Windows. Mints a GitHub App installation token scoped to the repositories\n  \
         and permissions a job needs, masks it, and revokes it when the job ends.\n\
         author: app-token\n\
         {}\
         runs:\n  \
         using: node24\n  \
         main: main.js\n  \
         post: post.js\n  \
         post-if: always()\n",
        &body[inputs..]
    )
}

#[test]
fn native_action_yml_is_the_root_one_run_by_node() {
    let root = std::fs::read_to_string("action.yml").unwrap();
    let expected = native_action_yml(&root);
    if std::env::var("APP_TOKEN_BLESS").as_deref() == Ok("1") {
        std::fs::write("native/action.yml", &expected).unwrap();
    }
    let native = std::fs::read_to_string("native/action.yml").unwrap();
    assert!(
        native == expected,
        "native/action.yml is not action.yml's inputs and outputs run by node; \
         regenerate it with APP_TOKEN_BLESS=1 cargo test --test integration metadata::"
    );
    // And by meaning: the same inputs (with their defaults and required), the same outputs.
    let parse = |t: &str| serde_yaml_ng::from_str::<serde_yaml_ng::Value>(t).unwrap();
    let (root, native) = (parse(&root), parse(&native));
    for key in ["inputs", "outputs"] {
        let names = |doc: &serde_yaml_ng::Value| -> BTreeSet<String> {
            doc[key]
                .as_mapping()
                .unwrap()
                .keys()
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect()
        };
        assert_eq!(names(&root), names(&native), "{key}");
    }
    for (name, input) in root["inputs"].as_mapping().unwrap() {
        for field in ["default", "required"] {
            assert_eq!(
                input[field], native["inputs"][name][field],
                "{name:?}: {field}"
            );
        }
    }
    assert_eq!(native["runs"]["using"].as_str(), Some("node24"));
    for (field, script) in [("main", "main.js"), ("post", "post.js")] {
        assert_eq!(native["runs"][field].as_str(), Some(script));
        assert!(Path::new("native").join(script).is_file(), "{script}");
    }
}
