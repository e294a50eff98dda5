//! `#[derive(EventSet)]`: the closed enum of an aggregate's events. Check the enum into a
//! typed [`check::EventSet`], then generate the impls from it.

mod check;
mod generate;

use proc_macro2::TokenStream;

/// Every mistake of `input` at once, or the generated impls.
pub(crate) fn expand(input: &syn::DeriveInput) -> darling::Result<TokenStream> {
    let set = check::check(input)?;
    Ok(generate::generate(&set))
}
