//! The projection runner (the guide is on [`ProjectionRunner`]).

use std::collections::HashSet;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::future::{self, BoxFuture, Either};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::Instrument;

use super::db::{ProjectionDb, ProjectionStore};
use super::lease::Lease;
use super::database::Savepoint;
use super::failure::{self, FailureKind, MAX_OUTAGE_PAUSE};
use super::{Projection, ProjectionError, ProjectionKey};
use crate::projection::subscription::{Batch, Subscription};
use crate::{EventStore, Position};

type Result<T, E = ProjectionError> = std::result::Result<T, E>;

/// How a runner reads, retries and holds leases.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RunnerOptions {
    /// Events per batch (one transaction each) when live, and the first batch's size.
    pub batch_size: usize,
    /// The largest batch: while a projection catches up, every full batch doubles the
    /// next one's size up to this.
    pub max_batch_size: usize,
    /// How often to look for new events when no append notification comes.
    pub poll_interval: Duration,
    /// How many times an event is tried before it is parked.
    pub attempts: u32,
    /// The pause before the first retry (doubling after each).
    pub backoff: Duration,
    /// How long a SQLite lease lasts without renewal (a crashed runner's lease is taken
    /// over after this).
    pub lease_ttl: Duration,
    /// How often a runner without the lease tries to take it.
    pub lease_retry: Duration,
    /// The first pause after a failure that is not an event's fault (a lost connection,
    /// a timeout) before the projection starts again from its checkpoint; it doubles
    /// while the failures go on, up to [`MAX_OUTAGE_PAUSE`].
    pub error_pause: Duration,
}

impl Default for RunnerOptions {
    fn default() -> Self {
        RunnerOptions {
            batch_size: 500,
            max_batch_size: 10_000,
            poll_interval: Duration::from_millis(500),
            attempts: 3,
            backoff: Duration::from_millis(10),
            lease_ttl: Duration::from_secs(10),
            lease_retry: Duration::from_millis(500),
            error_pause: Duration::from_millis(200),
        }
    }
}

impl RunnerOptions {
    /// Sets the batch size (at least 1).
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = n.max(1);
        self
    }

    /// Sets the largest batch a catching-up projection grows to (at least the batch
    /// size).
    pub fn max_batch_size(mut self, n: usize) -> Self {
        self.max_batch_size = n.max(1);
        self
    }

    /// Sets the poll interval.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// Sets the attempts per event before parking (at least 1) and the first backoff.
    pub fn retries(mut self, attempts: u32, backoff: Duration) -> Self {
        self.attempts = attempts.max(1);
        self.backoff = backoff;
        self
    }

    /// Sets the SQLite lease's time to live and how often a waiting runner retries.
    pub fn lease(mut self, ttl: Duration, retry: Duration) -> Self {
        self.lease_ttl = ttl;
        self.lease_retry = retry;
        self
    }

    /// Sets the pause after an error.
    pub fn error_pause(mut self, pause: Duration) -> Self {
        self.error_pause = pause;
        self
    }
}

/// How far a projection is, as its runner last saw it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Progress {
    /// The projection version.
    pub key: ProjectionKey,
    /// Whether this runner holds the lease and is applying events.
    pub active: bool,
    /// Every event at or below this position has been applied (or parked).
    pub checkpoint: Position,
    /// The store's head when last checked.
    pub head: Position,
    /// Head minus checkpoint: zero when caught up. Positions are sparse on PostgreSQL,
    /// so this says "behind or not" and "more or less than before", not an event count.
    pub position_lag: u64,
    /// When the newest event applied was recorded.
    pub newest_event_at: Option<DateTime<Utc>>,
    /// How long ago that was, when the projection is behind the head (zero when caught
    /// up): the time lag.
    pub time_lag: Duration,
    /// Events applied by this runner.
    pub applied: u64,
    /// Events parked by this runner.
    pub parked: u64,
}

impl Progress {
    /// Recomputes the time lag: how long ago the newest applied event was recorded, while
    /// the projection is behind the head (zero when caught up).
    fn refresh_time_lag(&mut self) {
        self.time_lag = match self.newest_event_at {
            Some(at) if self.position_lag > 0 => (Utc::now() - at).to_std().unwrap_or_default(),
            _ => Duration::ZERO,
        };
    }

    fn new(key: ProjectionKey) -> Self {
        Progress {
            key,
            active: false,
            checkpoint: Position::START,
            head: Position::START,
            position_lag: 0,
            newest_event_at: None,
            time_lag: Duration::ZERO,
            applied: 0,
            parked: 0,
        }
    }
}

type Job<S> = Box<dyn FnOnce(Ctx<S>) -> BoxFuture<'static, Result<()>> + Send>;

/// What every projection task shares.
struct Ctx<S> {
    store: S,
    db: ProjectionDb,
    options: RunnerOptions,
    stop: watch::Receiver<bool>,
    progress: watch::Sender<Progress>,
    owner: Arc<str>,
    /// Whether the last run was interrupted: the next one starts with small batches, in
    /// case the size itself was the trouble (a statement timeout on a large batch).
    interrupted: bool,
}

/// Runs projections.
///
/// The projection runner: runs projections in the background, each by at most one
/// instance at a time, batch by batch, with its checkpoint in each batch's transaction.
///
/// ```no_run
/// # use factum::projection::{ProjectionRunner, RunnerOptions};
/// # async fn demo<P: factum::projection::Projection>(store: factum::SqliteStore, balances: P) -> Result<(), factum::projection::ProjectionError> {
/// let running = ProjectionRunner::new(store)
///     .options(RunnerOptions::default().batch_size(200))
///     .with_projection(balances)
///     .start();
/// // ... serve; `running.progress()` tells how far each projection is ...
/// running.stop().await?;
/// # Ok(()) }
/// ```
///
/// **Leases.** Before it runs a projection version, a runner takes its lease: a session
/// advisory lock on PostgreSQL (released by the database if the process dies), a lease
/// row with an expiry on SQLite (renewed with every batch and while idle). Another
/// instance waits until it can take it. Each batch also moves the checkpoint only from
/// the value the runner read, so even an instance that lost its lease without noticing
/// cannot apply a batch twice: its commit fails with
/// [`LeaseLost`](super::ProjectionError::LeaseLost) and it goes back to waiting.
///
/// **Failures.** A batch is applied in one transaction. If a handler fails, the batch is
/// rolled back and applied again event by event, each under a savepoint, retrying a
/// failing event a few times with backoff; an event that still fails is parked in the
/// [dead-letter queue](super::dlq) together with every later event of its stream, and
/// the other streams go on.
pub struct ProjectionRunner<S> {
    store: S,
    options: RunnerOptions,
    jobs: Vec<(ProjectionKey, Job<S>)>,
}

impl<S: ProjectionStore> ProjectionRunner<S> {
    /// A runner over `store`'s events, keeping projections in its database.
    pub fn new(store: S) -> Self {
        ProjectionRunner {
            store,
            options: RunnerOptions::default(),
            jobs: Vec::new(),
        }
    }

    /// Sets the options for every projection of this runner.
    pub fn options(mut self, options: RunnerOptions) -> Self {
        self.options = options;
        self
    }

    /// Adds a projection.
    pub fn with_projection<P: Projection>(mut self, projection: P) -> Self {
        let job: Job<S> = Box::new(move |ctx| Box::pin(run(projection, ctx)));
        self.jobs.push((ProjectionKey::of::<P>(), job));
        self
    }

    /// Starts every projection on the current tokio runtime.
    pub fn start(self) -> RunningProjections {
        let (stop, stop_rx) = watch::channel(false);
        let owner: Arc<str> =
            format!("{}-{}", std::process::id(), uuid::Uuid::now_v7().simple()).into();
        let mut tasks = Vec::new();
        for (key, job) in self.jobs {
            let (progress, progress_rx) = watch::channel(Progress::new(key.clone()));
            let ctx = Ctx {
                store: self.store.clone(),
                db: self.store.projection_db(),
                options: self.options.clone(),
                stop: stop_rx.clone(),
                progress,
                owner: owner.clone(),
                interrupted: false,
            };
            let span = tracing::info_span!("projection", name = %key.name, version = key.version);
            let handle = tokio::spawn(job(ctx).instrument(span));
            tasks.push((key, handle, progress_rx));
        }
        RunningProjections { stop, tasks }
    }
}

/// Projections running in the background. Dropping it leaves them running until the
/// runtime ends; [`stop`](Self::stop) ends them cleanly.
#[derive(Debug)]
pub struct RunningProjections {
    stop: watch::Sender<bool>,
    tasks: Vec<(
        ProjectionKey,
        JoinHandle<Result<()>>,
        watch::Receiver<Progress>,
    )>,
}

impl RunningProjections {
    /// Each projection's progress.
    pub fn progress(&self) -> Vec<Progress> {
        self.tasks
            .iter()
            .map(|(_, _, p)| p.borrow().clone())
            .collect()
    }

    /// Waits until `key`'s progress satisfies `done` (for tests and start-up code).
    pub async fn wait_until(&self, key: &ProjectionKey, done: impl Fn(&Progress) -> bool) {
        let Some((_, _, rx)) = self.tasks.iter().find(|(k, _, _)| k == key) else {
            return;
        };
        let mut rx = rx.clone();
        let _ = rx.wait_for(|p| done(p)).await;
    }

    /// Stops every projection after its current batch, gives the leases back, and
    /// returns the first error a projection stopped with.
    pub async fn stop(self) -> Result<()> {
        let _ = self.stop.send(true);
        let mut first = Ok(());
        for (key, task, _) in self.tasks {
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(err)) => {
                    if first.is_ok() {
                        first = Err(err);
                    }
                }
                Err(join) => {
                    tracing::error!(projection = %key, %join, "projection task panicked");
                }
            }
        }
        first
    }
}

/// Waits for `fut` unless the runner is stopped first (`None` then).
pub(crate) async fn unless_stopped<T>(
    stop: &mut watch::Receiver<bool>,
    fut: impl Future<Output = T>,
) -> Option<T> {
    if *stop.borrow() {
        return None;
    }
    let stopped = pin!(stop.wait_for(|s| *s));
    match future::select(pin!(fut), stopped).await {
        Either::Left((value, _)) => Some(value),
        Either::Right(_) => None,
    }
}

/// One projection's life: take the lease, apply batches until stopped; after an error,
/// pause and start again from the stored checkpoint.
async fn run<P: Projection, S: ProjectionStore>(projection: P, mut ctx: Ctx<S>) -> Result<()> {
    let key = ProjectionKey::of::<P>();
    // The row and tables exist before anyone leases them (the SQLite lease is a column
    // of the row).
    loop {
        match unless_stopped(&mut ctx.stop, ctx.db.register(&key, &P::read_models())).await {
            None => return Ok(()),
            Some(Ok(_)) => break,
            Some(Err(err @ ProjectionError::TableTaken { .. })) => return Err(err),
            Some(Err(err)) => {
                tracing::error!(%err, "cannot register the projection; retrying");
                let pause = ctx.options.error_pause;
                if unless_stopped(&mut ctx.stop, tokio::time::sleep(pause))
                    .await
                    .is_none()
                {
                    return Ok(());
                }
            }
        }
    }
    // The pause after a failure: doubles while failures follow each other, back to the
    // first pause once a run made progress.
    let mut pause = ctx.options.error_pause;
    loop {
        let lease = loop {
            let attempt = unless_stopped(
                &mut ctx.stop,
                ctx.db.try_lease(&key, &ctx.owner, ctx.options.lease_ttl),
            );
            match attempt.await {
                None => return Ok(()),
                Some(Ok(Some(lease))) => break lease,
                Some(Ok(None)) => {}
                Some(Err(err)) => tracing::warn!(%err, "cannot take the projection's lease"),
            }
            let pause = ctx.options.lease_retry;
            if unless_stopped(&mut ctx.stop, tokio::time::sleep(pause))
                .await
                .is_none()
            {
                return Ok(());
            }
        };
        tracing::info!(owner = %ctx.owner, "projection lease taken");
        let mut lease = lease;
        let done_before = {
            let p = ctx.progress.borrow();
            p.applied + p.parked
        };
        let outcome = run_leased(&projection, &key, &mut ctx, &mut lease).await;
        let progressed = {
            let p = ctx.progress.borrow();
            p.applied + p.parked > done_before
        };
        if progressed {
            pause = ctx.options.error_pause;
            ctx.interrupted = false;
        }
        if outcome.is_err() {
            ctx.interrupted = true;
        }
        ctx.progress.send_modify(|p| p.active = false);
        if let Err(err) = ctx.db.release(&key, lease).await {
            tracing::warn!(%err, "could not give the projection's lease back");
        }
        match outcome {
            Ok(()) => return Ok(()),
            Err(err @ ProjectionError::LeaseLost { .. }) => {
                tracing::warn!(%err, "projection lease lost; waiting to take it again");
            }
            Err(err) => {
                tracing::warn!(%err, ?pause, "projection interrupted; starting again from its checkpoint");
                let labels = metric_labels(&key);
                metrics::counter!("factum_projection_interruptions_total", &labels).increment(1);
                // The lag goes on growing while nothing is applied: show it.
                ctx.progress.send_modify(|p| {
                    p.refresh_time_lag();
                    metrics::gauge!("factum_projection_lag_seconds", &labels)
                        .set(p.time_lag.as_secs_f64());
                });
                if unless_stopped(&mut ctx.stop, tokio::time::sleep(pause))
                    .await
                    .is_none()
                {
                    return Ok(());
                }
                pause = (pause * 2).min(MAX_OUTAGE_PAUSE);
            }
        }
    }
}

/// Reads batches ahead of the task applying them: while one batch is applied and
/// committed, the next is read and decoded. The first read asks for
/// [`RunnerOptions::max_batch_size`] events (a runner that starts is most likely behind;
/// after an interruption, for [`RunnerOptions::batch_size`], in case the size was the
/// trouble);
/// after a batch that was not full (live) the size falls back to
/// [`RunnerOptions::batch_size`], so that a live projection commits each burst soon, and
/// doubles after every full batch up to the maximum again (catching up).
struct ReadAhead {
    batches: mpsc::Receiver<crate::Result<Batch>>,
    task: JoinHandle<()>,
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ReadAhead {
    fn start<S: EventStore + Clone + 'static>(
        mut subscription: Subscription<S>,
        options: &RunnerOptions,
        small_first: bool,
    ) -> Self {
        let (send, batches) = mpsc::channel(1);
        let (min, max) = (
            options.batch_size,
            options.max_batch_size.max(options.batch_size),
        );
        let task = tokio::spawn(
            async move {
                let mut size = if small_first { min } else { max };
                let mut sent = subscription.checkpoint();
                loop {
                    subscription.set_batch_size(size);
                    let batch = match subscription.poll_batch().await {
                        Ok(batch) => batch,
                        Err(err) => {
                            let _ = send.send(Err(err)).await;
                            return;
                        }
                    };
                    size = if batch.events.len() >= size {
                        (size * 2).min(max)
                    } else {
                        min
                    };
                    if batch.events.is_empty() && batch.checkpoint == sent {
                        subscription.wait().await;
                        continue;
                    }
                    sent = batch.checkpoint;
                    if send.send(Ok(batch)).await.is_err() {
                        return;
                    }
                }
            }
            .in_current_span(),
        );
        ReadAhead { batches, task }
    }
}

/// Applies batches while holding the lease, until stopped.
async fn run_leased<P: Projection, S: ProjectionStore>(
    projection: &P,
    key: &ProjectionKey,
    ctx: &mut Ctx<S>,
    lease: &mut Lease,
) -> Result<()> {
    let mut checkpoint = ctx.db.register(key, &P::read_models()).await?;
    let mut parked = ctx.db.parked_streams(key).await?;
    let subscription = Subscription::after(ctx.store.clone(), checkpoint)
        .event_types(P::EVENT_TYPES.iter().copied())
        .categories(P::CATEGORIES.iter().copied())
        .batch_size(ctx.options.batch_size)
        .poll_interval(ctx.options.poll_interval);
    let mut reader = ReadAhead::start(subscription, &ctx.options, ctx.interrupted);
    ctx.progress.send_modify(|p| {
        p.active = true;
        p.checkpoint = checkpoint;
    });
    let idle =
        (ctx.options.lease_ttl / 3).min(ctx.options.poll_interval.max(Duration::from_millis(10)));
    let mut renewed = Instant::now();
    loop {
        let next = tokio::time::timeout(idle, reader.batches.recv());
        let Some(next) = unless_stopped(&mut ctx.stop, next).await else {
            return Ok(());
        };
        let batch = match next {
            // Idle: keep the lease and the reported lag fresh.
            Err(_) => {
                if renewed.elapsed() >= ctx.options.lease_ttl / 3 {
                    if !ctx.db.renew(key, lease, ctx.options.lease_ttl).await? {
                        return Err(ProjectionError::LeaseLost {
                            projection: key.clone(),
                            expected: checkpoint.0,
                            found: checkpoint.0,
                        });
                    }
                    renewed = Instant::now();
                }
                report(ctx, checkpoint, None, 0, 0).await;
                continue;
            }
            Ok(Some(batch)) => batch?,
            Ok(None) => {
                return Err(ProjectionError::Interrupted(
                    "the projection's reading task ended".into(),
                ));
            }
        };
        let (applied, parked_now) = apply_batch(
            projection,
            key,
            ctx,
            lease,
            &mut parked,
            &mut checkpoint,
            &batch,
        )
        .await?;
        if checkpoint != batch.checkpoint {
            // Stopped while waiting to retry an event: the part before it is committed.
            return Ok(());
        }
        renewed = Instant::now();
        let newest = batch.events.last().map(|e| e.recorded_at);
        report(ctx, checkpoint, newest, applied, parked_now).await;
    }
}

/// The labels of a projection version's metrics.
fn metric_labels(key: &ProjectionKey) -> [(&'static str, String); 2] {
    [
        ("projection", key.name.clone()),
        ("version", key.version.to_string()),
    ]
}

/// Publishes progress (as a value, a tracing event and metrics).
async fn report<S: EventStore>(
    ctx: &Ctx<S>,
    checkpoint: Position,
    newest: Option<DateTime<Utc>>,
    applied: u64,
    parked: u64,
) {
    let head = ctx.store.head_position().await.unwrap_or(checkpoint);
    ctx.progress.send_modify(|p| {
        p.checkpoint = checkpoint;
        p.head = head.max(checkpoint);
        p.position_lag = head.0.saturating_sub(checkpoint.0);
        if newest.is_some() {
            p.newest_event_at = newest;
        }
        p.refresh_time_lag();
        p.applied += applied;
        p.parked += parked;
        if applied + parked > 0 {
            tracing::debug!(
                checkpoint = checkpoint.0,
                applied,
                parked,
                position_lag = p.position_lag,
                time_lag_ms = p.time_lag.as_millis() as u64,
                "projection batch committed"
            );
        }
        let labels = metric_labels(&p.key);
        metrics::gauge!("factum_projection_checkpoint", &labels).set(checkpoint.0 as f64);
        metrics::gauge!("factum_projection_lag_seconds", &labels).set(p.time_lag.as_secs_f64());
        metrics::counter!("factum_projection_events_applied_total", &labels).increment(applied);
        metrics::counter!("factum_projection_events_parked_total", &labels).increment(parked);
    });
}

/// The reason recorded for an event parked behind an earlier one of its stream.
const BEHIND: &str = "parked behind an earlier event of its stream";

/// Parks `event` if an earlier event of its stream is parked (`true`). A stream the
/// runner's cache holds as parked but that was redriven meanwhile leaves the cache and
/// flows again.
async fn park_if_behind(
    tx: &mut super::ProjectionTx,
    key: &ProjectionKey,
    parked: &mut HashSet<String>,
    event: &crate::RecordedEvent,
) -> Result<bool> {
    let stream = event.stream_id.as_str();
    if !parked.contains(stream) {
        return Ok(false);
    }
    if tx.stream_parked(key, stream).await? {
        tx.park(key, event, BEHIND, FailureKind::Behind, 0).await?;
        return Ok(true);
    }
    parked.remove(stream);
    Ok(false)
}

/// Applies `batch` and moves the checkpoint to its end; returns the events applied and
/// parked. `checkpoint` follows what is committed.
///
/// First the whole batch in one transaction. If a handler fails on an event, the batch
/// is applied again event by event under savepoints: a failing event's predecessors are
/// committed, the runner waits (outside any transaction) and tries the event again, and
/// after [`RunnerOptions::attempts`] tries parks it with its stream. A failure that is
/// not the event's fault ([`failure::is_transient`]) is returned instead, so the runner
/// rolls back, waits and starts again from the checkpoint: it never parks an event.
/// Returns early, with `checkpoint` short of the batch's end, if stopped while waiting.
#[allow(clippy::too_many_arguments)]
async fn apply_batch<P: Projection, S: ProjectionStore>(
    projection: &P,
    key: &ProjectionKey,
    ctx: &mut Ctx<S>,
    lease: &Lease,
    parked: &mut HashSet<String>,
    checkpoint: &mut Position,
    batch: &Batch,
) -> Result<(u64, u64)> {
    if let Some(done) = apply_whole(projection, key, ctx, lease, parked, *checkpoint, batch).await?
    {
        *checkpoint = batch.checkpoint;
        return Ok(done);
    }
    let (mut applied, mut parked_now) = (0, 0);
    let mut start = 0;
    let mut tries = 0;
    loop {
        let step = apply_each(
            projection, key, ctx, lease, parked, checkpoint, batch, start, tries,
        )
        .await?;
        applied += step.applied;
        parked_now += step.parked;
        let Some(failed) = step.failed else {
            return Ok((applied, parked_now));
        };
        tries = if failed == start { tries + 1 } else { 1 };
        start = failed;
        let pause = ctx.options.backoff * 2u32.saturating_pow(tries - 1);
        if unless_stopped(&mut ctx.stop, tokio::time::sleep(pause))
            .await
            .is_none()
        {
            return Ok((applied, parked_now));
        }
    }
}

/// The whole batch in one transaction; `None` if a handler (or a row it wrote) failed
/// on an event.
#[allow(clippy::too_many_arguments)]
async fn apply_whole<P: Projection, S: ProjectionStore>(
    projection: &P,
    key: &ProjectionKey,
    ctx: &Ctx<S>,
    lease: &Lease,
    parked: &mut HashSet<String>,
    from: Position,
    batch: &Batch,
) -> Result<Option<(u64, u64)>> {
    let mut tx = ctx.db.begin(key).await?;
    let mut applied = 0;
    let mut parked_now = 0;
    for event in &batch.events {
        if park_if_behind(&mut tx, key, parked, event).await? {
            parked_now += 1;
            continue;
        }
        if let Err(err) = projection.handle(&mut tx, event).await {
            if failure::is_transient(err.as_ref()) {
                return Err(ProjectionError::Interrupted(err.to_string()));
            }
            return Ok(None);
        }
        applied += 1;
    }
    if let Err(err) = tx.flush().await {
        if failure::is_transient(&err) {
            return Err(err);
        }
        return Ok(None);
    }
    tx.advance(
        key,
        from,
        batch.checkpoint,
        lease.owner(),
        ctx.options.lease_ttl,
    )
    .await?;
    tx.commit().await?;
    Ok(Some((applied, parked_now)))
}

/// What [`apply_each`] did.
struct Step {
    applied: u64,
    parked: u64,
    /// The index of an event that failed and is to be tried again (the events before it
    /// are committed).
    failed: Option<usize>,
}

/// Events `start..` of the batch one by one, each under a savepoint. `tries` is how many
/// times the event at `start` has failed already.
#[allow(clippy::too_many_arguments)]
async fn apply_each<P: Projection, S: ProjectionStore>(
    projection: &P,
    key: &ProjectionKey,
    ctx: &Ctx<S>,
    lease: &Lease,
    parked: &mut HashSet<String>,
    checkpoint: &mut Position,
    batch: &Batch,
    start: usize,
    tries: u32,
) -> Result<Step> {
    let ttl = ctx.options.lease_ttl;
    let mut tx = ctx.db.begin(key).await?;
    let mut step = Step {
        applied: 0,
        parked: 0,
        failed: None,
    };
    for (i, event) in batch.events.iter().enumerate().skip(start) {
        if park_if_behind(&mut tx, key, parked, event).await? {
            step.parked += 1;
            continue;
        }
        let stream = event.stream_id.as_str();
        tx.savepoint(Savepoint::Set).await?;
        let outcome = match projection.handle(&mut tx, event).await {
            Ok(()) => tx
                .flush()
                .await
                .map_err(|e| -> super::HandlerError { Box::new(e) }),
            Err(err) => Err(err),
        };
        let err = match outcome {
            Ok(()) => {
                tx.savepoint(Savepoint::Release).await?;
                step.applied += 1;
                continue;
            }
            Err(err) => err,
        };
        if failure::is_transient(err.as_ref()) {
            return Err(ProjectionError::Interrupted(err.to_string()));
        }
        tx.discard_writes();
        tx.savepoint(Savepoint::RollBack).await?;
        tx.savepoint(Savepoint::Release).await?;
        let attempts = if i == start { tries + 1 } else { 1 };
        if attempts >= ctx.options.attempts {
            let kind = FailureKind::of(err.as_ref());
            tracing::warn!(
                stream,
                version = event.stream_version,
                position = event.position.0,
                attempts,
                %kind,
                %err,
                "projection handler failed; parking the event and its stream"
            );
            tx.park(key, event, &err.to_string(), kind, attempts)
                .await?;
            parked.insert(stream.to_owned());
            step.parked += 1;
            continue;
        }
        tracing::info!(
            stream,
            position = event.position.0,
            attempts,
            %err,
            "projection handler failed; trying the event again"
        );
        // Commit what came before it, so that no transaction stays open while waiting.
        let upto = match i.checked_sub(1) {
            Some(prev) => batch.events[prev].position,
            None => *checkpoint,
        };
        if upto > *checkpoint {
            tx.advance(key, *checkpoint, upto, lease.owner(), ttl)
                .await?;
        }
        tx.commit().await?;
        *checkpoint = upto;
        step.failed = Some(i);
        return Ok(step);
    }
    tx.advance(key, *checkpoint, batch.checkpoint, lease.owner(), ttl)
        .await?;
    tx.commit().await?;
    *checkpoint = batch.checkpoint;
    Ok(step)
}
