//! `#[derive(Event)]`: check the `#[event(...)]` attribute into a typed [`check::Event`],
//! then generate the impl from it.

mod check;
mod generate;
mod serde_names;
mod serde_shape;

use proc_macro2::TokenStream;

/// Every mistake of `input` at once, or the generated impl.
pub(crate) fn expand(input: &syn::DeriveInput) -> darling::Result<TokenStream> {
    let event = check::check(input)?;
    Ok(generate::generate(&event))
}
