//! Snapshots (the guide is on [`SnapshotStore`]).

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::{Result, StreamId};

/// A saved state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The aggregate type whose state this is (the repository uses the Rust type's name).
    pub aggregate: String,
    /// The stream version the state includes (its last applied event).
    pub version: u64,
    /// The aggregate's state version when it was taken.
    pub state_version: u32,
    /// The state, as JSON.
    pub state: String,
    /// When it was taken.
    pub taken_at: DateTime<Utc>,
}

/// Where snapshots are kept. Every backend implements it, in the same database as its
/// events.
///
/// Snapshots: an aggregate's state saved at a version, so loading a long stream reads the
/// snapshot and only the events after it.
///
/// Snapshots belong to the aggregate type that wrote them (several types may fold the
/// same stream) and are tagged with its [`STATE_VERSION`](crate::Aggregate::STATE_VERSION):
/// when the state type changes shape, raise it, and older snapshots are ignored (never
/// mis-read) and rebuilt by the policy. A snapshot that fails to decode is ignored too
/// (with a `tracing` warning) and the stream is replayed. Only the latest snapshot of a
/// stream and type is kept: one replaces it if it is at a later stream version of the same
/// state version, or of a later state version; code of an older state version never
/// replaces what newer code wrote.
pub trait SnapshotStore: Send + Sync {
    /// The latest snapshot of `stream` written for the aggregate type `aggregate`, if any.
    fn load_snapshot(
        &self,
        stream: &StreamId,
        aggregate: &str,
    ) -> impl Future<Output = Result<Option<Snapshot>>> + Send;

    /// Saves `snapshot` as the latest of `stream` for its aggregate type, unless the stored
    /// one is newer (see [`SnapshotStore`]).
    fn save_snapshot(
        &self,
        stream: &StreamId,
        snapshot: &Snapshot,
    ) -> impl Future<Output = Result<()>> + Send;
}

impl<S: SnapshotStore + ?Sized> SnapshotStore for std::sync::Arc<S> {
    fn load_snapshot(
        &self,
        stream: &StreamId,
        aggregate: &str,
    ) -> impl Future<Output = Result<Option<Snapshot>>> + Send {
        (**self).load_snapshot(stream, aggregate)
    }

    fn save_snapshot(
        &self,
        stream: &StreamId,
        snapshot: &Snapshot,
    ) -> impl Future<Output = Result<()>> + Send {
        (**self).save_snapshot(stream, snapshot)
    }
}

/// When the repository takes a snapshot. Each rule that is set can trigger one; `min_interval`
/// holds all of them back until the previous snapshot of the stream is old enough.
///
/// ```
/// use std::time::Duration;
/// use factum::SnapshotPolicy;
/// let policy = SnapshotPolicy::every(1_000)
///     .when_replaying_more_than(2_000)
///     .at_most_every(Duration::from_secs(60));
/// # let _ = policy;
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SnapshotPolicy {
    /// After a command whose events cross a multiple of this many events.
    pub every_events: Option<u64>,
    /// After a load that had to replay more than this many events.
    pub replayed_more_than: Option<u64>,
    /// Never within this long of the stream's previous snapshot.
    pub min_interval: Option<Duration>,
}

impl SnapshotPolicy {
    /// Snapshot every `n` events.
    pub fn every(n: u64) -> Self {
        SnapshotPolicy {
            every_events: Some(n.max(1)),
            ..Self::default()
        }
    }

    /// Snapshot when a load replayed more than `n` events.
    pub fn when_replaying_more_than(mut self, n: u64) -> Self {
        self.replayed_more_than = Some(n);
        self
    }

    /// Never snapshot a stream more often than every `interval`.
    pub fn at_most_every(mut self, interval: Duration) -> Self {
        self.min_interval = Some(interval);
        self
    }

    /// Whether the policy allows a snapshot now, given the previous one's time.
    pub(crate) fn interval_allows(
        &self,
        previous: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> bool {
        match (self.min_interval, previous) {
            (Some(interval), Some(previous)) => {
                now.signed_duration_since(previous)
                    .to_std()
                    .unwrap_or_default()
                    >= interval
            }
            _ => true,
        }
    }

    /// Whether appending moved the stream across a multiple of `every_events`.
    pub(crate) fn crossed(&self, before: u64, after: u64) -> bool {
        self.every_events
            .map(|n| n.max(1))
            .is_some_and(|n| after / n > before / n)
    }

    /// Whether a load replayed enough events to deserve a snapshot.
    pub(crate) fn replayed_too_many(&self, replayed: u64) -> bool {
        self.replayed_more_than.is_some_and(|n| replayed > n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        let p = SnapshotPolicy::every(100).when_replaying_more_than(50);
        assert!(p.crossed(99, 100) && p.crossed(150, 201) && !p.crossed(100, 199));
        assert!(p.replayed_too_many(51) && !p.replayed_too_many(50));
        let now = Utc::now();
        let slow = p.at_most_every(Duration::from_secs(60));
        assert!(!slow.interval_allows(Some(now - chrono::Duration::seconds(10)), now));
        assert!(slow.interval_allows(Some(now - chrono::Duration::seconds(61)), now));
        assert!(slow.interval_allows(None, now));
        assert!(!SnapshotPolicy::default().crossed(0, 1_000_000));
        // A zero set by hand counts as every event, never as a division by zero.
        let zero = SnapshotPolicy {
            every_events: Some(0),
            ..SnapshotPolicy::default()
        };
        assert!(zero.crossed(1, 2));
    }
}
