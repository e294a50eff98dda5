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
//! use factum::SqliteStore;
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
//! Most programs start with `use factum::prelude::*;`: the derives and attribute macros,
//! the traits they implement and the types a command handler or projection names.
//!
//! Every public item has one path. The store, its value types, events, aggregates and the
//! repository are at the crate root (`factum::SqliteStore`, `factum::EventStore`,
//! `factum::Repository`); the read side has modules of its own ([`projection`](mod@projection),
//! `saga` and `graphql` with their features), and [`testing`] holds the aggregate test
//! helpers. Components built over a store take it by value (`Repository::new(store)`);
//! `with_*` methods configure what was built.
//!
//! ## Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `sqlite` | yes | the embedded SQLite backend (`SqliteStore`, bundled SQLite, one file or `:memory:`), projections, sagas |
//! | `postgres` | no | the PostgreSQL backend (`PostgresStore`), projections, sagas |
//! | `graphql` | no | the GraphQL read-model API (`graphql::ReadModelApi`, axum router, graphql-ws subscriptions), for whichever SQL backends are on |
//! | `graphql-schema` | no | the read-model API's GraphQL schema alone (`graphql::ReadModelApi::schema_only`, its SDL), without the server or a database: what code generation needs (`graphql` implies it) |
//!
//! Without `sqlite` or `postgres` the crate still builds, for domain crates that define
//! events and aggregates and generate their catalog: the in-memory [`MemoryStore`] is
//! always available, for unit tests of domain logic, but projections need an SQL backend.

/// Declares items that need an SQL backend (SQLite or PostgreSQL): the projection
/// runtime and what builds on it. Defined before the modules so all of them can use it.
macro_rules! cfg_sql {
    ($($item:item)*) => {
        $(
            #[cfg(sql)]
            $item
        )*
    };
}

/// The name rules `factum-macros` also checks at compile time.
use factum_names as names;

// The layers. Each type has one public path: what most programs name is re-exported
// here from the layers whose modules are private (`aggregate`, `event`, `stream`,
// `store`, `error`, `registry`); the layers with vocabulary of their own are public
// modules and keep it (`projection`, `saga`, `graphql`, `testing`).
mod aggregate;
mod error;
mod event;
#[cfg(feature = "graphql-schema")]
pub mod graphql;
pub mod projection;
mod registry;
cfg_sql! {
    pub mod saga;
}
mod store;
mod stream;

pub use aggregate::snapshot::{Snapshot, SnapshotPolicy, SnapshotStore};
pub use aggregate::testing;
pub use error::{ActualVersion, BlockingTransaction, IdConflictReason, Result, StoreError};
pub use event::{
    Event, EventData, EventId, EventView, MAX_EVENT_TYPE_LEN, Metadata, Payload, RecordedEvent,
    UpcastError,
};
pub use projection::read_model::{ReadModel, ReadModelDescriptor};
pub use registry::{
    AggregateDescriptor, DeprecationSchedule, EventDescriptor, ProcessManagerDescriptor,
    ProjectionDescriptor, aggregates, events, process_managers, projections, read_models,
    schema_of,
};
pub use store::StoredVersion;
pub use store::memory::{MemoryStore, MemoryTransaction};
#[cfg(feature = "nats")]
pub use store::nats::{NatsConfig, NatsStore};
#[cfg(feature = "postgres")]
pub use store::postgres::{PostgresConfig, PostgresStore, PostgresTransaction};
pub use store::sql::ddl::Dialect;
#[cfg(feature = "sqlite")]
pub use store::sqlite::{SqliteConfig, SqliteStore, SqliteTransaction};
pub use store::{
    AppendResult, AppendWatcher, Backend, DEFAULT_MAX_APPEND_SIZE, DEFAULT_MAX_EVENT_SIZE,
    Direction, EventStore, EventStream, MAX_BATCH_LEN, MAX_UNIQUE_SCOPE_LEN, MAX_UNIQUE_VALUE_LEN,
    MAX_UNIQUE_VALUES, ReadAll, ReadStream, StoreLimits, StoreTransaction, StreamInfo,
    TransactionalStore, UniqueValue, Uniqueness,
};
pub use stream::{ExpectedVersion, MAX_STREAM_ID_LEN, Position, StreamId};

pub use aggregate::repository::{
    CacheOptions, Executed, Loaded, Repository, RepositoryError, RepositoryOptions, RetryPolicy,
    UnknownEvents,
};
pub use aggregate::{
    Aggregate, Applies, Decision, Dispatch, EventSet, Handles, IntoDecision, MemberOf,
};

/// `#[derive(Event)]`: see [`Event`] and the `factum-macros` docs.
pub use factum_macros::Event;
/// `#[derive(EventSet)]`: see [`EventSet`].
pub use factum_macros::EventSet;
/// `#[derive(ReadModel)]`: see [`ReadModel`].
pub use factum_macros::ReadModel;
/// `#[factum::aggregate(...)]`: see [`Aggregate`].
pub use factum_macros::aggregate;
/// `#[factum::payload]`: records the serde attributes of a type inside an event's payload
/// in its JSON Schema, for the catalog's compatibility gate (see the `factum-macros` docs).
pub use factum_macros::payload;
/// `#[factum::process_manager(...)]`: see [`saga`](mod@saga).
#[cfg(sql)]
pub use factum_macros::process_manager;
/// `#[factum::projection(...)]`: see [`projection`](mod@projection).
#[cfg(sql)]
pub use factum_macros::projection;

/// The names most programs use, for `use factum::prelude::*;`: the derives and attribute
/// macros, the traits they implement, the repository and the store's value types, and
/// (with an SQL backend) what a projection handler names.
pub mod prelude {
    pub use crate::{
        Aggregate, Backend, Decision, Event, EventData, EventSet, EventStore, ExpectedVersion,
        Handles, Metadata, Position, ReadModel, RecordedEvent, Repository, RepositoryError,
        StreamId,
    };
    pub use factum_macros::{aggregate, payload};
    cfg_sql! {
        pub use crate::projection::{Envelope, HandlerError, Projection, ProjectionTx};
        pub use factum_macros::{process_manager, projection};
    }
}

/// What generated code names. Not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::aggregate::{decided, names_are_distinct};
    pub use crate::event::{run_upcaster, try_run_upcaster};
    pub use crate::registry::{
        AggregateRegistration, EventRegistration, InputHasNoSchema, InputHasSchema,
        ProcessManagerRegistration, ProjectionRegistration, ReadModelRegistration, probe_input,
        process_manager_descriptor, projection_descriptor,
    };
    pub use futures_util::future::BoxFuture;
    pub use inventory;
    pub use serde_json;
}

/// The sqlx version Factum is built on, for code that shares its pools or names its types
/// (`SqliteSynchronous`, `sqlx::Error`) without a separate, possibly mismatched, dependency.
#[cfg(sql)]
pub use sqlx;

/// The schemars version event schemas are generated with: `#[derive(Event)]` needs the
/// type to implement its `JsonSchema`.
pub use schemars;

/// The README's examples, compiled as doctests so they cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
