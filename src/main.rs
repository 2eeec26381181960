//! The `radlens` binary: parse arguments, set up logging, dispatch. Nothing else.

use std::process::ExitCode;

use clap::Parser;
use radlens::cli::{
    Cli, Command, check_viewer_start, demo, evaluate, explain, export, features, info, pacs,
    predict, view, volume,
};

const DEFAULT_LOG: &str = "warn,wgpu_core=error,wgpu_hal=error,naga=error,dicom_object=error,\
    dicom_parser=error,dicom_encoding=error,dicom_pixeldata=error,\
    dicom_transfer_syntax_registry=error,jpeg2k=error,openjpeg_sys=error,charls=error";

fn main() -> ExitCode {
    // Our warnings by default; the libraries' own (codecs, DICOM parsing, GPU) only when asked
    // with RADLENS_LOG=debug: radlens reports what matters to the user itself. Colour only on a
    // terminal.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RADLENS_LOG")
                .unwrap_or_else(|_| DEFAULT_LOG.into()),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .init();
    let cli = Cli::parse();
    // A panic is a bug, not a user error: log it (RADLENS_LOG=debug shows it) and say so in one
    // line instead of a backtrace. Codec panics are caught per slice and never get here.
    std::panic::set_hook(Box::new(|info| tracing::debug!("panic: {info}")));
    let outcome = std::panic::catch_unwind(move || match cli.command {
        Some(Command::Info(args)) => info::run(&args, &mut std::io::stdout().lock()),
        Some(Command::Volume(args)) => volume::run(&args),
        Some(Command::Predict(args)) => predict::run(&args, &mut std::io::stdout().lock()),
        Some(Command::Explain(args)) => explain::run(&args, &mut std::io::stdout().lock()),
        Some(Command::Evaluate(args)) => evaluate::run(&args, &mut std::io::stdout().lock()),
        Some(Command::Export(args)) => export::run(&args, &mut std::io::stdout().lock()),
        Some(Command::Features(args)) => features::run(&args, &mut std::io::stdout().lock()),
        Some(Command::Demo(args)) => demo::run(&args),
        Some(Command::Pacs(args)) => pacs::run(&args, &mut std::io::stdout().lock()),
        Some(Command::View(args)) => {
            check_viewer_start(&args.paths).and_then(|()| view::run(args.paths, args.model))
        }
        None => check_viewer_start(&cli.paths).and_then(|()| view::run(cli.paths, cli.model)),
    });
    let Ok(result) = outcome else {
        eprintln!("radlens: internal error (a bug; run with RADLENS_LOG=debug for details)");
        return ExitCode::from(101);
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
            // No control characters reach the terminal (file names and values can hold any).
            let line: String = line
                .chars()
                .map(|c| match c {
                    '\n' | '\t' => ' ',
                    c if c.is_control() => '?',
                    c => c,
                })
                .collect();
            eprintln!("radlens: error: {line}");
            // Some cases of a cohort failed: their rows are written, the status says so.
            if err.downcast_ref::<features::CasesFailed>().is_some() {
                return ExitCode::from(2);
            }
            ExitCode::FAILURE
        }
    }
}
