//! Parse and check `#[derive(ReadModel)]`'s input into a [`ReadModel`]; every mistake goes
//! into one collector. The struct-level `#[read_model(...)]` and each field are checked
//! independently, so a mistake in one hides nothing about the others.

use darling::FromMeta;
use darling::error::Accumulator;
use darling::util::{PathList, SpannedValue};
use syn::spanned::Spanned;

use super::columns::{column_type, identifier_problem, option_inner, snake_case};
use crate::args::{helper_args, typed};
use crate::common::{conclude, data_keyword_span, doc_text};
use crate::crate_path::CratePath;

/// The keys of `#[read_model(...)]`.
const KEYS: &[&str] = &["changes", "crate", "index", "table"];

#[derive(FromMeta)]
struct Args {
    #[darling(default, rename = "crate")]
    krate: CratePath,
    #[darling(default)]
    table: Option<SpannedValue<String>>,
    /// `changes`: projections record this read model's row changes for subscribers.
    #[darling(default)]
    changes: bool,
    /// `index(a, b)`: an index on several columns (repeatable).
    #[darling(multiple, rename = "index")]
    indexes: Vec<PathList>,
}

/// A checked read model.
pub(super) struct ReadModel {
    pub krate: CratePath,
    pub ident: syn::Ident,
    pub table: String,
    pub key: Key,
    pub columns: Vec<Column>,
    /// Each index's columns, the single-column ones of `#[index]` first.
    pub indexes: Vec<Vec<String>>,
    pub changes: bool,
    pub description: String,
}

/// The key field.
pub(super) struct Key {
    pub field: syn::Ident,
    pub ty: syn::Type,
    /// Its column name.
    pub column: String,
}

/// One column: one field.
pub(super) struct Column {
    pub name: String,
    /// The `ColumnType` variant.
    pub ty: syn::Ident,
    pub nullable: bool,
    pub description: String,
}

/// What the fields declare.
struct Fields {
    columns: Vec<Column>,
    key: Option<Key>,
    /// Some field is marked `#[key]`, valid or not.
    key_marked: bool,
    /// From `#[index]` on fields.
    indexes: Vec<Vec<String>>,
}

/// Every mistake of `input` at once, or the checked read model.
pub(super) fn check(input: &syn::DeriveInput) -> darling::Result<ReadModel> {
    let mut errors = darling::Error::accumulator();
    let model = checked(input, &mut errors);
    conclude(errors, model)
}

fn checked(input: &syn::DeriveInput, errors: &mut Accumulator) -> Option<ReadModel> {
    let args = helper_args(&input.attrs, "read_model", errors)
        .and_then(|items| typed::<Args>(&items, KEYS, errors));
    if let Some(param) = input.generics.params.first() {
        errors.push(
            darling::Error::custom("a read model cannot be generic: it is one table")
                .with_span(param),
        );
    }
    let table = match args.as_ref().and_then(|a| a.table.as_ref()) {
        Some(t) => {
            if let Some(problem) = identifier_problem(t) {
                errors.push(
                    darling::Error::custom(format!("table name: {problem}")).with_span(&t.span()),
                );
            }
            t.as_str().to_owned()
        }
        None => snake_case(&input.ident.to_string()),
    };
    let fields = match &input.data {
        syn::Data::Struct(syn::DataStruct {
            fields: syn::Fields::Named(fields),
            ..
        }) => checked_fields(fields, errors),
        other => {
            errors.push(
                darling::Error::custom(
                    "#[derive(ReadModel)] goes on a struct with named fields: one column per field",
                )
                .with_span(&data_keyword_span(other)),
            );
            return None;
        }
    };
    if !fields.key_marked {
        errors.push(
            darling::Error::custom("a read model needs a key: mark one field `#[key]`")
                .with_span(&input.ident),
        );
    }
    let args = args?;
    let mut indexes = fields.indexes;
    indexes.extend(checked_indexes(
        &args.indexes,
        &input.ident,
        &fields.columns,
        errors,
    ));
    Some(ReadModel {
        krate: args.krate,
        ident: input.ident.clone(),
        table,
        key: fields.key?,
        columns: fields.columns,
        indexes,
        changes: args.changes,
        description: doc_text(&input.attrs).unwrap_or_default(),
    })
}

/// Each field's column, its `#[key]` and `#[index]` attributes.
fn checked_fields(fields: &syn::FieldsNamed, errors: &mut Accumulator) -> Fields {
    let mut out = Fields {
        columns: Vec::new(),
        key: None,
        key_marked: false,
        indexes: Vec::new(),
    };
    for field in &fields.named {
        let Some(ident) = &field.ident else { continue };
        let name = ident.to_string().trim_start_matches("r#").to_owned();
        if let Some(problem) = identifier_problem(&name) {
            errors.push(darling::Error::custom(format!("column name: {problem}")).with_span(ident));
        }
        let (inner, nullable) = option_inner(&field.ty);
        let key_attrs: Vec<&syn::Attribute> = field
            .attrs
            .iter()
            .filter(|a| a.path().is_ident("key"))
            .collect();
        for attr in &key_attrs {
            if !matches!(attr.meta, syn::Meta::Path(_)) {
                errors.push(
                    darling::Error::custom("#[key] takes no arguments").with_span(&attr.meta),
                );
            }
        }
        if let Some(attr) = key_attrs.first() {
            if let Some(first) = out.key.as_ref().map(|k| &k.column) {
                errors.push(
                    darling::Error::custom(format!(
                        "`{first}` is already the key; a read model has one key field"
                    ))
                    .with_span(&attr.span()),
                );
            } else if nullable {
                errors.push(
                    darling::Error::custom("the key cannot be an Option: every row has a key")
                        .with_span(&field.ty),
                );
            } else {
                out.key = Some(Key {
                    field: ident.clone(),
                    ty: field.ty.clone(),
                    column: name.clone(),
                });
            }
            out.key_marked = true;
        }
        for attr in field.attrs.iter().filter(|a| a.path().is_ident("index")) {
            if !matches!(attr.meta, syn::Meta::Path(_)) {
                errors.push(
                    darling::Error::custom(
                        "#[index] takes no arguments; for an index on several columns write \
                         #[read_model(index(a, b))] on the struct",
                    )
                    .with_span(&attr.meta),
                );
            } else if !key_attrs.is_empty() {
                errors.push(
                    darling::Error::custom(
                        "the key needs no #[index]: it is the table's primary key",
                    )
                    .with_span(&attr.span()),
                );
            } else {
                out.indexes.push(vec![name.clone()]);
            }
        }
        out.columns.push(Column {
            name,
            ty: column_type(inner),
            nullable,
            description: doc_text(&field.attrs).unwrap_or_default(),
        });
    }
    out
}

/// The struct-level `index(a, b)`es: each names at least one column of this read model.
fn checked_indexes(
    lists: &[PathList],
    ident: &syn::Ident,
    columns: &[Column],
    errors: &mut Accumulator,
) -> Vec<Vec<String>> {
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    let mut indexes = Vec::new();
    for list in lists {
        if list.is_empty() {
            // darling keeps no span for the empty list: point at the read model.
            errors.push(
                darling::Error::custom("index() names no column: write index(a) or index(a, b)")
                    .with_span(ident),
            );
        }
        let mut index = Vec::new();
        for path in list.iter() {
            match path.get_ident().map(|i| i.to_string()) {
                Some(column) if names.contains(&column.as_str()) => index.push(column),
                _ => errors.push(
                    darling::Error::custom(format!(
                        "an index names columns of this read model; it has {}",
                        names.join(", ")
                    ))
                    .with_span(path),
                ),
            }
        }
        indexes.push(index);
    }
    indexes
}

#[cfg(test)]
mod tests {
    use super::check;
    use crate::common::messages;

    #[test]
    fn the_attribute_and_every_field_are_checked_independently() {
        let found: Vec<String> = messages(check(&syn::parse_quote! {
            #[read_model(tabel = "balances", crate = 5)]
            struct Balance {
                #[key(primary)]
                account: String,
                #[index(unique)]
                owner: String,
                Cents: i64,
            }
        }));
        assert_eq!(found.len(), 5, "{found:#?}");
        assert!(found.iter().any(|m| m.contains("Unknown field: `tabel`")));
        assert!(found.iter().any(|m| m.contains("Unexpected type `int`")));
        assert!(
            found
                .iter()
                .any(|m| m.contains("#[key] takes no arguments"))
        );
        assert!(
            found
                .iter()
                .any(|m| m.contains("#[index] takes no arguments"))
        );
        assert!(found.iter().any(|m| m.contains("column name")));
    }
}
