//! The `hobbits-node` command line: parses arguments and hands each subcommand to its module under
//! `src/cli/`; `settings.rs` layers the node settings (file < environment < flags). No protocol
//! logic lives here.

mod cli;
mod settings;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    cli::dispatch(args)
}
