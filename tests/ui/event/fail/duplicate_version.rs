use factum::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, schemars::JsonSchema)]
#[event(version = 2, version = 3, upcast(from = 1, with = up))]
struct Opened {
    owner: String,
}

fn up(v: serde_json::Value) -> serde_json::Value {
    v
}

fn main() {}
