//! The registry of a program's events: every type with `#[derive(Event)]` registers its
//! [`EventDescriptor`], and [`events`] lists them all. The build-time step reads it to
//! write the event catalog.

use schemars::Schema;

/// What the catalog knows about one event type at its current version.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct EventDescriptor {
    /// The stored type name.
    pub name: &'static str,
    /// The current schema version.
    pub version: u32,
    /// The Rust type, as written in its crate (for messages and docs).
    pub rust_type: &'static str,
    /// The versions that have an upcaster to the next one, ascending (1 to version - 1).
    pub upcasters: &'static [u32],
    /// Why the event is deprecated, if it is (`Some("")` when no reason was given).
    pub deprecated: Option<&'static str>,
    /// The doc comment of the type.
    pub description: Option<&'static str>,
    /// The JSON Schema (draft-07) of the current payload.
    pub schema: fn() -> Schema,
}

impl EventDescriptor {
    #[doc(hidden)]
    #[allow(clippy::too_many_arguments)]
    pub const fn new(
        name: &'static str,
        version: u32,
        rust_type: &'static str,
        upcasters: &'static [u32],
        deprecated: Option<&'static str>,
        description: Option<&'static str>,
        schema: fn() -> Schema,
    ) -> Self {
        EventDescriptor {
            name,
            version,
            rust_type,
            upcasters,
            deprecated,
            description,
            schema,
        }
    }

    /// Whether the event is deprecated.
    pub fn is_deprecated(&self) -> bool {
        self.deprecated.is_some()
    }
}

/// The draft-07 JSON Schema of `T`, as the catalog needs it (AsyncAPI's parser rejects
/// the 2020-12 default).
pub fn schema_of<T: schemars::JsonSchema>() -> Schema {
    schemars::generate::SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<T>()
}

/// One registered event, submitted by `#[derive(Event)]`.
#[doc(hidden)]
pub struct EventRegistration(pub fn() -> EventDescriptor);

inventory::collect!(EventRegistration);

/// Every event type linked into this program, sorted by name.
pub fn events() -> Vec<EventDescriptor> {
    let mut all: Vec<_> = inventory::iter::<EventRegistration>
        .into_iter()
        .map(|registration| (registration.0)())
        .collect();
    all.sort_by(|a, b| a.name.cmp(b.name).then(a.rust_type.cmp(b.rust_type)));
    all
}
