//! Group commit: appends that arrive while the writer is busy share one transaction.
//!
//! SQLite has one writer, and with `synchronous = FULL` every commit waits for the disk
//! (an `fsync` of the WAL). Concurrent appends queue here; a drain task takes every
//! append waiting when it starts a transaction, runs each inside a savepoint of its own
//! (a refused append rolls back to its savepoint and the others go on), and commits them
//! all with one sync. A lone append runs in a transaction of its own, as before. Each
//! caller gets its own outcome, and the ones of a group become durable together, so an
//! append is never reported before it is committed.
//!
//! If the shared part fails (`BEGIN`, `COMMIT`, a savepoint statement), nothing of the
//! group was committed; each append is then run again alone, so that each caller gets the
//! error of its own append. Running one again is safe: the ids of an append that did land
//! make the second run a deduplicated retry.
//!
//! An append that finds the writer idle runs at once in its caller's task, alone: a
//! sequential caller never pays a hop to another task. Appends that queue meanwhile are
//! drained by a task of their own, so a caller that stops waiting (a timeout, a dropped
//! future) never leaves the others stranded: a queued append is still made or refused as
//! if its caller had waited, and the one that ran in its caller's task is made or not,
//! like any statement whose future is dropped. A drain task that ends before the queue
//! is empty (its runtime shut down, a panic) answers the appends it leaves with
//! [`StoreError::Background`] and lets the writer go idle, so later appends still run.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use sqlx::SqlitePool;
use tokio::sync::oneshot;

use super::append_on;
use crate::store::{AppendResult, AppendSignal, PreparedBatch, Uniqueness};
use crate::{ExpectedVersion, Result, StoreError};

/// At most this many appends share a transaction.
const MAX_APPENDS: usize = 256;
/// A group stops growing once it holds this many events (one append may exceed it).
const MAX_EVENTS: u64 = 8_192;

/// One append waiting for the writer.
struct Pending {
    batch: PreparedBatch,
    expected: ExpectedVersion,
    uniqueness: Uniqueness,
    reply: oneshot::Sender<Result<AppendResult>>,
}

#[derive(Default)]
struct Queue {
    pending: Vec<Pending>,
    /// Whether a drain task is running (it empties the queue before it ends).
    draining: bool,
}

/// Runs [`GroupCommit::hand_off`] when the append that found the writer idle ends,
/// whether it finished or its caller stopped waiting.
struct Leader<'a>(&'a Arc<GroupCommit>);

impl Drop for Leader<'_> {
    fn drop(&mut self) {
        self.0.hand_off();
    }
}

/// Owns a drain task's duty to the queue: if the task ends before the queue is empty
/// (dropped unpolled or mid-group by a runtime that shut down, or unwound by a panic), its
/// drop answers the queued appends and lets the writer go idle, so that the store never
/// waits for a drain that will not come. Built before the task is spawned and moved into
/// it, so it is dropped with the task even if the task never ran.
struct DrainGuard {
    commit: Arc<GroupCommit>,
    finished: bool,
}

impl DrainGuard {
    async fn run(mut self) {
        self.commit.drain().await;
        self.finished = true;
    }
}

impl Drop for DrainGuard {
    fn drop(&mut self) {
        if !self.finished {
            self.commit.abandon();
        }
    }
}

/// The store's queue of appends and the connection that commits them.
pub(super) struct GroupCommit {
    writer: SqlitePool,
    signal: AppendSignal,
    queue: Mutex<Queue>,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").finish_non_exhaustive()
    }
}

impl GroupCommit {
    pub(super) fn new(writer: SqlitePool, signal: AppendSignal) -> Self {
        GroupCommit {
            writer,
            signal,
            queue: Mutex::default(),
        }
    }

    /// The queue, locked. Nothing panics while holding it, so a poisoned lock still
    /// holds a consistent queue.
    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends `batch`, in a transaction it may share with appends that queued beside it.
    pub(super) async fn append(
        self: &Arc<Self>,
        batch: PreparedBatch,
        expected: ExpectedVersion,
        uniqueness: Uniqueness,
    ) -> Result<AppendResult> {
        let (reply, outcome) = oneshot::channel();
        let pending = Pending {
            batch,
            expected,
            uniqueness,
            reply,
        };
        let queued = {
            let mut queue = self.queue();
            if queue.draining {
                queue.pending.push(pending);
                None
            } else {
                queue.draining = true;
                Some(pending)
            }
        };
        if let Some(own) = queued {
            // The writer is idle: this append runs at once, in the caller's task (no hop
            // to another task, which a sequential caller would pay on every append), and
            // whatever queued meanwhile is handed to a drain task afterwards, even if the
            // caller stops waiting.
            let _leader = Leader(self);
            return self.alone(&own).await;
        }
        outcome.await.map_err(|_| {
            StoreError::Background(
                "the SQLite writer task ended before it answered an append (was its runtime \
                 shut down?); the append may or may not have been made: retry it with the \
                 same event ids, which is safe"
                    .into(),
            )
        })?
    }

    /// Lets the writer go idle, or hands the appends that queued to a drain task.
    fn hand_off(self: &Arc<Self>) {
        {
            let mut queue = self.queue();
            if queue.pending.is_empty() {
                queue.draining = false;
                return;
            }
        }
        // Spawned with the queue unlocked: a runtime that is shutting down drops the task
        // at once, and its guard then takes the lock.
        let guard = DrainGuard {
            commit: Arc::clone(self),
            finished: false,
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(guard.run());
            }
            // No runtime to drain on: the guard answers the queued callers.
            Err(_) => drop(guard),
        }
    }

    /// Answers every queued append with an error and lets the writer go idle: the drain
    /// task ended without emptying the queue (its runtime shut down, or it panicked).
    fn abandon(&self) {
        let orphans = {
            let mut queue = self.queue();
            queue.draining = false;
            std::mem::take(&mut queue.pending)
        };
        // Dropped unlocked: each caller's reply channel closes and it gets
        // `StoreError::Background`.
        drop(orphans);
    }

    /// Commits groups until the queue is empty.
    async fn drain(&self) {
        let mut yielded = false;
        loop {
            let group = {
                let mut queue = self.queue();
                if queue.pending.is_empty() && yielded {
                    queue.draining = false;
                    return;
                }
                let mut events = 0;
                let take = queue
                    .pending
                    .iter()
                    .take(MAX_APPENDS)
                    .take_while(|p| {
                        let first = events == 0;
                        events += p.batch.len();
                        first || events <= MAX_EVENTS
                    })
                    .count();
                queue.pending.drain(..take).collect::<Vec<_>>()
            };
            if group.is_empty() {
                // Callers just answered often append again at once: let them queue before
                // the writer goes idle, so that they share the next group instead of one
                // of them running alone first.
                yielded = true;
                tokio::task::yield_now().await;
                continue;
            }
            yielded = false;
            self.commit(group).await;
        }
    }

    /// Runs one group and answers its callers.
    async fn commit(&self, group: Vec<Pending>) {
        if group.len() > 1
            && let Ok(outcomes) = self.shared(&group).await
        {
            if outcomes
                .iter()
                .any(|o| matches!(o, Ok(d) if !d.deduplicated))
            {
                self.signal.raise();
            }
            for (pending, outcome) in group.into_iter().zip(outcomes) {
                let _ = pending.reply.send(outcome);
            }
            return;
        }
        let shared_failed = group.len() > 1;
        for pending in group {
            let outcome = self.alone(&pending).await;
            let _ = pending.reply.send(outcome);
        }
        if shared_failed {
            // A COMMIT that failed may still have landed (an I/O error after the write):
            // its appends then come back from the reruns as deduplicated, which raise no
            // signal. A wake-up too many costs a read; one too few leaves subscribers
            // asleep until the next append.
            self.signal.raise();
        }
    }

    /// One append in a transaction of its own.
    async fn alone(&self, p: &Pending) -> Result<AppendResult> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let done = append_on(&mut tx, &p.batch, p.expected, &p.uniqueness).await?;
        if !done.deduplicated {
            tx.commit().await?;
            self.signal.raise();
        }
        Ok(done)
    }

    /// Every append of `group` in one transaction, each in a savepoint. `Err` if the
    /// transaction itself failed: then nothing of the group was committed.
    async fn shared(&self, group: &[Pending]) -> Result<Vec<Result<AppendResult>>> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let mut outcomes = Vec::with_capacity(group.len());
        for p in group {
            let mut savepoint = sqlx::Connection::begin(&mut *tx).await?;
            let outcome = append_on(&mut savepoint, &p.batch, p.expected, &p.uniqueness).await;
            match outcome {
                Ok(ref done) if !done.deduplicated => savepoint.commit().await?,
                _ => savepoint.rollback().await?,
            }
            outcomes.push(outcome);
        }
        tx.commit().await?;
        Ok(outcomes)
    }
}
