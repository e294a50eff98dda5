//! `factum-catalog`: check, diff, render and export Factum event catalogs.
//!
//! ```text
//! factum-catalog check --baseline OLD.yaml NEW.yaml   # exit 1 on a breaking change
//! factum-catalog check --store bank.sqlite NEW.yaml   # exit 1 if stored events would not read
//! factum-catalog diff OLD.yaml NEW.yaml               # a Markdown changelog
//! factum-catalog render CATALOG.yaml -o catalog.html  # a static HTML page
//! factum-catalog export --eventcatalog DIR CATALOG.yaml  # an EventCatalog project's content
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use factum_catalog::eventcatalog::{Overwrite, export_eventcatalog};
use factum_catalog::stored::{StoreLocation, StoredCount, check_stored};
use factum_catalog::{Catalog, CatalogError, changelog, check, read, render_html};

/// Check, diff, render and export Factum event catalogs (AsyncAPI documents written by
/// factum-codegen).
#[derive(Parser)]
#[command(name = "factum-catalog", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Fails (exit code 1) if NEW cannot read every event OLD could have stored
    /// (--baseline), or every event a live store holds (--store), naming each breaking
    /// change or stored version with why and what to do; exit code 2 on errors.
    #[command(after_long_help = CHECK_EXAMPLES)]
    Check {
        /// The catalog the stored events were written under (usually the committed one).
        #[arg(long, value_name = "OLD", required_unless_present = "store")]
        baseline: Option<PathBuf>,
        /// A live store whose events NEW must read: a SQLite file (a path or sqlite:PATH),
        /// or postgres://USER@HOST/DATABASE (schema from --schema or ?schema=NAME, else
        /// `factum`). Prints how many events each type has stored at each version, and
        /// refuses NEW if it drops a type or an upcaster they need, or is older than
        /// them. Every stored type is judged: in a store several domains share, the
        /// others' events are unknown types to NEW, so pass --type-prefix. Read-only: no
        /// database or schema is created, nothing is migrated or written, and a store
        /// that does not exist is an error; the SQLite file is not changed, but SQLite
        /// may leave its -wal and -shm side files beside it (they hold no data).
        #[arg(long, value_name = "URL")]
        store: Option<String>,
        /// The PostgreSQL schema of --store (the bank example's is `bank`).
        #[arg(long, requires = "store")]
        schema: Option<String>,
        /// Judges only the stored event types whose name starts with PREFIX (such as
        /// `bank.`), for a store several domains share: the other types are counted as
        /// skipped, not refused. Repeat it for several. A removed type that matches is
        /// still refused.
        #[arg(long, value_name = "PREFIX", requires = "store")]
        type_prefix: Vec<String>,
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
    /// Writes the catalog in another tool's format.
    ///
    /// With --eventcatalog DIR: EventCatalog's own content layout. It writes one folder
    /// per event, DIR/events/<id>/ (id: the stored type name, such as bank.Deposited),
    /// holding index.mdx (version: the schema version as a string, "2") and schema.json,
    /// with each older version in versioned/<n>/; DIR/services/<id>/index.mdx for the
    /// stream categories (producers, streams.<category>), projections and process
    /// managers (consumers), with what each sends or receives; the domain (the catalog's
    /// title) as DIR/domains/<id>/index.mdx; and the list of what it wrote, its manifest,
    /// as DIR/.factum-eventcatalog/<domain id>.
    ///
    /// DIR may be an EventCatalog project, and several catalogs (one per domain) may be
    /// exported into it: each has a manifest of its own. The export refuses (exit code 2,
    /// naming the file, writing nothing) to overwrite a file that exists and that no
    /// earlier export of the same catalog wrote: a team's own page, another catalog's, or
    /// one from EventCatalog's AsyncAPI generator; --force overwrites such files and takes
    /// them over. A re-export removes the files its catalog's previous export wrote that
    /// this one does not (events, versions and services that are gone), unless another
    /// catalog's manifest lists them. Nothing else in DIR is touched. Ids that differ only
    /// in case are refused, since they share a folder on macOS and Windows.
    #[command(after_long_help = EXPORT_EXAMPLES)]
    Export {
        /// The directory to write EventCatalog content into (created if missing).
        #[arg(long, value_name = "DIR")]
        eventcatalog: PathBuf,
        /// Overwrite files the export would write that exist and that no earlier export
        /// of this catalog wrote, and list them in its manifest (so a later export that
        /// no longer writes them removes them).
        #[arg(long)]
        force: bool,
        /// The catalog.
        catalog: PathBuf,
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
        Command::Check {
            baseline,
            store,
            schema,
            type_prefix,
            new,
        } => {
            let catalog = read(&new)?;
            let mut compatible = true;
            if let Some(baseline) = baseline {
                compatible &= check_baseline(&read(&baseline)?, &baseline, &catalog, &new);
            }
            if let Some(store) = store {
                compatible &= check_store(&store, schema.as_deref(), &type_prefix, &catalog, &new)?;
            }
            Ok(if compatible {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
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
        Command::Export {
            eventcatalog,
            force,
            catalog,
        } => {
            let overwrite = if force {
                Overwrite::Force
            } else {
                Overwrite::Refuse
            };
            let written = export_eventcatalog(&read(&catalog)?, &eventcatalog, overwrite)?;
            println!(
                "wrote {} EventCatalog file(s) to {}",
                written.len(),
                eventcatalog.display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

const EXPORT_EXAMPLES: &str = "\
Examples:
  factum-catalog export --eventcatalog my-eventcatalog/ catalog/asyncapi.yaml
  factum-catalog export --eventcatalog my-eventcatalog/ ../shipping/catalog/asyncapi.yaml   # a second domain beside it
  cd my-eventcatalog && npx eventcatalog build   # where my-eventcatalog/ is an EventCatalog project
";

const CHECK_EXAMPLES: &str = "\
Examples:
  factum-catalog check --baseline catalog/asyncapi.yaml target/asyncapi.yaml
  factum-catalog check --store bank.sqlite catalog/asyncapi.yaml
  factum-catalog check --store postgres://app@db/ledger --schema bank catalog/asyncapi.yaml
  factum-catalog check --baseline OLD.yaml --store bank.sqlite NEW.yaml   # both checks
  factum-catalog check --store shared.sqlite --type-prefix bank. NEW.yaml   # bank's types only";

/// `check --baseline`: prints whether `new` reads every event `old` describes.
fn check_baseline(old: &Catalog, old_path: &Path, new: &Catalog, new_path: &Path) -> bool {
    let breaking = check(old, new);
    if breaking.is_empty() {
        println!(
            "compatible: {} reads every event {} describes",
            new_path.display(),
            old_path.display()
        );
        return true;
    }
    println!("{} breaking change(s):", breaking.len());
    for change in &breaking {
        println!("  {change}");
    }
    false
}

/// `check --store`: prints the store's events by type and version, and whether `catalog`
/// reads each (only the types that start with one of `prefixes`, if any are given).
fn check_store(
    url: &str,
    schema: Option<&str>,
    prefixes: &[String],
    catalog: &Catalog,
    path: &Path,
) -> Result<bool, CatalogError> {
    let location = StoreLocation::parse(url, schema)?;
    let (stored, skipped): (Vec<StoredCount>, Vec<StoredCount>) = read_inventory(&location)?
        .into_iter()
        .partition(|s| prefixes.is_empty() || prefixes.iter().any(|p| s.event.starts_with(p)));
    let rows = check_stored(catalog, &stored);
    println!("stored events in {location}, read by {}:", path.display());
    if !prefixes.is_empty() {
        let types: std::collections::BTreeSet<&str> =
            skipped.iter().map(|s| s.event.as_str()).collect();
        let events: u64 = skipped.iter().map(|s| s.count).fold(0, u64::saturating_add);
        println!(
            "  (skipped: {events} stored event(s) of {} type(s) not starting with {})",
            types.len(),
            prefixes.join(" or ")
        );
    }
    if rows.is_empty() {
        if skipped.is_empty() {
            println!("  (the store holds no events)");
        } else {
            println!(
                "  (none of the stored event types starts with {})",
                prefixes.join(" or ")
            );
        }
        return Ok(true);
    }
    let header = ("event type", "version", "stored");
    let versions: Vec<String> = rows.iter().map(|r| format!("v{}", r.version)).collect();
    let type_width = rows
        .iter()
        .map(|r| r.event.chars().count())
        .chain([header.0.len()])
        .max()
        .unwrap_or_default();
    let version_width = versions
        .iter()
        .map(String::len)
        .chain([header.1.len()])
        .max()
        .unwrap_or_default();
    let count_width = rows
        .iter()
        .map(|r| r.count.to_string().len())
        .chain([header.2.len()])
        .max()
        .unwrap_or_default();
    println!(
        "  {:<type_width$}  {:>version_width$}  {:>count_width$}  verdict",
        header.0, header.1, header.2
    );
    for (row, version) in rows.iter().zip(&versions) {
        println!(
            "  {:<type_width$}  {version:>version_width$}  {:>count_width$}  {}",
            row.event,
            row.count,
            row.verdict_text()
        );
    }
    let refused: Vec<_> = rows.iter().filter_map(|r| r.breaking_change()).collect();
    let total: u64 = rows.iter().map(|r| r.count).fold(0, u64::saturating_add);
    if refused.is_empty() {
        println!(
            "readable: {} reads all {total} stored event(s)",
            path.display()
        );
        return Ok(true);
    }
    let unread: u64 = rows
        .iter()
        .filter(|r| r.is_refused())
        .map(|r| r.count)
        .fold(0, u64::saturating_add);
    println!(
        "refused: {} cannot read {unread} of {total} stored event(s):",
        path.display()
    );
    for change in &refused {
        println!("  {change}");
    }
    Ok(false)
}

/// The store's inventory, read on a runtime of its own.
#[cfg(feature = "store")]
fn read_inventory(location: &StoreLocation) -> Result<Vec<StoredCount>, CatalogError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| CatalogError::Store(format!("cannot start a runtime: {err}")))?;
    runtime.block_on(factum_catalog::stored::read_store(location))
}

#[cfg(not(feature = "store"))]
fn read_inventory(_: &StoreLocation) -> Result<Vec<StoredCount>, CatalogError> {
    Err(CatalogError::Store(
        "this factum-catalog was built without its `store` feature; reinstall it with \
         default features to read stores"
            .into(),
    ))
}
