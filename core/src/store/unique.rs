//! Values unique across streams (the guide is on [`Uniqueness`]).

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
///
#[doc = include_str!("../../docs/unique-values.md")]
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
