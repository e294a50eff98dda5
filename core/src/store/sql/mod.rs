//! What the SQL backends share, as sqlx's core is to its drivers: the DDL of read-model
//! tables (built without either backend, for the code generator), the migrator, the read
//! side's and the GraphQL API's statements composed once from standard SQL (each backend
//! gives what it writes its own way through a trait, in `store/<backend>/`), and small
//! pieces: pool settings, pings, finding a named statement in a `.sql` file.

pub(crate) mod ddl;
#[cfg(sql)]
pub(crate) mod migrations;
#[cfg(all(feature = "graphql", sql))]
pub(crate) mod queries;
#[cfg(sql)]
pub(crate) mod read_side;

cfg_sql! {

use std::time::Duration;

use crate::{Position, StoreError};

/// A pooled connection idle at least this long is pinged before it is handed out.
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// Pool options that check a connection's health only when it has been idle a while.
///
/// sqlx pings every connection it hands out by default, which costs a round trip (on
/// SQLite, a hop to the connection's thread) before every statement or transaction: on
/// PostgreSQL about a fifth of a one-row append's latency. A connection used within the last
/// second has just answered, so only one idle longer is pinged (a dead one is then
/// replaced before use). A connection that dies in between fails the statement it runs,
/// as it could after a ping too.
pub(crate) fn ping_when_idle<DB: sqlx::Database>(
    options: sqlx::pool::PoolOptions<DB>,
) -> sqlx::pool::PoolOptions<DB> {
    options
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_AFTER_IDLE {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
}

/// Whether the database refused a write for breaking a unique constraint.
pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(|e| e.is_unique_violation())
}

/// A `u64` as a SQL `BIGINT`, clamped: versions and positions never come near the limit,
/// and "no limit" (`u64::MAX`) must stay the largest value.
pub(crate) fn to_i64(value: u64) -> i64 {
    value.min(i64::MAX as u64) as i64
}

/// A stored row that does not decode.
pub(crate) fn corrupt(position: i64, reason: impl ToString) -> StoreError {
    StoreError::Corrupt {
        position: Position(position as u64),
        reason: reason.to_string(),
    }
}

/// The statement named `name` among `files`: SQL files that hold several statements, each
/// after a line `-- name: <name>` and up to the next such line, with its comments.
/// Empty if there is none, which runs nothing: so the code asks only for the names of
/// `store::sql::read_side::Statement`, and a unit test checks every backend has each it uses.
pub(crate) fn named(files: &[&'static str], name: &str) -> &'static str {
    const MARK: &str = "-- name: ";
    for file in files {
        let mut rest: &'static str = file;
        while let Some(at) = rest.find(MARK) {
            let after = &rest[at + MARK.len()..];
            let (line, body) = after.split_once('\n').unwrap_or((after, ""));
            let end = body.find(MARK).unwrap_or(body.len());
            if line.trim() == name {
                return body[..end].trim();
            }
            rest = &body[end..];
        }
    }
    ""
}

#[cfg(test)]
mod named_tests {
    use super::named;

    const FILE: &str =
        "-- A table.\n\n-- name: first\nSELECT 1\n\n-- name: second\n-- Why.\nSELECT 2\n";

    #[test]
    fn statements_are_found_by_name_with_their_comments() {
        assert_eq!(named(&[FILE], "first"), "SELECT 1");
        assert_eq!(named(&["", FILE], "second"), "-- Why.\nSELECT 2");
        assert_eq!(named(&[FILE], "third"), "");
        assert_eq!(named(&[FILE], "firs"), "");
    }
}
}
