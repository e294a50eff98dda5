#![doc = include_str!("../../docs/projections.md")]

pub(crate) mod read_model;
pub mod subscription;

pub use read_model::{Column, ColumnType, Index, KeyOf};

cfg_sql! {
mod admin;
pub mod batch_writes;
pub mod changes;
pub(crate) mod database;
pub(crate) mod db;
pub mod dedup;
pub mod dlq;
mod envelope;
pub(crate) mod failure;
pub(crate) mod lease;
pub(crate) mod own_database;
pub mod rebuild;
pub(crate) mod runner;
pub(crate) mod tx;

use futures_util::future::BoxFuture;

pub use admin::Projections;
pub use db::{ProjectionDb, ProjectionStatus, ProjectionStore, Stage};
pub use envelope::Envelope;
pub use failure::{FailureKind, MAX_OUTAGE_PAUSE, is_transient};
pub use own_database::WithReadModels;
pub use runner::{Progress, ProjectionRunner, RunnerOptions, RunningProjections};
pub use crate::store::sql::read_side::SqlDatabase;
pub use tx::ProjectionTx;

use crate::{ReadModelDescriptor, RecordedEvent};

/// What a handler returns when it fails: any error (`?` converts it).
pub type HandlerError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A projection: its name, version, the events it reads and how it applies them.
/// `#[factum::projection]` implements it.
pub trait Projection: Send + Sync + 'static {
    /// The projection's stable name.
    const NAME: &'static str;
    /// Its version: a new version builds its own tables beside the old one.
    const VERSION: u32;
    /// The event types it handles (the subscription reads only these).
    const EVENT_TYPES: &'static [&'static str];
    /// The stream categories it reads (empty: all).
    const CATEGORIES: &'static [&'static str];

    /// The read models it writes.
    fn read_models() -> Vec<&'static ReadModelDescriptor>;

    /// Applies one event inside the batch's transaction.
    fn handle<'a>(
        &'a self,
        tx: &'a mut ProjectionTx,
        event: &'a RecordedEvent,
    ) -> BoxFuture<'a, Result<(), HandlerError>>;
}

/// A projection's identity in the database: name and version.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProjectionKey {
    /// The projection's name.
    pub name: String,
    /// Its version.
    pub version: u32,
}

impl ProjectionKey {
    /// The key of `P`.
    pub fn of<P: Projection>() -> Self {
        ProjectionKey {
            name: P::NAME.to_owned(),
            version: P::VERSION,
        }
    }
}

impl std::fmt::Display for ProjectionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} v{}", self.name, self.version)
    }
}

/// Why a projection operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProjectionError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::StoreError),
    /// The database failed.
    #[error("projection database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Applying a batch was interrupted by a failure that is not the event's fault (a
    /// lost connection, a timeout); the runner rolls back, waits and tries again.
    #[error("projection interrupted: {0}; the runner will try the batch again")]
    Interrupted(String),
    /// A read-model row could not be written or read back.
    #[error("read model {model}: {reason}")]
    Row {
        /// The read model.
        model: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// Another instance holds this projection, or took it over: this one stops.
    #[error(
        "projection {projection} is run by another instance (its checkpoint moved to {found} \
         while this one expected {expected}); stop this runner or let it wait for the lease"
    )]
    LeaseLost {
        /// The projection.
        projection: ProjectionKey,
        /// The checkpoint this instance expected.
        expected: u64,
        /// The checkpoint it found.
        found: u64,
    },
    /// [`wait_for`](Projections::wait_for) timed out.
    #[error(
        "projection {projection} did not reach position {position} within {waited:?} (it is \
         at {checkpoint}); is its runner running?"
    )]
    WaitTimeout {
        /// The projection name.
        projection: String,
        /// The position waited for.
        position: u64,
        /// Where the projection's checkpoint was.
        checkpoint: u64,
        /// How long it waited.
        waited: std::time::Duration,
    },
    /// A read model's table already belongs to another projection.
    #[error(
        "table {table} already belongs to projection {owner}; give the read model of \
         {projection} its own table (`#[read_model(table = \"...\")]`)"
    )]
    TableTaken {
        /// The projection being registered.
        projection: ProjectionKey,
        /// The table.
        table: String,
        /// The projection that has it.
        owner: String,
    },
    /// The projection (name, or name and version) is not known to the database.
    #[error("no projection {0} has been started in this database; start its runner first")]
    Unknown(String),
    /// A switch to a version that has not caught up.
    #[error(
        "projection {projection} is not caught up (checkpoint {checkpoint}, the live version is \
         at {live}); wait for it and switch again"
    )]
    NotCaughtUp {
        /// The version asked to go live.
        projection: ProjectionKey,
        /// Its checkpoint.
        checkpoint: u64,
        /// The live version's checkpoint.
        live: u64,
    },
    /// Dropping the tables of the live version was asked.
    #[error("projection {0} is live; switch to another version before dropping it")]
    DropLive(ProjectionKey),
    /// A dead-letter operation named an entry that is not parked.
    #[error("projection {projection} has no parked event at position {position}")]
    NotParked {
        /// The projection.
        projection: ProjectionKey,
        /// The position given.
        position: u64,
    },
    /// A redrive or retry of one entry was asked out of its sequence's order.
    #[error(
        "event at position {position} of {projection} is not first in its parked sequence \
         (stream {stream}); retry the earlier events first, or skip them"
    )]
    OutOfOrder {
        /// The projection.
        projection: ProjectionKey,
        /// The position asked for.
        position: u64,
        /// Its stream.
        stream: String,
    },
}

}
