//! The transaction a batch of events is projected in, with typed access to the
//! projection's read-model tables.

use serde_json::{Map, Value};
use sqlx::AssertSqlSafe;
#[cfg(feature = "sqlite")]
use sqlx::Row;

use super::ProjectionError;
use super::batch_writes::{self, WriteBuffer};
use super::database::ReadSideTx;
use crate::projection::read_model::{Column, ColumnType, KeyOf, ReadModel, ReadModelDescriptor};

type Result<T, E = ProjectionError> = std::result::Result<T, E>;

/// One batch's database transaction: the handlers' read-model writes and the
/// projection's checkpoint commit together or not at all.
///
/// [`update`](Self::update), [`upsert`](Self::upsert), [`delete`](Self::delete) and
/// [`get`](Self::get) work on the projection version's own tables on either backend.
/// Their changes are kept in memory, coalesced per row, and written when the batch
/// commits with one statement per table and kind of change (see
/// [`batch_writes`](super::batch_writes)), so a handler that changes a row per event
/// costs no round trip per event. For anything else, run SQL on
/// [`sqlite`](Self::sqlite) or [`postgres`](Self::postgres) against
/// [`table`](Self::table)`::<M>()`; the changes made before are written first.
pub struct ProjectionTx {
    pub(crate) conn: Conn,
    /// The projection version whose tables it writes.
    key: super::ProjectionKey,
    writes: WriteBuffer,
    /// Whether a flush recorded row changes (subscribers are woken after the commit).
    changed: bool,
    /// Why a flush failed, if one did: what it wrote before failing stays in the
    /// transaction and the rest is gone, so the transaction must not commit (unless a
    /// savepoint rolls the failure back).
    poisoned: Option<String>,
}

pub(crate) enum Conn {
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    #[cfg(feature = "postgres")]
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl Conn {
    /// The read side's statements on this transaction. (The one place that tells the
    /// backends apart, until the transaction itself is a [`ReadSideTx`].)
    pub(crate) fn read_side(&mut self) -> &mut dyn ReadSideTx {
        match self {
            #[cfg(feature = "sqlite")]
            Conn::Sqlite(tx) => tx,
            #[cfg(feature = "postgres")]
            Conn::Postgres(tx) => tx,
        }
    }
}

impl std::fmt::Debug for ProjectionTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let backend = match &self.conn {
            #[cfg(feature = "sqlite")]
            Conn::Sqlite(_) => "sqlite",
            #[cfg(feature = "postgres")]
            Conn::Postgres(_) => "postgres",
        };
        f.debug_struct("ProjectionTx")
            .field("backend", &backend)
            .field("projection", &self.key)
            .finish()
    }
}

/// Quotes an identifier (names come from derive-checked descriptors: `[a-z0-9_]`).
pub(super) use crate::projection::read_model::quote_ident as ident;

pub(super) fn row_error(
    model: &ReadModelDescriptor,
    reason: impl std::fmt::Display,
) -> ProjectionError {
    ProjectionError::Row {
        model: model.name,
        reason: reason.to_string(),
    }
}

pub(super) fn key_column(model: &'static ReadModelDescriptor) -> Result<&'static Column> {
    model
        .key_column()
        .ok_or_else(|| row_error(model, format!("key column {:?} is not a column", model.key)))
}

/// A value ready to bind on SQLite.
#[cfg(feature = "sqlite")]
pub(super) enum SqliteValue {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

/// Converts a field's JSON value to what its column stores on SQLite.
#[cfg(feature = "sqlite")]
pub(super) fn to_sqlite(
    model: &ReadModelDescriptor,
    col: &Column,
    value: &Value,
) -> Result<SqliteValue> {
    let bad = |what: &str| {
        row_error(
            model,
            format!("field {} is {value} where {what} was expected", col.name),
        )
    };
    Ok(match (col.ty, value) {
        (_, Value::Null) => SqliteValue::Null,
        (ColumnType::Integer, v) => {
            SqliteValue::Int(v.as_i64().ok_or_else(|| bad("an integer within i64"))?)
        }
        (ColumnType::Real, v) => SqliteValue::Real(v.as_f64().ok_or_else(|| bad("a number"))?),
        (ColumnType::Boolean, v) => {
            SqliteValue::Int(v.as_bool().ok_or_else(|| bad("a boolean"))? as i64)
        }
        (ColumnType::Timestamp, Value::String(s)) => {
            SqliteValue::Int(micros_of(s).ok_or_else(|| bad("an RFC 3339 time"))?)
        }
        (ColumnType::Text | ColumnType::Uuid, Value::String(s)) => SqliteValue::Text(s.clone()),
        (ColumnType::Json, v) => SqliteValue::Text(v.to_string()),
        (ColumnType::Timestamp, _) => return Err(bad("an RFC 3339 time")),
        (ColumnType::Text | ColumnType::Uuid, _) => return Err(bad("a string")),
    })
}

/// Reads column `i` of a SQLite row back into the JSON serde expects.
#[cfg(feature = "sqlite")]
pub(super) fn from_sqlite(
    model: &ReadModelDescriptor,
    col: &Column,
    row: &sqlx::sqlite::SqliteRow,
    i: usize,
) -> Result<Value> {
    let corrupt = |e: &dyn std::fmt::Display| row_error(model, format!("column {}: {e}", col.name));
    Ok(match col.ty {
        ColumnType::Integer => row
            .try_get::<Option<i64>, _>(i)?
            .map_or(Value::Null, Value::from),
        ColumnType::Real => row
            .try_get::<Option<f64>, _>(i)?
            .map_or(Value::Null, Value::from),
        ColumnType::Boolean => row
            .try_get::<Option<i64>, _>(i)?
            .map_or(Value::Null, |b| Value::Bool(b != 0)),
        ColumnType::Timestamp => match row.try_get::<Option<i64>, _>(i)? {
            None => Value::Null,
            Some(micros) => {
                let at = chrono::DateTime::from_timestamp_micros(micros)
                    .ok_or_else(|| corrupt(&format!("{micros} is not a time")))?;
                Value::String(at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
            }
        },
        ColumnType::Text | ColumnType::Uuid => row
            .try_get::<Option<String>, _>(i)?
            .map_or(Value::Null, Value::String),
        ColumnType::Json => match row.try_get::<Option<&str>, _>(i)? {
            None => Value::Null,
            Some(text) => serde_json::from_str(text).map_err(|e| corrupt(&e))?,
        },
    })
}

/// An RFC 3339 time as microseconds since the epoch (finer digits cut), if it is one.
pub(super) fn micros_of(text: &str) -> Option<i64> {
    text.parse::<chrono::DateTime<chrono::Utc>>()
        .ok()
        .map(|t| t.timestamp_micros())
}

/// The text PostgreSQL casts to the column's type (`$n::bigint` and so on).
#[cfg(feature = "postgres")]
pub(super) fn to_postgres(
    model: &ReadModelDescriptor,
    col: &Column,
    value: &Value,
) -> Result<Option<String>> {
    Ok(match (col.ty, value) {
        (_, Value::Null) => None,
        (ColumnType::Json, v) => Some(v.to_string()),
        // Stored to the microsecond, cut as on SQLite (PostgreSQL would round), so that
        // a key finds its row whatever finer digits it carried.
        (ColumnType::Timestamp, Value::String(s)) => Some(match micros_of(s) {
            Some(micros) => chrono::DateTime::from_timestamp_micros(micros)
                .unwrap_or_default()
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            None => s.clone(),
        }),
        (_, Value::String(s)) => Some(s.clone()),
        (ColumnType::Integer | ColumnType::Real, Value::Number(n)) => Some(n.to_string()),
        (ColumnType::Boolean, Value::Bool(b)) => Some(b.to_string()),
        (_, v) => {
            return Err(row_error(
                model,
                format!(
                    "field {} is {v}, which a {} column cannot hold",
                    col.name,
                    col.ty.postgres()
                ),
            ));
        }
    })
}

pub(super) fn fields(model: &ReadModelDescriptor, value: Value) -> Result<Map<String, Value>> {
    match value {
        Value::Object(map) => Ok(map),
        other => Err(row_error(
            model,
            format!("serialises to {other}, not to an object of fields"),
        )),
    }
}

impl ProjectionTx {
    pub(super) fn new(conn: Conn, key: &super::ProjectionKey) -> Self {
        ProjectionTx {
            conn,
            key: key.clone(),
            writes: WriteBuffer::default(),
            changed: false,
            poisoned: None,
        }
    }

    /// The projection version whose tables this transaction writes.
    pub fn version(&self) -> u32 {
        self.key.version
    }

    /// The table `M` is stored in for this projection version (`balances_v2`), for SQL
    /// of your own.
    pub fn table<M: ReadModel>(&self) -> String {
        M::descriptor().table_for(self.key.version)
    }

    /// The SQLite connection inside the transaction, if the store is SQLite. The row
    /// changes made so far are written first, so your SQL sees them.
    #[cfg(feature = "sqlite")]
    pub async fn sqlite(&mut self) -> Result<Option<&mut sqlx::SqliteConnection>> {
        self.flush().await?;
        Ok(match &mut self.conn {
            Conn::Sqlite(tx) => Some(&mut **tx),
            #[cfg(feature = "postgres")]
            Conn::Postgres(_) => None,
        })
    }

    /// The PostgreSQL connection inside the transaction, if the store is PostgreSQL. The
    /// row changes made so far are written first, so your SQL sees them.
    #[cfg(feature = "postgres")]
    pub async fn postgres(&mut self) -> Result<Option<&mut sqlx::PgConnection>> {
        self.flush().await?;
        Ok(match &mut self.conn {
            Conn::Postgres(tx) => Some(&mut **tx),
            #[cfg(feature = "sqlite")]
            Conn::Sqlite(_) => None,
        })
    }

    /// The row of `M` with this key, if there is one, as this batch left it.
    ///
    /// The first read of a key in a batch goes to the table; later reads, and the
    /// changes, stay in memory until the batch commits.
    pub async fn get<M, K>(&mut self, key: &K) -> Result<Option<M>>
    where
        M: ReadModel,
        K: KeyOf<M> + ?Sized,
    {
        let model = M::descriptor();
        let key = serde_json::to_value(key).map_err(|e| row_error(model, e))?;
        if let Some(known) = self.writes.rows::<M>().known(&key)? {
            return Ok(known);
        }
        let stored = batch_writes::load(
            &mut self.conn,
            model,
            self.key.version,
            std::slice::from_ref(&key),
        )
        .await?
        .into_iter()
        .next()
        .map(batch_writes::decode_row::<M>)
        .transpose()?;
        // Changes waiting for this row are applied to it now.
        let rows = self.writes.rows::<M>();
        rows.loaded(key.clone(), stored)?;
        Ok(rows.known(&key)?.flatten())
    }

    /// Inserts the row, or replaces the row with the same key (written when the batch
    /// commits, together with the batch's other changes of the table).
    pub fn upsert<M: ReadModel>(&mut self, row: M) -> Result<()> {
        let model = M::descriptor();
        let key = serde_json::to_value(row.key()).map_err(|e| row_error(model, e))?;
        self.writes.rows::<M>().set(key, Some(row))
    }

    /// Inserts the row, or replaces the row with the same key: [`upsert`](Self::upsert)
    /// of a copy.
    pub async fn put<M: ReadModel>(&mut self, row: &M) -> Result<()> {
        let model = M::descriptor();
        let value = serde_json::to_value(row).map_err(|e| row_error(model, e))?;
        let row: M = serde_json::from_value(value).map_err(|e| row_error(model, e))?;
        self.upsert(row)
    }

    /// Changes the row with this key: `change` gets the row (`None` if there is none) and
    /// returns what it becomes (`None` deletes it). The change must keep the key.
    ///
    /// Nothing is read here: the change is applied to the row this batch already has, or
    /// kept until the batch commits, when the stored rows of every changed key are
    /// loaded with one statement and the changes applied in order.
    ///
    /// ```
    /// # use factum::projection::{ProjectionTx, ProjectionError};
    /// # #[derive(factum::ReadModel, serde::Serialize, serde::Deserialize)]
    /// # struct Balance { #[key] account: String, cents: i64 }
    /// fn deposit(tx: &mut ProjectionTx, account: &str, cents: i64) -> Result<(), ProjectionError> {
    ///     let owner = account.to_owned();
    ///     tx.update::<Balance, _>(account, move |row| {
    ///         let mut row = row.unwrap_or(Balance { account: owner, cents: 0 });
    ///         row.cents += cents;
    ///         Some(row)
    ///     })
    /// }
    /// ```
    pub fn update<M, K>(
        &mut self,
        key: &K,
        change: impl FnOnce(Option<M>) -> Option<M> + Send + 'static,
    ) -> Result<()>
    where
        M: ReadModel,
        K: KeyOf<M> + ?Sized,
    {
        let model = M::descriptor();
        let key = serde_json::to_value(key).map_err(|e| row_error(model, e))?;
        self.writes.rows::<M>().change(key, Box::new(change))
    }

    /// Deletes the row with this key, if there is one (when the batch commits).
    pub fn delete<M, K>(&mut self, key: &K) -> Result<()>
    where
        M: ReadModel,
        K: KeyOf<M> + ?Sized,
    {
        let model = M::descriptor();
        let key = serde_json::to_value(key).map_err(|e| row_error(model, e))?;
        self.writes.rows::<M>().set(key, None)
    }

    /// Writes the row changes made so far (the runner does this before it commits).
    pub async fn flush(&mut self) -> Result<()> {
        if let Some(reason) = &self.poisoned {
            return Err(ProjectionError::Row {
                model: "(batch)",
                reason: format!("an earlier write of this batch failed: {reason}"),
            });
        }
        if self.writes.is_empty() {
            return Ok(());
        }
        let result = self.writes.flush(&mut self.conn, &self.key).await;
        match result {
            Ok(recorded) => {
                self.changed |= recorded;
                Ok(())
            }
            Err(err) => {
                self.writes.clear();
                self.poisoned = Some(err.to_string());
                Err(err)
            }
        }
    }

    /// Drops the row changes not yet written (the savepoint they belong to was rolled
    /// back).
    pub(super) fn discard_writes(&mut self) {
        self.writes.clear();
        self.poisoned = None;
    }

    /// Runs a statement without parameters (savepoints, DDL) on either backend.
    pub(super) async fn execute(&mut self, sql: String) -> Result<()> {
        match &mut self.conn {
            #[cfg(feature = "sqlite")]
            Conn::Sqlite(tx) => {
                sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut **tx).await?;
            }
            #[cfg(feature = "postgres")]
            Conn::Postgres(tx) => {
                sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut **tx).await?;
            }
        }
        Ok(())
    }

    /// Commits the batch.
    pub(crate) async fn commit(mut self) -> Result<()> {
        self.flush().await?;
        let changed = self.changed;
        match self.conn {
            #[cfg(feature = "sqlite")]
            Conn::Sqlite(tx) => tx.commit().await?,
            #[cfg(feature = "postgres")]
            Conn::Postgres(tx) => tx.commit().await?,
        }
        if changed {
            super::changes::committed();
        }
        Ok(())
    }
}
