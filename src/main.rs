//! The `strata` binary: parses the command line and maps results to exit codes (0 clean, 1 findings, 2 errors).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = strata::cli::Cli::parse();
    match strata::commands::run(cli) {
        Ok(code) => code,
        // The reader closed stdout (`strata check | head -1`): it has what it wanted.
        Err(err) if strata::commands::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
