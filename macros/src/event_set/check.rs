//! Parse and check `#[derive(EventSet)]`'s input into an [`EventSet`]; every mistake goes
//! into one collector.

use darling::FromMeta;
use darling::error::Accumulator;
use syn::spanned::Spanned;

use crate::args::{helper_args, typed};
use crate::common::{conclude, data_keyword_span};
use crate::crate_path::CratePath;

/// The keys of `#[event_set(...)]`.
const KEYS: &[&str] = &["crate"];

#[derive(FromMeta)]
struct EventSetArgs {
    #[darling(default, rename = "crate")]
    krate: CratePath,
}

/// A checked event set.
pub(super) struct EventSet {
    pub krate: CratePath,
    pub ident: syn::Ident,
    /// `(variant, event type)`, each type once.
    pub variants: Vec<(syn::Ident, syn::Type)>,
}

/// Every mistake of `input` at once, or the checked set.
pub(super) fn check(input: &syn::DeriveInput) -> darling::Result<EventSet> {
    let mut errors = darling::Error::accumulator();
    let set = checked(input, &mut errors);
    conclude(errors, set)
}

fn checked(input: &syn::DeriveInput, errors: &mut Accumulator) -> Option<EventSet> {
    let args = helper_args(&input.attrs, "event_set", errors)
        .and_then(|items| typed::<EventSetArgs>(&items, KEYS, errors));
    if let Some(param) = input.generics.params.first() {
        errors.push(
            darling::Error::custom("an event set cannot be generic: it lists concrete event types")
                .with_span(param),
        );
    }
    let syn::Data::Enum(data) = &input.data else {
        errors.push(
            darling::Error::custom(
                "#[derive(EventSet)] goes on an enum with one variant per event type, \
                 e.g. `enum AccountEvent { Opened(Opened), Deposited(Deposited) }`",
            )
            .with_span(&data_keyword_span(&input.data)),
        );
        return None;
    };
    if data.variants.is_empty() {
        errors.push(
            darling::Error::custom("an event set needs at least one variant holding an event type")
                .with_span(&input.ident),
        );
    }
    let variants = checked_variants(data, errors);
    Some(EventSet {
        krate: args?.krate,
        ident: input.ident.clone(),
        variants,
    })
}

/// Each variant holds one event type, and no type appears twice.
fn checked_variants(
    data: &syn::DataEnum,
    errors: &mut Accumulator,
) -> Vec<(syn::Ident, syn::Type)> {
    let mut variants: Vec<(syn::Ident, syn::Type)> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for variant in &data.variants {
        let ty = match &variant.fields {
            syn::Fields::Unnamed(f) if f.unnamed.len() == 1 => &f.unnamed[0].ty,
            other => {
                let span = if other.is_empty() {
                    variant.ident.span()
                } else {
                    other.span()
                };
                errors.push(
                    darling::Error::custom(format!(
                        "each variant holds exactly one event type, e.g. `{}({})`",
                        variant.ident, variant.ident
                    ))
                    .with_span(&span),
                );
                continue;
            }
        };
        let key = quote::quote!(#ty).to_string();
        if seen.contains(&key) {
            errors.push(
                darling::Error::custom(format!(
                    "`{key}` is already in this set; each event type appears once"
                ))
                .with_span(ty),
            );
            continue;
        }
        seen.push(key);
        variants.push((variant.ident.clone(), ty.clone()));
    }
    variants
}
