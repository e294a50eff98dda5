//! Checks an append's input before any backend touches storage, so that bad input is
//! reported with its stream and index and nothing is written.

use std::collections::HashSet;

use crate::event::event_type_problem;
use crate::{EventData, EventId, Metadata, StoreError, StreamId};

use super::StoreLimits;

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
    pub fn ids(&self) -> Vec<EventId> {
        self.events.iter().map(|e| e.event_id).collect()
    }

    pub fn len(&self) -> u64 {
        self.events.len() as u64
    }
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
