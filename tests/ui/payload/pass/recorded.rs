use serde::{Deserialize, Serialize};
use serde_json::json;

/// A line whose quantity was renamed, read through a conversion that may fail.
#[factum::payload]
#[derive(Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct Line {
    #[serde(alias = "qty", alias = "count")]
    quantity: u32,
    #[serde(deserialize_with = "read_sku")]
    sku: String,
    unit: Unit,
}

fn read_sku<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    String::deserialize(d)
}

#[factum::payload]
#[derive(Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind")]
enum Unit {
    #[serde(alias = "pc")]
    Piece,
    Kilo,
    #[serde(other)]
    Unknown,
}

#[factum::payload]
#[derive(Serialize, Deserialize, schemars::JsonSchema)]
#[serde(try_from = "u32")]
struct Positive(u32);

impl TryFrom<u32> for Positive {
    type Error = String;

    fn try_from(n: u32) -> Result<Self, String> {
        if n == 0 { Err("zero".into()) } else { Ok(Positive(n)) }
    }
}

fn schema<T: schemars::JsonSchema>() -> serde_json::Value {
    serde_json::to_value(factum::schema_of::<T>()).unwrap()
}

pub fn main() {
    let line = schema::<Line>();
    assert_eq!(line["properties"]["quantity"]["x-aliases"], json!(["qty", "count"]));
    assert_eq!(line["properties"]["sku"]["x-deserialize-with"], json!("read_sku"));
    let unit = schema::<Unit>();
    let variants = unit["oneOf"].as_array().unwrap();
    assert_eq!(variants[0]["x-aliases"], json!(["pc"]));
    assert_eq!(variants[2]["x-other"], json!(true));
    assert_eq!(schema::<Positive>()["x-try-from"], json!("u32"));
    // serde reads what the schema now records.
    let read: Line = serde_json::from_value(json!({
        "qty": 2, "sku": "A-1", "unit": { "kind": "pc" }
    }))
    .unwrap();
    assert_eq!(read.quantity, 2);
    assert!(matches!(read.unit, Unit::Piece));
}
