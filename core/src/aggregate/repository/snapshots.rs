//! Reading and writing an aggregate's snapshots, behind a trait object so that only
//! repositories built with [`Repository::with_snapshots`](super::Repository::with_snapshots)
//! need a serialisable state and a store that keeps snapshots.

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Aggregate, Snapshot, SnapshotStore, StreamId};

/// Reads and writes `A`'s snapshots; exists only for repositories built with
/// [`Repository::with_snapshots`], where `A` is serialisable and the store keeps snapshots.
pub(crate) trait Snapshotter<A>: Send + Sync {
    fn load<'a>(&'a self, stream: &'a StreamId) -> BoxFuture<'a, Option<(A, u64, DateTime<Utc>)>>;
    fn save<'a>(&'a self, stream: &'a StreamId, state: &'a A, version: u64) -> BoxFuture<'a, ()>;
}

pub(crate) struct StoreSnapshots<S>(pub S);

impl<A, S> Snapshotter<A> for StoreSnapshots<S>
where
    A: Aggregate + Serialize + DeserializeOwned,
    S: SnapshotStore,
{
    fn load<'a>(&'a self, stream: &'a StreamId) -> BoxFuture<'a, Option<(A, u64, DateTime<Utc>)>> {
        Box::pin(async move {
            let snapshot = match self
                .0
                .load_snapshot(stream, std::any::type_name::<A>())
                .await
            {
                Ok(Some(snapshot)) => snapshot,
                Ok(None) => return None,
                Err(err) => {
                    tracing::warn!(%stream, %err, "could not read the snapshot; replaying the stream");
                    return None;
                }
            };
            if snapshot.state_version != A::STATE_VERSION {
                tracing::debug!(
                    %stream,
                    stored = snapshot.state_version,
                    current = A::STATE_VERSION,
                    "snapshot of another state version ignored"
                );
                return None;
            }
            match serde_json::from_str(&snapshot.state) {
                Ok(state) => Some((state, snapshot.version, snapshot.taken_at)),
                Err(err) => {
                    tracing::warn!(%stream, %err, "snapshot does not decode; replaying the stream");
                    None
                }
            }
        })
    }

    fn save<'a>(&'a self, stream: &'a StreamId, state: &'a A, version: u64) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let state = match serde_json::to_string(state) {
                Ok(state) => state,
                Err(err) => {
                    tracing::warn!(%stream, %err, "state does not serialise; no snapshot taken");
                    return;
                }
            };
            let snapshot = Snapshot {
                aggregate: std::any::type_name::<A>().to_owned(),
                version,
                state_version: A::STATE_VERSION,
                state,
                taken_at: Utc::now(),
            };
            // A snapshot is an optimisation: failing to save one never fails the caller.
            if let Err(err) = self.0.save_snapshot(stream, &snapshot).await {
                tracing::warn!(%stream, %err, "could not save a snapshot");
            }
        })
    }
}
