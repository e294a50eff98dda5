//! `#[factum::aggregate(...)]` on an `impl` block: finds the `#[apply]` and `#[handle]`
//! functions, checks their signatures, and implements `Aggregate`, `Applies<E>` and
//! `Handles<C>`.

use darling::FromMeta;
use darling::ast::NestedMeta;
use darling::util::SpannedValue;
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use crate::common::{
    Errors, borrowed_self, category_problem, cfgs_of, doc_text, item_keyword_span,
};

#[derive(FromMeta)]
struct AggregateArgs {
    category: SpannedValue<String>,
    events: syn::Path,
    error: syn::Path,
    #[darling(default)]
    state_version: Option<SpannedValue<u32>>,
}

#[derive(FromMeta, Default)]
struct HandleArgs {
    #[darling(default)]
    record_rejection: Option<syn::Ident>,
}

struct Apply {
    method: syn::Ident,
    event: syn::Type,
    /// The function's `#[cfg]`s, repeated on what is generated for it.
    cfgs: Vec<syn::Attribute>,
}

struct Handle {
    method: syn::Ident,
    cfgs: Vec<syn::Attribute>,
    command: syn::Type,
    output: syn::Type,
    record_rejection: Option<syn::Ident>,
}

pub fn expand(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let mut block: syn::ItemImpl = match syn::parse2(item.clone()) {
        Ok(block) => block,
        Err(_) => {
            let span = syn::parse2::<syn::Item>(item)
                .map(|i| item_keyword_span(&i))
                .unwrap_or_else(|_| proc_macro2::Span::call_site());
            return Err(syn::Error::new(
                span,
                "#[factum::aggregate] goes on an `impl` block of the aggregate's state type, \
                 holding its #[apply] and #[handle] functions",
            ));
        }
    };
    let metas = NestedMeta::parse_meta_list(args)?;
    let args = AggregateArgs::from_list(&metas).map_err(syn::Error::from)?;
    let mut errors = Errors::default();

    if let Some((_, path, _)) = &block.trait_ {
        errors.push(syn::Error::new(
            path.span(),
            "#[factum::aggregate] goes on an inherent `impl State { … }` block, not a trait impl",
        ));
    }
    if let Some(param) = block.generics.params.first() {
        errors.push(syn::Error::new(
            param.span(),
            "an aggregate cannot be generic: its streams and events are fixed",
        ));
    }
    if let Some(problem) = category_problem(&args.category) {
        errors.push(syn::Error::new(args.category.span(), problem));
    }
    let state_version = args.state_version.as_ref().map_or(1, |v| **v);
    if let Some(v) = &args.state_version
        && **v == 0
    {
        errors.push(syn::Error::new(v.span(), "state versions start at 1"));
    }

    let mut applies: Vec<Apply> = Vec::new();
    let mut handles: Vec<Handle> = Vec::new();
    for item in &mut block.items {
        let syn::ImplItem::Fn(f) = item else { continue };
        let mut apply_attr = None;
        let mut handle_attr = None;
        f.attrs.retain(|attr| {
            if attr.path().is_ident("apply") {
                apply_attr = Some(attr.clone());
                false
            } else if attr.path().is_ident("handle") {
                handle_attr = Some(attr.clone());
                false
            } else {
                true
            }
        });
        match (apply_attr, handle_attr) {
            (Some(attr), Some(_)) => errors.push(syn::Error::new(
                attr.span(),
                "a function is either #[apply] (folds an event) or #[handle] (decides a command), not both",
            )),
            (Some(attr), None) => {
                if !matches!(attr.meta, syn::Meta::Path(_)) {
                    errors.push(syn::Error::new(attr.meta.span(), "#[apply] takes no arguments"));
                }
                match apply_signature(&f.sig) {
                    Ok(event) => {
                        let key = quote!(#event).to_string();
                        if applies.iter().any(|a| {
                            let other = &a.event;
                            quote!(#other).to_string() == key
                        }) {
                            errors.push(syn::Error::new(
                                event.span(),
                                format!("`{key}` already has an #[apply] function; each event has exactly one"),
                            ));
                        } else {
                            applies.push(Apply {
                                method: f.sig.ident.clone(),
                                event,
                                cfgs: cfgs_of(&f.attrs),
                            });
                        }
                    }
                    Err(err) => errors.push(err),
                }
            }
            (None, Some(attr)) => {
                let options = match &attr.meta {
                    syn::Meta::Path(_) => Ok(HandleArgs::default()),
                    meta => HandleArgs::from_meta(meta).map_err(syn::Error::from),
                };
                match (options, handle_signature(&f.sig)) {
                    (Ok(options), Ok((command, output))) => handles.push(Handle {
                        method: f.sig.ident.clone(),
                        cfgs: cfgs_of(&f.attrs),
                        command,
                        output,
                        record_rejection: options.record_rejection,
                    }),
                    (Err(err), _) | (_, Err(err)) => errors.push(err),
                }
            }
            (None, None) => {}
        }
    }
    errors.finish()?;

    let state = &block.self_ty;
    let events = &args.events;
    let error = &args.error;
    let category = args.category.as_str();
    let rust_type = quote!(#state).to_string().replace(' ', "");
    let description = match doc_text(&block.attrs) {
        Some(text) => quote!(::core::option::Option::Some(#text)),
        None => quote!(::core::option::Option::None),
    };

    let apply_impls = applies.iter().map(|a| {
        let Apply {
            method,
            event,
            cfgs,
        } = a;
        let span = event.span();
        quote_spanned! {span=>
            #(#cfgs)*
            impl ::factum::Applies<#event> for #state {
                fn apply_event(&mut self, event: &#event) {
                    self.#method(event)
                }
            }
            #(#cfgs)*
            const _: () = {
                #[allow(dead_code)]
                fn is_member<__FactumEvent: ::factum::MemberOf<#events>>() {}
                #[allow(dead_code)]
                fn check() {
                    is_member::<#event>();
                }
            };
        }
    });
    let handle_impls = handles.iter().map(|h| {
        let Handle {
            method,
            cfgs,
            command,
            output,
            record_rejection,
        } = h;
        let rejection = record_rejection.as_ref().map(|record| {
            quote! {
                fn rejection(&self, command: &#command, error: &#error) -> ::core::option::Option<#events> {
                    self.#record(command, error)
                }
            }
        });
        let span = output.span();
        let call = quote_spanned! {span=>
            ::factum::__private::decided::<#events, #error, _>(self.#method(command))
        };
        quote! {
            #(#cfgs)*
            impl ::factum::Handles<#command> for #state {
                fn handle(&self, command: #command) -> ::core::result::Result<::factum::Decision<#events>, #error> {
                    #call
                }
                #rejection
            }
        }
    });

    Ok(quote! {
        #block

        impl ::factum::Aggregate for #state {
            const CATEGORY: &'static str = #category;
            const STATE_VERSION: u32 = #state_version;
            type Event = #events;
            type Error = #error;

            fn apply(&mut self, event: &Self::Event) {
                ::factum::Dispatch::<Self>::dispatch(event, self)
            }
        }

        #(#apply_impls)*
        #(#handle_impls)*

        ::factum::__private::inventory::submit! {
            ::factum::__private::AggregateRegistration(|| {
                ::factum::AggregateDescriptor::new(
                    #category,
                    #rust_type,
                    <#events as ::factum::EventSet>::NAMES,
                    #description,
                )
            })
        }
    })
}

/// `fn name(&mut self, event: &Event)` → `Event`.
fn apply_signature(sig: &syn::Signature) -> syn::Result<syn::Type> {
    let wrong = |span| {
        syn::Error::new(
            span,
            "an #[apply] function folds one event into the state: `fn name(&mut self, event: &EventType)`, \
             returning nothing",
        )
    };
    if sig.asyncness.is_some() {
        return Err(syn::Error::new(
            sig.asyncness.span(),
            "#[apply] functions are pure and synchronous: no async, no I/O",
        ));
    }
    let mut inputs = sig.inputs.iter();
    match inputs.next() {
        Some(syn::FnArg::Receiver(r)) if borrowed_self(r) == Some(true) => {}
        Some(syn::FnArg::Receiver(r)) if borrowed_self(r) == Some(false) => {
            return Err(syn::Error::new(
                r.span(),
                "an #[apply] function changes the state: take `&mut self`",
            ));
        }
        Some(other) => return Err(wrong(other.span())),
        None => return Err(wrong(sig.span())),
    }
    let event = match (inputs.next(), inputs.next()) {
        (Some(syn::FnArg::Typed(arg)), None) => match &*arg.ty {
            syn::Type::Reference(r) if r.mutability.is_none() => (*r.elem).clone(),
            other => return Err(wrong(other.span())),
        },
        (Some(_), Some(extra)) => return Err(wrong(extra.span())),
        (Some(other), None) => return Err(wrong(other.span())),
        (None, _) => return Err(wrong(sig.paren_token.span.join())),
    };
    if let syn::ReturnType::Type(_, ty) = &sig.output {
        return Err(wrong(ty.span()));
    }
    Ok(event)
}

/// `fn name(&self, command: Command) -> Result<Vec<Events>, Error>` → (`Command`, output).
fn handle_signature(sig: &syn::Signature) -> syn::Result<(syn::Type, syn::Type)> {
    let wrong = |span| {
        syn::Error::new(
            span,
            "a #[handle] function decides one command: \
             `fn name(&self, command: CommandType) -> Result<Vec<Events>, Error>` \
             (or `Result<Decision<Events>, Error>` to claim unique values)",
        )
    };
    if sig.asyncness.is_some() {
        return Err(syn::Error::new(
            sig.asyncness.span(),
            "#[handle] functions decide from the state alone: no async, no I/O; \
             fetch what the decision needs before sending the command",
        ));
    }
    let mut inputs = sig.inputs.iter();
    match inputs.next() {
        Some(syn::FnArg::Receiver(r)) if borrowed_self(r) == Some(false) => {}
        Some(syn::FnArg::Receiver(r)) if borrowed_self(r) == Some(true) => {
            return Err(syn::Error::new(
                r.span(),
                "a #[handle] function only decides: take `&self`; the events it returns change \
                 the state when they are applied",
            ));
        }
        Some(other) => return Err(wrong(other.span())),
        None => return Err(wrong(sig.span())),
    }
    let command = match (inputs.next(), inputs.next()) {
        (Some(syn::FnArg::Typed(arg)), None) => match &*arg.ty {
            syn::Type::Reference(r) => return Err(wrong(r.span())),
            ty => ty.clone(),
        },
        (Some(_), Some(extra)) => return Err(wrong(extra.span())),
        (Some(other), None) => return Err(wrong(other.span())),
        (None, _) => return Err(wrong(sig.paren_token.span.join())),
    };
    let output = match &sig.output {
        syn::ReturnType::Type(_, ty) => (**ty).clone(),
        syn::ReturnType::Default => return Err(wrong(sig.ident.span())),
    };
    Ok((command, output))
}
