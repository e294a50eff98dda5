use factum::projection::{Envelope, HandlerError, ProjectionTx};
use factum::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, schemars::JsonSchema, Clone, Debug)]
struct Deposited {
    cents: i64,
}

struct Plain {
    cents: i64,
}

struct Balances;

#[factum::projection(name = "balances", read_models(Plain))]
impl Balances {
    #[on]
    async fn one(&self, _tx: &mut ProjectionTx, _e: &Envelope<'_, Deposited>) -> Result<(), HandlerError> {
        Ok(())
    }
}

fn main() {}
