use factum::{DeprecationSchedule, Event};
use serde::{Deserialize, Serialize};

/// A price without its currency.
#[derive(Event, Serialize, Deserialize, schemars::JsonSchema)]
#[event(
    name = "shop.Priced",
    deprecated(
        since = "2.4",
        sunset = "2028-02-29",
        replaced_by = "shop.PricedIn",
        note = "prices carry their currency"
    )
)]
struct Priced {
    cents: u32,
}

#[derive(Event, Serialize, Deserialize, schemars::JsonSchema)]
#[event(name = "shop.Listed", deprecated = "listing moved to the catalog service")]
struct Listed {
    sku: String,
}

pub fn main() {
    let priced = Priced::descriptor();
    assert_eq!(priced.deprecated, Some("prices carry their currency"));
    assert_eq!(priced.schedule.since, Some("2.4"));
    assert_eq!(priced.schedule.sunset, Some("2028-02-29"));
    assert_eq!(priced.schedule.replaced_by, Some("shop.PricedIn"));
    let listed = Listed::descriptor();
    assert_eq!(listed.deprecated, Some("listing moved to the catalog service"));
    assert_eq!(listed.schedule, DeprecationSchedule::default());
}
