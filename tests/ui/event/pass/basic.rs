use factum::Event;
use serde::{Deserialize, Serialize};

/// An account was opened.
///
/// Its owner is a person.
#[derive(Event, Serialize, Deserialize, schemars::JsonSchema)]
struct Opened {
    owner: String,
}

pub fn main() {
    assert_eq!(<Opened as Event>::NAME, "Opened");
    assert_eq!(<Opened as Event>::VERSION, 1);
    let d = Opened::descriptor();
    assert_eq!(d.description, Some("An account was opened.\n\nIts owner is a person."));
    assert!(d.upcasters.is_empty());
    assert!(!d.is_deprecated());
    assert!(factum::events().iter().any(|e| e.name == "Opened"));
}
