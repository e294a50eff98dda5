//! The names serde reads an event's fields under, for the catalog: each field's
//! serialized name and its `#[serde(alias = "…")]`es.

use crate::serde_attrs::serde_strings;

/// The fields serde also reads under other names: `(serialized name, aliases)` for each
/// field with `#[serde(alias = "…")]`, the serialized name following the field's
/// `rename` and the struct's `rename_all`.
pub(super) fn serde_aliases(input: &syn::DeriveInput) -> Vec<(String, Vec<String>)> {
    serialized_fields(input)
        .into_iter()
        .filter_map(|(name, field)| {
            let aliases: Vec<String> = serde_strings(&field.attrs, "alias")
                .iter()
                .map(syn::LitStr::value)
                .collect();
            (!aliases.is_empty()).then_some((name, aliases))
        })
        .collect()
}

/// The name each named field is serialized under, following its `rename` and the
/// struct's `rename_all`.
pub(super) fn serialized_names(input: &syn::DeriveInput) -> Vec<String> {
    serialized_fields(input)
        .into_iter()
        .map(|(name, _)| name)
        .collect()
}

fn serialized_fields(input: &syn::DeriveInput) -> Vec<(String, &syn::Field)> {
    let syn::Data::Struct(data) = &input.data else {
        return Vec::new();
    };
    let rename_all = serde_strings(&input.attrs, "rename_all")
        .first()
        .map(syn::LitStr::value);
    let mut out = Vec::new();
    for field in &data.fields {
        let Some(ident) = &field.ident else { continue };
        let raw = ident.to_string().trim_start_matches("r#").to_owned();
        let name = serde_strings(&field.attrs, "rename")
            .first()
            .map(syn::LitStr::value)
            .unwrap_or_else(|| match &rename_all {
                Some(rule) => apply_rename_rule(rule, &raw),
                None => raw,
            });
        out.push((name, field));
    }
    out
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
