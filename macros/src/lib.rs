//! Derive macros for Factum. Depend on `factum`, which re-exports them.
//!
//! Each macro works in stages: it parses its input and attributes into typed structs
//! (darling) and checks them, pushing every mistake into one collector, so that all the
//! mistakes of an input are reported at once, each with the span of the offending
//! tokens; only from a fully checked model does it generate code.
//!
//! Generated code names Factum's items under `::factum` by default. Every macro takes a
//! `crate = "path"` key for when Factum is reachable under another path: a renamed
//! dependency (`crate = "my_factum"`) or a re-export from another crate
//! (`crate = "acme::factum"`).

mod aggregate;
mod args;
mod common;
mod crate_path;
mod event;
mod event_set;
// Shared with `factum`, which includes the same file; each crate uses part of it.
#[allow(dead_code)]
use factum_names as names;
mod payload;
mod projection;
mod read_model;
mod serde_attrs;

use proc_macro::TokenStream;

/// Implements `factum::Event` for a struct or an enum: a versioned domain event.
///
/// ```text
/// #[derive(Event, Serialize, Deserialize, JsonSchema)]
/// #[event(
///     name = "bank.Deposited",                 // default: the type's name
///     version = 3,                             // default: 1
///     upcast(from = 1, with = v1_to_v2),       // fn(Old) -> New
///     upcast(from = 2, try_with = v2_to_v3),   // fn(Old) -> Result<New, E: Display>
///     deprecated = "use bank.Credited",        // or just `deprecated`, or with a schedule:
///     // deprecated(since = "2.4", sunset = "2027-06-30", replaced_by = "bank.Credited",
///     //            note = "credits carry their currency"),
///     dropped = "memo",                        // repeatable: see below
///     crate = "my_factum",                     // default: "::factum"
/// )]
/// struct Deposited { … }
/// ```
///
/// Every version below the current one needs exactly one upcaster. Each upcaster's
/// input and output types are what it reads and writes (`serde_json::Value` works for
/// both). The doc comment becomes the event's description in the catalog.
///
/// `dropped = "path"` acknowledges that the current version no longer reads a field that
/// stored events hold (`memo`, `line.note`, `lines[].note`): serde skips it, so its
/// values are lost without an error, and the catalog's compatibility gate calls that
/// breaking unless the loss is acknowledged here. A renamed field wants
/// `#[serde(alias = "old")]` instead, which keeps the values.
///
/// A deprecation's schedule is recorded in the catalog, whose compatibility gate refuses
/// removing the event type before its `sunset` date (`YYYY-MM-DD`); `replaced_by` names
/// the event type to move to, and the HTML catalog links it.
///
/// An enum event may use any of serde's representations (externally tagged, the
/// default; `tag`; `tag` and `content`; `untagged`), with `rename_all`, aliases and
/// `#[serde(other)]`: its schema is each variant's, in order, and the catalog's gate reads
/// old events as serde would (an untagged variant moved ahead of one whose payloads it
/// accepts is breaking). An enum without variants, and an internally tagged newtype
/// variant holding a number, string, sequence or option (serde fails when writing it), are
/// compile errors.
///
/// The derive records the aliases of a struct event's own fields. A derive cannot change
/// the type, so the serde attributes whose record goes into the schema itself (an alias
/// on a variant or a variant's field, `#[serde(other)]`, `try_from`, `deserialize_with`)
/// need [`macro@payload`] above the derive, and one found without it is a compile error
/// pointing at it. Put [`macro@payload`] on the structs and enums inside the payload too,
/// where the derive cannot look.
///
/// `crate = "path"` is the path at which the generated code finds Factum, when it is not
/// `::factum`: `"my_factum"` for a dependency renamed in Cargo.toml, `"acme::factum"` for
/// Factum re-exported by a crate `acme`. (A crate that reaches schemars only through
/// Factum too tells schemars' derive the same: `#[schemars(crate = "acme::factum::schemars")]`.)
/// Every mistake of the type and its attributes is reported at once.
#[proc_macro_derive(Event, attributes(event))]
pub fn derive_event(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    event::expand(&input)
        .unwrap_or_else(darling::Error::write_errors)
        .into()
}

/// Records, in the JSON Schema of a type used inside an event's payload, the serde
/// attributes that change what JSON it accepts and that schemars leaves out: `alias` on
/// fields and variants, `other`, `try_from`, and `deserialize_with`/`with`. The catalog's
/// compatibility gate reads them: a field renamed with an alias keeps its stored values,
/// a variant renamed with an alias still reads, a value read through `try_from` may be
/// refused.
///
/// Put it above `#[derive(JsonSchema)]`, on each struct or enum reached from an event's
/// fields; `#[derive(Event)]` records only the aliases of the event type's own fields,
/// so put it on the event type too when that uses `deserialize_with` or `try_from`.
///
/// ```text
/// #[factum::payload]
/// #[derive(Serialize, Deserialize, JsonSchema)]
/// struct Line {
///     #[serde(alias = "qty")]
///     quantity: u32,
/// }
/// ```
#[proc_macro_attribute]
pub fn payload(args: TokenStream, item: TokenStream) -> TokenStream {
    payload::expand(args.into(), item.into())
        .unwrap_or_else(darling::Error::write_errors)
        .into()
}

/// Implements `factum::EventSet` for an enum whose variants each hold one event type:
/// the closed set of events an aggregate is built from. Also implements `From` for each
/// event type, so `Deposited { .. }.into()` gives the set's variant.
///
/// ```text
/// #[derive(EventSet)]
/// #[event_set(crate = "my_factum")]   // optional; default: "::factum"
/// enum AccountEvent { Deposited(Deposited), Withdrawn(Withdrawn) }
/// ```
///
/// `#[event_set(crate = "path")]` is the path at which the generated code finds Factum,
/// when it is not `::factum` (see [`macro@Event`]); it is the attribute's only key.
#[proc_macro_derive(EventSet, attributes(event_set))]
pub fn derive_event_set(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    event_set::expand(&input)
        .unwrap_or_else(darling::Error::write_errors)
        .into()
}

/// Wires an aggregate: put it on the `impl` block of the state type.
///
/// ```text
/// #[factum::aggregate(category = "account", events = AccountEvent, error = AccountError,
///                     state_version = 1)]
/// impl Account {
///     #[apply]
///     fn deposited(&mut self, e: &Deposited) { self.balance += e.cents; }
///
///     #[handle]
///     fn deposit(&self, cmd: Deposit) -> Result<Vec<AccountEvent>, AccountError> { … }
///
///     #[handle(record_rejection = refused_withdrawal)]
///     fn withdraw(&self, cmd: Withdraw) -> Result<Vec<AccountEvent>, AccountError> { … }
///
///     fn refused_withdrawal(&self, cmd: &Withdraw, e: &AccountError) -> Option<AccountEvent> { … }
/// }
/// ```
///
/// Every event of the set needs exactly one `#[apply]`; an `#[apply]` for a type outside
/// the set, or a function with the wrong signature, is a compile error.
///
/// `crate = "path"` (e.g. `#[my_factum::aggregate(crate = "my_factum", …)]`) is the path
/// at which the generated code finds Factum, when it is not `::factum` (see
/// [`macro@Event`]).
#[proc_macro_attribute]
pub fn aggregate(args: TokenStream, item: TokenStream) -> TokenStream {
    aggregate::expand(args.into(), item.into())
        .unwrap_or_else(darling::Error::write_errors)
        .into()
}

/// Declares a projection: put it on the `impl` block of the projection type.
///
/// ```text
/// #[factum::projection(name = "balances", version = 2, read_models(Balance, Movement),
///                      category = "account")]
/// impl Balances {
///     #[on]
///     async fn deposited(&self, tx: &mut ProjectionTx, e: &Envelope<'_, Deposited>)
///         -> Result<(), HandlerError> { … }
/// }
/// ```
///
/// One `#[on]` handler per event type; the subscription reads only those types (and
/// only streams of the given categories, if any). A handler for a type that is not an
/// event, or with the wrong signature, is a compile error.
///
/// `crate = "path"` is the path at which the generated code finds Factum, when it is not
/// `::factum` (see [`macro@Event`]).
#[proc_macro_attribute]
pub fn projection(args: TokenStream, item: TokenStream) -> TokenStream {
    projection::expand(projection::Kind::Projection, args.into(), item.into())
        .unwrap_or_else(darling::Error::write_errors)
        .into()
}

/// Implements `factum::ReadModel` for a struct with named fields: a read-model table
/// with one column per field and one `#[key]` field as its primary key.
///
/// ```text
/// #[derive(ReadModel, Serialize, Deserialize)]
/// #[read_model(table = "balances")]   // default: the type's name in snake_case
/// #[read_model(index(owner, cents))]  // an index on several columns (repeatable)
/// struct Balance { #[key] account: String, #[index] owner: String, cents: i64, note: Option<String> }
/// ```
///
/// `#[read_model(changes)]` records the rows each batch changes, for GraphQL
/// subscriptions. `#[index]` on a field declares an index on that column; the key column is appended
/// to every index, so GraphQL filters and orderings on its columns (with the key as
/// tie-break) can walk it. The DDL step and the projection runtime create them.
///
/// `#[read_model(crate = "path")]` is the path at which the generated code finds Factum,
/// when it is not `::factum` (see [`macro@Event`]).
#[proc_macro_derive(ReadModel, attributes(read_model, key, index))]
pub fn derive_read_model(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    read_model::expand(&input)
        .unwrap_or_else(darling::Error::write_errors)
        .into()
}

/// Declares a process manager (a saga reactor): put it on the `impl` block of its type.
///
/// ```text
/// #[factum::process_manager(name = "transfers", category = "account")]
/// impl Transfers {
///     #[on]
///     async fn debited(&self, cx: &Reaction, e: &Envelope<'_, TransferDebited>)
///         -> Result<(), HandlerError> { … }
/// }
/// ```
///
/// `crate = "path"` is the path at which the generated code finds Factum, when it is not
/// `::factum` (see [`macro@Event`]).
#[proc_macro_attribute]
pub fn process_manager(args: TokenStream, item: TokenStream) -> TokenStream {
    projection::expand(projection::Kind::ProcessManager, args.into(), item.into())
        .unwrap_or_else(darling::Error::write_errors)
        .into()
}
