//! The `radlens` binary: parse arguments, set up logging, dispatch. Nothing else.

use std::process::ExitCode;

use clap::Parser;
use radlens::cli::{Cli, Command, info, volume};

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RADLENS_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Info(args)) => info::run(&args, &mut std::io::stdout().lock()),
        Some(Command::Volume(args)) => volume::run(&args),
        None => {
            eprintln!(
                "radlens: the viewer is not built yet; try `radlens info PATH` or `radlens --help`"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One line: the cause chain joined, the path (which our errors put last) at the end.
            let chain: Vec<String> = err.chain().map(ToString::to_string).collect();
            let mut line = chain.first().cloned().unwrap_or_default();
            for cause in chain.iter().skip(1) {
                if !line.contains(cause.as_str()) {
                    line = format!("{line} ({cause})");
                }
            }
            eprintln!("radlens: error: {}", line.replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}
