//! Checks an append's input before any backend touches storage, so that bad input is
//! reported with its stream and index and nothing is written.

use std::collections::HashSet;

use crate::event::event_type_problem;
use crate::{EventData, EventId, Metadata, StoreError, StreamId};

use super::{StoreLimits, UniqueValue, Uniqueness};

/// The most events one append may carry. The PostgreSQL backend numbers the events of a
/// transaction in 20 bits of the global position; the limit keeps well inside that.
pub const MAX_BATCH_LEN: usize = 100_000;

/// An append whose every event passed validation, in the form backends store.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
#[derive(Debug)]
pub(crate) struct PreparedBatch {
    pub stream: StreamId,
    pub events: Vec<PreparedEvent>,
}

#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
#[derive(Debug)]
pub(crate) struct PreparedEvent {
    pub event_id: EventId,
    pub event_type: String,
    pub schema_version: u32,
    pub payload: String,
    pub metadata: Metadata,
    pub metadata_json: Option<String>,
}

#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
impl PreparedBatch {
    pub fn len(&self) -> u64 {
        self.events.len() as u64
    }
}

/// The longest scope name, in bytes.
pub const MAX_UNIQUE_SCOPE_LEN: usize = 64;
/// The longest unique value, in bytes.
pub const MAX_UNIQUE_VALUE_LEN: usize = 1024;
/// The most values one append may claim and release together.
pub const MAX_UNIQUE_VALUES: usize = 10_000;

fn scope_problem(scope: &str) -> Option<&'static str> {
    if scope.is_empty() {
        return Some("the scope is empty");
    }
    if scope.len() > MAX_UNIQUE_SCOPE_LEN {
        return Some("the scope is longer than 64 bytes");
    }
    if !scope.as_bytes()[0].is_ascii_alphabetic() {
        return Some("a scope starts with a letter");
    }
    if !scope
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Some("a scope holds only the characters A-Z a-z 0-9 - _ .");
    }
    None
}

fn value_problem(value: &str) -> Option<&'static str> {
    if value.is_empty() {
        Some("the value is empty")
    } else if value.len() > MAX_UNIQUE_VALUE_LEN {
        Some("the value is longer than 1024 bytes")
    } else if value.contains('\0') {
        // PostgreSQL text cannot hold NUL; refuse it everywhere so backends agree.
        Some("the value contains a NUL character")
    } else {
        None
    }
}

/// Checks the unique values of an append and returns them without repeats (the single
/// writer may combine commands that claim the same value). Runs before any write.
pub(crate) fn prepare_uniqueness(
    stream: &StreamId,
    uniqueness: Uniqueness,
) -> Result<Uniqueness, StoreError> {
    let invalid = |scope: &str, reason| StoreError::InvalidUniqueValue {
        stream: stream.clone(),
        scope: scope.chars().take(100).collect(),
        reason,
    };
    if uniqueness.claims().len() + uniqueness.releases().len() > MAX_UNIQUE_VALUES {
        return Err(invalid(
            "",
            "one append claims and releases more than 10,000 values; split it",
        ));
    }
    let mut claims = HashSet::with_capacity(uniqueness.claims().len());
    let mut releases = HashSet::with_capacity(uniqueness.releases().len());
    let mut out = Uniqueness::new();
    for (list, seen, claim) in [
        (uniqueness.claims(), &mut claims, true),
        (uniqueness.releases(), &mut releases, false),
    ] {
        for UniqueValue { scope, value } in list {
            if let Some(reason) = scope_problem(scope).or_else(|| value_problem(value)) {
                return Err(invalid(scope, reason));
            }
            if seen.insert((scope.as_str(), value.as_str())) {
                out = if claim {
                    out.claim(scope.as_str(), value.as_str())
                } else {
                    out.release(scope.as_str(), value.as_str())
                };
            }
        }
    }
    if let Some(UniqueValue { scope, .. }) = uniqueness
        .claims()
        .iter()
        .find(|c| releases.contains(&(c.scope.as_str(), c.value.as_str())))
    {
        return Err(invalid(
            scope,
            "the append both claims and releases the same value; do one or the other",
        ));
    }
    Ok(out)
}

pub(crate) fn prepare_batch(
    stream: &StreamId,
    events: Vec<EventData>,
    limits: &StoreLimits,
) -> Result<PreparedBatch, StoreError> {
    if events.is_empty() {
        return Err(StoreError::EmptyAppend {
            stream: stream.clone(),
        });
    }
    if events.len() > MAX_BATCH_LEN {
        return Err(StoreError::BatchTooLarge {
            stream: stream.clone(),
            len: events.len(),
            limit: MAX_BATCH_LEN,
        });
    }
    let mut seen = HashSet::with_capacity(events.len());
    let mut prepared = Vec::with_capacity(events.len());
    let mut total = 0usize;
    for (index, event) in events.into_iter().enumerate() {
        if let Some(reason) = event_type_problem(&event.event_type) {
            return Err(StoreError::InvalidEventType {
                stream: stream.clone(),
                index,
                event_type: event.event_type.chars().take(300).collect(),
                reason,
            });
        }
        if !seen.insert(event.event_id) {
            return Err(StoreError::DuplicateIdInBatch {
                stream: stream.clone(),
                index,
                event_id: event.event_id,
            });
        }
        let invalid = |reason: String| StoreError::InvalidPayload {
            stream: stream.clone(),
            index,
            event_type: event.event_type.clone(),
            reason,
        };
        if !event.payload_is_json {
            serde_json::from_slice::<serde::de::IgnoredAny>(&event.payload)
                .map_err(|e| invalid(e.to_string()))?;
        }
        let metadata_json = event.metadata.to_stored();
        let size = event.payload.len() + metadata_json.as_ref().map_or(0, String::len);
        if size > limits.max_event_size {
            return Err(StoreError::EventTooLarge {
                stream: stream.clone(),
                index,
                event_type: event.event_type.clone(),
                size,
                limit: limits.max_event_size,
            });
        }
        total += size;
        if total > limits.max_append_size {
            return Err(StoreError::AppendTooLarge {
                stream: stream.clone(),
                size: total,
                limit: limits.max_append_size,
            });
        }
        // Valid JSON is valid UTF-8, so this only fails on a serializer bug.
        let payload = String::from_utf8(event.payload).map_err(|e| invalid(e.to_string()))?;
        prepared.push(PreparedEvent {
            event_id: event.event_id,
            event_type: event.event_type,
            schema_version: event.schema_version,
            payload,
            metadata: event.metadata,
            metadata_json,
        });
    }
    Ok(PreparedBatch {
        stream: stream.clone(),
        events: prepared,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stream() -> StreamId {
        StreamId::new("s-1").unwrap()
    }

    #[test]
    fn refuses_bad_input_with_the_index() {
        let limits = StoreLimits {
            max_event_size: 64,
            ..StoreLimits::default()
        };
        let err = prepare_batch(&stream(), vec![], &limits).unwrap_err();
        assert!(matches!(err, StoreError::EmptyAppend { .. }));

        let batch = vec![
            EventData::new("A", json!({})),
            EventData::from_json_bytes("B", "{not json"),
        ];
        match prepare_batch(&stream(), batch, &limits).unwrap_err() {
            StoreError::InvalidPayload { index, .. } => assert_eq!(index, 1),
            other => panic!("unexpected {other}"),
        }

        let big = EventData::new("A", json!({ "x": "y".repeat(64) }));
        match prepare_batch(&stream(), vec![big], &limits).unwrap_err() {
            StoreError::EventTooLarge { size, limit, .. } => {
                assert!(size > limit);
                assert_eq!(limit, 64);
            }
            other => panic!("unexpected {other}"),
        }

        let e = EventData::new("A", json!(1));
        let twice = vec![e.clone(), e];
        assert!(matches!(
            prepare_batch(&stream(), twice, &limits).unwrap_err(),
            StoreError::DuplicateIdInBatch { .. }
        ));

        let bad_type = vec![EventData::new("has space", json!(1))];
        assert!(matches!(
            prepare_batch(&stream(), bad_type, &limits).unwrap_err(),
            StoreError::InvalidEventType { .. }
        ));
    }

    #[test]
    fn unique_values_are_checked() {
        let refused = |u: Uniqueness| match prepare_uniqueness(&stream(), u) {
            Err(StoreError::InvalidUniqueValue { reason, .. }) => reason,
            other => panic!("expected a refusal, got {other:?}"),
        };
        refused(Uniqueness::new().claim("", "x"));
        refused(Uniqueness::new().claim("e mail", "x"));
        refused(Uniqueness::new().claim("1email", "x"));
        refused(Uniqueness::new().claim("x".repeat(65), "x"));
        refused(Uniqueness::new().claim("email", ""));
        refused(Uniqueness::new().release("email", "a\0b"));
        refused(Uniqueness::new().claim("email", "y".repeat(1025)));
        let both = refused(Uniqueness::new().claim("email", "a").release("email", "a"));
        assert!(both.contains("both claims and releases"), "{both}");
        let many = (0..10_001).fold(Uniqueness::new(), |u, i| u.claim("n", i.to_string()));
        refused(many);
        let twice = Uniqueness::new()
            .claim("email", "a")
            .claim("email", "a")
            .release("alias", "b");
        let kept = prepare_uniqueness(&stream(), twice).unwrap();
        assert_eq!(kept.claims().len(), 1);
        assert_eq!(kept.releases().len(), 1);
        assert!(prepare_uniqueness(&stream(), Uniqueness::new()).is_ok());
    }

    #[test]
    fn append_size_is_bounded() {
        let limits = StoreLimits {
            max_event_size: 100,
            max_append_size: 200,
        };
        let batch = |n: usize| {
            (0..n)
                .map(|_| EventData::new("A", json!("x".repeat(60))))
                .collect()
        };
        assert!(prepare_batch(&stream(), batch(3), &limits).is_ok());
        match prepare_batch(&stream(), batch(4), &limits).unwrap_err() {
            StoreError::AppendTooLarge { size, limit, .. } => {
                assert_eq!(limit, 200);
                assert!(size > 200);
            }
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn size_counts_metadata() {
        let limits = StoreLimits {
            max_event_size: 40,
            ..StoreLimits::default()
        };
        let e =
            EventData::new("A", json!(1)).with_metadata(Metadata::new().with_actor("a".repeat(30)));
        assert!(matches!(
            prepare_batch(&stream(), vec![e], &limits).unwrap_err(),
            StoreError::EventTooLarge { .. }
        ));
    }
}
