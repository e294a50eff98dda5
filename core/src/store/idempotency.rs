//! Recognising a retried append: its event ids are already stored, in this stream, in
//! this order, at consecutive versions. Backends only look this up after a write failed
//! (a version conflict or a taken event id), so the happy path pays nothing for it.

use crate::{AppendResult, EventId, Position, StoreError, StreamId};

/// Where an event id is already stored.
#[derive(Debug, Clone)]
pub(crate) struct StoredId {
    pub event_id: EventId,
    pub stream_id: String,
    pub version: u64,
    pub position: Position,
}

/// `Ok(Some(_))`: the batch is an exact retry; `Ok(None)`: none of its ids is stored;
/// `Err(EventIdConflict)`: some ids are stored, but not as this batch.
pub(crate) fn resolve_retry(
    stream: &StreamId,
    batch: &[EventId],
    mut stored: Vec<StoredId>,
) -> Result<Option<AppendResult>, StoreError> {
    if stored.is_empty() {
        return Ok(None);
    }
    let index_of = |id: &EventId| batch.iter().position(|b| b == id).unwrap_or(usize::MAX);
    stored.sort_by_key(|s| index_of(&s.event_id));
    let conflict = |s: &StoredId| StoreError::EventIdConflict {
        event_id: s.event_id,
        existing_stream: StreamId::new(&s.stream_id).unwrap_or_else(|_| stream.clone()),
        existing_version: s.version,
    };
    let first_version = stored[0].version;
    for (i, s) in stored.iter().enumerate() {
        let in_place = s.stream_id == stream.as_str()
            && index_of(&s.event_id) == i
            && s.version == first_version + i as u64;
        if !in_place {
            return Err(conflict(s));
        }
    }
    if stored.len() != batch.len() {
        // The first ids match but the batch goes on with new ones: not the same append.
        return Err(conflict(&stored[stored.len() - 1]));
    }
    Ok(Some(AppendResult {
        version: first_version + batch.len() as u64 - 1,
        positions: stored.iter().map(|s| s.position).collect(),
        deduplicated: true,
    }))
}
