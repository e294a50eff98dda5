//! Optimistic concurrency: what an append expects of the stream.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::ActualVersion;

/// What an append expects the stream's current version to be (EventStoreDB's rules).
///
/// Stream versions count events: the first event of a stream has version 1, and a
/// stream's version is the version of its last event. A stream without events has
/// version 0 and does not exist.
///
/// | expected | succeeds when |
/// |---|---|
/// | `Any` | always (unless the stream is deleted) |
/// | `NoStream` | the stream has no events |
/// | `StreamExists` | the stream has at least one event |
/// | `Exact(n)` | the stream's version is `n` (`Exact(0)` is the same as `NoStream`) |
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum ExpectedVersion {
    /// No check.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream must already exist.
    StreamExists,
    /// The stream must be at exactly this version.
    Exact(u64),
}

impl ExpectedVersion {
    /// Whether a stream currently at `version` (0: no stream) satisfies this expectation.
    pub fn is_satisfied_by(self, version: u64) -> bool {
        match self {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => version == 0,
            ExpectedVersion::StreamExists => version > 0,
            ExpectedVersion::Exact(n) => version == n,
        }
    }

    pub(crate) fn check(self, version: u64) -> Result<(), ActualVersion> {
        if self.is_satisfied_by(version) {
            Ok(())
        } else {
            Err(ActualVersion::from_version(version))
        }
    }
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any version"),
            ExpectedVersion::NoStream => f.write_str("no stream"),
            ExpectedVersion::StreamExists => f.write_str("an existing stream"),
            ExpectedVersion::Exact(n) => write!(f, "version {n}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ExpectedVersion::*;

    #[test]
    fn rules() {
        assert!(Any.is_satisfied_by(0) && Any.is_satisfied_by(5));
        assert!(NoStream.is_satisfied_by(0) && !NoStream.is_satisfied_by(1));
        assert!(!StreamExists.is_satisfied_by(0) && StreamExists.is_satisfied_by(1));
        assert!(Exact(3).is_satisfied_by(3) && !Exact(3).is_satisfied_by(2));
        assert!(Exact(0).is_satisfied_by(0));
    }
}
