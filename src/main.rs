//! `rkeepalived`: keepalived's command line, one process. `-T`/`--genhash` as the first
//! argument switches to keepalived's genhash mode (the rest are genhash's options).

use clap::Parser;

fn main() -> std::process::ExitCode {
    let mut args = std::env::args_os().skip(1).peekable();
    if args.peek().is_some_and(|a| a == "-T" || a == "--genhash") {
        args.next();
        return rkeepalived::check::genhash::main(args);
    }
    rkeepalived::daemon::main(rkeepalived::cli::Cli::parse())
}
