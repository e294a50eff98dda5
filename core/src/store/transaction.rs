//! Appending inside the caller's transaction: events written atomically with the
//! caller's own rows.
//!
//! An application often has to change something besides the journal when it appends: an
//! outbox row for a message broker, a row of a business table, a job to run later. Two
//! separate commits can be torn apart by a crash between them. A [`StoreTransaction`]
//! is one database transaction in which the store appends events (and claims unique
//! values) and the caller writes its own rows on the same connection: either all of it
//! commits, or none of it.
//!
//! [`TransactionalStore::begin`] opens one. On PostgreSQL and SQLite the transaction
//! dereferences to the driver's connection (`sqlx::PgConnection`,
//! `sqlx::SqliteConnection`), so the caller's statements run with
//! `sqlx::query(..).execute(&mut *tx)`. The memory store implements the same traits, for
//! unit tests of domain logic (it has no tables of the caller's).
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use factum::store::{StoreTransaction, TransactionalStore};
//! use factum::{EventData, EventStore, ExpectedVersion, MemoryStore, StreamId};
//! use serde_json::json;
//!
//! let store = MemoryStore::new();
//! let order = StreamId::new("order-7")?;
//! let mut tx = store.begin().await?;
//! tx.append(&order, ExpectedVersion::NoStream, vec![EventData::new("Placed", json!({}))])
//!     .await?;
//! // SQL backends: sqlx::query("INSERT INTO outbox ...").execute(&mut *tx).await?;
//! tx.commit().await?;
//! assert_eq!(store.stream_info(&order).await?.unwrap().version, 1);
//!
//! // Dropped or rolled back: nothing of it is stored.
//! let mut tx = store.begin().await?;
//! tx.append(&order, ExpectedVersion::Exact(1), vec![EventData::new("Paid", json!({}))])
//!     .await?;
//! tx.rollback().await?;
//! assert_eq!(store.stream_info(&order).await?.unwrap().version, 1);
//! # Ok::<(), factum::StoreError>(()) }).unwrap();
//! ```
//!
//! # Pitfalls
//!
//! * **Keep it short.** A transaction holds write locks until it ends. On SQLite it holds
//!   the store's only writer: every other append of the process waits for it. On
//!   PostgreSQL, global-log readers cannot pass an open transaction that appended (it may
//!   still commit below them), so subscribers wait for it too.
//! * **Append early on PostgreSQL.** Positions come from the transaction's id. If the
//!   transaction wrote something (and so got its id) before it appends to a stream, and
//!   meanwhile another transaction appended to that stream and committed, the new events
//!   would land below that stream's last event in the global log. The append is then
//!   refused with [`StoreError::TransactionTooLate`](crate::StoreError::TransactionTooLate):
//!   roll back and retry, and append (or [`lock_stream`](StoreTransaction::lock_stream))
//!   before the transaction's other writes.
//! * **A failed statement of the caller's aborts a PostgreSQL transaction**: after an
//!   error, everything but `rollback` fails. A refused append does not: the store runs
//!   each append inside a savepoint, so after a wrong expected version or a taken unique
//!   value the transaction is still usable (decide again, or roll back).
//! * **At most 2^20 events per transaction** on PostgreSQL (positions number a
//!   transaction's events in 20 bits); more is refused with
//!   [`StoreError::TransactionTooLarge`](crate::StoreError::TransactionTooLarge).
//! * **Do not append through the store while holding its transaction in the same task.**
//!   On SQLite and in memory the transaction holds the store's writer, so such an append
//!   waits for a transaction that cannot end: append through the transaction.
//! * **Lock streams in one order.** Two transactions that take the locks of the same
//!   streams (by appending or by `lock_stream`) in opposite orders deadlock; PostgreSQL
//!   breaks the deadlock by failing one of them (a database error: roll back and retry).
//! * **Round trips on PostgreSQL.** An append in a transaction costs more than a plain
//!   one: the stream's lock (first append to the stream only), the savepoint, the append
//!   statement and the savepoint's release. Plain appends stay one statement.
//! * **Wake-ups come after commit.** Subscribers of the process are woken when the
//!   transaction commits, never for a rolled-back one.
//! * **Dropping the transaction rolls it back**, like `sqlx::Transaction`.

use std::future::Future;
use std::ops::ControlFlow;

use super::{AppendResult, EventStore, ReadStream, Uniqueness};
use crate::{EventData, EventView, ExpectedVersion, Result, StreamId};

/// A store that can append inside a transaction the caller also writes in.
pub trait TransactionalStore: EventStore {
    /// The transaction type.
    type Transaction: StoreTransaction;

    /// Begins a transaction in which events can be appended atomically with the caller's
    /// own writes (PostgreSQL: takes the store's "may append" marker lock first; SQLite:
    /// `BEGIN IMMEDIATE` on the store's writer, so other appends queue behind it; memory:
    /// holds the store's writer).
    fn begin(&self) -> impl Future<Output = Result<Self::Transaction>> + Send;
}

/// A shared store begins transactions like the store it shares.
impl<S: TransactionalStore + ?Sized> TransactionalStore for std::sync::Arc<S> {
    type Transaction = S::Transaction;

    fn begin(&self) -> impl Future<Output = Result<Self::Transaction>> + Send {
        (**self).begin()
    }
}

/// An open transaction of a [`TransactionalStore`]. Dropping it rolls it back.
pub trait StoreTransaction: Send {
    /// Takes the stream's write lock until the transaction ends (pessimistic concurrency):
    /// other writers of the stream wait.
    fn lock_stream(&mut self, stream: &StreamId) -> impl Future<Output = Result<()>> + Send;

    /// [`EventStore::scan_stream`], inside the transaction (sees its own appends).
    fn scan_stream<B, F>(
        &mut self,
        stream: &StreamId,
        options: ReadStream,
        visit: F,
    ) -> impl Future<Output = Result<ControlFlow<B>>> + Send
    where
        B: Send,
        F: FnMut(EventView<'_>) -> ControlFlow<B> + Send;

    /// [`EventStore::append_unique`], inside the transaction: stored when it commits. A
    /// refused append writes nothing and leaves the transaction usable.
    fn append_unique(
        &mut self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<EventData>,
        uniqueness: Uniqueness,
    ) -> impl Future<Output = Result<AppendResult>> + Send;

    /// [`EventStore::append`], inside the transaction: `append_unique` without unique
    /// values.
    fn append(
        &mut self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<EventData>,
    ) -> impl Future<Output = Result<AppendResult>> + Send {
        self.append_unique(stream, expected, events, Uniqueness::new())
    }

    /// Commits the caller's writes and the appends together, then wakes the store's
    /// subscribers if anything was appended.
    fn commit(self) -> impl Future<Output = Result<()>> + Send;

    /// Rolls everything back: nothing of the transaction is stored.
    fn rollback(self) -> impl Future<Output = Result<()>> + Send;
}
