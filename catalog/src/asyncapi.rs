//! The catalog as an AsyncAPI 3.0 document, and back.
//!
//! Layout of the document Factum writes:
//!
//! - one **channel** per stream category (`account`, address `account-{id}`), listing the
//!   messages its streams hold, and one `send` **operation** per channel (the store
//!   publishes what aggregates decide);
//! - one **message** per event type and version, keyed `bank.Deposited.v2`, with the
//!   envelope headers from the shared `envelope` message trait, whose `correlationId`
//!   points at the `correlationId` header;
//! - each payload under `components.schemas` with the same key, as draft-07 JSON Schema;
//!   the types it shares (`definitions` in schemars' output) sit beside it as
//!   `bank.Deposited.v2.Money`. Deprecated events' payloads carry `deprecated: true`;
//! - the version history on every message, in the `x-factum` extension: the event's
//!   name, this version, the current version, which versions have upcasters, and the
//!   deprecation reason.
//!
//! Maps are ordered by key (`serde_json` without `preserve_order`), so the same catalog
//! always gives the same bytes.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::error::CatalogError;
use crate::model::{Catalog, Category, Consumer, ConsumerKind, EventEntry};
use crate::schema::{hoist, inline};

/// The AsyncAPI version written.
pub const ASYNCAPI_VERSION: &str = "3.0.0";
/// The message trait holding the envelope headers.
pub const ENVELOPE_TRAIT: &str = "envelope";
/// The extension key holding Factum's own facts about a message.
pub const EXTENSION: &str = "x-factum";

/// The extension of the document's `info` that lists the consumers (projections and
/// process managers) and the events each handles.
pub const CONSUMERS: &str = "x-factum-consumers";

/// The envelope headers every stored event carries, as one JSON Schema.
fn envelope_headers() -> Value {
    json!({
        "type": "object",
        "required": ["eventId", "eventType", "schemaVersion", "recordedAt"],
        "properties": {
            "eventId": { "type": "string", "format": "uuid", "description": "The event's id (UUIDv7 unless the writer chose one)." },
            "eventType": { "type": "string", "description": "The stored type name, such as `bank.Deposited`." },
            "schemaVersion": { "type": "integer", "minimum": 1, "description": "The payload's schema version; older versions are upcast on read." },
            "correlationId": { "type": "string", "description": "The id shared by everything one request caused." },
            "causationId": { "type": "string", "description": "The id of the message or command that caused this event." },
            "recordedAt": { "type": "string", "format": "date-time", "description": "When the store recorded it." },
            "tenant": { "type": "string", "description": "The tenant the event belongs to, where the application has tenants." }
        }
    })
}

/// Writes `catalog` as an AsyncAPI 3.0 document.
pub fn to_document(catalog: &Catalog) -> Value {
    let mut channels = Map::new();
    let mut operations = Map::new();
    for (name, category) in &catalog.categories {
        let mut messages = Map::new();
        for event in &category.events {
            let Some(entry) = catalog.events.get(event) else {
                continue;
            };
            for version in entry.schemas.keys() {
                let key = entry.key(*version);
                messages.insert(
                    key.clone(),
                    json!({ "$ref": format!("#/components/messages/{key}") }),
                );
            }
        }
        let mut channel = json!({
            "address": format!("{name}-{{id}}"),
            "title": name,
            "parameters": { "id": { "description": format!("The id of one `{name}` stream.") } },
            "messages": messages,
        });
        if let Some(description) = &category.description {
            channel["description"] = Value::String(description.clone());
        }
        let message_refs: Vec<Value> = channel["messages"]
            .as_object()
            .map(|m| {
                m.keys()
                    .map(|key| json!({ "$ref": format!("#/channels/{name}/messages/{key}") }))
                    .collect()
            })
            .unwrap_or_default();
        operations.insert(
            format!("{name}.append"),
            json!({
                "action": "send",
                "title": format!("Events appended to `{name}` streams"),
                "channel": { "$ref": format!("#/channels/{name}") },
                "messages": message_refs,
            }),
        );
        channels.insert(name.clone(), channel);
    }
    // Each consumer receives, from each category, the current versions of the events it
    // handles (older versions reach it upcast).
    for consumer in &catalog.consumers {
        for (category_name, category) in &catalog.categories {
            let refs: Vec<Value> = category
                .events
                .intersection(&consumer.events)
                .filter_map(|event| catalog.events.get(event))
                .map(|entry| {
                    let key = entry.key(entry.version);
                    json!({ "$ref": format!("#/channels/{category_name}/messages/{key}") })
                })
                .collect();
            if refs.is_empty() {
                continue;
            }
            operations.insert(
                format!(
                    "{}.{}.{category_name}",
                    consumer.kind.as_str(),
                    consumer.name
                ),
                json!({
                    "action": "receive",
                    "title": format!(
                        "The {} `{}` handles `{category_name}` events",
                        consumer.kind.as_str().replace('-', " "),
                        consumer.name
                    ),
                    "channel": { "$ref": format!("#/channels/{category_name}") },
                    "messages": refs,
                }),
            );
        }
    }

    let mut messages = Map::new();
    let mut schemas = Map::new();
    for entry in catalog.events.values() {
        for (version, schema) in &entry.schemas {
            let key = entry.key(*version);
            let (mut payload, shared) = hoist(&key, schema);
            if entry.deprecated.is_some()
                && let Value::Object(map) = &mut payload
            {
                map.insert("deprecated".into(), Value::Bool(true));
            }
            schemas.insert(key.clone(), payload);
            schemas.extend(shared);
            messages.insert(key.clone(), message(entry, *version, &key));
        }
    }

    let mut info = json!({ "title": catalog.title, "version": catalog.version });
    if let Some(description) = &catalog.description {
        info["description"] = Value::String(description.clone());
    }
    // Every consumer with every event it handles, whether or not a channel carries them
    // (the operations above are what AsyncAPI tools draw; this is what the catalog reads).
    let consumers: Vec<Value> = catalog
        .consumers
        .iter()
        .map(|c| json!({ "kind": c.kind.as_str(), "name": c.name, "events": c.events }))
        .collect();
    if !consumers.is_empty() {
        info[CONSUMERS] = Value::Array(consumers);
    }
    json!({
        "asyncapi": ASYNCAPI_VERSION,
        "info": info,
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "schemas": schemas,
            "messageTraits": {
                ENVELOPE_TRAIT: {
                    "headers": envelope_headers(),
                    "correlationId": {
                        "description": "Events caused by one request share this id.",
                        "location": "$message.header#/correlationId"
                    }
                }
            }
        }
    })
}

fn message(entry: &EventEntry, version: u32, key: &str) -> Value {
    let current = version == entry.version;
    let mut message = json!({
        "name": entry.name,
        "title": format!("{} v{version}", entry.name),
        "contentType": "application/json",
        "payload": { "$ref": format!("#/components/schemas/{key}") },
        "traits": [{ "$ref": format!("#/components/messageTraits/{ENVELOPE_TRAIT}") }],
    });
    let description = match (&entry.description, current) {
        (Some(d), true) => Some(d.clone()),
        (_, false) => Some(format!(
            "Version {version} of `{}`, as stored by earlier code. Read today through the \
             upcasters up to version {}.",
            entry.name, entry.version
        )),
        (None, true) => None,
    };
    if let Some(description) = description {
        if let Some(summary) = summary(&description) {
            message["summary"] = Value::String(summary);
        }
        message["description"] = Value::String(description);
    }
    let mut facts = json!({
        "event": entry.name,
        "version": version,
        "currentVersion": entry.version,
        "upcasters": entry.upcasters.iter().map(|from| json!({ "from": from, "to": from + 1 })).collect::<Vec<_>>(),
    });
    if let Some(reason) = &entry.deprecated {
        facts["deprecated"] = Value::String(reason.clone());
    }
    for (key, value) in [
        ("deprecatedSince", &entry.deprecated_since),
        ("sunset", &entry.sunset),
        ("replacedBy", &entry.replaced_by),
    ] {
        if let Some(value) = value {
            facts[key] = Value::String(value.clone());
        }
    }
    if let Some(rust_type) = &entry.rust_type {
        facts["rustType"] = Value::String(rust_type.clone());
    }
    message[EXTENSION] = facts;
    message
}

/// Reads a catalog back from a document [`to_document`] wrote.
pub fn from_document(document: &Value) -> Result<Catalog, CatalogError> {
    let invalid = |what: String| CatalogError::NotACatalog(what);
    match document.get("asyncapi").and_then(Value::as_str) {
        Some(v) if v.starts_with("3.") => {}
        Some(v) => return Err(invalid(format!("it is AsyncAPI {v}; Factum reads 3.x"))),
        None => return Err(invalid("it has no `asyncapi` version field".into())),
    }
    let info = document.get("info").cloned().unwrap_or(Value::Null);
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
    let empty = Map::new();
    let components = document.get("components");
    let messages = components
        .and_then(|c| c.get("messages"))
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let schemas = components
        .and_then(|c| c.get("schemas"))
        .and_then(Value::as_object)
        .unwrap_or(&empty);

    let mut events: BTreeMap<String, EventEntry> = BTreeMap::new();
    for (key, message) in messages {
        let facts = message
            .get(EXTENSION)
            .ok_or_else(|| invalid(format!("message `{key}` has no `{EXTENSION}` extension")))?;
        let name = text(facts, "event")
            .ok_or_else(|| invalid(format!("message `{key}`: `{EXTENSION}.event` is missing")))?;
        let number = |field: &str| {
            facts
                .get(field)
                .and_then(Value::as_u64)
                .and_then(|v| u32::try_from(v).ok())
                .filter(|v| *v >= 1)
                .ok_or_else(|| {
                    invalid(format!(
                        "message `{key}`: `{EXTENSION}.{field}` is not a version number"
                    ))
                })
        };
        let version = number("version")?;
        let current = number("currentVersion")?;
        let schema_key = message
            .pointer("/payload/$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/components/schemas/"))
            .unwrap_or(key);
        let schema = inline(schema_key, schemas).ok_or_else(|| {
            invalid(format!(
                "message `{key}`: payload schema `{schema_key}` is missing"
            ))
        })?;
        let schema = without_deprecated_flag(schema);
        let entry = events.entry(name.clone()).or_insert_with(|| {
            let mut entry = EventEntry::new(name.clone(), current, Value::Null);
            entry.schemas.clear();
            entry
        });
        if entry.version != current {
            return Err(invalid(format!(
                "messages of `{name}` disagree on its current version ({} and {current})",
                entry.version
            )));
        }
        entry.schemas.insert(version, schema);
        if version == current {
            entry.version = current;
            entry.description = text(message, "description");
            entry.deprecated = text(facts, "deprecated");
            entry.deprecated_since = text(facts, "deprecatedSince");
            entry.sunset = text(facts, "sunset");
            entry.replaced_by = text(facts, "replacedBy");
            entry.rust_type = text(facts, "rustType");
            entry.upcasters = facts
                .get("upcasters")
                .and_then(Value::as_array)
                .map(|ups| {
                    ups.iter()
                        .filter_map(|u| u.get("from").and_then(Value::as_u64))
                        .filter_map(|v| u32::try_from(v).ok())
                        .collect::<BTreeSet<u32>>()
                })
                .unwrap_or_default();
        }
    }
    for entry in events.values() {
        if !entry.schemas.contains_key(&entry.version) {
            return Err(invalid(format!(
                "event `{}` has no message for its current version {}",
                entry.name, entry.version
            )));
        }
    }

    let mut categories = BTreeMap::new();
    if let Some(channels) = document.get("channels").and_then(Value::as_object) {
        for (name, channel) in channels {
            let mut category = Category {
                description: text(channel, "description"),
                events: BTreeSet::new(),
            };
            if let Some(refs) = channel.get("messages").and_then(Value::as_object) {
                for key in refs.keys() {
                    if let Some(event) = messages
                        .get(key)
                        .and_then(|m| m.pointer(&format!("/{EXTENSION}/event")))
                        .and_then(Value::as_str)
                    {
                        category.events.insert(event.to_owned());
                    }
                }
            }
            categories.insert(name.clone(), category);
        }
    }
    let mut consumers = BTreeSet::new();
    for (i, facts) in info
        .get(CONSUMERS)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let kind = text(facts, "kind")
            .and_then(|k| ConsumerKind::parse(&k))
            .ok_or_else(|| invalid(format!("`info.{CONSUMERS}[{i}]`: unknown consumer kind")))?;
        let name = text(facts, "name")
            .ok_or_else(|| invalid(format!("`info.{CONSUMERS}[{i}]` has no name")))?;
        let events = facts
            .get("events")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|e| e.as_str().map(str::to_owned))
            .collect();
        consumers.insert(Consumer { kind, name, events });
    }
    Ok(Catalog {
        consumers,
        title: text(&info, "title").unwrap_or_default(),
        version: text(&info, "version").unwrap_or_default(),
        description: text(&info, "description"),
        categories,
        events,
    })
}

/// The deprecation flag belongs to the event, not to its schema.
fn without_deprecated_flag(mut schema: Value) -> Value {
    if let Value::Object(map) = &mut schema {
        map.remove("deprecated");
    }
    schema
}

/// The document as YAML.
pub fn to_yaml(document: &Value) -> Result<String, CatalogError> {
    yaml_serde::to_string(document).map_err(|e| CatalogError::Write(e.to_string()))
}

/// The document as pretty-printed JSON, with a final newline.
pub fn to_json(document: &Value) -> String {
    let mut text = serde_json::to_string_pretty(document).unwrap_or_default();
    text.push('\n');
    text
}

/// Parses a document from YAML or JSON text (JSON is YAML too).
pub fn parse(text: &str) -> Result<Value, CatalogError> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') {
        serde_json::from_str(text).map_err(|e| CatalogError::Parse(e.to_string()))
    } else {
        yaml_serde::from_str(text).map_err(|e| CatalogError::Parse(e.to_string()))
    }
}

/// The first sentence of a description's first paragraph, whole and on one line (a doc
/// comment's paragraph wraps over several lines; a summary cut at the first line break
/// would stop mid-sentence). The whole paragraph if it has no sentence end.
pub(crate) fn summary(description: &str) -> Option<String> {
    let paragraph = description
        .lines()
        .map(str::trim)
        .take_while(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if paragraph.is_empty() {
        return None;
    }
    let end = paragraph.char_indices().find_map(|(i, c)| {
        let after = i + c.len_utf8();
        (matches!(c, '.' | '!' | '?') && paragraph[after..].starts_with(' ')).then_some(after)
    });
    Some(match end {
        Some(end) => paragraph[..end].to_owned(),
        None => paragraph,
    })
}

#[cfg(test)]
mod tests {
    use super::summary;

    #[test]
    fn a_summary_is_the_first_whole_sentence() {
        // A doc paragraph wrapped mid-sentence (bank.WithdrawalRejected's).
        let doc = "A withdrawal was refused for lack of funds: kept as a fact, so that \"who tried to\noverdraw\" can be answered. More text.\n\nA second paragraph.";
        assert_eq!(
            summary(doc).as_deref(),
            Some(
                "A withdrawal was refused for lack of funds: kept as a fact, so that \"who tried to overdraw\" can be answered."
            )
        );
        assert_eq!(summary("Money in.").as_deref(), Some("Money in."));
        assert_eq!(
            summary("Names `bank.Deposited` and\nwraps").as_deref(),
            Some("Names `bank.Deposited` and wraps")
        );
        assert_eq!(summary("\n\nlater"), None);
    }
}
