//! The `crate = "path"` key every macro takes: the path at which the generated code finds
//! Factum, for a renamed dependency (`crate = "my_factum"`) or a re-export through another
//! crate (`crate = "acme::factum"`). Without it the path is `::factum`.

use darling::FromMeta;
use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};

/// Where generated code names Factum's items: `#path::Event`, `#path::__private::…`.
#[derive(Clone)]
pub(crate) struct CratePath(syn::Path);

impl Default for CratePath {
    fn default() -> Self {
        CratePath(syn::parse_quote!(::factum))
    }
}

impl FromMeta for CratePath {
    /// `crate = my_factum`, unquoted.
    fn from_expr(expr: &syn::Expr) -> darling::Result<Self> {
        match expr {
            syn::Expr::Path(p) if p.qself.is_none() => checked(p.path.clone()),
            syn::Expr::Lit(lit) => Self::from_value(&lit.lit),
            syn::Expr::Group(group) => Self::from_expr(&group.expr),
            other => Err(darling::Error::unexpected_expr_type(other)),
        }
    }

    /// `crate = "my_factum"`: the path keeps the string's span, so that an error about
    /// it (say, a crate that is not a dependency) points at the string.
    fn from_value(value: &syn::Lit) -> darling::Result<Self> {
        match value {
            syn::Lit::Str(text) => match text.parse::<syn::Path>() {
                Ok(path) => checked(path),
                Err(_) => Err(darling::Error::custom(format!(
                    "`crate` takes the path Factum is reachable at, e.g. \"my_factum\" or \
                     \"acme::factum\"; {:?} is not a path",
                    text.value()
                ))
                .with_span(text)),
            },
            other => Err(darling::Error::unexpected_lit_type(other)),
        }
    }
}

/// A path to a module: no generic arguments anywhere.
fn checked(path: syn::Path) -> darling::Result<CratePath> {
    if let Some(segment) = path.segments.iter().find(|s| !s.arguments.is_none()) {
        return Err(darling::Error::custom(
            "`crate` is the module path Factum is reachable at, e.g. \"my_factum\" or \
             \"acme::factum\": it takes no generic arguments",
        )
        .with_span(&segment.arguments));
    }
    Ok(CratePath(path))
}

impl CratePath {
    /// The path with every token at `span`, for code generated with `quote_spanned!`, so
    /// that a compiler error about it points where the rest of that code does.
    pub(crate) fn spanned(&self, span: Span) -> TokenStream {
        self.to_token_stream()
            .into_iter()
            .map(|mut token| {
                token.set_span(span);
                token
            })
            .collect()
    }
}

impl ToTokens for CratePath {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let path = &self.0;
        tokens.extend(quote!(#path));
    }
}
