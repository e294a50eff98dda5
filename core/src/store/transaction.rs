//! Appends inside the caller's transaction (the guide is on [`TransactionalStore`]).

use std::future::Future;
use std::ops::ControlFlow;

use super::{AppendResult, EventStore, ReadStream, Uniqueness};
use crate::{EventData, EventView, ExpectedVersion, Result, StreamId};

/// A store that can append inside a transaction the caller also writes in.
///
#[doc = include_str!("../../docs/store-transactions.md")]
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
