//! Properties of the gate over random catalogs: a catalog is always compatible with
//! itself, a new version with an upcaster is always accepted whatever its payload, and
//! the AsyncAPI document gives back the catalog it was written from.

use std::collections::BTreeSet;

use factum_catalog::asyncapi::{from_document, parse, to_document, to_yaml};
use factum_catalog::{Catalog, Category, Consumer, ConsumerKind, EventEntry, check};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// Leaf schemas in the shapes schemars writes.
fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!({ "type": "string" })),
        Just(json!({ "type": "string", "format": "uuid" })),
        Just(json!({ "type": "string", "format": "date-time" })),
        Just(json!({ "type": "integer", "format": "int64" })),
        Just(json!({ "type": "integer", "format": "uint32", "minimum": 0 })),
        Just(json!({ "type": "number", "format": "double" })),
        Just(json!({ "type": "boolean" })),
        Just(json!({ "type": ["string", "null"] })),
        prop::collection::btree_set("[A-Z][a-z]{0,5}", 1..4)
            .prop_map(|values| json!({ "type": "string", "enum": values })),
    ]
}

/// Schemas: leaves, objects with some fields required, lists, maps, optional values,
/// and tagged unions.
fn schema() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            (
                prop::collection::btree_map("[a-z]{1,6}", inner.clone(), 1..5),
                any::<u8>(),
                any::<bool>()
            )
                .prop_map(|(props, mask, closed)| object(props, mask, closed)),
            inner
                .clone()
                .prop_map(|items| json!({ "type": "array", "items": items })),
            inner
                .clone()
                .prop_map(|values| json!({ "type": "object", "additionalProperties": values })),
            inner
                .clone()
                .prop_map(|v| json!({ "anyOf": [v, { "type": "null" }] })),
            prop::collection::vec(("[A-Z][a-z]{1,5}", inner), 1..3).prop_map(|variants| {
                let alternatives: Vec<Value> = variants
                    .into_iter()
                    .map(|(tag, body)| object([(tag, body)].into_iter().collect(), 1, true))
                    .collect();
                json!({ "oneOf": alternatives })
            }),
        ]
    })
}

fn object(props: std::collections::BTreeMap<String, Value>, mask: u8, closed: bool) -> Value {
    let required: Vec<&String> = props
        .keys()
        .enumerate()
        .filter(|(i, _)| mask & (1 << (i % 8)) != 0)
        .map(|(_, k)| k)
        .collect();
    let mut object = json!({ "type": "object", "properties": props, "required": required });
    if closed {
        object["additionalProperties"] = Value::Bool(false);
    }
    object
}

/// A payload schema as schemars writes a root: an object, with some parts moved into
/// `definitions` and referenced.
fn payload() -> impl Strategy<Value = Value> {
    (
        prop::collection::btree_map("[a-z]{1,6}", schema(), 1..5),
        prop::collection::btree_map("[A-Z][a-z]{1,6}", schema(), 0..3),
        any::<u8>(),
    )
        .prop_map(|(mut props, definitions, mask)| {
            for (i, name) in definitions.keys().enumerate() {
                props.insert(
                    format!("ref{i}"),
                    json!({ "$ref": format!("#/definitions/{name}") }),
                );
            }
            let mut root = object(props, mask, false);
            root["title"] = Value::String("Payload".into());
            if !definitions.is_empty() {
                root["definitions"] = Value::Object(definitions.into_iter().collect::<Map<_, _>>());
            }
            root
        })
}

fn entry() -> impl Strategy<Value = EventEntry> {
    (
        "[a-z]{1,5}\\.[A-Z][a-z]{1,8}",
        1u32..4,
        payload(),
        any::<bool>(),
        prop::option::of("[a-z ]{0,20}"),
    )
        .prop_map(|(name, version, schema, deprecated, description)| {
            let mut entry = EventEntry::new(name, version, schema);
            entry.upcasters = (1..version).collect();
            entry.deprecated = deprecated.then(|| "replaced".to_owned());
            entry.description = description;
            entry
        })
}

fn catalog() -> impl Strategy<Value = Catalog> {
    (
        prop::collection::vec(entry(), 1..6),
        prop::collection::vec("[a-z]{1,6}", 1..3),
        prop::collection::vec((any::<bool>(), "[a-z]{1,6}", any::<u8>()), 0..4),
    )
        .prop_map(|(entries, categories, consumers)| {
            let events: std::collections::BTreeMap<String, EventEntry> =
                entries.into_iter().map(|e| (e.name.clone(), e)).collect();
            let categories = categories
                .into_iter()
                .enumerate()
                .map(|(i, name)| {
                    let members: BTreeSet<String> = events
                        .keys()
                        .enumerate()
                        .filter(|(j, _)| j % 2 == i % 2)
                        .map(|(_, k)| k.clone())
                        .collect();
                    (
                        name,
                        Category {
                            description: None,
                            events: members,
                        },
                    )
                })
                .collect();
            // Consumers handling a subset of the events each (by the bits of a byte; an
            // event of another domain too, which no channel carries).
            let consumers = consumers
                .into_iter()
                .map(|(manager, name, mask)| Consumer {
                    kind: if manager {
                        ConsumerKind::ProcessManager
                    } else {
                        ConsumerKind::Projection
                    },
                    name,
                    events: events
                        .keys()
                        .enumerate()
                        .filter(|(i, _)| mask & (1 << i) != 0)
                        .map(|(_, k)| k.clone())
                        .chain((mask & 0x80 != 0).then(|| "other.Elsewhere".to_owned()))
                        .collect(),
                })
                .collect();
            Catalog {
                title: "random".into(),
                version: "0.1.0".into(),
                description: None,
                categories,
                events,
                consumers,
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn a_catalog_is_compatible_with_itself(catalog in catalog()) {
        prop_assert_eq!(check(&catalog, &catalog), vec![]);
    }

    #[test]
    fn a_new_version_with_an_upcaster_is_accepted(
        catalog in catalog(),
        pick in any::<prop::sample::Index>(),
        new_payload in payload(),
    ) {
        let mut next = catalog.clone();
        let name = pick.get(&catalog.events.keys().cloned().collect::<Vec<_>>()).clone();
        let entry = next.events.get_mut(&name).unwrap();
        entry.upcasters.insert(entry.version);
        entry.version += 1;
        entry.schemas.insert(entry.version, new_payload);
        prop_assert_eq!(check(&catalog, &next), vec![]);
    }

    #[test]
    fn the_asyncapi_document_gives_back_the_catalog(catalog in catalog()) {
        let document = to_document(&catalog);
        let yaml = to_yaml(&document).unwrap();
        let back = from_document(&parse(&yaml).unwrap()).unwrap();
        prop_assert_eq!(&back, &catalog);
        // And writing is deterministic.
        prop_assert_eq!(to_yaml(&to_document(&back)).unwrap(), yaml);
    }
}
