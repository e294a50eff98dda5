use factum::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, schemars::JsonSchema)]
struct Überweisung {
    cents: i64,
}

fn main() {}
