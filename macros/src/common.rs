//! Helpers every macro shares: ending the check stage, receivers, copied attributes,
//! spans and doc comments.

use darling::error::Accumulator;
use syn::spanned::Spanned;

/// Ends a macro's check stage: the checked model if no mistake was found, otherwise every
/// mistake `errors` collected, reported together.
///
/// `model` is `None` only after a mistake was pushed; should a check forget to push one,
/// this still reports an error rather than generating from a half-checked input.
pub(crate) fn conclude<T>(errors: Accumulator, model: Option<T>) -> darling::Result<T> {
    errors.finish()?;
    model.ok_or_else(|| {
        darling::Error::custom("factum-macros could not check this input; please report it")
    })
}

/// `Some(mutable)` for `&self`/`&mut self` (also written `self: &Self`, `self: &mut Self`),
/// `None` for `self` by value or other receivers.
pub(crate) fn borrowed_self(receiver: &syn::Receiver) -> Option<bool> {
    match &*receiver.ty {
        syn::Type::Reference(r) => Some(r.mutability.is_some()),
        _ => None,
    }
}

/// The `#[cfg(...)]` attributes among `attrs`.
pub(crate) fn cfgs_of(attrs: &[syn::Attribute]) -> Vec<syn::Attribute> {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("cfg"))
        .cloned()
        .collect()
}

/// The span of an item's keyword (`struct`, `fn`, …), where misplaced-attribute errors point.
pub(crate) fn item_keyword_span(item: &syn::Item) -> proc_macro2::Span {
    match item {
        syn::Item::Struct(i) => i.struct_token.span,
        syn::Item::Enum(i) => i.enum_token.span,
        syn::Item::Fn(i) => i.sig.fn_token.span,
        syn::Item::Trait(i) => i.trait_token.span,
        syn::Item::Mod(i) => i.mod_token.span,
        other => other.span(),
    }
}

/// The span of a derive input's `struct`, `enum` or `union` keyword.
pub(crate) fn data_keyword_span(data: &syn::Data) -> proc_macro2::Span {
    match data {
        syn::Data::Struct(s) => s.struct_token.span,
        syn::Data::Enum(e) => e.enum_token.span,
        syn::Data::Union(u) => u.union_token.span,
    }
}

/// The doc comment, lines trimmed and joined; `None` without one.
pub(crate) fn doc_text(attrs: &[syn::Attribute]) -> Option<String> {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value().trim().to_owned()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    let text = lines.join("\n").trim().to_owned();
    (!text.is_empty()).then_some(text)
}

/// What a check reported, one message per error, for the unit tests of the checks.
#[cfg(test)]
pub(crate) fn messages<T>(checked: darling::Result<T>) -> Vec<String> {
    match checked {
        Ok(_) => Vec::new(),
        Err(errors) => errors
            .flatten()
            .into_iter()
            .map(|e| e.to_string())
            .collect(),
    }
}
