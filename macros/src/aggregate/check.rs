//! Parse and check `#[factum::aggregate]`'s arguments and block into an [`Aggregate`];
//! every mistake goes into one collector. The arguments and each function are checked
//! independently, so a mistake in one hides nothing about the others.

use darling::FromMeta;
use darling::error::Accumulator;
use darling::util::SpannedValue;
use proc_macro2::TokenStream;
use syn::spanned::Spanned;

use super::signature::{apply_signature, handle_signature};
use crate::args::{helper_args, macro_args, typed};
use crate::common::{cfgs_of, conclude, item_keyword_span};
use crate::crate_path::CratePath;
use crate::names::category_problem;

/// The keys of `#[factum::aggregate(...)]`.
const KEYS: &[&str] = &["category", "crate", "error", "events", "state_version"];

/// The keys of `#[handle(...)]`.
const HANDLE_KEYS: &[&str] = &["record_rejection"];

#[derive(FromMeta)]
struct AggregateArgs {
    #[darling(default, rename = "crate")]
    krate: CratePath,
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

/// A checked aggregate.
pub(super) struct Aggregate {
    pub krate: CratePath,
    /// The `impl` block, without the `#[apply]` and `#[handle]` attributes.
    pub block: syn::ItemImpl,
    pub category: String,
    pub events: syn::Path,
    pub error: syn::Path,
    pub state_version: u32,
    pub applies: Vec<Apply>,
    pub handles: Vec<Handle>,
}

/// An `#[apply]` function.
pub(super) struct Apply {
    pub method: syn::Ident,
    pub event: syn::Type,
    /// The function's `#[cfg]`s, repeated on what is generated for it.
    pub cfgs: Vec<syn::Attribute>,
}

/// A `#[handle]` function.
pub(super) struct Handle {
    pub method: syn::Ident,
    pub cfgs: Vec<syn::Attribute>,
    pub command: syn::Type,
    pub output: syn::Type,
    pub record_rejection: Option<syn::Ident>,
}

/// Every mistake at once, or the checked aggregate.
pub(super) fn check(args: TokenStream, item: TokenStream) -> darling::Result<Aggregate> {
    let mut errors = darling::Error::accumulator();
    let aggregate = checked(args, item, &mut errors);
    conclude(errors, aggregate)
}

fn checked(args: TokenStream, item: TokenStream, errors: &mut Accumulator) -> Option<Aggregate> {
    let args =
        macro_args(args, errors).and_then(|items| typed::<AggregateArgs>(&items, KEYS, errors));
    let mut block = parsed_block(item, errors)?;
    if let Some((_, path, _)) = &block.trait_ {
        errors.push(
            darling::Error::custom(
                "#[factum::aggregate] goes on an inherent `impl State { … }` block, not a trait impl",
            )
            .with_span(path),
        );
    }
    if let Some(param) = block.generics.params.first() {
        errors.push(
            darling::Error::custom(
                "an aggregate cannot be generic: its streams and events are fixed",
            )
            .with_span(param),
        );
    }
    if let Some(a) = &args
        && let Some(problem) = category_problem(&a.category)
    {
        errors.push(darling::Error::custom(problem).with_span(&a.category.span()));
    }
    let state_version = match args.as_ref().and_then(|a| a.state_version.as_ref()) {
        Some(v) if **v == 0 => {
            errors.push(darling::Error::custom("state versions start at 1").with_span(&v.span()));
            0
        }
        Some(v) => **v,
        None => 1,
    };
    let (applies, handles) = checked_functions(&mut block, errors);
    let args = args?;
    Some(Aggregate {
        krate: args.krate,
        block,
        category: args.category.as_str().to_owned(),
        events: args.events,
        error: args.error,
        state_version,
        applies,
        handles,
    })
}

/// The `impl` block the attribute sits on.
fn parsed_block(item: TokenStream, errors: &mut Accumulator) -> Option<syn::ItemImpl> {
    match syn::parse2(item.clone()) {
        Ok(block) => Some(block),
        Err(_) => {
            let span = syn::parse2::<syn::Item>(item)
                .map(|i| item_keyword_span(&i))
                .unwrap_or_else(|_| proc_macro2::Span::call_site());
            errors.push(
                darling::Error::custom(
                    "#[factum::aggregate] goes on an `impl` block of the aggregate's state type, \
                     holding its #[apply] and #[handle] functions",
                )
                .with_span(&span),
            );
            None
        }
    }
}

/// Finds the `#[apply]` and `#[handle]` functions of `block` (removing the attributes)
/// and checks each.
fn checked_functions(
    block: &mut syn::ItemImpl,
    errors: &mut Accumulator,
) -> (Vec<Apply>, Vec<Handle>) {
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
            (Some(attr), Some(_)) => errors.push(
                darling::Error::custom(
                    "a function is either #[apply] (folds an event) or #[handle] (decides a command), not both",
                )
                .with_span(&attr),
            ),
            (Some(attr), None) => {
                if !matches!(attr.meta, syn::Meta::Path(_)) {
                    errors.push(
                        darling::Error::custom("#[apply] takes no arguments").with_span(&attr.meta),
                    );
                }
                let Some(event) = errors.handle(apply_signature(&f.sig).map_err(Into::into))
                else {
                    continue;
                };
                let key = quote::quote!(#event).to_string();
                if applies.iter().any(|a| {
                    let other = &a.event;
                    quote::quote!(#other).to_string() == key
                }) {
                    errors.push(
                        darling::Error::custom(format!(
                            "`{key}` already has an #[apply] function; each event has exactly one"
                        ))
                        .with_span(&event.span()),
                    );
                } else {
                    applies.push(Apply {
                        method: f.sig.ident.clone(),
                        event,
                        cfgs: cfgs_of(&f.attrs),
                    });
                }
            }
            (None, Some(attr)) => {
                let options = match &attr.meta {
                    syn::Meta::Path(_) => Some(HandleArgs::default()),
                    _ => helper_args(std::slice::from_ref(&attr), "handle", errors)
                        .and_then(|items| typed::<HandleArgs>(&items, HANDLE_KEYS, errors)),
                };
                let signature = errors.handle(handle_signature(&f.sig).map_err(Into::into));
                if let (Some(options), Some((command, output))) = (options, signature) {
                    handles.push(Handle {
                        method: f.sig.ident.clone(),
                        cfgs: cfgs_of(&f.attrs),
                        command,
                        output,
                        record_rejection: options.record_rejection,
                    });
                }
            }
            (None, None) => {}
        }
    }
    (applies, handles)
}

#[cfg(test)]
mod tests {
    use crate::common::messages;
    use quote::quote;

    use super::check;

    #[test]
    fn arguments_and_functions_are_checked_independently() {
        let found: Vec<String> = messages(check(
            quote!(category = "has-dash", events = AccountEvent, eror = Refused),
            quote! {
                impl Account {
                    #[apply]
                    fn opened(&self, e: &Opened) {}
                    #[handle(record = refused)]
                    fn open(&self, cmd: Open) -> Result<Vec<AccountEvent>, Refused> { todo!() }
                }
            },
        ));
        // The misspelt `error` is unknown, so `error` is missing: the attribute does not
        // parse, yet both functions are still checked.
        assert!(
            found.iter().any(|m| m.contains("Unknown field: `eror`")),
            "{found:#?}"
        );
        assert!(
            found.iter().any(|m| m.contains("Missing field `error`")),
            "{found:#?}"
        );
        assert!(
            found.iter().any(|m| m.contains("take `&mut self`")),
            "{found:#?}"
        );
        assert!(
            found.iter().any(|m| m.contains("Unknown field: `record`")),
            "{found:#?}"
        );
        assert_eq!(found.len(), 4, "{found:#?}");
    }

    #[test]
    fn a_misplaced_attribute_is_reported_with_its_arguments() {
        let found: Vec<String> = messages(check(
            quote!(crate = "a b"),
            quote!(
                struct Account;
            ),
        ));
        // The bad path and the three missing keys, and the misplaced attribute.
        assert_eq!(found.len(), 5, "{found:#?}");
        assert!(found.iter().any(|m| m.contains("is not a path")));
        assert!(found.iter().any(|m| m.contains("goes on an `impl` block")));
    }
}
