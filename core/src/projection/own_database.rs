//! Read models in a database of their own: the events stay in the store (a SQLite file,
//! a PostgreSQL schema), and the projections' tables, checkpoints, dead letters and
//! delivery records live in another database (another SQLite file, another PostgreSQL
//! database or server).
//!
//! A batch's read-model writes and its checkpoint still commit in one transaction of
//! the read-model database, so exactly-once holds: the events are only read from the
//! store. Open the database with [`ProjectionDb::open_sqlite`] or
//! [`ProjectionDb::connect_postgres`] (which create its projection tables), and hand
//! [`WithReadModels`] to everything that takes a [`ProjectionStore`]: the runner, the
//! queries, the dead-letter queue, the GraphQL API.
//!
//! ```no_run
//! use factum::projection::{ProjectionDb, ProjectionRunner, Projections, WithReadModels};
//! use factum::SqliteStore;
//! # async fn demo<P: factum::projection::Projection>(balances: P) -> Result<(), Box<dyn std::error::Error>> {
//! let events = SqliteStore::open("events.db").await?;
//! let views = ProjectionDb::open_sqlite("views.db").await?;
//! let store = WithReadModels::new(events, views);
//! let running = ProjectionRunner::new(store.clone()).with_projection(balances).start();
//! let projections = Projections::new(store.clone()); // reads views.db
//! # running.stop().await?; Ok(()) }
//! ```
//!
//! Keeping read models in the store's own database stays the default (a store is a
//! [`ProjectionStore`] of its own database); do not open that database again here.

use std::ops::ControlFlow;

use super::db::{ProjectionDb, ProjectionStore};
use crate::store::{
    AppendResult, AppendWatcher, EventStore, EventStream, ReadAll, ReadStream, StreamInfo,
    Uniqueness,
};
use crate::{EventData, EventView, ExpectedVersion, Position, StreamId};

/// An event store whose projections keep their read models in another database: the
/// events stay in the store, the projections' tables, checkpoints, dead letters and
/// delivery records live in the database opened with [`ProjectionDb::open_sqlite`] or
/// [`ProjectionDb::connect_postgres`] (which create its projection tables). A batch's
/// read-model writes and its checkpoint still commit in one transaction of that
/// database, so exactly-once holds. Hand it to everything that takes a
/// [`ProjectionStore`]: the runner, the queries, the dead-letter queue, the GraphQL API.
///
/// ```no_run
/// use factum::projection::{ProjectionDb, ProjectionRunner, Projections, WithReadModels};
/// use factum::SqliteStore;
/// # async fn demo<P: factum::projection::Projection>(balances: P) -> Result<(), Box<dyn std::error::Error>> {
/// let events = SqliteStore::open("events.db").await?;
/// let views = ProjectionDb::open_sqlite("views.db").await?;
/// let store = WithReadModels::new(events, views);
/// let running = ProjectionRunner::new(store.clone()).with_projection(balances).start();
/// let projections = Projections::new(store.clone()); // reads views.db
/// # running.stop().await?; Ok(()) }
/// ```
///
/// Keeping read models in the store's own database stays the default (a store is a
/// [`ProjectionStore`] of its own database); do not open that database again here.
#[derive(Clone, Debug)]
pub struct WithReadModels<S> {
    store: S,
    db: ProjectionDb,
}

impl<S> WithReadModels<S> {
    /// Events from `store`, read models in `db`.
    pub fn new(store: S, db: ProjectionDb) -> Self {
        WithReadModels { store, db }
    }

    /// The event store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The read-model database.
    pub fn read_models(&self) -> &ProjectionDb {
        &self.db
    }
}

impl<S: EventStore + Clone + 'static> ProjectionStore for WithReadModels<S> {
    fn projection_db(&self) -> ProjectionDb {
        self.db.clone()
    }
}

impl<S: crate::SnapshotStore> crate::SnapshotStore for WithReadModels<S> {
    fn load_snapshot(
        &self,
        stream: &StreamId,
        aggregate: &str,
    ) -> impl Future<Output = crate::Result<Option<crate::Snapshot>>> + Send {
        self.store.load_snapshot(stream, aggregate)
    }

    fn save_snapshot(
        &self,
        stream: &StreamId,
        snapshot: &crate::Snapshot,
    ) -> impl Future<Output = crate::Result<()>> + Send {
        self.store.save_snapshot(stream, snapshot)
    }
}

impl<S: EventStore> EventStore for WithReadModels<S> {
    fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<EventData>,
    ) -> impl Future<Output = crate::Result<AppendResult>> + Send {
        self.store.append(stream, expected, events)
    }

    fn append_unique(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<EventData>,
        uniqueness: Uniqueness,
    ) -> impl Future<Output = crate::Result<AppendResult>> + Send {
        self.store
            .append_unique(stream, expected, events, uniqueness)
    }

    fn unique_holder(
        &self,
        scope: &str,
        value: &str,
    ) -> impl Future<Output = crate::Result<Option<StreamId>>> + Send {
        self.store.unique_holder(scope, value)
    }

    fn read_stream(&self, stream: &StreamId, options: ReadStream) -> EventStream<'_> {
        self.store.read_stream(stream, options)
    }

    fn scan_stream<B, F>(
        &self,
        stream: &StreamId,
        options: ReadStream,
        visit: F,
    ) -> impl Future<Output = crate::Result<ControlFlow<B>>> + Send
    where
        B: Send,
        F: FnMut(EventView<'_>) -> ControlFlow<B> + Send,
    {
        self.store.scan_stream(stream, options, visit)
    }

    fn read_all(&self, options: ReadAll) -> EventStream<'_> {
        self.store.read_all(options)
    }

    fn stream_info(
        &self,
        stream: &StreamId,
    ) -> impl Future<Output = crate::Result<Option<StreamInfo>>> + Send {
        self.store.stream_info(stream)
    }

    fn list_streams(
        &self,
        category: &str,
        after: Option<&StreamId>,
        limit: usize,
    ) -> impl Future<Output = crate::Result<Vec<StreamInfo>>> + Send {
        self.store.list_streams(category, after, limit)
    }

    fn delete_stream(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
    ) -> impl Future<Output = crate::Result<()>> + Send {
        self.store.delete_stream(stream, expected)
    }

    fn head_position(&self) -> impl Future<Output = crate::Result<Position>> + Send {
        self.store.head_position()
    }

    fn settled_position(&self) -> impl Future<Output = crate::Result<Position>> + Send {
        self.store.settled_position()
    }

    fn append_watcher(&self) -> Option<AppendWatcher> {
        self.store.append_watcher()
    }
}
