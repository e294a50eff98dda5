//! Telling failures apart (the guide is on [`FailureKind`]).

use crate::store::transient::is_transient_sqlx;
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
///
/// Whose fault a failure is: the event's (park it after its attempts) or the
/// surroundings' (retry the batch, with backoff, for as long as it takes).
///
/// A lost or refused connection, an exhausted pool, a serialisation failure or deadlock,
/// a statement timeout, a busy SQLite database or a server shutting down says nothing
/// about the event being applied: the runner rolls the batch back, waits outside any
/// transaction, and applies it again, however long the outage lasts (its lag grows and
/// shows in [`Progress`](super::Progress) and the lag metrics). Only what the handler
/// says is wrong with an event parks it, and the dead-letter entry records which
/// [`FailureKind`] it was.
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
/// connection, the server, contention) rather than of the event: see [`FailureKind`].
pub fn is_transient(err: &(dyn StdError + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(e) = next {
        if e.downcast_ref::<sqlx::Error>().is_some_and(is_transient_sqlx) {
            return true;
        }
        match e.downcast_ref::<ProjectionError>() {
            Some(ProjectionError::Database(sql)) if is_transient_sqlx(sql) => return true,
            Some(ProjectionError::Interrupted(_)) => return true,
            _ => {}
        }
        if let Some(StoreError::Database(sql)) = e.downcast_ref::<StoreError>()
            && is_transient_sqlx(sql)
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
