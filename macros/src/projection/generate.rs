//! Generate the block and its `Projection` or `ProcessManager` impl from a checked
//! [`Reactor`].

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::check::Reactor;
use super::handlers::{Kind, On};
use crate::crate_path::CratePath;

/// The block as written (without `#[on]`), its impl and (for a non-generic projection)
/// its registration.
pub(super) fn generate(reactor: &Reactor) -> TokenStream {
    let block = &reactor.block;
    let imp = match reactor.kind {
        Kind::Projection => projection_impl(reactor),
        Kind::ProcessManager => process_manager_impl(reactor),
    };
    quote! {
        #block

        #imp
    }
}

fn projection_impl(reactor: &Reactor) -> TokenStream {
    let f = &reactor.krate;
    let block = &reactor.block;
    let ty = &block.self_ty;
    let (impl_generics, _, where_clause) = block.generics.split_for_impl();
    let name = &reactor.name;
    let version = reactor.version;
    let categories = &reactor.categories;
    let models = reactor.read_models.iter().map(|m| {
        let f = f.spanned(m.span());
        quote_spanned! {m.span()=>
            <#m as #f::ReadModel>::descriptor()
        }
    });
    let names = event_names(f, &reactor.handlers);
    // Generic projections cannot be listed: their type is only known where they are used.
    let registration = block.generics.params.is_empty().then(|| {
        quote! {
            #f::__private::inventory::submit! {
                #f::__private::ProjectionRegistration(|| {
                    #f::__private::projection_descriptor(
                        <#ty as #f::projection::Projection>::NAME,
                        <#ty as #f::projection::Projection>::VERSION,
                        <#ty as #f::projection::Projection>::read_models(),
                        <#ty as #f::projection::Projection>::EVENT_TYPES,
                    )
                })
            }
        }
    });
    let arms = dispatch_arms(f, &reactor.handlers, &quote!(tx));
    quote! {
        impl #impl_generics #f::projection::Projection for #ty #where_clause {
            const NAME: &'static str = #name;
            const VERSION: u32 = #version;
            const EVENT_TYPES: &'static [&'static str] = &[#(#names),*];
            const CATEGORIES: &'static [&'static str] = &[#(#categories),*];

            fn read_models() -> ::std::vec::Vec<&'static #f::ReadModelDescriptor> {
                ::std::vec![#(#models),*]
            }

            fn handle<'__factum>(
                &'__factum self,
                tx: &'__factum mut #f::projection::ProjectionTx,
                event: &'__factum #f::RecordedEvent,
            ) -> #f::__private::BoxFuture<
                '__factum,
                ::core::result::Result<(), #f::projection::HandlerError>,
            > {
                ::std::boxed::Box::pin(async move {
                    #(#arms)*
                    ::core::result::Result::Ok(())
                })
            }
        }

        #registration
    }
}

fn process_manager_impl(reactor: &Reactor) -> TokenStream {
    let f = &reactor.krate;
    let block = &reactor.block;
    let ty = &block.self_ty;
    let (impl_generics, _, where_clause) = block.generics.split_for_impl();
    let name = &reactor.name;
    let categories = &reactor.categories;
    let names = event_names(f, &reactor.handlers);
    let arms = dispatch_arms(f, &reactor.handlers, &quote!(cx));
    // Generic process managers cannot be listed, like generic projections.
    let registration = block.generics.params.is_empty().then(|| {
        quote! {
            #f::__private::inventory::submit! {
                #f::__private::ProcessManagerRegistration(|| {
                    #f::__private::process_manager_descriptor(
                        <#ty as #f::saga::ProcessManager>::NAME,
                        <#ty as #f::saga::ProcessManager>::EVENT_TYPES,
                    )
                })
            }
        }
    });
    quote! {
        #registration

        impl #impl_generics #f::saga::ProcessManager for #ty #where_clause {
            const NAME: &'static str = #name;
            const EVENT_TYPES: &'static [&'static str] = &[#(#names),*];
            const CATEGORIES: &'static [&'static str] = &[#(#categories),*];

            fn react<'__factum>(
                &'__factum self,
                cx: &'__factum #f::saga::Reaction,
                event: &'__factum #f::RecordedEvent,
            ) -> #f::__private::BoxFuture<
                '__factum,
                ::core::result::Result<(), #f::projection::HandlerError>,
            > {
                ::std::boxed::Box::pin(async move {
                    #(#arms)*
                    ::core::result::Result::Ok(())
                })
            }
        }
    }
}

/// For each handler: if the event is of its type, decode it and call the handler with
/// `context` (`tx` or `cx`).
fn dispatch_arms(f: &CratePath, handlers: &[On], context: &TokenStream) -> Vec<TokenStream> {
    handlers
        .iter()
        .map(|h| {
            let On {
                method,
                event,
                cfgs,
            } = h;
            quote! {
                #(#cfgs)*
                if event.event_type == <#event as #f::Event>::NAME {
                    let envelope = #f::projection::Envelope::<#event>::decode(event)?;
                    return self.#method(#context, &envelope).await;
                }
            }
        })
        .collect()
}

/// `<E as Event>::NAME` for each handler, spanned on its event type.
fn event_names(f: &CratePath, handlers: &[On]) -> Vec<TokenStream> {
    handlers
        .iter()
        .map(|h| {
            let (event, cfgs) = (&h.event, &h.cfgs);
            let f = f.spanned(event.span());
            quote_spanned! {event.span()=> #(#cfgs)* <#event as #f::Event>::NAME }
        })
        .collect()
}
