use factum::projection::{Envelope, HandlerError, ProjectionTx};
use factum::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, schemars::JsonSchema, Clone, Debug)]
struct Deposited {
    cents: i64,
}

#[derive(Event, Serialize, Deserialize, schemars::JsonSchema, Clone, Debug)]
struct Withdrawn {
    cents: i64,
}

struct Balances;

#[factum::projection(name = "balances")]
impl Balances {
    #[on]
    fn not_async(&self, _tx: &mut ProjectionTx, _e: &Envelope<'_, Deposited>) -> Result<(), HandlerError> {
        Ok(())
    }
    #[on]
    async fn no_tx(&self, _e: &Envelope<'_, Deposited>) -> Result<(), HandlerError> {
        Ok(())
    }
    #[on]
    async fn not_an_envelope(&self, _tx: &mut ProjectionTx, _e: &Withdrawn) -> Result<(), HandlerError> {
        Ok(())
    }
    #[on(retry)]
    async fn with_args(&self, _tx: &mut ProjectionTx, _e: &Envelope<'_, Withdrawn>) -> Result<(), HandlerError> {
        Ok(())
    }
}

fn main() {}
