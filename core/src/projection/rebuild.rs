//! Rebuild to the end: replay a new version of a projection from the start of the log up
//! to the head, reporting progress as it goes, and make it the live version once it has
//! caught up with the one queries read now.
//!
//! ```no_run
//! # use factum::projection::{Projection, ProjectionError};
//! use factum::projection::rebuild::Rebuild;
//! # async fn demo<P: Projection>(store: factum::SqliteStore, balances_v2: P) -> Result<(), ProjectionError> {
//! let report = Rebuild::new(store)
//!     .run(balances_v2, |p| {
//!         eprintln!("{:.0} events/s, {:.0}% to go, ETA {:?}", p.events_per_second, p.remaining * 100.0, p.eta)
//!     })
//!     .await?;
//! eprintln!("{} events in {:?}; live now: {}", report.applied, report.took, report.switched);
//! # Ok(()) }
//! ```
//!
//! The rebuild runs the version with an ordinary runner (so it takes the version's lease,
//! and a rebuild stopped half-way resumes from its checkpoint when run again), beside the
//! live version's own runner, which keeps serving. The head it aims for is taken when it
//! starts; once there, it switches with [`Projections::switch`], which requires the new
//! version to have reached the live one's checkpoint: if the live version has moved on
//! meanwhile, the rebuild keeps running until it has too. Then it stops its runner; the
//! application's runners (now deployed with the new version) carry on from its
//! checkpoint.

use std::time::{Duration, Instant};

use super::Projections;
use super::db::ProjectionStore;
use super::runner::{ProjectionRunner, RunnerOptions};
use super::{Projection, ProjectionError, ProjectionKey};
use crate::Position;

type Result<T, E = ProjectionError> = std::result::Result<T, E>;

/// How far a rebuild is.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct RebuildProgress {
    /// The version being rebuilt.
    pub key: ProjectionKey,
    /// Its checkpoint.
    pub checkpoint: Position,
    /// The head the rebuild aims for (the log's head when it started).
    pub target: Position,
    /// Events applied (and parked) by this rebuild so far.
    pub applied: u64,
    /// Events per second since the rebuild started.
    pub events_per_second: f64,
    /// The share of the way from where the rebuild started to the target still ahead,
    /// 0.0 to 1.0 (from positions, which are sparse on PostgreSQL: an estimate).
    pub remaining: f64,
    /// The events still to apply, estimated from `remaining` and the rate so far.
    pub remaining_events: u64,
    /// When it will be there at the rate so far, once there is a rate.
    pub eta: Option<Duration>,
}

/// What a finished rebuild did.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct RebuildReport {
    /// The version rebuilt.
    pub key: ProjectionKey,
    /// Its checkpoint when it went live.
    pub checkpoint: Position,
    /// Events applied (and parked) by this rebuild.
    pub applied: u64,
    /// How long it took.
    pub took: Duration,
    /// Whether it was made the live version (false only if it already was).
    pub switched: bool,
}

/// Replays a projection version to the end and switches it live. See the
/// [module docs](self).
#[derive(Debug)]
pub struct Rebuild<S> {
    store: S,
    options: RunnerOptions,
    report_every: Duration,
}

impl<S: ProjectionStore> Rebuild<S> {
    /// A rebuild over `store`'s events, in its projection database.
    pub fn new(store: S) -> Self {
        Rebuild {
            store,
            options: RunnerOptions::default(),
            report_every: Duration::from_secs(1),
        }
    }

    /// The runner's options.
    pub fn options(mut self, options: RunnerOptions) -> Self {
        self.options = options;
        self
    }

    /// How often progress is reported (default every second).
    pub fn report_every(mut self, every: Duration) -> Self {
        self.report_every = every.max(Duration::from_millis(1));
        self
    }

    /// Rebuilds `projection`'s version up to the head, calling `on_progress` every
    /// [`report_every`](Self::report_every) and once at the end, then makes it live.
    pub async fn run<P: Projection>(
        self,
        projection: P,
        mut on_progress: impl FnMut(&RebuildProgress) + Send,
    ) -> Result<RebuildReport> {
        let key = ProjectionKey::of::<P>();
        let projections = Projections::new(self.store.clone());
        let target = self.store.head_position().await?;
        let started = Instant::now();
        let running = ProjectionRunner::new(self.store.clone())
            .options(self.options.clone())
            .with_projection(projection)
            .start();
        let mut start: Option<Position> = None;
        let outcome = loop {
            let waited = tokio::time::timeout(
                self.report_every,
                running.wait_until(&key, |p| p.active && p.checkpoint >= target),
            )
            .await;
            let Some(now) = running.progress().into_iter().find(|p| p.key == key) else {
                break Err(ProjectionError::Unknown(key.to_string()));
            };
            if now.active && start.is_none() {
                start = Some(now.checkpoint.min(target));
            }
            let from = start.unwrap_or(Position::START);
            let progress = progress(
                &key,
                now.checkpoint,
                target,
                from,
                now.applied + now.parked,
                started.elapsed(),
            );
            on_progress(&progress);
            if waited.is_err() {
                continue;
            }
            if now.checkpoint < target {
                // The wait ended without the checkpoint there: the runner has stopped.
                break Err(ended());
            }
            // There: go live, once past the live version's checkpoint too.
            let was_live = projections.live(&key.name).await?.key.version == key.version;
            match projections.switch(&key.name, key.version).await {
                Ok(()) => {
                    break Ok(RebuildReport {
                        key: key.clone(),
                        checkpoint: now.checkpoint,
                        applied: now.applied + now.parked,
                        took: started.elapsed(),
                        switched: !was_live,
                    });
                }
                Err(ProjectionError::NotCaughtUp { live, .. }) => {
                    let behind = Position(live);
                    let waited = tokio::time::timeout(
                        self.report_every,
                        running.wait_until(&key, |p| p.checkpoint >= behind),
                    )
                    .await;
                    let there = running
                        .progress()
                        .into_iter()
                        .any(|p| p.key == key && p.checkpoint >= behind);
                    if waited.is_ok() && !there {
                        break Err(ended());
                    }
                }
                Err(err) => break Err(err),
            }
        };
        // The runner's own error, if it stopped with one, says more than `ended`.
        running.stop().await?;
        outcome
    }
}

/// The rebuild's runner stopped before the rebuild was done.
fn ended() -> ProjectionError {
    ProjectionError::Interrupted("the rebuild's runner stopped before it caught up".into())
}

/// The progress figures for a checkpoint on the way from `from` to `target`.
fn progress(
    key: &ProjectionKey,
    checkpoint: Position,
    target: Position,
    from: Position,
    applied: u64,
    elapsed: Duration,
) -> RebuildProgress {
    let span = target.0.saturating_sub(from.0);
    let left = target.0.saturating_sub(checkpoint.0);
    let remaining = if span == 0 {
        0.0
    } else {
        (left as f64 / span as f64).clamp(0.0, 1.0)
    };
    let seconds = elapsed.as_secs_f64();
    let events_per_second = if seconds > 0.0 {
        applied as f64 / seconds
    } else {
        0.0
    };
    let done = 1.0 - remaining;
    let remaining_events = if done > 0.0 {
        (applied as f64 * remaining / done).round() as u64
    } else {
        0
    };
    let eta =
        (done > 0.0 && seconds > 0.0).then(|| Duration::from_secs_f64(seconds * remaining / done));
    RebuildProgress {
        key: key.clone(),
        checkpoint,
        target,
        applied,
        events_per_second,
        remaining,
        remaining_events,
        eta,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halfway_there_at_a_steady_rate_takes_as_long_again() {
        let key = ProjectionKey {
            name: "balances".into(),
            version: 2,
        };
        let p = progress(
            &key,
            Position(600),
            Position(1_000),
            Position(200),
            5_000,
            Duration::from_secs(10),
        );
        assert_eq!(p.remaining, 0.5);
        assert_eq!(p.remaining_events, 5_000);
        assert_eq!(p.events_per_second, 500.0);
        assert_eq!(p.eta, Some(Duration::from_secs(10)));
        let start = progress(
            &key,
            Position(200),
            Position(1_000),
            Position(200),
            0,
            Duration::ZERO,
        );
        assert_eq!((start.remaining, start.eta), (1.0, None));
        let there = progress(
            &key,
            Position(1_200),
            Position(1_000),
            Position(200),
            9,
            Duration::from_secs(1),
        );
        assert_eq!((there.remaining, there.eta), (0.0, Some(Duration::ZERO)));
    }
}
