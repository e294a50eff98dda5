//! `factum-catalog`: check, diff and render Factum event catalogs.
//!
//! ```text
//! factum-catalog check --baseline OLD.yaml NEW.yaml   # exit 1 on a breaking change
//! factum-catalog diff OLD.yaml NEW.yaml               # a Markdown changelog
//! factum-catalog render CATALOG.yaml -o catalog.html  # a static HTML page
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use factum_catalog::{CatalogError, changelog, check, read, render_html};

/// Check, diff and render Factum event catalogs (AsyncAPI documents written by
/// factum-codegen).
#[derive(Parser)]
#[command(name = "factum-catalog", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Fails (exit code 1) if NEW cannot read every event OLD could have stored, naming
    /// each breaking change with its path and why.
    Check {
        /// The catalog the stored events were written under (usually the committed one).
        #[arg(long)]
        baseline: PathBuf,
        /// The catalog of the code about to ship.
        new: PathBuf,
    },
    /// Prints a changelog: events added, deprecated, versioned, changed and removed.
    Diff {
        /// The earlier catalog.
        old: PathBuf,
        /// The later catalog.
        new: PathBuf,
    },
    /// Writes the catalog as a static HTML page.
    Render {
        /// The catalog.
        catalog: PathBuf,
        /// Where to write the page (standard output if not given).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("factum-catalog: {err}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, CatalogError> {
    match cli.command {
        Command::Check { baseline, new } => {
            let breaking = check(&read(&baseline)?, &read(&new)?);
            if breaking.is_empty() {
                println!(
                    "compatible: {} reads every event {} describes",
                    new.display(),
                    baseline.display()
                );
                return Ok(ExitCode::SUCCESS);
            }
            println!("{} breaking change(s):", breaking.len());
            for change in &breaking {
                println!("  {change}");
            }
            Ok(ExitCode::FAILURE)
        }
        Command::Diff { old, new } => {
            print!("{}", changelog(&read(&old)?, &read(&new)?));
            Ok(ExitCode::SUCCESS)
        }
        Command::Render { catalog, output } => {
            let html = render_html(&read(&catalog)?);
            match output {
                Some(path) => std::fs::write(&path, html)
                    .map_err(|source| CatalogError::Io { path, source })?,
                None => print!("{html}"),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
