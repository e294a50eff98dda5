use factum::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, schemars::JsonSchema)]
#[event(version = 2, upcast(from = 1))]
struct Deposited {
    cents: i64,
}

fn main() {}
