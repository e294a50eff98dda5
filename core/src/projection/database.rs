//! The read side's seam: what projections, the dead-letter queue, deduplication and the
//! GraphQL API need from a database, as traits each SQL backend implements once, with
//! its SQL beside it (`store/<backend>/read_side/`).
//!
//! [`ReadSideDb`] is a database ([`ProjectionDb`](super::ProjectionDb) holds one);
//! [`ReadSideTx`] the part that runs inside a batch's transaction (so it commits with the
//! checkpoint); [`ReadSidePools`] the part that runs on the pools, outside any batch. The
//! projection modules name only these traits, never a backend.

use std::any::Any;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use serde_json::{Map, Value};

use super::changes::Changes;
use super::db::ProjectionStatus;
use super::dlq::{DeadLetter, LetterStatus};
use super::failure::FailureKind;
use super::read_model::ReadModelDescriptor;
use super::lease::HeldLease;
use super::{ProjectionError, ProjectionKey};
use crate::{EventId, Position, RecordedEvent};

pub(crate) type Result<T, E = ProjectionError> = std::result::Result<T, E>;

/// Projections' tables, by projection name.
pub(crate) type TablesByProjection = Vec<(String, Vec<String>)>;

/// An event to park in the dead-letter queue.
pub(crate) struct NewLetter<'a> {
    pub(crate) key: &'a ProjectionKey,
    pub(crate) event: &'a RecordedEvent,
    pub(crate) reason: &'a str,
    pub(crate) kind: FailureKind,
    pub(crate) attempts: u32,
    pub(crate) at: DateTime<Utc>,
}

/// What becomes of a dead letter an operator dealt with.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Settlement<'a> {
    /// Applied: the entry is removed.
    Remove,
    /// Given up on: the entry stays, marked skipped, with the operator's reason.
    Skip(&'a str),
}

/// Which dead letters to list.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LetterFilter<'a> {
    /// Only this stream's, if given.
    pub(crate) stream: Option<&'a str>,
    /// Only those still parked.
    pub(crate) parked_only: bool,
}

/// A step of the savepoint an event is applied under when a batch is replayed event by
/// event.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Savepoint {
    /// Sets it.
    Set,
    /// Releases it (the event was applied).
    Release,
    /// Rolls back to it (the event failed).
    RollBack,
}

/// A batch's transaction on the read side's database: the read-model rows, the
/// projection's own statements, and the transaction's end. Each SQL backend implements it
/// once, on its transaction type.
pub(crate) trait ReadSideTx: Send {
    /// The stored rows of `keys` in `model`'s table of `version`, as JSON objects of their
    /// fields.
    fn load_rows<'a>(
        &'a mut self,
        model: &'static ReadModelDescriptor,
        version: u32,
        keys: &'a [Value],
    ) -> BoxFuture<'a, Result<Vec<Value>>>;

    /// Inserts or replaces `rows` (field maps) with one statement.
    fn upsert_rows<'a>(
        &'a mut self,
        model: &'static ReadModelDescriptor,
        version: u32,
        rows: &'a [Map<String, Value>],
    ) -> BoxFuture<'a, Result<()>>;

    /// Deletes the rows of `keys` with one statement.
    fn delete_rows<'a>(
        &'a mut self,
        model: &'static ReadModelDescriptor,
        version: u32,
        keys: &'a [Value],
    ) -> BoxFuture<'a, Result<()>>;

    /// Creates `model`'s table of `version` and its declared indexes, if missing.
    fn create_tables<'a>(
        &'a mut self,
        model: &'static ReadModelDescriptor,
        version: u32,
    ) -> BoxFuture<'a, Result<()>>;

    /// Drops a read-model table, if it exists.
    fn drop_table<'a>(&'a mut self, table: &'a str) -> BoxFuture<'a, Result<()>>;

    /// Sets, releases or rolls back to the savepoint an event is applied under.
    fn savepoint(&mut self, step: Savepoint) -> BoxFuture<'_, Result<()>>;

    /// Commits.
    fn commit(self: Box<Self>) -> BoxFuture<'static, Result<()>>;

    /// The transaction itself, for its backend to hand its connection to SQL of the
    /// user's ([`ProjectionTx::sqlite`](super::ProjectionTx)).
    fn as_any(&mut self) -> &mut dyn Any;

    /// The backend's name.
    fn backend(&self) -> &'static str;

    /// Parks an event (a second park of the same position is ignored).
    fn park<'a>(&'a mut self, letter: &'a NewLetter<'a>) -> BoxFuture<'a, Result<()>>;

    /// Whether `stream` has parked events for `key`.
    fn stream_parked<'a>(
        &'a mut self,
        key: &'a ProjectionKey,
        stream: &'a str,
    ) -> BoxFuture<'a, Result<bool>>;

    /// Removes an entry or marks it skipped.
    fn settle_letter<'a>(
        &'a mut self,
        key: &'a ProjectionKey,
        position: Position,
        settlement: Settlement<'a>,
    ) -> BoxFuture<'a, Result<()>>;

    /// Counts another failed attempt on an entry, with its error.
    fn record_letter_failure<'a>(
        &'a mut self,
        key: &'a ProjectionKey,
        position: Position,
        reason: &'a str,
        at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<()>>;

    /// Waits until no other registration is running (until this transaction ends).
    fn lock_registrations(&mut self) -> BoxFuture<'_, Result<()>>;

    /// The tables of every projection not named `name`, by projection.
    fn tables_of_others<'a>(
        &'a mut self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<TablesByProjection>>;

    /// Adds a projection version's row if it has none: live if no version of its name
    /// is, building otherwise.
    fn register_projection<'a>(
        &'a mut self,
        key: &'a ProjectionKey,
        tables: &'a [String],
        at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<()>>;

    /// A projection version's checkpoint; with `lock`, its row stays locked until the
    /// transaction ends (so that batches and dead-letter operations do not interleave).
    fn checkpoint<'a>(
        &'a mut self,
        key: &'a ProjectionKey,
        lock: bool,
    ) -> BoxFuture<'a, Result<Option<Position>>>;

    /// Moves the checkpoint from `from` to `to` if it is still at `from` and, where the
    /// backend fences by lease owner, the lease is still `owner`'s (renewed until the
    /// given time). `false` if it was not moved.
    fn advance_checkpoint<'a>(
        &'a mut self,
        key: &'a ProjectionKey,
        from: Position,
        to: Position,
        lease: Option<(&'a str, DateTime<Utc>)>,
        at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<bool>>;

    /// Retires the live version of `key.name` and makes `key` live.
    fn make_live<'a>(&'a mut self, key: &'a ProjectionKey) -> BoxFuture<'a, Result<()>>;

    /// Records a batch's changes of a read model in the change feed, and drops what
    /// falls out of the retained window ([`RETAINED`](super::changes::RETAINED)).
    fn record_changes<'a>(&'a mut self, changes: &'a Changes<'a>) -> BoxFuture<'a, Result<()>>;

    /// Deletes a version's dead letters, recorded changes and row.
    fn delete_version<'a>(&'a mut self, key: &'a ProjectionKey) -> BoxFuture<'a, Result<()>>;
}

/// A database the read side keeps its tables in: its statements outside any batch,
/// and the transactions batches and reads run in. Each SQL backend implements it once
/// ([`SqlDatabase`](crate::store::sql::read_side::SqlDatabase) of its driver, in
/// `store/<backend>/read_side/`), and [`ProjectionDb`](super::ProjectionDb) holds one.
pub(crate) trait ReadSideDb: ReadSidePools + Any + std::fmt::Debug {
    /// Begins a transaction: on the write connection if `write`, else a read-only one.
    fn begin(&self, write: bool) -> BoxFuture<'_, Result<Box<dyn ReadSideTx>>>;

    /// The database the GraphQL API queries, through connections of its own (see
    /// `store/queries/connections.rs`).
    #[cfg(feature = "graphql")]
    fn for_queries(&self) -> Box<dyn crate::store::sql::queries::QueryDb>;
}

/// The statements the read side runs on a database's pools, outside any batch.
pub(crate) trait ReadSidePools: Send + Sync {
    /// Tries to take the lease on a projection version for `owner`, for `ttl` where the
    /// backend's leases expire.
    fn try_lease<'a>(
        &'a self,
        key: &'a ProjectionKey,
        owner: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Option<Box<dyn HeldLease>>>>;

    /// Every version of the projection `name` (of every projection if `None`), by name
    /// then version.
    fn statuses<'a>(&'a self, name: Option<&'a str>)
    -> BoxFuture<'a, Result<Vec<ProjectionStatus>>>;

    /// A projection version's checkpoint (`None` if it has no row here).
    fn checkpoint<'a>(&'a self, key: &'a ProjectionKey)
    -> BoxFuture<'a, Result<Option<Position>>>;

    /// Dead letters of `key`, by stream and version.
    fn letters<'a>(
        &'a self,
        key: &'a ProjectionKey,
        filter: LetterFilter<'a>,
    ) -> BoxFuture<'a, Result<Vec<DeadLetter>>>;

    /// Whether `consumer` recorded `id` as delivered.
    fn delivered<'a>(&'a self, consumer: &'a str, id: EventId) -> BoxFuture<'a, Result<bool>>;

    /// Records `id` as delivered to `consumer`; `false` if it already was.
    fn record_delivered<'a>(
        &'a self,
        consumer: &'a str,
        id: EventId,
        at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<bool>>;
}

/// A dead letter's status as stored (`parked`, `skipped`).
pub(crate) fn letter_status(text: &str) -> LetterStatus {
    if text == "skipped" {
        LetterStatus::Skipped
    } else {
        LetterStatus::Parked
    }
}

/// The columns of a dead letter as each backend reads them, for [`DeadLetter`].
pub(crate) struct LetterRow {
    pub(crate) position: i64,
    pub(crate) stream_id: String,
    pub(crate) stream_version: i64,
    pub(crate) event_id: uuid::Uuid,
    pub(crate) event_type: String,
    pub(crate) status: String,
    pub(crate) reason: String,
    pub(crate) attempts: i64,
    pub(crate) parked_at: DateTime<Utc>,
    pub(crate) last_attempt_at: DateTime<Utc>,
    pub(crate) skip_reason: Option<String>,
    pub(crate) error_kind: String,
}

impl LetterRow {
    /// The entry of `key` this row holds.
    pub(crate) fn into_letter(self, key: &ProjectionKey) -> DeadLetter {
        DeadLetter {
            projection: key.clone(),
            position: Position(self.position.max(0) as u64),
            stream_id: self.stream_id,
            stream_version: self.stream_version.max(0) as u64,
            event_id: EventId::from_uuid(self.event_id),
            event_type: self.event_type,
            status: letter_status(&self.status),
            reason: self.reason,
            kind: FailureKind::parse(&self.error_kind),
            attempts: self.attempts.clamp(0, i64::from(u32::MAX)) as u32,
            parked_at: self.parked_at,
            last_attempt_at: self.last_attempt_at,
            skip_reason: self.skip_reason,
        }
    }
}
