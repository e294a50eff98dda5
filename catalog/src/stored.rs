//! Stored events against the catalog (`factum-catalog check --store`): can the code of
//! a catalog read every event a live store holds?
//!
//! A store's inventory (how many events each type has at each schema version, see
//! [`StoredCount`]) is judged against a catalog by [`check_stored`]: every stored
//! `(type, version)` must be a type the catalog has, at its current version or at an
//! older one with an upcaster from each version up to the current one. A version newer
//! than the catalog's current one is refused too: code built from that catalog would not
//! know it. So removing an event type, or an upcaster, is refused while stored events
//! need it.
//!
//! With the `store` feature (on by default), [`read_store`] reads the inventory of a
//! SQLite file or a PostgreSQL schema, read-only: no database or schema is created,
//! nothing is migrated or written, and a SQLite file is not changed (SQLite may leave
//! its `-wal` and `-shm` side files, which hold no data, beside a store no writer has
//! open; see `SqliteStore::open_existing`).
//!
//! ```
//! use factum_catalog::{Catalog, EventEntry};
//! use factum_catalog::stored::{StoredCount, Verdict, check_stored};
//! use serde_json::json;
//!
//! let mut catalog = Catalog::default();
//! let mut deposited = EventEntry::new("bank.Deposited", 2, json!({ "type": "object" }));
//! deposited.upcasters.insert(1);
//! catalog.events.insert("bank.Deposited".into(), deposited.clone());
//! let stored = [StoredCount::new("bank.Deposited", 1, 1), StoredCount::new("bank.Deposited", 2, 5)];
//!
//! let rows = check_stored(&catalog, &stored);
//! assert_eq!(rows[0].verdict, Verdict::Upcast { to: 2 });
//! assert_eq!(rows[1].verdict, Verdict::Current);
//!
//! // Without the upcaster from v1, the version 1 event cannot be read.
//! deposited.upcasters.clear();
//! catalog.events.insert("bank.Deposited".into(), deposited);
//! let rows = check_stored(&catalog, &stored);
//! assert!(rows[0].is_refused());
//! assert_eq!(
//!     rows[0].to_string(),
//!     "bank.Deposited v1 (1 stored): no upcaster from v1 to v2: keep the upcaster from v1, \
//!      1 stored event needs it"
//! );
//! ```

use std::fmt;

use crate::compat::BreakingChange;
use crate::model::Catalog;

/// How many events a store holds of one event type at one schema version.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StoredCount {
    /// The stored event type name (`bank.Deposited`).
    pub event: String,
    /// The schema version the events were written at.
    pub version: u32,
    /// How many are stored.
    pub count: u64,
}

impl StoredCount {
    /// `count` events of `event` stored at `version`.
    pub fn new(event: impl Into<String>, version: u32, count: u64) -> Self {
        StoredCount {
            event: event.into(),
            version,
            count,
        }
    }
}

/// Whether the catalog's code reads the events of one stored `(type, version)`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Verdict {
    /// Stored at the current version: read as they are.
    Current,
    /// Stored at an older version, lifted through the upcasters to the current one.
    Upcast {
        /// The current version they are lifted to.
        to: u32,
    },
    /// The catalog has no such event type: the code cannot read these events.
    UnknownType,
    /// Stored at an older version, and some upcaster on the way to the current one is
    /// missing.
    MissingUpcasters {
        /// The catalog's current version.
        current: u32,
        /// The versions (from the stored one up) that have no upcaster to the next.
        missing: Vec<u32>,
    },
    /// Stored at a version newer than the catalog's current one: code built from this
    /// catalog would not know it (is the catalog older than the code that wrote them?).
    Newer {
        /// The catalog's current version.
        current: u32,
    },
}

impl Verdict {
    /// Whether the events cannot be read.
    pub fn is_refused(&self) -> bool {
        !matches!(self, Verdict::Current | Verdict::Upcast { .. })
    }
}

/// One stored `(type, version)` and what the catalog makes of it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct StoredCheck {
    /// The event type.
    pub event: String,
    /// The stored schema version.
    pub version: u32,
    /// How many events are stored at it.
    pub count: u64,
    /// Whether the catalog's code reads them.
    pub verdict: Verdict,
}

impl StoredCheck {
    /// Whether the catalog's code cannot read these events.
    pub fn is_refused(&self) -> bool {
        self.verdict.is_refused()
    }

    /// `ok (current)`, `ok (upcast v1→v2)`, or why the events cannot be read and what to
    /// do about it.
    pub fn verdict_text(&self) -> String {
        let events = |n: u64| {
            if n == 1 {
                "1 stored event needs".to_owned()
            } else {
                format!("{n} stored events need")
            }
        };
        let need = events(self.count);
        match &self.verdict {
            Verdict::Current => "ok (current)".into(),
            Verdict::Upcast { to } => format!("ok (upcast v{}→v{to})", self.version),
            Verdict::UnknownType => format!(
                "the catalog has no event type {}: keep it, {need} it (deprecate it \
                 instead; remove it only once no stored event has it)",
                self.event
            ),
            Verdict::MissingUpcasters { current, missing } => {
                let froms = missing
                    .iter()
                    .map(|v| format!("v{v}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                if let [from] = missing.as_slice() {
                    format!(
                        "no upcaster from v{from} to v{}: keep the upcaster from v{from}, \
                         {need} it",
                        from + 1
                    )
                } else {
                    format!(
                        "no upcasters from {froms} on the way to v{current}: keep them, \
                         {need} them"
                    )
                }
            }
            Verdict::Newer { current } => format!(
                "stored at v{}, newer than the catalog's current v{current}: its code would \
                 not know these events (is the catalog older than the code that wrote them?)",
                self.version
            ),
        }
    }

    /// The refusal as a [`BreakingChange`] (path `v1`), or `None` if the events are read.
    pub fn breaking_change(&self) -> Option<BreakingChange> {
        self.is_refused().then(|| BreakingChange {
            event: self.event.clone(),
            path: format!("v{}", self.version),
            reason: self.verdict_text(),
        })
    }
}

impl fmt::Display for StoredCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} v{} ({} stored): {}",
            self.event,
            self.version,
            self.count,
            self.verdict_text()
        )
    }
}

/// Judges a store's inventory against `catalog`: one row per stored `(type, version)`
/// with events (empty counts are skipped; repeated rows are added up), sorted by type and
/// version. Any [refused](StoredCheck::is_refused) row means the catalog's code cannot
/// read some stored events.
pub fn check_stored(catalog: &Catalog, stored: &[StoredCount]) -> Vec<StoredCheck> {
    let mut counts: std::collections::BTreeMap<(&str, u32), u64> = Default::default();
    for s in stored.iter().filter(|s| s.count > 0) {
        let n = counts.entry((s.event.as_str(), s.version)).or_default();
        *n = n.saturating_add(s.count);
    }
    counts
        .into_iter()
        .map(|((event, version), count)| StoredCheck {
            event: event.to_owned(),
            version,
            count,
            verdict: verdict(catalog, event, version),
        })
        .collect()
}

fn verdict(catalog: &Catalog, event: &str, version: u32) -> Verdict {
    let Some(entry) = catalog.events.get(event) else {
        return Verdict::UnknownType;
    };
    let current = entry.version;
    if version == current {
        Verdict::Current
    } else if version > current {
        Verdict::Newer { current }
    } else if entry.lifts_from(version) {
        Verdict::Upcast { to: current }
    } else {
        Verdict::MissingUpcasters {
            current,
            missing: (version..current)
                .filter(|v| !entry.upcasters.contains(v))
                .collect(),
        }
    }
}

/// Where a live store is: a SQLite file or a PostgreSQL schema.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreLocation {
    /// A SQLite file (`sqlite:path`, `sqlite://path` or a plain path).
    Sqlite(String),
    /// A schema of a PostgreSQL database.
    Postgres {
        /// The connection URL, without a `schema` parameter.
        url: String,
        /// The schema the store's tables are in.
        schema: String,
    },
}

/// The schema a PostgreSQL store uses when none is named (Factum's default).
pub const DEFAULT_SCHEMA: &str = "factum";

impl StoreLocation {
    /// Reads `url`: `postgres://…` or `postgresql://…` (the schema from a `schema=` query
    /// parameter, else `schema`, else [`DEFAULT_SCHEMA`]; both naming different ones is
    /// an error), anything else a SQLite file.
    pub fn parse(url: &str, schema: Option<&str>) -> Result<Self, crate::CatalogError> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            if schema.is_some() {
                return Err(crate::CatalogError::Store(
                    "--schema names a PostgreSQL schema, but the store is a SQLite file".into(),
                ));
            }
            return Ok(StoreLocation::Sqlite(url.to_owned()));
        }
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut in_url = None;
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("schema", value)) => in_url = Some(value.to_owned()),
                _ => kept.push(pair),
            }
        }
        let schema = match (in_url, schema) {
            (Some(a), Some(b)) if a != b => {
                return Err(crate::CatalogError::Store(format!(
                    "the URL names schema {a:?} and --schema names {b:?}; name one"
                )));
            }
            (Some(a), _) => a,
            (None, Some(b)) => b.to_owned(),
            (None, None) => DEFAULT_SCHEMA.to_owned(),
        };
        let url = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        Ok(StoreLocation::Postgres { url, schema })
    }
}

impl fmt::Display for StoreLocation {
    /// The store for messages: a PostgreSQL URL without its password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreLocation::Sqlite(path) => write!(f, "SQLite {path}"),
            StoreLocation::Postgres { url, schema } => {
                write!(f, "PostgreSQL {}, schema {schema}", without_password(url))
            }
        }
    }
}

impl fmt::Debug for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// `url` with its password replaced by `***`: the one in its user part
/// (`postgres://ada:secret@host/db`) and any `password=` query parameter
/// (`postgres://ada@host/db?password=secret`).
fn without_password(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let base = match base.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            let (authority, tail) = rest.split_at(authority_end);
            match authority.rsplit_once('@') {
                Some((user, host)) => match user.split_once(':') {
                    Some((name, _)) => format!("{scheme}://{name}:***@{host}{tail}"),
                    None => base.to_owned(),
                },
                None => base.to_owned(),
            }
        }
        None => base.to_owned(),
    };
    let Some(query) = query else {
        return base;
    };
    let query = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&");
    format!("{base}?{query}")
}

/// Reads the inventory of the store at `location`, read-only: a SQLite file that does
/// not exist or holds no Factum store, or a schema without a Factum store, is an error
/// naming the store; no database or schema is created, nothing is migrated or written,
/// and a SQLite file is not changed (SQLite may leave its `-wal` and `-shm` side files
/// beside it, which hold no data). Other failures (a locked file, a refused connection
/// or privilege) are reported as the database's errors.
#[cfg(feature = "store")]
pub async fn read_store(location: &StoreLocation) -> Result<Vec<StoredCount>, crate::CatalogError> {
    let failed = |err: factum::StoreError| {
        crate::CatalogError::Store(match err {
            // Names the store already.
            factum::StoreError::NoSuchStore { .. } => err.to_string(),
            err => format!("{location}: {err}"),
        })
    };
    let versions = match location {
        StoreLocation::Sqlite(url) => {
            let config = factum::SqliteConfig::from_url(url).map_err(failed)?;
            let store = factum::SqliteStore::open_existing(config)
                .await
                .map_err(failed)?;
            store.stored_event_versions().await.map_err(failed)?
        }
        StoreLocation::Postgres { url, schema } => {
            let config = factum::PostgresConfig::new(url.as_str())
                .schema(schema.as_str())
                .max_connections(1);
            let store = factum::PostgresStore::connect_existing(config)
                .await
                .map_err(failed)?;
            let versions = store.stored_event_versions().await.map_err(failed)?;
            store.pool().close().await;
            versions
        }
    };
    Ok(versions
        .into_iter()
        .map(|v| StoredCount::new(v.event_type, v.schema_version, v.count))
        .collect())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::model::EventEntry;

    fn catalog(entries: &[(&str, u32, &[u32])]) -> Catalog {
        let mut catalog = Catalog::default();
        for (name, version, upcasters) in entries {
            let mut entry = EventEntry::new(*name, *version, json!({ "type": "object" }));
            entry.upcasters = upcasters.iter().copied().collect();
            catalog.events.insert((*name).into(), entry);
        }
        catalog
    }

    #[test]
    fn each_stored_version_is_judged() {
        let catalog = catalog(&[("a.Deposited", 3, &[1, 2]), ("a.Opened", 1, &[])]);
        let stored = [
            StoredCount::new("a.Opened", 1, 4),
            StoredCount::new("a.Deposited", 2, 2),
            StoredCount::new("a.Deposited", 1, 1),
            StoredCount::new("a.Deposited", 3, 9),
            StoredCount::new("a.Deposited", 4, 1),
            StoredCount::new("a.Closed", 1, 2),
            StoredCount::new("a.Gone", 1, 0),
        ];
        let rows = check_stored(&catalog, &stored);
        let got: Vec<_> = rows
            .iter()
            .map(|r| (r.event.as_str(), r.version, r.count, r.verdict.clone()))
            .collect();
        assert_eq!(
            got,
            [
                ("a.Closed", 1, 2, Verdict::UnknownType),
                ("a.Deposited", 1, 1, Verdict::Upcast { to: 3 }),
                ("a.Deposited", 2, 2, Verdict::Upcast { to: 3 }),
                ("a.Deposited", 3, 9, Verdict::Current),
                ("a.Deposited", 4, 1, Verdict::Newer { current: 3 }),
                ("a.Opened", 1, 4, Verdict::Current),
            ]
        );
        assert_eq!(rows[1].verdict_text(), "ok (upcast v1→v3)");
        assert_eq!(rows[3].verdict_text(), "ok (current)");
        assert!(rows[0].verdict_text().starts_with(
            "the catalog has no event type a.Closed: keep it, 2 stored events need it"
        ));
        assert!(
            rows[4]
                .verdict_text()
                .starts_with("stored at v4, newer than the catalog's current v3")
        );
        let breaking = rows[0].breaking_change().unwrap();
        assert_eq!(
            (breaking.event.as_str(), breaking.path.as_str()),
            ("a.Closed", "v1")
        );
        assert_eq!(rows[1].breaking_change(), None);
    }

    #[test]
    fn missing_upcasters_are_named() {
        let one = catalog(&[("a.Deposited", 2, &[])]);
        let rows = check_stored(&one, &[StoredCount::new("a.Deposited", 1, 3)]);
        assert_eq!(
            rows[0].to_string(),
            "a.Deposited v1 (3 stored): no upcaster from v1 to v2: keep the upcaster from v1, \
             3 stored events need it"
        );
        let gaps = catalog(&[("a.Deposited", 4, &[2])]);
        let rows = check_stored(&gaps, &[StoredCount::new("a.Deposited", 1, 1)]);
        assert_eq!(
            rows[0].verdict,
            Verdict::MissingUpcasters {
                current: 4,
                missing: vec![1, 3]
            }
        );
        assert_eq!(
            rows[0].verdict_text(),
            "no upcasters from v1, v3 on the way to v4: keep them, 1 stored event needs them"
        );
        // v2 only needs 2→3 and 3→4.
        let rows = check_stored(&gaps, &[StoredCount::new("a.Deposited", 2, 1)]);
        assert_eq!(
            rows[0].verdict,
            Verdict::MissingUpcasters {
                current: 4,
                missing: vec![3]
            }
        );
    }

    #[test]
    fn repeated_rows_add_up_and_empty_ones_are_skipped() {
        let catalog = catalog(&[("a.Opened", 1, &[])]);
        let rows = check_stored(
            &catalog,
            &[
                StoredCount::new("a.Opened", 1, 2),
                StoredCount::new("a.Opened", 1, u64::MAX),
                StoredCount::new("a.Closed", 1, 0),
            ],
        );
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].count, u64::MAX);
    }

    #[test]
    fn locations() {
        assert_eq!(
            StoreLocation::parse("bank.sqlite", None).unwrap(),
            StoreLocation::Sqlite("bank.sqlite".into())
        );
        assert!(StoreLocation::parse("bank.sqlite", Some("bank")).is_err());
        let pg = |url: &str, schema: &str| StoreLocation::Postgres {
            url: url.into(),
            schema: schema.into(),
        };
        assert_eq!(
            StoreLocation::parse("postgres://u@h/db", None).unwrap(),
            pg("postgres://u@h/db", DEFAULT_SCHEMA)
        );
        assert_eq!(
            StoreLocation::parse("postgres://u@h/db", Some("bank")).unwrap(),
            pg("postgres://u@h/db", "bank")
        );
        assert_eq!(
            StoreLocation::parse("postgresql://u@h/db?sslmode=disable&schema=bank", None).unwrap(),
            pg("postgresql://u@h/db?sslmode=disable", "bank")
        );
        assert_eq!(
            StoreLocation::parse("postgres://u@h/db?schema=bank", Some("bank")).unwrap(),
            pg("postgres://u@h/db", "bank")
        );
        assert!(StoreLocation::parse("postgres://u@h/db?schema=a", Some("b")).is_err());
        assert_eq!(
            pg("postgres://ada:secret@h:5432/db", "bank").to_string(),
            "PostgreSQL postgres://ada:***@h:5432/db, schema bank"
        );
        assert_eq!(
            pg("postgres://ada@h/db", "s").to_string(),
            "PostgreSQL postgres://ada@h/db, schema s"
        );
    }

    #[test]
    fn passwords_are_masked() {
        for (url, shown) in [
            (
                "postgres://ada:secret@h:5432/db",
                "postgres://ada:***@h:5432/db",
            ),
            ("postgres://ada@h/db", "postgres://ada@h/db"),
            ("postgres://h/db", "postgres://h/db"),
            (
                "postgres://ada@h/db?password=secret",
                "postgres://ada@h/db?password=***",
            ),
            (
                "postgres://ada@h/db?sslmode=disable&password=s%40cret&application_name=x",
                "postgres://ada@h/db?sslmode=disable&password=***&application_name=x",
            ),
            (
                "postgresql://ada:one@h?PASSWORD=two",
                "postgresql://ada:***@h?PASSWORD=***",
            ),
            (
                "postgres://ada@h/db?passwords=x",
                "postgres://ada@h/db?passwords=x",
            ),
        ] {
            assert_eq!(without_password(url), shown, "{url}");
        }
        // Through StoreLocation, which keeps the query but its schema.
        let location =
            StoreLocation::parse("postgres://ada@h/db?password=secret&schema=bank", None).unwrap();
        assert_eq!(
            location.to_string(),
            "PostgreSQL postgres://ada@h/db?password=***, schema bank"
        );
    }

    proptest! {
        /// A stored version is read exactly when the type is in the catalog, the version is
        /// not newer than the current one, and every version from it up has an upcaster;
        /// removing any upcaster a stored version goes through refuses it.
        #[test]
        fn read_exactly_through_an_upcaster_chain(
            current in 1u32..8,
            upcasters in prop::collection::btree_set(1u32..8, 0..8),
            stored in prop::collection::btree_set(1u32..10, 1..6),
        ) {
            let mut entry = EventEntry::new("a.E", current, json!({ "type": "object" }));
            entry.upcasters = upcasters.iter().copied().filter(|v| *v < current).collect();
            let mut catalog = Catalog::default();
            catalog.events.insert("a.E".into(), entry.clone());
            let counts: Vec<_> = stored.iter().map(|v| StoredCount::new("a.E", *v, 1)).collect();
            let rows = check_stored(&catalog, &counts);
            prop_assert_eq!(rows.len(), stored.len());
            for row in &rows {
                let v = row.version;
                let readable = v <= current && (v..current).all(|u| entry.upcasters.contains(&u));
                prop_assert_eq!(!row.is_refused(), readable, "{}", row);
                prop_assert_eq!(row.breaking_change().is_some(), row.is_refused());
                if readable {
                    // Drop one upcaster it goes through: refused.
                    for u in v..current {
                        let mut fewer = catalog.clone();
                        let e = fewer.events.get_mut("a.E").unwrap();
                        e.upcasters = e.upcasters.iter().copied().filter(|x| *x != u).collect::<BTreeSet<_>>();
                        let again = check_stored(&fewer, &counts[..]);
                        let row = again.iter().find(|r| r.version == v).unwrap();
                        prop_assert!(row.is_refused());
                        let missing = matches!(&row.verdict, Verdict::MissingUpcasters { missing, .. } if missing.contains(&u));
                        prop_assert!(missing);
                    }
                }
            }
            // Without the type, every stored version is refused.
            let empty = check_stored(&Catalog::default(), &counts);
            prop_assert!(empty.iter().all(|r| r.verdict == Verdict::UnknownType));
        }
    }
}
