//! Recognising a retried append: its event ids are already stored, in this stream, in
//! this order, at consecutive versions, with the same types, schema versions and
//! payloads. Backends only look this up after a write failed (a version conflict or a
//! taken event id), so the happy path pays nothing for it.
//!
//! The comparison is by id through a hash map, so recognising the retry of a
//! 100,000-event batch is linear in the batch, not quadratic.

use std::collections::HashMap;

use super::validate::PreparedEvent;
use crate::error::IdConflictReason;
use crate::{AppendResult, EventId, Position, StoreError, StreamId};

/// Where an event id is already stored, and what is stored under it.
#[derive(Debug, Clone)]
pub(crate) struct StoredId {
    pub event_id: EventId,
    pub stream_id: String,
    pub version: u64,
    pub position: Position,
    pub event_type: String,
    pub schema_version: u32,
    /// The payload's text exactly as appended (every backend keeps it byte for byte).
    pub payload: String,
}

/// `Ok(Some(_))`: the batch is an exact retry; `Ok(None)`: none of its ids is stored;
/// `Err(EventIdConflict)`: some ids are stored, but not as this batch.
pub(crate) fn resolve_retry(
    stream: &StreamId,
    batch: &[PreparedEvent],
    mut stored: Vec<StoredId>,
) -> Result<Option<AppendResult>, StoreError> {
    if stored.is_empty() {
        return Ok(None);
    }
    let index: HashMap<EventId, usize> = batch
        .iter()
        .enumerate()
        .map(|(i, e)| (e.event_id, i))
        .collect();
    let index_of = |id: &EventId| index.get(id).copied().unwrap_or(usize::MAX);
    stored.sort_by_key(|s| index_of(&s.event_id));
    let conflict = |s: &StoredId, reason: IdConflictReason| StoreError::EventIdConflict {
        event_id: s.event_id,
        existing_stream: StreamId::new(&s.stream_id).unwrap_or_else(|_| stream.clone()),
        existing_version: s.version,
        reason,
    };
    let first_version = stored[0].version;
    for (i, s) in stored.iter().enumerate() {
        if s.stream_id != stream.as_str() {
            return Err(conflict(s, IdConflictReason::OtherStream));
        }
        let at = index_of(&s.event_id);
        if at != i || s.version != first_version + i as u64 {
            return Err(conflict(s, IdConflictReason::OtherPlace));
        }
        // `at` indexes the batch: `index` was built from it.
        let sent = &batch[at];
        if sent.event_type != s.event_type {
            return Err(conflict(s, IdConflictReason::DifferentType));
        }
        if sent.schema_version != s.schema_version {
            return Err(conflict(s, IdConflictReason::DifferentSchemaVersion));
        }
        if sent.payload != s.payload {
            return Err(conflict(s, IdConflictReason::DifferentPayload));
        }
    }
    if stored.len() != batch.len() {
        // The first ids match but the batch goes on with new ones: not the same append.
        return Err(conflict(
            &stored[stored.len() - 1],
            IdConflictReason::BatchContinues,
        ));
    }
    Ok(Some(AppendResult {
        version: first_version + batch.len() as u64 - 1,
        positions: stored.iter().map(|s| s.position).collect(),
        deduplicated: true,
    }))
}
