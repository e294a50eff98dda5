//! Name rules that `factum` checks at run time and `factum-macros` checks at compile time:
//! one home for both, since a proc-macro crate cannot export functions. Not meant to be
//! used directly; `factum` re-exports what users need (`StreamId::new` and the limits).

/// The longest stream id accepted, in bytes.
pub const MAX_STREAM_ID_LEN: usize = 255;

/// The longest event type name accepted, in bytes.
pub const MAX_EVENT_TYPE_LEN: usize = 255;

/// Whether `b` may appear in a stream id: an ASCII letter or digit, or one of `- _ . : @ +`.
pub fn is_stream_id_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'@' | b'+')
}

/// Why `id` is not a valid stream id, if it is not: 1 to 255 stream id bytes, starting
/// with an ASCII letter or digit.
pub fn stream_id_problem(id: &str) -> Option<&'static str> {
    if id.is_empty() {
        Some("a stream id may not be empty")
    } else if id.len() > MAX_STREAM_ID_LEN {
        Some("a stream id may be at most 255 bytes long")
    } else if !id.as_bytes()[0].is_ascii_alphanumeric() {
        Some("a stream id must start with an ASCII letter or digit")
    } else if !id.bytes().all(is_stream_id_byte) {
        Some("a stream id may contain only ASCII letters, digits and - _ . : @ +")
    } else {
        None
    }
}

/// Why `category` is not a valid stream category, if it is not: the category is the part
/// of a stream id before its first `-`, so it follows the stream id rules without `-`.
pub fn category_problem(category: &str) -> Option<&'static str> {
    if category.is_empty() {
        Some("a category may not be empty")
    } else if category.contains('-') {
        Some(
            "a category may not contain '-', which separates it from the instance id in a stream id",
        )
    } else if !category.as_bytes()[0].is_ascii_alphanumeric() {
        Some("a category must start with an ASCII letter or digit")
    } else if !category.bytes().all(is_stream_id_byte) {
        Some("a category may contain only ASCII letters, digits and _ . : @ +")
    } else {
        None
    }
}

/// What is wrong with an event type name; each crate words it for its own readers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventTypeProblem {
    /// The name is empty.
    Empty,
    /// The name is longer than [`MAX_EVENT_TYPE_LEN`] bytes.
    TooLong,
    /// The name holds a character other than ASCII letters, digits and `_ . : -`.
    Characters,
}

/// Why `name` is not a valid event type name, if it is not: 1 to 255 ASCII letters,
/// digits and `_ . : -`.
pub fn event_type_problem(name: &str) -> Option<EventTypeProblem> {
    if name.is_empty() {
        Some(EventTypeProblem::Empty)
    } else if name.len() > MAX_EVENT_TYPE_LEN {
        Some(EventTypeProblem::TooLong)
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'))
    {
        Some(EventTypeProblem::Characters)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_are_stream_id_prefixes() {
        for good in ["account", "a", "9lives", "bank.account", "a_b:c@d+e"] {
            assert_eq!(category_problem(good), None, "{good:?}");
            assert_eq!(stream_id_problem(&format!("{good}-42")), None, "{good:?}");
        }
        for bad in ["", "has-dash", "_x", ".x", "a b", "é"] {
            assert!(category_problem(bad).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn stream_ids() {
        assert_eq!(stream_id_problem("account-42"), None);
        assert!(stream_id_problem("").is_some());
        assert!(stream_id_problem("-42").is_some());
        assert!(stream_id_problem("a/b").is_some());
        assert!(stream_id_problem(&"a".repeat(256)).is_some());
        assert_eq!(stream_id_problem(&"a".repeat(255)), None);
    }

    #[test]
    fn event_types() {
        assert_eq!(event_type_problem("bank.Deposited"), None);
        assert_eq!(event_type_problem("v2:Deposited-x_1"), None);
        assert_eq!(event_type_problem(""), Some(EventTypeProblem::Empty));
        assert_eq!(
            event_type_problem(&"a".repeat(256)),
            Some(EventTypeProblem::TooLong)
        );
        assert_eq!(
            event_type_problem("a b"),
            Some(EventTypeProblem::Characters)
        );
    }
}
