use factum::Event;
use serde::{Deserialize, Serialize};

// The aliases and the catch-all change what JSON serde accepts, but a derive cannot
// write them into the schema: #[factum::payload] above the derive does.
#[derive(Event, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind")]
enum Priced {
    #[serde(alias = "setPrice")]
    Set {
        #[serde(alias = "amount")]
        cents: u64,
    },
    #[serde(deserialize_with = "read_note")]
    Noted(Note),
    #[serde(other)]
    Unknown,
}

#[derive(Serialize, Deserialize, schemars::JsonSchema)]
struct Note {
    text: String,
}

fn read_note<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Note, D::Error> {
    Note::deserialize(d)
}

fn main() {}
