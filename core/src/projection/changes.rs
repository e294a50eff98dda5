//! The change feed of read models that record their changes
//! (`#[read_model(changes)]`): every row a batch upserted or deleted, written to the
//! `read_model_changes` table (`factum_read_model_changes` on SQLite) in the batch's own
//! transaction, so that a change is visible exactly when the rows it describes are.
//!
//! Each change names the projection version and read model, says `upsert` or `delete`,
//! and carries the row it left (for a deletion, the row deleted), as the table stores
//! it. Its `seq` orders it: one projection version is applied by one runner at a time,
//! batch after batch, so within a read model `seq` order is commit order. Within one batch
//! the changes are coalesced per row (the row as the batch left it), upserts before
//! deletions. The GraphQL API's subscriptions read the feed (see
//! [`graphql`](crate::graphql)); it keeps the newest [`RETAINED`] changes per read model
//! and version.

use std::sync::LazyLock;

use serde_json::{Map, Value};
use tokio::sync::watch;

use super::ProjectionError;
use super::tx::Conn;
use crate::projection::read_model::ReadModelDescriptor;

type Result<T, E = ProjectionError> = std::result::Result<T, E>;

/// How many changes the feed keeps per read model and projection version.
pub const RETAINED: i64 = 100_000;

/// Raised after every commit that recorded changes in this process.
static COMMITTED: LazyLock<watch::Sender<u64>> = LazyLock::new(|| watch::channel(0).0);

/// Wakes this process's subscribers: changes were committed.
pub(crate) fn committed() {
    COMMITTED.send_modify(|n| *n = n.wrapping_add(1));
}

/// A receiver that sees [`committed`] (subscribers in another process poll instead).
#[cfg_attr(not(feature = "graphql"), allow(dead_code))]
pub(crate) fn watch() -> watch::Receiver<u64> {
    COMMITTED.subscribe()
}

/// Records a batch's changes of `model`: `upserts` (the rows written, as field maps) and
/// `deleted` (the stored rows deleted, as [`load`](super::batch_writes::load) returned
/// them), then drops what falls out of the retained window.
pub(super) async fn record(
    conn: &mut Conn,
    projection: &str,
    version: u32,
    model: &'static ReadModelDescriptor,
    upserts: &[Map<String, Value>],
    deleted: &[Value],
) -> Result<()> {
    match conn {
        #[cfg(feature = "sqlite")]
        Conn::Sqlite(tx) => {
            // Rows as the table holds them, so that a filter reads them as it reads the
            // table (times as microseconds, booleans as 0 and 1, JSON as text).
            let stored = |fields: &Map<String, Value>| -> Result<Value> {
                let values = super::batch_writes::sqlite_values(model, fields)?;
                let names = model.columns.iter().map(|c| c.name.to_owned());
                Ok(Value::Object(names.zip(values).collect()))
            };
            let empty = Map::new();
            let mut changes = Vec::with_capacity(upserts.len() + deleted.len());
            for row in upserts {
                changes.push(Value::Array(vec!["upsert".into(), stored(row)?]));
            }
            for row in deleted {
                let fields = row.as_object().unwrap_or(&empty);
                changes.push(Value::Array(vec!["delete".into(), stored(fields)?]));
            }
            sqlx::query(
                "INSERT INTO factum_read_model_changes (projection, version, model, op, row, \
                 committed_at) \
                 SELECT ?1, ?2, ?3, json_extract(value, '$[0]'), json_extract(value, '$[1]'), ?5 \
                 FROM json_each(?4) ORDER BY key",
            )
            .bind(projection)
            .bind(i64::from(version))
            .bind(model.table)
            .bind(Value::Array(changes).to_string())
            .bind(chrono::Utc::now().timestamp_micros())
            .execute(&mut **tx)
            .await?;
            sqlx::query(
                "DELETE FROM factum_read_model_changes \
                 WHERE projection = ?1 AND version = ?2 AND model = ?3 AND seq <= \
                     (SELECT max(seq) FROM factum_read_model_changes \
                      WHERE projection = ?1 AND version = ?2 AND model = ?3) - ?4",
            )
            .bind(projection)
            .bind(i64::from(version))
            .bind(model.table)
            .bind(RETAINED)
            .execute(&mut **tx)
            .await?;
        }
        #[cfg(feature = "postgres")]
        Conn::Postgres(tx) => {
            let mut ops = Vec::with_capacity(upserts.len() + deleted.len());
            let mut rows = Vec::with_capacity(ops.capacity());
            for row in upserts {
                ops.push("upsert");
                rows.push(Value::Object(row.clone()).to_string());
            }
            for row in deleted {
                ops.push("delete");
                rows.push(row.to_string());
            }
            sqlx::query(
                "INSERT INTO read_model_changes (projection, version, model, op, row) \
                 SELECT $1, $2, $3, u.op, u.row::jsonb \
                 FROM unnest($4::text[], $5::text[]) WITH ORDINALITY AS u (op, row, n) \
                 ORDER BY u.n",
            )
            .bind(projection)
            .bind(version as i32)
            .bind(model.table)
            .bind(ops)
            .bind(rows)
            .execute(&mut **tx)
            .await?;
            sqlx::query(
                "DELETE FROM read_model_changes \
                 WHERE projection = $1 AND version = $2 AND model = $3 AND seq <= \
                     (SELECT max(seq) FROM read_model_changes \
                      WHERE projection = $1 AND version = $2 AND model = $3) - $4",
            )
            .bind(projection)
            .bind(version as i32)
            .bind(model.table)
            .bind(RETAINED)
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}
