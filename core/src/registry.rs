//! The registry of what a program defines: every `#[derive(Event)]` registers its
//! [`EventDescriptor`], every `#[factum::aggregate]` its [`AggregateDescriptor`], every
//! `#[derive(ReadModel)]` its table and every non-generic `#[factum::projection]` its
//! [`ProjectionDescriptor`]. [`events`], [`aggregates`], [`read_models`] and
//! [`projections`] list them, sorted; the build-time step (`factum-codegen`) reads them to
//! write the event catalog, the read-model DDL and the GraphQL schema.

use schemars::Schema;

use crate::ReadModelDescriptor;

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
    /// Fields serde also reads under other names (`#[serde(alias = "…")]`): the field's
    /// name as serialized, and its aliases. The catalog records them so that a rename
    /// with an alias is not taken for a breaking change.
    pub aliases: &'static [(&'static str, &'static [&'static str])],
    /// The schemas of older versions the code still knows: the input type of each
    /// upcaster, where that type implements `JsonSchema` (`Value` for JSON upcasters).
    pub older_schemas: fn() -> Vec<(u32, Schema)>,
    /// Fields the current version no longer has and whose stored values the author
    /// accepts to lose (`#[event(dropped = "…")]`), as paths (`amount`, `lines[].note`).
    /// The catalog records them, so that the compatibility gate lets the loss pass.
    pub dropped: &'static [&'static str],
    /// When a deprecated event was deprecated, until when it is kept, and what replaces
    /// it (`#[event(deprecated(since = …, sunset = …, replaced_by = …))]`).
    pub schedule: DeprecationSchedule,
}

/// The schedule of a deprecation, as `#[event(deprecated(…))]` states it; every part is
/// optional. The catalog records it, and its compatibility gate refuses removing the
/// event before the sunset date.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeprecationSchedule {
    /// Since when (a release such as `"2.4"`, or a date).
    pub since: Option<&'static str>,
    /// The date (`YYYY-MM-DD`) before which the event type must not be removed.
    pub sunset: Option<&'static str>,
    /// The event type that replaces it.
    pub replaced_by: Option<&'static str>,
}

impl DeprecationSchedule {
    #[doc(hidden)]
    pub const fn new(
        since: Option<&'static str>,
        sunset: Option<&'static str>,
        replaced_by: Option<&'static str>,
    ) -> Self {
        DeprecationSchedule {
            since,
            sunset,
            replaced_by,
        }
    }
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
        aliases: &'static [(&'static str, &'static [&'static str])],
        older_schemas: fn() -> Vec<(u32, Schema)>,
        dropped: &'static [&'static str],
        schedule: DeprecationSchedule,
    ) -> Self {
        EventDescriptor {
            name,
            version,
            rust_type,
            upcasters,
            deprecated,
            description,
            schema,
            aliases,
            older_schemas,
            dropped,
            schedule,
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

/// Names an upcaster's input type (`Old` in `fn(Old) -> New`) so that its schema can be
/// taken if it has one; see [`InputHasSchema`].
#[doc(hidden)]
pub struct InputProbe<T>(std::marker::PhantomData<T>);

#[doc(hidden)]
pub fn probe_input<Old, R>(_upcaster: impl FnOnce(Old) -> R) -> InputProbe<Old> {
    InputProbe(std::marker::PhantomData)
}

/// Chosen by method resolution when the input type implements `JsonSchema`
/// (`(&probe).input_schema()` finds this impl before autoref reaches the fallback).
#[doc(hidden)]
pub trait InputHasSchema {
    fn input_schema(&self) -> Option<Schema>;
}

impl<T: schemars::JsonSchema> InputHasSchema for InputProbe<T> {
    fn input_schema(&self) -> Option<Schema> {
        Some(schema_of::<T>())
    }
}

/// The fallback for input types without a schema.
#[doc(hidden)]
pub trait InputHasNoSchema {
    fn input_schema(&self) -> Option<Schema>;
}

impl<T> InputHasNoSchema for &InputProbe<T> {
    fn input_schema(&self) -> Option<Schema> {
        None
    }
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

/// What the catalog knows about an aggregate: the stream category it owns and the
/// events its streams hold.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct AggregateDescriptor {
    /// The stream category (`account` for streams `account-…`).
    pub category: &'static str,
    /// The state type, as written in its crate.
    pub rust_type: &'static str,
    /// The stored type names of its events.
    pub events: &'static [&'static str],
    /// The doc comment of its `#[factum::aggregate]` block.
    pub description: Option<&'static str>,
}

impl AggregateDescriptor {
    #[doc(hidden)]
    pub const fn new(
        category: &'static str,
        rust_type: &'static str,
        events: &'static [&'static str],
        description: Option<&'static str>,
    ) -> Self {
        AggregateDescriptor {
            category,
            rust_type,
            events,
            description,
        }
    }
}

/// One registered aggregate, submitted by `#[factum::aggregate]`.
#[doc(hidden)]
pub struct AggregateRegistration(pub fn() -> AggregateDescriptor);

inventory::collect!(AggregateRegistration);

/// Every aggregate linked into this program, sorted by category.
pub fn aggregates() -> Vec<AggregateDescriptor> {
    let mut all: Vec<_> = inventory::iter::<AggregateRegistration>
        .into_iter()
        .map(|registration| (registration.0)())
        .collect();
    all.sort_by(|a, b| {
        a.category
            .cmp(b.category)
            .then(a.rust_type.cmp(b.rust_type))
    });
    all
}

/// One registered read model, submitted by `#[derive(ReadModel)]`.
#[doc(hidden)]
pub struct ReadModelRegistration(pub fn() -> &'static ReadModelDescriptor);

inventory::collect!(ReadModelRegistration);

/// Every read model linked into this program, sorted by table.
pub fn read_models() -> Vec<&'static ReadModelDescriptor> {
    let mut all: Vec<_> = inventory::iter::<ReadModelRegistration>
        .into_iter()
        .map(|registration| (registration.0)())
        .collect();
    all.sort_by(|a, b| a.table.cmp(b.table).then(a.name.cmp(b.name)));
    all
}

/// What the catalog knows about a projection: its name, version and tables.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ProjectionDescriptor {
    /// The projection's name.
    pub name: &'static str,
    /// Its version (each version has its own tables).
    pub version: u32,
    /// The read models it writes.
    pub read_models: Vec<&'static ReadModelDescriptor>,
    /// The event types it handles (their stored names), for the catalog's consumers.
    pub handles: &'static [&'static str],
}

/// One registered projection, submitted by `#[factum::projection]` on a non-generic type.
#[doc(hidden)]
pub struct ProjectionRegistration(pub fn() -> ProjectionDescriptor);

inventory::collect!(ProjectionRegistration);

#[doc(hidden)]
pub fn projection_descriptor(
    name: &'static str,
    version: u32,
    read_models: Vec<&'static ReadModelDescriptor>,
    handles: &'static [&'static str],
) -> ProjectionDescriptor {
    ProjectionDescriptor {
        name,
        version,
        read_models,
        handles,
    }
}

/// Every non-generic projection linked into this program, sorted by name and version.
pub fn projections() -> Vec<ProjectionDescriptor> {
    let mut all: Vec<_> = inventory::iter::<ProjectionRegistration>
        .into_iter()
        .map(|registration| (registration.0)())
        .collect();
    all.sort_by(|a, b| a.name.cmp(b.name).then(a.version.cmp(&b.version)));
    all
}

/// What the catalog knows about a process manager: its name and the events it reacts to.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ProcessManagerDescriptor {
    /// Its name.
    pub name: &'static str,
    /// The event types it reacts to (their stored names).
    pub handles: &'static [&'static str],
}

/// One registered process manager, submitted by `#[factum::process_manager]` on a
/// non-generic type.
#[doc(hidden)]
pub struct ProcessManagerRegistration(pub fn() -> ProcessManagerDescriptor);

inventory::collect!(ProcessManagerRegistration);

#[doc(hidden)]
pub fn process_manager_descriptor(
    name: &'static str,
    handles: &'static [&'static str],
) -> ProcessManagerDescriptor {
    ProcessManagerDescriptor { name, handles }
}

/// Every non-generic process manager linked into this program, sorted by name.
pub fn process_managers() -> Vec<ProcessManagerDescriptor> {
    let mut all: Vec<_> = inventory::iter::<ProcessManagerRegistration>
        .into_iter()
        .map(|registration| (registration.0)())
        .collect();
    all.sort_by(|a, b| a.name.cmp(b.name));
    all
}
