//! Generate the block and the `Aggregate`, `Applies<E>` and `Handles<C>` impls from a
//! checked [`Aggregate`].

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::check::{Aggregate, Apply, Handle};
use crate::common::doc_text;

/// The block as written (without the helper attributes), its impls and its registration.
pub(super) fn generate(aggregate: &Aggregate) -> TokenStream {
    let f = &aggregate.krate;
    let block = &aggregate.block;
    let state = &block.self_ty;
    let events = &aggregate.events;
    let error = &aggregate.error;
    let category = &aggregate.category;
    let state_version = aggregate.state_version;
    let rust_type = quote!(#state).to_string().replace(' ', "");
    let description = match doc_text(&block.attrs) {
        Some(text) => quote!(::core::option::Option::Some(#text)),
        None => quote!(::core::option::Option::None),
    };
    let apply_impls = aggregate.applies.iter().map(|a| apply_impl(aggregate, a));
    let handle_impls = aggregate.handles.iter().map(|h| handle_impl(aggregate, h));

    quote! {
        #block

        impl #f::Aggregate for #state {
            const CATEGORY: &'static str = #category;
            const STATE_VERSION: u32 = #state_version;
            type Event = #events;
            type Error = #error;

            fn apply(&mut self, event: &Self::Event) {
                #f::Dispatch::<Self>::dispatch(event, self)
            }
        }

        #(#apply_impls)*
        #(#handle_impls)*

        #f::__private::inventory::submit! {
            #f::__private::AggregateRegistration(|| {
                #f::AggregateDescriptor::new(
                    #category,
                    #rust_type,
                    <#events as #f::EventSet>::NAMES,
                    #description,
                )
            })
        }
    }
}

/// `Applies<E>` for one `#[apply]`, and a check that `E` is in the event set.
fn apply_impl(aggregate: &Aggregate, apply: &Apply) -> TokenStream {
    let state = &aggregate.block.self_ty;
    let events = &aggregate.events;
    let Apply {
        method,
        event,
        cfgs,
    } = apply;
    let span = event.span();
    let f = aggregate.krate.spanned(span);
    quote_spanned! {span=>
        #(#cfgs)*
        impl #f::Applies<#event> for #state {
            fn apply_event(&mut self, event: &#event) {
                self.#method(event)
            }
        }
        #(#cfgs)*
        const _: () = {
            #[allow(dead_code)]
            fn is_member<__FactumEvent: #f::MemberOf<#events>>() {}
            #[allow(dead_code)]
            fn check() {
                is_member::<#event>();
            }
        };
    }
}

/// `Handles<C>` for one `#[handle]`.
fn handle_impl(aggregate: &Aggregate, handle: &Handle) -> TokenStream {
    let f = &aggregate.krate;
    let state = &aggregate.block.self_ty;
    let events = &aggregate.events;
    let error = &aggregate.error;
    let Handle {
        method,
        cfgs,
        command,
        output,
        record_rejection,
    } = handle;
    let rejection = record_rejection.as_ref().map(|record| {
        quote! {
            fn rejection(&self, command: &#command, error: &#error) -> ::core::option::Option<#events> {
                self.#record(command, error)
            }
        }
    });
    let span = output.span();
    let spanned_f = aggregate.krate.spanned(span);
    let call = quote_spanned! {span=>
        #spanned_f::__private::decided::<#events, #error, _>(self.#method(command))
    };
    quote! {
        #(#cfgs)*
        impl #f::Handles<#command> for #state {
            fn handle(&self, command: #command) -> ::core::result::Result<#f::Decision<#events>, #error> {
                #call
            }
            #rejection
        }
    }
}
