//! A hostile or broken GitHub: the words of its answers reach the step's log and the command line's stderr, and are shown there, never obeyed: no line the runner would take for a workflow command (tests/common/commands.rs ports its parsers), no terminal escape.

use std::path::Path;

use crate::common::commands::{assert_only_our_commands, self_check, OURS};
use crate::common::*;
use httpmock::prelude::*;
use serde_json::json;

/// Server texts that, printed raw, the runner would obey (`stop-commands` hides every
/// later command, the token's mask among them) or a terminal would (OSC 52 writes the
/// clipboard).
const HOSTILE: &[&str] = &[
    "Echo ##[stop-commands]x",
    "Not Found\n::stop-commands::pause\r##[set-output name=token]x",
    "#\u{200b}#[stop-commands]x \u{feff}::error::y",
    "\r\n  ::add-mask::x\u{2028}##[SET-ENV name=A]b",
    "copied\u{1b}]52;c;ZXZpbA==\u{7} \u{9b}2J",
    "\n\u{fe0f}::stop-commands::x #\u{34f}#[stop-commands]y",
];

#[test]
fn the_port_of_the_runners_parsers_reads_the_runners_own_cases() {
    self_check();
}

/// A step whose bot-user lookup GitHub answers 404 with `message`: the token is minted,
/// and the warning that git-user-email is not set quotes GitHub's words.
fn main_step_quoting(message: &str) -> (Ran, Step) {
    let gh = FakeGitHub::start();
    gh.token_for_repository_101();
    let bot = gh.server.mock(|when, then| {
        when.method(GET).path(format!("/users/{SLUG}%5Bbot%5D"));
        then.status(404).github_json(json!({"message": message}));
    });
    let step = Step::new();
    let ran = step.main(
        Path::new(BIN),
        &gh.url(),
        &[("owner", "acme"), ("repositories", "101")],
    );
    bot.assert_calls(2);
    (ran, step)
}

#[test]
fn githubs_words_in_the_log_start_no_workflow_command() {
    for message in HOSTILE {
        let (ran, step) = main_step_quoting(message);
        assert_eq!(ran.code, 0, "{message:?}\n{}\n{}", ran.stdout, ran.stderr);
        assert_eq!(step.outputs()["token"], FINAL_TOKEN);
        // Every line is ours: GitHub's words start no command, stop none of ours.
        assert_only_our_commands(&ran.stdout, OURS);
        // The token shows only in its mask, which the runner therefore still obeys.
        assert_eq!(ran.stdout.matches(FINAL_TOKEN).count(), 1, "{}", ran.stdout);
        assert!(ran.stdout.contains(&format!("::add-mask::{FINAL_TOKEN}")));
        // No escape reaches the log raw.
        assert!(
            !ran.stdout
                .contains(['\u{1b}', '\u{7}', '\u{9b}', '\u{200b}', '\u{feff}']),
            "{:?}",
            ran.stdout
        );
    }
}

#[test]
fn githubs_words_are_still_shown_to_people() {
    let (ran, _) = main_step_quoting("Echo ##[stop-commands]x");
    let plain = ran
        .stdout
        .lines()
        .find(|l| l.starts_with("git-user-email is not set"))
        .unwrap_or_else(|| panic!("no plain line for the warning in:\n{}", ran.stdout));
    assert!(plain.contains("Echo ## [stop-commands]x"), "{plain}");
    // A plain line is not a command: nothing in it is percent-escaped, so the
    // suggested command is the one to run.
    assert!(
        plain.contains(&format!("`gh api /users/{SLUG}%5Bbot%5D --jq .id`")),
        "{plain}"
    );
    assert!(!plain.contains("%25"), "{plain}");
    // The same warning as an annotation: escaped, as a command's data must be.
    let warning = ran.line("::warning title=app-token::git-user-email is not set");
    assert!(
        warning.contains("/users/acme-bot%255Bbot%255D"),
        "{warning}"
    );
}

#[test]
fn the_command_line_shows_githubs_words_and_obeys_none() {
    for message in HOSTILE {
        let gh = FakeGitHub::start();
        let lookup = gh.server.mock(|when, then| {
            when.method(GET).path("/repos/acme/site/installation");
            then.status(404).github_json(json!({"message": message}));
        });
        let ran = Cli::mint(&gh).args(&["--repositories", "acme/site"]).run();
        lookup.assert_calls(1);
        assert_eq!(ran.code, 1, "{}", ran.stderr);
        assert!(ran.stderr.starts_with("error: "), "{}", ran.stderr);
        assert!(
            !ran.stderr.contains(|c: char| c.is_control() && c != '\n'),
            "a terminal would obey: {:?}",
            ran.stderr
        );
        assert!(
            !ran.stderr.contains(['\u{200b}', '\u{feff}']),
            "{:?}",
            ran.stderr
        );
        // Run in a workflow's `run:` step, stderr is read by the runner too.
        assert_only_our_commands(&ran.stderr, &[]);
    }
    let gh = FakeGitHub::start();
    gh.server.mock(|when, then| {
        when.method(GET).path("/repos/acme/site/installation");
        then.status(404)
            .github_json(json!({"message": "Not Found\u{1b}]52;c;ZXZpbA==\u{7}"}));
    });
    let ran = Cli::mint(&gh).args(&["--repositories", "acme/site"]).run();
    assert!(
        ran.stderr.contains("HTTP 404: Not Found?]52;c;ZXZpbA==?"),
        "{:?}",
        ran.stderr
    );
}
