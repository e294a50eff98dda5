use factum::{Event, EventSet};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, schemars::JsonSchema, Clone, Debug)]
struct Deposited {
    cents: i64,
}

#[derive(Event, Serialize, Deserialize, schemars::JsonSchema, Clone, Debug)]
struct Withdrawn {
    cents: i64,
}

#[derive(EventSet, Clone, Debug)]
enum AccountEvent {
    Deposited(Deposited),
    Withdrawn(Withdrawn),
}

#[derive(Debug, thiserror::Error)]
#[error("refused")]
struct Refused;

#[derive(Default)]
struct Account {
    balance: i64,
}

struct Deposit(i64);

#[factum::aggregate(category = "account", events = AccountEvent, error = Refused)]
struct Other;

fn main() {}
