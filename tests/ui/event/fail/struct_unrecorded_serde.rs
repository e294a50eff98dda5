use factum::Event;
use serde::{Deserialize, Serialize};

fn read_sku<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    String::deserialize(d)
}

#[derive(Event, Serialize, Deserialize, schemars::JsonSchema)]
struct Added {
    #[serde(deserialize_with = "read_sku")]
    sku: String,
}

#[derive(Event, Serialize, Deserialize, schemars::JsonSchema, Clone)]
#[serde(try_from = "Added")]
struct Checked {
    sku: String,
}

impl TryFrom<Added> for Checked {
    type Error = String;

    fn try_from(added: Added) -> Result<Self, String> {
        Ok(Checked { sku: added.sku })
    }
}

fn main() {}
