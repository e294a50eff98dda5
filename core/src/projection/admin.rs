//! The projections admin API: the state of every projection version, waiting for a
//! checkpoint, reading read-model rows, switching the live version and dropping old ones.

use std::time::{Duration, Instant};

use super::db::{ProjectionDb, ProjectionStatus, ProjectionStore, Stage};
use super::{ProjectionError, ProjectionKey};
use crate::Position;
use crate::projection::read_model::{KeyOf, ReadModel};

type Result<T, E = ProjectionError> = std::result::Result<T, E>;

/// Reading projections' state and read models, and managing their versions.
#[derive(Clone, Debug)]
pub struct Projections {
    db: ProjectionDb,
}

impl Projections {
    /// Projections kept in `store`'s database.
    pub fn new<S: ProjectionStore>(store: S) -> Self {
        Projections {
            db: store.projection_db(),
        }
    }

    /// Projections kept in this database.
    pub fn from_db(db: ProjectionDb) -> Self {
        Projections { db }
    }

    /// The database.
    pub fn db(&self) -> &ProjectionDb {
        &self.db
    }

    /// Every version of every projection, by name then version.
    pub async fn all(&self) -> Result<Vec<ProjectionStatus>> {
        self.db.statuses(None).await
    }

    /// The checkpoint of one projection version (`None` if it never ran here).
    pub async fn checkpoint(&self, key: &ProjectionKey) -> Result<Option<Position>> {
        self.db.checkpoint(key).await
    }

    /// Every version of the projection `name`.
    pub async fn versions(&self, name: &str) -> Result<Vec<ProjectionStatus>> {
        self.db.statuses(Some(name)).await
    }

    /// The live version of `name`.
    pub async fn live(&self, name: &str) -> Result<ProjectionStatus> {
        self.versions(name)
            .await?
            .into_iter()
            .find(|s| s.stage == Stage::Live)
            .ok_or_else(|| ProjectionError::Unknown(name.to_owned()))
    }

    /// Reads your own writes: waits until the live version of `name` has applied
    /// everything up to `position` (a position from
    /// [`Executed`](crate::aggregate::repository::Executed) or an append), or `timeout` passes.
    pub async fn wait_for(
        &self,
        name: &str,
        position: Position,
        timeout: Duration,
    ) -> Result<Position> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(1);
        loop {
            let live = self.live(name).await;
            let checkpoint = match live {
                Ok(live) if live.checkpoint >= position => return Ok(live.checkpoint),
                Ok(live) => live.checkpoint,
                // Not registered yet: its runner may be starting.
                Err(ProjectionError::Unknown(_)) => Position::START,
                Err(err) => return Err(err),
            };
            let waited = started.elapsed();
            if waited >= timeout {
                return Err(ProjectionError::WaitTimeout {
                    projection: name.to_owned(),
                    position: position.0,
                    checkpoint: checkpoint.0,
                    waited,
                });
            }
            tokio::time::sleep(pause.min(timeout - waited)).await;
            pause = (pause * 2).min(Duration::from_millis(25));
        }
    }

    /// The table read model `M` is in for the live version of `projection`, for queries
    /// of your own.
    pub async fn table<M: ReadModel>(&self, projection: &str) -> Result<String> {
        let live = self.live(projection).await?;
        Ok(M::descriptor().table_for(live.key.version))
    }

    /// The row of read model `M` with this key, from the live version of `projection`.
    pub async fn get<M, K>(&self, projection: &str, key: &K) -> Result<Option<M>>
    where
        M: ReadModel,
        K: KeyOf<M> + ?Sized,
    {
        let live = self.live(projection).await?;
        let mut tx = self.db.begin_read(&live.key).await?;
        tx.get::<M, K>(key).await
    }

    /// Makes `version` of `name` the one queries read, if it has caught up with the live
    /// version (its checkpoint is at or past the live one's). The old live version is
    /// retired; its tables stay until [`drop_version`](Self::drop_version).
    pub async fn switch(&self, name: &str, version: u32) -> Result<()> {
        let key = ProjectionKey {
            name: name.to_owned(),
            version,
        };
        let live = self.live(name).await?;
        if live.key.version == version {
            return Ok(());
        }
        let mut tx = self.db.begin(&key).await?;
        let Some(checkpoint) = tx.lock_checkpoint(&key).await? else {
            return Err(ProjectionError::Unknown(key.to_string()));
        };
        let live_now = tx
            .lock_checkpoint(&live.key)
            .await?
            .unwrap_or(live.checkpoint);
        if checkpoint < live_now {
            return Err(ProjectionError::NotCaughtUp {
                projection: key,
                checkpoint: checkpoint.0,
                live: live_now.0,
            });
        }
        tx.conn.make_live(&key).await?;
        tx.commit().await?;
        tracing::info!(
            projection = name,
            version,
            "projection version switched live"
        );
        Ok(())
    }

    /// Drops the tables, dead letters, recorded changes and row of a version that is not
    /// live.
    pub async fn drop_version(&self, name: &str, version: u32) -> Result<()> {
        let key = ProjectionKey {
            name: name.to_owned(),
            version,
        };
        let status = self
            .versions(name)
            .await?
            .into_iter()
            .find(|s| s.key.version == version)
            .ok_or_else(|| ProjectionError::Unknown(key.to_string()))?;
        if status.stage == Stage::Live {
            return Err(ProjectionError::DropLive(key));
        }
        let mut tx = self.db.begin(&key).await?;
        tx.lock_checkpoint(&key).await?;
        for table in &status.tables {
            tx.conn.drop_table(table).await?;
        }
        tx.conn.delete_version(&key).await?;
        tx.commit().await?;
        Ok(())
    }
}
