//! `rkeepalived`: keepalived's command line, one process. `-T`/`--genhash` switches to
//! keepalived's genhash mode (the arguments after it are genhash's options; anywhere but
//! first, the ones before it are ignored with keepalived's warning).
//!
//! Called by keepalived's names (the packages install `keepalived` and `genhash` as links to
//! this binary), it is that program: `genhash ARGS` is `rkeepalived --genhash ARGS`, and
//! `keepalived ARGS` is `rkeepalived ARGS` (keepalived's flags, exit codes and `-v` already).

use clap::Parser;

fn main() -> std::process::ExitCode {
    let argv0 = std::env::args_os().next().unwrap_or_default();
    let name = std::path::Path::new(&argv0)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    if name == "genhash" {
        return rkeepalived::check::genhash::main(args);
    }
    if let Some(at) = args.iter().position(|a| a == "-T" || a == "--genhash") {
        if at > 0 {
            // keepalived 2.2.7's words; the options before -T are dropped, as there.
            eprintln!("Warning -- `-T` not used as first option, previous options ignored");
        }
        return rkeepalived::check::genhash::main(args.into_iter().skip(at + 1));
    }
    let cli = rkeepalived::cli::Cli::parse();
    if cli.version {
        // keepalived prints its version on stderr; tools parse the first line's second word.
        eprint!("{}", rkeepalived::cli::version_text());
        return std::process::ExitCode::SUCCESS;
    }
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
