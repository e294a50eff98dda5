use factum::Event;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, schemars::JsonSchema)]
struct Line {
    sku: String,
}

// serde writes the tag into each variant's object: a number, a string or a list has
// none. A struct (`Added`) and named fields (`Moved`) are fine.
#[derive(Event, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind")]
enum Changed {
    Added(Line),
    Counted(u32),
    Named(String),
    Listed(Vec<Line>),
    Moved { to: u32 },
}

fn main() {}
