// A `crate` path that names nothing: rustc says so, at the path.
use factum::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, schemars::JsonSchema)]
#[event(crate = "no_such_factum")]
struct Opened {
    owner: String,
}

fn main() {}
