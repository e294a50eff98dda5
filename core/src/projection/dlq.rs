//! The sequence-aware dead-letter queue.
//!
//! When a handler keeps failing on an event, the runner parks that event **and every
//! later event of the same stream** (its sequence), in order, with the failure reason and
//! the number of attempts; events of other streams go on. The streams with parked
//! events are cached in the runner's memory, so checking an event costs nothing unless
//! its stream is parked.
//!
//! Entries live in the store's database and survive restarts. Once the cause is fixed,
//! [`DeadLetters::redrive`] applies a sequence again one event at a time, in order,
//! stopping at the first that fails again (which stays parked with its attempt count
//! raised, as do the events behind it). [`DeadLetters::skip`] gives up on one event with
//! a recorded reason.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;

use super::db::{ProjectionDb, ProjectionStore};
use super::failure::FailureKind;
use super::database::{LetterFilter, NewLetter, Settlement};
use super::tx::ProjectionTx;
use super::{Projection, ProjectionError, ProjectionKey};
use crate::{EventId, Position, ReadStream, RecordedEvent, StreamId};

type Result<T, E = ProjectionError> = std::result::Result<T, E>;

/// Whether an entry waits for a redrive or was given up on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LetterStatus {
    /// Waiting for a redrive.
    Parked,
    /// Skipped by an operator; kept for the record.
    Skipped,
}

/// One entry of the dead-letter queue.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeadLetter {
    /// The projection version it belongs to.
    pub projection: ProjectionKey,
    /// The event's position in the global log.
    pub position: Position,
    /// Its stream (the sequence).
    pub stream_id: String,
    /// Its version in the stream.
    pub stream_version: u64,
    /// Its id.
    pub event_id: EventId,
    /// Its type.
    pub event_type: String,
    /// Parked or skipped.
    pub status: LetterStatus,
    /// Why: the handler's error, or that an earlier event of the stream is parked.
    pub reason: String,
    /// What kind of failure parked it.
    pub kind: FailureKind,
    /// How many times the handler was tried on it.
    pub attempts: u32,
    /// When it was parked.
    pub parked_at: DateTime<Utc>,
    /// When it was last tried.
    pub last_attempt_at: DateTime<Utc>,
    /// Why it was skipped, if it was.
    pub skip_reason: Option<String>,
}

/// The size of a projection's dead-letter queue.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct DlqStats {
    /// Parked events.
    pub parked: u64,
    /// Streams with parked events.
    pub sequences: u64,
    /// When the oldest parked event was parked.
    pub oldest: Option<DateTime<Utc>>,
}

/// What a redrive did.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Redrive {
    /// Events applied and removed from the queue.
    pub applied: u64,
    /// Events that failed again, one per sequence at most, with the error (the redrive
    /// of that sequence stopped there).
    pub failed: Vec<(Position, String)>,
    /// Parked events left.
    pub remaining: u64,
}

impl ProjectionTx {
    /// Parks `event` for `key`.
    pub(crate) async fn park(
        &mut self,
        key: &ProjectionKey,
        event: &RecordedEvent,
        reason: &str,
        kind: FailureKind,
        attempts: u32,
    ) -> Result<()> {
        let letter = NewLetter {
            key,
            event,
            reason,
            kind,
            attempts,
            at: Utc::now(),
        };
        self.conn.park(&letter).await
    }

    /// Whether `stream` has parked events for `key`.
    pub(crate) async fn stream_parked(
        &mut self,
        key: &ProjectionKey,
        stream: &str,
    ) -> Result<bool> {
        self.conn.stream_parked(key, stream).await
    }
}

impl ProjectionDb {
    /// The streams with parked events (the runner's cache).
    pub(crate) async fn parked_streams(&self, key: &ProjectionKey) -> Result<HashSet<String>> {
        Ok(self
            .letters(key, None, true)
            .await?
            .into_iter()
            .map(|l| l.stream_id)
            .collect())
    }

    /// Entries of `key`, by stream and version; only one stream's if `stream` is given,
    /// only parked ones if `parked_only`.
    async fn letters(
        &self,
        key: &ProjectionKey,
        stream: Option<&str>,
        parked_only: bool,
    ) -> Result<Vec<DeadLetter>> {
        let filter = LetterFilter {
            stream,
            parked_only,
        };
        self.read_side().letters(key, filter).await
    }
}

/// The dead-letter queue of the projections in a store's database: list, inspect,
/// retry, redrive and skip.
#[derive(Clone, Debug)]
pub struct DeadLetters<S> {
    store: S,
    db: ProjectionDb,
}

impl<S: ProjectionStore> DeadLetters<S> {
    /// The queue in `store`'s database.
    pub fn new(store: S) -> Self {
        let db = store.projection_db();
        DeadLetters { store, db }
    }

    /// The parked events of a projection version, by stream then version.
    pub async fn list(&self, key: &ProjectionKey) -> Result<Vec<DeadLetter>> {
        self.db.letters(key, None, true).await
    }

    /// Every entry, skipped ones included.
    pub async fn history(&self, key: &ProjectionKey) -> Result<Vec<DeadLetter>> {
        self.db.letters(key, None, false).await
    }

    /// One stream's parked events, in order.
    pub async fn sequence(&self, key: &ProjectionKey, stream: &str) -> Result<Vec<DeadLetter>> {
        self.db.letters(key, Some(stream), true).await
    }

    /// One entry and the event it holds.
    pub async fn inspect(
        &self,
        key: &ProjectionKey,
        position: Position,
    ) -> Result<(DeadLetter, RecordedEvent)> {
        let letter = self.find(key, position).await?;
        let event = self.event_of(&letter).await?;
        Ok((letter, event))
    }

    /// Size, sequences and age of the oldest entry (also exported as metrics).
    pub async fn stats(&self, key: &ProjectionKey) -> Result<DlqStats> {
        let parked = self.list(key).await?;
        let sequences: HashSet<&str> = parked.iter().map(|l| l.stream_id.as_str()).collect();
        let stats = DlqStats {
            parked: parked.len() as u64,
            sequences: sequences.len() as u64,
            oldest: parked.iter().map(|l| l.parked_at).min(),
        };
        let labels = [
            ("projection", key.name.clone()),
            ("version", key.version.to_string()),
        ];
        metrics::gauge!("factum_dlq_parked", &labels).set(stats.parked as f64);
        metrics::gauge!("factum_dlq_sequences", &labels).set(stats.sequences as f64);
        let age = stats.oldest.map_or(0.0, |at| {
            (Utc::now() - at).to_std().unwrap_or_default().as_secs_f64()
        });
        metrics::gauge!("factum_dlq_oldest_age_seconds", &labels).set(age);
        Ok(stats)
    }

    /// Tries the first parked event of a sequence once more. `Ok(None)` if it applied
    /// (and left the queue), `Ok(Some(error))` if it failed again (it stays parked).
    pub async fn retry<P: Projection>(
        &self,
        projection: &P,
        position: Position,
    ) -> Result<Option<String>> {
        let key = ProjectionKey::of::<P>();
        let letter = self.find(&key, position).await?;
        let first = self.sequence(&key, &letter.stream_id).await?;
        if first.first().map(|l| l.position) != Some(position) {
            return Err(ProjectionError::OutOfOrder {
                projection: key,
                position: position.0,
                stream: letter.stream_id,
            });
        }
        self.apply(projection, &key, &letter).await
    }

    /// Redrives the parked sequences (only `stream`'s if given): each one event at a
    /// time, in order, stopping at the first event that fails again.
    pub async fn redrive<P: Projection>(
        &self,
        projection: &P,
        stream: Option<&str>,
    ) -> Result<Redrive> {
        let key = ProjectionKey::of::<P>();
        let letters = self.db.letters(&key, stream, true).await?;
        let mut report = Redrive::default();
        let mut stopped: Option<&str> = None;
        for letter in &letters {
            if stopped == Some(letter.stream_id.as_str()) {
                continue;
            }
            match self.apply(projection, &key, letter).await? {
                None => report.applied += 1,
                Some(err) => {
                    report.failed.push((letter.position, err));
                    stopped = Some(&letter.stream_id);
                }
            }
        }
        report.remaining = self.db.letters(&key, stream, true).await?.len() as u64;
        Ok(report)
    }

    /// Gives up on a parked event, recording why; the events behind it stay parked
    /// until redriven.
    pub async fn skip(&self, key: &ProjectionKey, position: Position, reason: &str) -> Result<()> {
        self.find(key, position).await?;
        let mut tx = self.db.begin(key).await?;
        tx.lock_checkpoint(key).await?;
        tx.conn
            .settle_letter(key, position, Settlement::Skip(reason))
            .await?;
        tx.commit().await?;
        tracing::info!(projection = %key, position = position.0, reason, "dead letter skipped");
        Ok(())
    }

    async fn find(&self, key: &ProjectionKey, position: Position) -> Result<DeadLetter> {
        self.db
            .letters(key, None, true)
            .await?
            .into_iter()
            .find(|l| l.position == position)
            .ok_or_else(|| ProjectionError::NotParked {
                projection: key.clone(),
                position: position.0,
            })
    }

    async fn event_of(&self, letter: &DeadLetter) -> Result<RecordedEvent> {
        let stream = StreamId::new(&letter.stream_id)?;
        let options = ReadStream::forward()
            .from(letter.stream_version)
            .limit(1)
            .including_deleted();
        let mut events = self.store.read_stream(&stream, options);
        match events.try_next().await? {
            Some(event) if event.event_id == letter.event_id => Ok(event),
            _ => Err(ProjectionError::NotParked {
                projection: letter.projection.clone(),
                position: letter.position.0,
            }),
        }
    }

    /// Applies one parked event in its own transaction (holding the projection's row, so
    /// that it does not interleave with the runner's batches).
    async fn apply<P: Projection>(
        &self,
        projection: &P,
        key: &ProjectionKey,
        letter: &DeadLetter,
    ) -> Result<Option<String>> {
        // Read before the transaction: on an in-memory SQLite store the reader is the
        // writer.
        let event = self.event_of(letter).await?;
        let mut tx = self.db.begin(key).await?;
        tx.lock_checkpoint(key).await?;
        match projection.handle(&mut tx, &event).await {
            Ok(()) => {
                tx.conn
                    .settle_letter(key, letter.position, Settlement::Remove)
                    .await?;
                tx.commit().await?;
                tracing::info!(projection = %key, position = letter.position.0, "dead letter redriven");
                Ok(None)
            }
            Err(err) => {
                drop(tx);
                let reason = err.to_string();
                let mut tx = self.db.begin(key).await?;
                tx.lock_checkpoint(key).await?;
                tx.conn
                    .record_letter_failure(key, letter.position, &reason, Utc::now())
                    .await?;
                tx.commit().await?;
                Ok(Some(reason))
            }
        }
    }
}
