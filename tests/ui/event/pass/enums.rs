use factum::Event;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// A piece moved on the board.
#[derive(Event, Serialize, Deserialize, schemars::JsonSchema, Debug, PartialEq)]
#[event(name = "game.Moved")]
#[serde(rename_all = "snake_case")]
enum Moved {
    StayedPut,
    Stepped { steps: u32 },
    Jumped(Jump),
}

#[derive(Serialize, Deserialize, schemars::JsonSchema, Debug, PartialEq)]
struct Jump {
    over: String,
}

/// How version 1 was stored: a price was always set.
#[derive(Serialize, Deserialize, schemars::JsonSchema)]
struct PriceSetV1 {
    cents: u64,
}

fn set(old: PriceSetV1) -> Priced {
    Priced::Set { cents: old.cents }
}

/// A price changed: internally tagged, with an old variant name still read and a
/// catch-all for kinds this code does not know.
#[factum::payload]
#[derive(Event, Serialize, Deserialize, schemars::JsonSchema, Debug, PartialEq)]
#[event(name = "shop.Priced", version = 2, upcast(from = 1, with = set))]
#[serde(tag = "kind", rename_all = "camelCase")]
enum Priced {
    #[serde(alias = "setPrice")]
    Set {
        #[serde(alias = "amount")]
        cents: u64,
    },
    Cleared,
    /// `()` is written as a unit variant is: the tag alone.
    Reset(()),
    #[serde(other)]
    Unknown,
}

/// A note: adjacently tagged.
#[derive(Event, Serialize, Deserialize, schemars::JsonSchema, Debug, PartialEq)]
#[event(name = "shop.Noted")]
#[serde(tag = "t", content = "c")]
enum Noted {
    Text(String),
    Pair(u32, u32),
    Nothing,
}

/// An amount, in whichever unit it came: untagged, so serde tries each in order.
#[derive(Event, Serialize, Deserialize, schemars::JsonSchema, Debug, PartialEq)]
#[event(name = "shop.Paid")]
#[serde(untagged)]
enum Paid {
    Cents { cents: u64 },
    Dollars { dollars: u32 },
}

fn schema<E: Event>() -> Value {
    serde_json::to_value((E::descriptor().schema)()).unwrap()
}

fn stored<E: Event>(event: &E) -> Value {
    serde_json::from_slice(event.to_event_data().unwrap().payload_bytes()).unwrap()
}

fn read<E: Event>(version: u32, payload: Value) -> E {
    serde_json::from_value(E::upcast(version, payload).unwrap()).unwrap()
}

pub fn main() {
    // Every representation is stored as serde writes it and read back.
    assert_eq!(stored(&Moved::StayedPut), json!("stayed_put"));
    assert_eq!(stored(&Moved::Stepped { steps: 2 }), json!({ "stepped": { "steps": 2 } }));
    assert_eq!(
        read::<Moved>(1, json!({ "jumped": { "over": "a pawn" } })),
        Moved::Jumped(Jump { over: "a pawn".into() })
    );
    assert_eq!(stored(&Priced::Cleared), json!({ "kind": "cleared" }));
    assert_eq!(stored(&Noted::Pair(1, 2)), json!({ "t": "Pair", "c": [1, 2] }));
    assert_eq!(read::<Noted>(1, json!({ "t": "Text", "c": "hi" })), Noted::Text("hi".into()));
    assert_eq!(stored(&Paid::Dollars { dollars: 3 }), json!({ "dollars": 3 }));
    assert_eq!(read::<Paid>(1, json!({ "cents": 5 })), Paid::Cents { cents: 5 });

    // Upcasting from a struct version to an enum one, and the aliases and catch-all.
    assert_eq!(<Priced as Event>::VERSION, 2);
    assert_eq!(read::<Priced>(1, json!({ "cents": 700 })), Priced::Set { cents: 700 });
    assert_eq!(
        read::<Priced>(2, json!({ "kind": "setPrice", "amount": 9 })),
        Priced::Set { cents: 9 }
    );
    assert_eq!(read::<Priced>(2, json!({ "kind": "discounted" })), Priced::Unknown);

    // The schemas describe the variants, in order, with what the payload attribute
    // recorded; the upcaster's input is the older version's schema.
    let moved = schema::<Moved>();
    assert_eq!(moved["oneOf"].as_array().map(Vec::len), Some(3), "{moved:#}");
    let priced = schema::<Priced>();
    let variants = priced["oneOf"].as_array().unwrap();
    assert_eq!(variants[0]["x-aliases"], json!(["setPrice"]), "{priced:#}");
    assert_eq!(variants[0]["properties"]["cents"]["x-aliases"], json!(["amount"]));
    assert_eq!(variants[3]["x-other"], json!(true));
    assert_eq!(stored(&Priced::Reset(())), json!({ "kind": "reset" }));
    let older = (Priced::descriptor().older_schemas)();
    assert_eq!(older.len(), 1);
    assert_eq!(older[0].0, 1);
    let paid = schema::<Paid>();
    let alternatives = paid["anyOf"].as_array().unwrap();
    assert_eq!(alternatives[0]["required"], json!(["cents"]), "{paid:#}");
    assert_eq!(alternatives[1]["required"], json!(["dollars"]));

    // Registered like any event, with its description.
    let noted = Noted::descriptor();
    assert_eq!(noted.description, Some("A note: adjacently tagged."));
    for name in ["game.Moved", "shop.Priced", "shop.Noted", "shop.Paid"] {
        assert!(factum::events().iter().any(|e| e.name == name), "{name}");
    }
}
