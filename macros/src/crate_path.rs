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
    fn from_meta(item: &syn::Meta) -> darling::Result<Self> {
        let path = syn::Path::from_meta(item)?;
        if let Some(segment) = path.segments.iter().find(|s| !s.arguments.is_none()) {
            return Err(darling::Error::custom(
                "`crate` is the module path Factum is reachable at, e.g. \"my_factum\" or \
                 \"acme::factum\": it takes no generic arguments",
            )
            .with_span(&segment.arguments));
        }
        Ok(CratePath(path))
    }
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
