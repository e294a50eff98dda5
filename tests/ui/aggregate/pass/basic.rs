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


#[factum::aggregate(category = "account", events = AccountEvent, error = Refused, state_version = 2)]
impl Account {
    #[apply]
    fn deposited(&mut self, e: &Deposited) {
        self.balance += e.cents;
    }

    #[apply]
    fn withdrawn(self: &mut Self, e: &Withdrawn) {
        self.balance -= e.cents;
    }

    #[handle]
    fn deposit(&self, cmd: Deposit) -> Result<Vec<AccountEvent>, Refused> {
        if cmd.0 <= 0 {
            return Err(Refused);
        }
        Ok(vec![Deposited { cents: cmd.0 }.into()])
    }

    /// Configured out: nothing is generated for it either.
    #[cfg(any())]
    #[handle]
    fn hidden(&self, cmd: Hidden) -> Result<Vec<AccountEvent>, Refused> {
        let _ = cmd;
        Ok(vec![])
    }

    /// Ordinary methods stay as they are.
    fn doubled(&self) -> i64 {
        self.balance * 2
    }
}

#[cfg(any())]
struct Hidden;

pub fn main() {
    use factum::{Aggregate, EventSet, Handles};
    assert_eq!(Account::CATEGORY, "account");
    assert_eq!(Account::STATE_VERSION, 2);
    assert_eq!(AccountEvent::NAMES, &["Deposited", "Withdrawn"]);
    let mut account = Account::default();
    for e in account.handle(Deposit(7)).unwrap() {
        account.apply(&e);
    }
    account.apply(&Withdrawn { cents: 2 }.into());
    assert_eq!(account.doubled(), 10);
    assert!(account.handle(Deposit(0)).is_err());
}
