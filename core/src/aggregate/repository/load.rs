//! Loading an aggregate: the latest snapshot (if snapshots are on), then the events after
//! it, folded through the aggregate's `apply`; time travel by version or by time; and the
//! catch-up of a cached state with the events appended after its version.

use std::ops::ControlFlow;

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;

use super::cache::Cached;
use super::locking::LockedTx;
use super::{Inner, Loaded, RepositoryError, UnknownEvents};
use crate::{Aggregate, EventSet, EventStore, EventView, ReadStream, StoreError, StreamId};

/// Where a replay stops: after a version, or before the first event recorded after a time.
#[derive(Clone, Copy)]
enum Until {
    Version(u64),
    Time(DateTime<Utc>),
}

impl<A: Default> Cached<A> {
    pub(super) fn empty() -> Self {
        Cached {
            loaded: Loaded {
                state: A::default(),
                version: 0,
                deleted: false,
            },
            snapshot_taken_at: None,
            snapshot_version: 0,
        }
    }
}

impl<A: Aggregate, S: EventStore> Inner<A, S> {
    pub(super) async fn snapshot(&self, stream: &StreamId) -> Option<Cached<A>> {
        let (snapshots, _) = self.snapshots.as_ref()?;
        let (state, version, taken_at) = snapshots.load(stream).await?;
        Some(Cached {
            loaded: Loaded {
                state,
                version,
                deleted: false,
            },
            snapshot_taken_at: Some(taken_at),
            snapshot_version: version,
        })
    }

    /// Loads the latest state, and takes a snapshot if the policy says this load replayed
    /// too much.
    pub(super) async fn load_latest(
        &self,
        stream: &StreamId,
    ) -> Result<Cached<A>, RepositoryError<A::Error>> {
        let start = self.snapshot(stream).await.unwrap_or_else(Cached::empty);
        let mut done = self.catch_up(stream, start).await?;
        if let Some((snapshots, policy)) = &self.snapshots {
            let replayed = done.loaded.version - done.snapshot_version;
            let now = Utc::now();
            if policy.replayed_too_many(replayed)
                && policy.interval_allows(done.snapshot_taken_at, now)
            {
                snapshots
                    .save(stream, &done.loaded.state, done.loaded.version)
                    .await;
                // What follows in this call (a command's snapshot) sees this one.
                done.snapshot_taken_at = Some(now);
                done.snapshot_version = done.loaded.version;
            }
        }
        Ok(done)
    }

    /// Brings a state up to the stream's end: reads only the events after its version.
    pub(super) async fn catch_up(
        &self,
        stream: &StreamId,
        start: Cached<A>,
    ) -> Result<Cached<A>, RepositoryError<A::Error>> {
        self.replay(stream, start, Until::Version(u64::MAX)).await
    }

    /// [`catch_up`](Self::catch_up) inside a locked transaction (the pessimistic mode):
    /// the read sees every event, since no other writer can append to the stream now.
    pub(super) async fn catch_up_locked(
        &self,
        tx: &mut dyn LockedTx,
        stream: &StreamId,
        mut start: Cached<A>,
    ) -> Result<Cached<A>, RepositoryError<A::Error>> {
        let mut options = ReadStream::forward().from(start.loaded.version + 1);
        loop {
            let mut failed = None;
            let loaded = &mut start.loaded;
            let scanned = tx
                .scan(
                    stream,
                    options,
                    &mut |event| match self.fold(stream, loaded, event) {
                        Ok(()) => ControlFlow::Continue(()),
                        Err(err) => {
                            failed = Some(err);
                            ControlFlow::Break(())
                        }
                    },
                )
                .await;
            if let Some(err) = failed {
                return Err(err);
            }
            match scanned {
                Ok(_) => return Ok(start),
                Err(StoreError::StreamDeleted { .. }) if !start.loaded.deleted => {
                    start.loaded.deleted = true;
                    options = ReadStream::forward()
                        .from(start.loaded.version + 1)
                        .including_deleted();
                }
                Err(err) => return Err(err.into()),
            }
        }
    }

    pub(super) async fn load_at(
        &self,
        stream: &StreamId,
        version: u64,
    ) -> Result<Loaded<A>, RepositoryError<A::Error>> {
        let start = match self.snapshot(stream).await {
            Some(start) if start.loaded.version <= version => start,
            _ => Cached::empty(),
        };
        Ok(self
            .replay(stream, start, Until::Version(version))
            .await?
            .loaded)
    }

    pub(super) async fn load_as_of(
        &self,
        stream: &StreamId,
        time: DateTime<Utc>,
    ) -> Result<Loaded<A>, RepositoryError<A::Error>> {
        Ok(self
            .replay(stream, Cached::empty(), Until::Time(time))
            .await?
            .loaded)
    }

    /// Applies the events after `start` up to `until`. A deleted stream's history is
    /// still read, and the aggregate is marked deleted.
    async fn replay(
        &self,
        stream: &StreamId,
        start: Cached<A>,
        until: Until,
    ) -> Result<Cached<A>, RepositoryError<A::Error>> {
        let mut start = start;
        let mut options = ReadStream::forward().from(start.loaded.version + 1);
        loop {
            let loaded = &mut start.loaded;
            let replayed = match until {
                Until::Version(last) => self.replay_views(stream, loaded, options, last).await,
                Until::Time(time) => self.replay_by_time(stream, loaded, options, time).await,
            };
            match replayed {
                Ok(()) => return Ok(start),
                Err(RepositoryError::Store(StoreError::StreamDeleted { .. }))
                    if !start.loaded.deleted =>
                {
                    start.loaded.deleted = true;
                    options = ReadStream::forward()
                        .from(start.loaded.version + 1)
                        .including_deleted();
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// The fold path: the store's borrowed views, up to version `last`.
    async fn replay_views(
        &self,
        stream: &StreamId,
        loaded: &mut Loaded<A>,
        options: ReadStream,
        last: u64,
    ) -> Result<(), RepositoryError<A::Error>> {
        let scanned = self
            .store
            .scan_stream(stream, options, |event| {
                if event.stream_version > last {
                    return ControlFlow::Break(None);
                }
                match self.fold(stream, loaded, event) {
                    Ok(()) => ControlFlow::Continue(()),
                    Err(err) => ControlFlow::Break(Some(err)),
                }
            })
            .await?;
        match scanned {
            ControlFlow::Break(Some(err)) => Err(err),
            ControlFlow::Continue(()) | ControlFlow::Break(None) => Ok(()),
        }
    }

    /// Time travel: whole recorded events (a view has no time), until the first one
    /// recorded after `time`.
    async fn replay_by_time(
        &self,
        stream: &StreamId,
        loaded: &mut Loaded<A>,
        options: ReadStream,
        time: DateTime<Utc>,
    ) -> Result<(), RepositoryError<A::Error>> {
        let mut events = self.store.read_stream(stream, options);
        while let Some(event) = events.try_next().await? {
            if event.recorded_at > time {
                break;
            }
            self.fold(stream, loaded, event.view())?;
        }
        Ok(())
    }

    /// Decodes one stored event and applies it.
    pub(super) fn fold(
        &self,
        stream: &StreamId,
        loaded: &mut Loaded<A>,
        event: EventView<'_>,
    ) -> Result<(), RepositoryError<A::Error>> {
        match A::Event::from_view(event) {
            Ok(Some(decoded)) => loaded.state.apply(&decoded),
            Ok(None) if self.options.unknown_events == UnknownEvents::Skip => {}
            Ok(None) => {
                return Err(RepositoryError::UnknownEvent {
                    stream: stream.clone(),
                    version: event.stream_version,
                    event_type: event.event_type.to_owned(),
                });
            }
            Err(source) => {
                return Err(RepositoryError::Decode {
                    stream: stream.clone(),
                    version: event.stream_version,
                    event_type: event.event_type.to_owned(),
                    source,
                });
            }
        }
        loaded.version = event.stream_version;
        Ok(())
    }
}
