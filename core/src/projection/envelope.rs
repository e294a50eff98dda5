//! What a projection handler receives: the decoded event and the record around it.

use std::ops::Deref;

use chrono::{DateTime, Utc};

use crate::{Event, EventId, Metadata, Position, RecordedEvent, StreamId, UpcastError};

/// A decoded event with its envelope: ids, position, metadata and time. Dereferences to
/// the event, so `envelope.cents` reads a field of the payload.
#[derive(Debug)]
pub struct Envelope<'a, E> {
    event: E,
    recorded: &'a RecordedEvent,
}

impl<'a, E: Event> Envelope<'a, E> {
    /// Decodes (and upcasts) `recorded` as an `E`.
    pub fn decode(recorded: &'a RecordedEvent) -> Result<Self, UpcastError> {
        Ok(Envelope {
            event: E::from_recorded(recorded)?,
            recorded,
        })
    }
}

impl<'a, E> Envelope<'a, E> {
    /// Wraps an already decoded event.
    pub fn new(event: E, recorded: &'a RecordedEvent) -> Self {
        Envelope { event, recorded }
    }

    /// The decoded event.
    pub fn event(&self) -> &E {
        &self.event
    }

    /// The decoded event, owned.
    pub fn into_event(self) -> E {
        self.event
    }

    /// The event's unique id (the key for deduplication).
    pub fn event_id(&self) -> EventId {
        self.recorded.event_id
    }

    /// The stream it was appended to.
    pub fn stream_id(&self) -> &StreamId {
        &self.recorded.stream_id
    }

    /// Its version within the stream.
    pub fn stream_version(&self) -> u64 {
        self.recorded.stream_version
    }

    /// Its position in the global log.
    pub fn position(&self) -> Position {
        self.recorded.position
    }

    /// Correlation, causation, actor, tenant and headers.
    pub fn metadata(&self) -> &Metadata {
        &self.recorded.metadata
    }

    /// When it was recorded.
    pub fn recorded_at(&self) -> DateTime<Utc> {
        self.recorded.recorded_at
    }

    /// The record as stored (type name, schema version, raw payload).
    pub fn recorded(&self) -> &'a RecordedEvent {
        self.recorded
    }
}

impl<E> Deref for Envelope<'_, E> {
    type Target = E;

    fn deref(&self) -> &E {
        &self.event
    }
}
