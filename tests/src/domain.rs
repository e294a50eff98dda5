//! A small bank account domain for the repository and harness suites.

use factum::{Event, EventSet};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An account was opened.
#[derive(Event, Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[event(name = "test.AccountOpened")]
pub struct Opened {
    /// Who owns it.
    pub owner: String,
}

/// Money paid in. Version 1 stored whole dollars as `amount`; version 2 stores cents;
/// version 3 added an optional memo.
#[derive(Event, Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[event(
    name = "test.Deposited",
    version = 3,
    upcast(from = 1, with = dollars_to_cents),
    upcast(from = 2, with = no_memo_yet)
)]
pub struct Deposited {
    /// Amount in cents.
    pub cents: i64,
    /// Why.
    #[serde(default)]
    pub memo: Option<String>,
}

/// Version 1 of [`Deposited`].
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct DepositedV1 {
    /// Whole dollars.
    pub amount: i64,
}

/// Version 2 of [`Deposited`].
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct DepositedV2 {
    /// Cents.
    pub cents: i64,
}

fn dollars_to_cents(old: DepositedV1) -> DepositedV2 {
    DepositedV2 {
        cents: old.amount * 100,
    }
}

fn no_memo_yet(old: DepositedV2) -> Deposited {
    Deposited {
        cents: old.cents,
        memo: None,
    }
}

/// Money paid out.
#[derive(Event, Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[event(name = "test.Withdrawn")]
pub struct Withdrawn {
    /// Amount in cents.
    pub cents: i64,
}

/// A withdrawal was refused: recorded so that attempts can be counted later.
#[derive(Event, Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[event(name = "test.WithdrawalRejected")]
pub struct WithdrawalRejected {
    /// What was asked for.
    pub requested: i64,
    /// What there was.
    pub balance: i64,
}

/// The account took a nickname, unique across accounts (scope `nickname`).
#[derive(Event, Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[event(name = "test.Nicknamed")]
pub struct Nicknamed {
    /// The nickname.
    pub nickname: String,
}

/// The events of an account.
#[derive(EventSet, Clone, Debug, PartialEq)]
pub enum AccountEvent {
    /// Nicknamed.
    Nicknamed(Nicknamed),
    /// Opened.
    Opened(Opened),
    /// Deposited.
    Deposited(Deposited),
    /// Withdrawn.
    Withdrawn(Withdrawn),
    /// A refused withdrawal.
    WithdrawalRejected(WithdrawalRejected),
}

/// An account's state.
#[derive(Default, Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Account {
    /// Whether it was opened.
    pub open: bool,
    /// Balance in cents.
    pub balance: i64,
    /// Refused withdrawals so far.
    pub rejections: u32,
    /// Its nickname, if it took one.
    #[serde(default)]
    pub nickname: Option<String>,
}

/// Open an account.
#[derive(Clone, Debug)]
pub struct Open {
    /// Owner.
    pub owner: String,
}

/// Take a nickname (claimed in the scope `nickname`), releasing the current one.
#[derive(Clone, Debug)]
pub struct Nickname {
    /// The nickname.
    pub nickname: String,
}

/// Pay in.
#[derive(Clone, Debug)]
pub struct Deposit {
    /// Cents.
    pub cents: i64,
}

/// Pay out.
#[derive(Clone, Debug)]
pub struct Withdraw {
    /// Cents.
    pub cents: i64,
}

/// Why an account refuses a command.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AccountError {
    /// Not opened yet.
    #[error("the account is not open")]
    NotOpen,
    /// Opened twice.
    #[error("the account is already open")]
    AlreadyOpen,
    /// Amounts are positive.
    #[error("amounts must be positive")]
    NotPositive,
    /// Not enough money.
    #[error("insufficient funds: balance {balance}, requested {requested}")]
    InsufficientFunds {
        /// Balance.
        balance: i64,
        /// Requested.
        requested: i64,
    },
}

#[factum::aggregate(category = "account", events = AccountEvent, error = AccountError)]
impl Account {
    #[apply]
    fn opened(&mut self, _: &Opened) {
        self.open = true;
    }

    #[apply]
    fn deposited(&mut self, e: &Deposited) {
        self.balance += e.cents;
    }

    #[apply]
    fn withdrawn(&mut self, e: &Withdrawn) {
        self.balance -= e.cents;
    }

    #[apply]
    fn withdrawal_rejected(&mut self, _: &WithdrawalRejected) {
        self.rejections += 1;
    }

    #[apply]
    fn nicknamed(&mut self, e: &Nicknamed) {
        self.nickname = Some(e.nickname.clone());
    }

    #[handle]
    fn nickname(&self, cmd: Nickname) -> Result<factum::Decision<AccountEvent>, AccountError> {
        let decision = factum::Decision::new([Nicknamed {
            nickname: cmd.nickname.clone(),
        }
        .into()])
        .claim("nickname", cmd.nickname);
        Ok(match &self.nickname {
            Some(old) => decision.release("nickname", old),
            None => decision,
        })
    }

    #[handle]
    fn open(&self, cmd: Open) -> Result<Vec<AccountEvent>, AccountError> {
        if self.open {
            return Err(AccountError::AlreadyOpen);
        }
        Ok(vec![Opened { owner: cmd.owner }.into()])
    }

    #[handle]
    fn deposit(&self, cmd: Deposit) -> Result<Vec<AccountEvent>, AccountError> {
        if !self.open {
            return Err(AccountError::NotOpen);
        }
        if cmd.cents <= 0 {
            return Err(AccountError::NotPositive);
        }
        Ok(vec![
            Deposited {
                cents: cmd.cents,
                memo: None,
            }
            .into(),
        ])
    }

    #[handle(record_rejection = refused)]
    fn withdraw(&self, cmd: Withdraw) -> Result<Vec<AccountEvent>, AccountError> {
        if !self.open {
            return Err(AccountError::NotOpen);
        }
        if cmd.cents > self.balance {
            return Err(AccountError::InsufficientFunds {
                balance: self.balance,
                requested: cmd.cents,
            });
        }
        Ok(vec![Withdrawn { cents: cmd.cents }.into()])
    }

    fn refused(&self, cmd: &Withdraw, error: &AccountError) -> Option<AccountEvent> {
        matches!(error, AccountError::InsufficientFunds { .. }).then(|| {
            WithdrawalRejected {
                requested: cmd.cents,
                balance: self.balance,
            }
            .into()
        })
    }
}

/// The same account after a change of its state's shape: state version 2. Its
/// snapshots are not interchangeable with [`Account`]'s.
#[derive(Default, Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccountV2 {
    /// The account, nested one level deeper than version 1 stored it.
    pub account: Account,
}

impl factum::Aggregate for AccountV2 {
    const CATEGORY: &'static str = "account";
    const STATE_VERSION: u32 = 2;
    type Event = AccountEvent;
    type Error = AccountError;

    fn apply(&mut self, event: &AccountEvent) {
        factum::Aggregate::apply(&mut self.account, event);
    }
}

impl factum::Handles<Deposit> for AccountV2 {
    fn handle(&self, command: Deposit) -> Result<factum::Decision<AccountEvent>, AccountError> {
        factum::Handles::handle(&self.account, command)
    }
}
