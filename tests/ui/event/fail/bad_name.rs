use factum::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, schemars::JsonSchema)]
#[event(name = "bank deposited")]
struct Deposited {
    cents: i64,
}

fn main() {}
