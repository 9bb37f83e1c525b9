//! `app-token installations`.
//!
//! Every installation of the app, as an aligned table or as one JSON array.

use std::future::Future;

use serde_json::{json, Value};

use super::args::InstallationsArgs;
use super::mint::{prepare_app, session, stopped, target};
use super::output::print;
use super::Failure;
use crate::cancel::Signal;
use crate::env::Env;
use crate::github::{self, Installation, RepositorySelection, Settings};
use crate::mint::Raced;
use crate::permissions;
use crate::plain::{plain_json, plain_line};

/// The table's header, one name per column.
const HEADER: [&str; 6] = [
    "ID",
    "ACCOUNT",
    "TYPE",
    "REPOSITORIES",
    "SUSPENDED",
    "PERMISSIONS",
];

/// What a table cell shows for a value GitHub left out.
const NONE: &str = "-";

fn selection(i: &Installation) -> Option<&'static str> {
    i.repository_selection.map(|s| match s {
        RepositorySelection::All => "all",
        RepositorySelection::Selected => "selected",
    })
}

/// One installation's cells, in the order of [`HEADER`]; text from GitHub shown as a
/// plain line (printable, and never a workflow command).
fn row(i: &Installation) -> [String; 6] {
    let text = |s: Option<&str>| plain_line(s.unwrap_or(NONE));
    let granted = i.granted();
    [
        i.id.to_string(),
        text(i.account.as_ref().map(|a| a.name())),
        text(i.account_type()),
        text(selection(i)),
        if i.suspended_at.is_some() {
            "yes"
        } else {
            "no"
        }
        .to_string(),
        if granted.is_empty() {
            NONE.to_string()
        } else {
            plain_line(&permissions::describe(&granted))
        },
    ]
}

/// The rows under a header, each column as wide as its widest cell, two spaces apart;
/// the last column is not padded.
fn aligned<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> String {
    let mut widths = header.map(|h| h.chars().count());
    for r in rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; N]| {
        let mut out = String::new();
        for (n, (cell, width)) in cells.iter().zip(widths).enumerate() {
            if n + 1 == N {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<width$}  "));
            }
        }
        format!("{}\n", out.trim_end())
    };
    let mut table = line(header);
    for r in rows {
        table.push_str(&line(r.each_ref().map(String::as_str)));
    }
    table
}

/// The installations as a table for people.
fn table(installations: &[Installation]) -> String {
    let rows: Vec<[String; 6]> = installations.iter().map(row).collect();
    aligned(HEADER, &rows)
}

/// The installations as one JSON array, permissions as GitHub gave them.
fn json_array(installations: &[Installation]) -> Value {
    installations
        .iter()
        .map(|i| {
            json!({
                "id": i.id,
                "account": i.account.as_ref().map(|a| a.name()),
                "account_type": i.account_type(),
                "repository_selection": i.repository_selection,
                "permissions": i.permissions,
                "suspended": i.suspended_at.is_some(),
                "suspended_at": i.suspended_at,
            })
        })
        .collect()
}

pub(super) async fn command(
    args: &InstallationsArgs,
    env: Env<'_>,
    settings: Settings,
    cancel: impl Future<Output = Signal>,
) -> Result<(), Failure> {
    let config = prepare_app(&args.app, Some(&args.api), env)?;
    let target = target(&config.api_url, env, settings)?;
    let session = session(&config.app_id, config.key, target)?;
    let listed = session
        .race(github::app_installations(session.client()), cancel)
        .await;
    session.end().await;
    let installations = match listed {
        Raced::Done(listed) => listed
            .map_err(|e| Failure::Api(format!("could not list the app's installations: {e:#}")))?,
        Raced::Cancelled(signal) => return Err(stopped(signal, 0)),
    };
    if args.json {
        print(&format!(
            "{}\n",
            plain_json(&json_array(&installations).to_string())
        ))
    } else {
        print(&table(&installations))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn installations() -> Vec<Installation> {
        serde_json::from_value(json!([
            {"id": 7, "app_slug": "a", "account": {"login": "octocat", "type": "User"},
             "repository_selection": "all", "permissions": {"metadata": "read"}, "suspended_at": null},
            {"id": 1234567, "app_slug": "a", "account": {"login": "acme", "type": "Organization"},
             "target_type": "Organization", "repository_selection": "selected",
             "permissions": {"contents": "write", "metadata": "read", "new_thing": 3},
             "suspended_at": "2025-01-01T00:00:00Z"},
            {"id": 9, "app_slug": "a", "account": {"slug": "big-co", "name": "Big Co"},
             "repository_selection": "selected", "permissions": {}, "suspended_at": null},
            {"id": 10, "app_slug": "a", "account": {"login": "evil\u{1b}[31m\nx"}, "suspended_at": null}
        ]))
        .unwrap()
    }

    #[test]
    fn the_table_is_aligned_and_says_each_column() {
        assert_eq!(
            table(&installations()),
            "\
ID       ACCOUNT      TYPE          REPOSITORIES  SUSPENDED  PERMISSIONS
7        octocat      User          all           no         metadata: read
1234567  acme         Organization  selected      yes        contents: write, metadata: read
9        big-co       Enterprise    selected      no         -
10       evil?[31m?x  -             -             no         -
"
        );
        assert_eq!(
            table(&[]),
            "ID  ACCOUNT  TYPE  REPOSITORIES  SUSPENDED  PERMISSIONS\n"
        );
    }

    #[test]
    fn columns_are_as_wide_as_their_widest_cell_and_the_last_is_not_padded() {
        let rows = [
            ["a".to_string(), "long cell".to_string(), "x".to_string()],
            ["wide one".to_string(), "b".to_string(), String::new()],
        ];
        assert_eq!(
            aligned(["H", "I", "J"], &rows),
            "H         I          J\na         long cell  x\nwide one  b\n"
        );
    }

    #[test]
    fn json_keeps_every_permission_and_names_the_account() {
        let got = json_array(&installations());
        assert_eq!(
            got[1],
            json!({
                "id": 1234567, "account": "acme", "account_type": "Organization",
                "repository_selection": "selected",
                "permissions": {"contents": "write", "metadata": "read", "new_thing": 3},
                "suspended": true, "suspended_at": "2025-01-01T00:00:00Z"
            })
        );
        assert_eq!(got[2]["account"], "big-co");
        assert_eq!(got[2]["account_type"], "Enterprise");
        assert_eq!(got[3]["account_type"], Value::Null);
        assert_eq!(got[3]["repository_selection"], Value::Null);
    }
}
