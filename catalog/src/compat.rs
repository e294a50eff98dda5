//! The breaking-change gate: can the new code still read every event the old code ever
//! stored? (BACKWARD_TRANSITIVE: all versions, not only the last.)
//!
//! Judged the way serde reads JSON, since that is what the code will do with the stored
//! events:
//!
//! - a payload may change only under a new schema version with an upcaster chain from
//!   every older version; under the same version the new payload schema must accept
//!   whatever the old one allowed;
//! - **breaking**: a required field added without a default, a field that was optional
//!   becoming required, a changed type (widening `integer` to `number` is fine while the
//!   integers fit the float exactly), a narrower integer, a 64-bit float read as 32 bits,
//!   a narrower string or array length (`String` to `char`, a list to a fixed array), a
//!   list read as a set (duplicates merge), a map read as a struct (other keys drop), a
//!   removed enum variant (or one read as the `#[serde(other)]` catch-all), untagged
//!   alternatives reordered so that stored values are read as another one, a value read
//!   through a `try_from` or `deserialize_with` the old code did not use, a field no
//!   longer read (its stored values would be dropped without an error: a rename wants
//!   `#[serde(alias)]`, a deliberate loss `#[event(dropped = "…")]`), removing a field
//!   from a type that denies unknown fields, a version going back, an event type
//!   removed without being deprecated first or before its sunset date;
//! - **compatible**: an optional (or defaulted) field added, a field removed with its
//!   loss acknowledged, an enum variant added, a tuple read as a fixed-size array of
//!   the same length, a new event type, a new version with its upcaster, description
//!   changes.
//!
//! Aliases, `other`, `try_from` and `deserialize_with` are not in what schemars writes;
//! `#[derive(Event)]` records the event type's own field aliases, and
//! `#[factum::payload]` records all four on the types inside a payload ([`ALIASES`],
//! [`OTHER`], [`TRY_FROM`], [`DESERIALIZE_WITH`]). The corpus in
//! `catalog/tests/compatibility_corpus.rs` checks every rule against serde itself.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::LazyLock;

use serde_json::{Map, Value};

use crate::model::{Catalog, EventEntry};
use crate::schema::resolve;

/// The keyword on a property schema that lists the other names serde accepts for it
/// (`#[serde(alias = "…")]`); the code generator writes it.
pub const ALIASES: &str = "x-aliases";

/// The keyword on a variant's schema that marks it `#[serde(other)]`: the catch-all that
/// reads any tag the enum does not know (`#[factum::payload]` writes it).
pub const OTHER: &str = "x-other";

/// The keyword on a type's schema naming the type serde reads it from and converts with
/// `TryFrom` (`#[serde(try_from = "…")]`), which may refuse values the schema allows.
pub const TRY_FROM: &str = "x-try-from";

/// The keyword on a field's schema naming the function serde reads it with
/// (`#[serde(deserialize_with = "…")]` or `with`), which the schema cannot describe.
pub const DESERIALIZE_WITH: &str = "x-deserialize-with";

/// The keyword on an event's payload schema that lists the fields whose stored values
/// the author accepts to lose (`#[event(dropped = "…")]`, as paths such as `amount` or
/// `lines[].note`); the code generator writes it.
pub const DROPPED: &str = "x-dropped";

/// One change that stops the new code from reading events the old code stored.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct BreakingChange {
    /// The event type.
    pub event: String,
    /// Where: `v2` for a version, or a field path within a version, such as
    /// `v2.lines[].price`.
    pub path: String,
    /// Why it breaks, and what would make it compatible.
    pub reason: String,
}

impl fmt::Display for BreakingChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}: {}", self.event, self.reason)
        } else {
            write!(f, "{} {}: {}", self.event, self.path, self.reason)
        }
    }
}

/// Every breaking change from `old` to `new`, sorted by event and path. Empty means
/// `new` reads everything `old` could have stored.
///
/// A deprecated event with a sunset date may be removed only from that date on (today
/// in UTC; [`check_on`] takes the date).
pub fn check(old: &Catalog, new: &Catalog) -> Vec<BreakingChange> {
    check_on(old, new, &today())
}

/// [`check`] as of `today` (`YYYY-MM-DD`), for the sunset dates of deprecated events.
pub fn check_on(old: &Catalog, new: &Catalog, today: &str) -> Vec<BreakingChange> {
    let mut out = Vec::new();
    for (name, before) in &old.events {
        match new.events.get(name) {
            None if before.deprecated.is_some() => {
                if let Some(sunset) = before.sunset.as_deref().filter(|s| !is_date(s)) {
                    out.push(BreakingChange {
                        event: name.clone(),
                        path: String::new(),
                        reason: format!(
                            "the event type was removed, and its sunset `{sunset}` is not a \
                             YYYY-MM-DD date, so the gate cannot tell whether it has passed"
                        ),
                    });
                } else if let Some(sunset) = before.sunset.as_deref().filter(|s| *s > today) {
                    out.push(BreakingChange {
                        event: name.clone(),
                        path: String::new(),
                        reason: format!(
                            "the event type was removed before its sunset date {sunset}: \
                             producers and consumers were promised it until then{} (remove \
                             it on or after {sunset})",
                            before
                                .replaced_by
                                .as_deref()
                                .map_or_else(String::new, |r| format!(" to move to {r}"))
                        ),
                    });
                }
            }
            None => out.push(BreakingChange {
                event: name.clone(),
                path: String::new(),
                reason: "the event type was removed without being deprecated first: stored \
                         events of this type can no longer be read (deprecate it in one \
                         release, remove it in a later one)"
                    .into(),
            }),
            Some(after) => {
                // A sunset may move later, not earlier: that would let a later release
                // remove the event before the date once promised.
                if let (Some(was), Some(now)) = (before.sunset.as_deref(), after.sunset.as_deref())
                    && now < was
                {
                    out.push(BreakingChange {
                        event: name.clone(),
                        path: String::new(),
                        reason: format!(
                            "the sunset moved earlier, from {was} to {now}: producers and \
                             consumers were promised the event until {was}"
                        ),
                    });
                }
                check_event(before, after, &mut out)
            }
        }
    }
    out.sort();
    out
}

/// Whether `text` is written `YYYY-MM-DD` (digits where digits go), so that dates
/// compare as text.
pub(crate) fn is_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        })
}

/// Today's date in UTC, `YYYY-MM-DD`.
fn today() -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (year, month, day) = civil_from_days((seconds / 86_400) as i64);
    format!("{year:04}-{month:02}-{day:02}")
}

/// The proleptic Gregorian date of a day counted from 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn check_event(before: &EventEntry, after: &EventEntry, out: &mut Vec<BreakingChange>) {
    let mut push = |path: String, reason: String| {
        out.push(BreakingChange {
            event: before.name.clone(),
            path,
            reason,
        })
    };
    if after.version < before.version {
        push(
            format!("v{}", after.version),
            format!(
                "the current version went back from {} to {}: events stored at version {} \
                 cannot be read",
                before.version, after.version, before.version
            ),
        );
        return;
    }
    for stored in 1..=before.version {
        if stored < after.version && !after.lifts_from(stored) {
            let missing: Vec<String> = (stored..after.version)
                .filter(|v| !after.upcasters.contains(v))
                .map(|v| format!("{v} -> {}", v + 1))
                .collect();
            push(
                format!("v{stored}"),
                format!(
                    "events stored at version {stored} cannot reach version {}: no upcaster \
                     for {} (add `upcast(from = …)` to the event)",
                    after.version,
                    missing.join(", ")
                ),
            );
            continue;
        }
        // The same version on both sides: the new schema must read what the old allowed.
        if let (Some(old), Some(new)) = (before.schemas.get(&stored), after.schemas.get(&stored))
            && (stored == after.version || old != new)
        {
            for problem in check_schema(old, new) {
                let path = if problem.path.is_empty() {
                    format!("v{stored}")
                } else {
                    format!("v{stored}.{}", problem.path)
                };
                let reason = if stored == after.version && stored == before.version {
                    format!(
                        "{} (to change the payload, bump the version and add an upcaster)",
                        problem.reason
                    )
                } else {
                    problem.reason
                };
                push(path, reason);
            }
        }
    }
}

/// One way a new schema fails to read what an old one allowed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaProblem {
    /// The field path (`lines[].price`), empty for the payload itself.
    pub path: String,
    /// Why.
    pub reason: String,
}

/// Whether every value `old` allows is read by serde into a type whose schema is `new`:
/// each way it is not, with its path. Both are self-contained schemas (their `$ref`s
/// point into their own `definitions`).
pub fn check_schema(old: &Value, new: &Value) -> Vec<SchemaProblem> {
    let mut new = new.clone();
    place_variant_aliases(&mut new, 0);
    let new = &new;
    let mut checker = Checker {
        old_root: old,
        new_root: new,
        out: Vec::new(),
        seen: BTreeSet::new(),
        dropped: dropped_of(new),
        whole_objects: true,
        refusals_only: false,
    };
    checker.compare(old, new, "", 0);
    checker.out
}

struct Checker<'a> {
    old_root: &'a Value,
    new_root: &'a Value,
    out: Vec<SchemaProblem>,
    /// Pairs of schemas (by address) already compared on this path, for recursive types.
    seen: BTreeSet<(usize, usize)>,
    /// The fields whose loss the new schema acknowledges ([`DROPPED`]).
    dropped: BTreeSet<&'a str>,
    /// Whether a field the new object does not read is lost. Not while an old object is
    /// tried against one alternative of a flattened enum: the struct around it reads
    /// the other fields.
    whole_objects: bool,
    /// Whether only refusals count: while asking whether serde reads a value at all (an
    /// untagged alternative's values with another alternative), losses are not reported.
    refusals_only: bool,
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_owned()
    } else {
        format!("{path}.{field}")
    }
}

impl<'a> Checker<'a> {
    /// A change serde reads without an error but loses data by: not reported while only
    /// refusals count.
    fn push_loss(&mut self, path: &str, reason: String) {
        if !self.refusals_only {
            self.push(path, reason);
        }
    }

    fn push(&mut self, path: &str, reason: String) {
        self.out.push(SchemaProblem {
            path: path.to_owned(),
            reason,
        });
    }

    /// A checker for trying one comparison on its own (whether `old` fits one candidate),
    /// against `new_root`'s definitions, on this one's path and settings.
    fn trial(&self, new_root: &'a Value) -> Checker<'a> {
        Checker {
            old_root: self.old_root,
            new_root,
            out: Vec::new(),
            seen: self.seen.clone(),
            dropped: self.dropped.clone(),
            whole_objects: self.whole_objects,
            refusals_only: self.refusals_only,
        }
    }

    fn compare(&mut self, old: &'a Value, new: &'a Value, path: &str, depth: usize) {
        self.compare_readers(old, new, path);
        self.compare_shapes(old, new, path, depth);
    }

    /// [`Self::compare`] without the readers: for one of the old schema's alternatives
    /// against the same new schema, whose readers were compared with the whole.
    fn compare_shapes(&mut self, old: &'a Value, new: &'a Value, path: &str, depth: usize) {
        let old = resolve(self.old_root, old);
        let new = resolve(self.new_root, new);
        let pair = (old as *const Value as usize, new as *const Value as usize);
        if depth > 64 || !self.seen.insert(pair) {
            return;
        }
        self.compare_resolved(old, new, path, depth);
        self.seen.remove(&pair);
    }

    fn compare_resolved(&mut self, old: &'a Value, new: &'a Value, path: &str, depth: usize) {
        if is_any(new) {
            return;
        }
        // A struct that flattens an enum: its own fields beside the enum's alternatives.
        // The fields are compared as an object, the alternatives with each other.
        let flattened = |s: &Value| s.get("properties").is_some() && alternatives_of(s).is_some();
        if flattened(old) || flattened(new) {
            self.compare_objects(old, new, path, depth);
            match (alternatives_of(old), alternatives_of(new)) {
                (Some(old_alts), Some(new_alts)) => {
                    let whole = std::mem::replace(&mut self.whole_objects, false);
                    for alternative in old_alts {
                        self.fits_one(alternative, new_alts, path, depth);
                    }
                    self.whole_objects = whole;
                }
                // Stored events must still fit one of the new alternatives (an optional
                // flattened enum has one that accepts anything).
                (None, Some(new_alts)) => {
                    let whole = std::mem::replace(&mut self.whole_objects, false);
                    self.fits_one(old, new_alts, path, depth);
                    self.whole_objects = whole;
                }
                // Alternatives gone: what they stored is now unknown fields, ignored unless
                // the new type denies them, which `compare_objects` does not see; say so.
                (Some(_), None) if new.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    self.push(
                        path,
                        "the alternatives were removed and the new type denies unknown fields"
                            .into(),
                    )
                }
                _ => {}
            }
            return;
        }
        // Each shape the old type could store must be read by the new one.
        if let Some(alternatives) = alternatives_of(old) {
            for alternative in alternatives {
                self.compare_shapes(alternative, new, path, depth + 1);
            }
            self.untagged_order(old, new, path, depth);
            return;
        }
        // An enumeration of stored values is judged value by value, whatever shape the
        // new type takes (schemars splits a documented variant into its own `const`).
        if let Some(values) = values_of(old) {
            for value in values {
                if accepts_value(self.new_root, new, value) {
                    continue;
                }
                let other = alternatives_of(new)
                    .and_then(|alts| catch_all(self.new_root, alts))
                    .and_then(tag_of);
                let reason = match other {
                    Some(other) => format!(
                        "stored events may hold {value} here, which the new type reads as its \
                         catch-all variant {other} (#[serde(other)]): what it meant is lost"
                    ),
                    None => format!(
                        "stored events may hold {value} here, which the new type refuses (a \
                         removed enum variant or constant?)"
                    ),
                };
                self.push(path, reason);
            }
            return;
        }
        if let Some(alternatives) = alternatives_of(new) {
            self.fits_one(old, alternatives, path, depth);
            return;
        }
        if is_any(old) {
            self.push(
                path,
                "stored events may hold any JSON here; the new type accepts only some".into(),
            );
            return;
        }
        if let Some(values) = values_of(new) {
            let allowed: Vec<String> = values.iter().map(|v| v.to_string()).collect();
            self.push(
                path,
                format!(
                    "stored events may hold any {} here; the new type accepts only {}",
                    describe(&types_of(old)),
                    allowed.join(", ")
                ),
            );
            return;
        }
        let old_types = types_of(old);
        let new_types = types_of(new);
        let refused: Vec<&str> = old_types
            .iter()
            .copied()
            .filter(|t| !type_accepts(&new_types, t))
            .collect();
        if !refused.is_empty() {
            let reason = if refused == ["null"] {
                "stored events may hold null here, but the new type does not accept null \
                 (keep it an Option)"
                    .to_owned()
            } else {
                format!(
                    "the type changed from {} to {}",
                    describe(&old_types),
                    describe(&new_types)
                )
            };
            self.push(path, reason);
            return;
        }
        if old_types.contains("object") && new_types.contains("object") {
            self.compare_objects(old, new, path, depth);
        }
        if old_types.contains("array") && new_types.contains("array") {
            self.compare_items(old, new, path, depth);
        }
        if old_types.contains("integer") && new_types.contains("integer") {
            let (old_low, old_high) = integer_range(old);
            let (new_low, new_high) = integer_range(new);
            if old_low < new_low || old_high > new_high {
                self.push(
                    path,
                    format!(
                        "the integer range narrowed from {old_low}..={old_high} to \
                         {new_low}..={new_high}: stored values may not fit"
                    ),
                );
            }
        }
        if old_types.contains("integer")
            && !new_types.contains("integer")
            && new_types.contains("number")
        {
            let float = new.get("format").and_then(Value::as_str) == Some("float");
            let exact: i128 = if float { 1 << 24 } else { 1 << 53 };
            let (low, high) = integer_range(old);
            if low < -exact || high > exact {
                self.push_loss(
                    path,
                    format!(
                        "integers read as a {} float lose precision beyond ±{exact}: stored \
                         values up to {} would read rounded",
                        if float { "32-bit" } else { "64-bit" },
                        low.unsigned_abs().max(high.unsigned_abs())
                    ),
                );
            }
        }
        if old_types.contains("number")
            && new_types.contains("number")
            && new.get("format").and_then(Value::as_str) == Some("float")
            && old.get("format").and_then(Value::as_str) != Some("float")
        {
            self.push_loss(
                path,
                "the number narrowed to a 32-bit float: stored values beyond its range read \
                 as infinity, and the rest lose precision"
                    .into(),
            );
        }
        if old_types.contains("string") && new_types.contains("string") {
            let (old_range, new_range) = (
                length_range(old, STRING_LENGTH),
                length_range(new, STRING_LENGTH),
            );
            if !fits(old_range, new_range) {
                self.push(
                    path,
                    format!(
                        "the string length narrowed from {} to {}: longer or shorter stored \
                         strings are refused",
                        show(old_range),
                        show(new_range)
                    ),
                );
            }
            let old_format = old.get("format").and_then(Value::as_str);
            let new_format = new.get("format").and_then(Value::as_str);
            if let Some(format) = new_format
                && STRICT_FORMATS.contains(&format)
                && old_format != Some(format)
            {
                self.push(
                    path,
                    format!(
                        "the new type reads only `{format}` strings; stored ones were {}",
                        old_format.map_or("any string".to_owned(), |f| format!("`{f}`"))
                    ),
                );
            }
        }
    }

    /// A value the new code reads through code of its own (`try_from`,
    /// `deserialize_with`) may be refused whatever its schema says: unless the old code
    /// read it through the same, the gate cannot vouch for it.
    fn compare_readers(&mut self, old: &'a Value, new: &'a Value, path: &str) {
        for (keyword, what) in [
            (TRY_FROM, "converts it with `TryFrom` from"),
            (DESERIALIZE_WITH, "reads it with"),
        ] {
            let new_reader = reader_of(self.new_root, new, keyword);
            if let Some(reader) = new_reader
                && reader_of(self.old_root, old, keyword) != new_reader
            {
                self.push(
                    path,
                    format!(
                        "the new type {what} `{reader}`, which may refuse stored values its \
                         schema allows; the gate cannot vouch for it (use `from` if the \
                         conversion cannot fail, or bump the version and add an upcaster)"
                    ),
                );
            }
        }
    }

    /// Untagged alternatives (`anyOf`) are tried in order: a stored value is read as the
    /// first alternative that accepts it. If the one that reads an old alternative's values
    /// now differs from the one that read them before, while that one is still there (a
    /// variant moved up, or a new one placed before it that accepts them), stored values
    /// silently change variant.
    fn untagged_order(&mut self, old: &'a Value, new: &'a Value, path: &str, depth: usize) {
        if old.get("anyOf").is_none() || new.get("anyOf").is_none() {
            return;
        }
        // Nested untagged unions are tried depth first, in order: one flat list.
        let old_alts = flat_alternatives(self.old_root, old);
        let new_alts = flat_alternatives(self.new_root, new);
        // Whether serde reads the alternative's values with the candidate: fields the
        // candidate ignores do not stop it.
        let accepts = |root: &'a Value, alternative: &'a Value, candidate: &'a Value| {
            let mut trial = self.trial(root);
            trial.whole_objects = false;
            trial.refusals_only = true;
            trial.compare(alternative, candidate, path, depth + 1);
            trial.out.is_empty()
        };
        let mut moved = Vec::new();
        for &alternative in &old_alts {
            let Some(before) = old_alts
                .iter()
                .position(|o| accepts(self.old_root, alternative, o))
            else {
                continue;
            };
            let Some(after) = new_alts
                .iter()
                .position(|n| accepts(self.new_root, alternative, n))
            else {
                continue;
            };
            let reader = resolve(self.old_root, old_alts[before]);
            let still_there = new_alts
                .iter()
                .position(|n| resolve(self.new_root, n) == reader);
            if let Some(same) = still_there
                && same != after
            {
                moved.push((same, after));
            }
        }
        for (same, after) in moved {
            self.push_loss(
                path,
                format!(
                    "untagged alternatives are tried in order: values read as alternative {} \
                     (of {}) are now read as alternative {}, which comes before it and accepts \
                     them",
                    same + 1,
                    new_alts.len(),
                    after + 1
                ),
            );
        }
    }

    /// What `old` allows must fit one of `alternatives`: nothing is reported if one
    /// accepts it; else the one problem of the nearest alternative, or a summary.
    fn fits_one(&mut self, old: &'a Value, alternatives: &'a [Value], path: &str, depth: usize) {
        let mut best: Option<Vec<SchemaProblem>> = None;
        for alternative in alternatives {
            let mut trial = self.trial(self.new_root);
            trial.compare(old, alternative, path, depth + 1);
            if trial.out.is_empty() {
                return;
            }
            if best.as_ref().is_none_or(|b| trial.out.len() < b.len()) {
                best = Some(trial.out);
            }
        }
        // The catch-all reads what carries a tag no other alternative has; a stored tag
        // the new type still knows is refused with its own problem instead.
        let old_tag = tag_of(resolve(self.old_root, old));
        let tag_known = old_tag.is_some_and(|tag| {
            alternatives
                .iter()
                .any(|a| tag_of(resolve(self.new_root, a)) == Some(tag))
        });
        if let Some(other) = catch_all(self.new_root, alternatives).filter(|_| !tag_known) {
            let name = tag_of(other).map_or_else(String::new, |name| format!(" {name}"));
            self.push_loss(
                path,
                format!(
                    "what was stored here is read as the catch-all variant{name} \
                     (#[serde(other)]): the stored variant and its data are lost"
                ),
            );
            return;
        }
        match best {
            Some(problems) if problems.len() == 1 => self.out.extend(problems),
            _ => self.push(
                path,
                "what was stored here fits none of the new type's alternatives".into(),
            ),
        }
    }

    fn compare_objects(&mut self, old: &'a Value, new: &'a Value, path: &str, depth: usize) {
        static EMPTY: LazyLock<Map<String, Value>> = LazyLock::new(Map::new);
        let old_props = old
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&EMPTY);
        let new_props = new
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&EMPTY);
        let old_required = required_of(old);
        let new_required = required_of(new);
        let mut consumed: BTreeSet<&str> = BTreeSet::new();
        for (name, new_prop) in new_props {
            let source = if old_props.contains_key(name) {
                Some(name.as_str())
            } else {
                aliases_of(self.new_root, new_prop)
                    .into_iter()
                    .find(|alias| old_props.contains_key(*alias))
            };
            let field_path = join(path, name);
            match source {
                Some(source) => {
                    consumed.insert(source);
                    if new_required.contains(name.as_str()) && !old_required.contains(source) {
                        self.push(
                            &field_path,
                            "was optional, so stored events may lack it; it is now required \
                             (give it #[serde(default)] or keep it an Option)"
                                .into(),
                        );
                    }
                    // A field's own value is a whole object again.
                    let whole = std::mem::replace(&mut self.whole_objects, true);
                    self.compare(&old_props[source], new_prop, &field_path, depth + 1);
                    self.whole_objects = whole;
                }
                None if new_required.contains(name.as_str()) => {
                    let gone: Vec<&str> = old_props
                        .keys()
                        .map(String::as_str)
                        .filter(|k| !new_props.contains_key(*k))
                        .collect();
                    let reason = if gone.is_empty() {
                        "a required field was added without a default: stored events do not \
                         have it (make it an Option or give it #[serde(default)])"
                            .to_owned()
                    } else {
                        format!(
                            "a required field was added without a default; if it is `{}` \
                             renamed, say so with #[serde(alias = \"{}\")]{}",
                            gone.join("` or `"),
                            gone[0],
                            payload_hint(&field_path)
                        )
                    };
                    self.push(&field_path, reason);
                }
                None => {}
            }
        }
        let closed = new.get("additionalProperties") == Some(&Value::Bool(false));
        for name in old_props.keys() {
            if !consumed.contains(name.as_str()) && closed {
                self.push(
                    &join(path, name),
                    "the field was removed and the new type denies unknown fields, so stored \
                     events that have it are refused"
                        .into(),
                );
            }
        }
        // A field no longer read: serde skips it, and its stored values are lost without
        // an error (a rename without an alias reads every stored value as missing).
        let kept_in_map = matches!(
            new.get("additionalProperties"),
            Some(Value::Object(_)) | Some(Value::Bool(true))
        );
        if self.whole_objects && !closed && !kept_in_map {
            let unread: Vec<&String> = old_props
                .keys()
                .filter(|name| !consumed.contains(name.as_str()))
                .collect();
            // Fields a flattened enum of the new type reads (its alternatives' fields),
            // looked up only when some field is not read otherwise.
            let in_alternatives: BTreeSet<&str> = if unread.is_empty() {
                BTreeSet::new()
            } else {
                alternatives_of(new)
                    .into_iter()
                    .flatten()
                    .filter_map(|a| resolve(self.new_root, a).get("properties"))
                    .filter_map(Value::as_object)
                    .flat_map(|props| {
                        let aliases = props.values().flat_map(|p| aliases_of(self.new_root, p));
                        props.keys().map(String::as_str).chain(aliases)
                    })
                    .collect()
            };
            for name in unread {
                let field_path = join(path, name);
                if in_alternatives.contains(name.as_str())
                    || self.dropped.contains(field_path.as_str())
                {
                    continue;
                }
                self.push(
                    &field_path,
                    format!(
                        "no field reads it any more, so its stored values would be dropped \
                         without an error; if a field was renamed, say so with \
                         #[serde(alias = \"{name}\")]{}, or acknowledge the loss with \
                         #[event(dropped = \"{field_path}\")]",
                        payload_hint(&field_path)
                    ),
                );
            }
        }
        // Maps: whatever the old type stored under a name the new type has no field for
        // is read as one of the new map's values.
        if let Some(new_values) = new.get("additionalProperties").filter(|v| v.is_object()) {
            for (name, old_prop) in old_props {
                if !consumed.contains(name.as_str()) && !new_props.contains_key(name) {
                    self.compare(old_prop, new_values, &join(path, name), depth + 1);
                }
            }
            match old.get("additionalProperties") {
                Some(old_values) if old_values.is_object() => {
                    self.compare(old_values, new_values, &join(path, "{*}"), depth + 1);
                }
                // A map of anything (`HashMap<String, Value>`).
                Some(Value::Bool(true)) => {
                    self.compare(&ANY, new_values, &join(path, "{*}"), depth + 1);
                }
                _ => {}
            }
        } else if self.whole_objects
            && !kept_in_map
            && matches!(
                old.get("additionalProperties"),
                Some(Value::Object(_)) | Some(Value::Bool(true))
            )
        {
            // A map read as a struct: keys that are none of its fields.
            let fields: Vec<&str> = new_props.keys().map(String::as_str).collect();
            self.push(
                path,
                format!(
                    "stored maps may hold any key, and the new type reads only {}: {}",
                    if fields.is_empty() {
                        "none".to_owned()
                    } else {
                        format!("`{}`", fields.join("`, `"))
                    },
                    if closed {
                        "it refuses the others"
                    } else {
                        "the others are dropped without an error"
                    }
                ),
            );
        }
    }

    fn compare_items(&mut self, old: &'a Value, new: &'a Value, path: &str, depth: usize) {
        let item_path = format!("{path}[]");
        let unique = |s: &Value| s.get("uniqueItems") == Some(&Value::Bool(true));
        if unique(new) && !unique(old) {
            self.push_loss(
                path,
                "the list became a set: duplicates in stored lists are merged without an \
                 error, and their order is lost"
                    .into(),
            );
        }
        let (old_range, new_range) = (
            length_range(old, ARRAY_LENGTH),
            length_range(new, ARRAY_LENGTH),
        );
        if !fits(old_range, new_range) {
            self.push(
                path,
                format!(
                    "the array length narrowed from {} to {}: stored arrays of other lengths \
                     are refused",
                    show(old_range),
                    show(new_range)
                ),
            );
            return;
        }
        match (old.get("items"), new.get("items")) {
            // A tuple read as a fixed-size array, or the other way round: the same JSON
            // when the lengths agree (checked above) and each position fits.
            (Some(Value::Array(old_items)), Some(new_items)) if !new_items.is_array() => {
                for (i, o) in old_items.iter().enumerate() {
                    self.compare(o, new_items, &format!("{path}[{i}]"), depth + 1);
                }
            }
            (Some(old_items), Some(Value::Array(new_items)))
                if !old_items.is_array() && old_range.0 == old_range.1 =>
            {
                for (i, n) in new_items.iter().enumerate() {
                    self.compare(old_items, n, &format!("{path}[{i}]"), depth + 1);
                }
            }
            (Some(Value::Array(old_items)), Some(Value::Array(new_items))) => {
                if old_items.len() != new_items.len() {
                    self.push(
                        path,
                        format!(
                            "the tuple's length changed from {} to {}",
                            old_items.len(),
                            new_items.len()
                        ),
                    );
                    return;
                }
                for (i, (o, n)) in old_items.iter().zip(new_items).enumerate() {
                    self.compare(o, n, &format!("{path}[{i}]"), depth + 1);
                }
            }
            (Some(old_items), Some(new_items))
                if !old_items.is_array() && !new_items.is_array() =>
            {
                self.compare(old_items, new_items, &item_path, depth + 1);
            }
            (_, Some(new_items))
                if !new_items.is_array() && !is_any(new_items) && old.get("items").is_none() =>
            {
                self.push(
                    &item_path,
                    "stored arrays may hold anything; the new type constrains their items".into(),
                );
            }
            (Some(_), Some(_)) => self.push(path, "changed between a list and a tuple".into()),
            _ => {}
        }
    }
}

/// The schema that accepts anything.
static ANY: Value = Value::Bool(true);

/// String formats serde types insist on when reading (`Uuid`, `DateTime`, `NaiveDate`).
const STRICT_FORMATS: [&str; 4] = ["uuid", "date-time", "date", "time"];

/// Only annotations: accepts any JSON.
fn is_any(schema: &Value) -> bool {
    match schema {
        Value::Bool(b) => *b,
        Value::Object(map) => !map.keys().any(|k| {
            matches!(
                k.as_str(),
                "type"
                    | "enum"
                    | "const"
                    | "anyOf"
                    | "oneOf"
                    | "allOf"
                    | "not"
                    | "properties"
                    | "items"
                    | "$ref"
                    | "additionalProperties"
            )
        }),
        _ => false,
    }
}

/// The alternatives of an untagged union (`anyOf`) in the order serde tries them, nested
/// unions flattened in place; a schema that is no union is its own one alternative.
fn flat_alternatives<'v>(root: &'v Value, schema: &'v Value) -> Vec<&'v Value> {
    fn walk<'v>(root: &'v Value, schema: &'v Value, depth: usize, out: &mut Vec<&'v Value>) {
        let schema = resolve(root, schema);
        match schema.get("anyOf").and_then(Value::as_array) {
            Some(alternatives) if depth < 16 => {
                for alternative in alternatives {
                    walk(root, alternative, depth + 1, out);
                }
            }
            _ => out.push(schema),
        }
    }
    let mut out = Vec::new();
    walk(root, schema, 0, &mut out);
    out
}

/// The fields whose loss a payload schema acknowledges ([`DROPPED`]).
fn dropped_of(schema: &Value) -> BTreeSet<&str> {
    strings_at(schema, DROPPED).collect()
}

/// The strings a schema lists under `keyword` ([`ALIASES`], [`DROPPED`]).
fn strings_at<'v>(schema: &'v Value, keyword: &str) -> impl Iterator<Item = &'v str> {
    schema
        .get(keyword)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

fn alternatives_of(schema: &Value) -> Option<&Vec<Value>> {
    schema
        .get("anyOf")
        .or_else(|| schema.get("oneOf"))
        .and_then(Value::as_array)
}

fn values_of(schema: &Value) -> Option<Vec<&Value>> {
    if let Some(value) = schema.get("const") {
        return Some(vec![value]);
    }
    schema
        .get("enum")
        .and_then(Value::as_array)
        .map(|values| values.iter().collect())
}

fn types_of(schema: &Value) -> BTreeSet<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => BTreeSet::from([t.as_str()]),
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ if schema.get("properties").is_some() || schema.get("additionalProperties").is_some() => {
            BTreeSet::from(["object"])
        }
        _ if schema.get("items").is_some() => BTreeSet::from(["array"]),
        _ => BTreeSet::new(),
    }
}

fn type_accepts(types: &BTreeSet<&str>, stored: &str) -> bool {
    types.is_empty() || types.contains(stored) || (stored == "integer" && types.contains("number"))
}

fn describe(types: &BTreeSet<&str>) -> String {
    if types.is_empty() {
        "anything".into()
    } else {
        types.iter().copied().collect::<Vec<_>>().join(" or ")
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Whether `schema` takes the one value `value` (as far as an enum's values go: their
/// type, or membership of the new enum, or of one of its alternatives).
fn accepts_value(root: &Value, schema: &Value, value: &Value) -> bool {
    let schema = resolve(root, schema);
    if is_any(schema) {
        return true;
    }
    if let Some(alternatives) = alternatives_of(schema) {
        return alternatives.iter().any(|a| accepts_value(root, a, value));
    }
    if let Some(values) = values_of(schema) {
        let alias = value
            .as_str()
            .is_some_and(|v| strings_at(schema, ALIASES).any(|a| a == v));
        return values.contains(&value) || alias;
    }
    type_accepts(&types_of(schema), json_type(value))
}

/// The tag of an enum variant's schema: its constant (a unit variant), or the constant of
/// its tag field (internally or adjacently tagged).
fn tag_of(schema: &Value) -> Option<&Value> {
    schema.get("const").or_else(|| {
        schema
            .get("properties")?
            .as_object()?
            .values()
            .find_map(|p| p.get("const"))
    })
}

/// The catch-all variant (`#[serde(other)]`) among `alternatives`, resolved.
fn catch_all<'v>(root: &'v Value, alternatives: &'v [Value]) -> Option<&'v Value> {
    alternatives
        .iter()
        .map(|a| resolve(root, a))
        .find(|a| a.get(OTHER) == Some(&Value::Bool(true)))
}

/// The name under `keyword` ([`TRY_FROM`], [`DESERIALIZE_WITH`]) on a schema or on what
/// it refers to.
fn reader_of<'v>(root: &'v Value, schema: &'v Value, keyword: &str) -> Option<&'v str> {
    [schema, resolve(root, schema)]
        .into_iter()
        .find_map(|s| s.get(keyword).and_then(Value::as_str))
}

/// Moves the aliases of each variant (written on the variant's schema) onto what serde
/// matches them against: the tag's constant of an internally or adjacently tagged
/// variant, or the one key of an externally tagged variant with data. A unit variant's
/// constant keeps them where they are.
fn place_variant_aliases(schema: &mut Value, depth: usize) {
    let Value::Object(map) = schema else {
        if let Value::Array(items) = schema {
            items
                .iter_mut()
                .for_each(|item| place_variant_aliases(item, depth + 1));
        }
        return;
    };
    if depth > 64 {
        return;
    }
    if map.contains_key(ALIASES)
        && let Some(Value::Object(props)) = map.get("properties")
    {
        let tag = props
            .iter()
            .find(|(_, p)| p.get("const").is_some_and(Value::is_string))
            .map(|(name, _)| name.clone());
        let external = (props.len() == 1
            && map.get("additionalProperties") == Some(&Value::Bool(false)))
        .then(|| props.keys().next().cloned())
        .flatten();
        if let Some(target) = tag.or(external)
            && let Some(aliases) = map.remove(ALIASES)
            && let Some(Value::Object(property)) =
                map.get_mut("properties").and_then(|p| p.get_mut(&target))
        {
            property.insert(ALIASES.into(), aliases);
        }
    }
    map.values_mut()
        .for_each(|value| place_variant_aliases(value, depth + 1));
}

/// For a field inside the payload (`line.qty`, not `qty`): the catalog sees the
/// aliases of a type inside the payload only when `#[factum::payload]` records them.
fn payload_hint(field_path: &str) -> &'static str {
    if field_path.contains(['.', '[']) {
        " on a type recorded with #[factum::payload] (an alias on a type without it \
         does not reach the catalog)"
    } else {
        ""
    }
}

fn required_of(schema: &Value) -> BTreeSet<&str> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// The aliases written on a property (on its own schema or on what it refers to).
fn aliases_of<'v>(root: &'v Value, property: &'v Value) -> Vec<&'v str> {
    [property, resolve(root, property)]
        .into_iter()
        .flat_map(|schema| strings_at(schema, ALIASES))
        .collect()
}

/// The lengths a schema admits, from its `min` and `max` keywords (`minLength` and
/// `maxLength` for strings, `minItems` and `maxItems` for arrays).
fn length_range(schema: &Value, [min, max]: [&str; 2]) -> (u64, u64) {
    let bound = |key: &str| schema.get(key).and_then(Value::as_u64);
    (bound(min).unwrap_or(0), bound(max).unwrap_or(u64::MAX))
}

/// The length keywords of strings.
const STRING_LENGTH: [&str; 2] = ["minLength", "maxLength"];

/// The length keywords of arrays.
const ARRAY_LENGTH: [&str; 2] = ["minItems", "maxItems"];

/// Whether every length of `old` is one of `new`.
fn fits(old: (u64, u64), new: (u64, u64)) -> bool {
    new.0 <= old.0 && old.1 <= new.1
}

/// A length range, for a report.
fn show((low, high): (u64, u64)) -> String {
    match (low, high) {
        (low, u64::MAX) => format!("{low} or more"),
        (low, high) if low == high => format!("exactly {low}"),
        (low, high) => format!("{low} to {high}"),
    }
}

/// The integers a schema admits: its format's range cut by `minimum`/`maximum`. An
/// integer with no format is taken as 64-bit signed (what serde reads into `i64`).
fn integer_range(schema: &Value) -> (i128, i128) {
    let (mut low, mut high): (i128, i128) = match schema.get("format").and_then(Value::as_str) {
        Some("int8") => (i8::MIN.into(), i8::MAX.into()),
        Some("int16") => (i16::MIN.into(), i16::MAX.into()),
        Some("int32") => (i32::MIN.into(), i32::MAX.into()),
        Some("uint8") => (0, u8::MAX.into()),
        Some("uint16") => (0, u16::MAX.into()),
        Some("uint32") => (0, u32::MAX.into()),
        Some("uint64") | Some("uint") => (0, u64::MAX.into()),
        Some("int128") => (i128::MIN, i128::MAX),
        Some("uint128") => (0, i128::MAX),
        _ => (i64::MIN.into(), i64::MAX.into()),
    };
    if let Some(min) = schema.get("minimum").and_then(Value::as_f64) {
        low = low.max(min.ceil() as i128);
    }
    if let Some(max) = schema.get("maximum").and_then(Value::as_f64) {
        high = high.min(max.floor() as i128);
    }
    (low, high)
}

#[cfg(test)]
mod tests {
    use super::{check_schema, civil_from_days};
    use serde_json::json;

    #[test]
    fn a_rename_inside_the_payload_points_at_the_payload_attribute() {
        let old = json!({
            "type": "object", "required": ["qty", "line"],
            "properties": {
                "qty": { "type": "integer" },
                "line": { "type": "object", "required": ["sku"], "properties": { "sku": { "type": "string" } } }
            }
        });
        let new = json!({
            "type": "object", "required": ["count", "line"],
            "properties": {
                "count": { "type": "integer" },
                "line": { "type": "object", "required": ["code"], "properties": { "code": { "type": "string" } } }
            }
        });
        let found = check_schema(&old, &new);
        let reason = |path: &str| {
            found
                .iter()
                .filter(|c| c.path == path)
                .map(|c| c.reason.clone())
                .collect::<Vec<_>>()
                .join("; ")
        };
        assert!(
            reason("line.code").contains("#[factum::payload]"),
            "{found:#?}"
        );
        assert!(reason("count").contains("alias = \"qty\""), "{found:#?}");
        assert!(
            !reason("count").contains("#[factum::payload]"),
            "{found:#?}"
        );
    }

    #[test]
    fn days_become_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(20_792), (2026, 12, 5));
    }
}
