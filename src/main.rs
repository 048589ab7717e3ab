//! `rkeepalived`: keepalived's command line, one process. `-T`/`--genhash` switches to
//! keepalived's genhash mode (the arguments after it are genhash's options; anywhere but
//! first, the ones before it are ignored with keepalived's warning).

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    if let Some(at) = args.iter().position(|a| a == "-T" || a == "--genhash") {
        if at > 0 {
            // keepalived 2.2.7's words; the options before -T are dropped, as there.
            eprintln!("Warning -- `-T` not used as first option, previous options ignored");
        }
        return rkeepalived::check::genhash::main(args.into_iter().skip(at + 1));
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
