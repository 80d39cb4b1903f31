//! The `hobbits-node` command line: parses arguments and hands each subcommand to its module under
//! `src/cli/`. No protocol logic lives here.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    cli::dispatch(args)
}
