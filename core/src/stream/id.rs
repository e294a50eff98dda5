//! Stream ids and their categories.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::StoreError;

/// The longest stream id accepted, in bytes.
pub const MAX_STREAM_ID_LEN: usize = crate::names::MAX_STREAM_ID_LEN;

/// The id of one stream: the ordered history of one aggregate instance, e.g. `account-42`.
///
/// # Rules
///
/// A stream id is 1 to 255 ASCII characters from `A-Z a-z 0-9 - _ . : @ +`, and it starts
/// with a letter or a digit. Everything before the first `-` is the stream's **category**
/// (`account-42` is in category `account`); an id without `-` is its own category. Stream
/// ids are case-sensitive. These rules keep ids safe in URLs, logs and file names, and give
/// every stream a non-empty category to filter the global log by.
///
/// Cloning is cheap (the text is shared).
///
/// ```
/// use factum::StreamId;
/// let id = StreamId::new("account-42")?;
/// assert_eq!(id.category(), "account");
/// assert!(StreamId::new("-42").is_err());
/// # Ok::<(), factum::StoreError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(Arc<str>);

impl StreamId {
    /// Validates `id` against the rules above.
    pub fn new(id: impl AsRef<str>) -> Result<Self, StoreError> {
        let id = id.as_ref();
        validate(id).map_err(|reason| StoreError::InvalidStreamId {
            id: id.chars().take(300).collect(),
            reason,
        })?;
        Ok(StreamId(Arc::from(id)))
    }

    /// Builds `category-key`, e.g. `StreamId::from_parts("account", 42)`.
    pub fn from_parts(category: &str, key: impl fmt::Display) -> Result<Self, StoreError> {
        if category.contains('-') {
            return Err(StoreError::InvalidStreamId {
                id: category.to_owned(),
                reason: "a category may not contain '-', which separates it from the key",
            });
        }
        Self::new(format!("{category}-{key}"))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The category: the part before the first `-`, or the whole id.
    pub fn category(&self) -> &str {
        category_of(&self.0)
    }

    /// The instance key: the part after the first `-` (the aggregate id a repository
    /// was given), or the whole id if it has no `-`.
    pub fn key(&self) -> &str {
        self.0.split_once('-').map_or(&self.0, |(_, key)| key)
    }
}

/// The category of a (valid) stream id: the part before the first `-`.
pub(crate) fn category_of(id: &str) -> &str {
    id.split_once('-').map_or(id, |(category, _)| category)
}

fn validate(id: &str) -> Result<(), &'static str> {
    crate::names::stream_id_problem(id).map_or(Ok(()), Err)
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl AsRef<str> for StreamId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl TryFrom<&str> for StreamId {
    type Error = StoreError;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        StreamId::new(value)
    }
}

impl TryFrom<String> for StreamId {
    type Error = StoreError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        StreamId::new(value)
    }
}

impl std::str::FromStr for StreamId {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        StreamId::new(s)
    }
}

impl Serialize for StreamId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for StreamId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        StreamId::new(text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories() {
        assert_eq!(StreamId::new("account-42").unwrap().category(), "account");
        assert_eq!(StreamId::new("account-42-x").unwrap().category(), "account");
        assert_eq!(StreamId::new("ledger").unwrap().category(), "ledger");
        assert_eq!(
            StreamId::from_parts("order", 7).unwrap().as_str(),
            "order-7"
        );
    }

    #[test]
    fn rejects_bad_ids_with_a_reason() {
        for bad in ["", "-x", " a", "a b", "a/b", "é", "a\n", &"x".repeat(256)] {
            let err = StreamId::new(bad).unwrap_err();
            assert!(matches!(err, StoreError::InvalidStreamId { .. }), "{bad:?}");
        }
        assert!(StreamId::from_parts("a-b", 1).is_err());
        assert!(StreamId::new("x".repeat(255)).is_ok());
        assert!(StreamId::new("Tenant:acme@order-2024.01_x+1").is_ok());
    }

    #[test]
    fn serde_validates() {
        let ok: StreamId = serde_json::from_str("\"a-1\"").unwrap();
        assert_eq!(ok.as_str(), "a-1");
        assert!(serde_json::from_str::<StreamId>("\"-1\"").is_err());
    }
}
