//! Read models in a SQLite file of their own ([`ProjectionDb::open_sqlite`]).

use crate::projection::{ProjectionDb, ProjectionError};
use crate::store::read_side::SqlDatabase;

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
        // A store's own database: its migrations keep the projection tables.
        let owned_by_store: bool = sqlx::query_scalar(include_str!("owned_by_store.sql"))
            .fetch_one(&writer)
            .await?;
        if !owned_by_store {
            crate::store::migrations::read_model_migrator([
                include_str!("../migrations/0004_projections.sql"),
                include_str!("../migrations/0007_dead_letter_kind.sql"),
                include_str!("../migrations/0008_read_model_changes.sql"),
            ])
            .run(&writer)
            .await
            .map_err(|e| ProjectionError::Database(e.into()))?;
        }
        let reader = reader_pool(base, 4).await?;
        Ok(ProjectionDb::new(SqlDatabase {
            writer,
            reader,
            schema: None,
        }))
    }
}
