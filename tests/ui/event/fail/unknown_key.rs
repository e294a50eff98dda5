use factum::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, schemars::JsonSchema)]
#[event(nmae = "bank.Opened")]
struct Opened {
    owner: String,
}

fn main() {}
