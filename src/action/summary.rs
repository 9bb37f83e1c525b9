//! The job summary.
//!
//! A markdown table of what each token can do. It never contains a token.

use crate::mint::{Minted, OwnerKind};
use crate::permissions;

/// Repositories listed in full before "and N more".
const MAX_LISTED: usize = 30;

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

fn repositories(m: &Minted) -> String {
    if m.repositories.is_empty() {
        return if m.covers_all() {
            "all the installation can access".into()
        } else {
            "none".into()
        };
    }
    let mut names: Vec<String> = m
        .repositories
        .iter()
        .take(MAX_LISTED)
        .map(|r| format!("`{}`", r.name))
        .collect();
    if m.repositories.len() > MAX_LISTED {
        names.push(format!("and {} more", m.repositories.len() - MAX_LISTED));
    }
    names.join(", ")
}

/// The account for people: `acme`, or `enterprise big-co`.
pub(super) fn account_label(m: &Minted) -> String {
    match m.kind {
        OwnerKind::Account => m.owner.clone(),
        OwnerKind::Enterprise => format!("enterprise {}", m.owner),
    }
}

/// The summary's markdown.
pub fn markdown(tokens: &[Minted]) -> String {
    let mut out = String::from("### GitHub App installation token\n\n");
    out.push_str("| Account | Installation | Repositories | Permissions | Expires |\n|---|---|---|---|---|\n");
    for m in tokens {
        let perms = if m.permissions.is_empty() {
            "none".to_string()
        } else {
            permissions::describe(&m.permissions)
        };
        out.push_str(&format!(
            "| {} | {} (`{}`) | {} | {} | {} |\n",
            cell(&account_label(m)),
            m.installation_id,
            cell(&m.app_slug),
            cell(&repositories(m)),
            cell(&perms),
            cell(&m.expires_at_text())
        ));
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::github::Repo;

    fn minted(n: usize) -> Minted {
        Minted {
            owner: "acme".into(),
            kind: crate::mint::OwnerKind::Account,
            installation_id: 7,
            app_slug: "my-app".into(),
            token: "ghs_SECRET".into(),
            issued_at: "2030-01-01T00:00:00Z".parse().unwrap(),
            expires_at: "2030-01-01T00:00:00Z".parse().unwrap(),
            permissions: [("contents".to_string(), crate::permissions::Level::Read)].into(),
            repositories: (0..n)
                .map(|i| Repo {
                    id: i as u64,
                    name: format!("r{i}"),
                    full_name: String::new(),
                })
                .collect(),
            repository_selection: Some(crate::github::RepositorySelection::Selected),
        }
    }

    #[test]
    fn a_row_per_token_and_no_token() {
        let md = markdown(&[minted(2)]);
        assert!(
            md.contains(
                "| acme | 7 (`my-app`) | `r0`, `r1` | contents: read | 2030-01-01T00:00:00Z |"
            ),
            "{md}"
        );
        assert!(!md.contains("ghs_SECRET"));
    }

    #[test]
    fn an_enterprise_is_named_as_one_and_covers_no_repositories() {
        let mut m = minted(0);
        m.owner = "big-co".into();
        m.kind = crate::mint::OwnerKind::Enterprise;
        let md = markdown(&[m]);
        assert!(
            md.contains("| enterprise big-co | 7 (`my-app`) | none |"),
            "{md}"
        );
    }

    #[test]
    fn long_lists_are_cut() {
        let md = markdown(&[minted(40)]);
        assert!(md.contains("and 10 more"), "{md}");
    }
}
