//! A domain written against Factum reached only through a facade crate, as
//! `acme::factum`: every macro takes `crate = "acme::factum"` (and schemars' derive its
//! `crate = "acme::factum::schemars"`). This crate has no `factum` dependency, so generated
//! code that named `::factum` would not compile. `tests/every_macro.rs` runs what they
//! generated.

use std::fmt;

use acme::factum::projection::{Envelope, HandlerError, ProjectionTx};
use acme::factum::saga::Reaction;
use serde::{Deserialize, Serialize};

/// An account was opened.
#[derive(
    acme::factum::Event,
    Serialize,
    Deserialize,
    acme::factum::schemars::JsonSchema,
    Clone,
    Debug,
    PartialEq,
)]
#[schemars(crate = "acme::factum::schemars")]
#[event(crate = "acme::factum", name = "facade.Opened")]
pub struct Opened {
    /// Who owns it.
    pub owner: String,
}

/// Money was deposited. Version 1 stored whole dollars.
#[derive(
    acme::factum::Event,
    Serialize,
    Deserialize,
    acme::factum::schemars::JsonSchema,
    Clone,
    Debug,
    PartialEq,
)]
#[schemars(crate = "acme::factum::schemars")]
#[event(
    crate = "acme::factum",
    name = "facade.Deposited",
    version = 2,
    upcast(from = 1, with = deposited_v1)
)]
pub struct Deposited {
    /// The amount, in cents.
    pub cents: i64,
}

/// `facade.Deposited` as version 1 stored it.
#[derive(Deserialize)]
pub struct DepositedV1 {
    dollars: i64,
}

fn deposited_v1(old: DepositedV1) -> Deposited {
    Deposited {
        cents: old.dollars * 100,
    }
}

/// The events of an account.
#[derive(acme::factum::EventSet, Clone, Debug, PartialEq)]
#[event_set(crate = "acme::factum")]
pub enum AccountEvent {
    /// See [`Opened`].
    Opened(Opened),
    /// See [`Deposited`].
    Deposited(Deposited),
}

/// Why a command was refused.
#[derive(Debug, PartialEq)]
pub struct Refused(pub &'static str);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Refused {}

/// Open an account.
#[derive(Clone)]
pub struct Open(pub String);

/// Deposit cents.
#[derive(Clone)]
pub struct Deposit(pub i64);

/// An account's state.
#[derive(Default, Debug)]
pub struct Account {
    /// Its owner, once opened.
    pub owner: Option<String>,
    /// Its balance, in cents.
    pub cents: i64,
}

/// An account.
#[acme::factum::aggregate(crate = "acme::factum", category = "account", events = AccountEvent, error = Refused)]
impl Account {
    #[apply]
    fn opened(&mut self, e: &Opened) {
        self.owner = Some(e.owner.clone());
    }

    #[apply]
    fn deposited(&mut self, e: &Deposited) {
        self.cents += e.cents;
    }

    #[handle]
    fn open(&self, cmd: Open) -> Result<Vec<AccountEvent>, Refused> {
        if self.owner.is_some() {
            return Err(Refused("already open"));
        }
        Ok(vec![Opened { owner: cmd.0 }.into()])
    }

    #[handle(record_rejection = refused_deposit)]
    fn deposit(&self, cmd: Deposit) -> Result<Vec<AccountEvent>, Refused> {
        if self.owner.is_none() {
            return Err(Refused("not open"));
        }
        if cmd.0 <= 0 {
            return Err(Refused("amounts must be positive"));
        }
        Ok(vec![Deposited { cents: cmd.0 }.into()])
    }

    fn refused_deposit(&self, _cmd: &Deposit, _error: &Refused) -> Option<AccountEvent> {
        None
    }
}

/// A balance row.
#[derive(acme::factum::ReadModel, Serialize, Deserialize, Clone, Debug)]
#[read_model(crate = "acme::factum", table = "balances", index(owner, cents))]
pub struct Balance {
    /// The account.
    #[key]
    pub account: String,
    /// Its owner.
    #[index]
    pub owner: String,
    /// Its balance, in cents.
    pub cents: i64,
}

/// Balances from deposits.
pub struct Balances;

#[acme::factum::projection(
    crate = "acme::factum",
    name = "balances",
    version = 2,
    read_models(Balance),
    category = "account"
)]
impl Balances {
    #[on]
    async fn deposited(
        &self,
        _tx: &mut ProjectionTx,
        e: &Envelope<'_, Deposited>,
    ) -> Result<(), HandlerError> {
        let _ = e.cents;
        Ok(())
    }
}

/// Greets new account owners.
pub struct Greeter;

#[acme::factum::process_manager(crate = "acme::factum", name = "greeter", category = "account")]
impl Greeter {
    #[on]
    async fn opened(&self, _cx: &Reaction, e: &Envelope<'_, Opened>) -> Result<(), HandlerError> {
        let _ = &e.owner;
        Ok(())
    }
}
