//! Events: the versioned `Event` trait, upcasting, and the stored record (re-exported at the crate root; the guide is on [`Event`]).

mod id;
mod metadata;
mod recorded;

pub use id::EventId;
pub use metadata::Metadata;
pub(crate) use recorded::event_type_problem;
pub use recorded::{EventData, EventView, MAX_EVENT_TYPE_LEN, Payload, RecordedEvent};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::registry::EventDescriptor;

/// A versioned domain event. Derive it with `#[derive(Event)]`; see below and the
/// derive's documentation for the attributes.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a Factum event",
    label = "not an event",
    note = "derive it: `#[derive(factum::Event, Serialize, Deserialize, JsonSchema)]`"
)]
///
#[doc = include_str!("../../docs/events.md")]
pub trait Event: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The stable type name stored with every event of this type.
    const NAME: &'static str;

    /// The current schema version (1 for a new event).
    const VERSION: u32;

    /// Lifts a payload stored under schema `version` to [`Self::VERSION`], applying each
    /// upcaster in order. A version the event does not know is an
    /// [`UpcastError::UnknownVersion`].
    fn upcast(version: u32, payload: Value) -> Result<Value, UpcastError>;

    /// Everything the catalog needs to know about this event.
    fn descriptor() -> EventDescriptor;

    /// This event as data to append, tagged with its name and current version.
    fn to_event_data(&self) -> Result<EventData, serde_json::Error> {
        Ok(EventData::from_serializable(Self::NAME, self)?.with_schema_version(Self::VERSION))
    }

    /// Builds the current type from a recorded event of this type, upcasting on the way.
    fn from_recorded(event: &RecordedEvent) -> Result<Self, UpcastError> {
        Self::from_view(event.view())
    }

    /// Builds the current type from a stored event of this type, upcasting on the way.
    fn from_view(event: EventView<'_>) -> Result<Self, UpcastError> {
        if event.event_type != Self::NAME {
            return Err(UpcastError::WrongType {
                expected: Self::NAME,
                found: event.event_type.to_owned(),
            });
        }
        if event.schema_version == Self::VERSION {
            // The common case: stored by the current code, decoded in one pass.
            return serde_json::from_str(event.payload).map_err(|e| UpcastError::Decode {
                event: Self::NAME,
                version: Self::VERSION,
                reason: e.to_string(),
            });
        }
        let stored: Value =
            serde_json::from_str(event.payload).map_err(|e| UpcastError::Decode {
                event: Self::NAME,
                version: event.schema_version,
                reason: e.to_string(),
            })?;
        let current = Self::upcast(event.schema_version, stored)?;
        serde_json::from_value(current).map_err(|e| UpcastError::Decode {
            event: Self::NAME,
            version: Self::VERSION,
            reason: e.to_string(),
        })
    }
}

/// Why a stored payload could not be turned into the current event type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UpcastError {
    /// The stored schema version is newer than the code, or below the first version the
    /// event has upcasters for.
    #[error(
        "{event} has no schema version {version} (the code knows 1 to {current}); \
         deploy the code that wrote it, or add an upcaster"
    )]
    UnknownVersion {
        /// The event type.
        event: &'static str,
        /// The stored version.
        version: u32,
        /// The current version in the code.
        current: u32,
    },
    /// An upcaster failed.
    #[error("upcasting {event} from version {from} failed: {reason}")]
    Failed {
        /// The event type.
        event: &'static str,
        /// The version the failing upcaster starts from.
        from: u32,
        /// What went wrong.
        reason: String,
    },
    /// The payload does not fit the type expected at that version.
    #[error("{event} version {version} does not decode: {reason}")]
    Decode {
        /// The event type.
        event: &'static str,
        /// The version it was read as.
        version: u32,
        /// The decoder's message.
        reason: String,
    },
    /// The recorded event is of another type.
    #[error("expected a {expected} event, found {found}")]
    WrongType {
        /// The type asked for.
        expected: &'static str,
        /// The stored type.
        found: String,
    },
}

/// Runs one upcaster: decodes the stored payload as the function's input type, calls it,
/// and encodes its output for the next step. Used by the code `#[derive(Event)]` writes.
#[doc(hidden)]
pub fn run_upcaster<Old, New>(
    event: &'static str,
    from: u32,
    payload: Value,
    upcaster: impl FnOnce(Old) -> New,
) -> Result<Value, UpcastError>
where
    Old: DeserializeOwned,
    New: Serialize,
{
    let old: Old = serde_json::from_value(payload).map_err(|e| UpcastError::Decode {
        event,
        version: from,
        reason: e.to_string(),
    })?;
    serde_json::to_value(upcaster(old)).map_err(|e| UpcastError::Failed {
        event,
        from,
        reason: e.to_string(),
    })
}

/// Like [`run_upcaster`], for upcasters that can fail.
#[doc(hidden)]
pub fn try_run_upcaster<Old, New, E>(
    event: &'static str,
    from: u32,
    payload: Value,
    upcaster: impl FnOnce(Old) -> Result<New, E>,
) -> Result<Value, UpcastError>
where
    Old: DeserializeOwned,
    New: Serialize,
    E: std::fmt::Display,
{
    let old: Old = serde_json::from_value(payload).map_err(|e| UpcastError::Decode {
        event,
        version: from,
        reason: e.to_string(),
    })?;
    let new = upcaster(old).map_err(|e| UpcastError::Failed {
        event,
        from,
        reason: e.to_string(),
    })?;
    serde_json::to_value(new).map_err(|e| UpcastError::Failed {
        event,
        from,
        reason: e.to_string(),
    })
}
