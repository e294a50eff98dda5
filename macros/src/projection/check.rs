//! Parse and check the arguments and block of `#[factum::projection]` or
//! `#[factum::process_manager]` into a [`Reactor`]; every mistake goes into one collector.
//! The arguments and each handler are checked independently.

use darling::FromMeta;
use darling::error::Accumulator;
use darling::util::{PathList, SpannedValue};
use proc_macro2::TokenStream;

use super::handlers::{Kind, On, collect_handlers};
use crate::args::{macro_args, typed};
use crate::common::{conclude, item_keyword_span};
use crate::crate_path::CratePath;
use crate::names::category_problem;

/// The keys of `#[factum::projection(...)]`.
const PROJECTION_KEYS: &[&str] = &["category", "crate", "name", "read_models", "version"];

/// The keys of `#[factum::process_manager(...)]`.
const PROCESS_MANAGER_KEYS: &[&str] = &["category", "crate", "name"];

#[derive(FromMeta)]
struct ProjectionArgs {
    #[darling(default, rename = "crate")]
    krate: CratePath,
    name: SpannedValue<String>,
    #[darling(default)]
    version: Option<SpannedValue<u32>>,
    #[darling(default)]
    read_models: PathList,
    #[darling(default, multiple)]
    category: Vec<SpannedValue<String>>,
}

#[derive(FromMeta)]
struct ProcessManagerArgs {
    #[darling(default, rename = "crate")]
    krate: CratePath,
    name: SpannedValue<String>,
    #[darling(default, multiple)]
    category: Vec<SpannedValue<String>>,
}

impl From<ProcessManagerArgs> for ProjectionArgs {
    fn from(args: ProcessManagerArgs) -> Self {
        ProjectionArgs {
            krate: args.krate,
            name: args.name,
            version: None,
            read_models: PathList::default(),
            category: args.category,
        }
    }
}

/// A checked projection or process manager.
pub(super) struct Reactor {
    pub kind: Kind,
    pub krate: CratePath,
    /// The `impl` block, without the `#[on]` attributes.
    pub block: syn::ItemImpl,
    pub name: String,
    /// The projection's version (1 for a process manager, which has none).
    pub version: u32,
    pub read_models: Vec<syn::Path>,
    pub categories: Vec<String>,
    pub handlers: Vec<On>,
}

/// Every mistake at once, or the checked projection or process manager.
pub(super) fn check(kind: Kind, args: TokenStream, item: TokenStream) -> darling::Result<Reactor> {
    let mut errors = darling::Error::accumulator();
    let reactor = checked(kind, args, item, &mut errors);
    conclude(errors, reactor)
}

fn checked(
    kind: Kind,
    args: TokenStream,
    item: TokenStream,
    errors: &mut Accumulator,
) -> Option<Reactor> {
    let args = macro_args(args, errors).and_then(|items| match kind {
        Kind::Projection => typed::<ProjectionArgs>(&items, PROJECTION_KEYS, errors),
        Kind::ProcessManager => {
            typed::<ProcessManagerArgs>(&items, PROCESS_MANAGER_KEYS, errors).map(Into::into)
        }
    });
    let mut block = parsed_block(item, kind, errors)?;
    if let Some((_, path, _)) = &block.trait_ {
        errors.push(
            darling::Error::custom(format!(
                "#[{}] goes on an inherent `impl Type {{ … }}` block, not a trait impl",
                kind.attribute()
            ))
            .with_span(path),
        );
    }
    let version = args.as_ref().map_or(1, |a| checked_args(a, errors));
    let handlers = collect_handlers(&mut block, kind, errors);
    let args = args?;
    Some(Reactor {
        kind,
        krate: args.krate,
        block,
        name: args.name.as_str().to_owned(),
        version,
        read_models: args.read_models.iter().cloned().collect(),
        categories: args
            .category
            .iter()
            .map(|c| c.as_str().to_owned())
            .collect(),
        handlers,
    })
}

/// The `impl` block the attribute sits on.
fn parsed_block(item: TokenStream, kind: Kind, errors: &mut Accumulator) -> Option<syn::ItemImpl> {
    match syn::parse2(item.clone()) {
        Ok(block) => Some(block),
        Err(_) => {
            let span = syn::parse2::<syn::Item>(item)
                .map(|i| item_keyword_span(&i))
                .unwrap_or_else(|_| proc_macro2::Span::call_site());
            errors.push(
                darling::Error::custom(format!(
                    "#[{}] goes on an `impl` block of your type, holding its #[on] handlers",
                    kind.attribute()
                ))
                .with_span(&span),
            );
            None
        }
    }
}

/// Checks the name, the categories and the version; returns the version.
fn checked_args(args: &ProjectionArgs, errors: &mut Accumulator) -> u32 {
    if let Some(problem) = projection_name_problem(&args.name) {
        errors.push(darling::Error::custom(problem).with_span(&args.name.span()));
    }
    for category in &args.category {
        if let Some(problem) = category_problem(category) {
            errors.push(darling::Error::custom(problem).with_span(&category.span()));
        }
    }
    match &args.version {
        Some(v) if **v == 0 => {
            errors.push(
                darling::Error::custom("projection versions start at 1").with_span(&v.span()),
            );
            0
        }
        Some(v) => **v,
        None => 1,
    }
}

/// Why `name` cannot name a projection or process manager, if it cannot.
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
