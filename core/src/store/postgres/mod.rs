//! The PostgreSQL backend (the guide is on [`PostgresStore`]).

pub(crate) mod read_side;

use std::ops::ControlFlow;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_core::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt, stream};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgListener, PgPool, PgPoolOptions, PgRow};
use sqlx::{AssertSqlSafe, Connection, Row};
use std::sync::atomic::Ordering as AtomicOrdering;
use uuid::Uuid;

use super::idempotency::{StoredId, resolve_retry};
use super::sql::migrations;
use super::sql::{corrupt, is_unique_violation, ping_when_idle, to_i64};
use super::{
    AppendResult, AppendSignal, AppendWatcher, Direction, EventStore, EventStream, PreparedBatch,
    ReadAll, ReadStream, StoreLimits, StoreTransaction, StoredVersion, StreamInfo,
    TransactionalStore, UniqueValue, Uniqueness, prepare_batch, prepare_uniqueness,
};
use crate::aggregate::snapshot::{Snapshot, SnapshotStore};
use crate::error::{ActualVersion, BlockingTransaction};
use crate::{
    EventData, EventId, EventView, ExpectedVersion, Metadata, Payload, Position, RecordedEvent,
    Result, StoreError, StreamId,
};

/// How the PostgreSQL store connects.
#[derive(Clone, Debug)]
pub struct PostgresConfig {
    url: String,
    schema: String,
    /// Limits every backend shares (event size).
    pub limits: StoreLimits,
    /// Size of the connection pool.
    pub max_connections: u32,
    /// How long a global-log read waits for older in-flight transactions before it returns
    /// what is safe to return so far.
    pub visibility_wait: Duration,
}

impl PostgresConfig {
    /// Connects to `url` (e.g. `postgres://user@localhost/app`), schema `factum`.
    pub fn new(url: impl Into<String>) -> Self {
        PostgresConfig {
            url: url.into(),
            schema: "factum".into(),
            limits: StoreLimits::default(),
            max_connections: 10,
            visibility_wait: Duration::from_secs(5),
        }
    }

    /// Puts the store's tables in this schema (created if missing). Several stores, or
    /// tests running in parallel, can share one database by using different schemas.
    /// Names are 1 to 63 characters of `a-z 0-9 _`, not starting with a digit or `pg_`.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }

    /// Sets the largest event accepted, in bytes.
    pub fn max_event_size(mut self, bytes: usize) -> Self {
        self.limits.max_event_size = bytes;
        self
    }

    /// Sets the pool size.
    pub fn max_connections(mut self, n: u32) -> Self {
        self.max_connections = n;
        self
    }

    /// The schema name.
    pub fn schema_name(&self) -> &str {
        &self.schema
    }
}

/// Creates the schema (`quoted`) unless it exists.
pub(crate) async fn create_schema(pool: &PgPool, quoted: &str) -> sqlx::Result<()> {
    let create = format!("CREATE SCHEMA IF NOT EXISTS {quoted}");
    if let Err(err) = sqlx::query(AssertSqlSafe(create)).execute(pool).await {
        // Two processes creating the same schema at once: the loser sees a unique
        // violation, and the schema exists, which is all that was asked.
        if !is_unique_violation(&err) {
            return Err(err);
        }
    }
    Ok(())
}

pub(crate) fn validate_schema(schema: &str) -> Result<()> {
    let ok = !schema.is_empty()
        && schema.len() <= 63
        && !schema.as_bytes()[0].is_ascii_digit()
        && !schema.starts_with("pg_")
        && schema
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidConfig(format!(
            "schema name {schema:?} must be 1 to 63 characters of a-z, 0-9 and _, \
             not starting with a digit or pg_"
        )))
    }
}

/// The store's migrations, with this backend's SQL.
pub(crate) const MIGRATIONS: [migrations::Step; 8] = migrations::steps!("migrations");

fn migrator() -> Migrator {
    migrations::migrator(&MIGRATIONS)
}

/// A global-log read: the visible bound, then the page below it (one statement, one
/// snapshot; see `visible_bound.sql`).
const READ_ALL_SQL: &str = concat!(
    include_str!("visible_bound.sql"),
    include_str!("read_all.sql")
);
/// [`READ_ALL_SQL`] with the bound in the index condition, for the reads repeated while
/// an older appender holds the bound back. Rows above the bound may then be many (all
/// committed since), and the filter form would scan them on every read; below it lies
/// only what the previous read had not reached, so the range plan costs little.
static READ_ALL_WAITING_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    READ_ALL_SQL.replace(
        "AND position + 0 < (SELECT position FROM bound)",
        "AND position < (SELECT position FROM bound)",
    )
});
/// The settled head, below the same bound.
const SETTLED_POSITION_SQL: &str = concat!(
    include_str!("visible_bound.sql"),
    include_str!("settled_position.sql")
);

/// An event store in a PostgreSQL schema. Cheap to clone (the pool is shared).
#[derive(Clone, Debug)]
///
#[doc = include_str!("../../../docs/postgres.md")]
pub struct PostgresStore {
    pool: PgPool,
    limits: StoreLimits,
    visibility_wait: Duration,
    schema: Arc<str>,
    /// The database connected to (a label of the blocking-appender gauges).
    database: Arc<str>,
    signal: AppendSignal,
    /// Set once the LISTEN task that raises `signal` has been started.
    listening: Arc<OnceLock<()>>,
    /// Tells other processes about this store's appends.
    notifier: Arc<Notifier>,
}

/// Shortest time between two notifications a store sends: appends within it share one.
const NOTIFY_EVERY: Duration = Duration::from_millis(3);

/// The state shared with the task that sends this store's coalesced notifications.
#[derive(Debug, Default)]
struct Notifier {
    /// Poked after each append; pokes while a notification is sent fold into one.
    wake: tokio::sync::Notify,
    /// Set once the task has been started.
    started: OnceLock<()>,
    /// The server process the task sends from (0: none yet), so that this store's own
    /// LISTEN task can skip what the in-process signal already told.
    pid: std::sync::atomic::AtomicU32,
}

impl PostgresStore {
    /// The rows of one stream read (`read_stream_*.sql`), streamed as they arrive.
    fn stream_rows(
        &self,
        stream: &StreamId,
        options: &ReadStream,
        shape: RowShape,
    ) -> BoxStream<'_, sqlx::Result<PgRow>> {
        stream_query(stream, options, shape).fetch(&self.pool)
    }

    /// Connects with default settings (schema `factum`) and migrates.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(PostgresConfig::new(url)).await
    }

    /// Connects with explicit settings, creates the schema if needed and migrates it.
    pub async fn connect_with(config: PostgresConfig) -> Result<Self> {
        validate_schema(&config.schema)?;
        config.limits.check()?;
        // Quoted, so that names which are SQL keywords (`order`, `user`) work too.
        let quoted = format!("\"{}\"", config.schema);
        let options = PgConnectOptions::from_str(&config.url)?.options([
            ("search_path", quoted.as_str()),
            ("plan_cache_mode", "force_generic_plan"),
        ]);
        let pool = ping_when_idle(PgPoolOptions::new())
            .max_connections(config.max_connections.max(1))
            .connect_with(options)
            .await?;
        create_schema(&pool, &quoted).await?;
        migrator().run(&pool).await?;
        let database: String = sqlx::query_scalar("SELECT current_database()::text")
            .fetch_one(&pool)
            .await?;
        let store = PostgresStore {
            pool,
            limits: config.limits,
            visibility_wait: config.visibility_wait,
            schema: config.schema.into(),
            database: database.into(),
            signal: AppendSignal::default(),
            listening: Arc::default(),
            notifier: Arc::default(),
        };
        store.raise_position_base_if_needed().await?;
        Ok(store)
    }

    /// Connects to an existing store read-only, to inspect it: the schema must hold a
    /// Factum store, its `events` table, whatever the role's privileges on it
    /// ([`StoreError::NoSuchStore`] otherwise; a role that may not read it gets the
    /// database's permission error). Nothing is created, migrated or
    /// written (the connections set `default_transaction_read_only`), so a tool can look
    /// at a live store without changing it; appends through this handle fail.
    ///
    /// Reads other than [`stored_event_versions`](Self::stored_event_versions) expect the
    /// tables as this version of Factum migrates them: migrate a store left behind by
    /// older code with [`connect_with`](Self::connect_with) once first.
    pub async fn connect_existing(config: PostgresConfig) -> Result<Self> {
        validate_schema(&config.schema)?;
        let quoted = format!("\"{}\"", config.schema);
        let options = PgConnectOptions::from_str(&config.url)?.options([
            ("search_path", quoted.as_str()),
            ("default_transaction_read_only", "on"),
        ]);
        let pool = ping_when_idle(PgPoolOptions::new())
            .max_connections(config.max_connections.max(1))
            .connect_with(options)
            .await?;
        let database: String = sqlx::query_scalar("SELECT current_database()::text")
            .fetch_one(&pool)
            .await?;
        let exists: bool = sqlx::query_scalar(include_str!("store_exists.sql"))
            .bind(&config.schema)
            .fetch_one(&pool)
            .await?;
        if !exists {
            return Err(StoreError::NoSuchStore {
                store: format!("schema {:?} of database {database:?}", config.schema),
                reason: "the schema has no events table (wrong schema, or never opened \
                         by Factum)"
                    .into(),
            });
        }
        // A role that may not read the store hears so now ("permission denied for schema"
        // or "for table"), not "relation does not exist" from a search_path that skips a
        // schema the role has no USAGE on.
        let probe = format!("SELECT 1 FROM {quoted}.events LIMIT 0");
        sqlx::query(AssertSqlSafe(probe)).execute(&pool).await?;
        Ok(PostgresStore {
            pool,
            limits: config.limits,
            visibility_wait: config.visibility_wait,
            schema: config.schema.into(),
            database: database.into(),
            signal: AppendSignal::default(),
            listening: Arc::default(),
            notifier: Arc::default(),
        })
    }

    /// How many events each event type has stored at each schema version, sorted by type
    /// and version: which versions (and so which upcasters) the stored events still need.
    /// One grouped scan of the journal.
    pub async fn stored_event_versions(&self) -> Result<Vec<StoredVersion>> {
        let rows: Vec<(String, i64, i64, i64)> =
            sqlx::query_as(include_str!("stored_event_versions.sql"))
                .fetch_all(&self.pool)
                .await?;
        super::inventory::from_rows(rows)
    }

    /// After the schema was moved to another cluster (dump and restore, logical copy), the
    /// new cluster's transaction ids may be behind the stored positions, and new events
    /// would get positions below events subscribers have already passed. Raise the base
    /// added to transaction ids so that they land above. Writers are held off (table lock)
    /// while it changes; on a healthy store this is one cheap query.
    async fn raise_position_base_if_needed(&self) -> Result<()> {
        let check = include_str!("position_base_check.sql");
        let needed: Option<i64> = sqlx::query_scalar(check).fetch_one(&self.pool).await?;
        if needed.is_none() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        sqlx::query("LOCK TABLE events IN SHARE ROW EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await?;
        let needed: Option<i64> = sqlx::query_scalar(check).fetch_one(&mut *tx).await?;
        if let Some(base) = needed {
            tracing::warn!(
                base,
                "stored positions are ahead of this cluster's transaction ids (was the \
                 database restored elsewhere?); raising the position base"
            );
            sqlx::query(include_str!("position_base_raise.sql"))
                .bind(base)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Starts, once, the task that LISTENs for this schema's append notifications and
    /// raises the store's signal. It reconnects after a lost connection (raising the
    /// signal then too, since notifications may have been missed) and ends when the
    /// last clone of the store is dropped.
    fn start_listening(&self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.listening.set(()).is_err() {
            return;
        }
        let weak = self.signal.downgrade();
        let pool = self.pool.clone();
        let schema = self.schema.clone();
        let notifier = self.notifier.clone();
        runtime.spawn(async move {
            let raise = |weak: &std::sync::Weak<tokio::sync::watch::Sender<u64>>| {
                weak.upgrade()
                    .map(|s| s.send_modify(|n| *n = n.wrapping_add(1)))
                    .is_some()
            };
            loop {
                let mut listener = match PgListener::connect_with(&pool).await {
                    Ok(listener) => listener,
                    Err(err) => {
                        tracing::warn!(%err, "cannot LISTEN for appends; subscribers poll");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        if weak.strong_count() == 0 {
                            return;
                        }
                        continue;
                    }
                };
                if let Err(err) = listener.listen("factum_appends").await {
                    tracing::warn!(%err, "cannot LISTEN for appends; subscribers poll");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
                loop {
                    let next = tokio::time::timeout(Duration::from_secs(10), listener.try_recv());
                    match next.await {
                        Ok(Ok(Some(note))) if note.payload() != &*schema => {}
                        // Sent by this store: its in-process signal was raised already.
                        Ok(Ok(Some(note)))
                            if note.process_id() == notifier.pid.load(AtomicOrdering::Relaxed) => {}
                        // A notification for this schema, or a reconnect after which
                        // some may have been missed.
                        Ok(Ok(_)) => {
                            if !raise(&weak) {
                                return;
                            }
                        }
                        Ok(Err(err)) => {
                            tracing::warn!(%err, "append notifications interrupted");
                            break;
                        }
                        // Quiet: check whether anyone still holds the store.
                        Err(_) if weak.strong_count() == 0 => return,
                        Err(_) => {}
                    }
                }
            }
        });
    }

    /// After each of this store's committed appends: wakes its subscribers in this
    /// process at once, and asks the notifier task to tell other processes.
    fn appended(&self) {
        self.signal.raise();
        self.start_notifying();
        self.notifier.wake.notify_one();
    }

    /// Starts, once, the task that sends `NOTIFY factum_appends, '<schema>'` after this
    /// store's appends: at most one per [`NOTIFY_EVERY`], on its own connection in
    /// autocommit, so that no append's transaction ever notifies (a notifying commit takes
    /// a cluster-wide lock, which serialised concurrent appends). It ends when the last
    /// clone of the store is dropped.
    fn start_notifying(&self) {
        if self.notifier.started.get().is_some() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.notifier.started.set(()).is_err() {
            return;
        }
        let alive = self.signal.downgrade();
        let notifier = self.notifier.clone();
        let options = self.pool.connect_options();
        let schema = self.schema.clone();
        runtime.spawn(async move {
            let mut connection: Option<PgConnection> = None;
            loop {
                let poked = tokio::time::timeout(Duration::from_secs(10), notifier.wake.notified());
                if poked.await.is_err() {
                    if alive.strong_count() == 0 {
                        return;
                    }
                    continue;
                }
                if connection.is_none() {
                    match PgConnection::connect_with(&options).await {
                        Ok(mut conn) => {
                            let pid: Option<i32> = sqlx::query_scalar("SELECT pg_backend_pid()")
                                .fetch_one(&mut conn)
                                .await
                                .ok();
                            notifier
                                .pid
                                .store(pid.unwrap_or(0) as u32, AtomicOrdering::Relaxed);
                            connection = Some(conn);
                        }
                        Err(err) => {
                            tracing::warn!(%err, "cannot notify other processes of appends; their subscribers poll");
                            tokio::time::sleep(Duration::from_secs(1)).await;
                            continue;
                        }
                    }
                }
                if let Some(conn) = connection.as_mut() {
                    let sent = sqlx::query(include_str!("notify_appends.sql"))
                        .bind(&*schema)
                        .execute(conn)
                        .await;
                    if let Err(err) = sent {
                        tracing::warn!(%err, "append notification failed; reconnecting");
                        connection = None;
                    }
                }
                tokio::time::sleep(NOTIFY_EVERY).await;
            }
        });
    }

    /// The schema the store's tables are in.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// The connection pool (its `search_path` is the store's schema).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The store's schema, where the read side keeps projections.
    pub(crate) fn read_side(&self) -> super::sql::read_side::SqlDatabase<sqlx::Postgres> {
        super::sql::read_side::SqlDatabase {
            writer: self.pool.clone(),
            reader: self.pool.clone(),
            schema: Some(self.schema().into()),
        }
    }

    async fn append_batch(
        &self,
        batch: PreparedBatch,
        expected: ExpectedVersion,
        uniqueness: Uniqueness,
    ) -> Result<AppendResult> {
        // A plain append keeps its own statement: claims and offsets cost it nothing.
        let full = (!uniqueness.is_empty()).then_some(Full {
            offset: 0,
            check_order: false,
            uniqueness: &uniqueness,
        });
        let result = append_query(&batch, expected, full.as_ref())
            .fetch_all(&self.pool)
            .await;
        match result {
            Ok(rows) if !rows.is_empty() => {
                self.appended();
                append_result(&rows)
            }
            Ok(_) => {
                let mut conn = self.pool.acquire().await?;
                explain_refusal(&mut conn, &batch, expected).await
            }
            Err(err) => {
                if let Some(refused) = raised(&err, &batch.stream) {
                    return Err(refused);
                }
                if is_unique_violation(&err) {
                    let mut conn = self.pool.acquire().await?;
                    if let Some(done) = find_retry(&mut conn, &batch).await? {
                        return Ok(done);
                    }
                }
                Err(err.into())
            }
        }
    }

    /// The oldest transaction appending to this store (`blocking_appender.sql`), if any.
    async fn blocking_appender(&self) -> Result<Option<BlockingTransaction>> {
        let row = sqlx::query(include_str!("blocking_appender.sql"))
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let age: Option<f64> = row.try_get(2)?;
        Ok(Some(BlockingTransaction {
            pid: row.try_get(0)?,
            database: row.try_get(1)?,
            age: age.map(|s| Duration::from_secs_f64(s.max(0.0))),
            prepared: row.try_get(3)?,
        }))
    }

    /// Publishes who holds this store's global-log readers back (`None`: nobody now), as
    /// the gauges `factum_postgres_blocking_appender_age_seconds` and
    /// `factum_postgres_blocking_appender_pid` (0 for a prepared transaction or nobody),
    /// labelled with the store's schema and database (the only database whose
    /// transactions can hold its readers back).
    fn report_blocker(&self, blocker: Option<&BlockingTransaction>) {
        let labels = [
            ("schema", self.schema.to_string()),
            ("database", self.database.to_string()),
        ];
        let age = blocker.and_then(|b| b.age).map_or(0.0, |a| a.as_secs_f64());
        let pid = blocker.and_then(|b| b.pid).unwrap_or(0);
        metrics::gauge!("factum_postgres_blocking_appender_age_seconds", &labels).set(age);
        metrics::gauge!("factum_postgres_blocking_appender_pid", &labels).set(f64::from(pid));
    }

    async fn committed_head(&self) -> Result<Position> {
        let head: i64 = sqlx::query_scalar(include_str!("head_position.sql"))
            .fetch_one(&self.pool)
            .await?;
        Ok(Position(head as u64))
    }
}

/// The statement of one stream read (`read_stream_*.sql`).
fn stream_query(
    stream: &StreamId,
    options: &ReadStream,
    shape: RowShape,
) -> sqlx::query::Query<'static, sqlx::Postgres, sqlx::postgres::PgArguments> {
    let (low, high) = options.version_range();
    let sql = shape.read_stream_sql(options.direction);
    let limit = options.limit.map_or(i64::MAX, |l| to_i64(l as u64));
    sqlx::query(sql)
        .bind(stream.as_str().to_owned())
        .bind(options.include_deleted)
        .bind(to_i64(low))
        .bind(to_i64(high))
        .bind(limit)
}

/// Visits view-shaped rows of a stream read until `visit` breaks.
async fn visit_view_rows<B>(
    mut rows: BoxStream<'_, sqlx::Result<PgRow>>,
    stream: &StreamId,
    visit: &mut impl FnMut(EventView<'_>) -> ControlFlow<B>,
) -> Result<ControlFlow<B>> {
    while let Some(row) = rows.try_next().await? {
        // Only the deleted-stream marker row has no version.
        let Some(version) = row.try_get_unchecked::<Option<i64>, _>(0)? else {
            return Err(StoreError::StreamDeleted {
                stream: stream.clone(),
            });
        };
        let view = EventView {
            stream_version: version as u64,
            event_type: row.try_get_unchecked(1)?,
            schema_version: row.try_get_unchecked::<i32, _>(2)? as u32,
            payload: row.try_get_unchecked(3)?,
        };
        if let ControlFlow::Break(done) = visit(view) {
            return Ok(ControlFlow::Break(done));
        }
    }
    Ok(ControlFlow::Continue(()))
}

/// What the full append statement (`append_*_full.sql`) adds to a plain append.
struct Full<'a> {
    /// Index of the append's first event among its transaction's events.
    offset: i64,
    /// Refuse if the events would land below the stream's last one (caller transactions).
    check_order: bool,
    uniqueness: &'a Uniqueness,
}

/// The append statement for `batch`: the plain one, or with `full` the one that also
/// claims unique values and numbers events from an offset.
fn append_query<'a>(
    batch: &'a PreparedBatch,
    expected: ExpectedVersion,
    full: Option<&Full<'a>>,
) -> sqlx::query::Query<'a, sqlx::Postgres, sqlx::postgres::PgArguments> {
    let stream = &batch.stream;
    // `append_any.sql` takes "may the stream exist already?"; `append_existing.sql`
    // takes the exact version to expect, or NULL for "any existing version".
    enum Check {
        MayExist(bool),
        Version(Option<i64>),
    }
    let (any, check) = match expected {
        ExpectedVersion::Any => (true, Check::MayExist(true)),
        ExpectedVersion::NoStream | ExpectedVersion::Exact(0) => (true, Check::MayExist(false)),
        ExpectedVersion::StreamExists => (false, Check::Version(None)),
        ExpectedVersion::Exact(v) => (false, Check::Version(Some(to_i64(v)))),
    };
    let sql = match (any, full.is_some()) {
        (true, false) => include_str!("append_any.sql"),
        (false, false) => include_str!("append_existing.sql"),
        (true, true) => include_str!("append_any_full.sql"),
        (false, true) => include_str!("append_existing_full.sql"),
    };
    let n = batch.len() as i64;
    let mut ids = Vec::with_capacity(batch.events.len());
    let mut types = Vec::with_capacity(batch.events.len());
    let mut versions = Vec::with_capacity(batch.events.len());
    let mut payloads = Vec::with_capacity(batch.events.len());
    let mut metadata = Vec::with_capacity(batch.events.len());
    for e in &batch.events {
        ids.push(e.event_id.as_uuid());
        types.push(e.event_type.as_str());
        versions.push(e.schema_version as i32);
        payloads.push(e.payload.as_str());
        metadata.push(e.metadata_json.as_deref());
    }
    let mut query = sqlx::query(sql)
        .bind(stream.as_str())
        .bind(stream.category())
        .bind(n);
    query = match check {
        Check::MayExist(may) => query.bind(may),
        Check::Version(version) => query.bind(version),
    };
    query = query
        .bind(ids)
        .bind(types)
        .bind(versions)
        .bind(payloads)
        .bind(metadata);
    if let Some(full) = full {
        let split = |values: &'a [UniqueValue]| -> (Vec<&'a str>, Vec<&'a str>) {
            values
                .iter()
                .map(|v| (v.scope.as_str(), v.value.as_str()))
                .unzip()
        };
        let (claim_scopes, claim_values) = split(full.uniqueness.claims());
        let (release_scopes, release_values) = split(full.uniqueness.releases());
        query = query
            .bind(full.offset)
            .bind(full.check_order)
            .bind(claim_scopes)
            .bind(claim_values)
            .bind(release_scopes)
            .bind(release_values);
    }
    query
}

/// The result of an append statement that wrote its events.
fn append_result(rows: &[PgRow]) -> Result<AppendResult> {
    let mut positions = Vec::with_capacity(rows.len());
    let mut version = 0;
    for row in rows {
        positions.push(Position(row.try_get::<i64, _>(0)? as u64));
        version = row.try_get::<i64, _>(1)? as u64;
    }
    Ok(AppendResult {
        version,
        positions,
        deduplicated: false,
    })
}

/// The refusals `before_append` (migration 0006) raises, as typed errors.
fn raised(err: &sqlx::Error, stream: &StreamId) -> Option<StoreError> {
    let db = err
        .as_database_error()?
        .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()?;
    match db.code() {
        "FX001" => {
            let (scope, value, holder): (String, String, String) =
                serde_json::from_str(db.detail()?).ok()?;
            Some(StoreError::UniqueValueTaken {
                scope,
                value,
                holder: StreamId::new(&holder).ok()?,
            })
        }
        "FX002" => Some(StoreError::TransactionTooLate {
            stream: stream.clone(),
        }),
        _ => None,
    }
}

/// The append wrote nothing: say why (or recognise a retry of a stored append).
async fn explain_refusal(
    conn: &mut sqlx::PgConnection,
    batch: &PreparedBatch,
    expected: ExpectedVersion,
) -> Result<AppendResult> {
    if let Some(done) = find_retry(conn, batch).await? {
        return Ok(done);
    }
    let stream = &batch.stream;
    let (version, deleted) = stream_state(conn, stream).await?;
    if deleted {
        return Err(StoreError::StreamDeleted {
            stream: stream.clone(),
        });
    }
    Err(StoreError::WrongExpectedVersion {
        stream: stream.clone(),
        expected,
        actual: ActualVersion::from_version(version),
    })
}

async fn stream_state(conn: impl sqlx::PgExecutor<'_>, stream: &StreamId) -> Result<(u64, bool)> {
    let state: Option<(i64, bool)> = sqlx::query_as(include_str!("stream_state.sql"))
        .bind(stream.as_str())
        .fetch_optional(conn)
        .await?;
    Ok(state.map_or((0, false), |(v, d)| (v as u64, d)))
}

async fn find_retry(
    conn: &mut sqlx::PgConnection,
    batch: &PreparedBatch,
) -> Result<Option<AppendResult>> {
    let ids: Vec<Uuid> = batch.events.iter().map(|e| e.event_id.as_uuid()).collect();
    let rows = sqlx::query(include_str!("find_ids.sql"))
        .bind(ids)
        .fetch_all(conn)
        .await?;
    let stored = rows
        .iter()
        .map(|row| {
            Ok(StoredId {
                event_id: EventId::from_uuid(row.try_get::<Uuid, _>(0)?),
                stream_id: row.try_get(1)?,
                version: row.try_get::<i64, _>(2)? as u64,
                position: Position(row.try_get::<i64, _>(3)? as u64),
                event_type: row.try_get(4)?,
                schema_version: row.try_get::<i32, _>(5)? as u32,
                payload: row.try_get(6)?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    resolve_retry(&batch.stream, &batch.events, stored)
}

/// Decodes an event row whose stream is known; its version is column `at` and the other
/// fields follow it (2 for `read_stream_*.sql`, 3 for `read_all.sql`).
fn decode(row: &PgRow, stream: &StreamId, at: usize) -> Result<RecordedEvent> {
    // The columns are the store's own, of known types: skip sqlx's per-column type check
    // (a measurable share of decoding a long stream).
    let position: i64 = row.try_get_unchecked(0)?;
    let event_id: Uuid = row.try_get_unchecked(1)?;
    let metadata: Option<&str> = row.try_get_unchecked(at + 4)?;
    Ok(RecordedEvent {
        event_id: EventId::from_uuid(event_id),
        stream_id: stream.clone(),
        stream_version: row.try_get_unchecked::<i64, _>(at)? as u64,
        position: Position(position as u64),
        event_type: row.try_get_unchecked(at + 1)?,
        schema_version: row.try_get_unchecked::<i32, _>(at + 2)? as u32,
        payload: Payload::from_stored(row.try_get_unchecked(at + 3)?),
        metadata: metadata_of(metadata).map_err(|e| corrupt(position, e))?,
        recorded_at: row.try_get_unchecked::<DateTime<Utc>, _>(at + 5)?,
    })
}

/// Stored metadata (`NULL` for none, else JSON text).
fn metadata_of(text: Option<&str>) -> Result<Metadata, serde_json::Error> {
    text.map_or(Ok(Metadata::default()), serde_json::from_str)
}

/// Decodes a row of `read_all.sql`, sharing the stream id with the previous row when it
/// is the same stream (consecutive events of one stream are the common case).
fn decode_logged(row: &PgRow, last: &mut Option<StreamId>) -> Result<RecordedEvent> {
    let text: &str = row.try_get(2)?;
    let stream = match last.take() {
        Some(id) if id.as_str() == text => id,
        _ => StreamId::new(text).map_err(|e| corrupt(row.try_get(0).unwrap_or(0), e))?,
    };
    let event = decode(row, &stream, 3)?;
    *last = Some(stream);
    Ok(event)
}

/// Which columns a stream read selects.
#[derive(Clone, Copy, Debug)]
enum RowShape {
    /// Everything a [`RecordedEvent`] holds.
    Recorded,
    /// What an [`EventView`] holds: version, type, schema version and payload, in that
    /// order (the deleted-stream marker row has a NULL version). Sending the other four
    /// columns was a fifth of a long fold's time.
    View,
}

/// The select list of `read_stream_*.sql`, and what a view selects instead.
const RECORDED_COLUMNS: &str =
    "e.position, e.event_id, e.stream_version, e.event_type, e.schema_version,
           e.payload::text, e.metadata::text, e.recorded_at";
const VIEW_COLUMNS: &str = "e.stream_version, e.event_type, e.schema_version, e.payload::text";
/// The deleted-stream marker row of each shape.
const RECORDED_MARKER: &str = "SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL";
const VIEW_MARKER: &str = "SELECT NULL, NULL, NULL, NULL";

impl RowShape {
    fn read_stream_sql(self, direction: Direction) -> &'static str {
        static SQL: OnceLock<[String; 4]> = OnceLock::new();
        let all = SQL.get_or_init(|| {
            let forward = include_str!("read_stream_forward.sql");
            let backward = include_str!("read_stream_backward.sql");
            // The same statement with the select lists swapped, so the two cannot drift.
            let view = |sql: &str| {
                sql.replace(RECORDED_COLUMNS, VIEW_COLUMNS)
                    .replace(RECORDED_MARKER, VIEW_MARKER)
            };
            [
                forward.to_owned(),
                backward.to_owned(),
                view(forward),
                view(backward),
            ]
        });
        let index = match (self, direction) {
            (RowShape::Recorded, Direction::Forward) => 0,
            (RowShape::Recorded, Direction::Backward) => 1,
            (RowShape::View, Direction::Forward) => 2,
            (RowShape::View, Direction::Backward) => 3,
        };
        &all[index]
    }
}

fn check_not_deleted(row: &PgRow, stream: &StreamId) -> Result<()> {
    if row.try_get::<Option<i64>, _>(0)?.is_none() {
        return Err(StoreError::StreamDeleted {
            stream: stream.clone(),
        });
    }
    Ok(())
}

fn stream_info_of(row: &PgRow) -> Result<StreamInfo> {
    let id: &str = row.try_get(0)?;
    Ok(StreamInfo {
        stream_id: StreamId::new(id)?,
        version: row.try_get::<i64, _>(1)? as u64,
        deleted_at: row.try_get(2)?,
    })
}

/// Where a global-log read stands.
struct AllCursor<'a> {
    from: Position,
    remaining: usize,
    /// Rows of the running query, if one is running, and how many it has given.
    rows: Option<(BoxStream<'a, sqlx::Result<PgRow>>, usize)>,
    queries: usize,
    /// The committed head when the read first came up short: the read is complete once it
    /// has passed this (or `deadline` passed).
    target: Option<Position>,
    deadline: Option<Instant>,
    backoff: Duration,
    last_stream: Option<StreamId>,
    event_types: Vec<String>,
    categories: Vec<String>,
}

impl EventStore for PostgresStore {
    async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<EventData>,
    ) -> Result<AppendResult> {
        let batch = prepare_batch(stream, events, &self.limits)?;
        self.append_batch(batch, expected, Uniqueness::new()).await
    }

    async fn append_unique(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<EventData>,
        uniqueness: Uniqueness,
    ) -> Result<AppendResult> {
        let batch = prepare_batch(stream, events, &self.limits)?;
        let uniqueness = prepare_uniqueness(stream, uniqueness)?;
        self.append_batch(batch, expected, uniqueness).await
    }

    async fn unique_holder(&self, scope: &str, value: &str) -> Result<Option<StreamId>> {
        let holder: Option<String> = sqlx::query_scalar(include_str!("unique_holder.sql"))
            .bind(scope)
            .bind(value)
            .fetch_optional(&self.pool)
            .await?;
        holder.map(|h| StreamId::new(&h)).transpose()
    }

    fn read_stream(&self, stream: &StreamId, options: ReadStream) -> EventStream<'_> {
        let id = stream.clone();
        self.stream_rows(stream, &options, RowShape::Recorded)
            .map(move |row| {
                let row = row?;
                check_not_deleted(&row, &id)?;
                decode(&row, &id, 2)
            })
            .boxed()
    }

    async fn scan_stream<B, F>(
        &self,
        stream: &StreamId,
        options: ReadStream,
        mut visit: F,
    ) -> Result<ControlFlow<B>>
    where
        B: Send,
        F: FnMut(EventView<'_>) -> ControlFlow<B> + Send,
    {
        // The rows of `read_stream`, viewed in place: no strings or ids are built.
        let rows = self.stream_rows(stream, &options, RowShape::View);
        visit_view_rows(rows, stream, &mut visit).await
    }

    fn read_all(&self, options: ReadAll) -> EventStream<'_> {
        let cursor = AllCursor {
            from: options.from,
            remaining: options.limit.unwrap_or(usize::MAX),
            rows: None,
            queries: 0,
            target: None,
            deadline: None,
            backoff: Duration::from_millis(1),
            last_stream: None,
            event_types: options.event_types,
            categories: options.categories,
        };
        // Rows are streamed straight from one query (memory stays at one row whatever
        // the events' sizes); a query that comes up short is followed by the wait for
        // older in-flight transactions described on `PostgresStore`.
        stream::try_unfold(cursor, move |mut cursor| {
            async move {
                loop {
                    if cursor.remaining == 0 {
                        return Ok(None);
                    }
                    let Some((rows, seen)) = cursor.rows.as_mut() else {
                        cursor.queries += 1;
                        let sql = match cursor.deadline {
                            None => READ_ALL_SQL,
                            Some(_) => READ_ALL_WAITING_SQL.as_str(),
                        };
                        let rows = sqlx::query(AssertSqlSafe(sql))
                            .bind(to_i64(cursor.from.0))
                            .bind(cursor.event_types.clone())
                            .bind(cursor.categories.clone())
                            .bind(to_i64(cursor.remaining as u64))
                            .fetch(&self.pool);
                        cursor.rows = Some((rows, 0));
                        continue;
                    };
                    if let Some(row) = rows.try_next().await? {
                        *seen += 1;
                        let event = decode_logged(&row, &mut cursor.last_stream)?;
                        cursor.from = event.position.next();
                        cursor.remaining -= 1;
                        return Ok(Some((event, cursor)));
                    }
                    let empty_first_query = cursor.queries == 1 && *seen == 0;
                    cursor.rows = None;
                    // The query ended before the limit: is there committed data it could
                    // not return yet?
                    let (head, pending): (i64, bool) =
                        sqlx::query_as(include_str!("read_all_pending.sql"))
                            .bind(to_i64(cursor.from.0))
                            .bind(cursor.target.map(|t| to_i64(t.0)))
                            .bind(&cursor.event_types)
                            .bind(&cursor.categories)
                            .fetch_one(&self.pool)
                            .await?;
                    let target = *cursor.target.get_or_insert(Position(head as u64));
                    if empty_first_query && cursor.from > target.next() {
                        return Err(StoreError::PositionBeyondHead {
                            requested: cursor.from,
                            head: target,
                        });
                    }
                    if !pending {
                        if cursor.deadline.is_some() {
                            // The wait is over: nothing holds this store's readers back now.
                            self.report_blocker(None);
                        }
                        return Ok(None);
                    }
                    let deadline = *cursor
                        .deadline
                        .get_or_insert_with(|| Instant::now() + self.visibility_wait);
                    if Instant::now() >= deadline {
                        let blocker = self.blocking_appender().await?;
                        self.report_blocker(blocker.as_ref());
                        tracing::warn!(
                            from = cursor.from.0,
                            target = target.0,
                            pid = blocker.as_ref().and_then(|b| b.pid),
                            database = blocker.as_ref().map(|b| b.database.as_str()),
                            age_seconds = blocker
                                .as_ref()
                                .and_then(|b| b.age)
                                .map(|a| a.as_secs_f64()),
                            prepared = blocker.as_ref().and_then(|b| b.prepared.as_deref()),
                            "global-log read gave up waiting for an older transaction appending \
                             to this store"
                        );
                        return Err(StoreError::VisibilityTimeout {
                            safe: cursor.from,
                            head: target,
                            blocker,
                        });
                    }
                    tokio::time::sleep(cursor.backoff).await;
                    cursor.backoff = (cursor.backoff * 2).min(Duration::from_millis(5));
                }
            }
        })
        .boxed()
    }

    async fn stream_info(&self, stream: &StreamId) -> Result<Option<StreamInfo>> {
        let row = sqlx::query(include_str!("stream_info.sql"))
            .bind(stream.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(stream_info_of).transpose()
    }

    async fn list_streams(
        &self,
        category: &str,
        after: Option<&StreamId>,
        limit: usize,
    ) -> Result<Vec<StreamInfo>> {
        let rows = sqlx::query(include_str!("list_streams.sql"))
            .bind(category)
            .bind(after.map_or("", StreamId::as_str))
            .bind(to_i64(limit as u64))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(stream_info_of).collect()
    }

    async fn delete_stream(&self, stream: &StreamId, expected: ExpectedVersion) -> Result<()> {
        let check = match expected {
            ExpectedVersion::Any | ExpectedVersion::StreamExists => None,
            // A stream must exist to be deleted: 0 matches no stored version.
            ExpectedVersion::NoStream => Some(0),
            ExpectedVersion::Exact(v) => Some(to_i64(v)),
        };
        let done = sqlx::query(include_str!("delete_stream.sql"))
            .bind(stream.as_str())
            .bind(check)
            .fetch_optional(&self.pool)
            .await?;
        if done.is_some() {
            return Ok(());
        }
        match stream_state(&self.pool, stream).await? {
            (0, _) => Err(StoreError::StreamNotFound {
                stream: stream.clone(),
            }),
            (_, true) => Err(StoreError::StreamDeleted {
                stream: stream.clone(),
            }),
            (version, false) => Err(StoreError::WrongExpectedVersion {
                stream: stream.clone(),
                expected,
                actual: ActualVersion::from_version(version),
            }),
        }
    }

    async fn settled_position(&self) -> Result<Position> {
        let settled: i64 = sqlx::query_scalar(SETTLED_POSITION_SQL)
            .bind(0_i64)
            .fetch_one(&self.pool)
            .await?;
        Ok(Position(settled.max(0) as u64))
    }

    fn append_watcher(&self) -> Option<AppendWatcher> {
        self.start_listening();
        Some(self.signal.watch())
    }

    async fn head_position(&self) -> Result<Position> {
        self.committed_head().await
    }
}

impl TransactionalStore for PostgresStore {
    type Transaction = PostgresTransaction;

    async fn begin(&self) -> Result<PostgresTransaction> {
        Ok(PostgresTransaction {
            tx: self.pool.begin_with(include_str!("begin.sql")).await?,
            store: self.clone(),
            next_index: 0,
            locked: std::collections::HashSet::new(),
        })
    }
}

/// The most events one transaction may append: positions number them in 20 bits.
const MAX_TRANSACTION_EVENTS: u64 = 1 << 20;

/// Refuses an append that would take a transaction past [`MAX_TRANSACTION_EVENTS`]
/// (`next_index` events are in it already).
fn check_room(next_index: u64, len: u64, stream: &StreamId) -> Result<()> {
    if next_index + len > MAX_TRANSACTION_EVENTS {
        return Err(StoreError::TransactionTooLarge {
            stream: stream.clone(),
            limit: MAX_TRANSACTION_EVENTS,
        });
    }
    Ok(())
}

/// A transaction on a connection of the [`PostgresStore`]'s pool, in which the caller's
/// own statements and the store's appends commit together (see [`StoreTransaction`]).
///
/// It dereferences to `sqlx::PgConnection` (the pool's `search_path` is the store's
/// schema), so an outbox row goes in with `sqlx::query("INSERT …").execute(&mut *tx)`.
///
/// * It began with the store's "may append" marker lock, before it had a transaction id,
///   so global-log readers know it may still append and wait for it (and for nobody
///   else's transactions). Keep it short.
/// * Its events are numbered across its appends (one transaction id, at most 2^20
///   events). A stream's first append in it takes the stream's lock in a statement of
///   its own, so the append itself sees every event committed to the stream before it.
/// * Each append runs in a savepoint: a refused append (wrong expected version, a taken
///   unique value, an id conflict) writes nothing and leaves the transaction usable.
///   A failing statement of the caller's own aborts the transaction, as always on
///   PostgreSQL: then only `rollback` (or drop) is left.
/// * If the transaction wrote before its first append to a stream, and another
///   transaction appended to that stream in between, the append is refused with
///   [`StoreError::TransactionTooLate`]: roll back and retry; append (or
///   [`lock_stream`](StoreTransaction::lock_stream)) first to avoid it.
#[derive(Debug)]
pub struct PostgresTransaction {
    tx: sqlx::Transaction<'static, sqlx::Postgres>,
    store: PostgresStore,
    /// Index of the next event in the transaction (the low 20 bits of its position).
    next_index: u64,
    /// Streams whose lock the transaction holds.
    locked: std::collections::HashSet<StreamId>,
}

impl std::ops::Deref for PostgresTransaction {
    type Target = sqlx::PgConnection;
    fn deref(&self) -> &sqlx::PgConnection {
        &self.tx
    }
}

impl std::ops::DerefMut for PostgresTransaction {
    fn deref_mut(&mut self) -> &mut sqlx::PgConnection {
        &mut self.tx
    }
}

impl StoreTransaction for PostgresTransaction {
    async fn lock_stream(&mut self, stream: &StreamId) -> Result<()> {
        if !self.locked.contains(stream) {
            sqlx::query(include_str!("lock_stream.sql"))
                .bind(stream.as_str())
                .execute(&mut *self.tx)
                .await?;
            self.locked.insert(stream.clone());
        }
        Ok(())
    }

    async fn scan_stream<B, F>(
        &mut self,
        stream: &StreamId,
        options: ReadStream,
        mut visit: F,
    ) -> Result<ControlFlow<B>>
    where
        B: Send,
        F: FnMut(EventView<'_>) -> ControlFlow<B> + Send,
    {
        let rows = stream_query(stream, &options, RowShape::View).fetch(&mut *self.tx);
        visit_view_rows(rows, stream, &mut visit).await
    }

    async fn append_unique(
        &mut self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<EventData>,
        uniqueness: Uniqueness,
    ) -> Result<AppendResult> {
        let batch = prepare_batch(stream, events, &self.store.limits)?;
        let uniqueness = prepare_uniqueness(stream, uniqueness)?;
        check_room(self.next_index, batch.len(), stream)?;
        // Held before the append's statement starts, so that its snapshot sees every
        // event of the stream another transaction committed (the order check needs it),
        // and held by the transaction itself, so a rolled-back savepoint keeps it.
        self.lock_stream(stream).await?;
        let full = Full {
            offset: self.next_index as i64,
            check_order: true,
            uniqueness: &uniqueness,
        };
        let mut savepoint = sqlx::Connection::begin(&mut *self.tx).await?;
        let result = append_query(&batch, expected, Some(&full))
            .fetch_all(&mut *savepoint)
            .await;
        let outcome = match result {
            Ok(rows) if !rows.is_empty() => {
                let done = append_result(&rows)?;
                savepoint.commit().await?;
                self.next_index += batch.len();
                return Ok(done);
            }
            Ok(_) => explain_refusal(&mut savepoint, &batch, expected).await,
            Err(err) => Err(match raised(&err, stream) {
                Some(refused) => refused,
                None => err.into(),
            }),
        };
        savepoint.rollback().await?;
        match outcome {
            // An event id that is taken: a retry of an append this transaction (or
            // another, committed) made?
            Err(StoreError::Database(err)) if is_unique_violation(&err) => {
                match find_retry(&mut self.tx, &batch).await? {
                    Some(done) => Ok(done),
                    None => Err(err.into()),
                }
            }
            outcome => outcome,
        }
    }

    async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        if self.next_index > 0 {
            self.store.appended();
        }
        Ok(())
    }

    async fn rollback(self) -> Result<()> {
        self.tx.rollback().await?;
        Ok(())
    }
}

impl SnapshotStore for PostgresStore {
    async fn load_snapshot(&self, stream: &StreamId, aggregate: &str) -> Result<Option<Snapshot>> {
        let row: Option<(i64, i32, String, DateTime<Utc>)> =
            sqlx::query_as(include_str!("load_snapshot.sql"))
                .bind(stream.as_str())
                .bind(aggregate)
                .fetch_optional(&self.pool)
                .await?;
        Ok(
            row.map(|(version, state_version, state, taken_at)| Snapshot {
                aggregate: aggregate.to_owned(),
                version: version as u64,
                state_version: state_version as u32,
                state,
                taken_at,
            }),
        )
    }

    async fn save_snapshot(&self, stream: &StreamId, snapshot: &Snapshot) -> Result<()> {
        sqlx::query(include_str!("save_snapshot.sql"))
            .bind(stream.as_str())
            .bind(snapshot.aggregate.as_str())
            .bind(to_i64(snapshot.version))
            .bind(snapshot.state_version as i32)
            .bind(snapshot.state.as_str())
            .bind(snapshot.taken_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// The PostgreSQL URL for the crate's unit tests, from `FACTUM_TEST_PG`; `None` (the
/// test is skipped, and says so) when it is unset outside CI. CI must set it.
#[cfg(all(test, feature = "graphql"))]
pub(crate) fn test_pg_url() -> Option<String> {
    match std::env::var("FACTUM_TEST_PG") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => panic!("FACTUM_TEST_PG must be set in CI"),
        _ => {
            eprintln!("SKIPPED, needs PostgreSQL: set FACTUM_TEST_PG");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_waiting_read_keeps_the_bound_in_the_index_condition() {
        assert!(READ_ALL_SQL.contains("position + 0 < (SELECT position FROM bound)"));
        assert!(!READ_ALL_WAITING_SQL.contains("position + 0 < (SELECT"));
        assert!(READ_ALL_WAITING_SQL.contains("AND position < (SELECT position FROM bound)"));
    }

    #[test]
    fn a_transaction_holds_at_most_two_to_the_twenty_events() {
        let s = StreamId::new("s-1").unwrap();
        assert!(check_room(0, 100_000, &s).is_ok());
        assert!(check_room(MAX_TRANSACTION_EVENTS - 1, 1, &s).is_ok());
        let err = check_room(MAX_TRANSACTION_EVENTS - 1, 2, &s).unwrap_err();
        assert!(
            matches!(err, StoreError::TransactionTooLarge { limit, .. } if limit == 1 << 20),
            "{err:?}"
        );
        assert!(err.to_string().contains("split the work"), "{err}");
    }

    #[test]
    fn a_view_read_selects_four_columns_in_both_of_its_rows() {
        for direction in [Direction::Forward, Direction::Backward] {
            let full = RowShape::Recorded.read_stream_sql(direction);
            let view = RowShape::View.read_stream_sql(direction);
            assert!(full.contains(RECORDED_COLUMNS), "the select list moved");
            assert!(full.contains(RECORDED_MARKER), "the marker row moved");
            for column in ["position", "event_id", "metadata", "recorded_at"] {
                assert!(!view.contains(&format!("e.{column}")), "{column}");
            }
            assert!(view.contains(VIEW_COLUMNS) && view.contains(VIEW_MARKER));
        }
    }
}
