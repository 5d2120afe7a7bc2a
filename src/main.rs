//! The `hadrill` binary: parses the command line, sets up logging, and maps the outcome to an exit code.
//! Everything else lives in the library so tests can drive it in-process.

use clap::Parser;

fn main() {
    let cli = hadrill::cli::Cli::parse();
    hadrill::cli::init_tracing(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(hadrill::exit_codes::UNUSABLE);
        }
    };
    let code = runtime.block_on(hadrill::cli::run(cli));
    // Background tasks (observers, log followers) must not delay the exit code.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    std::process::exit(code);
}
