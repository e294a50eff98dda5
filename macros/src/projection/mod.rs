//! `#[factum::projection(...)]` and `#[factum::process_manager(...)]` on an `impl` block:
//! check the arguments and the `#[on]` handlers into a typed [`check::Reactor`], then
//! implement `Projection` or `ProcessManager` from it.

mod check;
mod generate;
mod handlers;

pub(crate) use handlers::Kind;
use proc_macro2::TokenStream;

/// Every mistake of the attribute and its block at once, or the block and its impl.
pub(crate) fn expand(
    kind: Kind,
    args: TokenStream,
    item: TokenStream,
) -> darling::Result<TokenStream> {
    let reactor = check::check(kind, args, item)?;
    Ok(generate::generate(&reactor))
}
