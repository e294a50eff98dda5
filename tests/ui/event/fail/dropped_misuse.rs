// `dropped` names fields the type no longer has: one still present (under its
// serialized name), an empty path and a path named twice are each reported.
use factum::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
#[event(dropped = "unitPrice", dropped = "", dropped = "note", dropped = "note")]
struct Priced {
    unit_price: u32,
}

fn main() {}
