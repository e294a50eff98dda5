use factum::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, schemars::JsonSchema)]
enum Nothing {}

fn main() {}
