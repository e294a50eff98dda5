//! Events: what is appended ([`EventData`]) and what is read back ([`RecordedEvent`]).

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{EventId, Metadata, Position, StreamId};

/// The longest event type name accepted, in bytes.
pub const MAX_EVENT_TYPE_LEN: usize = crate::names::MAX_EVENT_TYPE_LEN;

/// An event to append: a type name, a schema version, a JSON payload and metadata.
///
/// The payload is validated when it is appended, not when it is built, so that every bad
/// input of a batch is reported by [`EventStore::append`](crate::EventStore::append) with
/// the stream and index it belongs to, and nothing is written.
#[derive(Clone, Debug)]
pub struct EventData {
    pub(crate) event_id: EventId,
    pub(crate) event_type: String,
    pub(crate) schema_version: u32,
    pub(crate) payload: Vec<u8>,
    /// Whether `payload` came from a serializer and is known to be JSON.
    pub(crate) payload_is_json: bool,
    pub(crate) metadata: Metadata,
}

impl EventData {
    /// An event of type `event_type` with a JSON payload, a fresh id, schema version 1 and
    /// no metadata.
    ///
    /// Event type names are 1 to 255 characters from `A-Z a-z 0-9 _ . : -`, e.g.
    /// `Deposited` or `bank.Deposited`.
    pub fn new(event_type: impl Into<String>, payload: serde_json::Value) -> Self {
        let payload = payload.to_string().into_bytes();
        Self::build(event_type.into(), payload, true)
    }

    /// Serialises `payload` with serde into a new event.
    pub fn from_serializable<T: Serialize + ?Sized>(
        event_type: impl Into<String>,
        payload: &T,
    ) -> Result<Self, serde_json::Error> {
        let payload = serde_json::to_vec(payload)?;
        Ok(Self::build(event_type.into(), payload, true))
    }

    /// An event whose payload is JSON text from outside (a message, a file, an import).
    /// It is checked when appended: text that is not JSON is refused with
    /// [`StoreError::InvalidPayload`](crate::StoreError::InvalidPayload).
    pub fn from_json_bytes(event_type: impl Into<String>, payload: impl Into<Vec<u8>>) -> Self {
        Self::build(event_type.into(), payload.into(), false)
    }

    fn build(event_type: String, payload: Vec<u8>, payload_is_json: bool) -> Self {
        EventData {
            event_id: EventId::new(),
            event_type,
            schema_version: 1,
            payload,
            payload_is_json,
            metadata: Metadata::default(),
        }
    }

    /// Sets the event id (to make a retried append idempotent, reuse the first attempt's ids).
    pub fn with_id(mut self, id: EventId) -> Self {
        self.event_id = id;
        self
    }

    /// Sets the payload's schema version (default 1).
    pub fn with_schema_version(mut self, version: u32) -> Self {
        self.schema_version = version;
        self
    }

    /// Sets the metadata.
    pub fn with_metadata(mut self, metadata: Metadata) -> Self {
        self.metadata = metadata;
        self
    }

    /// The event's id.
    pub fn id(&self) -> EventId {
        self.event_id
    }

    /// The event's type name.
    pub fn event_type(&self) -> &str {
        &self.event_type
    }

    /// The payload's schema version.
    pub fn schema_version(&self) -> u32 {
        self.schema_version
    }

    /// The metadata.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// The payload bytes as given.
    pub fn payload_bytes(&self) -> &[u8] {
        &self.payload
    }
}

/// Why `name` is not a valid event type, if it is not.
pub(crate) fn event_type_problem(name: &str) -> Option<&'static str> {
    use crate::names::EventTypeProblem;
    Some(match crate::names::event_type_problem(name)? {
        EventTypeProblem::Empty => "an event type may not be empty",
        EventTypeProblem::TooLong => "an event type may be at most 255 bytes long",
        EventTypeProblem::Characters => {
            "an event type may contain only ASCII letters, digits and _ . : -"
        }
    })
}

/// A stored event's JSON payload, exactly as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct Payload(Box<str>);

impl Payload {
    pub(crate) fn from_stored(text: String) -> Self {
        Payload(text.into_boxed_str())
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Deserialises the payload into `T`.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(&self.0)
    }

    /// The payload as a JSON value.
    pub fn to_value(&self) -> serde_json::Value {
        // Stored payloads were validated as JSON when they were appended.
        serde_json::from_str(&self.0).unwrap_or(serde_json::Value::Null)
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An event as stored, with everything the store knows about it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct RecordedEvent {
    /// The event's unique id.
    pub event_id: EventId,
    /// The stream it belongs to.
    pub stream_id: StreamId,
    /// Its version within the stream (1 for the first event).
    pub stream_version: u64,
    /// Its position in the global log.
    pub position: Position,
    /// The event type name.
    pub event_type: String,
    /// The payload's schema version.
    pub schema_version: u32,
    /// The JSON payload.
    pub payload: Payload,
    /// Correlation, causation, actor, tenant, headers.
    pub metadata: Metadata,
    /// When the store recorded it (the appending transaction's time).
    pub recorded_at: DateTime<Utc>,
}

impl RecordedEvent {
    /// A borrowed view of the fields a fold reads.
    pub fn view(&self) -> EventView<'_> {
        EventView {
            stream_version: self.stream_version,
            event_type: &self.event_type,
            schema_version: self.schema_version,
            payload: self.payload.as_str(),
        }
    }

    /// The stream's category.
    pub fn category(&self) -> &str {
        self.stream_id.category()
    }

    /// Deserialises the payload into `T`.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        self.payload.decode()
    }
}

/// What folding an event into state needs, borrowed from wherever the store keeps it.
///
/// [`EventStore::scan_stream`](crate::EventStore::scan_stream) hands these out straight
/// from the database rows, so rebuilding an aggregate allocates nothing per event beyond
/// what decoding the payload takes. It holds only what decoding and folding read, not the
/// id, position, metadata or time of a [`RecordedEvent`]: on PostgreSQL, leaving those
/// columns out of the query made a 10,000-event fold about a fifth faster. Whoever needs
/// them reads [`EventStore::read_stream`](crate::EventStore::read_stream).
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct EventView<'a> {
    /// Its version within the stream.
    pub stream_version: u64,
    /// The event type name.
    pub event_type: &'a str,
    /// The payload's schema version.
    pub schema_version: u32,
    /// The JSON payload text.
    pub payload: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_type_rules() {
        assert!(event_type_problem("bank.Deposited").is_none());
        assert!(event_type_problem("v2:Deposited-x_1").is_none());
        for bad in ["", "a b", "ä", "a/b"] {
            assert!(event_type_problem(bad).is_some(), "{bad:?}");
        }
        assert!(event_type_problem(&"a".repeat(256)).is_some());
    }
}
