use factum::Event;
use serde::{Deserialize, Serialize};

/// Upcasters without a version above 1: the version was forgotten.
#[derive(Event, Serialize, Deserialize, schemars::JsonSchema)]
#[event(upcast(from = 1, with = up))]
struct Opened {
    owner: String,
}

fn up(v: serde_json::Value) -> serde_json::Value {
    v
}

fn main() {}
