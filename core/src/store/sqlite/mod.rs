//! The SQLite backend (the guide is on [`SqliteStore`]).

mod group_commit;
mod pages;
pub(crate) mod read_side;

use std::borrow::Cow;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use serde::Deserialize;
use serde_json::value::RawValue;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Row};
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
use crate::error::ActualVersion;
use crate::{
    EventData, EventId, EventView, ExpectedVersion, Metadata, Payload, Position, RecordedEvent,
    Result, StoreError, StreamId,
};

/// How the SQLite store is opened.
#[derive(Clone, Debug)]
pub struct SqliteConfig {
    location: Location,
    /// Limits every backend shares (event size).
    pub limits: StoreLimits,
    /// `PRAGMA synchronous`. `Full` (the default) makes every committed append survive a
    /// power cut; `Normal` is faster and survives application crashes only.
    pub synchronous: SqliteSynchronous,
    /// How long a write waits for another process holding the file lock.
    pub busy_timeout: Duration,
    /// Read connections (file databases only).
    pub read_connections: u32,
}

#[derive(Clone, Debug)]
enum Location {
    File(PathBuf),
    Memory,
}

impl SqliteConfig {
    /// A database file, created if missing.
    pub fn file(path: impl AsRef<Path>) -> Self {
        Self::at(Location::File(path.as_ref().to_path_buf()))
    }

    /// A private in-memory database, gone when the store is dropped.
    ///
    /// It lives in a single connection, so reads and writes take turns; do not append
    /// while holding a read stream of the same store open in the same task.
    pub fn memory() -> Self {
        Self::at(Location::Memory)
    }

    fn at(location: Location) -> Self {
        SqliteConfig {
            location,
            limits: StoreLimits::default(),
            synchronous: SqliteSynchronous::Full,
            busy_timeout: Duration::from_secs(30),
            read_connections: 4,
        }
    }

    /// Parses `sqlite::memory:`, `:memory:`, `sqlite://path`, `sqlite:path` or a plain
    /// path. Query parameters (`?mode=ro`) are refused rather than ignored: set options
    /// on the returned config instead.
    pub fn from_url(url: &str) -> Result<Self> {
        let rest = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        if rest.contains('?') {
            return Err(StoreError::InvalidConfig(format!(
                "SQLite URL {url:?} has query parameters, which Factum does not read; \
                 pass the path alone and set options on SqliteConfig"
            )));
        }
        if rest.is_empty() {
            return Err(StoreError::InvalidConfig(
                "the SQLite URL names no file; give a path or :memory:".into(),
            ));
        }
        Ok(if rest == ":memory:" {
            Self::memory()
        } else {
            Self::file(rest)
        })
    }

    /// Sets the largest event accepted, in bytes.
    pub fn max_event_size(mut self, bytes: usize) -> Self {
        self.limits.max_event_size = bytes;
        self
    }

    /// Sets `PRAGMA synchronous`.
    pub fn synchronous(mut self, synchronous: SqliteSynchronous) -> Self {
        self.synchronous = synchronous;
        self
    }
}

/// An event store in a SQLite database. Cheap to clone (the pools are shared).
#[derive(Clone, Debug)]
///
/// The SQLite backend: Factum's embedded default (a file, or `:memory:`).
///
/// # Concurrency
///
/// SQLite allows one writer at a time. Rather than let concurrent appends race for the
/// file lock and fail with "database is locked", the store owns exactly one write
/// connection and callers queue for it (fairly, in arrival order). Appends that queue
/// while it is busy share one `BEGIN IMMEDIATE` transaction, each in a savepoint, and so
/// one sync to disk (see `group_commit.rs`); a lone append has a transaction of its own. Reads use a separate pool and, in WAL mode, never
/// wait for the writer. Other processes writing the same file wait up to the busy timeout.
///
/// Because there is one writer, rowid order is commit order, so the global position is
/// simply the `INTEGER PRIMARY KEY` of `factum_events` and no committed event can appear
/// behind a reader's position.
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    limits: StoreLimits,
    signal: AppendSignal,
    appends: Arc<group_commit::GroupCommit>,
}

/// The store's migrations, with this backend's SQL.
pub(crate) const MIGRATIONS: [migrations::Step; 8] = migrations::steps!("migrations");

fn migrator() -> Migrator {
    migrations::migrator(&MIGRATIONS)
}

/// Moves the bookkeeping of a store migrated under the old SQLite numbering to the
/// numbering every backend shares (see `renumber_migrations.sql`), before the migrator
/// reads it.
async fn renumber_migrations(writer: &SqlitePool) -> Result<()> {
    let booked: bool = sqlx::query_scalar(include_str!("migrations_booked.sql"))
        .fetch_one(writer)
        .await?;
    if booked {
        let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::raw_sql(include_str!("renumber_migrations.sql"))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok(())
}

/// The one write connection of a SQLite database: writers queue for it instead of
/// failing on the file lock.
pub(crate) async fn writer_pool(base: SqliteConnectOptions) -> sqlx::Result<SqlitePool> {
    ping_when_idle(SqlitePoolOptions::new())
        .max_connections(1)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(300))
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_with(base)
        .await
}

/// SQLite's primary result code for a file that is not a database.
const SQLITE_NOTADB: i32 = 26;
/// SQLite's primary result code for a file it cannot open.
const SQLITE_CANTOPEN: i32 = 14;

/// `connections` read-only connections to a SQLite file.
pub(crate) async fn reader_pool(
    base: SqliteConnectOptions,
    connections: u32,
) -> sqlx::Result<SqlitePool> {
    ping_when_idle(SqlitePoolOptions::new())
        .max_connections(connections.max(1))
        .acquire_timeout(Duration::from_secs(300))
        .connect_with(base.read_only(true))
        .await
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`, in WAL mode, and migrates it.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(SqliteConfig::file(path)).await
    }

    /// Opens a private in-memory database (see [`SqliteConfig::memory`]).
    pub async fn open_in_memory() -> Result<Self> {
        Self::open_with(SqliteConfig::memory()).await
    }

    /// Opens a store from a URL or path (see [`SqliteConfig::from_url`]).
    pub async fn connect(url: &str) -> Result<Self> {
        Self::open_with(SqliteConfig::from_url(url)?).await
    }

    /// Opens a store with explicit settings.
    pub async fn open_with(config: SqliteConfig) -> Result<Self> {
        config.limits.check()?;
        let base = match &config.location {
            Location::File(path) => SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal),
            Location::Memory => SqliteConnectOptions::from_str("sqlite::memory:")?,
        }
        .synchronous(config.synchronous)
        .busy_timeout(config.busy_timeout)
        .pragma("temp_store", "memory");

        let writer = writer_pool(base.clone()).await?;
        renumber_migrations(&writer).await?;
        migrator().run(&writer).await?;
        let reader = match config.location {
            // An in-memory database exists only inside its one connection.
            Location::Memory => writer.clone(),
            Location::File(_) => reader_pool(base, config.read_connections).await?,
        };
        let signal = AppendSignal::default();
        Ok(SqliteStore {
            appends: Arc::new(group_commit::GroupCommit::new(
                writer.clone(),
                signal.clone(),
            )),
            writer,
            reader,
            limits: config.limits,
            signal,
        })
    }

    /// Opens an existing store read-only, to inspect it: the path must be a file holding a
    /// Factum store. [`StoreError::NoSuchStore`] when there is none there: the file does
    /// not exist, is not a file (a directory), is not a SQLite database, or has no Factum
    /// tables; any other failure (the file is locked past `config.busy_timeout`, may not
    /// be read, an I/O error) is the [`StoreError::Database`] error it is. Nothing is
    /// migrated or written, and the database file itself is not changed, so a tool can
    /// look at a live store; appends through this handle fail. `config.read_connections`
    /// connections read; the other settings that only concern writing are ignored. An
    /// in-memory database has no existing store.
    ///
    /// SQLite reads a WAL-mode database (as Factum's stores are) through its side files
    /// `<file>-wal` and `<file>-shm`, and opens them even read-only: when a writer is open
    /// they are already there; when none is (its clean close removed them), this open
    /// creates them and leaves them behind, the `-wal` empty and the `-shm` the shared
    /// memory index SQLite rebuilds from the `-wal`, so neither holds data. The next
    /// writer's open uses them and its clean close removes them. In a directory this
    /// process may not write to, the open fails unless they are already there.
    ///
    /// Reads other than [`stored_event_versions`](Self::stored_event_versions) expect the
    /// tables as this version of Factum migrates them: open a store left behind by older
    /// code with [`open_with`](Self::open_with) once first.
    pub async fn open_existing(config: SqliteConfig) -> Result<Self> {
        let Location::File(path) = &config.location else {
            return Err(StoreError::InvalidConfig(
                "an in-memory SQLite database holds no existing store; name a file".into(),
            ));
        };
        let missing = |reason: &str| StoreError::NoSuchStore {
            store: path.display().to_string(),
            reason: reason.to_owned(),
        };
        // Whether the file is (still) there, or why there is no store, else the error.
        let check_file = || match std::fs::metadata(path) {
            Ok(meta) if meta.is_file() => Ok(()),
            Ok(_) => Err(missing("it is not a file")),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                Err(missing("the file does not exist"))
            }
            Err(err) => Err(StoreError::Database(sqlx::Error::Io(err))),
        };
        check_file()?;
        // SQLite's own errors: not a database, or (the file gone since) cannot open, mean
        // no store; the others are what they are.
        let failed = |err: sqlx::Error| {
            let code = match &err {
                sqlx::Error::Database(db) => db.code().and_then(|c| c.parse::<i32>().ok()),
                _ => None,
            };
            match code.map(|c| c & 0xff) {
                Some(SQLITE_NOTADB) => missing("the file is not a SQLite database"),
                Some(SQLITE_CANTOPEN) => check_file().err().unwrap_or(err.into()),
                _ => err.into(),
            }
        };
        let base = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(false)
            .busy_timeout(config.busy_timeout)
            .pragma("temp_store", "memory");
        let reader = reader_pool(base, config.read_connections)
            .await
            .map_err(failed)?;
        let exists: bool = sqlx::query_scalar(include_str!("store_exists.sql"))
            .fetch_one(&reader)
            .await
            .map_err(failed)?;
        if !exists {
            return Err(missing(
                "the database has no factum_events table (not a Factum store)",
            ));
        }
        let signal = AppendSignal::default();
        Ok(SqliteStore {
            // Read-only connections: an append fails instead of writing.
            appends: Arc::new(group_commit::GroupCommit::new(
                reader.clone(),
                signal.clone(),
            )),
            writer: reader.clone(),
            reader,
            limits: config.limits,
            signal,
        })
    }

    /// How many events each event type has stored at each schema version, sorted by type
    /// and version: which versions (and so which upcasters) the stored events still need.
    /// One grouped scan of the journal.
    pub async fn stored_event_versions(&self) -> Result<Vec<StoredVersion>> {
        let rows: Vec<(String, i64, i64, i64)> =
            sqlx::query_as(include_str!("stored_event_versions.sql"))
                .fetch_all(&self.reader)
                .await?;
        super::inventory::from_rows(rows)
    }

    /// The pool of the single write connection, for code that must write in the store's
    /// database (read models that commit with their checkpoint).
    pub fn write_pool(&self) -> &SqlitePool {
        &self.writer
    }

    /// The pool of read connections.
    pub fn read_pool(&self) -> &SqlitePool {
        &self.reader
    }

    /// The store's database, where the read side keeps projections.
    pub(crate) fn read_side(&self) -> super::sql::read_side::SqlDatabase<sqlx::Sqlite> {
        super::sql::read_side::SqlDatabase {
            writer: self.writer.clone(),
            reader: self.reader.clone(),
            schema: None,
        }
    }

    async fn append_batch(
        &self,
        batch: PreparedBatch,
        expected: ExpectedVersion,
        uniqueness: Uniqueness,
    ) -> Result<AppendResult> {
        self.appends.append(batch, expected, uniqueness).await
    }
}

/// Appends `batch` (and claims and releases `uniqueness`) inside the transaction open on
/// `conn`, which the caller commits; on an error, what it wrote must be rolled back.
async fn append_on(
    conn: &mut sqlx::SqliteConnection,
    batch: &PreparedBatch,
    expected: ExpectedVersion,
    uniqueness: &Uniqueness,
) -> Result<AppendResult> {
    let stream = &batch.stream;
    let state: Option<(i64, Option<i64>)> = sqlx::query_as(include_str!("stream_state.sql"))
        .bind(stream.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    let (version, deleted) = state.map_or((0, false), |(v, d)| (v as u64, d.is_some()));
    if deleted || !expected.is_satisfied_by(version) {
        if let Some(done) = find_retry(conn, batch).await? {
            return Ok(done);
        }
        if deleted {
            return Err(StoreError::StreamDeleted {
                stream: stream.clone(),
            });
        }
        return Err(StoreError::WrongExpectedVersion {
            stream: stream.clone(),
            expected,
            actual: ActualVersion::from_version(version),
        });
    }
    let now = Utc::now().timestamp_micros();
    if !uniqueness.is_empty() {
        write_uniqueness(conn, stream, uniqueness, now).await?;
    }

    let mut last_position = 0i64;
    let mut offset = 0usize;
    while offset < batch.events.len() {
        let chunk = insert_chunk_len(batch.events.len() - offset);
        let mut query = sqlx::query(AssertSqlSafe(insert_sql(chunk)));
        for (i, e) in batch.events[offset..offset + chunk].iter().enumerate() {
            query = query
                .bind(e.event_id.as_uuid())
                .bind(stream.as_str())
                .bind((version + (offset + i) as u64 + 1) as i64)
                .bind(stream.category())
                .bind(e.event_type.as_str())
                .bind(i64::from(e.schema_version))
                .bind(e.payload.as_str())
                .bind(e.metadata_json.as_deref())
                .bind(now);
        }
        match query.execute(&mut *conn).await {
            Ok(done) => last_position = done.last_insert_rowid(),
            Err(err) if is_unique_violation(&err) => {
                return match find_retry(conn, batch).await? {
                    Some(done) => Ok(done),
                    None => Err(err.into()),
                };
            }
            Err(err) => return Err(err.into()),
        }
        offset += chunk;
    }
    let new_version = version + batch.len();
    sqlx::query(include_str!("upsert_stream.sql"))
        .bind(stream.as_str())
        .bind(stream.category())
        .bind(new_version as i64)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    // One writer and AUTOINCREMENT: the batch's rowids are consecutive.
    let first = last_position as u64 + 1 - batch.len();
    Ok(AppendResult {
        version: new_version,
        positions: (first..=last_position as u64).map(Position).collect(),
        deduplicated: false,
    })
}

/// Claims and releases unique values for `stream`. The transaction holds SQLite's write
/// lock, so nothing can claim between the check and the insert.
async fn write_uniqueness(
    conn: &mut sqlx::SqliteConnection,
    stream: &StreamId,
    uniqueness: &Uniqueness,
    now: i64,
) -> Result<()> {
    let pairs = |values: &[UniqueValue]| {
        let pairs: Vec<(&str, &str)> = values
            .iter()
            .map(|v| (v.scope.as_str(), v.value.as_str()))
            .collect();
        serde_json::to_string(&pairs).unwrap_or_else(|_| "[]".into())
    };
    if !uniqueness.claims().is_empty() {
        let claims = pairs(uniqueness.claims());
        let taken: Option<(String, String, String)> =
            sqlx::query_as(include_str!("unique_taken.sql"))
                .bind(&claims)
                .bind(stream.as_str())
                .fetch_optional(&mut *conn)
                .await?;
        if let Some((scope, value, holder)) = taken {
            return Err(StoreError::UniqueValueTaken {
                scope,
                value,
                holder: StreamId::new(&holder)?,
            });
        }
        sqlx::query(include_str!("unique_claim.sql"))
            .bind(&claims)
            .bind(stream.as_str())
            .bind(now)
            .execute(&mut *conn)
            .await?;
    }
    if !uniqueness.releases().is_empty() {
        sqlx::query(include_str!("unique_release.sql"))
            .bind(pairs(uniqueness.releases()))
            .bind(stream.as_str())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

async fn find_retry(
    conn: &mut sqlx::SqliteConnection,
    batch: &PreparedBatch,
) -> Result<Option<AppendResult>> {
    let ids: Vec<String> = batch
        .events
        .iter()
        .map(|e| e.event_id.as_uuid().simple().to_string())
        .collect();
    let ids_json = serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into());
    let rows = sqlx::query(include_str!("find_ids.sql"))
        .bind(ids_json)
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
                schema_version: row.try_get::<i64, _>(5)? as u32,
                payload: row.try_get(6)?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    resolve_retry(&batch.stream, &batch.events, stored)
}

impl SqliteStore {
    async fn head(&self) -> Result<Position> {
        let head: i64 = sqlx::query_scalar(include_str!("head_position.sql"))
            .fetch_one(&self.reader)
            .await?;
        Ok(Position(head as u64))
    }
}

/// Multi-row inserts in a few fixed sizes, so the statement cache holds four statements
/// whatever the batch sizes are, and a batch of 100 takes four statements, not 100.
fn insert_chunk_len(remaining: usize) -> usize {
    [256, 64, 16, 4, 1]
        .into_iter()
        .find(|&size| size <= remaining)
        .unwrap_or(1)
}

fn insert_sql(rows: usize) -> Arc<str> {
    static SQL: OnceLock<[Arc<str>; 5]> = OnceLock::new();
    let all = SQL.get_or_init(|| {
        [256, 64, 16, 4, 1].map(|n| {
            let values = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?)"; n].join(", ");
            Arc::from(format!(
                "INSERT INTO factum_events (event_id, stream_id, stream_version, category, \
                 event_type, schema_version, payload, metadata, recorded_at) VALUES {values}"
            ))
        })
    });
    let index = [256, 64, 16, 4, 1]
        .iter()
        .position(|&n| n == rows)
        .unwrap_or(4);
    all[index].clone()
}

fn micros_to_time(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}

/// A row of a page, as `read_stream_*.sql` builds it (the stream id is known).
#[derive(Deserialize)]
struct StreamRow<'a>(
    i64,
    #[serde(borrow)] Cow<'a, str>,
    u64,
    #[serde(borrow)] Cow<'a, str>,
    u32,
    #[serde(borrow)] &'a RawValue,
    Option<Metadata>,
    i64,
);

/// A row of a view-shaped stream page: version, type, schema version, payload.
#[derive(Deserialize)]
struct ViewRow<'a>(
    u64,
    #[serde(borrow)] Cow<'a, str>,
    u32,
    #[serde(borrow)] &'a RawValue,
);

/// A row of a page, as `read_all.sql` builds it.
#[derive(Deserialize)]
struct LogRow<'a>(
    i64,
    #[serde(borrow)] Cow<'a, str>,
    #[serde(borrow)] Cow<'a, str>,
    u64,
    #[serde(borrow)] Cow<'a, str>,
    u32,
    #[serde(borrow)] &'a RawValue,
    Option<Metadata>,
    i64,
);

/// Decodes one page of events.
///
/// The SQL returns each page as one JSON array built inside SQLite, rather than one row
/// per event: sqlx's SQLite driver hands every row across threads with its values copied
/// one by one, which costs more than the query itself, while serde parses one document
/// (borrowing the payloads, not re-serialising them) in a fraction of that. Payloads
/// come back exactly as stored. `group_concat` does not promise an order, so the page is
/// sorted here (it nearly always arrives sorted, which makes that a linear pass).
fn decode_page(
    json: &str,
    stream: Option<&StreamId>,
    direction: Direction,
) -> Result<Vec<RecordedEvent>> {
    let mut page = decode_rows(json, stream)?;
    match direction {
        Direction::Forward => page.sort_by_key(|e| e.position),
        Direction::Backward => page.sort_by_key(|e| std::cmp::Reverse(e.position)),
    }
    Ok(page)
}

fn decode_rows(json: &str, stream: Option<&StreamId>) -> Result<Vec<RecordedEvent>> {
    let bad_page = |e: serde_json::Error| corrupt(0, format!("a page of events: {e}"));
    match stream {
        Some(stream) => serde_json::from_str::<Vec<StreamRow<'_>>>(json)
            .map_err(bad_page)?
            .into_iter()
            .map(
                |StreamRow(position, id, version, event_type, schema, payload, meta, at)| {
                    let row = PageRow {
                        position,
                        id,
                        version,
                        event_type,
                        schema,
                        payload,
                        meta,
                        at,
                    };
                    row.into_event(stream.clone())
                },
            )
            .collect(),
        None => serde_json::from_str::<Vec<LogRow<'_>>>(json)
            .map_err(bad_page)?
            .into_iter()
            .map(
                |LogRow(
                    position,
                    id,
                    stream_id,
                    version,
                    event_type,
                    schema,
                    payload,
                    meta,
                    at,
                )| {
                    let stream = StreamId::new(&stream_id).map_err(|e| corrupt(position, e))?;
                    let row = PageRow {
                        position,
                        id,
                        version,
                        event_type,
                        schema,
                        payload,
                        meta,
                        at,
                    };
                    row.into_event(stream)
                },
            )
            .collect(),
    }
}

/// The fields of a page row other than the stream id.
struct PageRow<'a> {
    position: i64,
    id: Cow<'a, str>,
    version: u64,
    event_type: Cow<'a, str>,
    schema: u32,
    payload: &'a RawValue,
    meta: Option<Metadata>,
    at: i64,
}

impl PageRow<'_> {
    fn into_event(self, stream_id: StreamId) -> Result<RecordedEvent> {
        let event_id = Uuid::try_parse(&self.id)
            .map(EventId::from_uuid)
            .map_err(|e| corrupt(self.position, e))?;
        Ok(RecordedEvent {
            event_id,
            stream_id,
            stream_version: self.version,
            position: Position(self.position as u64),
            event_type: self.event_type.into_owned(),
            schema_version: self.schema,
            payload: Payload::from_stored(self.payload.get().to_owned()),
            metadata: self.meta.unwrap_or_default(),
            recorded_at: micros_to_time(self.at),
        })
    }
}

/// Visits the rows of one view-shaped page in the read's order.
fn visit_view_page<B>(
    json: &str,
    options: ReadStream,
    visit: &mut impl FnMut(EventView<'_>) -> ControlFlow<B>,
) -> Result<ControlFlow<B>> {
    // A view page is its rows one after another (see `pages::VIEW_EDITS`).
    let mut rows: Vec<ViewRow<'_>> = serde_json::Deserializer::from_str(json)
        .into_iter()
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| corrupt(0, format!("a page of events: {e}")))?;
    match options.direction {
        Direction::Forward => rows.sort_by_key(|r| r.0),
        Direction::Backward => rows.sort_by_key(|r| std::cmp::Reverse(r.0)),
    }
    for ViewRow(version, event_type, schema, payload) in &rows {
        let view = EventView {
            stream_version: *version,
            event_type,
            schema_version: *schema,
            payload: payload.get(),
        };
        if let ControlFlow::Break(done) = visit(view) {
            return Ok(ControlFlow::Break(done));
        }
    }
    Ok(ControlFlow::Continue(()))
}

fn view_source(stream: &StreamId, options: &ReadStream) -> pages::Source {
    let (low, high) = options.version_range();
    pages::Source::Stream {
        id: stream.clone(),
        include_deleted: options.include_deleted,
        direction: options.direction,
        low,
        high,
        views: true,
    }
}

fn stream_info_of(row: &SqliteRow) -> Result<StreamInfo> {
    let id: &str = row.try_get(0)?;
    let deleted_at: Option<i64> = row.try_get(2)?;
    Ok(StreamInfo {
        stream_id: StreamId::new(id)?,
        version: row.try_get::<i64, _>(1)? as u64,
        deleted_at: deleted_at.map(micros_to_time),
    })
}

fn json_list(items: &[String]) -> Option<String> {
    (!items.is_empty()).then(|| serde_json::to_string(items).unwrap_or_default())
}

impl EventStore for SqliteStore {
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
            .fetch_optional(&self.reader)
            .await?;
        holder.map(|h| StreamId::new(&h)).transpose()
    }

    fn read_stream(&self, stream: &StreamId, options: ReadStream) -> EventStream<'_> {
        let (low, high) = options.version_range();
        let source = pages::Source::Stream {
            id: stream.clone(),
            include_deleted: options.include_deleted,
            direction: options.direction,
            low,
            high,
            views: false,
        };
        let limit = options.limit.unwrap_or(usize::MAX);
        pages::read(
            self.reader.clone(),
            source,
            limit,
            self.limits.max_event_size,
        )
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
        // The pages of `read_stream`, shaped for views and visited in place.
        let source = view_source(stream, &options);
        let limit = options.limit.unwrap_or(usize::MAX);
        let mut pages = pages::pages(
            self.reader.clone(),
            source,
            limit,
            self.limits.max_event_size,
        );
        while let Some(page) = pages.try_next().await? {
            if let ControlFlow::Break(done) = visit_view_page(page.json()?, options, &mut visit)? {
                return Ok(ControlFlow::Break(done));
            }
        }
        Ok(ControlFlow::Continue(()))
    }

    fn read_all(&self, options: ReadAll) -> EventStream<'_> {
        let source = pages::Source::Log {
            from: options.from,
            event_types: json_list(&options.event_types),
            categories: json_list(&options.categories),
        };
        let limit = options.limit.unwrap_or(usize::MAX);
        pages::read(
            self.reader.clone(),
            source,
            limit,
            self.limits.max_event_size,
        )
    }

    async fn stream_info(&self, stream: &StreamId) -> Result<Option<StreamInfo>> {
        let row = sqlx::query(include_str!("stream_info.sql"))
            .bind(stream.as_str())
            .fetch_optional(&self.reader)
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
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(stream_info_of).collect()
    }

    async fn delete_stream(&self, stream: &StreamId, expected: ExpectedVersion) -> Result<()> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let state: Option<(i64, Option<i64>)> = sqlx::query_as(include_str!("stream_state.sql"))
            .bind(stream.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let Some((version, deleted)) = state else {
            return Err(StoreError::StreamNotFound {
                stream: stream.clone(),
            });
        };
        if deleted.is_some() {
            return Err(StoreError::StreamDeleted {
                stream: stream.clone(),
            });
        }
        if !expected.is_satisfied_by(version as u64) {
            return Err(StoreError::WrongExpectedVersion {
                stream: stream.clone(),
                expected,
                actual: ActualVersion::from_version(version as u64),
            });
        }
        sqlx::query(include_str!("delete_stream.sql"))
            .bind(stream.as_str())
            .bind(Utc::now().timestamp_micros())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn head_position(&self) -> Result<Position> {
        self.head().await
    }

    async fn settled_position(&self) -> Result<Position> {
        // One writer, positions assigned in commit order: the head is settled.
        self.head().await
    }

    fn append_watcher(&self) -> Option<AppendWatcher> {
        Some(self.signal.watch())
    }
}

impl TransactionalStore for SqliteStore {
    type Transaction = SqliteTransaction;

    async fn begin(&self) -> Result<SqliteTransaction> {
        Ok(SqliteTransaction {
            tx: self.writer.begin_with("BEGIN IMMEDIATE").await?,
            store: self.clone(),
            appended: false,
        })
    }
}

/// A transaction on the [`SqliteStore`]'s writer, in which the caller's own statements
/// and the store's appends commit together (see [`StoreTransaction`]).
///
/// It dereferences to the writer's `sqlx::SqliteConnection`:
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use factum::{StoreTransaction, TransactionalStore};
/// use factum::{EventData, ExpectedVersion, SqliteStore, StreamId};
///
/// let store = SqliteStore::open_in_memory().await?;
/// sqlx::query("CREATE TABLE outbox (message TEXT)").execute(store.write_pool()).await?;
/// let mut tx = store.begin().await?;
/// tx.append(&StreamId::new("order-1")?, ExpectedVersion::NoStream,
///           vec![EventData::new("Placed", serde_json::json!({}))]).await?;
/// sqlx::query("INSERT INTO outbox VALUES ('order-1 placed')").execute(&mut *tx).await?;
/// tx.commit().await?;
/// # Ok::<(), factum::StoreError>(()) }).unwrap();
/// ```
///
/// It holds the store's only write connection from `begin` to its end: every other
/// append of the process queues behind it, so keep it short. For the same reason
/// [`lock_stream`](StoreTransaction::lock_stream) has nothing to add. On an in-memory
/// database, the one connection also serves reads: read through the transaction, not
/// the store, while it is open.
#[derive(Debug)]
pub struct SqliteTransaction {
    tx: sqlx::Transaction<'static, sqlx::Sqlite>,
    store: SqliteStore,
    appended: bool,
}

impl std::ops::Deref for SqliteTransaction {
    type Target = sqlx::SqliteConnection;
    fn deref(&self) -> &sqlx::SqliteConnection {
        &self.tx
    }
}

impl std::ops::DerefMut for SqliteTransaction {
    fn deref_mut(&mut self) -> &mut sqlx::SqliteConnection {
        &mut self.tx
    }
}

impl StoreTransaction for SqliteTransaction {
    async fn lock_stream(&mut self, _stream: &StreamId) -> Result<()> {
        // BEGIN IMMEDIATE took SQLite's write lock, and the store's one writer is ours.
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
        pages::scan_on(
            &mut self.tx,
            view_source(stream, &options),
            options.limit.unwrap_or(usize::MAX),
            self.store.limits.max_event_size,
            |json| visit_view_page(json, options, &mut visit),
        )
        .await
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
        // A savepoint, so that a refused append takes back what it wrote (an earlier
        // chunk of rows, its claims) and the caller's transaction goes on.
        let mut savepoint = sqlx::Connection::begin(&mut *self.tx).await?;
        match append_on(&mut savepoint, &batch, expected, &uniqueness).await {
            Ok(done) if !done.deduplicated => {
                savepoint.commit().await?;
                self.appended = true;
                Ok(done)
            }
            done => {
                savepoint.rollback().await?;
                done
            }
        }
    }

    async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        if self.appended {
            self.store.signal.raise();
        }
        Ok(())
    }

    async fn rollback(self) -> Result<()> {
        self.tx.rollback().await?;
        Ok(())
    }
}

impl SnapshotStore for SqliteStore {
    async fn load_snapshot(&self, stream: &StreamId, aggregate: &str) -> Result<Option<Snapshot>> {
        let row: Option<(i64, i64, String, i64)> =
            sqlx::query_as(include_str!("load_snapshot.sql"))
                .bind(stream.as_str())
                .bind(aggregate)
                .fetch_optional(&self.reader)
                .await?;
        Ok(
            row.map(|(version, state_version, state, taken_at)| Snapshot {
                aggregate: aggregate.to_owned(),
                version: version as u64,
                state_version: state_version as u32,
                state,
                taken_at: micros_to_time(taken_at),
            }),
        )
    }

    async fn save_snapshot(&self, stream: &StreamId, snapshot: &Snapshot) -> Result<()> {
        sqlx::query(include_str!("save_snapshot.sql"))
            .bind(stream.as_str())
            .bind(snapshot.aggregate.as_str())
            .bind(to_i64(snapshot.version))
            .bind(i64::from(snapshot.state_version))
            .bind(snapshot.state.as_str())
            .bind(snapshot.taken_at.timestamp_micros())
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store migrated before migrations were numbered alike on every backend opens,
    /// with its bookkeeping moved to the shared numbers and nothing run twice.
    #[tokio::test]
    async fn stores_numbered_the_old_way_are_renumbered() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        let store = SqliteStore::open(&path).await.unwrap();
        let account = StreamId::new("account-1").unwrap();
        let event = || EventData::new("Opened", serde_json::json!({}));
        store
            .append(&account, ExpectedVersion::NoStream, vec![event()])
            .await
            .unwrap();
        // The bookkeeping as the old numbering left it: 1 to 6, with the same
        // descriptions and checksums, and no migrations 3 and 5 of today's.
        sqlx::raw_sql(
            "DELETE FROM factum_migrations WHERE version IN (3, 5); \
             UPDATE factum_migrations SET version = 3 WHERE version = 4; \
             UPDATE factum_migrations SET version = 4 WHERE version = 6; \
             UPDATE factum_migrations SET version = 5 WHERE version = 7; \
             UPDATE factum_migrations SET version = 6 WHERE version = 8;",
        )
        .execute(store.write_pool())
        .await
        .unwrap();
        drop(store);

        let store = SqliteStore::open(&path).await.unwrap();
        let booked: Vec<(i64, String)> =
            sqlx::query_as("SELECT version, description FROM factum_migrations ORDER BY version")
                .fetch_all(store.write_pool())
                .await
                .unwrap();
        let names: Vec<&str> = booked.iter().map(|(_, d)| d.as_str()).collect();
        assert_eq!(
            booked.iter().map(|(v, _)| *v).collect::<Vec<_>>(),
            (1..=8).collect::<Vec<_>>()
        );
        assert_eq!(
            names,
            [
                "event store",
                "snapshots",
                "append notifications",
                "projections",
                "append wake-ups",
                "unique values",
                "dead-letter kinds",
                "read-model changes"
            ]
        );
        // The data is untouched, and the store still works.
        store
            .append(&account, ExpectedVersion::Exact(1), vec![event()])
            .await
            .unwrap();
        // Opening again changes nothing.
        drop(store);
        SqliteStore::open(&path).await.unwrap();
    }

    #[test]
    fn urls() {
        assert!(matches!(
            SqliteConfig::from_url("sqlite::memory:").unwrap().location,
            Location::Memory
        ));
        assert!(matches!(
            SqliteConfig::from_url(":memory:").unwrap().location,
            Location::Memory
        ));
        match SqliteConfig::from_url("sqlite://data/bank.sqlite")
            .unwrap()
            .location
        {
            Location::File(path) => assert_eq!(path, PathBuf::from("data/bank.sqlite")),
            other => panic!("{other:?}"),
        }
        assert!(SqliteConfig::from_url("sqlite://x.db?mode=ro").is_err());
        assert!(SqliteConfig::from_url("sqlite::memory:?cache=shared").is_err());
        assert!(SqliteConfig::from_url("sqlite://").is_err());
    }
}
