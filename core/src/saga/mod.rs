#![doc = include_str!("../../docs/sagas.md")]

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::projection::ProjectionStore;
use crate::projection::failure::{self, FailureKind, MAX_OUTAGE_PAUSE};
use crate::projection::runner::{RunnerOptions, unless_stopped};
use crate::projection::{HandlerError, ProjectionError, ProjectionKey};
use crate::projection::subscription::Subscription;
use crate::{
    Aggregate, Executed, Handles, Metadata, Position, RecordedEvent, Repository,
    RepositoryError,
};

type Result<T, E = ProjectionError> = std::result::Result<T, E>;

/// A reactor over the global log. `#[factum::process_manager]` implements it.
pub trait ProcessManager: Send + Sync + 'static {
    /// Its stable name (its checkpoint and dead letters are kept under it).
    const NAME: &'static str;
    /// The event types it reacts to.
    const EVENT_TYPES: &'static [&'static str];
    /// The stream categories it reads (empty: all).
    const CATEGORIES: &'static [&'static str];

    /// Reacts to one event.
    fn react<'a>(
        &'a self,
        cx: &'a Reaction,
        event: &'a RecordedEvent,
    ) -> BoxFuture<'a, Result<(), HandlerError>>;
}

/// What a reaction knows about the event it reacts to, and how it sends commands.
#[derive(Debug, Clone)]
pub struct Reaction {
    manager: &'static str,
    event: RecordedEvent,
}

impl Reaction {
    /// The reaction to `event` of the process manager `manager`.
    pub fn new(manager: &'static str, event: RecordedEvent) -> Self {
        Reaction { manager, event }
    }

    /// The triggering event.
    pub fn event(&self) -> &RecordedEvent {
        &self.event
    }

    /// The metadata for commands sent in reaction: the triggering event's correlation id
    /// (or its id, if it had none) and its id as the causation id; actor and tenant
    /// carried over.
    pub fn metadata(&self) -> Metadata {
        let cause = &self.event.metadata;
        let mut meta = Metadata::new()
            .with_correlation_id(
                cause
                    .correlation_id
                    .clone()
                    .unwrap_or_else(|| self.event.event_id.to_string()),
            )
            .with_causation_id(self.event.event_id.to_string());
        meta.actor = cause.actor.clone();
        meta.tenant = cause.tenant.clone();
        meta
    }

    /// The idempotency key of this reaction's command to `target` (the process
    /// manager, the triggering event and the target aggregate).
    pub fn key(&self, target: &str) -> String {
        format!("{}/{}/{target}", self.manager, self.event.event_id)
    }

    /// Runs `command` on aggregate `id` through `repository`, with this reaction's
    /// metadata and idempotency key.
    pub async fn execute<A, S, C>(
        &self,
        repository: &Repository<A, S>,
        id: &str,
        command: C,
    ) -> Result<Executed, RepositoryError<A::Error>>
    where
        A: Aggregate + Handles<C>,
        S: crate::EventStore + crate::SnapshotStore + 'static,
        C: Clone + Send + 'static,
    {
        let key = self.key(&format!("{}-{id}", A::CATEGORY));
        repository
            .execute_idempotent(id, command, self.metadata(), &key)
            .await
    }
}

type Job<S> = Box<dyn FnOnce(Ctx<S>) -> BoxFuture<'static, Result<()>> + Send>;

struct Ctx<S> {
    store: S,
    options: RunnerOptions,
    stop: watch::Receiver<bool>,
    owner: Arc<str>,
    checkpoint: watch::Sender<Position>,
}

/// Runs process managers in the background.
pub struct ProcessManagerRunner<S> {
    store: S,
    options: RunnerOptions,
    jobs: Vec<(ProjectionKey, Job<S>)>,
}

impl<S: ProjectionStore> ProcessManagerRunner<S> {
    /// A runner over `store`'s events, keeping checkpoints in its database.
    pub fn new(store: S) -> Self {
        ProcessManagerRunner {
            store,
            options: RunnerOptions::default(),
            jobs: Vec::new(),
        }
    }

    /// Sets the options (batch size, poll interval, retries, leases).
    pub fn options(mut self, options: RunnerOptions) -> Self {
        self.options = options;
        self
    }

    /// Adds a process manager.
    pub fn with_manager<P: ProcessManager>(mut self, manager: P) -> Self {
        let job: Job<S> = Box::new(move |ctx| Box::pin(run(manager, ctx)));
        self.jobs.push((key_of::<P>(), job));
        self
    }

    /// Starts them on the current tokio runtime.
    pub fn start(self) -> RunningProcessManagers {
        let (stop, stop_rx) = watch::channel(false);
        let owner: Arc<str> =
            format!("{}-{}", std::process::id(), uuid::Uuid::now_v7().simple()).into();
        let mut tasks = Vec::new();
        for (key, job) in self.jobs {
            let (checkpoint, checkpoint_rx) = watch::channel(Position::START);
            let ctx = Ctx {
                store: self.store.clone(),
                options: self.options.clone(),
                stop: stop_rx.clone(),
                owner: owner.clone(),
                checkpoint,
            };
            let span = tracing::info_span!("process_manager", name = %key.name);
            tasks.push((key, tokio::spawn(job(ctx).instrument(span)), checkpoint_rx));
        }
        RunningProcessManagers { stop, tasks }
    }
}

/// Process managers running in the background.
#[derive(Debug)]
pub struct RunningProcessManagers {
    stop: watch::Sender<bool>,
    tasks: Vec<(
        ProjectionKey,
        JoinHandle<Result<()>>,
        watch::Receiver<Position>,
    )>,
}

impl RunningProcessManagers {
    /// Each process manager's checkpoint.
    pub fn checkpoints(&self) -> Vec<(ProjectionKey, Position)> {
        self.tasks
            .iter()
            .map(|(k, _, c)| (k.clone(), *c.borrow()))
            .collect()
    }

    /// Stops them after their current reaction and returns the first error one stopped
    /// with.
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
                Err(join) => tracing::error!(manager = %key, %join, "process manager panicked"),
            }
        }
        first
    }
}

/// A process manager's row in the projections table: version 1, no tables.
pub fn key_of<P: ProcessManager>() -> ProjectionKey {
    ProjectionKey {
        name: P::NAME.to_owned(),
        version: 1,
    }
}

async fn pause(stop: &mut watch::Receiver<bool>, d: Duration) -> bool {
    unless_stopped(stop, tokio::time::sleep(d)).await.is_some()
}

async fn run<P: ProcessManager, S: ProjectionStore>(manager: P, mut ctx: Ctx<S>) -> Result<()> {
    let key = key_of::<P>();
    let db = ctx.store.projection_db();
    loop {
        match unless_stopped(&mut ctx.stop, db.register(&key, &[])).await {
            None => return Ok(()),
            Some(Ok(_)) => break,
            Some(Err(err)) => {
                tracing::error!(%err, "cannot register the process manager; retrying");
                if !pause(&mut ctx.stop, ctx.options.error_pause).await {
                    return Ok(());
                }
            }
        }
    }
    loop {
        let mut lease = loop {
            match unless_stopped(
                &mut ctx.stop,
                db.try_lease(&key, &ctx.owner, ctx.options.lease_ttl),
            )
            .await
            {
                None => return Ok(()),
                Some(Ok(Some(lease))) => break lease,
                Some(Ok(None)) => {}
                Some(Err(err)) => tracing::warn!(%err, "cannot take the lease"),
            }
            if !pause(&mut ctx.stop, ctx.options.lease_retry).await {
                return Ok(());
            }
        };
        let outcome = react_leased(&manager, &key, &mut ctx, &mut lease).await;
        if let Err(err) = db.release(&key, lease).await {
            tracing::warn!(%err, "could not give the lease back");
        }
        match outcome {
            Ok(()) => return Ok(()),
            Err(err) => {
                tracing::error!(%err, "process manager failed; restarting from its checkpoint");
                if !pause(&mut ctx.stop, ctx.options.error_pause).await {
                    return Ok(());
                }
            }
        }
    }
}

async fn react_leased<P: ProcessManager, S: ProjectionStore>(
    manager: &P,
    key: &ProjectionKey,
    ctx: &mut Ctx<S>,
    lease: &mut crate::projection::lease::Lease,
) -> Result<()> {
    let db = ctx.store.projection_db();
    let ttl = ctx.options.lease_ttl;
    let mut checkpoint = db.register(key, &[]).await?;
    let mut parked: HashSet<String> = db.parked_streams(key).await?;
    let mut subscription = Subscription::after(ctx.store.clone(), checkpoint)
        .event_types(P::EVENT_TYPES.iter().copied())
        .categories(P::CATEGORIES.iter().copied())
        .batch_size(ctx.options.batch_size)
        .poll_interval(ctx.options.poll_interval);
    loop {
        let Some(batch) = unless_stopped(&mut ctx.stop, subscription.poll_batch()).await else {
            return Ok(());
        };
        let batch = batch?;
        if batch.events.is_empty() && batch.checkpoint == checkpoint {
            if !db.renew(key, lease, ttl).await? {
                return Err(ProjectionError::LeaseLost {
                    projection: key.clone(),
                    expected: checkpoint.0,
                    found: checkpoint.0,
                });
            }
            if unless_stopped(&mut ctx.stop, subscription.wait())
                .await
                .is_none()
            {
                return Ok(());
            }
            continue;
        }
        for event in &batch.events {
            let stream = event.stream_id.as_str();
            // Each reaction is its own step: react, then move the checkpoint past it.
            let mut failure = None;
            let sequence_parked = parked.contains(stream);
            if !sequence_parked {
                let cx = Reaction::new(P::NAME, event.clone());
                let mut attempt = 0;
                let mut outage = ctx.options.backoff;
                loop {
                    match manager.react(&cx, event).await {
                        Ok(()) => {
                            failure = None;
                            break;
                        }
                        // Not the event's fault (the store is unreachable): wait and try
                        // again, as long as it takes; it never parks the event.
                        Err(err) if failure::is_transient(err.as_ref()) => {
                            tracing::warn!(stream, position = event.position.0, %err, "reaction interrupted; retrying");
                            if unless_stopped(&mut ctx.stop, tokio::time::sleep(outage))
                                .await
                                .is_none()
                            {
                                return Ok(());
                            }
                            // Keep the lease while waiting (the pause stays short enough
                            // for a SQLite lease not to run out in between); a lost one
                            // stops this instance before another reacts too.
                            if !db.renew(key, lease, ttl).await.unwrap_or(true) {
                                return Err(ProjectionError::LeaseLost {
                                    projection: key.clone(),
                                    expected: checkpoint.0,
                                    found: checkpoint.0,
                                });
                            }
                            outage = (outage * 2)
                                .min(MAX_OUTAGE_PAUSE)
                                .min(ctx.options.lease_ttl / 3);
                        }
                        Err(err) => {
                            attempt += 1;
                            failure =
                                Some((err.to_string(), FailureKind::of(err.as_ref()), attempt));
                            if attempt >= ctx.options.attempts {
                                break;
                            }
                            let wait = ctx.options.backoff * 2u32.saturating_pow(attempt - 1);
                            tokio::time::sleep(wait).await;
                        }
                    }
                }
            }
            let mut tx = db.begin(key).await?;
            if sequence_parked {
                if tx.stream_parked(key, stream).await? {
                    tx.park(
                        key,
                        event,
                        "parked behind an earlier event of its stream",
                        FailureKind::Behind,
                        0,
                    )
                    .await?;
                } else {
                    // Redriven meanwhile: react now.
                    parked.remove(stream);
                    drop(tx);
                    let cx = Reaction::new(P::NAME, event.clone());
                    if let Err(err) = manager.react(&cx, event).await {
                        failure = Some((err.to_string(), FailureKind::of(err.as_ref()), 1));
                    }
                    tx = db.begin(key).await?;
                }
            }
            if let Some((reason, kind, attempts)) = &failure {
                tracing::warn!(stream, position = event.position.0, %reason, "reaction failed; parking");
                tx.park(key, event, reason, *kind, *attempts).await?;
                parked.insert(stream.to_owned());
            }
            tx.advance(key, checkpoint, event.position, lease.owner(), ttl)
                .await?;
            tx.commit().await?;
            checkpoint = event.position;
            ctx.checkpoint.send_replace(checkpoint);
        }
        if batch.checkpoint > checkpoint {
            let mut tx = db.begin(key).await?;
            tx.advance(key, checkpoint, batch.checkpoint, lease.owner(), ttl)
                .await?;
            tx.commit().await?;
            checkpoint = batch.checkpoint;
            ctx.checkpoint.send_replace(checkpoint);
        }
    }
}

impl crate::ProcessManagerDescriptor {
    /// The descriptor of process manager `P`, for one the registry cannot list (a generic
    /// type, such as one over its store): hand it to the code generator.
    pub fn of<P: ProcessManager>() -> Self {
        crate::registry::process_manager_descriptor(P::NAME, P::EVENT_TYPES)
    }
}
