use factum::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, schemars::JsonSchema)]
#[event(
    name = "shop.Priced",
    deprecated(since = " ", sunset = "2027-02-30", replaced_by = "shop.Priced")
)]
struct Priced {
    cents: u32,
}

#[derive(Event, Serialize, Deserialize, schemars::JsonSchema)]
#[event(name = "shop.Listed", deprecated(sunset = "30/06/2027", replaced_by = "no dots"))]
struct Listed {
    sku: String,
}

#[derive(Event, Serialize, Deserialize, schemars::JsonSchema)]
#[event(name = "shop.Shelved", deprecated(until = "2027-06-30"))]
struct Shelved {
    sku: String,
}

fn main() {}
