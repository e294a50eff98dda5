//! One journal message: an append's whole batch (stored or not as a whole), a tombstone,
//! or a fence, and the events read back out of it with their positions.
//!
//! The body of an append is a JSON array, one object per event:
//! `{"id": uuid, "type": name, "v": schema version, "payload": …, "meta": {…}, "at": time}`
//! (`meta` left out when empty). The headers say what the message is
//! ([`KIND`]), the stream version after it ([`VERSION`]) and how many events it holds
//! ([`COUNT`]), so the last message of a subject tells the stream's state without its
//! body being read.
//!
//! The i-th event of the message at journal sequence `s` is at global position
//! `s << 20 | i`: positions grow with the journal and read back from the message alone.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::store::PreparedBatch;
use crate::{EventId, Metadata, Payload, Position, RecordedEvent, StoreError, StreamId};

/// Header: what the message is, [`Kind`].
pub(crate) const KIND: &str = "Factum-Kind";
/// Header: the stream version after the message (unchanged by a fence).
pub(crate) const VERSION: &str = "Factum-Version";
/// Header: how many events the message holds.
pub(crate) const COUNT: &str = "Factum-Count";
/// Header: `true` when the stream is deleted after the message (a tombstone, or a fence
/// written after one).
pub(crate) const DELETED: &str = "Factum-Deleted";

/// Bits of a position below the journal sequence: the index within the message.
pub(crate) const INDEX_BITS: u32 = 20;

/// What a journal message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// An append: a batch of events.
    Events,
    /// The stream was deleted: appends are refused from here on.
    Tombstone,
    /// Nothing: written by a writer that must make sure an append conditioned on the
    /// subject's previous sequence can no longer land (see `docs/JETSTREAM.md`).
    Fence,
}

impl Kind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Events => "events",
            Kind::Tombstone => "tombstone",
            Kind::Fence => "fence",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Kind> {
        match text {
            "events" => Some(Kind::Events),
            "tombstone" => Some(Kind::Tombstone),
            "fence" => Some(Kind::Fence),
            _ => None,
        }
    }
}

/// The position of the `index`-th event of the message at journal sequence `sequence`.
pub(crate) fn position(sequence: u64, index: usize) -> Position {
    Position((sequence << INDEX_BITS) | index as u64)
}

/// The journal sequence a position's event is in, and its index there.
pub(crate) fn sequence_of(position: Position) -> (u64, usize) {
    let mask = (1u64 << INDEX_BITS) - 1;
    (position.0 >> INDEX_BITS, (position.0 & mask) as usize)
}

#[derive(Serialize)]
struct EventOut<'a> {
    id: EventId,
    #[serde(rename = "type")]
    event_type: &'a str,
    v: u32,
    payload: &'a RawValue,
    #[serde(skip_serializing_if = "Option::is_none")]
    meta: Option<&'a RawValue>,
    at: DateTime<Utc>,
}

#[derive(Deserialize)]
struct EventIn<'a> {
    id: EventId,
    #[serde(rename = "type")]
    event_type: String,
    v: u32,
    #[serde(borrow)]
    payload: &'a RawValue,
    #[serde(default)]
    meta: Option<Metadata>,
    at: DateTime<Utc>,
}

/// The body of an append's message. The batch passed validation, so its payloads and
/// metadata are JSON; should one not be, it is refused as invalid, and nothing is written.
pub(crate) fn encode_batch(
    batch: &PreparedBatch,
    recorded_at: DateTime<Utc>,
) -> Result<Vec<u8>, StoreError> {
    let invalid =
        |index: usize, event_type: &str, e: serde_json::Error| StoreError::InvalidPayload {
            stream: batch.stream.clone(),
            index,
            event_type: event_type.to_owned(),
            reason: e.to_string(),
        };
    let events = batch
        .events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let raw = |text| {
                serde_json::from_str::<&RawValue>(text)
                    .map_err(|err| invalid(i, &e.event_type, err))
            };
            Ok(EventOut {
                id: e.event_id,
                event_type: &e.event_type,
                v: e.schema_version,
                payload: raw(&e.payload)?,
                meta: e.metadata_json.as_deref().map(raw).transpose()?,
                at: recorded_at,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let size: usize = batch
        .events
        .iter()
        .map(|e| e.payload.len() + e.metadata_json.as_ref().map_or(0, String::len) + 160)
        .sum();
    let mut out = Vec::with_capacity(size);
    serde_json::to_writer(&mut out, &events)
        .map_err(|e| invalid(0, &batch.events[0].event_type, e))?;
    Ok(out)
}

/// The events of an append's message at journal sequence `sequence`, whose last event
/// is at stream version `last_version`.
pub(crate) fn decode_events(
    stream: &StreamId,
    sequence: u64,
    last_version: u64,
    body: &[u8],
) -> Result<Vec<RecordedEvent>, StoreError> {
    let corrupt = |detail: String| StoreError::Corrupt {
        position: position(sequence, 0),
        reason: format!("journal message {sequence} of stream {stream}: {detail}"),
    };
    let events: Vec<EventIn<'_>> =
        serde_json::from_slice(body).map_err(|e| corrupt(format!("not a batch of events: {e}")))?;
    let count = events.len() as u64;
    if count == 0 || last_version < count {
        return Err(corrupt(format!(
            "{count} events cannot end at stream version {last_version}"
        )));
    }
    let first = last_version - count + 1;
    Ok(events
        .into_iter()
        .enumerate()
        .map(|(i, e)| RecordedEvent {
            event_id: e.id,
            stream_id: stream.clone(),
            stream_version: first + i as u64,
            position: position(sequence, i),
            event_type: e.event_type,
            schema_version: e.v,
            payload: Payload::from_stored(e.payload.get().to_owned()),
            metadata: e.meta.unwrap_or_default(),
            recorded_at: e.at,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::EventData;
    use crate::store::{StoreLimits, prepare_batch};

    fn batch(events: Vec<EventData>) -> PreparedBatch {
        let stream = StreamId::new("account-1").unwrap();
        prepare_batch(&stream, events, &StoreLimits::default()).unwrap()
    }

    #[test]
    fn a_batch_reads_back_event_by_event() {
        let events = vec![
            EventData::new("Opened", serde_json::json!({ "owner": "ann", "n": 1.5 })),
            EventData::new("Noted", serde_json::json!("text with \"quotes\" and ü"))
                .with_schema_version(3)
                .with_metadata(Metadata::new().with_correlation_id("c-1")),
        ];
        let ids: Vec<EventId> = events.iter().map(EventData::id).collect();
        let at = Utc::now();
        let body = encode_batch(&batch(events), at).unwrap();
        let stream = StreamId::new("account-1").unwrap();
        let read = decode_events(&stream, 7, 12, &body).unwrap();
        assert_eq!(read.len(), 2);
        assert_eq!([read[0].event_id, read[1].event_id], [ids[0], ids[1]]);
        assert_eq!([read[0].stream_version, read[1].stream_version], [11, 12]);
        assert_eq!(read[0].position, position(7, 0));
        assert_eq!(read[1].position, position(7, 1));
        assert_eq!(read[0].payload.as_str(), r#"{"n":1.5,"owner":"ann"}"#);
        assert_eq!(read[1].schema_version, 3);
        assert_eq!(read[1].metadata.correlation_id.as_deref(), Some("c-1"));
        assert_eq!(read[0].recorded_at, at);
    }

    #[test]
    fn a_damaged_message_is_an_error_not_a_panic() {
        let stream = StreamId::new("account-1").unwrap();
        for body in [&b"not json"[..], b"[]", b"{}", b"[{\"id\":1}]"] {
            assert!(matches!(
                decode_events(&stream, 1, 1, body),
                Err(StoreError::Corrupt { .. })
            ));
        }
        let two = vec![EventData::new("A", 1.into()), EventData::new("A", 2.into())];
        let body = encode_batch(&batch(two), Utc::now());
        // Two events cannot end at version 1.
        assert!(decode_events(&stream, 1, 1, &body.unwrap()).is_err());
    }

    #[test]
    fn kinds_read_back() {
        for kind in [Kind::Events, Kind::Tombstone, Kind::Fence] {
            assert_eq!(Kind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(Kind::parse("other"), None);
    }

    proptest! {
        #[test]
        fn positions_split_back(sequence in 1u64..(1 << 40), index in 0usize..(1 << 20)) {
            let p = position(sequence, index);
            prop_assert_eq!(sequence_of(p), (sequence, index));
            prop_assert!(p < position(sequence + 1, 0));
        }
    }
}
