//! Factum's build-time step: from the registry of a domain's events, aggregates,
//! projections and read models, it writes
//!
//! - `asyncapi.yaml` (and `asyncapi.json` on request): the AsyncAPI 3.0 event catalog
//!   (layout in [`factum_catalog::asyncapi`]);
//! - `schema.graphql`: the SDL of the GraphQL read-model API
//!   ([`factum::graphql::ReadModelApi`]) over every projection's read models (a note
//!   saying so, for a domain without read models);
//! - `ddl/sqlite.sql` and `ddl/postgres.sql`: the read-model tables of every projection
//!   version.
//!
//! The output is deterministic (sorted, byte-stable across runs), so it can be committed
//! and reviewed, and [`Codegen::check`] (the `--check` flag) fails when the committed
//! files no longer match the code. The previous catalog's older versions are kept: the
//! code only knows each event's current payload, the catalog remembers the rest.
//!
//! The registry is filled at link time, so codegen runs inside a program that links the
//! domain: a `build.rs` with the domain crate as a build-dependency, or a subcommand of
//! the application (the bank example: `cargo run -p bank -- codegen --check`). Only what
//! is linked in is registered: a program must name something of a domain library (any
//! item) for its events to be linked.
//!
//! ```no_run
//! use factum_codegen::Codegen;
//!
//! let codegen = Codegen::new("bank", "0.1.0", "examples/bank/catalog");
//! codegen.write().unwrap();          // regenerate
//! codegen.check().unwrap();          // or: fail if the committed files are stale
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use factum::{
    AggregateDescriptor, Dialect, EventDescriptor, ProcessManagerDescriptor, ProjectionDescriptor,
};
use factum_catalog::asyncapi::{from_document, parse, to_document, to_json, to_yaml};
use factum_catalog::compat::{ALIASES, DROPPED};
use factum_catalog::{Catalog, CatalogError, Category, Consumer, ConsumerKind, EventEntry};
use serde_json::Value;

/// `schema.graphql` of a domain without read models.
const NO_READ_MODELS: &str =
    "# This domain has no read models, so it has no GraphQL read-model API.\n";

/// What can go wrong generating or checking.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodegenError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The GraphQL schema could not be built (two read models with one type name?).
    #[error("the GraphQL schema could not be built: {0}")]
    Graphql(String),
    /// The catalog could not be written or the committed one read.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// Two Rust types register the same stored event name.
    #[error(
        "two event types are stored as `{name}`: {first} and {second}; give one of them \
         another `#[event(name = \"…\")]`"
    )]
    DuplicateEvent {
        /// The stored name.
        name: String,
        /// One Rust type.
        first: String,
        /// The other.
        second: String,
    },
    /// `--check` found committed files that differ from what the code generates.
    #[error(
        "generated files are stale: {} (run the code generator without --check and commit \
         the result)",
        files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    Stale {
        /// The files that are missing or differ.
        files: Vec<PathBuf>,
    },
}

/// One file the generator writes: its path relative to the output directory, and its
/// content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneratedFile {
    /// Relative path (`asyncapi.yaml`, `ddl/sqlite.sql`).
    pub path: PathBuf,
    /// The full content.
    pub content: String,
}

/// The code generator for one domain.
#[derive(Clone, Debug)]
pub struct Codegen {
    title: String,
    version: String,
    description: Option<String>,
    out_dir: PathBuf,
    json: bool,
    events: Vec<EventDescriptor>,
    aggregates: Vec<AggregateDescriptor>,
    projections: Vec<ProjectionDescriptor>,
    process_managers: Vec<ProcessManagerDescriptor>,
}

impl Codegen {
    /// A generator for the domain `title` at `version` (usually the crate's name and
    /// version), writing under `out_dir`, reading everything linked into this program.
    pub fn new(
        title: impl Into<String>,
        version: impl Into<String>,
        out_dir: impl Into<PathBuf>,
    ) -> Self {
        Codegen {
            title: title.into(),
            version: version.into(),
            description: None,
            out_dir: out_dir.into(),
            json: false,
            events: factum::events(),
            aggregates: factum::aggregates(),
            projections: factum::projections(),
            process_managers: factum::process_managers(),
        }
    }

    /// The catalog's description of the domain.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Also write `asyncapi.json`.
    pub fn json(mut self, json: bool) -> Self {
        self.json = json;
        self
    }

    /// Only these events (instead of every one linked in): for tests and for programs
    /// that link more than one domain.
    pub fn with_events(mut self, events: Vec<EventDescriptor>) -> Self {
        self.events = events;
        self
    }

    /// Only these aggregates.
    pub fn with_aggregates(mut self, aggregates: Vec<AggregateDescriptor>) -> Self {
        self.aggregates = aggregates;
        self
    }

    /// Adds a process manager the registry cannot list (a generic one):
    /// `.with_process_manager(ProcessManagerDescriptor::of::<Transfers<SqliteStore>>())`.
    pub fn with_process_manager(mut self, manager: ProcessManagerDescriptor) -> Self {
        if !self.process_managers.iter().any(|m| m.name == manager.name) {
            self.process_managers.push(manager);
        }
        self
    }

    /// Only these process managers.
    pub fn with_process_managers(mut self, managers: Vec<ProcessManagerDescriptor>) -> Self {
        self.process_managers = managers;
        self
    }

    /// Only these projections.
    pub fn with_projections(mut self, projections: Vec<ProjectionDescriptor>) -> Self {
        self.projections = projections;
        self
    }

    /// The output directory.
    pub fn out_dir(&self) -> &Path {
        &self.out_dir
    }

    /// The catalog of the code as it is, with the older versions the committed catalog
    /// (if any) recorded.
    pub fn catalog(&self) -> Result<Catalog, CodegenError> {
        let mut events: BTreeMap<String, EventEntry> = BTreeMap::new();
        let mut owners: BTreeMap<&str, &str> = BTreeMap::new();
        for descriptor in &self.events {
            if let Some(first) = owners.insert(descriptor.name, descriptor.rust_type) {
                return Err(CodegenError::DuplicateEvent {
                    name: descriptor.name.into(),
                    first: first.into(),
                    second: descriptor.rust_type.into(),
                });
            }
            events.insert(descriptor.name.into(), entry_of(descriptor));
        }
        let mut categories: BTreeMap<String, Category> = BTreeMap::new();
        for aggregate in &self.aggregates {
            let category = categories.entry(aggregate.category.into()).or_default();
            if let Some(description) = aggregate.description {
                category
                    .description
                    .get_or_insert_with(|| description.to_owned());
            }
            category
                .events
                .extend(aggregate.events.iter().map(|e| (*e).to_owned()));
        }
        let handled = |handles: &[&str]| handles.iter().map(|e| (*e).to_owned()).collect();
        let projections = self.projections.iter().map(|p| Consumer {
            kind: ConsumerKind::Projection,
            name: format!("{}@v{}", p.name, p.version),
            events: handled(p.handles),
        });
        let managers = self.process_managers.iter().map(|m| Consumer {
            kind: ConsumerKind::ProcessManager,
            name: m.name.to_owned(),
            events: handled(m.handles),
        });
        let mut catalog = Catalog {
            title: self.title.clone(),
            version: self.version.clone(),
            description: self.description.clone(),
            categories,
            events,
            consumers: projections.chain(managers).collect(),
        };
        if let Some(committed) = self.committed_catalog()? {
            catalog.keep_history_from(&committed);
        }
        Ok(catalog)
    }

    fn committed_catalog(&self) -> Result<Option<Catalog>, CodegenError> {
        let path = self.out_dir.join("asyncapi.yaml");
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(from_document(&parse(&text)?)?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(CodegenError::Io { path, source }),
        }
    }

    /// Every file the generator writes, with its content.
    pub fn files(&self) -> Result<Vec<GeneratedFile>, CodegenError> {
        let document = to_document(&self.catalog()?);
        let mut files = vec![GeneratedFile {
            path: "asyncapi.yaml".into(),
            content: format!("{HEADER_HASH}{}", to_yaml(&document)?),
        }];
        if self.json {
            files.push(GeneratedFile {
                path: "asyncapi.json".into(),
                content: to_json(&document),
            });
        }
        let sdl = if self.projections.iter().any(|p| !p.read_models.is_empty()) {
            factum::graphql::ReadModelApi::schema_only(&self.projections)
                .sdl()
                .map_err(|e| CodegenError::Graphql(e.0))?
        } else {
            // A domain crate with events only: GraphQL has no schema without a field.
            NO_READ_MODELS.to_owned()
        };
        files.push(GeneratedFile {
            path: "schema.graphql".into(),
            content: format!("{HEADER_HASH}{sdl}"),
        });
        for (dialect, name) in [(Dialect::Sqlite, "sqlite"), (Dialect::Postgres, "postgres")] {
            files.push(GeneratedFile {
                path: PathBuf::from("ddl").join(format!("{name}.sql")),
                content: ddl(&self.projections, dialect),
            });
        }
        Ok(files)
    }

    /// Writes every file that changed; returns the paths written.
    pub fn write(&self) -> Result<Vec<PathBuf>, CodegenError> {
        let mut written = Vec::new();
        for file in self.files()? {
            let path = self.out_dir.join(&file.path);
            if std::fs::read_to_string(&path).ok().as_deref() == Some(file.content.as_str()) {
                continue;
            }
            let io = |source| CodegenError::Io {
                path: path.clone(),
                source,
            };
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(io)?;
            }
            std::fs::write(&path, &file.content).map_err(io)?;
            written.push(path);
        }
        Ok(written)
    }

    /// Fails with [`CodegenError::Stale`] if any committed file is missing or differs
    /// from what the code generates now.
    pub fn check(&self) -> Result<(), CodegenError> {
        let stale: Vec<PathBuf> = self
            .files()?
            .into_iter()
            .map(|file| (self.out_dir.join(&file.path), file.content))
            .filter(|(path, content)| {
                std::fs::read_to_string(path).ok().as_deref() != Some(content.as_str())
            })
            .map(|(path, _)| path)
            .collect();
        if stale.is_empty() {
            Ok(())
        } else {
            Err(CodegenError::Stale { files: stale })
        }
    }

    /// Runs as a command: `[--check] [--json] [--out DIR]` from `args` (without the
    /// program name). Prints what it did; the exit code is non-zero on stale files or
    /// errors.
    pub fn run<I: IntoIterator<Item = String>>(mut self, args: I) -> ExitCode {
        let mut check = false;
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--check" => check = true,
                "--json" => self.json = true,
                "--out" => match args.next() {
                    Some(dir) => self.out_dir = dir.into(),
                    None => {
                        eprintln!("--out needs a directory");
                        return ExitCode::from(2);
                    }
                },
                other => {
                    eprintln!("unknown argument {other:?}; usage: [--check] [--json] [--out DIR]");
                    return ExitCode::from(2);
                }
            }
        }
        let result = if check {
            self.check().map(|()| {
                println!("{}: generated files are up to date", self.out_dir.display());
            })
        } else {
            self.write().map(|written| {
                if written.is_empty() {
                    println!("{}: nothing changed", self.out_dir.display());
                }
                for path in written {
                    println!("wrote {}", path.display());
                }
            })
        };
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("{err}");
                ExitCode::FAILURE
            }
        }
    }
}

const HEADER_HASH: &str = "# Generated by factum-codegen from the code; do not edit. Regenerate it, and check\n# the catalog with `factum-catalog check --baseline <previous> <this>`.\n";

/// The catalog entry of an event as the code defines it today.
fn entry_of(descriptor: &EventDescriptor) -> EventEntry {
    let mut schema = serde_json::to_value((descriptor.schema)()).unwrap_or(Value::Bool(true));
    for (field, aliases) in descriptor.aliases {
        let Some(property) = schema.get_mut("properties").and_then(|p| p.get_mut(*field)) else {
            continue;
        };
        // A field of any JSON (`serde_json::Value`) has the schema `true`: the same
        // schema as an object, so that it can carry the aliases.
        if *property == Value::Bool(true) {
            *property = Value::Object(serde_json::Map::new());
        }
        if let Some(property) = property.as_object_mut() {
            property.insert(ALIASES.into(), Value::from(aliases.to_vec()));
        }
    }
    if !descriptor.dropped.is_empty()
        && let Some(root) = schema.as_object_mut()
    {
        root.insert(DROPPED.into(), Value::from(descriptor.dropped.to_vec()));
    }
    let mut entry = EventEntry::new(descriptor.name, descriptor.version, schema);
    // Older versions whose upcaster input has a schema: the code states how it reads them.
    for (version, older) in (descriptor.older_schemas)() {
        if let Ok(older) = serde_json::to_value(older) {
            entry.schemas.insert(version, older);
        }
    }
    entry.description = descriptor.description.map(str::to_owned);
    entry.deprecated = descriptor.deprecated.map(str::to_owned);
    if entry.deprecated.is_some() {
        let schedule = descriptor.schedule;
        entry.deprecated_since = schedule.since.map(str::to_owned);
        entry.sunset = schedule.sunset.map(str::to_owned);
        entry.replaced_by = schedule.replaced_by.map(str::to_owned);
    }
    entry.upcasters = descriptor.upcasters.iter().copied().collect();
    entry.rust_type = Some(descriptor.rust_type.to_owned());
    entry
}

/// The `CREATE TABLE`s of every projection version's read models, in one dialect.
fn ddl(projections: &[ProjectionDescriptor], dialect: Dialect) -> String {
    let mut out = format!(
        "-- Generated by factum-codegen: the read-model tables of every projection version\n\
         -- ({}). Do not edit; the projection runtime creates these itself, this file is\n\
         -- for review and for provisioning.\n",
        match dialect {
            Dialect::Sqlite => "SQLite",
            Dialect::Postgres => "PostgreSQL",
        }
    );
    for projection in projections {
        out.push_str(&format!(
            "\n-- projection {} v{}\n",
            projection.name, projection.version
        ));
        for model in &projection.read_models {
            out.push_str(&model.create_table(projection.version, dialect));
            out.push_str(";\n");
            for index in model.create_indexes(projection.version) {
                out.push_str(&index);
                out.push_str(";\n");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use factum::Event;
    use factum_catalog::{Catalog, check};
    use serde::{Deserialize, Serialize};

    /// Version 1 as first written: a price and a note.
    #[derive(Serialize, Deserialize, schemars::JsonSchema)]
    struct PricedBefore {
        price: u32,
        note: String,
    }

    /// The note is gone, and its stored values with it, knowingly.
    #[derive(Event, Serialize, Deserialize, schemars::JsonSchema)]
    #[event(name = "test.Priced", dropped = "note")]
    struct Priced {
        price: u32,
    }

    /// The same change, not acknowledged.
    #[derive(Event, Serialize, Deserialize, schemars::JsonSchema)]
    #[event(name = "test.Priced")]
    struct PricedUnacknowledged {
        price: u32,
    }

    fn catalog(entry: EventEntry) -> Catalog {
        Catalog {
            events: [(entry.name.clone(), entry)].into(),
            ..Catalog::default()
        }
    }

    #[test]
    fn an_acknowledged_drop_reaches_the_catalog_and_passes_the_gate() {
        let before = serde_json::to_value(factum::schema_of::<PricedBefore>()).unwrap();
        let before = catalog(EventEntry::new("test.Priced", 1, before));

        let entry = entry_of(&Priced::descriptor());
        assert_eq!(entry.schemas[&1][DROPPED], serde_json::json!(["note"]));
        assert!(check(&before, &catalog(entry)).is_empty());

        let silent = entry_of(&PricedUnacknowledged::descriptor());
        let report = check(&before, &catalog(silent));
        assert_eq!(report.len(), 1, "{report:?}");
        assert_eq!(report[0].path, "v1.note");
    }

    /// Retired in favour of `test.PricedIn`, kept until the end of 2027.
    #[derive(Event, Serialize, Deserialize, schemars::JsonSchema)]
    #[event(
        name = "test.Retired",
        deprecated(since = "3.1", sunset = "2027-12-31", replaced_by = "test.PricedIn")
    )]
    struct Retired {
        price: u32,
    }

    #[test]
    fn a_deprecation_schedule_reaches_the_catalog_and_holds_the_removal_back() {
        let entry = entry_of(&Retired::descriptor());
        assert_eq!(entry.deprecated.as_deref(), Some(""));
        assert_eq!(entry.deprecated_since.as_deref(), Some("3.1"));
        assert_eq!(entry.sunset.as_deref(), Some("2027-12-31"));
        assert_eq!(entry.replaced_by.as_deref(), Some("test.PricedIn"));
        let before = catalog(entry);
        let report = factum_catalog::check_on(&before, &Catalog::default(), "2027-12-30");
        assert_eq!(report.len(), 1, "{report:?}");
        assert!(factum_catalog::check_on(&before, &Catalog::default(), "2028-01-01").is_empty());
    }
}
