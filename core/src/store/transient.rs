//! Which database errors waiting and trying again can cure: lost connections, pool
//! timeouts, and the codes each backend gives contention and outages. The projection
//! runner retries these forever, outside any transaction, and parks nothing for them
//! (`projection::failure`).

/// Whether a sqlx error is one that waiting and trying again can cure.
pub(crate) fn is_transient_sqlx(err: &sqlx::Error) -> bool {
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
            // SQLite's codes are numbers; anything else is PostgreSQL's SQLSTATE.
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
}
