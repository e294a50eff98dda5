//! The catalog's own model: every event type a domain has ever stored, at every version,
//! grouped by stream category.
//!
//! This is what the compatibility check, the changelog and the HTML page work on. It is
//! written to and read from an AsyncAPI 3.0 document by [`asyncapi`](crate::asyncapi);
//! the model is independent of that format, so the checks do not care how the document
//! lays its parts out.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// A domain's event catalog.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Catalog {
    /// The document's title (the domain crate's name).
    pub title: String,
    /// The domain crate's version.
    pub version: String,
    /// What the domain is about.
    pub description: Option<String>,
    /// Stream categories (`account` for streams `account-…`), by name.
    pub categories: BTreeMap<String, Category>,
    /// Event types, by stored type name.
    pub events: BTreeMap<String, EventEntry>,
    /// The projections and process managers that handle the events, with the events each
    /// handles.
    pub consumers: BTreeSet<Consumer>,
}

/// What reads events to act on them: a projection or a process manager.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Consumer {
    /// A projection or a process manager.
    pub kind: ConsumerKind,
    /// Its name (a projection's with its version: `balances@v2`).
    pub name: String,
    /// The event types it handles, by stored type name.
    pub events: BTreeSet<String>,
}

/// The kinds of [`Consumer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ConsumerKind {
    /// A projection into read models.
    Projection,
    /// A process manager (saga), which sends commands.
    ProcessManager,
}

impl ConsumerKind {
    /// As written in the catalog: `projection` or `process-manager`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConsumerKind::Projection => "projection",
            ConsumerKind::ProcessManager => "process-manager",
        }
    }

    /// The kind written as [`as_str`](Self::as_str) gives it.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "projection" => Some(ConsumerKind::Projection),
            "process-manager" => Some(ConsumerKind::ProcessManager),
            _ => None,
        }
    }
}

impl Catalog {
    /// The consumers that handle `event`.
    pub fn consumers_of<'c>(&'c self, event: &'c str) -> impl Iterator<Item = &'c Consumer> {
        self.consumers
            .iter()
            .filter(move |c| c.events.contains(event))
    }
}

/// A stream category: one AsyncAPI channel.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Category {
    /// What streams of this category hold (the aggregate's doc comment).
    pub description: Option<String>,
    /// The event types its streams hold.
    pub events: BTreeSet<String>,
}

/// One event type with its whole version history.
#[derive(Clone, Debug, PartialEq)]
pub struct EventEntry {
    /// The stored type name (`bank.Deposited`).
    pub name: String,
    /// The doc comment of the current version.
    pub description: Option<String>,
    /// The current schema version: what the code writes today.
    pub version: u32,
    /// Why the event is deprecated, if it is (empty when no reason was given).
    pub deprecated: Option<String>,
    /// When a deprecated event was deprecated (a release or a date), if said.
    pub deprecated_since: Option<String>,
    /// The date (`YYYY-MM-DD`) before which a deprecated event must not be removed, if
    /// set: producers and consumers have until then to move off it.
    pub sunset: Option<String>,
    /// The event type that replaces a deprecated one, if named.
    pub replaced_by: Option<String>,
    /// The versions that have an upcaster to the next one.
    pub upcasters: BTreeSet<u32>,
    /// The payload schema of each version the catalog has seen, self-contained
    /// (draft-07, shared parts under `definitions`). The current version is always here;
    /// an older one is here if an earlier catalog recorded it.
    pub schemas: BTreeMap<u32, Value>,
    /// The Rust type, for readers of the catalog.
    pub rust_type: Option<String>,
}

impl EventEntry {
    /// An event at `version` with `schema`, no history, not deprecated.
    pub fn new(name: impl Into<String>, version: u32, schema: Value) -> Self {
        EventEntry {
            name: name.into(),
            description: None,
            version,
            deprecated: None,
            deprecated_since: None,
            sunset: None,
            replaced_by: None,
            upcasters: BTreeSet::new(),
            schemas: BTreeMap::from([(version, schema)]),
            rust_type: None,
        }
    }

    /// The current version's payload schema.
    pub fn current_schema(&self) -> Option<&Value> {
        self.schemas.get(&self.version)
    }

    /// Whether events stored at `from` can be lifted to the current version: every
    /// version from `from` up to the current one has an upcaster.
    pub fn lifts_from(&self, from: u32) -> bool {
        (from..self.version).all(|v| self.upcasters.contains(&v))
    }

    /// The message key of one version: `bank.Deposited.v2`.
    pub fn key(&self, version: u32) -> String {
        message_key(&self.name, version)
    }
}

/// The message key of an event type at a version: `bank.Deposited.v2`.
pub fn message_key(name: &str, version: u32) -> String {
    format!("{name}.v{version}")
}

impl Catalog {
    /// The categories an event type's streams belong to.
    pub fn categories_of(&self, event: &str) -> impl Iterator<Item = &str> {
        self.categories
            .iter()
            .filter(move |(_, c)| c.events.contains(event))
            .map(|(name, _)| name.as_str())
    }

    /// Takes over, from `earlier`, the schemas of older versions this catalog does not
    /// have (the code only knows its current payloads; the catalog remembers the rest).
    pub fn keep_history_from(&mut self, earlier: &Catalog) {
        for (name, entry) in &mut self.events {
            let Some(old) = earlier.events.get(name) else {
                continue;
            };
            for (version, schema) in &old.schemas {
                if *version < entry.version {
                    entry
                        .schemas
                        .entry(*version)
                        .or_insert_with(|| schema.clone());
                }
            }
        }
    }
}
