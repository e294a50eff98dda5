//! Positions in the global log.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A position in the store's global log (the order in which events became visible to
/// readers across all streams).
///
/// Positions only ever grow in the order readers see events, but they are **not dense**:
/// the PostgreSQL backend derives them from the committing transaction's id, so gaps are
/// normal. Compare positions, never count with them. `Position::START` is before every
/// event; a subscriber that has handled the event at `p` resumes from `p.next()`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Position(pub u64);

impl Position {
    /// Before the first event.
    pub const START: Position = Position(0);

    /// The position just after this one: where to resume reading.
    pub const fn next(self) -> Position {
        Position(self.0.saturating_add(1))
    }

    /// The raw value.
    pub const fn value(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Position({})", self.0)
    }
}
