//! The signatures of `#[apply]` and `#[handle]` functions, and what they name.

use syn::spanned::Spanned;

use crate::common::borrowed_self;

/// `fn name(&mut self, event: &Event)` → `Event`.
pub(super) fn apply_signature(sig: &syn::Signature) -> syn::Result<syn::Type> {
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
pub(super) fn handle_signature(sig: &syn::Signature) -> syn::Result<(syn::Type, syn::Type)> {
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
