//! What the event type's serde attributes mean for storing it and for the catalog:
//! an enum event must be a shape serde can write, and every serde attribute that changes
//! what JSON the type accepts, and that schemars leaves out of the schema, must reach the
//! catalog.
//!
//! The derive records the aliases of a struct's own fields itself. Everything else
//! (variant aliases, `other`, aliases and readers of a variant's fields, `try_from`,
//! `deserialize_with`) is recorded by [`#[factum::payload]`](crate::payload), which a
//! derive cannot replace (a derive may not change the item): so each one found without
//! its record is an error pointing at it, saying to add the attribute.

use darling::error::Accumulator;
use quote::ToTokens;

use crate::serde_attrs::{serde_flag, serde_strings};

/// The fix named by every "not recorded" error.
const ADD_PAYLOAD: &str = "put #[factum::payload] above the #[derive(...)] of the event type, \
     so the catalog records it and the compatibility gate reads old events as serde does";

/// Checks an enum event's representation, and that the serde attributes the catalog
/// needs are recorded, on the event type, its variants and their fields.
pub(super) fn check_serde_shape(input: &syn::DeriveInput, errors: &mut Accumulator) {
    let mut unrecorded: Vec<(String, proc_macro2::Span)> = Vec::new();
    if let Some(source) = serde_strings(&input.attrs, "try_from").first()
        && !recorded(&input.attrs, "x-try-from")
    {
        unrecorded.push((
            format!("`try_from = \"{}\"`", source.value()),
            source.span(),
        ));
    }
    match &input.data {
        syn::Data::Struct(data) => {
            // The derive records its own fields' aliases; readers need the attribute.
            data.fields
                .iter()
                .for_each(|field| unrecorded.extend(unrecorded_reader(field)));
        }
        syn::Data::Enum(data) => {
            for variant in &data.variants {
                if let Some(alias) = serde_strings(&variant.attrs, "alias").first()
                    && !recorded(&variant.attrs, "x-aliases")
                {
                    unrecorded.push((
                        format!(
                            "the alias \"{}\" of variant `{}`",
                            alias.value(),
                            variant.ident
                        ),
                        alias.span(),
                    ));
                }
                if serde_flag(&variant.attrs, "other") && !recorded(&variant.attrs, "x-other") {
                    unrecorded.push((
                        format!("`#[serde(other)]` on variant `{}`", variant.ident),
                        variant.ident.span(),
                    ));
                }
                for field in &variant.fields {
                    if let Some(alias) = serde_strings(&field.attrs, "alias").first()
                        && !recorded(&field.attrs, "x-aliases")
                    {
                        unrecorded.push((
                            format!("the alias \"{}\" of a variant's field", alias.value()),
                            alias.span(),
                        ));
                    }
                    unrecorded.extend(unrecorded_reader(field));
                }
            }
            check_enum(input, data, errors);
        }
        syn::Data::Union(_) => {}
    }
    for (what, span) in unrecorded {
        errors.push(
            darling::Error::custom(format!(
                "{what} is not recorded in the catalog: {ADD_PAYLOAD}"
            ))
            .with_span(&span),
        );
    }
}

/// Whether `#[factum::payload]` recorded `key` among `attrs`.
fn recorded(attrs: &[syn::Attribute], key: &str) -> bool {
    let quoted = format!("\"{key}\"");
    attrs.iter().any(|a| {
        a.path().is_ident("schemars") && a.meta.to_token_stream().to_string().contains(&quoted)
    })
}

/// A field's `deserialize_with`/`with` that is not recorded, with its span.
fn unrecorded_reader(field: &syn::Field) -> Option<(String, proc_macro2::Span)> {
    let reader = serde_strings(&field.attrs, "deserialize_with")
        .into_iter()
        .chain(serde_strings(&field.attrs, "with"))
        .next()?;
    (!recorded(&field.attrs, "x-deserialize-with")).then(|| {
        (
            format!("the field reader \"{}\"", reader.value()),
            reader.span(),
        )
    })
}

/// An enum event has a value to store, and its variants are shapes serde can write in
/// the enum's representation.
fn check_enum(input: &syn::DeriveInput, data: &syn::DataEnum, errors: &mut Accumulator) {
    if data.variants.is_empty() {
        errors.push(
            darling::Error::custom(
                "an enum without variants has no value, so it can never be stored as an event: \
                 give it the variants the event can take",
            )
            .with_span(&input.ident),
        );
        return;
    }
    // Internally tagged (`tag` without `content`, not untagged): serde writes the tag
    // into the variant's object, so a newtype variant must hold something written as an
    // object. serde finds out only when an event is written; the derive says it now for
    // the types that are plainly not objects.
    let tag = serde_strings(&input.attrs, "tag").into_iter().next();
    let internally_tagged = tag.is_some()
        && serde_strings(&input.attrs, "content").is_empty()
        && !serde_flag(&input.attrs, "untagged");
    let Some(tag) = tag.filter(|_| internally_tagged) else {
        return;
    };
    for variant in &data.variants {
        let syn::Fields::Unnamed(fields) = &variant.fields else {
            continue;
        };
        let [field] = fields.unnamed.iter().collect::<Vec<_>>()[..] else {
            continue;
        };
        if let Some(kind) = not_an_object(&field.ty) {
            errors.push(
                darling::Error::custom(format!(
                    "variant `{}` holds {kind}, which serde cannot write with the tag \
                     (#[serde(tag = \"{}\")] puts the tag inside the variant's JSON object): \
                     give the variant named fields, hold a struct, or tag the enum adjacently \
                     with #[serde(tag = \"{}\", content = \"…\")]",
                    variant.ident,
                    tag.value(),
                    tag.value()
                ))
                .with_span(&field.ty),
            );
        }
    }
}

/// What `ty` is, if serde writes it as something other than an object: a number, a
/// string, a sequence, a tuple or an option.
fn not_an_object(ty: &syn::Type) -> Option<String> {
    match ty {
        syn::Type::Tuple(_) => Some("a tuple".into()),
        syn::Type::Array(_) | syn::Type::Slice(_) => Some("a sequence".into()),
        syn::Type::Reference(r) => not_an_object(&r.elem),
        syn::Type::Paren(p) => not_an_object(&p.elem),
        syn::Type::Path(path) if path.qself.is_none() => {
            let last = path.path.segments.last()?.ident.to_string();
            let kind = match last.as_str() {
                "bool" => "a boolean",
                "u8" | "u16" | "u32" | "u64" | "u128" | "usize" | "i8" | "i16" | "i32" | "i64"
                | "i128" | "isize" | "f32" | "f64" => "a number",
                "char" | "str" | "String" | "Uuid" => "a string",
                "Vec" | "VecDeque" | "HashSet" | "BTreeSet" => "a sequence",
                "Option" => "an option",
                _ => return None,
            };
            let written = ty
                .to_token_stream()
                .to_string()
                .replace(" < ", "<")
                .replace(" >", ">")
                .replace(" ,", ",");
            Some(format!("{kind} (`{written}`)"))
        }
        _ => None,
    }
}
