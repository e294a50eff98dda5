//! # Factum
//!
//! Event sourcing for Rust: an append-only journal of domain events as the source of truth,
//! with versioned events, aggregates, projections into read models, and an event catalog.
//!
//! This crate is the facade and the runtime. Its foundation is the [`EventStore`]: append
//! events to streams with optimistic concurrency, read a stream back, and follow the global
//! log in an order that never skips an event that committed late.
//!
//! ```
//! # #[cfg(feature = "sqlite")]
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use factum::{EventData, EventStore, ExpectedVersion, ReadStream, StreamId};
//! use factum::store::sqlite::SqliteStore;
//! use futures_util::TryStreamExt;
//!
//! let store = SqliteStore::open_in_memory().await?;
//! let account = StreamId::new("account-42")?;
//! store
//!     .append(
//!         &account,
//!         ExpectedVersion::NoStream,
//!         vec![
//!             EventData::new("Opened", serde_json::json!({ "owner": "Ada" })),
//!             EventData::new("Deposited", serde_json::json!({ "cents": 5_000 })),
//!         ],
//!     )
//!     .await?;
//! let history: Vec<_> = store.read_stream(&account, ReadStream::forward()).try_collect().await?;
//! assert_eq!(history.len(), 2);
//! assert_eq!(history[1].event_type, "Deposited");
//! # Ok::<(), factum::StoreError>(()) }).unwrap();
//! ```
//!
//! ## Features
//!
//! * `sqlite` (default): [`store::sqlite::SqliteStore`], embedded, one file or `:memory:`.
//! * `postgres`: [`store::postgres::PostgresStore`].
//!
//! The in-memory [`MemoryStore`] is always available, for unit tests of domain logic.

pub mod aggregate;
pub mod error;
pub mod event;
pub mod event_id;
pub mod expected_version;
#[cfg(all(feature = "graphql", any(feature = "sqlite", feature = "postgres")))]
pub mod graphql;
pub mod metadata;
// The name rules `factum-macros` also checks at compile time: one file, both crates.
#[allow(dead_code)]
#[path = "../../macros/src/names.rs"]
mod names;
pub mod position;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub mod projection;
pub mod read_model;
pub mod registry;
pub mod repository;
pub mod snapshot;
pub mod store;
pub mod stream_id;
pub mod subscription;
pub mod testing;
pub mod versioned;

pub use error::{ActualVersion, BlockingTransaction, IdConflictReason, Result, StoreError};
pub use event::{EventData, EventView, Payload, RecordedEvent};
pub use event_id::EventId;
pub use expected_version::ExpectedVersion;
pub use metadata::Metadata;
pub use position::Position;
pub use read_model::{Dialect, ReadModel, ReadModelDescriptor};
pub use registry::{
    AggregateDescriptor, EventDescriptor, ProjectionDescriptor, aggregates, events, projections,
    read_models, schema_of,
};
pub use snapshot::{Snapshot, SnapshotPolicy, SnapshotStore};
pub use store::memory::MemoryStore;
#[cfg(feature = "postgres")]
pub use store::postgres::{PostgresConfig, PostgresStore};
#[cfg(feature = "sqlite")]
pub use store::sqlite::{SqliteConfig, SqliteStore};
pub use store::{
    AppendResult, DEFAULT_MAX_EVENT_SIZE, Direction, EventStore, EventStream, ReadAll, ReadStream,
    StoreLimits, StoreTransaction, StreamInfo, TransactionalStore, UniqueValue, Uniqueness,
};
pub use stream_id::StreamId;
pub use versioned::{Event, UpcastError};

pub use aggregate::{
    Aggregate, Applies, Decision, Dispatch, EventSet, Handles, IntoDecision, MemberOf,
};
pub use repository::{
    Executed, Loaded, Repository, RepositoryError, RepositoryOptions, UnknownEvents,
};

/// `#[derive(Event)]`: see [`Event`] and the `factum-macros` docs.
pub use factum_macros::Event;
/// `#[derive(EventSet)]`: see [`EventSet`].
pub use factum_macros::EventSet;
/// `#[derive(ReadModel)]`: see [`read_model`](mod@read_model).
pub use factum_macros::ReadModel;
/// `#[factum::aggregate(...)]`: see [`aggregate`](mod@aggregate).
pub use factum_macros::aggregate;
/// `#[factum::process_manager(...)]`: see [`process_manager`](mod@projection::process_manager).
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use factum_macros::process_manager;
/// `#[factum::projection(...)]`: see [`projection`](mod@projection).
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use factum_macros::projection;

/// What generated code names. Not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::aggregate::{decided, names_are_distinct};
    pub use crate::registry::{
        AggregateRegistration, EventRegistration, InputHasNoSchema, InputHasSchema,
        ProjectionRegistration, ReadModelRegistration, probe_input, projection_descriptor,
    };
    pub use crate::versioned::{run_upcaster, try_run_upcaster};
    pub use futures_util::future::BoxFuture;
    pub use inventory;
    pub use serde_json;
}

/// The sqlx version Factum is built on, for code that shares its pools or names its types
/// (`SqliteSynchronous`, `sqlx::Error`) without a separate, possibly mismatched, dependency.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use sqlx;

/// The schemars version event schemas are generated with: `#[derive(Event)]` needs the
/// type to implement its `JsonSchema`.
pub use schemars;

/// The README's examples, compiled as doctests so they cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
