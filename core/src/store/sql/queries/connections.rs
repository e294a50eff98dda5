//! The API's database connections, kept checked out between queries.
//!
//! An sqlx pool pings a connection (a round trip to the server, or to SQLite's worker
//! thread) when it hands it out, and again, in a task of its own, when it takes it back.
//! For the API's reads, which take a fraction of a millisecond, those two round trips
//! would be a large part of the time, and of the CPU on the same cores as the queries. So
//! the API keeps the connections its queries succeeded on and hands them to the next
//! query directly. A connection whose query failed or was cancelled is
//! not kept: it goes back to the pool, which checks it as usual, and a query that fails
//! for want of a working connection is tried once more on a fresh one.
//!
//! The API takes its connections from a pool of its own (each backend's `for_queries`),
//! so that the ones it keeps are never missed by the store, except where the store's
//! database lives in a single connection (SQLite in memory): then nothing is kept.

use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::{Database, Pool};

/// A pool, and the connections kept from it.
pub(crate) struct Connections<DB: Database> {
    pool: Pool<DB>,
    /// Whether connections are kept at all.
    keep: bool,
    /// Kept connections and since when, the last kept on top.
    idle: Mutex<Vec<(PoolConnection<DB>, Instant)>>,
}

/// How long a connection is kept unused before it goes back to its pool.
const MAX_IDLE: Duration = Duration::from_secs(60);

impl<DB: Database> Connections<DB> {
    /// Connections from `pool`, kept between queries if `keep` (not for a pool the store
    /// shares: a kept connection would be missing from it).
    pub(crate) fn new(pool: Pool<DB>, keep: bool) -> Self {
        Connections {
            pool,
            keep,
            idle: Mutex::default(),
        }
    }

    /// Whether connections are kept between queries.
    #[cfg(test)]
    pub(crate) fn keeps(&self) -> bool {
        self.keep
    }

    /// How many connections are kept now.
    #[cfg(test)]
    pub(crate) fn idle(&self) -> usize {
        self.idle.lock().map_or(0, |idle| idle.len())
    }

    /// The connection kept last, if it has not been idle too long. Older ones go back to
    /// the pool, whose idle timeout then applies to them as to any other.
    fn kept_one(&self) -> Option<PoolConnection<DB>> {
        let mut idle = self.idle.lock().ok()?;
        let (connection, since) = idle.pop()?;
        if since.elapsed() > MAX_IDLE {
            // All the others were kept earlier still.
            idle.clear();
            return None;
        }
        Some(connection)
    }

    /// Runs `query` on a connection: a kept one if there is one, else one from the pool.
    /// A connection-level failure on a kept connection (it may have been closed while
    /// idle) is retried once on a connection from the pool.
    pub(crate) async fn run<T, F>(
        &self,
        query: impl Fn(PoolConnection<DB>) -> F,
    ) -> Result<T, sqlx::Error>
    where
        F: Future<Output = (PoolConnection<DB>, Result<T, sqlx::Error>)>,
    {
        let (connection, result) = match self.kept_one() {
            Some(kept) => match query(kept).await {
                (dead, Err(err)) if is_connection_failure(&err) => {
                    // Closed here, so that its place in the pool is free for the retry.
                    drop(dead.detach());
                    query(self.pool.acquire().await?).await
                }
                done => done,
            },
            None => query(self.pool.acquire().await?).await,
        };
        if result.is_ok()
            && self.keep
            && let Ok(mut idle) = self.idle.lock()
        {
            idle.push((connection, Instant::now()));
        }
        result
    }
}

impl<DB: Database> Drop for Connections<DB> {
    fn drop(&mut self) {
        // A connection handed back to its pool is checked in a task, which needs a
        // runtime; without one (the API dropped after its runtime ended), close the
        // connections here instead.
        if tokio::runtime::Handle::try_current().is_err()
            && let Ok(idle) = self.idle.get_mut()
        {
            for (connection, _) in idle.drain(..) {
                drop(connection.detach());
            }
        }
    }
}

/// Whether an error says the connection is unusable, rather than the query wrong: I/O
/// and protocol failures, and PostgreSQL's connection exceptions (class 08) and
/// shutdowns (57P01–57P03, sent when the server ends a session).
fn is_connection_failure(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::PoolClosed => true,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|code| code.starts_with("08") || code.starts_with("57P0")),
        _ => false,
    }
}

/// Runs SQL without parameters on one of `c`'s connections (for the backends' tests).
#[cfg(all(test, feature = "sqlite"))]
pub(crate) async fn execute<DB: Database>(
    c: &Connections<DB>,
    sql: &'static str,
) -> Result<(), sqlx::Error>
where
    for<'e> &'e mut DB::Connection: sqlx::Executor<'e, Database = DB>,
{
    use sqlx::Executor;
    c.run(|mut connection| async move {
        let done = connection.execute(sqlx::AssertSqlSafe(sql)).await.map(drop);
        (connection, done)
    })
    .await
}
