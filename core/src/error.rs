//! The event store's error type.
//!
//! Every error says what was wrong and, where there is something to do about it, what to do.
//! Errors that come from bad input are raised before anything is written, so a failed call
//! never leaves a partial write behind.

use crate::{EventId, ExpectedVersion, Position, StreamId};

/// Errors returned by [`EventStore`](crate::EventStore) operations and by the value types
/// that validate their input (stream ids, event types).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A stream id broke the rules documented on [`StreamId`].
    #[error("invalid stream id {id:?}: {reason}")]
    InvalidStreamId {
        /// The rejected id.
        id: String,
        /// Which rule it broke.
        reason: &'static str,
    },

    /// An event type name broke the rules documented on [`EventData::new`](crate::EventData::new).
    #[error(
        "event #{index} for stream {stream} has an invalid event type {event_type:?}: {reason}; nothing was written"
    )]
    InvalidEventType {
        /// The target stream.
        stream: StreamId,
        /// Index of the offending event in the batch (0-based).
        index: usize,
        /// The rejected name.
        event_type: String,
        /// Which rule it broke.
        reason: &'static str,
    },

    /// `append` was called with no events.
    #[error("nothing to append to stream {stream}: pass at least one event")]
    EmptyAppend {
        /// The target stream.
        stream: StreamId,
    },

    /// An event's payload or metadata is not valid JSON; nothing was written.
    #[error(
        "event #{index} ({event_type}) for stream {stream} has a payload that is not valid JSON: {reason}; nothing was written"
    )]
    InvalidPayload {
        /// The target stream.
        stream: StreamId,
        /// Index of the offending event in the batch (0-based).
        index: usize,
        /// Its event type.
        event_type: String,
        /// What the JSON parser said.
        reason: String,
    },

    /// An event is larger than the store's configured limit; nothing was written.
    #[error(
        "event #{index} ({event_type}) for stream {stream} is {size} bytes, over the limit of {limit} bytes; \
         store large payloads elsewhere and reference them, or raise `max_event_size`; nothing was written"
    )]
    EventTooLarge {
        /// The target stream.
        stream: StreamId,
        /// Index of the offending event in the batch (0-based).
        index: usize,
        /// Its event type.
        event_type: String,
        /// Payload plus metadata size in bytes.
        size: usize,
        /// The configured limit in bytes.
        limit: usize,
    },

    /// One append carried more events than a store takes at once.
    #[error(
        "append to stream {stream} carries {len} events, more than the {limit} one append may hold; split it"
    )]
    BatchTooLarge {
        /// The target stream.
        stream: StreamId,
        /// Events in the batch.
        len: usize,
        /// The limit.
        limit: usize,
    },

    /// All events of one append together are larger than the store's configured limit.
    #[error(
        "append to stream {stream} is {size} bytes, over the limit of {limit} bytes for one append; \
         split it into several appends or raise `max_append_size`; nothing was written"
    )]
    AppendTooLarge {
        /// The target stream.
        stream: StreamId,
        /// Payload plus metadata bytes of all its events.
        size: usize,
        /// The configured limit in bytes.
        limit: usize,
    },

    /// The same event id appears twice in one batch.
    #[error(
        "event #{index} for stream {stream} repeats event id {event_id}; every event needs its own id; nothing was written"
    )]
    DuplicateIdInBatch {
        /// The target stream.
        stream: StreamId,
        /// Index of the second occurrence in the batch (0-based).
        index: usize,
        /// The repeated id.
        event_id: EventId,
    },

    /// An event id is already stored, but not as this same append (another stream, another
    /// place, or a different batch): the append is not a retry and was refused.
    #[error(
        "event id {event_id} is already stored in stream {existing_stream} at version {existing_version}, \
         {reason}; a retried append must resend the same events to the same stream; give new events new ids; \
         nothing was written"
    )]
    EventIdConflict {
        /// The id that is taken.
        event_id: EventId,
        /// Where it is stored.
        existing_stream: StreamId,
        /// At which version.
        existing_version: u64,
        /// What differs between the stored event and the one sent.
        reason: IdConflictReason,
    },

    /// A value the append claims as unique is held by another stream; nothing was written.
    #[error(
        "{scope} {value:?} is already held by stream {holder}; nothing was written; choose another \
         value, or have {holder} release it first"
    )]
    UniqueValueTaken {
        /// The scope of the value.
        scope: String,
        /// The value.
        value: String,
        /// The stream that holds it.
        holder: StreamId,
    },

    /// A claimed or released unique value broke the rules of [`Uniqueness`](crate::store::Uniqueness).
    #[error(
        "append to stream {stream} has an invalid unique value in scope {scope:?}: {reason}; nothing was written"
    )]
    InvalidUniqueValue {
        /// The target stream.
        stream: StreamId,
        /// The scope given.
        scope: String,
        /// Which rule it broke.
        reason: &'static str,
    },

    /// The stream's current version is not what the caller expected (optimistic concurrency).
    #[error(
        "wrong expected version for stream {stream}: expected {expected}, but the stream {actual}; reload and retry"
    )]
    WrongExpectedVersion {
        /// The stream written to.
        stream: StreamId,
        /// What the caller expected.
        expected: ExpectedVersion,
        /// What the store found.
        actual: ActualVersion,
    },

    /// The stream was tombstoned: its history is kept but it takes no more events.
    #[error(
        "stream {stream} is deleted (tombstoned); its history is kept for audit but it takes no new events"
    )]
    StreamDeleted {
        /// The deleted stream.
        stream: StreamId,
    },

    /// The stream has no events.
    #[error("stream {stream} does not exist")]
    StreamNotFound {
        /// The missing stream.
        stream: StreamId,
    },

    /// A global-log read started beyond the end of the log.
    #[error(
        "position {requested} is beyond the end of the global log (the last position is {head}); \
         positions come from recorded events or checkpoints of this store"
    )]
    PositionBeyondHead {
        /// The requested start position.
        requested: Position,
        /// The last position in the log.
        head: Position,
    },

    /// A global-log read on PostgreSQL waited its configured time for an older
    /// transaction appending to the same store to finish and ended early, after the events
    /// it could safely return.
    #[error(
        "the global-log read stopped at position {safe}: {}, and events up to {head} cannot be \
         returned before it ends; resume from {safe} later, and keep appending transactions short",
        BlockingTransaction::describe(.blocker.as_ref())
    )]
    VisibilityTimeout {
        /// Where to resume: every event below it has been returned.
        safe: Position,
        /// The committed head the read was trying to reach.
        head: Position,
        /// The oldest transaction appending to the store when the read gave up, if it was
        /// still open then (it may have ended in the meantime).
        blocker: Option<BlockingTransaction>,
    },

    /// On PostgreSQL, an append inside a caller's transaction would land below the
    /// stream's last event in the global log: the transaction got its id (by an earlier
    /// write) before another transaction appended to the stream and committed. Nothing
    /// was appended; retryable.
    #[error(
        "stream {stream} was appended to by another transaction after this transaction's first write, so \
         its events would come before that stream's last event in the global log; nothing was appended; \
         roll the transaction back and retry it, and append to the stream (or lock_stream it) before the \
         transaction's other writes"
    )]
    TransactionTooLate {
        /// The stream appended to.
        stream: StreamId,
    },

    /// A caller's transaction appended more events than a transaction may hold.
    #[error(
        "a transaction may append at most {limit} events, and this append to stream {stream} would pass \
         that; nothing was appended; split the work over several transactions"
    )]
    TransactionTooLarge {
        /// The stream appended to.
        stream: StreamId,
        /// The limit.
        limit: u64,
    },

    /// A store option is out of range.
    #[error("invalid store configuration: {0}")]
    InvalidConfig(String),

    /// Opening an existing store found none there: the SQLite path is missing or not a
    /// file, the file is not a SQLite database or holds no Factum tables, or the
    /// PostgreSQL schema has no event table. No database or schema was created. Other
    /// failures of those opens (a locked file, a refused privilege) are
    /// [`Database`](Self::Database) errors.
    #[error("no Factum event store at {store}: {reason}")]
    NoSuchStore {
        /// The store looked for (a file path, or a schema and database).
        store: String,
        /// What was found instead.
        reason: String,
    },

    /// A stored row could not be decoded (the database was changed outside Factum).
    #[error("stored event at position {position} cannot be decoded: {reason}")]
    Corrupt {
        /// Where the bad row is.
        position: Position,
        /// What was wrong.
        reason: String,
    },

    /// A background task of the store (a read-ahead) failed or was cancelled.
    #[error("a background task of the event store failed: {0}")]
    Background(String),

    /// The database failed.
    #[cfg(sql)]
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),

    /// Schema migrations failed on connect.
    #[cfg(sql)]
    #[error(
        "schema migration failed: {0}; check that the database user may create tables in the configured schema"
    )]
    Migration(#[from] sqlx::migrate::MigrateError),

    /// The NATS server or cluster failed, or did not answer in time. When `retryable`,
    /// the cause may pass (a leader election, a lost connection): an append may or may
    /// not have landed, and retrying it with the same event ids is safe.
    #[cfg(feature = "nats")]
    #[error("NATS: {operation} failed: {reason}{}", if *retryable { "; this may pass (retry; an append retried with the same event ids is recognised)" } else { "" })]
    Nats {
        /// What the store was doing.
        operation: &'static str,
        /// What the client or server said.
        reason: String,
        /// Whether retrying may succeed.
        retryable: bool,
    },
}

/// Why an append whose event ids are already stored is not a retry of the append that
/// stored them ([`StoreError::EventIdConflict`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdConflictReason {
    /// The id is stored in another stream.
    OtherStream,
    /// The id is stored in this stream, but not at the place this batch would put it
    /// (another order, or not at consecutive versions).
    OtherPlace,
    /// The stored event has another event type.
    DifferentType,
    /// The stored event has another schema version.
    DifferentSchemaVersion,
    /// The stored event has another payload (compared as the text appended).
    DifferentPayload,
    /// The batch starts with stored events and goes on with new ones.
    BatchContinues,
}

impl std::fmt::Display for IdConflictReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            IdConflictReason::OtherStream => "which is another stream",
            IdConflictReason::OtherPlace => "not where this batch would put it",
            IdConflictReason::DifferentType => "with another event type",
            IdConflictReason::DifferentSchemaVersion => "with another schema version",
            IdConflictReason::DifferentPayload => "with another payload",
            IdConflictReason::BatchContinues => {
                "and the batch goes on with events that are not stored"
            }
        })
    }
}

/// A stream's state as seen by the expected-version check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActualVersion {
    /// The stream has no events.
    NoStream,
    /// The stream's last event has this version.
    Version(u64),
}

impl std::fmt::Display for ActualVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ActualVersion::NoStream => f.write_str("does not exist"),
            ActualVersion::Version(v) => write!(f, "is at version {v}"),
        }
    }
}

impl ActualVersion {
    /// Builds from a stored version, where 0 means "no events".
    pub fn from_version(version: u64) -> Self {
        if version == 0 {
            ActualVersion::NoStream
        } else {
            ActualVersion::Version(version)
        }
    }
}

/// Shorthand for results of store operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A PostgreSQL transaction appending to a store that holds back the store's global-log
/// readers (see [`StoreError::VisibilityTimeout`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BlockingTransaction {
    /// The server process running it (`pg_stat_activity.pid`), or `None` for a prepared
    /// transaction, which no session holds.
    pub pid: Option<i32>,
    /// The database it runs in (the store's own: only its appenders hold readers back).
    pub database: String,
    /// How long it has been open (or prepared), if the server lets this user see it.
    pub age: Option<std::time::Duration>,
    /// The prepared transaction's global id (`pg_prepared_xacts.gid`), if it is one.
    pub prepared: Option<String>,
}

impl BlockingTransaction {
    fn describe(blocker: Option<&BlockingTransaction>) -> String {
        let Some(b) = blocker else {
            return "an older transaction appending to this store was still open".to_owned();
        };
        let age = b.age.map_or_else(String::new, |age| {
            format!(", open for {:.1} s", age.as_secs_f64())
        });
        match (&b.prepared, b.pid) {
            (Some(gid), _) => format!(
                "prepared transaction {gid:?} in database {:?} appends to this store{age} \
                 (finish it with COMMIT PREPARED or ROLLBACK PREPARED)",
                b.database
            ),
            (None, Some(pid)) => format!(
                "the transaction of server process {pid} in database {:?} appends to this \
                 store{age} (see pg_stat_activity)",
                b.database
            ),
            (None, None) => format!(
                "a transaction in database {:?} appends to this store{age}",
                b.database
            ),
        }
    }
}
