//! Deduplication by event id, for sinks outside the store's database.
//!
//! A read model in the store's database commits with its checkpoint, so it sees each
//! event once. A sink elsewhere (a search index, a mail gateway, a message broker)
//! cannot join that transaction, so after a crash an event may be delivered again.
//! [`Dedup`] records the ids of delivered events in the store's database and skips
//! events already recorded. The one window left is a crash after the sink accepted an
//! event and before its id was recorded: pass [`Envelope::event_id`] to the sink as its
//! idempotency key where it takes one, and that window closes too.
//!
//! [`Envelope::event_id`]: super::Envelope::event_id

use std::future::Future;

use super::ProjectionError;
use super::db::{ProjectionDb, ProjectionStore};
use crate::EventId;

/// Why a deduplicated delivery failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DedupError<E> {
    /// The delivery itself failed (its id is not recorded, so it will be tried again).
    #[error("delivery failed: {0}")]
    Delivery(E),
    /// Recording or checking the id failed.
    #[error(transparent)]
    Record(#[from] ProjectionError),
}

/// Delivered event ids of one consumer.
#[derive(Clone, Debug)]
pub struct Dedup {
    db: ProjectionDb,
    consumer: String,
}

impl Dedup {
    /// The record of `consumer` (a stable name for the sink) in `store`'s database.
    pub fn new<S: ProjectionStore>(store: S, consumer: impl Into<String>) -> Self {
        Dedup {
            db: store.projection_db(),
            consumer: consumer.into(),
        }
    }

    /// Whether `id` was delivered.
    pub async fn delivered(&self, id: EventId) -> Result<bool, ProjectionError> {
        self.db.read_side().delivered(&self.consumer, id).await
    }

    /// Records `id` as delivered; `false` if it already was.
    pub async fn record(&self, id: EventId) -> Result<bool, ProjectionError> {
        self.db
            .read_side()
            .record_delivered(&self.consumer, id, chrono::Utc::now())
            .await
    }

    /// Runs `deliver` unless `id` was delivered before, then records it. `Ok(None)` if
    /// it was skipped as a duplicate.
    pub async fn once<T, E, F, Fut>(
        &self,
        id: EventId,
        deliver: F,
    ) -> Result<Option<T>, DedupError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        if self.delivered(id).await? {
            return Ok(None);
        }
        let value = deliver().await.map_err(DedupError::Delivery)?;
        self.record(id).await?;
        Ok(Some(value))
    }
}
