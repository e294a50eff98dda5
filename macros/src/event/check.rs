//! Parse and check `#[derive(Event)]`'s input into an [`Event`]; every mistake goes into
//! one collector.

use std::collections::BTreeMap;

use darling::FromMeta;
use darling::error::Accumulator;
use darling::util::SpannedValue;

use super::serde_names::{serde_aliases, serialized_names};
use super::serde_shape::check_serde_shape;
use crate::args::{helper_args, typed};
use crate::common::{conclude, doc_text};
use crate::crate_path::CratePath;
use crate::names::{EventTypeProblem, event_type_problem};

/// The keys of `#[event(...)]`.
const KEYS: &[&str] = &[
    "crate",
    "deprecated",
    "dropped",
    "name",
    "upcast",
    "version",
];

#[derive(FromMeta)]
struct EventArgs {
    #[darling(default, rename = "crate")]
    krate: CratePath,
    #[darling(default)]
    name: Option<SpannedValue<String>>,
    #[darling(default)]
    version: Option<SpannedValue<u32>>,
    #[darling(multiple)]
    upcast: Vec<UpcastArgs>,
    #[darling(default)]
    deprecated: Option<DeprecatedArgs>,
    #[darling(multiple)]
    dropped: Vec<SpannedValue<String>>,
}

/// `deprecated`, `deprecated = "note"`, or
/// `deprecated(note = "…", since = "…", sunset = "YYYY-MM-DD", replaced_by = "name")`.
#[derive(Default)]
struct DeprecatedArgs {
    note: Option<String>,
    since: Option<SpannedValue<String>>,
    sunset: Option<SpannedValue<String>>,
    replaced_by: Option<SpannedValue<String>>,
}

#[derive(FromMeta)]
struct DeprecatedList {
    #[darling(default)]
    note: Option<String>,
    #[darling(default)]
    since: Option<SpannedValue<String>>,
    #[darling(default)]
    sunset: Option<SpannedValue<String>>,
    #[darling(default)]
    replaced_by: Option<SpannedValue<String>>,
}

impl FromMeta for DeprecatedArgs {
    fn from_word() -> darling::Result<Self> {
        Ok(Self::default())
    }

    fn from_string(note: &str) -> darling::Result<Self> {
        Ok(Self {
            note: Some(note.to_owned()),
            ..Self::default()
        })
    }

    fn from_list(items: &[darling::ast::NestedMeta]) -> darling::Result<Self> {
        let list = DeprecatedList::from_list(items)?;
        Ok(Self {
            note: list.note,
            since: list.since,
            sunset: list.sunset,
            replaced_by: list.replaced_by,
        })
    }
}

/// A checked deprecation.
#[derive(Default)]
pub(super) struct Deprecation {
    /// Why, or `""`.
    pub note: String,
    pub since: Option<String>,
    /// `YYYY-MM-DD`.
    pub sunset: Option<String>,
    pub replaced_by: Option<String>,
}

#[derive(FromMeta)]
struct UpcastArgs {
    from: SpannedValue<u32>,
    #[darling(default)]
    with: Option<syn::Path>,
    #[darling(default)]
    try_with: Option<syn::Path>,
}

/// A checked event type: everything the impl is generated from.
pub(super) struct Event {
    pub krate: CratePath,
    pub ident: syn::Ident,
    /// The stored name.
    pub name: String,
    pub version: u32,
    /// One per older version, in order.
    pub upcasters: Vec<Upcaster>,
    /// `None`: not deprecated.
    pub deprecated: Option<Deprecation>,
    pub description: Option<String>,
    /// `(serialized field name, serde aliases)`.
    pub aliases: Vec<(String, Vec<String>)>,
    /// Paths of fields whose stored values the author accepts to lose.
    pub dropped: Vec<String>,
}

/// A checked upcaster.
pub(super) struct Upcaster {
    pub from: u32,
    pub call: syn::Path,
    /// `try_with`: the function returns a `Result`.
    pub fallible: bool,
}

/// Every mistake of `input` at once, or the checked event.
pub(super) fn check(input: &syn::DeriveInput) -> darling::Result<Event> {
    let mut errors = darling::Error::accumulator();
    let event = checked(input, &mut errors);
    conclude(errors, event)
}

fn checked(input: &syn::DeriveInput, errors: &mut Accumulator) -> Option<Event> {
    check_shape(input, errors);
    let args = helper_args(&input.attrs, "event", errors)
        .and_then(|items| typed::<EventArgs>(&items, KEYS, errors))?;

    let name = checked_name(&input.ident, args.name.as_ref(), errors);
    let version = args.version.as_ref().map_or(1, |v| **v);
    let version_span = args
        .version
        .as_ref()
        .map_or(input.ident.span(), |v| v.span());
    if version == 0 {
        errors.push(darling::Error::custom("event versions start at 1").with_span(&version_span));
    }
    let upcasters = checked_upcasters(&args, version, version_span, errors);
    let dropped = checked_dropped(input, &args.dropped, errors);
    let deprecated = args
        .deprecated
        .map(|d| checked_deprecation(d, &name, errors));
    Some(Event {
        krate: args.krate,
        ident: input.ident.clone(),
        name,
        version,
        upcasters,
        deprecated,
        description: doc_text(&input.attrs),
        aliases: serde_aliases(input),
        dropped,
    })
}

/// `dropped = "…"`: each a field path (`amount`, `line.note`, `lines[].note`) that is no
/// field of the type now (a top-level one is checked here), named once.
fn checked_dropped(
    input: &syn::DeriveInput,
    dropped: &[SpannedValue<String>],
    errors: &mut Accumulator,
) -> Vec<String> {
    let fields = serialized_names(input);
    let mut seen = std::collections::BTreeSet::new();
    for path in dropped {
        let problem = if path.is_empty() {
            Some("name the dropped field's path, such as `amount` or `lines[].note`".to_owned())
        } else if fields.iter().any(|f| f == path.as_str()) {
            Some(format!(
                "`{}` is still a field of `{}`: `dropped` names a field the type no longer \
                 has, whose stored values are lost",
                path.as_str(),
                input.ident
            ))
        } else if !seen.insert(path.as_str()) {
            Some(format!("`{}` is named twice", path.as_str()))
        } else {
            None
        };
        if let Some(problem) = problem {
            errors.push(darling::Error::custom(problem).with_span(&path.span()));
        }
    }
    dropped.iter().map(|p| p.as_str().to_owned()).collect()
}

/// A deprecation's schedule: `since` said, `sunset` a real date, `replaced_by` a valid
/// event name other than this one.
fn checked_deprecation(args: DeprecatedArgs, name: &str, errors: &mut Accumulator) -> Deprecation {
    if let Some(since) = args.since.as_ref().filter(|s| s.trim().is_empty()) {
        errors.push(
            darling::Error::custom(
                "say since when the event is deprecated (a release such as \"2.4\" or a date), \
                 or leave `since` out",
            )
            .with_span(&since.span()),
        );
    }
    if let Some(sunset) = &args.sunset
        && !is_date(sunset)
    {
        errors.push(
            darling::Error::custom(format!(
                "`{}` is not a date: write the sunset as YYYY-MM-DD, such as \"2027-06-30\"",
                sunset.as_str()
            ))
            .with_span(&sunset.span()),
        );
    }
    if let Some(by) = &args.replaced_by {
        let problem = if by.as_str() == name {
            Some(format!(
                "`{name}` cannot replace itself: name the event type that replaces it"
            ))
        } else {
            name_problem(by).map(|p| format!("`replaced_by`: {p}"))
        };
        if let Some(problem) = problem {
            errors.push(darling::Error::custom(problem).with_span(&by.span()));
        }
    }
    let text = |v: Option<SpannedValue<String>>| v.map(|v| v.as_str().to_owned());
    Deprecation {
        note: args.note.unwrap_or_default(),
        since: text(args.since),
        sunset: text(args.sunset),
        replaced_by: text(args.replaced_by),
    }
}

/// Whether `text` is a calendar date written `YYYY-MM-DD`.
fn is_date(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    let [year, month, day] = parts.as_slice() else {
        return false;
    };
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if !(digits(year, 4) && digits(month, 2) && digits(day, 2)) {
        return false;
    }
    let (year, month, day): (u32, u32, u32) = match (year.parse(), month.parse(), day.parse()) {
        (Ok(y), Ok(m), Ok(d)) => (y, m, d),
        _ => return false,
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

/// A struct or an enum serde can store, not generic.
fn check_shape(input: &syn::DeriveInput, errors: &mut Accumulator) {
    match &input.data {
        syn::Data::Struct(_) | syn::Data::Enum(_) => check_serde_shape(input, errors),
        syn::Data::Union(u) => errors.push(
            darling::Error::custom(
                "#[derive(Event)] goes on a struct or an enum, not a union: serde cannot \
                 read or write a union",
            )
            .with_span(&u.union_token),
        ),
    }
    if let Some(param) = input.generics.params.first() {
        errors.push(
            darling::Error::custom(
                "an event type cannot be generic: its stored name and schema must be fixed",
            )
            .with_span(param),
        );
    }
}

/// The stored name: `name = "..."`, or the type's name; either must be a valid event type.
fn checked_name(
    ident: &syn::Ident,
    name: Option<&SpannedValue<String>>,
    errors: &mut Accumulator,
) -> String {
    match name {
        Some(name) => {
            if let Some(problem) = name_problem(name) {
                errors.push(darling::Error::custom(problem).with_span(&name.span()));
            }
            name.as_str().to_owned()
        }
        None => {
            let name = ident.to_string();
            let name = name.strip_prefix("r#").unwrap_or(&name).to_owned();
            if let Some(problem) = name_problem(&name) {
                errors.push(
                    darling::Error::custom(format!(
                        "{problem}; this type's name is used as its event name, so give it one: \
                         #[event(name = \"...\")]"
                    ))
                    .with_span(ident),
                );
            }
            name
        }
    }
}

/// The rules of `factum::EventData::new` for type names, worded for the attribute.
fn name_problem(name: &str) -> Option<&'static str> {
    Some(match event_type_problem(name)? {
        EventTypeProblem::Empty => "an event name may not be empty",
        EventTypeProblem::TooLong => "an event name may be at most 255 bytes long",
        EventTypeProblem::Characters => {
            "an event name may contain only ASCII letters, digits and _ . : -"
        }
    })
}

/// One upcaster per older version, each with exactly one function.
fn checked_upcasters(
    args: &EventArgs,
    version: u32,
    version_span: proc_macro2::Span,
    errors: &mut Accumulator,
) -> Vec<Upcaster> {
    let mut upcasters: BTreeMap<u32, Upcaster> = BTreeMap::new();
    for up in &args.upcast {
        let from = *up.from;
        let (call, fallible) = match (&up.with, &up.try_with) {
            (Some(path), None) => (path.clone(), false),
            (None, Some(path)) => (path.clone(), true),
            (Some(_), Some(path)) => {
                errors.push(
                    darling::Error::custom(
                        "give an upcaster either `with` (infallible) or `try_with` (returns a Result), not both",
                    )
                    .with_span(path),
                );
                continue;
            }
            (None, None) => {
                errors.push(
                    darling::Error::custom(
                        "this upcaster needs a function: `with = path::to::fn` or `try_with = path::to::fn`",
                    )
                    .with_span(&up.from.span()),
                );
                continue;
            }
        };
        if version == 1 && args.version.is_none() {
            errors.push(
                darling::Error::custom(
                    "this event has no `version`, so it is at version 1 and has nothing to upcast; \
                     set `version = 2` (or the version this upcaster leads to) alongside it",
                )
                .with_span(&up.from.span()),
            );
            continue;
        }
        if from == 0 || from >= version {
            errors.push(
                darling::Error::custom(format!(
                    "an upcaster lifts an older version to the next one, so `from` must be between 1 and {} \
                     (the current version is {version}); to add a version, raise `version`",
                    version.saturating_sub(1)
                ))
                .with_span(&up.from.span()),
            );
            continue;
        }
        if upcasters.contains_key(&from) {
            errors.push(
                darling::Error::custom(format!(
                    "there is already an upcaster from version {from}; each version has exactly one"
                ))
                .with_span(&up.from.span()),
            );
            continue;
        }
        upcasters.insert(
            from,
            Upcaster {
                from,
                call,
                fallible,
            },
        );
    }
    // Versions with an upcaster declared, valid or not, so that one mistake is reported
    // once and not again as a gap in the chain.
    let declared: Vec<u32> = args.upcast.iter().map(|u| *u.from).collect();
    let missing: Vec<String> = (1..version)
        .filter(|v| !declared.contains(v))
        .map(|v| format!("upcast(from = {v}, with = …)"))
        .collect();
    if !missing.is_empty() && version > 0 {
        errors.push(
            darling::Error::custom(format!(
                "version {version} needs an upcaster from every older version, so that any stored event \
                 can be read; missing: {}",
                missing.join(", ")
            ))
            .with_span(&version_span),
        );
    }
    upcasters.into_values().collect()
}

#[cfg(test)]
mod tests {
    use quote::ToTokens;

    use super::check;

    fn messages_of(input: syn::DeriveInput) -> Vec<String> {
        crate::common::messages(check(&input))
    }

    #[test]
    fn independent_mistakes_are_reported_together() {
        let found = messages_of(syn::parse_quote! {
            #[event(colour = "red", version = 0)]
            struct Opened<T> { owner: T }
        });
        assert_eq!(found.len(), 3, "{found:#?}");
        assert!(found.iter().any(|m| m.contains("cannot be generic")));
        assert!(found.iter().any(|m| m.contains("Unknown field: `colour`")));
        assert!(found.iter().any(|m| m.contains("versions start at 1")));
    }

    #[test]
    fn a_mistyped_key_still_lets_the_shape_be_checked() {
        let found = messages_of(syn::parse_quote! {
            #[event(version = "two")]
            enum Opened {}
        });
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(found.iter().any(|m| m.contains("without variants")));
    }

    #[test]
    fn the_crate_path_defaults_to_factum() {
        let event = check(&syn::parse_quote! { struct Opened {} }).unwrap();
        assert_eq!(event.krate.to_token_stream().to_string(), ":: factum");
        let event = check(&syn::parse_quote! {
            #[event(crate = "acme::factum")]
            struct Opened {}
        })
        .unwrap();
        assert_eq!(event.krate.to_token_stream().to_string(), "acme :: factum");
    }
}
