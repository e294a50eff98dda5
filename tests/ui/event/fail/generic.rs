use factum::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, schemars::JsonSchema)]
struct Wrapped<T> {
    inner: T,
}

fn main() {}
