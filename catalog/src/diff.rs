//! A readable changelog between two catalogs: what was added, deprecated, versioned,
//! changed in place and removed.

use std::fmt;

use crate::compat::check_schema;
use crate::model::Catalog;

/// One line of the changelog.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Change {
    /// A new event type, at its version.
    Added {
        /// The event type.
        event: String,
        /// Its current version.
        version: u32,
    },
    /// An event type was deprecated.
    Deprecated {
        /// The event type.
        event: String,
        /// Why (may be empty).
        reason: String,
    },
    /// An event type is no longer deprecated.
    Undeprecated {
        /// The event type.
        event: String,
    },
    /// An event type moved to a new version.
    Versioned {
        /// The event type.
        event: String,
        /// The old current version.
        from: u32,
        /// The new current version.
        to: u32,
        /// Whether every older version still reaches the new one through upcasters.
        upcast: bool,
    },
    /// The payload of a version changed without a version bump.
    ChangedInPlace {
        /// The event type.
        event: String,
        /// The version.
        version: u32,
        /// Whether old events still read (see [`check`](crate::check)).
        compatible: bool,
    },
    /// The description changed.
    Described {
        /// The event type.
        event: String,
    },
    /// An event type was removed.
    Removed {
        /// The event type.
        event: String,
        /// Whether it had been deprecated first.
        was_deprecated: bool,
    },
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Added { event, version } => write!(f, "added {event} (v{version})"),
            Change::Deprecated { event, reason } if reason.is_empty() => {
                write!(f, "deprecated {event}")
            }
            Change::Deprecated { event, reason } => write!(f, "deprecated {event}: {reason}"),
            Change::Undeprecated { event } => write!(f, "{event} is no longer deprecated"),
            Change::Versioned {
                event,
                from,
                to,
                upcast,
            } => write!(
                f,
                "{event}: v{from} -> v{to}{}",
                if *upcast {
                    ", older versions upcast"
                } else {
                    ", NO upcaster chain"
                }
            ),
            Change::ChangedInPlace {
                event,
                version,
                compatible,
            } => write!(
                f,
                "{event} v{version}: payload changed in place ({})",
                if *compatible {
                    "compatible"
                } else {
                    "BREAKING"
                }
            ),
            Change::Described { event } => write!(f, "{event}: description changed"),
            Change::Removed {
                event,
                was_deprecated,
            } => write!(
                f,
                "removed {event}{}",
                if *was_deprecated {
                    " (was deprecated)"
                } else {
                    " (was NOT deprecated)"
                }
            ),
        }
    }
}

/// Everything that changed from `old` to `new`, by event type.
pub fn diff(old: &Catalog, new: &Catalog) -> Vec<Change> {
    let mut changes = Vec::new();
    for (name, after) in &new.events {
        let Some(before) = old.events.get(name) else {
            changes.push(Change::Added {
                event: name.clone(),
                version: after.version,
            });
            continue;
        };
        match (&before.deprecated, &after.deprecated) {
            (None, Some(reason)) => changes.push(Change::Deprecated {
                event: name.clone(),
                reason: reason.clone(),
            }),
            (Some(_), None) => changes.push(Change::Undeprecated {
                event: name.clone(),
            }),
            _ => {}
        }
        if before.version != after.version {
            changes.push(Change::Versioned {
                event: name.clone(),
                from: before.version,
                to: after.version,
                upcast: (1..after.version).all(|v| after.upcasters.contains(&v)),
            });
        }
        for (version, old_schema) in &before.schemas {
            if let Some(new_schema) = after.schemas.get(version)
                && old_schema != new_schema
            {
                changes.push(Change::ChangedInPlace {
                    event: name.clone(),
                    version: *version,
                    compatible: check_schema(old_schema, new_schema).is_empty(),
                });
            }
        }
        if before.description != after.description {
            changes.push(Change::Described {
                event: name.clone(),
            });
        }
    }
    for (name, before) in &old.events {
        if !new.events.contains_key(name) {
            changes.push(Change::Removed {
                event: name.clone(),
                was_deprecated: before.deprecated.is_some(),
            });
        }
    }
    changes.sort_by(|a, b| event_of(a).cmp(event_of(b)).then(a.cmp(b)));
    changes
}

fn event_of(change: &Change) -> &str {
    match change {
        Change::Added { event, .. }
        | Change::Deprecated { event, .. }
        | Change::Undeprecated { event }
        | Change::Versioned { event, .. }
        | Change::ChangedInPlace { event, .. }
        | Change::Described { event }
        | Change::Removed { event, .. } => event,
    }
}

/// The changelog as Markdown: a heading and one bullet per change.
pub fn changelog(old: &Catalog, new: &Catalog) -> String {
    let changes = diff(old, new);
    let mut out = format!(
        "# Event catalog changes: {} {} -> {}\n\n",
        new.title, old.version, new.version
    );
    if changes.is_empty() {
        out.push_str("No changes to event types.\n");
    }
    for change in changes {
        out.push_str(&format!("- {change}\n"));
    }
    out
}
