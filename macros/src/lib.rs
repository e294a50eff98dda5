//! Derive macros for Factum. Depend on `factum`, which re-exports them; generated code
//! names only `::factum` paths, so it keeps working under renamed imports of other crates.
//!
//! Each macro parses its attributes into typed structs (darling), validates them, then
//! generates code; every user error is reported with the span of the offending tokens.

mod event;

use proc_macro::TokenStream;

/// Implements `factum::Event` for a struct: a versioned domain event.
///
/// ```text
/// #[derive(Event, Serialize, Deserialize, JsonSchema)]
/// #[event(
///     name = "bank.Deposited",                 // default: the type's name
///     version = 3,                             // default: 1
///     upcast(from = 1, with = v1_to_v2),       // fn(Old) -> New
///     upcast(from = 2, try_with = v2_to_v3),   // fn(Old) -> Result<New, E: Display>
///     deprecated = "use bank.Credited",        // or just `deprecated`
/// )]
/// struct Deposited { … }
/// ```
///
/// Every version below the current one needs exactly one upcaster. Each upcaster's
/// input and output types are what it reads and writes (`serde_json::Value` works for
/// both). The doc comment becomes the event's description in the catalog.
#[proc_macro_derive(Event, attributes(event))]
pub fn derive_event(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    event::expand(&input)
        .unwrap_or_else(|err| err.write_errors())
        .into()
}
