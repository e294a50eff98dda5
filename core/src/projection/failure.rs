//! Whose fault a failure is: the event's (park it after its attempts) or the
//! surroundings' (retry the batch, with backoff, for as long as it takes).
//!
//! A lost or refused connection, an exhausted pool, a serialisation failure or deadlock,
//! a statement timeout, a busy SQLite database or a server shutting down says nothing
//! about the event being applied: the runner rolls the batch back, waits outside any
//! transaction, and applies it again, however long the outage lasts (its lag grows and
//! shows in [`Progress`](super::Progress) and the lag metrics). Only what the handler
//! says is wrong with an event parks it, and the dead-letter entry records which
//! [`FailureKind`] it was.

use std::error::Error as StdError;
use std::time::Duration;

use super::ProjectionError;
use crate::StoreError;
use crate::event::UpcastError;

/// The longest pause between two tries during an outage: the pause starts at the
/// runner's backoff and doubles up to this.
pub const MAX_OUTAGE_PAUSE: Duration = Duration::from_secs(30);

/// Why an event was parked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailureKind {
    /// The handler returned an error of its own.
    Handler,
    /// The event could not be decoded or upcast to the type the handler takes.
    Decode,
    /// A read-model row the handler wrote could not be stored (a value its column
    /// cannot hold, a change that altered the key).
    Row,
    /// The database refused what the handler's own SQL did (a constraint, a syntax
    /// error): not a failure that waiting cures.
    Database,
    /// Not tried: an earlier event of its stream is parked, and a stream's events are
    /// applied in order.
    Behind,
}

impl FailureKind {
    /// The name stored in the dead-letter entry.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Handler => "handler",
            FailureKind::Decode => "decode",
            FailureKind::Row => "row",
            FailureKind::Database => "database",
            FailureKind::Behind => "behind",
        }
    }

    /// The kind a stored name stands for (an unknown name reads as `Handler`).
    pub fn parse(text: &str) -> FailureKind {
        match text {
            "decode" => FailureKind::Decode,
            "row" => FailureKind::Row,
            "database" => FailureKind::Database,
            "behind" => FailureKind::Behind,
            _ => FailureKind::Handler,
        }
    }

    /// What kind of failure `err` (a handler's error, with its sources) is.
    pub fn of(err: &(dyn StdError + 'static)) -> FailureKind {
        let mut next = Some(err);
        while let Some(e) = next {
            if e.is::<UpcastError>() {
                return FailureKind::Decode;
            }
            if let Some(p) = e.downcast_ref::<ProjectionError>() {
                match p {
                    ProjectionError::Row { .. } => return FailureKind::Row,
                    ProjectionError::Database(_) => return FailureKind::Database,
                    _ => {}
                }
            }
            if e.is::<sqlx::Error>() {
                return FailureKind::Database;
            }
            next = e.source();
        }
        FailureKind::Handler
    }
}

impl std::fmt::Display for FailureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether `err`, or any error it came from, is a failure of the surroundings (the
/// connection, the server, contention) rather than of the event: see the module docs.
pub fn is_transient(err: &(dyn StdError + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(e) = next {
        if e.downcast_ref::<sqlx::Error>().is_some_and(sqlx_transient) {
            return true;
        }
        match e.downcast_ref::<ProjectionError>() {
            Some(ProjectionError::Database(sql)) if sqlx_transient(sql) => return true,
            Some(ProjectionError::Interrupted(_)) => return true,
            _ => {}
        }
        if let Some(StoreError::Database(sql)) = e.downcast_ref::<StoreError>()
            && sqlx_transient(sql)
        {
            return true;
        }
        if e.is::<tokio::time::error::Elapsed>() || e.is::<std::io::Error>() {
            return true;
        }
        next = e.source();
    }
    false
}

/// Whether a sqlx error is one that waiting and trying again can cure.
fn sqlx_transient(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => {
            let Some(code) = db.code() else {
                return false;
            };
            #[cfg(feature = "sqlite")]
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                return transient_sqlite_code(&code);
            }
            transient_sqlstate(&code)
        }
        _ => false,
    }
}

/// PostgreSQL SQLSTATEs of failures that are not the statement's fault: connection
/// exceptions (08), serialisation failure and deadlock (40001, 40P01), insufficient
/// resources such as a full disk or too many connections (53), operator intervention:
/// query cancelled (a statement timeout), admin or crash shutdown, cannot connect now
/// (57014, 57P0x), lock not available (55P03).
fn transient_sqlstate(code: &str) -> bool {
    code.starts_with("08")
        || code.starts_with("53")
        || matches!(
            code,
            "40001" | "40P01" | "57014" | "57P01" | "57P02" | "57P03" | "55P03"
        )
}

/// SQLite result codes (primary, or extended: the low byte is the primary) of failures
/// that are not the statement's fault: SQLITE_BUSY (5), SQLITE_LOCKED (6), SQLITE_NOMEM
/// (7), SQLITE_IOERR (10), SQLITE_FULL (13), SQLITE_CANTOPEN (14).
#[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
fn transient_sqlite_code(code: &str) -> bool {
    code.parse::<i32>()
        .is_ok_and(|c| matches!(c & 0xff, 5 | 6 | 7 | 10 | 13 | 14))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_losses_are_transient_and_handler_errors_are_not() {
        let io = sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "reset",
        ));
        assert!(is_transient(&io));
        let wrapped: Box<dyn StdError + Send + Sync> =
            Box::new(ProjectionError::Database(sqlx::Error::PoolTimedOut));
        assert!(is_transient(wrapped.as_ref()));
        let store: Box<dyn StdError + Send + Sync> =
            Box::new(StoreError::Database(sqlx::Error::PoolClosed));
        assert!(is_transient(store.as_ref()));
        let mine: Box<dyn StdError + Send + Sync> = "the amount is negative".into();
        assert!(!is_transient(mine.as_ref()));
        assert_eq!(FailureKind::of(mine.as_ref()), FailureKind::Handler);
        let row: Box<dyn StdError + Send + Sync> = Box::new(ProjectionError::Row {
            model: "Balance",
            reason: "too big".into(),
        });
        assert!(!is_transient(row.as_ref()));
        assert_eq!(FailureKind::of(row.as_ref()), FailureKind::Row);
    }

    #[test]
    fn codes_of_contention_and_outages_are_transient() {
        for code in [
            "08006", "40001", "40P01", "57P01", "57014", "53300", "53100",
        ] {
            assert!(transient_sqlstate(code), "{code}");
        }
        // Digits-only SQLSTATEs are not SQLite codes: 22021 & 0xff would be SQLITE_BUSY.
        for code in ["23505", "42P01", "22003", "22021", "22022", "42501"] {
            assert!(!transient_sqlstate(code), "{code}");
        }
        for code in ["5", "517", "6", "13", "10", "3338", "14"] {
            assert!(transient_sqlite_code(code), "{code}");
        }
        for code in ["19", "2067", "1", "787"] {
            assert!(!transient_sqlite_code(code), "{code}");
        }
    }

    #[test]
    fn kinds_round_trip_through_their_names() {
        for kind in [
            FailureKind::Handler,
            FailureKind::Decode,
            FailureKind::Row,
            FailureKind::Database,
            FailureKind::Behind,
        ] {
            assert_eq!(FailureKind::parse(kind.as_str()), kind);
        }
    }
}
