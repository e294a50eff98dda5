// Misuses of the `crate = "path"` key of #[factum::aggregate].
use factum::{Event, EventSet};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, schemars::JsonSchema, Clone, Debug)]
struct Deposited {
    cents: i64,
}

#[derive(EventSet, Clone, Debug)]
enum AccountEvent {
    Deposited(Deposited),
}

#[derive(Debug, thiserror::Error)]
#[error("refused")]
struct Refused;

#[derive(Default)]
struct Account {
    balance: i64,
}

#[factum::aggregate(crate = "::", category = "account", events = AccountEvent, error = Refused)]
impl Account {
    #[apply]
    fn deposited(&mut self, e: &Deposited) {
        self.balance += e.cents;
    }
}

#[derive(Default)]
struct Other {
    balance: i64,
}

#[factum::aggregate(crate = "factum", category = "other", events = AccountEvent, error = Refused, crate = "factum")]
impl Other {
    #[apply]
    fn deposited(&mut self, e: &Deposited) {
        self.balance += e.cents;
    }
}

fn main() {}
