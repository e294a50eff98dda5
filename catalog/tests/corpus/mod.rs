//! serde's own verdict on a schema change: stored payloads of the old Rust type, read by
//! the new one.

pub mod samples;

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// What serde does with every stored payload of the old type when the new type reads it.
#[derive(Debug)]
pub enum SerdeVerdict {
    /// Every sample reads, and no two different ones read as the same value.
    Compatible,
    /// A stored payload is refused: the event can no longer be read.
    Refused { stored: Value, error: String },
    /// Two different stored payloads read as the same value: what told them apart is lost
    /// without an error.
    Lossy {
        stored: Value,
        other: Value,
        read_as: Value,
    },
}

impl fmt::Display for SerdeVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Compatible => write!(f, "compatible"),
            Self::Refused { stored, error } => write!(f, "refused: {stored} ({error})"),
            Self::Lossy {
                stored,
                other,
                read_as,
            } if stored == other => write!(f, "lossy: {stored} reads as another value, {read_as}"),
            Self::Lossy {
                stored,
                other,
                read_as,
            } => write!(f, "lossy: {stored} and {other} both read as {read_as}"),
        }
    }
}

/// A case's own reading of whether a payload was read as the value stored.
pub type Same<'f, Old, New> = &'f dyn Fn(&Old, &New) -> bool;

/// How many random payloads are drawn beside the edge values.
const RANDOM: usize = 200;

/// Stores payloads of `Old` (the hand-written `extra` ones, then those drawn from its
/// schema that `Old` accepts, each as `Old` writes it) and reads them with `New`.
/// A payload is lost when two different ones read as the same value, or when `same`
/// (the case's own reading of what a payload means, for changes that keep the JSON but
/// not its meaning, such as an untagged value read as another variant) says the value
/// read is not the one stored. Returns serde's verdict and how many distinct payloads
/// were tried.
pub fn serde_verdict<Old, New>(
    old_schema: &Value,
    extra: &[Value],
    same: Option<Same<'_, Old, New>>,
) -> (SerdeVerdict, usize)
where
    Old: Serialize + DeserializeOwned,
    New: Serialize + DeserializeOwned,
{
    let mut stored: Vec<Value> = Vec::new();
    for (i, candidate) in extra.iter().enumerate() {
        let value: Old = serde_json::from_value(candidate.clone()).unwrap_or_else(|e| {
            panic!("hand-written sample {i} ({candidate}) is not a payload of the old type: {e}")
        });
        stored.push(serde_json::to_value(value).expect("the old type writes JSON"));
    }
    for candidate in samples::samples(old_schema, RANDOM, 0x5eed_f4c7) {
        if let Ok(value) = serde_json::from_value::<Old>(candidate) {
            stored.push(serde_json::to_value(value).expect("the old type writes JSON"));
        }
    }
    let mut distinct: Vec<Value> = Vec::new();
    for value in stored {
        if !distinct.contains(&value) {
            distinct.push(value);
        }
    }
    // Every field of the old type is exercised: some stored payload holds a value there.
    let fields = old_schema.get("properties").and_then(Value::as_object);
    for field in fields.into_iter().flat_map(|f| f.keys()) {
        assert!(
            distinct
                .iter()
                .any(|v| v.get(field).is_some_and(|x| !x.is_null())),
            "no stored payload of the old type holds a value in `{field}`: give the case a \
             hand-written sample"
        );
    }
    let mut read: BTreeMap<String, Value> = BTreeMap::new();
    for value in &distinct {
        let new: New = match serde_json::from_value(value.clone()) {
            Ok(new) => new,
            Err(e) => {
                return (
                    SerdeVerdict::Refused {
                        stored: value.clone(),
                        error: e.to_string(),
                    },
                    distinct.len(),
                );
            }
        };
        let read_as = serde_json::to_value(&new).expect("the new type writes JSON");
        if let Some(same) = same {
            let old: Old = serde_json::from_value(value.clone()).expect("stored by the old type");
            if !same(&old, &new) {
                return (
                    SerdeVerdict::Lossy {
                        stored: value.clone(),
                        other: value.clone(),
                        read_as,
                    },
                    distinct.len(),
                );
            }
        }
        if let Some(other) = read.insert(read_as.to_string(), value.clone()) {
            return (
                SerdeVerdict::Lossy {
                    stored: value.clone(),
                    other,
                    read_as,
                },
                distinct.len(),
            );
        }
    }
    (SerdeVerdict::Compatible, distinct.len())
}

/// A UUID as a string type that insists on it when reading (as `uuid::Uuid` does), for
/// the cases that move between any string and UUIDs.
#[derive(Clone, Debug, schemars::JsonSchema, serde::Deserialize, serde::Serialize)]
#[serde(try_from = "String", into = "String")]
#[schemars(extend("format" = "uuid"))]
pub struct Uuid(String);

impl TryFrom<String> for Uuid {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        let groups: Vec<usize> = text.split('-').map(str::len).collect();
        let hex = text.chars().all(|c| c == '-' || c.is_ascii_hexdigit());
        if hex && groups == [8, 4, 4, 4, 12] {
            Ok(Self(text))
        } else {
            Err(format!("{text:?} is not a UUID"))
        }
    }
}

impl From<Uuid> for String {
    fn from(uuid: Uuid) -> String {
        uuid.0
    }
}
