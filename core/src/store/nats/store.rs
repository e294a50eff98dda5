//! `NatsStore`: the event store on NATS JetStream, over the pieces of this module.

use std::sync::Arc;

use super::claims::ClaimsCtx;
use super::config::NatsConfig;
use super::setup::{Connected, connect};
use super::{append, global, reads, snapshots, unique};
use crate::aggregate::snapshot::SnapshotStore;
use crate::store::{
    AppendResult, EventStore, EventStream, ReadAll, ReadStream, StoreLimits, StreamInfo,
    UniqueValue, Uniqueness, prepare_batch, prepare_uniqueness,
};
use crate::{EventData, ExpectedVersion, Position, Result, Snapshot, StreamId};

/// An event store on a NATS JetStream server or cluster (feature `nats`).
///
/// One store is a journal stream (one message per append, so an append is atomic), a
/// claims stream (who holds each event id and unique value) and a snapshot bucket, all
/// replicated as [`NatsConfig::replicas`] says. The expected version is checked by the
/// server (`Nats-Expected-Last-Subject-Sequence`), so there is no window between the
/// check and the write; a retried append is recognised after any delay. The design,
/// its mapping and its limits are in `docs/JETSTREAM.md`.
///
/// ```no_run
/// # async fn run() -> factum::Result<()> {
/// use factum::{NatsConfig, NatsStore};
/// let store = NatsStore::connect(NatsConfig::new("nats://127.0.0.1:4222").replicas(1)).await?;
/// # let _ = store; Ok(()) }
/// ```
#[derive(Clone)]
pub struct NatsStore {
    inner: Arc<Connected>,
    limits: StoreLimits,
    names: [String; 3],
}

impl std::fmt::Debug for NatsStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsStore")
            .field("journal", &self.names[0])
            .finish_non_exhaustive()
    }
}

impl NatsStore {
    /// Connects, creating the store's streams and bucket if they are missing, and
    /// refusing streams found that would drop events.
    pub async fn connect(config: NatsConfig) -> Result<Self> {
        let inner = connect(&config).await?;
        Ok(NatsStore {
            inner: Arc::new(inner),
            limits: config.limits.clone(),
            names: [
                config.name.clone(),
                config.claims_name(),
                config.snapshots_name(),
            ],
        })
    }

    /// Deletes the store from the server: its journal, claims and snapshots. Every event
    /// is gone; for tests and tear-down only.
    pub async fn destroy(self) -> Result<()> {
        let js = &self.inner.jetstream;
        for name in &self.names[..2] {
            js.delete_stream(name)
                .await
                .map_err(|e| super::journal::nats_error("deleting the store", true, e))?;
        }
        js.delete_key_value(&self.names[2])
            .await
            .map_err(|e| super::journal::nats_error("deleting the store", true, e))?;
        Ok(())
    }

    fn ctx(&self) -> ClaimsCtx<'_> {
        ClaimsCtx {
            max_payload: self.inner.max_payload,
            jetstream: &self.inner.jetstream,
            journal: &self.inner.journal,
            claims: &self.inner.claims,
            subjects: &self.inner.subjects,
        }
    }
}

impl EventStore for NatsStore {
    async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<EventData>,
    ) -> Result<AppendResult> {
        let batch = prepare_batch(stream, events, &self.limits)?;
        append::append(&self.ctx(), expected, &batch, &Uniqueness::new()).await
    }

    async fn append_unique(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<EventData>,
        uniqueness: Uniqueness,
    ) -> Result<AppendResult> {
        let batch = prepare_batch(stream, events, &self.limits)?;
        let uniqueness = prepare_uniqueness(stream, uniqueness)?;
        append::append(&self.ctx(), expected, &batch, &uniqueness).await
    }

    async fn unique_holder(&self, scope: &str, value: &str) -> Result<Option<StreamId>> {
        let value = UniqueValue::new(scope, value);
        // Without an append of its own in flight, nothing is left contended.
        Ok(unique::holding(&self.ctx(), &value, None)
            .await?
            .and_then(|h| h.holder))
    }

    fn read_stream(&self, stream: &StreamId, options: ReadStream) -> EventStream<'_> {
        reads::read_stream(&self.inner.journal, &self.inner.subjects, stream, options)
    }

    fn read_all(&self, options: ReadAll) -> EventStream<'_> {
        global::read_all(&self.inner.journal, &self.inner.subjects, options)
    }

    async fn stream_info(&self, stream: &StreamId) -> Result<Option<StreamInfo>> {
        reads::stream_info(&self.inner.journal, &self.inner.subjects, stream).await
    }

    async fn list_streams(
        &self,
        category: &str,
        after: Option<&StreamId>,
        limit: usize,
    ) -> Result<Vec<StreamInfo>> {
        reads::list_streams(
            &self.inner.journal,
            &self.inner.subjects,
            category,
            after,
            limit,
        )
        .await
    }

    async fn delete_stream(&self, stream: &StreamId, expected: ExpectedVersion) -> Result<()> {
        append::delete(&self.ctx(), stream, expected).await
    }

    async fn head_position(&self) -> Result<Position> {
        global::head(&self.inner.journal).await
    }

    async fn settled_position(&self) -> Result<Position> {
        // A message is visible to every reader once the server acknowledged it.
        global::head(&self.inner.journal).await
    }
}

impl SnapshotStore for NatsStore {
    async fn load_snapshot(&self, stream: &StreamId, aggregate: &str) -> Result<Option<Snapshot>> {
        snapshots::load(&self.inner.snapshots, stream, aggregate).await
    }

    async fn save_snapshot(&self, stream: &StreamId, snapshot: &Snapshot) -> Result<()> {
        snapshots::save(&self.inner.snapshots, stream, snapshot).await
    }
}
