//! Helpers every macro shares: error collection, attribute filtering, name rules.

use syn::spanned::Spanned;

/// Collects errors so that every mistake in a block is reported at once.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, err: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(err),
            None => self.0 = Some(err),
        }
    }

    pub(crate) fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
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

/// Why `category` is not a valid stream category, if it is not.
pub(crate) fn category_problem(category: &str) -> Option<&'static str> {
    if category.is_empty() {
        Some("a category may not be empty")
    } else if category.contains('-') {
        Some(
            "a category may not contain '-', which separates it from the instance id in a stream id",
        )
    } else if !category.as_bytes()[0].is_ascii_alphanumeric() {
        Some("a category must start with an ASCII letter or digit")
    } else if !category
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'@' | b'+'))
    {
        Some("a category may contain only ASCII letters, digits and _ . : @ +")
    } else {
        None
    }
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
