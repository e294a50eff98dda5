//! Sample payloads drawn from a JSON Schema: every value the schema allows at each place,
//! from a small list of edge values (bounds of each integer format, floats at the edge of
//! `f32`, empty and long strings, each enum value, each alternative, absent optional
//! fields), varied one place at a time around a base value, plus random combinations
//! from a seeded generator.
//!
//! Varying one place at a time is what finds a lost value: two samples that differ in
//! one field and read back the same have lost that field.

use serde_json::{Map, Value, json};

use factum_catalog::schema::resolve;

/// How deep a recursive type is followed before only its smallest value is drawn.
const MAX_DEPTH: usize = 6;

/// The values `schema` allows, as edge values varied one place at a time, then `random`
/// random combinations. The first is the base value. Values may repeat; the caller
/// keeps those the old Rust type accepts.
pub fn samples(root: &Value, random: usize, seed: u64) -> Vec<Value> {
    let mut out = variants(root, root, 0);
    let mut rng = Rng(seed | 1);
    for _ in 0..random {
        out.push(pick(root, root, 0, &mut rng));
    }
    out
}

/// A small xorshift generator: deterministic, so a failing case fails again.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

/// One random value of `schema`: a random choice at each place.
fn pick(root: &Value, schema: &Value, depth: usize, rng: &mut Rng) -> Value {
    let schema = resolve(root, schema);
    if depth >= MAX_DEPTH {
        return variants(root, schema, depth)
            .into_iter()
            .next()
            .unwrap_or(Value::Null);
    }
    if let Some(alternatives) = alternatives(schema)
        && schema.get("properties").is_none()
    {
        let chosen = &alternatives[rng.below(alternatives.len())];
        return pick(root, chosen, depth + 1, rng);
    }
    if schema.get("properties").is_some() || is_map(schema) {
        let mut object = Map::new();
        let required = required(schema);
        for (name, property) in properties(schema) {
            if required.contains(&name.as_str()) || rng.below(3) != 0 {
                object.insert(name.clone(), pick(root, property, depth + 1, rng));
            }
        }
        if let Some(values) = map_values(schema) {
            for key in ["k", "other key"].iter().take(rng.below(3)) {
                object.insert((*key).into(), pick(root, values, depth + 1, rng));
            }
        }
        let mut value = Value::Object(object);
        if let Some(alternatives) = alternatives(schema) {
            let chosen = &alternatives[rng.below(alternatives.len())];
            merge(&mut value, pick(root, chosen, depth + 1, rng));
        }
        return value;
    }
    if let Some(items) = schema.get("items")
        && depth < MAX_DEPTH
        && !(types(schema).contains(&"null") && rng.below(4) == 0)
    {
        if let Value::Array(positions) = items {
            return Value::Array(
                positions
                    .iter()
                    .map(|p| pick(root, p, depth + 1, rng))
                    .collect(),
            );
        }
        let (low, high) = lengths(schema);
        let len = (low + rng.below(3) as u64).min(high);
        return Value::Array(
            (0..len)
                .map(|_| pick(root, items, depth + 1, rng))
                .collect(),
        );
    }
    let all = all_variants(root, schema, depth);
    all[rng.below(all.len())].clone()
}

/// The values of `schema`: its base value first, then each variation of one place.
fn variants(root: &Value, schema: &Value, depth: usize) -> Vec<Value> {
    let schema = resolve(root, schema);
    if depth > 4 * MAX_DEPTH {
        return Vec::new();
    }
    let all = all_variants(root, schema, depth);
    if depth >= MAX_DEPTH {
        // Deep in a recursive type: only the base value.
        return all.into_iter().take(1).collect();
    }
    all
}

fn all_variants(root: &Value, schema: &Value, depth: usize) -> Vec<Value> {
    match schema {
        Value::Bool(true) => return any_values(),
        Value::Bool(false) => return Vec::new(),
        _ => {}
    }
    if let Some(value) = schema.get("const") {
        return vec![value.clone()];
    }
    if let Some(Value::Array(values)) = schema.get("enum") {
        return values.clone();
    }
    // A struct beside a flattened enum: its own fields merged with each alternative.
    if schema.get("properties").is_some()
        && let Some(alternatives) = alternatives(schema)
    {
        let own = object_variants(root, schema, depth);
        let mut out = Vec::new();
        for alternative in alternatives {
            for (i, part) in variants(root, alternative, depth + 1)
                .into_iter()
                .enumerate()
            {
                let owns: &[Value] = if i == 0 { &own } else { &own[..1] };
                for base in owns {
                    let mut value = base.clone();
                    merge(&mut value, part.clone());
                    out.push(value);
                }
            }
        }
        return out;
    }
    if let Some(alternatives) = alternatives(schema) {
        if depth >= MAX_DEPTH {
            // The first alternative that ends, for the base value.
            return alternatives
                .iter()
                .find_map(|a| variants(root, a, depth + 1).into_iter().next())
                .into_iter()
                .collect();
        }
        return alternatives
            .iter()
            .flat_map(|a| variants(root, a, depth + 1))
            .collect();
    }
    if let Some(Value::Array(parts)) = schema.get("allOf") {
        // Every part at its base, each varied in turn.
        let bases: Vec<Vec<Value>> = parts.iter().map(|p| variants(root, p, depth + 1)).collect();
        let mut out = Vec::new();
        for (i, part) in bases.iter().enumerate() {
            for variation in part {
                let mut value = json!({});
                for (j, other) in bases.iter().enumerate() {
                    merge(
                        &mut value,
                        if i == j {
                            variation.clone()
                        } else {
                            other[0].clone()
                        },
                    );
                }
                out.push(value);
            }
        }
        return out;
    }
    let mut out = Vec::new();
    for ty in types(schema) {
        match ty {
            "null" => out.push(Value::Null),
            "boolean" => out.extend([json!(false), json!(true)]),
            "integer" => out.extend(integers()),
            "number" => out.extend(numbers(schema)),
            "string" => out.extend(strings(schema)),
            "array" => out.extend(array_variants(root, schema, depth)),
            "object" => out.extend(object_variants(root, schema, depth)),
            _ => {}
        }
    }
    if out.is_empty() && types(schema).is_empty() {
        return any_values();
    }
    out
}

/// A few values of every JSON type, for a place that accepts anything.
fn any_values() -> Vec<Value> {
    vec![
        json!(null),
        json!(1),
        json!(-2.5),
        json!("text"),
        json!([1, "two"]),
        json!({ "k": true }),
    ]
}

fn object_variants(root: &Value, schema: &Value, depth: usize) -> Vec<Value> {
    let required = required(schema);
    let fields: Vec<(&String, Vec<Value>)> = properties(schema)
        .map(|(name, property)| {
            let values = if depth >= MAX_DEPTH && !required.contains(&name.as_str()) {
                Vec::new()
            } else {
                variants(root, property, depth + 1)
            };
            (name, values)
        })
        .collect();
    let mut base = Map::new();
    for (name, values) in &fields {
        if let Some(first) = values.first() {
            base.insert((*name).clone(), first.clone());
        }
    }
    let mut out = vec![Value::Object(base.clone())];
    if depth >= MAX_DEPTH {
        return out;
    }
    for (name, values) in &fields {
        for value in values.iter().skip(1) {
            let mut varied = base.clone();
            varied.insert((*name).clone(), value.clone());
            out.push(Value::Object(varied));
        }
        if !required.contains(&name.as_str()) {
            let mut without = base.clone();
            without.remove(*name);
            out.push(Value::Object(without));
        }
    }
    if let Some(values) = map_values(schema) {
        for (i, value) in variants(root, values, depth + 1).into_iter().enumerate() {
            let mut varied = base.clone();
            varied.insert(format!("key {i}"), value);
            out.push(Value::Object(varied));
        }
    }
    out
}

fn array_variants(root: &Value, schema: &Value, depth: usize) -> Vec<Value> {
    let (low, high) = lengths(schema);
    match schema.get("items") {
        // A tuple: each position varied in turn.
        Some(Value::Array(positions)) => {
            let values: Vec<Vec<Value>> = positions
                .iter()
                .map(|p| variants(root, p, depth + 1))
                .collect();
            if values.iter().any(Vec::is_empty) {
                return Vec::new();
            }
            let base: Vec<Value> = values.iter().map(|v| v[0].clone()).collect();
            let mut out = vec![Value::Array(base.clone())];
            for (i, position) in values.iter().enumerate() {
                for value in position.iter().skip(1) {
                    let mut varied = base.clone();
                    varied[i] = value.clone();
                    out.push(Value::Array(varied));
                }
            }
            out
        }
        items => {
            let items = items.unwrap_or(&Value::Bool(true));
            let values = if depth >= MAX_DEPTH {
                Vec::new()
            } else {
                variants(root, items, depth + 1)
            };
            let Some(first) = values.first() else {
                return if low == 0 {
                    vec![json!([])]
                } else {
                    Vec::new()
                };
            };
            let fill = |len: u64, at: Option<&Value>| {
                let mut list = vec![first.clone(); len as usize];
                if let (Some(value), Some(slot)) = (at, list.first_mut()) {
                    *slot = value.clone();
                }
                Value::Array(list)
            };
            let mut out = Vec::new();
            for len in [low, low + 1, low + 2] {
                if len <= high && len <= low + 3 {
                    out.push(fill(len, None));
                }
            }
            let varied_len = low.max(1);
            if varied_len <= high {
                for value in values.iter().skip(1) {
                    out.push(fill(varied_len, Some(value)));
                }
            }
            out
        }
    }
}

/// Integers at the edges of every integer type; the old type keeps those it can hold.
fn integers() -> Vec<Value> {
    let mut candidates: Vec<i128> = vec![0, 1, -1, 7, 255, 256, 65_536, -129];
    candidates.extend([
        1 << 24,
        (1 << 24) + 1,
        1 << 53,
        (1 << 53) + 1,
        -(1 << 53) - 1,
        i32::MAX.into(),
        i64::from(i32::MAX) as i128 + 1,
        u32::MAX.into(),
        i64::MAX.into(),
        u64::MAX.into(),
        i64::MIN.into(),
        i8::MIN.into(),
        i16::MIN.into(),
        i32::MIN.into(),
        u8::MAX.into(),
        u16::MAX.into(),
        i16::MAX.into(),
        i8::MAX.into(),
    ]);
    let mut out: Vec<Value> = Vec::new();
    for n in candidates {
        let value = if n >= 0 {
            json!(n as u64)
        } else {
            json!(n as i64)
        };
        if !out.contains(&value) {
            out.push(value);
        }
    }
    out
}

fn numbers(schema: &Value) -> Vec<Value> {
    let mut out = vec![
        json!(0.0),
        json!(1.5),
        json!(-2.25),
        json!(3),
        json!(0.1),
        json!(f64::from_bits(0.1f64.to_bits() + 1)),
        json!(f64::from(f32::MAX)),
    ];
    if schema.get("format").and_then(Value::as_str) != Some("float") {
        out.extend([json!(1e300), json!(-1e300), json!(1.000_000_000_000_000_2)]);
    }
    out
}

fn strings(schema: &Value) -> Vec<Value> {
    let candidates: Vec<String> = match schema.get("format").and_then(Value::as_str) {
        Some("uuid") => vec![
            "67e55044-10b1-426f-9247-bb680e5fe0c8".into(),
            "00000000-0000-0000-0000-000000000000".into(),
        ],
        Some("date-time") => vec![
            "2024-01-02T03:04:05Z".into(),
            "1999-12-31T23:59:59.5+01:00".into(),
        ],
        Some("date") => vec!["2024-01-02".into()],
        _ => vec![
            "a".into(),
            "".into(),
            "ab".into(),
            "é".into(),
            "Hello, world".into(),
            "x".repeat(300),
        ],
    };
    let (low, high) = (
        schema.get("minLength").and_then(Value::as_u64).unwrap_or(0),
        schema
            .get("maxLength")
            .and_then(Value::as_u64)
            .unwrap_or(u64::MAX),
    );
    candidates
        .into_iter()
        .filter(|s| (low..=high).contains(&(s.chars().count() as u64)))
        .map(Value::String)
        .collect()
}

fn alternatives(schema: &Value) -> Option<&Vec<Value>> {
    schema
        .get("anyOf")
        .or_else(|| schema.get("oneOf"))
        .and_then(Value::as_array)
}

fn properties(schema: &Value) -> impl Iterator<Item = (&String, &Value)> {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
}

fn required(schema: &Value) -> Vec<&str> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

fn map_values(schema: &Value) -> Option<&Value> {
    match schema.get("additionalProperties") {
        Some(Value::Bool(true)) => Some(&Value::Bool(true)),
        Some(values @ Value::Object(_)) => Some(values),
        _ => None,
    }
}

fn is_map(schema: &Value) -> bool {
    map_values(schema).is_some()
}

fn types(schema: &Value) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ if schema.get("properties").is_some() => vec!["object"],
        _ if schema.get("items").is_some() => vec!["array"],
        _ => Vec::new(),
    }
}

fn lengths(schema: &Value) -> (u64, u64) {
    (
        schema.get("minItems").and_then(Value::as_u64).unwrap_or(0),
        schema
            .get("maxItems")
            .and_then(Value::as_u64)
            .unwrap_or(u64::MAX),
    )
}

/// Puts `part`'s fields into `value` (both objects; a non-object part is ignored).
fn merge(value: &mut Value, part: Value) {
    if let (Value::Object(into), Value::Object(from)) = (value, part) {
        into.extend(from);
    }
}
