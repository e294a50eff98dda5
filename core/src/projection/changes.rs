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
use super::database::ReadSideTx;
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
/// `deleted` (the stored rows deleted, as [`ReadSideTx::load_rows`] returned
/// them), then drops what falls out of the retained window.
pub(super) async fn record(
    conn: &mut dyn ReadSideTx,
    projection: &str,
    version: u32,
    model: &'static ReadModelDescriptor,
    upserts: &[Map<String, Value>],
    deleted: &[Value],
) -> Result<()> {
    let changes = Changes {
        projection,
        version,
        model,
        upserts,
        deleted,
        at: chrono::Utc::now(),
    };
    conn.record_changes(&changes).await
}

/// One batch's changes of one read model, to record.
pub(crate) struct Changes<'a> {
    pub(crate) projection: &'a str,
    pub(crate) version: u32,
    pub(crate) model: &'static ReadModelDescriptor,
    /// The rows written, as field maps.
    pub(crate) upserts: &'a [Map<String, Value>],
    /// The stored rows deleted.
    pub(crate) deleted: &'a [Value],
    pub(crate) at: chrono::DateTime<chrono::Utc>,
}
