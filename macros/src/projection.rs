//! `#[factum::projection(...)]` on an `impl` block: finds the `#[on]` handlers, checks
//! their signatures, and implements `factum::projection::Projection`.

use darling::FromMeta;
use darling::ast::NestedMeta;
use darling::util::{PathList, SpannedValue};
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use crate::common::{Errors, borrowed_self, category_problem, cfgs_of, item_keyword_span};

#[derive(FromMeta)]
struct ProcessManagerArgs {
    name: SpannedValue<String>,
    #[darling(default, multiple)]
    category: Vec<SpannedValue<String>>,
}

#[derive(FromMeta)]
struct ProjectionArgs {
    name: SpannedValue<String>,
    #[darling(default)]
    version: Option<SpannedValue<u32>>,
    #[darling(default)]
    read_models: PathList,
    #[darling(default, multiple)]
    category: Vec<SpannedValue<String>>,
}

struct On {
    method: syn::Ident,
    event: syn::Type,
    cfgs: Vec<syn::Attribute>,
}

/// Parses the `impl` block a handler macro sits on, and checks the parts every such
/// macro shares: an inherent, non-generic block, a valid name and categories.
fn parse_block(
    item: TokenStream,
    kind: Kind,
    name: &SpannedValue<String>,
    categories: &[SpannedValue<String>],
    errors: &mut Errors,
) -> syn::Result<syn::ItemImpl> {
    let attr = kind.attribute();
    let block: syn::ItemImpl = match syn::parse2(item.clone()) {
        Ok(block) => block,
        Err(_) => {
            let span = syn::parse2::<syn::Item>(item)
                .map(|i| item_keyword_span(&i))
                .unwrap_or_else(|_| proc_macro2::Span::call_site());
            return Err(syn::Error::new(
                span,
                format!(
                    "#[{attr}] goes on an `impl` block of your type, holding its #[on] handlers"
                ),
            ));
        }
    };
    if let Some((_, path, _)) = &block.trait_ {
        errors.push(syn::Error::new(
            path.span(),
            format!("#[{attr}] goes on an inherent `impl Type {{ … }}` block, not a trait impl"),
        ));
    }
    if let Some(problem) = projection_name_problem(name) {
        errors.push(syn::Error::new(name.span(), problem));
    }
    for category in categories {
        if let Some(problem) = category_problem(category) {
            errors.push(syn::Error::new(category.span(), problem));
        }
    }
    Ok(block)
}

pub fn expand(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let metas = NestedMeta::parse_meta_list(args)?;
    let args = ProjectionArgs::from_list(&metas).map_err(syn::Error::from)?;
    let mut errors = Errors::default();
    let mut block = parse_block(
        item,
        Kind::Projection,
        &args.name,
        &args.category,
        &mut errors,
    )?;
    let version = args.version.as_ref().map_or(1, |v| **v);
    if let Some(v) = &args.version
        && **v == 0
    {
        errors.push(syn::Error::new(v.span(), "projection versions start at 1"));
    }
    let handlers = collect_handlers(&mut block, Kind::Projection, &mut errors);
    errors.finish()?;

    let ty = &block.self_ty;
    let (impl_generics, _, where_clause) = block.generics.split_for_impl();
    let name = args.name.as_str();
    let categories = args.category.iter().map(|c| c.as_str());
    let models = args.read_models.iter().map(|m| {
        quote_spanned! {m.span()=>
            <#m as ::factum::ReadModel>::descriptor()
        }
    });
    let names = event_names(&handlers);
    // Generic projections cannot be listed: their type is only known where they are used.
    let registration = block.generics.params.is_empty().then(|| {
        quote! {
            ::factum::__private::inventory::submit! {
                ::factum::__private::ProjectionRegistration(|| {
                    ::factum::__private::projection_descriptor(
                        <#ty as ::factum::projection::Projection>::NAME,
                        <#ty as ::factum::projection::Projection>::VERSION,
                        <#ty as ::factum::projection::Projection>::read_models(),
                    )
                })
            }
        }
    });
    let arms = handlers.iter().map(|h| {
        let On {
            method,
            event,
            cfgs,
        } = h;
        quote! {
            #(#cfgs)*
            if event.event_type == <#event as ::factum::Event>::NAME {
                let envelope = ::factum::projection::Envelope::<#event>::decode(event)?;
                return self.#method(tx, &envelope).await;
            }
        }
    });

    Ok(quote! {
        #block

        impl #impl_generics ::factum::projection::Projection for #ty #where_clause {
            const NAME: &'static str = #name;
            const VERSION: u32 = #version;
            const EVENT_TYPES: &'static [&'static str] = &[#(#names),*];
            const CATEGORIES: &'static [&'static str] = &[#(#categories),*];

            fn read_models() -> ::std::vec::Vec<&'static ::factum::ReadModelDescriptor> {
                ::std::vec![#(#models),*]
            }

            fn handle<'__factum>(
                &'__factum self,
                tx: &'__factum mut ::factum::projection::ProjectionTx,
                event: &'__factum ::factum::RecordedEvent,
            ) -> ::factum::__private::BoxFuture<
                '__factum,
                ::core::result::Result<(), ::factum::projection::HandlerError>,
            > {
                ::std::boxed::Box::pin(async move {
                    #(#arms)*
                    ::core::result::Result::Ok(())
                })
            }
        }

        #registration
    })
}

pub fn expand_process_manager(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let metas = NestedMeta::parse_meta_list(args)?;
    let args = ProcessManagerArgs::from_list(&metas).map_err(syn::Error::from)?;
    let mut errors = Errors::default();
    let mut block = parse_block(
        item,
        Kind::ProcessManager,
        &args.name,
        &args.category,
        &mut errors,
    )?;
    let handlers = collect_handlers(&mut block, Kind::ProcessManager, &mut errors);
    errors.finish()?;

    let ty = &block.self_ty;
    let (impl_generics, _, where_clause) = block.generics.split_for_impl();
    let name = args.name.as_str();
    let categories = args.category.iter().map(|c| c.as_str());
    let names = event_names(&handlers);
    let arms = handlers.iter().map(|h| {
        let On {
            method,
            event,
            cfgs,
        } = h;
        quote! {
            #(#cfgs)*
            if event.event_type == <#event as ::factum::Event>::NAME {
                let envelope = ::factum::projection::Envelope::<#event>::decode(event)?;
                return self.#method(cx, &envelope).await;
            }
        }
    });
    Ok(quote! {
        #block

        impl #impl_generics ::factum::saga::ProcessManager for #ty #where_clause {
            const NAME: &'static str = #name;
            const EVENT_TYPES: &'static [&'static str] = &[#(#names),*];
            const CATEGORIES: &'static [&'static str] = &[#(#categories),*];

            fn react<'__factum>(
                &'__factum self,
                cx: &'__factum ::factum::saga::Reaction,
                event: &'__factum ::factum::RecordedEvent,
            ) -> ::factum::__private::BoxFuture<
                '__factum,
                ::core::result::Result<(), ::factum::projection::HandlerError>,
            > {
                ::std::boxed::Box::pin(async move {
                    #(#arms)*
                    ::core::result::Result::Ok(())
                })
            }
        }
    })
}

/// `<E as Event>::NAME` for each handler, spanned on its event type.
fn event_names(handlers: &[On]) -> Vec<TokenStream> {
    handlers
        .iter()
        .map(|h| {
            let (event, cfgs) = (&h.event, &h.cfgs);
            quote_spanned! {event.span()=> #(#cfgs)* <#event as ::factum::Event>::NAME }
        })
        .collect()
}

/// Finds the `#[on]` functions of `block` (removing the attributes) and checks them.
fn collect_handlers(block: &mut syn::ItemImpl, kind: Kind, errors: &mut Errors) -> Vec<On> {
    let mut handlers: Vec<On> = Vec::new();
    for item in &mut block.items {
        let syn::ImplItem::Fn(f) = item else { continue };
        let mut on = None;
        f.attrs.retain(|attr| {
            if attr.path().is_ident("on") {
                on = Some(attr.clone());
                false
            } else {
                true
            }
        });
        let Some(attr) = on else { continue };
        if !matches!(attr.meta, syn::Meta::Path(_)) {
            errors.push(syn::Error::new(
                attr.meta.span(),
                "#[on] takes no arguments",
            ));
        }
        match on_signature(&f.sig, kind) {
            Ok(event) => {
                let key = quote!(#event).to_string();
                if handlers.iter().any(|h| {
                    let other = &h.event;
                    quote!(#other).to_string() == key
                }) {
                    errors.push(syn::Error::new(
                        event.span(),
                        format!("`{key}` already has an #[on] handler; each event type has one"),
                    ));
                } else {
                    handlers.push(On {
                        method: f.sig.ident.clone(),
                        event,
                        cfgs: cfgs_of(&f.attrs),
                    });
                }
            }
            Err(err) => errors.push(err),
        }
    }
    if handlers.is_empty() {
        errors.push(syn::Error::new(
            block.self_ty.span(),
            format!("at least one #[on] handler is needed; {}", kind.shape()),
        ));
    }
    handlers
}

/// What the handlers of a macro take besides the event.
#[derive(Clone, Copy)]
pub enum Kind {
    /// `tx: &mut ProjectionTx`.
    Projection,
    /// `cx: &Reaction`.
    ProcessManager,
}

impl Kind {
    fn attribute(self) -> &'static str {
        match self {
            Kind::Projection => "factum::projection",
            Kind::ProcessManager => "factum::process_manager",
        }
    }

    fn shape(self) -> &'static str {
        match self {
            Kind::Projection => {
                "an #[on] handler applies one event type: \
                 `async fn name(&self, tx: &mut ProjectionTx, event: &Envelope<'_, EventType>) \
                 -> Result<(), HandlerError>`"
            }
            Kind::ProcessManager => {
                "an #[on] reaction handles one event type: \
                 `async fn name(&self, cx: &Reaction, event: &Envelope<'_, EventType>) \
                 -> Result<(), HandlerError>`"
            }
        }
    }
}

/// `async fn name(&self, ctx, event: &Envelope<'_, E>) -> …` → `E`.
fn on_signature(sig: &syn::Signature, kind: Kind) -> syn::Result<syn::Type> {
    let wrong = |span| syn::Error::new(span, kind.shape());
    if sig.asyncness.is_none() {
        return Err(syn::Error::new(
            sig.fn_token.span,
            "an #[on] handler is an `async fn`: it writes to the database",
        ));
    }
    let mut inputs = sig.inputs.iter();
    match inputs.next() {
        Some(syn::FnArg::Receiver(r)) if borrowed_self(r) == Some(false) => {}
        Some(other) => return Err(wrong(other.span())),
        None => return Err(wrong(sig.paren_token.span.join())),
    }
    let wants_mut = matches!(kind, Kind::Projection);
    match inputs.next() {
        Some(syn::FnArg::Typed(arg)) if matches!(&*arg.ty, syn::Type::Reference(r) if r.mutability.is_some() == wants_mut) =>
            {}
        Some(other) => return Err(wrong(other.span())),
        None => return Err(wrong(sig.paren_token.span.join())),
    }
    let event = match (inputs.next(), inputs.next()) {
        (Some(syn::FnArg::Typed(arg)), None) => {
            envelope_event(&arg.ty).ok_or_else(|| wrong(arg.ty.span()))?
        }
        (Some(_), Some(extra)) => return Err(wrong(extra.span())),
        (Some(other), None) => return Err(wrong(other.span())),
        (None, _) => return Err(wrong(sig.paren_token.span.join())),
    };
    if let syn::ReturnType::Default = sig.output {
        return Err(wrong(sig.paren_token.span.join()));
    }
    Ok(event)
}

/// `&Envelope<'_, E>` (any path ending in `Envelope`) → `E`.
fn envelope_event(ty: &syn::Type) -> Option<syn::Type> {
    let syn::Type::Reference(r) = ty else {
        return None;
    };
    if r.mutability.is_some() {
        return None;
    }
    let syn::Type::Path(path) = &*r.elem else {
        return None;
    };
    let last = path.path.segments.last()?;
    if last.ident != "Envelope" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    let mut types = args.args.iter().filter_map(|a| match a {
        syn::GenericArgument::Type(t) => Some(t.clone()),
        _ => None,
    });
    match (types.next(), types.next()) {
        (Some(t), None) => Some(t),
        _ => None,
    }
}

fn projection_name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() || name.len() > 100 {
        Some("a projection name is 1 to 100 characters")
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    {
        Some("a projection name may contain only ASCII letters, digits and _ . -")
    } else {
        None
    }
}
