//! Reading `#[serde(…)]` attributes, for the macros that record in the catalog what serde
//! accepts. Anything serde itself would reject is left for serde to report.

use proc_macro2::TokenStream;

/// The schema keywords `#[factum::payload]` writes (the catalog's names for them are in
/// `factum_catalog::compat`).
pub(crate) const ALIASES: &str = "x-aliases";
/// `#[serde(other)]` on a variant.
pub(crate) const OTHER: &str = "x-other";
/// `#[serde(try_from = "…")]` on a type.
pub(crate) const TRY_FROM: &str = "x-try-from";
/// `#[serde(deserialize_with = "…")]` or `with` on a field or variant.
pub(crate) const DESERIALIZE_WITH: &str = "x-deserialize-with";

/// The function a field or variant is read with: its `deserialize_with`, or its `with`.
pub(crate) fn reader_of(attrs: &[syn::Attribute]) -> Option<syn::LitStr> {
    serde_strings(attrs, "deserialize_with")
        .into_iter()
        .chain(serde_strings(attrs, "with"))
        .next()
}

/// Whether `#[schemars(extend("key" = …))]` among `attrs` writes `key`.
pub(crate) fn extends(attrs: &[syn::Attribute], key: &str) -> bool {
    let mut found = false;
    for attr in attrs.iter().filter(|a| a.path().is_ident("schemars")) {
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("extend") && meta.input.peek(syn::token::Paren) {
                let content;
                syn::parenthesized!(content in meta.input);
                while !content.is_empty() {
                    let written: syn::LitStr = content.parse()?;
                    content.parse::<syn::Token![=]>()?;
                    let _: syn::Expr = content.parse()?;
                    found |= written.value() == key;
                    if !content.is_empty() {
                        content.parse::<syn::Token![,]>()?;
                    }
                }
            } else if meta.input.peek(syn::Token![=]) {
                let _: syn::Expr = meta.value()?.parse()?;
            } else if meta.input.peek(syn::token::Paren) {
                let content;
                syn::parenthesized!(content in meta.input);
                let _: TokenStream = content.parse()?;
            }
            Ok(())
        });
    }
    found
}

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

#[cfg(test)]
mod tests {
    use super::{OTHER, extends, reader_of};

    #[test]
    fn only_an_extend_key_counts_as_recorded() {
        let recorded: syn::Variant = syn::parse_quote! {
            #[schemars(description = "x-other", extend("x-aliases" = ["a"], "x-other" = true))]
            Unknown
        };
        assert!(extends(&recorded.attrs, OTHER));
        let described: syn::Variant = syn::parse_quote! {
            #[schemars(description = "x-other", rename = "x")]
            #[schemars(extend("x-aliases" = ["x-other"]))]
            Unknown
        };
        assert!(!extends(&described.attrs, OTHER));
    }

    #[test]
    fn a_reader_is_deserialize_with_or_with() {
        let field: syn::Field = syn::parse_quote! { #[serde(with = "hex")] id: Vec<u8> };
        assert_eq!(
            reader_of(&field.attrs).map(|r| r.value()),
            Some("hex".into())
        );
        let field: syn::Field = syn::parse_quote! { #[serde(rename = "x")] id: u8 };
        assert!(reader_of(&field.attrs).is_none());
    }
}
