// Independent mistakes of an aggregate, all reported at once: a misspelt key in the
// attribute, an #[apply] with the wrong receiver, and an unknown #[handle] key.
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

struct Deposit(i64);

#[factum::aggregate(category = "account", events = AccountEvent, error = Refused, state_verison = 2)]
impl Account {
    #[apply]
    fn deposited(&self, e: &Deposited) {
        let _ = e;
    }

    #[handle(record_rejections = refused)]
    fn deposit(&self, cmd: Deposit) -> Result<Vec<AccountEvent>, Refused> {
        Ok(vec![Deposited { cents: cmd.0 }.into()])
    }
}

fn main() {}
