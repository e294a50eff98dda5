//! What the event type's serde attributes mean for storing it and for the catalog:
//! an enum event must be a shape serde can write, and every serde attribute that changes
//! what JSON the type accepts, and that schemars leaves out of the schema, must reach the
//! catalog.
//!
//! The derive records the aliases of a struct's own fields itself. Everything else
//! (variant aliases, `other`, aliases of a variant's fields, `try_from`, and the
//! `deserialize_with` of a field or variant) is recorded by [`#[factum::payload]`](crate::payload), which a
//! derive cannot replace (a derive may not change the item): so each one found without
//! its record is an error pointing at it, saying to add the attribute.

use darling::error::Accumulator;
use quote::ToTokens;

use crate::serde_attrs::{
    ALIASES, DESERIALIZE_WITH, OTHER, TRY_FROM, extends, reader_of, serde_flag, serde_strings,
};

/// The fix named by every "not recorded" error.
const ADD_PAYLOAD: &str = "put #[factum::payload] above the #[derive(...)] of the event type, \
     so the catalog records it and the compatibility gate reads old events as serde does";

/// Checks an enum event's representation, and that the serde attributes the catalog
/// needs are recorded, on the event type, its variants and their fields.
pub(super) fn check_serde_shape(input: &syn::DeriveInput, errors: &mut Accumulator) {
    let mut unrecorded: Vec<(String, proc_macro2::Span)> = Vec::new();
    if let Some(source) = serde_strings(&input.attrs, "try_from").first()
        && !extends(&input.attrs, TRY_FROM)
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
                .for_each(|field| unrecorded.extend(unrecorded_reader(&field.attrs)));
        }
        syn::Data::Enum(data) => {
            for variant in &data.variants {
                unrecorded.extend(unrecorded_reader(&variant.attrs));
                if let Some(alias) = serde_strings(&variant.attrs, "alias").first()
                    && !extends(&variant.attrs, ALIASES)
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
                if serde_flag(&variant.attrs, "other") && !extends(&variant.attrs, OTHER) {
                    unrecorded.push((
                        format!("`#[serde(other)]` on variant `{}`", variant.ident),
                        variant.ident.span(),
                    ));
                }
                for field in &variant.fields {
                    if let Some(alias) = serde_strings(&field.attrs, "alias").first()
                        && !extends(&field.attrs, ALIASES)
                    {
                        unrecorded.push((
                            format!("the alias \"{}\" of a variant's field", alias.value()),
                            alias.span(),
                        ));
                    }
                    unrecorded.extend(unrecorded_reader(&field.attrs));
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

/// The `deserialize_with`/`with` of a field or variant, if not recorded, with its span.
fn unrecorded_reader(attrs: &[syn::Attribute]) -> Option<(String, proc_macro2::Span)> {
    let reader = reader_of(attrs)?;
    (!extends(attrs, DESERIALIZE_WITH))
        .then(|| (format!("the reader \"{}\"", reader.value()), reader.span()))
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
        // `()` is written as a unit variant is: the tag alone.
        syn::Type::Tuple(t) if t.elems.is_empty() => None,
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
