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
impl Account {
    #[apply]
    fn deposited(&mut self, e: &Deposited) {
        self.balance += e.cents;
    }
    #[apply]
    fn withdrawn(&mut self, e: &Withdrawn) {
        self.balance -= e.cents;
    }
    #[handle]
    fn deposit(&self, cmd: Deposit) -> Result<Vec<Deposited>, Refused> {
        Ok(vec![Deposited { cents: cmd.0 }])
    }
}

fn main() {}
