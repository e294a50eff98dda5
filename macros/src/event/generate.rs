//! Generate `#[derive(Event)]`'s impl and registration from a checked [`Event`].

use proc_macro2::TokenStream;
use quote::quote;

use super::check::Event;

/// `impl Event` and the inventory registration of its descriptor.
pub(super) fn generate(event: &Event) -> TokenStream {
    let f = &event.krate;
    let ident = &event.ident;
    let name = &event.name;
    let version = event.version;
    let chain = upcast_chain(event);
    let upcaster_versions = event.upcasters.iter().map(|u| u.from);
    let older = event.upcasters.iter().map(|u| {
        let from = u.from;
        let call = &u.call;
        quote! {
            if let ::core::option::Option::Some(schema) =
                (&#f::__private::probe_input(#call)).input_schema()
            {
                older.push((#from, schema));
            }
        }
    });
    let deprecation = event.deprecated.as_ref();
    let deprecated = optional_str(deprecation.map(|d| d.note.as_str()));
    let since = optional_str(deprecation.and_then(|d| d.since.as_deref()));
    let sunset = optional_str(deprecation.and_then(|d| d.sunset.as_deref()));
    let replaced_by = optional_str(deprecation.and_then(|d| d.replaced_by.as_deref()));
    let description = optional_str(event.description.as_deref());
    let rust_type = ident.to_string();
    let aliases = event
        .aliases
        .iter()
        .map(|(field, names)| quote!((#field, &[#(#names),*])));
    let dropped = &event.dropped;

    quote! {
        impl #f::Event for #ident {
            const NAME: &'static str = #name;
            const VERSION: u32 = #version;

            fn upcast(
                version: u32,
                payload: #f::__private::serde_json::Value,
            ) -> ::core::result::Result<#f::__private::serde_json::Value, #f::UpcastError> {
                if version == 0 || version > <Self as #f::Event>::VERSION {
                    return ::core::result::Result::Err(#f::UpcastError::UnknownVersion {
                        event: <Self as #f::Event>::NAME,
                        version,
                        current: <Self as #f::Event>::VERSION,
                    });
                }
                #chain
            }

            fn descriptor() -> #f::EventDescriptor {
                #f::EventDescriptor::new(
                    #name,
                    #version,
                    #rust_type,
                    &[#(#upcaster_versions),*],
                    #deprecated,
                    #description,
                    #f::schema_of::<#ident>,
                    &[#(#aliases),*],
                    {
                        fn older_schemas() -> ::std::vec::Vec<(u32, #f::schemars::Schema)> {
                            #[allow(unused_imports)]
                            use #f::__private::{InputHasNoSchema as _, InputHasSchema as _};
                            let mut older = ::std::vec::Vec::new();
                            #(#older)*
                            older
                        }
                        older_schemas
                    },
                    &[#(#dropped),*],
                    #f::DeprecationSchedule::new(#since, #sunset, #replaced_by),
                )
            }
        }

        #f::__private::inventory::submit! {
            #f::__private::EventRegistration(<#ident as #f::Event>::descriptor)
        }
    }
}

/// The body of `upcast` after the version check: lift the payload one version at a time.
fn upcast_chain(event: &Event) -> TokenStream {
    let f = &event.krate;
    // Version 1 has nothing to lift; otherwise every older version has its step.
    if event.upcasters.is_empty() {
        return quote! {
            let _ = version;
            ::core::result::Result::Ok(payload)
        };
    }
    let steps = event.upcasters.iter().map(|u| {
        let from = u.from;
        let call = &u.call;
        let run = if u.fallible {
            quote!(#f::__private::try_run_upcaster)
        } else {
            quote!(#f::__private::run_upcaster)
        };
        quote! { #from => #run(<Self as #f::Event>::NAME, #from, payload, #call)?, }
    });
    quote! {
        let mut payload = payload;
        let mut at = version;
        while at < <Self as #f::Event>::VERSION {
            payload = match at {
                #(#steps)*
                _ => ::core::unreachable!("the derive checked that every older version has an upcaster"),
            };
            at += 1;
        }
        ::core::result::Result::Ok(payload)
    }
}

/// `Some("text")` or `None`, as an `Option<&'static str>` expression.
fn optional_str(text: Option<&str>) -> TokenStream {
    match text {
        Some(text) => quote!(::core::option::Option::Some(#text)),
        None => quote!(::core::option::Option::None),
    }
}
