//! `rkeepalived`: keepalived's command line, one process. `-T`/`--genhash` as the first
//! argument switches to keepalived's genhash mode (the rest are genhash's options).

use clap::Parser;

fn main() -> std::process::ExitCode {
    let mut args = std::env::args_os().skip(1).peekable();
    if args.peek().is_some_and(|a| a == "-T" || a == "--genhash") {
        args.next();
        return rkeepalived::check::genhash::main(args);
    }
    let cli = rkeepalived::cli::Cli::parse();
    if let Some(func) = &cli.signum {
        // keepalived: the number on stdout, or "Unknown sigfunc NAME" and exit 1.
        return match rkeepalived::cli::signal_number(func) {
            Some(n) => {
                println!("{n}");
                std::process::ExitCode::SUCCESS
            }
            None => {
                eprintln!("Unknown sigfunc {func}");
                std::process::ExitCode::from(1)
            }
        };
    }
    rkeepalived::daemon::main(cli)
}
