//! The transaction a batch of events is projected in, with typed access to the
//! projection's read-model tables.

use serde_json::{Map, Value};

use super::ProjectionError;
use super::batch_writes::{self, WriteBuffer};
use super::database::{ReadSideTx, Savepoint};
use crate::projection::read_model::{Column, KeyOf, ReadModel, ReadModelDescriptor};

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

/// The batch's transaction, on whichever backend holds the read models.
pub(crate) type Conn = Box<dyn ReadSideTx>;

impl std::fmt::Debug for ProjectionTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProjectionTx")
            .field("backend", &self.conn.backend())
            .field("projection", &self.key)
            .finish()
    }
}

pub(crate) fn row_error(
    model: &ReadModelDescriptor,
    reason: impl std::fmt::Display,
) -> ProjectionError {
    ProjectionError::Row {
        model: model.name,
        reason: reason.to_string(),
    }
}

pub(crate) fn key_column(model: &'static ReadModelDescriptor) -> Result<&'static Column> {
    model
        .key_column()
        .ok_or_else(|| row_error(model, format!("key column {:?} is not a column", model.key)))
}

/// An RFC 3339 time as microseconds since the epoch (finer digits cut), if it is one.
pub(crate) fn micros_of(text: &str) -> Option<i64> {
    text.parse::<chrono::DateTime<chrono::Utc>>()
        .ok()
        .map(|t| t.timestamp_micros())
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

    /// The connection inside the transaction if the read models are in `DB`, after the
    /// row changes made so far are written (each backend's accessor, such as
    /// `sqlite()`, calls this).
    pub(crate) async fn connection<DB: sqlx::Database>(
        &mut self,
    ) -> Result<Option<&mut DB::Connection>> {
        self.flush().await?;
        Ok(self
            .conn
            .as_any()
            .downcast_mut::<sqlx::Transaction<'static, DB>>()
            .map(|tx| &mut **tx))
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
        let stored = self
            .conn
            .load_rows(model, self.key.version, std::slice::from_ref(&key))
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
        let result = self.writes.flush(&mut *self.conn, &self.key).await;
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

    /// Sets, releases or rolls back to the savepoint an event is applied under.
    pub(super) async fn savepoint(&mut self, step: Savepoint) -> Result<()> {
        self.conn.savepoint(step).await
    }

    /// Commits the batch.
    pub(crate) async fn commit(mut self) -> Result<()> {
        self.flush().await?;
        let changed = self.changed;
        self.conn.commit().await?;
        if changed {
            super::changes::committed();
        }
        Ok(())
    }
}
