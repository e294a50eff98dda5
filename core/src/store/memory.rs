//! The in-memory backend: for unit tests of domain logic and for examples that need no
//! database. It keeps the same contract as the SQL backends (the conformance suite runs
//! against it too) but nothing survives the process.

use std::collections::{BTreeMap, HashMap};
use std::ops::ControlFlow;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use chrono::Utc;
use futures_util::StreamExt;
use futures_util::stream;

use super::idempotency::{StoredId, resolve_retry};
use super::{
    AppendResult, AppendSignal, AppendWatcher, Direction, EventStore, EventStream, ReadAll,
    ReadStream, StoreLimits, StoreTransaction, StoredVersion, StreamInfo, TransactionalStore,
    UniqueValue, Uniqueness, prepare_batch, prepare_uniqueness,
};
use crate::aggregate::snapshot::{Snapshot, SnapshotStore};
use crate::{
    EventData, EventId, EventView, ExpectedVersion, Payload, Position, RecordedEvent, Result,
    StoreError, StreamId, error::ActualVersion,
};

/// An event store held in process memory.
///
/// ```
/// # tokio_test_block_on(async {
/// use factum::{EventData, EventStore, ExpectedVersion, MemoryStore, StreamId};
/// let store = MemoryStore::new();
/// let stream = StreamId::new("account-1")?;
/// let done = store
///     .append(&stream, ExpectedVersion::NoStream, vec![EventData::new("Opened", serde_json::json!({}))])
///     .await?;
/// assert_eq!(done.version, 1);
/// # Ok::<(), factum::StoreError>(()) });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f) }
/// ```
///
/// Clones share the same events.
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    inner: Arc<RwLock<Inner>>,
    limits: StoreLimits,
    signal: AppendSignal,
    /// The store's one writer: every append is a transaction holding it, so a
    /// transaction sees no other write while it is open (it stages its appends and
    /// applies them at commit).
    writer: Arc<tokio::sync::Mutex<()>>,
}

#[derive(Debug, Default)]
struct Inner {
    /// The global log; an event's position is its index plus one.
    log: Vec<RecordedEvent>,
    streams: BTreeMap<StreamId, StreamState>,
    ids: HashMap<EventId, usize>,
    snapshots: HashMap<(StreamId, String), Snapshot>,
    unique: HashMap<UniqueValue, StreamId>,
}

#[derive(Debug, Default)]
struct StreamState {
    deleted_at: Option<chrono::DateTime<Utc>>,
    /// Log indices of the stream's events, in version order.
    indices: Vec<usize>,
}

impl StreamState {
    fn version(&self) -> u64 {
        self.indices.len() as u64
    }
}

impl MemoryStore {
    /// An empty store with default limits.
    pub fn new() -> Self {
        Self::default()
    }

    /// This handle with `limits` (limits belong to a handle: clones made before keep
    /// theirs, and all share the same events).
    pub fn with_limits(mut self, limits: StoreLimits) -> Self {
        self.limits = limits;
        self
    }

    /// How many events each event type has stored at each schema version, sorted by type
    /// and version (as the SQL stores report it).
    pub fn stored_event_versions(&self) -> Vec<StoredVersion> {
        let mut counts: BTreeMap<(String, u32), u64> = BTreeMap::new();
        for event in &self.read().log {
            *counts
                .entry((event.event_type.clone(), event.schema_version))
                .or_default() += 1;
        }
        counts
            .into_iter()
            .map(|((event_type, schema_version), count)| StoredVersion {
                event_type,
                schema_version,
                count,
            })
            .collect()
    }

    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        // A panic while holding the lock cannot leave `Inner` half-updated: a commit
        // only pushes what a transaction already checked, so a poisoned lock is still
        // consistent.
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    fn info(stream: &StreamId, state: &StreamState) -> StreamInfo {
        StreamInfo {
            stream_id: stream.clone(),
            version: state.version(),
            deleted_at: state.deleted_at,
        }
    }
}

impl EventStore for MemoryStore {
    async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<EventData>,
    ) -> Result<AppendResult> {
        self.append_unique(stream, expected, events, Uniqueness::new())
            .await
    }

    async fn append_unique(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<EventData>,
        uniqueness: Uniqueness,
    ) -> Result<AppendResult> {
        // Checked before queueing for the writer, so bad input never waits.
        let batch = prepare_batch(stream, events, &self.limits)?;
        let uniqueness = prepare_uniqueness(stream, uniqueness)?;
        let mut tx = self.begin().await?;
        let done = tx.stage(stream, expected, batch, uniqueness)?;
        tx.commit_now();
        Ok(done)
    }

    async fn unique_holder(&self, scope: &str, value: &str) -> Result<Option<StreamId>> {
        Ok(self
            .read()
            .unique
            .get(&UniqueValue::new(scope, value))
            .cloned())
    }

    fn read_stream(&self, stream: &StreamId, options: ReadStream) -> EventStream<'_> {
        if options.limit == Some(0) {
            return stream::empty().boxed();
        }
        let inner = self.read();
        let Some(state) = inner.streams.get(stream) else {
            return stream::empty().boxed();
        };
        if state.deleted_at.is_some() && !options.include_deleted {
            let err = StoreError::StreamDeleted {
                stream: stream.clone(),
            };
            return stream::once(async { Err(err) }).boxed();
        }
        // Only indices are collected here; events are cloned one at a time as the
        // consumer pulls them.
        let ordered: Vec<usize> = select(state.indices.len(), &options)
            .map(|i| state.indices[i])
            .collect();
        drop(inner);
        stream::iter(ordered)
            .map(move |index| Ok(self.read().log[index].clone()))
            .boxed()
    }

    fn read_all(&self, options: ReadAll) -> EventStream<'_> {
        let head = self.read().log.len() as u64;
        if options.from.0 > head + 1 {
            let err = StoreError::PositionBeyondHead {
                requested: options.from,
                head: Position(head),
            };
            return stream::once(async { Err(err) }).boxed();
        }
        let start = options.from.0.saturating_sub(1) as usize;
        let limit = options.limit.unwrap_or(usize::MAX);
        stream::iter(start..head as usize)
            .filter_map(move |index| {
                let event = self.read().log[index].clone();
                let keep = options.matches(&event);
                async move { keep.then_some(Ok(event)) }
            })
            .take(limit)
            .boxed()
    }

    async fn stream_info(&self, stream: &StreamId) -> Result<Option<StreamInfo>> {
        Ok(self
            .read()
            .streams
            .get(stream)
            .map(|state| Self::info(stream, state)))
    }

    async fn list_streams(
        &self,
        category: &str,
        after: Option<&StreamId>,
        limit: usize,
    ) -> Result<Vec<StreamInfo>> {
        let inner = self.read();
        Ok(inner
            .streams
            .iter()
            .filter(|(id, _)| id.category() == category && after.is_none_or(|a| *id > a))
            .take(limit)
            .map(|(id, state)| Self::info(id, state))
            .collect())
    }

    async fn delete_stream(&self, stream: &StreamId, expected: ExpectedVersion) -> Result<()> {
        let _writer = self.writer.lock().await;
        let mut inner = self.write();
        let Some(state) = inner.streams.get_mut(stream) else {
            return Err(StoreError::StreamNotFound {
                stream: stream.clone(),
            });
        };
        if state.deleted_at.is_some() {
            return Err(StoreError::StreamDeleted {
                stream: stream.clone(),
            });
        }
        if !expected.is_satisfied_by(state.version()) {
            return Err(StoreError::WrongExpectedVersion {
                stream: stream.clone(),
                expected,
                actual: ActualVersion::from_version(state.version()),
            });
        }
        state.deleted_at = Some(Utc::now());
        Ok(())
    }

    async fn head_position(&self) -> Result<Position> {
        Ok(Position(self.read().log.len() as u64))
    }

    async fn settled_position(&self) -> Result<Position> {
        self.head_position().await
    }

    fn append_watcher(&self) -> Option<AppendWatcher> {
        Some(self.signal.watch())
    }
}

impl SnapshotStore for MemoryStore {
    async fn load_snapshot(&self, stream: &StreamId, aggregate: &str) -> Result<Option<Snapshot>> {
        let key = (stream.clone(), aggregate.to_owned());
        Ok(self.read().snapshots.get(&key).cloned())
    }

    async fn save_snapshot(&self, stream: &StreamId, snapshot: &Snapshot) -> Result<()> {
        let mut inner = self.write();
        let key = (stream.clone(), snapshot.aggregate.clone());
        let replace = inner.snapshots.get(&key).is_none_or(|old| {
            snapshot.state_version > old.state_version
                || (snapshot.state_version == old.state_version && snapshot.version >= old.version)
        });
        if replace {
            inner.snapshots.insert(key, snapshot.clone());
        }
        Ok(())
    }
}

/// The 0-based version indices a stream read visits, in order, for a stream of `len`
/// events.
fn select(len: usize, options: &ReadStream) -> Box<dyn Iterator<Item = usize> + Send> {
    let (low, high) = options.version_range();
    let limit = options.limit.unwrap_or(usize::MAX);
    let low = (low.saturating_sub(1)).min(len as u64) as usize;
    let high = high.min(len as u64) as usize;
    let range = low..high.max(low);
    match options.direction {
        Direction::Forward => Box::new(range.take(limit)),
        Direction::Backward => Box::new(range.rev().take(limit)),
    }
}

impl TransactionalStore for MemoryStore {
    type Transaction = MemoryTransaction;

    async fn begin(&self) -> Result<MemoryTransaction> {
        let writer = self.writer.clone().lock_owned().await;
        let base = self.read().log.len();
        Ok(MemoryTransaction {
            store: self.clone(),
            _writer: writer,
            base,
            staged: Vec::new(),
            versions: HashMap::new(),
            ids: HashMap::new(),
            unique: HashMap::new(),
        })
    }
}

/// A transaction of the [`MemoryStore`]: it holds the store's writer (every other append
/// waits for it, so [`lock_stream`](StoreTransaction::lock_stream) has nothing more to
/// do), stages its appends, and stores them all at once when it commits. Readers never
/// see staged events; reads inside the transaction do.
#[derive(Debug)]
pub struct MemoryTransaction {
    store: MemoryStore,
    _writer: tokio::sync::OwnedMutexGuard<()>,
    /// The log's length at begin: staged events take the positions after it.
    base: usize,
    staged: Vec<RecordedEvent>,
    /// Versions of the streams appended to.
    versions: HashMap<StreamId, u64>,
    /// Where each staged event id is in `staged`.
    ids: HashMap<EventId, usize>,
    /// Claims (`Some`) and releases (`None`) made by the transaction.
    unique: HashMap<UniqueValue, Option<StreamId>>,
}

impl MemoryTransaction {
    fn stage(
        &mut self,
        stream: &StreamId,
        expected: ExpectedVersion,
        batch: super::PreparedBatch,
        uniqueness: Uniqueness,
    ) -> Result<AppendResult> {
        let inner = self.store.read();
        let committed = inner.streams.get(stream);
        let version = self
            .versions
            .get(stream)
            .copied()
            .unwrap_or_else(|| committed.map_or(0, StreamState::version));
        let deleted = committed.is_some_and(|s| s.deleted_at.is_some());
        let stored: Vec<StoredId> = batch
            .events
            .iter()
            .filter_map(|e| match self.ids.get(&e.event_id) {
                Some(&i) => Some(&self.staged[i]),
                None => inner.ids.get(&e.event_id).map(|&i| &inner.log[i]),
            })
            .map(|e| StoredId {
                event_id: e.event_id,
                stream_id: e.stream_id.as_str().to_owned(),
                version: e.stream_version,
                position: e.position,
                event_type: e.event_type.clone(),
                schema_version: e.schema_version,
                payload: e.payload.as_str().to_owned(),
            })
            .collect();
        if let Some(done) = resolve_retry(stream, &batch.events, stored)? {
            return Ok(done);
        }
        if deleted {
            return Err(StoreError::StreamDeleted {
                stream: stream.clone(),
            });
        }
        if let Err(actual) = expected.check(version) {
            return Err(StoreError::WrongExpectedVersion {
                stream: stream.clone(),
                expected,
                actual,
            });
        }
        let holder = |value: &UniqueValue| match self.unique.get(value) {
            Some(staged) => staged.clone(),
            None => inner.unique.get(value).cloned(),
        };
        for claim in uniqueness.claims() {
            if let Some(holder) = holder(claim).filter(|h| h != stream) {
                return Err(StoreError::UniqueValueTaken {
                    scope: claim.scope.clone(),
                    value: claim.value.clone(),
                    holder,
                });
            }
        }
        let releases: Vec<UniqueValue> = uniqueness
            .releases()
            .iter()
            .filter(|r| holder(r).as_ref() == Some(stream))
            .cloned()
            .collect();
        drop(inner);
        for claim in uniqueness.claims() {
            self.unique.insert(claim.clone(), Some(stream.clone()));
        }
        for release in releases {
            self.unique.insert(release, None);
        }
        let now = Utc::now();
        let mut positions = Vec::with_capacity(batch.events.len());
        for (i, e) in batch.events.into_iter().enumerate() {
            let position = Position((self.base + self.staged.len()) as u64 + 1);
            self.ids.insert(e.event_id, self.staged.len());
            self.staged.push(RecordedEvent {
                event_id: e.event_id,
                stream_id: stream.clone(),
                stream_version: version + i as u64 + 1,
                position,
                event_type: e.event_type,
                schema_version: e.schema_version,
                payload: Payload::from_stored(e.payload),
                metadata: e.metadata,
                recorded_at: now,
            });
            positions.push(position);
        }
        let version = version + positions.len() as u64;
        self.versions.insert(stream.clone(), version);
        Ok(AppendResult {
            version,
            positions,
            deduplicated: false,
        })
    }

    /// Stores what was staged and wakes subscribers.
    fn commit_now(self) {
        if self.staged.is_empty() && self.unique.is_empty() {
            return;
        }
        let appended = !self.staged.is_empty();
        let mut inner = self.store.write();
        // The writer was held since begin, so the log is as long as it was then and the
        // staged positions are the next ones.
        for event in self.staged {
            let index = inner.log.len();
            inner.ids.insert(event.event_id, index);
            inner
                .streams
                .entry(event.stream_id.clone())
                .or_default()
                .indices
                .push(index);
            inner.log.push(event);
        }
        for (value, holder) in self.unique {
            match holder {
                Some(stream) => inner.unique.insert(value, stream),
                None => inner.unique.remove(&value),
            };
        }
        drop(inner);
        if appended {
            self.store.signal.raise();
        }
    }
}

impl StoreTransaction for MemoryTransaction {
    async fn lock_stream(&mut self, _stream: &StreamId) -> Result<()> {
        // The transaction holds the store's only writer already.
        Ok(())
    }

    async fn scan_stream<B, F>(
        &mut self,
        stream: &StreamId,
        options: ReadStream,
        mut visit: F,
    ) -> Result<ControlFlow<B>>
    where
        B: Send,
        F: FnMut(EventView<'_>) -> ControlFlow<B> + Send,
    {
        let mut events: Vec<RecordedEvent> = {
            let inner = self.store.read();
            match inner.streams.get(stream) {
                Some(state) if state.deleted_at.is_some() && !options.include_deleted => {
                    return Err(StoreError::StreamDeleted {
                        stream: stream.clone(),
                    });
                }
                Some(state) => state
                    .indices
                    .iter()
                    .map(|&i| inner.log[i].clone())
                    .collect(),
                None => Vec::new(),
            }
        };
        events.extend(
            self.staged
                .iter()
                .filter(|e| e.stream_id == *stream)
                .cloned(),
        );
        for i in select(events.len(), &options) {
            if let ControlFlow::Break(done) = visit(events[i].view()) {
                return Ok(ControlFlow::Break(done));
            }
        }
        Ok(ControlFlow::Continue(()))
    }

    async fn append_unique(
        &mut self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<EventData>,
        uniqueness: Uniqueness,
    ) -> Result<AppendResult> {
        let batch = prepare_batch(stream, events, &self.store.limits)?;
        let uniqueness = prepare_uniqueness(stream, uniqueness)?;
        self.stage(stream, expected, batch, uniqueness)
    }

    async fn commit(self) -> Result<()> {
        self.commit_now();
        Ok(())
    }

    async fn rollback(self) -> Result<()> {
        Ok(())
    }
}
