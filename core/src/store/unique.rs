//! Values unique across streams (the "set validation" of event sourcing): an e-mail address
//! that one user may hold, an account alias, a seat that one booking may take.
//!
//! A stream cannot see other streams, so it cannot check by itself that no other stream
//! holds a value. An append can *claim* values in scopes (`"user-email"`,
//! `"account-alias"`) and *release* values it holds; the store writes the claims in the
//! same transaction as the events. A value claimed by another stream refuses the whole
//! append with [`StoreError::UniqueValueTaken`](crate::StoreError::UniqueValueTaken),
//! naming the scope, the value and its holder, and nothing is written. Claiming a value
//! the stream already holds is a no-op; releasing a value it does not hold is a no-op.
//! [`EventStore::unique_holder`](crate::EventStore::unique_holder) tells who holds a value.
//!
//! Checked before anything is written, refused with
//! [`StoreError::InvalidUniqueValue`](crate::StoreError::InvalidUniqueValue): a scope is 1
//! to 64 characters of `A-Z a-z 0-9 - _ .` starting with a letter; a value is 1 to 1024
//! bytes without NUL; one append claims and releases at most 10,000 values, and never
//! claims and releases the same one. A value claimed twice in one append counts once.
//! Values are compared byte for byte: normalise them first (`to_lowercase` an e-mail
//! address) if `Ada@x` and `ada@x` must collide.
//!
//! Claims are not released when a stream is deleted: release them with the events that
//! end the stream's hold (an account closed, an address changed).
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use factum::store::Uniqueness;
//! use factum::{EventData, EventStore, ExpectedVersion, MemoryStore, StoreError, StreamId};
//! use serde_json::json;
//!
//! let store = MemoryStore::new();
//! let (ada, bob) = (StreamId::new("user-ada")?, StreamId::new("user-bob")?);
//! let registered = |email: &str| vec![EventData::new("Registered", json!({ "email": email }))];
//! let email = |address: &str| Uniqueness::new().claim("user-email", address);
//!
//! store.append_unique(&ada, ExpectedVersion::NoStream, registered("a@x.org"), email("a@x.org"))
//!     .await?;
//! // Another stream cannot have it; nothing of bob's append is written.
//! let taken = store
//!     .append_unique(&bob, ExpectedVersion::NoStream, registered("a@x.org"), email("a@x.org"))
//!     .await;
//! assert!(matches!(taken, Err(StoreError::UniqueValueTaken { .. })));
//! assert!(store.stream_info(&bob).await?.is_none());
//!
//! // Ada changes her address: the old one is released with the event that releases it.
//! let change = Uniqueness::new().claim("user-email", "ada@y.org").release("user-email", "a@x.org");
//! store.append_unique(&ada, ExpectedVersion::Exact(1),
//!     vec![EventData::new("EmailChanged", json!({ "email": "ada@y.org" }))], change).await?;
//! assert_eq!(store.unique_holder("user-email", "a@x.org").await?, None);
//! # Ok::<(), StoreError>(()) }).unwrap();
//! ```
//!
//! # Pitfalls
//!
//! * The claim is the check: do not look a value up first and append after, another
//!   stream may claim it in between. Append with the claim and handle
//!   `UniqueValueTaken`.
//! * A retried append (same event ids) is recognised as usual and claims nothing twice.

/// One value in one scope.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UniqueValue {
    /// The scope the value is unique in (`"user-email"`).
    pub scope: String,
    /// The value.
    pub value: String,
}

impl UniqueValue {
    /// The value `value` in `scope`.
    pub fn new(scope: impl Into<String>, value: impl Into<String>) -> Self {
        UniqueValue {
            scope: scope.into(),
            value: value.into(),
        }
    }
}

/// The unique values an append claims and releases. Empty by default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Uniqueness {
    claims: Vec<UniqueValue>,
    releases: Vec<UniqueValue>,
}

impl Uniqueness {
    /// Claims and releases nothing.
    pub fn new() -> Self {
        Uniqueness::default()
    }

    /// Also claims `value` in `scope` for the stream appended to.
    pub fn claim(mut self, scope: impl Into<String>, value: impl Into<String>) -> Self {
        self.claims.push(UniqueValue::new(scope, value));
        self
    }

    /// Also releases `value` in `scope`, if the stream appended to holds it.
    pub fn release(mut self, scope: impl Into<String>, value: impl Into<String>) -> Self {
        self.releases.push(UniqueValue::new(scope, value));
        self
    }

    /// The values claimed.
    pub fn claims(&self) -> &[UniqueValue] {
        &self.claims
    }

    /// The values released.
    pub fn releases(&self) -> &[UniqueValue] {
        &self.releases
    }

    /// Whether it claims and releases nothing.
    pub fn is_empty(&self) -> bool {
        self.claims.is_empty() && self.releases.is_empty()
    }

    /// Adds another's claims and releases to these (the single writer appends the
    /// decisions of several commands at once).
    pub fn extend(&mut self, other: Uniqueness) {
        self.claims.extend(other.claims);
        self.releases.extend(other.releases);
    }
}
