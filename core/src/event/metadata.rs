//! Event metadata: who and what caused an event.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The envelope fields that travel with every event besides its payload.
///
/// * `correlation_id`: the original request or business transaction all related events
///   share; carried unchanged from command to event to reaction.
/// * `causation_id`: the id of the message (command or event) that directly caused this one.
/// * `actor`: who acted (a user, a service).
/// * `tenant`: which tenant the event belongs to, for multi-tenant stores.
/// * `headers`: anything else, as string pairs (trace ids, source IP, client version).
///
/// ```
/// use factum::Metadata;
/// let meta = Metadata::new()
///     .with_correlation_id("req-7f3a")
///     .with_actor("user:alice")
///     .with_header("source-ip", "10.0.0.8");
/// assert_eq!(meta.correlation_id.as_deref(), Some("req-7f3a"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Metadata {
    /// The request or business transaction this event belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// The message that directly caused this event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<String>,
    /// Who acted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// The tenant the event belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Free-form headers.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

impl Metadata {
    /// Empty metadata.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the correlation id.
    pub fn with_correlation_id(mut self, id: impl Into<String>) -> Self {
        self.correlation_id = Some(id.into());
        self
    }

    /// Sets the causation id.
    pub fn with_causation_id(mut self, id: impl Into<String>) -> Self {
        self.causation_id = Some(id.into());
        self
    }

    /// Sets the actor.
    pub fn with_actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = Some(actor.into());
        self
    }

    /// Sets the tenant.
    pub fn with_tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// Adds a header.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name.into(), value.into());
        self
    }

    /// Whether nothing is set (stored as SQL `NULL`).
    pub fn is_empty(&self) -> bool {
        self.correlation_id.is_none()
            && self.causation_id.is_none()
            && self.actor.is_none()
            && self.tenant.is_none()
            && self.headers.is_empty()
    }

    /// The metadata as stored: `None` when empty, else its JSON text.
    pub(crate) fn to_stored(&self) -> Option<String> {
        if self.is_empty() {
            None
        } else {
            // A struct of strings and a string map always serialises.
            serde_json::to_string(self).ok()
        }
    }
}
