use factum::{Event, EventSet};
use serde::{Deserialize, Serialize};

mod old {
    use super::*;
    #[derive(Event, Serialize, Deserialize, schemars::JsonSchema)]
    pub struct Opened {}
}

mod new {
    use super::*;
    #[derive(Event, Serialize, Deserialize, schemars::JsonSchema)]
    pub struct Opened {
        pub owner: String,
    }
}

#[derive(EventSet)]
enum AccountEvent {
    Old(old::Opened),
    New(new::Opened),
}

fn main() {}
