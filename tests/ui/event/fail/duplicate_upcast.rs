use factum::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, schemars::JsonSchema)]
#[event(version = 2, upcast(from = 1, with = up), upcast(from = 1, with = up))]
struct Deposited {
    cents: i64,
}

fn up(v: serde_json::Value) -> serde_json::Value {
    v
}

fn main() {}
