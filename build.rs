//! Generates the permission table from the repository's copy of GitHub's REST description.
use std::fmt::Write as _;
use std::{env, fs, path::Path};

fn main() {
    let src = "github-api/app-token-endpoints.json";
    println!("cargo:rerun-if-changed={src}");
    let text = fs::read_to_string(src)
        .expect("github-api/app-token-endpoints.json is part of the repository");
    let doc: serde_json::Value =
        serde_json::from_str(&text).expect("the REST description copy is valid JSON");
    let perms = doc["app_permissions"]
        .as_object()
        .expect("app_permissions is an object");
    let mut out = String::from(
        "/// Every app permission GitHub knows, with its allowed levels and description.\n\
         pub const APP_PERMISSIONS: &[Permission] = &[\n",
    );
    for (name, spec) in perms {
        let levels: Vec<&str> = spec["levels"]
            .as_array()
            .expect("levels is an array")
            .iter()
            .map(|l| match l.as_str().expect("a level is a string") {
                "read" => "Level::Read",
                "write" => "Level::Write",
                "admin" => "Level::Admin",
                other => panic!("an unknown permission level in the REST description: {other}"),
            })
            .collect();
        let description = spec["description"].as_str().unwrap_or_default();
        writeln!(
            out,
            "    Permission {{ name: {name:?}, levels: &[{}], description: {description:?} }},",
            levels.join(", ")
        )
        .expect("writing to a String");
    }
    out.push_str("];\n");
    let dest =
        Path::new(&env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("app_permissions.rs");
    fs::write(dest, out).expect("OUT_DIR is writable");
}
