//! Writes the shop's catalog to the directory given as the only argument (for CI's
//! AsyncAPI validation).

use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: factum-tests-events-only <output directory>");
        return ExitCode::FAILURE;
    };
    match factum_tests_events_only::catalog(dir).write() {
        Ok(_) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{err}");
            ExitCode::FAILURE
        }
    }
}
