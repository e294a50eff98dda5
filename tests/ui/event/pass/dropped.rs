use factum::Event;
use serde::{Deserialize, Serialize};

/// A price, whose note and line memos are no longer kept.
#[derive(Event, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
#[event(name = "shop.Priced", dropped = "note", dropped = "lines[].memo")]
struct Priced {
    unit_price: u32,
}

pub fn main() {
    let d = Priced::descriptor();
    assert_eq!(d.dropped, ["note", "lines[].memo"]);
    assert!(<Opened as Event>::descriptor().dropped.is_empty());
}

#[derive(Event, Serialize, Deserialize, schemars::JsonSchema)]
struct Opened {
    owner: String,
}
