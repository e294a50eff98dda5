//! The read side: account balances and a transaction history, kept by one projection.

use chrono::{DateTime, Utc};
use factum::prelude::*;
use serde::{Deserialize, Serialize};

use crate::account::{
    AccountClosed, AccountOpened, Deposited, TransferReceived, TransferRefunded, TransferSent,
    Withdrawn,
};

/// An account's current balance.
#[derive(ReadModel, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[read_model(table = "account_balances")]
pub struct AccountBalance {
    /// The account id.
    #[key]
    pub account: String,
    /// Its owner.
    pub owner: Option<String>,
    /// Balance in cents.
    pub cents: i64,
    /// Money movements so far.
    pub movements: i64,
    /// Whether it is closed.
    pub closed: bool,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// One movement of money, as a statement line.
#[derive(ReadModel, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[read_model(table = "account_transactions")]
pub struct Transaction {
    /// The event that moved the money.
    #[key]
    pub event_id: uuid::Uuid,
    /// The account id.
    pub account: String,
    /// What happened: deposit, withdrawal, transfer out, transfer in, refund.
    pub kind: String,
    /// Signed amount in cents.
    pub cents: i64,
    /// The balance after it.
    pub balance_after: i64,
    /// When.
    pub recorded_at: DateTime<Utc>,
    /// The business transaction it belongs to.
    pub correlation_id: Option<String>,
}

/// Keeps [`AccountBalance`] and [`Transaction`].
pub struct BankViews;

async fn balance<E: Event>(
    tx: &mut ProjectionTx,
    e: &Envelope<'_, E>,
) -> Result<AccountBalance, HandlerError> {
    let account = e.stream_id().key();
    Ok(tx
        .get::<AccountBalance, _>(account)
        .await?
        .unwrap_or(AccountBalance {
            account: account.to_owned(),
            owner: None,
            cents: 0,
            movements: 0,
            closed: false,
            updated_at: e.recorded_at(),
        }))
}

async fn movement<E: Event>(
    tx: &mut ProjectionTx,
    e: &Envelope<'_, E>,
    kind: &str,
    cents: i64,
) -> Result<(), HandlerError> {
    let mut row = balance(tx, e).await?;
    row.cents += cents;
    row.movements += 1;
    row.updated_at = e.recorded_at();
    tx.put(&Transaction {
        event_id: e.event_id().as_uuid(),
        account: row.account.clone(),
        kind: kind.to_owned(),
        cents,
        balance_after: row.cents,
        recorded_at: e.recorded_at(),
        correlation_id: e.metadata().correlation_id.clone(),
    })
    .await?;
    tx.put(&row).await?;
    Ok(())
}

#[factum::projection(
    name = "bank_views",
    read_models(AccountBalance, Transaction),
    category = "account"
)]
impl BankViews {
    #[on]
    async fn opened(
        &self,
        tx: &mut ProjectionTx,
        e: &Envelope<'_, AccountOpened>,
    ) -> Result<(), HandlerError> {
        let mut row = balance(tx, e).await?;
        row.owner = Some(e.owner.clone());
        tx.put(&row).await?;
        Ok(())
    }

    #[on]
    async fn closed(
        &self,
        tx: &mut ProjectionTx,
        e: &Envelope<'_, AccountClosed>,
    ) -> Result<(), HandlerError> {
        let mut row = balance(tx, e).await?;
        row.closed = true;
        tx.put(&row).await?;
        Ok(())
    }

    #[on]
    async fn deposited(
        &self,
        tx: &mut ProjectionTx,
        e: &Envelope<'_, Deposited>,
    ) -> Result<(), HandlerError> {
        movement(tx, e, "deposit", e.cents).await
    }

    #[on]
    async fn withdrawn(
        &self,
        tx: &mut ProjectionTx,
        e: &Envelope<'_, Withdrawn>,
    ) -> Result<(), HandlerError> {
        movement(tx, e, "withdrawal", -e.cents).await
    }

    #[on]
    async fn sent(
        &self,
        tx: &mut ProjectionTx,
        e: &Envelope<'_, TransferSent>,
    ) -> Result<(), HandlerError> {
        movement(tx, e, "transfer out", -e.cents).await
    }

    #[on]
    async fn received(
        &self,
        tx: &mut ProjectionTx,
        e: &Envelope<'_, TransferReceived>,
    ) -> Result<(), HandlerError> {
        movement(tx, e, "transfer in", e.cents).await
    }

    #[on]
    async fn refunded(
        &self,
        tx: &mut ProjectionTx,
        e: &Envelope<'_, TransferRefunded>,
    ) -> Result<(), HandlerError> {
        movement(tx, e, "refund", e.cents).await
    }
}
