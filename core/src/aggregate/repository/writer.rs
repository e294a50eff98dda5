//! One writer per aggregate in a process: commands for one aggregate are decided one
//! after another on its state, and the commands that waited are appended together.
//!
//! The first command for an idle aggregate is run by its own caller (no task hop: the
//! common, uncontended case costs one append). Commands that arrive while it runs queue
//! in the aggregate's slot; when the writer is done, a task takes over the queue and
//! works through it in batches: every queued command is decided on the state left by the
//! ones before it, their events go into one append with `Exact(version)`, and each
//! caller gets its own outcome. If a batch's append fails for a reason other than a
//! version conflict, its commands are run again one at a time, so that each gets the
//! outcome its own events earn.

use std::future::Future;
use std::marker::PhantomData;
use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;

use chrono::Utc;
use tokio::sync::oneshot;

use super::cache::{Arrival, Cached, Slot};
use super::locking::LockedTx;
use super::{Executed, Inner, RepositoryError};
use crate::{
    Aggregate, AppendResult, Decision, EventId, EventSet, EventStore, ExpectedVersion, Handles,
    Metadata, StoreError, StreamId, Uniqueness,
};

/// What a command's caller gets back.
pub(crate) type Outcome<A> = Result<Executed, RepositoryError<<A as Aggregate>::Error>>;

/// The most commands decided into one append.
const MAX_COMMANDS_PER_APPEND: usize = 256;

/// A queued command, whatever its type.
pub(crate) trait Job<A: Aggregate>: Send {
    fn decide(&self, state: &A) -> Result<Decision<A::Event>, A::Error>;
    fn rejection(&self, state: &A, error: &A::Error) -> Option<A::Event>;
    fn metadata(&self) -> &Metadata;
    fn key(&self) -> Option<&str>;
    fn finish(self: Box<Self>, outcome: Outcome<A>);
}

struct Command<A: Aggregate, C> {
    command: C,
    metadata: Metadata,
    key: Option<String>,
    reply: oneshot::Sender<Outcome<A>>,
    aggregate: PhantomData<fn() -> A>,
}

impl<A, C> Job<A> for Command<A, C>
where
    A: Handles<C>,
    C: Clone + Send + 'static,
{
    fn decide(&self, state: &A) -> Result<Decision<A::Event>, A::Error> {
        state.handle(self.command.clone())
    }

    fn rejection(&self, state: &A, error: &A::Error) -> Option<A::Event> {
        state.rejection(&self.command, error)
    }

    fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    fn finish(self: Box<Self>, outcome: Outcome<A>) {
        // The caller may have stopped waiting; the command is done either way.
        let _ = self.reply.send(outcome);
    }
}

/// Runs one command through its aggregate's writer and waits for its outcome.
pub(super) async fn submit<A, S, C>(
    inner: &Arc<Inner<A, S>>,
    stream: StreamId,
    command: C,
    metadata: Metadata,
    key: Option<String>,
) -> Outcome<A>
where
    A: Handles<C>,
    C: Clone + Send + 'static,
    S: EventStore + 'static,
{
    let (reply, outcome) = oneshot::channel();
    let job = Box::new(Command {
        command,
        metadata,
        key,
        reply,
        aggregate: PhantomData,
    });
    if let Arrival::Writer(slot, cached, job) = inner.slots.arrive(&stream, job) {
        let mut guard = WriterGuard {
            inner: inner.clone(),
            slot,
            done: false,
        };
        let cached = inner.run_batch(&stream, cached, vec![job]).await;
        // Callers just answered usually send their next command at once: letting them
        // run first puts those commands in this aggregate's queue, so the next batch
        // carries them all instead of one.
        tokio::task::yield_now().await;
        guard.done = true;
        if let Some((cached, queued)) = inner.slots.hand_back(&guard.slot, cached, inner.weigh) {
            take_over(inner.clone(), guard.slot.clone(), cached, queued);
        }
    }
    outcome
        .await
        .unwrap_or(Err(RepositoryError::Abandoned { stream }))
}

/// Hands an aggregate's queue to a task of its own, which works through it (and what
/// queues meanwhile) and then lets the aggregate go idle.
fn take_over<A, S>(
    inner: Arc<Inner<A, S>>,
    slot: Arc<Slot<A>>,
    cached: Option<Cached<A>>,
    jobs: Vec<Box<dyn Job<A>>>,
) where
    A: Aggregate,
    S: EventStore + 'static,
{
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        // No runtime to run a writer on: the queued commands are abandoned (their
        // callers get `Abandoned`) and the aggregate goes idle.
        let mut jobs = jobs;
        loop {
            drop(jobs);
            match inner.slots.hand_back(&slot, None, inner.weigh) {
                Some((_, queued)) => jobs = queued,
                None => return,
            }
        }
    };
    runtime.spawn(async move {
        let (mut cached, mut jobs) = (cached, jobs);
        loop {
            while !jobs.is_empty() {
                let rest = jobs.split_off(jobs.len().min(MAX_COMMANDS_PER_APPEND));
                cached = inner.run_batch(&slot.stream, cached, jobs).await;
                jobs = rest;
            }
            tokio::task::yield_now().await;
            match inner.slots.hand_back(&slot, cached, inner.weigh) {
                Some((state, queued)) => (cached, jobs) = (state, queued),
                None => return,
            }
        }
    });
}

/// Releases the aggregate if the caller running its command stops waiting mid-command
/// (its future dropped): what it appended is then unknown, so the state is forgotten,
/// and whoever queued behind it is handed to a writer task.
struct WriterGuard<A: Aggregate, S: EventStore + 'static> {
    inner: Arc<Inner<A, S>>,
    slot: Arc<Slot<A>>,
    done: bool,
}

impl<A: Aggregate, S: EventStore + 'static> Drop for WriterGuard<A, S> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        if let Some((_, queued)) = self
            .inner
            .slots
            .hand_back(&self.slot, None, self.inner.weigh)
        {
            take_over(self.inner.clone(), self.slot.clone(), None, queued);
        }
    }
}

/// One command's part of a batch.
struct Plan<E> {
    /// Its events' places in the batch's append.
    events: Range<usize>,
    /// Why it was refused (its events, if any, record the refusal).
    refusal: Option<E>,
    encode_error: Option<serde_json::Error>,
}

type BatchFuture<'a, A> = Pin<Box<dyn Future<Output = Option<Cached<A>>> + Send + 'a>>;

impl<A: Aggregate, S: EventStore + 'static> Inner<A, S> {
    /// Decides `jobs` in order on the aggregate's state (`cached`, or loaded) and appends
    /// their events in one append at the state's version; on a conflict reads what
    /// changed and decides again, within the retry budget. Every job is finished. Returns
    /// the state after the append, or `None` when it is not known.
    pub(super) fn run_batch<'a>(
        &'a self,
        stream: &'a StreamId,
        mut cached: Option<Cached<A>>,
        jobs: Vec<Box<dyn Job<A>>>,
    ) -> BatchFuture<'a, A> {
        Box::pin(async move {
            let mut backoff = self.options.retry.start();
            loop {
                // Pessimistic: the snapshot (when nothing is cached) is read before the
                // lock is taken, the events after it under the lock.
                let mut locked: Option<Box<dyn LockedTx>> = None;
                let mut current = match (&self.locking, cached.take()) {
                    (None, Some(current)) => current,
                    (None, None) => match self.load_latest(stream).await {
                        Ok(current) => current,
                        Err(err) => return self.fail_or_split(stream, jobs, err).await,
                    },
                    (Some(locking), cached) => {
                        let start = match cached {
                            Some(current) => current,
                            None => self.snapshot(stream).await.unwrap_or_else(Cached::empty),
                        };
                        let mut tx = match locking.begin(stream).await {
                            Ok(tx) => tx,
                            Err(err) => return self.fail_or_split(stream, jobs, err.into()).await,
                        };
                        match self.catch_up_locked(tx.as_mut(), stream, start).await {
                            Ok(current) => {
                                locked = Some(tx);
                                current
                            }
                            Err(err) => {
                                let _ = tx.rollback().await;
                                return self.fail_or_split(stream, jobs, err).await;
                            }
                        }
                    }
                };
                if current.loaded.deleted {
                    if let Some(tx) = locked {
                        let _ = tx.rollback().await;
                    }
                    for job in jobs {
                        job.finish(Err(RepositoryError::Deleted {
                            stream: stream.clone(),
                        }));
                    }
                    return Some(current);
                }
                let before = current.loaded.version;
                // One command decides on the state as it is and applies its events only
                // once they are stored; in a batch each command must see the events of
                // the ones before it, so they are applied as decided, and a failed append
                // leaves a state that must be read again.
                let single = jobs.len() == 1;
                let mut data = Vec::new();
                let mut uniqueness = Uniqueness::new();
                let mut decided_alone = Vec::new();
                let mut plans = Vec::with_capacity(jobs.len());
                for job in &jobs {
                    let state = &current.loaded.state;
                    let (events, claims, refusal) = match job.decide(state) {
                        Ok(decision) => {
                            let (events, claims) = decision.into_parts();
                            (events, claims, None)
                        }
                        Err(error) => match job.rejection(state, &error) {
                            Some(event) => (vec![event], Uniqueness::new(), Some(error)),
                            None => (Vec::new(), Uniqueness::new(), Some(error)),
                        },
                    };
                    let first = data.len();
                    match encode(&events, job.as_ref(), stream) {
                        Ok(encoded) => data.extend(encoded),
                        Err(err) => {
                            plans.push(Plan {
                                events: first..first,
                                refusal,
                                encode_error: Some(err),
                            });
                            continue;
                        }
                    }
                    uniqueness.extend(claims);
                    plans.push(Plan {
                        events: first..data.len(),
                        refusal,
                        encode_error: None,
                    });
                    if single {
                        decided_alone = events;
                    } else {
                        for event in &events {
                            current.loaded.state.apply(event);
                        }
                    }
                }
                let retries = backoff.attempts();
                if data.is_empty() {
                    if let Some(tx) = locked {
                        let _ = tx.rollback().await;
                    }
                    for (job, plan) in jobs.into_iter().zip(plans) {
                        job.finish(outcome::<A>(plan, None, before, retries));
                    }
                    return Some(current);
                }
                let applied_early = !single;
                let expected = ExpectedVersion::Exact(before);
                let appended = match locked {
                    None => {
                        self.store
                            .append_unique(stream, expected, data, uniqueness)
                            .await
                    }
                    Some(mut tx) => match tx.append(stream, expected, data, uniqueness).await {
                        Ok(done) => tx.commit().await.map(|()| done),
                        Err(err) => {
                            let _ = tx.rollback().await;
                            Err(err)
                        }
                    },
                };
                match appended {
                    Ok(done) => {
                        let deduplicated = done.deduplicated;
                        let version = done.version;
                        for (job, plan) in jobs.into_iter().zip(plans) {
                            job.finish(outcome::<A>(plan, Some(&done), before, retries));
                        }
                        if deduplicated {
                            // An earlier attempt of these events was stored: the state may
                            // or may not hold them, so it is read again next time.
                            return None;
                        }
                        for event in &decided_alone {
                            current.loaded.state.apply(event);
                        }
                        current.loaded.version = version;
                        self.snapshot_after(stream, &mut current, before).await;
                        return Some(current);
                    }
                    Err(StoreError::WrongExpectedVersion { .. }) => {
                        let Some(wait) = backoff.next_wait() else {
                            for job in jobs {
                                job.finish(Err(RepositoryError::TooManyConflicts {
                                    stream: stream.clone(),
                                    attempts: backoff.attempts(),
                                    elapsed: backoff.elapsed(),
                                }));
                            }
                            return None;
                        };
                        tracing::debug!(%stream, retries = backoff.attempts(), "version conflict; reading what changed and deciding again");
                        cached = if applied_early {
                            None
                        } else {
                            match self.catch_up(stream, current).await {
                                Ok(current) => Some(current),
                                Err(err) => return self.fail_or_split(stream, jobs, err).await,
                            }
                        };
                        if !wait.is_zero() {
                            tokio::time::sleep(wait).await;
                        }
                    }
                    Err(StoreError::StreamDeleted { .. }) => {
                        for job in jobs {
                            job.finish(Err(RepositoryError::Deleted {
                                stream: stream.clone(),
                            }));
                        }
                        if applied_early {
                            return None;
                        }
                        current.loaded.deleted = true;
                        return Some(current);
                    }
                    Err(err) => return self.fail_or_split(stream, jobs, err.into()).await,
                }
            }
        })
    }

    /// A batch failed with `err` (not a conflict): a single command gets the error; the
    /// commands of a larger batch run again one at a time, each earning its own outcome.
    /// The state is unknown afterwards (an append whose reply was lost may have been
    /// stored).
    async fn fail_or_split(
        &self,
        stream: &StreamId,
        jobs: Vec<Box<dyn Job<A>>>,
        err: RepositoryError<A::Error>,
    ) -> Option<Cached<A>> {
        if jobs.len() == 1 {
            if let Some(job) = jobs.into_iter().next() {
                job.finish(Err(err));
            }
            return None;
        }
        tracing::debug!(%stream, commands = jobs.len(), %err, "a batched append failed; running its commands one at a time");
        let mut cached = None;
        for job in jobs {
            cached = self.run_batch(stream, cached, vec![job]).await;
        }
        cached
    }

    /// Takes a snapshot after an append if the policy asks for one.
    async fn snapshot_after(&self, stream: &StreamId, current: &mut Cached<A>, before: u64) {
        let Some((snapshots, policy)) = &self.snapshots else {
            return;
        };
        let now = Utc::now();
        if policy.crossed(before, current.loaded.version)
            && policy.interval_allows(current.snapshot_taken_at, now)
        {
            snapshots
                .save(stream, &current.loaded.state, current.loaded.version)
                .await;
            current.snapshot_taken_at = Some(now);
            current.snapshot_version = current.loaded.version;
        }
    }
}

/// A command's events as data to append, with its metadata and, for keyed commands, ids
/// derived from the key.
fn encode<A: Aggregate>(
    events: &[A::Event],
    job: &dyn Job<A>,
    stream: &StreamId,
) -> Result<Vec<crate::EventData>, serde_json::Error> {
    events
        .iter()
        .enumerate()
        .map(|(i, event)| {
            let data = event.to_event_data()?.with_metadata(job.metadata().clone());
            Ok(match job.key() {
                Some(key) => data.with_id(EventId::derived(key, stream, i)),
                None => data,
            })
        })
        .collect()
}

/// A command's outcome from its plan and the batch's append (if there was one).
fn outcome<A: Aggregate>(
    plan: Plan<A::Error>,
    appended: Option<&AppendResult>,
    before: u64,
    retries: u32,
) -> Outcome<A> {
    if let Some(err) = plan.encode_error {
        return Err(RepositoryError::Encode(err));
    }
    let own = appended.filter(|_| !plan.events.is_empty()).map(|done| {
        // The batch's events hold consecutive versions ending at `done.version`.
        let first_version = done.version + 1 - done.positions.len() as u64;
        AppendResult {
            version: first_version + plan.events.end as u64 - 1,
            positions: done.positions[plan.events.clone()].to_vec(),
            deduplicated: done.deduplicated,
        }
    });
    match plan.refusal {
        Some(error) => Err(RepositoryError::Rejected {
            error,
            recorded: own,
        }),
        None => Ok(match own {
            Some(own) => Executed {
                version: own.version,
                positions: own.positions,
                retries,
            },
            None => Executed {
                version: before,
                positions: Vec::new(),
                retries,
            },
        }),
    }
}
