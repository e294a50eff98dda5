//! The read side's statements, written once for both SQL backends. Each backend gives its
//! SQL text (in `.sql` files, one file per table, under `store/<backend>/read_side/`),
//! how it stores a time, and its leases through [`ReadSideSql`]; the binding, running
//! and decoding here serve both.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Row, Type};
use uuid::Uuid;

use std::any::Any;
use std::sync::Arc;

use serde_json::{Map, Value};
use sqlx::AssertSqlSafe;

use super::ddl;
use super::ddl::quote_ident;
use super::named;
use crate::EventId;
use crate::Position;
use crate::projection::ProjectionKey;
use crate::projection::changes::{Changes, RETAINED};
use crate::projection::database::{
    LetterFilter, LetterRow, NewLetter, ReadSideDb, ReadSidePools, ReadSideTx, Result, Savepoint,
    Settlement, TablesByProjection,
};
use crate::projection::db::{ProjectionStatus, Stage};
use crate::projection::dlq::DeadLetter;
use crate::projection::lease::{HeldLease, LeaseAsk, Taken};
use crate::projection::read_model::{Dialect, ReadModelDescriptor};
use crate::projection::tx::key_column;

/// One statement of the read side, as each backend writes it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Statement {
    /// Parks an event: ($1 projection, $2 version, $3 position, $4 stream, $5 stream
    /// version, $6 event id, $7 type, $8 reason, $9 attempts, $10 time, $11 kind).
    ParkLetter,
    /// Whether a stream has parked events: ($1 projection, $2 version, $3 stream).
    StreamParked,
    /// Removes an entry: ($1 projection, $2 version, $3 position).
    RemoveLetter,
    /// Marks an entry skipped: (… $3 position, $4 reason).
    SkipLetter,
    /// Counts a failed attempt: (… $3 position, $4 error, $5 time).
    RecordLetterFailure,
    /// Lists entries: ($1 projection, $2 version, $3 stream or NULL, $4 parked only).
    ListLetters,
    /// Whether an event was delivered: ($1 consumer, $2 event id).
    Delivered,
    /// Records a delivery: ($1 consumer, $2 event id, $3 time).
    RecordDelivered,
    /// Queues registrations until the transaction ends: no parameters.
    LockRegistrations,
    /// The tables of other projections: ($1 name) → (name, tables).
    TablesOfOthers,
    /// Adds a version's row: ($1 name, $2 version, $3 time, $4 tables).
    RegisterProjection,
    /// A version's checkpoint: ($1 name, $2 version).
    Checkpoint,
    /// The same, locking the row until the transaction ends.
    LockCheckpoint,
    /// Moves a checkpoint: ($1 name, $2 version, $3 from, $4 to, $5 time), and where the
    /// backend fences by owner ($6 owner or NULL, $7 lease expiry).
    AdvanceCheckpoint,
    /// Versions of one projection or all: ($1 name or NULL) → (name, version, status,
    /// checkpoint, tables, updated_at).
    Statuses,
    /// Retires a name's live version: ($1 name).
    RetireLive,
    /// Makes a version live: ($1 name, $2 version).
    Promote,
    /// Deletes a version's dead letters: ($1 name, $2 version).
    DeleteLettersOfVersion,
    /// Deletes a version's recorded changes: ($1 name, $2 version).
    DeleteChangesOfVersion,
    /// Deletes a version's row: ($1 name, $2 version).
    DeleteProjection,
    /// Records changes of a read model (each backend binds its own row encoding).
    RecordChanges,
    /// Keeps the newest changes: ($1 name, $2 version, $3 model, $4 how many).
    TrimChanges,
    /// Takes a lease (each backend binds its own parameters).
    TakeLease,
    /// Renews a lease row (backends whose leases are rows).
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    RenewLease,
    /// Gives a lease row back (backends whose leases are rows).
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    ReleaseLease,
    /// Whether a database holds a store's migrations (which keep the projection tables).
    OwnedByStore,
    /// Begins a batch's transaction.
    BeginWrite,
    /// Sets the savepoint an event is applied under.
    SetSavepoint,
    /// Releases it.
    ReleaseSavepoint,
    /// Rolls back to it.
    RollbackToSavepoint,
}

impl Statement {
    /// Every statement, for the test that each backend has them all.
    #[cfg(test)]
    pub(crate) const ALL: [Statement; 30] = [
        Statement::ParkLetter,
        Statement::StreamParked,
        Statement::RemoveLetter,
        Statement::SkipLetter,
        Statement::RecordLetterFailure,
        Statement::ListLetters,
        Statement::Delivered,
        Statement::RecordDelivered,
        Statement::LockRegistrations,
        Statement::TablesOfOthers,
        Statement::RegisterProjection,
        Statement::Checkpoint,
        Statement::LockCheckpoint,
        Statement::AdvanceCheckpoint,
        Statement::Statuses,
        Statement::RetireLive,
        Statement::Promote,
        Statement::DeleteLettersOfVersion,
        Statement::DeleteChangesOfVersion,
        Statement::DeleteProjection,
        Statement::RecordChanges,
        Statement::TrimChanges,
        Statement::TakeLease,
        Statement::RenewLease,
        Statement::ReleaseLease,
        Statement::OwnedByStore,
        Statement::BeginWrite,
        Statement::SetSavepoint,
        Statement::ReleaseSavepoint,
        Statement::RollbackToSavepoint,
    ];

    /// Its name in the backend's SQL files (`-- name: …`).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Statement::ParkLetter => "park_letter",
            Statement::StreamParked => "stream_parked",
            Statement::RemoveLetter => "remove_letter",
            Statement::SkipLetter => "skip_letter",
            Statement::RecordLetterFailure => "record_letter_failure",
            Statement::ListLetters => "list_letters",
            Statement::Delivered => "delivered",
            Statement::RecordDelivered => "record_delivered",
            Statement::LockRegistrations => "lock_registrations",
            Statement::TablesOfOthers => "tables_of_others",
            Statement::RegisterProjection => "register_projection",
            Statement::Checkpoint => "checkpoint",
            Statement::LockCheckpoint => "lock_checkpoint",
            Statement::AdvanceCheckpoint => "advance_checkpoint",
            Statement::Statuses => "statuses",
            Statement::RetireLive => "retire_live",
            Statement::Promote => "promote",
            Statement::DeleteLettersOfVersion => "delete_letters_of_version",
            Statement::DeleteChangesOfVersion => "delete_changes_of_version",
            Statement::DeleteProjection => "delete_projection",
            Statement::RecordChanges => "record_changes",
            Statement::TrimChanges => "trim_changes",
            Statement::TakeLease => "take_lease",
            Statement::RenewLease => "renew_lease",
            Statement::ReleaseLease => "release_lease",
            Statement::OwnedByStore => "owned_by_store",
            Statement::BeginWrite => "begin_write",
            Statement::SetSavepoint => "set_savepoint",
            Statement::ReleaseSavepoint => "release_savepoint",
            Statement::RollbackToSavepoint => "rollback_to_savepoint",
        }
    }
}

/// A backend's read-side SQL files (`SQL_FILES`), one per kind of object, named alike
/// on every backend and read from the folder of the file that names them.
macro_rules! read_side_files {
    () => {
        [
            include_str!("dead_letters.sql"),
            include_str!("delivered.sql"),
            include_str!("projections.sql"),
            include_str!("changes.sql"),
            include_str!("transactions.sql"),
        ]
    };
}
pub(crate) use read_side_files;

/// A backend's entry points to its read side: its store's [`ProjectionStore`] impl (the
/// store's own database, from its `read_side()`), and the accessors named after it on
/// [`ProjectionDb`] and [`ProjectionTx`] (downcasts to its driver `$driver`).
///
/// [`ProjectionStore`]: crate::projection::ProjectionStore
/// [`ProjectionDb`]: crate::projection::ProjectionDb
/// [`ProjectionTx`]: crate::projection::ProjectionTx
macro_rules! read_side_of {
    ($store_type:ty, $driver:ty, $connection:ty, $name:ident, $label:literal) => {
        /// A store keeps its projections in its own database.
        impl $crate::projection::ProjectionStore for $store_type {
            fn projection_db(&self) -> $crate::projection::ProjectionDb {
                $crate::projection::ProjectionDb::new(self.read_side())
            }
        }

        impl $crate::projection::ProjectionDb {
            #[doc = concat!("The ", $label, " database, if the read models are in ", $label, ".")]
            pub fn $name(&self) -> Option<&$crate::store::sql::read_side::SqlDatabase<$driver>> {
                self.sql()
            }
        }

        impl $crate::projection::ProjectionTx {
            #[doc = concat!("The ", $label, " connection inside the transaction, if the read models are in ", $label, ".")]
            /// The row changes made so far are written first, so your SQL sees them.
            pub async fn $name(
                &mut self,
            ) -> $crate::projection::database::Result<Option<&mut $connection>> {
                self.connection::<$driver>().await
            }
        }
    };
}
pub(crate) use read_side_of;

/// The text of `statement` on `DB`.
pub(crate) fn sql<DB: ReadSideSql>(statement: Statement) -> &'static str {
    named(DB::SQL_FILES, statement.name())
}

/// What a SQL backend supplies to the shared read side.
pub(crate) trait ReadSideSql: Database + QueryBackend {
    /// How the backend stores a point in time.
    type Time: for<'t> Encode<'t, Self> + Type<Self> + for<'r> Decode<'r, Self> + Send;

    /// How the backend stores a projection version's list of tables.
    type Tables: for<'t> Encode<'t, Self> + Type<Self> + for<'r> Decode<'r, Self> + Send;

    /// The dialect its read-model tables' DDL is written in.
    const DIALECT: Dialect;

    /// The backend's read-side SQL files, one per table, each statement named.
    const SQL_FILES: &'static [&'static str];

    /// Whether the checkpoint's fence also checks (and renews) a lease owner's row.
    const FENCES_BY_OWNER: bool;

    /// The backend's store migrations, some of which a read-model database of its own
    /// runs ([`crate::store::sql::migrations::read_model_migrator`]).
    const MIGRATIONS: &'static [super::migrations::Step];

    /// `tables` as stored.
    fn tables(tables: &[String]) -> Self::Tables;

    /// A stored list of tables.
    fn tables_of(stored: Self::Tables) -> Vec<String>;

    /// `at` as stored.
    fn time(at: DateTime<Utc>) -> Self::Time;

    /// A stored time.
    fn time_of(stored: Self::Time) -> DateTime<Utc>;

    /// How many rows a statement changed.
    fn rows_affected(result: &Self::QueryResult) -> u64;

    /// A batch's changes of a read model as its `record_changes` statement takes them
    /// (see [`ReadSideTx::record_changes`]): a JSON array of `[op, row]` pairs in order,
    /// each row as the backend's tables hold it.
    fn change_rows(changes: &Changes<'_>) -> Result<String>;

    /// Tries to take the lease on a projection version (see [`ReadSidePools::try_lease`]).
    fn try_lease<'a>(db: &'a SqlDatabase<Self>, ask: LeaseAsk<'a>) -> Taken<'a>;
}

/// How a SQL backend stores read-model rows: binding keys, reading rows back, and
/// writing many rows with one statement (each backend's `read_side/rows.rs`).
pub(crate) trait RowSql: Database {
    /// Many keys, bound as one parameter.
    type Keys: for<'t> Encode<'t, Self> + Type<Self> + Send;

    /// The predicate on `model`'s key column that a statement over `keys` filters by
    /// (the keys bound as its first parameter), and the keys as bound.
    fn keys_in(model: &'static ReadModelDescriptor, keys: &[Value])
    -> Result<(String, Self::Keys)>;

    /// What a load of `table`'s rows selects (the table is aliased `t`).
    fn row_select(table: &Table) -> String;

    /// A row a load of `table` read, as a JSON object of its fields.
    fn decode_row(table: &Table, row: &Self::Row) -> Result<Value>;

    /// Inserts or replaces `rows` with one statement (see [`ReadSideTx::upsert_rows`]).
    fn upsert_rows(
        conn: &mut Self::Connection,
        table: &Table,
        rows: &[Map<String, Value>],
    ) -> impl Future<Output = Result<()>> + Send;
}

/// A read model's table of one projection version, its names quoted for SQL.
pub(crate) struct Table {
    pub(crate) model: &'static ReadModelDescriptor,
    /// The table's name.
    pub(crate) name: String,
    /// Its columns' names, in the descriptor's order.
    pub(crate) columns: Vec<String>,
}

impl Table {
    fn of(model: &'static ReadModelDescriptor, version: u32) -> Table {
        Table {
            model,
            name: quote_ident(&model.table_for(version)),
            columns: model.columns.iter().map(|c| quote_ident(c.name)).collect(),
        }
    }
}

/// A SQL database that holds read models, projection rows, dead letters and delivery
/// records: a store's own, or one of their own ([`ProjectionDb::open_sqlite`],
/// [`ProjectionDb::connect_postgres`]). Reach it with [`ProjectionDb::sqlite`] or
/// [`ProjectionDb::postgres`] to run SQL of your own on it.
///
/// Dead letters are listed on the read pool; deliveries are checked on the write pool,
/// so that a check sees the record just written. (On PostgreSQL both are the one pool.)
///
/// [`ProjectionDb::open_sqlite`]: crate::projection::ProjectionDb::open_sqlite
/// [`ProjectionDb::connect_postgres`]: crate::projection::ProjectionDb::connect_postgres
/// [`ProjectionDb::sqlite`]: crate::projection::ProjectionDb::sqlite
/// [`ProjectionDb::postgres`]: crate::projection::ProjectionDb::postgres
#[derive(Clone, Debug)]
pub struct SqlDatabase<DB: Database> {
    pub(crate) writer: Pool<DB>,
    pub(crate) reader: Pool<DB>,
    pub(crate) schema: Option<Arc<str>>,
}

impl<DB: Database> SqlDatabase<DB> {
    /// The pool batches write with (on SQLite its single write connection).
    pub fn writer(&self) -> &Pool<DB> {
        &self.writer
    }

    /// The pool queries read with (on PostgreSQL the same pool as [`writer`](Self::writer)).
    pub fn reader(&self) -> &Pool<DB> {
        &self.reader
    }

    /// The PostgreSQL schema the tables are in (`None` on SQLite).
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }
}

/// What a backend's read side needs for the GraphQL API: its [`QueryRows`] with the
/// feature, nothing without it.
///
/// [`QueryRows`]: crate::store::sql::queries::QueryRows
#[cfg(feature = "graphql")]
pub(crate) use crate::store::sql::queries::QueryRows as QueryBackend;

/// What a backend's read side needs for the GraphQL API: nothing without the feature.
#[cfg(not(feature = "graphql"))]
pub(crate) trait QueryBackend {}

#[cfg(not(feature = "graphql"))]
impl<T> QueryBackend for T {}

/// Opens a read-model database of its own on `pool`: unless it holds a store's
/// migrations (which keep the projection tables), creates or updates its projection
/// tables.
pub(crate) async fn prepare_own_database<DB>(pool: &Pool<DB>) -> Result<()>
where
    DB: ReadSideSql,
    DB::Connection: sqlx::migrate::Migrate,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'r> bool: Decode<'r, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    let owned_by_store: bool = sqlx::query_scalar(sql::<DB>(Statement::OwnedByStore))
        .fetch_one(pool)
        .await?;
    if !owned_by_store {
        super::migrations::read_model_migrator(DB::MIGRATIONS)
            .run(pool)
            .await
            .map_err(|e| crate::projection::ProjectionError::Database(e.into()))?;
    }
    Ok(())
}

impl<DB> ReadSideDb for SqlDatabase<DB>
where
    DB: ReadSideSql,
    SqlDatabase<DB>: ReadSidePools,
    sqlx::Transaction<'static, DB>: ReadSideTx,
{
    fn begin(&self, write: bool) -> BoxFuture<'_, Result<Box<dyn ReadSideTx>>> {
        Box::pin(async move {
            let tx = if write {
                self.writer
                    .begin_with(sql::<DB>(Statement::BeginWrite))
                    .await?
            } else {
                self.reader.begin().await?
            };
            Ok(Box::new(tx) as Box<dyn ReadSideTx>)
        })
    }

    #[cfg(feature = "graphql")]
    fn for_queries(&self) -> Box<dyn crate::store::sql::queries::QueryDb> {
        DB::for_queries(self)
    }
}

/// A projection version's number as every backend binds it (`integer` on PostgreSQL).
pub(crate) fn version(key: &ProjectionKey) -> i32 {
    i32::try_from(key.version).unwrap_or(i32::MAX)
}

/// The `ON CONFLICT` clause that makes an insert of whole rows of `model` an upsert (alike
/// on both backends).
pub(crate) fn on_conflict(model: &'static ReadModelDescriptor) -> Result<String> {
    let key = quote_ident(key_column(model)?.name);
    let updates: Vec<String> = model
        .columns
        .iter()
        .filter(|c| c.name != model.key)
        .map(|c| {
            let n = quote_ident(c.name);
            format!("{n} = excluded.{n}")
        })
        .collect();
    Ok(if updates.is_empty() {
        format!("ON CONFLICT ({key}) DO NOTHING")
    } else {
        format!("ON CONFLICT ({key}) DO UPDATE SET {}", updates.join(", "))
    })
}

/// Runs a statement without parameters (DDL) on `conn`.
async fn run<DB>(conn: &mut DB::Connection, sql: String) -> Result<()>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    sqlx::raw_sql(AssertSqlSafe(sql)).execute(conn).await?;
    Ok(())
}

fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A stored position (never negative).
fn position(stored: i64) -> Position {
    Position(stored.max(0) as u64)
}

impl<DB> ReadSideTx for sqlx::Transaction<'static, DB>
where
    DB: ReadSideSql + RowSql,
    DB::Arguments: IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'t> &'t str: Encode<'t, DB> + Type<DB>,
    for<'t> Option<&'t str>: Encode<'t, DB> + Type<DB>,
    for<'t> i32: Encode<'t, DB> + Type<DB>,
    for<'t> i64: Encode<'t, DB> + Type<DB>,
    for<'t> Uuid: Encode<'t, DB> + Type<DB>,
    for<'r> bool: Decode<'r, DB> + Type<DB>,
    for<'r> i64: Decode<'r, DB> + Type<DB>,
    for<'r> String: Decode<'r, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    fn load_rows<'a>(
        &'a mut self,
        model: &'static ReadModelDescriptor,
        version: u32,
        keys: &'a [Value],
    ) -> BoxFuture<'a, Result<Vec<Value>>> {
        Box::pin(async move {
            let table = Table::of(model, version);
            let (predicate, keys) = DB::keys_in(model, keys)?;
            let sql = format!(
                "SELECT {} FROM {} t WHERE {predicate}",
                DB::row_select(&table),
                table.name
            );
            let rows = sqlx::query(AssertSqlSafe(sql))
                .bind(keys)
                .fetch_all(&mut **self)
                .await?;
            rows.iter().map(|row| DB::decode_row(&table, row)).collect()
        })
    }

    fn upsert_rows<'a>(
        &'a mut self,
        model: &'static ReadModelDescriptor,
        version: u32,
        rows: &'a [Map<String, Value>],
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(
            async move { DB::upsert_rows(&mut **self, &Table::of(model, version), rows).await },
        )
    }

    fn delete_rows<'a>(
        &'a mut self,
        model: &'static ReadModelDescriptor,
        version: u32,
        keys: &'a [Value],
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let table = Table::of(model, version);
            let (predicate, keys) = DB::keys_in(model, keys)?;
            let sql = format!("DELETE FROM {} WHERE {predicate}", table.name);
            sqlx::query(AssertSqlSafe(sql))
                .bind(keys)
                .execute(&mut **self)
                .await?;
            Ok(())
        })
    }

    fn create_tables<'a>(
        &'a mut self,
        model: &'static ReadModelDescriptor,
        version: u32,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            run::<DB>(&mut **self, ddl::create_table(model, version, DB::DIALECT)).await?;
            for index in ddl::create_indexes(model, version) {
                run::<DB>(&mut **self, index).await?;
            }
            Ok(())
        })
    }

    fn drop_table<'a>(&'a mut self, table: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(run::<DB>(&mut **self, ddl::drop_table(table)))
    }

    fn savepoint(&mut self, step: Savepoint) -> BoxFuture<'_, Result<()>> {
        let statement = match step {
            Savepoint::Set => Statement::SetSavepoint,
            Savepoint::Release => Statement::ReleaseSavepoint,
            Savepoint::RollBack => Statement::RollbackToSavepoint,
        };
        Box::pin(async move {
            sqlx::query(sql::<DB>(statement))
                .execute(&mut **self)
                .await?;
            Ok(())
        })
    }

    fn commit(self: Box<Self>) -> BoxFuture<'static, Result<()>> {
        Box::pin(async move {
            sqlx::Transaction::commit(*self).await?;
            Ok(())
        })
    }

    fn as_any(&mut self) -> &mut dyn Any {
        self
    }

    fn backend(&self) -> &'static str {
        DB::NAME
    }

    fn park<'a>(&'a mut self, letter: &'a NewLetter<'a>) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let event = letter.event;
            sqlx::query(sql::<DB>(Statement::ParkLetter))
                .bind(letter.key.name.as_str())
                .bind(version(letter.key))
                .bind(int(event.position.0))
                .bind(event.stream_id.as_str())
                .bind(int(event.stream_version))
                .bind(event.event_id.as_uuid())
                .bind(event.event_type.as_str())
                .bind(letter.reason)
                .bind(i32::try_from(letter.attempts).unwrap_or(i32::MAX))
                .bind(DB::time(letter.at))
                .bind(letter.kind.as_str())
                .execute(&mut **self)
                .await?;
            Ok(())
        })
    }

    fn stream_parked<'a>(
        &'a mut self,
        key: &'a ProjectionKey,
        stream: &'a str,
    ) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let row = sqlx::query(sql::<DB>(Statement::StreamParked))
                .bind(key.name.as_str())
                .bind(version(key))
                .bind(stream)
                .fetch_one(&mut **self)
                .await?;
            Ok(row.try_get(0usize)?)
        })
    }

    fn settle_letter<'a>(
        &'a mut self,
        key: &'a ProjectionKey,
        position: Position,
        settlement: Settlement<'a>,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let statement = match settlement {
                Settlement::Remove => Statement::RemoveLetter,
                Settlement::Skip(_) => Statement::SkipLetter,
            };
            let query = sqlx::query(sql::<DB>(statement))
                .bind(key.name.as_str())
                .bind(version(key))
                .bind(int(position.0));
            match settlement {
                Settlement::Skip(why) => query.bind(why).execute(&mut **self).await?,
                Settlement::Remove => query.execute(&mut **self).await?,
            };
            Ok(())
        })
    }

    fn record_letter_failure<'a>(
        &'a mut self,
        key: &'a ProjectionKey,
        position: Position,
        reason: &'a str,
        at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            sqlx::query(sql::<DB>(Statement::RecordLetterFailure))
                .bind(key.name.as_str())
                .bind(version(key))
                .bind(int(position.0))
                .bind(reason)
                .bind(DB::time(at))
                .execute(&mut **self)
                .await?;
            Ok(())
        })
    }

    fn lock_registrations(&mut self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            sqlx::query(sql::<DB>(Statement::LockRegistrations))
                .execute(&mut **self)
                .await?;
            Ok(())
        })
    }

    fn tables_of_others<'a>(
        &'a mut self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<TablesByProjection>> {
        Box::pin(async move {
            let rows = sqlx::query(sql::<DB>(Statement::TablesOfOthers))
                .bind(name)
                .fetch_all(&mut **self)
                .await?;
            rows.iter()
                .map(|row| Ok((row.try_get(0usize)?, DB::tables_of(row.try_get(1usize)?))))
                .collect()
        })
    }

    fn register_projection<'a>(
        &'a mut self,
        key: &'a ProjectionKey,
        tables: &'a [String],
        at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            sqlx::query(sql::<DB>(Statement::RegisterProjection))
                .bind(key.name.as_str())
                .bind(version(key))
                .bind(DB::time(at))
                .bind(DB::tables(tables))
                .execute(&mut **self)
                .await?;
            Ok(())
        })
    }

    fn checkpoint<'a>(
        &'a mut self,
        key: &'a ProjectionKey,
        lock: bool,
    ) -> BoxFuture<'a, Result<Option<Position>>> {
        Box::pin(async move {
            let statement = if lock {
                Statement::LockCheckpoint
            } else {
                Statement::Checkpoint
            };
            let row = sqlx::query(sql::<DB>(statement))
                .bind(key.name.as_str())
                .bind(version(key))
                .fetch_optional(&mut **self)
                .await?;
            row.map(|row| Ok(position(row.try_get(0usize)?)))
                .transpose()
        })
    }

    fn advance_checkpoint<'a>(
        &'a mut self,
        key: &'a ProjectionKey,
        from: Position,
        to: Position,
        lease: Option<(&'a str, DateTime<Utc>)>,
        at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let query = sqlx::query(sql::<DB>(Statement::AdvanceCheckpoint))
                .bind(key.name.as_str())
                .bind(version(key))
                .bind(int(from.0))
                .bind(int(to.0))
                .bind(DB::time(at));
            let query = if DB::FENCES_BY_OWNER {
                query
                    .bind(lease.map(|(owner, _)| owner))
                    .bind(DB::time(lease.map_or(at, |(_, until)| until)))
            } else {
                query
            };
            let done = query.execute(&mut **self).await?;
            Ok(DB::rows_affected(&done) == 1)
        })
    }

    fn make_live<'a>(&'a mut self, key: &'a ProjectionKey) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            sqlx::query(sql::<DB>(Statement::RetireLive))
                .bind(key.name.as_str())
                .execute(&mut **self)
                .await?;
            sqlx::query(sql::<DB>(Statement::Promote))
                .bind(key.name.as_str())
                .bind(version(key))
                .execute(&mut **self)
                .await?;
            Ok(())
        })
    }

    fn record_changes<'a>(&'a mut self, changes: &'a Changes<'a>) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let rows = DB::change_rows(changes)?;
            sqlx::query(sql::<DB>(Statement::RecordChanges))
                .bind(changes.projection)
                .bind(i32::try_from(changes.version).unwrap_or(i32::MAX))
                .bind(changes.model.table)
                .bind(rows.as_str())
                .bind(DB::time(changes.at))
                .execute(&mut **self)
                .await?;
            sqlx::query(sql::<DB>(Statement::TrimChanges))
                .bind(changes.projection)
                .bind(i32::try_from(changes.version).unwrap_or(i32::MAX))
                .bind(changes.model.table)
                .bind(RETAINED)
                .execute(&mut **self)
                .await?;
            Ok(())
        })
    }

    fn delete_version<'a>(&'a mut self, key: &'a ProjectionKey) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            for statement in [
                Statement::DeleteLettersOfVersion,
                Statement::DeleteChangesOfVersion,
                Statement::DeleteProjection,
            ] {
                sqlx::query(sql::<DB>(statement))
                    .bind(key.name.as_str())
                    .bind(version(key))
                    .execute(&mut **self)
                    .await?;
            }
            Ok(())
        })
    }
}

impl<DB> ReadSidePools for SqlDatabase<DB>
where
    DB: ReadSideSql,
    DB::Arguments: IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'t> &'t str: Encode<'t, DB> + Type<DB>,
    for<'t> Option<&'t str>: Encode<'t, DB> + Type<DB>,
    for<'t> i32: Encode<'t, DB> + Type<DB>,
    for<'t> Uuid: Encode<'t, DB> + Type<DB>,
    for<'t> bool: Encode<'t, DB> + Type<DB>,
    for<'r> bool: Decode<'r, DB> + Type<DB>,
    for<'r> i32: Decode<'r, DB> + Type<DB>,
    for<'r> i64: Decode<'r, DB> + Type<DB>,
    for<'r> String: Decode<'r, DB> + Type<DB>,
    for<'r> Option<String>: Decode<'r, DB> + Type<DB>,
    for<'r> Uuid: Decode<'r, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
    for<'n> &'n str: ColumnIndex<DB::Row>,
{
    fn statuses<'a>(
        &'a self,
        name: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Vec<ProjectionStatus>>> {
        Box::pin(async move {
            let rows = sqlx::query(sql::<DB>(Statement::Statuses))
                .bind(name)
                .fetch_all(&self.reader)
                .await?;
            rows.iter()
                .map(|row| {
                    Ok(ProjectionStatus {
                        key: ProjectionKey {
                            name: row.try_get("name")?,
                            version: row.try_get::<i32, _>("version")?.max(0) as u32,
                        },
                        stage: Stage::parse(&row.try_get::<String, _>("status")?),
                        checkpoint: position(row.try_get("checkpoint")?),
                        tables: DB::tables_of(row.try_get("tables")?),
                        updated_at: DB::time_of(row.try_get("updated_at")?),
                    })
                })
                .collect()
        })
    }

    fn checkpoint<'a>(&'a self, key: &'a ProjectionKey) -> BoxFuture<'a, Result<Option<Position>>> {
        Box::pin(async move {
            let row = sqlx::query(sql::<DB>(Statement::Checkpoint))
                .bind(key.name.as_str())
                .bind(version(key))
                .fetch_optional(&self.reader)
                .await?;
            row.map(|row| Ok(position(row.try_get(0usize)?)))
                .transpose()
        })
    }

    fn try_lease<'a>(
        &'a self,
        key: &'a ProjectionKey,
        owner: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Option<Box<dyn HeldLease>>>> {
        DB::try_lease(self, LeaseAsk { key, owner, ttl })
    }

    fn letters<'a>(
        &'a self,
        key: &'a ProjectionKey,
        filter: LetterFilter<'a>,
    ) -> BoxFuture<'a, Result<Vec<DeadLetter>>> {
        Box::pin(async move {
            let rows = sqlx::query(sql::<DB>(Statement::ListLetters))
                .bind(key.name.as_str())
                .bind(version(key))
                .bind(filter.stream)
                .bind(filter.parked_only)
                .fetch_all(&self.reader)
                .await?;
            rows.iter()
                .map(|row| {
                    Ok(LetterRow {
                        position: row.try_get("position")?,
                        stream_id: row.try_get("stream_id")?,
                        stream_version: row.try_get("stream_version")?,
                        event_id: row.try_get("event_id")?,
                        event_type: row.try_get("event_type")?,
                        status: row.try_get("status")?,
                        reason: row.try_get("reason")?,
                        attempts: i64::from(row.try_get::<i32, _>("attempts")?),
                        parked_at: DB::time_of(row.try_get("parked_at")?),
                        last_attempt_at: DB::time_of(row.try_get("last_attempt_at")?),
                        skip_reason: row.try_get("skip_reason")?,
                        error_kind: row.try_get("error_kind")?,
                    }
                    .into_letter(key))
                })
                .collect()
        })
    }

    fn delivered<'a>(&'a self, consumer: &'a str, id: EventId) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let row = sqlx::query(sql::<DB>(Statement::Delivered))
                .bind(consumer)
                .bind(id.as_uuid())
                .fetch_one(&self.writer)
                .await?;
            Ok(row.try_get(0usize)?)
        })
    }

    fn record_delivered<'a>(
        &'a self,
        consumer: &'a str,
        id: EventId,
        at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let done = sqlx::query(sql::<DB>(Statement::RecordDelivered))
                .bind(consumer)
                .bind(id.as_uuid())
                .bind(DB::time(at))
                .execute(&self.writer)
                .await?;
            Ok(DB::rows_affected(&done) == 1)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{ReadSideSql, Statement, sql};

    fn every_statement_is_there<DB: ReadSideSql>(not_used: &[Statement]) {
        let used = Statement::ALL
            .into_iter()
            .filter(|s| !not_used.iter().any(|n| n.name() == s.name()));
        for statement in used {
            assert!(
                !sql::<DB>(statement).is_empty(),
                "{} has no statement named {}",
                DB::NAME,
                statement.name()
            );
        }
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn sqlite_has_every_statement() {
        every_statement_is_there::<sqlx::Sqlite>(&[]);
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn postgres_has_every_statement() {
        // Its leases are session locks: nothing to renew or give back by statement.
        every_statement_is_there::<sqlx::Postgres>(&[
            Statement::RenewLease,
            Statement::ReleaseLease,
        ]);
    }
}
