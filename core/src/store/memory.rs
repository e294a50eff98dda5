//! The in-memory backend: for unit tests of domain logic and for examples that need no
//! database. It keeps the same contract as the SQL backends (the conformance suite runs
//! against it too) but nothing survives the process.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use chrono::Utc;
use futures_util::StreamExt;
use futures_util::stream;

use super::idempotency::{StoredId, resolve_retry};
use super::{
    AppendResult, AppendSignal, AppendWatcher, Direction, EventStore, EventStream, ReadAll,
    ReadStream, StoreLimits, StreamInfo, prepare_batch,
};
use crate::snapshot::{Snapshot, SnapshotStore};
use crate::{
    EventData, EventId, ExpectedVersion, Payload, Position, RecordedEvent, Result, StoreError,
    StreamId, error::ActualVersion,
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
}

#[derive(Debug, Default)]
struct Inner {
    /// The global log; an event's position is its index plus one.
    log: Vec<RecordedEvent>,
    streams: BTreeMap<StreamId, StreamState>,
    ids: HashMap<EventId, usize>,
    snapshots: HashMap<(StreamId, String), Snapshot>,
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

    /// An empty store with the given limits.
    pub fn with_limits(limits: StoreLimits) -> Self {
        MemoryStore {
            inner: Arc::default(),
            limits,
            signal: AppendSignal::default(),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        // A panic while holding the lock cannot leave `Inner` half-updated: appends
        // validate first and then only push, so a poisoned lock is still consistent.
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    fn append_now(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<EventData>,
    ) -> Result<AppendResult> {
        let batch = prepare_batch(stream, events, &self.limits)?;
        let mut inner = self.write();
        let version = inner.streams.get(stream).map_or(0, StreamState::version);
        let deleted = inner
            .streams
            .get(stream)
            .is_some_and(|s| s.deleted_at.is_some());
        let stored: Vec<StoredId> = batch
            .events
            .iter()
            .filter_map(|e| inner.ids.get(&e.event_id))
            .map(|&i| {
                let e = &inner.log[i];
                StoredId {
                    event_id: e.event_id,
                    stream_id: e.stream_id.as_str().to_owned(),
                    version: e.stream_version,
                    position: e.position,
                }
            })
            .collect();
        if let Some(done) = resolve_retry(stream, &batch.ids(), stored)? {
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
        let now = Utc::now();
        let mut positions = Vec::with_capacity(batch.events.len());
        let mut indices = Vec::with_capacity(batch.events.len());
        for (i, e) in batch.events.into_iter().enumerate() {
            let index = inner.log.len();
            let position = Position(index as u64 + 1);
            inner.ids.insert(e.event_id, index);
            inner.log.push(RecordedEvent {
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
            indices.push(index);
        }
        let state = inner.streams.entry(stream.clone()).or_default();
        state.indices.extend(indices);
        Ok(AppendResult {
            version: state.version(),
            positions,
            deduplicated: false,
        })
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
        let done = self.append_now(stream, expected, events)?;
        if !done.deduplicated {
            self.signal.raise();
        }
        Ok(done)
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
        let (low, high) = options.version_range();
        let limit = options.limit.unwrap_or(usize::MAX);
        // Only indices are collected here; events are cloned one at a time as the
        // consumer pulls them.
        let selected: Vec<usize> = state
            .indices
            .iter()
            .enumerate()
            .filter(|(i, _)| (low..=high).contains(&(*i as u64 + 1)))
            .map(|(_, &index)| index)
            .collect();
        let ordered: Vec<usize> = match options.direction {
            Direction::Forward => selected.into_iter().take(limit).collect(),
            Direction::Backward => selected.into_iter().rev().take(limit).collect(),
        };
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
