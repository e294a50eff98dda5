//! The `#[on]` handlers of a projection or process manager: their signatures and the
//! event types they name.

use darling::error::Accumulator;
use quote::quote;
use syn::spanned::Spanned;

use crate::common::{borrowed_self, cfgs_of};

/// An `#[on]` handler.
pub(super) struct On {
    pub method: syn::Ident,
    pub event: syn::Type,
    /// The function's `#[cfg]`s, repeated on what is generated for it.
    pub cfgs: Vec<syn::Attribute>,
}

/// Finds the `#[on]` functions of `block` (removing the attributes) and checks them.
pub(super) fn collect_handlers(
    block: &mut syn::ItemImpl,
    kind: Kind,
    errors: &mut Accumulator,
) -> Vec<On> {
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
            errors.push(darling::Error::custom("#[on] takes no arguments").with_span(&attr.meta));
        }
        match on_signature(&f.sig, kind) {
            Ok(event) => {
                let key = quote!(#event).to_string();
                if handlers.iter().any(|h| {
                    let other = &h.event;
                    quote!(#other).to_string() == key
                }) {
                    errors.push(
                        darling::Error::custom(format!(
                            "`{key}` already has an #[on] handler; each event type has one"
                        ))
                        .with_span(&event.span()),
                    );
                } else {
                    handlers.push(On {
                        method: f.sig.ident.clone(),
                        event,
                        cfgs: cfgs_of(&f.attrs),
                    });
                }
            }
            Err(err) => errors.push(err.into()),
        }
    }
    if handlers.is_empty() {
        errors.push(
            darling::Error::custom(format!(
                "at least one #[on] handler is needed; {}",
                kind.shape()
            ))
            .with_span(&block.self_ty.span()),
        );
    }
    handlers
}

/// What the handlers of a macro take besides the event.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    /// `tx: &mut ProjectionTx`.
    Projection,
    /// `cx: &Reaction`.
    ProcessManager,
}

impl Kind {
    pub(super) fn attribute(self) -> &'static str {
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
