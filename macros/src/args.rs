//! Attribute arguments, from tokens to darling's typed structs, with every mistake pushed
//! into the macro's one error collector.
//!
//! Keys a macro does not know are reported here, each on its own, and removed before
//! darling reads the rest: a misspelt key is one error and does not hide what the other
//! keys (and the checks that use them) have to say.

use darling::FromMeta;
use darling::ast::NestedMeta;
use darling::error::Accumulator;
use proc_macro2::TokenStream;

/// The arguments of an attribute macro, e.g. `category = "account", …` of
/// `#[factum::aggregate(category = "account", …)]`; `None` if they are not `key = value`
/// items (the error is pushed).
pub(crate) fn macro_args(tokens: TokenStream, errors: &mut Accumulator) -> Option<Vec<NestedMeta>> {
    errors.handle(NestedMeta::parse_meta_list(tokens).map_err(darling::Error::from))
}

/// The items of every `#[name(...)]` helper attribute among `attrs`, in order; `None` if
/// one of them is malformed (the error is pushed).
pub(crate) fn helper_args(
    attrs: &[syn::Attribute],
    name: &str,
    errors: &mut Accumulator,
) -> Option<Vec<NestedMeta>> {
    let mut items = Vec::new();
    let mut ok = true;
    for attr in attrs.iter().filter(|a| a.path().is_ident(name)) {
        let parsed = attr
            .meta
            .require_list()
            .and_then(|list| NestedMeta::parse_meta_list(list.tokens.clone()))
            .map_err(darling::Error::from);
        match errors.handle(parsed) {
            Some(list) => items.extend(list),
            None => ok = false,
        }
    }
    ok.then_some(items)
}

/// Reads `items` as a `T` whose keys are `keys`. Each unknown key is its own error (with
/// darling's "did you mean" hint); the known ones are read by darling, whose mistakes
/// (a wrong type, a duplicate, a missing key) are pushed too. `None` if the known keys do
/// not make a `T`.
pub(crate) fn typed<T: FromMeta>(
    items: &[NestedMeta],
    keys: &[&str],
    errors: &mut Accumulator,
) -> Option<T> {
    let mut sorted = keys.to_vec();
    sorted.sort_unstable();
    let known: Vec<NestedMeta> = items
        .iter()
        .filter(|item| {
            let NestedMeta::Meta(meta) = item else {
                return true;
            };
            let key = darling::util::path_to_string(meta.path());
            if sorted.contains(&key.as_str()) {
                return true;
            }
            errors.push(
                darling::Error::unknown_field_with_alts(&key, &sorted).with_span(meta.path()),
            );
            false
        })
        .cloned()
        .collect();
    errors.handle(T::from_list(&known))
}
