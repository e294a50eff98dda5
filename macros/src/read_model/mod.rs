//! `#[derive(ReadModel)]`: a struct as a read-model table. Check the struct into a typed
//! [`check::ReadModel`], then generate the impl from it.

mod check;
mod columns;
mod generate;

use proc_macro2::TokenStream;

/// Every mistake of `input` at once, or the generated impl.
pub(crate) fn expand(input: &syn::DeriveInput) -> darling::Result<TokenStream> {
    let model = check::check(input)?;
    Ok(generate::generate(&model))
}
