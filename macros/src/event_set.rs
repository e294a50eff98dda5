//! `#[derive(EventSet)]`: the closed enum of an aggregate's events.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

pub fn expand(input: &syn::DeriveInput) -> syn::Result<TokenStream> {
    let syn::Data::Enum(data) = &input.data else {
        let span = match &input.data {
            syn::Data::Struct(s) => s.struct_token.span,
            syn::Data::Union(u) => u.union_token.span,
            syn::Data::Enum(_) => unreachable!(),
        };
        return Err(syn::Error::new(
            span,
            "#[derive(EventSet)] goes on an enum with one variant per event type, \
             e.g. `enum AccountEvent { Opened(Opened), Deposited(Deposited) }`",
        ));
    };
    if let Some(param) = input.generics.params.first() {
        return Err(syn::Error::new(
            param.span(),
            "an event set cannot be generic: it lists concrete event types",
        ));
    }
    if data.variants.is_empty() {
        return Err(syn::Error::new(
            input.ident.span(),
            "an event set needs at least one variant holding an event type",
        ));
    }
    let mut variants = Vec::new();
    let mut seen: Vec<(String, proc_macro2::Span)> = Vec::new();
    let mut errors: Option<syn::Error> = None;
    let mut push = |err: syn::Error| match &mut errors {
        Some(all) => all.combine(err),
        None => errors = Some(err),
    };
    for variant in &data.variants {
        let ty = match &variant.fields {
            syn::Fields::Unnamed(f) if f.unnamed.len() == 1 => &f.unnamed[0].ty,
            other => {
                push(syn::Error::new(
                    if other.is_empty() {
                        variant.ident.span()
                    } else {
                        other.span()
                    },
                    format!(
                        "each variant holds exactly one event type, e.g. `{}({})`",
                        variant.ident, variant.ident
                    ),
                ));
                continue;
            }
        };
        let key = quote!(#ty).to_string();
        if seen.iter().any(|(k, _)| *k == key) {
            push(syn::Error::new(
                ty.span(),
                format!("`{key}` is already in this set; each event type appears once"),
            ));
            continue;
        }
        seen.push((key, ty.span()));
        variants.push((&variant.ident, ty));
    }
    if let Some(errors) = errors {
        return Err(errors);
    }

    let set = &input.ident;
    let names = variants
        .iter()
        .map(|(_, ty)| quote!(<#ty as ::factum::Event>::NAME));
    let name_arms = variants
        .iter()
        .map(|(v, ty)| quote!(Self::#v(_) => <#ty as ::factum::Event>::NAME,));
    let data_arms = variants
        .iter()
        .map(|(v, ty)| quote!(Self::#v(e) => <#ty as ::factum::Event>::to_event_data(e),));
    let decode_arms = variants.iter().map(|(v, ty)| {
        quote! {
            if event.event_type == <#ty as ::factum::Event>::NAME {
                return ::core::result::Result::Ok(::core::option::Option::Some(
                    Self::#v(<#ty as ::factum::Event>::from_view(event)?),
                ));
            }
        }
    });
    let dispatch_arms = variants
        .iter()
        .map(|(v, ty)| quote!(Self::#v(e) => ::factum::Applies::<#ty>::apply_event(aggregate, e),));
    let bounds = variants
        .iter()
        .map(|(_, ty)| quote!(::factum::Applies<#ty>));
    let impls = variants.iter().map(|(v, ty)| {
        let span = ty.span();
        quote_spanned! {span=>
            impl ::core::convert::From<#ty> for #set {
                fn from(event: #ty) -> Self {
                    Self::#v(event)
                }
            }
            impl ::factum::MemberOf<#set> for #ty {}
        }
    });

    Ok(quote! {
        impl ::factum::EventSet for #set {
            const NAMES: &'static [&'static str] = &[#(#names),*];

            fn name(&self) -> &'static str {
                match self { #(#name_arms)* }
            }

            fn to_event_data(&self) -> ::core::result::Result<::factum::EventData, ::factum::__private::serde_json::Error> {
                match self { #(#data_arms)* }
            }

            fn from_view(
                event: ::factum::EventView<'_>,
            ) -> ::core::result::Result<::core::option::Option<Self>, ::factum::UpcastError> {
                #(#decode_arms)*
                ::core::result::Result::Ok(::core::option::Option::None)
            }
        }

        impl<__FactumAggregate> ::factum::Dispatch<__FactumAggregate> for #set
        where
            __FactumAggregate: #(#bounds)+*,
        {
            fn dispatch(&self, aggregate: &mut __FactumAggregate) {
                match self { #(#dispatch_arms)* }
            }
        }

        const _: () = ::core::assert!(
            ::factum::__private::names_are_distinct(<#set as ::factum::EventSet>::NAMES),
            "two event types of this set are stored under the same name; give one of them \
             another `#[event(name = ...)]`",
        );

        #(#impls)*
    })
}
