//! Where projections keep their state: the store's own database. Projection rows
//! (checkpoint, live version), leases, and the operations on them.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::database::ReadSidePools;
use super::tx::{Conn, ProjectionTx};
use super::{ProjectionError, ProjectionKey};
use crate::projection::read_model::{Dialect, ReadModelDescriptor};
use crate::{EventStore, Position};

type Result<T, E = ProjectionError> = std::result::Result<T, E>;

/// The database a store keeps projections in: its own.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum ProjectionDb {
    /// A SQLite store's write and read pools.
    #[cfg(feature = "sqlite")]
    Sqlite {
        /// The single write connection.
        writer: sqlx::SqlitePool,
        /// Read connections.
        reader: sqlx::SqlitePool,
    },
    /// A PostgreSQL store's pool (its `search_path` is the store's schema).
    #[cfg(feature = "postgres")]
    Postgres {
        /// The pool.
        pool: sqlx::PgPool,
        /// The schema.
        schema: std::sync::Arc<str>,
    },
}

/// A store that can keep projections: read models, checkpoints and dead letters live in
/// its database, so that they commit together.
pub trait ProjectionStore: EventStore + Clone + 'static {
    /// The store's database.
    fn projection_db(&self) -> ProjectionDb;
}

#[cfg(feature = "sqlite")]
impl ProjectionStore for crate::SqliteStore {
    fn projection_db(&self) -> ProjectionDb {
        ProjectionDb::Sqlite {
            writer: self.write_pool().clone(),
            reader: self.read_pool().clone(),
        }
    }
}

#[cfg(feature = "postgres")]
impl ProjectionStore for crate::PostgresStore {
    fn projection_db(&self) -> ProjectionDb {
        ProjectionDb::Postgres {
            pool: self.pool().clone(),
            schema: self.schema().into(),
        }
    }
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
    fn parse(text: &str) -> Stage {
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

#[cfg(feature = "sqlite")]
fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

#[cfg(feature = "sqlite")]
fn from_micros(m: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(m).unwrap_or_default()
}

impl ProjectionDb {
    /// The read side's statements on this database's pools. (The one place that tells
    /// the backends apart, until the database itself is a [`ReadSidePools`].)
    pub(crate) fn read_side(&self) -> Box<dyn ReadSidePools + '_> {
        match self {
            #[cfg(feature = "sqlite")]
            ProjectionDb::Sqlite { writer, reader } => {
                Box::new(crate::store::sqlite::read_side::SqliteReadSide { writer, reader })
            }
            #[cfg(feature = "postgres")]
            ProjectionDb::Postgres { pool, .. } => {
                Box::new(crate::store::postgres::read_side::PostgresReadSide { pool })
            }
        }
    }
}

impl ProjectionDb {
    pub(super) fn dialect(&self) -> Dialect {
        if self.is_postgres() {
            Dialect::Postgres
        } else {
            Dialect::Sqlite
        }
    }

    pub(super) fn is_postgres(&self) -> bool {
        match self {
            #[cfg(feature = "sqlite")]
            ProjectionDb::Sqlite { .. } => false,
            #[cfg(feature = "postgres")]
            ProjectionDb::Postgres { .. } => true,
        }
    }

    /// Begins a write transaction on the tables of projection version `key`.
    pub(crate) async fn begin(&self, key: &ProjectionKey) -> Result<ProjectionTx> {
        let conn = match self {
            #[cfg(feature = "sqlite")]
            ProjectionDb::Sqlite { writer, .. } => {
                Conn::Sqlite(writer.begin_with("BEGIN IMMEDIATE").await?)
            }
            #[cfg(feature = "postgres")]
            ProjectionDb::Postgres { pool, .. } => Conn::Postgres(pool.begin().await?),
        };
        Ok(ProjectionTx::new(conn, key))
    }

    /// Begins a read-only transaction on the tables of projection version `key`.
    pub(super) async fn begin_read(&self, key: &ProjectionKey) -> Result<ProjectionTx> {
        let conn = match self {
            #[cfg(feature = "sqlite")]
            ProjectionDb::Sqlite { reader, .. } => Conn::Sqlite(reader.begin().await?),
            #[cfg(feature = "postgres")]
            ProjectionDb::Postgres { pool, .. } => Conn::Postgres(pool.begin().await?),
        };
        Ok(ProjectionTx::new(conn, key))
    }

    /// Makes sure the projection version has its row and its tables, and returns its
    /// checkpoint. The first version of a name goes live at once; later ones build
    /// beside it until [`Projections::switch`].
    #[cfg_attr(not(feature = "sqlite"), allow(unused_variables))]
    pub(crate) async fn register(
        &self,
        key: &ProjectionKey,
        models: &[&'static ReadModelDescriptor],
    ) -> Result<Position> {
        let tables: Vec<String> = models.iter().map(|m| m.table_for(key.version)).collect();
        let mut tx = self.begin(key).await?;
        #[cfg(feature = "postgres")]
        #[allow(irrefutable_let_patterns)]
        if let Conn::Postgres(c) = &mut tx.conn {
            // Registrations queue, so that one version of a name goes live and one
            // projection owns a table.
            sqlx::query(
                "SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':projections'), 0)",
            )
            .execute(&mut **c)
            .await?;
        }
        let owners: Vec<(String, Vec<String>)> = match &mut tx.conn {
            #[cfg(feature = "sqlite")]
            Conn::Sqlite(c) => {
                let rows: Vec<(String, String)> =
                    sqlx::query_as("SELECT name, tables FROM factum_projections WHERE name <> ?1")
                        .bind(&key.name)
                        .fetch_all(&mut **c)
                        .await?;
                rows.into_iter()
                    .map(|(name, t)| (name, serde_json::from_str(&t).unwrap_or_default()))
                    .collect()
            }
            #[cfg(feature = "postgres")]
            Conn::Postgres(c) => {
                sqlx::query_as("SELECT name, tables FROM projections WHERE name <> $1")
                    .bind(&key.name)
                    .fetch_all(&mut **c)
                    .await?
            }
        };
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
            tx.execute(model.create_table(key.version, self.dialect()))
                .await?;
            for index in model.create_indexes(key.version) {
                tx.execute(index).await?;
            }
        }
        let now = Utc::now();
        let checkpoint: i64 = match &mut tx.conn {
            #[cfg(feature = "sqlite")]
            Conn::Sqlite(c) => {
                sqlx::query(
                    "INSERT INTO factum_projections (name, version, status, checkpoint, created_at, \
                     updated_at, tables) \
                     SELECT ?1, ?2, CASE WHEN EXISTS (SELECT 1 FROM factum_projections \
                         WHERE name = ?1 AND status = 'live') THEN 'building' ELSE 'live' END, \
                         0, ?3, ?3, ?4 \
                     WHERE true ON CONFLICT (name, version) DO NOTHING",
                )
                .bind(&key.name)
                .bind(key.version as i64)
                .bind(micros(now))
                .bind(serde_json::to_string(&tables).unwrap_or_default())
                .execute(&mut **c)
                .await?;
                sqlx::query_scalar(
                    "SELECT checkpoint FROM factum_projections WHERE name = ?1 AND version = ?2",
                )
                .bind(&key.name)
                .bind(key.version as i64)
                .fetch_one(&mut **c)
                .await?
            }
            #[cfg(feature = "postgres")]
            Conn::Postgres(c) => {
                sqlx::query(
                    "INSERT INTO projections (name, version, status, tables) \
                     SELECT $1, $2, CASE WHEN EXISTS (SELECT 1 FROM projections \
                         WHERE name = $1 AND status = 'live') THEN 'building' ELSE 'live' END, $3 \
                     ON CONFLICT (name, version) DO NOTHING",
                )
                .bind(&key.name)
                .bind(key.version as i32)
                .bind(&tables)
                .execute(&mut **c)
                .await?;
                sqlx::query_scalar(
                    "SELECT checkpoint FROM projections WHERE name = $1 AND version = $2",
                )
                .bind(&key.name)
                .bind(key.version as i32)
                .fetch_one(&mut **c)
                .await?
            }
        };
        tx.commit().await?;
        Ok(Position(checkpoint.max(0) as u64))
    }

    /// Every version of the projection `name` (every projection if `name` is `None`).
    pub(crate) async fn statuses(&self, name: Option<&str>) -> Result<Vec<ProjectionStatus>> {
        let mut out = Vec::new();
        match self {
            #[cfg(feature = "sqlite")]
            ProjectionDb::Sqlite { reader, .. } => {
                let rows = sqlx::query(
                    "SELECT name, version, status, checkpoint, tables, updated_at \
                     FROM factum_projections WHERE ?1 IS NULL OR name = ?1 ORDER BY name, version",
                )
                .bind(name)
                .fetch_all(reader)
                .await?;
                for row in rows {
                    let tables: String = row.try_get(4)?;
                    out.push(ProjectionStatus {
                        key: ProjectionKey {
                            name: row.try_get(0)?,
                            version: row.try_get::<i64, _>(1)? as u32,
                        },
                        stage: Stage::parse(row.try_get(2)?),
                        checkpoint: Position(row.try_get::<i64, _>(3)?.max(0) as u64),
                        tables: serde_json::from_str(&tables).unwrap_or_default(),
                        updated_at: from_micros(row.try_get(5)?),
                    });
                }
            }
            #[cfg(feature = "postgres")]
            ProjectionDb::Postgres { pool, .. } => {
                let rows = sqlx::query(
                    "SELECT name, version, status, checkpoint, tables, updated_at \
                     FROM projections WHERE $1::text IS NULL OR name = $1 ORDER BY name, version",
                )
                .bind(name)
                .fetch_all(pool)
                .await?;
                for row in rows {
                    out.push(ProjectionStatus {
                        key: ProjectionKey {
                            name: row.try_get(0)?,
                            version: row.try_get::<i32, _>(1)? as u32,
                        },
                        stage: Stage::parse(row.try_get(2)?),
                        checkpoint: Position(row.try_get::<i64, _>(3)?.max(0) as u64),
                        tables: row.try_get(4)?,
                        updated_at: row.try_get(5)?,
                    });
                }
            }
        }
        Ok(out)
    }

    /// The checkpoint of one projection version.
    pub(crate) async fn checkpoint(&self, key: &ProjectionKey) -> Result<Option<Position>> {
        let found: Option<i64> =
            match self {
                #[cfg(feature = "sqlite")]
                ProjectionDb::Sqlite { reader, .. } => sqlx::query_scalar(
                    "SELECT checkpoint FROM factum_projections WHERE name = ?1 AND version = ?2",
                )
                .bind(&key.name)
                .bind(key.version as i64)
                .fetch_optional(reader)
                .await?,
                #[cfg(feature = "postgres")]
                ProjectionDb::Postgres { pool, .. } => {
                    sqlx::query_scalar(
                        "SELECT checkpoint FROM projections WHERE name = $1 AND version = $2",
                    )
                    .bind(&key.name)
                    .bind(key.version as i32)
                    .fetch_optional(pool)
                    .await?
                }
            };
        Ok(found.map(|c| Position(c.max(0) as u64)))
    }

}


impl ProjectionTx {
    /// Moves the checkpoint from `from` to `to`, if it is still at `from` (and, on
    /// SQLite, the lease is still `owner`'s, which this renews): the fence that keeps
    /// two instances from both applying a batch.
    #[cfg_attr(not(feature = "sqlite"), allow(unused_variables))]
    pub(crate) async fn advance(
        &mut self,
        key: &ProjectionKey,
        from: Position,
        to: Position,
        owner: Option<&str>,
        ttl: Duration,
    ) -> Result<()> {
        let now = Utc::now();
        let moved = match &mut self.conn {
            #[cfg(feature = "sqlite")]
            Conn::Sqlite(c) => sqlx::query(
                "UPDATE factum_projections SET checkpoint = ?4, updated_at = ?5, \
                     lease_expires_at = CASE WHEN ?6 IS NULL THEN lease_expires_at ELSE ?7 END \
                 WHERE name = ?1 AND version = ?2 AND checkpoint = ?3 \
                   AND (?6 IS NULL OR lease_owner = ?6)",
            )
            .bind(&key.name)
            .bind(key.version as i64)
            .bind(from.0 as i64)
            .bind(to.0 as i64)
            .bind(micros(now))
            .bind(owner)
            .bind(micros(now) + ttl.as_micros() as i64)
            .execute(&mut **c)
            .await?
            .rows_affected(),
            #[cfg(feature = "postgres")]
            Conn::Postgres(c) => sqlx::query(
                "UPDATE projections SET checkpoint = $4, updated_at = now() \
                 WHERE name = $1 AND version = $2 AND checkpoint = $3",
            )
            .bind(&key.name)
            .bind(key.version as i32)
            .bind(from.0 as i64)
            .bind(to.0 as i64)
            .execute(&mut **c)
            .await?
            .rows_affected(),
        };
        if moved == 1 {
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
        let found: Option<i64> = match &mut self.conn {
            // The transaction began IMMEDIATE: it already holds the write lock.
            #[cfg(feature = "sqlite")]
            Conn::Sqlite(c) => {
                sqlx::query_scalar(
                    "SELECT checkpoint FROM factum_projections WHERE name = ?1 AND version = ?2",
                )
                .bind(&key.name)
                .bind(key.version as i64)
                .fetch_optional(&mut **c)
                .await?
            }
            #[cfg(feature = "postgres")]
            Conn::Postgres(c) => sqlx::query_scalar(
                "SELECT checkpoint FROM projections WHERE name = $1 AND version = $2 FOR UPDATE",
            )
            .bind(&key.name)
            .bind(key.version as i32)
            .fetch_optional(&mut **c)
            .await?,
        };
        Ok(found.map(|c| Position(c.max(0) as u64)))
    }
}
