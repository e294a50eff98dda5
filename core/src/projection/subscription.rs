#![doc = include_str!("../../docs/subscriptions.md")]

use std::time::Duration;

use futures_core::Stream;
use futures_util::{TryStreamExt, future, stream};

use crate::store::{AppendWatcher, ReadAll};
use crate::{EventStore, Position, RecordedEvent, Result, StoreError};

/// Default number of events per batch.
pub const DEFAULT_BATCH_SIZE: usize = 500;

/// Default time between polls when no append wakes the subscription.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(500);

/// How soon after activity a waiting subscription first checks the log's head; the
/// interval doubles while the head stays put, up to the poll interval.
pub const HEAD_POLL_MIN: Duration = Duration::from_millis(5);

/// Events read from the global log, and how far the log has been read.
#[derive(Clone, Debug)]
pub struct Batch {
    /// The matching events, in position order (possibly none, when only filtered-out
    /// events were passed).
    pub events: Vec<RecordedEvent>,
    /// Everything at or below this position has been read: resume after it.
    pub checkpoint: Position,
}

/// A follower of the global log. See the [module docs](self).
pub struct Subscription<S> {
    store: S,
    checkpoint: Position,
    event_types: Vec<String>,
    categories: Vec<String>,
    batch_size: usize,
    poll_interval: Duration,
    watcher: Option<AppendWatcher>,
    watching: bool,
    /// The head at the last check while waiting, and the current interval between checks.
    head_seen: Option<Position>,
    head_poll: Duration,
    /// Whether the last read filled its batch.
    last_full: bool,
}

impl<S: EventStore> Subscription<S> {
    /// Follows the log after `checkpoint` (exclusive): [`Position::START`] for all of it,
    /// or a stored [`Batch::checkpoint`] to resume.
    pub fn after(store: S, checkpoint: Position) -> Self {
        Subscription {
            store,
            checkpoint,
            event_types: Vec::new(),
            categories: Vec::new(),
            batch_size: DEFAULT_BATCH_SIZE,
            poll_interval: DEFAULT_POLL_INTERVAL,
            watcher: None,
            watching: false,
            head_seen: None,
            head_poll: HEAD_POLL_MIN,
            last_full: false,
        }
    }

    /// Only events of these types.
    pub fn event_types<I, T>(mut self, types: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        self.event_types = types.into_iter().map(Into::into).collect();
        self
    }

    /// Only events of streams in these categories.
    pub fn categories<I, T>(mut self, categories: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        self.categories = categories.into_iter().map(Into::into).collect();
        self
    }

    /// At most this many events per batch (at least 1).
    pub fn batch_size(mut self, size: usize) -> Self {
        self.batch_size = size.max(1);
        self
    }

    /// Changes the batch size for the reads to come (at least 1).
    pub fn set_batch_size(&mut self, size: usize) {
        self.batch_size = size.max(1);
    }

    /// How long to wait for an append before reading again anyway.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// How far the log has been read.
    pub fn checkpoint(&self) -> Position {
        self.checkpoint
    }

    /// The store read from.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Reads what is available now: the next matching events (up to the batch size) and
    /// the new checkpoint, which is the old one if nothing new has settled.
    pub async fn poll_batch(&mut self) -> Result<Batch> {
        if !self.watching {
            // Watch before the first read, so that no append between the read and the
            // wait is missed.
            self.watcher = self.store.append_watcher();
            self.watching = true;
        }
        // The settled position is only of use to a read that comes back short; after a
        // full batch (catching up) the next one is most likely full too, so it is not
        // asked for, and a short read then stops at its last event (or, when it found
        // nothing, is made again with it).
        loop {
            // A read that found nothing leaves `last_full` false: the second one settles.
            if let Some(batch) = self.read_batch(!self.last_full).await? {
                return Ok(batch);
            }
        }
    }

    /// One read of the next batch, after asking for the settled position if `settle`;
    /// `None` if it skipped the settled position and found nothing.
    async fn read_batch(&mut self, settle: bool) -> Result<Option<Batch>> {
        let settled = if settle {
            Some(self.store.settled_position().await?)
        } else {
            None
        };
        let options = ReadAll::from(self.checkpoint.next())
            .limit(self.batch_size)
            .event_types(self.event_types.iter().cloned())
            .categories(self.categories.iter().cloned());
        let mut read = self.store.read_all(options);
        let mut events = Vec::new();
        let complete = loop {
            match read.try_next().await {
                Ok(Some(event)) => events.push(event),
                Ok(None) => break true,
                // The events before it are safe; the rest come with a later batch.
                Err(StoreError::VisibilityTimeout { .. }) => break false,
                Err(err) => return Err(err),
            }
        };
        let last = events.last().map_or(self.checkpoint, |e| e.position);
        // A read that ran out before its limit saw everything settled before it began.
        let reached = match settled {
            Some(settled) if complete && events.len() < self.batch_size => last.max(settled),
            _ => last,
        };
        self.last_full = events.len() >= self.batch_size;
        if settled.is_none() && events.is_empty() {
            return Ok(None);
        }
        self.checkpoint = self.checkpoint.max(reached);
        Ok(Some(Batch {
            events,
            checkpoint: self.checkpoint,
        }))
    }

    /// The next batch with events in it, waiting (for an append or the poll interval)
    /// while there are none. Batches that only move the checkpoint past filtered-out
    /// events are returned too, so that a consumer can store the progress.
    pub async fn next_batch(&mut self) -> Result<Batch> {
        let before = self.checkpoint;
        loop {
            let batch = self.poll_batch().await?;
            if !batch.events.is_empty() || batch.checkpoint > before {
                return Ok(batch);
            }
            self.wait().await;
        }
    }

    /// Waits for an append (woken by the store's watcher, or seen as a new head) or the
    /// poll interval.
    pub async fn wait(&mut self) {
        let woken = {
            let Subscription {
                store,
                poll_interval,
                watcher,
                head_seen,
                head_poll,
                ..
            } = self;
            let poll_interval = *poll_interval;
            let sleep = std::pin::pin!(tokio::time::sleep(poll_interval));
            let appended = std::pin::pin!(async {
                match watcher.as_mut() {
                    Some(watcher) => watcher.appended().await,
                    None => std::future::pending().await,
                }
            });
            // Checks the head with backoff; returns once it moved. A failed check counts as
            // "no change": the poll interval still bounds the wait.
            let head_moved = std::pin::pin!(async {
                loop {
                    if let Ok(head) = store.head_position().await {
                        let previous = head_seen.replace(head);
                        if previous.is_some_and(|p| p != head) {
                            return;
                        }
                    }
                    tokio::time::sleep(*head_poll).await;
                    *head_poll = (*head_poll * 2).min(poll_interval.max(HEAD_POLL_MIN));
                }
            });
            matches!(
                future::select(future::select(appended, head_moved), sleep).await,
                future::Either::Left(_)
            )
        };
        if woken {
            // Activity: look again soon.
            self.head_poll = HEAD_POLL_MIN;
        }
    }

    /// The events one by one, forever (until an error), reading a batch at a time.
    pub fn into_stream(self) -> impl Stream<Item = Result<RecordedEvent>> + Send
    where
        S: Send + 'static,
    {
        stream::try_unfold(
            (self, std::collections::VecDeque::new()),
            |(mut sub, mut buffered)| async move {
                loop {
                    if let Some(event) = buffered.pop_front() {
                        return Ok(Some((event, (sub, buffered))));
                    }
                    buffered.extend(sub.next_batch().await?.events);
                }
            },
        )
    }
}

impl<S> std::fmt::Debug for Subscription<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("checkpoint", &self.checkpoint)
            .field("event_types", &self.event_types)
            .field("categories", &self.categories)
            .field("batch_size", &self.batch_size)
            .finish_non_exhaustive()
    }
}
