//! Event ids.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The unique id of an event: a UUIDv7, so ids sort by creation time and index well.
///
/// An append that is retried with the same ids is recognised and not written twice (see
/// [`EventStore::append`](crate::EventStore::append)), so create the ids once per intended
/// write, before the first attempt.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventId(Uuid);

/// The UUIDv5 namespace of [`EventId::derived`] ids.
const FACTUM_NAMESPACE: Uuid = Uuid::from_u128(0x6661_6374_756d_4000_8000_6576_656e_7473);

impl EventId {
    /// A fresh UUIDv7.
    pub fn new() -> Self {
        EventId(Uuid::now_v7())
    }

    /// Wraps an existing UUID (e.g. one from a message broker).
    pub const fn from_uuid(uuid: Uuid) -> Self {
        EventId(uuid)
    }

    /// A UUIDv5 derived from an idempotency key, the stream and the event's place in
    /// its batch: the same inputs always give the same id, so a repeated append of the
    /// same keyed batch is recognised as a retry by the store.
    pub fn derived(key: &str, stream: &crate::StreamId, index: usize) -> Self {
        let name = format!("{key}\u{0}{stream}\u{0}{index}");
        EventId(Uuid::new_v5(&FACTUM_NAMESPACE, name.as_bytes()))
    }

    /// The UUID.
    pub const fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl Default for EventId {
    fn default() -> Self {
        Self::new()
    }
}

impl From<Uuid> for EventId {
    fn from(uuid: Uuid) -> Self {
        EventId(uuid)
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventId({})", self.0)
    }
}
