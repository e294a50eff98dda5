//! Reading `#[serde(…)]` attributes, for the macros that record in the catalog what serde
//! accepts. Anything serde itself would reject is left for serde to report.

use proc_macro2::TokenStream;

/// The string values of `key = "…"` inside the `#[serde(…)]` attributes among `attrs`.
pub(crate) fn serde_strings(attrs: &[syn::Attribute], key: &str) -> Vec<syn::LitStr> {
    let mut found = Vec::new();
    visit(attrs, |meta| {
        if meta.input.peek(syn::Token![=]) {
            let value: syn::Expr = meta.value()?.parse()?;
            if meta.path.is_ident(key)
                && let syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) = value
            {
                found.push(s);
            }
        }
        Ok(())
    });
    found
}

/// Whether a bare `key` (`#[serde(other)]`) is among the `#[serde(…)]` attributes.
pub(crate) fn serde_flag(attrs: &[syn::Attribute], key: &str) -> bool {
    let mut found = false;
    visit(attrs, |meta| {
        if meta.input.peek(syn::Token![=]) {
            let _: syn::Expr = meta.value()?.parse()?;
        } else if meta.input.is_empty() || meta.input.peek(syn::Token![,]) {
            found |= meta.path.is_ident(key);
        }
        Ok(())
    });
    found
}

/// Calls `each` on every item of every `#[serde(…)]` attribute; parenthesised items
/// (`rename(serialize = "…")`) are skipped whole.
fn visit(
    attrs: &[syn::Attribute],
    mut each: impl FnMut(&syn::meta::ParseNestedMeta<'_>) -> syn::Result<()>,
) {
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let _ = attr.parse_nested_meta(|meta| {
            if meta.input.peek(syn::token::Paren) {
                let content;
                syn::parenthesized!(content in meta.input);
                let _: TokenStream = content.parse()?;
                return Ok(());
            }
            each(&meta)
        });
    }
}
