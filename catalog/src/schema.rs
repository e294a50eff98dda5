//! JSON Schema plumbing: following `$ref`s, and moving an event's shared definitions
//! between a self-contained schema (`definitions` inside it, as schemars writes draft-07)
//! and an AsyncAPI document (`#/components/schemas/…`, shared by every message).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// Where a self-contained schema keeps its shared parts.
const DEFINITIONS: &str = "definitions";
const LOCAL_PREFIXES: [&str; 2] = ["#/definitions/", "#/$defs/"];
const COMPONENT_PREFIX: &str = "#/components/schemas/";

/// Follows `$ref`s (and single-element `allOf`s, which schemars uses to attach a
/// description to a reference) within `root` until a schema with content is reached.
/// A reference that leads nowhere, or in a circle, stops where it is.
pub fn resolve<'a>(root: &'a Value, mut schema: &'a Value) -> &'a Value {
    for _ in 0..64 {
        if let Some(target) = schema.get("$ref").and_then(Value::as_str) {
            match lookup(root, target) {
                Some(found) => schema = found,
                None => return schema,
            }
        } else if let Some([only]) = schema
            .get("allOf")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
        {
            schema = only;
        } else {
            return schema;
        }
    }
    schema
}

/// The schema a local reference (`#/definitions/X`, `#/$defs/X`) names in `root`.
pub fn lookup<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    root.pointer(pointer)
}

/// Rewrites every `$ref` in `schema` with `rename`; refs it returns `None` for stay.
fn rewrite_refs(schema: &mut Value, rename: &impl Fn(&str) -> Option<String>) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get_mut("$ref")
                && let Some(new) = rename(target)
            {
                *target = new;
            }
            for (key, value) in map.iter_mut() {
                // `properties` and friends hold names, not schemas, at their first level,
                // but recursing into them is harmless: a `$ref` key only means something
                // in a schema, and names are never `$ref`.
                if key != "$ref" {
                    rewrite_refs(value, rename);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rewrite_refs(v, rename)),
        _ => {}
    }
}

fn local_name(reference: &str) -> Option<&str> {
    LOCAL_PREFIXES
        .iter()
        .find_map(|prefix| reference.strip_prefix(prefix))
}

/// Splits a self-contained schema into the payload schema and its shared definitions,
/// named `{key}.{definition}` and referenced as `#/components/schemas/{key}.{definition}`.
/// The `$schema` keyword is dropped: the document says which dialect it uses.
pub fn hoist(key: &str, schema: &Value) -> (Value, BTreeMap<String, Value>) {
    let mut payload = schema.clone();
    let mut definitions = BTreeMap::new();
    if let Value::Object(map) = &mut payload {
        map.remove("$schema");
        for section in ["definitions", "$defs"] {
            if let Some(Value::Object(defs)) = map.remove(section) {
                for (name, def) in defs {
                    definitions.insert(format!("{key}.{name}"), def);
                }
            }
        }
    }
    let rename = |reference: &str| {
        if reference == "#" {
            // A recursive payload refers to itself.
            return Some(format!("{COMPONENT_PREFIX}{key}"));
        }
        local_name(reference).map(|name| format!("{COMPONENT_PREFIX}{key}.{name}"))
    };
    rewrite_refs(&mut payload, &rename);
    for def in definitions.values_mut() {
        rewrite_refs(def, &rename);
    }
    (payload, definitions)
}

/// The reverse of [`hoist`]: the payload `components.schemas[key]` made self-contained
/// again, with every component it reaches (directly or not) under `definitions`.
/// Components named `{key}.X` come back as `X`; any other keeps its full name.
pub fn inline(key: &str, components: &Map<String, Value>) -> Option<Value> {
    let mut payload = components.get(key)?.clone();
    let prefix = format!("{key}.");
    let short = |name: &str| name.strip_prefix(&prefix).unwrap_or(name).to_owned();
    // Collect every reachable component, breadth first.
    let mut reached: BTreeMap<String, Value> = BTreeMap::new();
    let mut queue = referenced_components(&payload);
    while let Some(name) = queue.pop() {
        if name == key || reached.contains_key(&name) {
            continue;
        }
        if let Some(def) = components.get(&name) {
            queue.extend(referenced_components(def));
            reached.insert(name, def.clone());
        }
    }
    let rename = |reference: &str| {
        reference.strip_prefix(COMPONENT_PREFIX).map(|name| {
            if name == key {
                "#".to_owned()
            } else {
                format!("#/{DEFINITIONS}/{}", short(name))
            }
        })
    };
    rewrite_refs(&mut payload, &rename);
    if !reached.is_empty() {
        let mut defs = Map::new();
        for (name, mut def) in reached {
            rewrite_refs(&mut def, &rename);
            defs.insert(short(&name), def);
        }
        if let Value::Object(map) = &mut payload {
            map.insert(DEFINITIONS.to_owned(), Value::Object(defs));
        }
    }
    Some(payload)
}

fn referenced_components(schema: &Value) -> Vec<String> {
    let mut found = Vec::new();
    collect_refs(schema, &mut found);
    found
        .into_iter()
        .filter_map(|r| r.strip_prefix(COMPONENT_PREFIX).map(str::to_owned))
        .collect()
}

fn collect_refs(schema: &Value, out: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                out.push(target.clone());
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// A JSON value that `schema` accepts, for the catalog's examples: the first enum value,
/// the first alternative, an empty string, zero, and every property of an object.
pub fn example(root: &Value, schema: &Value) -> Value {
    example_at(root, schema, 0)
}

fn example_at(root: &Value, schema: &Value, depth: usize) -> Value {
    let schema = resolve(root, schema);
    if depth > 8 {
        return Value::Null;
    }
    if let Some(value) = schema.get("const") {
        return value.clone();
    }
    if let Some(first) = schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|v| v.first())
    {
        return first.clone();
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(first) = schema
            .get(key)
            .and_then(Value::as_array)
            .and_then(|v| v.first())
        {
            return example_at(root, first, depth + 1);
        }
    }
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ if schema.get("properties").is_some() => vec!["object"],
        _ => vec![],
    };
    match types.iter().find(|t| **t != "null").copied() {
        Some("object") => {
            let mut out = Map::new();
            if let Some(Value::Object(props)) = schema.get("properties") {
                for (name, prop) in props {
                    out.insert(name.clone(), example_at(root, prop, depth + 1));
                }
            }
            Value::Object(out)
        }
        Some("array") => match schema.get("items") {
            Some(items) => Value::Array(vec![example_at(root, items, depth + 1)]),
            None => Value::Array(vec![]),
        },
        Some("string") => Value::String(match schema.get("format").and_then(Value::as_str) {
            Some("date-time") => "2026-01-01T00:00:00Z".to_owned(),
            Some("uuid") => "00000000-0000-0000-0000-000000000000".to_owned(),
            _ => String::new(),
        }),
        Some("integer") => Value::from(0),
        Some("number") => Value::from(0.0),
        Some("boolean") => Value::Bool(false),
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hoisting_and_inlining_give_back_the_schema() {
        let schema = json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "title": "Moved",
            "type": "object",
            "properties": {
                "to": { "$ref": "#/definitions/Place" },
                "via": { "type": "array", "items": { "$ref": "#/definitions/Place" } }
            },
            "required": ["to"],
            "definitions": {
                "Place": { "type": "object", "properties": { "at": { "$ref": "#/definitions/Point" } } },
                "Point": { "type": "array", "items": { "type": "number" } }
            }
        });
        let (payload, defs) = hoist("x.Moved.v1", &schema);
        assert_eq!(
            payload["properties"]["to"]["$ref"],
            "#/components/schemas/x.Moved.v1.Place"
        );
        assert_eq!(
            defs.keys().collect::<Vec<_>>(),
            ["x.Moved.v1.Place", "x.Moved.v1.Point"]
        );
        let mut components: Map<String, Value> = defs.into_iter().collect();
        components.insert("x.Moved.v1".into(), payload);
        let back = inline("x.Moved.v1", &components).unwrap();
        let mut expected = schema.clone();
        expected.as_object_mut().unwrap().remove("$schema");
        assert_eq!(back, expected);
    }

    #[test]
    fn a_recursive_payload_refers_to_its_component() {
        let schema = json!({ "type": "object", "properties": { "children": { "type": "array", "items": { "$ref": "#" } } } });
        let (payload, _) = hoist("x.Node.v1", &schema);
        assert_eq!(
            payload["properties"]["children"]["items"]["$ref"],
            "#/components/schemas/x.Node.v1"
        );
        let components: Map<String, Value> =
            [("x.Node.v1".to_owned(), payload)].into_iter().collect();
        assert_eq!(inline("x.Node.v1", &components).unwrap(), schema);
    }

    #[test]
    fn examples_follow_the_schema() {
        let schema = json!({
            "type": "object",
            "properties": {
                "id": { "type": "string", "format": "uuid" },
                "n": { "type": ["integer", "null"] },
                "kind": { "$ref": "#/definitions/Kind" }
            },
            "definitions": { "Kind": { "type": "string", "enum": ["a", "b"] } }
        });
        assert_eq!(
            example(&schema, &schema),
            json!({ "id": "00000000-0000-0000-0000-000000000000", "n": 0, "kind": "a" })
        );
    }
}
