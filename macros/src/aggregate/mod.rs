//! `#[factum::aggregate(...)]` on an `impl` block: check the arguments and the `#[apply]`
//! and `#[handle]` functions into a typed [`check::Aggregate`], then implement
//! `Aggregate`, `Applies<E>` and `Handles<C>` from it.

mod check;
mod generate;
mod signature;

use proc_macro2::TokenStream;

/// Every mistake of the attribute and its block at once, or the block and its impls.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> darling::Result<TokenStream> {
    let aggregate = check::check(args, item)?;
    Ok(generate::generate(&aggregate))
}
