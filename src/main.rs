//! `rkeepalived`: keepalived's command line, one process.

use clap::Parser;

fn main() -> std::process::ExitCode {
    rkeepalived::daemon::main(rkeepalived::cli::Cli::parse())
}
