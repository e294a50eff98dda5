//! Aggregates: state rebuilt from events, the commands they handle, and the event sets they apply (re-exported at the crate root; the guide is on [`Aggregate`]).

pub mod repository;
pub mod snapshot;
pub mod testing;

use crate::{EventData, EventView, RecordedEvent, Uniqueness, UpcastError};

/// The closed set of events an aggregate is built from. Derive it with
/// `#[derive(EventSet)]` on an enum whose variants each hold one event type.
pub trait EventSet: Sized + Send + Sync + 'static {
    /// The stored names of the events in the set.
    const NAMES: &'static [&'static str];

    /// The stored name of this event.
    fn name(&self) -> &'static str;

    /// This event as data to append.
    fn to_event_data(&self) -> Result<EventData, serde_json::Error>;

    /// Decodes a recorded event of the set (upcasting it); `Ok(None)` if its type is not
    /// in the set.
    fn from_recorded(event: &RecordedEvent) -> Result<Option<Self>, UpcastError> {
        Self::from_view(event.view())
    }

    /// Decodes a stored event of the set (upcasting it); `Ok(None)` if its type is not in
    /// the set.
    fn from_view(event: EventView<'_>) -> Result<Option<Self>, UpcastError>;
}

/// Marks an event type as a member of the set `S`; `#[derive(EventSet)]` implements it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an event of `{S}`",
    label = "not a variant of `{S}`",
    note = "add a variant holding `{Self}` to `{S}`, or remove this `#[apply]`"
)]
pub trait MemberOf<S: EventSet> {}

/// An aggregate applies the event `E`; `#[factum::aggregate]` implements it for each
/// `#[apply]` function.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no `#[apply]` function for `{E}`, an event of its set",
    label = "missing `#[apply] fn …(&mut self, event: &{E})`",
    note = "every event of the set must be applied; write an empty one if `{E}` changes no state"
)]
pub trait Applies<E> {
    /// Folds the event into the state.
    fn apply_event(&mut self, event: &E);
}

/// Lets an event set apply each of its variants to an aggregate that applies them all;
/// `#[derive(EventSet)]` implements it.
pub trait Dispatch<A> {
    /// Calls the aggregate's apply function for this variant.
    fn dispatch(&self, aggregate: &mut A);
}

/// State rebuilt from events. Implemented by `#[factum::aggregate]`.
///
#[doc = include_str!("../../docs/aggregates.md")]
pub trait Aggregate: Default + Send + Sync + 'static {
    /// The category of the aggregate's streams: instance `42` lives in `{CATEGORY}-42`.
    const CATEGORY: &'static str;

    /// The version of the state type, for snapshots: raise it when the state's shape
    /// changes, and older snapshots are ignored and rebuilt.
    const STATE_VERSION: u32;

    /// The events it is built from.
    type Event: EventSet;

    /// The domain error its commands fail with.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Folds one event into the state. Pure: no I/O, deterministic.
    fn apply(&mut self, event: &Self::Event);
}

/// An aggregate decides the command `C`. Implemented by `#[factum::aggregate]` for each
/// `#[handle]` function, which returns either `Result<Vec<Event>, Error>` or, when the
/// decision claims or releases unique values, `Result<Decision<Event>, Error>`.
pub trait Handles<C>: Aggregate {
    /// Decides: the events the command produces (and the unique values they claim or
    /// release), or why it is refused.
    fn handle(&self, command: C) -> Result<Decision<Self::Event>, Self::Error>;

    /// The event that records a refusal of this command as a fact, if refusals of it are
    /// recorded (`#[handle(record_rejection = method)]`); `None` by default.
    fn rejection(&self, command: &C, error: &Self::Error) -> Option<Self::Event> {
        let _ = (command, error);
        None
    }
}

/// What a command handler decided: the events to append and the unique values they claim
/// or release (see [`Uniqueness`]). A handler that only produces events returns a
/// `Vec` of them; one that needs uniqueness across streams returns a `Decision`:
///
/// ```
/// # use factum::{Event, EventSet, Decision};
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize, schemars::JsonSchema, Clone, Debug, PartialEq)]
/// # struct EmailChanged { email: String }
/// # #[derive(EventSet, Clone, Debug, PartialEq)]
/// # enum UserEvent { EmailChanged(EmailChanged) }
/// # #[derive(Default, Debug)]
/// # struct User { email: String }
/// # struct ChangeEmail(String);
/// # #[derive(Debug, thiserror::Error)]
/// # #[error("unchanged")]
/// # struct Unchanged;
/// #[factum::aggregate(category = "user", events = UserEvent, error = Unchanged)]
/// impl User {
///     #[apply]
///     fn email_changed(&mut self, e: &EmailChanged) { self.email = e.email.clone(); }
///
///     #[handle]
///     fn change_email(&self, cmd: ChangeEmail) -> Result<Decision<UserEvent>, Unchanged> {
///         if cmd.0 == self.email { return Err(Unchanged); }
///         // Appended only if no other user holds the new address; the old one is freed.
///         Ok(Decision::new([EmailChanged { email: cmd.0.clone() }.into()])
///             .claim("user-email", &cmd.0)
///             .release("user-email", &self.email))
///     }
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision<E> {
    events: Vec<E>,
    uniqueness: Uniqueness,
}

impl<E> Decision<E> {
    /// A decision to append `events`, claiming nothing.
    pub fn new(events: impl IntoIterator<Item = E>) -> Self {
        Decision {
            events: events.into_iter().collect(),
            uniqueness: Uniqueness::new(),
        }
    }

    /// Also claims `value` in `scope` for this aggregate: the events are appended only if
    /// no other stream holds it.
    pub fn claim(mut self, scope: impl Into<String>, value: impl Into<String>) -> Self {
        self.uniqueness = self.uniqueness.claim(scope, value);
        self
    }

    /// Also releases `value` in `scope`, with the events, if this aggregate holds it.
    pub fn release(mut self, scope: impl Into<String>, value: impl Into<String>) -> Self {
        self.uniqueness = self.uniqueness.release(scope, value);
        self
    }

    /// The events decided.
    pub fn events(&self) -> &[E] {
        &self.events
    }

    /// The unique values claimed and released.
    pub fn uniqueness(&self) -> &Uniqueness {
        &self.uniqueness
    }

    /// The events and the unique values.
    pub fn into_parts(self) -> (Vec<E>, Uniqueness) {
        (self.events, self.uniqueness)
    }
}

impl<E> From<Vec<E>> for Decision<E> {
    fn from(events: Vec<E>) -> Self {
        Decision {
            events,
            uniqueness: Uniqueness::new(),
        }
    }
}

impl<E> IntoIterator for Decision<E> {
    type Item = E;
    type IntoIter = std::vec::IntoIter<E>;

    /// The events (the unique values are dropped).
    fn into_iter(self) -> Self::IntoIter {
        self.events.into_iter()
    }
}

/// What a `#[handle]` function may return inside its `Result`: the events of the
/// aggregate's set, or a [`Decision`] over them.
#[diagnostic::on_unimplemented(
    message = "a #[handle] function returns `Result<Vec<{E}>, Error>` or `Result<Decision<{E}>, Error>`, not `Result<{Self}, _>`",
    label = "expected `Vec<{E}>` or `Decision<{E}>` inside the `Result`",
    note = "events of the set convert with `.into()`: `vec![MyEvent {{ .. }}.into()]`"
)]
pub trait IntoDecision<E> {
    /// The decision.
    fn into_decision(self) -> Decision<E>;
}

impl<E> IntoDecision<E> for Vec<E> {
    fn into_decision(self) -> Decision<E> {
        Decision::from(self)
    }
}

impl<E> IntoDecision<E> for Decision<E> {
    fn into_decision(self) -> Decision<E> {
        self
    }
}

/// What generated `Handles` impls call on a handler's result.
#[doc(hidden)]
pub fn decided<E, Err, D: IntoDecision<E>>(result: Result<D, Err>) -> Result<Decision<E>, Err> {
    result.map(IntoDecision::into_decision)
}

/// Whether all names differ; evaluated at compile time for every event set.
#[doc(hidden)]
pub const fn names_are_distinct(names: &[&str]) -> bool {
    let mut i = 0;
    while i < names.len() {
        let mut j = i + 1;
        while j < names.len() {
            if str_eq(names[i], names[j]) {
                return false;
            }
            j += 1;
        }
        i += 1;
    }
    true
}

const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}
