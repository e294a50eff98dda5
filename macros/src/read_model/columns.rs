//! Columns of a read model: the column type of a field type, and the rules for table and
//! column names.

use syn::spanned::Spanned;

/// `Option<T>` → (`T`, true); anything else → (itself, false).
pub(super) fn option_inner(ty: &syn::Type) -> (&syn::Type, bool) {
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
pub(super) fn column_type(ty: &syn::Type) -> syn::Ident {
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

/// Why `name` cannot be a table or column name, if it cannot: the same name must work
/// unquoted-alike on SQLite and PostgreSQL.
pub(super) fn identifier_problem(name: &str) -> Option<&'static str> {
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

/// `AccountBalance` → `account_balance`: the default table name.
pub(super) fn snake_case(name: &str) -> String {
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
