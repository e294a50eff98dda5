//! Read models in a SQLite file of their own ([`ProjectionDb::open_sqlite`]).

use crate::projection::{ProjectionDb, ProjectionError};
use crate::store::sql::read_side::{SqlDatabase, prepare_own_database};

type Result<T, E = ProjectionError> = std::result::Result<T, E>;

impl ProjectionDb {
    /// Read models in a SQLite file of their own (created if missing, in WAL mode),
    /// with its projection tables created or brought up to date.
    pub async fn open_sqlite(path: impl AsRef<std::path::Path>) -> Result<Self> {
        use crate::store::sqlite::{reader_pool, writer_pool};
        use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
        use std::time::Duration;

        let base = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(30))
            .pragma("temp_store", "memory");
        // One write connection, as for a store: read-model batches queue for it.
        let writer = writer_pool(base.clone()).await?;
        prepare_own_database(&writer).await?;
        let reader = reader_pool(base, 4).await?;
        Ok(ProjectionDb::new(SqlDatabase {
            writer,
            reader,
            schema: None,
        }))
    }
}
