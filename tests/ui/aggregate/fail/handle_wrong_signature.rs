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
    fn deposit(&mut self, cmd: Deposit) -> Result<Vec<AccountEvent>, Refused> {
        Ok(vec![Deposited { cents: cmd.0 }.into()])
    }
    #[handle]
    fn deposit_twice(&self, a: Deposit, b: Deposit) -> Result<Vec<AccountEvent>, Refused> {
        let _ = (a, b);
        Ok(vec![])
    }
    #[handle]
    fn forgetful(&self, cmd: Deposit) {
        let _ = cmd;
    }
}

fn main() {}
