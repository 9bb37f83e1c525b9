//! `app-token completions SHELL`.
//!
//! The shell's completion script for every command and flag, on stdout.

use clap::CommandFactory;
use clap_complete::Shell;

use super::args::{Cli, CompletionsArgs};
use super::output::print;
use super::Failure;

/// The name the scripts complete: the one the binary is installed under.
const BIN_NAME: &str = "app-token";

fn script(shell: Shell) -> String {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), BIN_NAME, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

pub(super) fn command(args: &CompletionsArgs) -> Result<(), Failure> {
    print(&script(args.shell))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shell_gets_a_script_with_every_command() {
        for shell in super::super::args::SHELLS {
            let s = script(shell);
            for word in ["installations", "exec", "jwt", "git-credential", "app-id"] {
                assert!(s.contains(word), "{shell:?} lacks {word}");
            }
        }
    }
}
