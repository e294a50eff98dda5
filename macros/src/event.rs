//! `#[derive(Event)]`: parse the `#[event(...)]` attribute, validate it, generate the impl.

use std::collections::BTreeMap;

use darling::util::{Override, SpannedValue};
use darling::{FromDeriveInput, FromMeta};
use proc_macro2::TokenStream;
use quote::quote;

use crate::common::doc_text;

#[derive(FromDeriveInput)]
#[darling(attributes(event), forward_attrs(doc))]
struct EventArgs {
    ident: syn::Ident,
    generics: syn::Generics,
    data: darling::ast::Data<darling::util::Ignored, darling::util::Ignored>,
    attrs: Vec<syn::Attribute>,
    #[darling(default)]
    name: Option<SpannedValue<String>>,
    #[darling(default)]
    version: Option<SpannedValue<u32>>,
    #[darling(multiple)]
    upcast: Vec<UpcastArgs>,
    #[darling(default)]
    deprecated: Option<Override<String>>,
}

#[derive(FromMeta)]
struct UpcastArgs {
    from: SpannedValue<u32>,
    #[darling(default)]
    with: Option<syn::Path>,
    #[darling(default)]
    try_with: Option<syn::Path>,
}

/// A validated upcaster.
struct Upcaster {
    from: u32,
    call: syn::Path,
    fallible: bool,
}

pub fn expand(input: &syn::DeriveInput) -> darling::Result<TokenStream> {
    if let syn::Data::Enum(e) = &input.data {
        return Err(darling::Error::custom(
            "#[derive(Event)] goes on a struct: one event type per struct; \
             group events in an enum with the aggregate's event set instead",
        )
        .with_span(&e.enum_token));
    }
    if let syn::Data::Union(u) = &input.data {
        return Err(
            darling::Error::custom("#[derive(Event)] goes on a struct, not a union")
                .with_span(&u.union_token),
        );
    }
    let args = EventArgs::from_derive_input(input)?;
    let _ = &args.data;
    let mut errors = darling::Error::accumulator();

    if let Some(param) = args.generics.params.first() {
        errors.push(
            darling::Error::custom(
                "an event type cannot be generic: its stored name and schema must be fixed",
            )
            .with_span(param),
        );
    }

    let name = match &args.name {
        Some(name) => {
            if let Some(problem) = name_problem(name) {
                errors.push(darling::Error::custom(problem).with_span(&name.span()));
            }
            name.as_str().to_owned()
        }
        None => {
            let name = args.ident.to_string();
            let name = name.strip_prefix("r#").unwrap_or(&name).to_owned();
            if let Some(problem) = name_problem(&name) {
                errors.push(
                    darling::Error::custom(format!(
                        "{problem}; this type's name is used as its event name, so give it one: \
                         #[event(name = \"...\")]"
                    ))
                    .with_span(&args.ident),
                );
            }
            name
        }
    };

    let version = args.version.as_ref().map_or(1, |v| **v);
    let version_span = args
        .version
        .as_ref()
        .map_or(args.ident.span(), |v| v.span());
    if version == 0 {
        errors.push(darling::Error::custom("event versions start at 1").with_span(&version_span));
    }

    let mut upcasters: BTreeMap<u32, Upcaster> = BTreeMap::new();
    // Versions with an upcaster declared, valid or not, so that one mistake is reported
    // once and not again as a gap in the chain.
    let declared: Vec<u32> = args.upcast.iter().map(|u| *u.from).collect();
    for up in &args.upcast {
        let from = *up.from;
        let (call, fallible) = match (&up.with, &up.try_with) {
            (Some(path), None) => (path.clone(), false),
            (None, Some(path)) => (path.clone(), true),
            (Some(_), Some(path)) => {
                errors.push(
                    darling::Error::custom(
                        "give an upcaster either `with` (infallible) or `try_with` (returns a Result), not both",
                    )
                    .with_span(path),
                );
                continue;
            }
            (None, None) => {
                errors.push(
                    darling::Error::custom(
                        "this upcaster needs a function: `with = path::to::fn` or `try_with = path::to::fn`",
                    )
                    .with_span(&up.from.span()),
                );
                continue;
            }
        };
        if version == 1 && args.version.is_none() {
            errors.push(
                darling::Error::custom(
                    "this event has no `version`, so it is at version 1 and has nothing to upcast; \
                     set `version = 2` (or the version this upcaster leads to) alongside it",
                )
                .with_span(&up.from.span()),
            );
            continue;
        }
        if from == 0 || from >= version {
            errors.push(
                darling::Error::custom(format!(
                    "an upcaster lifts an older version to the next one, so `from` must be between 1 and {} \
                     (the current version is {version}); to add a version, raise `version`",
                    version.saturating_sub(1)
                ))
                .with_span(&up.from.span()),
            );
            continue;
        }
        if upcasters.contains_key(&from) {
            errors.push(
                darling::Error::custom(format!(
                    "there is already an upcaster from version {from}; each version has exactly one"
                ))
                .with_span(&up.from.span()),
            );
            continue;
        }
        upcasters.insert(
            from,
            Upcaster {
                from,
                call,
                fallible,
            },
        );
    }
    let missing: Vec<String> = (1..version)
        .filter(|v| !declared.contains(v))
        .map(|v| format!("upcast(from = {v}, with = …)"))
        .collect();
    if !missing.is_empty() && version > 0 {
        errors.push(
            darling::Error::custom(format!(
                "version {version} needs an upcaster from every older version, so that any stored event \
                 can be read; missing: {}",
                missing.join(", ")
            ))
            .with_span(&version_span),
        );
    }
    errors.finish()?;

    let ident = &args.ident;
    let steps = upcasters.values().map(|u| {
        let from = u.from;
        let call = &u.call;
        let run = if u.fallible {
            quote!(::factum::__private::try_run_upcaster)
        } else {
            quote!(::factum::__private::run_upcaster)
        };
        quote! { #from => #run(<Self as ::factum::Event>::NAME, #from, payload, #call)?, }
    });
    // Version 1 has nothing to lift; otherwise every older version has its step.
    let chain = if upcasters.is_empty() {
        quote! {
            let _ = version;
            ::core::result::Result::Ok(payload)
        }
    } else {
        quote! {
            let mut payload = payload;
            let mut at = version;
            while at < <Self as ::factum::Event>::VERSION {
                payload = match at {
                    #(#steps)*
                    _ => ::core::unreachable!("the derive checked that every older version has an upcaster"),
                };
                at += 1;
            }
            ::core::result::Result::Ok(payload)
        }
    };
    let upcaster_versions = upcasters.keys();
    let older = upcasters.values().map(|u| {
        let from = u.from;
        let call = &u.call;
        quote! {
            if let ::core::option::Option::Some(schema) =
                (&::factum::__private::probe_input(#call)).input_schema()
            {
                older.push((#from, schema));
            }
        }
    });
    let deprecated = match &args.deprecated {
        None => quote!(::core::option::Option::None),
        Some(Override::Inherit) => quote!(::core::option::Option::Some("")),
        Some(Override::Explicit(reason)) => quote!(::core::option::Option::Some(#reason)),
    };
    let description = match doc_text(&args.attrs) {
        Some(text) => quote!(::core::option::Option::Some(#text)),
        None => quote!(::core::option::Option::None),
    };
    let rust_type = ident.to_string();
    let aliases = serde_aliases(input)
        .into_iter()
        .map(|(field, names)| quote!((#field, &[#(#names),*])));

    Ok(quote! {
        impl ::factum::Event for #ident {
            const NAME: &'static str = #name;
            const VERSION: u32 = #version;

            fn upcast(
                version: u32,
                payload: ::factum::__private::serde_json::Value,
            ) -> ::core::result::Result<::factum::__private::serde_json::Value, ::factum::UpcastError> {
                if version == 0 || version > <Self as ::factum::Event>::VERSION {
                    return ::core::result::Result::Err(::factum::UpcastError::UnknownVersion {
                        event: <Self as ::factum::Event>::NAME,
                        version,
                        current: <Self as ::factum::Event>::VERSION,
                    });
                }
                #chain
            }

            fn descriptor() -> ::factum::EventDescriptor {
                ::factum::EventDescriptor::new(
                    #name,
                    #version,
                    #rust_type,
                    &[#(#upcaster_versions),*],
                    #deprecated,
                    #description,
                    ::factum::schema_of::<#ident>,
                    &[#(#aliases),*],
                    {
                        fn older_schemas() -> ::std::vec::Vec<(u32, ::factum::schemars::Schema)> {
                            #[allow(unused_imports)]
                            use ::factum::__private::{InputHasNoSchema as _, InputHasSchema as _};
                            let mut older = ::std::vec::Vec::new();
                            #(#older)*
                            older
                        }
                        older_schemas
                    },
                )
            }
        }

        ::factum::__private::inventory::submit! {
            ::factum::__private::EventRegistration(<#ident as ::factum::Event>::descriptor)
        }
    })
}

/// The rules of `factum::EventData::new` for type names, checked at compile time.
fn name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("an event name may not be empty")
    } else if name.len() > 255 {
        Some("an event name may be at most 255 bytes long")
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'))
    {
        Some("an event name may contain only ASCII letters, digits and _ . : -")
    } else {
        None
    }
}

/// The fields serde also reads under other names: `(serialized name, aliases)` for each
/// field with `#[serde(alias = "…")]`, the serialized name following the field's
/// `rename` and the struct's `rename_all`.
fn serde_aliases(input: &syn::DeriveInput) -> Vec<(String, Vec<String>)> {
    let syn::Data::Struct(data) = &input.data else {
        return Vec::new();
    };
    let rename_all = serde_strings(&input.attrs, "rename_all").into_iter().next();
    let mut out = Vec::new();
    for field in &data.fields {
        let Some(ident) = &field.ident else { continue };
        let aliases = serde_strings(&field.attrs, "alias");
        if aliases.is_empty() {
            continue;
        }
        let raw = ident.to_string().trim_start_matches("r#").to_owned();
        let name = serde_strings(&field.attrs, "rename")
            .into_iter()
            .next()
            .unwrap_or_else(|| match &rename_all {
                Some(rule) => apply_rename_rule(rule, &raw),
                None => raw,
            });
        out.push((name, aliases));
    }
    out
}

/// The string values of `key = "…"` inside `#[serde(…)]` attributes. Anything serde
/// itself would reject is left for serde to report.
fn serde_strings(attrs: &[syn::Attribute], key: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let _ = attr.parse_nested_meta(|meta| {
            if meta.input.peek(syn::Token![=]) {
                let value: syn::Expr = meta.value()?.parse()?;
                if meta.path.is_ident(key)
                    && let syn::Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Str(s),
                        ..
                    }) = value
                {
                    found.push(s.value());
                }
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

/// serde's `rename_all` rules, applied to a snake_case field name.
fn apply_rename_rule(rule: &str, field: &str) -> String {
    let words: Vec<&str> = field.split('_').filter(|w| !w.is_empty()).collect();
    let capitalized = |w: &str| {
        let mut chars = w.chars();
        chars
            .next()
            .map(|c| c.to_uppercase().chain(chars).collect::<String>())
            .unwrap_or_default()
    };
    match rule {
        "lowercase" => field.to_lowercase(),
        "UPPERCASE" => field.to_uppercase(),
        "PascalCase" => words.iter().map(|w| capitalized(w)).collect(),
        "camelCase" => words
            .iter()
            .enumerate()
            .map(|(i, w)| {
                if i == 0 {
                    w.to_string()
                } else {
                    capitalized(w)
                }
            })
            .collect(),
        "SCREAMING_SNAKE_CASE" => field.to_uppercase(),
        "kebab-case" => field.replace('_', "-"),
        "SCREAMING-KEBAB-CASE" => field.replace('_', "-").to_uppercase(),
        _ => field.to_owned(),
    }
}
