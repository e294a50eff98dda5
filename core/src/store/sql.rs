//! Small pieces both SQL backends need.

use crate::{Position, StoreError};

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
