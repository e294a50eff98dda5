//! Where the JetStream backend puts things: the subject of each stream's messages, of
//! each claim, and the key of each stream's snapshot, all from validated names.
//!
//! A stream id's alphabet (`A-Z a-z 0-9 - _ . : @ +`) goes into a subject token as it
//! is, except `.`, the subject separator, which becomes `~` (never in a stream id), so
//! the mapping reads back. Key-value keys allow only `A-Z a-z 0-9 - _ = . /` and no empty
//! dot-separated token: there `:`, `@`, `+` and `.` are written `=` and two hex digits (`=`
//! is never in a stream id either).
//! Unique-value scopes and values are any text, so their tokens are base64url.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::store::unique::UniqueValue;
use crate::{EventId, StoreError, StreamId};

/// The subjects of one store, under its prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Subjects {
    prefix: String,
}

/// Why `prefix` cannot prefix a store's subjects, if it cannot.
pub(crate) fn prefix_problem(prefix: &str) -> Option<&'static str> {
    let token_ok = |t: &str| {
        !t.is_empty()
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    };
    if prefix.is_empty() {
        Some("a subject prefix may not be empty")
    } else if prefix.len() > 64 {
        Some("a subject prefix may be at most 64 bytes long")
    } else if !prefix.split('.').all(token_ok) {
        Some(
            "a subject prefix is one or more tokens of ASCII letters, digits, _ and -, \
             separated by single dots",
        )
    } else {
        None
    }
}

impl Subjects {
    /// The subjects under `prefix` (checked with [`prefix_problem`]).
    pub(crate) fn new(prefix: &str) -> Result<Self, StoreError> {
        match prefix_problem(prefix) {
            Some(reason) => Err(StoreError::InvalidConfig(format!(
                "subject prefix `{prefix}`: {reason}"
            ))),
            None => Ok(Subjects {
                prefix: prefix.to_owned(),
            }),
        }
    }

    /// Every subject of the journal: `<prefix>.>`.
    pub(crate) fn journal(&self) -> String {
        format!("{}.>", self.prefix)
    }

    /// The subject of one stream's messages: `<prefix>.<category>.<stream>`.
    pub(crate) fn stream(&self, stream: &StreamId) -> String {
        format!(
            "{}.{}.{}",
            self.prefix,
            token(stream.category()),
            token(stream.as_str())
        )
    }

    /// The subjects of one category's streams: `<prefix>.<category>.*`.
    pub(crate) fn category(&self, category: &str) -> String {
        format!("{}.{}.*", self.prefix, token(category))
    }

    /// The stream a journal subject belongs to, if it is one of this store's.
    pub(crate) fn stream_of(&self, subject: &str) -> Option<StreamId> {
        let rest = subject.strip_prefix(&self.prefix)?.strip_prefix('.')?;
        let (category, stream) = rest.split_once('.')?;
        let id = StreamId::new(untoken(stream)).ok()?;
        (token(id.category()) == category).then_some(id)
    }

    /// Every subject of the claims: `<prefix>-claims.>`.
    pub(crate) fn claims(&self) -> String {
        format!("{}-claims.>", self.prefix)
    }

    /// The subject of an event id's claim: `<prefix>-claims.id.<uuid>`.
    pub(crate) fn event_id_claim(&self, id: EventId) -> String {
        format!("{}-claims.id.{id}", self.prefix)
    }

    /// The subject of a unique value's claim:
    /// `<prefix>-claims.unique.<scope, base64url>.<value, base64url>`.
    pub(crate) fn unique_claim(&self, value: &UniqueValue) -> String {
        format!(
            "{}-claims.unique.{}.{}",
            self.prefix,
            URL_SAFE_NO_PAD.encode(&value.scope),
            URL_SAFE_NO_PAD.encode(&value.value)
        )
    }
}

/// A stream id or category as a subject token.
fn token(text: &str) -> String {
    text.replace('.', "~")
}

fn untoken(token: &str) -> String {
    token.replace('~', ".")
}

/// A stream's key in the snapshot bucket.
pub(crate) fn snapshot_key(stream: &StreamId) -> String {
    let mut key = String::with_capacity(stream.as_str().len());
    for c in stream.as_str().chars() {
        match c {
            ':' | '@' | '+' | '.' => key.push_str(&format!("={:02X}", c as u32)),
            c => key.push(c),
        }
    }
    key
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn subjects() -> Subjects {
        Subjects::new("factum.bank").unwrap()
    }

    #[test]
    fn a_stream_id_becomes_a_subject_and_back() {
        let id = StreamId::new("account.eu-42.v2:x@y+z").unwrap();
        let subject = subjects().stream(&id);
        assert_eq!(subject, "factum.bank.account~eu.account~eu-42~v2:x@y+z");
        assert_eq!(subjects().stream_of(&subject), Some(id));
        assert_eq!(
            subjects().category("account.eu"),
            "factum.bank.account~eu.*"
        );
        // Subjects of other stores, and of nothing, are not streams.
        assert_eq!(subjects().stream_of("factum.bankx.a.a-1"), None);
        assert_eq!(subjects().stream_of("factum.bank.b.a-1"), None);
        assert_eq!(subjects().stream_of("factum.bank-claims.id.x"), None);
    }

    #[test]
    fn prefixes_are_checked() {
        for bad in ["", ".a", "a.", "a..b", "a b", "a.*", "a.>", "ä"] {
            assert!(Subjects::new(bad).is_err(), "{bad:?}");
        }
        assert!(Subjects::new("a.b-c.d_e").is_ok());
    }

    #[test]
    fn claims_do_not_share_the_journal_subjects() {
        let s = subjects();
        let value = UniqueValue::new("email", "Ann@Example.org ");
        let claim = s.unique_claim(&value);
        assert!(claim.starts_with("factum.bank-claims.unique."), "{claim}");
        assert_eq!(claim.split('.').count(), 5, "{claim}");
        assert!(!claim.starts_with(&s.journal().replace('>', "")));
        let id = EventId::new();
        assert_eq!(s.event_id_claim(id), format!("factum.bank-claims.id.{id}"));
        assert_eq!(s.claims(), "factum.bank-claims.>");
        assert_eq!(s.journal(), "factum.bank.>");
    }

    #[test]
    fn snapshot_keys_use_the_key_alphabet() {
        let id = StreamId::new("a:b@c+d.e-1_2").unwrap();
        assert_eq!(snapshot_key(&id), "a=3Ab=40c=2Bd=2Ee-1_2");
        // Dots become no empty key tokens.
        assert_eq!(snapshot_key(&StreamId::new("a..b").unwrap()), "a=2E=2Eb");
    }

    proptest! {
        #[test]
        fn every_stream_id_round_trips(id in "[A-Za-z0-9][A-Za-z0-9._:@+-]{0,40}") {
            let id = StreamId::new(&id).unwrap();
            let subject = subjects().stream(&id);
            prop_assert_eq!(subject.split('.').count(), 4);
            prop_assert!(!subject.contains(['*', '>', ' ']));
            prop_assert_eq!(subjects().stream_of(&subject), Some(id.clone()));
            let key = snapshot_key(&id);
            prop_assert!(key.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_=./".contains(&b)));
        }

        #[test]
        fn distinct_ids_have_distinct_subjects_and_keys(
            a in "[A-Za-z0-9][A-Za-z0-9._:@+-]{0,12}",
            b in "[A-Za-z0-9][A-Za-z0-9._:@+-]{0,12}",
        ) {
            prop_assume!(a != b);
            let (a, b) = (StreamId::new(&a).unwrap(), StreamId::new(&b).unwrap());
            prop_assert_ne!(subjects().stream(&a), subjects().stream(&b));
            prop_assert_ne!(snapshot_key(&a), snapshot_key(&b));
        }
    }
}
