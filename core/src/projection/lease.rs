//! Leases: the right to run a projection version, held by one runner at a time (a lease
//! row renewed while running on SQLite, a session advisory lock on PostgreSQL).

use std::time::Duration;

use super::db::ProjectionDb;
use super::{ProjectionError, ProjectionKey};

type Result<T, E = ProjectionError> = std::result::Result<T, E>;

/// The right to run a projection version, held by one runner at a time.
#[derive(Debug)]
pub(crate) enum Lease {
    /// A lease row on SQLite: this owner until it expires (renewed while running).
    #[cfg(feature = "sqlite")]
    Sqlite { owner: String },
    /// A session advisory lock on PostgreSQL, held on this connection.
    #[cfg(feature = "postgres")]
    Postgres(Box<sqlx::PgConnection>),
}

impl Lease {
    /// The owner to check in the batch's fence (SQLite).
    pub(crate) fn owner(&self) -> Option<&str> {
        match self {
            #[cfg(feature = "sqlite")]
            Lease::Sqlite { owner } => Some(owner),
            #[cfg(feature = "postgres")]
            Lease::Postgres(_) => None,
        }
    }
}

impl ProjectionDb {
    /// Tries to take the lease on a projection version for `owner`.
    #[cfg_attr(not(feature = "sqlite"), allow(unused_variables))]
    pub(crate) async fn try_lease(
        &self,
        key: &ProjectionKey,
        owner: &str,
        ttl: Duration,
    ) -> Result<Option<Lease>> {
        match self {
            #[cfg(feature = "sqlite")]
            ProjectionDb::Sqlite { writer, .. } => {
                let now = chrono::Utc::now().timestamp_micros();
                let taken = sqlx::query(
                    "UPDATE factum_projections SET lease_owner = ?3, lease_expires_at = ?4 \
                     WHERE name = ?1 AND version = ?2 \
                       AND (lease_owner IS NULL OR lease_owner = ?3 OR lease_expires_at < ?5)",
                )
                .bind(&key.name)
                .bind(key.version as i64)
                .bind(owner)
                .bind(now + ttl.as_micros() as i64)
                .bind(now)
                .execute(writer)
                .await?
                .rows_affected();
                Ok((taken == 1).then(|| Lease::Sqlite {
                    owner: owner.to_owned(),
                }))
            }
            #[cfg(feature = "postgres")]
            ProjectionDb::Postgres { pool, .. } => {
                // A session lock on a connection of its own: it lasts while the runner
                // holds the connection, and ends with it if the process dies.
                let mut conn = pool.acquire().await?.detach();
                let got: bool = sqlx::query_scalar(
                    "SELECT pg_try_advisory_lock(hashtext(current_schema() || ':projections'), \
                     hashtext($1 || ':' || $2::text))",
                )
                .bind(&key.name)
                .bind(key.version as i32)
                .fetch_one(&mut conn)
                .await?;
                Ok(got.then_some(Lease::Postgres(Box::new(conn))))
            }
        }
    }

    /// Keeps a lease alive; `false` if it was lost.
    #[cfg_attr(not(feature = "sqlite"), allow(unused_variables))]
    pub(crate) async fn renew(
        &self,
        key: &ProjectionKey,
        lease: &mut Lease,
        ttl: Duration,
    ) -> Result<bool> {
        match (self, lease) {
            #[cfg(feature = "sqlite")]
            (ProjectionDb::Sqlite { writer, .. }, Lease::Sqlite { owner }) => {
                let renewed = sqlx::query(
                    "UPDATE factum_projections SET lease_expires_at = ?4 \
                     WHERE name = ?1 AND version = ?2 AND lease_owner = ?3",
                )
                .bind(&key.name)
                .bind(key.version as i64)
                .bind(&*owner)
                .bind(chrono::Utc::now().timestamp_micros() + ttl.as_micros() as i64)
                .execute(writer)
                .await?
                .rows_affected();
                Ok(renewed == 1)
            }
            #[cfg(feature = "postgres")]
            (ProjectionDb::Postgres { .. }, Lease::Postgres(conn)) => {
                // The lock lives as long as the connection does.
                Ok(sqlx::query("SELECT 1").execute(&mut **conn).await.is_ok())
            }
            #[allow(unreachable_patterns)]
            _ => Ok(false),
        }
    }

    /// Gives a lease back.
    #[cfg_attr(not(feature = "sqlite"), allow(unused_variables))]
    pub(crate) async fn release(&self, key: &ProjectionKey, lease: Lease) -> Result<()> {
        match (self, lease) {
            #[cfg(feature = "sqlite")]
            (ProjectionDb::Sqlite { writer, .. }, Lease::Sqlite { owner }) => {
                sqlx::query(
                    "UPDATE factum_projections SET lease_owner = NULL, lease_expires_at = NULL \
                     WHERE name = ?1 AND version = ?2 AND lease_owner = ?3",
                )
                .bind(&key.name)
                .bind(key.version as i64)
                .bind(owner)
                .execute(writer)
                .await?;
            }
            #[cfg(feature = "postgres")]
            (ProjectionDb::Postgres { .. }, Lease::Postgres(conn)) => {
                use sqlx::Connection;
                conn.close().await?;
            }
            #[allow(unreachable_patterns)]
            _ => {}
        }
        Ok(())
    }
}
