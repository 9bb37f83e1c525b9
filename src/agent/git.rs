//! The git configuration that makes git ask the agent, as `GIT_CONFIG_*` variables.
//!
//! Pure: git reads `GIT_CONFIG_COUNT` entries `GIT_CONFIG_KEY_n` = `GIT_CONFIG_VALUE_n`
//! (git 2.31 and later); these are appended after any the job already set. For the
//! GitHub host only: its helper list is emptied (a system's own helper, such as the
//! Windows runners' credential manager, is not asked), then `app-token git-credential`
//! is the one helper, and git sends the repository's path, so that an agent serving
//! several owners hands out the right owner's token.

/// The variables, in order, that add the agent's helper for `origin` (`scheme://host`)
/// after the `existing` entries (the job's `GIT_CONFIG_COUNT`), run as `program`.
pub fn git_config(
    existing: Option<&str>,
    origin: &str,
    program: &str,
) -> Result<Vec<(String, String)>, String> {
    let from: usize = match existing.map(str::trim).filter(|c| !c.is_empty()) {
        None => 0,
        Some(count) => count.parse().map_err(|_| {
            format!(
                "GIT_CONFIG_COUNT is {:?}, not a number",
                crate::excerpt::excerpt(count)
            )
        })?,
    };
    if program.contains(['\n', '\r', '\0']) {
        return Err("the program's path has a line break in it".into());
    }
    // The helper runs through git's shell: the path quoted, forward slashes on Windows.
    let quoted = format!("'{}'", program.replace('\\', "/").replace('\'', r"'\''"));
    let entries = [
        (format!("credential.{origin}.helper"), String::new()),
        (
            format!("credential.{origin}.helper"),
            format!("!{quoted} git-credential"),
        ),
        (format!("credential.{origin}.useHttpPath"), "true".into()),
    ];
    let mut out = vec![(
        "GIT_CONFIG_COUNT".to_string(),
        (from + entries.len()).to_string(),
    )];
    for (i, (key, value)) in entries.into_iter().enumerate() {
        out.push((format!("GIT_CONFIG_KEY_{}", from + i), key));
        out.push((format!("GIT_CONFIG_VALUE_{}", from + i), value));
    }
    Ok(out)
}

/// The owner a git request's `path` (`owner/repo.git`) names, if any.
pub fn owner_of_path(path: Option<&str>) -> Option<&str> {
    let owner = path?.trim_start_matches('/').split('/').next()?;
    (!owner.is_empty()).then_some(owner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_helper_is_appended_after_the_jobs_own_entries() {
        let v = git_config(None, "https://github.com", "/opt/app-token/bin/app-token").unwrap();
        let get = |k: &str| v.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("GIT_CONFIG_COUNT"), Some("3"));
        assert_eq!(
            get("GIT_CONFIG_KEY_0"),
            Some("credential.https://github.com.helper")
        );
        assert_eq!(get("GIT_CONFIG_VALUE_0"), Some(""));
        assert_eq!(
            get("GIT_CONFIG_VALUE_1"),
            Some("!'/opt/app-token/bin/app-token' git-credential")
        );
        assert_eq!(
            get("GIT_CONFIG_KEY_2"),
            Some("credential.https://github.com.useHttpPath")
        );
        let after = git_config(Some("2"), "https://ghe.example.com", "C:\\a b\\it's.exe").unwrap();
        let get = |k: &str| after.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("GIT_CONFIG_COUNT"), Some("5"));
        assert_eq!(
            get("GIT_CONFIG_KEY_2"),
            Some("credential.https://ghe.example.com.helper")
        );
        assert_eq!(
            get("GIT_CONFIG_VALUE_3"),
            Some(r"!'C:/a b/it'\''s.exe' git-credential")
        );
        assert!(
            get("GIT_CONFIG_KEY_0").is_none(),
            "the job's own entries are left alone"
        );
        assert!(git_config(Some("two"), "https://github.com", "x").is_err());
        assert!(git_config(None, "https://github.com", "a\nb").is_err());
    }

    #[test]
    fn a_paths_first_segment_is_its_owner() {
        assert_eq!(owner_of_path(Some("acme/site.git")), Some("acme"));
        assert_eq!(owner_of_path(Some("/acme/site")), Some("acme"));
        assert_eq!(owner_of_path(Some("")), None);
        assert_eq!(owner_of_path(None), None);
    }
}
