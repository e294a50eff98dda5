//! The pessimistic mode: each batch of an aggregate's commands runs inside a store
//! transaction that holds the aggregate's stream lock, so writers in other processes wait
//! for it instead of conflicting with it.
//!
//! Optimistic concurrency wastes work only when writers collide; on an aggregate that
//! several processes keep busy, they collide all the time, and the one that just lost
//! (it must read what changed, then append: two round trips) keeps losing to one that
//! appends back to back (one round trip). Taking the stream's lock first makes them take
//! turns. The price is a transaction per batch: begin, lock, read the events after the
//! cached version (usually none), append, commit.
//!
//! Behind a trait object, so that only repositories built with
//! [`Repository::pessimistic`](super::Repository::pessimistic) need a
//! [`TransactionalStore`].

use std::ops::ControlFlow;

use futures_util::future::BoxFuture;

use crate::{
    AppendResult, EventData, EventView, ExpectedVersion, ReadStream, Result, StoreTransaction,
    StreamId, TransactionalStore, Uniqueness,
};

/// Opens locked transactions on one aggregate's stream.
pub(crate) trait Locking: Send + Sync {
    /// Begins a transaction and takes `stream`'s write lock in it.
    fn begin<'a>(&'a self, stream: &'a StreamId) -> BoxFuture<'a, Result<Box<dyn LockedTx>>>;
}

/// A transaction holding an aggregate's stream lock.
pub(crate) trait LockedTx: Send {
    fn scan<'a>(
        &'a mut self,
        stream: &'a StreamId,
        options: ReadStream,
        visit: &'a mut (dyn FnMut(EventView<'_>) -> ControlFlow<()> + Send),
    ) -> BoxFuture<'a, Result<ControlFlow<()>>>;

    fn append<'a>(
        &'a mut self,
        stream: &'a StreamId,
        expected: ExpectedVersion,
        events: Vec<EventData>,
        uniqueness: Uniqueness,
    ) -> BoxFuture<'a, Result<AppendResult>>;

    fn commit(self: Box<Self>) -> BoxFuture<'static, Result<()>>;

    fn rollback(self: Box<Self>) -> BoxFuture<'static, Result<()>>;
}

/// [`Locking`] over a transactional store.
pub(crate) struct StoreLocking<S>(pub S);

impl<S> Locking for StoreLocking<S>
where
    S: TransactionalStore,
    S::Transaction: 'static,
{
    fn begin<'a>(&'a self, stream: &'a StreamId) -> BoxFuture<'a, Result<Box<dyn LockedTx>>> {
        Box::pin(async move {
            let mut tx = self.0.begin().await?;
            if let Err(err) = tx.lock_stream(stream).await {
                // The transaction is dropped either way; say so to the store.
                let _ = tx.rollback().await;
                return Err(err);
            }
            Ok(Box::new(Locked(tx)) as Box<dyn LockedTx>)
        })
    }
}

struct Locked<T>(T);

impl<T: StoreTransaction + 'static> LockedTx for Locked<T> {
    fn scan<'a>(
        &'a mut self,
        stream: &'a StreamId,
        options: ReadStream,
        visit: &'a mut (dyn FnMut(EventView<'_>) -> ControlFlow<()> + Send),
    ) -> BoxFuture<'a, Result<ControlFlow<()>>> {
        Box::pin(self.0.scan_stream(stream, options, visit))
    }

    fn append<'a>(
        &'a mut self,
        stream: &'a StreamId,
        expected: ExpectedVersion,
        events: Vec<EventData>,
        uniqueness: Uniqueness,
    ) -> BoxFuture<'a, Result<AppendResult>> {
        Box::pin(self.0.append_unique(stream, expected, events, uniqueness))
    }

    fn commit(self: Box<Self>) -> BoxFuture<'static, Result<()>> {
        Box::pin(self.0.commit())
    }

    fn rollback(self: Box<Self>) -> BoxFuture<'static, Result<()>> {
        Box::pin(self.0.rollback())
    }
}
