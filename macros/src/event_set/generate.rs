//! Generate `#[derive(EventSet)]`'s impls from a checked [`EventSet`].

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::check::EventSet;

/// `impl EventSet`, `impl Dispatch`, the distinct-names assertion, and `From`/`MemberOf`
/// for each event type.
pub(super) fn generate(set_model: &EventSet) -> TokenStream {
    let f = &set_model.krate;
    let set = &set_model.ident;
    let variants = &set_model.variants;
    let names = variants
        .iter()
        .map(|(_, ty)| quote!(<#ty as #f::Event>::NAME));
    let name_arms = variants
        .iter()
        .map(|(v, ty)| quote!(Self::#v(_) => <#ty as #f::Event>::NAME,));
    let data_arms = variants
        .iter()
        .map(|(v, ty)| quote!(Self::#v(e) => <#ty as #f::Event>::to_event_data(e),));
    let decode_arms = variants.iter().map(|(v, ty)| {
        quote! {
            if event.event_type == <#ty as #f::Event>::NAME {
                return ::core::result::Result::Ok(::core::option::Option::Some(
                    Self::#v(<#ty as #f::Event>::from_view(event)?),
                ));
            }
        }
    });
    let dispatch_arms = variants
        .iter()
        .map(|(v, ty)| quote!(Self::#v(e) => #f::Applies::<#ty>::apply_event(aggregate, e),));
    let bounds = variants.iter().map(|(_, ty)| quote!(#f::Applies<#ty>));
    let impls = variants.iter().map(|(v, ty)| {
        let span = ty.span();
        let f = f.spanned(span);
        quote_spanned! {span=>
            impl ::core::convert::From<#ty> for #set {
                fn from(event: #ty) -> Self {
                    Self::#v(event)
                }
            }
            impl #f::MemberOf<#set> for #ty {}
        }
    });

    quote! {
        impl #f::EventSet for #set {
            const NAMES: &'static [&'static str] = &[#(#names),*];

            fn name(&self) -> &'static str {
                match self { #(#name_arms)* }
            }

            fn to_event_data(&self) -> ::core::result::Result<#f::EventData, #f::__private::serde_json::Error> {
                match self { #(#data_arms)* }
            }

            fn from_view(
                event: #f::EventView<'_>,
            ) -> ::core::result::Result<::core::option::Option<Self>, #f::UpcastError> {
                #(#decode_arms)*
                ::core::result::Result::Ok(::core::option::Option::None)
            }
        }

        impl<__FactumAggregate> #f::Dispatch<__FactumAggregate> for #set
        where
            __FactumAggregate: #(#bounds)+*,
        {
            fn dispatch(&self, aggregate: &mut __FactumAggregate) {
                match self { #(#dispatch_arms)* }
            }
        }

        const _: () = ::core::assert!(
            #f::__private::names_are_distinct(<#set as #f::EventSet>::NAMES),
            "two event types of this set are stored under the same name; give one of them \
             another `#[event(name = ...)]`",
        );

        #(#impls)*
    }
}
