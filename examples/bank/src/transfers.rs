//! The transfers saga, choreographed: a `TransferSent` on one account makes the other
//! account receive it; if that account refuses (it is closed), its `TransferRefused`
//! makes the sender's account refund it. Each step carries the transfer's correlation id
//! and names the event that caused it.

use factum::Backend;
use factum::projection::{Envelope, HandlerError};
use factum::saga::Reaction;
use factum::{Repository, RepositoryError};

use crate::account::{Account, ReceiveTransfer, RefundTransfer, TransferRefused, TransferSent};

/// Moves transfers along.
pub struct Transfers<S> {
    /// The accounts.
    pub accounts: Repository<Account, S>,
}

#[factum::process_manager(name = "transfers", category = "account")]
impl<S: Backend> Transfers<S> {
    #[on]
    async fn sent(
        &self,
        cx: &Reaction,
        e: &Envelope<'_, TransferSent>,
    ) -> Result<(), HandlerError> {
        let from = e.stream_id().key().to_owned();
        let receive = ReceiveTransfer {
            transfer: e.transfer.clone(),
            from,
            cents: e.cents,
        };
        match cx.execute(&self.accounts, &e.to, receive).await {
            // A refusal is recorded on the receiving account; reacting to it refunds.
            Ok(_)
            | Err(RepositoryError::Rejected {
                recorded: Some(_), ..
            }) => Ok(()),
            Err(other) => Err(other.into()),
        }
    }

    #[on]
    async fn refused(
        &self,
        cx: &Reaction,
        e: &Envelope<'_, TransferRefused>,
    ) -> Result<(), HandlerError> {
        let refund = RefundTransfer {
            transfer: e.transfer.clone(),
            cents: e.cents,
        };
        cx.execute(&self.accounts, &e.from, refund).await?;
        Ok(())
    }
}
