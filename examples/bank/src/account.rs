//! The account aggregate: its events, commands, rules and state.

use factum::{Decision, Event, EventSet};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An account was opened for its owner.
#[derive(Event, Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[event(name = "bank.AccountOpened")]
pub struct AccountOpened {
    /// The owner's name.
    pub owner: String,
}

/// Money was paid in.
///
/// Version 1 stored whole dollars in `amount`; version 2 stores cents, so that no
/// amount is ever rounded. Version 1 events are lifted on read.
#[derive(Event, Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[event(name = "bank.Deposited", version = 2, upcast(from = 1, with = dollars_to_cents))]
pub struct Deposited {
    /// Amount in cents.
    pub cents: i64,
}

/// How version 1 of [`Deposited`] was stored (its schema goes into the catalog as
/// `bank.Deposited.v1`).
#[derive(Serialize, Deserialize, JsonSchema, Debug)]
pub struct DepositedV1 {
    /// Whole dollars.
    pub amount: i64,
}

fn dollars_to_cents(old: DepositedV1) -> Deposited {
    Deposited {
        cents: old.amount * 100,
    }
}

/// Money was paid out.
#[derive(Event, Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[event(name = "bank.Withdrawn")]
pub struct Withdrawn {
    /// Amount in cents.
    pub cents: i64,
}

/// A withdrawal was refused for lack of funds: kept as a fact, so that "who tried to
/// overdraw, and how often" can be answered later.
#[derive(Event, Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[event(name = "bank.WithdrawalRejected")]
pub struct WithdrawalRejected {
    /// What was asked for, in cents.
    pub requested: i64,
    /// The balance at the time, in cents.
    pub balance: i64,
}

/// The account was closed: it takes no more money.
#[derive(Event, Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[event(name = "bank.AccountClosed")]
pub struct AccountClosed {}

/// The account took a short alias customers can pay to (`ada-savings`). Aliases are
/// unique across all accounts: the store claims the alias in the scope
/// [`ALIAS_SCOPE`] with this event, and releases the previous one.
#[derive(Event, Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[event(name = "bank.AliasChosen")]
pub struct AliasChosen {
    /// The alias.
    pub alias: String,
}

/// The scope in which account aliases are unique.
pub const ALIAS_SCOPE: &str = "account-alias";

/// Money left this account for another (the first step of a transfer).
#[derive(Event, Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[event(name = "bank.TransferSent")]
pub struct TransferSent {
    /// The transfer's id.
    pub transfer: String,
    /// The receiving account's id.
    pub to: String,
    /// Amount in cents.
    pub cents: i64,
}

/// Money arrived from another account (the second step of a transfer).
#[derive(Event, Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[event(name = "bank.TransferReceived")]
pub struct TransferReceived {
    /// The transfer's id.
    pub transfer: String,
    /// The sending account's id.
    pub from: String,
    /// Amount in cents.
    pub cents: i64,
}

/// This account refused an incoming transfer: the sender is refunded.
#[derive(Event, Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[event(name = "bank.TransferRefused")]
pub struct TransferRefused {
    /// The transfer's id.
    pub transfer: String,
    /// The sending account's id.
    pub from: String,
    /// Amount in cents.
    pub cents: i64,
    /// Why.
    pub reason: String,
}

/// A refused transfer's money came back (the compensation).
#[derive(Event, Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[event(name = "bank.TransferRefunded")]
pub struct TransferRefunded {
    /// The transfer's id.
    pub transfer: String,
    /// Amount in cents.
    pub cents: i64,
}

/// Everything that can happen to an account.
#[derive(EventSet, Clone, Debug, PartialEq)]
pub enum AccountEvent {
    /// Opened.
    Opened(AccountOpened),
    /// Money in.
    Deposited(Deposited),
    /// Money out.
    Withdrawn(Withdrawn),
    /// A refused withdrawal.
    WithdrawalRejected(WithdrawalRejected),
    /// Closed.
    Closed(AccountClosed),
    /// A transfer out.
    TransferSent(TransferSent),
    /// A transfer in.
    TransferReceived(TransferReceived),
    /// A transfer in, refused.
    TransferRefused(TransferRefused),
    /// A transfer out, given back.
    TransferRefunded(TransferRefunded),
    /// An alias taken.
    AliasChosen(AliasChosen),
}

/// Take an alias (unique across accounts), giving up the current one.
#[derive(Clone, Debug)]
pub struct ChooseAlias {
    /// The alias.
    pub alias: String,
}

/// Open an account.
#[derive(Clone, Debug)]
pub struct Open {
    /// The owner.
    pub owner: String,
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

/// Close the account.
#[derive(Clone, Debug)]
pub struct Close;

/// Send money to another account.
#[derive(Clone, Debug)]
pub struct SendTransfer {
    /// The transfer's id.
    pub transfer: String,
    /// The receiving account.
    pub to: String,
    /// Cents.
    pub cents: i64,
}

/// Take in a transfer (sent by the transfers process manager).
#[derive(Clone, Debug)]
pub struct ReceiveTransfer {
    /// The transfer's id.
    pub transfer: String,
    /// The sending account.
    pub from: String,
    /// Cents.
    pub cents: i64,
}

/// Give a refused transfer's money back (sent by the transfers process manager).
#[derive(Clone, Debug)]
pub struct RefundTransfer {
    /// The transfer's id.
    pub transfer: String,
    /// Cents.
    pub cents: i64,
}

/// Why an account refuses a command.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AccountError {
    /// The account is not open.
    #[error("the account is not open")]
    NotOpen,
    /// The account is already open.
    #[error("the account is already open")]
    AlreadyOpen,
    /// The account is closed.
    #[error("the account is closed")]
    Closed,
    /// Amounts must be positive.
    #[error("amounts must be positive")]
    NotPositive,
    /// Not enough money.
    #[error("insufficient funds: balance {}, requested {}", crate::money(*balance), crate::money(*requested))]
    InsufficientFunds {
        /// Balance in cents.
        balance: i64,
        /// Requested cents.
        requested: i64,
    },
}

/// An account, rebuilt from its events.
#[derive(Default, Clone, Debug, Serialize, Deserialize)]
pub struct Account {
    /// The owner, once opened.
    pub owner: Option<String>,
    /// Balance in cents.
    pub balance: i64,
    /// Refused withdrawals so far.
    pub refusals: u32,
    /// Whether it was closed.
    #[serde(default)]
    pub closed: bool,
    /// Its alias, if it took one.
    #[serde(default)]
    pub alias: Option<String>,
}

#[factum::aggregate(category = "account", events = AccountEvent, error = AccountError, state_version = 2)]
impl Account {
    #[apply]
    fn opened(&mut self, e: &AccountOpened) {
        self.owner = Some(e.owner.clone());
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
        self.refusals += 1;
    }

    #[apply]
    fn closed(&mut self, _: &AccountClosed) {
        self.closed = true;
    }

    #[apply]
    fn transfer_sent(&mut self, e: &TransferSent) {
        self.balance -= e.cents;
    }

    #[apply]
    fn transfer_received(&mut self, e: &TransferReceived) {
        self.balance += e.cents;
    }

    #[apply]
    fn transfer_refused(&mut self, _: &TransferRefused) {}

    #[apply]
    fn transfer_refunded(&mut self, e: &TransferRefunded) {
        self.balance += e.cents;
    }

    #[apply]
    fn alias_chosen(&mut self, e: &AliasChosen) {
        self.alias = Some(e.alias.clone());
    }

    /// Closing frees the account's alias for others.
    #[handle]
    fn close(&self, _: Close) -> Result<Decision<AccountEvent>, AccountError> {
        self.must_be_open()?;
        let decision = Decision::new([AccountClosed {}.into()]);
        Ok(match &self.alias {
            Some(alias) => decision.release(ALIAS_SCOPE, alias),
            None => decision,
        })
    }

    /// The alias is claimed with the event: if another account holds it, the store
    /// refuses the append (`StoreError::UniqueValueTaken`) and nothing is written.
    #[handle]
    fn choose_alias(&self, cmd: ChooseAlias) -> Result<Decision<AccountEvent>, AccountError> {
        self.must_be_open()?;
        if self.alias.as_ref() == Some(&cmd.alias) {
            return Ok(Decision::new([]));
        }
        let decision = Decision::new([AliasChosen {
            alias: cmd.alias.clone(),
        }
        .into()])
        .claim(ALIAS_SCOPE, cmd.alias);
        Ok(match &self.alias {
            Some(old) => decision.release(ALIAS_SCOPE, old),
            None => decision,
        })
    }

    #[handle]
    fn send_transfer(&self, cmd: SendTransfer) -> Result<Vec<AccountEvent>, AccountError> {
        self.must_be_open()?;
        if cmd.cents <= 0 {
            return Err(AccountError::NotPositive);
        }
        if cmd.cents > self.balance {
            return Err(AccountError::InsufficientFunds {
                balance: self.balance,
                requested: cmd.cents,
            });
        }
        Ok(vec![
            TransferSent {
                transfer: cmd.transfer,
                to: cmd.to,
                cents: cmd.cents,
            }
            .into(),
        ])
    }

    #[handle(record_rejection = refused_transfer)]
    fn receive_transfer(&self, cmd: ReceiveTransfer) -> Result<Vec<AccountEvent>, AccountError> {
        self.must_be_open()?;
        Ok(vec![
            TransferReceived {
                transfer: cmd.transfer,
                from: cmd.from,
                cents: cmd.cents,
            }
            .into(),
        ])
    }

    /// Every refused incoming transfer is recorded: the refusal is what refunds the sender.
    fn refused_transfer(
        &self,
        cmd: &ReceiveTransfer,
        error: &AccountError,
    ) -> Option<AccountEvent> {
        Some(
            TransferRefused {
                transfer: cmd.transfer.clone(),
                from: cmd.from.clone(),
                cents: cmd.cents,
                reason: error.to_string(),
            }
            .into(),
        )
    }

    #[handle]
    fn refund_transfer(&self, cmd: RefundTransfer) -> Result<Vec<AccountEvent>, AccountError> {
        Ok(vec![
            TransferRefunded {
                transfer: cmd.transfer,
                cents: cmd.cents,
            }
            .into(),
        ])
    }

    #[handle]
    fn open(&self, cmd: Open) -> Result<Vec<AccountEvent>, AccountError> {
        if self.owner.is_some() {
            return Err(AccountError::AlreadyOpen);
        }
        Ok(vec![AccountOpened { owner: cmd.owner }.into()])
    }

    #[handle]
    fn deposit(&self, cmd: Deposit) -> Result<Vec<AccountEvent>, AccountError> {
        self.must_be_open()?;
        if cmd.cents <= 0 {
            return Err(AccountError::NotPositive);
        }
        Ok(vec![Deposited { cents: cmd.cents }.into()])
    }

    #[handle(record_rejection = refused_withdrawal)]
    fn withdraw(&self, cmd: Withdraw) -> Result<Vec<AccountEvent>, AccountError> {
        self.must_be_open()?;
        if cmd.cents <= 0 {
            return Err(AccountError::NotPositive);
        }
        if cmd.cents > self.balance {
            return Err(AccountError::InsufficientFunds {
                balance: self.balance,
                requested: cmd.cents,
            });
        }
        Ok(vec![Withdrawn { cents: cmd.cents }.into()])
    }

    /// Refusals for lack of funds are recorded; other refusals are not facts worth keeping.
    fn refused_withdrawal(&self, cmd: &Withdraw, error: &AccountError) -> Option<AccountEvent> {
        matches!(error, AccountError::InsufficientFunds { .. }).then(|| {
            WithdrawalRejected {
                requested: cmd.cents,
                balance: self.balance,
            }
            .into()
        })
    }

    fn must_be_open(&self) -> Result<(), AccountError> {
        match self.owner {
            _ if self.closed => Err(AccountError::Closed),
            Some(_) => Ok(()),
            None => Err(AccountError::NotOpen),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use factum::testing::given;

    fn opened() -> AccountEvent {
        AccountOpened {
            owner: "Ada".into(),
        }
        .into()
    }

    #[test]
    fn deposits_and_withdrawals() {
        given::<Account>([opened(), Deposited { cents: 500 }.into()])
            .when(Withdraw { cents: 200 })
            .then([Withdrawn { cents: 200 }.into()]);
    }

    #[test]
    fn overdrafts_are_refused_and_recorded() {
        given::<Account>([opened()])
            .when(Withdraw { cents: 1 })
            .then_rejected(
                AccountError::InsufficientFunds {
                    balance: 0,
                    requested: 1,
                },
                WithdrawalRejected {
                    requested: 1,
                    balance: 0,
                }
                .into(),
            );
    }

    #[test]
    fn a_closed_account_refuses_transfers_and_records_it() {
        given::<Account>([opened(), AccountClosed {}.into()])
            .when(ReceiveTransfer {
                transfer: "t1".into(),
                from: "bob".into(),
                cents: 5,
            })
            .then_rejected(
                AccountError::Closed,
                TransferRefused {
                    transfer: "t1".into(),
                    from: "bob".into(),
                    cents: 5,
                    reason: "the account is closed".into(),
                }
                .into(),
            );
    }

    #[test]
    fn an_alias_is_claimed_and_the_old_one_released() {
        let ada = |alias: &str| AliasChosen {
            alias: alias.into(),
        };
        given::<Account>([opened()])
            .when(ChooseAlias {
                alias: "ada".into(),
            })
            .then_decided(Decision::new([ada("ada").into()]).claim(ALIAS_SCOPE, "ada"));
        given::<Account>([opened(), ada("ada").into()])
            .when(ChooseAlias {
                alias: "ada-2".into(),
            })
            .then_decided(
                Decision::new([ada("ada-2").into()])
                    .claim(ALIAS_SCOPE, "ada-2")
                    .release(ALIAS_SCOPE, "ada"),
            );
        given::<Account>([opened(), ada("ada").into()])
            .when(Close)
            .then_decided(Decision::new([AccountClosed {}.into()]).release(ALIAS_SCOPE, "ada"));
    }

    #[test]
    fn old_deposits_are_read_in_cents() {
        let current = Deposited::upcast(1, serde_json::json!({ "amount": 12 })).unwrap();
        assert_eq!(current, serde_json::json!({ "cents": 1200 }));
    }
}
