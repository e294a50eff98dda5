//! `#[factum::payload]`: records in a type's JSON Schema the serde attributes that change
//! what JSON it accepts but that schemars leaves out, so that the catalog's compatibility
//! gate sees them on the types inside an event's payload.
//!
//! It only adds `#[schemars(extend(…))]` attributes, which schemars' derive (expanded
//! after it) writes into the schema:
//!
//! | serde attribute                          | schema keyword on what it is written on |
//! |------------------------------------------|-----------------------------------------|
//! | `alias = "…"` on a field or variant      | `x-aliases`                             |
//! | `other` on a variant                     | `x-other`                               |
//! | `try_from = "…"` on the type             | `x-try-from`                            |
//! | `deserialize_with`/`with` on a field or variant | `x-deserialize-with`             |

use darling::error::Accumulator;
use proc_macro2::{Span, TokenStream};
use quote::quote;

use crate::common::{conclude, item_keyword_span};
use crate::serde_attrs::{
    ALIASES, DESERIALIZE_WITH, OTHER, TRY_FROM, reader_of, serde_flag, serde_strings,
};

/// The item with its serde attributes recorded for schemars, or every misuse at once.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> darling::Result<TokenStream> {
    let mut errors = Accumulator::default();
    if !args.is_empty() {
        errors
            .push(darling::Error::custom("#[factum::payload] takes no arguments").with_span(&args));
    }
    let mut item: syn::Item = syn::parse2(item)?;
    let attrs = match &item {
        syn::Item::Struct(s) => &s.attrs,
        syn::Item::Enum(e) => &e.attrs,
        other => {
            errors.push(
                darling::Error::custom(
                    "#[factum::payload] goes on a struct or an enum inside an event's payload",
                )
                .with_span(&item_keyword_span(other)),
            );
            return conclude(errors, None);
        }
    };
    if !derives_json_schema(attrs) {
        errors.push(
            darling::Error::custom(
                "#[factum::payload] records serde attributes for schemars' derive: put it \
                 above `#[derive(JsonSchema)]` on this type",
            )
            .with_span(&Span::call_site()),
        );
    }
    errors.finish()?;
    match &mut item {
        syn::Item::Struct(s) => {
            record_type(&mut s.attrs);
            s.fields.iter_mut().for_each(record_field);
        }
        syn::Item::Enum(e) => {
            record_type(&mut e.attrs);
            for variant in &mut e.variants {
                record_variant(variant);
                variant.fields.iter_mut().for_each(record_field);
            }
        }
        _ => {}
    }
    Ok(quote!(#item))
}

/// Whether a `#[derive(…)]` among `attrs` names `JsonSchema` (by any path).
fn derives_json_schema(attrs: &[syn::Attribute]) -> bool {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("derive"))
        .any(|a| {
            let mut found = false;
            let _ = a.parse_nested_meta(|meta| {
                found |= meta
                    .path
                    .segments
                    .last()
                    .is_some_and(|s| s.ident == "JsonSchema");
                Ok(())
            });
            found
        })
}

fn record_type(attrs: &mut Vec<syn::Attribute>) {
    if let Some(source) = serde_strings(attrs, "try_from").first() {
        attrs.push(extend(TRY_FROM, quote!(#source), source.span()));
    }
}

fn record_variant(variant: &mut syn::Variant) {
    record_aliases(&mut variant.attrs);
    record_reader(&mut variant.attrs);
    if serde_flag(&variant.attrs, "other") {
        let span = variant.ident.span();
        variant.attrs.push(extend(OTHER, quote!(true), span));
    }
}

fn record_field(field: &mut syn::Field) {
    record_aliases(&mut field.attrs);
    record_reader(&mut field.attrs);
}

fn record_reader(attrs: &mut Vec<syn::Attribute>) {
    if let Some(reader) = reader_of(attrs) {
        attrs.push(extend(DESERIALIZE_WITH, quote!(#reader), reader.span()));
    }
}

fn record_aliases(attrs: &mut Vec<syn::Attribute>) {
    let aliases = serde_strings(attrs, "alias");
    if let Some(first) = aliases.first() {
        let span = first.span();
        attrs.push(extend(ALIASES, quote!([#(#aliases),*]), span));
    }
}

/// `#[schemars(extend("key" = value))]`.
fn extend(key: &str, value: TokenStream, span: Span) -> syn::Attribute {
    syn::parse_quote_spanned!(span=> #[schemars(extend(#key = #value))])
}
