//! `#[derive(ReadModel)]`: a struct as a read-model table.

use darling::FromDeriveInput;
use darling::util::SpannedValue;
use proc_macro2::TokenStream;
use quote::quote;
use syn::spanned::Spanned;

use crate::common::{Errors, doc_text};

#[derive(FromDeriveInput)]
#[darling(attributes(read_model), forward_attrs(doc))]
struct Args {
    ident: syn::Ident,
    generics: syn::Generics,
    data: darling::ast::Data<(), syn::Field>,
    attrs: Vec<syn::Attribute>,
    #[darling(default)]
    table: Option<SpannedValue<String>>,
    /// `changes`: projections record this read model's row changes for subscribers.
    #[darling(default)]
    changes: bool,
    /// `index(a, b)`: an index on several columns (repeatable).
    #[darling(multiple, rename = "index")]
    indexes: Vec<darling::util::PathList>,
}

pub fn expand(input: &syn::DeriveInput) -> syn::Result<TokenStream> {
    let args = Args::from_derive_input(input).map_err(syn::Error::from)?;
    let mut errors = Errors::default();
    if let Some(param) = args.generics.params.first() {
        errors.push(syn::Error::new(
            param.span(),
            "a read model cannot be generic: it is one table",
        ));
    }
    let fields = match &args.data {
        darling::ast::Data::Struct(fields) if fields.style == darling::ast::Style::Struct => {
            fields.fields.clone()
        }
        _ => {
            let span = match &input.data {
                syn::Data::Enum(e) => e.enum_token.span,
                syn::Data::Union(u) => u.union_token.span,
                syn::Data::Struct(s) => s.struct_token.span,
            };
            return Err(syn::Error::new(
                span,
                "#[derive(ReadModel)] goes on a struct with named fields: one column per field",
            ));
        }
    };
    let type_name = args.ident.to_string();
    let table = match &args.table {
        Some(t) => {
            if let Some(problem) = identifier_problem(t) {
                errors.push(syn::Error::new(t.span(), format!("table name: {problem}")));
            }
            t.as_str().to_owned()
        }
        None => snake_case(&type_name),
    };

    let mut key: Option<(&syn::Field, String)> = None;
    let mut columns = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let mut indexes: Vec<Vec<String>> = Vec::new();
    for field in &fields {
        let Some(ident) = &field.ident else { continue };
        let name = ident.to_string().trim_start_matches("r#").to_owned();
        if let Some(problem) = identifier_problem(&name) {
            errors.push(syn::Error::new(
                ident.span(),
                format!("column name: {problem}"),
            ));
        }
        let (inner, nullable) = option_inner(&field.ty);
        let ty = column_type(inner);
        let key_attrs: Vec<&syn::Attribute> = field
            .attrs
            .iter()
            .filter(|a| a.path().is_ident("key"))
            .collect();
        for attr in &key_attrs {
            if !matches!(attr.meta, syn::Meta::Path(_)) {
                errors.push(syn::Error::new(
                    attr.meta.span(),
                    "#[key] takes no arguments",
                ));
            }
        }
        if let Some(attr) = key_attrs.first() {
            if let Some((_, first)) = &key {
                errors.push(syn::Error::new(
                    attr.span(),
                    format!("`{first}` is already the key; a read model has one key field"),
                ));
            } else if nullable {
                errors.push(syn::Error::new(
                    field.ty.span(),
                    "the key cannot be an Option: every row has a key",
                ));
            } else {
                key = Some((field, name.clone()));
            }
        }
        for attr in field.attrs.iter().filter(|a| a.path().is_ident("index")) {
            if !matches!(attr.meta, syn::Meta::Path(_)) {
                errors.push(syn::Error::new(
                    attr.meta.span(),
                    "#[index] takes no arguments; for an index on several columns write \
                     #[read_model(index(a, b))] on the struct",
                ));
            } else if !key_attrs.is_empty() {
                errors.push(syn::Error::new(
                    attr.span(),
                    "the key needs no #[index]: it is the table's primary key",
                ));
            } else {
                indexes.push(vec![name.clone()]);
            }
        }
        names.push(name.clone());
        let description = doc_text(&field.attrs).unwrap_or_default();
        columns.push(quote! {
            ::factum::projection::read_model::Column {
                name: #name,
                ty: ::factum::projection::read_model::ColumnType::#ty,
                nullable: #nullable,
                description: #description,
            }
        });
    }
    for list in &args.indexes {
        if list.is_empty() {
            // darling keeps no span for the empty list: point at the read model.
            errors.push(syn::Error::new(
                args.ident.span(),
                "index() names no column: write index(a) or index(a, b)",
            ));
        }
        let mut index = Vec::new();
        for path in list.iter() {
            let column = path.get_ident().map(|i| i.to_string());
            match column {
                Some(column) if names.contains(&column) => index.push(column),
                _ => errors.push(syn::Error::new(
                    path.span(),
                    format!(
                        "an index names columns of this read model; it has {}",
                        names.join(", ")
                    ),
                )),
            }
        }
        indexes.push(index);
    }
    errors.finish()?;
    let Some((key_field, key_name)) = key else {
        return Err(syn::Error::new(
            args.ident.span(),
            "a read model needs a key: mark one field `#[key]`",
        ));
    };

    let ident = &args.ident;
    let key_ident = &key_field.ident;
    let key_ty = &key_field.ty;
    let description = doc_text(&args.attrs).unwrap_or_default();
    let changes = args.changes;
    Ok(quote! {
        impl ::factum::ReadModel for #ident {
            type Key = #key_ty;

            fn descriptor() -> &'static ::factum::ReadModelDescriptor {
                static DESCRIPTOR: ::factum::ReadModelDescriptor = ::factum::ReadModelDescriptor {
                    name: #type_name,
                    table: #table,
                    key: #key_name,
                    columns: &[#(#columns),*],
                    indexes: &[#(::factum::projection::read_model::Index { columns: &[#(#indexes),*] }),*],
                    changes: #changes,
                    description: #description,
                };
                &DESCRIPTOR
            }

            fn key(&self) -> &Self::Key {
                &self.#key_ident
            }
        }

        ::factum::__private::inventory::submit! {
            ::factum::__private::ReadModelRegistration(<#ident as ::factum::ReadModel>::descriptor)
        }
    })
}

/// `Option<T>` → (`T`, true); anything else → (itself, false).
fn option_inner(ty: &syn::Type) -> (&syn::Type, bool) {
    if let syn::Type::Path(p) = ty
        && let Some(last) = p.path.segments.last()
        && last.ident == "Option"
        && let syn::PathArguments::AngleBracketed(args) = &last.arguments
        && let Some(syn::GenericArgument::Type(inner)) = args.args.first()
    {
        return (inner, true);
    }
    (ty, false)
}

/// The `ColumnType` variant for a field type, by the last segment of its path.
fn column_type(ty: &syn::Type) -> syn::Ident {
    let name = match ty {
        syn::Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        syn::Type::Reference(r) => match &*r.elem {
            syn::Type::Path(p) if p.path.is_ident("str") => Some("str".to_owned()),
            _ => None,
        },
        _ => None,
    };
    let variant = match name.as_deref() {
        Some("String" | "str" | "char") => "Text",
        Some("i8" | "i16" | "i32" | "i64" | "isize" | "u8" | "u16" | "u32" | "u64" | "usize") => {
            "Integer"
        }
        Some("f32" | "f64") => "Real",
        Some("bool") => "Boolean",
        Some("DateTime") => "Timestamp",
        Some("Uuid") => "Uuid",
        _ => "Json",
    };
    syn::Ident::new(variant, ty.span())
}

fn identifier_problem(name: &str) -> Option<&'static str> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() > 50 {
        Some("1 to 50 characters")
    } else if !(bytes[0].is_ascii_lowercase() || bytes[0] == b'_') {
        Some("starts with a lowercase ASCII letter or _")
    } else if !bytes
        .iter()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_')
    {
        Some("only lowercase ASCII letters, digits and _ (the same name on SQLite and PostgreSQL)")
    } else {
        None
    }
}

fn snake_case(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}
