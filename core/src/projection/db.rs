//! Where projections keep their state: the store's own database (or one of their own).
//! Projection rows: registration, statuses, the checkpoint and its fence.

use std::time::Duration;

use chrono::{DateTime, Utc};

use std::any::Any;
use std::sync::Arc;

use super::database::{ReadSideDb, ReadSidePools};
use super::tx::ProjectionTx;
use crate::store::sql::read_side::SqlDatabase;
use super::{ProjectionError, ProjectionKey};
use crate::projection::read_model::ReadModelDescriptor;
use crate::{EventStore, Position};

type Result<T, E = ProjectionError> = std::result::Result<T, E>;

/// The database a store keeps projections in: its own, or one of their own
/// ([`open_sqlite`](Self::open_sqlite), [`connect_postgres`](Self::connect_postgres)).
/// Cloning it shares its pools.
#[derive(Clone, Debug)]
pub struct ProjectionDb {
    db: Arc<dyn ReadSideDb>,
}

/// A store that can keep projections: read models, checkpoints and dead letters live in
/// its database, so that they commit together.
pub trait ProjectionStore: EventStore + Clone + 'static {
    /// The store's database.
    fn projection_db(&self) -> ProjectionDb;
}

impl<S: ProjectionStore> ProjectionStore for std::sync::Arc<S> {
    fn projection_db(&self) -> ProjectionDb {
        (**self).projection_db()
    }
}

/// Where a projection version stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Stage {
    /// Catching up beside the live version; queries do not read it.
    Building,
    /// The version queries read.
    Live,
    /// Replaced by a newer live version; its tables may be dropped.
    Retired,
}

impl Stage {
    pub(crate) fn parse(text: &str) -> Stage {
        match text {
            "live" => Stage::Live,
            "retired" => Stage::Retired,
            _ => Stage::Building,
        }
    }
}

/// A projection version's row.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProjectionStatus {
    /// Name and version.
    pub key: ProjectionKey,
    /// Building, live or retired.
    pub stage: Stage,
    /// Every event at or below this position has been applied.
    pub checkpoint: Position,
    /// Its read-model tables.
    pub tables: Vec<String>,
    /// When the checkpoint last moved.
    pub updated_at: DateTime<Utc>,
}

impl ProjectionDb {
    /// A database of a backend's.
    pub(crate) fn new(db: impl ReadSideDb) -> Self {
        ProjectionDb { db: Arc::new(db) }
    }

    /// The SQL database, if its driver is `DB` (as [`sqlite`](Self::sqlite) and
    /// [`postgres`](Self::postgres) ask).
    pub fn sql<DB: sqlx::Database>(&self) -> Option<&SqlDatabase<DB>> {
        let db: &dyn Any = &*self.db;
        db.downcast_ref()
    }

    /// The read side's statements on this database's pools.
    pub(crate) fn read_side(&self) -> &dyn ReadSidePools {
        &*self.db
    }

    /// The database the GraphQL API queries, through connections of its own.
    #[cfg(feature = "graphql")]
    pub(crate) fn for_queries(&self) -> Box<dyn crate::store::sql::queries::QueryDb> {
        self.db.for_queries()
    }

    /// Begins a write transaction on the tables of projection version `key`.
    pub(crate) async fn begin(&self, key: &ProjectionKey) -> Result<ProjectionTx> {
        Ok(ProjectionTx::new(self.db.begin(true).await?, key))
    }

    /// Begins a read-only transaction on the tables of projection version `key`.
    pub(super) async fn begin_read(&self, key: &ProjectionKey) -> Result<ProjectionTx> {
        Ok(ProjectionTx::new(self.db.begin(false).await?, key))
    }

    /// Makes sure the projection version has its row and its tables, and returns its
    /// checkpoint. The first version of a name goes live at once; later ones build
    /// beside it until [`Projections::switch`].
    pub(crate) async fn register(
        &self,
        key: &ProjectionKey,
        models: &[&'static ReadModelDescriptor],
    ) -> Result<Position> {
        let tables: Vec<String> = models.iter().map(|m| m.table_for(key.version)).collect();
        let mut tx = self.begin(key).await?;
        let side = &mut tx.conn;
        side.lock_registrations().await?;
        let owners = side.tables_of_others(&key.name).await?;
        for (owner, theirs) in owners {
            if let Some(table) = tables.iter().find(|t| theirs.contains(t)) {
                return Err(ProjectionError::TableTaken {
                    projection: key.clone(),
                    table: table.clone(),
                    owner,
                });
            }
        }
        for model in models {
            tx.conn.create_tables(model, key.version).await?;
        }
        let side = &mut tx.conn;
        side.register_projection(key, &tables, Utc::now()).await?;
        let checkpoint = side.checkpoint(key, false).await?.unwrap_or_default();
        tx.commit().await?;
        Ok(checkpoint)
    }

    /// Every version of the projection `name` (every projection if `name` is `None`).
    pub(crate) async fn statuses(&self, name: Option<&str>) -> Result<Vec<ProjectionStatus>> {
        self.read_side().statuses(name).await
    }

    /// The checkpoint of one projection version.
    pub(crate) async fn checkpoint(&self, key: &ProjectionKey) -> Result<Option<Position>> {
        self.read_side().checkpoint(key).await
    }
}

impl ProjectionTx {
    /// Moves the checkpoint from `from` to `to`, if it is still at `from` (and, on
    /// SQLite, the lease is still `owner`'s, which this renews): the fence that keeps
    /// two instances from both applying a batch.
    pub(crate) async fn advance(
        &mut self,
        key: &ProjectionKey,
        from: Position,
        to: Position,
        owner: Option<&str>,
        ttl: Duration,
    ) -> Result<()> {
        let now = Utc::now();
        let until = chrono::TimeDelta::from_std(ttl)
            .ok()
            .and_then(|ttl| now.checked_add_signed(ttl))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let moved = self
            .conn
            .advance_checkpoint(key, from, to, owner.map(|o| (o, until)), now)
            .await?;
        if moved {
            return Ok(());
        }
        let found = self.lock_checkpoint(key).await?;
        Err(ProjectionError::LeaseLost {
            projection: key.clone(),
            expected: from.0,
            found: found.map_or(0, |p| p.0),
        })
    }

    /// Reads the checkpoint, locking the projection's row until the transaction ends
    /// (so that dead-letter operations and batches of one projection do not interleave).
    pub(crate) async fn lock_checkpoint(
        &mut self,
        key: &ProjectionKey,
    ) -> Result<Option<Position>> {
        self.conn.checkpoint(key, true).await
    }
}
